"""Writes of the metrics app: a ticket's measurements, refreshed from its event log."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from metrics import compute, rollups
from metrics.models import TicketMetrics
from tickets.models import CompanyProfile, Ticket, TicketEvent
from tickets.routing import sla
from tickets.routing.business_hours import Calendar, CalendarError, validate_time_zone
from tickets.routing.models import TicketRouting


def _zone_named(name: str | None) -> ZoneInfo:
    try:
        return validate_time_zone(name or "UTC")
    except CalendarError:
        return ZoneInfo("UTC")


def company_zone() -> ZoneInfo:
    """The company's zone (CompanyProfile.time_zone); UTC when unset or unknown."""
    return _zone_named(CompanyProfile.objects.filter(pk=1).values_list("time_zone", flat=True).first())


def ticket_calendar(ticket: Ticket, *, routing: TicketRouting | None | bool = False) -> Calendar | None:
    """The calendar SLA clocks use: the team's, else the ticket's SLA policy's, else 24/7 (None).

    ``routing``: the ticket's TicketRouting (or None) when the caller loaded it already.
    """
    calendar = sla.team_calendar(ticket.team_id)
    if calendar is not None:
        return calendar
    if routing is False:
        routing = TicketRouting.objects.select_related("sla_policy__business_hours").filter(ticket_id=ticket.pk).first()
    if routing is not None and routing.sla_policy is not None:
        return sla.calendar_of(routing.sla_policy.business_hours)
    return None


def facts_of(ticket: Ticket) -> compute.TicketFacts:
    return compute.TicketFacts(
        created_at=ticket.created_at,
        status=ticket.status,
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        channel_id=ticket.channel_id,
        channel_kind=ticket.channel.kind,
        priority=ticket.priority,
        customer_tier=ticket.customer.tier,
        merged_into_id=ticket.merged_into_id,
        sentiment=ticket.sentiment,
    )


def measure(ticket: Ticket, *, tz: ZoneInfo, routing: TicketRouting | None | bool = False) -> compute.Measurements:
    events = TicketEvent.objects.filter(ticket_id=ticket.pk).order_by("created_at", "id").only(
        "kind", "actor_kind", "data", "created_at"
    )
    return compute.compute(facts_of(ticket), events, calendar=ticket_calendar(ticket, routing=routing), tz=tz)


@transaction.atomic
def ticket_metrics_refresh(
    *, ticket_id: int, tz: ZoneInfo | None = None, now: dt.datetime | None = None, mark_rollups: bool = True
) -> TicketMetrics | None:
    """Recompute one ticket's row from its whole event log and store it (insert or update).

    Replaying the whole log (not applying one event) is what makes it idempotent, order
    independent and correct for late events; a ticket's log is short. ``None`` when the
    ticket no longer exists (its row went with it, by cascade). The rollup days the change
    moves are marked dirty in the same transaction (``mark_rollups``; a full recompute
    rebuilds its range itself and skips it).
    """
    # One query brings what the refresh needs besides the events: the ticket, its current
    # row (the old days a change moves), its SLA routing (the calendar) and the company's zone.
    ticket = (
        Ticket.objects.select_related("channel", "customer", "metrics", "routing__sla_policy__business_hours")
        .annotate(company_time_zone=Subquery(CompanyProfile.objects.filter(pk=1).values("time_zone")[:1]))
        .select_for_update(of=("self",))
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return None
    tz = tz or _zone_named(ticket.company_time_zone)
    with sla.memoized():
        values = compute.as_fields(measure(ticket, tz=tz, routing=getattr(ticket, "routing", None)))
    values["computed_at"] = now or timezone.now()
    current = getattr(ticket, "metrics", None) if mark_rollups else None
    old = {name: getattr(current, name) for name in rollups.MARK_FIELDS} if current is not None else None
    # UPDATE first (the common case: the row exists), INSERT when it did not; concurrent
    # first refreshes of one ticket are serialised by the ticket row lock taken above.
    if not TicketMetrics.objects.filter(ticket_id=ticket_id).update(**values):
        TicketMetrics.objects.create(ticket_id=ticket_id, **values)
    if mark_rollups:
        rollups.mark_ticket_change(ticket_id=ticket_id, old=old, new=values, tz=tz)
    return TicketMetrics(ticket_id=ticket_id, **values)


def metrics_recompute(
    *, since: dt.date | None = None, batch_size: int = 500, tickets_too: bool = True, workers: int = 1
) -> int:
    """Rebuild the rows of every ticket with activity since ``since`` (all tickets when None),
    then every rollup day from ``since`` on (all days when None).

    "Activity" is any event on or after the local midnight starting ``since``, so an old
    ticket reopened later is included. Each ticket goes through the same refresh as the
    incremental path; returns the number of tickets refreshed. ``tickets_too=False``
    rebuilds the rollups only (after a calendar or time-zone change, use the default).
    ``workers`` > 1 splits the per-ticket part over that many processes (PostgreSQL only:
    it is Python over every event, one core each).
    """
    tz = company_zone()
    count = _tickets_recompute(since=since, batch_size=batch_size, tz=tz, workers=workers) if tickets_too else 0
    rollups.rollups_rebuild(days=rollups.DaySet(lo=since), tz=tz)
    return count


def rollups_refresh() -> dict[str, int]:
    """Rebuild the rollup days marked dirty since the last run (the beat task's body)."""
    return rollups.rollups_refresh_dirty(tz=company_zone())


def _tickets_recompute(*, since: dt.date | None, batch_size: int, tz: ZoneInfo, workers: int = 1) -> int:
    tickets = Ticket.objects.order_by("pk")
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=tz)
        active = TicketEvent.objects.filter(created_at__gte=start).values("ticket_id")
        tickets = tickets.filter(pk__in=active)
    ids = list(tickets.values_list("pk", flat=True))
    # With --since, a refreshed ticket may move days before ``since`` (its creation day):
    # those are marked for the beat; a full run rebuilds every day itself.
    mark = since is not None
    if workers > 1 and connection.vendor == "postgresql" and len(ids) > batch_size:
        return _tickets_recompute_parallel(ids, batch_size=batch_size, tz=tz, mark_rollups=mark, workers=workers)
    return _recompute_ids(ids, batch_size, tz.key, mark)


