"""SLA due times: computed from the policy's targets in the team's business hours.

Stored on TicketRouting (all three metrics, the pause and what was warned or breached)
and copied to ``Ticket.sla_first_response_due_at`` / ``sla_resolution_due_at``, which the
inbox reads. Recomputed whenever the ticket changes (priority, team, status, a reply);
while the ticket is pending on the customer (when the policy says so) or solved, the clock
stops: the due times are cleared and, on resuming (a reply from the customer, a reopening),
pushed back by the business time paused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.utils import timezone

from tickets.models import Ticket
from tickets.routing import business_hours
from tickets.routing.business_hours import Calendar
from tickets.routing.models import BusinessHours, SLAPolicy, SLATarget, TeamRouting, TicketRouting

FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)
DONE_STATUSES = (Ticket.Status.SOLVED, Ticket.Status.CLOSED)


# One routing call on one ticket (a rules pass, a policy applied, an assignment, the
# clock recomputed) reads the same team settings, calendars and policy targets several
# times; inside ``memoized()`` each is read once. Outside it, every call reads afresh.
_memo: ContextVar[dict[Any, Any] | None] = ContextVar("routing_sla_memo", default=None)


@contextlib.contextmanager
def memoized() -> Iterator[None]:
    token = _memo.set({}) if _memo.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _memo.reset(token)


def _remember(key: Any, load: Any) -> Any:
    memo = _memo.get()
    if memo is None:
        return load()
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = load()
        return value


def team_settings(team_id: int) -> TeamRouting | None:
    """The team's routing settings (calendar and policy loaded with them), or None."""
    return _remember(
        ("team", team_id),
        lambda: TeamRouting.objects.select_related("business_hours", "sla_policy").filter(team_id=team_id).first(),
    )


def calendar_of(hours: BusinessHours | None) -> Calendar | None:
    if hours is None:
        return None
    return _remember(
        ("calendar", hours.pk, hours.updated_at),
        lambda: Calendar.build(
            time_zone=hours.time_zone, schedule=hours.schedule, holidays=hours.holidays.values_list("date", flat=True)
        ),
    )


def team_calendar(team_id: int | None) -> Calendar | None:
    if team_id is None:
        return None
    settings = team_settings(team_id)
    return calendar_of(settings.business_hours if settings else None)


def calendar_for(ticket: Ticket, policy: SLAPolicy) -> Calendar | None:
    """The team's calendar, else the policy's, else round the clock."""
    if ticket.team_id is not None:
        settings = team_settings(ticket.team_id)
        if settings is not None and settings.business_hours is not None:
            return calendar_of(settings.business_hours)
    return calendar_of(policy.business_hours)


def target_for(policy: SLAPolicy, *, priority: str, tier: str) -> SLATarget | None:
    """The row for this priority and tier, else the priority's any-tier row."""
    rows = _remember(("targets", policy.pk), lambda: {(t.priority, t.customer_tier): t for t in policy.targets.all()})
    return rows.get((priority, tier)) or rows.get((priority, ""))


def _key(metric: str, due: dt.datetime) -> str:
    # A next-response target renews with every customer message: warn and breach it
    # once per due time. First response and resolution breach once per ticket.
    return f"{metric}:{due.isoformat()}" if metric == NEXT_RESPONSE else metric


def compute(state: TicketRouting, ticket: Ticket, *, now: dt.datetime) -> dict[str, dt.datetime | None]:
    """Update the pause bookkeeping on ``state`` and return the due time of each metric."""
    policy = state.sla_policy
    none: dict[str, dt.datetime | None] = dict.fromkeys(METRICS)
    if policy is None:
        return none
    calendar = calendar_for(ticket, policy)
    # Time spent solved never counts: a ticket reopened days later resumes its clocks
    # where they stopped instead of being breached on arrival. Pending pauses when the
    # policy says so.
    paused = ticket.status in DONE_STATUSES or (policy.pause_when_pending and ticket.status == Ticket.Status.PENDING)
    if paused and state.paused_at is None:
        state.paused_at = now
    elif not paused and state.paused_at is not None:
        state.paused_seconds += business_hours.business_seconds_between(calendar, state.paused_at, now)
        state.paused_at = None
    target = target_for(policy, priority=ticket.priority, tier=ticket.customer.tier)
    if paused or target is None:
        return none
    due = dict(none)
    shift = state.paused_seconds
    if target.first_response_minutes is not None and ticket.first_response_at is None:
        due[FIRST_RESPONSE] = business_hours.add_business_seconds(calendar, ticket.created_at, target.first_response_minutes * 60 + shift)
    waiting_since = ticket.last_customer_activity_at
    if (
        target.next_response_minutes is not None
        and ticket.first_response_at is not None
        and waiting_since is not None
        and (ticket.last_agent_activity_at is None or ticket.last_agent_activity_at < waiting_since)
    ):
        due[NEXT_RESPONSE] = business_hours.add_business_seconds(calendar, waiting_since, target.next_response_minutes * 60)
    if target.resolution_minutes is not None:
        due[RESOLUTION] = business_hours.add_business_seconds(calendar, ticket.created_at, target.resolution_minutes * 60 + shift)
    return due


