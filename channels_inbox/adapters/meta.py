"""Meta's platforms: WhatsApp Business Cloud API, Facebook Messenger, Instagram messaging.

All three deliver webhooks the same way: a GET handshake (``hub.mode=subscribe``,
``hub.verify_token`` compared with the channel's ``verify_token``, ``hub.challenge`` echoed)
and POSTs signed with ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with the
app secret>``. Replies go through the Graph API with the channel's access token.

Settings (Channel.config / Channel.secrets):

- WhatsApp: config ``phone_number_id`` (required), ``graph_version`` (``v21.0``),
  ``provider`` (``meta``; ``twilio`` for WhatsApp through Twilio, see adapters/twilio.py);
  secrets ``app_secret``, ``access_token`` (a system user token), ``verify_token``.
- Messenger / Instagram: config ``page_id`` (required), ``graph_version``,
  ``human_agent_tag`` (true once Meta granted the Human Agent permission: replies up to 7
  days after the customer's last message instead of 24 hours); secrets ``app_secret``,
  ``access_token`` (the Page access token), ``verify_token``.

Every config also takes ``api_base`` (default https://graph.facebook.com).

Identities: ``whatsapp:+<wa_id>`` (the number WhatsApp verified, which links the customer's
``phone`` identity automatically), ``messenger:<PSID>``, ``instagram:<IGSID>``. Media:
WhatsApp sends media ids (``whatsapp-media:<id>``, resolved with the token); Messenger and
Instagram send signed CDN URLs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from channels_inbox.adapters.base import DeliveryResult, Envelope, EnvelopeAttachment, Event, Media, Sender
from channels_inbox.exceptions import ChannelMisconfigured, ParseError, PermanentChannelError, TransientChannelError
from channels_inbox.social import content as rich
from channels_inbox.social import http
from channels_inbox.social.base import WebhookAdapter, clean, from_timestamp
from channels_inbox.social.signatures import check_meta_signature, require_equal

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

WHATSAPP_MEDIA = "whatsapp-media:"
# Graph error codes that mean "slow down" (throttling), answered with 400 or 429.
RATE_LIMIT_CODES = {4, 17, 32, 613, 80007, 130429, 131048, 131056}
# WhatsApp: the customer-service window is closed (a template is needed).
WINDOW_CLOSED_CODES = {131047}
# Instagram's documented limits for media sent by URL.
INSTAGRAM_IMAGE_BYTES = 8 * 1024 * 1024
INSTAGRAM_MEDIA_BYTES = 25 * 1024 * 1024


def graph_error(response: Any, platform: str) -> None:
    """Graph answers errors as {"error": {"code", "message"}}; throttling is transient whatever the status."""
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error, dict) else None
    if code in RATE_LIMIT_CODES:
        raise TransientChannelError(
            f"{platform} rate limit ({code}): {clean(error.get('message'), 300)}",
            retry_after=http.retry_after_seconds(response.headers.get("Retry-After")) or 60.0,
        )
    if code in WINDOW_CLOSED_CODES:
        raise PermanentChannelError(
            f"{platform}: more than 24 hours since the customer's last message; only an approved template can be sent ({code})"
        )
    http.raise_for_status(response, platform=platform)


class MetaAdapter(WebhookAdapter):
    """What the three share: the handshake, the signature, Graph calls."""

    default_api_base: ClassVar[str] = "https://graph.facebook.com"
    required_secrets: ClassVar[tuple[str, ...]] = ("app_secret", "access_token", "verify_token")
    # The object name Meta puts at the top of this platform's webhooks.
    webhook_object: ClassVar[str]

    def handshake(self, request: HttpRequest, channel: Channel) -> HttpResponse:
        if request.GET.get("hub.mode") != "subscribe":
            raise PermissionDenied("hub.mode must be subscribe")
        try:
            expected = self.secret(channel, "verify_token")
        except ChannelMisconfigured:
            expected = ""
        require_equal(request.GET.get("hub.verify_token"), expected, what="hub.verify_token")
        return HttpResponse(clean(request.GET.get("hub.challenge"), 200), content_type="text/plain")

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        try:
            app_secret = self.secret(channel, "app_secret")
        except ChannelMisconfigured:
            app_secret = ""
        check_meta_signature(request.headers.get("X-Hub-Signature-256"), request.body, app_secret)

    def graph_url(self, channel: Channel, path: str) -> str:
        return f"{self.api_base(channel)}/{self.config(channel, 'graph_version')}/{path.lstrip('/')}"

    def auth_headers(self, channel: Channel) -> dict[str, str]:
        try:
            return {"Authorization": f"Bearer {self.secret(channel, 'access_token')}"}
        except ChannelMisconfigured as exc:
            raise PermanentChannelError(str(exc)) from exc

    def graph(self, channel: Channel, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        with http.client(headers=self.auth_headers(channel)) as client:
            response = client.request(method, self.graph_url(channel, path), **kwargs)
        graph_error(response, self.platform)
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientChannelError(f"{self.platform} answered something that is not JSON") from exc
        return body if isinstance(body, dict) else {}

    def _entries(self, payload: Any) -> list[dict[str, Any]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
            raise ParseError(f"a {self.platform} webhook is a JSON object with an 'entry' list")
        if payload.get("object") != self.webhook_object:
            raise ParseError(f"expected object {self.webhook_object!r}, got {str(payload.get('object'))[:50]!r}")
        return [e for e in payload["entry"] if isinstance(e, dict)]


# --- WhatsApp Cloud API ---------------------------------------------------------------------


def _wa_media(item: dict[str, Any], kind: str) -> EnvelopeAttachment | None:
    if not isinstance(item, dict) or not item.get("id"):
        return None
    defaults = {"image": "image.jpg", "audio": "voice.ogg", "video": "video.mp4", "sticker": "sticker.webp", "document": "document"}
    return EnvelopeAttachment(
        filename=clean(item.get("filename"), 255) or defaults.get(kind, kind),
        content_type=clean(item.get("mime_type"), 255).split(";")[0] or "application/octet-stream",
        size=0,
        data=None,
        remote_url=WHATSAPP_MEDIA + clean(item["id"], 200),
    )


def parse_whatsapp_message(msg: dict[str, Any], names: dict[str, str], business_number: str) -> Envelope:
    wa_id = clean(msg.get("from"), 32)
    if not wa_id or not msg.get("id"):
        raise ParseError("a WhatsApp message needs 'from' and 'id'")
    sender = Sender(
        kind="whatsapp", address=f"+{wa_id.lstrip('+')}", display_name=names.get(wa_id, ""),
        is_verified=True, verified_contacts=(("phone", f"+{wa_id.lstrip('+')}"),),
    )
    kind = clean(msg.get("type"), 32)
    body = msg.get(kind) if isinstance(msg.get(kind), dict) else {}
    text, content, attachments = "", {}, []
    if kind == "text":
        text = clean(body.get("body"))
    elif kind in ("image", "document", "audio", "video", "sticker"):
        media = _wa_media(body, kind)
        attachments = [media] if media else []
        text = clean(body.get("caption"))
        if kind == "sticker":
            text = text or "[Sticker]"
    elif kind == "location":
        content, text = rich.location(body.get("latitude"), body.get("longitude"), name=body.get("name"), address=body.get("address"))
    elif kind == "contacts":
        people = []
        for card in msg.get("contacts") or []:
            if isinstance(card, dict):
                people.append({
                    "name": (card.get("name") or {}).get("formatted_name", ""),
                    "phones": [p.get("phone") for p in card.get("phones") or [] if isinstance(p, dict)],
                    "emails": [e.get("email") for e in card.get("emails") or [] if isinstance(e, dict)],
                })
        content, text = rich.contacts(people)
    elif kind == "button":
        text = f"[Button: {clean(body.get('text'), 200)}]"
        content = {"type": "button", "text": clean(body.get("text"), 200), "payload": clean(body.get("payload"), 500)}
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        text = f"[Chose: {clean(reply.get('title'), 200)}]"
        content = {"type": "button", "text": clean(reply.get("title"), 200), "payload": clean(reply.get("id"), 500)}
    elif kind == "reaction":
        return Envelope(sender=sender, external_id=clean(msg["id"], 255), event=Event.IGNORE,
                        reason=f"reaction {clean(body.get('emoji'), 10)} to {clean(body.get('message_id'), 100)}")
    if not text and not attachments and not content:
        content, text = rich.unsupported("WhatsApp", kind or "unknown", msg)
    context = msg.get("context") if isinstance(msg.get("context"), dict) else {}
    return Envelope(
        sender=sender,
        external_id=clean(msg["id"], 255),
        text=text,
        attachments=attachments,
        thread_key=wa_id.lstrip("+"),
        sent_at=from_timestamp(msg.get("timestamp")),
        content=content,
        in_reply_to=clean(context.get("id"), 255),
        to=[business_number] if business_number else [],
    )


def parse_whatsapp_status(status: dict[str, Any]) -> Envelope:
    recipient = clean(status.get("recipient_id"), 32)
    value = clean(status.get("status"), 16)
    errors = status.get("errors") or []
    reason = "; ".join(
        f"{clean(e.get('title') or e.get('message'), 200)} ({e.get('code')})" for e in errors if isinstance(e, dict)
    )
    if value not in ("delivered", "read", "failed"):
        value = "sent"  # "sent" (and anything new) changes nothing we track
    return Envelope(
        sender=Sender(kind="whatsapp", address=f"+{recipient}" if recipient else "whatsapp"),
        external_id=f"status:{clean(status.get('id'), 255)}:{value}",
        event=Event.STATUS,
        target_external_id=clean(status.get("id"), 255),
        delivery_status=value,
        reason=reason,
        thread_key=recipient,
    )


class WhatsAppAdapter(MetaAdapter):
    kind: ClassVar[str] = "whatsapp"
    platform: ClassVar[str] = "WhatsApp"
    webhook_object: ClassVar[str] = "whatsapp_business_account"
    config_fields: ClassVar[dict[str, Any]] = {
        "phone_number_id": "", "graph_version": "v21.0", "provider": "meta", "waba_id": None,
        # Twilio (provider "twilio"): see adapters/twilio.py
        "account_sid": None, "from_number": None, "messaging_service_sid": None, "webhook_url": None,
    }

    def _twilio(self, channel: Channel | None) -> bool:
        return channel is not None and (channel.config or {}).get("provider") == "twilio"

    def validate(self, config: dict, secrets: dict) -> list[str]:
        if isinstance(config, dict) and config.get("provider") == "twilio":
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.validate({k: v for k, v in config.items() if k != "provider"}, secrets)
        problems = super().validate(config, secrets)
        if isinstance(config, dict) and config.get("provider", "meta") not in ("meta", "twilio"):
            problems.append("provider must be meta or twilio")
        return problems

    def handshake(self, request: HttpRequest, channel: Channel) -> HttpResponse:
        if self._twilio(channel):
            return HttpResponse(status=405)
        return super().handshake(request, channel)

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        if self._twilio(channel):
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.authenticate(request, channel)
        super().authenticate(request, channel)

    def read_payload(self, request: HttpRequest) -> tuple[Any, str]:
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.read_payload(request)
        return super().read_payload(request)

    def acknowledgement(self) -> HttpResponse:
        return HttpResponse(status=200)

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        payload = raw.payload
        if isinstance(payload, dict) and "MessageSid" in payload or isinstance(payload, dict) and "SmsSid" in payload:
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.parse(raw)
        envelopes: list[Envelope] = []
        for entry in self._entries(payload):
            for change in entry.get("changes") or []:
                value = change.get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                names = {
                    clean(c.get("wa_id"), 32): clean((c.get("profile") or {}).get("name"), 200)
                    for c in value.get("contacts") or [] if isinstance(c, dict)
                }
                business = clean((value.get("metadata") or {}).get("display_phone_number"), 32)
                for msg in value.get("messages") or []:
                    if isinstance(msg, dict):
                        envelopes.append(parse_whatsapp_message(msg, names, business))
                for status in value.get("statuses") or []:
                    if isinstance(status, dict):
                        envelopes.append(parse_whatsapp_status(status))
                if not value.get("messages") and not value.get("statuses"):
                    field = clean(change.get("field"), 64)
                    envelopes.append(Envelope(sender=Sender(kind="whatsapp", address="whatsapp"),
                                              external_id=f"change:{clean(entry.get('id'), 64)}:{field}",
                                              event=Event.IGNORE, reason=f"WhatsApp {field or 'change'} notification not handled"))
        if not envelopes:
            raise ParseError("a WhatsApp webhook with no changes")
        return envelopes

    # --- outbound ----------------------------------------------------------------------

    def _upload(self, channel: Channel, attachment: Any) -> str:
        with attachment.file.open("rb") as fh:
            data = fh.read()
        answer = self.graph(
            channel, "POST", f"{self.config(channel, 'phone_number_id')}/media",
            data={"messaging_product": "whatsapp", "type": attachment.content_type},
            files={"file": (attachment.filename, data, attachment.content_type)},
        )
        if not answer.get("id"):
            raise PermanentChannelError("WhatsApp did not accept the attachment")
        return str(answer["id"])

    def send(self, message: Message) -> DeliveryResult:
        channel = message.channel or message.ticket.channel
        if self._twilio(channel):
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.send(message)
        from channels_inbox.selectors import reply_constraints

        to = message.ticket.thread_key
        if not to:
            raise PermanentChannelError("this ticket has no WhatsApp number to answer")
        template = (message.content or {}).get("template")
        if not template:
            constraints = reply_constraints(ticket=message.ticket)
            if not constraints.free_form_allowed:
                raise PermanentChannelError(constraints.reason)
        bodies: list[dict[str, Any]] = []
        if template:
            params = [{"type": "text", "text": str(p)} for p in template.get("parameters") or []]
            bodies.append({"type": "template", "template": {
                "name": template["name"], "language": {"code": template.get("language") or "en_US"},
                **({"components": [{"type": "body", "parameters": params}]} if params else {}),
            }})
        elif message.text:
            bodies.append({"type": "text", "text": {"preview_url": False, "body": message.text[:4096]}})
        for attachment in message.attachments.all():
            if attachment.file:
                kind = "image" if attachment.content_type in ("image/jpeg", "image/png") else "document"
                media = {"id": self._upload(channel, attachment)}
                if kind == "document":
                    media["filename"] = attachment.filename
                bodies.append({"type": kind, kind: media})
        if not bodies:
            raise PermanentChannelError("the reply is empty")
        ids = []
        for body in bodies:
            answer = self.graph(channel, "POST", f"{self.config(channel, 'phone_number_id')}/messages",
                                json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body})
            ids.append(str(((answer.get("messages") or [{}])[0]).get("id") or ""))
        return DeliveryResult(external_id=ids[0])

    def fetch_media(self, channel: Channel, remote_url: str, *, max_bytes: int) -> Media:
        if self._twilio(channel):
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.fetch_media(channel, remote_url, max_bytes=max_bytes)
        if not remote_url.startswith(WHATSAPP_MEDIA):
            raise PermanentChannelError(f"not a WhatsApp media id: {remote_url[:100]}")
        info = self.graph(channel, "GET", remote_url[len(WHATSAPP_MEDIA):])
        url = info.get("url")
        if not url:
            raise PermanentChannelError("WhatsApp has no URL for this media (expired?)")
        declared = int(info.get("file_size") or 0)
        if declared > max_bytes:
            return Media(data=None, size=declared, content_type=str(info.get("mime_type") or ""))
        with http.client(headers=self.auth_headers(channel)) as client:
            data, size, content_type = http.download(client, url, max_bytes=max_bytes, platform=self.platform)
        return Media(data=data, size=size, content_type=str(info.get("mime_type") or content_type))

    def test_connection(self, channel: Channel) -> str:
        if self._twilio(channel):
            from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

            return TWILIO_WHATSAPP.test_connection(channel)
        info = self.graph(channel, "GET", self.config(channel, "phone_number_id"),
                          params={"fields": "display_phone_number,verified_name,quality_rating"})
        return f"Connected to WhatsApp number {info.get('display_phone_number')} ({info.get('verified_name')})."


# --- Messenger and Instagram ------------------------------------------------------------------


class PageMessagingAdapter(MetaAdapter):
    """Messenger and Instagram share the Messenger Platform's webhook and Send API shapes."""

    config_fields: ClassVar[dict[str, Any]] = {"page_id": "", "graph_version": "v21.0", "human_agent_tag": None}
    # Whether the Send API takes file uploads (Messenger does; Instagram takes only URLs).
    uploads_files: ClassVar[bool] = True

    def _attachments(self, items: Any) -> tuple[list[EnvelopeAttachment], dict[str, Any], str]:
        files, content, text = [], {}, ""
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            kind = clean(item.get("type"), 32)
            payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
            if kind == "location" and isinstance(payload.get("coordinates"), dict):
                c = payload["coordinates"]
                content, text = rich.location(c.get("lat"), c.get("long"), name=item.get("title"))
            elif kind in ("image", "video", "audio", "file") and payload.get("url"):
                defaults = {"image": ("image.jpg", "image/jpeg"), "video": ("video.mp4", "video/mp4"),
                            "audio": ("audio.mp4", "audio/mp4"), "file": ("file", "application/octet-stream")}
                name, ctype = defaults[kind]
                files.append(EnvelopeAttachment(filename=clean(item.get("name") or payload.get("title"), 255) or name,
                                                content_type=ctype, size=0, data=None, remote_url=clean(payload["url"], 2048)))
            else:
                # share, story_mention, reel, fallback, template...: kept and shown by description
                content, text = rich.unsupported(self.platform, kind or "attachment", item)
        return files, content, text

    def parse_event(self, event: dict[str, Any], page_id: str) -> Envelope:
        sender_id = clean((event.get("sender") or {}).get("id"), 64)
        recipient_id = clean((event.get("recipient") or {}).get("id"), 64)
        at = from_timestamp(event.get("timestamp"))
        msg = event.get("message") if isinstance(event.get("message"), dict) else None
        if msg is not None and msg.get("is_echo"):
            # Our own message, echoed back (sent here or from the Page inbox): not the customer's.
            return Envelope(sender=Sender(kind=self.kind, address=recipient_id or "page"),
                            external_id=f"echo:{clean(msg.get('mid'), 255)}", event=Event.IGNORE,
                            reason="echo of a message the page sent")
        if not sender_id:
            raise ParseError(f"a {self.platform} event needs sender.id")
        sender = Sender(kind=self.kind, address=sender_id)
        thread = sender_id
        if msg is not None:
            mid = clean(msg.get("mid"), 255)
            if not mid:
                raise ParseError(f"a {self.platform} message needs a mid")
            if msg.get("is_deleted"):
                return Envelope(sender=sender, external_id=f"deleted:{mid}", event=Event.DELETE,
                                target_external_id=mid, sent_at=at, thread_key=thread)
            files, content, text = self._attachments(msg.get("attachments"))
            text = clean(msg.get("text")) or text
            if msg.get("quick_reply"):
                content = {"type": "button", "text": text, "payload": clean((msg["quick_reply"] or {}).get("payload"), 500)}
            if not text and not files and not content:
                content, text = rich.unsupported(self.platform, "message", msg)
            reply_to = msg.get("reply_to") if isinstance(msg.get("reply_to"), dict) else {}
            return Envelope(sender=sender, external_id=mid, text=text, attachments=files, content=content,
                            thread_key=thread, sent_at=at, in_reply_to=clean(reply_to.get("mid"), 255))
        if isinstance(event.get("message_edit"), dict):
            edit = event["message_edit"]
            mid = clean(edit.get("mid"), 255)
            return Envelope(sender=sender, external_id=f"edit:{mid}:{clean(edit.get('num_edit'), 8)}", event=Event.EDIT,
                            target_external_id=mid, text=clean(edit.get("text")), sent_at=at, thread_key=thread)
        if isinstance(event.get("delivery"), dict):
            mids = [clean(m, 255) for m in event["delivery"].get("mids") or []]
            # One envelope per mid would be more precise; the first carries the news and the
            # watermark covers the rest (Messenger's own rule).
            watermark = from_timestamp(event["delivery"].get("watermark"))
            return Envelope(sender=sender, external_id=f"delivery:{sender_id}:{clean(event['delivery'].get('watermark'), 20)}",
                            event=Event.STATUS, delivery_status="delivered", target_external_id=mids[0] if mids else "",
                            sent_at=watermark, status_upto=watermark, thread_key=thread)
        if isinstance(event.get("read"), dict):
            read = event["read"]
            watermark = from_timestamp(read.get("watermark"))
            return Envelope(sender=sender, external_id=f"read:{sender_id}:{clean(read.get('watermark') or read.get('mid'), 255)}",
                            event=Event.STATUS, delivery_status="read", target_external_id=clean(read.get("mid"), 255),
                            sent_at=watermark or at, status_upto=watermark, thread_key=thread)
        if isinstance(event.get("postback"), dict):
            postback = event["postback"]
            return Envelope(sender=sender, external_id=clean(postback.get("mid"), 255) or f"postback:{sender_id}:{clean(event.get('timestamp'), 20)}",
                            text=f"[Button: {clean(postback.get('title'), 200)}]", thread_key=thread, sent_at=at,
                            content={"type": "button", "text": clean(postback.get("title"), 200), "payload": clean(postback.get("payload"), 500)})
        if isinstance(event.get("reaction"), dict):
            return Envelope(sender=sender, external_id=f"reaction:{clean(event['reaction'].get('mid'), 255)}", event=Event.IGNORE,
                            reason=f"reaction {clean(event['reaction'].get('emoji') or event['reaction'].get('reaction'), 20)}")
        shape = next((k for k in event if k not in ("sender", "recipient", "timestamp")), "event")
        return Envelope(sender=sender, external_id=f"{shape}:{sender_id}:{clean(event.get('timestamp'), 20)}",
                        event=Event.IGNORE, reason=f"{self.platform} {shape} event not handled")

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        envelopes = []
        for entry in self._entries(raw.payload):
            page_id = clean(entry.get("id"), 64)
            for event in entry.get("messaging") or []:
                if isinstance(event, dict):
                    envelopes.append(self.parse_event(event, page_id))
        if not envelopes:
            raise ParseError(f"a {self.platform} webhook with no messaging events")
        return envelopes

    def send(self, message: Message) -> DeliveryResult:
        from channels_inbox.public_media import public_media_url
        from channels_inbox.selectors import reply_constraints

        channel = message.channel or message.ticket.channel
        recipient = message.ticket.thread_key
        if not recipient:
            raise PermanentChannelError(f"this ticket has no {self.platform} user to answer")
        constraints = reply_constraints(ticket=message.ticket)
        if not constraints.free_form_allowed:
            raise PermanentChannelError(constraints.reason)
        kind = {"messaging_type": "RESPONSE"}
        if constraints.tag:
            kind = {"messaging_type": "MESSAGE_TAG", "tag": constraints.tag}
        ids, skipped = [], []
        if message.text:
            answer = self.graph(channel, "POST", "me/messages",
                                json={"recipient": {"id": recipient}, **kind, "message": {"text": message.text[:2000]}})
            ids.append(str(answer.get("message_id") or ""))
        for attachment in message.attachments.all():
            if not attachment.file:
                continue
            if self.uploads_files:
                ftype = "image" if attachment.content_type.startswith("image/") else "file"
                with attachment.file.open("rb") as fh:
                    answer = self.graph(channel, "POST", "me/messages", data={
                        "recipient": json.dumps({"id": recipient}), **kind,
                        "message": json.dumps({"attachment": {"type": ftype, "payload": {"is_reusable": False}}}),
                    }, files={"filedata": (attachment.filename, fh.read(), attachment.content_type)})
            else:
                ftype = self.url_attachment_type(attachment)
                if ftype is None:
                    skipped.append(attachment.filename)
                    continue
                # The platform fetches the file itself, from a signed link that expires.
                answer = self.graph(channel, "POST", "me/messages", json={
                    "recipient": {"id": recipient}, **kind,
                    "message": {"attachment": {"type": ftype, "payload": {"url": public_media_url(attachment)}}},
                })
            ids.append(str(answer.get("message_id") or ""))
        if not ids:
            raise PermanentChannelError("the reply is empty")
        detail = f"{self.platform} does not take these files; not sent: {', '.join(skipped)}" if skipped else ""
        return DeliveryResult(external_id=ids[0], detail=detail)

    def url_attachment_type(self, attachment: Any) -> str | None:
        """The Send API's attachment type for a file sent by URL, or None when refused."""
        return None

    def fetch_media(self, channel: Channel, remote_url: str, *, max_bytes: int) -> Media:
        # Signed CDN URLs: no token (sending the page token to a CDN would leak it).
        with http.client() as client:
            data, size, content_type = http.download(client, remote_url, max_bytes=max_bytes, platform=self.platform)
        return Media(data=data, size=size, content_type=content_type)

    def test_connection(self, channel: Channel) -> str:
        info = self.graph(channel, "GET", "me", params={"fields": "id,name"})
        return f"Connected to {self.platform} as {info.get('name')} (id {info.get('id')})."


