"""Celery tasks of the API app."""

from __future__ import annotations

from celery import shared_task

from tickets.api.idempotency import idempotency_records_prune


@shared_task(acks_late=True, time_limit=600)
def prune_idempotency_records() -> int:
    """Beat, hourly: Idempotency-Key answers are kept 24 hours."""
    return idempotency_records_prune()
