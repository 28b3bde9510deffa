"""Every read a view, the API or the pipeline needs of the tickets domain."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from tickets.models import Customer, Message, Ticket

if TYPE_CHECKING:
    from channels_inbox.models import Channel

_SUBJECT_TOKEN_RE = re.compile(r"\[#(\d{1,18})\]")


def _follow_merges(ticket: Ticket | None) -> Ticket | None:
    seen: set[int] = set()
    while ticket is not None and ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = Ticket.objects.filter(pk=ticket.merged_into_id).first()
    return ticket


def ticket_for_message_ids(*, message_ids: Sequence[str]) -> Ticket | None:
    """The ticket of the first of these Message-IDs we hold, in the order given.

    Callers pass In-Reply-To first, then References newest first; every stored
    Message-ID counts, ours (each outbound message keeps its own) and the customers'.
    """
    # Real Message-IDs always hold an "@"; this keeps other channels' plain ids out of email threading.
    ids = list(dict.fromkeys(m for m in message_ids if m and "@" in m))
    if not ids:
        return None
    found: dict[str, Ticket] = {}
    for message in Message.objects.filter(external_id__in=ids).select_related("ticket").order_by("created_at", "id"):
        found.setdefault(message.external_id, message.ticket)
    for message_id in ids:
        if message_id in found:
            return _follow_merges(found[message_id])
    return None


def ticket_for_number(*, number: int) -> Ticket | None:
    return _follow_merges(Ticket.objects.filter(number=number).first())


def subject_token_number(subject: str) -> int | None:
    """The number in a ``[#1234]`` subject token, if any."""
    match = _SUBJECT_TOKEN_RE.search(subject or "")
    return int(match.group(1)) if match else None


def is_ticket_participant(*, ticket: Ticket, customer: Customer, address: str = "") -> bool:
    """Whether this person already takes part in the ticket: its customer, someone who wrote
    on it, or an address it was sent to or copied to."""
    if ticket.customer_id == customer.pk:
        return True
    if Message.objects.filter(ticket=ticket, author_customer=customer).exists():
        return True
    address = address.lower()
    if address:
        for to, cc in Message.objects.filter(ticket=ticket).values_list("to", "cc"):
            if address in {a.lower() for a in [*(to or []), *(cc or [])] if isinstance(a, str)}:
                return True
    return False


_REPLY_PREFIX_RE = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|rif|tr|odp)(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def normalise_subject(subject: str) -> str:
    """A subject without reply/forward prefixes (any language's common ones) and ticket tokens."""
    subject = _SUBJECT_TOKEN_RE.sub(" ", subject or "")
    previous = None
    while previous != subject:
        previous = subject
        subject = _REPLY_PREFIX_RE.sub("", subject)
    return " ".join(subject.split()).lower()


def ticket_for_subject(*, channel: Channel, customer: Customer, subject: str, days: int) -> Ticket | None:
    """The customer's latest unsolved-or-solved ticket on this channel with the same subject
    within ``days`` (an opt-in fallback for mail clients that drop every thread header)."""
    wanted = normalise_subject(subject)
    if not wanted or days <= 0:
        return None
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    candidates = (
        Ticket.objects.filter(channel=channel, customer=customer, created_at__gte=since, merged_into__isnull=True)
        .exclude(status=Ticket.Status.CLOSED)
        .order_by("-created_at")
        .only("pk", "subject", "status", "number")[:20]
    )
    for ticket in candidates:
        if normalise_subject(ticket.subject) == wanted:
            return ticket
    return None


def ticket_for_thread_key(*, channel: Channel, thread_key: str) -> Ticket | None:
    """The newest ticket of a chat/social conversation on this channel."""
    if not thread_key:
        return None
    ticket = Ticket.objects.filter(channel=channel, thread_key=thread_key).order_by("-id").first()
    return _follow_merges(ticket)


def recent_inbound_count(*, customer: Customer, since: dt.datetime) -> int:
    return Message.objects.filter(author_customer=customer, direction=Message.Direction.INBOUND, created_at__gte=since).count()


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    next_cursor: str | None


def _visible_tickets(user: Any) -> QuerySet[Ticket]:
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
        _visible_tickets(user)
        .select_related("customer", "customer__organization", "channel", "team", "assignee")
        .prefetch_related("tags")
        .filter(number=number)
        .first()
    )


def ticket_list_for_agent(*, user: Any, view: str = "open", cursor: str | None = None, limit: int = 50) -> Page:
    """One keyset page of the inbox, newest activity first (one query, stable under inserts)."""
    qs = _visible_tickets(user)
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
        ticket.messages.select_related("author_customer", "author_user", "channel", "ticket").prefetch_related("attachments")
    )


def message_exists(*, channel: Channel, external_id: str) -> bool:
    return bool(external_id) and Message.objects.filter(channel=channel, external_id=external_id).exists()


def outbound_message_for_external_id(*, external_id: str) -> Message | None:
    """One of our sent messages, by the Message-ID we gave it (to match a bounce)."""
    if not external_id:
        return None
    return Message.objects.filter(external_id=external_id, direction=Message.Direction.OUTBOUND).first()


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
        if address and address not in ours and base not in ours and address not in customer_addresses and address not in suggestion:
            suggestion.append(address)
    return suggestion


def attachment_for_ticket(*, ticket: Ticket, attachment_id: int):
    from tickets.models import Attachment

    return Attachment.objects.filter(pk=attachment_id, message__ticket=ticket).first()
