"""Who may enter which page of /manage/, and the small helpers every page shares."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse

from tickets.roles import ADMIN, MANAGER, user_role
from tickets.views.base import staff_required

SECTIONS = [
    # (url name, label, roles that see it)
    ("tickets:manage:channels", "Channels", (ADMIN,)),
    ("tickets:manage:teams", "Teams", (ADMIN, MANAGER)),
    ("tickets:manage:agents", "Agents", (ADMIN, MANAGER)),
    ("tickets:manage:macros", "Macros", (ADMIN,)),
    ("tickets:manage:company", "Company", (ADMIN,)),
    ("tickets:manage:webhooks:list", "Webhooks", (ADMIN,)),
    ("tickets:manage:api_keys:list", "API keys", (ADMIN,)),
    ("surveys:manage", "Surveys", (ADMIN, MANAGER)),  # metrics/surveys/views_manage.py
]


def role_required(*roles: str) -> Callable:
    """Signed-out visitors go to the login page, non-staff get 404 (as everywhere in the
    workspace), staff without one of ``roles`` get 403: they know the page exists."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            role = user_role(request.user)
            if role not in roles:
                raise PermissionDenied("This page is for administrators.")
            request.parley_role = role
            return view(request, *args, **kwargs)

        return staff_required(wrapped)

    return decorator


admin_required = role_required(ADMIN)
admin_or_manager_required = role_required(ADMIN, MANAGER)


def manage_context(request: HttpRequest, section: str, **context: Any) -> dict[str, Any]:
    role = getattr(request, "parley_role", None)
    return {
        "sections": [(name, label) for name, label, allowed in SECTIONS if role in allowed],
        "section": section,
        "is_admin": role == ADMIN,
        **context,
    }


def add_service_errors(form: Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: by field where the form has that field,
    at the top otherwise, so nothing the service said is lost."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)
