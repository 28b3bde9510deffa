"""Who is looking at a ticket right now, and who is writing a reply to it.

Each open ticket page holds a websocket; the consumer records one entry per connection
(``session`` is the Channels channel name) and refreshes it on every heartbeat. An entry
expires ``TTL_SECONDS`` after its last heartbeat, so a tab that vanished without closing
its socket (a crashed browser, a dropped network, a killed server process) disappears by
itself.

Where the state lives follows the cache: with the Redis cache (full mode) it is a Redis
hash per ticket, shared by every ASGI process; otherwise (embedded mode, one process) a
dictionary in this process. Every write touches one hash field, so two processes never
overwrite each other's entries.

Presence is a hint for agents, never a source of truth: a Redis error is logged and the
page simply shows nobody.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# The browser sends a heartbeat every HEARTBEAT_SECONDS; three missed beats and it is gone.
HEARTBEAT_SECONDS = 15
TTL_SECONDS = 45


@dataclass(frozen=True)
class Viewer:
    """One agent on a ticket page (several tabs of the same agent count once)."""

    user_id: int
    name: str
    is_replying: bool


class _Store(Protocol):
    def put(self, ticket_id: int, session: str, entry: dict, ttl: int) -> None: ...
    def remove(self, ticket_id: int, session: str) -> None: ...
    def entries(self, ticket_id: int) -> dict[str, dict]: ...
    def prune(self, ticket_id: int, sessions: list[str]) -> None: ...


class _MemoryStore:
    """Embedded mode: one process serves every socket, so its memory is the whole truth."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[int, dict[str, dict]] = {}

    def put(self, ticket_id: int, session: str, entry: dict, ttl: int) -> None:
        with self._lock:
            self._tickets.setdefault(ticket_id, {})[session] = entry

    def remove(self, ticket_id: int, session: str) -> None:
        with self._lock:
            sessions = self._tickets.get(ticket_id, {})
            sessions.pop(session, None)
            if not sessions:
                self._tickets.pop(ticket_id, None)

    def entries(self, ticket_id: int) -> dict[str, dict]:
        with self._lock:
            return dict(self._tickets.get(ticket_id, {}))

    def prune(self, ticket_id: int, sessions: list[str]) -> None:
        for session in sessions:
            self.remove(ticket_id, session)


class _RedisStore:
    """Full mode: a hash per ticket (field = connection), in the Redis the cache uses."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    @staticmethod
    def _key(ticket_id: int) -> str:
        # The cache's own key scheme (prefix, version): flushing or namespacing the cache
        # treats presence like any other cached value.
        return cache.make_key(f"presence:{ticket_id}")

    def put(self, ticket_id: int, session: str, entry: dict, ttl: int) -> None:
        key = self._key(ticket_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(key, session, json.dumps(entry))
        # The whole hash goes once nobody has beaten for two periods (an abandoned ticket).
        pipe.expire(key, ttl * 2)
        pipe.execute()

    def remove(self, ticket_id: int, session: str) -> None:
        self._client.hdel(self._key(ticket_id), session)

    def entries(self, ticket_id: int) -> dict[str, dict]:
        raw = self._client.hgetall(self._key(ticket_id))
        return {field.decode(): json.loads(value) for field, value in raw.items()}

    def prune(self, ticket_id: int, sessions: list[str]) -> None:
        if sessions:
            self._client.hdel(self._key(ticket_id), *sessions)


_stores: dict[tuple[int, str], _Store] = {}
_stores_lock = threading.Lock()


def _store() -> _Store:
    """The store the current cache settings call for (one per process and cache location)."""
    config = settings.CACHES["default"]
    location = config.get("LOCATION", "") if "redis" in config["BACKEND"].lower() else ""
    key = (os.getpid(), location)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _RedisStore(location) if location else _MemoryStore()
            _stores[key] = store
        return store


def touch(
    *, ticket_id: int, session: str, user_id: int, name: str, is_replying: bool, now: float | None = None
) -> None:
    """Record (or refresh) one connection's presence on a ticket until ``now + TTL_SECONDS``."""
    now = time.time() if now is None else now
    entry = {"user_id": user_id, "name": name, "is_replying": is_replying, "expires_at": now + TTL_SECONDS}
    try:
        _store().put(ticket_id, session, entry, TTL_SECONDS)
    except Exception:  # a hint, not data: never fail a page over it
        logger.warning("presence update failed", exc_info=True, extra={"ticket_id": ticket_id})


def leave(*, ticket_id: int, session: str) -> None:
    """Forget a connection at once (its socket closed)."""
    try:
        _store().remove(ticket_id, session)
    except Exception:
        logger.warning("presence removal failed", exc_info=True, extra={"ticket_id": ticket_id})


def viewers(*, ticket_id: int, now: float | None = None) -> list[Viewer]:
    """The agents on a ticket, one per user, sorted by name; expired connections are dropped."""
    now = time.time() if now is None else now
    try:
        store = _store()
        entries = store.entries(ticket_id)
        expired = {session for session, entry in entries.items() if entry.get("expires_at", 0) <= now}
        store.prune(ticket_id, sorted(expired))
    except Exception:
        logger.warning("presence read failed", exc_info=True, extra={"ticket_id": ticket_id})
        return []
    by_user: dict[int, Viewer] = {}
    for session, entry in entries.items():
        if session in expired:
            continue
        seen = by_user.get(entry["user_id"])
        replying = entry["is_replying"] or (seen is not None and seen.is_replying)
        by_user[entry["user_id"]] = Viewer(user_id=entry["user_id"], name=entry["name"], is_replying=replying)
    return sorted(by_user.values(), key=lambda v: (v.name.lower(), v.user_id))
