"""Tickets: open, change status, assign, team, priority, tags."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from tickets import events
from tickets.events import SYSTEM, Actor
from tickets.exceptions import InvalidTransition
from tickets.models import Customer, Tag, Ticket
from tickets.realtime import publish_on_commit

if TYPE_CHECKING:
    from channels_inbox.models import Channel

logger = logging.getLogger(__name__)


# --- Tickets -----------------------------------------------------------------------


@transaction.atomic(savepoint=False)
def ticket_open(
    *,
    channel: Channel,
    customer: Customer,
    subject: str,
    actor: Actor,
    thread_key: str = "",
    priority: str = Ticket.Priority.NORMAL,
    language: str = "",
    created_at: dt.datetime | None = None,
    linked_ticket: Ticket | None = None,
    team_id: int | None = None,
    extra_event_data: dict[str, Any] | None = None,
) -> Ticket:
    """Open a new ticket for a customer on a channel (status new), numbered and logged;
    a team given here is recorded as the system's routing decision."""
    now = created_at or timezone.now()
    ticket = Ticket.objects.create(
        subject=subject[:500],
        channel=channel,
        customer=customer,
        organization_id=customer.organization_id,
        priority=priority,
        language=language[:16],
        thread_key=thread_key[:255],
        linked_ticket=linked_ticket,
        team_id=team_id,
        created_at=now,
        updated_at=now,
    )
    ticket.number = ticket.pk
    Ticket.objects.filter(pk=ticket.pk).update(number=ticket.number)
    events.created(ticket, actor=actor, at=now, extra=extra_event_data)
    if team_id is not None:
        events.team_changed(ticket, old_id=None, new_id=team_id, actor=SYSTEM)
    publish_on_commit("ticket.created", ticket_id=ticket.pk)
    return ticket


def _set_status(ticket: Ticket, new: str, *, actor: Actor, now: dt.datetime) -> list[str]:
    """Apply a status change and its timestamps and event; returns the fields changed."""
    old = ticket.status
    if old == new:
        return []
    ticket.status = new
    fields = ["status"]
    if new == Ticket.Status.SOLVED:
        ticket.solved_at = now
        fields.append("solved_at")
        _chat_after_solve(ticket)
        # Issue 6: the CSAT survey, queued when the solve commits (metrics/surveys/hooks.py).
        from metrics.surveys.hooks import on_ticket_solved

        on_ticket_solved(ticket.pk)
    elif new == Ticket.Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
        if ticket.solved_at is None:
            ticket.solved_at = now
            fields.append("solved_at")
    if old in (Ticket.Status.SOLVED, Ticket.Status.CLOSED) and new in Ticket.UNSOLVED_STATUSES:
        ticket.reopen_count += 1
        ticket.solved_at = None
        ticket.closed_at = None
        fields += ["reopen_count", "solved_at", "closed_at"]
        events.status_changed(ticket, old=old, new=new, actor=actor, at=now)
        events.reopened(ticket, old=old, actor=actor, at=now)
    else:
        events.status_changed(ticket, old=old, new=new, actor=actor, at=now)
    return fields


@transaction.atomic  # raises domain errors: keep a savepoint so a caller's transaction survives
def ticket_change_status(*, ticket: Ticket, status: str, actor: Actor) -> Ticket:
    if status not in Ticket.Status.values:
        raise InvalidTransition(f"unknown status {status!r}")
    if ticket.status == Ticket.Status.CLOSED and status != Ticket.Status.CLOSED:
        raise InvalidTransition("a closed ticket cannot be reopened; the customer's next message opens a follow-up")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    now = timezone.now()
    fields = _set_status(ticket, status, actor=actor, now=now)
    if fields:
        ticket.updated_at = now
        ticket.save(update_fields=[*set(fields), "updated_at"])
        publish_on_commit("ticket.updated", ticket_id=ticket.pk, fields=["status"])
        _routing_after_change(ticket, changed=["status"], actor=actor)
    return ticket


@transaction.atomic(savepoint=False)
def ticket_assign(*, ticket: Ticket, assignee: Any | None, actor: Actor) -> Ticket:
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    new_id = assignee.pk if assignee is not None else None
    if ticket.assignee_id == new_id:
        return ticket
    old_id = ticket.assignee_id
    ticket.assignee_id = new_id
    ticket.updated_at = timezone.now()
    fields = ["assignee", "updated_at"]
    if new_id and ticket.status == Ticket.Status.NEW:
        fields += _set_status(ticket, Ticket.Status.OPEN, actor=actor, now=ticket.updated_at)
    ticket.save(update_fields=list(dict.fromkeys(fields)))
    events.assigned(ticket, old_id=old_id, new_id=new_id, actor=actor)
    publish_on_commit("ticket.updated", ticket_id=ticket.pk, fields=["assignee"])
    _routing_after_change(ticket, changed=["assignee"], actor=actor)
    return ticket


@transaction.atomic(savepoint=False)
def ticket_set_team(*, ticket: Ticket, team_id: int | None, actor: Actor) -> Ticket:
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.team_id == team_id:
        return ticket
    old_id = ticket.team_id
    ticket.team_id = team_id
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["team", "updated_at"])
    events.team_changed(ticket, old_id=old_id, new_id=team_id, actor=actor)
    publish_on_commit("ticket.updated", ticket_id=ticket.pk, fields=["team"])
    _routing_after_change(ticket, changed=["team"], actor=actor)
    return ticket


@transaction.atomic  # raises domain errors: keep a savepoint so a caller's transaction survives
def ticket_set_priority(*, ticket: Ticket, priority: str, actor: Actor) -> Ticket:
    if priority not in Ticket.Priority.values:
        raise InvalidTransition(f"unknown priority {priority!r}")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.priority == priority:
        return ticket
    old = ticket.priority
    ticket.priority = priority
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["priority", "updated_at"])
    events.priority_changed(ticket, old=old, new=priority, actor=actor)
    publish_on_commit("ticket.updated", ticket_id=ticket.pk, fields=["priority"])
    _routing_after_change(ticket, changed=["priority"], actor=actor)
    return ticket


@transaction.atomic(savepoint=False)
def ticket_set_tags(*, ticket: Ticket, names: Sequence[str], actor: Actor) -> Ticket:
    wanted = sorted({n.strip().lower()[:64] for n in names if n.strip()})
    current = set(ticket.tags.values_list("name", flat=True))
    added, removed = sorted(set(wanted) - current), sorted(current - set(wanted))
    if not added and not removed:
        return ticket
    tags = [Tag.objects.get_or_create(name=name)[0] for name in wanted]
    ticket.tags.set(tags)
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["updated_at"])
    events.tags_changed(ticket, added=added, removed=removed, actor=actor)
    publish_on_commit("ticket.updated", ticket_id=ticket.pk, fields=["tags"])
    _routing_after_change(ticket, changed=["tags"], actor=actor)
    return ticket


def _chat_after_solve(ticket: Ticket) -> None:
    """Live chat (issue 7): the visitor's widget hears of the solve and asks for a rating."""
    from channels_inbox.widget.services import ticket_solved_on_commit

    ticket_solved_on_commit(ticket)


# --- Routing hook (issue 5) ----------------------------------------------------------


def _routing_after_change(ticket: Ticket, *, changed: list[str], actor: Actor) -> None:
    """Rules and the SLA clock follow every change: an explicit call, not a signal. Routing
    runs no rules for its own (RULE) or the system's changes, so this cannot loop, and it
    never raises into the caller."""
    from tickets.routing import services as routing  # routing calls these services

    routing.on_ticket_updated(ticket=ticket, changed=changed, actor=actor)
