"""Read markers: when an agent last looked at a ticket, so the inbox can show what is new."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tickets.models import Ticket, TicketReadState


@transaction.atomic(savepoint=False)
def ticket_mark_read(*, ticket: Ticket, user: Any) -> None:
    """Record that ``user`` has seen ``ticket`` as of now.

    One upsert (INSERT ... ON CONFLICT (user, ticket) DO UPDATE): opening a ticket is the
    most frequent thing an agent does, and two tabs opening it at once must not collide on
    the unique constraint. No TicketEvent: reading changes nothing about the ticket.
    """
    if not getattr(user, "is_authenticated", False):
        return
    TicketReadState.objects.bulk_create(
        [TicketReadState(user=user, ticket=ticket, last_read_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user", "ticket"],
        update_fields=["last_read_at"],
    )
