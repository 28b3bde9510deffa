"""Benchmark-sized data in minutes: ``bulk_load(tickets=1_000_000, messages=5_000_000)``.

``seed_demo`` replays each ticket's life in Python, which is right for a demo and takes
hours for a million tickets. Here every table is filled by one set-based
``INSERT … SELECT … FROM generate_series`` per kind of row, computed inside PostgreSQL;
Python only builds the small tables the statements draw from (the demo's cast, and the
demo's topics as a table of cases, so subjects, messages, notes, teams, tags and
priorities agree with each other as they do in the demo).

Every random choice is ``pg_temp.u(row number, salt)``, a hash of the row's number into
[0, 1): the same counts give the same data (timestamps relative to the run), and any
statement can recompute another's choice without a join (a customer's name, email address
and second channel are functions of the customer's id, so tickets and messages know them).

What the rows keep of the services' invariants: ``Ticket.number`` = id; the ticket's
organization is its customer's; ``updated_at`` is the last activity (the last message,
or the close); status ``new`` means no agent has answered or taken it (no outbound message,
no assignee, no first response); ``first_response_at``/``last_*_activity_at``/
``solved_at``/``closed_at`` match the messages and status; each ticket has its ``created``
and ``team_changed`` events, a ``message_added`` per message, ``assigned`` and
``status_changed`` events as the services write them; customer identities are unique per
(kind, address); customers' first/last seen come from their tickets.

Speed: the loaded tables' secondary indexes, unique and foreign-key constraints are dropped
for the load and rebuilt after it (one build per index instead of five million inserts into
each; one validating join per foreign key instead of a trigger per row), all in one
transaction, so a failure leaves the database as it was. Then VACUUM ANALYZE (autovacuum
may be off, and the planner must see the new sizes), and the id sequences are moved past
the new rows so the app keeps inserting.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from tickets.models import (
    AgentProfile,
    Customer,
    CustomerIdentity,
    Message,
    Organization,
    OrganizationDomain,
    Tag,
    Ticket,
    TicketEvent,
)
from tickets.roles import AGENT, roles_sync

from .base import SUPPORT_ADDRESS
from .cast import FIRST_NAMES, LAST_NAMES, LOGIN_PASSWORDS, TIME_ZONES
from .topics import (
    BROWSERS,
    CITIES,
    DEVICES,
    INTERIM,
    MOBILE_DEVICES,
    NUDGES,
    PLANS,
    THANKS,
    TOPICS,
)
from .writer import Output, Writer

# Words the search benchmark looks for: one in a large share of messages (every first
# message names an order), one in about 1 message in 100,000 and 1 subject in 20,000.
COMMON_WORD = "order"
RARE_WORD = "xylophone"
# Every 1000th ticket (1, 1001, ...) is a long conversation: the ticket page's case.
LONG_THREAD = 30
LONG_EVERY = 1000
# Ticket creation times spread over this window, ending now.
SPAN = dt.timedelta(days=730)
# Extra agents beside the demo's staff, so assignees are spread as in a real team.
EXTRA_AGENTS = 24
# Differently filled copies of each demo case ({order}, {amount}, ... take other values).
VARIANTS = 8

_KINDS = ("chat", "whatsapp", "messenger", "instagram", "telegram", "sms", "api")  # second channels
_IDENTITY_KINDS = ("chat", "whatsapp", "messenger", "instagram", "telegram", "phone", "api")
_ORG_WORDS_A = ("North", "Blue", "Silver", "Granite", "Bright", "Cedar", "Harbor", "Summit", "Iron", "Willow", "Lumen", "Vista")
_ORG_WORDS_B = ("Logistics", "Labs", "Foods", "Health", "Media", "Systems", "Retail", "Studios", "Energy", "Travel", "Bank")
_LANGUAGES = ("en", "en", "en", "en", "en", "en", "en", "de", "fr", "es")


class BulkLoadError(Exception):
    """The load cannot run here (not PostgreSQL, impossible counts)."""


@dataclass
class LoadSummary:
    rows: dict[str, int] = field(default_factory=dict)  # rows added, by table
    seconds: dict[str, float] = field(default_factory=dict)  # by phase
    total_seconds: float = 0.0


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower().replace("'", "")


# --- SQL helpers ---------------------------------------------------------------------------

_FUNCTIONS = (
    # A row's random number for a given salt: hash of (row number, salt) into [0, 1).
    """CREATE OR REPLACE FUNCTION pg_temp.u(g bigint, s integer) RETURNS double precision
       LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT (hashint8extended(g, s) & 4503599627370495)::double precision / 4503599627370496.0 $$""",
    # One element of an array, chosen by a random number in [0, 1).
    """CREATE OR REPLACE FUNCTION pg_temp.pick(a anyarray, r double precision) RETURNS anyelement
       LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT a[1 + floor(r * cardinality(a))::integer] $$""",
)


def _fill(case_no: int, variant: int) -> dict[str, str]:
    """Values for the demo lines' placeholders ({order}, {amount}, ...), one set per case variant
    (filled in Python once, so the five million messages need no string replacing)."""
    rng = random.Random(f"bench:{case_no}:{variant}")
    return {
        "order": f"#{rng.randrange(100_000, 999_999)}",
        "invoice": f"INV-{rng.choice((2024, 2025))}-{rng.randrange(1000, 99999):05d}",
        "amount": f"${rng.choice((19, 29, 49, 79, 99, 149, 249))}.00",
        "plan": rng.choice(PLANS),
        "date": f"{rng.choice(('March', 'April', 'June', 'September', 'November'))} {rng.randrange(1, 29)}",
        "browser": rng.choice(BROWSERS),
        "device": rng.choice(DEVICES),
        "mobile": rng.choice(MOBILE_DEVICES),
        "city": rng.choice(CITIES),
        "ref": str(rng.randrange(1000, 9999)),
    }


def _name_sql(cid: str) -> tuple[str, str, str]:
    """SQL for a customer's (full name, ascii first, ascii last), a function of their id."""
    first = f"pg_temp.u({cid}, 20)"
    last = f"pg_temp.u({cid}, 21)"
    return (
        f"pg_temp.pick(%(first)s::text[], {first}) || ' ' || pg_temp.pick(%(last)s::text[], {last})",
        f"pg_temp.pick(%(first_ascii)s::text[], {first})",
        f"pg_temp.pick(%(last_ascii)s::text[], {last})",
    )


