"""Per-ticket measurements from a ticket's event log: a pure function, no queries, no writes.

docs/metrics.md is the contract; every rule below is written there first. The service
(metrics/services.py) loads the ticket, its events, the calendar and the company's zone,
calls :func:`compute` and stores the result, so an incremental refresh and a full
recompute run exactly the same code and cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from tickets.routing.business_hours import Calendar, business_seconds_between

CREATED, MESSAGE_ADDED, STATUS_CHANGED, REOPENED, MERGED = "created", "message_added", "status_changed", "reopened", "merged"
SLA_APPLIED, SLA_BREACHED = "sla_applied", "sla_breached"
SOLVED_STATUSES = frozenset({"solved", "closed"})
PENDING = "pending"
SLA_METRICS = ("first_response", "next_response", "resolution")


class EventLike(Protocol):
    """What compute reads of a TicketEvent (a saved row or a hand-built stand-in in tests)."""

    kind: str
    actor_kind: str
    data: Mapping[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class TicketFacts:
    """The ticket's own fields metrics need: the dimensions are its current values."""

    created_at: dt.datetime
    status: str
    team_id: int | None = None
    assignee_id: int | None = None
    channel_id: int | None = None
    channel_kind: str = ""
    priority: str = "normal"
    customer_tier: str = "standard"
    merged_into_id: int | None = None
    # The ticket's sentiment (average of its latest customer messages, -1..1), None if unscored.
    sentiment: float | None = None


