"""Live chat (the embeddable widget): visitor messages in, agent replies out.

Inbound: the widget's websocket or HTTPS fallback stores each visitor message as an
``InboundMessage`` whose ``payload`` is the envelope below (``raw`` holds an uploaded
file's bytes), written by ``channels_inbox.widget.services``; ``parse`` maps it to one
``Envelope``. The external id is ``<visitor public id>:<client id>``: the widget re-sends a
message until it is acknowledged, and the pipeline's duplicate drop (unique channel +
external id) keeps one. The visitor's id is part of it so that nobody can suppress another
visitor's message by guessing its client id.

Payload (version 1)::

    {"v": 1, "visitor": "<public id>", "thread_key": "visitor:<public id>" | "user:<id>",
     "sender": {"address": "...", "name": "...", "verified": bool, "email": "..."},
     "client_id": "...", "text": "...", "sent_at": "<iso>",
     "file": {"name": "...", "content_type": "...", "size": n} | null}

Outbound: an agent's reply goes to the visitor's open websocket(s) (a Channels group per
conversation). When no widget of the conversation is open and the visitor left an email
address, the reply goes out by email instead, with its own Message-ID: the customer's
answer threads back onto the same ticket through the email channel (In-Reply-To), so the
conversation continues by email.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.utils.html import linebreaks, urlize

from channels_inbox.adapters.base import (
    DeliveryResult,
    Envelope,
    EnvelopeAttachment,
    Sender,
)
from channels_inbox.exceptions import ParseError, PermanentChannelError
from helpdesk.html import sanitize_html

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

PAYLOAD_VERSION = 1


def text_to_html(text: str) -> str:
    """The visitor's text as safe HTML for agents: escaped, line breaks kept, links clickable."""
    return sanitize_html(linebreaks(urlize(text, nofollow=True, autoescape=True)))


def _str(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


class ChatAdapter:
    kind: ClassVar[str] = "chat"

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        """Visitors are authenticated by their token in ``channels_inbox.widget``, not here."""

    def validate(self, config: dict, secrets: dict) -> list[str]:
        from channels_inbox.widget.config import config_problems

        return config_problems(config, secrets)

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        payload = raw.payload
        if not isinstance(payload, dict) or payload.get("v") != PAYLOAD_VERSION:
            raise ParseError("a chat payload is a JSON object with v=1")
        visitor, client_id = (
            _str(payload.get("visitor"), 64),
            _str(payload.get("client_id"), 64),
        )
        sender = (
            payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
        )
        address = _str(sender.get("address"), 320)
        if not visitor or not client_id or not address:
            raise ParseError(
                "a chat payload needs visitor, client_id and sender.address"
            )
        verified = sender.get("verified") is True
        email = _str(sender.get("email"), 254)
        text = _str(payload.get("text"), 100_000)
        attachments = []
        file = payload.get("file")
        if isinstance(file, dict):
            data = bytes(raw.raw) if raw.raw is not None else None
            attachments.append(
                EnvelopeAttachment(
                    filename=_str(file.get("name"), 255) or "upload",
                    content_type=_str(file.get("content_type"), 255)
                    or "application/octet-stream",
                    size=len(data) if data is not None else int(file.get("size") or 0),
                    data=data,
                )
            )
        if not text.strip() and not attachments:
            raise ParseError("a chat message needs text or a file")
        sent_at = None
        try:
            sent_at = (
                dt.datetime.fromisoformat(payload["sent_at"])
                if payload.get("sent_at")
                else None
            )
        except (TypeError, ValueError):
            sent_at = None
        return [
            Envelope(
                sender=Sender(
                    kind="chat",
                    address=address,
                    display_name=_str(sender.get("name"), 200),
                    is_verified=verified,
                    # Only an address the host site signed links this chat to a customer.
                    verified_contacts=(("email", email),) if verified and email else (),
                ),
                external_id=f"{visitor}:{client_id}",
                subject="",
                text=text,
                html=text_to_html(text) if text.strip() else "",
                attachments=attachments,
                thread_key=_str(payload.get("thread_key"), 255),
                sent_at=sent_at,
            )
        ]

    def send(self, message: Message) -> DeliveryResult:
        """To the conversation's open widget(s); by email when none is open and the visitor
        left an address; otherwise kept for the visitor's return (the history shows it)."""
        from channels_inbox.widget import realtime, selectors

        ticket = message.ticket
        if not ticket.thread_key:
            raise PermanentChannelError(
                "this chat ticket has no conversation to answer"
            )
        group = realtime.conversation_group(ticket.channel_id, ticket.thread_key)
        frame = {
            "type": "message",
            "message": selectors.message_frame(
                message, channel_key=ticket.channel.public_key, group=group
            ),
        }
        if not realtime.is_online(group):
            email = selectors.reply_email(ticket=ticket)
            if email:
                external_id = _send_by_email(message, email)
                realtime.send_frame(
                    group, frame
                )  # a tab reconnecting right now still gets it
                return DeliveryResult(external_id=external_id)
        realtime.send_frame(group, frame)
        return DeliveryResult(external_id=f"widget-reply:{message.pk}")


def _email_channel() -> Channel | None:
    from channels_inbox.models import Channel

    return (
        Channel.objects.filter(
            kind=Channel.Kind.EMAIL, is_active=True, inbound_address__isnull=False
        )
        .order_by("pk")
        .first()
    )


def _send_by_email(message: Message, email: str) -> str:
    """Send the reply as an email from the first active email channel: its Message-ID
    becomes the message's external id, so the customer's answer (In-Reply-To) threads
    back onto this ticket and the conversation goes on by email."""
    from channels_inbox.adapters.email import EmailAdapter

    ticket = message.ticket
    channel = _email_channel()
    domain = (
        (channel.inbound_address if channel else "") or settings.DEFAULT_FROM_EMAIL
    ).rpartition("@")[2]
    outgoing = copy.copy(
        message
    )  # never saved: only what the email adapter reads is changed
    outgoing.channel = channel
    outgoing.to = [email]
    outgoing.cc = []
    outgoing.external_id = (
        f"parley.{ticket.number}.{uuid.uuid4().hex}@{domain or 'parley.localhost'}"
    )
    outgoing.subject = f"[#{ticket.number}] {ticket.subject or 'Your chat with us'}"[
        :500
    ]
    EmailAdapter().send(outgoing)
    return outgoing.external_id
