"""Celery entry points of the channel layer: they take ids and call a service."""

from __future__ import annotations

import uuid

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from channels_inbox import imap, services
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
        raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries)) from exc


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def deliver_message_final(message_id: int) -> str:
    """One last attempt for a reply whose retries were lost; a failure now is final."""
    try:
        return services.message_deliver(message_id=message_id, final_attempt=True)
    except TransientChannelError:
        return "failed"


@shared_task(acks_late=True, time_limit=120)
def requeue_stale_outbound() -> int:
    """Beat: replies whose delivery task was lost are queued again."""
    return services.outbound_requeue_stale()


def retry_countdown(exc: TransientChannelError, retries: int) -> float:
    """Seconds before the next attempt: what the platform asked for (429 Retry-After), else
    exponential backoff (30 s, 1 min, 2 min ... at most an hour)."""
    backoff = min(30 * 2**retries, 3600)
    return exc.retry_after if exc.retry_after is not None else backoff


@shared_task(bind=True, acks_late=True, max_retries=6, time_limit=300, soft_time_limit=270)
def download_attachment(self, attachment_id: int) -> str:
    """Fetch one media file a platform keeps for us, with the channel's credentials; over
    the size limit it is recorded as oversize. Transient failures retry with backoff."""
    try:
        return services.attachment_download(attachment_id=attachment_id, final_attempt=self.request.retries >= self.max_retries)
    except TransientChannelError as exc:
        if self.request.is_eager:
            if self.request.retries >= EAGER_MAX_ATTEMPTS - 1:
                return "failed"
            return self.retry(exc=exc, countdown=0, throw=False)
        raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries)) from exc


@shared_task(acks_late=True, time_limit=120)
def requeue_stale_inbound() -> int:
    """Beat, every few minutes: no stored message waits forever for a lost task."""
    return services.inbound_requeue_stale()


# --- IMAP ---------------------------------------------------------------------------------

# A poll is stopped after IMAP_POLL_TIME_LIMIT; its lock outlives that, so two polls of
# one mailbox never overlap, and a worker killed mid-poll blocks the mailbox no longer.
IMAP_POLL_TIME_LIMIT = 300
IMAP_POLL_LOCK_SECONDS = IMAP_POLL_TIME_LIMIT + 30
# A poll still queued after this long (workers were down) is dropped: beat queues a fresh one.
IMAP_POLL_EXPIRES_SECONDS = 300


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def poll_imap_mailboxes() -> int:
    """Beat, every IMAP_POLL_SECONDS: one poll task per active email channel with IMAP."""
    channel_ids = imap.imap_channel_ids()
    for channel_id in channel_ids:
        poll_imap_channel.apply_async((channel_id,), expires=IMAP_POLL_EXPIRES_SECONDS)
    return len(channel_ids)


@shared_task(acks_late=True, time_limit=IMAP_POLL_TIME_LIMIT, soft_time_limit=IMAP_POLL_TIME_LIMIT - 30)
def poll_imap_channel(channel_id: int) -> str:
    """Poll one mailbox, unless another worker is polling it right now.

    The cache lock only saves work: correctness does not depend on it (the poll locks
    its state row for every message). A full batch queues the next poll at once rather
    than waiting for beat, so a backlog drains at the speed of the workers.
    """
    key = f"imap-poll:{channel_id}"
    token = uuid.uuid4().hex
    if not cache.add(key, token, timeout=IMAP_POLL_LOCK_SECONDS):
        return "locked"
    try:
        result = imap.imap_poll_channel(channel_id=channel_id)
    finally:
        if cache.get(key) == token:
            cache.delete(key)
    if result.has_more and not result.errors:
        poll_imap_channel.apply_async((channel_id,), expires=IMAP_POLL_EXPIRES_SECONDS)
    return result.summary()
