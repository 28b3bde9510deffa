"""Reads of the metrics app: the managers' dashboards and (later) the REST API.

Everything here reads the daily rollups (``DailyRollup``, ``BacklogRollup``), the live
counters and the latest survey comments; never the tickets table. Figures are computed
from summed counts and sums (docs/metrics.md), so a total is the sum of its table's rows
by construction: :func:`rows_total` adds the rows' sums and derives the figures again.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, Sum

from metrics.models import BacklogRollup, DailyRollup
from metrics.rollups import SURVEY_COLUMNS, TICKET_COLUMNS, local_today
from metrics.services import company_zone

GRAINS = ("day", "week", "month")
SUM_FIELDS: tuple[str, ...] = tuple(name for name, _, _ in TICKET_COLUMNS) + SURVEY_COLUMNS
BACKLOG_FIELDS = ("open_count", "age_seconds", "age_under_1d", "age_1_3d", "age_3_7d", "age_over_7d")


@dataclass(frozen=True)
class Filters:
    """What a dashboard shows: an inclusive range of local days, a grain and slices."""

    start: dt.date
    end: dt.date
    grain: str = "day"
    team_id: int | None = None  # 0: tickets without a team
    agent_id: int | None = None  # 0: unassigned
    channel_kind: str = ""
    priority: str = ""
    customer_tier: str = ""
    # The company's zone and today's local date, read once per request.
    today: dt.date | None = None
    tz_name: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name) if self.tz_name else company_zone()

    def q(self) -> Q:
        q = Q(day__gte=self.start, day__lte=self.end)
        if self.team_id is not None:
            q &= Q(team_id=self.team_id)
        if self.agent_id is not None:
            q &= Q(agent_id=self.agent_id)
        for name in ("channel_kind", "priority", "customer_tier"):
            if getattr(self, name):
                q &= Q(**{name: getattr(self, name)})
        return q


def default_filters() -> Filters:
    """The last 30 local days, by day."""
    tz = company_zone()
    today = local_today(tz)
    return Filters(start=today - dt.timedelta(days=29), end=today, today=today, tz_name=tz.key)


def period_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the period ``day`` falls in: itself, its ISO week's Monday, its month's 1st."""
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def periods(filters: Filters) -> list[dt.date]:
    """Every period start between the filter's days, empty periods included."""
    starts: list[dt.date] = []
    day = filters.start
    while day <= filters.end:
        start = period_start(day, filters.grain)
        if not starts or starts[-1] != start:
            starts.append(start)
        day += dt.timedelta(days=1)
    return starts


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    return part / whole * scale if whole else None


def figures(s: Mapping[str, float]) -> dict[str, float | None]:
    """The figures of docs/metrics.md from one set of sums (a day, a team, a whole range)."""
    nps_total = s["nps_promoters"] + s["nps_passives"] + s["nps_detractors"]
    sla_met = {m: s[f"sla_{m}_met"] for m in ("first_response", "next_response", "resolution")}
    return {
        "created": s["created"],
        "solved": s["solved"],
        "resolution_rate": _ratio(s["created_solved"], s["created_resolvable"], 100),
        "first_response_avg": _ratio(s["first_response_seconds"], s["first_response_count"]),
        "first_response_business_avg": _ratio(s["first_response_business_seconds"], s["first_response_count"]),
        "next_response_avg": _ratio(s["next_response_seconds"], s["next_response_count"]),
        "next_response_business_avg": _ratio(s["next_response_business_seconds"], s["next_response_count"]),
        "first_resolution_avg": _ratio(s["first_resolution_seconds"], s["solved"]),
        "first_resolution_business_avg": _ratio(s["first_resolution_business_seconds"], s["solved"]),
        "full_resolution_avg": _ratio(s["full_resolution_seconds"], s["solved"]),
        "full_resolution_business_avg": _ratio(s["full_resolution_business_seconds"], s["solved"]),
        "fcr_rate": _ratio(s["solved_first_contact"], s["solved"], 100),
        "reopen_rate": _ratio(s["solved_reopened"], s["solved"], 100),
        "replies_per_ticket": _ratio(s["solved_replies"], s["solved"]),
        "sla_first_response": _ratio(sla_met["first_response"], sla_met["first_response"] + s["sla_first_response_missed"], 100),
        "sla_next_response": _ratio(sla_met["next_response"], sla_met["next_response"] + s["sla_next_response_missed"], 100),
        "sla_resolution": _ratio(sla_met["resolution"], sla_met["resolution"] + s["sla_resolution_missed"], 100),
        "csat": _ratio(s["csat_positive"], s["csat_total"], 100),
        "csat_count": s["csat_total"],
        "nps": _ratio(s["nps_promoters"] - s["nps_detractors"], nps_total, 100),
        "nps_count": nps_total,
        "ces": _ratio(s["ces_sum"], s["ces_count"]),
        "ces_count": s["ces_count"],
        "response_rate": _ratio(s["surveys_answered"], s["surveys_sent"], 100),
        "sentiment": _ratio(s["sentiment_sum"], s["sentiment_count"]),
    }


