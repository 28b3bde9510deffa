"""Agent replies over a real SMTP conversation: a server on loopback receives them.

What the customer's mail server would see: the envelope, the threading headers, the
MIME structure, the attachments; and what the agent sees when that server says no.
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile

from channels_inbox import services as inbound_services
from channels_inbox.tasks import EAGER_MAX_ATTEMPTS
from tests.channels_inbox.smtp_sink import smtp_sink  # noqa: F401 - the fixture
from tests.emails import build_email
from tests.factories import AttachmentFactory
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import message_reply

pytestmark = pytest.mark.django_db


def reply_now(ticket: Ticket, author, capture, **kwargs) -> Message:
    """An agent's reply, committed, its delivery task run (eagerly) as after a real commit."""
    with capture(execute=True):
        reply = message_reply(ticket=ticket, author=author, **kwargs)
    reply.refresh_from_db()
    return reply


def assert_failure_is_visible(ticket: Ticket, reply: Message) -> None:
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    note = ticket.messages.get(direction=Message.Direction.NOTE)
    assert note.text.startswith("Delivery of a reply failed")
    assert ticket.events.filter(kind=TicketEvent.Kind.DELIVERY_FAILED, message=reply).exists()


def test_reply_arrives_with_envelope_and_threading_headers(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Your refund is on its way.")

    assert reply.delivery_status == Message.DeliveryStatus.SENT and reply.sent_at is not None
    [received] = smtp_sink.messages
    assert received.mail_from == "support@parley.test"
    assert received.rcpt_tos == ["ada@example.com"]
    msg = received.message
    assert msg["Message-ID"] == f"<{reply.external_id}>"
    assert reply.external_id.startswith(f"parley.{email_ticket.number}.") and reply.external_id.endswith("@parley.test")
    assert msg["In-Reply-To"] == "<root@example.com>"
    assert msg["References"] == "<root@example.com>"
    assert msg["Subject"] == f"[#{email_ticket.number}] Re: Refund please"
    assert msg["From"].addresses[0].addr_spec == "support@parley.test"
    assert msg["To"].addresses[0].addr_spec == "ada@example.com"
    assert msg["X-Parley-Ticket"] == str(email_ticket.number)
    assert msg["Date"] is not None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "Your refund is on its way."


def test_later_replies_carry_the_whole_thread_in_references(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    first = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Which order?")
    answer = build_email(
        subject=f"Re: [#{email_ticket.number}] Re: Refund please",
        message_id="answer@example.com",
        in_reply_to=first.external_id,
        references=["root@example.com", first.external_id],
        body="Order 1234.\n",
    )
    inbound = inbound_services.inbound_store(channel=email_ticket.channel, raw=answer, enqueue=False)
    assert inbound_services.inbound_process(inbound_id=inbound.pk).outcome == "threaded"

    second = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Refunded.")

    msg = smtp_sink.messages[-1].message
    assert msg["In-Reply-To"] == "<answer@example.com>"
    assert msg["References"].split() == ["<root@example.com>", f"<{first.external_id}>", "<answer@example.com>"]
    assert msg["Message-ID"] == f"<{second.external_id}>" != f"<{first.external_id}>"
    assert f"[#{email_ticket.number}]" in msg["Subject"]


def test_html_reply_is_multipart_alternative_with_text_and_sanitized_html(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    reply_now(
        email_ticket,
        agent_user,
        django_capture_on_commit_callbacks,
        text="",
        html='<p>Hello <strong>Ada</strong><script>alert(1)</script></p>',
    )

    msg = smtp_sink.messages[0].message
    assert msg.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "Hello Ada" in parts["text/plain"]
    assert "<strong>Ada</strong>" in parts["text/html"] and "script" not in parts["text/html"]


def test_attachments_arrive_whole(smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks):
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=email_ticket, author=agent_user, text="The invoice is attached.", html="<p>The invoice is attached.</p>")
        # Added in the same transaction, before the delivery task runs on commit.
        AttachmentFactory(
            message=reply, filename="invoice.pdf", content_type="application/pdf", size=len(pdf),
            sha256=hashlib.sha256(pdf).hexdigest(), file=ContentFile(pdf, name="invoice.pdf"),
        )

    msg = smtp_sink.messages[0].message
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("html", "plain"))
    assert body is not None and "invoice is attached" in body.get_content()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "invoice.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


def test_cc_recipients_are_in_the_envelope_and_headers(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    reply_now(
        email_ticket, agent_user, django_capture_on_commit_callbacks, text="Copying billing.", cc=["billing@example.com"]
    )

    [received] = smtp_sink.messages
    assert sorted(received.rcpt_tos) == ["ada@example.com", "billing@example.com"]
    assert received.message["Cc"].addresses[0].addr_spec == "billing@example.com"


def test_non_ascii_subject_and_body_survive_the_trip(smtp_sink, email_channel, agent_user, django_capture_on_commit_callbacks):
    raw = build_email(sender="Zoë Ñúñez <zoe@example.com>", subject="Überweisung fehlt – 返金", message_id="u@example.com")
    inbound = inbound_services.inbound_store(channel=email_channel, raw=raw, enqueue=False)
    inbound_services.inbound_process(inbound_id=inbound.pk)
    ticket = Ticket.objects.get()

    reply_now(ticket, agent_user, django_capture_on_commit_callbacks, text="Grüße, Zoë — 已退款 ✓")

    msg = smtp_sink.messages[0].message
    assert msg["Subject"] == f"[#{ticket.number}] Re: Überweisung fehlt – 返金"
    assert msg.get_content().strip() == "Grüße, Zoë — 已退款 ✓"
    assert smtp_sink.messages[0].rcpt_tos == ["zoe@example.com"]


def test_recipient_refused_with_550_fails_at_once_and_tells_the_agent(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    smtp_sink.refuse_recipient("ada@example.com", "550 5.1.1 <ada@example.com>: no such user")

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")

    assert_failure_is_visible(email_ticket, reply)
    assert "550" in reply.delivery_error and "no such user" in reply.delivery_error
    assert reply.delivery_attempts == 1  # permanent: not retried
    assert smtp_sink.messages == [] and smtp_sink.handler.data_attempts == 0
    note = email_ticket.messages.get(direction=Message.Direction.NOTE)
    assert "no such user" in note.text


def test_message_rejected_with_554_at_data_fails_at_once(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    smtp_sink.data_reply = "554 5.7.1 Message rejected as spam"

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")

    assert_failure_is_visible(email_ticket, reply)
    assert "554" in reply.delivery_error and "rejected as spam" in reply.delivery_error
    assert reply.delivery_attempts == 1 and smtp_sink.handler.data_attempts == 1


def test_451_at_data_is_retried_then_fails_in_eager_mode(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    smtp_sink.data_reply = "451 4.3.0 Temporary failure, try again later"

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")

    assert_failure_is_visible(email_ticket, reply)
    assert "451" in reply.delivery_error and "try again later" in reply.delivery_error
    assert reply.delivery_attempts == EAGER_MAX_ATTEMPTS
    assert smtp_sink.handler.data_attempts == EAGER_MAX_ATTEMPTS
    assert smtp_sink.messages == []


def test_451_to_mail_from_is_retried_too(smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks):
    smtp_sink.mail_reply = "451 4.3.2 System not accepting network messages"

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")

    assert_failure_is_visible(email_ticket, reply)
    assert reply.delivery_attempts == EAGER_MAX_ATTEMPTS == smtp_sink.handler.mail_attempts


def test_a_transient_failure_then_success_is_sent_once(
    smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks
):
    smtp_sink.handler.data_replies = ["421 4.3.0 Too busy, come back later"]

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Second time lucky.")

    assert reply.delivery_status == Message.DeliveryStatus.SENT
    assert reply.delivery_error == ""
    assert smtp_sink.handler.data_attempts == 2 and len(smtp_sink.messages) == 1
    assert not email_ticket.messages.filter(direction=Message.Direction.NOTE).exists()


def test_recipient_greylisted_with_451_is_retried(smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks):
    smtp_sink.refuse_recipient("ada@example.com", "451 4.7.1 Greylisted, please try again later")

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")

    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert reply.delivery_attempts == EAGER_MAX_ATTEMPTS


def test_a_refused_cc_is_visible_to_the_agent(smtp_sink, email_ticket, agent_user, django_capture_on_commit_callbacks):
    smtp_sink.refuse_recipient("old@example.com", "550 5.1.1 <old@example.com>: no such user")

    reply = reply_now(email_ticket, agent_user, django_capture_on_commit_callbacks, text="Hello", cc=["old@example.com"])

    assert smtp_sink.messages[0].rcpt_tos == ["ada@example.com"]  # the customer got it
    visible = reply.delivery_error + " ".join(email_ticket.messages.filter(direction=Message.Direction.NOTE).values_list("text", flat=True))
    assert "old@example.com" in visible
