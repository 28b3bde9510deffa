"""Pieces the CRM resources share: role checks worded as the workspace words them, custom
attribute validation, small error helpers, and the base of lists under one record
(``/customers/{id}/tickets/``)."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from tickets.api.base import ApiView
from tickets.api.serializers.tickets import TicketSerializer
from tickets.forms_customers import ATTRIBUTE_KEY, MAX_ATTRIBUTE_VALUE, MAX_ATTRIBUTES
from tickets.models import Ticket
from tickets.roles import ADMIN, MANAGER, user_role

# --- Errors --------------------------------------------------------------------------


def require_perm(user: Any, permission: str) -> None:
    """The workspace's Django permission for this change (tickets/roles.py), else 403."""
    if not user.has_perm(permission):
        raise PermissionDenied(f"Your role may not do this ({permission}).")


def require_admin(user: Any, what: str) -> None:
    """Pages of /manage/ and the admin site that are administrators' only."""
    if user_role(user) != ADMIN:
        raise PermissionDenied(f"Only administrators {what}.")


def is_admin_or_manager(user: Any) -> bool:
    return user_role(user) in (ADMIN, MANAGER)


def not_found(what: str, detail: str = "") -> NotFound:
    return NotFound(detail or f"No such {what}.")


def int_or_404(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise not_found(what) from None
    if number <= 0 or number > 2**63 - 1:
        raise not_found(what)
    return number


# --- Validation shared with the workspace forms -------------------------------------


def clean_attributes(value: Any) -> dict[str, Any]:
    """Custom attributes as the customer form allows them, plus the JSON scalars only the
    API can send (numbers, booleans, null): no nested objects or lists."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Send an object of attribute names to values.")
    if len(value) > MAX_ATTRIBUTES:
        raise serializers.ValidationError(f"At most {MAX_ATTRIBUTES} attributes per record.")
    seen: set[str] = set()
    for key, item in value.items():
        if not ATTRIBUTE_KEY.match(key):
            raise serializers.ValidationError(
                f"“{key}”: start with a letter; then letters, digits, spaces, dots, dashes or underscores (64 at most)."
            )
        if key.lower() in seen:
            raise serializers.ValidationError(f"The attribute “{key}” appears twice.")
        seen.add(key.lower())
        if isinstance(item, (dict, list)):
            raise serializers.ValidationError(f"“{key}”: a value is text, a number, true/false or null.")
        if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_VALUE:
            raise serializers.ValidationError(f"“{key}”: at most {MAX_ATTRIBUTE_VALUE} characters.")
    return value



# --- Lists and actions under one record ------------------------------------------------


class ParentApi(ApiView):
    """An endpoint under one record (``/customers/{pk}/...``): ``self.parent`` is resolved by
    ``parent_or_404(user, pk)`` right after the scope check, so a record the user may not
    see is a 404 whatever the method."""

    parent: Any = None

    def parent_or_404(self, user: Any, pk: Any) -> Any:
        raise NotImplementedError

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not getattr(self, "swagger_fake_view", False):
            self.parent = self.parent_or_404(request.user, kwargs.get("pk"))


class NestedListApi(ParentApi, mixins.ListModelMixin):
    """GET: the parent's ``rows(parent)``, filtered, ordered and cursor-paged like any list."""

    model: Any = None  # what the schema lists

    def rows(self, parent: Any) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.rows(self.parent)

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


class IdFilter(filters.NumberFilter):
    """A whole number within a database id's range: anything else is a 400, never a query
    the database cannot run (SQLite refuses integers past 64 bits)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class TicketHistoryFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Ticket.Status.choices, label="Status (repeat for several)")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Ticket
        fields: list[str] = []


class TicketListApi(NestedListApi):
    """A record's tickets, shaped as ``/tickets/`` shapes them; needs ``tickets:read``."""

    api_scopes = {"get": "tickets:read"}
    model = Ticket
    serializer_class = TicketSerializer
    filterset_class = TicketHistoryFilter
    ordering_fields = ("created_at", "updated_at")
    ordering = ("-created_at",)
