"""The generic API channel: any system posts JSON messages in Parley's own documented shape.

Payload (one message, or ``{"messages": [...]}`` for a batch)::

    {"id": "msg-123",                      # the sender system's unique id (required)
     "conversation_id": "conv-9",          # messages with the same id form one ticket
     "from": {"id": "user-42", "name": "Ada", "email": "ada@example.com"},
     "subject": "...", "text": "...", "html": "...",
     "sent_at": "2026-11-23T10:00:00Z"}

Signature checks for the webhook arrive with the social-channels issue; ``parse`` is
already pure and strict so bad payloads are quarantined with a clear error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.utils.dateparse import parse_datetime

from channels_inbox.adapters.base import DeliveryResult, Envelope, Sender
from channels_inbox.exceptions import ParseError, PermanentChannelError
from helpdesk.html import html_to_text, sanitize_html

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message


def _str(value: Any, field: str, *, required: bool = False, limit: int = 100_000) -> str:
    if value is None or value == "":
        if required:
            raise ParseError(f"'{field}' is required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ParseError(f"'{field}' must be a string")
    # NUL cannot be stored in PostgreSQL text and never belongs in a message.
    return str(value).replace("\x00", "")[:limit]


def parse_api_message(item: Any) -> Envelope:
    if not isinstance(item, dict):
        raise ParseError("each message must be a JSON object")
    sender = item.get("from")
    if not isinstance(sender, dict):
        raise ParseError("'from' must be an object with at least an 'id'")
    sender_id = _str(sender.get("id"), "from.id", required=True, limit=255)
    html = sanitize_html(_str(item.get("html"), "html"))
    text = _str(item.get("text"), "text") or html_to_text(html)
    if not text and not html:
        raise ParseError("a message needs 'text' or 'html'")
    sent_at = parse_datetime(_str(item.get("sent_at"), "sent_at")) if item.get("sent_at") else None
    return Envelope(
        sender=Sender(kind="api", address=sender_id, display_name=_str(sender.get("name"), "from.name", limit=200)),
        external_id=_str(item.get("id"), "id", required=True, limit=255),
        subject=_str(item.get("subject"), "subject", limit=500),
        text=text,
        html=html,
        thread_key=_str(item.get("conversation_id"), "conversation_id", limit=255),
        sent_at=sent_at,
    )


class ApiAdapter:
    kind: ClassVar[str] = "api"

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        raise PermissionDenied("the API channel's signed webhook is not enabled yet")

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        payload = raw.payload
        if isinstance(payload, dict) and "messages" in payload:
            items = payload["messages"]
            if not isinstance(items, list) or not items:
                raise ParseError("'messages' must be a non-empty list")
        else:
            items = [payload]
        return [parse_api_message(item) for item in items]

    def send(self, message: Message) -> DeliveryResult:
        raise PermanentChannelError("outbound delivery for API channels is not configured")
