"""Messages: receive, reply, note, delivery status, automatic answers."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpdesk.queueing import enqueue_on_commit
from tickets import events
from tickets.events import SYSTEM, Actor
from tickets.exceptions import DuplicateMessage
from tickets.models import Attachment, Customer, CustomerIdentity, Message, Ticket
from tickets.realtime import publish_on_commit
from tickets.services.tickets import _set_status

if TYPE_CHECKING:
    from channels_inbox.models import Channel

logger = logging.getLogger(__name__)


class IncomingFile(Protocol):
    """What message services need of an attachment (an adapter's EnvelopeAttachment fits)."""

    filename: str
    content_type: str
    size: int
    data: bytes | None
    content_id: str
    is_inline: bool


# --- Messages ----------------------------------------------------------------------


def _store_attachments(message: Message, files: Sequence[IncomingFile]) -> None:
    """Store files content-addressed (no sender-controlled paths, identical files stored once)."""
    for incoming in files:
        attachment = Attachment(
            message=message,
            filename=incoming.filename[:255],
            size=incoming.size,
            content_type=(incoming.content_type or "application/octet-stream")[:255],
            content_id=(incoming.content_id or "")[:255],
            is_inline=incoming.is_inline,
        )
        if incoming.data is None or incoming.size > settings.PARLEY_MAX_ATTACHMENT_BYTES:
            attachment.is_oversize = True
        else:
            attachment.sha256 = hashlib.sha256(incoming.data).hexdigest()
            name = Attachment.file.field.upload_to(attachment, incoming.filename)
            if not default_storage.exists(name):
                name = default_storage.save(name, ContentFile(incoming.data))
            attachment.file.name = name
        attachment.save()


@transaction.atomic(savepoint=False)
def message_receive(
    *,
    ticket: Ticket,
    channel: Channel,
    customer: Customer,
    external_id: str | None,
    subject: str = "",
    text: str = "",
    html: str = "",
    in_reply_to: str = "",
    references: Sequence[str] = (),
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    attachments: Sequence[IncomingFile] = (),
    is_auto_reply: bool = False,
    inbound_id: int | None = None,
) -> Message:
    """Append a customer's message to a ticket and move the ticket as a reply should.

    A waiting ticket (pending, on hold) opens again; a solved one is reopened and the
    reopening counted; an automatic reply changes nothing but the timeline. Raises
    DuplicateMessage when the channel already holds this external id.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                ticket=ticket,
                channel=channel,
                direction=Message.Direction.INBOUND,
                author_kind=Message.AuthorKind.CUSTOMER,
                author_customer=customer,
                subject=subject[:500],
                text=text,
                html=html,
                external_id=external_id[:512] if external_id else None,
                in_reply_to=in_reply_to[:512],
                references=" ".join(references),
                to=list(to),
                cc=list(cc),
                is_auto_reply=is_auto_reply,
                inbound_id=inbound_id,
                created_at=now,
            )
    except IntegrityError:
        existing = Message.objects.filter(channel=channel, external_id=external_id).values_list("pk", flat=True).first()
        raise DuplicateMessage(existing) from None
    _store_attachments(message, attachments)

    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    actor = Actor.of_customer(customer)
    fields = ["updated_at"]
    if not is_auto_reply:
        ticket.last_customer_activity_at = now
        fields.append("last_customer_activity_at")
        if ticket.status in (Ticket.Status.PENDING, Ticket.Status.ON_HOLD, Ticket.Status.SOLVED):
            fields += _set_status(ticket, Ticket.Status.OPEN, actor=actor, now=now)
    ticket.updated_at = now
    ticket.save(update_fields=list(dict.fromkeys(fields)))
    events.message_added(ticket, message, actor=actor)
    publish_on_commit("message.created", ticket_id=ticket.pk, message_id=message.pk)
    return message


def _email_message_id(ticket: Ticket) -> str:
    domain = (ticket.channel.inbound_address or settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or "parley.localhost"
    return f"parley.{ticket.number}.{uuid.uuid4().hex}@{domain}"


def _reply_recipient(ticket: Ticket) -> list[str]:
    last_inbound = ticket.messages.filter(direction=Message.Direction.INBOUND).select_related("author_customer").last()
    if last_inbound is not None and last_inbound.author_customer_id:
        identity = last_inbound.author_customer.identities.filter(kind=CustomerIdentity.Kind.EMAIL).first()
        if identity:
            return [identity.address]
    identity = ticket.customer.identities.filter(kind=CustomerIdentity.Kind.EMAIL).first()
    return [identity.address] if identity else []


@transaction.atomic(savepoint=False)
def message_reply(
    *,
    ticket: Ticket,
    author: Any,
    text: str,
    html: str = "",
    to: Sequence[str] | None = None,
    cc: Sequence[str] = (),
    status: str | None = None,
    attachments: Sequence[IncomingFile] = (),
) -> Message:
    """An agent's public reply: stored as queued, sent to the customer on a Celery task after commit."""
    from channels_inbox.tasks import deliver_message  # the outbound half of the spine

    from helpdesk.html import html_to_text, sanitize_html

    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("channel").get(pk=ticket.pk)
    now = timezone.now()
    html = sanitize_html(html)
    text = text or html_to_text(html)
    is_email = ticket.channel.kind == "email"
    last_inbound = ticket.messages.filter(direction=Message.Direction.INBOUND).exclude(external_id=None).last()
    references = (last_inbound.references.split() if last_inbound else []) + (
        [last_inbound.external_id] if last_inbound and is_email else []
    )
    subject = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
    message = Message.objects.create(
        ticket=ticket,
        channel=ticket.channel,
        direction=Message.Direction.OUTBOUND,
        author_kind=Message.AuthorKind.AGENT,
        author_user=author,
        subject=f"[#{ticket.number}] {subject}"[:500] if is_email else "",
        text=text,
        html=html,
        external_id=_email_message_id(ticket) if is_email else None,
        in_reply_to=(last_inbound.external_id or "") if last_inbound and is_email else "",
        references=" ".join(references[-20:]),
        to=list(to) if to is not None else _reply_recipient(ticket),
        cc=list(cc),
        delivery_status=Message.DeliveryStatus.QUEUED,
        created_at=now,
    )
    _store_attachments(message, attachments)
    actor = Actor.agent(author)
    fields = ["updated_at", "last_agent_activity_at"]
    ticket.last_agent_activity_at = now
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        fields.append("first_response_at")
    target = status or (Ticket.Status.OPEN if ticket.status == Ticket.Status.NEW else None)
    if target:
        fields += _set_status(ticket, target, actor=actor, now=now)
    ticket.updated_at = now
    ticket.save(update_fields=list(dict.fromkeys(fields)))
    events.message_added(ticket, message, actor=actor)
    enqueue_on_commit(deliver_message, message.pk)
    publish_on_commit("message.created", ticket_id=ticket.pk, message_id=message.pk)
    # Routing hook (issue 5): a reply meets the first/next-response SLA targets.
    from tickets.services.tickets import _routing_after_change

    _routing_after_change(ticket, changed=["reply"], actor=actor)
    return message


@transaction.atomic(savepoint=False)
def message_add_note(
    *, ticket: Ticket, author: Any, text: str, html: str = "", attachments: Sequence[IncomingFile] = ()
) -> Message:
    """An internal note: seen by agents only, never sent."""
    from helpdesk.html import html_to_text, sanitize_html

    html = sanitize_html(html)
    message = Message.objects.create(
        ticket=ticket,
        direction=Message.Direction.NOTE,
        author_kind=Message.AuthorKind.AGENT if author is not None else Message.AuthorKind.SYSTEM,
        author_user=author,
        text=text or html_to_text(html),
        html=html,
        created_at=timezone.now(),
    )
    _store_attachments(message, attachments)
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=message.created_at)
    events.message_added(ticket, message, actor=Actor.agent(author) if author is not None else SYSTEM)
    publish_on_commit("message.created", ticket_id=ticket.pk, message_id=message.pk)
    return message


