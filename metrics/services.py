"""Writes of the metrics app: a ticket's measurements, refreshed from its event log."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from metrics import compute
from metrics.models import TicketMetrics
from tickets.models import CompanyProfile, Ticket, TicketEvent
from tickets.routing import sla
from tickets.routing.business_hours import Calendar, CalendarError, validate_time_zone
from tickets.routing.models import TicketRouting


def company_zone() -> ZoneInfo:
    """The company's zone (CompanyProfile.time_zone); UTC when unset or unknown."""
    name = CompanyProfile.objects.filter(pk=1).values_list("time_zone", flat=True).first()
    try:
        return validate_time_zone(name or "UTC")
    except CalendarError:
        return ZoneInfo("UTC")


def ticket_calendar(ticket: Ticket) -> Calendar | None:
    """The calendar SLA clocks use: the team's, else the ticket's SLA policy's, else 24/7 (None)."""
    calendar = sla.team_calendar(ticket.team_id)
    if calendar is not None:
        return calendar
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
    )


def measure(ticket: Ticket, *, tz: ZoneInfo) -> compute.Measurements:
    events = TicketEvent.objects.filter(ticket_id=ticket.pk).order_by("created_at", "id").only(
        "kind", "actor_kind", "data", "created_at"
    )
    return compute.compute(facts_of(ticket), events, calendar=ticket_calendar(ticket), tz=tz)


@transaction.atomic
def ticket_metrics_refresh(*, ticket_id: int, tz: ZoneInfo | None = None, now: dt.datetime | None = None) -> TicketMetrics | None:
    """Recompute one ticket's row from its whole event log and store it (insert or update).

    Replaying the whole log (not applying one event) is what makes it idempotent, order
    independent and correct for late events; a ticket's log is short. ``None`` when the
    ticket no longer exists (its row went with it, by cascade).
    """
    ticket = Ticket.objects.select_related("channel", "customer").select_for_update(of=("self",)).filter(pk=ticket_id).first()
    if ticket is None:
        return None
    with sla.memoized():
        values = compute.as_fields(measure(ticket, tz=tz or company_zone()))
    values["computed_at"] = now or timezone.now()
    # UPDATE first (the common case: the row exists), INSERT when it did not; concurrent
    # first refreshes of one ticket are serialised by the ticket row lock taken above.
    if not TicketMetrics.objects.filter(ticket_id=ticket_id).update(**values):
        TicketMetrics.objects.create(ticket_id=ticket_id, **values)
    return TicketMetrics(ticket_id=ticket_id, **values)


def metrics_recompute(*, since: dt.date | None = None, batch_size: int = 500) -> int:
    """Rebuild the rows of every ticket with activity since ``since`` (all tickets when None).

    "Activity" is any event on or after the local midnight starting ``since``, so an old
    ticket reopened later is included. Each ticket goes through the same refresh as the
    incremental path; returns the number of tickets refreshed.
    """
    tz = company_zone()
    tickets = Ticket.objects.order_by("pk")
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=tz)
        active = TicketEvent.objects.filter(created_at__gte=start).values("ticket_id")
        tickets = tickets.filter(pk__in=active)
    count = 0
    ids = list(tickets.values_list("pk", flat=True))
    for offset in range(0, len(ids), batch_size):
        with sla.memoized():
            for ticket_id in ids[offset : offset + batch_size]:
                ticket_metrics_refresh(ticket_id=ticket_id, tz=tz)
                count += 1
    return count
