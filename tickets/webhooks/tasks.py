"""Celery entry points of webhooks: they take ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from tickets.webhooks import services

# Retries further ahead than this are left to the beat sweep rather than held by a worker
# as an ETA task: Redis hands unacknowledged tasks out again after its visibility timeout.
MAX_COUNTDOWN_SECONDS = 3000


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
    time_limit=120,
    soft_time_limit=100,
)
def deliver_webhook(self, delivery_pk: int) -> str:
    """One attempt at one delivery, then the next one planned. Safe to run twice: a
    delivery that succeeded, is not due yet, or is being sent by another worker is left."""
    outcome = services.delivery_attempt(delivery_pk=delivery_pk)
    if outcome.retry_in is None:
        return outcome.reason or outcome.status
    if self.request.is_eager or self.app.conf.task_always_eager:
        # In-process (embedded mode, tests) nothing can wait: a retry due now runs now,
        # a later one is picked up by deliveries_requeue_due.
        if outcome.retry_in <= 0:
            return deliver_webhook.apply(args=(delivery_pk,)).get()
        return "retry later"
    if outcome.retry_in <= MAX_COUNTDOWN_SECONDS:
        deliver_webhook.apply_async((delivery_pk,), countdown=outcome.retry_in)
    return "retry planned"


@shared_task(acks_late=True, time_limit=120)
def requeue_due_webhook_deliveries() -> int:
    """Beat, every minute: retries that are due and whose task is not coming."""
    return services.deliveries_requeue_due(grace_seconds=float(settings.PARLEY_WEBHOOK_SWEEP_GRACE_SECONDS))


@shared_task(acks_late=True, time_limit=600)
def prune_webhook_deliveries() -> int:
    """Beat, daily: the delivery log keeps PARLEY_WEBHOOK_LOG_DAYS of finished deliveries."""
    return services.deliveries_prune(older_than_days=float(settings.PARLEY_WEBHOOK_LOG_DAYS))
