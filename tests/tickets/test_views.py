"""The agent pages of the foundation: sign in, inbox, ticket, reply, note, status."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.factories import AgentFactory, CustomerIdentityFactory, MessageFactory, TicketFactory, UserFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


def test_login_with_username_and_password_then_logout(client):
    user = UserFactory(username="kim", is_staff=True)
    AgentFactory(user=user)
    response = client.post("/login/", {"username": "kim", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client):
    UserFactory(username="kim", is_staff=True)
    response = client.post("/login/", {"username": "kim", "password": "nope"})
    assert response.status_code == 200
    assert "didn&#x27;t match" in response.content.decode() or "didn't match" in response.content.decode()


def test_inbox_lists_open_tickets_newest_first_in_few_queries(agent_client, django_assert_max_num_queries):
    tickets = [TicketFactory(subject=f"Question {i}") for i in range(30)]
    TicketFactory(subject="Already solved", status=Ticket.Status.SOLVED)
    # session, user, role, teams, permissions (2), the page itself: none per row
    with django_assert_max_num_queries(8):
        response = agent_client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Question 29" in body and "Already solved" not in body
    assert body.index("Question 29") < body.index("Question 0")
    assert len(tickets) == 30


def test_inbox_pages_with_a_keyset_cursor(agent_client):
    for i in range(60):
        TicketFactory(subject=f"Item {i:02d}")
    first = agent_client.get("/").content.decode()
    assert "Older tickets" in first
    import re

    cursor = re.search(r'cursor=([^"&]+)', first).group(1)
    second = agent_client.get(f"/?view=open&cursor={cursor}").content.decode()
    first_subjects = set(re.findall(r"Item \d\d", first))
    second_subjects = set(re.findall(r"Item \d\d", second))
    assert len(first_subjects) == 50 and len(second_subjects) == 10
    assert not first_subjects & second_subjects


def test_mangled_cursor_shows_the_first_page(agent_client):
    TicketFactory(subject="Hello")
    response = agent_client.get("/?cursor=not-a-cursor")
    assert response.status_code == 200 and "Hello" in response.content.decode()


def test_htmx_request_gets_only_the_rows(agent_client):
    TicketFactory(subject="Partial row")
    response = agent_client.get("/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Partial row" in body and "<html" not in body


def test_ticket_page_shows_the_conversation_escaped(agent_client):
    message = MessageFactory(text="<script>alert('x')</script> my order is late")
    response = agent_client.get(f"/tickets/{message.ticket.number}/")
    body = response.content.decode()
    assert "my order is late" in body
    assert "<script>alert" not in body and "&lt;script&gt;" in body


def test_unknown_ticket_is_404(agent_client):
    assert agent_client.get("/tickets/999999/").status_code == 404


def test_agent_replies_from_the_ticket_page(agent_client, email_channel, django_capture_on_commit_callbacks):
    ticket = TicketFactory(channel=email_channel)
    CustomerIdentityFactory(customer=ticket.customer, address="cust@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "We are on it", "status": "pending"})
    assert response.status_code == 302
    reply = ticket.messages.get(direction=Message.Direction.OUTBOUND)
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert mail.outbox[0].to == ["cust@example.com"]
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.PENDING


def test_internal_note_from_the_ticket_page(agent_client):
    ticket = TicketFactory()
    agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Check the logs", "is_note": "on"})
    note = ticket.messages.get()
    assert note.direction == Message.Direction.NOTE and mail.outbox == []


def test_empty_reply_is_refused(agent_client):
    ticket = TicketFactory()
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": ""}, follow=True)
    assert "This field is required" in response.content.decode()
    assert not ticket.messages.exists()


def test_status_change_from_the_ticket_page_records_an_event(agent_client):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    agent_client.post(f"/tickets/{ticket.number}/status/", {"status": "solved"})
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED and ticket.solved_at is not None
    event = ticket.events.get(kind="status_changed")
    assert event.data == {"from": "open", "to": "solved"} and event.actor_kind == "agent"


def test_closed_ticket_cannot_be_reopened_by_hand(agent_client):
    ticket = TicketFactory(status=Ticket.Status.CLOSED)
    response = agent_client.post(f"/tickets/{ticket.number}/status/", {"status": "open"}, follow=True)
    assert "cannot be reopened" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.CLOSED


def test_reply_must_be_posted(agent_client):
    ticket = TicketFactory()
    assert agent_client.get(f"/tickets/{ticket.number}/reply/").status_code == 405


def test_internal_note_can_also_set_the_status(agent_client):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Waiting on vendor", "is_note": "on", "status": "on_hold"})
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.ON_HOLD


def test_ccd_addresses_are_offered_on_the_reply_and_sent(agent_client, email_channel, django_capture_on_commit_callbacks):
    from channels_inbox import services as inbound_services
    from tests.emails import build_email

    raw = build_email(to="support@parley.test, boss@example.com", headers={"Cc": "colleague@example.com, support+x@parley.test"})
    inbound_services.inbound_process(inbound_id=inbound_services.inbound_store(channel=email_channel, raw=raw, enqueue=False).pk)
    ticket = Ticket.objects.get()
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert 'value="boss@example.com, colleague@example.com"' in page

    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Hi all", "cc": "boss@example.com; colleague@example.com"})
    assert mail.outbox[0].cc == ["boss@example.com", "colleague@example.com"]
    assert ticket.messages.get(direction="outbound").cc == ["boss@example.com", "colleague@example.com"]


def test_invalid_cc_is_refused_with_the_address_named(agent_client, email_channel):
    ticket = TicketFactory(channel=email_channel)
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Hi", "cc": "not-an-address"}, follow=True)
    assert "not-an-address is not an email address" in response.content.decode()
    assert not ticket.messages.exists()
