"""The agent pages of the foundation: sign in, inbox, ticket, reply, note, status."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import (
    AgentFactory,
    CustomerIdentityFactory,
    MessageFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Attachment, Message, Ticket, TicketEvent

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


def test_inbox_lists_open_tickets_newest_first(agent_client):
    # The inbox's query count is pinned in test_inbox.py (test_queries_do_not_grow_with_page_size).
    tickets = [TicketFactory(subject=f"Question {i}") for i in range(30)]
    TicketFactory(subject="Already solved", status=Ticket.Status.SOLVED)
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


# --- The ticket page's actions -----------------------------------------------------------



def test_reply_with_attachments_stores_and_sends_them(agent_client, email_channel, django_capture_on_commit_callbacks):
    ticket = TicketFactory(channel=email_channel)
    CustomerIdentityFactory(customer=ticket.customer, address="cust@example.com")
    files = [SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 data", "application/pdf"), SimpleUploadedFile("a.png", b"png", "image/png")]
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Attached", "attachments": files})
    assert response.status_code == 302
    reply = ticket.messages.get()
    assert sorted(reply.attachments.values_list("filename", flat=True)) == ["a.png", "invoice.pdf"]
    assert Attachment.objects.get(filename="invoice.pdf").file.read() == b"%PDF-1.4 data"
    assert sorted(a[0] for a in mail.outbox[0].attachments) == ["a.png", "invoice.pdf"]


def test_note_with_an_attachment(agent_client):
    ticket = TicketFactory()
    agent_client.post(
        f"/tickets/{ticket.number}/reply/",
        {"text": "", "is_note": "true", "attachments": [SimpleUploadedFile("log.txt", b"trace", "text/plain")]},
    )
    note = ticket.messages.get()
    assert note.direction == Message.Direction.NOTE and note.attachments.get().filename == "log.txt"


def test_oversize_attachment_is_refused_and_the_text_kept(agent_client, settings):
    settings.PARLEY_MAX_ATTACHMENT_BYTES = 10
    ticket = TicketFactory()
    big = SimpleUploadedFile("big.bin", b"x" * 11, "application/octet-stream")
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "My long answer", "attachments": [big]})
    body = response.content.decode()
    assert response.status_code == 400
    assert "big.bin: larger than 10\xa0bytes" in body and "Attach the files again" in body
    assert "My long answer</textarea>" in body
    assert not ticket.messages.exists()


def test_reply_to_other_addresses_on_email(agent_client, email_channel, django_capture_on_commit_callbacks):
    ticket = TicketFactory(channel=email_channel)
    CustomerIdentityFactory(customer=ticket.customer, address="cust@example.com")
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Hi", "to": "x@example.com, nope"})
    assert response.status_code == 400 and "nope is not an email address" in response.content.decode()
    assert not ticket.messages.exists()
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Hi", "to": "billing@example.com"})
    assert mail.outbox[0].to == ["billing@example.com"]


def test_to_and_cc_are_ignored_outside_email(agent_client):
    ticket = TicketFactory(channel__kind="api")
    agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Hi", "to": "x@example.com", "cc": "y@example.com"})
    reply = ticket.messages.get()
    assert reply.cc == [] and "x@example.com" not in reply.to
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert 'name="cc"' not in page and 'name="to"' not in page


def test_refused_status_on_a_note_keeps_nothing_and_says_why(agent_client):
    ticket = TicketFactory(status=Ticket.Status.CLOSED)
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Reopen", "is_note": "true", "status": "open"})
    assert response.status_code == 400 and "cannot be reopened" in response.content.decode()
    assert not ticket.messages.exists()


@pytest.mark.parametrize(
    ("url", "data", "check"),
    [
        ("priority", {"priority": "urgent"}, lambda t: t.priority == "urgent"),
        ("status", {"status": "pending"}, lambda t: t.status == "pending"),
        ("tags", {"tags": "Billing, vip , "}, lambda t: sorted(t.tags.values_list("name", flat=True)) == ["billing", "vip"]),
    ],
)
def test_fields_edited_with_a_plain_post(agent_client, url, data, check):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    response = agent_client.post(f"/tickets/{ticket.number}/{url}/", data)
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/"
    assert check(Ticket.objects.get(pk=ticket.pk))


def test_htmx_field_edit_returns_the_sidebar_and_the_timeline_out_of_band(agent_client):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    response = agent_client.post(f"/tickets/{ticket.number}/priority/", {"priority": "high"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="ticket-properties"' in body and "Priority saved." in body
    assert 'id="timeline" data-live="timeline" class="timeline" hx-swap-oob="true"' in body
    assert "Priority Normal → High" in body


def test_invalid_transition_is_explained_in_the_fragment(agent_client):
    ticket = TicketFactory(status=Ticket.Status.CLOSED)
    response = agent_client.post(f"/tickets/{ticket.number}/status/", {"status": "open"}, HTTP_HX_REQUEST="true")
    assert "A closed ticket cannot be reopened" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.CLOSED


def test_unknown_priority_is_refused(agent_client):
    ticket = TicketFactory()
    response = agent_client.post(f"/tickets/{ticket.number}/priority/", {"priority": "whenever"}, follow=True)
    assert "not one of the available choices" in response.content.decode()


def test_assign_to_me_and_to_a_colleague_and_unassign(agent_client, agent_user):
    ticket = TicketFactory()
    colleague = AgentFactory(role="agent").user
    agent_client.post(f"/tickets/{ticket.number}/assignee/", {"assignee": agent_user.pk})
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == agent_user.pk
    agent_client.post(f"/tickets/{ticket.number}/assignee/", {"assignee": colleague.pk})
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == colleague.pk
    agent_client.post(f"/tickets/{ticket.number}/assignee/", {"assignee": ""})
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
    assert ticket.events.filter(kind=TicketEvent.Kind.ASSIGNED).count() == 3


def test_cannot_assign_a_private_teams_ticket_to_an_outsider(client):
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    member = AgentFactory(role="agent")
    member.teams.add(legal)
    outsider = AgentFactory(role="agent").user
    ticket = TicketFactory(team=legal)
    client.force_login(member.user)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert f'value="{outsider.pk}"' not in page
    response = client.post(f"/tickets/{ticket.number}/assignee/", {"assignee": outsider.pk}, follow=True)
    assert "Pick an agent who can see this ticket" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_team_change(agent_client):
    team = TeamFactory(name="Billing", slug="billing")
    ticket = TicketFactory()
    agent_client.post(f"/tickets/{ticket.number}/team/", {"team": team.pk})
    assert Ticket.objects.get(pk=ticket.pk).team_id == team.pk
    agent_client.post(f"/tickets/{ticket.number}/team/", {"team": ""})
    assert Ticket.objects.get(pk=ticket.pk).team_id is None


def test_merge_from_the_page_with_a_confirmation(agent_client):
    source, target = TicketFactory(subject="Dup"), TicketFactory(subject="Original")
    MessageFactory(ticket=source, text="moved text")
    page = agent_client.get(f"/tickets/{source.number}/merge/?target={target.number}").content.decode()
    assert f"Merge #{source.number} into #{target.number}" in page and "1 message of" in page
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None  # a GET changes nothing
    response = agent_client.post(f"/tickets/{source.number}/merge/", {"target": target.number}, follow=True)
    assert response.redirect_chain[-1][0] == f"/tickets/{target.number}/"
    assert "moved text" in response.content.decode()
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk


@pytest.mark.parametrize("target", ["999999", "self", "abc", "merged"])
def test_merge_into_a_bad_target_says_why(agent_client, agent_user, target):
    from tickets import services
    from tickets.events import Actor

    source = TicketFactory()
    merged = TicketFactory()
    services.ticket_merge(source=merged, target=TicketFactory(), actor=Actor.agent(agent_user))
    value = {"self": source.number, "merged": merged.number}.get(target, target)
    response = agent_client.post(f"/tickets/{source.number}/merge/", {"target": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert "into itself" in body or "no open ticket" in body or "Enter a whole number" in body
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None


def test_merge_refused_by_the_service_is_shown(client):
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    manager = AgentFactory(role="manager").user
    source, target = TicketFactory(team=legal), TicketFactory()
    client.force_login(manager)
    response = client.post(f"/tickets/{source.number}/merge/", {"target": target.number})
    assert response.status_code == 400 and "private team" in response.content.decode()


def test_split_button_on_customer_messages_only_and_split_opens_the_new_ticket(agent_client, agent_user):
    from tickets import services

    ticket = TicketFactory(subject="Two things")
    MessageFactory(ticket=ticket, text="first")
    second = MessageFactory(ticket=ticket, text="second topic")
    note = services.message_add_note(ticket=ticket, author=agent_user, text="note")
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert f"/messages/{second.pk}/split/" in page and f"/messages/{note.pk}/split/" not in page
    response = agent_client.post(f"/tickets/{ticket.number}/messages/{second.pk}/split/", follow=True)
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response.redirect_chain[-1][0] == f"/tickets/{new.number}/"
    assert "second topic" in response.content.decode() and f"Split from #{ticket.number}" in response.content.decode()


def test_split_refusal_is_shown_and_a_foreign_message_is_404(agent_client):
    ticket = TicketFactory()
    first = MessageFactory(ticket=ticket)
    response = agent_client.post(f"/tickets/{ticket.number}/messages/{first.pk}/split/", follow=True)
    assert "cannot be split off" in response.content.decode()
    other = MessageFactory()
    assert agent_client.post(f"/tickets/{ticket.number}/messages/{other.pk}/split/").status_code == 404


def test_htmx_split_redirects_the_browser(agent_client):
    ticket = TicketFactory()
    MessageFactory(ticket=ticket)
    second = MessageFactory(ticket=ticket)
    response = agent_client.post(f"/tickets/{ticket.number}/messages/{second.pk}/split/", HTTP_HX_REQUEST="true")
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response["HX-Redirect"] == f"/tickets/{new.number}/"


PRIVATE_ACTIONS = [
    ("get", "", {}),
    ("post", "reply/", {"text": "x"}),
    ("post", "status/", {"status": "solved"}),
    ("post", "priority/", {"priority": "urgent"}),
    ("post", "assignee/", {"assignee": ""}),
    ("post", "team/", {"team": ""}),
    ("post", "tags/", {"tags": "x"}),
    ("get", "merge/?target=1", {}),
    ("post", "merge/", {"target": "1"}),
    ("post", "messages/{message}/split/", {}),
]


@pytest.mark.parametrize(("method", "path", "data"), PRIVATE_ACTIONS)
def test_private_team_outsider_gets_404_on_every_action(client, method, path, data):
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    ticket = TicketFactory(team=legal, status=Ticket.Status.OPEN)
    MessageFactory(ticket=ticket)
    message = MessageFactory(ticket=ticket)
    client.force_login(AgentFactory(role="agent").user)
    url = f"/tickets/{ticket.number}/" + path.format(message=message.pk)
    response = getattr(client, method)(url, data)
    assert response.status_code == 404
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.merged_into_id) == ("open", "normal", None)
    assert ticket.messages.count() == 2 and not ticket.tags.exists()


@pytest.mark.parametrize(("method", "path", "data"), PRIVATE_ACTIONS)
def test_private_team_member_may_act(client, method, path, data):
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    member = AgentFactory(role="agent")
    member.teams.add(legal)
    ticket = TicketFactory(team=legal, status=Ticket.Status.OPEN)
    MessageFactory(ticket=ticket)
    message = MessageFactory(ticket=ticket)
    client.force_login(member.user)
    response = getattr(client, method)(f"/tickets/{ticket.number}/" + path.format(message=message.pk), data)
    assert response.status_code in (200, 302, 400)


def test_non_staff_user_gets_404_on_actions(client):
    ticket = TicketFactory()
    client.force_login(UserFactory(is_staff=False))
    assert client.post(f"/tickets/{ticket.number}/priority/", {"priority": "urgent"}).status_code == 404
    assert client.get("/macros/").status_code == 404
