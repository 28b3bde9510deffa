"""/api/v1/rules/ and /api/v1/sla-policies/: administrators only, validated as the admin site validates."""

from __future__ import annotations

import pytest

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import (
    RuleFactory,
    SLAPolicyFactory,
    SLATargetFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.routing.models import Rule, SLAPolicy

pytestmark = pytest.mark.django_db

RULES = "/api/v1/rules/"
POLICIES = "/api/v1/sla-policies/"


def _client(make_key, **kwargs) -> KeyClient:
    return KeyClient(make_key(**kwargs)[1])


def test_rules_are_for_admins(make_key, api_client):
    rule = RuleFactory()
    manager = _client(make_key, role="manager")  # holds rules:read, but the admin site is admins' only
    assert_problem(manager.get(RULES), 403, "permission-denied")
    assert_problem(api_client.get(RULES), 403)
    reader = _client(make_key, role="admin", scopes=["rules:read"])
    assert reader.get(RULES).json()["results"][0]["id"] == rule.pk
    assert_problem(reader.post(RULES, {"name": "x", "actions": []}), 403)
    assert_problem(reader.delete(f"{RULES}{rule.pk}/"), 403)


def test_create_update_and_delete_a_rule(admin_api):
    team = TeamFactory()
    body = {
        "name": "Refunds to Billing",
        "position": 5,
        "conditions": [{"field": "subject", "op": "contains", "value": "refund"}],
        "actions": [{"type": "set_team", "team": team.pk}],
    }
    response = admin_api.post(RULES, body)
    assert response.status_code == 201, response.json()
    rule = Rule.objects.get(pk=response.json()["id"])
    assert rule.conditions == body["conditions"] and rule.on_created and rule.is_active
    etag = admin_api.get(f"{RULES}{rule.pk}/")["ETag"]
    off = admin_api.patch(f"{RULES}{rule.pk}/", {"is_active": False}, HTTP_IF_MATCH=etag)
    assert off.status_code == 200, off.json()
    rule.refresh_from_db()
    assert not rule.is_active and rule.conditions == body["conditions"] and rule.position == 5
    assert_problem(admin_api.patch(f"{RULES}{rule.pk}/", {"name": "stale"}, HTTP_IF_MATCH=etag), 412)
    assert admin_api.delete(f"{RULES}{rule.pk}/").status_code == 204
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_rule_validation_says_what_the_admin_page_says(admin_api):
    response = admin_api.post(
        RULES,
        {
            "name": "Broken",
            "on_created": False,
            "conditions": [{"field": "colour", "op": "is", "value": "red"}],
            "actions": [{"type": "set_team", "team": 999999}],
        },
    )
    body = assert_problem(response, 400, "validation")
    fields = {e["field"] for e in body["errors"]}
    assert {"conditions", "actions", "on_created"} <= fields
    assert not Rule.objects.exists()
    assert_problem(admin_api.post(RULES, {"name": "No actions"}), 400)


def test_dry_run_reports_matches_and_changes_nothing(admin_api, make_key):
    rule = RuleFactory(conditions=[{"field": "subject", "op": "contains", "value": "refund"}])
    hit = TicketFactory(subject="Refund please")
    TicketFactory(subject="Login fails")
    response = admin_api.get(f"{RULES}{rule.pk}/dry-run/")
    assert response.status_code == 200
    body = response.json()
    assert body["matched_count"] == 1 and body["limit"] == 100
    assert [t["number"] for t in body["tickets"] if t["matched"]] == [hit.number]
    hit.refresh_from_db()
    assert not hit.tags.exists()
    assert_problem(_client(make_key, role="manager").get(f"{RULES}{rule.pk}/dry-run/"), 403)
    assert_problem(admin_api.get(f"{RULES}999999/dry-run/"), 404)


def test_sla_policies_crud_with_targets(admin_api):
    response = admin_api.post(
        POLICIES,
        {
            "name": "Standard",
            "is_default": True,
            "targets": [
                {"priority": "normal", "first_response_minutes": 240, "resolution_minutes": 2880},
                {"priority": "urgent", "customer_tier": "vip", "first_response_minutes": 30},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    policy = SLAPolicy.objects.get(pk=response.json()["id"])
    assert policy.is_default and policy.targets.count() == 2
    etag = admin_api.get(f"{POLICIES}{policy.pk}/")["ETag"]
    patched = admin_api.patch(f"{POLICIES}{policy.pk}/", {"warn_before_minutes": 60}, HTTP_IF_MATCH=etag)
    assert patched.status_code == 200, patched.json()
    assert patched.json()["warn_before_minutes"] == 60 and len(patched.json()["targets"]) == 2
    assert_problem(admin_api.patch(f"{POLICIES}{policy.pk}/", {"name": "x"}, HTTP_IF_MATCH=etag), 412)
    replaced = admin_api.patch(f"{POLICIES}{policy.pk}/", {"targets": [{"priority": "high", "first_response_minutes": 60}]})
    assert [t["priority"] for t in replaced.json()["targets"]] == ["high"]
    assert admin_api.delete(f"{POLICIES}{policy.pk}/").status_code == 204


def test_sla_policy_validation(admin_api):
    SLAPolicyFactory(name="Default", is_default=True)
    response = admin_api.post(
        POLICIES,
        {
            "name": "Second default",
            "is_default": True,
            "business_hours": 999999,
            "targets": [{"priority": "asap"}, {"priority": "low"}, {"priority": "low"}],
        },
    )
    body = assert_problem(response, 400, "validation")
    fields = {e["field"] for e in body["errors"]}
    assert {"business_hours", "targets.0.priority", "targets.2.priority"} <= fields
    assert any(e["field"] == "" and "default" in e["detail"].lower() for e in body["errors"]), body["errors"]
    assert SLAPolicy.objects.count() == 1


def test_sla_is_for_admins(make_key, api_client):
    policy = SLAPolicyFactory()
    SLATargetFactory(policy=policy)
    assert_problem(api_client.get(POLICIES), 403)  # agents hold sla:read, but not the admin site's permission
    assert_problem(_client(make_key, role="manager").get(f"{POLICIES}{policy.pk}/"), 403)
    assert_problem(_client(make_key, role="admin", scopes=["sla:read"]).delete(f"{POLICIES}{policy.pk}/"), 403)
