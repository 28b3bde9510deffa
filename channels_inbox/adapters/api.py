"""The generic API channel: any system posts JSON messages in Parley's own documented shape,
signed with the channel's secret (docs/channels/api.md).

Signature: ``X-Parley-Timestamp: <unix seconds>`` and
``X-Parley-Signature: sha256=<hex HMAC-SHA256(signing_secret, "<timestamp>." + raw body)>``.
A timestamp more than ``MAX_SKEW`` seconds from our clock is refused, so a captured request
cannot be replayed later; within the window, the message id makes a repeat a no-op.

Payload (one message, or ``{"messages": [...]}`` for a batch)::

    {"id": "msg-123",                      # the sender system's unique id (required)
     "conversation_id": "conv-9",          # messages with the same id form one ticket
     "from": {"id": "user-42", "name": "Ada", "email": "ada@example.com",
              "email_verified": true,      # only verified contacts link customers
              "phone": "+4915123456789", "phone_verified": false},
     "subject": "...", "text": "...", "html": "...",
     "sent_at": "2026-11-23T10:00:00Z",
     "content": {...},                     # optional structured content, kept as sent
     "attachments": [{"url": "https://...", "filename": "a.pdf", "content_type": "application/pdf", "size": 123}]}

Besides messages, an item may be news about one (``"type"``): ``{"type": "edit", "id":
"msg-123", "text": "..."}``, ``{"type": "delete", "id": "msg-123"}`` or ``{"type":
"status", "message_id": "<id Parley gave its reply>", "status": "delivered" | "read" |
"failed", "error": "..."}``.

Replies go out to ``config.outbound_url`` (if set) as JSON signed the same way.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.utils.dateparse import parse_datetime

from channels_inbox.adapters.base import DeliveryResult, Envelope, EnvelopeAttachment, Event, Media, Sender
from channels_inbox.exceptions import ChannelMisconfigured, ParseError, PermanentChannelError, SignatureMissing
from channels_inbox.social import http
from channels_inbox.social.base import WebhookAdapter
from channels_inbox.social.signatures import hmac_sha256_hex, require_equal
from helpdesk.html import html_to_text, sanitize_html

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

# Seconds a signed request's timestamp may differ from our clock.
MAX_SKEW = 300


def _str(value: Any, field: str, *, required: bool = False, limit: int = 100_000) -> str:
    if value is None or value == "":
        if required:
            raise ParseError(f"'{field}' is required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ParseError(f"'{field}' must be a string")
    # NUL cannot be stored in PostgreSQL text and never belongs in a message.
    return str(value).replace("\x00", "")[:limit]


def _sender(item: dict[str, Any]) -> Sender:
    sender = item.get("from")
    if not isinstance(sender, dict):
        raise ParseError("'from' must be an object with at least an 'id'")
    verified = []
    if sender.get("email") and sender.get("email_verified") is True:
        verified.append(("email", _str(sender["email"], "from.email", limit=320)))
    if sender.get("phone") and sender.get("phone_verified") is True:
        verified.append(("phone", _str(sender["phone"], "from.phone", limit=64)))
    return Sender(
        kind="api",
        address=_str(sender.get("id"), "from.id", required=True, limit=255),
        display_name=_str(sender.get("name"), "from.name", limit=200),
        verified_contacts=tuple(verified),
    )


def _attachments(item: dict[str, Any]) -> list[EnvelopeAttachment]:
    files = item.get("attachments") or []
    if not isinstance(files, list):
        raise ParseError("'attachments' must be a list")
    result = []
    for index, entry in enumerate(files[:20]):
        if not isinstance(entry, dict) or not str(entry.get("url") or "").startswith(("https://", "http://")):
            raise ParseError(f"attachments[{index}] needs an http(s) 'url'")
        result.append(
            EnvelopeAttachment(
                filename=_str(entry.get("filename"), "filename", limit=255) or f"attachment-{index + 1}",
                content_type=_str(entry.get("content_type"), "content_type", limit=255) or "application/octet-stream",
                size=int(entry.get("size") or 0) if str(entry.get("size") or "0").isdigit() else 0,
                data=None,
                remote_url=_str(entry["url"], "url", limit=2048),
            )
        )
    return result


def parse_api_message(item: Any) -> Envelope:
    if not isinstance(item, dict):
        raise ParseError("each message must be a JSON object")
    kind = item.get("type") or "message"
    if kind == "status":
        status = _str(item.get("status"), "status", required=True, limit=16)
        if status not in ("delivered", "read", "failed"):
            raise ParseError("'status' must be delivered, read or failed")
        target = _str(item.get("message_id"), "message_id", required=True, limit=255)
        return Envelope(
            sender=Sender(kind="api", address=_str((item.get("from") or {}).get("id") if isinstance(item.get("from"), dict) else "", "from.id") or "api"),
            external_id=f"status:{target}:{status}", event=Event.STATUS, target_external_id=target,
            delivery_status=status, reason=_str(item.get("error"), "error", limit=2000),
        )
    if kind in ("edit", "delete"):
        target = _str(item.get("id"), "id", required=True, limit=255)
        text = _str(item.get("text"), "text")
        if kind == "edit" and not text:
            raise ParseError("an edit needs the new 'text'")
        sent_at = parse_datetime(_str(item.get("sent_at"), "sent_at")) if item.get("sent_at") else None
        return Envelope(
            sender=_sender(item), external_id=f"{kind}:{target}",
            event=Event.EDIT if kind == "edit" else Event.DELETE, target_external_id=target, text=text, sent_at=sent_at,
        )
    if kind != "message":
        raise ParseError(f"unknown item type {kind!r}")
    sender = _sender(item)
    html = sanitize_html(_str(item.get("html"), "html"))
    text = _str(item.get("text"), "text") or html_to_text(html)
    attachments = _attachments(item)
    content = item.get("content") if isinstance(item.get("content"), dict) else {}
    if not text and not html and not attachments and not content:
        raise ParseError("a message needs 'text', 'html', 'attachments' or 'content'")
    sent_at = parse_datetime(_str(item.get("sent_at"), "sent_at")) if item.get("sent_at") else None
    return Envelope(
        sender=sender,
        external_id=_str(item.get("id"), "id", required=True, limit=255),
        subject=_str(item.get("subject"), "subject", limit=500),
        text=text,
        html=html,
        attachments=attachments,
        thread_key=_str(item.get("conversation_id"), "conversation_id", limit=255),
        sent_at=sent_at,
        content=json.loads(json.dumps(content).replace("\\u0000", "")) if content else {},
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-Parley-Signature for a body sent at ``timestamp``."""
    return "sha256=" + hmac_sha256_hex(secret, timestamp.encode() + b"." + body)


