"""Writes the API makes that are more than one existing service call.

Each composes the tickets services in the order the ingestion pipeline uses
(channels_inbox/pipeline.py), so a ticket made through the API is routed, gets its SLA,
events and realtime updates exactly as one that arrived by email.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from helpdesk.html import html_to_text, sanitize_html
from tickets import services
from tickets.events import Actor
from tickets.exceptions import TicketError
from tickets.models import CustomerIdentity, Team, Ticket
from tickets.selectors import visible_tickets


def _check_assignee_sees(ticket: Ticket, assignee: Any) -> None:
    """The workspace offers only agents who can see the ticket (a private team's members,
    managers, admins); the API refuses the others the same way the bulk action does."""
    if assignee is not None and not visible_tickets(assignee).filter(pk=ticket.pk).exists():
        raise TicketError(f"{assignee.get_username()} cannot see this ticket (it belongs to a private team they are not in)")


@transaction.atomic
def ticket_create_from_api(
    *,
    user: Any,
    channel: Any,
    email: str,
    name: str = "",
    subject: str = "",
    text: str = "",
    html: str = "",
    priority: str | None = None,
    team: Team | None = None,
    assignee: Any = None,
    tags: Sequence[str] = (),
    source: dict[str, Any] | None = None,
) -> Ticket:
    """A customer's request brought in by an integration: the customer found or created by
    email, a new ticket in the channel's default team, the customer's first message, then
    the routing rules and SLA; then what the integration set explicitly (priority, team,
    assignee, tags), each through its own service and recorded as the acting user's change.

    ``source`` is stored on the ticket's ``created`` event (which key or user made it)."""
    from tickets.routing import services as routing

    customer = services.customer_identify(kind=CustomerIdentity.Kind.EMAIL, address=email, display_name=name)
    html = sanitize_html(html) if html else ""
    text = text or html_to_text(html)
    ticket = services.ticket_open(
        channel=channel,
        customer=customer,
        subject=subject.strip() or (text.strip().splitlines() or [""])[0][:120],
        actor=Actor.of_customer(customer),
        language=customer.language,
        priority=Ticket.Priority.HIGH if customer.is_vip else Ticket.Priority.NORMAL,
        team_id=channel.default_team_id,
        extra_event_data={"source": "api", **(source or {})},
    )
    message = services.message_receive(
        ticket=ticket, channel=channel, customer=customer, external_id=None, subject=subject, text=text, html=html
    )
    routing.on_message_received(ticket=ticket, message=message, is_new_ticket=True, sender_address=email)

    actor = Actor.agent(user)
    if priority:
        ticket = services.ticket_set_priority(ticket=ticket, priority=priority, actor=actor)
    if team is not None:
        ticket = services.ticket_set_team(ticket=ticket, team_id=team.pk, actor=actor)
    if assignee is not None:
        _check_assignee_sees(ticket, assignee)
        ticket = services.ticket_assign(ticket=ticket, assignee=assignee, actor=actor)
    if tags:
        ticket = services.ticket_set_tags(ticket=ticket, names=tags, actor=actor)
    return ticket


@transaction.atomic
def ticket_update_from_api(*, ticket: Ticket, user: Any, changes: dict[str, Any]) -> Ticket:
    """Apply a PATCH's fields, each through its service (one event each), all or nothing:
    a refused change (InvalidTransition) rolls back the others. Team before assignee, so
    an assignee is checked against the ticket's new team; status last, after assignment
    (assigning a new ticket opens it)."""
    actor = Actor.agent(user)
    if "priority" in changes:
        ticket = services.ticket_set_priority(ticket=ticket, priority=changes["priority"], actor=actor)
    if "team" in changes:
        team = changes["team"]
        ticket = services.ticket_set_team(ticket=ticket, team_id=team.pk if team else None, actor=actor)
    if "assignee" in changes:
        _check_assignee_sees(ticket, changes["assignee"])
        ticket = services.ticket_assign(ticket=ticket, assignee=changes["assignee"], actor=actor)
    if "tags" in changes:
        ticket = services.ticket_set_tags(ticket=ticket, names=changes["tags"], actor=actor)
    if "status" in changes:
        ticket = services.ticket_change_status(ticket=ticket, status=changes["status"], actor=actor)
    return ticket
