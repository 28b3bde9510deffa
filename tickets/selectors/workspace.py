"""Reads the agent workspace needs: visibility, inbox pages, the ticket page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from tickets.models import Message, Ticket

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    next_cursor: str | None


def visible_tickets(user: Any) -> QuerySet[Ticket]:
    """Tickets a user may see: private teams' tickets only for their members, managers and admins."""
    from tickets.roles import ADMIN, MANAGER, user_role

    qs = Ticket.objects.filter(merged_into__isnull=True)
    if user_role(user) in (ADMIN, MANAGER):
        return qs
    agent = getattr(user, "agent", None)
    team_ids = list(agent.teams.values_list("pk", flat=True)) if agent else []
    return qs.filter(Q(team__isnull=True) | Q(team__is_private=False) | Q(team_id__in=team_ids))


def ticket_get_for_user(*, user: Any, number: int) -> Ticket | None:
    return (
        visible_tickets(user)
        .select_related("customer", "customer__organization", "channel", "team", "assignee")
        .prefetch_related("tags")
        .filter(number=number)
        .first()
    )


def ticket_list_for_agent(*, user: Any, view: str = "open", cursor: str | None = None, limit: int = 50) -> Page:
    """One keyset page of the inbox, newest activity first (one query, stable under inserts)."""
    qs = visible_tickets(user)
    if view == "mine":
        qs = qs.filter(assignee=user, status__in=Ticket.UNSOLVED_STATUSES)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True, status__in=Ticket.UNSOLVED_STATUSES)
    elif view == "pending":
        qs = qs.filter(status=Ticket.Status.PENDING)
    elif view == "solved":
        qs = qs.filter(status__in=(Ticket.Status.SOLVED, Ticket.Status.CLOSED))
    else:
        qs = qs.filter(status__in=Ticket.UNSOLVED_STATUSES)
    if cursor:
        try:
            stamp, _, pk = cursor.partition("_")
            after = dt.datetime.fromisoformat(stamp)
            qs = qs.filter(Q(updated_at__lt=after) | Q(updated_at=after, id__lt=int(pk)))
        except ValueError:
            pass  # a mangled cursor shows the first page rather than an error
    rows = list(
        qs.select_related("customer", "channel", "team", "assignee").order_by("-updated_at", "-id")[: limit + 1]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"{last.updated_at.isoformat()}_{last.pk}"
    return Page(items=rows, next_cursor=next_cursor)


def ticket_timeline(*, ticket: Ticket) -> list[Message]:
    return list(
        ticket.messages.select_related("author_customer", "author_user", "channel", "ticket").prefetch_related(
            "attachments"
        )
    )


def reply_cc_suggestion(*, ticket: Ticket) -> list[str]:
    """Addresses to offer as CC on a reply: whoever the customer's last message was also
    sent to or copied to, minus our own mailboxes and the customer."""
    from channels_inbox.models import Channel

    last = ticket.messages.filter(direction=Message.Direction.INBOUND).order_by("-created_at", "-id").first()
    if last is None:
        return []
    ours = {a.lower() for a in Channel.objects.exclude(inbound_address=None).values_list("inbound_address", flat=True)}
    customer_addresses = {a.lower() for a in ticket.customer.identities.values_list("address", flat=True)}
    suggestion: list[str] = []
    for address in [*(last.to or []), *(last.cc or [])]:
        address = str(address).lower()
        base = address.split("+", 1)[0] + "@" + address.rpartition("@")[2] if "+" in address else address
        if (
            address
            and address not in ours
            and base not in ours
            and address not in customer_addresses
            and address not in suggestion
        ):
            suggestion.append(address)
    return suggestion


def attachment_for_ticket(*, ticket: Ticket, attachment_id: int):
    from tickets.models import Attachment

    return Attachment.objects.filter(pk=attachment_id, message__ticket=ticket).first()
