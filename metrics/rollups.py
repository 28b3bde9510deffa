"""Daily rollups: every figure of docs/metrics.md as additive counts and sums per (day,
team, agent, channel kind, priority, customer tier).

Rows are rebuilt, never incremented: a day is deleted and inserted again from
``TicketMetrics`` (set-based SQL, one statement per table) and from survey invitations and
responses, in one transaction. The same code rebuilds the days the incremental path marked
dirty (:func:`rollups_refresh_dirty`, run by beat) and any range on demand
(:func:`rollups_rebuild`, run by ``recompute_metrics``), so both give the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from metrics.models import BacklogRollup, DailyRollup, DirtyDay, TicketMetrics, Watermark

Key = tuple[int, int, str, str, str]  # team_id, agent_id, channel_kind, priority, customer_tier

# (rollup column, expression on a ticket's row for its created_date, for its solved_date).
# The solved branch holds only solved tickets not merged away (docs/metrics.md).
_MET = "CASE WHEN tm.{0} THEN 1 ELSE 0 END"
_MISSED = "CASE WHEN NOT tm.{0} THEN 1 ELSE 0 END"
TICKET_COLUMNS: list[tuple[str, str, str]] = [
    ("created", "1", "0"),
    ("created_resolvable", "CASE WHEN tm.merged_away THEN 0 ELSE 1 END", "0"),
    ("created_solved", "CASE WHEN tm.is_solved AND NOT tm.merged_away THEN 1 ELSE 0 END", "0"),
    ("first_response_count", "CASE WHEN tm.first_response_seconds IS NULL THEN 0 ELSE 1 END", "0"),
    ("first_response_seconds", "COALESCE(tm.first_response_seconds, 0.0)", "0.0"),
    ("first_response_business_seconds", "COALESCE(tm.first_response_business_seconds, 0.0)", "0.0"),
    ("next_response_count", "tm.next_response_count", "0"),
    ("next_response_seconds", "tm.next_response_seconds", "0.0"),
    ("next_response_business_seconds", "tm.next_response_business_seconds", "0.0"),
    ("sla_first_response_met", _MET.format("sla_first_response_met"), "0"),
    ("sla_first_response_missed", _MISSED.format("sla_first_response_met"), "0"),
    ("sentiment_count", "CASE WHEN tm.sentiment IS NULL THEN 0 ELSE 1 END", "0"),
    ("sentiment_sum", "COALESCE(tm.sentiment, 0.0)", "0.0"),
    ("solved", "0", "1"),
    ("first_resolution_seconds", "0.0", "COALESCE(tm.first_resolution_seconds, 0.0)"),
    ("first_resolution_business_seconds", "0.0", "COALESCE(tm.first_resolution_business_seconds, 0.0)"),
    ("full_resolution_seconds", "0.0", "COALESCE(tm.full_resolution_seconds, 0.0)"),
    ("full_resolution_business_seconds", "0.0", "COALESCE(tm.full_resolution_business_seconds, 0.0)"),
    ("solved_first_contact", "0", "CASE WHEN tm.first_contact_resolved THEN 1 ELSE 0 END"),
    ("solved_reopened", "0", "CASE WHEN tm.reopens > 0 THEN 1 ELSE 0 END"),
    ("solved_replies", "0", "tm.agent_replies"),
    ("sla_resolution_met", "0", _MET.format("sla_resolution_met")),
    ("sla_resolution_missed", "0", _MISSED.format("sla_resolution_met")),
    ("sla_next_response_met", "0", _MET.format("sla_next_response_met")),
    ("sla_next_response_missed", "0", _MISSED.format("sla_next_response_met")),
]
SURVEY_COLUMNS = (
    "surveys_sent",
    "surveys_answered",
    "csat_positive",
    "csat_total",
    "nps_promoters",
    "nps_passives",
    "nps_detractors",
    "ces_sum",
    "ces_count",
)
KEY_SQL = (
    "COALESCE(tm.team_id, 0) AS team_id, COALESCE(tm.assignee_id, 0) AS agent_id, "
    "tm.channel_kind AS channel_kind, tm.priority AS priority, tm.customer_tier AS customer_tier"
)
KEY_COLUMNS = "team_id, agent_id, channel_kind, priority, customer_tier"
BACKLOG_BUCKETS = ((1, "age_under_1d"), (3, "age_1_3d"), (7, "age_3_7d"), (None, "age_over_7d"))
SURVEY_WATERMARK = "surveys"
# Survey rows are re-read this far behind the last scan: a row committed late (its
# timestamp taken before a slow commit) is still seen; marking a day twice is harmless.
SURVEY_OVERLAP = dt.timedelta(minutes=10)


class DaySet:
    """The days to rebuild: an inclusive range (``hi`` None: no end) or an explicit set."""

    def __init__(self, *, days: Iterable[dt.date] | None = None, lo: dt.date | None = None, hi: dt.date | None = None) -> None:
        self.is_range = days is None
        self.days = sorted(set(days or ()))
        self.lo, self.hi = lo, hi

    def sql(self, column: str) -> tuple[str, list[Any]]:
        adapt = connection.ops.adapt_datefield_value
        if not self.is_range:
            return f"{column} IN ({', '.join(['%s'] * len(self.days))})", [adapt(d) for d in self.days]
        parts, params = [f"{column} IS NOT NULL"], []
        if self.lo is not None:
            parts.append(f"{column} >= %s")
            params.append(adapt(self.lo))
        if self.hi is not None:
            parts.append(f"{column} <= %s")
            params.append(adapt(self.hi))
        return " AND ".join(parts), params

    def q(self, field: str) -> Q:
        if not self.is_range:
            return Q(**{f"{field}__in": self.days})
        q = Q(**{f"{field}__isnull": False})
        if self.lo is not None:
            q &= Q(**{f"{field}__gte": self.lo})
        if self.hi is not None:
            q &= Q(**{f"{field}__lte": self.hi})
        return q

    def __contains__(self, day: dt.date) -> bool:
        if not self.is_range:
            return day in self.days
        return (self.lo is None or day >= self.lo) and (self.hi is None or day <= self.hi)

    def listed(self, *, until: dt.date) -> list[dt.date]:
        """Every day of the set up to ``until`` (a range needs a start)."""
        if not self.is_range:
            return [d for d in self.days if d <= until]
        end = min(self.hi or until, until)
        start = self.lo
        if start is None:
            start = TicketMetrics.objects.order_by("created_date").values_list("created_date", flat=True).first() or end
        return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The instant the local ``day`` starts (DST-safe: the wall-clock midnight in ``tz``)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def local_today(tz: ZoneInfo) -> dt.date:
    return timezone.now().astimezone(tz).date()


# --- Ticket figures ---------------------------------------------------------------------


def _daily_from_tickets(days: DaySet) -> None:
    created_where, created_params = days.sql("tm.created_date")
    solved_where, solved_params = days.sql("tm.solved_date")
    columns = [name for name, _, _ in TICKET_COLUMNS]
    created_select = ", ".join(f"{expr} AS {name}" for name, expr, _ in TICKET_COLUMNS)
    solved_select = ", ".join(f"{expr} AS {name}" for name, _, expr in TICKET_COLUMNS)
    sums = ", ".join(f"SUM({name})" for name in columns)
    zeros = ", ".join("0" for _ in SURVEY_COLUMNS)
    sql = f"""
        INSERT INTO {DailyRollup._meta.db_table} (day, {KEY_COLUMNS}, {", ".join(columns)}, {", ".join(SURVEY_COLUMNS)})
        SELECT day, {KEY_COLUMNS}, {sums}, {zeros} FROM (
            SELECT tm.created_date AS day, {KEY_SQL}, {created_select}
            FROM {TicketMetrics._meta.db_table} tm WHERE {created_where}
            UNION ALL
            SELECT tm.solved_date AS day, {KEY_SQL}, {solved_select}
            FROM {TicketMetrics._meta.db_table} tm WHERE {solved_where} AND tm.is_solved AND NOT tm.merged_away
        ) src
        GROUP BY day, {KEY_COLUMNS}
    """  # noqa: S608 - table and column names are constants; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, created_params + solved_params)


# --- Surveys ----------------------------------------------------------------------------


def _surveys_installed() -> bool:
    return apps.is_installed("metrics.surveys")


def _window_q(field: str, days: DaySet, tz: ZoneInfo) -> Q:
    """Rows whose ``field`` instant falls on one of the local days (a superset for ranges)."""
    if days.is_range:
        q = Q(**{f"{field}__isnull": False})
        if days.lo is not None:
            q &= Q(**{f"{field}__gte": local_midnight(days.lo, tz)})
        if days.hi is not None:
            q &= Q(**{f"{field}__lt": local_midnight(days.hi + dt.timedelta(days=1), tz)})
        return q
    q = Q(pk__in=[])
    for day in days.days:
        q |= Q(**{f"{field}__gte": local_midnight(day, tz), f"{field}__lt": local_midnight(day + dt.timedelta(days=1), tz)})
    return q


def _survey_keys(ticket_ids: set[int], customer_ids: set[int]) -> tuple[dict[int, Key], dict[int, str]]:
    """Dimensions of survey rows: the ticket's (from TicketMetrics), else the customer's tier."""
    by_ticket = {
        row[0]: (row[1] or 0, row[2] or 0, row[3], row[4], row[5])
        for row in TicketMetrics.objects.filter(ticket_id__in=ticket_ids).values_list(
            "ticket_id", "team_id", "assignee_id", "channel_kind", "priority", "customer_tier"
        )
    }
    from tickets.models import Customer

    tiers = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "tier"))
    return by_ticket, tiers


def survey_day_rows(days: DaySet, tz: ZoneInfo) -> dict[tuple[dt.date, Key], dict[str, int]]:
    """Survey counts per (day, key). Invitations count on their local sent date; a response
    counts on the sent date of its invitation (a late answer corrects that day), or on its
    own answered date when it had none (a CES answer, a widget rating, the API)."""
    from django.db.models.functions import Coalesce

    from metrics.surveys.models import SurveyInvitation, SurveyResponse

    invitations = list(
        SurveyInvitation.objects.filter(_window_q("sent_at", days, tz)).values_list(
            "ticket_id", "customer_id", "sent_at", "response_id"
        )
    )
    responses = list(
        SurveyResponse.objects.annotate(anchor=Coalesce(_first_sent(), "answered_at"))
        .filter(_window_q("anchor", days, tz))
        .values_list("ticket_id", "customer_id", "anchor", "kind", "score")
    )
    ticket_ids = {row[0] for row in invitations + responses if row[0]}
    customer_ids = {row[1] for row in invitations + responses if not row[0]}
    by_ticket, tiers = _survey_keys(ticket_ids, customer_ids)

    def key_of(ticket_id: int | None, customer_id: int) -> Key:
        if ticket_id in by_ticket:
            return by_ticket[ticket_id]
        return (0, 0, "", "", tiers.get(customer_id, ""))

    rows: dict[tuple[dt.date, Key], dict[str, int]] = defaultdict(lambda: dict.fromkeys(SURVEY_COLUMNS, 0))
    for ticket_id, customer_id, sent_at, response_id in invitations:
        day = sent_at.astimezone(tz).date()
        if day not in days:
            continue
        counts = rows[(day, key_of(ticket_id, customer_id))]
        counts["surveys_sent"] += 1
        counts["surveys_answered"] += response_id is not None
    for ticket_id, customer_id, anchor, kind, score in responses:
        day = anchor.astimezone(tz).date()
        if day not in days:
            continue
        counts = rows[(day, key_of(ticket_id, customer_id))]
        if kind == "csat":
            counts["csat_total"] += 1
            counts["csat_positive"] += score >= 4
        elif kind == "nps":
            bucket = "nps_promoters" if score >= 9 else "nps_passives" if score >= 7 else "nps_detractors"
            counts[bucket] += 1
        elif kind == "ces":
            counts["ces_sum"] += score
            counts["ces_count"] += 1
    return rows


def _daily_from_surveys(days: DaySet, tz: ZoneInfo) -> None:
    if not _surveys_installed():
        return
    objs = [
        DailyRollup(day=day, **dict(zip(("team_id", "agent_id", "channel_kind", "priority", "customer_tier"), key)), **counts)
        for (day, key), counts in survey_day_rows(days, tz).items()
    ]
    DailyRollup.objects.bulk_create(
        objs,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["day", "team_id", "agent_id", "channel_kind", "priority", "customer_tier"],
        update_fields=list(SURVEY_COLUMNS),
    )


# --- Backlog ----------------------------------------------------------------------------


def _age_sql(end: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - tm.created_at))"
    return f"ROUND((julianday({end}) - julianday(tm.created_at)) * 86400.0, 3)"


def _bucket_sums() -> str:
    """Age buckets of the ``age`` column (seconds): [0, 1), [1, 3), [3, 7), [7, ...) days."""
    parts, previous = [], None
    for days, column in BACKLOG_BUCKETS:
        conditions = []
        if previous is not None:
            conditions.append(f"age >= {previous * 86400}")
        if days is not None:
            conditions.append(f"age < {days * 86400}")
        parts.append(f"SUM(CASE WHEN {' AND '.join(conditions)} THEN 1 ELSE 0 END) AS {column}")
        previous = days
    return ", ".join(parts)


BACKLOG_COLUMNS = "open_count, age_seconds, " + ", ".join(column for _, column in BACKLOG_BUCKETS)


def _backlog_insert(open_rows: str) -> str:
    """INSERT the backlog rows from a query of (day, key columns, age): one row per ticket
    open at the end of a day, its age then computed once."""
    return f"""
        INSERT INTO {BacklogRollup._meta.db_table} (day, {KEY_COLUMNS}, {BACKLOG_COLUMNS})
        SELECT day, {KEY_COLUMNS}, COUNT(*), SUM(age), {_bucket_sums()}
        FROM ({open_rows}) open_rows
        GROUP BY day, {KEY_COLUMNS}
    """  # noqa: S608 - table and column names are constants; values are parameters


def _backlog_for_days(day_list: list[dt.date], tz: ZoneInfo) -> None:
    """Open tickets at the end of each listed day, joined against a VALUES list of days.

    Open at the end of day D (docs/metrics.md): created by then and not first-solved by
    then, or reopened by then and not solved again by then; merged-away tickets never.
    """
    if not day_list:
        return
    pg = connection.vendor == "postgresql"
    placeholder = "(CAST(%s AS date), CAST(%s AS timestamptz))" if pg else "(%s, %s)"
    table = TicketMetrics._meta.db_table
    for offset in range(0, len(day_list), 200):
        chunk = day_list[offset : offset + 200]
        params: list[Any] = []
        for day in chunk:
            end = local_midnight(day + dt.timedelta(days=1), tz)
            params += [connection.ops.adapt_datefield_value(day), connection.ops.adapt_datetimefield_value(end)]
        open_rows = f"""
            SELECT d.day AS day, {KEY_SQL}, {_age_sql("d.end_at")} AS age
            FROM {table} tm JOIN d ON (
                (tm.first_solved_date IS NULL AND tm.created_date <= d.day)
                OR (tm.first_solved_date > d.day AND tm.created_date <= d.day)
                OR (tm.reopened_date <= d.day AND (tm.solved_date IS NULL OR tm.solved_date > d.day))
            )
            WHERE NOT tm.merged_away
        """  # noqa: S608 - table and column names are constants; values are parameters
        sql = f"WITH d(day, end_at) AS (VALUES {', '.join([placeholder] * len(chunk))}) {_backlog_insert(open_rows)}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _backlog_range_pg(lo: dt.date, hi: dt.date, tz: ZoneInfo) -> None:
    """The same rows as :func:`_backlog_for_days` for a long range, set-based on PostgreSQL:
    each ticket expands into the days it was open (at most two spans), clipped to the range.
    Each day's end (a local midnight) is converted once and hash-joined: converting it per
    expanded row was most of the statement's time."""
    table = TicketMetrics._meta.db_table
    open_rows = f"""
        WITH days AS MATERIALIZED (
            SELECT s::date AS day, ((s::date + 1)::timestamp AT TIME ZONE %(tz)s) AS end_at
            FROM generate_series(%(lo)s::date, %(hi)s::date, interval '1 day') s
        ), expanded AS MATERIALIZED (
            SELECT g.day, {KEY_SQL}, tm.created_at
            FROM {table} tm
            CROSS JOIN LATERAL (
                SELECT s::date AS day FROM generate_series(
                    GREATEST(tm.created_date, %(lo)s), LEAST(COALESCE(tm.first_solved_date - 1, %(hi)s), %(hi)s), interval '1 day'
                ) s
                UNION ALL
                SELECT s::date FROM generate_series(
                    GREATEST(tm.reopened_date, %(lo)s), LEAST(COALESCE(tm.solved_date - 1, %(hi)s), %(hi)s), interval '1 day'
                ) s WHERE tm.reopened_date IS NOT NULL
            ) g
            WHERE NOT tm.merged_away AND tm.created_date <= %(hi)s
              AND (tm.first_solved_date IS NULL OR tm.first_solved_date > %(lo)s OR tm.reopened_date IS NOT NULL)
        )
        SELECT e.day, e.team_id, e.agent_id, e.channel_kind, e.priority, e.customer_tier,
               EXTRACT(EPOCH FROM (d.end_at - e.created_at)) AS age
        FROM expanded e JOIN days d ON d.day = e.day
    """  # noqa: S608 - table and column names are constants; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(_backlog_insert(open_rows), {"lo": lo, "hi": hi, "tz": str(tz.key)})