@transaction.atomic(savepoint=False)
def message_mark_sent(*, message_id: int, external_id: str = "", warning: str = "") -> None:
    """Record a sent message; a ``warning`` (some recipients refused) is shown on it and noted."""
    updates: dict[str, Any] = {
        "delivery_status": Message.DeliveryStatus.SENT,
        "sent_at": timezone.now(),
        "delivery_error": warning[:2000],
    }
    if external_id:
        updates["external_id"] = external_id[:512]
    Message.objects.filter(pk=message_id).update(**updates)
    if warning:
        message = Message.objects.select_related("ticket").get(pk=message_id)
        message_add_note(
            ticket=message.ticket, author=None, text=f"A reply was sent, but not to everyone. {warning[:500]}"
        )


@transaction.atomic(savepoint=False)
def message_mark_failed(*, message_id: int, error: str, final: bool) -> None:
    """Record a failed send; the final failure also leaves a note the agent sees on the ticket."""
    message = Message.objects.select_for_update(of=("self",)).select_related("ticket").get(pk=message_id)
    message.delivery_error = error[:2000]
    message.delivery_attempts += 1
    fields = ["delivery_error", "delivery_attempts"]
    if final:
        message.delivery_status = Message.DeliveryStatus.FAILED
        fields.append("delivery_status")
    message.save(update_fields=fields)
    if final:
        events.delivery_failed(message.ticket, message, error=error)
        message_add_note(ticket=message.ticket, author=None, text=f"Delivery of a reply failed: {error[:500]}")


