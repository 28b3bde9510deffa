"""Outgoing webhooks over the API: endpoints and their delivery log.

The same rules as the /manage/webhooks/ pages: administrators only (a manager's or an
agent's key gets 403 whatever its scopes), ``webhooks:read`` to look, ``webhooks:write``
to change anything. Every write goes through ``tickets.webhooks.services`` and every read
through ``tickets.webhooks.selectors``, so the API and the pages cannot disagree.

A signing secret is shown in two answers only: the endpoint's creation and a rotation.
Those answers are ``Cache-Control: no-store``, and the copy the ``Idempotency-Key``
machinery keeps for replays has the secret removed (a replay answers ``secret: null``;
rotate the secret if the first answer was lost), so no secret sits in clear in the
database. Webhooks receive every team's events, private teams' included: that is why
they are an administrator's business (docs/webhooks.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from tickets.api.base import ApiView, ApiViewSet
from tickets.api.crm.common import int_or_404, require_admin
from tickets.api.models import IdempotencyRecord
from tickets.api.pagination import CursorPagination
from tickets.api.problems import Conflict, Problem
from tickets.api.schema import (
    OpenApiParameter,
    OpenApiTypes,
    example,
    extend_schema,
    extend_schema_view,
)
from tickets.webhooks import events as webhook_events
from tickets.webhooks import selectors, services
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint

EVENT_CHOICES = [(name, text) for name, text in webhook_events.EVENTS.items()]
LOG_EVENT_CHOICES = [*EVENT_CHOICES, (webhook_events.TEST, "The test event.")]


class AdminOnly:
    """Administrators only, checked right after the scope (before an Idempotency-Key is
    claimed, so a refused request leaves no record)."""

    def check_permissions(self, request: Any) -> None:
        super().check_permissions(request)  # type: ignore[misc]
        require_admin(request.user, "manage webhooks")


# --- Serializers ---------------------------------------------------------------------


class EndpointSerializer(serializers.ModelSerializer):
    open_deliveries = serializers.SerializerMethodField(help_text="Deliveries still waiting to be sent (first attempt or a retry)")

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id", "name", "url", "events", "is_active", "allow_private_network", "open_deliveries",
            "consecutive_failures", "failing_since", "disabled_at", "disabled_reason", "is_auto_disabled",
            "created_at", "updated_at",
        )
        read_only_fields = fields
        extra_kwargs: ClassVar[dict[str, Any]] = {
            "events": {"help_text": "The subscribed events (see the create request's choices)"},
            "is_auto_disabled": {"help_text": "Parley turned it off by itself (repeated failures, 410 Gone)"},
        }

    def get_open_deliveries(self, endpoint: WebhookEndpoint) -> int:
        count = getattr(endpoint, "open_count", None)
        if count is None:  # an object not read through endpoint_list()
            count = endpoint.deliveries.filter(status__in=services.OPEN).count()
        return int(count)


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        allow_null=True,
        help_text="The signing secret, shown in this answer only (null in a replay of it): store it now",
    )

    class Meta(EndpointSerializer.Meta):
        fields = (*EndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class EndpointInputSerializer(serializers.Serializer):
    """Typed here; the services check the rest (the URL's scheme and address, the events)."""

    name = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=2048, help_text="http:// or https://; public addresses only unless allow_private_network")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), allow_empty=False, max_length=len(EVENT_CHOICES) * 2
    )
    allow_private_network = serializers.BooleanField(
        required=False, default=False, help_text="Deliver to a loopback or private-network address (a receiver inside your network)"
    )
    is_active = serializers.BooleanField(
        required=False, default=True, help_text="Update only: false pauses sending, true re-enables (as the enable action)"
    )


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(allow_null=True, help_text="The new signing secret, shown in this answer only")
    endpoint = EndpointSerializer()


class DeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.SerializerMethodField(help_text="The endpoint's id and name")
    delivery_id = serializers.UUIDField(read_only=True, help_text="Sent as Parley-Delivery and the payload's id; the same on every retry")
    status = serializers.CharField(
        read_only=True, help_text="pending, succeeded, failed (a retry is planned: next_attempt_at) or given_up"
    )

    class Meta:
        model = WebhookDelivery
        fields = (
            "id", "delivery_id", "endpoint", "event", "status", "attempts", "next_attempt_at", "last_attempt_at",
            "last_status_code", "last_error", "completed_at", "redelivery_count", "created_at",
        )
        read_only_fields = fields

    def get_endpoint(self, delivery: WebhookDelivery) -> dict[str, Any]:
        return {"id": delivery.endpoint_id, "name": delivery.endpoint.name}


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.SerializerMethodField(help_text="The JSON body sent (and signed)")
    response_excerpt = serializers.CharField(read_only=True, help_text="The start of the receiver's last answer")

    class Meta(DeliverySerializer.Meta):
        fields = (*DeliverySerializer.Meta.fields, "payload", "response_excerpt")
        read_only_fields = fields

    def get_payload(self, delivery: WebhookDelivery) -> Any:
        try:
            return json.loads(delivery.body)
        except ValueError:
            return delivery.body


