"""Celery entry points of the channel layer: they take ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from channels_inbox import services
from channels_inbox.exceptions import TransientChannelError


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
    time_limit=120,
    soft_time_limit=100,
)
def process_inbound(inbound_id: int) -> str:
    """Run the pipeline on one stored inbound message (idempotent: a finished row is skipped)."""
    return services.inbound_process(inbound_id=inbound_id).outcome


# In-process (embedded mode) there is no worker to come back later: a few immediate
# attempts, then the failure is recorded for the agent.
EAGER_MAX_ATTEMPTS = 3


@shared_task(bind=True, acks_late=True, max_retries=8, time_limit=120, soft_time_limit=100)
def deliver_message(self, message_id: int) -> str:
    """Send one outbound message; transient failures retry with exponential backoff."""
    eager = bool(self.request.is_eager)
    final = self.request.retries >= (EAGER_MAX_ATTEMPTS - 1 if eager else self.max_retries)
    try:
        return services.message_deliver(message_id=message_id, final_attempt=final)
    except TransientChannelError as exc:
        if eager:
            return self.retry(exc=exc, countdown=0, throw=False)
        countdown = exc.retry_after or min(30 * 2**self.request.retries, 3600)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(acks_late=True, time_limit=120)
def requeue_stale_inbound() -> int:
    """Beat, every few minutes: no stored message waits forever for a lost task."""
    return services.inbound_requeue_stale()
