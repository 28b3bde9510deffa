"""Metrics over the API: the same numbers as the managers' dashboards for the same filters
(compared with the dashboards' own CSV exports, formatted the dashboards' way), managers
and administrators only, bad filters a 400 problem.

The tickets are D2's hand-built March 2026 world (tests/metrics/fixture.py)."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from metrics import views as dashboard
from tests.api.conftest import KeyClient, assert_problem
from tests.factories import AgentFactory
from tests.metrics.test_dashboards import world  # noqa: F401 - the dashboards' own world (tests/metrics/fixture.py)

pytestmark = pytest.mark.django_db

MARCH = {"start": "2026-02-23", "end": "2026-03-08"}
SUMMARY, TABLE, TREND = "/api/v1/metrics/summary/", "/api/v1/metrics/table/", "/api/v1/metrics/trend/"


@pytest.fixture
def manager_api(make_key):
    return KeyClient(make_key(role="manager")[1])


@pytest.fixture
def dashboards():
    client = Client()
    client.force_login(AgentFactory(role="manager").user)
    return client


def exported(dashboards, table, params):
    """A dashboard table as its CSV export: header, rows, total."""
    response = dashboards.get(f"/dashboards/export/{table}.csv", params)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def as_dashboard(rows):
    """API rows written the way the dashboards write them."""
    return [[row["label"], *(fmt(row["figures"][key]) for key, _, fmt in dashboard.COLUMNS)] for row in rows]


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_trend_and_summary_equal_the_dashboard(world, manager_api, dashboards, grain):  # noqa: F811 - the imported fixture
    params = {**MARCH, "grain": grain}
    response = manager_api.get(TREND, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grain"] == grain and body["filters"]["start"] == "2026-02-23" and body["filters"]["end"] == "2026-03-08"
    assert as_dashboard([*body["rows"], body["total"]]) == exported(dashboards, "trend", params)[1:]
    assert body["total"]["figures"]["created"] == 4  # T1-T4, T3 merged away still counts in volume
    summary = manager_api.get(SUMMARY, params).json()
    assert summary["figures"] == body["total"]["figures"]


@pytest.mark.parametrize(("group", "table"), [("team", "teams"), ("agent", "agents"), ("channel", "channels")])
def test_tables_equal_the_dashboard(world, manager_api, dashboards, group, table):  # noqa: F811 - the imported fixture
    body = manager_api.get(TABLE, {**MARCH, "group": group}).json()
    assert body["group"] == group
    assert as_dashboard([*body["rows"], body["total"]]) == exported(dashboards, table, MARCH)[1:]
    assert sum(row["figures"]["created"] for row in body["rows"]) == body["total"]["figures"]["created"] == 4


def test_priority_and_tier_tables_and_filters(world, manager_api):  # noqa: F811 - the imported fixture
    summary = manager_api.get(SUMMARY, MARCH).json()["figures"]
    priorities = manager_api.get(TABLE, {**MARCH, "group": "priority"}).json()
    by_label = {row["label"]: row for row in priorities["rows"]}
    assert by_label["High"]["key"] == "high" and by_label["High"]["figures"]["created"] == 1  # T2
    assert sum(row["figures"]["created"] for row in priorities["rows"]) == summary["created"]
    tiers = {row["key"]: row for row in manager_api.get(TABLE, {**MARCH, "group": "tier"}).json()["rows"]}
    assert tiers["vip"]["label"] == "VIP" and tiers["vip"]["figures"]["created"] == 2
    # A filter slices every endpoint alike.
    vip = manager_api.get(SUMMARY, {**MARCH, "tier": "vip"}).json()
    assert vip["filters"]["tier"] == "vip" and vip["figures"]["created"] == 2 and vip["figures"]["nps"] == 100
    berlin = manager_api.get(TABLE, {**MARCH, "group": "team", "team": world.team_id}).json()
    assert [row["key"] for row in berlin["rows"]] == [world.team_id] and berlin["rows"][0]["label"] == "Berlin"
    assert manager_api.get(SUMMARY, {**MARCH, "team": world.team_id}).json()["figures"]["created"] == 1
    chat = manager_api.get(TREND, {**MARCH, "channel": "chat", "grain": "month"}).json()
    assert chat["total"]["figures"]["created"] == 1 and chat["total"]["figures"]["reopen_rate"] == 100


def test_summary_comments_and_live_counts(world, manager_api, make_key):  # noqa: F811 - the imported fixture
    body = manager_api.get(SUMMARY, {**MARCH, "end": "2026-03-10"}).json()
    assert [(c["comment"], c["ticket"], c["score"]) for c in body["comments"]] == [("Quick and kind.", world.tickets["T1"].number, 5)]
    assert body["live"]["open"] == 1 and body["live"]["waiting_on_us"] == 1
    admin = KeyClient(make_key(role="admin")[1])
    assert admin.get(SUMMARY, {**MARCH, "end": "2026-03-10"}).json() == {**body, "live": {**body["live"], "agents_available": body["live"]["agents_available"] + 1}}


def test_defaults_are_the_dashboards(db, manager_api):
    from metrics.selectors import default_filters

    defaults = default_filters()
    body = manager_api.get(TREND).json()
    assert body["filters"]["start"] == defaults.start.isoformat() and body["filters"]["end"] == defaults.end.isoformat()
    assert len(body["rows"]) == 30 and body["grain"] == "day"
    assert body["total"]["figures"]["csat"] is None  # nothing to compute from: null, not 0


def test_only_managers_and_admins(db, make_key, client):
    agent = KeyClient(make_key(role="agent")[1])
    narrow = KeyClient(make_key(role="manager", scopes=["tickets:read"])[1])
    admin = KeyClient(make_key(role="admin", scopes=["metrics:read"])[1])
    for path in (SUMMARY, f"{TABLE}?group=team", TREND):
        assert "metrics:read" in assert_problem(agent.get(path), 403, "permission-denied")["detail"]
        assert "metrics:read" in assert_problem(narrow.get(path), 403, "permission-denied")["detail"]
        assert_problem(client.get(path), 401)
        assert admin.get(path).status_code == 200


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (TREND, {"start": "2026-03-08", "end": "2026-03-01"}, ""),
        (TREND, {"start": "2024-01-01", "end": "2026-03-01"}, ""),  # more than two years
        (TREND, {"grain": "hour"}, "grain"),
        (SUMMARY, {"start": "not a date"}, "start"),
        (SUMMARY, {"team": "abc"}, "team"),
        (SUMMARY, {"team": "999999"}, "team"),
        (SUMMARY, {"tier": "gold"}, "tier"),
        (TABLE, {"group": "team", "priority": "asap"}, "priority"),
        (TABLE, {"group": "team", "channel": "pigeon"}, "channel"),
        (TABLE, {}, "group"),
        (TABLE, {"group": "weekday"}, "group"),
    ],
)
def test_bad_filters_are_400_problems(db, manager_api, path, query, field):
    problem = assert_problem(manager_api.get(path, query), 400, "validation")
    assert [e["field"] for e in problem["errors"]] == [field], problem
