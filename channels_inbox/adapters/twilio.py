"""Twilio: SMS (channel kind ``sms``) and WhatsApp through Twilio (kind ``whatsapp`` with
``config.provider = "twilio"``).

Inbound: Twilio POSTs form fields to ``/hooks/sms/<key>/`` (or ``/hooks/whatsapp/<key>/``),
signed with ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the account's auth token,
of the full URL Twilio requested followed by every POST parameter name and value sorted by
name. Behind a proxy that rewrites the URL, set ``config.webhook_url`` to the exact public
URL configured at Twilio. The same URL receives delivery status callbacks (we pass it as
``StatusCallback`` when sending).

Settings: config ``account_sid`` (required), ``from_number`` (E.164, or
``messaging_service_sid``), ``webhook_url``, ``api_base`` (default https://api.twilio.com);
secret ``auth_token``.

Identities: SMS senders are ``phone:+<number>`` (the carrier delivered it from that number);
WhatsApp senders ``whatsapp:+<number>``; either links to a customer holding that number verified.
Outbound files need a public URL at Twilio, which Parley does not expose: they are listed
as not sent on the message.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from django.http import HttpResponse

from channels_inbox.adapters.base import DeliveryResult, Envelope, EnvelopeAttachment, Event, Media, Sender
from channels_inbox.exceptions import ChannelMisconfigured, ParseError, PermanentChannelError
from channels_inbox.social import content as rich
from channels_inbox.social import http
from channels_inbox.social.base import WebhookAdapter, clean
from channels_inbox.social.signatures import check_twilio_signature

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

# Twilio's message statuses -> ours ("undelivered" is a failure the carrier reported).
STATUSES = {"delivered": "delivered", "read": "read", "failed": "failed", "undelivered": "failed"}
TEXT_LIMIT = 1600  # Twilio's Body limit
TWILIO_MEDIA_BYTES = 5 * 1024 * 1024  # all media of one message together


class TwilioAdapter(WebhookAdapter):
    kind: ClassVar[str] = "sms"
    identity_kind: ClassVar[str] = "phone"
    address_prefix: ClassVar[str] = ""  # "whatsapp:" on WhatsApp
    media_per_message: ClassVar[int] = 10  # MMS
    platform: ClassVar[str] = "Twilio"
    default_api_base: ClassVar[str] = "https://api.twilio.com"
    config_fields: ClassVar[dict[str, Any]] = {
        "account_sid": "", "from_number": None, "messaging_service_sid": None, "webhook_url": None,
    }
    required_secrets: ClassVar[tuple[str, ...]] = ("auth_token",)

    def validate(self, config: dict, secrets: dict) -> list[str]:
        problems = super().validate(config, secrets)
        if isinstance(config, dict) and not (config.get("from_number") or config.get("messaging_service_sid")):
            problems.append("config needs 'from_number' or 'messaging_service_sid'")
        return problems

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        try:
            token = self.secret(channel, "auth_token")
        except ChannelMisconfigured:
            token = ""
        url = (channel.config or {}).get("webhook_url") or request.build_absolute_uri()
        params = {name: request.POST.getlist(name) for name in request.POST}
        check_twilio_signature(request.headers.get("X-Twilio-Signature"), url, params, token)

    def read_payload(self, request: HttpRequest) -> tuple[Any, str]:
        payload = {name: clean(request.POST.get(name), 10_000) for name in request.POST}
        sid = payload.get("MessageSid") or payload.get("SmsSid") or ""
        status = payload.get("MessageStatus") or payload.get("SmsStatus") or ""
        return payload, f"{sid}:{status}" if status and "Body" not in payload else sid

    def acknowledgement(self) -> HttpResponse:
        # Empty TwiML: no automatic answer (the agent replies through the API).
        return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml")

    def _address(self, value: str) -> str:
        return value.removeprefix("whatsapp:").strip()

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        p = raw.payload
        if not isinstance(p, dict):
            raise ParseError("a Twilio webhook is a set of form fields")
        sid = clean(p.get("MessageSid") or p.get("SmsSid"), 64)
        sender_number = self._address(clean(p.get("From"), 64))
        if not sid or not sender_number:
            raise ParseError("a Twilio webhook needs MessageSid and From")
        status = clean(p.get("MessageStatus") or p.get("SmsStatus"), 32)
        if status and "Body" not in p and "NumMedia" not in p:
            # A status callback for a message we sent: From is us, To is the customer.
            to = self._address(clean(p.get("To"), 64))
            ours = STATUSES.get(status)
            sender = Sender(kind=self.identity_kind, address=to or sender_number)
            if ours is None:
                return [Envelope(sender=sender, external_id=f"{sid}:{status}", event=Event.IGNORE, reason=f"status {status}")]
            error = f"Twilio error {clean(p.get('ErrorCode'), 16)}" if p.get("ErrorCode") else ""
            return [Envelope(sender=sender, external_id=f"{sid}:{status}", event=Event.STATUS, target_external_id=sid,
                             delivery_status=ours, reason=error, thread_key=clean(p.get("To"), 64))]
        sender = Sender(
            kind=self.identity_kind, address=sender_number, display_name=clean(p.get("ProfileName"), 200),
            is_verified=True, verified_contacts=(("phone", sender_number),),
        )
        files = []
        try:
            count = min(int(p.get("NumMedia") or 0), 10)
        except ValueError:
            count = 0
        for index in range(count):
            url = clean(p.get(f"MediaUrl{index}"), 2048)
            if url:
                ctype = clean(p.get(f"MediaContentType{index}"), 255) or "application/octet-stream"
                ext = ctype.rpartition("/")[2].split(";")[0] or "bin"
                files.append(EnvelopeAttachment(filename=f"media-{index + 1}.{ext}", content_type=ctype, size=0, data=None, remote_url=url))
        text, content = clean(p.get("Body")), {}
        if p.get("Latitude") and p.get("Longitude"):
            content, line = rich.location(p.get("Latitude"), p.get("Longitude"), name=p.get("Label"), address=p.get("Address"))
            text = text or line
        if p.get("ButtonPayload") or p.get("ButtonText"):
            content = {"type": "button", "text": clean(p.get("ButtonText"), 200), "payload": clean(p.get("ButtonPayload"), 500)}
        if not text and not files and not content:
            content, text = rich.unsupported("Twilio", clean(p.get("MessageType"), 50) or "message", p)
        return [Envelope(sender=sender, external_id=sid, text=text, attachments=files, content=content,
                         thread_key=clean(p.get("From"), 64), to=[clean(p.get("To"), 64)])]

    # --- outbound ----------------------------------------------------------------------

    def _auth(self, channel: Channel) -> tuple[str, str]:
        try:
            return self.config(channel, "account_sid"), self.secret(channel, "auth_token")
        except ChannelMisconfigured as exc:
            raise PermanentChannelError(str(exc)) from exc

    def _account_url(self, channel: Channel, tail: str) -> str:
        return f"{self.api_base(channel)}/2010-04-01/Accounts/{self.config(channel, 'account_sid')}{tail}"

    def send(self, message: Message) -> DeliveryResult:
        channel = message.channel or message.ticket.channel
        to = message.ticket.thread_key
        if not to:
            raise PermanentChannelError("this ticket has no number to answer")
        config = channel.config or {}
        form: dict[str, str] = {"To": to}
        if config.get("messaging_service_sid"):
            form["MessagingServiceSid"] = str(config["messaging_service_sid"])
        else:
            form["From"] = f"{self.address_prefix}{config.get('from_number', '')}"
        if config.get("webhook_url"):
            form["StatusCallback"] = str(config["webhook_url"])
        template = (message.content or {}).get("template")
        media_urls: list[str] = []
        skipped: list[str] = []
        if template:
            # Twilio's approved WhatsApp templates are Content API items: the name is the ContentSid.
            form["ContentSid"] = str(template["name"])
            form["ContentVariables"] = json.dumps({str(i + 1): str(v) for i, v in enumerate(template.get("parameters") or [])})
        else:
            self._check_window(message)
            media_urls, skipped = self._media(message)
            if not message.text and not media_urls:
                raise PermanentChannelError("the reply is empty")
            if message.text:
                form["Body"] = message.text[:TEXT_LIMIT]
        # One request carries the text and every file (MediaUrl repeated), so a retried
        # send can never deliver half a reply twice.
        data = {**form, "MediaUrl": media_urls} if media_urls else form
        with http.client(auth=self._auth(channel)) as client:
            response = client.post(self._account_url(channel, "/Messages.json"), data=data)
        http.raise_for_status(response, platform=self.platform)
        sid = str(response.json().get("sid") or "")
        detail = f"{self.platform} does not take these files; not sent: {', '.join(skipped)}" if skipped else ""
        return DeliveryResult(external_id=sid, detail=detail)

    def _media(self, message: Message) -> tuple[list[str], list[str]]:
        """Signed links Twilio fetches the files from, and the names of files it cannot take.

        Twilio's documented limits: images, audio, video and PDF; 5 MB in all per message;
        ``media_per_message`` files (10 for MMS, 1 for WhatsApp)."""
        from channels_inbox.public_media import public_media_url

        urls, skipped, total = [], [], 0
        for attachment in message.attachments.all():
            if not attachment.file:
                continue
            ctype = attachment.content_type
            allowed = ctype.split("/")[0] in ("image", "audio", "video") or ctype == "application/pdf"
            if not allowed or len(urls) >= self.media_per_message or total + attachment.size > TWILIO_MEDIA_BYTES:
                skipped.append(attachment.filename)
                continue
            total += attachment.size
            urls.append(public_media_url(attachment))
        return urls, skipped

    def _check_window(self, message: Message) -> None:
        """SMS has no window; WhatsApp's is checked in the subclass."""

    def fetch_media(self, channel: Channel, remote_url: str, *, max_bytes: int) -> Media:
        with http.client(auth=self._auth(channel)) as client:
            data, size, content_type = http.download(client, remote_url, max_bytes=max_bytes, platform=self.platform)
        return Media(data=data, size=size, content_type=content_type)

    def test_connection(self, channel: Channel) -> str:
        with http.client(auth=self._auth(channel)) as client:
            response = client.get(self._account_url(channel, ".json"))
        http.raise_for_status(response, platform=self.platform)
        info = response.json()
        return f"Connected to Twilio account {info.get('friendly_name')} ({info.get('status')})."


class TwilioWhatsApp(TwilioAdapter):
    """Used by the WhatsApp adapter for channels with ``provider: "twilio"``."""

    kind: ClassVar[str] = "whatsapp"
    identity_kind: ClassVar[str] = "whatsapp"
    address_prefix: ClassVar[str] = "whatsapp:"
    media_per_message: ClassVar[int] = 1
    platform: ClassVar[str] = "Twilio WhatsApp"

    def _check_window(self, message: Message) -> None:
        from channels_inbox.selectors import reply_constraints

        constraints = reply_constraints(ticket=message.ticket)
        if not constraints.free_form_allowed:
            raise PermanentChannelError(constraints.reason)


TWILIO_WHATSAPP = TwilioWhatsApp()
