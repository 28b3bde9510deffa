#!/usr/bin/env python
"""Benchmark: how fast the agent's pages answer with a million tickets, and that their SQL
query count does not grow with page size or data size.

Against a PostgreSQL database filled by ``manage.py bench_data`` (run first unless
``--skip-generate``), Django's test client signed in as an agent (sam) and as a manager
(maya) requests each page: the inbox (All open), a filtered view (team + priority + tag),
a search for a common and for a rare word, a ticket page with 25+ messages, and the inbox
at page 20 reached through the keyset cursor. Per page and user: server-side time p50/p95
over ``--requests`` requests (warm-up excluded; the time of the whole request in this
process: middleware, view, SQL, template), the SQL query count and the SQL time.

Then the query-count checks: the inbox at page size 25 and 100 (the page size is the
selector's default, set for the run) and every page on a small data set (a sibling
database ``<name>_small`` with ``--small-tickets`` tickets, measured by a child run of
this script) must issue the same number of queries.

Prints one JSON object on stdout (progress on stderr)::

    python bench/inbox.py --database-url postgres://postgres@127.0.0.1:5432/parley_bench \\
        --tickets 1000000 --messages 5000000
    python bench/inbox.py --database-url ... --skip-generate --requests 200

The machine's other work shows in the timings: compare figures from one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="PostgreSQL URL (default $DATABASE_URL)")
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets to generate (default 1,000,000)")
    parser.add_argument("--messages", type=int, default=5_000_000, help="messages to generate (default 5,000,000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page and user (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="requests per page and user before timing (default 10)")
    parser.add_argument("--skip-generate", action="store_true", help="use the data already in the database")
    parser.add_argument("--small-tickets", type=int, default=2000, help="tickets of the small data set (default 2,000)")
    parser.add_argument(
        "--page-size-view", default="open", help="inbox view of the page-size check (default open; small data sets: solved)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of each page's slowest query to stderr"
    )
    parser.add_argument("--no-small", action="store_true", help="skip the small-data-set comparison")
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None

if ARGS is not None:
    if not ARGS.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/inbox.py needs --database-url postgres://… (or DATABASE_URL): it measures PostgreSQL")
    os.environ["DATABASE_URL"] = ARGS.database_url
    os.environ.setdefault("SECRET_KEY", "bench-inbox-not-secret")
    # Keep requests in this process: no Redis needed, Celery eager, no realtime fan-out to Redis.
    os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def ensure_database(url: str) -> None:
    """Create the database when missing (connecting to the server's ``postgres`` database)."""
    import psycopg

    name = _database_name(url)
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


_TICKET_LINK = re.compile(r'href="/tickets/(\d+)/"')
_CURSOR_LINK = re.compile(r'href="\?([^"]*cursor=[^"]*)"')


def rows_of(html: str) -> int:
    """Tickets linked from a rendered list page (its rows)."""
    return len(set(_TICKET_LINK.findall(html)))


@contextlib.contextmanager
def page_size(size: int) -> Iterator[None]:
    """Run the inbox with another page size: the selector's default ``limit`` (and a module
    PAGE_SIZE constant where the code has one), restored after."""
    import importlib

    from tickets import selectors

    saved: list[tuple[Any, str, Any]] = []
    functions = [getattr(selectors, "ticket_list_for_agent", None)]
    for module_name in ("tickets.selectors.inbox", "tickets.selectors.workspace", "tickets.views.inbox"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(module_name)
            if hasattr(module, "PAGE_SIZE"):
                saved.append((module, "PAGE_SIZE", module.PAGE_SIZE))
                module.PAGE_SIZE = size
            functions += [getattr(module, "ticket_list_for_agent", None), getattr(module, "page_of", None)]
    for function in {f for f in functions if f is not None}:
        defaults = function.__kwdefaults__ or {}
        if "limit" in defaults:
            saved.append((function, "__kwdefaults__", dict(defaults)))
            function.__kwdefaults__ = {**defaults, "limit": size}
    try:
        yield
    finally:
        for owner, attribute, value in reversed(saved):
            setattr(owner, attribute, value)


def main() -> None:
    assert ARGS is not None
    started = time.perf_counter()
    ensure_database(ARGS.database_url)

    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # As the tests do: the test client's host, static files without a collectstatic manifest.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

    call_command("migrate", verbosity=0)
    generated = None
    if not ARGS.skip_generate:
        from tickets.demo.bulk import bulk_load

        log(f"generating {ARGS.tickets:,} tickets / {ARGS.messages:,} messages …")
        summary = bulk_load(tickets=ARGS.tickets, messages=ARGS.messages, fresh=True, stdout=sys.stderr)
        generated = {"seconds": summary.total_seconds, "phases": summary.seconds}

    from django.contrib.auth import get_user_model

    from tickets.demo.bulk import COMMON_WORD, RARE_WORD
    from tickets.models import Tag, Team

    User = get_user_model()
    users = {"agent": User.objects.get(username="sam"), "manager": User.objects.get(username="maya")}

    rows = _row_counts(connection)
    log(f"data set: {rows}")

    team = Team.objects.filter(slug="support").first() or Team.objects.filter(is_private=False).order_by("pk").first()
    tag = Tag.objects.filter(name="login").first() or Tag.objects.order_by("pk").first()
    filters = {"view": "open", "team": team.pk, "priority": "high", "tag": tag.name}
    long_tickets = _long_tickets(connection)
    pages: dict[str, Any] = {
        "inbox": "/?view=open",
        "filtered": "/?" + urlencode(filters),
        "search_common": "/?" + urlencode({"q": COMMON_WORD}),
        "search_rare": "/?" + urlencode({"q": RARE_WORD}),
        "ticket": [f"/tickets/{number}/" for number in long_tickets],
    }

    clients = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        clients[role] = client

    def get(client: Client, url: str) -> Any:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
        return response

    # Page 20 of All open through the cursor links, for each user (private teams differ).
    for role, client in clients.items():
        url = "/?view=open"
        for _ in range(19):
            match = _CURSOR_LINK.search(get(client, url).content.decode())
            if match is None:
                break
            url = "/?" + match.group(1).replace("&amp;", "&")
        pages.setdefault("inbox_page_20", {})[role] = url

    results: dict[str, Any] = {}
    for name, target in pages.items():
        results[name] = {}
        for role, client in clients.items():
            urls = target[role] if isinstance(target, dict) else target
            urls = urls if isinstance(urls, list) else [urls]
            for i in range(ARGS.warmup):
                get(client, urls[i % len(urls)])
            timings = []
            for i in range(ARGS.requests):
                t0 = time.perf_counter()
                get(client, urls[i % len(urls)])
                timings.append(time.perf_counter() - t0)
            with CaptureQueriesContext(connection) as queries:
                html = get(client, urls[0]).content.decode()
            slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
            if ARGS.explain:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
                        plan = "\n".join(row[0] for row in cursor.fetchall())
                except DatabaseError as exc:  # a logged query with unbound placeholders
                    plan = f"(no plan: {exc})"
                log(f"--- {name} / {role}: slowest query ({slowest['time']} s)\n{slowest['sql']}\n{plan}")
            results[name][role] = {
                "p50_ms": round(percentile(timings, 0.5) * 1000, 1),
                "p95_ms": round(percentile(timings, 0.95) * 1000, 1),
                "queries": len(queries),
                "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
                "slowest_query_ms": round(float(slowest["time"]) * 1000, 1),
                "rows": rows_of(html) if name != "ticket" else None,
            }
            log(f"{name:14} {role:8} {results[name][role]}")

    # The same page at three page sizes: the rows change, the query count must not.
    by_size = {}
    for size in (25, 50, 100):
        with page_size(size), CaptureQueriesContext(connection) as queries:
            html = get(clients["agent"], f"/?view={ARGS.page_size_view}").content.decode()
        by_size[size] = {"queries": len(queries), "rows": rows_of(html)}
    log(f"page sizes: {by_size}")

    query_counts = {name: {role: r["queries"] for role, r in by_role.items()} for name, by_role in results.items()}
    small = None
    if not ARGS.no_small:
        small = _small_run()

    print(
        json.dumps(
            {
                "benchmark": "inbox",
                "database": connection.vendor,
                "rows": rows,
                "generated": generated,
                "requests_per_page": ARGS.requests,
                "warmup": ARGS.warmup,
                "pages": results,
                "urls": {k: v for k, v in pages.items()},
                "page_size_queries": by_size,
                "query_count_independent_of_page_size": len({v["queries"] for v in by_size.values()}) == 1,
                "page_size_applied": len({v["rows"] for v in by_size.values()}) > 1,
                "small_data_set": small,
                "query_count_independent_of_data_size": (small["queries"] == query_counts) if small else None,
                "p95_over_80ms": sorted(
                    f"{name}/{role}" for name, by_role in results.items() for role, r in by_role.items() if r["p95_ms"] >= 80
                ),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


def _row_counts(connection: Any) -> dict[str, int]:
    tables = {
        "tickets": "tickets_ticket",
        "messages": "tickets_message",
        "events": "tickets_ticketevent",
        "customers": "tickets_customer",
        "identities": "tickets_customeridentity",
        "organizations": "tickets_organization",
        "ticket_tags": "tickets_ticket_tags",
    }
    counts = {}
    with connection.cursor() as cursor:
        for key, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[key] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tickets_ticket WHERE status IN ('new', 'open', 'pending', 'on_hold')")
        counts["open_tickets"] = cursor.fetchone()[0]
    return counts


def _long_tickets(connection: Any, wanted: int = 5) -> list[int]:
    """Numbers of a few tickets with 25+ messages in public teams (bench_data makes every
    1000th ticket a long thread; found through the (ticket, created_at) index)."""
    from tickets.models import Ticket

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM tickets_ticket")
        low, high = cursor.fetchone()
        found: list[int] = []
        step = max(1, (high - low) // (wanted * 3))
        for start in range(low, high + 1, step):
            cursor.execute(
                """SELECT m.ticket_id FROM tickets_message m WHERE m.ticket_id BETWEEN %s AND %s
                   GROUP BY m.ticket_id HAVING count(*) >= 25 ORDER BY m.ticket_id LIMIT 3""",
                [start, start + 3000],
            )
            found += [r[0] for r in cursor.fetchall()]
            if len(found) >= wanted * 3:
                break
    numbers = list(
        Ticket.objects.filter(pk__in=found, team__is_private=False, merged_into__isnull=True).values_list("number", flat=True)
    )
    if not numbers:
        raise SystemExit("no ticket with 25+ messages in a public team: was the database filled by bench_data?")
    return numbers[:wanted]


def _small_run() -> dict[str, Any]:
    """The same pages on a small data set, in a child process on ``<name>_small``: its query counts."""
    assert ARGS is not None
    url = _with_database(ARGS.database_url, _database_name(ARGS.database_url) + "_small")
    command = [
        sys.executable, __file__, "--database-url", url, "--tickets", str(ARGS.small_tickets),
        "--messages", str(ARGS.small_tickets * 5), "--requests", "2", "--warmup", "1", "--no-small",
        "--page-size-view", ARGS.page_size_view,
    ]
    log(f"small data set: {' '.join(command[2:])}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the small-data-set run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    return {
        "rows": result["rows"],
        "queries": {name: {role: r["queries"] for role, r in by_role.items()} for name, by_role in result["pages"].items()},
    }


if __name__ == "__main__":
    main()
