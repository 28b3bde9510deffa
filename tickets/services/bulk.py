"""Bulk actions on tickets selected in the inbox: assign, set status, add/remove a tag, merge.

Deliberately NOT one transaction: each ticket goes through its own service call in its own
transaction, so one refusal (a closed ticket cannot be reopened, a merge that is not
allowed) is reported for that ticket and the others still change. Every change goes
through the per-ticket service (ticket_assign, ticket_change_status, ticket_set_tags,
ticket_merge), so each writes its own TicketEvent and realtime update exactly as a change
made on the ticket page would.

Tickets the user cannot see (another private team's, merged away, or unknown numbers)
are skipped and reported as not found, never changed, and nothing says whether they exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from tickets import services
from tickets.events import Actor
from tickets.exceptions import TicketError
from tickets.models import Ticket
from tickets.selectors.workspace import visible_tickets

BULK_LIMIT = 200

ASSIGN = "assign"
STATUS = "status"
ADD_TAG = "add_tag"
REMOVE_TAG = "remove_tag"
MERGE = "merge"
ACTIONS = [
    (ASSIGN, "Assign"),
    (STATUS, "Set status"),
    (ADD_TAG, "Add tag"),
    (REMOVE_TAG, "Remove tag"),
    (MERGE, "Merge into one ticket"),
]


@dataclass
class BulkResult:
    """What became of each selected ticket, by number."""

    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = []
        if self.changed:
            parts.append(
                f"{len(self.changed)} ticket{'s' if len(self.changed) != 1 else ''} updated"
            )
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} already so")
        if self.failed:
            parts.append(f"{len(self.failed)} not changed")
        return ", ".join(parts) or "Nothing to do"


def _visible_by_number(user: Any, numbers: Sequence[int]) -> dict[int, Ticket]:
    rows = (
        visible_tickets(user)
        .filter(number__in=list(numbers))
        .select_related("team")
        .prefetch_related("tags")
    )
    return {t.number: t for t in rows}


def tickets_bulk_update(
    *,
    user: Any,
    numbers: Sequence[int],
    action: str,
    assignee: Any | None = None,
    status: str = "",
    tag: str = "",
    merge_target: int | None = None,
) -> BulkResult:
    """Apply one action to the selected tickets (by number), each in its own transaction.

    ``assignee`` is a user or None (unassign). ``merge_target`` is the number of the
    ticket (one of the selected) the others merge into.
    """
    numbers = list(dict.fromkeys(numbers))[:BULK_LIMIT]
    result = BulkResult()
    tickets = _visible_by_number(user, numbers)
    actor = Actor.agent(user)
    for number in numbers:
        if number not in tickets:
            result.failed.append((number, "not found"))

    if action == MERGE:
        return _merge(tickets, merge_target, actor, result, numbers)

    assignee_sees: set[int] = set()
    if action == ASSIGN and assignee is not None:
        assignee_sees = set(
            visible_tickets(assignee)
            .filter(pk__in=[t.pk for t in tickets.values()])
            .values_list("pk", flat=True)
        )
    tag = tag.strip().lower()[:64]

    for number in numbers:
        ticket = tickets.get(number)
        if ticket is None:
            continue
        try:
            with transaction.atomic():
                changed = _apply_one(
                    ticket, action, actor, assignee, assignee_sees, status, tag
                )
        except TicketError as exc:
            result.failed.append((number, str(exc)))
            continue
        (result.changed if changed else result.unchanged).append(number)
    return result


def _apply_one(
    ticket: Ticket,
    action: str,
    actor: Actor,
    assignee: Any,
    assignee_sees: set[int],
    status: str,
    tag: str,
) -> bool:
    if action == ASSIGN:
        new_id = assignee.pk if assignee is not None else None
        if ticket.assignee_id == new_id:
            return False
        if assignee is not None and ticket.pk not in assignee_sees:
            raise TicketError(
                f"{_name(assignee)} cannot see tickets of the private team {ticket.team}"
            )
        services.ticket_assign(ticket=ticket, assignee=assignee, actor=actor)
        return True
    if action == STATUS:
        if ticket.status == status:
            return False
        services.ticket_change_status(ticket=ticket, status=status, actor=actor)
        return True
    if action in (ADD_TAG, REMOVE_TAG):
        current = [t.name for t in ticket.tags.all()]
        if (tag in current) == (action == ADD_TAG):
            return False
        names = (
            [*current, tag] if action == ADD_TAG else [n for n in current if n != tag]
        )
        services.ticket_set_tags(ticket=ticket, names=names, actor=actor)
        return True
    raise TicketError(f"unknown action {action!r}")


def _merge(
    tickets: dict[int, Ticket],
    target_number: int | None,
    actor: Actor,
    result: BulkResult,
    numbers: list[int],
) -> BulkResult:
    target = tickets.get(target_number) if target_number is not None else None
    if target is None:
        for number in tickets:
            result.failed.append(
                (number, "choose which selected ticket the others merge into")
            )
        return result
    for number in numbers:
        source = tickets.get(number)
        if source is None or source.pk == target.pk:
            continue
        try:
            with transaction.atomic():
                services.ticket_merge(source=source, target=target, actor=actor)
        except TicketError as exc:
            result.failed.append((number, str(exc)))
            continue
        result.changed.append(number)
    return result


def _name(user: Any) -> str:
    agent = getattr(user, "agent", None)
    return (
        agent.name
        if agent is not None
        else (user.get_full_name() or user.get_username())
    )
