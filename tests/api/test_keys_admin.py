"""API keys made and revoked by administrators: Manage > API keys, and manage.py create_api_key."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import AgentFactory
from tickets.api.models import ApiKey

pytestmark = pytest.mark.django_db

PAGE = "/manage/api-keys/"


def test_admin_creates_a_key_shown_once_then_revokes_it(client):
    admin = AgentFactory(role="admin").user
    bot = AgentFactory(role="agent").user
    client.force_login(admin)
    page = client.get(PAGE)
    assert page.status_code == 200 and b"API keys" in page.content
    created = client.post(PAGE, {"name": "CRM sync", "user": bot.pk, "scopes": ["tickets:read", "messages:write"]})
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    key = ApiKey.objects.get()
    raw = created.context["created"]["raw"]
    assert raw.encode() in created.content
    assert (key.name, key.user, key.created_by, key.scopes) == ("CRM sync", bot, admin, ["messages:write", "tickets:read"])
    assert raw.encode() not in client.get(PAGE).content  # never shown again
    assert KeyClient(raw).get("/api/v1/tickets/").status_code == 200
    client.post(f"{PAGE}{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert_problem(KeyClient(raw).get("/api/v1/tickets/"), 401)


def test_key_form_errors(client):
    client.force_login(AgentFactory(role="admin").user)
    response = client.post(PAGE, {"name": "", "scopes": ["tickets:nope"]})
    assert response.status_code == 400 and not ApiKey.objects.exists()


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_only_admins_manage_keys(client, role):
    client.force_login(AgentFactory(role=role).user)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_the_manage_navigation_links_to_api_keys(client):
    client.force_login(AgentFactory(role="admin").user)
    page = client.get(PAGE).content.decode()
    assert f'<a href="{PAGE}" aria-current="page"' in page


def test_create_api_key_command_prints_the_key_once():
    user = AgentFactory(role="manager").user
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "Nightly export", "--scopes", "tickets:read", "customers:read", "--user", user.username, stdout=out, stderr=err)
    raw = out.getvalue().strip()
    key = ApiKey.objects.get()
    assert raw.startswith(f"prl_{key.prefix}_") and "\n" not in raw
    assert key.scopes == ["customers:read", "tickets:read"] and key.user == user
    assert raw not in err.getvalue()
    assert KeyClient(raw).get("/api/v1/tickets/").status_code == 200


def test_create_api_key_command_defaults_and_errors():
    admin = AgentFactory(role="admin").user
    out = io.StringIO()
    call_command("create_api_key", "Everything", stdout=out, stderr=io.StringIO())
    key = ApiKey.objects.get()
    assert key.user == admin and "webhooks:write" in key.scopes
    with pytest.raises(CommandError, match="unknown scope"):
        call_command("create_api_key", "x", "--scopes", "tickets:fly", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_key", "x", "--user", "ghost", stdout=io.StringIO(), stderr=io.StringIO())
