"""The contract between channel adapters and the pipeline.

An adapter knows its wire format and nothing of tickets; the pipeline knows tickets and
nothing of wire formats. ``Envelope`` is the one shape every channel's message becomes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message


@dataclass(frozen=True)
class Sender:
    """Who wrote: an identity kind (CustomerIdentity.Kind) and an address on it."""

    kind: str
    address: str
    display_name: str = ""
    is_verified: bool = False
    # Contacts the platform itself has verified as this person's (a WhatsApp number is a
    # phone number WhatsApp checked by SMS): (identity kind, address). Only these link a
    # new identity automatically to an existing customer.
    verified_contacts: tuple[tuple[str, str], ...] = ()


@dataclass
class EnvelopeAttachment:
    filename: str
    content_type: str
    size: int
    # None when the attachment was over the size limit: it is recorded, not stored.
    data: bytes | None
    content_id: str = ""
    is_inline: bool = False
    # Media a platform keeps for us to fetch (data is None until a task downloads it):
    # a URL, or "<kind>-media:<id>" that the channel's adapter resolves with its credentials.
    remote_url: str = ""


class Event:
    """What an envelope is: a customer's message, or news about one we already hold."""

    MESSAGE = "message"
    EDIT = "edit"  # the sender edited ``target_external_id``; ``text`` is the new text
    DELETE = "delete"  # the sender deleted ``target_external_id``
    STATUS = "status"  # our outbound ``target_external_id`` was delivered/read/failed
    IGNORE = "ignore"  # nothing to do (an echo of our own message, typing...); ``reason`` says why


@dataclass
class Envelope:
    """One normalised inbound message (or, by ``event``, an edit, a deletion, a status)."""

    sender: Sender
    # The channel's id for the message; the dedupe key together with the channel.
    external_id: str
    subject: str = ""
    text: str = ""
    html: str = ""  # already sanitized
    attachments: list[EnvelopeAttachment] = field(default_factory=list)
    # Thread hints: email headers, or a conversation key on chat/social channels.
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    thread_key: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    sent_at: dt.datetime | None = None
    language: str = ""
    is_auto_reply: bool = False
    is_bounce: bool = False
    # Mailing-list or bulk mail: a person may have written it, but no automatic answer goes back.
    is_bulk: bool = False
    # Why it looks automatic, for the event log ("Auto-Submitted: auto-replied").
    auto_reason: str = ""
    # Social and messaging channels: structured content (a location, a contact card, a
    # shape we do not know yet, kept as received) -> Message.content.
    content: dict = field(default_factory=dict)
    event: str = Event.MESSAGE
    target_external_id: str = ""
    delivery_status: str = ""  # Event.STATUS: "delivered", "read" or "failed"
    # Event.STATUS by watermark (Messenger): every message of ours on this conversation sent
    # at or before this time has reached ``delivery_status``.
    status_upto: dt.datetime | None = None
    reason: str = ""  # Event.STATUS failed / Event.IGNORE: why

    @property
    def may_auto_answer(self) -> bool:
        """Whether an automatic message (an acknowledgement) may be sent back (RFC 3834)."""
        return not (self.is_auto_reply or self.is_bounce or self.is_bulk)


@dataclass(frozen=True)
class DeliveryResult:
    """What the channel said when we sent: its id for the message, if any."""

    external_id: str = ""
    detail: str = ""


class ChannelAdapter(Protocol):
    kind: ClassVar[str]

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        """Raise PermissionDenied unless the request really comes from the channel's provider."""

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        """Turn a stored payload into envelopes. Pure: no database, no network."""

    def send(self, message: Message) -> DeliveryResult:
        """Send an outbound message, or raise Transient/PermanentChannelError."""


class SocialAdapter(ChannelAdapter, Protocol):
    """What social and messaging adapters add: settings checks, the connection test, media."""

    def validate(self, config: dict, secrets: dict) -> list[str]:
        """Problems with a channel's settings, as sentences an admin understands."""

    def test_connection(self, channel: Channel) -> str:
        """Call the platform's "who am I" endpoint; a line for the admin, or raise ChannelError."""

    def fetch_media(self, channel: Channel, remote_url: str, *, max_bytes: int) -> "Media":
        """Download one media file with the channel's credentials (``data`` None when over ``max_bytes``)."""


@dataclass(frozen=True)
class Media:
    data: bytes | None
    size: int
    content_type: str = ""
    filename: str = ""
