"""Tickets: list (filters, search, ordering), retrieve, create, update, merge, bulk update.

Every ticket is read through ``visible_tickets``: another private team's ticket, or a
merged one, is a 404. Every change goes through the tickets services, so events,
routing, SLA and realtime updates happen as in the workspace.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from channels_inbox.models import Channel
from tickets import selectors, services
from tickets.api import services as api_services
from tickets.api.base import ApiViewSet
from tickets.api.models import ApiKey
from tickets.api.schema import (
    OpenApiParameter,
    OpenApiTypes,
    example,
    extend_schema,
    extend_schema_view,
)
from tickets.api.serializers.tickets import (
    BulkResultSerializer,
    TicketBulkSerializer,
    TicketCreateSerializer,
    TicketMergeSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from tickets.models import Tag, Ticket
from tickets.selectors.search import ticket_search


def visible_ticket_rows(user: Any) -> QuerySet[Ticket]:
    """The acting user's tickets with what the serializer shows, in a fixed number of queries."""
    return (
        selectors.visible_tickets(user)
        .select_related("channel", "customer", "organization", "team", "assignee", "assignee__agent")
        # Not shown, and a channel's secrets would be decrypted once per row.
        .defer(*UNSHOWN_RELATED_FIELDS)
        .prefetch_related("tags")
    )


UNSHOWN_RELATED_FIELDS = (
    "channel__secrets",
    "channel__config",
    "customer__custom_attributes",
    "customer__notes",
    "organization__notes",
    "organization__custom_attributes",
    "assignee__password",
)


class _IdOrNone(django_filters.CharFilter):
    """``?team=4`` or ``?team=none`` (tickets without one)."""

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if value in ("", None):
            return qs
        if value == "none":
            return qs.filter(**{f"{self.field_name}__isnull": True})
        if not value.isdigit():
            raise serializers.ValidationError({self.field_name.removesuffix("_id"): ["a number, or 'none'"]})
        return qs.filter(**{self.field_name: int(value)})


class TicketFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Ticket.Status.choices, distinct=False, help_text="Repeat for several: ?status=new&status=open")
    priority = django_filters.MultipleChoiceFilter(choices=Ticket.Priority.choices, distinct=False)
    team = _IdOrNone(field_name="team_id", help_text="Team id, or 'none'")
    assignee = _IdOrNone(field_name="assignee_id", help_text="User id, or 'none' for unassigned")
    channel = django_filters.NumberFilter(field_name="channel_id")
    channel_kind = django_filters.ChoiceFilter(field_name="channel__kind", choices=Channel.Kind.choices)
    customer = django_filters.NumberFilter(field_name="customer_id")
    organization = django_filters.NumberFilter(field_name="organization_id")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Tickets carrying this tag")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_q", help_text="Search subjects, messages and customers")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_tag(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        tags = Tag.objects.filter(name=value.strip().lower(), tickets=OuterRef("pk"))
        return qs.filter(Exists(tags))

    def filter_q(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return ticket_search(qs, value)


TICKET_EXAMPLE = {
    "number": 1042,
    "subject": "Cannot export my invoices",
    "status": "open",
    "priority": "normal",
    "channel": {"id": 1, "kind": "email", "name": "Support mailbox"},
    "customer": {"id": 77, "name": "Ada Lovelace"},
    "organization": {"id": 5, "name": "Analytical Engines Ltd"},
    "team": {"id": 2, "name": "Billing"},
    "assignee": {"id": 9, "username": "sam", "name": "Sam Agent"},
    "tags": ["billing", "export"],
    "language": "en",
    "sentiment": -0.2,
    "reopen_count": 0,
    "merged_into": None,
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:05:00Z",
    "first_response_at": "2026-11-23T10:05:00Z",
    "solved_at": None,
    "closed_at": None,
    "last_customer_activity_at": "2026-11-23T10:00:00Z",
    "last_agent_activity_at": "2026-11-23T10:05:00Z",
    "sla_first_response_due_at": "2026-11-23T14:00:00Z",
    "sla_resolution_due_at": "2026-11-25T10:00:00Z",
}

NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The ticket's number (#1042)")


@extend_schema_view(
    list=extend_schema(
        summary="List tickets",
        description="Tickets the acting user may see, newest activity first; filter, search (`q`) and order (`ordering`).",
        examples=[example("A page of tickets", [TICKET_EXAMPLE], list=True)],
    ),
    retrieve=extend_schema(
        summary="Get a ticket",
        description="Answers an `ETag`; send it back in `If-Match` when you change the ticket.",
        parameters=[NUMBER],
        examples=[example("A ticket", TICKET_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Create a ticket",
        description=(
            "A ticket for a customer (found or created by email) with their first message, routed like an "
            "email: the channel's default team, the rules, the SLA. Then `priority`, `team`, `assignee`, `tags` "
            "if given. Honours `Idempotency-Key`."
        ),
        request=TicketCreateSerializer,
        responses={201: TicketSerializer},
        examples=[
            example(
                "New ticket",
                {
                    "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
                    "subject": "Cannot export my invoices",
                    "message": {"text": "The export button does nothing."},
                    "priority": "high",
                    "tags": ["billing"],
                },
                request=True,
            ),
            example("Created", TICKET_EXAMPLE, status=201),
        ],
    ),
    partial_update=extend_schema(
        summary="Update a ticket",
        description=(
            "Change status, priority, team, assignee or tags (all or nothing; each change is recorded "
            "as an event). A refused status change (a closed ticket cannot reopen) is a 409 problem. "
            "`If-Match` is optional; when sent and stale, 412."
        ),
        parameters=[NUMBER],
        request=TicketUpdateSerializer,
        responses={200: TicketSerializer},
        examples=[
            example("Solve and tag", {"status": "solved", "tags": ["billing", "refund"]}, request=True),
            example("Updated", {**TICKET_EXAMPLE, "status": "solved", "tags": ["billing", "refund"]}),
        ],
    ),
)
class TicketViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin):
    api_resource = "tickets"
    visible = staticmethod(visible_ticket_rows)
    queryset = Ticket.objects.none()  # the schema generator's model; requests use ``visible``
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    lookup_field = "number"
    lookup_value_regex = r"\d+"
    ordering_fields = ("updated_at", "created_at", "number")
    ordering = ("-updated_at",)
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._valid(TicketCreateSerializer, request.data)
        key = request.auth if isinstance(request.auth, ApiKey) else None
        ticket = api_services.ticket_create_from_api(
            user=request.user,
            channel=data["channel"],
            email=data["customer"]["email"],
            name=data["customer"]["name"],
            subject=data["subject"],
            text=data["message"]["text"],
            html=data["message"]["html"],
            priority=data["priority"],
            team=data["team"],
            assignee=data["assignee"],
            tags=data["tags"],
            source={"api_key": key.prefix} if key else {"user": request.user.pk},
        )
        location = request.build_absolute_uri(f"/api/v1/tickets/{ticket.number}/")
        return self._ticket_response(ticket.pk, status=status.HTTP_201_CREATED, headers={"Location": location})

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_object()
        changes = self._valid(TicketUpdateSerializer, request.data)
        with transaction.atomic():
            ticket = self.check_if_match_locked(ticket)
            api_services.ticket_update_from_api(ticket=ticket, user=request.user, changes=changes)
        return self._ticket_response(ticket.pk)

    @extend_schema(
        summary="Merge a ticket into another",
        description="Moves this ticket's messages into `into` and closes this one. Refused (409) for a closed target or tickets of different private teams.",
        parameters=[NUMBER],
        request=TicketMergeSerializer,
        responses={200: TicketSerializer},
        examples=[example("Merge #1041 into #1042", {"into": 1042}, request=True), example("The target", TICKET_EXAMPLE)],
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        source = self.get_object()
        data = self._valid(TicketMergeSerializer, request.data)
        target = selectors.ticket_get_for_user(user=request.user, number=data["into"])
        if target is None:
            raise serializers.ValidationError({"into": [f"no ticket #{data['into']} that you can see"]})
        target = services.ticket_merge(source=source, target=target, actor=self.actor)
        return self._ticket_response(target.pk)

    @extend_schema(
        summary="Update many tickets",
        description=(
            "One action (assign, status, add_tag, remove_tag, merge) on up to 200 tickets, each in its own "
            "transaction: one refusal does not stop the others. Per-ticket results; tickets you cannot see are 'failed: not found'."
        ),
        request=TicketBulkSerializer,
        responses={200: BulkResultSerializer},
        examples=[
            example("Close three tickets", {"numbers": [1040, 1041, 1042], "action": "status", "status": "closed"}, request=True),
            example(
                "Results",
                {
                    "summary": "2 tickets updated, 1 not changed",
                    "results": [
                        {"number": 1040, "result": "changed", "detail": ""},
                        {"number": 1041, "result": "changed", "detail": ""},
                        {"number": 1042, "result": "failed", "detail": "not found"},
                    ],
                },
            ),
        ],
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def bulk(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._valid(TicketBulkSerializer, request.data)
        result = services.tickets_bulk_update(
            user=request.user,
            numbers=data["numbers"],
            action=data["action"],
            assignee=data["assignee"],
            status=data["status"],
            tag=data["tag"],
            merge_target=data["merge_into"],
        )
        failed = dict(result.failed)
        results = []
        for number in dict.fromkeys(data["numbers"]):
            if number in failed:
                results.append({"number": number, "result": "failed", "detail": failed[number]})
            elif number in result.changed:
                results.append({"number": number, "result": "changed", "detail": ""})
            elif number in result.unchanged:
                results.append({"number": number, "result": "unchanged", "detail": ""})
        return Response({"summary": result.summary, "results": results})

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _ticket_response(self, pk: int, **kwargs: Any) -> Response:
        """The ticket as it is now. Read without the visibility filter: whoever just made or
        changed it knows it, even if routing or their change moved it into a private team."""
        ticket = (
            Ticket.objects.select_related("channel", "customer", "organization", "team", "assignee", "assignee__agent")
            .defer(*UNSHOWN_RELATED_FIELDS)
            .prefetch_related("tags")
            .get(pk=pk)
        )
        self.etag_object = ticket
        return Response(TicketSerializer(ticket).data, **kwargs)
