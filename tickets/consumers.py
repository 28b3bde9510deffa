"""Websocket consumers for agents: live inbox updates."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tickets.realtime import INBOX_GROUP


class AgentInboxConsumer(AsyncJsonWebsocketConsumer):
    """Pushes ticket events to signed-in agents; the page fetches what changed.

    Events carry ids only, so a private team's subject never leaves over the socket;
    the page asks for the fragment with the agent's own permissions.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4401)
            return
        await self.channel_layer.group_add(INBOX_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(INBOX_GROUP, self.channel_name)

    async def ticket_event(self, event: dict[str, Any]) -> None:
        await self.send_json({k: v for k, v in event.items() if k != "type"})
