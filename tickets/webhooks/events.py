"""The events a webhook can subscribe to, and how ticket events map onto them."""

from __future__ import annotations

from typing import Any

from tickets.models import TicketEvent

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
MESSAGE_CREATED = "message.created"
CUSTOMER_UPDATED = "customer.updated"
SURVEY_ANSWERED = "survey.answered"
SLA_BREACHED = "sla.breached"
# Sent only by the "Send test event" button, whatever the endpoint subscribed to.
TEST = "webhook.test"

EVENTS: dict[str, str] = {
    TICKET_CREATED: "A ticket was opened (any channel, the API, an agent).",
    TICKET_UPDATED: "A ticket's status, priority, assignee, team or tags changed, or it was merged or split.",
    MESSAGE_CREATED: "A message was added: from the customer, an agent's reply, or an internal note.",
    CUSTOMER_UPDATED: "A customer record was edited, merged with another, or gained or lost an identity.",
    SURVEY_ANSWERED: "A customer answered (or changed) a CSAT, NPS or CES survey.",
    SLA_BREACHED: "A ticket missed an SLA target (first response, next response or resolution).",
}

_BY_KIND: dict[str, str] = {
    TicketEvent.Kind.CREATED: TICKET_CREATED,
    TicketEvent.Kind.MESSAGE_ADDED: MESSAGE_CREATED,
    TicketEvent.Kind.STATUS_CHANGED: TICKET_UPDATED,
    TicketEvent.Kind.ASSIGNED: TICKET_UPDATED,
    TicketEvent.Kind.TEAM_CHANGED: TICKET_UPDATED,
    TicketEvent.Kind.PRIORITY_CHANGED: TICKET_UPDATED,
    TicketEvent.Kind.TAGS_CHANGED: TICKET_UPDATED,
    TicketEvent.Kind.MERGED: TICKET_UPDATED,
    TicketEvent.Kind.SPLIT: TICKET_UPDATED,
    TicketEvent.Kind.SLA_BREACHED: SLA_BREACHED,
    TicketEvent.Kind.SURVEY_ANSWERED: SURVEY_ANSWERED,
}

# TicketEvent kind -> the field named in ticket.updated's "changes".
_FIELDS = {
    TicketEvent.Kind.STATUS_CHANGED: "status",
    TicketEvent.Kind.ASSIGNED: "assignee",
    TicketEvent.Kind.TEAM_CHANGED: "team",
    TicketEvent.Kind.PRIORITY_CHANGED: "priority",
    TicketEvent.Kind.TAGS_CHANGED: "tags",
    TicketEvent.Kind.MERGED: "merged",
    TicketEvent.Kind.SPLIT: "split",
}


def event_for_kind(kind: str) -> str | None:
    """The webhook event a TicketEvent kind raises, or None (rule runs, SLA set-up, ...:
    their effects raise events of their own)."""
    return _BY_KIND.get(kind)


def change_for(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """One entry of ticket.updated's ``changes``: ``{"field": "status", "from": "open", "to": "solved"}``,
    ``{"field": "tags", "added": [...], "removed": [...]}``, ``{"field": "merged", "role": "source", ...}``."""
    field = _FIELDS[kind]
    if kind == TicketEvent.Kind.TAGS_CHANGED:
        return {"field": field, "added": list(data.get("added") or []), "removed": list(data.get("removed") or [])}
    if kind in (TicketEvent.Kind.MERGED, TicketEvent.Kind.SPLIT):
        change = {"field": field, "role": data.get("role"), "other_ticket": data.get("other_number")}
        if kind == TicketEvent.Kind.SPLIT:
            change["message_id"] = data.get("message_id")
        return change
    return {"field": field, "from": data.get("from"), "to": data.get("to")}
