"""Organizations: CRUD, their customers and their tickets.

Every staff member may read organizations (their names are offered in the customer form);
their customers and tickets are filtered by the acting user's visibility. Creating and
editing needs ``tickets.add_organization`` / ``change_organization`` (managers and
admins); deleting ``delete_organization`` (admins), and only an organization nobody
belongs to.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db import transaction
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from tickets import services
from tickets.api.base import ApiViewSet
from tickets.api.crm import selectors
from tickets.api.crm.common import (
    NestedListApi,
    TicketListApi,
    int_or_404,
    require_perm,
)
from tickets.api.crm.customers import CUSTOMER_EXAMPLE, CustomerSerializer
from tickets.api.crm.services import (
    RecordInUse,
    organization_create,
    organization_delete,
)
from tickets.api.problems import Conflict, Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.views.tickets import TICKET_EXAMPLE
from tickets.forms_customers import OrganizationForm
from tickets.models import Customer, Organization, Ticket

ADD_ORGANIZATION = "tickets.add_organization"
CHANGE_ORGANIZATION = "tickets.change_organization"
DELETE_ORGANIZATION = "tickets.delete_organization"


class OrganizationSerializer(serializers.ModelSerializer):
    domains = serializers.SerializerMethodField()
    customer_count = serializers.IntegerField(read_only=True, default=0, help_text="Live customers in it")

    class Meta:
        model = Organization
        fields = ["id", "name", "notes", "domains", "custom_attributes", "customer_count", "created_at"]
        read_only_fields = fields

    def get_domains(self, organization: Organization) -> list[str]:
        return sorted(d.domain for d in organization.domains.all())


class OrganizationInputSerializer(serializers.Serializer):
    """Validated by the organization page's own form (names, domains), so both say the same."""

    name = serializers.CharField(max_length=200, allow_blank=True)
    notes = serializers.CharField(max_length=20_000, allow_blank=True, required=False, default="", trim_whitespace=False)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        default=list,
        max_length=100,
        help_text="Email domains (acme.com): new customers writing from them join this organization",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        form = OrganizationForm(
            {"name": data.get("name", ""), "notes": data.get("notes", ""), "domains": "\n".join(data.get("domains", []))}
        )
        if not form.is_valid():
            raise serializers.ValidationError({f: [str(e) for e in errors] for f, errors in form.errors.items()})
        return form.cleaned_data


class OrganizationFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search names and domains (contains)")
    domain = filters.CharFilter(field_name="domains__domain", lookup_expr="iexact", label="Exactly this email domain")

    class Meta:
        model = Organization
        fields: list[str] = []

    def search(self, qs: QuerySet[Organization], name: str, value: str) -> QuerySet[Organization]:
        return selectors.organization_search(qs, value[:200])


ORGANIZATION_EXAMPLE = {
    "id": 3,
    "name": "Analytical Engines Ltd",
    "notes": "Enterprise plan since 2024.",
    "domains": ["engines.example"],
    "custom_attributes": {},
    "customer_count": 14,
    "created_at": "2026-01-10T08:00:00Z",
}


def organization_or_404(organization_id: Any) -> Organization:
    pk = int_or_404(organization_id, "organization")
    organization = selectors.organizations_for_api().filter(pk=pk).first()
    if organization is None:
        raise Problem(404, "not-found", "Not Found", f"No organization {pk}.")
    return organization


