"""Telegram Bot API: updates by webhook in, ``sendMessage``/``sendDocument`` out.

Settings: secrets ``bot_token`` (from @BotFather) and ``webhook_secret`` (the
``secret_token`` given to ``setWebhook``; Telegram sends it back in
``X-Telegram-Bot-Api-Secret-Token`` with every update). config ``api_base`` (default
https://api.telegram.org) only for a local Bot API server or a test stand-in.

Mapping: the sender is ``telegram:<user id>``; the conversation (thread key) is the chat
id; the message's external id is ``<chat id>:<message id>`` (message ids are per chat).
Media arrive as file ids, stored as ``telegram-file:<file id>`` and fetched on a task with
``getFile``. A contact card the user shares of themselves (``contact.user_id`` equals the
sender) carries a phone number Telegram verified, which links the customer automatically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from channels_inbox.adapters.base import DeliveryResult, Envelope, EnvelopeAttachment, Event, Media, Sender
from channels_inbox.exceptions import ChannelMisconfigured, ParseError, PermanentChannelError, TransientChannelError
from channels_inbox.social import content as rich
from channels_inbox.social import http
from channels_inbox.social.base import WebhookAdapter, clean, from_timestamp
from channels_inbox.social.signatures import require_equal

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

FILE_PREFIX = "telegram-file:"
TEXT_LIMIT = 4096  # sendMessage's limit; longer replies go out in parts
# Message fields that are media, the Telegram name -> (default file name, default type).
MEDIA = {
    "document": ("document", "application/octet-stream"),
    "voice": ("voice.ogg", "audio/ogg"),
    "audio": ("audio.mp3", "audio/mpeg"),
    "video": ("video.mp4", "video/mp4"),
    "video_note": ("video-note.mp4", "video/mp4"),
    "animation": ("animation.mp4", "video/mp4"),
}
# Updates that are about the bot, not a conversation.
IGNORED_UPDATES = ("my_chat_member", "chat_member", "chat_join_request", "poll", "poll_answer", "inline_query", "chosen_inline_result")


def _sender(user: dict[str, Any]) -> Sender:
    name = " ".join(clean(user.get(k), 100) for k in ("first_name", "last_name") if user.get(k)).strip()
    return Sender(kind="telegram", address=clean(user.get("id"), 64), display_name=name or clean(user.get("username"), 100))


def _attachments(msg: dict[str, Any]) -> list[EnvelopeAttachment]:
    files = []
    photos = msg.get("photo")
    if isinstance(photos, list) and photos:
        # Telegram sends every size it made; the last is the largest.
        best = photos[-1] if isinstance(photos[-1], dict) else {}
        if best.get("file_id"):
            files.append(
                EnvelopeAttachment(
                    filename=f"photo-{clean(best.get('file_unique_id'), 64) or 'telegram'}.jpg",
                    content_type="image/jpeg",
                    size=int(best.get("file_size") or 0),
                    data=None,
                    remote_url=FILE_PREFIX + clean(best["file_id"], 500),
                )
            )
    for field, (default_name, default_type) in MEDIA.items():
        item = msg.get(field)
        if isinstance(item, dict) and item.get("file_id"):
            files.append(
                EnvelopeAttachment(
                    filename=clean(item.get("file_name"), 255) or default_name,
                    content_type=clean(item.get("mime_type"), 255) or default_type,
                    size=int(item.get("file_size") or 0),
                    data=None,
                    remote_url=FILE_PREFIX + clean(item["file_id"], 500),
                )
            )
    return files


def parse_message(msg: dict[str, Any], *, event: str = Event.MESSAGE) -> Envelope:
    chat = msg.get("chat") if isinstance(msg.get("chat"), dict) else {}
    user = msg.get("from") if isinstance(msg.get("from"), dict) else chat  # channel posts have no "from"
    if not chat.get("id") or not user.get("id") or not msg.get("message_id"):
        raise ParseError("a Telegram message needs chat.id, from.id and message_id")
    sender = _sender(user)
    chat_id = clean(chat["id"], 64)
    external_id = f"{chat_id}:{clean(msg['message_id'], 32)}"
    if user.get("is_bot"):
        return Envelope(sender=sender, external_id=external_id, event=Event.IGNORE, reason="message from a bot")
    text = clean(msg.get("text") or msg.get("caption") or "")
    content: dict[str, Any] = {}
    if isinstance(msg.get("venue"), dict):
        venue = msg["venue"]
        loc = venue.get("location") or {}
        content, line = rich.location(loc.get("latitude"), loc.get("longitude"), name=venue.get("title"), address=venue.get("address"))
        text = text or line
    elif isinstance(msg.get("location"), dict):
        content, line = rich.location(msg["location"].get("latitude"), msg["location"].get("longitude"))
        text = text or line
    elif isinstance(msg.get("contact"), dict):
        card = msg["contact"]
        name = " ".join(clean(card.get(k), 100) for k in ("first_name", "last_name") if card.get(k))
        content, text = rich.contacts([{"name": name, "phones": [card.get("phone_number")]}])
        phone = clean(card.get("phone_number"), 64)
        if phone and str(card.get("user_id") or "") == sender.address:
            # The user shared their own number: Telegram verified it when they signed up.
            digits = "".join(ch for ch in phone if ch.isdigit())
            sender = Sender(
                kind=sender.kind, address=sender.address, display_name=sender.display_name,
                verified_contacts=(("phone", f"+{digits}"),),
            )
    attachments = _attachments(msg)
    if isinstance(msg.get("sticker"), dict):
        sticker = msg["sticker"]
        content = {"type": "media", "kind": "sticker", "emoji": clean(sticker.get("emoji"), 20)}
        text = text or f"[Sticker {content['emoji']}]".replace(" ]", "]")
    if not text and not attachments and not content:
        known = {"message_id", "from", "chat", "date", "edit_date", "entities", "message_thread_id", "reply_to_message",
                 "forward_origin", "via_bot", "business_connection_id", "sender_chat", "author_signature"}
        shape = next((k for k in msg if k not in known), "empty message")
        content, text = rich.unsupported("Telegram", shape, msg)
    return Envelope(
        sender=sender,
        external_id=external_id,
        text=text,
        attachments=attachments,
        thread_key=chat_id,
        sent_at=from_timestamp(msg.get("edit_date") if event == Event.EDIT else msg.get("date")),
        content=content,
        event=event,
        target_external_id=external_id if event == Event.EDIT else "",
    )


def parse_update(update: Any) -> list[Envelope]:
    if not isinstance(update, dict) or "update_id" not in update:
        raise ParseError("a Telegram update is a JSON object with an update_id")
    update_id = clean(update["update_id"], 32)
    for field in ("message", "channel_post", "business_message"):
        if isinstance(update.get(field), dict):
            return [parse_message(update[field])]
    for field in ("edited_message", "edited_channel_post", "edited_business_message"):
        if isinstance(update.get(field), dict):
            envelope = parse_message(update[field], event=Event.EDIT)
            # The same message edited twice is two updates: each its own id.
            envelope.external_id = f"{envelope.external_id}:edit:{update_id}"
            return [envelope]
    deleted = update.get("deleted_business_messages")
    if isinstance(deleted, dict):
        chat_id = clean((deleted.get("chat") or {}).get("id"), 64)
        ids = deleted.get("message_ids") or []
        if not chat_id or not isinstance(ids, list):
            raise ParseError("deleted_business_messages needs chat.id and message_ids")
        sender = Sender(kind="telegram", address=chat_id)
        return [
            Envelope(sender=sender, external_id=f"{chat_id}:{clean(i, 32)}:deleted", event=Event.DELETE,
                     target_external_id=f"{chat_id}:{clean(i, 32)}", thread_key=chat_id)
            for i in ids
        ] or [Envelope(sender=sender, external_id=f"update:{update_id}", event=Event.IGNORE, reason="no message ids")]
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("from"), dict):
        msg = query.get("message") if isinstance(query.get("message"), dict) else {}
        chat_id = clean((msg.get("chat") or {}).get("id") or query["from"].get("id"), 64)
        return [
            Envelope(
                sender=_sender(query["from"]), external_id=f"callback:{clean(query.get('id'), 64)}",
                text=f"[Button pressed: {clean(query.get('data'), 200)}]", thread_key=chat_id,
                content={"type": "button", "data": clean(query.get("data"), 200)},
            )
        ]
    shape = next((k for k in update if k != "update_id"), "empty update")
    reason = "an update about the bot, not a conversation" if shape in IGNORED_UPDATES else "update type not handled"
    return [Envelope(sender=Sender(kind="telegram", address="telegram"), external_id=f"update:{update_id}",
                     event=Event.IGNORE, reason=f"Telegram {shape}: {reason}")]


class TelegramAdapter(WebhookAdapter):
    kind: ClassVar[str] = "telegram"
    platform: ClassVar[str] = "Telegram"
    config_fields: ClassVar[dict[str, Any]] = {}
    required_secrets: ClassVar[tuple[str, ...]] = ("bot_token", "webhook_secret")
    default_api_base: ClassVar[str] = "https://api.telegram.org"

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        try:
            expected = self.secret(channel, "webhook_secret")
        except ChannelMisconfigured:
            expected = ""  # never accept anything while no secret is set
        require_equal(request.headers.get("X-Telegram-Bot-Api-Secret-Token"), expected, what="X-Telegram-Bot-Api-Secret-Token")

    def read_payload(self, request: HttpRequest) -> tuple[Any, str]:
        payload, _ = super().read_payload(request)
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        return payload, str(update_id) if update_id is not None else ""

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        return parse_update(raw.payload)

    # --- outbound ----------------------------------------------------------------------

    def _method_url(self, channel: Channel, method: str) -> str:
        return f"{self.api_base(channel)}/bot{self.secret(channel, 'bot_token')}/{method}"

    def _call(self, channel: Channel, method: str, **kwargs: Any) -> dict[str, Any]:
        with http.client() as client:
            response = client.post(self._method_url(channel, method), **kwargs)
        return self._result(response)

    def _result(self, response: Any) -> Any:
        retry_after = None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if isinstance(body, dict):
            retry_after = (body.get("parameters") or {}).get("retry_after")
        http.raise_for_status(response, platform=self.platform, retry_after=float(retry_after) if retry_after else None)
        if not isinstance(body, dict) or not body.get("ok"):
            raise PermanentChannelError(f"Telegram refused the request: {str(body)[:300]}")
        return body.get("result")

    def send(self, message: Message) -> DeliveryResult:
        channel = message.channel or message.ticket.channel
        chat_id = message.ticket.thread_key
        if not chat_id:
            raise PermanentChannelError("this ticket has no Telegram chat to answer")
        text = message.text or ""
        parts = [text[i : i + TEXT_LIMIT] for i in range(0, len(text), TEXT_LIMIT)] if text else []
        ids = []
        try:
            for part in parts:
                result = self._call(channel, "sendMessage", json={"chat_id": chat_id, "text": part})
                ids.append(str(result["message_id"]))
            for attachment in message.attachments.all():
                if not attachment.file:
                    continue
                method, field = ("sendPhoto", "photo") if attachment.content_type in ("image/jpeg", "image/png") else ("sendDocument", "document")
                with attachment.file.open("rb") as fh:
                    result = self._call(
                        channel, method, data={"chat_id": chat_id},
                        files={field: (attachment.filename, fh.read(), attachment.content_type)},
                    )
                ids.append(str(result["message_id"]))
        except ChannelMisconfigured as exc:
            raise PermanentChannelError(str(exc)) from exc
        if not ids:
            raise PermanentChannelError("the reply is empty")
        return DeliveryResult(external_id=f"{chat_id}:{ids[0]}")

    def fetch_media(self, channel: Channel, remote_url: str, *, max_bytes: int) -> Media:
        if not remote_url.startswith(FILE_PREFIX):
            raise PermanentChannelError(f"not a Telegram file: {remote_url[:100]}")
        try:
            info = self._call(channel, "getFile", json={"file_id": remote_url[len(FILE_PREFIX) :]})
            token = self.secret(channel, "bot_token")
        except ChannelMisconfigured as exc:
            raise PermanentChannelError(str(exc)) from exc
        path = info.get("file_path") if isinstance(info, dict) else None
        if not path:
            # The Bot API serves files up to 20 MB; a larger one has no path.
            return Media(data=None, size=int((info or {}).get("file_size") or max_bytes + 1))
        with http.client() as client:
            data, size, content_type = http.download(
                client, f"{self.api_base(channel)}/file/bot{token}/{path}", max_bytes=max_bytes, platform=self.platform
            )
        return Media(data=data, size=size, content_type=content_type if content_type not in ("", "application/octet-stream") else "")

    def test_connection(self, channel: Channel) -> str:
        try:
            me = self._call(channel, "getMe")
        except ChannelMisconfigured as exc:
            raise PermanentChannelError(str(exc)) from exc
        except TransientChannelError:
            raise
        return f"Connected to Telegram as @{me.get('username')} (bot id {me.get('id')})."