def _name_params() -> dict[str, list[str]]:
    return {
        "first": list(FIRST_NAMES),
        "last": list(LAST_NAMES),
        "first_ascii": [_ascii(n) for n in FIRST_NAMES],
        "last_ascii": [_ascii(n) for n in LAST_NAMES],
    }


def _email_sql(cid: str, org: str) -> str:
    """A customer's email address: unique by the id in it; on their organization's domain
    (``org<id>.bench.example``, as _load_customers names it) or a personal one."""
    _, first, last = _name_sql(cid)
    return (
        f"{first} || '.' || {last} || '.c' || {cid} || '@' || "
        f"coalesce('org' || {org} || '.bench.example', "
        f"pg_temp.pick(ARRAY['mail.bench.example', 'inbox.bench.example', 'post.bench.example'], pg_temp.u({cid}, 22)))"
    )


def _second_kind_sql(cid: str) -> str:
    """The index (1-based) into _KINDS of a customer's second channel, or 0 for email only."""
    return f"(CASE WHEN pg_temp.u({cid}, 10) < 0.45 THEN 1 + floor(pg_temp.u({cid}, 11) * {len(_KINDS)})::integer ELSE 0 END)"


def _second_address_sql(cid: str, kind_index: str) -> str:
    return (
        f"(CASE {kind_index} WHEN 1 THEN 'visitor-bench-' || {cid} WHEN 2 THEN '+1555' || lpad({cid}::text, 8, '0') "
        f"WHEN 3 THEN '59' || {cid} WHEN 4 THEN '1784' || {cid} WHEN 5 THEN '2' || lpad({cid}::text, 9, '0') "
        f"WHEN 6 THEN '+1555' || lpad({cid}::text, 8, '0') ELSE 'user-bench-' || {cid} END)"
    )


# --- Indexes and constraints dropped for the load --------------------------------------------

LOADED_MODELS = (Organization, OrganizationDomain, Customer, CustomerIdentity, Ticket, Ticket.tags.through, Message, TicketEvent)


@dataclass
class _Schema:
    foreign_keys: list[tuple[str, str, str]]  # (table, name, definition)
    uniques: list[tuple[str, str, str]]
    indexes: list[tuple[str, str]]  # (name, CREATE INDEX ...)
    # Statistics targets set on index columns (ALTER INDEX … SET STATISTICS: a search
    # index's expression), which a rebuilt index would otherwise lose.
    statistics: list[tuple[str, int, int]] = field(default_factory=list)  # (index, column number, target)


