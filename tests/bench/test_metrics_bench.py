"""bench/metrics.py end to end at a tiny size: it fills its own database and prints one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from tests.bench.test_inbox_bench import ROOT, _drop, _url
from tests.conftest import full_mode_only


@full_mode_only
def test_metrics_bench_prints_one_json_object():
    name = settings.DATABASES["default"]["NAME"] + "_metricsbench"
    try:
        done = subprocess.run(
            [
                sys.executable, "bench/metrics.py", "--database-url", _url(name), "--generate-tickets", "200",
                "--generate-messages", "600", "--requests", "2", "--warmup", "1", "--events", "20",
            ],
            cwd=ROOT,
            env={**os.environ, "SECRET_KEY": "x"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        _drop(name)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "metrics" and result["database"] == "postgresql"
    assert result["rows"]["tickets"] == 200 and result["rows"]["ticket_metrics"] == 200
    assert result["rows"]["daily_rollups"] > 0 and result["rows"]["backlog_rollups"] > 0
    assert result["recompute"]["tickets"] == 200 and result["recompute"]["full_s"] > 0
    assert result["incremental_per_event"]["n"] == 20
    assert set(result["pages"]) == {
        "overview_30_days", "overview_year_by_month", "overview_90_days_by_week_one_team", "export_agents_csv_30_days", "live_tiles",
    }
    for page in result["pages"].values():
        assert page["p95_ms"] >= page["p50_ms"] > 0 and page["queries"] > 0
