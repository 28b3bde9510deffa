"""Agent replies leave through the channel's adapter on a task, after commit, with visible failures."""

from __future__ import annotations

import pytest
from django.core import mail

from channels_inbox import services as inbound_services
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import message_add_note, message_reply

pytestmark = pytest.mark.django_db


def test_reply_is_sent_by_email_threaded_for_the_customer(email_ticket, agent_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=email_ticket, author=agent_user, text="Your refund is on its way.")

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT and reply.sent_at is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ada@example.com"]
    assert sent.subject == f"[#{email_ticket.number}] Re: Refund please"
    assert sent.extra_headers["In-Reply-To"] == "<root@example.com>"
    assert sent.extra_headers["Message-ID"] == f"<{reply.external_id}>"
    assert "support@parley.test" in sent.from_email
    email_ticket.refresh_from_db()
    assert email_ticket.first_response_at == reply.created_at
    assert email_ticket.status == Ticket.Status.OPEN


def test_reply_is_not_sent_before_the_transaction_commits(email_ticket, agent_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply = message_reply(ticket=email_ticket, author=agent_user, text="Soon.")
    assert mail.outbox == []
    assert Message.objects.get(pk=reply.pk).delivery_status == Message.DeliveryStatus.QUEUED
    assert callbacks  # the delivery task waits for the commit


def test_delivery_runs_once_even_if_the_task_runs_twice(email_ticket, agent_user, django_capture_on_commit_callbacks):
    from channels_inbox.tasks import deliver_message

    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=email_ticket, author=agent_user, text="Once.")
    deliver_message.delay(reply.pk)
    assert len(mail.outbox) == 1


def test_reply_can_set_the_status_and_first_response_is_kept(email_ticket, agent_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = message_reply(ticket=email_ticket, author=agent_user, text="One", status=Ticket.Status.PENDING)
        message_reply(ticket=email_ticket, author=agent_user, text="Two")
    email_ticket.refresh_from_db()
    assert email_ticket.status == Ticket.Status.PENDING
    assert email_ticket.first_response_at == first.created_at
    kinds = list(email_ticket.events.values_list("kind", flat=True))
    assert kinds.count("message_added") == 3 and "status_changed" in kinds


def test_unreachable_smtp_server_fails_after_retries_and_tells_the_agent(
    email_ticket, agent_user, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=email_ticket, author=agent_user, text="This will not arrive.")
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert "Connection" in reply.delivery_error or "refused" in reply.delivery_error.lower()
    assert reply.delivery_attempts >= 2  # retried before giving up
    note = email_ticket.messages.get(direction=Message.Direction.NOTE)
    assert note.text.startswith("Delivery of a reply failed")
    assert email_ticket.events.filter(kind=TicketEvent.Kind.DELIVERY_FAILED, message=reply).exists()


def test_reply_without_any_address_fails_permanently_at_once(email_channel, agent_user, django_capture_on_commit_callbacks):
    from tests.factories import TicketFactory

    ticket = TicketFactory(channel=email_channel)  # a customer with no email identity
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=ticket, author=agent_user, text="Hello?")
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.FAILED
    assert "no recipient" in reply.delivery_error
    assert reply.delivery_attempts == 1


def test_internal_note_is_never_sent(email_ticket, agent_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = message_add_note(ticket=email_ticket, author=agent_user, text="Customer is on the old plan")
    assert note.direction == Message.Direction.NOTE and note.delivery_status == ""
    assert mail.outbox == []


def test_reply_html_is_sanitized(email_ticket, agent_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=email_ticket, author=agent_user, text="", html='<p onclick="x()">Hi<script>alert(1)</script></p>')
    assert reply.html == "<p>Hi</p>"
    assert reply.text == "Hi"


def test_channel_from_name_signature_and_plus_addressed_reply_to(email_ticket, agent_user, django_capture_on_commit_callbacks):
    from channels_inbox.selectors import ticket_reply_token

    channel = email_ticket.channel
    channel.config = {"from_name": "Acme Support", "signature": "-- \nAcme Support\nhttps://acme.example", "plus_addressing": True}
    channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        message_reply(ticket=email_ticket, author=agent_user, text="Done.", html="<p>Done.</p>")
    sent = mail.outbox[0]
    assert sent.from_email == "Acme Support <support@parley.test>"
    assert sent.reply_to == [f"support+{ticket_reply_token(email_ticket.number)}@parley.test"]
    assert sent.body == "Done.\n\n-- \nAcme Support\nhttps://acme.example"
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html" and html.startswith("<p>Done.</p><p>-- <br>Acme Support")
    assert "Auto-Submitted" not in sent.extra_headers  # a person wrote it


def test_channel_reply_to_without_plus_addressing(email_ticket, agent_user, django_capture_on_commit_callbacks):
    email_ticket.channel.config = {"reply_to": "help@acme.example"}
    email_ticket.channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        message_reply(ticket=email_ticket, author=agent_user, text="Hi")
    assert mail.outbox[0].reply_to == ["help@acme.example"]


def test_replies_whose_delivery_task_was_lost_are_sent_by_the_sweep(db, email_ticket, agent_user, mailoutbox):
    import datetime as dt

    from django.utils import timezone

    from tickets.models import Message as Msg

    # Two replies stored while the broker was unreachable: their tasks never existed.
    old = Msg.objects.create(ticket=email_ticket, channel=email_ticket.channel, direction="outbound", author_kind="agent",
                             author_user=agent_user, text="Lost on the way", delivery_status="queued", to=["ada@example.com"],
                             created_at=timezone.now() - dt.timedelta(minutes=10), external_id="lost-1@parley.test")
    fresh = Msg.objects.create(ticket=email_ticket, channel=email_ticket.channel, direction="outbound", author_kind="agent",
                               author_user=agent_user, text="Just written", delivery_status="queued", to=["ada@example.com"],
                               created_at=timezone.now(), external_id="fresh-1@parley.test")
    # One whose retries were lost hours ago: a last attempt.
    retried = Msg.objects.create(ticket=email_ticket, channel=email_ticket.channel, direction="outbound", author_kind="agent",
                                 author_user=agent_user, text="Retried long ago", delivery_status="queued", delivery_attempts=3, to=["ada@example.com"],
                                 created_at=timezone.now() - dt.timedelta(hours=7), external_id="retried-1@parley.test")

    assert inbound_services.outbound_requeue_stale() == 2

    statuses = dict(Msg.objects.filter(pk__in=[old.pk, fresh.pk, retried.pk]).values_list("pk", "delivery_status"))
    assert statuses == {old.pk: "sent", fresh.pk: "queued", retried.pk: "sent"}
    assert sorted(m.extra_headers.get("Message-ID", "") for m in mailoutbox) == ["<lost-1@parley.test>", "<retried-1@parley.test>"]
    assert inbound_services.outbound_requeue_stale() == 0  # sent is sent: nothing twice
