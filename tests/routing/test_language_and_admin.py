"""Language and sentiment on inbound messages, and the rules admin with its dry run."""

from __future__ import annotations

import pytest
from django.urls import reverse

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import AgentFactory, RuleFactory, TicketFactory, UserFactory
from tickets.models import Message, Ticket
from tickets.routing.language import detect_language, score_sentiment
from tickets.routing.models import Rule

pytestmark = pytest.mark.django_db


def receive(channel, **email) -> Ticket:
    inbound = inbound_services.inbound_store(channel=channel, raw=build_email(**email), enqueue=False)
    return Ticket.objects.get(pk=inbound_services.inbound_process(inbound_id=inbound.pk).ticket_ids[0])


def test_language_and_sentiment_offline():
    assert detect_language("Bonjour, je voudrais un remboursement pour ma commande") == "fr"
    assert detect_language("Hola, no puedo entrar a mi cuenta desde ayer") == "es"
    assert detect_language("ok") == ""  # too short to tell
    assert score_sentiment("This is terrible, I am furious and disappointed.") < -0.5
    assert score_sentiment("Thank you so much, that was great help!") > 0.5
    assert score_sentiment("") is None


def test_inbound_messages_get_language_and_sentiment_rolled_up_on_the_ticket(email_channel):
    ticket = receive(email_channel, message_id="a@example.com", subject="Commande", body="Bonjour, ma commande n'est pas arrivée, pouvez-vous vérifier ?")
    message = ticket.messages.get()
    assert message.language == "fr" and message.sentiment is not None
    assert ticket.language == "fr"
    receive(email_channel, message_id="b@example.com", in_reply_to="a@example.com", subject="Re: Commande",
            body="This is awful, terrible service, I am very angry and upset.")
    ticket.refresh_from_db()
    scores = list(ticket.messages.filter(direction=Message.Direction.INBOUND).values_list("sentiment", flat=True))
    assert ticket.language == "en"
    assert ticket.sentiment == pytest.approx(sum(scores) / 2, abs=0.001)
    assert ticket.sentiment < 0


def test_the_dry_run_lists_which_recent_tickets_a_rule_would_match(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    urgent = TicketFactory(subject="URGENT: site down", priority="normal")
    TicketFactory(subject="A question")
    rule = RuleFactory(name="Urgent subjects", conditions=[{"field": "subject", "op": "starts_with", "value": "urgent"}],
                       actions=[{"type": "set_priority", "priority": "urgent"}])
    page = client.get(reverse("admin:routing_rule_dry_run", args=[rule.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>1</strong> of 2 tickets would match" in html
    assert f"#{urgent.number}" in html
    urgent.refresh_from_db()
    assert urgent.priority == "normal"  # a dry run changes nothing
    # The list action leads to the same page.
    action = client.post(reverse("admin:routing_rule_changelist"), {"action": "dry_run_action", "_selected_action": [rule.pk]})
    assert action.status_code == 302 and action["Location"].endswith(f"/{rule.pk}/dry-run/")


def test_the_admin_refuses_an_invalid_rule_and_saves_a_valid_one(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:routing_rule_add")
    form = {"name": "Bad", "is_active": "on", "position": "1", "on_created": "on", "match": "all",
            "conditions": '[{"field": "subject", "op": "regex", "value": "("}]', "actions": '[{"type": "unassign"}]'}
    response = client.post(url, form)
    assert response.status_code == 200 and "invalid regular expression" in response.content.decode()
    assert not Rule.objects.exists()
    form["conditions"] = '[{"field": "subject", "op": "regex", "value": "^re:"}]'
    assert client.post(url, form).status_code == 302
    assert Rule.objects.get().conditions[0]["value"] == "^re:"


def test_agents_cannot_see_the_rules_admin(client):
    client.force_login(AgentFactory(role="agent").user)
    rule = RuleFactory()
    assert client.get(reverse("admin:routing_rule_dry_run", args=[rule.pk])).status_code in (302, 403)
