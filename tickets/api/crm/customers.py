"""Customers: the CRM record, merges and history (identities: identities.py).

Visibility is the workspace's (``visible_customers``): a customer known only through a
private team's tickets is a 404 for outsiders, like the tickets. Changes need the
workspace's permissions (tickets/roles.py): agents create and edit customers and add
identities; deleting a customer or an identity is for administrators.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db import transaction
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from tickets import services
from tickets.api.base import ApiView, ApiViewSet
from tickets.api.crm import selectors
from tickets.api.crm.common import (
    IdFilter,
    TicketListApi,
    clean_attributes,
    int_or_404,
    require_perm,
)
from tickets.api.crm.services import (
    IdentityTaken,
    RecordInUse,
    customer_create,
    customer_delete,
)
from tickets.api.problems import Conflict, Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.serializers.tickets import NamedRefSerializer
from tickets.api.views.tickets import TICKET_EXAMPLE
from tickets.forms_customers import CustomerForm
from tickets.models import Customer, CustomerIdentity, Organization, Ticket

ADD_CUSTOMER = "tickets.add_customer"
CHANGE_CUSTOMER = "tickets.change_customer"
DELETE_CUSTOMER = "tickets.delete_customer"

# --- Serializers ---------------------------------------------------------------------


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerIdentity
        fields = ["id", "kind", "address", "display_name", "is_verified", "created_at"]
        read_only_fields = fields


class IdentityInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CustomerIdentity.Kind.choices)
    address = serializers.CharField(max_length=320, help_text="Email address, phone number, or the platform's user id")
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_verified = serializers.BooleanField(
        required=False, default=False, help_text="Only for addresses your system has verified (a confirmed email)."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        address = services.normalise_address(data["kind"], data["address"])
        if not address:
            raise serializers.ValidationError({"address": "This address is empty once normalised."})
        if data["kind"] == CustomerIdentity.Kind.EMAIL:
            try:
                serializers.EmailField().run_validation(address)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"address": exc.detail}) from None
        return data


class CustomerSerializer(serializers.ModelSerializer):
    """A customer as the API shows it."""

    organization = NamedRefSerializer(allow_null=True, read_only=True)
    identities = IdentitySerializer(many=True, read_only=True)
    ticket_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Their tickets you can see (merged tickets not counted)"
    )

    class Meta:
        model = Customer
        fields = [
            "id", "name", "organization", "tier", "language", "time_zone", "notes", "custom_attributes",
            "identities", "ticket_count", "first_seen_at", "last_seen_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


def _organization(value: int | None) -> Organization | None:
    if value is None:
        return None
    organization = Organization.objects.filter(pk=value).first()
    if organization is None:
        raise serializers.ValidationError(f"no organization with id {value}")
    return organization


def _checked_by_form(name: str, value: str) -> str:
    """One field checked by the customer page's own form, so both refuse the same values
    with the same words (a language code, a time zone Python knows)."""
    form = CustomerForm({"tier": Customer.Tier.STANDARD, name: value})
    form.is_valid()
    if name in form.errors:
        raise serializers.ValidationError([str(e) for e in form.errors[name]])
    return form.cleaned_data[name]


class CustomerUpdateSerializer(serializers.Serializer):
    """Fields of the CRM record (PUT: all of them; PATCH: any)."""

    name = serializers.CharField(max_length=200, allow_blank=True)
    organization = serializers.IntegerField(allow_null=True, help_text="Organization id, or null for none")
    tier = serializers.ChoiceField(choices=Customer.Tier.choices)
    language = serializers.CharField(max_length=16, allow_blank=True, help_text="A language code such as en or pt-BR")
    time_zone = serializers.CharField(max_length=64, allow_blank=True, help_text="An IANA name such as Europe/Paris")
    notes = serializers.CharField(max_length=20_000, allow_blank=True, trim_whitespace=False)
    custom_attributes = serializers.DictField(
        help_text="Up to 50 attributes: a name (a letter, then letters, digits, spaces, . - _) to text, a number, true/false or null"
    )

    def validate_organization(self, value: int | None) -> Organization | None:
        return _organization(value)

    def validate_custom_attributes(self, value: Any) -> dict[str, Any]:
        return clean_attributes(value)

    def validate_language(self, value: str) -> str:
        return _checked_by_form("language", value)

    def validate_time_zone(self, value: str) -> str:
        return _checked_by_form("time_zone", value)


class CustomerCreateSerializer(CustomerUpdateSerializer):
    name = serializers.CharField(max_length=200)
    organization = serializers.IntegerField(allow_null=True, required=False, default=None)
    tier = serializers.ChoiceField(choices=Customer.Tier.choices, required=False, default=Customer.Tier.STANDARD)
    language = serializers.CharField(max_length=16, allow_blank=True, required=False, default="")
    time_zone = serializers.CharField(max_length=64, allow_blank=True, required=False, default="")
    notes = serializers.CharField(max_length=20_000, allow_blank=True, required=False, default="", trim_whitespace=False)
    custom_attributes = serializers.DictField(required=False, default=dict)
    identities = IdentityInputSerializer(many=True, required=False, default=list, max_length=20)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A customer needs a name.")
        return value

    def validate_identities(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = set()
        for item in value:
            key = (item["kind"], services.normalise_address(item["kind"], item["address"]))
            if key in seen:
                raise serializers.ValidationError(f"{key[0]} {key[1]} is listed twice.")
            seen.add(key)
        return value


class MergeSerializer(serializers.Serializer):
    source = serializers.IntegerField(min_value=1, help_text="The duplicate record, folded into this one and then gone")


# --- Filters -------------------------------------------------------------------------


class CustomerFilter(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search name, organization or any address (contains)")
    email = filters.CharFilter(method="by_email", label="Exactly this email address")
    organization = IdFilter(field_name="organization_id", label="Organization id")
    tier = filters.ChoiceFilter(choices=Customer.Tier.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    updated_after = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, qs: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return selectors.customer_search(qs, value[:200])

    def by_email(self, qs: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return selectors.customer_with_address(qs, address=value[:320], kind=CustomerIdentity.Kind.EMAIL)


# --- Examples ------------------------------------------------------------------------

IDENTITY_EXAMPLE = {
    "id": 31,
    "kind": "email",
    "address": "ada@example.com",
    "display_name": "Ada Lovelace",
    "is_verified": True,
    "created_at": "2026-11-02T09:14:00Z",
}
CUSTOMER_EXAMPLE = {
    "id": 12,
    "name": "Ada Lovelace",
    "organization": {"id": 3, "name": "Analytical Engines Ltd"},
    "tier": "vip",
    "language": "en",
    "time_zone": "Europe/London",
    "notes": "Prefers email.",
    "custom_attributes": {"plan": "enterprise", "seats": 40},
    "identities": [IDENTITY_EXAMPLE],
    "ticket_count": 4,
    "first_seen_at": "2026-11-02T09:14:00Z",
    "last_seen_at": "2026-11-23T10:00:00Z",
    "created_at": "2026-11-02T09:14:00Z",
    "updated_at": "2026-11-23T10:02:11Z",
}
# --- Views ---------------------------------------------------------------------------


def customer_or_404(user: Any, customer_id: Any) -> Customer:
    """A customer the user may see, or a 404 problem; an id merged away names its survivor
    (``merged_into``) when the user may see that one."""
    pk = int_or_404(customer_id, "customer")
    customer = selectors.customer_for_api(user=user, customer_id=pk)
    if customer is not None:
        return customer
    survivor = selectors.customer_merged_into(customer_id=pk)
    if survivor and selectors.customer_for_api(user=user, customer_id=survivor) is not None:
        raise Problem(404, "merged", "Not Found", f"Customer {pk} was merged into customer {survivor}.", merged_into=survivor)
    raise Problem(404, "not-found", "Not Found", f"No customer {pk} that you can see.")


def _current_values(customer: Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "organization": customer.organization,
        "tier": customer.tier,
        "language": customer.language,
        "time_zone": customer.time_zone,
        "notes": customer.notes,
        "custom_attributes": customer.custom_attributes if isinstance(customer.custom_attributes, dict) else {},
    }


@extend_schema_view(
    list=extend_schema(
        summary="List and search customers",
        description="Customers you can see, by name by default. `q` searches names, organizations and addresses.",
        examples=[example("A page of customers", [CUSTOMER_EXAMPLE], list=True)],
    ),
    retrieve=extend_schema(summary="One customer", examples=[example("A customer", CUSTOMER_EXAMPLE)]),
    create=extend_schema(
        summary="Create a customer",
        request=CustomerCreateSerializer,
        responses={201: CustomerSerializer},
        examples=[
            example(
                "A customer with an email",
                {"name": "Ada Lovelace", "organization": 3, "tier": "vip",
                 "identities": [{"kind": "email", "address": "ada@example.com", "is_verified": True}]},
                request=True,
            ),
            example("Created", CUSTOMER_EXAMPLE, status=201),
        ],
    ),
    update=extend_schema(
        summary="Replace a customer's record",
        request=CustomerUpdateSerializer,
        responses=CustomerSerializer,
        examples=[
            example(
                "Every field",
                {"name": "Ada Lovelace", "organization": 3, "tier": "vip", "language": "en", "time_zone": "Europe/London",
                 "notes": "Prefers email.", "custom_attributes": {"plan": "enterprise"}},
                request=True,
            ),
            example("Saved", CUSTOMER_EXAMPLE),
        ],
    ),
    partial_update=extend_schema(
        summary="Change some of a customer's fields",
        request=CustomerUpdateSerializer,
        responses=CustomerSerializer,
        examples=[example("Make VIP", {"tier": "vip"}, request=True), example("Saved", CUSTOMER_EXAMPLE)],
    ),
    destroy=extend_schema(
        summary="Delete a customer without history",
        description="Administrators only. A customer with tickets, survey answers or merged records is refused "
        "(409): merge duplicates instead.",
        responses={204: None},
    ),
)
class CustomerViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "customers"
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("name", "created_at", "updated_at")
    ordering = ("name",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = Customer.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self) -> QuerySet[Customer]:
        if getattr(self, "swagger_fake_view", False):
            return Customer.objects.none()
        return selectors.customers_for_api(user=self.request.user)

    def get_object(self) -> Customer:
        customer = customer_or_404(self.request.user, self.kwargs.get("pk"))
        self.check_object_permissions(self.request, customer)
        self.check_if_match(customer)
        self.etag_object = customer
        return customer

    def _answer(self, customer_id: int, *, status_code: int = 200) -> Response:
        fresh = selectors.customer_for_api(user=self.request.user, customer_id=customer_id)
        self.etag_object = fresh
        headers = {"Location": f"/api/v1/customers/{customer_id}/"} if status_code == 201 else {}
        return Response(CustomerSerializer(fresh).data, status=status_code, headers=headers)

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_perm(request.user, ADD_CUSTOMER)
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            customer = customer_create(actor=self.actor, **serializer.validated_data)
        except IdentityTaken as exc:
            raise Conflict(str(exc), slug="identity-taken") from None
        return self._answer(customer.pk, status_code=status.HTTP_201_CREATED)

    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_perm(request.user, CHANGE_CUSTOMER)
        customer = self.get_object()
        serializer = CustomerUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = self.check_if_match_locked(customer)
            services.customer_update(
                customer=locked,
                actor=self.actor,
                **{**_current_values(locked), **serializer.validated_data},
                expected_updated_at=locked.updated_at,
            )
        return self._answer(customer.pk)

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_perm(request.user, DELETE_CUSTOMER)
        customer = self.get_object()
        try:
            with transaction.atomic():
                customer_delete(customer=self.check_if_match_locked(customer), actor=self.actor)
        except RecordInUse as exc:
            raise Conflict(str(exc), slug="customer-in-use") from None
        self.etag_object = None
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerMergeApi(ApiView):
    """POST /customers/{id}/merge/ — fold the ``source`` record into this one."""

    api_resource = "customers"
    serializer_class = MergeSerializer

    @extend_schema(
        summary="Merge a duplicate into this customer",
        description="The `source` customer's identities, tickets and messages move to this one; `source` is then "
        "gone (asking for it answers 404 naming this customer). Notes and attributes are combined.",
        request=MergeSerializer,
        responses=CustomerSerializer,
        examples=[example("Merge customer 15 into 12", {"source": 15}, request=True), example("The survivor", CUSTOMER_EXAMPLE)],
    )
    def post(self, request: Any, pk: int) -> Response:
        require_perm(request.user, CHANGE_CUSTOMER)
        target = customer_or_404(request.user, pk)
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = customer_or_404(request.user, serializer.validated_data["source"])
        survivor = services.customer_merge(source=source, target=target, actor=self.actor)
        fresh = selectors.customer_for_api(user=request.user, customer_id=survivor.pk)
        self.etag_object = fresh
        return Response(CustomerSerializer(fresh).data)


class CustomerParent:
    """For views under ``/customers/{pk}/``: the customer, visible to the user, or a 404."""

    def parent_or_404(self, user: Any, pk: Any) -> Customer:
        return customer_or_404(user, pk)


@extend_schema_view(
    get=extend_schema(
        summary="A customer's tickets (their history)",
        description="Only the tickets you can see: a private team's tickets are left out for outsiders. "
        "Needs `tickets:read`.",
        examples=[example("A page of tickets", [TICKET_EXAMPLE], list=True)],
    )
)
class CustomerTicketListApi(CustomerParent, TicketListApi):
    api_resource = "customers"

    def rows(self, parent: Customer) -> QuerySet[Ticket]:
        return selectors.customer_tickets_for_api(user=self.request.user, customer=parent)
