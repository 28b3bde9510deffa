"""The OpenAPI schema: served, documented, and the copy in docs/ kept current."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

pytestmark = pytest.mark.django_db

CHECKED_IN = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
REGENERATE = "make schema  (or: python manage.py spectacular --file docs/openapi.yaml --validate)"


def current_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_checked_in_schema_matches_the_code():
    rendered = OpenApiYamlRenderer().render(current_schema(), renderer_context={}).decode()
    assert CHECKED_IN.exists(), f"docs/openapi.yaml is missing; write it with: {REGENERATE}"
    assert yaml.safe_load(rendered) == yaml.safe_load(CHECKED_IN.read_text()), (
        f"docs/openapi.yaml is out of date with the API's code; regenerate it with: {REGENERATE}"
    )


def test_schema_and_swagger_ui_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi: 3" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


def test_every_operation_has_examples_problems_and_bearer_auth():
    schema = current_schema()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "prl_<prefix>_<secret>",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    missing_examples, missing_problems = [], []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            name = f"{method.upper()} {path}"
            success = [r for code, r in operation["responses"].items() if code.startswith("2")]
            media = [m for r in success for m in r.get("content", {}).values()]
            if all(m.get("schema", {}).get("format") == "binary" for m in media):
                continue  # 204 No Content, or a file download: nothing to show
            has_example = any(
                "examples" in media or "example" in media for r in success for media in r.get("content", {}).values()
            ) or any("examples" in media for media in operation.get("requestBody", {}).get("content", {}).values())
            if not has_example:
                missing_examples.append(name)
            for code in ("401", "403", "404", "429"):
                content = operation["responses"].get(code, {}).get("content", {})
                if "application/problem+json" not in content:
                    missing_problems.append(f"{name} {code}")
            assert {"bearerAuth": []} in operation.get("security", []), name
    assert not missing_examples, f"operations without examples (add examples=[example(...)], tickets/api/schema.py): {missing_examples}"
    assert not missing_problems, missing_problems
