"""Realtime fan-out of ticket changes over the Channels layer.

Services call ``publish_on_commit``; the event leaves only once the data it describes is
committed, and a failing channel layer is logged, never allowed to undo the change.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

INBOX_GROUP = "inbox"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def publish(kind: str, *, ticket_id: int, **data: Any) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "ticket.event", "kind": kind, "ticket_id": ticket_id, **data}
    try:
        for group in (INBOX_GROUP, ticket_group(ticket_id)):
            async_to_sync(layer.group_send)(group, event)
    except Exception:  # realtime is best effort; the data is already committed
        logger.warning("realtime publish failed", exc_info=True, extra={"kind": kind, "ticket_id": ticket_id})


def publish_on_commit(kind: str, *, ticket_id: int, **data: Any) -> None:
    transaction.on_commit(lambda: publish(kind, ticket_id=ticket_id, **data))
