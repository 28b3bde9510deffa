"""Fixtures for the REST API tests: keys acting as agents, a client that sends them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from rest_framework.test import APIClient

from tickets.api import keys
from tickets.api.scopes import ALL_SCOPES


class KeyClient(APIClient):
    """An APIClient that sends ``Authorization: Bearer <key>`` and JSON bodies by default
    (``format="multipart"`` for files)."""

    def __init__(self, raw_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raw_key = raw_key
        if raw_key:
            self.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    def post(self, path: str, data: Any = None, format: str | None = "json", **extra: Any) -> Any:
        return super().post(path, data, format=format, **extra)

    def patch(self, path: str, data: Any = None, format: str | None = "json", **extra: Any) -> Any:
        return super().patch(path, data, format=format, **extra)


@pytest.fixture
def make_key(db) -> Callable[..., tuple[Any, str]]:
    """make_key(role="agent", scopes=ALL_SCOPES, user=None) -> (ApiKey, raw key string)."""
    from tests.factories import AgentFactory

    def make(*, role: str = "agent", scopes: Iterable[str] = ALL_SCOPES, user: Any = None) -> tuple[Any, str]:
        if user is None:
            user = AgentFactory(role=role).user
        return keys.api_key_create(name=f"test key for {user.username}", user=user, scopes=scopes)

    return make


@pytest.fixture
def api_client(make_key) -> KeyClient:
    """A client with an agent's key holding every scope (narrowed to the agent role)."""
    key, raw = make_key(role="agent")
    client = KeyClient(raw)
    client.key = key
    return client


@pytest.fixture
def admin_api(make_key) -> KeyClient:
    key, raw = make_key(role="admin")
    client = KeyClient(raw)
    client.key = key
    return client


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and type slug)."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    if slug is not None:
        assert body["type"] == f"urn:parley:problem:{slug}", body
    return body


@pytest.fixture
def wsgi_app():
    """The Django app as a WSGI callable for in-process clients (httpx, schemathesis). Like
    Django's test client, it keeps the test's database connection open between requests
    (Django closes it at each request's end, which would end the test's transaction)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
