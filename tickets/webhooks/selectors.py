"""Every read the webhook pages (and the REST API) make. Endpoints are an administrator's
business: callers check the role; nothing here filters by team, because a webhook
receives every team's events (docs/webhooks.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from tickets import roles
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint


def admin_user_ids() -> list[int]:
    """Active administrators (role group or superuser): who is told when an endpoint is disabled."""
    User = get_user_model()
    return sorted(
        set(
            User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(groups__name=roles.ADMIN))
            .values_list("pk", flat=True)
        )
    )


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Every endpoint with how many of its deliveries wait to be sent (``open_count``)."""
    waiting = (
        WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), status__in=["pending", "failed"])
        .order_by()
        .values("endpoint")
        .annotate(n=Count("id"))
        .values("n")
    )
    return WebhookEndpoint.objects.annotate(open_count=Coalesce(Subquery(waiting), 0)).order_by("name", "id")


def endpoint_get(*, endpoint_id: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id).first()


def endpoints_auto_disabled() -> list[WebhookEndpoint]:
    """The endpoints Parley turned off by itself: the admin page's banner."""
    return list(WebhookEndpoint.objects.filter(is_active=False, is_auto_disabled=True).order_by("-disabled_at"))


@dataclass(frozen=True)
class DeliveryFilters:
    endpoint_id: int | None = None
    event: str = ""
    status: str = ""
    delivery_id: str = ""
    before: int | None = None  # keyset: deliveries older than this row id


PAGE_SIZE = 50


def delivery_list(*, filters: DeliveryFilters, limit: int = PAGE_SIZE) -> list[WebhookDelivery]:
    """The delivery log, newest first, one keyset page (``before`` = the last id shown).
    The body is left out: a page of payloads can weigh megabytes."""
    qs = WebhookDelivery.objects.select_related("endpoint").defer("body", "response_excerpt")
    if filters.endpoint_id:
        qs = qs.filter(endpoint_id=filters.endpoint_id)
    if filters.event:
        qs = qs.filter(event=filters.event)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.delivery_id:
        try:
            qs = qs.filter(delivery_id=uuid.UUID(filters.delivery_id.strip()))
        except ValueError:
            return []
    if filters.before:
        qs = qs.filter(id__lt=filters.before)
    # Ids grow with time: ordering by id alone pages along the primary key.
    return list(qs.order_by("-id")[:limit])


def delivery_get(*, delivery_id: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