def _recompute_ids(ids: list[int], batch_size: int, tz_name: str, mark_rollups: bool) -> int:
    """Refresh these tickets batch by batch (also the body of each worker process)."""
    tz = ZoneInfo(tz_name)
    count = 0
    for offset in range(0, len(ids), batch_size):
        with sla.memoized():
            count += _tickets_batch_refresh(ids[offset : offset + batch_size], tz=tz, mark_rollups=mark_rollups)
    return count


def _tickets_recompute_parallel(ids: list[int], *, batch_size: int, tz: ZoneInfo, mark_rollups: bool, workers: int) -> int:
    """Split the tickets over forked processes, each with its own database connection
    (closed here first, so no child shares the parent's socket)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()
    share = -(-len(ids) // workers)
    parts = [ids[n * share : (n + 1) * share] for n in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.starmap(_recompute_ids, [(part, batch_size, tz.key, mark_rollups) for part in parts if part])
    return sum(counts)


class _Event:
    """What compute reads of an event, without a model instance per row (a full recompute
    reads every event there is)."""

    __slots__ = ("kind", "actor_kind", "data", "created_at")

    def __init__(self, kind: str, actor_kind: str, data: dict, created_at: dt.datetime) -> None:
        self.kind, self.actor_kind, self.data, self.created_at = kind, actor_kind, data, created_at


@transaction.atomic
def _tickets_batch_refresh(ticket_ids: list[int], *, tz: ZoneInfo, mark_rollups: bool) -> int:
    """The refresh of :func:`ticket_metrics_refresh` for many tickets in a few queries: the
    same facts, events, calendars and computation; rows replaced in bulk."""
    tickets = list(Ticket.objects.select_related("channel", "customer").filter(pk__in=ticket_ids).order_by("pk"))
    events: dict[int, list[_Event]] = {t.pk: [] for t in tickets}
    for ticket_id, kind, actor_kind, data, created_at in (
        TicketEvent.objects.filter(ticket_id__in=ticket_ids)
        .order_by("ticket_id", "created_at", "id")
        .values_list("ticket_id", "kind", "actor_kind", "data", "created_at")
    ):
        events[ticket_id].append(_Event(kind, actor_kind, data, created_at))
    routings = {
        r.ticket_id: r for r in TicketRouting.objects.select_related("sla_policy__business_hours").filter(ticket_id__in=ticket_ids)
    }
    now = timezone.now()
    rows = []
    for ticket in tickets:
        calendar = ticket_calendar(ticket, routing=routings.get(ticket.pk))
        values = compute.as_fields(compute.compute(facts_of(ticket), events[ticket.pk], calendar=calendar, tz=tz))
        rows.append(TicketMetrics(ticket_id=ticket.pk, computed_at=now, **values))
    existing = TicketMetrics.objects.filter(ticket_id__in=ticket_ids)
    if mark_rollups:
        old = {row.pop("ticket_id"): row for row in existing.values("ticket_id", *rollups.MARK_FIELDS)}
        daily: set[dt.date] = set()
        backlog: set[dt.date] = set()
        for row in rows:
            new = {name: getattr(row, name) for name in rollups.MARK_FIELDS}
            more_daily, more_backlog = rollups.days_moved(ticket_id=row.ticket_id, old=old.get(row.ticket_id), new=new, tz=tz)
            daily |= more_daily
            backlog |= more_backlog
        rollups.dirty_mark(daily=daily, backlog=backlog)
    existing.delete()
    _insert_rows(rows)
    return len(rows)


def _insert_rows(rows: list[TicketMetrics]) -> None:
    """Insert many rows: COPY on PostgreSQL (several times faster than a multi-row INSERT
    for a million rows), bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        TicketMetrics.objects.bulk_create(rows, batch_size=500)
        return
    columns = [f for f in TicketMetrics._meta.concrete_fields]
    names = ", ".join(connection.ops.quote_name(f.column) for f in columns)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {TicketMetrics._meta.db_table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([getattr(row, f.attname) for f in columns])


def rollups_catch_up() -> None:
    """Embedded mode has no beat: rebuild the dirty days before a dashboard reads them.

    With a worker and beat (full mode) the beat does it every minute and this does nothing.
    """
    from celery import current_app

    if current_app.conf.task_always_eager:
        rollups_refresh()
