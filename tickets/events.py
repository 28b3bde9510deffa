"""One small function per TicketEvent kind: the only way events are written.

Each is called by a service inside its transaction, so a change and its event commit
together or not at all. Metrics read these rows and nothing else to rebuild history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from metrics.hooks import refresh_on_commit as refresh_metrics_on_commit
from tickets.models import Customer, Message, Ticket, TicketEvent
from tickets.webhooks.hooks import ticket_event_on_commit as webhooks_on_commit


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
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        actor_kind=actor.kind,
        actor_user=actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None,
        actor_customer=actor.customer,
        message=message,
        data=data or {},
        created_at=at or timezone.now(),
    )
    # Metrics (issue 6): the ticket's measurements are refreshed once per transaction, on commit.
    refresh_metrics_on_commit(ticket.pk)
    # Outgoing webhooks (issue 9): nothing unless an endpoint subscribed; sent after commit.
    webhooks_on_commit(event)
    return event


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


def merged(ticket: Ticket, *, other: Ticket, role: str, moved_messages: int, actor: Actor, at: dt.datetime | None = None) -> TicketEvent:
    """Written on both tickets of a merge: ``role`` is "source" (this ticket was merged into
    ``other``, and closed) or "target" (``other`` was merged into this one)."""
    return _record(
        ticket,
        TicketEvent.Kind.MERGED,
        actor=actor,
        data={"role": role, "other_id": other.pk, "other_number": other.number, "moved_messages": moved_messages},
        at=at,
    )


def split(ticket: Ticket, *, other: Ticket, role: str, message: Message, actor: Actor, at: dt.datetime | None = None) -> TicketEvent:
    """Written on both tickets of a split: ``role`` is "original" (a message left this ticket
    for ``other``) or "new" (this ticket was made from a message of ``other``)."""
    return _record(
        ticket,
        TicketEvent.Kind.SPLIT,
        actor=actor,
        message=message,
        data={"role": role, "other_id": other.pk, "other_number": other.number, "message_id": message.pk},
        at=at,
    )


def macro_applied(ticket: Ticket, *, macro_id: int, macro_name: str, message: Message | None, actor: Actor) -> TicketEvent:
    return _record(
        ticket,
        TicketEvent.Kind.MACRO_APPLIED,
        actor=actor,
        message=message,
        data={"macro": macro_id, "name": macro_name},
    )


def customer_changed(
    ticket_ids: list[int], *, old_id: int, new_id: int, reason: str, actor: Actor, at: dt.datetime | None = None
) -> list[TicketEvent]:
    """Written on every ticket that moved to another customer (``reason`` "merge": the two
    records were merged). One INSERT for all of them: a long history moves in one step."""
    at = at or timezone.now()
    user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
    return TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket_id=ticket_id,
            kind=TicketEvent.Kind.CUSTOMER_CHANGED,
            actor_kind=actor.kind,
            actor_user=user,
            actor_customer=actor.customer,
            data={"from": old_id, "to": new_id, "reason": reason},
            created_at=at,
        )
        for ticket_id in ticket_ids
    )


# --- Routing, rules and SLA (issue 5; written by tickets.routing) -------------------------

RULE = Actor(kind=TicketEvent.ActorKind.RULE)


def rule_fired(
    ticket: Ticket, *, rule_id: int, rule_name: str, trigger: str, changes: list[dict[str, Any]], error: str = ""
) -> TicketEvent:
    """A rule matched and ran (``changes`` lists what each action did), or failed and was skipped (``error``)."""
    data: dict[str, Any] = {"rule": rule_id, "name": rule_name, "trigger": trigger, "changes": changes}
    if error:
        data["error"] = error[:1000]
    return _record(ticket, TicketEvent.Kind.RULE_FIRED, actor=RULE, data=data)


def sla_applied(ticket: Ticket, *, policy_id: int, policy_name: str, due: dict[str, str | None], actor: Actor) -> TicketEvent:
    return _record(
        ticket, TicketEvent.Kind.SLA_APPLIED, actor=actor, data={"policy": policy_id, "name": policy_name, "due": due}
    )


def sla_breached(ticket: Ticket, *, metric: str, due_at: dt.datetime, policy_id: int | None) -> TicketEvent:
    """``metric`` is first_response, next_response or resolution; metrics count these rows."""
    return _record(
        ticket,
        TicketEvent.Kind.SLA_BREACHED,
        actor=SYSTEM,
        data={"metric": metric, "due_at": due_at.isoformat(), "policy": policy_id},
    )


# --- Surveys (issue 6; written by metrics.surveys.services.survey_response_record) ----------


def survey_answered(
    ticket: Ticket,
    *,
    kind: str,
    score: int,
    comment: str,
    source: str,
    actor: Actor,
    previous: int | None = None,
    response_id: int | None = None,
    at: dt.datetime | None = None,
) -> TicketEvent:
    """A customer answered (or changed) a CSAT/CES/NPS rating; ``previous`` is the score it replaced."""
    return _record(
        ticket,
        TicketEvent.Kind.SURVEY_ANSWERED,
        actor=actor,
        data={
            "kind": kind,
            "score": score,
            "comment": comment,
            "source": source,
            "previous": previous,
            "response": response_id,
        },
        at=at,
    )
