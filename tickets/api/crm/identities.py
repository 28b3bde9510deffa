"""A customer's identities: list, add, remove, and move one to another customer.

Adding needs ``tickets.add_customeridentity`` (agents and up); removing
``delete_customeridentity`` (administrators); moving ``change_customer``, as on the
customer page. The address is normalised the way the pipeline matches incoming messages.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.response import Response

from tickets import services
from tickets.api.crm import selectors
from tickets.api.crm.common import NestedListApi, ParentApi, int_or_404, require_perm
from tickets.api.crm.customers import (
    CHANGE_CUSTOMER,
    IDENTITY_EXAMPLE,
    CustomerParent,
    IdentityInputSerializer,
    IdentitySerializer,
    customer_or_404,
)
from tickets.api.crm.services import (
    IdentityTaken,
    RecordInUse,
    customer_identity_add,
    customer_identity_remove,
)
from tickets.api.problems import Conflict, Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.models import Customer, CustomerIdentity

ADD_IDENTITY = "tickets.add_customeridentity"
DELETE_IDENTITY = "tickets.delete_customeridentity"


class IdentityMoveSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, help_text="The customer who holds this identity from now on")


class IdentityFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=CustomerIdentity.Kind.choices)

    class Meta:
        model = CustomerIdentity
        fields: list[str] = []


@extend_schema_view(
    get=extend_schema(
        summary="A customer's identities",
        examples=[example("A page of identities", [IDENTITY_EXAMPLE], list=True)],
    ),
    post=extend_schema(
        summary="Add an identity to a customer",
        description="The address is normalised (emails lower-case, phone numbers digits only). An address another "
        "customer holds is refused (409 `identity-taken`): move it instead.",
        request=IdentityInputSerializer,
        responses={201: IdentitySerializer},
        examples=[
            example("A phone number", {"kind": "phone", "address": "+44 20 7946 0018"}, request=True),
            example("Added", {**IDENTITY_EXAMPLE, "kind": "phone", "address": "+442079460018"}, status=201),
        ],
    ),
)
class CustomerIdentityListApi(CustomerParent, NestedListApi):
    api_resource = "customers"
    model = CustomerIdentity
    serializer_class = IdentitySerializer
    filterset_class = IdentityFilter
    ordering_fields = ("id", "kind", "address", "created_at")
    ordering = ("id",)

    def rows(self, parent: Customer) -> QuerySet[CustomerIdentity]:
        return selectors.identities_of(customer=parent)

    def post(self, request: Any, pk: int) -> Response:
        require_perm(request.user, ADD_IDENTITY)
        serializer = IdentityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            identity = customer_identity_add(customer=self.parent, actor=self.actor, **serializer.validated_data)
        except IdentityTaken as exc:
            raise Conflict(str(exc), slug="identity-taken") from None
        except RecordInUse as exc:
            raise Conflict(str(exc)) from None
        return Response(IdentitySerializer(identity).data, status=status.HTTP_201_CREATED)


def _identity_or_404(customer: Customer, identity_id: Any) -> CustomerIdentity:
    identity = selectors.identity_of(customer=customer, identity_id=int_or_404(identity_id, "identity"))
    if identity is None:
        raise Problem(404, "not-found", "Not Found", f"Customer {customer.pk} has no identity {identity_id}.")
    return identity


@extend_schema_view(
    get=extend_schema(summary="One identity of a customer", examples=[example("An identity", IDENTITY_EXAMPLE)]),
    delete=extend_schema(
        summary="Remove an identity",
        description="Administrators only. Messages from that address will open a new customer; tickets stay.",
        responses={204: None},
    ),
)
class CustomerIdentityDetailApi(CustomerParent, ParentApi):
    api_resource = "customers"
    serializer_class = IdentitySerializer

    def get(self, request: Any, pk: int, identity_id: int) -> Response:
        identity = _identity_or_404(self.parent, identity_id)
        self.etag_object = identity
        return Response(IdentitySerializer(identity).data)

    def delete(self, request: Any, pk: int, identity_id: int) -> Response:
        require_perm(request.user, DELETE_IDENTITY)
        identity = _identity_or_404(self.parent, identity_id)
        self.check_if_match(identity)
        customer_identity_remove(identity=identity, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerIdentityMoveApi(CustomerParent, ParentApi):
    api_resource = "customers"
    serializer_class = IdentityMoveSerializer

    @extend_schema(
        summary="Move an identity to another customer",
        description="From now on what arrives from this address lands on the other customer; tickets already "
        "opened stay where they are (merge the customers to move those too).",
        request=IdentityMoveSerializer,
        responses=IdentitySerializer,
        examples=[example("Link to customer 15", {"customer": 15}, request=True), example("Moved", IDENTITY_EXAMPLE)],
    )
    def post(self, request: Any, pk: int, identity_id: int) -> Response:
        require_perm(request.user, CHANGE_CUSTOMER)
        identity = _identity_or_404(self.parent, identity_id)
        serializer = IdentityMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = customer_or_404(request.user, serializer.validated_data["customer"])
        moved = services.customer_identity_move(identity=identity, target=target, actor=self.actor)
        return Response(IdentitySerializer(moved).data)
