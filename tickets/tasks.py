"""Celery entry points of the tickets domain that are not routing's (tickets/routing/tasks.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset(email: str, domain: str, use_https: bool) -> int:
    """Email password-reset links to the active accounts with this address (none if none).

    The request only queues this task, the same for known and unknown addresses, so the
    time it takes to answer tells nothing about which addresses have accounts. Returns how
    many emails went out."""
    from tickets.services.admin import password_reset_send

    return password_reset_send(email=email, domain=domain, use_https=use_https)
