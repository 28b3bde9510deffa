"""A solved ticket sends its CSAT survey through its channel; the links record one rating."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from metrics.surveys.models import SurveyInvitation, SurveyResponse
from metrics.surveys.selectors import survey_response_rate
from metrics.surveys.services import csat_invitation_send, survey_settings_update
from tests.factories import ChannelFactory, CustomerIdentityFactory, MessageFactory, TicketFactory
from tests.surveys.conftest import local, rating_links
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def _survey_mail():
    mails = [m for m in mail.outbox if "How did we do" in m.subject]
    assert len(mails) == 1, [m.subject for m in mail.outbox]
    return mails[0]


def test_solving_emails_five_rating_links_and_one_click_records_the_score(email_ticket, solve, client):
    solve(email_ticket)

    sent = _survey_mail()
    assert sent.to == ["ada@example.com"]
    assert f"#{email_ticket.number}" in sent.subject
    links = rating_links(sent.body)
    assert sorted(links) == [1, 2, 3, 4, 5]
    html = sent.alternatives[0][0]
    assert all(url.replace("&", "&amp;") in html for url in links.values())

    # The link page asks the browser to post the score: nothing is stored by the GET itself.
    page = client.get(local(links[4]))
    assert page.status_code == 200
    assert b'id="survey-rate"' in page.content and b'name="score" value="4"' in page.content
    assert not SurveyResponse.objects.exists()

    answer = client.post(local(links[4]).split("?")[0], {"score": "4"})
    assert answer.status_code == 302
    response = SurveyResponse.objects.get()
    assert (response.kind, response.score, response.ticket_id, response.source) == ("csat", 4, email_ticket.pk, "email")
    event = TicketEvent.objects.get(ticket=email_ticket, kind=TicketEvent.Kind.SURVEY_ANSWERED)
    assert event.data["score"] == 4 and event.actor_kind == TicketEvent.ActorKind.CUSTOMER

    thanks = client.get(answer["Location"])
    assert b"Your rating: 4" in thanks.content
    assert b"Anything you would like to add?" in thanks.content


def test_a_second_click_changes_the_rating_and_a_comment_is_added(email_ticket, solve, client):
    solve(email_ticket)
    links = rating_links(_survey_mail().body)
    path = local(links[2]).split("?")[0]
    client.post(path, {"score": "2"})
    client.post(path, {"score": "5"})
    client.post(path, {"comment": "  Quick and kind.  "})

    response = SurveyResponse.objects.get()
    assert (response.score, response.comment) == (5, "Quick and kind.")
    invitation = SurveyInvitation.objects.get()
    assert invitation.answered_at is not None and invitation.response_id == response.pk


def test_the_timeline_shows_the_rating_and_comment(email_ticket, solve, client, agent_client):
    solve(email_ticket)
    path = local(rating_links(_survey_mail().body)[2]).split("?")[0]
    client.post(path, {"score": "2"})
    client.post(path, {"comment": "Too slow <b>really</b>"})

    page = agent_client.get(f"/tickets/{email_ticket.number}/")
    text = page.content.decode()
    assert "CSAT rating 2/5 via email" in text
    assert "Too slow &lt;b&gt;really&lt;/b&gt;" in text


def test_ces_is_asked_on_the_same_page_when_configured(email_ticket, solve, client):
    survey_settings_update(ces_enabled=True)
    solve(email_ticket)
    path = local(rating_links(_survey_mail().body)[5]).split("?")[0]
    client.post(path, {"score": "5"})
    page = client.get(f"{path}?thanks=1")
    assert b"How easy was it" in page.content
    client.post(path, {"ces": "6", "comment": ""})
    assert dict(SurveyResponse.objects.values_list("kind", "score")) == {"csat": 5, "ces": 6}
    bad = client.post(path, {"ces": "9"})
    assert bad.status_code == 400 and b"from 1 to 7" in bad.content
    assert SurveyResponse.objects.get(kind="ces").score == 6


def test_a_feedback_form_before_any_rating_is_refused(email_ticket, solve, client):
    solve(email_ticket)
    path = local(rating_links(_survey_mail().body)[5]).split("?")[0]
    page = client.post(path, {"comment": "hello"})
    assert page.status_code == 400 and b"Choose a rating first" in page.content
    bad = client.post(path, {"score": "6"})
    assert bad.status_code == 400 and b"from 1 to 5" in bad.content
    assert not SurveyResponse.objects.exists()


def test_tampered_and_expired_links_store_nothing(email_ticket, solve, client):
    solve(email_ticket)
    url = local(rating_links(_survey_mail().body)[5])
    path = url.split("?")[0]
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = path.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))

    for response in (client.get(forged + "?score=5"), client.post(forged, {"score": "5"})):
        assert response.status_code == 404
        assert b"not valid" in response.content
    assert client.post("/s/not-a-token/", {"score": "1"}).status_code == 404
    # Signed, but for no survey, or with another salt (a token Django signed for something else).
    from django.core import signing

    from metrics.surveys.tokens import survey_token_make

    invitation_id = SurveyInvitation.objects.get().pk
    assert client.post(f"/s/{survey_token_make(invitation_id + 1000)}/", {"score": "5"}).status_code == 404
    other_salt = signing.Signer(salt="something.else").sign_object(invitation_id)
    assert client.post(f"/s/{other_salt}/", {"score": "5"}).status_code == 404

    SurveyInvitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for response in (client.get(url), client.post(path, {"score": "5"})):
        assert response.status_code == 410
        assert b"has expired" in response.content
    assert not SurveyResponse.objects.exists()


def test_one_invitation_per_solve_even_when_the_task_runs_twice(email_ticket, solve):
    solve(email_ticket)
    first = SurveyInvitation.objects.get()
    assert csat_invitation_send(ticket_id=email_ticket.pk) == first
    assert SurveyInvitation.objects.count() == 1
    assert len([m for m in mail.outbox if "How did we do" in m.subject]) == 1


def test_reopened_and_solved_again_within_the_quiet_period_sends_nothing_more(email_ticket, solve):
    solve(email_ticket)
    solve(Ticket.objects.get(pk=email_ticket.pk), status="open")
    solve(Ticket.objects.get(pk=email_ticket.pk))
    assert SurveyInvitation.objects.count() == 1

    # After the quiet period a new solve is surveyed again.
    SurveyInvitation.objects.update(sent_at=timezone.now() - dt.timedelta(hours=73))
    solve(Ticket.objects.get(pk=email_ticket.pk), status="open")
    solve(Ticket.objects.get(pk=email_ticket.pk))
    assert SurveyInvitation.objects.count() == 2


def test_no_survey_when_disabled_or_the_ticket_came_from_an_automatic_reply(email_ticket, solve):
    survey_settings_update(csat_enabled=False)
    solve(email_ticket)
    assert not SurveyInvitation.objects.exists()

    survey_settings_update(csat_enabled=True)
    auto = TicketFactory(channel=email_ticket.channel)
    CustomerIdentityFactory(customer=auto.customer, kind="email")
    MessageFactory(ticket=auto, direction=Message.Direction.INBOUND, author_kind="customer", is_auto_reply=True)
    solve(auto)
    assert not SurveyInvitation.objects.exists()


def test_no_survey_when_reopened_before_the_task_runs(email_ticket, agent_user):
    from tickets import services as ticket_services
    from tickets.events import Actor

    ticket_services.ticket_change_status(ticket=email_ticket, status="solved", actor=Actor.agent(agent_user))
    ticket_services.ticket_change_status(ticket=email_ticket, status="open", actor=Actor.agent(agent_user))
    assert csat_invitation_send(ticket_id=email_ticket.pk) is None


def test_social_channels_get_a_short_message_with_one_link_and_chat_gets_none(solve, client):
    telegram = TicketFactory(channel=ChannelFactory(kind="telegram"))
    MessageFactory(ticket=telegram, direction=Message.Direction.INBOUND, author_kind="customer")
    solve(telegram)
    invitation = SurveyInvitation.objects.get()
    assert invitation.via == "telegram"
    message = Message.objects.get(pk=invitation.message_id)
    assert message.direction == Message.Direction.OUTBOUND and message.author_kind == "system"
    link = message.text.split()[-1]
    assert "score=" not in link

    page = client.get(local(link))
    assert page.status_code == 200 and b'name="score" value="1"' in page.content
    client.post(local(link), {"score": "3"})
    assert SurveyResponse.objects.get().source == "social"

    chat = TicketFactory(channel=ChannelFactory(kind="chat"))
    solve(chat)
    assert SurveyInvitation.objects.count() == 1


def test_response_rate_counts_answered_invitations(solve, client):
    tickets = []
    for _ in range(3):
        ticket = TicketFactory(channel=ChannelFactory(kind="telegram"))
        MessageFactory(ticket=ticket, direction=Message.Direction.INBOUND, author_kind="customer")
        solve(ticket)
        tickets.append(ticket)
    assert survey_response_rate(kind="csat").sent == 3
    assert survey_response_rate(kind="csat").rate == 0

    link = Message.objects.get(pk=SurveyInvitation.objects.get(ticket=tickets[0]).message_id).text.split()[-1]
    client.post(local(link), {"score": "5"})
    client.post(local(link), {"score": "4"})  # a changed answer is still one answer
    # An answer from another way in (the widget, the API) marks the ticket's invitation too.
    from metrics.surveys.services import survey_response_record

    survey_response_record(ticket_id=tickets[1].pk, kind="csat", score=2, source="api")
    rate = survey_response_rate(kind="csat")
    assert (rate.sent, rate.answered) == (3, 2)
    assert rate.rate == pytest.approx(2 / 3)


def test_a_scanner_fetching_every_link_votes_nothing(email_ticket, solve, client):
    solve(email_ticket)
    for url in rating_links(_survey_mail().body).values():
        assert client.get(local(url)).status_code == 200
        assert client.head(local(url)).status_code == 200
    assert not SurveyResponse.objects.exists()
    assert SurveyInvitation.objects.get().answered_at is None


def test_the_public_page_is_rate_limited_per_ip(settings, client):
    from django.core.cache import cache

    cache.clear()
    settings.PARLEY_SURVEY_RATE_LIMIT = 3
    codes = [client.get("/s/whatever/", REMOTE_ADDR="203.0.113.9").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    assert client.get("/s/whatever/", REMOTE_ADDR="203.0.113.10").status_code == 404


def test_no_survey_through_a_channel_that_is_turned_off(email_ticket, solve):
    email_ticket.channel.is_active = False
    email_ticket.channel.save(update_fields=["is_active"])
    solve(email_ticket)
    assert not SurveyInvitation.objects.exists()
