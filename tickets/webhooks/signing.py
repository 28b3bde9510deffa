"""The signature on every delivery (docs/webhooks.md has the receiver's side).

``Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``. The
timestamp is signed with the body so a captured request cannot be replayed later: a
receiver rejects signatures older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format marker, not a secret
# What a receiver should accept by default: five minutes of clock skew and transit.
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret=secret, timestamp=t, body=body)}"


def verify(*, secret: str, header: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """What a receiver does; Parley uses it in its own tests and documentation."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=t, body=body)
    return any(
        hmac.compare_digest(expected, value)
        for key, value in (item.split("=", 1) for item in header.split(",") if "=" in item)
        if key == "v1"
    )
