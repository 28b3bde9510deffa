"""Bounces of our replies, automatic acknowledgements, and mail nobody may auto-answer."""

from __future__ import annotations

import pytest
from django.core import mail

from channels_inbox import services
from tests.emails import build_email
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import message_reply

pytestmark = pytest.mark.django_db


def ingest(channel, raw):
    inbound = services.inbound_store(channel=channel, raw=raw, enqueue=False)
    return services.inbound_process(inbound_id=inbound.pk)


def dsn_for(message_id: str, recipient: str) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix sends it, returning our message's headers."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: support@parley.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.net>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n"
        "--B1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        f"<{recipient}>: host mx.example.com said: 550 5.1.1 User unknown\r\n\r\n"
        "--B1\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B1\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@parley.test\r\nTo: {recipient}\r\nSubject: Re: Cannot log in\r\n"
        f"Message-ID: <{message_id}>\r\n\r\n"
        "--B1--\r\n"
    ).encode()


def test_bounce_of_our_reply_marks_it_failed_and_tells_the_agent(email_channel, agent_user, django_capture_on_commit_callbacks):
    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=ticket, author=agent_user, text="Try again now", status=Ticket.Status.SOLVED)
    assert Message.objects.get(pk=reply.pk).delivery_status == Message.DeliveryStatus.SENT

    result = ingest(email_channel, dsn_for(reply.external_id, "ada@example.com"))

    assert result.ticket_ids == [ticket.pk]
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert "User unknown" in reply.delivery_error
    assert ticket.events.filter(kind=TicketEvent.Kind.DELIVERY_FAILED, message=reply).exists()
    assert ticket.messages.filter(direction="note", text__startswith="A reply bounced").exists()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED  # the bounce is stored and shown, but reopens nothing


def test_bounce_for_a_message_we_never_sent_changes_nothing(email_channel):
    result = ingest(email_channel, dsn_for("unknown@parley.test", "x@example.com"))
    assert result.outcome == "ignored"
    assert not Message.objects.filter(delivery_status="failed").exists()


@pytest.fixture
def acking_channel(email_channel):
    email_channel.config = {
        "auto_ack": {
            "enabled": True,
            "subject": "[#{{ ticket.number }}] Got it, {{ customer.first_name }}",
            "body": "Hi {{ customer.first_name }}, ticket {{ ticket.number }} is open. {{ company.name }}",
        }
    }
    email_channel.save()
    return email_channel


def test_new_ticket_gets_the_channels_acknowledgement(acking_channel, django_capture_on_commit_callbacks, settings):
    settings.PARLEY_COMPANY_NAME = "Acme"
    with django_capture_on_commit_callbacks(execute=True):
        ingest(acking_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    ack = ticket.messages.get(direction=Message.Direction.OUTBOUND)
    assert ack.author_kind == Message.AuthorKind.SYSTEM and ack.is_auto_reply
    assert ack.text == f"Hi Ada, ticket {ticket.number} is open. Acme"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"[#{ticket.number}] Got it, Ada"
    assert mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].extra_headers["Auto-Submitted"] == "auto-replied"  # RFC 3834: no autoresponder answers it
    ticket.refresh_from_db()
    assert ticket.first_response_at is None  # an automatic message is not a response
    assert ticket.status == Ticket.Status.NEW


def test_replies_on_an_existing_ticket_get_no_second_acknowledgement(acking_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(acking_channel, build_email(message_id="root@example.com"))
        ingest(acking_channel, build_email(message_id="r2@example.com", in_reply_to="root@example.com"))
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"List-Id": "Announcements <news.example.com>"},
        {"List-Unsubscribe": "<mailto:leave@example.com>"},
        {"Precedence": "bulk"},
        {"Auto-Submitted": "auto-generated"},
    ],
)
def test_list_bulk_and_automatic_mail_is_never_acknowledged(acking_channel, django_capture_on_commit_callbacks, headers):
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(acking_channel, build_email(message_id="list@example.com", headers=headers))
    assert mail.outbox == []
    if "List-Id" in headers or "List-Unsubscribe" in headers:
        # written by a person through a list: kept as a ticket, just not answered automatically
        assert result.outcome == "new_ticket"


def test_acknowledgement_is_off_by_default(email_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(email_channel, build_email())
    assert mail.outbox == []


def test_placeholders_cannot_reach_model_methods(email_channel):
    from tickets.placeholders import render_placeholders

    ingest(email_channel, build_email())
    ticket = Ticket.objects.get()
    text = render_placeholders("{{ ticket.customer.delete }}{{ ticket.messages }}[{{ customer.first_name }}]{% broken", ticket=ticket)
    assert text == "[Ada]{% broken"  # nothing but the offered values is reachable
    assert render_placeholders("{% if %}Hello", ticket=ticket) == "{% if %}Hello"  # a broken template is sent as written
    assert render_placeholders("{{ ticket.customer }}|{{ customer.first_name }}", ticket=ticket) == "|Ada"
    assert Ticket.objects.exists()
