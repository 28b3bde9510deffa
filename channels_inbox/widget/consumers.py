"""The widget's websocket, ``/ws/widget/<key>/?token=<visitor token>``.

Security on connect, before anything is read: the channel must be an active chat channel;
the handshake's ``Origin`` must be one of the channel's allowed origins (a refused origin
gets no websocket at all: the handshake is rejected); the visitor token must be one this
channel issued; a channel that requires verification accepts verified visitors only.
The project-wide ``AllowedHostsOriginValidator`` does not apply here (the widget runs on
other sites by design); this per-channel check replaces it.

Frames are handled by ``frames.handle`` in a worker thread (the database never blocks
the event loop); typing is relayed straight from the loop, it touches no table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connection

from channels_inbox.models import WidgetVisitor
from channels_inbox.widget import frames, realtime, selectors, services
from channels_inbox.widget.config import WidgetSettings
from channels_inbox.widget.exceptions import WidgetError
from tickets.realtime import ticket_group

CLOSE_ORIGIN = 4403  # origin not allowed (the handshake is refused)
CLOSE_UNKNOWN = 4404  # no such active chat channel
CLOSE_TOKEN = 4401  # unknown visitor token, or verification required: call the session endpoint again


def in_thread(fn: Any) -> Any:
    """Run ``fn`` in a worker thread with fresh database connections.

    PostgreSQL: any thread of the pool (visitors' messages are processed in parallel; one
    customer's are serialised by the pipeline's row lock). SQLite (embedded mode) has one
    writer at a time anyway, so everything runs on Django's one sync thread.
    """
    return DatabaseSyncToAsync(fn, thread_sensitive=connection.vendor == "sqlite")


def header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _open(
    key: str, token: str, origin: str, ip: str
) -> tuple[WidgetVisitor | None, str, bool]:
    """(visitor, refusal code, agents available)."""
    channel = selectors.chat_channel(key=key)
    if channel is None:
        return None, "unknown_channel", False
    conf = WidgetSettings.from_config(channel.config)
    if not conf.origin_allowed(origin):
        return None, "origin_not_allowed", False
    try:
        services.check_rate(visitor=None, ip=ip)
    except WidgetError as exc:
        return None, exc.code, False
    visitor = selectors.visitor_for_token(channel=channel, token=token)
    if visitor is None:
        return None, "unknown_visitor", False
    if conf.require_verification and not visitor.is_verified:
        return None, "verification_required", False
    visitor.channel = channel
    services.visitor_touch(visitor=visitor)
    return visitor, "", selectors.agents_available(channel)


_REFUSALS = {
    "unknown_visitor": "Start a session first (POST /widget/<key>/session).",
    "verification_required": "This chat is for signed-in users only.",
    "rate_limited": "Too many connections from your network; wait a minute and try again.",
}


class WidgetConsumer(AsyncJsonWebsocketConsumer):
    visitor: WidgetVisitor | None = None
    group: str = ""
    _keepalive: asyncio.Task | None = None
    ip: str = ""
    agents_available = False

    async def connect(self) -> None:
        key = self.scope["url_route"]["kwargs"]["key"]
        query = parse_qs((self.scope.get("query_string") or b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        client = self.scope.get("client") or ("", 0)
        self.ip = client[0] or ""
        visitor, refusal, available = await in_thread(_open)(
            key, token, header(self.scope, b"origin"), self.ip
        )
        if refusal in ("unknown_channel", "origin_not_allowed"):
            await self.close(
                code=CLOSE_UNKNOWN if refusal == "unknown_channel" else CLOSE_ORIGIN
            )
            return
        await self.accept()
        if visitor is None:
            await self.send_json(
                {
                    "type": "error",
                    "code": refusal,
                    "detail": _REFUSALS.get(refusal, refusal),
                }
            )
            await self.close(code=CLOSE_TOKEN)
            return
        self.visitor = visitor
        self.group = selectors.visitor_group(visitor)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await in_thread(realtime.touch)(group=self.group, session=self.channel_name)
        self.agents_available = available
        self._keepalive = asyncio.create_task(self._keep_online())
        await self.send_json({"type": "status", "agents_available": available})

    async def _keep_online(self) -> None:
        """Refresh this socket's presence, and tell the visitor when agents come or go."""
        available = self.agents_available
        while True:
            await asyncio.sleep(realtime.REFRESH_SECONDS)
            await in_thread(realtime.touch)(group=self.group, session=self.channel_name)
            now = await in_thread(selectors.agents_available_cached)(self.visitor.channel)
            if now != available:
                available = now
                await self.send_json({"type": "status", "agents_available": now})

    async def disconnect(self, code: int) -> None:
        if self.visitor is None:
            return
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await in_thread(realtime.leave)(group=self.group, session=self.channel_name)
        self.visitor = None

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive(
        self,
        text_data: str | None = None,
        bytes_data: bytes | None = None,
        **kwargs: Any,
    ) -> None:
        # A frame's size is bounded before it is parsed: the text limit, with room for JSON
        # escapes (every character escaped as \uXXXX is six).
        limit = settings.PARLEY_WIDGET_MAX_MESSAGE_CHARS * 6 + 1024
        if text_data is None or len(text_data) > limit:
            await self.send_json(
                {
                    "type": "error",
                    "code": "message_too_long",
                    "detail": "The frame is too large.",
                }
            )
            return
        await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        visitor = self.visitor
        if visitor is None:
            return
        if isinstance(content, dict) and content.get("type") == "typing":
            event = frames.typing_event(visitor, content.get("state") is True)
            if event is not None:
                await self.channel_layer.group_send(
                    ticket_group(visitor.ticket_id), event
                )
            return
        try:
            answer = await in_thread(frames.handle)(
                visitor=visitor, frame=content, ip=self.ip
            )
        except WidgetError as exc:
            answer = frames.error_frame(exc, content)
        if answer is not None:
            await self.send_json(answer)

    async def widget_frame(self, event: dict[str, Any]) -> None:
        await self.send_json(event["frame"])
