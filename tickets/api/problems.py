"""One error format for everything under /api/: RFC 9457 problem details.

Every error answers ``Content-Type: application/problem+json`` with

    {"type": "urn:parley:problem:not-found", "title": "Not found", "status": 404,
     "detail": "No ticket #42 you can see.", "instance": "/api/v1/tickets/42/"}

plus ``errors`` on validation failures: ``[{"field": "status", "detail": "...", "code": "invalid_choice"}]``
(``field`` is a dotted path, ``""`` for the whole body).

How to use from a view:

- raise DRF's exceptions (``ValidationError``, ``NotFound``, ``PermissionDenied``...) or
  Django's ``Http404``: ``exception_handler`` (REST_FRAMEWORK["EXCEPTION_HANDLER"]) turns
  them into problems;
- raise ``Problem(status, slug, title, detail)`` for anything else (``Conflict`` 409,
  ``PreconditionFailed`` 412, ``UnprocessableEntity`` 422 are ready-made);
- domain errors are mapped once, in ``DOMAIN_ERRORS`` (``InvalidTransition`` -> 409, ...):
  a view just lets them propagate. Add a line here for a new domain error class;
- ``problem_response(status=..., detail=...)`` builds a response by hand (non-DRF views).

Anything else that escapes a view is logged and answers a 500 problem (no traceback).
``handler404``/``handler500`` (set in helpdesk/urls.py) answer problems for /api/ paths
and Django's usual pages elsewhere; unknown /api/ paths are 404 problems (api/urls.py).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core import exceptions as django_exceptions
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework import status as http
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from tickets import exceptions as domain

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:parley:problem:"


class ProblemJSONRenderer(JSONRenderer):
    """Lets clients ask for ``Accept: application/problem+json``."""

    media_type = PROBLEM_CONTENT_TYPE


class Problem(exceptions.APIException):
    """An error with its own problem type: ``raise Problem(409, "conflict", "Conflict", "why")``."""

    def __init__(self, status_code: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail=detail)
        self.status_code = status_code
        self.slug = slug
        self.title = title
        self.extra = extra


class Conflict(Problem):
    def __init__(self, detail: str, slug: str = "conflict") -> None:
        super().__init__(409, slug, "Conflict", detail)


class PreconditionFailed(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(412, "precondition-failed", "Precondition failed", detail)


class UnprocessableEntity(Problem):
    def __init__(self, detail: str, slug: str = "unprocessable") -> None:
        super().__init__(422, slug, "Unprocessable content", detail)


# Domain errors (tickets/exceptions.py) -> (status, problem slug).
DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (domain.InvalidTransition, 409, "invalid-transition"),
    (domain.MergeNotAllowed, 409, "merge-not-allowed"),
    (domain.SplitNotAllowed, 409, "split-not-allowed"),
    (domain.CustomerMergeNotAllowed, 409, "merge-not-allowed"),
    (domain.IdentityMoveNotAllowed, 409, "identity-move-not-allowed"),
    (domain.StaleEdit, 412, "precondition-failed"),
    (domain.OrganizationDomainTaken, 409, "domain-taken"),
    (domain.SavedViewNameTaken, 409, "name-taken"),
    (domain.MacroNotAllowed, 422, "macro-not-allowed"),
    (domain.TicketError, 422, "unprocessable"),
]

# DRF's exceptions -> problem slugs (the title is the HTTP reason phrase).
_SLUGS: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation",
    exceptions.ParseError: "malformed-request",
    exceptions.NotAuthenticated: "not-authenticated",
    exceptions.AuthenticationFailed: "authentication-failed",
    exceptions.PermissionDenied: "permission-denied",
    exceptions.NotFound: "not-found",
    exceptions.MethodNotAllowed: "method-not-allowed",
    exceptions.NotAcceptable: "not-acceptable",
    exceptions.UnsupportedMediaType: "unsupported-media-type",
    exceptions.Throttled: "throttled",
}


def problem_body(*, status: int, detail: str, slug: str = "", title: str = "", instance: str = "", **extra: Any) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{slug}" if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(*, status: int, detail: str = "", slug: str = "", title: str = "", request: Any = None, headers: dict[str, str] | None = None, **extra: Any) -> JsonResponse:
    """A problem as a plain Django response (for code outside DRF's views)."""
    body = problem_body(status=status, detail=detail, slug=slug, title=title, instance=_instance(request), **extra)
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _instance(request: Any) -> str:
    return request.get_full_path() if request is not None else ""


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error details -> [{"field", "detail", "code"}]."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            field = "" if key in ("non_field_errors", "__all__") else str(key)
            out += _flatten(value, f"{prefix}.{field}" if prefix and field else (field or prefix))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out += _flatten(value, f"{prefix}.{index}" if prefix else str(index))
            else:
                out += _flatten(value, prefix)
        return out
    return [{"field": prefix, "detail": str(detail), "code": getattr(detail, "code", "invalid") or "invalid"}]


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, django_exceptions.PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, django_exceptions.ValidationError):
        return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    for cls, status, slug in DOMAIN_ERRORS:
        if isinstance(exc, cls):
            message = str(exc)
            return Problem(status, slug, HTTPStatus(status).phrase, message[:1].upper() + message[1:])
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every exception becomes a problem response."""
    request = context.get("request")
    api_exc = _as_api_exception(exc)
    headers: dict[str, str] = {}
    if api_exc is None:
        view = context.get("view")
        logger.exception("unhandled error in API view %s", type(view).__name__ if view else "?")
        set_rollback()
        body = problem_body(
            status=500, slug="server-error", detail="Something went wrong on our side; it was logged.", instance=_instance(request)
        )
        return Response(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = api_exc.auth_header
    if getattr(api_exc, "wait", None):
        headers["Retry-After"] = str(int(api_exc.wait))
    status = api_exc.status_code
    extra: dict[str, Any] = {}
    if isinstance(api_exc, Problem):
        slug, title, detail = api_exc.slug, api_exc.title, str(api_exc.detail)
        extra = dict(api_exc.extra)
    else:
        slug = next((s for cls, s in _SLUGS.items() if isinstance(api_exc, cls)), "")
        title = ""
        if isinstance(api_exc, exceptions.ValidationError):
            extra["errors"] = _flatten(api_exc.detail)
            detail = "The request is not valid: " + "; ".join(
                f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in extra["errors"][:5]
            )
        else:
            detail = str(api_exc.detail)
    set_rollback()
    body = problem_body(status=status, slug=slug, title=title, detail=detail, instance=_instance(request), **extra)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """helpdesk/urls.py's handler404: a problem under /api/, Django's page elsewhere."""
    if is_api_path(request):
        return problem_response(status=404, slug="not-found", detail="Nothing lives at this address.", request=request)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return problem_response(status=500, slug="server-error", detail="Something went wrong on our side; it was logged.", request=request)
    return defaults.server_error(request)


@csrf_exempt  # a POST to a wrong address is a 404 problem, not the CSRF failure page
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The last route under /api/: any other address is a 404 problem, in DEBUG too."""
    return problem_response(status=http.HTTP_404_NOT_FOUND, slug="not-found", detail="Nothing lives at this address.", request=request)
