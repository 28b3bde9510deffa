"""Writes of the channel layer: storing raw inbound payloads, processing, replaying, delivering."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels_inbox import pipeline
from channels_inbox.adapters import get_adapter
from channels_inbox.exceptions import PermanentChannelError, TransientChannelError, UnsupportedChannelKind
from channels_inbox.models import Channel, InboundMessage
from helpdesk.queueing import enqueue, enqueue_on_commit
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.models import Message

logger = logging.getLogger(__name__)


@transaction.atomic
def inbound_store(
    *,
    channel: Channel,
    raw: bytes | None = None,
    payload: Any = None,
    external_id: str = "",
    source: str = "",
    envelope_recipient: str = "",
    enqueue: bool = True,
) -> InboundMessage:
    """Store a raw payload durably; processing is queued only once it is committed.

    Receivers acknowledge their sender (250 OK, HTTP 200, the IMAP flag) only after this
    returns, so an accepted message is never only in memory.
    """
    from channels_inbox.tasks import process_inbound

    inbound = InboundMessage.objects.create(
        channel=channel,
        raw=raw,
        payload=payload,
        external_id=external_id[:255],
        source=source[:500],
        envelope_recipient=envelope_recipient.strip().lower()[:320],
    )
    if enqueue:
        enqueue_on_commit(process_inbound, inbound.pk)
    return inbound


def inbound_requeue_stale(*, older_than: dt.timedelta = dt.timedelta(minutes=5), limit: int = 1000) -> int:
    """Queue again the rows still "received" after ``older_than`` (their task was lost).

    Processing is idempotent and locks the row, so a row whose first task is merely slow
    is not processed twice.
    """
    from channels_inbox.tasks import process_inbound

    cutoff = timezone.now() - older_than
    ids = list(
        InboundMessage.objects.filter(status=InboundMessage.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for inbound_id in ids:
        enqueue(process_inbound, inbound_id)
    if ids:
        logger.warning("requeued stale inbound messages", extra={"count": len(ids)})
    return len(ids)


# A reply whose first delivery task never ran after this long was lost with the broker.
OUTBOUND_STALE_AFTER = dt.timedelta(minutes=5)
# Longer than the whole retry schedule of deliver_message (30 s doubling to 1 h, 8 retries):
# a reply still queued after that had its scheduled retry lost; it gets one final attempt.
OUTBOUND_GIVE_UP_AFTER = dt.timedelta(hours=6)


def outbound_requeue_stale(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Queue again the replies still "queued" whose delivery task was lost (the broker was
    down when it was queued, or restarted and forgot a scheduled retry). Delivery is
    idempotent under the message's row lock, so a merely slow task is harmless."""
    from channels_inbox.tasks import deliver_message, deliver_message_final

    now = now or timezone.now()
    queued = Message.objects.filter(direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.QUEUED)
    never_tried = list(
        queued.filter(delivery_attempts=0, created_at__lt=now - OUTBOUND_STALE_AFTER)
        .order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    overdue = list(
        queued.filter(delivery_attempts__gt=0, created_at__lt=now - OUTBOUND_GIVE_UP_AFTER)
        .order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    for message_id in never_tried:
        enqueue(deliver_message, message_id)
    for message_id in overdue:
        enqueue(deliver_message_final, message_id)
    if never_tried or overdue:
        logger.warning("requeued stale outbound messages", extra={"count": len(never_tried), "final": len(overdue)})
    return len(never_tried) + len(overdue)


def inbound_process(*, inbound_id: int) -> pipeline.Result:
    return pipeline.run(inbound_id)


def inbound_replay(*, inbound_ids: Iterable[int] | None = None) -> list[pipeline.Result]:
    """Run quarantined messages through the pipeline again (all of them, or the ones named)."""
    qs = InboundMessage.objects.filter(status=InboundMessage.Status.QUARANTINED)
    if inbound_ids is not None:
        qs = qs.filter(pk__in=list(inbound_ids))
    results = []
    for inbound_id in qs.order_by("pk").values_list("pk", flat=True):
        updated = InboundMessage.objects.filter(pk=inbound_id, status=InboundMessage.Status.QUARANTINED).update(
            status=InboundMessage.Status.RECEIVED
        )
        if updated:
            results.append(pipeline.run(inbound_id))
    return results


def message_deliver(*, message_id: int, final_attempt: bool) -> str:
    """Send one outbound message through its channel's adapter. Safe to run twice.

    Returns what happened ("sent", "skipped", "failed"); raises TransientChannelError
    for the task to retry unless this is the final attempt.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("ticket", "channel", "ticket__channel")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.direction != Message.Direction.OUTBOUND:
            return "skipped"
        if message.delivery_status in (Message.DeliveryStatus.SENT, Message.DeliveryStatus.DELIVERED, Message.DeliveryStatus.READ, Message.DeliveryStatus.FAILED):
            return "skipped"
        channel = message.channel or message.ticket.channel
        try:
            result = get_adapter(channel.kind).send(message)
        except TransientChannelError as exc:
            # Recorded and committed before the task schedules its retry.
            ticket_services.message_mark_failed(message_id=message.pk, error=str(exc), final=final_attempt)
            retry_error: TransientChannelError | None = None if final_attempt else exc
        except (PermanentChannelError, Exception) as exc:  # noqa: B014 - any other failure is final
            logger.warning("delivery failed", extra={"message_id": message.pk, "error": repr(exc)})
            ticket_services.message_mark_failed(message_id=message.pk, error=f"{type(exc).__name__}: {exc}", final=True)
            return "failed"
        else:
            ticket_services.message_mark_sent(message_id=message.pk, external_id=result.external_id, warning=result.detail)
            return "sent"
    if retry_error is not None:
        raise retry_error
    return "failed"


# --- Channel settings (the admin area, /manage/channels/) ------------------------------


def channel_settings_problems(
    *, kind: str, config: dict[str, Any], secrets: dict[str, Any], inbound_address: str | None
) -> dict[str, list[str]]:
    """What is wrong with a channel's settings, by field ("config", "inbound_address"), in
    words an admin understands; empty when they are fine.

    Email settings are checked by the email adapter's ``validate``; any other kind by its
    adapter's ``validate(config, secrets)`` when the adapter has one.
    """
    from channels_inbox.adapters import ADAPTERS
    from channels_inbox.adapters.email.config import validate as validate_email_config

    problems: dict[str, list[str]] = {}
    if kind not in Channel.Kind.values:
        return {"kind": [f"“{kind}” is not a channel kind."]}
    if not isinstance(config, dict):
        return {"config": ["The settings must be a JSON object."]}
    if kind == Channel.Kind.EMAIL:
        found = validate_email_config(config)
        if not inbound_address:
            problems["inbound_address"] = ["An email channel needs the address customers write to."]
    else:
        validate = getattr(ADAPTERS.get(kind), "validate", None)
        found = list(validate(config, secrets)) if callable(validate) else []
    if found:
        problems["config"] = found
    return problems


def _check_channel(channel: Channel) -> None:
    from django.core.exceptions import ValidationError

    problems = channel_settings_problems(
        kind=channel.kind, config=channel.config, secrets=dict(channel.secrets or {}), inbound_address=channel.inbound_address
    )
    if problems:
        raise ValidationError(problems)
    clash = Channel.objects.filter(inbound_address=channel.inbound_address).exclude(pk=channel.pk)
    if channel.inbound_address and clash.exists():
        raise ValidationError({"inbound_address": [f"{channel.inbound_address} already belongs to another channel."]})


def _save_channel(channel: Channel, *, update_fields: list[str] | None = None) -> Channel:
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError

    _check_channel(channel)
    try:
        with transaction.atomic():
            channel.save(update_fields=update_fields)
    except IntegrityError:
        raise ValidationError({"inbound_address": [f"{channel.inbound_address} already belongs to another channel."]}) from None
    return channel


@transaction.atomic
def channel_create(
    *,
    kind: str,
    name: str,
    is_active: bool = True,
    default_team: Any = None,
    inbound_address: str | None = None,
    config: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> Channel:
    """A new channel; its settings are checked by its kind's adapter before it is saved."""
    channel = Channel(
        kind=kind,
        name=" ".join(name.split()),
        is_active=is_active,
        default_team=default_team,
        inbound_address=(inbound_address or "").strip().lower() or None,
        config=config or {},
        secrets={k: v for k, v in (secrets or {}).items() if v not in ("", None)},
    )
    return _save_channel(channel)


@transaction.atomic
def channel_update(
    *,
    channel: Channel,
    name: str,
    is_active: bool,
    default_team: Any = None,
    inbound_address: str | None = None,
    config: dict[str, Any] | None = None,
    secrets_set: dict[str, Any] | None = None,
    secrets_clear: Iterable[str] = (),
) -> Channel:
    """Change a channel's settings. Secrets are write-only: only the names in
    ``secrets_set`` (new values) and ``secrets_clear`` change, every other stored secret is
    kept, and the secrets column is not written at all when nothing in it changed."""
    channel.name = " ".join(name.split())
    channel.is_active = is_active
    channel.default_team = default_team
    channel.inbound_address = (inbound_address or "").strip().lower() or None
    if config is not None:
        channel.config = config
    update_fields = ["name", "is_active", "default_team", "inbound_address", "config"]
    secrets_set = {k: v for k, v in (secrets_set or {}).items() if v not in ("", None)}
    secrets_clear = [k for k in secrets_clear if k not in secrets_set]
    if secrets_set or secrets_clear:
        secrets = dict(channel.secrets or {})
        for key in secrets_clear:
            secrets.pop(key, None)
        secrets.update(secrets_set)
        channel.secrets = secrets
        update_fields.append("secrets")
    return _save_channel(channel, update_fields=update_fields)


def attachment_download(*, attachment_id: int, final_attempt: bool = True) -> str:
    """Download one attachment's media from its platform and store it (or record it oversize).

    The network call happens outside any transaction; storing locks the row, so two runs
    store it once. A permanent failure (the platform no longer has the file) is logged and
    the attachment stays listed by name with its remote reference. Raises
    TransientChannelError for the task to retry.
    """
    from django.conf import settings

    attachment = ticket_selectors.attachment_for_download(attachment_id=attachment_id)
    if attachment is None or attachment.file or attachment.is_oversize or not attachment.remote_url:
        return "skipped"
    channel = attachment.message.channel or attachment.message.ticket.channel
    adapter = get_adapter(channel.kind)
    try:
        media = adapter.fetch_media(channel, attachment.remote_url, max_bytes=settings.PARLEY_MAX_ATTACHMENT_BYTES)
    except TransientChannelError:
        if not final_attempt:
            raise
        logger.warning("media download gave up", extra={"attachment_id": attachment_id})
        return "failed"
    except (PermanentChannelError, UnsupportedChannelKind, AttributeError) as exc:
        logger.warning("media download failed", extra={"attachment_id": attachment_id, "error": repr(exc)})
        return "failed"
    ticket_services.attachment_store_download(
        attachment_id=attachment_id,
        data=media.data,
        size=media.size,
        content_type=media.content_type,
        filename=media.filename,
    )
    return "oversize" if media.data is None else "stored"


def channel_test_connection(*, channel: Channel) -> str:
    """Ask the platform who we are with the channel's credentials: a line for the admin, or a ChannelError."""
    adapter = get_adapter(channel.kind)
    test = getattr(adapter, "test_connection", None)
    if test is None:
        raise UnsupportedChannelKind(f"{channel.get_kind_display()} channels have no connection test")
    return test(channel)
