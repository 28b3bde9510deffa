"""/api/v1/tickets/{number}/messages/, replies/, notes/, attachments/."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import MessageFactory, TeamFactory, TicketFactory
from tickets.models import Message, TicketEvent

pytestmark = pytest.mark.django_db


def url(ticket, tail=""):
    return f"/api/v1/tickets/{ticket.number}/{tail}"


def test_timeline_in_order_with_cursor_pages(api_client):
    ticket = TicketFactory()
    now = timezone.now()
    made = [MessageFactory(ticket=ticket, created_at=now + dt.timedelta(seconds=i)).pk for i in range(5)]
    seen, next_url = [], url(ticket, "messages/?page_size=2")
    while next_url:
        body = api_client.get(next_url).json()
        seen += [m["id"] for m in body["results"]]
        next_url = body["next"]
    assert seen == made
    first = api_client.get(url(ticket, "messages/")).json()["results"][0]
    assert first["author"]["kind"] == "customer" and first["direction"] == "inbound"


def test_one_message_and_messages_of_other_tickets(api_client):
    ticket, other = TicketFactory(), TicketFactory()
    mine = MessageFactory(ticket=ticket, text="mine")
    theirs = MessageFactory(ticket=other)
    assert api_client.get(url(ticket, f"messages/{mine.pk}/")).json()["text"] == "mine"
    assert_problem(api_client.get(url(ticket, f"messages/{theirs.pk}/")), 404)


def test_private_team_messages_are_404(api_client):
    ticket = TicketFactory(team=TeamFactory(is_private=True))
    MessageFactory(ticket=ticket)
    assert_problem(api_client.get(url(ticket, "messages/")), 404)
    assert_problem(api_client.post(url(ticket, "notes/"), {"text": "x"}), 404)
    assert not ticket.messages.filter(direction="note").exists()


def test_public_reply_goes_out_through_the_channel(api_client, email_ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(url(email_ticket, "replies/"), {"text": "We are on it.", "status": "pending"})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["direction"] == "outbound" and data["author"]["user_id"] == api_client.key.user.pk
    message = Message.objects.get(pk=data["id"])
    # Delivered by the email adapter (tasks run in-process in tests), threaded on the customer's mail.
    assert message.delivery_status == "sent"
    assert len(mail.outbox) == 1 and mail.outbox[0].body.startswith("We are on it.")
    assert f"[#{email_ticket.number}]" in mail.outbox[0].subject
    email_ticket.refresh_from_db()
    assert email_ticket.status == "pending" and email_ticket.first_response_at is not None
    assert email_ticket.events.filter(kind=TicketEvent.Kind.MESSAGE_ADDED, message=message).exists()


def test_internal_note_is_never_sent(api_client, email_ticket):
    response = api_client.post(url(email_ticket, "notes/"), {"text": "Called her", "html": "<b>Called</b><img src=x onerror=alert(1)>"})
    assert response.status_code == 201
    data = response.json()
    assert data["direction"] == "note" and "onerror" not in data["html"]
    assert mail.outbox == []


def test_reply_validation(api_client, email_ticket):
    assert_problem(api_client.post(url(email_ticket, "replies/"), {"text": "  "}), 400, "validation")
    body = assert_problem(api_client.post(url(email_ticket, "replies/"), {"text": "x", "to": ["not-an-address"]}), 400)
    assert body["errors"][0]["field"].startswith("to")
    assert_problem(api_client.post(url(email_ticket, "replies/"), {"text": "x", "status": "later"}), 400)


def test_attachments_upload_and_download(api_client, email_ticket):
    files = [
        SimpleUploadedFile("report.html", b"<script>alert(1)</script>", content_type="text/html"),
        SimpleUploadedFile("pic.png", b"\x89PNG fake", content_type="image/png"),
    ]
    response = api_client.post(url(email_ticket, "notes/"), {"text": "see files", "attachments": files}, format="multipart")
    assert response.status_code == 201, response.content
    attachments = {a["filename"]: a for a in response.json()["attachments"]}
    assert set(attachments) == {"report.html", "pic.png"}
    html = api_client.get(attachments["report.html"]["url"])
    assert html.status_code == 200 and b"".join(html.streaming_content) == b"<script>alert(1)</script>"
    assert html["Content-Type"] == "application/octet-stream" and "attachment" in html["Content-Disposition"]
    assert "sandbox" in html["Content-Security-Policy"]
    png = api_client.get(attachments["pic.png"]["url"], HTTP_ACCEPT="image/png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"


def test_attachment_limits_are_the_workspaces(api_client, email_ticket, settings):
    settings.PARLEY_MAX_ATTACHMENT_BYTES = 10
    big = SimpleUploadedFile("big.bin", b"x" * 11)
    body = assert_problem(api_client.post(url(email_ticket, "replies/"), {"text": "x", "attachments": [big]}, format="multipart"), 400)
    assert "big.bin" in body["detail"]
    many = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(11)]
    assert_problem(api_client.post(url(email_ticket, "notes/"), {"text": "x", "attachments": many}, format="multipart"), 400)
    assert not email_ticket.messages.exclude(direction="inbound").exists()


def test_attachment_of_another_ticket_or_invisible_is_404(api_client, email_ticket, make_key):
    note = api_client.post(
        url(email_ticket, "notes/"), {"text": "f", "attachments": [SimpleUploadedFile("a.txt", b"a")]}, format="multipart"
    ).json()
    attachment_id = note["attachments"][0]["id"]
    other = TicketFactory()
    assert_problem(api_client.get(url(other, f"attachments/{attachment_id}/")), 404)
    email_ticket.team = TeamFactory(is_private=True)
    email_ticket.save()
    assert_problem(api_client.get(url(email_ticket, f"attachments/{attachment_id}/")), 404)


def test_messages_need_the_messages_scope(make_key, email_ticket):
    client = KeyClient(make_key(scopes=["tickets:write", "messages:read"])[1])
    assert client.get(url(email_ticket, "messages/")).status_code == 200
    assert_problem(client.post(url(email_ticket, "replies/"), {"text": "x"}), 403)


def test_reply_with_idempotency_key_is_sent_once(api_client, email_ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(url(email_ticket, "replies/"), {"text": "Once"}, HTTP_IDEMPOTENCY_KEY="r1")
        again = api_client.post(url(email_ticket, "replies/"), {"text": "Once"}, HTTP_IDEMPOTENCY_KEY="r1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert len(mail.outbox) == 1
    assert email_ticket.messages.filter(direction="outbound").count() == 1
