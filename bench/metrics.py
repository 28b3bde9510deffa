#!/usr/bin/env python
"""Benchmark: metrics at scale — the full recompute, the incremental refresh per event,
the beat's rebuild of dirty days, and the managers' dashboard pages.

Against the PostgreSQL database in ``--database-url`` (default $DATABASE_URL), filled
beforehand by ``manage.py bench_data`` (1,000,000 tickets is the target size; this script
does not generate them unless ``--generate-tickets`` is given, which the smoke test uses
at a tiny size). In order:

1. full recompute: ``metrics_recompute(workers=2)`` — every ticket's measurements from its
   events, split over ``--workers`` processes, then every rollup day (what ``manage.py
   recompute_metrics --workers 2`` does); then the rollups alone (``--rollups-only``);
2. incremental: ``ticket_metrics_refresh`` (the task body run once per committed event)
   on ``--events`` random tickets, p50/p95; then the beat's rebuild of the days they marked;
3. dashboards: each page ``--requests`` times through Django's test client signed in as a
   manager (server-side time of the whole request: middleware, view, SQL, template), p50/p95
   and query count.

Prints one JSON object on stdout (progress on stderr)::

    python bench/metrics.py --database-url postgres://postgres@127.0.0.1:5432/parley_bench
    python bench/metrics.py --skip-recompute --requests 100

Timings include the machine's other work: compare figures from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="PostgreSQL URL (default $DATABASE_URL)")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="requests per page before timing (default 3)")
    parser.add_argument("--events", type=int, default=300, help="incremental refreshes to time (default 300)")
    parser.add_argument("--skip-recompute", action="store_true", help="use the measurements and rollups already there")
    parser.add_argument("--workers", type=int, default=2, help="processes for the per-ticket recompute (default 2)")
    parser.add_argument("--generate-tickets", type=int, default=0, help="first run bench_data with this many tickets (tests)")
    parser.add_argument("--generate-messages", type=int, default=0, help="messages for --generate-tickets")
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None

if ARGS is not None:
    if not ARGS.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/metrics.py needs --database-url postgres://… (or DATABASE_URL): it measures PostgreSQL")
    os.environ["DATABASE_URL"] = ARGS.database_url
    os.environ.setdefault("SECRET_KEY", "bench-metrics-not-secret")
    # Everything in this process, as in full mode but without Redis: tasks are queued to
    # Celery's in-memory broker (never run), so pages do not rebuild rollups themselves.
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2), "n": len(ordered)}


def main() -> dict[str, Any]:
    from bench.inbox import ensure_database

    ensure_database(ARGS.database_url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client

    from metrics.models import BacklogRollup, DailyRollup, TicketMetrics
    from metrics.selectors import default_filters
    from metrics.services import metrics_recompute, rollups_refresh, ticket_metrics_refresh
    from tests.factories import AgentFactory
    from tickets.models import Team, Ticket, TicketEvent

    # As the tests do: the test client's host, static files without a collectstatic manifest.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("migrate", verbosity=0)
    if ARGS.generate_tickets:
        log(f"bench_data --tickets {ARGS.generate_tickets}")
        call_command(
            "bench_data", tickets=ARGS.generate_tickets, messages=ARGS.generate_messages or ARGS.generate_tickets * 4, stdout=sys.stderr
        )
    result: dict[str, Any] = {"benchmark": "metrics", "database": connection.vendor}

    recompute: dict[str, float] = {}
    if not ARGS.skip_recompute:
        log("full recompute (measurements + rollups) ...")
        started = time.perf_counter()
        tickets = metrics_recompute(workers=ARGS.workers)
        recompute["full_s"] = round(time.perf_counter() - started, 2)
        recompute["workers"] = ARGS.workers
        recompute["tickets"] = tickets
        log(f"  {recompute['full_s']} s; rollups only ...")
        started = time.perf_counter()
        metrics_recompute(tickets_too=False)
        recompute["rollups_only_s"] = round(time.perf_counter() - started, 2)
    result["recompute"] = recompute
    result["rows"] = {
        "tickets": Ticket.objects.count(),
        "events": TicketEvent.objects.count(),
        "ticket_metrics": TicketMetrics.objects.count(),
        "daily_rollups": DailyRollup.objects.count(),
        "backlog_rollups": BacklogRollup.objects.count(),
    }

    log(f"incremental: {ARGS.events} refreshes ...")
    ids = list(TicketMetrics.objects.order_by("?").values_list("ticket_id", flat=True)[: ARGS.events])
    samples = []
    for ticket_id in ids:
        started = time.perf_counter()
        ticket_metrics_refresh(ticket_id=ticket_id)
        samples.append(time.perf_counter() - started)
    result["incremental_per_event"] = percentiles(samples) if samples else {}
    started = time.perf_counter()
    done = rollups_refresh()
    result["beat_rebuild"] = {**done, "ms": round((time.perf_counter() - started) * 1000, 1)}

    log("dashboard pages ...")
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.filter(username="bench-metrics-manager").first()
    if manager is None:
        manager = AgentFactory(role="manager", user__username="bench-metrics-manager").user
    client = Client()
    client.force_login(manager)
    filters = default_filters()
    team = Team.objects.order_by("pk").values_list("pk", flat=True).first()
    year = {"start": filters.end.replace(year=filters.end.year - 1).isoformat(), "end": filters.end.isoformat()}
    pages = {
        "overview_30_days": ("/dashboards/", {}),
        "overview_year_by_month": ("/dashboards/", {**year, "grain": "month"}),
        "overview_90_days_by_week_one_team": (
            "/dashboards/",
            {"start": (filters.end.toordinal() - 89), "grain": "week", "team": team or ""},
        ),
        "export_agents_csv_30_days": ("/dashboards/export/agents.csv", {}),
        "live_tiles": ("/dashboards/live/", {}),
    }
    from datetime import date

    pages["overview_90_days_by_week_one_team"][1]["start"] = date.fromordinal(filters.end.toordinal() - 89).isoformat()
    result["pages"] = {}
    settings.DEBUG = True  # count queries
    for name, (path, params) in pages.items():
        for _ in range(ARGS.warmup):
            assert client.get(path, params).status_code == 200, (name, path)
        times, queries = [], 0
        for _ in range(ARGS.requests):
            reset_queries()
            started = time.perf_counter()
            response = client.get(path, params)
            times.append(time.perf_counter() - started)
            queries = len(connection.queries)
            assert response.status_code == 200
        result["pages"][name] = {**percentiles(times), "queries": queries}
        log(f"  {name}: {result['pages'][name]}")
    return result


if __name__ == "__main__":
    random.seed(6)
    print(json.dumps(main()))
