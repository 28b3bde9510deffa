"""Every write of the webhooks app: endpoints (create, edit, rotate, enable, delete), the
delivery rows an event becomes, and one delivery attempt with its outcome.

A delivery is sent at least once and, once it succeeded, never again by a retry: an attempt
first *claims* the row (status still open, due, nobody else sending), sends outside any
transaction, then records the answer. A second run of the same task finds the row done,
not yet due, or claimed, and leaves.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_inbox.exceptions import PermanentChannelError, TransientChannelError
from channels_inbox.social.http import check_public_url, retry_after_seconds
from channels_inbox.social.secrets import secret_value
from tickets.webhooks import events as webhook_events
from tickets.webhooks import payloads, selectors, signing
from tickets.webhooks.hooks import PendingEvent, subscriptions_changed
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

OPEN = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED)
USER_AGENT = "Parley-Webhooks/1"
# Kept of a receiver's answer, for the delivery log.
EXCERPT_BYTES = 2048
# A task that fires a little before the row's due time (clock skew between hosts) still sends.
EARLY_TOLERANCE = dt.timedelta(seconds=5)


# --- Settings -------------------------------------------------------------------------------


def retry_schedule() -> list[float]:
    """Seconds to wait before each retry; its length + 1 is the number of attempts."""
    return [max(float(s), 0.0) for s in settings.PARLEY_WEBHOOK_RETRY_SCHEDULE]


def max_attempts() -> int:
    return len(retry_schedule()) + 1


def retry_delay(attempts: int) -> float:
    """The wait after the ``attempts``-th failed attempt, with ±20 % jitter so that many
    deliveries failing together (a receiver's outage) do not all come back at once."""
    schedule = retry_schedule()
    base = schedule[min(max(attempts, 1), len(schedule)) - 1] if schedule else 0.0
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - retry jitter, not security


def _timeout() -> httpx.Timeout:
    connect = float(settings.PARLEY_WEBHOOK_CONNECT_TIMEOUT)
    read = float(settings.PARLEY_WEBHOOK_READ_TIMEOUT)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def _private_allowed(endpoint: WebhookEndpoint) -> bool:
    """Loopback and private addresses: allowed per endpoint, or for all by the setting (dev, tests)."""
    return endpoint.allow_private_network or bool(settings.PARLEY_WEBHOOK_ALLOW_PRIVATE_URLS)


# --- Endpoints ------------------------------------------------------------------------------


def _check_url(url: str, *, allow_private: bool) -> str:
    """An http(s) URL with a host; unless private networks are allowed, one whose every
    address is public (no loopback, LAN or cloud metadata service: SSRF)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Enter an http:// or https:// URL with a host name."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Put no user name or password in the URL; verify the Parley-Signature header instead."})
    if not allow_private:
        try:
            check_public_url(url)
        except PermanentChannelError:
            raise ValidationError(
                {"url": f"{parts.hostname} is a loopback, private or reserved address; Parley only sends to public addresses."}
            ) from None
        except TransientChannelError:
            raise ValidationError({"url": f"The host name {parts.hostname} cannot be resolved; check the URL."}) from None
    return url


def _check_events(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in webhook_events.EVENTS]
    if unknown:
        raise ValidationError({"events": f"Unknown event(s): {', '.join(unknown)}."})
    if not chosen:
        raise ValidationError({"events": "Choose at least one event."})
    return chosen


def _check_name(name: str) -> str:
    name = " ".join((name or "").split())[:200]
    if not name:
        raise ValidationError({"name": "Give the endpoint a name."})
    return name


@transaction.atomic
def endpoint_create(
    *, name: str, url: str, events: Iterable[str], created_by: Any, allow_private_network: bool = False
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret, returned in clear this once."""
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        name=_check_name(name),
        url=_check_url(url, allow_private=_private_allowed(WebhookEndpoint(allow_private_network=allow_private_network))),
        events=_check_events(events),
        allow_private_network=allow_private_network,
        secrets={"signing": secret},
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    subscriptions_changed()
    logger.info("webhook endpoint %s created", endpoint.pk, extra={"endpoint_id": endpoint.pk})
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    name: str,
    url: str,
    events: Iterable[str],
    is_active: bool,
    allow_private_network: bool = False,
) -> WebhookEndpoint:
    """Edit an endpoint. Turning it on here is the same as :func:`endpoint_enable`;
    turning it off pauses it (events are not even recorded for it meanwhile)."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    locked.name = _check_name(name)
    locked.allow_private_network = allow_private_network
    locked.url = _check_url(url, allow_private=_private_allowed(locked))
    locked.events = _check_events(events)
    fields = ["name", "url", "events", "allow_private_network", "updated_at"]
    if is_active and not locked.is_active:
        locked.save(update_fields=fields)
        return endpoint_enable(endpoint=locked)
    if not is_active and locked.is_active:
        locked.is_active = False
        locked.disabled_at = timezone.now()
        locked.disabled_reason = "Paused by an administrator."
        locked.is_auto_disabled = False
        fields += ["is_active", "disabled_at", "disabled_reason", "is_auto_disabled"]
    locked.save(update_fields=fields)
    subscriptions_changed()
    return locked


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret, in effect for the next attempt; returned in clear this once."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = signing.new_secret()
    locked.secrets = {**locked.secrets, "signing": secret}
    locked.save(update_fields=["secrets", "updated_at"])
    logger.info("webhook endpoint %s: signing secret rotated", locked.pk, extra={"endpoint_id": locked.pk})
    return secret


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Turn an endpoint back on with a clean slate; deliveries left open while it was off are sent now."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    locked.is_active = True
    locked.disabled_at = None
    locked.disabled_reason = ""
    locked.is_auto_disabled = False
    locked.consecutive_failures = 0
    locked.failing_since = None
    locked.save(
        update_fields=[
            "is_active", "disabled_at", "disabled_reason", "is_auto_disabled", "consecutive_failures",
            "failing_since", "updated_at",
        ]
    )
    open_ids = list(
        WebhookDelivery.objects.filter(endpoint=locked, status__in=OPEN).order_by("created_at", "id").values_list("pk", flat=True)
    )
    if open_ids:
        WebhookDelivery.objects.filter(pk__in=open_ids).update(next_attempt_at=timezone.now(), claimed_until=None)
        transaction.on_commit(lambda: _queue(open_ids))
    subscriptions_changed()
    return locked


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery log."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    subscriptions_changed()


def _disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Parley turns an endpoint off by itself (in the caller's transaction, endpoint row
    locked) and tells every active administrator once it commits."""
    endpoint.is_active = False
    endpoint.disabled_at = timezone.now()
    endpoint.disabled_reason = reason[:500]
    endpoint.is_auto_disabled = True
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason", "is_auto_disabled", "updated_at"])
    subscriptions_changed()
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason, extra={"endpoint_id": endpoint.pk})
    user_ids = selectors.admin_user_ids()
    if not user_ids:
        return
    subject = f"Parley disabled the webhook “{endpoint.name}”"
    text = (
        f"Parley stopped sending events to the webhook “{endpoint.name}” ({endpoint.url}).\n\n"
        f"Why: {reason}\n\n"
        "Events that happen while it is disabled are not sent. Deliveries that were still waiting are kept.\n"
        "Fix the receiver, then re-enable the endpoint under Manage > Webhooks "
        f"(/manage/webhooks/{endpoint.pk}/); the waiting deliveries are sent again then.\n"
    )

    def send() -> None:
        from tickets.routing.tasks import send_notification

        try:
            send_notification.delay(user_ids, subject, text)
        except Exception:
            logger.exception("webhook disabled notice not sent", extra={"endpoint_id": endpoint.pk})

    transaction.on_commit(send)


