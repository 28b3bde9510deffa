"""Reads the agent workspace needs: visibility, inbox pages, the ticket page."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from tickets.models import Message, Team, Ticket


def __getattr__(name: str) -> Any:
    """The inbox reads moved to tickets/selectors/inbox.py; old imports keep working
    (resolved lazily: inbox.py itself imports ``visible_tickets`` from here)."""
    if name in ("Page", "ticket_list_for_agent"):
        from tickets.selectors import inbox

        return getattr(inbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def visible_tickets(user: Any) -> QuerySet[Ticket]:
    """Tickets a user may see: private teams' tickets only for their members, managers and admins."""
    from tickets.roles import ADMIN, MANAGER, user_role

    qs = Ticket.objects.filter(merged_into__isnull=True)
    if user_role(user) in (ADMIN, MANAGER):
        return qs
    # The teams whose tickets the user sees (every public team and their own private ones),
    # as a list of ids: one small query, and a condition on the ticket row alone. The same
    # rule written as a join to the team (team IS NULL OR team.is_private = false OR ...)
    # took PostgreSQL ~2.5 ms to plan on the 24-index ticket table, for every query built on it.
    members = Q(agents__user_id=user.pk) if getattr(user, "pk", None) is not None else Q(pk__in=[])
    team_ids = list(Team.objects.filter(Q(is_private=False) | members).order_by().values_list("pk", flat=True).distinct())
    return qs.filter(Q(team__isnull=True) | Q(team_id__in=team_ids))


def ticket_get_for_user(*, user: Any, number: int) -> Ticket | None:
    return (
        visible_tickets(user)
        .select_related("customer", "customer__organization", "channel", "team", "assignee")
        .prefetch_related("tags")
        .filter(number=number)
        .first()
    )


def ticket_timeline(*, ticket: Ticket) -> list[Message]:
    return list(
        ticket.messages.select_related("author_customer", "author_user", "channel", "ticket").prefetch_related(
            "attachments"
        )
    )


def reply_cc_suggestion(*, ticket: Ticket, messages: list[Message] | None = None) -> list[str]:
    """Addresses to offer as CC on a reply: whoever the customer's last message was also
    sent to or copied to, minus our own mailboxes and the customer.

    ``messages``: the ticket's messages when the caller already holds them all (the ticket
    page does, for its timeline), so the last inbound one costs no query; the customer's
    identities come from a prefetch when the ticket was read with one."""
    from channels_inbox.models import Channel

    if messages is None:
        last = ticket.messages.filter(direction=Message.Direction.INBOUND).order_by("-created_at", "-id").first()
    else:
        inbound = [m for m in messages if m.direction == Message.Direction.INBOUND]
        last = max(inbound, key=lambda m: (m.created_at, m.pk)) if inbound else None
    if last is None:
        return []
    ours = {a.lower() for a in Channel.objects.exclude(inbound_address=None).values_list("inbound_address", flat=True)}
    customer_addresses = {i.address.lower() for i in ticket.customer.identities.all()}
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
