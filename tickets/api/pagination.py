"""Cursor pages: ``{"next": url|null, "previous": url|null, "results": [...]}``.

The default pagination class (REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]). 50 items by
default, ``?page_size=`` up to 200; follow ``next`` to page on (an opaque ``cursor``).
Cursors stay correct while rows are added: the position is a value of the ordering
column, not an offset into a moving list.

How to use: a list view orders by ``ordering`` (default ``-id``; set ``ordering =
("-updated_at",)`` on the view, or let ``OrderingFilter``'s ``?ordering=`` choose); the
primary key is always appended as the final tie-breaker so equal timestamps page stably.
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple[str, ...]:
        has_filter = any(hasattr(f, "get_ordering") for f in getattr(view, "filter_backends", []))
        view_ordering = getattr(view, "ordering", None)
        if not has_filter and view_ordering:
            # DRF reads a view's ``ordering`` only through OrderingFilter; honour it without one too.
            ordering = (view_ordering,) if isinstance(view_ordering, str) else tuple(view_ordering)
        else:
            ordering = tuple(super().get_ordering(request, queryset, view))
        names = {o.lstrip("-") for o in ordering}
        if "id" not in names and "pk" not in names:
            # Break ties in the first column's direction: one index walks the whole order.
            ordering += ("-id" if ordering and ordering[0].startswith("-") else "id",)
        return ordering

    def get_page_size(self, request: Any) -> int:
        try:
            return super().get_page_size(request)
        except (TypeError, ValueError):
            return self.page_size

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        result = super().get_paginated_response_schema(schema)
        result["required"] = ["next", "previous", "results"]
        return result
