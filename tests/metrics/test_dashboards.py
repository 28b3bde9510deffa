"""The managers' dashboards: who may see them, filters, totals equal to the sum of their
tables, and CSV exports that say what the page says."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from metrics.services import metrics_recompute, rollups_refresh
from tests.factories import AgentFactory
from tests.metrics import fixture

pytestmark = pytest.mark.django_db

MARCH = {"start": "2026-02-23", "end": "2026-03-08", "grain": "day"}


@pytest.fixture
def world():
    """The hand-built tickets, measured once at the end and rolled up (test_rollups.py
    checks that this equals the incremental path)."""
    built = fixture.build()
    metrics_recompute(tickets_too=False)
    return built


@pytest.fixture
def manager_client():
    from django.test import Client

    client = Client()
    client.force_login(AgentFactory(role="manager").user)
    return client


def page_tables(html: str) -> dict[str, list[list[str]]]:
    """Each metrics table of the page as rows of cell texts (header, body rows, total)."""
    tables = {}
    for name, body in re.findall(r'<table class="metrics" data-table="(\w+)">(.*?)</table>', html, re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)])
        tables[name] = rows
    return tables


def cards(html: str) -> dict[str, str]:
    pairs = re.findall(r'<span class="figure-value">(.*?)</span><span class="figure-label">(.*?)</span>', html)
    return {unescape(label): unescape(value) for value, label in pairs}


def test_agents_get_403_signed_out_visitors_the_login_page(agent_client):
    from django.test import Client

    assert agent_client.get("/dashboards/").status_code == 403
    assert agent_client.get("/dashboards/export/teams.csv").status_code == 403
    assert agent_client.get("/dashboards/live/").status_code == 403
    response = Client().get("/dashboards/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_nav_shows_dashboards_to_managers_only(manager_client, agent_client):
    assert 'href="/dashboards/"' in manager_client.get("/").content.decode()
    assert 'href="/dashboards/"' not in agent_client.get("/").content.decode()


def test_summary_cards_equal_the_sum_of_every_table(world, manager_client):
    html = manager_client.get("/dashboards/", MARCH).content.decode()
    assert "<svg" in html and "cdn" not in html.lower()
    summary = cards(html)
    assert summary["Created"] == "4" and summary["Solved"] == "2"
    assert summary["CSAT"] == "100.0%" and summary["NPS"] == "+100.0"
    # T1 17h, T2 1h: first response average 9h; business 1h and 1h.
    assert summary["First response"] == "9h 00m" and summary["First response (business)"] == "1h 00m"
    tables = page_tables(html)
    assert set(tables) == {"trend", "teams", "agents", "channels"}
    header = tables["trend"][0]
    for name, rows in tables.items():
        body, total = rows[1:-1], rows[-1]
        created = header.index("Created")
        assert sum(int(r[created]) for r in body) == int(total[created]) == 4, name
        solved = header.index("Solved")
        assert sum(int(r[solved]) for r in body) == int(total[solved]) == 2, name
        # Every figure of the total line is the card's figure of the same name.
        for column, value in zip(header[1:], total[1:]):
            if column in summary:
                assert summary[column] == value, (name, column)
    teams = {row[0]: row for row in tables["teams"][1:-1]}
    assert teams["Berlin"][header.index("First response (business)")] == "1h 00m"
    assert teams["No team"][header.index("Created")] == "3"


def test_csv_export_equals_the_page(world, manager_client):
    html = manager_client.get("/dashboards/", MARCH).content.decode()
    tables = page_tables(html)
    for name in tables:
        response = manager_client.get(f"/dashboards/export/{name}.csv", MARCH)
        assert response["Content-Type"].startswith("text/csv")
        exported = list(csv.reader(io.StringIO(response.content.decode())))
        assert exported == tables[name], name
    assert manager_client.get("/dashboards/export/tickets.csv").status_code == 404


def test_filters_slice_every_figure(world, manager_client):
    html = manager_client.get("/dashboards/", {**MARCH, "team": world.team_id}).content.decode()
    assert cards(html)["Created"] == "1"
    assert [row[0] for row in page_tables(html)["teams"][1:-1]] == ["Berlin"]
    html = manager_client.get("/dashboards/", {**MARCH, "channel": "chat"}).content.decode()
    assert cards(html)["Created"] == "1" and cards(html)["Reopen rate"] == "100.0%"
    html = manager_client.get("/dashboards/", {**MARCH, "tier": "vip"}).content.decode()
    assert cards(html)["Created"] == "2" and cards(html)["NPS"] == "+100.0"
    # Weeks start on Monday: 23 Feb - 1 Mar and 2 - 8 Mar.
    weekly = page_tables(manager_client.get("/dashboards/", {**MARCH, "grain": "week"}).content.decode())["trend"]
    assert [row[0] for row in weekly[1:-1]] == ["2026-W09", "2026-W10"]
    assert [row[1] for row in weekly[1:-1]] == ["1", "3"]
    monthly = page_tables(manager_client.get("/dashboards/", {**MARCH, "grain": "month"}).content.decode())["trend"]
    assert [row[0] for row in monthly[1:-1]] == ["2026-02", "2026-03"]
    # The backlog of a period is the one at its end: T4 alone at the end of February.
    backlog = weekly[0].index("Backlog at end")
    assert [row[backlog] for row in monthly[1:-1]] == ["1", "1"]


def test_bad_filters_are_reported_and_the_defaults_used(world, manager_client):
    response = manager_client.get("/dashboards/", {"start": "2026-03-08", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "The start date must not be after the end date." in response.content.decode()
    response = manager_client.get("/dashboards/", {"start": "not a date", "grain": "year", "team": "x"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()


def test_comment_feed_and_live_tiles(world, manager_client):
    html = manager_client.get("/dashboards/", {**MARCH, "end": "2026-03-10"}).content.decode()
    assert "Quick and kind." in html
    assert "2026-03-08 06:00" in html  # answered 10:00 UTC: 06:00 in New York (EDT since 8 March)
    assert f'#{world.tickets["T1"].number}' in html
    tiles = dict(re.findall(r'data-tile="(\w+)">(\d+)<', html))
    assert tiles["open"] == "1" and tiles["waiting_on_us"] == "1"
    live = manager_client.get("/dashboards/live/").content.decode()
    assert 'id="live-tiles"' in live and "<html" not in live


def test_comments_are_escaped(world, manager_client):
    from metrics.surveys.models import SurveyResponse

    SurveyResponse.objects.filter(comment="Quick and kind.").update(comment="<script>alert(1)</script>")
    html = manager_client.get("/dashboards/", {**MARCH, "end": "2026-03-10"}).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_the_dashboard_reads_rollups_not_tickets(world, manager_client, django_assert_max_num_queries):
    rollups_refresh()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        manager_client.get("/dashboards/", MARCH)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "FROM \"tickets_ticket\"" not in sql.replace("INNER JOIN \"tickets_ticket\"", "")
    # Embedded mode rebuilds dirty days first (about 20 queries); the page itself is about 25.
    assert len(queries.captured_queries) < 60