# --- Rebuilding days --------------------------------------------------------------------


def _lock() -> None:
    """One rebuild at a time (beat, a manual recompute): two would insert the same keys.

    Also sized for the statements that follow: grouping a long range's backlog wants more
    memory than the default (it spilled to disk), and JIT compiling these one-off
    statements cost seconds and saved nothing (measured on bench/metrics.py data).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x6D657472])  # "metr"
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")


@transaction.atomic
def rollups_rebuild(*, days: DaySet, tz: ZoneInfo, backlog: bool = True, daily: bool = True) -> None:
    """Delete and rebuild the rollup rows of ``days`` (both tables) from TicketMetrics and surveys."""
    _lock()
    today = local_today(tz)
    if daily:
        DailyRollup.objects.filter(days.q("day")).delete()
        _daily_from_tickets(days)
        _daily_from_surveys(days, tz)
    if backlog:
        pg = connection.vendor == "postgresql"
        if pg and not days.is_range and len(days.days) > 31:
            # Many scattered days (a long-open ticket moved to another team): one pass over
            # their whole span beats a join of every ticket against each day.
            days = DaySet(lo=days.days[0], hi=days.days[-1])
        BacklogRollup.objects.filter(days.q("day")).delete()
        if days.is_range and pg:
            lo = days.lo or TicketMetrics.objects.order_by("created_date").values_list("created_date", flat=True).first()
            if lo is not None:
                _backlog_range_pg(lo, min(days.hi or today, today), tz)
        else:
            _backlog_for_days(days.listed(until=today), tz)


# --- Marking days dirty -----------------------------------------------------------------


def open_days(row: Mapping[str, Any] | None, today: dt.date) -> set[dt.date]:
    """The local days at whose end the ticket of this TicketMetrics row was open (backlog)."""
    if row is None or row["merged_away"]:
        return set()
    spans = [(row["created_date"], row["first_solved_date"])]
    if row["reopened_date"] is not None:
        spans.append((row["reopened_date"], row["solved_date"]))
    days: set[dt.date] = set()
    for start, solved in spans:
        end = today if solved is None else min(today, solved - dt.timedelta(days=1))
        days.update(start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return days


MARK_FIELDS = (
    "created_date",
    "solved_date",
    "first_solved_date",
    "reopened_date",
    "merged_away",
    "team_id",
    "assignee_id",
    "channel_kind",
    "priority",
    "customer_tier",
)


def dirty_mark(*, daily: Iterable[dt.date] = (), backlog: Iterable[dt.date] = ()) -> None:
    """Ask the beat to rebuild these days (an upsert: marking twice is harmless)."""
    now = timezone.now()
    rows = [DirtyDay(kind=DirtyDay.Kind.DAILY, day=d, marked_at=now) for d in set(daily) if d is not None]
    rows += [DirtyDay(kind=DirtyDay.Kind.BACKLOG, day=d, marked_at=now) for d in set(backlog) if d is not None]
    if rows:
        DirtyDay.objects.bulk_create(rows, update_conflicts=True, unique_fields=["kind", "day"], update_fields=["marked_at"])


def _survey_days_of_ticket(ticket_id: int, tz: ZoneInfo) -> set[dt.date]:
    if not _surveys_installed():
        return set()
    from metrics.surveys.models import SurveyInvitation, SurveyResponse

    moments = list(SurveyInvitation.objects.filter(ticket_id=ticket_id).values_list("sent_at", flat=True))
    moments += list(SurveyResponse.objects.filter(ticket_id=ticket_id).values_list("answered_at", flat=True))
    return {moment.astimezone(tz).date() for moment in moments}


def days_moved(
    *, ticket_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any], tz: ZoneInfo
) -> tuple[set[dt.date], set[dt.date]]:
    """The (daily, backlog) days a ticket's change moves: its created and solved days before
    and after, the backlog days it entered or left, and when its dimensions changed, every
    day it counted on (its survey days included)."""
    today = local_today(tz)
    daily = {new["created_date"], new["solved_date"]}
    old_open, new_open = open_days(old, today), open_days(new, today)
    moved = old is None or any(old[f] != new[f] for f in MARK_FIELDS[4:])
    if old is not None:
        daily |= {old["created_date"], old["solved_date"]}
    if moved:
        backlog = old_open | new_open
        if old is not None:
            daily |= _survey_days_of_ticket(ticket_id, tz)
    else:
        backlog = old_open ^ new_open
    return daily, backlog


def mark_ticket_change(*, ticket_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any], tz: ZoneInfo) -> None:
    """Mark the days a ticket's change moves (:func:`days_moved`) for the beat."""
    daily, backlog = days_moved(ticket_id=ticket_id, old=old, new=new, tz=tz)
    dirty_mark(daily=daily, backlog=backlog)