class MessengerAdapter(PageMessagingAdapter):
    kind: ClassVar[str] = "messenger"
    platform: ClassVar[str] = "Messenger"
    webhook_object: ClassVar[str] = "page"


class InstagramAdapter(PageMessagingAdapter):
    kind: ClassVar[str] = "instagram"
    platform: ClassVar[str] = "Instagram"
    webhook_object: ClassVar[str] = "instagram"
    uploads_files: ClassVar[bool] = False

    def url_attachment_type(self, attachment: Any) -> str | None:
        """Instagram's documented media: png/jpeg/gif images up to 8 MB; video, audio and
        PDF files up to 25 MB. Anything else is refused here rather than by Instagram."""
        ctype, size = attachment.content_type, attachment.size
        if ctype in ("image/png", "image/jpeg", "image/gif"):
            return "image" if size <= INSTAGRAM_IMAGE_BYTES else None
        if size > INSTAGRAM_MEDIA_BYTES:
            return None
        if ctype.startswith("video/"):
            return "video"
        if ctype.startswith("audio/"):
            return "audio"
        return "file" if ctype == "application/pdf" else None


def window_hours(kind: str, config: dict[str, Any]) -> int | None:
    """How long after the customer's last message a free-form reply may go out (None: no limit)."""
    if kind == "whatsapp":
        return 24
    if kind in ("messenger", "instagram"):
        return 24 * 7 if config.get("human_agent_tag") else 24
    return None


__all__ = ["InstagramAdapter", "MessengerAdapter", "WhatsAppAdapter", "window_hours"]
