"""Reads of the widget: channels by key, visitors by token, a conversation's messages as frames.

Every read a visitor can cause is scoped to their own conversation (channel + thread key):
there is no parameter through which a visitor could name another conversation or ticket.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core import signing
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from channels_inbox.models import Channel, WidgetVisitor
from channels_inbox.widget.realtime import conversation_group
from tickets.models import AgentProfile, Attachment, Message, Ticket

HISTORY_LIMIT = 200
_FILE_SALT = "parley.widget.file"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def chat_channel(*, key: str) -> Channel | None:
    """The active chat channel with this public key (one index lookup)."""
    if not key or len(key) > 64:
        return None
    return (
        Channel.objects.select_related("default_team")
        .filter(public_key=key, kind=Channel.Kind.CHAT, is_active=True)
        .first()
    )


def visitor_for_token(*, channel: Channel, token: str | None) -> WidgetVisitor | None:
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    return WidgetVisitor.objects.filter(
        token_hash=token_hash(token), channel=channel
    ).first()


def visitor_group(visitor: WidgetVisitor) -> str:
    return conversation_group(visitor.channel_id, visitor.thread_key)


def chat_group_for_ticket(*, ticket_id: int) -> str | None:
    """The widget group of a chat ticket's conversation; None for other channels' tickets."""
    row = (
        Ticket.objects.filter(pk=ticket_id, channel__kind=Channel.Kind.CHAT)
        .exclude(thread_key="")
        .values_list("channel_id", "thread_key")
        .first()
    )
    return conversation_group(*row) if row else None


def conversation_ticket(visitor: WidgetVisitor) -> Ticket | None:
    """The conversation's newest ticket (the one the next message joins, or follows up)."""
    return (
        Ticket.objects.filter(
            channel_id=visitor.channel_id, thread_key=visitor.thread_key
        )
        .order_by("-id")
        .first()
    )


def reply_visitor(*, ticket: Ticket) -> WidgetVisitor | None:
    """The visitor record an agent's reply on a chat ticket is for (its latest device)."""
    return (
        WidgetVisitor.objects.filter(
            channel_id=ticket.channel_id, thread_key=ticket.thread_key
        )
        .order_by("-last_seen_at", "-id")
        .first()
    )


def reply_email(*, ticket: Ticket) -> str:
    """Where to answer by email: the newest address any device of the conversation left."""
    return (
        WidgetVisitor.objects.filter(
            channel_id=ticket.channel_id, thread_key=ticket.thread_key
        )
        .exclude(email="")
        .order_by("-last_seen_at", "-id")
        .values_list("email", flat=True)
        .first()
        or ""
    )


def agents_available(channel: Channel, *, now: Any = None) -> bool:
    """At least one available agent in the channel's team, within the team's business hours.

    A channel without a team counts every agent and round-the-clock hours.
    """
    from tickets.routing import business_hours
    from tickets.routing.sla import team_calendar

    agents = AgentProfile.objects.filter(
        availability=AgentProfile.Availability.AVAILABLE, user__is_active=True
    )
    if channel.default_team_id is not None:
        agents = agents.filter(teams=channel.default_team_id)
    if not agents.exists():
        return False
    return business_hours.is_open(
        team_calendar(channel.default_team_id), now or timezone.now()
    )


def file_token(*, attachment_id: int, group: str) -> str:
    """A link to one attachment, valid only for the conversation (group) it was shown in."""
    return signing.dumps([attachment_id, group], salt=_FILE_SALT, compress=False)


def attachment_for_file_token(*, channel: Channel, token: str) -> Attachment | None:
    """The attachment a widget link names, if the link was made for the conversation the
    attachment belongs to (the signed token is the credential: images load without headers)."""
    try:
        attachment_id, group = signing.loads(token, salt=_FILE_SALT)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if not isinstance(attachment_id, int) or not isinstance(group, str):
        return None
    attachment = (
        Attachment.objects.select_related("message__ticket")
        .filter(pk=attachment_id, message__ticket__channel=channel)
        .exclude(message__direction=Message.Direction.NOTE)
        .exclude(file="")
        .first()
    )
    if attachment is None:
        return None
    ticket = attachment.message.ticket
    return (
        attachment
        if conversation_group(ticket.channel_id, ticket.thread_key) == group
        else None
    )


