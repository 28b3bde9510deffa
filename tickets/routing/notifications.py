"""Notifications to agents and managers: an email after commit, and a realtime event."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction

from tickets.models import Ticket
from tickets.realtime import publish_on_commit
from tickets.roles import MANAGER


def recipients(ticket: Ticket, targets: Iterable[str | int]) -> list[int]:
    """User ids for "assignee", "team" (its agents), "managers" (the team's managers, or
    every manager when the team has none) and explicit user ids."""
    User = get_user_model()
    ids: set[int] = set()
    for target in targets:
        if target == "assignee":
            if ticket.assignee_id:
                ids.add(ticket.assignee_id)
        elif target == "team":
            if ticket.team_id:
                ids.update(User.objects.filter(agent__teams=ticket.team_id, is_active=True).values_list("id", flat=True))
        elif target == "managers":
            managers = User.objects.filter(groups__name=MANAGER, is_active=True)
            of_team = managers.filter(agent__teams=ticket.team_id) if ticket.team_id else managers.none()
            ids.update((of_team if of_team.exists() else managers).values_list("id", flat=True))
        elif isinstance(target, int):
            ids.add(target)
    return sorted(ids)


def notify(*, ticket: Ticket, targets: Iterable[str | int], subject: str, text: str) -> list[int]:
    """Tell people about a ticket; leaves only after commit. Returns the user ids told."""
    from tickets.routing.tasks import send_notification

    user_ids = recipients(ticket, targets)
    if user_ids:
        transaction.on_commit(lambda: send_notification.delay(user_ids, subject, text))
        publish_on_commit("notification", ticket_id=ticket.pk, user_ids=user_ids, text=text[:500])
    return user_ids
