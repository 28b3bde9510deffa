"""Survey answers elsewhere: a routing rule on a low rating, customer merge, the customer panel."""

from __future__ import annotations

import pytest

from metrics.surveys.models import SurveyInvitation, SurveyResponse
from metrics.surveys.services import survey_response_record
from tests.factories import AgentFactory, CustomerFactory, RuleFactory, TeamFactory, TicketFactory
from tickets import selectors
from tickets import services as ticket_services
from tickets.events import Actor
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


def _tags(ticket) -> set[str]:
    return set(ticket.tags.values_list("name", flat=True))


def test_a_low_rating_fires_a_rule_and_a_good_one_does_not():
    RuleFactory(
        name="Unhappy customer",
        on_created=False,
        on_updated=True,
        conditions=[{"field": "survey_kind", "op": "is", "value": "csat"}, {"field": "survey_score", "op": "lte", "value": 2}],
        actions=[{"type": "add_tags", "tags": ["unhappy"]}, {"type": "set_priority", "priority": "high"}],
    )
    happy, unhappy = TicketFactory(status="solved"), TicketFactory(status="solved")
    survey_response_record(ticket_id=happy.pk, kind="csat", score=5, source="email")
    survey_response_record(ticket_id=unhappy.pk, kind="csat", score=2, source="email")
    survey_response_record(ticket_id=happy.pk, kind="ces", score=1, source="email")  # not a CSAT answer

    assert _tags(happy) == set() and _tags(unhappy) == {"unhappy"}
    unhappy.refresh_from_db()
    assert unhappy.priority == "high"
    fired = TicketEvent.objects.get(ticket=unhappy, kind=TicketEvent.Kind.RULE_FIRED)
    assert fired.data["name"] == "Unhappy customer" and fired.data["trigger"] == "survey"


def test_survey_conditions_never_match_an_ordinary_update(agent_user):
    RuleFactory(
        on_created=False, on_updated=True, conditions=[{"field": "survey_score", "op": "lte", "value": 5}],
        actions=[{"type": "add_tags", "tags": ["surveyed"]}],
    )
    ticket = TicketFactory()
    ticket_services.ticket_set_priority(ticket=ticket, priority="high", actor=Actor.agent(agent_user))
    assert _tags(ticket) == set()


def test_a_rule_with_a_bad_survey_condition_is_refused():
    from tickets.routing.rules import RuleDefinitionError, compile_conditions

    with pytest.raises(RuleDefinitionError, match="survey_kind"):
        compile_conditions([{"field": "survey_kind", "op": "is", "value": "stars"}])
    with pytest.raises(RuleDefinitionError, match="number"):
        compile_conditions([{"field": "survey_score", "op": "lte", "value": "low"}])


def test_merging_customers_moves_their_survey_answers(agent_user):
    source, target = CustomerFactory(), CustomerFactory()
    ticket = TicketFactory(customer=source)
    on_ticket = survey_response_record(ticket_id=ticket.pk, kind="csat", score=3, source="email")
    nps = survey_response_record(ticket_id=None, customer_id=source.pk, kind="nps", score=8, source="email")
    SurveyInvitation.objects.create(
        kind="csat", ticket=ticket, customer=source, via="email", sent_at=on_ticket.answered_at, expires_at=on_ticket.answered_at
    )

    ticket_services.customer_merge(source=source, target=target, actor=Actor.agent(agent_user))

    assert set(SurveyResponse.objects.values_list("pk", "customer_id")) == {(on_ticket.pk, target.pk), (nps.pk, target.pk)}
    assert SurveyInvitation.objects.get().customer_id == target.pk


def test_the_customer_panel_lists_answers_about_tickets_the_agent_may_see(agent_client, agent_user):
    customer = CustomerFactory(name="Ada")
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    open_ticket, private_ticket = TicketFactory(customer=customer), TicketFactory(customer=customer, team=legal)
    survey_response_record(ticket_id=open_ticket.pk, kind="csat", score=4, comment="Fine", source="email")
    survey_response_record(ticket_id=private_ticket.pk, kind="csat", score=1, comment="Secret", source="email")
    survey_response_record(ticket_id=None, customer_id=customer.pk, kind="nps", score=9, source="email")

    seen = selectors.customer_survey_responses(customer=customer, user=agent_user)
    assert sorted((r.kind, r.score) for r in seen) == [("csat", 4), ("nps", 9)]
    member = AgentFactory(role="agent")
    member.teams.add(legal)
    assert len(selectors.customer_survey_responses(customer=customer, user=member.user)) == 3

    page = agent_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Satisfaction given" in page and "CSAT 4" in page and "Fine" in page and "Secret" not in page


def test_demo_surveys_go_through_the_services_once():
    from django.utils import timezone

    from metrics.surveys.demo import seed_surveys
    from tests.factories import ChannelFactory

    channel = ChannelFactory(kind="email")
    now = timezone.now()
    tickets = [TicketFactory(channel=channel, status="solved", solved_at=now) for _ in range(10)]
    written = seed_surveys(channels=[channel], now=now)
    assert SurveyInvitation.objects.filter(ticket__in=tickets).count() == 10
    assert SurveyResponse.objects.filter(kind="nps", ticket=None).count() == 10  # one per customer
    assert written == SurveyResponse.objects.count()
    csat = SurveyResponse.objects.filter(kind="csat").count()
    assert SurveyInvitation.objects.filter(answered_at__isnull=False).count() == csat
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.SURVEY_ANSWERED).count() == written - 10
    assert seed_surveys(channels=[channel], now=now) == 0