def sync(
    ticket: Ticket, *, now: dt.datetime | None = None, state: TicketRouting | None = None, state_is_stored: bool = False
) -> TicketRouting | None:
    """Recompute and store the ticket's due times; a no-op for a ticket with no policy.
    A state read here (or passed with ``state_is_stored``: as the database holds it) is
    written only when something changed."""
    now = now or timezone.now()
    if state is None:
        state = TicketRouting.objects.select_related("sla_policy").filter(ticket_id=ticket.pk).first()
        state_is_stored = True
    if state is None or state.sla_policy_id is None:
        return state
    stored = _stored_fields(state)
    due = compute(state, ticket, now=now)
    state.first_response_due_at = due[FIRST_RESPONSE]
    state.next_response_due_at = due[NEXT_RESPONSE]
    state.resolution_due_at = due[RESOLUTION]
    # Warnings are for the current due times only: a moved due time may warn again.
    live = {_key(m, d) for m, d in due.items() if d is not None}
    state.warned = [w for w in state.warned if w in live]
    if not state_is_stored or _stored_fields(state) != stored:
        state.save(force_insert=state._state.adding)  # a new state (a policy just applied) is one INSERT
    if (ticket.sla_first_response_due_at, ticket.sla_resolution_due_at) != (due[FIRST_RESPONSE], due[RESOLUTION]):
        ticket.sla_first_response_due_at, ticket.sla_resolution_due_at = due[FIRST_RESPONSE], due[RESOLUTION]
        # Not a change the agent made: updated_at (the inbox's order) stays.
        Ticket.objects.filter(pk=ticket.pk).update(
            sla_first_response_due_at=due[FIRST_RESPONSE], sla_resolution_due_at=due[RESOLUTION]
        )
    return state


def _stored_fields(state: TicketRouting) -> tuple[object, ...]:
    """What ``sync`` may change on a state."""
    return (
        state.first_response_due_at, state.next_response_due_at, state.resolution_due_at,
        state.paused_at, state.paused_seconds, list(state.warned),
    )


def due_times(state: TicketRouting) -> dict[str, dt.datetime | None]:
    return {
        FIRST_RESPONSE: state.first_response_due_at,
        NEXT_RESPONSE: state.next_response_due_at,
        RESOLUTION: state.resolution_due_at,
    }


def state_of(state: TicketRouting | None, *, now: dt.datetime) -> str:
    """none, paused, breached, at_risk or ok, for rules and the inbox."""
    if state is None or state.sla_policy_id is None:
        return "none"
    if state.paused_at is not None:
        return "paused"
    dues = [d for d in due_times(state).values() if d is not None]
    if not dues:
        return "ok"
    if min(dues) <= now:
        return "breached"
    warn = dt.timedelta(minutes=state.sla_policy.warn_before_minutes)
    if min(dues) - warn <= now:
        return "at_risk"
    return "ok"


def state_of_ticket(ticket: Ticket, *, now: dt.datetime) -> str:
    state = TicketRouting.objects.select_related("sla_policy").filter(ticket_id=ticket.pk).first()
    return state_of(state, now=now)


def due_metrics(state: TicketRouting, *, now: dt.datetime) -> tuple[list[tuple[str, dt.datetime]], list[tuple[str, dt.datetime]]]:
    """(to warn, breached) metrics not yet handled, with their due times."""
    assert state.sla_policy is not None
    warn_delta = dt.timedelta(minutes=state.sla_policy.warn_before_minutes)
    to_warn, to_breach = [], []
    for metric, due in due_times(state).items():
        if due is None:
            continue
        key = _key(metric, due)
        if due <= now:
            if key not in state.breached:
                to_breach.append((metric, due))
        elif due - warn_delta <= now and key not in state.warned:
            to_warn.append((metric, due))
    return to_warn, to_breach


def mark(state: TicketRouting, *, warned: list[tuple[str, dt.datetime]], breached: list[tuple[str, dt.datetime]]) -> None:
    state.warned = [*state.warned, *(_key(m, d) for m, d in warned)]
    state.breached = [*state.breached, *(_key(m, d) for m, d in breached)]
    state.save(update_fields=["warned", "breached"])