def backlog_figures(s: Mapping[str, float]) -> dict[str, float | None]:
    return {
        "backlog": s["open_count"],
        "backlog_age_avg": _ratio(s["age_seconds"], s["open_count"]),
        **{name: s[name] for name in BACKLOG_FIELDS[2:]},
    }


def _zero() -> dict[str, float]:
    return dict.fromkeys(SUM_FIELDS, 0)


def _add(into: dict[str, float], row: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        into[name] += row.get(name) or 0


@dataclass
class Row:
    """One line of a table: its key, label, summed counts and the figures derived from them."""

    key: Any
    label: str
    sums: dict[str, float]
    backlog_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BACKLOG_FIELDS, 0))

    @property
    def figures(self) -> dict[str, float | None]:
        return {**figures(self.sums), **backlog_figures(self.backlog_sums)}


def rows_total(rows: Iterable[Row], label: str = "Total") -> Row:
    """The total line of a table: the rows' sums added, the figures derived again."""
    total = Row(key=None, label=label, sums=_zero())
    for row in rows:
        _add(total.sums, row.sums, SUM_FIELDS)
        _add(total.backlog_sums, row.backlog_sums, BACKLOG_FIELDS)
    return total


def _sum_by(filters: Filters, group: str) -> dict[Any, dict[str, float]]:
    query = DailyRollup.objects.filter(filters.q()).values(group).annotate(**{f: Sum(f) for f in SUM_FIELDS}).order_by()
    return {row.pop(group): row for row in query}


Sums = dict[str, dict[Any, dict[str, float]]]


def rollup_sums(filters: Filters, groups: tuple[str, ...]) -> Sums:
    """The rollups summed per value of each of ``groups`` (day, team_id, agent_id, ...).

    On PostgreSQL one scan serves every grouping (GROUPING SETS): the dashboard needs four
    and the scan of a long range is most of its time; elsewhere one query per grouping.
    """
    from django.db import connection

    if connection.vendor != "postgresql" or len(groups) < 2:
        return {group: _sum_by(filters, group) for group in groups}
    queryset = DailyRollup.objects.filter(filters.q())
    compiler = queryset.query.get_compiler(using=queryset.db)
    where, params = compiler.compile(queryset.query.where)
    columns = ", ".join(groups)
    sums = ", ".join(f"SUM({f})" for f in SUM_FIELDS)
    sql = (
        f"SELECT {columns}, GROUPING({columns}), {sums} FROM {DailyRollup._meta.db_table} "  # noqa: S608 - constant names
        f"WHERE {where} GROUP BY GROUPING SETS ({', '.join(f'({g})' for g in groups)})"
    )
    # GROUPING(...) has a bit set for each column a row is *not* grouped by.
    width = len(groups)
    mask_of = {(2 ** width - 1) ^ (1 << (width - 1 - i)): group for i, group in enumerate(groups)}
    out: Sums = {group: {} for group in groups}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            group = mask_of[row[width]]
            key = row[groups.index(group)]
            out[group][key] = dict(zip(SUM_FIELDS, row[width + 1 :]))
    return out


def _backlog_at_end(filters: Filters, group: str) -> dict[Any, dict[str, float]]:
    """The backlog at the end of the range's last day (today's: as the beat last saw it)."""
    end = min(filters.end, filters.today or local_today(filters.tz))
    day_filters = Filters(**{**filters.__dict__, "start": end, "end": end})
    query = BacklogRollup.objects.filter(day_filters.q()).values(group).annotate(**{f: Sum(f) for f in BACKLOG_FIELDS}).order_by()
    return {row.pop(group): row for row in query}


def _names(group: str, keys: Iterable[Any]) -> dict[Any, str]:
    keys = [k for k in keys if k]
    if group == "team_id":
        from tickets.models import Team

        return {0: "No team", **dict(Team.objects.filter(pk__in=keys).values_list("pk", "name"))}
    if group == "agent_id":
        from django.contrib.auth import get_user_model

        users = get_user_model().objects.filter(pk__in=keys).select_related("agent")
        names = {}
        for user in users:
            agent = getattr(user, "agent", None)
            names[user.pk] = (agent.name if agent is not None else "") or user.get_full_name() or user.get_username()
        return {0: "Unassigned", **names}
    if group == "channel_kind":
        from channels_inbox.models import Channel

        return {"": "No channel (surveys)", **dict(Channel.Kind.choices)}
    return {}