def surveys_mark_dirty(*, tz: ZoneInfo, now: dt.datetime | None = None) -> int:
    """Mark the days of survey rows written since the last scan (they have no hook of their
    own besides the ticket event, and NPS answers have no ticket). Returns days marked."""
    if not _surveys_installed():
        return 0
    from metrics.surveys.models import SurveyInvitation, SurveyResponse

    now = now or timezone.now()
    mark = Watermark.objects.filter(name=SURVEY_WATERMARK).first()
    since = (mark.at - SURVEY_OVERLAP) if mark else None
    invitations = SurveyInvitation.objects.all()
    responses = SurveyResponse.objects.all()
    if since is not None:
        invitations = invitations.filter(sent_at__gte=since)
        responses = responses.filter(updated_at__gte=since)
    moments = list(invitations.values_list("sent_at", flat=True))
    for answered_at, first_sent in responses.annotate(first_sent=_first_sent()).values_list("answered_at", "first_sent"):
        moments.append(first_sent or answered_at)
    days = {moment.astimezone(tz).date() for moment in moments}
    dirty_mark(daily=days)
    Watermark.objects.update_or_create(name=SURVEY_WATERMARK, defaults={"at": now})
    return len(days)


def _first_sent() -> Any:
    """The sent time of the (first) invitation a response answered: the day it counts on."""
    from django.db.models import Min, OuterRef, Subquery

    from metrics.surveys.models import SurveyInvitation

    return Subquery(
        SurveyInvitation.objects.filter(response=OuterRef("pk")).order_by().values("response").annotate(at=Min("sent_at")).values("at")
    )


def rollups_refresh_dirty(*, tz: ZoneInfo, now: dt.datetime | None = None) -> dict[str, int]:
    """Rebuild every dirty day (and today's and yesterday's backlog, which grow with time
    alone); a mark made during the rebuild survives it. Idempotent."""
    now = now or timezone.now()
    surveys_mark_dirty(tz=tz, now=now)
    today = local_today(tz)
    dirty_mark(backlog=[today, today - dt.timedelta(days=1)])
    started = timezone.now()
    marks = list(DirtyDay.objects.filter(marked_at__lte=started).values_list("kind", "day"))
    daily = [day for kind, day in marks if kind == DirtyDay.Kind.DAILY]
    backlog = [day for kind, day in marks if kind == DirtyDay.Kind.BACKLOG and day <= today]
    with transaction.atomic():
        if daily:
            rollups_rebuild(days=DaySet(days=daily), tz=tz, backlog=False)
        if backlog:
            rollups_rebuild(days=DaySet(days=backlog), tz=tz, daily=False)
        DirtyDay.objects.filter(marked_at__lte=started, day__in={day for _, day in marks}).delete()
    return {"daily": len(daily), "backlog": len(backlog)}
