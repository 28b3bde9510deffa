"""Reads the pipeline needs: which ticket a message belongs to, duplicates, bounces."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING


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
    return Message.objects.filter(
        author_customer=customer, direction=Message.Direction.INBOUND, created_at__gte=since
    ).count()


def message_exists(*, channel: Channel, external_id: str) -> bool:
    return bool(external_id) and Message.objects.filter(channel=channel, external_id=external_id).exists()


def outbound_message_for_external_id(*, external_id: str) -> Message | None:
    """One of our sent messages, by the Message-ID we gave it (to match a bounce)."""
    if not external_id:
        return None
    return Message.objects.filter(external_id=external_id, direction=Message.Direction.OUTBOUND).first()
