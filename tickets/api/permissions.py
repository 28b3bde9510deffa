"""Scope checks per view.

How to use: set ``api_resource`` on the view (``base.ApiView``/``ApiViewSet`` subclasses
do); ``HasScope`` (the default permission class) then requires ``<resource>:read`` for
GET/HEAD/OPTIONS and ``<resource>:write`` for any other method. A view may name another
scope for one action with ``api_scopes = {"merge": "tickets:write"}`` (action or method
name -> scope), e.g. a POST that only reads.

No credentials -> 401; credentials without the scope -> 403 naming the missing scope.
Objects the user may not see are the views' business (``base.VisibilityMixin``): 404.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions

from tickets.api import scopes as api_scopes


def required_scope(request: Any, view: Any) -> str | None:
    resource = getattr(view, "api_resource", None)
    if resource is None:
        return None
    overrides = getattr(view, "api_scopes", {}) or {}
    action = getattr(view, "action", None)
    if action and action in overrides:
        return overrides[action]
    if request.method.lower() in overrides:
        return overrides[request.method.lower()]
    verb = api_scopes.READ if request.method in permissions.SAFE_METHODS else api_scopes.WRITE
    return api_scopes.scope(resource, verb)


def request_scopes(request: Any) -> frozenset[str]:
    """The scopes this request holds (cached on the request)."""
    cached = getattr(request, "_parley_scopes", None)
    if cached is None:
        from tickets.api.models import ApiKey

        key = request.auth if isinstance(request.auth, ApiKey) else None
        cached = api_scopes.effective_scopes(request.user, key)
        request._parley_scopes = cached
    return cached


class HasScope(permissions.BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        needed = required_scope(request, view)
        if needed is None:
            # A view without a resource is open to any staff member with a role (the schema).
            return bool(api_scopes.role_scopes(request.user))
        if needed not in request_scopes(request):
            raise exceptions.PermissionDenied(f"This request needs the scope {needed}.")
        return True