class DeliveryFilterSerializer(serializers.Serializer):
    endpoint = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="Endpoint id")
    event = serializers.ChoiceField(choices=LOG_EVENT_CHOICES, required=False)
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    delivery_id = serializers.UUIDField(required=False, help_text="The Parley-Delivery header's value")


# --- Examples ------------------------------------------------------------------------

ENDPOINT_EXAMPLE = {
    "id": 3,
    "name": "CRM sync",
    "url": "https://crm.example.com/hooks/parley",
    "events": ["customer.updated", "ticket.created"],
    "is_active": True,
    "allow_private_network": False,
    "open_deliveries": 0,
    "consecutive_failures": 0,
    "failing_since": None,
    "disabled_at": None,
    "disabled_reason": "",
    "is_auto_disabled": False,
    "created_at": "2026-11-23T09:00:00Z",
    "updated_at": "2026-11-23T09:00:00Z",
}
WHSEC_EXAMPLE = "whsec_3q2-7wEvwvzbSGfP6yQv3J2yX0pL1tK9mRZC4uHd8aE"
ENDPOINT_INPUT_EXAMPLE = {
    "name": "CRM sync",
    "url": "https://crm.example.com/hooks/parley",
    "events": ["ticket.created", "customer.updated"],
}
DELIVERY_EXAMPLE = {
    "id": 981,
    "delivery_id": "5b0c1f6e-8d4e-4c1a-9f0e-2f7a7c3e9b11",
    "endpoint": {"id": 3, "name": "CRM sync"},
    "event": "ticket.created",
    "status": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_attempt_at": "2026-11-23T09:05:00Z",
    "last_status_code": 200,
    "last_error": "",
    "completed_at": "2026-11-23T09:05:00Z",
    "redelivery_count": 0,
    "created_at": "2026-11-23T09:05:00Z",
}
DELIVERY_DETAIL_EXAMPLE = {
    **DELIVERY_EXAMPLE,
    "payload": {
        "id": "5b0c1f6e-8d4e-4c1a-9f0e-2f7a7c3e9b11",
        "event": "ticket.created",
        "created_at": "2026-11-23T09:05:00Z",
        "data": {"ticket": {"number": 1042, "subject": "Refund for order 5521"}},
    },
    "response_excerpt": '{"ok": true}',
}
TEST_DELIVERY_EXAMPLE = {**DELIVERY_EXAMPLE, "id": 982, "event": "webhook.test"}


# --- Endpoints -----------------------------------------------------------------------