@extend_schema_view(
    list=extend_schema(
        summary="List and search organizations",
        examples=[example("A page of organizations", [ORGANIZATION_EXAMPLE], list=True)],
    ),
    retrieve=extend_schema(summary="One organization", examples=[example("An organization", ORGANIZATION_EXAMPLE)]),
    create=extend_schema(
        summary="Create an organization",
        request=OrganizationInputSerializer,
        responses={201: OrganizationSerializer},
        examples=[
            example("With a domain", {"name": "Analytical Engines Ltd", "domains": ["engines.example"]}, request=True),
            example("Created", ORGANIZATION_EXAMPLE, status=201),
        ],
    ),
    update=extend_schema(
        summary="Replace an organization's name, notes and domains",
        request=OrganizationInputSerializer,
        responses=OrganizationSerializer,
        examples=[
            example("Every field", {"name": "Analytical Engines Ltd", "notes": "", "domains": ["engines.example"]}, request=True),
            example("Saved", ORGANIZATION_EXAMPLE),
        ],
    ),
    partial_update=extend_schema(
        summary="Change an organization's name, notes or domains",
        request=OrganizationInputSerializer,
        responses=OrganizationSerializer,
        examples=[example("Add a domain", {"domains": ["engines.example", "engines.test"]}, request=True), example("Saved", ORGANIZATION_EXAMPLE)],
    ),
    destroy=extend_schema(
        summary="Delete an empty organization",
        description="Administrators only; an organization with customers or tickets is refused (409).",
        responses={204: None},
    ),
)
class OrganizationViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "organizations"
    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilter
    ordering_fields = ("name", "created_at")
    ordering = ("name",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = Organization.objects.none()

    def get_queryset(self) -> QuerySet[Organization]:
        if getattr(self, "swagger_fake_view", False):
            return Organization.objects.none()
        return selectors.organizations_for_api()

    def get_object(self) -> Organization:
        organization = organization_or_404(self.kwargs.get("pk"))
        self.check_if_match(organization)
        self.etag_object = organization
        return organization

    def _answer(self, organization_id: int, *, status_code: int = 200) -> Response:
        fresh = organization_or_404(organization_id)
        self.etag_object = fresh
        headers = {"Location": f"/api/v1/organizations/{organization_id}/"} if status_code == 201 else {}
        return Response(OrganizationSerializer(fresh).data, status=status_code, headers=headers)

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_perm(request.user, ADD_ORGANIZATION)
        serializer = OrganizationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = organization_create(actor=self.actor, **serializer.validated_data)
        return self._answer(organization.pk, status_code=status.HTTP_201_CREATED)

    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_perm(request.user, CHANGE_ORGANIZATION)
        organization = self.get_object()
        partial = kwargs.get("partial", False)
        current = {
            "name": organization.name,
            "notes": organization.notes,
            "domains": sorted(d.domain for d in organization.domains.all()),
        }
        body = {**current, **request.data} if partial and isinstance(request.data, dict) else request.data
        serializer = OrganizationInputSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = self.check_if_match_locked(organization)
            services.organization_update(organization=locked, actor=self.actor, **{**current, **serializer.validated_data})
        return self._answer(organization.pk)

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_perm(request.user, DELETE_ORGANIZATION)
        organization = self.get_object()
        try:
            with transaction.atomic():
                organization_delete(organization=self.check_if_match_locked(organization), actor=self.actor)
        except RecordInUse as exc:
            raise Conflict(str(exc), slug="organization-in-use") from None
        self.etag_object = None
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationParent:
    """For views under ``/organizations/{pk}/``."""

    def parent_or_404(self, user: Any, pk: Any) -> Organization:
        return organization_or_404(pk)


@extend_schema_view(
    get=extend_schema(
        summary="An organization's customers",
        description="The customers you can see. Needs `customers:read`.",
        examples=[example("A page of customers", [CUSTOMER_EXAMPLE], list=True)],
    )
)
class OrganizationCustomerListApi(OrganizationParent, NestedListApi):
    api_resource = "organizations"
    api_scopes = {"get": "customers:read"}
    model = Customer
    serializer_class = CustomerSerializer
    ordering_fields = ("name", "created_at", "updated_at")
    ordering = ("name",)

    def rows(self, parent: Organization) -> QuerySet[Customer]:
        return selectors.organization_customers_for_api(user=self.request.user, organization=parent)


@extend_schema_view(
    get=extend_schema(
        summary="An organization's tickets",
        description="The tickets you can see, newest first. Needs `tickets:read`.",
        examples=[example("A page of tickets", [TICKET_EXAMPLE], list=True)],
    )
)
class OrganizationTicketListApi(OrganizationParent, TicketListApi):
    api_resource = "organizations"

    def rows(self, parent: Organization) -> QuerySet[Ticket]:
        return selectors.organization_tickets_for_api(user=self.request.user, organization=parent)
