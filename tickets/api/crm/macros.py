"""Macros: the ones the acting user's reply box offers, and applying one to a ticket.

Listed as the reply box lists them: every active shared macro and the user's own.
Applying one is the reply box's Send with that macro (``macro_apply``): the body with its
placeholders filled in for the ticket, posted as a reply or a note as the macro says, and
the macro's actions, all in one transaction. It needs ``tickets:write``.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.response import Response

from tickets import selectors as workspace_selectors
from tickets import services
from tickets.api.base import ApiView, ApiViewSet
from tickets.api.crm import selectors
from tickets.api.crm.common import int_or_404
from tickets.api.crm.customers import TICKET_EXAMPLE
from tickets.api.problems import Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.serializers.messages import MessageSerializer
from tickets.api.serializers.tickets import NamedRefSerializer, TicketSerializer
from tickets.models import Macro, Ticket
from tickets.placeholders import render_placeholders


class MacroSerializer(serializers.ModelSerializer):
    is_shared = serializers.BooleanField(read_only=True, help_text="Offered to every agent (else your own)")
    set_team = NamedRefSerializer(allow_null=True, read_only=True)

    class Meta:
        model = Macro
        fields = [
            "id", "name", "body", "is_note", "is_shared", "set_status", "set_priority", "set_team", "add_tags",
            "assign_to_me", "usage_count", "updated_at",
        ]
        read_only_fields = fields


class MacroApplySerializer(serializers.Serializer):
    ticket = serializers.IntegerField(min_value=1, help_text="The ticket's number")
    text = serializers.CharField(
        required=False, allow_blank=True, max_length=100_000, trim_whitespace=False,
        help_text="The text to send instead of the macro's body (placeholders are filled in as well); "
        "empty: only the actions run",
    )
    is_note = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="Default: the macro's own choice")
    status = serializers.ChoiceField(
        choices=Ticket.Status.choices, required=False, allow_null=True, default=None,
        help_text="Default: the macro's own status, if any",
    )


class MacroApplyResultSerializer(serializers.Serializer):
    message = MessageSerializer(allow_null=True, help_text="The reply or note posted, if the text was not empty")
    ticket = TicketSerializer(allow_null=True, help_text="The ticket afterwards (null if the macro moved it out of your sight)")


class MacroFilter(filters.FilterSet):
    shared = filters.BooleanFilter(field_name="owner", lookup_expr="isnull", label="true: shared; false: your own")
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Macro
        fields: list[str] = []


MACRO_EXAMPLE = {
    "id": 4,
    "name": "Refund issued",
    "body": "Hello {{ customer.first_name|default:\"there\" }}, your refund for ticket #{{ ticket.number }} is on its way.",
    "is_note": False,
    "is_shared": True,
    "set_status": "solved",
    "set_priority": "",
    "set_team": None,
    "add_tags": ["refund"],
    "assign_to_me": True,
    "usage_count": 31,
    "updated_at": "2026-11-01T09:00:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="List your macros",
        description="Active shared macros and your own, as your reply box offers them.",
        examples=[example("A page of macros", [MACRO_EXAMPLE], list=True)],
    ),
    retrieve=extend_schema(summary="One macro", examples=[example("A macro", MACRO_EXAMPLE)]),
)
class MacroViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "macros"
    serializer_class = MacroSerializer
    filterset_class = MacroFilter
    ordering_fields = ("name", "usage_count", "updated_at")
    ordering = ("name",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = Macro.objects.none()

    def get_queryset(self) -> QuerySet[Macro]:
        if getattr(self, "swagger_fake_view", False):
            return Macro.objects.none()
        return selectors.macros_for_api(user=self.request.user)


class MacroApplyApi(ApiView):
    api_resource = "macros"
    api_scopes = {"post": "tickets:write"}
    serializer_class = MacroApplySerializer

    @extend_schema(
        summary="Apply a macro to a ticket",
        description="Posts the macro's body (placeholders filled in for the ticket: unknown ones are dropped, since "
        "nobody reviews the text) as a reply or a note as the macro says, then runs its actions. All or nothing: an "
        "action the ticket refuses (a closed ticket's status) answers 409 and nothing is written. Needs `tickets:write`.",
        request=MacroApplySerializer,
        responses=MacroApplyResultSerializer,
        examples=[
            example("Apply to ticket 1042", {"ticket": 1042}, request=True),
            example(
                "Applied",
                {
                    "message": {
                        "id": 5121, "direction": "outbound",
                        "author": {"kind": "agent", "name": "Grace Hopper", "customer_id": None, "user_id": 7},
                        "subject": "[#1042] Re: Cannot export my invoices",
                        "text": "Hello Ada, your refund for ticket #1042 is on its way.", "html": "",
                        "to": ["ada@example.com"], "cc": [], "is_auto_reply": False, "delivery_status": "queued",
                        "delivery_error": "", "sent_at": None, "edited_at": None, "deleted_at": None,
                        "created_at": "2026-11-23T10:06:00Z", "attachments": [],
                    },
                    "ticket": {**TICKET_EXAMPLE, "status": "solved", "tags": ["billing", "refund"]},
                },
            ),
        ],
    )
    def post(self, request: Any, pk: int) -> Response:
        macro = selectors.macros_for_api(user=request.user).filter(pk=int_or_404(pk, "macro")).first()
        if macro is None:
            raise Problem(404, "not-found", "Not Found", f"No macro {pk} that you can use.")
        serializer = MacroApplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ticket = workspace_selectors.ticket_get_for_user(user=request.user, number=data["ticket"])
        if ticket is None:
            raise Problem(404, "not-found", "Not Found", f"No ticket {data['ticket']} that you can see.")
        text = render_placeholders(data.get("text", macro.body), ticket=ticket, agent=request.user, keep_unknown=False)
        message = services.macro_apply(
            macro=macro, ticket=ticket, user=request.user, text=text, is_note=data["is_note"], status=data["status"]
        )
        fresh = workspace_selectors.ticket_get_for_user(user=request.user, number=ticket.number)
        result = {
            "message": MessageSerializer(message, context={"request": request}).data if message is not None else None,
            "ticket": TicketSerializer(fresh).data if fresh is not None else None,
        }
        return Response(result)
