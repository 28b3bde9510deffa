"""bench/api.py end to end at a tiny size: against committed rows in the test database
(the script never generates data; at scale they come from ``manage.py bench_data``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import full_mode_only

ROOT = Path(__file__).resolve().parents[2]


def _url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_api_bench_prints_one_json_object():
    from tests.factories import AgentFactory, TeamFactory, TicketFactory, UserFactory

    AgentFactory(role="agent", user=UserFactory(username="sam", is_staff=True))
    team = TeamFactory()
    for _ in range(5):
        TicketFactory(team=team, status="open")
    done = subprocess.run(
        [sys.executable, "bench/api.py", "--database-url", _url(), "--requests", "3", "--warmup", "1", "--duration", "1", "--concurrency", "2"],
        cwd=ROOT, env={**os.environ, "SECRET_KEY": "x"}, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "api" and result["tickets"] == 5
    assert result["endpoint"] == f"/api/v1/tickets/?status=open&team={team.pk}"
    in_process, load = result["in_process"], result["load"]
    assert in_process["results_per_page"] == 5 and in_process["queries_per_request"] > 0
    assert in_process["p95_ms"] >= in_process["p50_ms"] > 0
    assert load["requests"] > 0 and load["errors"] == 0 and load["requests_per_second"] > 0
