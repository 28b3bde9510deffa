"""How the rest of Parley hands events to webhooks: one cheap call, batched per transaction.

``tickets.events._record`` calls :func:`ticket_event_on_commit` for every event it writes, and
the customer services call :func:`customer_updated_on_commit`. Both return at once when no
active endpoint subscribed to that event: the subscribed event names are kept per process
and re-checked against the shared cache at most every ``PARLEY_WEBHOOK_RECHECK_SECONDS``
(a change made in this process is seen at once), so ingestion pays a set lookup and no
SQL when nobody listens.

What is wanted is collected per transaction and written as delivery rows once it commits
(``services.deliveries_create``), then queued. A rollback drops the batch; an item from a
savepoint that rolled back is dropped when its ticket or message no longer exists. A
failure here is logged and never fails the change that was just committed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from tickets.webhooks import events as webhook_events

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, Any] = {"events": frozenset(), "checked_at": float("-inf"), "stale": True}

# The shared copy of the subscribed event names (every process reads it, the services
# delete it on every change). Reading it costs no SQL, so the hot path's query count does
# not depend on when a recheck falls due; the database is read only when it is missing.
CACHE_KEY = "webhooks:subscribed-events:v1"
CACHE_SECONDS = 3600


def _recheck_seconds() -> float:
    return float(getattr(settings, "PARLEY_WEBHOOK_RECHECK_SECONDS", 2.0))


def _load_subscribed_events() -> frozenset[str]:
    from tickets.webhooks.models import WebhookEndpoint

    lists = WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True)
    return frozenset(name for names in lists if isinstance(names, list) for name in names)


def _shared_subscribed_events() -> frozenset[str]:
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:  # the cache is down: the database answers
        logger.warning("webhook subscriptions not read from the cache", exc_info=True)
        return _load_subscribed_events()
    if cached is not None:
        return frozenset(cached)
    loaded = _load_subscribed_events()
    try:
        cache.set(CACHE_KEY, sorted(loaded), CACHE_SECONDS)
    except Exception:
        logger.warning("webhook subscriptions not written to the cache", exc_info=True)
    return loaded


def subscribed_events() -> frozenset[str]:
    """Event names some active endpoint wants: from this process's copy (re-checked every
    PARLEY_WEBHOOK_RECHECK_SECONDS against the shared cache), the database only when the
    cache has no copy (after a change, or when it expired)."""
    now = time.monotonic()
    if not _state["stale"] and now - _state["checked_at"] < _recheck_seconds():
        return _state["events"]
    _state["stale"] = False  # cleared before reading, so a change signalled meanwhile is not lost
    loaded = _shared_subscribed_events()
    with _lock:
        _state["events"], _state["checked_at"] = loaded, now
    return loaded


def is_wanted(event: str) -> bool:
    return event in subscribed_events()


def _forget() -> None:
    _state["stale"] = True
    try:
        cache.delete(CACHE_KEY)
    except Exception:
        logger.warning("webhook subscriptions cache not cleared", exc_info=True)


def subscriptions_changed() -> None:
    """An endpoint was added, edited, disabled or deleted: every process re-reads the
    subscriptions (this one at once, others within PARLEY_WEBHOOK_RECHECK_SECONDS), now
    and again once the change commits (a copy read before the commit missed it)."""
    _forget()
    if connection.in_atomic_block:
        transaction.on_commit(_forget)


# --- The per-transaction batch --------------------------------------------------------------


@dataclass
class PendingEvent:
    """One webhook event waiting for its transaction to commit (JSON-ready values only)."""

    event: str
    at: str
    ticket_id: int | None = None
    message_id: int | None = None
    customer_id: int | None = None
    kind: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class _Batch:
    def __init__(self) -> None:
        self.items: list[PendingEvent] = []

    def flush(self) -> None:
        from tickets.webhooks import services

        items, self.items = self.items, []
        if getattr(connection, "_parley_webhook_batch", None) is self:
            connection._parley_webhook_batch = None
        try:
            services.deliveries_create(pending=items)
        except Exception:
            logger.exception("webhook deliveries not created", extra={"events": len(items)})


def _pending_batch() -> _Batch | None:
    """This transaction's batch, if its flush is still registered (a rollback drops it)."""
    batch = getattr(connection, "_parley_webhook_batch", None)
    if batch is None or not connection.in_atomic_block:
        return None
    if any(func == batch.flush for _, func, _ in connection.run_on_commit):
        return batch
    return None


def _add(item: PendingEvent) -> None:
    batch = _pending_batch()
    if batch is None:
        batch = _Batch()
        batch.items.append(item)
        connection._parley_webhook_batch = batch
        transaction.on_commit(batch.flush)
        return
    batch.items.append(item)


def ticket_event_on_commit(event: Any) -> None:
    """Called by ``tickets.events._record`` with the TicketEvent it just wrote."""
    try:
        name = webhook_events.event_for_kind(event.kind)
        if name is None or not is_wanted(name):
            return
        _add(
            PendingEvent(
                event=name,
                at=(event.created_at or timezone.now()).isoformat(),
                ticket_id=event.ticket_id,
                message_id=event.message_id,
                kind=str(event.kind),
                data=dict(event.data or {}),
            )
        )
    except Exception:  # webhooks never break the change they describe
        logger.exception("webhook event not recorded", extra={"ticket_id": getattr(event, "ticket_id", None)})


def customer_updated_on_commit(*, customer_id: int, reason: str, changes: list[str] | None = None, **extra: Any) -> None:
    """Called by the customer services: ``reason`` is "updated", "merged" or "identity_moved";
    ``changes`` names the fields that changed; ``extra`` (JSON values) goes into the payload."""
    try:
        if not is_wanted(webhook_events.CUSTOMER_UPDATED):
            return
        _add(
            PendingEvent(
                event=webhook_events.CUSTOMER_UPDATED,
                at=timezone.now().isoformat(),
                customer_id=customer_id,
                data={"reason": reason, "changes": list(changes or []), **extra},
            )
        )
    except Exception:
        logger.exception("webhook event not recorded", extra={"customer_id": customer_id})