def table(filters: Filters, group: str, *, sums: dict[Any, dict[str, float]] | None = None) -> list[Row]:
    """One row per team, agent or channel kind in the range, with its backlog at the end
    (``sums``: this grouping of :func:`rollup_sums`, when the caller has it already)."""
    sums = _sum_by(filters, group) if sums is None else sums
    backlog = _backlog_at_end(filters, group)
    names = _names(group, set(sums) | set(backlog))
    rows = []
    for key in set(sums) | set(backlog):
        row = Row(key=key, label=names.get(key, str(key)), sums={**_zero(), **sums.get(key, {})})
        _add(row.backlog_sums, backlog.get(key, {}), BACKLOG_FIELDS)
        rows.append(row)
    rows.sort(key=lambda r: (-r.sums["created"], r.label))
    return rows


def trend(filters: Filters, *, by_day: dict[Any, dict[str, float]] | None = None) -> list[Row]:
    """One row per period (day, ISO week or month) of the range, empty periods included.

    Counts and sums add up over the period's days; the backlog is the one at the end of
    the period's last day in the range (a snapshot does not add up over time).
    """
    by_day = _sum_by(filters, "day") if by_day is None else by_day
    out: OrderedDict[dt.date, Row] = OrderedDict(
        (start, Row(key=start, label=_period_label(start, filters.grain), sums=_zero())) for start in periods(filters)
    )
    for day, sums in by_day.items():
        _add(out[period_start(day, filters.grain)].sums, sums, SUM_FIELDS)
    last_day_of: dict[dt.date, dt.date] = {}
    day = filters.start
    while day <= filters.end:
        last_day_of[period_start(day, filters.grain)] = day
        day += dt.timedelta(days=1)
    ends = set(last_day_of.values())
    backlog = (
        BacklogRollup.objects.filter(filters.q() & Q(day__in=ends))
        .values("day")
        .annotate(**{f: Sum(f) for f in BACKLOG_FIELDS})
        .order_by()
    )
    for row in backlog:
        _add(out[period_start(row["day"], filters.grain)].backlog_sums, row, BACKLOG_FIELDS)
    return list(out.values())


def _period_label(start: dt.date, grain: str) -> str:
    if grain == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


def trend_total(filters: Filters, rows: list[Row]) -> Row:
    """The range's summary: the trend rows' sums added; the backlog is the range's last day."""
    total = rows_total(rows)
    total.backlog_sums = dict.fromkeys(BACKLOG_FIELDS, 0)
    if rows:
        _add(total.backlog_sums, rows[-1].backlog_sums, BACKLOG_FIELDS)
    return total


def csat_comments(filters: Filters, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest survey answers with a comment in the range (newest first), sliced like the
    rollups through the ticket's measurements (team, agent, channel, priority, tier)."""
    from django.apps import apps

    if not apps.is_installed("metrics.surveys"):
        return []
    from metrics.rollups import local_midnight
    from metrics.surveys.models import SurveyResponse

    tz = filters.tz
    query = SurveyResponse.objects.exclude(comment="").filter(
        answered_at__gte=local_midnight(filters.start, tz), answered_at__lt=local_midnight(filters.end + dt.timedelta(days=1), tz)
    )
    # 0 means "no team" / "unassigned": a NULL on the measurements.
    if filters.team_id is not None:
        query = query.filter(ticket__metrics__team_id=filters.team_id or None)
    if filters.agent_id is not None:
        query = query.filter(ticket__metrics__assignee_id=filters.agent_id or None)
    if filters.channel_kind:
        query = query.filter(ticket__metrics__channel_kind=filters.channel_kind)
    if filters.priority:
        query = query.filter(ticket__metrics__priority=filters.priority)
    if filters.customer_tier:
        query = query.filter(customer__tier=filters.customer_tier)
    return list(
        query.order_by("-answered_at", "-id").values(
            "id", "kind", "score", "comment", "answered_at", "ticket__number", "customer__name"
        )[:limit]
    )


def live_counts() -> dict[str, int]:
    """The live tiles: open tickets, those waiting on us, agents available now.

    Read from the per-ticket measurements' status (kept current on every event) with
    partial counts, and the agents' availability; a few milliseconds, never the tickets table.
    """
    from metrics.models import TicketMetrics
    from tickets.models import AgentProfile

    open_rows = TicketMetrics.objects.filter(is_solved=False, merged_away=False)
    return {
        "open": open_rows.count(),
        "waiting_on_us": open_rows.exclude(status="pending").count(),
        "agents_available": AgentProfile.objects.filter(availability=AgentProfile.Availability.AVAILABLE).count(),
    }
