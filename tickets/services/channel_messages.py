"""Writes the social and messaging channels need: rich messages (structured content,
media fetched later), edits, deletions and delivery receipts from the platforms,
approved-template replies, and linking a new platform identity to a customer by verified data.

Called by channels_inbox's pipeline and tasks; the platforms' wire formats stay there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.models import Attachment, Customer, CustomerIdentity, Message, Ticket
from tickets.realtime import publish_on_commit
from tickets.services.customers import customer_identify, normalise_address
from tickets.services.messages import IncomingFile, message_receive, message_reply

if TYPE_CHECKING:
    from channels_inbox.models import Channel

logger = logging.getLogger(__name__)

# Identity kinds whose address is a phone number: a verified number on one links the others.
PHONE_KINDS = (CustomerIdentity.Kind.PHONE, CustomerIdentity.Kind.WHATSAPP)
# Delivery receipts only move forward: a late "delivered" never undoes "read".
_DELIVERY_RANK = {
    Message.DeliveryStatus.QUEUED: 0,
    Message.DeliveryStatus.SENT: 1,
    Message.DeliveryStatus.DELIVERED: 2,
    Message.DeliveryStatus.READ: 3,
}


def _verified_owner(contacts: Sequence[tuple[str, str]]) -> Customer | None:
    """The one customer holding a verified identity with one of these addresses (phone
    numbers match across SMS and WhatsApp); none when two different customers do."""
    owners: set[int] = set()
    for kind, address in contacts:
        kinds = PHONE_KINDS if kind in PHONE_KINDS else (kind,)
        normalised = normalise_address(kind, address)
        owners.update(
            CustomerIdentity.objects.filter(kind__in=kinds, address=normalised, is_verified=True).values_list(
                "customer_id", flat=True
            )
        )
    if len(owners) != 1:
        return None
    customer = Customer.objects.get(pk=owners.pop())
    while customer.merged_into_id:
        customer = Customer.objects.get(pk=customer.merged_into_id)
    return customer


@transaction.atomic(savepoint=False)
def customer_identify_linked(
    *,
    kind: str,
    address: str,
    display_name: str = "",
    is_verified: bool = False,
    verified_contacts: Sequence[tuple[str, str]] = (),
) -> Customer:
    """``customer_identify``, plus automatic linking on verified data only.

    A first message from a new platform identity joins the existing customer who holds a
    *verified* identity with one of ``verified_contacts`` (the platform vouches for them:
    WhatsApp's number, a phone number Telegram confirms is the user's own). Unverified
    data (a name, a number typed into a message) never links anyone; agents merge by hand.
    The verified contacts are recorded on the customer so the next channel can link too;
    one already held by another customer is left there (no automatic merge).
    """
    normalised = normalise_address(kind, address)
    if verified_contacts and not CustomerIdentity.objects.filter(kind=kind, address=normalised).exists():
        owner = _verified_owner(verified_contacts)
        if owner is not None:
            try:
                with transaction.atomic():
                    CustomerIdentity.objects.create(
                        customer=owner, kind=kind, address=normalised, display_name=display_name[:200], is_verified=is_verified
                    )
            except IntegrityError:
                pass  # a parallel delivery created it; customer_identify finds it
    customer = customer_identify(kind=kind, address=address, display_name=display_name, is_verified=is_verified)
    for contact_kind, contact_address in verified_contacts:
        contact_address = normalise_address(contact_kind, contact_address)
        if not contact_address or (contact_kind == kind and contact_address == normalised):
            continue
        existing = CustomerIdentity.objects.filter(kind=contact_kind, address=contact_address).first()
        if existing is None:
            try:
                with transaction.atomic():
                    CustomerIdentity.objects.create(
                        customer=customer, kind=contact_kind, address=contact_address, is_verified=True
                    )
            except IntegrityError:
                pass
        elif existing.customer_id == customer.pk and not existing.is_verified:
            CustomerIdentity.objects.filter(pk=existing.pk).update(is_verified=True)
    return customer


@transaction.atomic(savepoint=False)
def message_receive_rich(
    *,
    content: dict[str, Any] | None = None,
    attachments: Sequence[IncomingFile] = (),
    **fields: Any,
) -> Message:
    """``message_receive`` for channels that send structured content and media by reference.

    Files with a ``remote_url`` are recorded without data; the caller queues their download
    (``attachment_store_download`` fills them in). Raises DuplicateMessage like message_receive.
    """
    local = [a for a in attachments if not getattr(a, "remote_url", "")]
    remote = [a for a in attachments if getattr(a, "remote_url", "")]
    message = message_receive(attachments=local, **fields)
    for incoming in remote:
        Attachment.objects.create(
            message=message,
            filename=(incoming.filename or "attachment")[:255],
            size=incoming.size or 0,
            content_type=(incoming.content_type or "application/octet-stream")[:255],
            remote_url=incoming.remote_url[:2048],
        )
    if content:
        Message.objects.filter(pk=message.pk).update(content=content)
        message.content = content
    return message


@transaction.atomic(savepoint=False)
def attachment_store_download(
    *, attachment_id: int, data: bytes | None, size: int, content_type: str = "", filename: str = ""
) -> Attachment | None:
    """Store media a task downloaded, content-addressed like every attachment; ``data`` None
    (over the limit) records it as oversize, as email does. Safe to run twice: an
    attachment already stored (or recorded oversize) is left alone."""
    attachment = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
    if attachment is None or attachment.file or attachment.is_oversize:
        return attachment
    attachment.size = size
    if content_type and attachment.content_type in ("", "application/octet-stream"):
        attachment.content_type = content_type[:255]
    if filename:
        attachment.filename = filename[:255]
    if data is None or size > settings.PARLEY_MAX_ATTACHMENT_BYTES:
        attachment.is_oversize = True
    else:
        attachment.sha256 = hashlib.sha256(data).hexdigest()
        name = Attachment.file.field.upload_to(attachment, attachment.filename)
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(data))
        attachment.file.name = name
    attachment.save(update_fields=["size", "content_type", "filename", "is_oversize", "sha256", "file"])
    ticket_id = Message.objects.filter(pk=attachment.message_id).values_list("ticket_id", flat=True).first()
    publish_on_commit("message.updated", ticket_id=ticket_id, message_id=attachment.message_id)
    return attachment


def _own_message(channel: Channel, external_id: str, direction: str) -> Message | None:
    if not external_id:
        return None
    return (
        Message.objects.select_for_update(of=("self",))
        .filter(channel=channel, external_id=external_id[:512], direction=direction)
        .first()
    )


@transaction.atomic(savepoint=False)
def message_record_edit(*, channel: Channel, external_id: str, text: str, edited_at: dt.datetime | None = None) -> Message | None:
    """The customer edited a message on their platform. The text shown becomes the new one;
    every earlier version stays in ``content["edits"]`` (oldest first) with when it changed.
    None when we never received that message."""
    message = _own_message(channel, external_id, Message.Direction.INBOUND)
    if message is None:
        return None
    at = edited_at or timezone.now()
    if text == message.text:
        return message  # a redelivered edit
    content = dict(message.content or {})
    content["edits"] = [*content.get("edits", []), {"previous_text": message.text, "edited_at": at.isoformat()}]
    message.text, message.content, message.edited_at = text, content, at
    message.save(update_fields=["text", "content", "edited_at"])
    publish_on_commit("message.updated", ticket_id=message.ticket_id, message_id=message.pk)
    return message


@transaction.atomic(savepoint=False)
def message_record_deletion(*, channel: Channel, external_id: str, deleted_at: dt.datetime | None = None) -> Message | None:
    """The customer deleted a message on their platform: marked, its text kept for the record."""
    message = _own_message(channel, external_id, Message.Direction.INBOUND)
    if message is None or message.deleted_at is not None:
        return message
    message.deleted_at = deleted_at or timezone.now()
    message.save(update_fields=["deleted_at"])
    publish_on_commit("message.updated", ticket_id=message.ticket_id, message_id=message.pk)
    return message


@transaction.atomic(savepoint=False)
def message_record_delivery(*, channel: Channel, external_id: str, status: str, error: str = "") -> Message | None:
    """A platform's receipt for one of our messages: delivered, read, or failed after all.

    Receipts arrive out of order and more than once; the status only moves forward. A
    failure reported after sending (WhatsApp's "failed" status) is recorded like a failed
    delivery, with a note the agent sees.
    """
    from tickets.services.messages import message_mark_failed

    message = _own_message(channel, external_id, Message.Direction.OUTBOUND)
    if message is None:
        return None
    if status == Message.DeliveryStatus.FAILED:
        if message.delivery_status != Message.DeliveryStatus.FAILED:
            message_mark_failed(message_id=message.pk, error=error or "the platform reported the message as not delivered", final=True)
            publish_on_commit("message.updated", ticket_id=message.ticket_id, message_id=message.pk)
        return message
    if status not in _DELIVERY_RANK or message.delivery_status == Message.DeliveryStatus.FAILED:
        return message
    if _DELIVERY_RANK[status] > _DELIVERY_RANK.get(message.delivery_status, -1):
        message.delivery_status = status
        message.save(update_fields=["delivery_status"])
        publish_on_commit("message.updated", ticket_id=message.ticket_id, message_id=message.pk)
    return message


@transaction.atomic(savepoint=False)
def message_record_delivery_upto(*, channel: Channel, thread_key: str, status: str, upto: dt.datetime) -> int:
    """A watermark receipt: every message of ours sent on this conversation at or before
    ``upto`` was delivered (or read). Messenger sends these instead of per-message ids for
    all but the newest message. Statuses only move forward; failed ones stay failed.
    Returns how many messages moved."""
    if status not in _DELIVERY_RANK or not thread_key:
        return 0
    behind = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[status]]
    moved = list(
        Message.objects.filter(
            ticket__channel=channel, ticket__thread_key=thread_key, direction=Message.Direction.OUTBOUND,
            sent_at__lte=upto, delivery_status__in=behind,
        ).values_list("pk", "ticket_id")
    )
    if moved:
        Message.objects.filter(pk__in=[pk for pk, _ in moved]).update(delivery_status=status)
        for pk, ticket_id in moved:
            publish_on_commit("message.updated", ticket_id=ticket_id, message_id=pk)
    return len(moved)


@transaction.atomic(savepoint=False)
def message_send_template(
    *, ticket: Ticket, author: Any, name: str, language: str, parameters: Sequence[str] = ()
) -> Message:
    """Reply with a platform-approved message template (WhatsApp outside the 24-hour
    customer-service window). Sent like any reply; ``content["template"]`` tells the adapter."""
    name, language = name.strip(), language.strip() or "en_US"
    params = [str(p) for p in parameters]
    summary = f"[Template {name} ({language})]" + (f" {', '.join(params)}" if params else "")
    message = message_reply(ticket=ticket, author=author, text=summary)
    content = {"template": {"name": name, "language": language, "parameters": params}}
    Message.objects.filter(pk=message.pk).update(content=content)
    message.content = content
    return message