class SecretRedactionMixin:
    """After the Idempotency-Key machinery stored an answer with a secret, blank the secret
    in the stored copy: a replay answers ``secret: null`` rather than the database keeping it."""

    _secret_record: IdempotencyRecord | None = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        self._secret_record = None
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def secret_response(self, body: dict[str, Any], *, status_code: int, headers: dict[str, str] | None = None) -> Response:
        """An answer that carries a secret: never cached, its Idempotency-Key copy without it."""
        self._secret_record = getattr(self, "_idempotency_record", None)
        return Response(body, status=status_code, headers={**(headers or {}), "Cache-Control": "no-store"})

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._secret_record = self._secret_record, None
        if record is not None:
            stored = IdempotencyRecord.objects.filter(pk=record.pk).values_list("response_body", flat=True).first()
            if isinstance(stored, dict) and stored.get("secret"):
                IdempotencyRecord.objects.filter(pk=record.pk).update(response_body={**stored, "secret": None})
        return response


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        description="Administrators only (`webhooks:read`). By name.",
        examples=[example("A page of endpoints", [ENDPOINT_EXAMPLE], list=True)],
    ),
    retrieve=extend_schema(summary="One webhook endpoint", examples=[example("An endpoint", ENDPOINT_EXAMPLE)]),
    create=extend_schema(
        summary="Create a webhook endpoint",
        description="Administrators only (`webhooks:write`). The answer holds the signing secret: it is never "
        "shown again (a replay with the same Idempotency-Key answers `secret: null`). Parley sends only to "
        "public addresses unless `allow_private_network` is set.",
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer},
        examples=[
            example("Subscribe to new tickets", ENDPOINT_INPUT_EXAMPLE, request=True),
            example("Created", {**ENDPOINT_EXAMPLE, "secret": WHSEC_EXAMPLE}, status=201),
        ],
    ),
    update=extend_schema(
        summary="Replace a webhook endpoint's settings",
        description="`is_active: false` pauses sending; `true` re-enables it (waiting deliveries are sent).",
        request=EndpointInputSerializer,
        responses=EndpointSerializer,
        examples=[
            example("Every field", {**ENDPOINT_INPUT_EXAMPLE, "is_active": True, "allow_private_network": False}, request=True),
            example("Saved", ENDPOINT_EXAMPLE),
        ],
    ),
    partial_update=extend_schema(
        summary="Change some of a webhook endpoint's settings",
        request=EndpointInputSerializer,
        responses=EndpointSerializer,
        examples=[
            example("Pause", {"is_active": False}, request=True),
            example(
                "Paused",
                {**ENDPOINT_EXAMPLE, "is_active": False, "disabled_at": "2026-11-23T10:00:00Z", "disabled_reason": "Paused by an administrator."},
            ),
        ],
    ),
    destroy=extend_schema(summary="Delete a webhook endpoint and its delivery log", responses={204: None}),
)
class WebhookEndpointViewSet(SecretRedactionMixin, AdminOnly, ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "webhooks"
    serializer_class = EndpointSerializer
    ordering_fields = ("name", "created_at")
    ordering = ("name",)
    lookup_value_regex = "[0-9]+"
    queryset = WebhookEndpoint.objects.none()

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return selectors.endpoint_list()

    def get_object(self) -> WebhookEndpoint:
        pk = int_or_404(self.kwargs.get("pk"), "webhook endpoint")
        endpoint = self.get_queryset().filter(pk=pk).first()
        if endpoint is None:
            raise Problem(404, "not-found", "Not Found", f"No webhook endpoint {pk}.")
        self.check_if_match(endpoint)
        self.etag_object = endpoint
        return endpoint

    def _answer(self, endpoint_id: int, *, status_code: int = 200, secret: str | None = None) -> Response:
        fresh = self.get_queryset().get(pk=endpoint_id)
        self.etag_object = fresh
        if secret is None:
            return Response(EndpointSerializer(fresh).data, status=status_code)
        body = {**EndpointSerializer(fresh).data, "secret": secret}
        return self.secret_response(body, status_code=status_code, headers={"Location": f"/api/v1/webhooks/endpoints/{endpoint_id}/"})

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint, secret = services.endpoint_create(
            name=data["name"],
            url=data["url"],
            events=data["events"],
            allow_private_network=data["allow_private_network"],
            created_by=request.user,
        )
        return self._answer(endpoint.pk, status_code=status.HTTP_201_CREATED, secret=secret)

    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = EndpointInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        current = {
            "name": endpoint.name,
            "url": endpoint.url,
            "events": list(endpoint.events or []),
            "is_active": endpoint.is_active,
            "allow_private_network": endpoint.allow_private_network,
        }
        values = {**current, **serializer.validated_data} if partial else dict(serializer.validated_data)
        with transaction.atomic():
            locked = self.check_if_match_locked(endpoint)
            services.endpoint_update(endpoint=locked, **values)
        return self._answer(endpoint.pk)

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        with transaction.atomic():
            services.endpoint_delete(endpoint=self.check_if_match_locked(endpoint))
        self.etag_object = None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate an endpoint's signing secret",
        description="The new secret signs the very next delivery (update your receiver first); the old one stops "
        "working at once. The answer is the only place the new secret appears.",
        request=None,
        responses={200: SecretSerializer},
        examples=[example("Rotated", {"secret": WHSEC_EXAMPLE, "endpoint": ENDPOINT_EXAMPLE})],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Any, pk: Any = None) -> Response:
        endpoint = self.get_object()
        secret = services.endpoint_rotate_secret(endpoint=endpoint)
        fresh = self.get_queryset().get(pk=endpoint.pk)
        self.etag_object = fresh
        return self.secret_response({"secret": secret, "endpoint": EndpointSerializer(fresh).data}, status_code=200)

    @extend_schema(
        summary="Send a test event",
        description="A `webhook.test` delivery, sent once now whatever the endpoint subscribed to, even while it is "
        "disabled; it never counts towards disabling. The answer is the delivery: `status` is its outcome if it "
        "was sent already, else `pending` (look it up again in a moment).",
        request=None,
        responses={201: DeliverySerializer},
        examples=[example("Delivered", TEST_DELIVERY_EXAMPLE, status=201)],
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Any, pk: Any = None) -> Response:
        endpoint = self.get_object()
        delivery = services.endpoint_send_test(endpoint=endpoint)
        fresh = selectors.delivery_get(delivery_id=delivery.pk) or delivery
        self.etag_object = fresh
        return Response(
            DeliverySerializer(fresh).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/webhooks/deliveries/{delivery.pk}/"},
        )

    @extend_schema(
        summary="Enable an endpoint again",
        description="Clears the failure count; deliveries that waited while it was off are sent now.",
        request=None,
        responses=EndpointSerializer,
        examples=[example("Enabled", ENDPOINT_EXAMPLE)],
    )
    @action(detail=True, methods=["post"])
    def enable(self, request: Any, pk: Any = None) -> Response:
        endpoint = self.get_object()
        services.endpoint_enable(endpoint=endpoint)
        return self._answer(endpoint.pk)


