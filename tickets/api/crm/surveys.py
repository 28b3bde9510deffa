"""Survey responses (CSAT, NPS, CES): list and filter them, record one.

Reads are limited as the workspace limits tickets: answers about tickets the acting user
cannot see are left out (and answers without a ticket, from an NPS campaign, follow their
customer's visibility). Recording goes through ``survey_response_record`` with source
``api``: a second answer for the same ticket and kind replaces the first, and the ticket's
``survey_answered`` event feeds metrics, rules and webhooks.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from tickets import selectors as workspace_selectors
from tickets.api.base import ApiViewSet
from tickets.api.crm import selectors
from tickets.api.crm.common import IdFilter, NestedListApi, int_or_404
from tickets.api.crm.customers import CustomerParent, customer_or_404
from tickets.api.problems import Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.serializers.tickets import NamedRefSerializer


def _model() -> Any:
    from metrics.surveys.models import SurveyResponse

    return SurveyResponse


class SurveyResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="csat (1-5), nps (0-10) or ces (1-7)")
    score = serializers.IntegerField()
    comment = serializers.CharField()
    source = serializers.CharField(help_text="email, widget, social, web or api")
    ticket = serializers.SerializerMethodField(help_text="The ticket's number, or null (an NPS campaign's answer)")
    customer = NamedRefSerializer()
    answered_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_ticket(self, response: Any) -> int | None:
        return response.ticket.number if response.ticket_id else None


class SurveyResponseInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("csat", "CSAT"), ("nps", "NPS"), ("ces", "CES")])
    score = serializers.IntegerField(help_text="csat 1-5, nps 0-10, ces 1-7")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    ticket = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="The ticket's number")
    customer = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Customer id; default: the ticket's customer"
    )
    answered_at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="Default: now")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        from metrics.surveys.services import survey_scale_check

        if data["ticket"] is None and data["customer"] is None:
            raise serializers.ValidationError("A survey response needs a ticket or a customer.")
        try:
            survey_scale_check(kind=data["kind"], score=data["score"])
        except ValueError as exc:
            raise serializers.ValidationError({"score": str(exc)}) from None
        return data


class SurveyResponseFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=[("csat", "CSAT"), ("nps", "NPS"), ("ces", "CES")])
    source = filters.CharFilter()
    score_min = IdFilter(field_name="score", lookup_expr="gte", max_value=10)
    score_max = IdFilter(field_name="score", lookup_expr="lte", max_value=10)
    customer = IdFilter(field_name="customer_id", label="Customer id")
    ticket = IdFilter(field_name="ticket__number", label="Ticket number")
    answered_after = filters.IsoDateTimeFilter(field_name="answered_at", lookup_expr="gte")
    answered_before = filters.IsoDateTimeFilter(field_name="answered_at", lookup_expr="lt")

    class Meta:
        fields: list[str] = []


RESPONSE_EXAMPLE = {
    "id": 5,
    "kind": "csat",
    "score": 5,
    "comment": "Quick and kind.",
    "source": "email",
    "ticket": 1042,
    "customer": {"id": 12, "name": "Ada Lovelace"},
    "answered_at": "2026-11-23T12:00:00Z",
    "created_at": "2026-11-23T12:00:00Z",
    "updated_at": "2026-11-23T12:00:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="List survey responses",
        description="Newest first; answers about tickets you cannot see are left out.",
        examples=[example("A page of responses", [RESPONSE_EXAMPLE], list=True)],
    ),
    retrieve=extend_schema(summary="One survey response", examples=[example("A response", RESPONSE_EXAMPLE)]),
    create=extend_schema(
        summary="Record a survey answer",
        description="Source `api`. A second answer of the same kind for the same ticket replaces the first "
        "(answered 200 rather than 201).",
        request=SurveyResponseInputSerializer,
        responses={201: SurveyResponseSerializer, 200: SurveyResponseSerializer},
        examples=[
            example("A CSAT rating", {"kind": "csat", "ticket": 1042, "score": 5, "comment": "Quick and kind."}, request=True),
            example("Recorded", {**RESPONSE_EXAMPLE, "source": "api"}, status=201),
        ],
    ),
)
class SurveyResponseViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "surveys"
    serializer_class = SurveyResponseSerializer
    filterset_class = SurveyResponseFilter
    ordering_fields = ("answered_at", "score")
    ordering = ("-answered_at",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return _model().objects.none()
        return selectors.survey_responses_for_api(user=self.request.user)

    def get_object(self) -> Any:
        pk = int_or_404(self.kwargs.get("pk"), "survey response")
        response = self.get_queryset().filter(pk=pk).first()
        if response is None:
            raise Problem(404, "not-found", "Not Found", f"No survey response {pk} that you can see.")
        self.etag_object = response
        return response

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        from metrics.surveys.services import survey_response_record

        serializer = SurveyResponseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ticket_id = customer_id = None
        if data["ticket"] is not None:
            ticket = workspace_selectors.ticket_get_for_user(user=request.user, number=data["ticket"])
            if ticket is None:
                raise Problem(404, "not-found", "Not Found", f"No ticket {data['ticket']} that you can see.")
            ticket_id = ticket.pk
        if data["customer"] is not None:
            customer_id = customer_or_404(request.user, data["customer"]).pk
            if ticket_id is not None and customer_id != ticket.customer_id:
                raise serializers.ValidationError({"customer": ["This is not the ticket's customer; leave it out."]})
        existed = (
            ticket_id is not None and _model().objects.filter(ticket_id=ticket_id, kind=data["kind"]).exists()
        )
        try:
            response = survey_response_record(
                ticket_id=ticket_id,
                customer_id=customer_id,
                kind=data["kind"],
                score=data["score"],
                comment=data["comment"],
                source="api",
                at=data["answered_at"],
            )
        except ValueError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from None
        fresh = selectors.survey_responses_for_api(user=request.user).filter(pk=response.pk).first() or response
        self.etag_object = fresh
        return Response(
            SurveyResponseSerializer(fresh).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )


@extend_schema_view(
    get=extend_schema(
        summary="A customer's survey answers",
        description="CSAT, NPS and CES answers, newest first; answers about tickets you cannot see are left out. "
        "Needs `surveys:read`.",
        examples=[example("A page of answers", [RESPONSE_EXAMPLE], list=True)],
    )
)
class CustomerSurveyResponseListApi(CustomerParent, NestedListApi):
    api_resource = "customers"
    api_scopes = {"get": "surveys:read"}
    serializer_class = SurveyResponseSerializer
    filterset_class = SurveyResponseFilter
    ordering_fields = ("answered_at", "score")
    ordering = ("-answered_at",)

    @property
    def model(self) -> Any:  # type: ignore[override]
        return _model()

    def rows(self, parent: Any) -> QuerySet:
        return selectors.survey_responses_for_api(user=self.request.user).filter(customer=parent)
