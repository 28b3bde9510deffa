"""Identity verification: the host site vouches for its signed-in user.

The host site's server computes, with the chat channel's secret ``identity_secret``::

    signature = hex(HMAC-SHA256(secret, f"{user_id}:{email}:{timestamp}"))

and gives ``{user_id, email, timestamp, signature}`` to the widget. We recompute it and
compare in constant time. A signature is accepted for 10 minutes around its timestamp
(clock skew both ways) and only for the visitor token that presented it first: the first
use is remembered in the cache for longer than the signature lives, so a signature copied
into another browser (another token) is refused as a replay, while the same visitor
reloading the page may present it again.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from channels_inbox.widget.exceptions import WidgetError

MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class VerifiedIdentity:
    user_id: str
    email: str


def sign(secret: str, *, user_id: str, email: str, timestamp: int) -> str:
    """The signature a host site computes (used by tests and the docs' example)."""
    return hmac.new(
        secret.encode(), f"{user_id}:{email}:{timestamp}".encode(), hashlib.sha256
    ).hexdigest()


def _refuse(code: str, detail: str) -> WidgetError:
    return WidgetError(code, detail, status=403)


def verify(
    *, secret: str, identity: Any, token_hash: str, now: float | None = None
) -> VerifiedIdentity:
    """The identity, if its signature is good, fresh and not replayed; else a WidgetError."""
    if not secret:
        raise _refuse(
            "verification_unavailable",
            "This chat does not accept signed identities (no secret is set).",
        )
    if not isinstance(identity, dict):
        raise WidgetError(
            "invalid_identity",
            "identity must be an object with user_id, email, timestamp and signature.",
        )
    user_id, email, timestamp, signature = (
        identity.get(k) for k in ("user_id", "email", "timestamp", "signature")
    )
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    email = email if email is not None else ""
    if (
        not isinstance(user_id, str)
        or not user_id
        or len(user_id) > 255
        or not isinstance(email, str)
    ):
        raise WidgetError(
            "invalid_identity",
            "identity.user_id must be a non-empty string and identity.email a string.",
        )
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise WidgetError(
                "invalid_identity", "identity.email is not an email address."
            ) from None
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise WidgetError(
            "invalid_identity", "identity.timestamp must be an integer (Unix seconds)."
        )
    if not isinstance(signature, str) or len(signature) > 128:
        raise WidgetError(
            "invalid_identity", "identity.signature must be a hex string."
        )
    expected = sign(secret, user_id=user_id, email=email, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise _refuse("bad_signature", "The identity signature does not match.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > MAX_AGE_SECONDS:
        raise _refuse(
            "stale_signature",
            "The identity signature is more than 10 minutes old; sign it again.",
        )
    key = (
        "widget-identity:"
        + hashlib.sha256(signature.strip().lower().encode()).hexdigest()
    )
    if (
        not cache.add(key, token_hash, timeout=2 * MAX_AGE_SECONDS + 60)
        and cache.get(key) != token_hash
    ):
        raise _refuse(
            "replayed_signature",
            "This identity signature was already used by another visitor.",
        )
    return VerifiedIdentity(user_id=user_id, email=email.lower())