class ApiAdapter(WebhookAdapter):
    kind: ClassVar[str] = "api"
    platform: ClassVar[str] = "The API endpoint"
    # allow_private_media_hosts: fetch attachment URLs on private networks (an integration
    # inside the LAN); off by default, see http.check_public_url.
    config_fields: ClassVar[dict[str, Any]] = {"outbound_url": None, "allow_private_media_hosts": None}
    required_secrets: ClassVar[tuple[str, ...]] = ("signing_secret",)

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        timestamp = request.headers.get("X-Parley-Timestamp")
        signature = request.headers.get("X-Parley-Signature")
        if not timestamp or not signature:
            raise SignatureMissing("missing X-Parley-Timestamp or X-Parley-Signature")
        try:
            secret = self.secret(channel, "signing_secret")
        except ChannelMisconfigured:
            secret = ""
        require_equal(signature, sign(secret, timestamp, request.body) if secret else "", what="X-Parley-Signature")
        try:
            skew = abs(time.time() - int(timestamp))
        except ValueError:
            raise PermissionDenied("X-Parley-Timestamp must be unix seconds") from None
        if skew > MAX_SKEW:
            raise PermissionDenied("X-Parley-Timestamp is too old or in the future (replayed?)")

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
        channel = message.channel or message.ticket.channel
        url = (channel.config or {}).get("outbound_url")
        if not url:
            raise PermanentChannelError("this API channel has no outbound_url: replies cannot be delivered")
        try:
            secret = self.secret(channel, "signing_secret")
        except ChannelMisconfigured as exc:
            raise PermanentChannelError(str(exc)) from exc
        ticket = message.ticket
        customer_ids = [i.address for i in ticket.customer.identities.all() if i.kind == "api"]
        attachments = []
        for attachment in message.attachments.all():
            if attachment.file:
                with attachment.file.open("rb") as fh:
                    attachments.append({
                        "filename": attachment.filename, "content_type": attachment.content_type,
                        "size": attachment.size, "data_base64": base64.b64encode(fh.read()).decode(),
                    })
        body = json.dumps({
            "id": f"parley-{message.pk}",
            "conversation_id": ticket.thread_key,
            "ticket": ticket.number,
            "to": {"id": customer_ids[0] if customer_ids else ""},
            "text": message.text,
            "html": message.html,
            "content": message.content or {},
            "attachments": attachments,
        }).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Parley-Timestamp": timestamp, "X-Parley-Signature": sign(secret, timestamp, body)}
        with http.client() as client:
            response = client.post(url, content=body, headers=headers)
        http.raise_for_status(response, platform=self.platform)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        external = answer.get("id") if isinstance(answer, dict) else None
        return DeliveryResult(external_id=str(external or f"parley-{message.pk}"))

    def fetch_media(self, channel: Channel, remote_url: str, *, max_bytes: int) -> Media:
        # The URL comes from the sender's payload, not from our configuration: only public
        # hosts, unless the channel's admin allows private ones (an integration on the LAN).
        trusted = bool((channel.config or {}).get("allow_private_media_hosts"))
        if not trusted:
            http.check_public_url(remote_url)
        with http.client() as client:
            data, size, content_type = http.download(
                client, remote_url, max_bytes=max_bytes, platform="The attachment's server", follow_redirects=trusted
            )
        return Media(data=data, size=size, content_type=content_type)

    def test_connection(self, channel: Channel) -> str:
        self.secret(channel, "signing_secret")
        url = (channel.config or {}).get("outbound_url")
        return "The signing secret is set" + (f"; replies go to {url}." if url else "; no outbound_url, so replies are not delivered.")
