"""Celery entry points of routing: beat's tick and notification mail. Each calls a service."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail


@shared_task(acks_late=True, time_limit=240, soft_time_limit=200)
def routing_tick() -> dict[str, int]:
    """Beat, every ROUTING_TICK_SECONDS: SLA warnings, breaches and escalation, time-based
    rules, and waiting tickets handed to agents who have become free."""
    from tickets.routing import services

    return services.routing_tick()


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_notification(user_ids: list[int], subject: str, text: str) -> int:
    emails = [e for e in get_user_model().objects.filter(pk__in=user_ids, is_active=True).values_list("email", flat=True) if e]
    if not emails:
        return 0
    return send_mail(subject[:200], text, settings.DEFAULT_FROM_EMAIL, emails)


@worker_process_init.connect(dispatch_uid="routing-warm-up-language-models")
def _warm_up_language_models(**_: object) -> None:
    """Each worker process loads the language models as it starts, not on its first message."""
    from tickets.routing import language

    language.warm_up()
