"""The webhook pages under /manage/webhooks/: administrators only (others on staff get 403,
anyone else 404, as every /manage/ page)."""

from __future__ import annotations

import json

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tickets.views.manage.base import add_service_errors, admin_required, manage_context
from tickets.webhooks import selectors, services
from tickets.webhooks.events import EVENTS
from tickets.webhooks.forms import DeliveryFilterForm, EndpointForm
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint

SECTION = "webhooks"


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint")
    return endpoint


def _delivery_or_404(delivery_id: int) -> WebhookDelivery:
    delivery = selectors.delivery_get(delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No such delivery")
    return delivery


def _show_secret(request: HttpRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool) -> HttpResponse:
    """The only page that ever shows the secret; it is not stored anywhere it could be shown again."""
    response = render(
        request,
        "webhooks/secret.html",
        manage_context(request, SECTION, endpoint=endpoint, secret=secret, rotated=rotated),
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "webhooks/endpoints.html",
        manage_context(
            request,
            SECTION,
            endpoints=list(selectors.endpoint_list()),
            disabled=selectors.endpoints_auto_disabled(),
        ),
    )


@admin_required
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None, with_active=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.endpoint_create(
                name=data["name"],
                url=data["url"],
                events=data["events"],
                allow_private_network=data["allow_private_network"],
                created_by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _show_secret(request, endpoint, secret, rotated=False)
    return render(request, "webhooks/endpoint_form.html", manage_context(request, SECTION, form=form, endpoint=None))


@admin_required
def endpoint_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                services.endpoint_update(endpoint=endpoint, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                flash.success(request, f"Webhook “{form.cleaned_data['name']}” saved.")
                return redirect("tickets:manage:webhooks:edit", endpoint.pk)
    else:
        form = EndpointForm(
            initial={
                "name": endpoint.name,
                "url": endpoint.url,
                "events": endpoint.events,
                "allow_private_network": endpoint.allow_private_network,
                "is_active": endpoint.is_active,
            }
        )
    recent = selectors.delivery_list(filters=selectors.DeliveryFilters(endpoint_id=endpoint.pk), limit=10)
    return render(
        request,
        "webhooks/endpoint_form.html",
        manage_context(request, SECTION, form=form, endpoint=endpoint, recent=recent),
    )


@admin_required
@require_POST
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    secret = services.endpoint_rotate_secret(endpoint=endpoint)
    return _show_secret(request, endpoint, secret, rotated=True)


@admin_required
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    delivery = services.endpoint_send_test(endpoint=endpoint)
    delivery.refresh_from_db()  # sent already when tasks run in-process
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        flash.success(request, f"Test event delivered: the receiver answered {delivery.last_status_code}.")
    elif delivery.status == WebhookDelivery.Status.GIVEN_UP:
        flash.error(request, f"Test event not delivered: {delivery.last_error}")
    else:
        flash.info(request, "Test event queued; its result appears in the delivery log in a moment.")
    return redirect("tickets:manage:webhooks:delivery", delivery.pk)


@admin_required
@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = services.endpoint_enable(endpoint=_endpoint_or_404(endpoint_id))
    flash.success(request, f"Webhook “{endpoint.name}” enabled again; deliveries that waited are being sent.")
    return redirect("tickets:manage:webhooks:edit", endpoint.pk)


@admin_required
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(endpoint_id)
    services.endpoint_delete(endpoint=endpoint)
    flash.success(request, f"Webhook “{endpoint.name}” and its delivery log deleted.")
    return redirect("tickets:manage:webhooks:list")


@admin_required
def delivery_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(WebhookEndpoint.objects.order_by("name", "id").values_list("pk", "name"))
    form = DeliveryFilterForm(request.GET or None, endpoints=endpoints)
    cleaned = form.cleaned_data if form.is_valid() else {}
    filters = selectors.DeliveryFilters(
        endpoint_id=cleaned.get("endpoint"),
        event=cleaned.get("event") or "",
        status=cleaned.get("status") or "",
        delivery_id=cleaned.get("delivery") or "",
        before=cleaned.get("before"),
    )
    rows = selectors.delivery_list(filters=filters, limit=selectors.PAGE_SIZE + 1)
    has_more = len(rows) > selectors.PAGE_SIZE
    rows = rows[: selectors.PAGE_SIZE]
    next_query = ""
    if has_more:
        query = request.GET.copy()
        query["before"] = str(rows[-1].pk)
        next_query = query.urlencode()
    return render(
        request,
        "webhooks/deliveries.html",
        manage_context(request, SECTION, form=form, deliveries=rows, next_query=next_query, invalid=form.is_bound and not form.is_valid()),
    )


@admin_required
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery_or_404(delivery_id)
    try:
        pretty = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = delivery.body
    return render(
        request,
        "webhooks/delivery.html",
        manage_context(request, SECTION, delivery=delivery, pretty_body=pretty, events=EVENTS),
    )


@admin_required
@require_POST
def delivery_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery_or_404(delivery_id)
    try:
        delivery = services.delivery_redeliver(delivery=delivery)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        delivery.refresh_from_db()
        flash.success(request, f"Redelivery queued (status now: {delivery.get_status_display().lower()}).")
    return redirect("tickets:manage:webhooks:delivery", delivery.pk)