def _drop_secondary(cursor: Any, tables: Sequence[str]) -> _Schema:
    """Drop every index and constraint of the tables but their primary keys; return how to rebuild them."""
    cursor.execute(
        """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
           FROM pg_constraint c WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u')
           ORDER BY c.conname""",
        [list(tables)],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                             AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
           ORDER BY 1""",
        [list(tables)],
    )
    schema = _Schema(
        foreign_keys=[(t, n, d) for t, n, d, kind in constraints if kind == "f"],
        uniques=[(t, n, d) for t, n, d, kind in constraints if kind == "u"],
        indexes=list(cursor.fetchall()),
    )
    cursor.execute(
        """SELECT a.attrelid::regclass::text, a.attnum, a.attstattarget FROM pg_attribute a
           JOIN pg_index i ON i.indexrelid = a.attrelid
           WHERE i.indrelid = ANY(%s::regclass[]) AND a.attstattarget > 0""",
        [list(tables)],
    )
    schema.statistics = list(cursor.fetchall())
    q = connection.ops.quote_name
    # Checks deferred by inserts earlier in this transaction must run before their constraints go.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table, name, _ in schema.foreign_keys + schema.uniques:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {q(name)}")
    for name, _ in schema.indexes:
        cursor.execute(f"DROP INDEX {name}")
    return schema


def _rebuild(cursor: Any, schema: _Schema, step: Callable[[str], None]) -> None:
    q = connection.ops.quote_name
    for _, definition in schema.indexes:
        cursor.execute(definition)
    for table, name, definition in schema.uniques:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {q(name)} {definition}")
    for index, column, target in schema.statistics:
        cursor.execute(f"ALTER INDEX {index} ALTER COLUMN {int(column)} SET STATISTICS {int(target)}")
    step("indexes rebuilt")
    for table, name, definition in schema.foreign_keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {q(name)} {definition}")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    step("foreign keys validated")


# --- The cast: few rows, through the ORM ---------------------------------------------------


def _cast(stdout: Output | None) -> dict[str, Any]:
    """The demo's staff, teams, channels, organizations and tags (created when missing),
    plus extra agents; returns the ids the statements draw from."""
    writer = Writer(stdout=stdout)
    with transaction.atomic():
        roles_sync()
        teams = writer.teams()
        writer.staff(teams=teams)
        channels = writer.channels(teams=teams)
        writer.organizations()
        writer.tags()
        User = get_user_model()
        existing = set(User.objects.filter(username__startswith="agent").values_list("username", flat=True))
        group = Group.objects.get(name=AGENT)
        password = make_password(LOGIN_PASSWORDS[AGENT])
        slugs = [slug for slug in teams]
        for i in range(1, EXTRA_AGENTS + 1):
            username = f"agent{i:02d}"
            if username in existing:
                continue
            first, last = FIRST_NAMES[(i * 7) % len(FIRST_NAMES)], LAST_NAMES[(i * 11) % len(LAST_NAMES)]
            user = User.objects.create(
                username=username, first_name=first, last_name=last, email=f"{username}@parley.localhost",
                password=password, is_staff=True,
            )
            user.groups.add(group)
            profile = AgentProfile.objects.create(
                user=user, display_name=f"{first} {last}", availability=AgentProfile.Availability.AVAILABLE
            )
            profile.teams.set([teams[slugs[i % len(slugs)]]])
    agents: dict[int, list[int]] = {team_id: [] for team_id in teams.values()}
    for user_id, team_id in AgentProfile.objects.filter(user__groups__name=AGENT, teams__isnull=False).values_list(
        "user_id", "teams"
    ):
        agents[team_id].append(user_id)
    tags = dict(Tag.objects.values_list("name", "pk"))
    return {"teams": teams, "channels": channels, "agents": agents, "tags": tags}


def _cases(cast: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The demo's topics flattened: one row per case (its topic's weight, team, tags,
    priority, sentiment range, the team's agents) and VARIANTS rows of filled lines per case."""
    cases, lines = [], []
    number = 0
    every_agent = sorted({a for ids in cast["agents"].values() for a in ids})
    for topic in TOPICS:
        team_id = cast["teams"][topic.team]
        for case in topic.cases:
            number += 1
            cases.append(
                (
                    number,
                    max(1, round(topic.weight * 10 / len(topic.cases))),
                    team_id,
                    topic.priority,
                    topic.sentiment[0],
                    topic.sentiment[1],
                    [cast["tags"][name] for name in topic.tags if name in cast["tags"]],
                    sorted(set(cast["agents"].get(team_id) or every_agent)),
                )
            )
            for variant in range(1, VARIANTS + 1):
                fill = _fill(number, variant)
                subject = random.Random(f"bench-subject:{number}:{variant}").choice(case.subjects)
                lines.append(
                    (
                        number,
                        variant,
                        *(
                            line.format(**fill)
                            for line in (
                                subject, case.ask, case.chat, case.answer, case.follow_up, case.hold, case.resolution, case.note
                            )
                        ),
                    )
                )
    return cases, lines


# --- The load --------------------------------------------------------------------------------


def bulk_load(
    *,
    tickets: int,
    messages: int,
    customers: int | None = None,
    fresh: bool = False,
    stdout: Output | None = None,
) -> LoadSummary:
    """Add ``tickets`` tickets with ``messages`` messages in all (and their customers, events,
    tags) to a PostgreSQL database; ``fresh`` first empties the ticket and customer tables."""
    if connection.vendor != "postgresql":
        raise BulkLoadError(
            f"bench_data needs PostgreSQL (this database is {connection.vendor}): it generates rows with "
            "INSERT … SELECT generate_series. Set DATABASE_URL=postgres://…; for demo data on SQLite use seed_demo."
        )
    if tickets < 1:
        raise BulkLoadError("--tickets must be at least 1")
    if messages < tickets:
        raise BulkLoadError(f"--messages ({messages}) must be at least --tickets ({tickets}): every ticket has a first message")
    customers = customers if customers is not None else max(1, tickets // 4)
    if customers < 1:
        raise BulkLoadError("--customers must be at least 1")

    summary = LoadSummary()
    started = last = time.perf_counter()

    def step(name: str) -> None:
        nonlocal last
        now_ = time.perf_counter()
        summary.seconds[name] = round(now_ - last, 2)
        last = now_
        if stdout is not None:
            stdout.write(f"  {name}: {summary.seconds[name]:.1f}s\n")

    tables = [m._meta.db_table for m in LOADED_MODELS]
    if fresh:
        with connection.cursor() as cursor:
            q = connection.ops.quote_name
            # CASCADE also empties what points at tickets (inbound rows, read markers, attachments).
            cursor.execute("TRUNCATE " + ", ".join(q(t) for t in tables) + " RESTART IDENTITY CASCADE")
        step("emptied")
    cast = _cast(stdout)
    step("cast")

    long_count = (tickets + LONG_EVERY - 1) // LONG_EVERY
    long_n = max(1, min(LONG_THREAD, 1 + (messages - tickets) // long_count))
    extra = messages - tickets - long_count * (long_n - 1)  # messages beyond the first, for the other tickets
    now = timezone.now().replace(microsecond=0)
    channel_ids = {kind: ch.pk for kind, ch in cast["channels"].items()}
    params: dict[str, Any] = {
        **_name_params(),
        "now": now,
        "start": now - SPAN,
        "span_seconds": SPAN.total_seconds(),
        "tickets": tickets,
        "customers": customers,
        "long_every": LONG_EVERY,
        "long_n": long_n,
        "extra": extra,
        "kinds": list(_KINDS),
        "identity_kinds": list(_IDENTITY_KINDS),
        "kind_channels": [channel_ids[k] for k in _KINDS],
        "email_channel": channel_ids["email"],
        "languages": list(_LANGUAGES),
        "zones": [z for z, w in TIME_ZONES for _ in range(w)],
        "org_a": list(_ORG_WORDS_A),
        "org_b": list(_ORG_WORDS_B),
        "plans": list(PLANS),
        "nudges": list(NUDGES),
        "thanks": list(THANKS),
        "interim": list(INTERIM),
        "support": SUPPORT_ADDRESS,
        "rare": RARE_WORD,
        "extra_tags": sorted(cast["tags"].values()),
    }

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        # The statements' expressions are long; JIT spends longer compiling them than running them.
        cursor.execute("SET LOCAL jit = off")
        for sql in _FUNCTIONS:
            cursor.execute(sql)
        bases = {}
        for model in LOADED_MODELS:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {connection.ops.quote_name(model._meta.db_table)}")
            bases[model._meta.db_table] = cursor.fetchone()[0]
        params.update(
            org_base=bases["tickets_organization"],
            customer_base=bases["tickets_customer"],
            ticket_base=bases["tickets_ticket"],
            message_base=bases["tickets_message"],
            orgs=max(12, customers // 100),
        )
        schema = _drop_secondary(cursor, tables)
        step("indexes dropped")

        _load_customers(cursor, params)
        summary.rows["organizations"] = params["orgs"]
        summary.rows["customers"] = customers
        step("organizations, customers, identities")

        cursor.execute(
            """CREATE TEMP TABLE bench_case (
                 case_no integer PRIMARY KEY, weight integer, team_id bigint, priority text, s_lo float8, s_hi float8,
                 tag_ids bigint[], agents integer[]) ON COMMIT DROP"""
        )
        cursor.execute(
            """CREATE TEMP TABLE bench_line (
                 case_no integer, v integer, subject text, ask text, chat text, answer text, follow_up text, hold text,
                 resolution text, note text, PRIMARY KEY (case_no, v)) ON COMMIT DROP"""
        )
        for column in ("subject", "ask", "chat", "answer", "follow_up", "hold", "resolution", "note"):
            # Read five million times: never compressed or moved out of line.
            cursor.execute(f"ALTER TABLE bench_line ALTER COLUMN {column} SET STORAGE PLAIN")
        case_rows, line_rows = _cases(cast)
        cursor.executemany("INSERT INTO bench_case VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", case_rows)
        cursor.executemany("INSERT INTO bench_line VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", line_rows)
        params["variants"] = VARIANTS
        _plan(cursor, params)
        step("ticket plan")
        _load_tickets(cursor, params)
        summary.rows["tickets"] = tickets
        step("tickets, tags")
        _load_messages(cursor, params)
        summary.rows["messages"] = messages
        step("messages")
        summary.rows["events"] = _load_events(cursor, params)
        step("events")
        _rebuild(cursor, schema, step)
        for sql in connection.ops.sequence_reset_sql(no_style(), list(LOADED_MODELS)):
            cursor.execute(sql)

    with connection.cursor() as cursor:
        q = connection.ops.quote_name
        if connection.in_atomic_block:  # inside a caller's transaction (tests): VACUUM cannot run there
            for table in tables:
                cursor.execute(f"ANALYZE {q(table)}")
        else:
            cursor.execute("VACUUM (ANALYZE) " + ", ".join(q(t) for t in tables))
    step("vacuum analyze")
    summary.total_seconds = round(time.perf_counter() - started, 1)
    return summary


def _load_customers(cursor: Any, params: dict[str, Any]) -> None:
    cursor.execute(
        """INSERT INTO tickets_organization (id, name, notes, custom_attributes, created_at)
           SELECT %(org_base)s + g,
                  pg_temp.pick(%(org_a)s::text[], pg_temp.u(g, 50)) || ' ' || pg_temp.pick(%(org_b)s::text[], pg_temp.u(g, 51))
                    || ' ' || (%(org_base)s + g),
                  '', jsonb_build_object('plan', pg_temp.pick(%(plans)s::text[], pg_temp.u(g, 52))),
                  %(start)s::timestamptz - interval '30 days'
           FROM generate_series(1, %(orgs)s) g""",
        params,
    )
    cursor.execute(
        """INSERT INTO tickets_organizationdomain (domain, organization_id)
           SELECT 'org' || (%(org_base)s + g) || '.bench.example', %(org_base)s + g FROM generate_series(1, %(orgs)s) g""",
        params,
    )
    name, _, _ = _name_sql("c")
    org = "(CASE WHEN pg_temp.u(c, 3) < 0.3 THEN %(org_base)s + 1 + floor(pg_temp.u(c, 4) * %(orgs)s)::bigint END)"
    cursor.execute(
        f"""INSERT INTO tickets_customer (id, name, language, time_zone, tier, custom_attributes, notes, first_seen_at,
                                          last_seen_at, created_at, updated_at, merged_into_id, organization_id)
            SELECT c, {name}, pg_temp.pick(%(languages)s::text[], pg_temp.u(c, 5)),
                   pg_temp.pick(%(zones)s::text[], pg_temp.u(c, 6)),
                   CASE WHEN pg_temp.u(c, 7) < 0.05 THEN 'vip' ELSE 'standard' END, '{{}}', '', NULL, NULL,
                   %(start)s::timestamptz, %(start)s::timestamptz, NULL, {org}
            FROM generate_series(%(customer_base)s + 1, %(customer_base)s + %(customers)s) c""",
        params,
    )
    email = _email_sql("c.id", "c.organization_id")
    cursor.execute(
        f"""INSERT INTO tickets_customeridentity (kind, address, display_name, is_verified, created_at, customer_id)
            SELECT 'email', {email}, c.name, false, c.created_at, c.id
            FROM tickets_customer c WHERE c.id > %(customer_base)s ORDER BY c.id""",
        params,
    )
    kind = _second_kind_sql("c.id")
    cursor.execute(
        f"""INSERT INTO tickets_customeridentity (kind, address, display_name, is_verified, created_at, customer_id)
            SELECT (%(identity_kinds)s::text[])[k], {_second_address_sql("c.id", "k")}, c.name, k IN (2, 6), c.created_at, c.id
            FROM (SELECT c.*, {kind} AS k FROM tickets_customer c WHERE c.id > %(customer_base)s) c
            WHERE k > 0 ORDER BY c.id""",
        params,
    )


def _plan(cursor: Any, params: dict[str, Any]) -> None:
    """One row per new ticket with everything its rows need: the ticket's columns, its
    message count and where its messages start, its case and variant, its customer's
    name and address (computed once here rather than per message)."""
    cust = "(%(customer_base)s + 1 + floor(%(customers)s * pg_temp.u(g, 2) ^ 1.5)::bigint)"
    name, _, _ = _name_sql("d.customer_id")
    org = "(CASE WHEN pg_temp.u(d.customer_id, 3) < 0.3 THEN %(org_base)s + 1 + floor(pg_temp.u(d.customer_id, 4) * %(orgs)s)::bigint END)"
    cursor.execute(
        f"""CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
        WITH w AS (
          SELECT g, g %% %(long_every)s = 1 AS is_long,
                 CASE WHEN g %% %(long_every)s = 1 THEN 0 ELSE 1 + floor(-ln(1 - pg_temp.u(g, 1)) * 1000)::bigint END AS w
          FROM generate_series(1, %(tickets)s) g
        ), counts AS (
          SELECT g, is_long, CASE WHEN is_long THEN %(long_n)s
                 ELSE 1 + (wc * %(extra)s / wt) - (coalesce(lag(wc) OVER (ORDER BY g), 0) * %(extra)s / wt) END AS n
          FROM (SELECT g, is_long, w, (sum(w) OVER (ORDER BY g))::bigint AS wc, (sum(w) OVER ())::bigint AS wt FROM w) s
        ), cases AS (
          SELECT array_agg(case_no ORDER BY case_no) AS picks
          FROM bench_case, generate_series(1, weight)
        ), a AS (
          SELECT c.g, c.n::integer AS n, (sum(c.n) OVER (ORDER BY c.g) - c.n)::bigint AS off,
                 %(ticket_base)s + c.g AS id, {cust} AS customer_id,
                 %(start)s::timestamptz + ((c.g - 1 + pg_temp.u(c.g, 3)) * %(span_seconds)s / %(tickets)s) * interval '1 second' AS created_at,
                 pg_temp.pick(cases.picks, pg_temp.u(c.g, 5)) AS case_no
          FROM counts c, cases
        ), b AS MATERIALIZED (
          SELECT a.*, {_second_kind_sql("a.customer_id")} AS second,
                 least(600 + pg_temp.u(a.g, 6) ^ 2 * 86400,
                       extract(epoch FROM %(now)s::timestamptz - a.created_at)::float8 * 0.9 / a.n)::float8 AS step
          FROM a
        ), c AS (
          SELECT b.*, CASE WHEN b.second > 0 AND pg_temp.u(b.g, 4) < 0.5 THEN b.second ELSE 0 END AS kind_index,
                 b.created_at + (b.n - 1) * b.step * interval '1 second' AS last_at
          FROM b
        ), d AS MATERIALIZED (
          SELECT c.*,
                 CASE WHEN c.last_at > %(now)s::timestamptz - interval '4 days' THEN
                        CASE WHEN pg_temp.u(c.g, 7) < 0.15 THEN 'new' WHEN pg_temp.u(c.g, 7) < 0.55 THEN 'open'
                             WHEN pg_temp.u(c.g, 7) < 0.75 THEN 'pending' WHEN pg_temp.u(c.g, 7) < 0.80 THEN 'on_hold'
                             ELSE 'solved' END
                      WHEN pg_temp.u(c.g, 7) < 0.05 THEN
                        CASE WHEN pg_temp.u(c.g, 8) < 0.5 THEN 'open' WHEN pg_temp.u(c.g, 8) < 0.8 THEN 'pending' ELSE 'on_hold' END
                      ELSE 'closed' END AS status,
                 CASE WHEN pg_temp.u(c.g, 12) < 0.10 THEN 'low' WHEN pg_temp.u(c.g, 12) < 0.75 THEN k.priority
                      WHEN pg_temp.u(c.g, 12) < 0.93 THEN 'high' ELSE 'urgent' END AS priority,
                 k.team_id, k.agents, k.s_lo, k.s_hi, k.tag_ids, 1 + floor(pg_temp.u(c.g, 14) * %(variants)s)::integer AS v
          FROM c JOIN bench_case k USING (case_no)
        ), e AS MATERIALIZED (
          SELECT d.*, {org} AS organization_id,
                 CASE WHEN d.kind_index = 0 THEN 'email' ELSE (%(kinds)s::text[])[d.kind_index] END AS kind
          FROM d
        )
        SELECT e.g, e.n, e.off, e.id, e.customer_id, e.created_at, e.case_no, e.v, e.step, e.kind_index, e.kind, e.last_at,
               e.status, e.priority, e.team_id, e.s_lo, e.s_hi, e.tag_ids, e.organization_id,
               {name.replace("d.customer_id", "e.customer_id")} AS customer_name,
               {_email_sql("e.customer_id", "e.organization_id")} AS customer_email,
               left(CASE WHEN e.kind IN ('email', 'api') THEN l.subject ELSE split_part(l.chat, E'\n', 1) END
                    || CASE WHEN e.g %% 20000 = 11 THEN ' (' || %(rare)s || ')' ELSE '' END, 500) AS subject,
               CASE WHEN e.kind_index = 0 THEN %(email_channel)s ELSE (%(kind_channels)s::bigint[])[e.kind_index] END AS channel_id,
               CASE WHEN e.status = 'new' OR pg_temp.u(e.g, 9) >= 0.92 THEN NULL ELSE pg_temp.pick(e.agents, pg_temp.u(e.g, 10)) END AS assignee_id,
               pg_temp.pick(e.agents, pg_temp.u(e.g, 11)) AS agent_id,
               pg_temp.pick(%(languages)s::text[], pg_temp.u(e.g, 13)) AS language,
               CASE WHEN e.status <> 'new' AND e.n >= 2 THEN e.created_at + e.step * interval '1 second' END AS first_response_at,
               CASE WHEN e.status = 'new' THEN e.last_at
                    ELSE e.created_at + ((CASE WHEN e.n %% 2 = 1 THEN e.n ELSE e.n - 1 END) - 1) * e.step * interval '1 second' END
                 AS last_customer_at,
               CASE WHEN e.status <> 'new' AND e.n >= 2
                    THEN e.created_at + ((CASE WHEN e.n %% 2 = 0 THEN e.n ELSE e.n - 1 END) - 1) * e.step * interval '1 second' END
                 AS last_agent_at,
               CASE WHEN e.status = 'closed' THEN e.last_at + interval '4 days' END AS closed_at
        FROM e JOIN bench_line l ON l.case_no = e.case_no AND l.v = e.v""",
        params,
    )
    cursor.execute("ALTER TABLE bench_plan ADD PRIMARY KEY (g)")
    cursor.execute("ANALYZE bench_plan")


def _load_tickets(cursor: Any, params: dict[str, Any]) -> None:
    sla = "CASE p.priority WHEN 'urgent' THEN 1 WHEN 'high' THEN 4 WHEN 'normal' THEN 8 ELSE 24 END"
    cursor.execute(
        f"""INSERT INTO tickets_ticket (id, number, subject, status, priority, language, sentiment, thread_key, reopen_count,
              created_at, updated_at, first_response_at, solved_at, closed_at, last_customer_activity_at,
              last_agent_activity_at, sla_first_response_due_at, sla_resolution_due_at, assignee_id, channel_id,
              customer_id, merged_into_id, organization_id, team_id, linked_ticket_id)
            SELECT p.id, p.id, p.subject, p.status, p.priority, p.language,
                   CASE WHEN pg_temp.u(p.g, 15) < 0.85 THEN p.s_lo + pg_temp.u(p.g, 16) * (p.s_hi - p.s_lo) END,
                   CASE p.kind WHEN 'email' THEN '' WHEN 'chat' THEN 'session-bench-' || p.id WHEN 'api' THEN 'conv-bench-' || p.id
                        ELSE {_second_address_sql("p.customer_id", "p.kind_index")} END,
                   0, p.created_at, coalesce(p.closed_at, p.last_at), p.first_response_at,
                   CASE WHEN p.status IN ('solved', 'closed') THEN p.last_at END, p.closed_at,
                   p.last_customer_at, p.last_agent_at,
                   CASE WHEN pg_temp.u(p.g, 17) < 0.6 THEN p.created_at + {sla} * interval '1 hour' END,
                   CASE WHEN pg_temp.u(p.g, 17) < 0.6 THEN p.created_at + {sla} * interval '4 hours' END,
                   p.assignee_id, p.channel_id, p.customer_id, NULL, p.organization_id, p.team_id, NULL
            FROM bench_plan p ORDER BY p.g""",
        params,
    )
    cursor.execute(
        """INSERT INTO tickets_ticket_tags (ticket_id, tag_id)
           SELECT p.id, t FROM bench_plan p, unnest(p.tag_ids) t
           UNION ALL
           SELECT p.id, pg_temp.pick(%(extra_tags)s::bigint[], pg_temp.u(p.g, 18))
           FROM bench_plan p
           WHERE pg_temp.u(p.g, 19) < 0.1 AND NOT pg_temp.pick(%(extra_tags)s::bigint[], pg_temp.u(p.g, 18)) = ANY(p.tag_ids)""",
        params,
    )
    cursor.execute(
        """UPDATE tickets_customer c SET first_seen_at = s.first_at, last_seen_at = s.last_at, created_at = s.first_at,
                  updated_at = s.last_at
           FROM (SELECT customer_id, min(created_at) AS first_at, max(last_customer_at) AS last_at
                 FROM bench_plan GROUP BY customer_id) s
           WHERE c.id = s.customer_id"""
    )


def _load_messages(cursor: Any, params: dict[str, Any]) -> None:
    m = "(p.off + s.k)"
    # Which line of the case this message is: the role decides direction and text.
    role = f"""CASE WHEN s.k = 1 THEN 'ask'
                    WHEN p.status = 'new' THEN 'nudge'
                    WHEN s.k %% 2 = 1 THEN CASE WHEN s.k = p.n AND p.status IN ('solved', 'closed') THEN 'thanks'
                                              WHEN s.k = 3 THEN 'follow_up' ELSE 'nudge' END
                    WHEN s.k >= 4 AND s.k < p.n AND pg_temp.u({m}, 1) < 0.12 THEN 'note'
                    WHEN s.k = 2 THEN CASE WHEN p.status = 'on_hold' THEN 'hold' ELSE 'answer' END
                    WHEN s.k >= p.n - 1 AND p.status IN ('solved', 'closed') THEN 'resolution'
                    ELSE 'interim' END"""
    detail = f"'Reference: ' || %(common)s || ' ' || (100000 + (hashint8extended(p.g, 31) & 1048575) %% 900000) || ', error code E' || ((hashint8extended({m}, 42) & 1048575) %% 50000)"
    text = f"""CASE x.role
        WHEN 'ask' THEN CASE WHEN p.kind = 'email' THEN 'Hello,' || E'\n\n' || l.ask || E'\n\n' || {detail} || E'\n\nThanks,\n' || p.customer_name
                             ELSE l.chat || E'\n' || {detail} END
        WHEN 'follow_up' THEN l.follow_up
        WHEN 'nudge' THEN pg_temp.pick(%(nudges)s::text[], pg_temp.u({m}, 2))
        WHEN 'thanks' THEN pg_temp.pick(%(thanks)s::text[], pg_temp.u({m}, 2))
        WHEN 'note' THEN l.note
        WHEN 'hold' THEN l.hold
        WHEN 'answer' THEN l.answer
        WHEN 'resolution' THEN l.resolution
        ELSE pg_temp.pick(%(interim)s::text[], pg_temp.u({m}, 2)) END
        || CASE WHEN {m} %% 100000 = 7 THEN ' The ' || %(rare)s || ' icon in the toolbar keeps flashing.' ELSE '' END"""
    params["common"] = COMMON_WORD
    cursor.execute(
        f"""INSERT INTO tickets_message (id, direction, author_kind, subject, text, html, external_id, in_reply_to, "references",
              "to", cc, is_auto_reply, delivery_status, delivery_error, delivery_attempts, sent_at, created_at,
              author_customer_id, author_user_id, channel_id, inbound_id, ticket_id, content, deleted_at, edited_at,
              language, sentiment)
            SELECT %(message_base)s + {m}, x.direction,
                   CASE x.direction WHEN 'inbound' THEN 'customer' ELSE 'agent' END,
                   CASE WHEN p.kind <> 'email' OR x.direction = 'note' THEN ''
                        WHEN s.k = 1 THEN p.subject
                        WHEN x.direction = 'outbound' THEN left('[#' || p.id || '] Re: ' || p.subject, 500)
                        ELSE left('Re: ' || p.subject, 500) END,
                   {text}, '',
                   CASE WHEN x.direction = 'note' THEN NULL
                        WHEN p.kind = 'email' AND x.direction = 'outbound' THEN 'parley.' || p.id || '.' || (%(message_base)s + {m}) || '@parley.localhost'
                        WHEN p.kind = 'email' THEN 'bench.' || (%(message_base)s + {m}) || '@mail.bench.example'
                        ELSE 'bench-' || (%(message_base)s + {m}) END,
                   '', '',
                   CASE WHEN p.kind <> 'email' OR x.direction = 'note' THEN '[]'::jsonb
                        WHEN x.direction = 'inbound' THEN jsonb_build_array(%(support)s::text)
                        ELSE jsonb_build_array(p.customer_email) END,
                   '[]'::jsonb, false,
                   CASE WHEN x.direction <> 'outbound' THEN ''
                        WHEN x.r < 0.003 THEN 'failed'
                        WHEN p.kind IN ('email', 'sms', 'api') THEN 'sent'
                        WHEN x.r < 0.6 THEN 'read' ELSE 'delivered' END,
                   CASE WHEN x.direction = 'outbound' AND x.r < 0.003 THEN 'Remote server said: 550 mailbox unavailable' ELSE '' END,
                   CASE WHEN x.direction <> 'outbound' THEN 0 WHEN x.r < 0.003 THEN 5 ELSE 1 END,
                   CASE WHEN x.direction = 'outbound' AND x.r >= 0.003 THEN x.at + interval '2 seconds' END,
                   x.at,
                   CASE WHEN x.direction = 'inbound' THEN p.customer_id END,
                   CASE WHEN x.direction <> 'inbound' THEN coalesce(p.assignee_id, p.agent_id) END,
                   CASE WHEN x.direction <> 'note' THEN p.channel_id END,
                   NULL, p.id, '{{}}'::jsonb, NULL, NULL, p.language,
                   CASE WHEN x.direction = 'inbound' AND pg_temp.u({m}, 4) < 0.7 THEN p.s_lo + pg_temp.u({m}, 5) * (p.s_hi - p.s_lo) END
            FROM bench_plan p
            JOIN bench_line l ON l.case_no = p.case_no AND l.v = p.v
            CROSS JOIN LATERAL generate_series(1, p.n) AS s(k)
            CROSS JOIN LATERAL (
              -- OFFSET 0 keeps this a subquery evaluated once per message: flattened, the role's
              -- CASE would be recomputed at each of the dozen places that read it.
              SELECT r.role,
                     CASE WHEN r.role IN ('ask', 'follow_up', 'nudge', 'thanks') THEN 'inbound'
                          WHEN r.role = 'note' THEN 'note' ELSE 'outbound' END AS direction,
                     p.created_at + (s.k - 1) * p.step * interval '1 second' AS at,
                     pg_temp.u({m}, 3) AS r
              FROM (SELECT {role} AS role) r
              OFFSET 0
            ) x
            ORDER BY p.g, s.k""",
        params,
    )


def _load_events(cursor: Any, params: dict[str, Any]) -> int:
    """The events the services would have written, in the order they would have written them."""
    total = 0
    statements = (
        # created, by the customer, with the routing decision right after it
        """INSERT INTO tickets_ticketevent (kind, actor_kind, data, created_at, actor_customer_id, actor_user_id, message_id, ticket_id)
           SELECT e.kind, e.actor_kind, e.data, p.created_at, e.customer_id, NULL, NULL, p.id
           FROM bench_plan p CROSS JOIN LATERAL (VALUES
             (1, 'created', 'customer', jsonb_build_object('channel', p.channel_id, 'status', 'new', 'priority', p.priority), p.customer_id),
             (2, 'team_changed', 'system', jsonb_build_object('from', NULL, 'to', p.team_id), NULL::bigint)
           ) e(o, kind, actor_kind, data, customer_id)
           ORDER BY p.g, e.o""",
        # one per message
        """INSERT INTO tickets_ticketevent (kind, actor_kind, data, created_at, actor_customer_id, actor_user_id, message_id, ticket_id)
           SELECT 'message_added', m.author_kind,
                  CASE m.direction WHEN 'inbound' THEN '{"direction": "inbound", "is_auto_reply": false}'::jsonb
                       WHEN 'outbound' THEN '{"direction": "outbound", "is_auto_reply": false}'::jsonb
                       ELSE '{"direction": "note", "is_auto_reply": false}'::jsonb END,
                  m.created_at, m.author_customer_id, m.author_user_id, m.id, m.ticket_id
           FROM tickets_message m WHERE m.id > %(message_base)s ORDER BY m.id""",
        # taken by an agent, which opens a new ticket
        """INSERT INTO tickets_ticketevent (kind, actor_kind, data, created_at, actor_customer_id, actor_user_id, message_id, ticket_id)
           SELECT e.kind, 'agent', e.data, e.at, NULL, p.assignee_id, NULL, p.id
           FROM bench_plan p CROSS JOIN LATERAL (VALUES
             (1, 'assigned', jsonb_build_object('from', NULL, 'to', p.assignee_id), coalesce(p.first_response_at, p.created_at + interval '1 minute')),
             (2, 'status_changed', jsonb_build_object('from', 'new', 'to', 'open'), coalesce(p.first_response_at, p.created_at + interval '1 minute'))
           ) e(o, kind, data, at)
           WHERE p.assignee_id IS NOT NULL
           ORDER BY p.g, e.o""",
        # answered without an assignee: the reply opened it
        """INSERT INTO tickets_ticketevent (kind, actor_kind, data, created_at, actor_customer_id, actor_user_id, message_id, ticket_id)
           SELECT 'status_changed', 'agent', jsonb_build_object('from', 'new', 'to', 'open'),
                  coalesce(p.first_response_at, p.created_at + interval '1 minute'), NULL, p.agent_id, NULL, p.id
           FROM bench_plan p WHERE p.assignee_id IS NULL AND p.status <> 'new' ORDER BY p.g""",
        # where it stands now; a closed ticket was solved first and closed by the system
        """INSERT INTO tickets_ticketevent (kind, actor_kind, data, created_at, actor_customer_id, actor_user_id, message_id, ticket_id)
           SELECT 'status_changed', e.actor_kind, jsonb_build_object('from', e.old, 'to', e.new), e.at, NULL,
                  CASE WHEN e.actor_kind = 'agent' THEN coalesce(p.assignee_id, p.agent_id) END, NULL, p.id
           FROM bench_plan p CROSS JOIN LATERAL (VALUES
             (1, 'agent', 'open', CASE WHEN p.status = 'closed' THEN 'solved' ELSE p.status END, p.last_at),
             (2, 'system', 'solved', 'closed', p.closed_at)
           ) e(o, actor_kind, old, new, at)
           WHERE p.status IN ('pending', 'on_hold', 'solved', 'closed') AND (e.o = 1 OR p.status = 'closed')
           ORDER BY p.g, e.o""",
    )
    for sql in statements:
        cursor.execute(sql, params)
        total += cursor.rowcount
    return total
