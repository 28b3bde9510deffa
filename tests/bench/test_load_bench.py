"""bench/load.py end to end at a tiny size: its own uvicorn, Celery worker and SMTP server,
every kind of load for a few seconds, one JSON object with every section and no error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.bench.test_api_bench import _url as database_url
from tests.conftest import full_mode_only

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"email", "webhook", "chat", "agent_inbox", "agent_ticket", "agent_reply", "api"}


@full_mode_only
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)  # the bench's processes see committed rows; the flush after cleans up
def test_load_bench_runs_every_kind_without_error_and_stores_each_message_once(tmp_path):
    # The test database (already migrated): the bench adds its channels, agents and tickets there.
    flags = {"duration": 4, "chat-connections": 3, "chat-interval": 1.5, "agents": 1, "agent-think": 0.2,
             "email-rate": 1, "webhook-rate": 1, "api-rate": 1, "seed-tickets": 2, "drain-timeout": 60}
    command = [sys.executable, "bench/load.py", "--database-url", database_url(), "--redis-url", settings.REDIS_URL]
    command += [part for name, value in flags.items() for part in (f"--{name}", str(value))]
    env = {**os.environ, "SECRET_KEY": "x", "CHANNEL_LAYER_PREFIX": f"loadbench-{os.getpid()}",
           "PARLEY_VAR_DIR": str(tmp_path), "MEDIA_ROOT": str(tmp_path / "media")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = done.stdout.strip().splitlines()  # one JSON object and nothing else on stdout
    result = json.loads(line)
    assert result["benchmark"] == "load"
    assert len(result["load_average_before"]) == len(result["load_average_after"]) == 3
    assert set(result["requests"]) == KINDS
    for kind, figures in result["requests"].items():
        assert figures["count"] > 0, kind
        assert figures["errors"] == 0, (kind, figures["error_messages"])
        latency = figures["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"], kind
    assert result["errors_total"] == 0 and result["chat_connections_open_at_end"] == 3
    for process in ("asgi", "worker", "smtp"):
        memory = result["memory"][process]
        assert 0 < memory["rss_kib_start"] and 0 < memory["rss_kib_end"] and isinstance(memory["steady"], bool)
    check = result["stored_exactly_once"]
    for kind in ("email", "webhook", "chat"):
        assert check[kind]["accepted"] == result["requests"][kind]["count"]
        assert check[kind]["stored_once"] == check[kind]["accepted"], (kind, check[kind])
    assert check["ok"] is True and check["inbound_waiting"] == 0
