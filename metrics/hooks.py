"""The incremental path: every TicketEvent write asks for its ticket's row to be refreshed.

tickets.events._record calls :func:`refresh_on_commit`. Ticket ids are collected per
transaction and the task is queued once per ticket when it commits: a reply writes three
or four events, one refresh covers them all. Nothing is queued when the transaction rolls
back. Under CELERY_TASK_ALWAYS_EAGER (embedded mode, tests) the task runs in-process right
after the commit; docs/metrics.md has the cost measured on bench/ingest_email.py.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

logger = logging.getLogger(__name__)


class _Batch:
    """The ticket ids of one transaction, flushed once on commit."""

    def __init__(self) -> None:
        self.ticket_ids: set[int] = set()

    def flush(self) -> None:
        from metrics.tasks import refresh_ticket_metrics

        ids, self.ticket_ids = sorted(self.ticket_ids), set()
        for ticket_id in ids:
            # Measurements are derived data: a failure here (a broker outage, a bug in
            # the computation running eagerly) must never fail the change that was just
            # committed. The row is rebuilt by the next event or by recompute_metrics.
            try:
                refresh_ticket_metrics.delay(ticket_id)
            except Exception:
                logger.exception("metrics refresh not queued", extra={"ticket_id": ticket_id})


def _pending_batch() -> _Batch | None:
    """This transaction's batch, if its flush is still registered (a rollback drops it)."""
    batch = getattr(connection, "_parley_metrics_batch", None)
    if batch is None or not connection.in_atomic_block:
        return None
    if any(func == batch.flush for _, func, _ in connection.run_on_commit):
        return batch
    return None


def refresh_on_commit(ticket_id: int) -> None:
    """Queue ``metrics.tasks.refresh_ticket_metrics`` for this ticket once this transaction commits."""
    batch = _pending_batch()
    if batch is None:
        batch = _Batch()
        batch.ticket_ids.add(ticket_id)
        connection._parley_metrics_batch = batch
        transaction.on_commit(batch.flush)
        return
    batch.ticket_ids.add(ticket_id)
