"""One small function per TicketEvent kind: the only way events are written.

Each is called by a service inside its transaction, so a change and its event commit
together or not at all. Metrics read these rows and nothing else to rebuild history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from tickets.models import Customer, Message, Ticket, TicketEvent


@dataclass(frozen=True)
class Actor:
    """Who caused a change."""

    kind: str = TicketEvent.ActorKind.SYSTEM
    user: Any = None
    customer: Customer | None = None

    @classmethod
    def agent(cls, user: Any) -> "Actor":
        return cls(kind=TicketEvent.ActorKind.AGENT, user=user)

    @classmethod
    def of_customer(cls, customer: Customer) -> "Actor":
        return cls(kind=TicketEvent.ActorKind.CUSTOMER, customer=customer)


SYSTEM = Actor()


def _record(
    ticket: Ticket,
    kind: str,
    *,
    actor: Actor,
    data: dict[str, Any] | None = None,
    message: Message | None = None,
    at: dt.datetime | None = None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor_kind=actor.kind,
        actor_user=actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None,
        actor_customer=actor.customer,
        message=message,
        data=data or {},
        created_at=at or timezone.now(),
    )


def created(ticket: Ticket, *, actor: Actor, at: dt.datetime | None = None, extra: dict[str, Any] | None = None) -> TicketEvent:
    return _record(
        ticket,
        TicketEvent.Kind.CREATED,
        actor=actor,
        data={"channel": ticket.channel_id, "status": ticket.status, "priority": ticket.priority, **(extra or {})},
        at=at,
    )


def message_added(ticket: Ticket, message: Message, *, actor: Actor) -> TicketEvent:
    return _record(
        ticket,
        TicketEvent.Kind.MESSAGE_ADDED,
        actor=actor,
        message=message,
        data={"direction": message.direction, "is_auto_reply": message.is_auto_reply},
        at=message.created_at,
    )


def status_changed(ticket: Ticket, *, old: str, new: str, actor: Actor, at: dt.datetime | None = None) -> TicketEvent:
    return _record(ticket, TicketEvent.Kind.STATUS_CHANGED, actor=actor, data={"from": old, "to": new}, at=at)


def reopened(ticket: Ticket, *, old: str, actor: Actor, at: dt.datetime | None = None) -> TicketEvent:
    return _record(
        ticket, TicketEvent.Kind.REOPENED, actor=actor, data={"from": old, "reopen_count": ticket.reopen_count}, at=at
    )


def assigned(ticket: Ticket, *, old_id: int | None, new_id: int | None, actor: Actor) -> TicketEvent:
    return _record(ticket, TicketEvent.Kind.ASSIGNED, actor=actor, data={"from": old_id, "to": new_id})


def team_changed(ticket: Ticket, *, old_id: int | None, new_id: int | None, actor: Actor) -> TicketEvent:
    return _record(ticket, TicketEvent.Kind.TEAM_CHANGED, actor=actor, data={"from": old_id, "to": new_id})


def priority_changed(ticket: Ticket, *, old: str, new: str, actor: Actor) -> TicketEvent:
    return _record(ticket, TicketEvent.Kind.PRIORITY_CHANGED, actor=actor, data={"from": old, "to": new})


def tags_changed(ticket: Ticket, *, added: list[str], removed: list[str], actor: Actor) -> TicketEvent:
    return _record(ticket, TicketEvent.Kind.TAGS_CHANGED, actor=actor, data={"added": added, "removed": removed})


def delivery_failed(ticket: Ticket, message: Message, *, error: str) -> TicketEvent:
    return _record(ticket, TicketEvent.Kind.DELIVERY_FAILED, actor=SYSTEM, message=message, data={"error": error[:1000]})