# --- Deliveries -----------------------------------------------------------------------------


def _envelope(*, delivery_id: uuid.UUID, event: str, at: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {"id": str(delivery_id), "event": event, "created_at": at, "data": data}, separators=(",", ":"), ensure_ascii=False
    )


def _queue(delivery_pks: list[int]) -> None:
    from tickets.webhooks.tasks import deliver_webhook

    for pk in delivery_pks:
        try:
            deliver_webhook.delay(pk)
        except Exception:  # the broker is down: the retry sweep queues it again
            logger.exception("webhook delivery not queued", extra={"delivery_id": pk})


def _consolidate(pending: list[PendingEvent], wanted: set[str]) -> list[PendingEvent]:
    """One ticket.updated per ticket per transaction, listing every change, and none for a
    ticket opened in the same transaction (its ticket.created already shows the result)."""
    opened = {p.ticket_id for p in pending if p.event == webhook_events.TICKET_CREATED}
    updates: dict[int, PendingEvent] = {}
    items: list[PendingEvent] = []
    for p in pending:
        if p.event not in wanted:
            continue
        if p.event != webhook_events.TICKET_UPDATED:
            items.append(p)
            continue
        if p.ticket_id in opened:
            continue
        change = webhook_events.change_for(p.kind, p.data)
        if p.ticket_id in updates:
            updates[p.ticket_id].data["changes"].append(change)
            updates[p.ticket_id].at = p.at
            continue
        item = PendingEvent(event=p.event, at=p.at, ticket_id=p.ticket_id, data={"changes": [change]})
        updates[p.ticket_id] = item
        items.append(item)
    return items