def _author(message: Message) -> tuple[str, str]:
    if message.direction == Message.Direction.INBOUND:
        return (
            "visitor",
            message.author_customer.name if message.author_customer else "",
        )
    if (
        message.author_kind == Message.AuthorKind.AGENT
        and message.author_user is not None
    ):
        agent = getattr(message.author_user, "agent", None)
        return "agent", agent.name if agent is not None else (
            message.author_user.get_full_name() or "Support"
        )
    return "system", ""


def message_frame(message: Message, *, channel_key: str, group: str) -> dict[str, Any]:
    """One message as the widget shows it (``message`` in the protocol) for the conversation
    ``group``; the text is plain, the widget escapes it."""
    author, name = _author(message)
    frame: dict[str, Any] = {
        "id": message.pk,
        "author": author,
        "name": name,
        "text": message.text,
        "attachments": [
            {
                "name": a.filename,
                "url": reverse(
                    "widget:file",
                    kwargs={
                        "key": channel_key,
                        "token": file_token(attachment_id=a.pk, group=group),
                    },
                ),
                "size": a.size,
                "content_type": a.content_type,
            }
            for a in message.attachments.all()
            if a.file
        ],
        "at": message.created_at.isoformat(),
    }
    if author == "visitor" and message.external_id and ":" in message.external_id:
        frame["client_id"] = message.external_id.partition(":")[2]
    return frame


def visitor_message_frame(
    message: Message, *, visitor: WidgetVisitor
) -> dict[str, Any]:
    return message_frame(
        message, channel_key=visitor.channel.public_key, group=visitor_group(visitor)
    )


def conversation_messages(
    *, visitor: WidgetVisitor, after: int | None = None, limit: int = HISTORY_LIMIT
) -> list[Message]:
    """The public messages of the visitor's conversation (every ticket of it), oldest first."""
    qs = (
        Message.objects.filter(
            ticket__channel_id=visitor.channel_id, ticket__thread_key=visitor.thread_key
        )
        .exclude(direction=Message.Direction.NOTE)
        .filter(
            Q(direction=Message.Direction.INBOUND)
            | ~Q(delivery_status=Message.DeliveryStatus.FAILED)
        )
        .select_related("author_customer", "author_user__agent")
        .prefetch_related("attachments")
    )
    if after:
        return list(qs.filter(pk__gt=after).order_by("pk")[:limit])
    return list(reversed(qs.order_by("-pk")[:limit]))


def history_frames(
    *, visitor: WidgetVisitor, after: int | None = None
) -> list[dict[str, Any]]:
    return [
        visitor_message_frame(m, visitor=visitor)
        for m in conversation_messages(visitor=visitor, after=after)
    ]


def agent_read_up_to(*, visitor: WidgetVisitor, ticket: Ticket | None) -> int | None:
    """The newest visitor message an agent had open on screen (the ticket page's read marker)."""
    from tickets.models import TicketReadState

    if ticket is None:
        return None
    last_read = (
        TicketReadState.objects.filter(ticket=ticket)
        .order_by("-last_read_at")
        .values_list("last_read_at", flat=True)
        .first()
    )
    if last_read is None:
        return None
    return (
        Message.objects.filter(
            ticket=ticket,
            direction=Message.Direction.INBOUND,
            created_at__lte=last_read,
        )
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def chat_ticket_view(*, ticket_id: int) -> tuple[str | None, int | None]:
    """For an agent opening a ticket page: the widget group of its conversation (None when
    it is not a chat ticket) and the newest visitor message, which the visitor now sees read."""
    group = chat_group_for_ticket(ticket_id=ticket_id)
    if group is None:
        return None, None
    last = (
        Message.objects.filter(ticket_id=ticket_id, direction=Message.Direction.INBOUND)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return group, last


def agents_available_cached(channel: Channel, *, seconds: int = 15) -> bool:
    """``agents_available``, computed at most once per channel every ``seconds`` (open
    widgets re-check it periodically; a thousand of them must not mean a thousand queries)."""
    from django.core.cache import cache

    key = f"widget-available:{channel.pk}"
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        value = None
    if value is None:
        value = agents_available(channel)
        try:
            cache.set(key, value, timeout=seconds)
        except Exception:  # noqa: BLE001, S110 - an uncached answer is only slower
            pass
    return bool(value)
