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
from channels_inbox.exceptions import PermanentChannelError, TransientChannelError
from channels_inbox.models import Channel, InboundMessage
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
        transaction.on_commit(lambda: process_inbound.delay(inbound.pk))
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
        process_inbound.delay(inbound_id)
    if ids:
        logger.warning("requeued stale inbound messages", extra={"count": len(ids)})
    return len(ids)


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