@dataclass
class Duration:
    """One duration, always both ways: wall-clock seconds and working seconds of the calendar."""

    calendar: float = 0.0
    business: float = 0.0

    def add(self, calendar: Calendar | None, start: dt.datetime, end: dt.datetime) -> None:
        if end <= start:
            return
        # Through UTC: subtracting two datetimes of the same zone is wall-clock arithmetic
        # in Python, which would miss the hour a DST change adds or removes.
        self.calendar += (end.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds()
        self.business += business_seconds_between(calendar, start, end)


@dataclass
class Measurements:
    """The row of metrics.TicketMetrics, before it is stored (field names match the model)."""

    status: str
    is_solved: bool
    merged_away: bool
    created_at: dt.datetime
    created_date: dt.date
    first_solved_at: dt.datetime | None
    first_solved_date: dt.date | None
    solved_at: dt.datetime | None
    solved_date: dt.date | None
    reopened_at: dt.datetime | None
    reopened_date: dt.date | None
    first_response_at: dt.datetime | None
    first_response_seconds: float | None
    first_response_business_seconds: float | None
    next_response_count: int
    next_response_seconds: float
    next_response_business_seconds: float
    first_resolution_seconds: float | None
    first_resolution_business_seconds: float | None
    full_resolution_seconds: float | None
    full_resolution_business_seconds: float | None
    pending_seconds: float
    pending_business_seconds: float
    agent_replies: int
    customer_messages: int
    reopens: int
    first_contact_resolved: bool
    sla_first_response_met: bool | None
    sla_next_response_met: bool | None
    sla_resolution_met: bool | None
    team_id: int | None
    assignee_id: int | None
    channel_id: int | None
    channel_kind: str
    priority: str
    customer_tier: str
    sentiment: float | None
    event_count: int
    last_event_at: dt.datetime | None


def as_fields(measurements: Measurements) -> dict[str, Any]:
    """The measurements as model field values (all immutable scalars: a shallow copy; the
    deep copy of ``dataclasses.asdict`` was a third of a full recompute's time)."""
    return {name: getattr(measurements, name) for name in _FIELD_NAMES}


_FIELD_NAMES = tuple(f.name for f in fields(Measurements))


def is_agent_reply(event: EventLike) -> bool:
    """A public reply written by a person on our side; auto-replies and bots do not count."""
    return (
        event.kind == MESSAGE_ADDED
        and event.actor_kind == "agent"
        and event.data.get("direction") == "outbound"
        and not event.data.get("is_auto_reply")
    )


def is_customer_message(event: EventLike) -> bool:
    """A message from the customer that needs an answer (auto-replies such as out-of-office do not)."""
    return event.kind == MESSAGE_ADDED and event.data.get("direction") == "inbound" and not event.data.get("is_auto_reply")


def _local_date(moment: dt.datetime | None, tz: ZoneInfo) -> dt.date | None:
    return moment.astimezone(tz).date() if moment is not None else None


def compute(facts: TicketFacts, events: Iterable[EventLike], *, calendar: Calendar | None, tz: ZoneInfo) -> Measurements:
    """Replay the ticket's events (already ordered by created_at, id) into its measurements.

    ``calendar`` is the ticket's business-hours calendar (None: round the clock, so the
    business figures equal the calendar ones); ``tz`` is the company's zone, used only
    for the local dates rows are sliced by.
    """
    events = list(events)
    created_at = facts.created_at
    status = "new"
    for event in events:
        if event.kind == CREATED:
            status = str(event.data.get("status") or "new")
            break
    status_since = created_at

    # Time the ticket waited on us: every unsolved status except pending, from creation to
    # the solve (first resolution) or to the latest solve (full resolution).
    working = Duration()
    pending = Duration()
    first_resolution: Duration | None = None
    first_solved_at: dt.datetime | None = None
    last_solved_at: dt.datetime | None = None
    # The latest move out of a solved status: with first_solved_at and solved_at it places
    # the ticket in or out of the backlog at any past instant (docs/metrics.md, backlog).
    reopened_at: dt.datetime | None = None
    reopens = 0

    first_response_at: dt.datetime | None = None
    agent_replies = 0
    customer_messages = 0
    next_response = Duration()
    next_response_count = 0
    waiting_since: dt.datetime | None = None  # a customer message after our last reply, still unanswered

    sla_targets: set[str] = set()
    sla_breaches: set[str] = set()
    merged_away = False

    def close_interval(until: dt.datetime) -> None:
        if status in SOLVED_STATUSES:
            return
        if status == PENDING:
            pending.add(calendar, status_since, until)
        else:
            working.add(calendar, status_since, until)

    for event in events:
        at = event.created_at
        if event.kind == STATUS_CHANGED:
            new = str(event.data.get("to") or status)
            if new == status:
                continue
            close_interval(at)
            was_solved = status in SOLVED_STATUSES
            status, status_since = new, at
            if new in SOLVED_STATUSES and not was_solved:
                last_solved_at = at
                if first_solved_at is None:
                    first_solved_at = at
                    first_resolution = Duration(working.calendar, working.business)
            elif new not in SOLVED_STATUSES and was_solved:
                last_solved_at = None
                reopened_at = at
        elif event.kind == REOPENED:
            reopens += 1
        elif is_agent_reply(event):
            agent_replies += 1
            if first_response_at is None:
                first_response_at = at
            elif waiting_since is not None:
                next_response.add(calendar, waiting_since, at)
                next_response_count += 1
            waiting_since = None
        elif is_customer_message(event):
            customer_messages += 1
            if first_response_at is not None and waiting_since is None:
                waiting_since = at
        elif event.kind == MERGED and event.data.get("role") == "source":
            merged_away = True
        elif event.kind == SLA_APPLIED:
            due = event.data.get("due") or {}
            sla_targets = {metric for metric in SLA_METRICS if due.get(metric)}
        elif event.kind == SLA_BREACHED:
            sla_breaches.add(str(event.data.get("metric")))

    is_solved = status in SOLVED_STATUSES and last_solved_at is not None
    merged_away = merged_away or facts.merged_into_id is not None

    first_response = Duration()
    if first_response_at is not None:
        first_response.add(calendar, created_at, first_response_at)

    def sla_met(metric: str) -> bool | None:
        if metric in sla_breaches:
            return False
        return True if metric in sla_targets else None

    return Measurements(
        status=status,
        is_solved=is_solved,
        merged_away=merged_away,
        created_at=created_at,
        created_date=_local_date(created_at, tz),
        first_solved_at=first_solved_at,
        first_solved_date=_local_date(first_solved_at, tz),
        solved_at=last_solved_at if is_solved else None,
        solved_date=_local_date(last_solved_at, tz) if is_solved else None,
        reopened_at=reopened_at,
        reopened_date=_local_date(reopened_at, tz),
        first_response_at=first_response_at,
        first_response_seconds=first_response.calendar if first_response_at else None,
        first_response_business_seconds=first_response.business if first_response_at else None,
        next_response_count=next_response_count,
        next_response_seconds=next_response.calendar,
        next_response_business_seconds=next_response.business,
        first_resolution_seconds=first_resolution.calendar if first_resolution else None,
        first_resolution_business_seconds=first_resolution.business if first_resolution else None,
        full_resolution_seconds=working.calendar if is_solved else None,
        full_resolution_business_seconds=working.business if is_solved else None,
        pending_seconds=pending.calendar,
        pending_business_seconds=pending.business,
        agent_replies=agent_replies,
        customer_messages=customer_messages,
        reopens=reopens,
        first_contact_resolved=is_solved and not merged_away and agent_replies == 1 and reopens == 0,
        sla_first_response_met=sla_met("first_response"),
        sla_next_response_met=sla_met("next_response"),
        sla_resolution_met=sla_met("resolution"),
        team_id=facts.team_id,
        assignee_id=facts.assignee_id,
        channel_id=facts.channel_id,
        channel_kind=facts.channel_kind,
        priority=facts.priority,
        customer_tier=facts.customer_tier,
        sentiment=facts.sentiment,
        event_count=len(events),
        last_event_at=events[-1].created_at if events else None,
    )
