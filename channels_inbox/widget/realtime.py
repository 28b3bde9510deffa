"""Realtime for the widget: one Channels group per conversation, and whether it is open.

A conversation's group is named from its channel and thread key (``visitor:<id>`` or
``user:<id>``), so every tab and device of one visitor (or one verified user) hears the
agent's replies, typing and read receipts, and nobody else does.

"Is a widget of this conversation open?" decides whether an agent's reply goes to the
websocket or by email. Each open socket keeps an entry that expires unless refreshed
(the consumer refreshes it every ``REFRESH_SECONDS``), in the same store as the agents'
presence on tickets (a Redis hash per conversation in full mode, this process's memory in
embedded mode), so a socket of a crashed server process stops counting by itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from tickets import presence as agent_presence
from tickets.realtime import send_to_groups

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 20
TTL_SECONDS = 60


def conversation_group(channel_id: int, thread_key: str) -> str:
    """A valid group name (ASCII, < 100 characters) whatever the host site's user ids hold."""
    digest = hashlib.blake2b(thread_key.encode(), digest_size=16).hexdigest()
    return f"widget.{channel_id}.{digest}"


class _RedisOnline(agent_presence._RedisStore):
    @staticmethod
    def _key(group: Any) -> str:
        return cache.make_key(f"widget-online:{group}")


_stores: dict[tuple[int, str], Any] = {}
_lock = threading.Lock()


def _store() -> Any:
    config = settings.CACHES["default"]
    location = (
        config.get("LOCATION", "") if "redis" in config["BACKEND"].lower() else ""
    )
    key = (os.getpid(), location)
    with _lock:
        if key not in _stores:
            _stores[key] = (
                _RedisOnline(location) if location else agent_presence._MemoryStore()
            )
        return _stores[key]


def touch(*, group: str, session: str) -> None:
    """This socket is open (for the next TTL_SECONDS)."""
    try:
        _store().put(
            group, session, {"expires_at": time.time() + TTL_SECONDS}, TTL_SECONDS
        )
    except (
        Exception
    ):  # a hint: without it a reply goes by email as well, nothing is lost
        logger.warning("widget presence update failed", exc_info=True)


def leave(*, group: str, session: str) -> None:
    try:
        _store().remove(group, session)
    except Exception:
        logger.warning("widget presence removal failed", exc_info=True)


def is_online(group: str) -> bool:
    now = time.time()
    try:
        return any(
            entry.get("expires_at", 0) > now
            for entry in _store().entries(group).values()
        )
    except Exception:
        logger.warning("widget presence read failed", exc_info=True)
        return False


def send_frame(group: str, frame: dict[str, Any]) -> None:
    """Push one protocol frame to every open widget of a conversation (best effort)."""
    send_to_groups(
        (group,),
        {"type": "widget.frame", "frame": frame},
        group=group,
        frame=frame.get("type"),
    )