@transaction.atomic(savepoint=False)
def message_mark_bounced(*, message_id: int, reason: str) -> bool:
    """A delivery status notification came back for one of our messages: it did not arrive.

    Returns False when the message is not one of our outbound ones or is already failed.
    """
    message = Message.objects.select_for_update(of=("self",)).select_related("ticket").filter(pk=message_id).first()
    if (
        message is None
        or message.direction != Message.Direction.OUTBOUND
        or message.delivery_status == Message.DeliveryStatus.FAILED
    ):
        return False
    error = f"Bounced: {reason}".strip()[:2000]
    message.delivery_status = Message.DeliveryStatus.FAILED
    message.delivery_error = error
    message.save(update_fields=["delivery_status", "delivery_error"])
    events.delivery_failed(message.ticket, message, error=error)
    message_add_note(
        ticket=message.ticket, author=None, text=f"A reply bounced and did not reach the customer. {error[:500]}"
    )
    publish_on_commit("message.updated", ticket_id=message.ticket_id, message_id=message.pk)
    return True


@transaction.atomic(savepoint=False)
def message_send_automatic(*, ticket: Ticket, subject: str, text: str) -> Message:
    """An automatic message to the customer (an acknowledgement), sent like a reply but by
    the system: it is not a first response and does not change the ticket's status."""
    from channels_inbox.tasks import deliver_message

    ticket = Ticket.objects.select_related("channel", "customer").get(pk=ticket.pk)
    is_email = ticket.channel.kind == "email"
    last_inbound = ticket.messages.filter(direction=Message.Direction.INBOUND).exclude(external_id=None).last()
    message = Message.objects.create(
        ticket=ticket,
        channel=ticket.channel,
        direction=Message.Direction.OUTBOUND,
        author_kind=Message.AuthorKind.SYSTEM,
        subject=subject[:500],
        text=text,
        external_id=_email_message_id(ticket) if is_email else None,
        in_reply_to=(last_inbound.external_id or "") if last_inbound and is_email else "",
        references=(last_inbound.external_id or "") if last_inbound and is_email else "",
        to=_reply_recipient(ticket),
        delivery_status=Message.DeliveryStatus.QUEUED,
        is_auto_reply=True,
        created_at=timezone.now(),
    )
    events.message_added(ticket, message, actor=SYSTEM)
    enqueue_on_commit(deliver_message, message.pk)
    publish_on_commit("message.created", ticket_id=ticket.pk, message_id=message.pk)
    return message