def _data_for(item: PendingEvent, tickets: dict, messages: dict, customers: dict) -> dict[str, Any] | None:
    """The event's ``data``, or None when what it describes is gone (rolled back, deleted)."""
    if item.event == webhook_events.CUSTOMER_UPDATED:
        customer = customers.get(item.customer_id)
        return None if customer is None else {"customer": customer, **item.data}
    ticket = tickets.get(item.ticket_id)
    if ticket is None:
        return None
    if item.event == webhook_events.TICKET_CREATED:
        return {"ticket": ticket}
    if item.event == webhook_events.TICKET_UPDATED:
        return {"ticket": ticket, "changes": item.data["changes"]}
    if item.event == webhook_events.MESSAGE_CREATED:
        message = messages.get(item.message_id)
        return None if message is None else {"ticket": ticket, "message": message}
    if item.event == webhook_events.SLA_BREACHED:
        d = item.data
        return {"ticket": ticket, "sla": {"metric": d.get("metric"), "due_at": d.get("due_at"), "policy_id": d.get("policy")}}
    if item.event == webhook_events.SURVEY_ANSWERED:
        d = item.data
        survey = {k: d.get(k) for k in ("kind", "score", "comment", "source", "previous")}
        survey["response_id"] = d.get("response")
        return {"ticket": ticket, "survey": survey}
    return None


