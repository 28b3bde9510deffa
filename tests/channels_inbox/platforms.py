"""Stand-ins for the platforms' APIs, each checking requests the way the platform does.

Written from the public API references (Telegram Bot API, Graph API for WhatsApp Cloud /
Messenger / Instagram, Twilio REST API 2010-04-01), not from any client library.
"""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from tests.channels_inbox.standin import Answer, Request, StandIn, run

TELEGRAM_TOKEN = "7000000001:AAH-test-token-Parley"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120


class TelegramStandIn(StandIn):
    """Bot API: https://api.telegram.org/bot<token>/<method>; files at /file/bot<token>/<path>."""

    files = {"AgACAgIAAxkBAAIBQ2ZlargeAAA": ("photos/file_7.jpg", PNG)}

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(9001)

    @staticmethod
    def error(code: int, description: str, **extra) -> Answer:
        return Answer(code, body={"ok": False, "error_code": code, "description": description, **extra})

    def handle(self, request: Request) -> Answer:
        parts = request.path.strip("/").split("/")
        if parts[0] == "file":
            if parts[1] != f"bot{TELEGRAM_TOKEN}":
                return Answer(401, body="Unauthorized")
            path = "/".join(parts[2:])
            for file_path, data in self.files.values():
                if file_path == path:
                    return Answer(200, {"Content-Type": "image/jpeg"}, data)
            return Answer(404, body="Not Found")
        if parts[0] != f"bot{TELEGRAM_TOKEN}" or len(parts) != 2:
            return self.error(401, "Unauthorized")
        method = parts[1]
        content_type = request.headers.get("content-type", "")
        if method == "getMe":
            return Answer(200, body={"ok": True, "result": {"id": 7000000001, "is_bot": True, "first_name": "Parley", "username": "parley_support_bot"}})
        if method == "sendMessage":
            if not content_type.startswith("application/json"):
                return self.error(400, "Bad Request: message text is empty")
            body = request.json()
            if "chat_id" not in body or not body.get("text"):
                return self.error(400, "Bad Request: message text is empty")
            if len(body["text"]) > 4096:
                return self.error(400, "Bad Request: message is too long")
            if str(body["chat_id"]) == "404":
                return self.error(400, "Bad Request: chat not found")
            return Answer(200, body={"ok": True, "result": {"message_id": next(self.ids), "chat": {"id": int(body["chat_id"])}, "date": 0, "text": body["text"]}})
        if method in ("sendDocument", "sendPhoto"):
            if not content_type.startswith("multipart/form-data"):
                return self.error(400, "Bad Request: there is no document in the request")
            parts = request.multipart()
            field = "document" if method == "sendDocument" else "photo"
            if "chat_id" not in parts or field not in parts or not parts[field][0]:
                return self.error(400, f"Bad Request: there is no {field} in the request")
            return Answer(200, body={"ok": True, "result": {"message_id": next(self.ids), "chat": {"id": int(parts['chat_id'][1])}, "date": 0}})
        if method == "getFile":
            file_id = request.json().get("file_id")
            if file_id not in self.files:
                return self.error(400, "Bad Request: invalid file_id")
            path, data = self.files[file_id]
            return Answer(200, body={"ok": True, "result": {"file_id": file_id, "file_unique_id": "u", "file_size": len(data), "file_path": path}})
        return self.error(404, "Not Found: method not found")


@pytest.fixture
def telegram_api():
    yield from run(TelegramStandIn)