# --- Deliveries ----------------------------------------------------------------------


class DeliveryPagination(CursorPagination):
    """The API's page shape over the delivery log's keyset selector: the cursor is the last
    id shown, newest first (``previous`` is always null: page forwards with ``next``)."""

    def paginate_log(self, request: Any, filters: selectors.DeliveryFilters) -> list[WebhookDelivery]:
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        rows = selectors.delivery_list(filters=filters, limit=self.page_size + 1)
        self.has_next = len(rows) > self.page_size
        return rows[: self.page_size]

    def response(self, rows: list[WebhookDelivery], data: list[Any]) -> Response:
        next_url = None
        if self.has_next and rows:
            token = base64.urlsafe_b64encode(f"before={rows[-1].pk}".encode()).decode()
            next_url = replace_query_param(self.base_url, self.cursor_query_param, token)
        return Response({"next": next_url, "previous": None, "results": data})

    def before(self, request: Any) -> int | None:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        name, before = "", 0
        try:
            name, _, value = base64.urlsafe_b64decode(raw.encode()).decode().partition("=")
            before = int(value)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
        if name != "before" or before <= 0:
            raise ValidationError({self.cursor_query_param: ["Not a cursor this list gave; follow the next link."]})
        return before


class DeliveryApi(AdminOnly, ApiView):
    api_resource = "webhooks"
    filter_backends: list[Any] = []  # noqa: RUF012 - the filters are the selector's own

    def delivery_or_404(self, pk: Any) -> WebhookDelivery:
        delivery_pk = int_or_404(pk, "webhook delivery")
        delivery = selectors.delivery_get(delivery_id=delivery_pk)
        if delivery is None:
            raise Problem(404, "not-found", "Not Found", f"No webhook delivery {delivery_pk}.")
        self.etag_object = delivery
        return delivery


class DeliveryListApi(DeliveryApi):
    serializer_class = DeliverySerializer
    pagination_class = DeliveryPagination

    @extend_schema(
        summary="The delivery log",
        description="Newest first, 50 a page (`page_size` up to 200); follow `next`. Payloads are left out here: "
        "read one delivery for its body and the receiver's answer.",
        parameters=[
            DeliveryFilterSerializer,
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From a previous page's `next`"),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1-200, default 50"),
        ],
        responses=DeliverySerializer(many=True),
        examples=[example("A page of deliveries", [DELIVERY_EXAMPLE], list=True)],
    )
    def get(self, request: Any) -> Response:
        query = DeliveryFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        paginator = self.paginator
        filters = selectors.DeliveryFilters(
            endpoint_id=data.get("endpoint"),
            event=data.get("event", ""),
            status=data.get("status", ""),
            delivery_id=str(data.get("delivery_id") or ""),
            before=paginator.before(request),
        )
        rows = paginator.paginate_log(request, filters)
        return paginator.response(rows, DeliverySerializer(rows, many=True).data)


class DeliveryDetailApi(DeliveryApi):
    serializer_class = DeliveryDetailSerializer

    @extend_schema(
        summary="One delivery, with its payload and the receiver's answer",
        responses=DeliveryDetailSerializer,
        examples=[example("A delivery", DELIVERY_DETAIL_EXAMPLE)],
    )
    def get(self, request: Any, pk: int) -> Response:
        return Response(DeliveryDetailSerializer(self.delivery_or_404(pk)).data)


class DeliveryRedeliverApi(DeliveryApi):
    serializer_class = DeliverySerializer

    @extend_schema(
        summary="Send a delivery again",
        description="The same body and delivery id (a receiver that processed it may skip it), with a fresh set of "
        "retries. 409 while it is being sent, or when its endpoint is disabled (enable the endpoint first).",
        request=None,
        responses=DeliverySerializer,
        examples=[example("Queued again", {**DELIVERY_EXAMPLE, "redelivery_count": 1})],
    )
    def post(self, request: Any, pk: int) -> Response:
        delivery = self.delivery_or_404(pk)
        try:
            services.delivery_redeliver(delivery=delivery)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages), slug="delivery-not-redeliverable") from None
        fresh = selectors.delivery_get(delivery_id=delivery.pk) or delivery
        self.etag_object = fresh
        return Response(DeliverySerializer(fresh).data)