def deliveries_create(*, pending: list[PendingEvent]) -> list[WebhookDelivery]:
    """Turn one committed transaction's events into delivery rows, one per subscribed
    active endpoint, and queue them. Payloads show the objects as committed."""
    if not pending:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events"))
    wanted = {name for _, names in endpoints for name in (names or [])}
    items = _consolidate(pending, wanted)
    if not items:
        return []
    tickets = payloads.tickets_by_id(i.ticket_id for i in items if i.ticket_id)
    messages = payloads.messages_by_id(i.message_id for i in items if i.message_id)
    customers = payloads.customers_by_id(i.customer_id for i in items if i.customer_id)
    now = timezone.now()
    rows: list[WebhookDelivery] = []
    for item in items:
        data = _data_for(item, tickets, messages, customers)
        if data is None:
            continue
        for endpoint_id, names in endpoints:
            if item.event in (names or []):
                delivery_id = uuid.uuid4()
                rows.append(
                    WebhookDelivery(
                        endpoint_id=endpoint_id,
                        event=item.event,
                        delivery_id=delivery_id,
                        body=_envelope(delivery_id=delivery_id, event=item.event, at=_utc(item.at), data=data),
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    if not rows:
        return []
    with transaction.atomic():
        created = WebhookDelivery.objects.bulk_create(rows)
        pks = [d.pk for d in created]
        transaction.on_commit(lambda: _queue(pks))
    if _in_process():
        # No worker and no beat in embedded mode: retries that came due go with new events.
        deliveries_requeue_due(grace_seconds=0)
    return created


def _in_process() -> bool:
    from helpdesk.celery import app

    return bool(app.conf.task_always_eager)


def _utc(at: str) -> str:
    """An ISO time as UTC with a Z, as every time in a payload."""
    try:
        return payloads.iso(dt.datetime.fromisoformat(at).astimezone(dt.UTC)) or at
    except ValueError:
        return at


@transaction.atomic
def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` event, sent once now whatever the endpoint subscribed to and even
    while it is disabled (to check a fixed receiver before re-enabling); it never counts
    towards disabling."""
    now = timezone.now()
    delivery_id = uuid.uuid4()
    data = {
        "endpoint": {"id": endpoint.pk, "name": endpoint.name, "events": list(endpoint.events or [])},
        "message": "A test event from Parley. Verify its Parley-Signature header and answer 2xx.",
    }
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=webhook_events.TEST,
        delivery_id=delivery_id,
        body=_envelope(delivery_id=delivery_id, event=webhook_events.TEST, at=payloads.iso(now) or "", data=data),
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(lambda: _queue([delivery.pk]))
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a logged delivery again, with a fresh set of retries. The body and the delivery id
    stay the same: a receiver that processed it already may recognise and skip it."""
    locked = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    now = timezone.now()
    if locked.claimed_until and locked.claimed_until > now:
        raise ValidationError("This delivery is being sent right now; wait a moment and look again.")
    if not locked.endpoint.is_active and locked.event != webhook_events.TEST:
        raise ValidationError("The endpoint is disabled; re-enable it first (its waiting deliveries are then sent).")
    locked.status = WebhookDelivery.Status.PENDING
    locked.attempts = 0
    locked.next_attempt_at = now
    locked.completed_at = None
    locked.redelivery_count = F("redelivery_count") + 1
    locked.save(update_fields=["status", "attempts", "next_attempt_at", "completed_at", "redelivery_count", "updated_at"])
    locked.refresh_from_db(fields=["redelivery_count"])
    transaction.on_commit(lambda: _queue([locked.pk]))
    return locked


@dataclass(frozen=True)
class SendResult:
    """What one HTTP attempt came to."""

    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: float | None = None
    # A failure no retry can fix (the URL now resolves to a private address).
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class AttemptOutcome:
    """``status``: the delivery's status after the attempt, or "skipped" (``reason`` says
    why: done, not due, being sent, endpoint disabled, gone). ``retry_in``: seconds until
    the next attempt when one is planned."""

    status: str
    retry_in: float | None = None
    reason: str = ""


def _claim(delivery_pk: int) -> tuple[WebhookDelivery, WebhookEndpoint] | str:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_pk).first()
        if delivery is None:
            return "gone"
        if not delivery.is_open:
            return "done"
        now = timezone.now()
        if delivery.next_attempt_at and delivery.next_attempt_at > now + EARLY_TOLERANCE:
            return "not due"
        if delivery.claimed_until and delivery.claimed_until > now:
            return "being sent"
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        if not endpoint.is_active and delivery.event != webhook_events.TEST:
            return "endpoint disabled"
        timeout = _timeout()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        # Longer than any attempt can take: a worker killed mid-send frees the row later.
        delivery.claimed_until = now + dt.timedelta(seconds=(timeout.connect or 0) + (timeout.read or 0) * 2 + 60)
        delivery.save(update_fields=["attempts", "last_attempt_at", "claimed_until", "updated_at"])
        return delivery, endpoint


def _send(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> SendResult:
    body = delivery.body.encode()
    secret = secret_value(endpoint.secrets, "signing")
    if not secret:
        return SendResult(error="The endpoint has no signing secret (it cannot be decrypted); rotate it.", permanent=True)
    if not _private_allowed(endpoint):
        try:
            check_public_url(endpoint.url)
        except PermanentChannelError as exc:
            return SendResult(error=str(exc), permanent=True)
        except TransientChannelError as exc:
            return SendResult(error=str(exc))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Parley-Event": delivery.event,
        "Parley-Delivery": str(delivery.delivery_id),
        "Parley-Signature": signing.signature_header(secret=secret, body=body),
    }
    try:
        with httpx.Client(timeout=_timeout(), follow_redirects=False) as http:
            with http.stream("POST", endpoint.url, content=body, headers=headers) as response:
                excerpt = b""
                for chunk in response.iter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES:
                        break
                status = response.status_code
                retry_after = retry_after_seconds(response.headers.get("Retry-After")) if status in (429, 503) else None
    except httpx.TimeoutException as exc:
        return SendResult(error=f"Timed out ({type(exc).__name__}): no answer within the time limit.")
    except httpx.HTTPError as exc:
        return SendResult(error=f"{type(exc).__name__}: {exc}"[:1000])
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    error = "" if 200 <= status < 300 else f"The receiver answered {status}."
    if 300 <= status < 400:
        error += " Redirects are not followed; use the final URL."
    return SendResult(status_code=status, error=error, excerpt=text, retry_after=retry_after)


def _record(delivery_pk: int, result: SendResult) -> AttemptOutcome:
    with transaction.atomic():
        endpoint_id = WebhookDelivery.objects.filter(pk=delivery_pk).values_list("endpoint_id", flat=True).first()
        if endpoint_id is None:
            return AttemptOutcome(status="skipped", reason="gone")
        # Endpoint first, then the delivery: every writer of both locks in this order.
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_pk)
        now = timezone.now()
        delivery.claimed_until = None
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.response_excerpt = result.excerpt
        is_test = delivery.event == webhook_events.TEST
        retry_in: float | None = None
        if result.ok:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            if not is_test and (endpoint.consecutive_failures or endpoint.failing_since):
                endpoint.consecutive_failures = 0
                endpoint.failing_since = None
                endpoint.save(update_fields=["consecutive_failures", "failing_since", "updated_at"])
        elif result.status_code == 410:
            delivery.status = WebhookDelivery.Status.GIVEN_UP
            if not is_test and endpoint.is_active:
                _disable(endpoint, reason=f"The receiver answered 410 Gone to a {delivery.event} delivery: it asked for no more events.")
        elif is_test or result.permanent or delivery.attempts >= max_attempts():
            delivery.status = WebhookDelivery.Status.GIVEN_UP
            if not is_test:
                _count_failure(endpoint, now=now, last_error=result.error)
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            retry_in = retry_delay(delivery.attempts)
            if result.status_code == 429 and result.retry_after is not None:
                retry_in = result.retry_after
            elif result.retry_after is not None:
                retry_in = max(retry_in, result.retry_after)
            delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
            if not is_test and endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since", "updated_at"])
        if not delivery.is_open:
            delivery.completed_at = now
            delivery.next_attempt_at = None
        delivery.save(
            update_fields=[
                "claimed_until", "last_status_code", "last_error", "response_excerpt", "status", "next_attempt_at",
                "completed_at", "updated_at",
            ]
        )
    return AttemptOutcome(status=delivery.status, retry_in=retry_in)


def _count_failure(endpoint: WebhookEndpoint, *, now: dt.datetime, last_error: str) -> None:
    """One more delivery given up: past the limit (so many in a row, or failing for so
    many days) the endpoint is disabled and administrators are told."""
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.save(update_fields=["consecutive_failures", "failing_since", "updated_at"])
    if not endpoint.is_active:
        return
    limit = int(settings.PARLEY_WEBHOOK_DISABLE_AFTER_FAILURES)
    days = float(settings.PARLEY_WEBHOOK_DISABLE_AFTER_DAYS)
    if endpoint.consecutive_failures >= limit:
        _disable(endpoint, reason=f"{endpoint.consecutive_failures} deliveries in a row failed; the last: {last_error}")
    elif now - endpoint.failing_since >= dt.timedelta(days=days):
        _disable(endpoint, reason=f"Every delivery failed for more than {days:g} days; the last: {last_error}")


def delivery_attempt(*, delivery_pk: int) -> AttemptOutcome:
    """Send one delivery if it is due and nobody else is sending it, and record the answer:
    2xx succeeded; 410 given up and the endpoint disabled; anything else (an error status,
    a timeout, a refused connection) retried on the schedule, 429's Retry-After honoured,
    then given up."""
    claimed = _claim(delivery_pk)
    if isinstance(claimed, str):
        return AttemptOutcome(status="skipped", reason=claimed)
    delivery, endpoint = claimed
    try:
        result = _send(delivery, endpoint)
    except Exception as exc:  # a bug must not leave the row claimed
        logger.exception("webhook delivery crashed", extra={"delivery_id": delivery_pk})
        result = SendResult(error=f"{type(exc).__name__}: {exc}"[:1000])
    return _record(delivery_pk, result)


def deliveries_requeue_due(*, grace_seconds: float = 60.0, limit: int = 1000) -> int:
    """Queue deliveries whose retry is due but whose task is not coming (a lost task, a
    retry too far ahead for the broker, embedded mode): the beat safety net."""
    now = timezone.now()
    pks = list(
        WebhookDelivery.objects.filter(
            status__in=OPEN, next_attempt_at__lte=now - dt.timedelta(seconds=grace_seconds), endpoint__is_active=True
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _queue(pks)
    return len(pks)


def deliveries_prune(*, older_than_days: float, batch_size: int = 5000) -> int:
    """Delete finished deliveries (succeeded, given up) older than the retention: the log
    is for looking into recent problems, not an archive. Waiting deliveries are kept."""
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    done = WebhookDelivery.objects.filter(
        status__in=(WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.GIVEN_UP), created_at__lt=cutoff
    )
    deleted = 0
    while True:  # in batches: one huge DELETE would hold its locks for long
        pks = list(done.order_by("id").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=pks).delete()[0]
