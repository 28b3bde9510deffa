"""Celery entry points of metrics. Each calls a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def refresh_ticket_metrics(ticket_id: int) -> bool:
    """Recompute one ticket's measurements; idempotent (it replays the whole event log),
    so a duplicate or late delivery is harmless. Queued once per ticket per transaction
    by tickets.events."""
    from metrics.services import ticket_metrics_refresh

    return ticket_metrics_refresh(ticket_id=ticket_id) is not None


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def refresh_rollups() -> dict[str, int]:
    """Rebuild the daily rollups of every day marked dirty (run by beat, every minute by
    default). Idempotent: a day is deleted and rebuilt from TicketMetrics and surveys."""
    from metrics.services import rollups_refresh

    return rollups_refresh()
