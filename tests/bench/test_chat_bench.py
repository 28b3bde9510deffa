"""bench/chat.py end to end at a tiny size: its own uvicorn process, 5 widget sockets, one JSON object."""

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


@full_mode_only
@pytest.mark.django_db(transaction=True)  # the bench's server sees committed rows; the flush after cleans up
def test_chat_bench_prints_latency_and_memory_per_connection():
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    # The test database (already migrated): the bench adds its channel, agent and tickets there.
    database_url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    done = subprocess.run(
        [sys.executable, "bench/chat.py", "--database-url", database_url, "--redis-url", settings.REDIS_URL,
         "--connections", "5", "--messages", "8", "--rate", "20"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x", "CHANNEL_LAYER_PREFIX": f"chatbench-{os.getpid()}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "chat" and result["server"] == "uvicorn, 1 process"
    assert result["connections"] == 5 and result["connections_open_at_end"] == 5
    # Every message stored (acked) and heard by the agent's socket; none lost.
    assert result["messages_sent"] == result["messages_acked"] == result["messages_delivered_to_agent"] == 8
    latency = result["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert result["latency_new_ticket_ms"]["count"] == 5 and result["latency_follow_up_ms"]["count"] == 3
    assert result["server_rss_kib_after"] > 0 and "memory_per_connection_kib" in result
    assert result["error_count"] == 0
