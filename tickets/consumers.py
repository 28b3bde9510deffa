"""Websocket consumers for agents: the live inbox, and presence on a ticket page.

Ticket events carry ids only, so a private team's subject never leaves over a socket;
the page asks for the changed fragment over HTTP with the agent's own permissions.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string

from tickets import presence
from tickets.realtime import INBOX_GROUP, ticket_group

# Close codes the page understands (4000-4999 are the application's own).
CLOSE_NOT_SIGNED_IN = 4401  # anonymous or not staff: sign in again
CLOSE_NOT_VISIBLE = 4404  # no such ticket, or a private team's: the same answer for both

PRESENCE_TEMPLATE = "tickets/ticket/_presence.html#viewers"


def _is_agent(user: Any) -> bool:
    return user is not None and user.is_authenticated and user.is_staff


class AgentInboxConsumer(AsyncJsonWebsocketConsumer):
    """Pushes ticket events to signed-in agents; the inbox refetches its rows."""

    async def connect(self) -> None:
        if not _is_agent(self.scope.get("user")):
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        await self.channel_layer.group_add(INBOX_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(INBOX_GROUP, self.channel_name)

    async def ticket_event(self, event: dict[str, Any]) -> None:
        await self.send_json({k: v for k, v in event.items() if k != "type"})


@database_sync_to_async
def _visible_ticket_id(user: Any, number: int) -> int | None:
    """The ticket's id if this user may see it (private teams: members and managers only)."""
    from tickets.selectors import visible_tickets

    return visible_tickets(user).filter(number=number).values_list("pk", flat=True).first()


@database_sync_to_async
def _chat_ticket_view(ticket_id: int) -> tuple[str | None, int | None]:
    """Live chat (issue 7): the visitor's widget group, and their newest message (now read)."""
    from channels_inbox.widget.selectors import chat_ticket_view

    return chat_ticket_view(ticket_id=ticket_id)


@database_sync_to_async
def _display_name(user: Any) -> str:
    agent = getattr(user, "agent", None)  # the reverse one-to-one may query; hence its own thread
    return agent.name if agent is not None else (user.get_full_name() or user.get_username())


class TicketConsumer(AsyncJsonWebsocketConsumer):
    """One open ticket page: its events, and who else is viewing or replying.

    The browser sends ``{"type": "heartbeat"}`` every ``presence.HEARTBEAT_SECONDS`` and
    ``{"type": "replying", "replying": true|false}`` when the reply box fills or empties.
    The consumer first sends ``{"kind": "welcome", "heartbeat_seconds": N}``, then
    ``{"kind": "presence", "html": ...}`` (the other agents,
    rendered) whenever that list changes, and relays the ticket's events like the inbox.
    Every heartbeat checks again that the agent may still see the ticket: moved to a
    private team, the socket closes.
    """

    ticket_id: int | None = None
    chat_group: str | None = None
    is_replying = False

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if not _is_agent(self.user):
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        self.number = int(self.scope["url_route"]["kwargs"]["number"])
        self.ticket_id = await _visible_ticket_id(self.user, self.number)
        if self.ticket_id is None:
            await self.close(code=CLOSE_NOT_VISIBLE)
            return
        self.name = await _display_name(self.user)
        self.is_replying = False
        self._last_html: str | None = None
        self.group = ticket_group(self.ticket_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.chat_group, read_up_to = await _chat_ticket_view(self.ticket_id)
        await self.accept()
        await self.send_json({"kind": "welcome", "heartbeat_seconds": presence.HEARTBEAT_SECONDS})
        if self.chat_group and read_up_to:
            await self._to_visitor({"type": "read", "up_to": read_up_to})
        await self._touch()
        await self._announce()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        if self.ticket_id is None:
            return
        ticket_id, self.ticket_id = self.ticket_id, None
        if self.is_replying:
            await self._to_visitor({"type": "typing", "name": self.name, "state": False})
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await sync_to_async(presence.leave, thread_sensitive=False)(ticket_id=ticket_id, session=self.channel_name)
        await self.channel_layer.group_send(self.group, {"type": "presence.changed"})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "heartbeat":
            if await _visible_ticket_id(self.user, self.number) != self.ticket_id:
                await self._leave()  # at once: the others must not wait for the close handshake
                await self.close(code=CLOSE_NOT_VISIBLE)
                return
            await self._touch()
            # Entries of tabs that died silently expire here: each page refreshes its own list.
            await self._send_presence()
        elif kind == "replying":
            replying = content.get("replying") is True
            if replying != self.is_replying:
                self.is_replying = replying
                await self._touch()
                await self._announce()
                await self._to_visitor({"type": "typing", "name": self.name, "state": replying})

    async def ticket_event(self, event: dict[str, Any]) -> None:
        await self.send_json({k: v for k, v in event.items() if k != "type"})

    async def presence_changed(self, event: dict[str, Any]) -> None:
        await self._send_presence()

    async def _touch(self) -> None:
        await sync_to_async(presence.touch, thread_sensitive=False)(
            ticket_id=self.ticket_id,
            session=self.channel_name,
            user_id=self.user.pk,
            name=self.name,
            is_replying=self.is_replying,
        )

    async def _to_visitor(self, frame: dict[str, Any]) -> None:
        """Live chat: the agent's typing and reading reach the visitor's widget."""
        if self.chat_group:
            await self.channel_layer.group_send(self.chat_group, {"type": "widget.frame", "frame": frame})

    async def _announce(self) -> None:
        """Tell every page on this ticket (this one included) to redraw its presence list."""
        await self.channel_layer.group_send(self.group, {"type": "presence.changed"})

    async def _send_presence(self) -> None:
        viewers = await sync_to_async(presence.viewers, thread_sensitive=False)(ticket_id=self.ticket_id)
        others = [v for v in viewers if v.user_id != self.user.pk]
        html = render_to_string(PRESENCE_TEMPLATE, {"viewers": others})
        if html != self._last_html:
            self._last_html = html
            await self.send_json({"kind": "presence", "html": html})