def basic_auth(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


GRAPH_TOKEN = "EAAGm0PX4ZCpsBA-test-token"
PHONE_NUMBER_ID = "106540352242922"


class GraphStandIn(StandIn):
    """Graph API v21.0: WhatsApp Cloud (/{phone-number-id}/messages, /media, /{media-id}) and
    the Messenger Platform Send API (/me/messages), Bearer token auth, Graph's error shape."""

    media = {"1003383421387256": ("image/jpeg", PNG)}

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)

    @staticmethod
    def error(status: int, code: int, message: str) -> Answer:
        return Answer(status, body={"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}})

    def handle(self, request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {GRAPH_TOKEN}":
            return self.error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        parts = request.path.strip("/").split("/")
        if parts[0] == "media-bytes":
            content_type, data = self.media[parts[1]]
            return Answer(200, {"Content-Type": content_type}, data)
        if parts[0] != "v21.0":
            return self.error(400, 2500, "Unknown path components")
        rest = parts[1:]
        if rest == [PHONE_NUMBER_ID, "messages"] and request.method == "POST":
            body = request.json()
            if body.get("messaging_product") != "whatsapp" or not body.get("to") or body.get("type") not in ("text", "template", "image", "document"):
                return self.error(400, 100, "(#100) Invalid parameter")
            kind = body["type"]
            if kind == "text" and not body["text"].get("body"):
                return self.error(400, 100, "(#100) Param text['body'] is required")
            if kind == "template" and not (body["template"].get("name") and body["template"].get("language", {}).get("code")):
                return self.error(400, 132000, "Number of parameters does not match the expected number of params")
            if kind in ("image", "document") and not body[kind].get("id"):
                return self.error(400, 100, "(#100) media id required")
            return Answer(200, body={"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                     "messages": [{"id": f"wamid.SENT{next(self.ids)}"}]})
        if rest == [PHONE_NUMBER_ID, "media"] and request.method == "POST":
            parts = request.multipart()
            if parts.get("messaging_product", ("", b""))[1] != b"whatsapp" or not parts.get("file", ("",))[0]:
                return self.error(400, 100, "(#100) Param file must be a file")
            return Answer(200, body={"id": f"MEDIA{next(self.ids)}"})
        if rest == [PHONE_NUMBER_ID] and request.method == "GET":
            return Answer(200, body={"display_phone_number": "+1 555-078-3881", "verified_name": "Acme Support", "quality_rating": "GREEN", "id": PHONE_NUMBER_ID})
        if len(rest) == 1 and rest[0] in self.media:
            content_type, data = self.media[rest[0]]
            return Answer(200, body={"url": f"{self.url}/media-bytes/{rest[0]}", "mime_type": content_type, "sha256": "x", "file_size": len(data), "id": rest[0], "messaging_product": "whatsapp"})
        if rest == ["me", "messages"] and request.method == "POST":
            if request.headers.get("content-type", "").startswith("multipart/"):
                parts = request.multipart()
                recipient = json.loads(parts["recipient"][1])
                if "filedata" not in parts or not recipient.get("id"):
                    return self.error(400, 100, "(#100) Upload attachment failure")
            else:
                body = request.json()
                recipient = body.get("recipient") or {}
                message = body.get("message") or {}
                attachment = message.get("attachment") or {}
                by_url = attachment.get("type") in ("image", "video", "audio", "file") and str(
                    (attachment.get("payload") or {}).get("url", "")).startswith(("http://", "https://"))
                if not recipient.get("id") or not (message.get("text") or by_url):
                    return self.error(400, 100, "(#100) The parameter recipient is required")
                if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
                    return self.error(400, 100, "(#100) messaging_type is invalid")
                if body.get("messaging_type") == "MESSAGE_TAG" and body.get("tag") != "HUMAN_AGENT":
                    return self.error(400, 100, "(#100) tag is invalid")
            return Answer(200, body={"recipient_id": recipient["id"], "message_id": f"m_SENT{next(self.ids)}"})
        if rest == ["me"]:
            return Answer(200, body={"id": "112233445566778", "name": "Acme Store"})
        return self.error(400, 100, "Unsupported request")


@pytest.fixture
def graph_api():
    yield from run(GraphStandIn)


TWILIO_SID = "AC00000000000000000000000000000000"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"


class TwilioStandIn(StandIn):
    """Twilio REST API 2010-04-01: HTTP basic auth (Account SID, auth token), form bodies, 201 on create."""

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(1)

    def handle(self, request: Request) -> Answer:
        if basic_auth(request) != (TWILIO_SID, TWILIO_TOKEN):
            return Answer(401, body={"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
        base = f"/2010-04-01/Accounts/{TWILIO_SID}"
        if request.path == f"{base}.json":
            return Answer(200, body={"sid": TWILIO_SID, "friendly_name": "Acme", "status": "active"})
        if request.path == f"{base}/Messages.json" and request.method == "POST":
            form = {k: v[0] for k, v in request.form().items()}
            if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")):
                return Answer(400, body={"code": 21604, "message": "A 'To' phone number is required.", "status": 400})
            if not (form.get("Body") or form.get("ContentSid") or form.get("MediaUrl")):
                return Answer(400, body={"code": 21602, "message": "Message body is required.", "status": 400})
            if form["To"].endswith("0000"):
                return Answer(400, body={"code": 21211, "message": f"The 'To' number {form['To']} is not a valid phone number.", "status": 400})
            return Answer(201, body={"sid": f"SM{next(self.ids):032d}", "status": "queued", "to": form["To"], "from": form.get("From")})
        if request.path.startswith(f"{base}/Messages/") and "/Media/" in request.path:
            return Answer(200, {"Content-Type": "image/jpeg"}, PNG)
        return Answer(404, body={"code": 20404, "message": "The requested resource was not found", "status": 404})


@pytest.fixture
def twilio_api():
    yield from run(TwilioStandIn)
