#!/usr/bin/env python
"""Benchmark: GET /api/v1/tickets/?status=open&team=<id> (a page of 50) with an API key.

Against the PostgreSQL database in ``DATABASE_URL`` (or ``--database-url``), filled
beforehand by ``manage.py bench_data`` (1,000,000 tickets is the issue's size; this script
never generates data). It creates an API key for ``--user`` (default sam, an agent: the
private-team visibility rule is part of the measured query), revoked at the end, then:

1. in process (Django's test client): server-side time p50/p95 over ``--requests``
   requests after ``--warmup``, and the SQL queries per request;
2. under load: the app served by uvicorn (one process) on 127.0.0.1, ``--concurrency``
   client threads (httpx) for ``--duration`` seconds: requests/s and client-side
   p50/p95. The throttle is lifted for the server (it would measure the limit, not the API).

Prints one JSON object on stdout (progress on stderr)::

    python bench/api.py --database-url postgres://postgres@127.0.0.1:5432/parley_bench
    python bench/api.py --requests 50 --duration 5 --concurrency 4

The machine's other work shows in the timings: compare figures from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="PostgreSQL URL (default $DATABASE_URL)")
    parser.add_argument("--user", default="sam", help="username the API key acts as (default sam)")
    parser.add_argument("--team", type=int, default=None, help="team id to filter by (default: the team with most open tickets)")
    parser.add_argument("--requests", type=int, default=200, help="timed in-process requests (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="in-process requests before timing (default 10)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10; 0 skips the load test)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads of the load test (default 8)")
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None

if ARGS is not None:
    if not ARGS.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/api.py needs --database-url postgres://… (or DATABASE_URL): it measures PostgreSQL")
    os.environ["DATABASE_URL"] = ARGS.database_url
    os.environ.setdefault("SECRET_KEY", "bench-api-not-secret")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _busiest_team() -> int | None:
    from django.db.models import Count

    from tickets.models import Ticket

    row = (
        Ticket.objects.filter(status="open", team__isnull=False, team__is_private=False)
        .values("team_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    return row["team_id"] if row else None


def in_process(path: str, raw_key: str) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    results = 0
    for _ in range(ARGS.warmup):
        response = client.get(path)
        assert response.status_code == 200, response.content[:500]
        results = len(response.json()["results"])
    times, queries = [], []
    for _ in range(ARGS.requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:500]
        queries.append(len(captured.captured_queries))
        results = len(response.json()["results"])
    return {
        "requests": len(times),
        "results_per_page": results,
        "p50_ms": round(percentile(times, 0.5), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "queries_per_request": max(queries) if queries else 0,
    }


def under_load(path: str, raw_key: str) -> dict[str, Any]:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request log would go to stdout
    port = _free_port()
    env = {**os.environ, "API_THROTTLE_RATE": "100000000/min", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    url = f"http://127.0.0.1:{port}{path}"
    headers = {"Authorization": f"Bearer {raw_key}"}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the uvicorn server did not answer within 30 s")
            time.sleep(0.2)
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + ARGS.duration

        def worker() -> None:
            mine: list[float] = []
            failed = 0
            with httpx.Client(headers=headers, timeout=30) as http:
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    try:
                        ok = http.get(url).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        mine.append((time.perf_counter() - started) * 1000)
                    else:
                        failed += 1
            with lock:
                latencies.extend(mine)
                errors[0] += failed

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(ARGS.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return {
        "server": "uvicorn, 1 process",
        "concurrency": ARGS.concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "errors": errors[0],
        "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
    }


def main() -> None:
    assert ARGS is not None
    import django

    django.setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tickets.api import keys
    from tickets.api.scopes import role_scopes

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.API_THROTTLE_RATE = "100000000/min"

    user = get_user_model().objects.filter(username=ARGS.user).first()
    if user is None:
        raise SystemExit(f"no user {ARGS.user!r}: fill the database with `manage.py bench_data` (or pass --user)")
    team = ARGS.team or _busiest_team()
    if team is None:
        raise SystemExit("no open ticket in a public team: fill the database with `manage.py bench_data` first")
    key, raw = keys.api_key_create(name="bench/api.py", user=user, scopes=sorted(role_scopes(user)))
    path = f"/api/v1/tickets/?status=open&team={team}"
    try:
        log(f"in process: {path} as {user.username} …")
        measured = in_process(path, raw)
        loaded = None
        if ARGS.duration > 0:
            log(f"under load: {ARGS.concurrency} threads for {ARGS.duration:g}s …")
            loaded = under_load(path, raw)
    finally:
        keys.api_key_revoke(key=key)
    result = {
        "benchmark": "api",
        "database": connection.vendor,
        "endpoint": path,
        "user": user.username,
        "tickets": _ticket_count(connection),
        "in_process": measured,
        "load": loaded,
    }
    print(json.dumps(result))


def _ticket_count(connection: Any) -> int:
    """Exact when small; else the planner's estimate (COUNT(*) of a million rows costs more than the benchmark)."""
    from tickets.models import Ticket

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'tickets_ticket'")
        estimate = int(cursor.fetchone()[0])
    return estimate if estimate > 100_000 else Ticket.objects.count()


if __name__ == "__main__":
    main()
