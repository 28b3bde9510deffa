"""Merge two tickets into one; split a customer message off into a ticket of its own.

Merging moves the conversation, not the history: the source's messages (with their
attachments, which hang off the messages) move to the target, the source is closed and
points at the target (``merged_into``), and each ticket records a MERGED event saying
which side it was. The source's own events stay on the source: they describe what
happened to it (metrics keep counting its first response, its reopenings).

Splitting moves exactly one customer message — not the ones after it. Later messages
may answer either topic, and only the agent knows which; moving one message is
predictable, and a wrong split is undone by merging the new ticket back.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tickets import events
from tickets.events import Actor
from tickets.exceptions import MergeNotAllowed, SplitNotAllowed
from tickets.models import Message, Ticket
from tickets.realtime import publish_on_commit
from tickets.services.tickets import _set_status, ticket_open


def _lock_in_order(*pks: int) -> dict[int, Ticket]:
    """Lock ticket rows one by one in ascending id order.

    Two agents merging A into B and B into A at the same moment both lock min(A, B)
    first, so one waits for the other instead of each holding one row and waiting for
    the other (a deadlock). One statement per row: a single ``ORDER BY ... FOR UPDATE``
    does not promise the order in which the rows are locked.
    """
    locked: dict[int, Ticket] = {}
    for pk in sorted(set(pks)):
        locked[pk] = Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=pk)
    return locked


def _visibility(ticket: Ticket) -> int | None:
    """Who may see a ticket: None for everyone, else the private team's id."""
    return ticket.team_id if ticket.team is not None and ticket.team.is_private else None


def _check_actor_sees(actor: Actor, *tickets: Ticket) -> None:
    if actor.user is None:
        return
    from tickets.selectors import visible_tickets

    pks = [t.pk for t in tickets]
    if visible_tickets(actor.user).filter(pk__in=pks).count() != len(set(pks)):
        raise MergeNotAllowed("You can only merge tickets you can see.")


def _latest(*stamps: Any) -> Any:
    present = [s for s in stamps if s is not None]
    return max(present) if present else None


@transaction.atomic  # raises domain errors: keep a savepoint so a caller's transaction survives
def ticket_merge(*, source: Ticket, target: Ticket, actor: Actor) -> Ticket:
    """Merge ``source`` into ``target`` and return the target.

    Refused (MergeNotAllowed) when both are the same ticket, when either is already
    merged, when the target is closed, or when the two differ in private-team
    visibility (a private team's conversation must not move where others can read it,
    nor a shared one disappear into a private team).
    """
    if source.pk == target.pk:
        raise MergeNotAllowed("A ticket cannot be merged into itself.")
    locked = _lock_in_order(source.pk, target.pk)
    source, target = locked[source.pk], locked[target.pk]
    # Checked on the locked rows: a merge that committed while we waited is seen here.
    if source.merged_into_id is not None:
        raise MergeNotAllowed(f"Ticket #{source.number} is already merged into another ticket.")
    if target.merged_into_id is not None:
        raise MergeNotAllowed(f"Ticket #{target.number} was merged into another ticket; merge into that one instead.")
    if target.status == Ticket.Status.CLOSED:
        raise MergeNotAllowed(f"Ticket #{target.number} is closed; a closed ticket cannot take more messages.")
    if _visibility(source) != _visibility(target):
        raise MergeNotAllowed(
            "These tickets are visible to different people (a private team); "
            "move them to the same team before merging."
        )
    _check_actor_sees(actor, source, target)

    now = timezone.now()
    moved = Message.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
    # Tickets merged into the source earlier now point at the final target directly.
    Ticket.objects.filter(merged_into_id=source.pk).update(merged_into_id=target.pk)

    target.last_customer_activity_at = _latest(target.last_customer_activity_at, source.last_customer_activity_at)
    target.last_agent_activity_at = _latest(target.last_agent_activity_at, source.last_agent_activity_at)
    target.updated_at = now
    target.save(update_fields=["last_customer_activity_at", "last_agent_activity_at", "updated_at"])

    source.merged_into = target
    fields = ["merged_into", "updated_at", *_set_status(source, Ticket.Status.CLOSED, actor=actor, now=now)]
    source.updated_at = now
    source.save(update_fields=list(dict.fromkeys(fields)))

    events.merged(source, other=target, role="source", moved_messages=moved, actor=actor, at=now)
    events.merged(target, other=source, role="target", moved_messages=moved, actor=actor, at=now)
    publish_on_commit("ticket.merged", ticket_id=source.pk, merged_into=target.pk, merged_into_number=target.number)
    publish_on_commit("ticket.updated", ticket_id=target.pk, fields=["messages"])
    return target


@transaction.atomic  # raises domain errors: keep a savepoint so a caller's transaction survives
def message_split(*, message: Message, actor: Actor) -> Ticket:
    """Move one customer message (and its attachments) into a new ticket linked to its
    original; both tickets record a SPLIT event. Returns the new ticket.

    Refused (SplitNotAllowed) for agent replies and notes, for the message that opened
    the ticket (the original would be left without its request), and on a merged ticket.
    """
    message = Message.objects.select_for_update(of=("self",)).get(pk=message.pk)
    original = _lock_in_order(message.ticket_id)[message.ticket_id]
    if message.direction != Message.Direction.INBOUND:
        raise SplitNotAllowed("Only a customer's message can be split into a new ticket.")
    if original.merged_into_id is not None:
        raise SplitNotAllowed("This ticket was merged into another; split from that one.")
    first_id = Message.objects.filter(ticket_id=original.pk).order_by("created_at", "id").values_list("pk", flat=True).first()
    if first_id == message.pk:
        raise SplitNotAllowed("The message that opened the ticket cannot be split off; it would leave the ticket empty.")
    if actor.user is not None:
        from tickets.selectors import visible_tickets

        if not visible_tickets(actor.user).filter(pk=original.pk).exists():
            raise SplitNotAllowed("You can only split messages of tickets you can see.")

    subject = message.subject or original.subject
    new = ticket_open(
        channel=original.channel,
        customer=message.author_customer or original.customer,
        subject=subject,
        actor=actor,
        priority=original.priority,
        language=message.language or original.language,
        linked_ticket=original,
        team_id=original.team_id,
        extra_event_data={"split_from": original.pk},
    )
    message.ticket = new
    message.save(update_fields=["ticket"])
    new.last_customer_activity_at = message.created_at
    new.save(update_fields=["last_customer_activity_at"])

    now = timezone.now()
    original.updated_at = now
    original.save(update_fields=["updated_at"])
    events.split(original, other=new, role="original", message=message, actor=actor, at=now)
    events.split(new, other=original, role="new", message=message, actor=actor, at=now)
    publish_on_commit("ticket.updated", ticket_id=original.pk, fields=["messages"])
    return new
