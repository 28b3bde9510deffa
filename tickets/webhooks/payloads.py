"""The documented shapes of what webhooks carry (docs/webhooks.md): a ticket, a message, a
customer. Receivers build on these, so a field is added, never renamed or removed.

Each ``*_data`` function takes ids and loads what it needs in a few queries for the whole
batch (a transaction that wrote twenty events reads tickets once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch

from tickets.models import Attachment, Customer, CustomerIdentity, Message, Ticket


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _user(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.get_full_name() or user.get_username(), "email": user.email or None}


def ticket_shape(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": {"id": ticket.channel_id, "kind": ticket.channel.kind, "name": ticket.channel.name},
        "customer": {"id": ticket.customer_id, "name": ticket.customer.name},
        "organization": (
            {"id": ticket.organization_id, "name": ticket.organization.name} if ticket.organization_id else None
        ),
        "team": {"id": ticket.team_id, "name": ticket.team.name} if ticket.team_id else None,
        "assignee": _user(ticket.assignee),
        "tags": sorted(tag.name for tag in ticket.tags.all()),
        "language": ticket.language,
        "merged_into": ticket.merged_into.number if ticket.merged_into_id and ticket.merged_into else None,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "first_response_at": iso(ticket.first_response_at),
        "solved_at": iso(ticket.solved_at),
        "closed_at": iso(ticket.closed_at),
    }


def message_shape(message: Message) -> dict[str, Any]:
    if message.author_kind == Message.AuthorKind.AGENT and message.author_user is not None:
        author = {"kind": "agent", **_user(message.author_user)}
    elif message.author_kind == Message.AuthorKind.CUSTOMER and message.author_customer_id:
        author = {"kind": "customer", "id": message.author_customer_id, "name": message.author_customer.name, "email": None}
    else:
        author = {"kind": message.author_kind or "system", "id": None, "name": "", "email": None}
    return {
        "id": message.pk,
        "ticket_id": message.ticket_id,
        "direction": message.direction,
        "is_internal": message.direction == Message.Direction.NOTE,
        "author": author,
        "channel_id": message.channel_id,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "is_auto_reply": message.is_auto_reply,
        "attachments": [
            {"id": a.pk, "filename": a.filename, "size": a.size, "content_type": a.content_type}
            for a in message.attachments.all()
        ],
        "created_at": iso(message.created_at),
    }


def customer_shape(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "name": customer.name,
        "organization": (
            {"id": customer.organization_id, "name": customer.organization.name} if customer.organization_id else None
        ),
        "tier": customer.tier,
        "language": customer.language,
        "time_zone": customer.time_zone,
        "custom_attributes": customer.custom_attributes if isinstance(customer.custom_attributes, dict) else {},
        "identities": [
            {"kind": i.kind, "address": i.address, "is_verified": i.is_verified} for i in customer.identities.all()
        ],
        "merged_into": customer.merged_into_id,
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
    }


def tickets_by_id(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Ticket.objects.filter(pk__in=set(ids))
        .select_related("channel", "customer", "organization", "team", "assignee", "merged_into")
        .prefetch_related("tags")
    )
    return {t.pk: ticket_shape(t) for t in rows}


def messages_by_id(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Message.objects.filter(pk__in=set(ids))
        .select_related("author_user", "author_customer")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    )
    return {m.pk: message_shape(m) for m in rows}


def customers_by_id(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    rows = (
        Customer.objects.filter(pk__in=set(ids))
        .select_related("organization")
        .prefetch_related(Prefetch("identities", queryset=CustomerIdentity.objects.order_by("id")))
    )
    return {c.pk: customer_shape(c) for c in rows}
