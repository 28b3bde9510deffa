"""Constant-time checks of the platforms' webhook signatures.

Every comparison goes through ``hmac.compare_digest``; a missing header raises
SignatureMissing (401), a wrong one PermissionDenied (403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied

from channels_inbox.exceptions import SignatureMissing


def require_equal(given: str | None, expected: str, *, what: str) -> None:
    """``given`` must equal the secret ``expected`` (Telegram's secret token, Meta's verify token)."""
    if not given:
        raise SignatureMissing(f"missing {what}")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise PermissionDenied(f"wrong {what}")


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_meta_signature(header: str | None, body: bytes, app_secret: str) -> None:
    """Meta's X-Hub-Signature-256: ``sha256=`` + HMAC-SHA256 of the raw body with the app secret."""
    if not header:
        raise SignatureMissing("missing X-Hub-Signature-256")
    scheme, _, digest = header.partition("=")
    if scheme != "sha256" or not app_secret:
        raise PermissionDenied("wrong X-Hub-Signature-256")
    if not hmac.compare_digest(digest.strip().lower().encode(), hmac_sha256_hex(app_secret, body).encode()):
        raise PermissionDenied("wrong X-Hub-Signature-256")


def twilio_signature(url: str, params: Mapping[str, list[str]] | Mapping[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the full URL followed by every POST
    parameter's name and value, sorted by name (repeated names: each value, in order)."""
    data = url
    for name in sorted(params):
        values = params[name]
        for value in values if isinstance(values, list) else [values]:
            data += f"{name}{value}"
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def check_twilio_signature(header: str | None, url: str, params: Mapping[str, list[str]], auth_token: str) -> None:
    if not header:
        raise SignatureMissing("missing X-Twilio-Signature")
    if not auth_token or not hmac.compare_digest(header.encode(), twilio_signature(url, params, auth_token).encode()):
        raise PermissionDenied("wrong X-Twilio-Signature")
