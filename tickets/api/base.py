"""The base classes every API resource builds on. Start here.

A resource (see views/tickets.py for a full one):

    from tickets.api.base import ApiViewSet, StrictOrderingFilter
    from tickets import selectors, services

    class CustomerViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
        api_resource = "customers"                 # scopes customers:read / customers:write
        visible = staticmethod(selectors.visible_customers)   # (user) -> QuerySet; 404 outside it
        queryset = Customer.objects.none()         # for the schema generator only (it has no user)
        serializer_class = CustomerSerializer      # explicit output serializer
        filterset_class = CustomerFilter           # django-filter
        ordering_fields = ("created_at", "name")   # ?ordering= allow-list (others -> 400)
        ordering = ("-created_at",)                # default order; the pk is appended

        def perform_update(self, serializer):      # writes go through services, never .save()
            ...

then route it in a urls module (``crm_urls.py`` for the CRM resources):
``router = SimpleRouter(); router.register("customers", CustomerViewSet, basename="customer")``.

What the base gives every view:

- authentication (API key or session), ``HasScope`` on ``api_resource``, throttling,
  problem details for every error (``problems.py``) — from settings.REST_FRAMEWORK;
- ``IdempotencyMixin``: ``Idempotency-Key`` on every POST (``idempotency.py``);
- ``ETagMixin``: ``ETag`` on single-object GET, ``If-Match`` on PATCH/PUT/DELETE (``etag.py``);
- ``VisibilityMixin``: ``get_queryset()`` is ``visible(request.user)`` — the workspace's
  own rules (private teams stay private); ``get_object()`` outside it is a 404 problem;
- cursor pagination (``pagination.py``), ``DjangoFilterBackend`` and ``StrictOrderingFilter``;
- ``self.actor``: the ``tickets.events.Actor`` for services (the acting user as an agent).

``ApiView`` is the same for a single endpoint (``generics.GenericAPIView``): a POST action
like ``/tickets/{number}/merge/``. Every error the view raises (DRF exceptions,
``Http404``, domain errors from tickets/exceptions.py) becomes a problem: let them propagate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters, generics, viewsets

from tickets.api.etag import ETagMixin
from tickets.api.idempotency import IdempotencyMixin
from tickets.events import Actor


class StrictOrderingFilter(filters.OrderingFilter):
    """``?ordering=`` limited to the view's ``ordering_fields``; anything else is a 400 problem
    (DRF's own filter silently ignores it, which hides typos)."""

    def get_ordering(self, request: Any, queryset: QuerySet, view: Any) -> Any:
        params = request.query_params.get(self.ordering_param)
        if params:
            allowed = {f for f in getattr(view, "ordering_fields", ()) or ()}
            fields = [p.strip() for p in params.split(",") if p.strip()]
            bad = [f for f in fields if f.lstrip("-") not in allowed]
            if bad:
                raise exceptions.ValidationError(
                    {self.ordering_param: [f"cannot order by {', '.join(bad)}; choose from {', '.join(sorted(allowed)) or 'nothing'}"]}
                )
        return super().get_ordering(request, queryset, view)


class VisibilityMixin:
    """``visible = staticmethod(selector)``: the rows the acting user may see."""

    visible: Callable[[Any], QuerySet] | None = None

    def get_queryset(self) -> QuerySet:
        if self.visible is None or getattr(self, "swagger_fake_view", False):
            # The schema generator has no user: it gets the view's ``queryset`` (Model.objects.none()).
            return super().get_queryset()  # type: ignore[misc]
        return type(self).visible(self.request.user)  # type: ignore[attr-defined]

    def get_object(self) -> Any:
        try:
            return super().get_object()  # type: ignore[misc]
        except Http404:
            lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)  # type: ignore[attr-defined]
            resource = getattr(self, "api_resource", "object") or "object"
            raise exceptions.NotFound(f"No {resource.rstrip('s')} {lookup} that you can see.") from None


class ApiMixin(IdempotencyMixin, ETagMixin, VisibilityMixin):
    """What every API view shares (see the module docstring)."""

    api_resource: str | None = None
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    ordering_fields: tuple[str, ...] = ()

    @property
    def actor(self) -> Actor:
        return Actor.agent(self.request.user)  # type: ignore[attr-defined]


class ApiViewSet(ApiMixin, viewsets.GenericViewSet):
    """Combine with DRF's mixins (ListModelMixin, RetrieveModelMixin, ...) or write actions."""


class ApiView(ApiMixin, generics.GenericAPIView):
    """One endpoint (define ``get``/``post``/...)."""
