"""bench/inbox.py end to end with tiny counts: it fills its own database and prints one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from django.conf import settings

from tests.conftest import full_mode_only

ROOT = Path(__file__).resolve().parents[2]


def _url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@full_mode_only
def test_inbox_bench_prints_one_json_object_with_every_page():
    name = settings.DATABASES["default"]["NAME"] + "_inboxbench"
    try:
        done = subprocess.run(
            [
                sys.executable, "bench/inbox.py", "--database-url", _url(name), "--tickets", "300", "--messages", "1500",
                "--requests", "3", "--warmup", "1", "--small-tickets", "100", "--page-size-view", "solved",
            ],
            cwd=ROOT,
            env={**os.environ, "SECRET_KEY": "x"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        _drop(name)
        _drop(name + "_small")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "inbox" and result["database"] == "postgresql"
    assert result["rows"]["tickets"] == 300 and result["rows"]["messages"] == 1500
    assert set(result["pages"]) == {"inbox", "filtered", "search_common", "search_rare", "ticket", "inbox_page_20"}
    for page in result["pages"].values():
        assert set(page) == {"agent", "manager"}
        for figures in page.values():
            assert figures["p95_ms"] >= figures["p50_ms"] > 0
            assert figures["queries"] > 0
    assert result["page_size_applied"] is True
    assert result["query_count_independent_of_page_size"] is True
    assert result["small_data_set"]["rows"]["tickets"] == 100
    assert isinstance(result["query_count_independent_of_data_size"], bool)
    assert isinstance(result["p95_over_80ms"], list)
