"""OpenAPI 3 with drf-spectacular: bearer auth, problem responses, headers, examples.

``AutoSchema`` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds to every operation:

- the error responses it can answer, as ``application/problem+json`` (``Problem``
  component): 400, 401, 403, 404, 429 everywhere; 409, 415, 422 on POST; 409, 412, 415,
  422 on PATCH/PUT; 409, 412 on DELETE;
- the ``Idempotency-Key`` header on POST, ``If-Match`` on PATCH/PUT/DELETE, and the
  ``ETag`` response header on GET/PATCH/PUT of one object.

How to use in a view — every endpoint has examples (a test checks the 2xx responses):

    from tickets.api.schema import example, extend_schema, extend_schema_view

    @extend_schema_view(
        list=extend_schema(summary="List customers", examples=[example("A page", {...}, list=True)]),
        create=extend_schema(summary="Create a customer", examples=[example("New", {...}, request=True), example("Created", {...}, status=201)]),
    )
    class CustomerViewSet(ApiViewSet): ...

``example(name, value, request=True)`` is a request body example; by default a response
example for ``status`` (200); ``list=True`` wraps ``value`` in a cursor page.
The checked-in schema is docs/openapi.yaml; ``make schema`` writes it again.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (  # re-exported for views
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from tickets.api.problems import PROBLEM_CONTENT_TYPE

__all__ = [
    "AutoSchema",
    "OpenApiExample",
    "OpenApiParameter",
    "OpenApiResponse",
    "OpenApiTypes",
    "ProblemSerializer",
    "example",
    "extend_schema",
    "extend_schema_view",
    "inline_serializer",
]


class ProblemErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path of the field; empty for the whole request.")
    detail = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="urn:parley:problem:<slug>, or about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False, help_text="The path of the request")
    errors = ProblemErrorSerializer(many=True, required=False, help_text="Validation errors, one per field")

    class Meta:
        ref_name = "Problem"


_DESCRIPTIONS = {
    "400": "Bad request: invalid input (problem details list each field in `errors`)",
    "401": "No credentials, or an invalid or revoked API key",
    "403": "The key or user lacks the scope or role this needs",
    "404": "Not found, or not visible to the acting user",
    "409": "Conflict with the current state (an invalid transition, an Idempotency-Key still in progress)",
    "412": "If-Match does not match the object's current ETag",
    "415": "Unsupported media type",
    "422": "Unprocessable: a domain rule refused it, or an Idempotency-Key reused with another request",
    "429": "Too many requests (see Retry-After)",
}

_ERRORS_BY_METHOD = {
    "GET": ("400", "401", "403", "404", "429"),
    "POST": ("400", "401", "403", "404", "409", "415", "422", "429"),
    "PUT": ("400", "401", "403", "404", "409", "412", "415", "422", "429"),
    "PATCH": ("400", "401", "403", "404", "409", "412", "415", "422", "429"),
    "DELETE": ("400", "401", "403", "404", "409", "412", "429"),
}

_EXAMPLES = {
    "404": {"type": "urn:parley:problem:not-found", "title": "Not Found", "status": 404, "detail": "Not found.", "instance": "/api/v1/tickets/42/"},
    "400": {
        "type": "urn:parley:problem:validation",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request is not valid: priority: \"asap\" is not a valid choice.",
        "instance": "/api/v1/tickets/42/",
        "errors": [{"field": "priority", "detail": "\"asap\" is not a valid choice.", "code": "invalid_choice"}],
    },
    "412": {
        "type": "urn:parley:problem:precondition-failed",
        "title": "Precondition failed",
        "status": 412,
        "detail": "The object changed since you read it (its ETag is no longer the one in If-Match); fetch it again, then retry.",
        "instance": "/api/v1/tickets/42/",
    },
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if self.method in ("GET", "PATCH", "PUT") and "{" in self.path and not self._is_list_view() and "200" in responses:
            responses["200"].setdefault("headers", {})["ETag"] = {
                "schema": {"type": "string"},
                "description": "The object's version: send it back in If-Match to change it safely (see etag.py).",
            }
        for code in _ERRORS_BY_METHOD.get(self.method, ()):
            if code in responses:
                continue
            response = self._get_response_for_code(ProblemSerializer, code, [PROBLEM_CONTENT_TYPE], direction)
            response["description"] = _DESCRIPTIONS[code]
            if code in _EXAMPLES:
                response["content"][PROBLEM_CONTENT_TYPE]["examples"] = {
                    "Problem": {"value": _EXAMPLES[code], "summary": _DESCRIPTIONS[code].split(":")[0]}
                }
            responses[code] = response
        return responses

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method == "POST":
            params.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Any unique string (a UUID): a retry with the same key and body replays the first answer for 24 hours.",
                )
            )
        if self.method in ("PUT", "PATCH", "DELETE"):
            params.append(
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="The ETag from your last GET: the change is refused (412) if the object changed since.",
                )
            )
        return params


def example(name: str, value: Any, *, request: bool = False, status: int = 200, list: bool = False, summary: str = "") -> OpenApiExample:
    """A request-body example (``request=True``) or a response example for ``status``."""
    if list:
        value = {"next": "http://localhost:8000/api/v1/...?cursor=cD0yMDI2LTExLTIz", "previous": None, "results": value}
    if request:
        return OpenApiExample(name, value=value, request_only=True, summary=summary or None)
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)], summary=summary or None)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tickets.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "prl_<prefix>_<secret>",
            "description": "An API key: `Authorization: Bearer prl_...` (created under Manage > API keys or by `manage.py create_api_key`).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "tickets.api.authentication.SessionAuthentication"
    name = "cookieAuth"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


# The largest values of the database's integer columns, which DRF copies into the schema
# from the backend in use (PostgreSQL 2^31-1, SQLite 2^63-1): left out, so the schema is
# the same in every running mode (the checked-in docs/openapi.yaml must not depend on it).
_BACKEND_INTEGER_LIMITS = {2147483647, 9223372036854775807, -2147483648, -9223372036854775808}


def drop_backend_integer_limits(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: see _BACKEND_INTEGER_LIMITS."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                for bound in ("maximum", "minimum"):
                    if node.get(bound) in _BACKEND_INTEGER_LIMITS:
                        del node[bound]
                        if node.get("format") == "int64":
                            del node["format"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
