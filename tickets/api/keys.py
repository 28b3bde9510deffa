"""API keys: create, revoke, authenticate (services and the one selector).

How to use:

    key, secret = api_key_create(name="CRM sync", user=bot, scopes=["tickets:write"], created_by=admin)
    print(secret)            # "prl_<prefix>_<secret>": shown once, never stored
    api_key_revoke(key=key)  # from now on the key answers 401

``api_key_authenticate(raw)`` returns the active key for a presented string or None; the
hash is compared with ``hmac.compare_digest`` so timing tells nothing about the secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tickets.api import scopes as api_scopes
from tickets.api.models import ApiKey

KEY_PREFIX = "prl"
# last_used_at is written at most this often per key: a busy integration costs no write per request.
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_key(raw: str) -> tuple[str, str] | None:
    """``prl_<prefix>_<secret>`` -> (prefix, secret), or None if it is not shaped like a key."""
    parts = raw.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@transaction.atomic
def api_key_create(*, name: str, user: Any, scopes: Iterable[str], created_by: Any = None) -> tuple[ApiKey, str]:
    """A new key acting as ``user``; returns the row and the key string (shown once).

    Raises ``scopes.UnknownScope`` for a scope that names nothing, ValueError for an empty
    name or a user who may not use the API (not an active staff member)."""
    name = name.strip()[:120]
    if not name:
        raise ValueError("an API key needs a name")
    if not api_scopes.role_scopes(user):
        raise ValueError(f"{user} is not an active staff member with a role; an API key acting as them could do nothing")
    checked = api_scopes.validate(scopes)
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():  # 2^32 prefixes: a clash is rare
        prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32).replace('_', 'x')}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash(raw),
        scopes=checked,
        user=user,
        created_by=created_by,
        created_at=timezone.now(),
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key at once (idempotent: an already revoked key keeps its first date)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=key.revoked_at)
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key this string is, or None (unknown, malformed, wrong secret, revoked)."""
    parsed = parse_key(raw.strip())
    if parsed is None:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=parsed[0]).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw.strip())):
        return None
    if key.revoked_at is not None:
        return None
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once per TOUCH_INTERVAL (a conditional update: no lock, no race)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_INTERVAL)
    ).update(last_used_at=now)
    key.last_used_at = now


def api_keys_for_manage() -> list[ApiKey]:
    return list(ApiKey.objects.select_related("user", "created_by").order_by("revoked_at", "-created_at", "-id"))
