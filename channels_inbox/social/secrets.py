"""Channel secrets, encrypted at rest (Fernet) and never shown back in full.

``Channel.secrets`` is an ``EncryptedJSONField``: Python code reads and writes a dict as
before, the database holds one Fernet token. The key is ``PARLEY_ENCRYPTION_KEY`` (one or
more Fernet keys, comma-separated, the first encrypts: rotate by putting the new key
first), else one derived from ``SECRET_KEY``; every listed key (and the derived one) can
decrypt, so rotating loses nothing.

A value may also be a reference to the environment, ``"env:TELEGRAM_BOT_TOKEN"``: the
secret then never enters the database at all (``secret_value`` resolves it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

logger = logging.getLogger(__name__)

_TOKEN_PREFIX = "gAAAAA"  # noqa: S105 - a format marker, not a secret; every Fernet token starts with its version byte 0x80, base64


def _derived_key(secret_key: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(f"parley.channel-secrets:{secret_key}".encode()).digest())


def _fernet() -> MultiFernet:
    configured = [k.strip() for k in (getattr(settings, "PARLEY_ENCRYPTION_KEY", "") or "").split(",") if k.strip()]
    keys = [Fernet(k.encode()) for k in configured]
    keys.append(Fernet(_derived_key(settings.SECRET_KEY)))
    return MultiFernet(keys)


def encrypt_json(value: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


class UndecryptableSecrets(dict):
    """What a row's secrets read as when no configured key opens them (SECRET_KEY changed
    without PARLEY_ENCRYPTION_KEY): empty, so adapters say "missing token"; saved back, the
    original token is kept rather than overwritten with nothing."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    if not token.startswith(_TOKEN_PREFIX):
        # Written before encryption existed (plain JSON): readable; encrypted on next save.
        try:
            value = json.loads(token)
        except ValueError:
            return UndecryptableSecrets(token)
        return value if isinstance(value, dict) else {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        logger.error("channel secrets cannot be decrypted with the configured keys")
        return UndecryptableSecrets(token)


class EncryptedJSONField(models.TextField):
    """A dict of secrets stored as one Fernet token."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        return decrypt_json(value or "")

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            return decrypt_json(value)
        return {}

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, UndecryptableSecrets):
            return value.token
        if not value:
            return ""
        if isinstance(value, str):  # already a token (or legacy JSON text)
            return value
        return encrypt_json(dict(value))

    def value_to_string(self, obj: Any) -> str:
        # dumpdata and serializers get the token, never the clear text.
        return self.get_prep_value(self.value_from_object(obj))


def secret_value(secrets: dict[str, Any], name: str) -> str:
    """A secret by name; ``"env:NAME"`` is read from the environment at the time of use."""
    value = secrets.get(name) or ""
    if not isinstance(value, str):
        value = str(value)
    if value.startswith("env:"):
        return os.environ.get(value[4:], "")
    return value


def mask(value: Any) -> str:
    """How a secret is shown in the admin: never in full. References show as written."""
    text = str(value or "")
    if not text:
        return "(not set)"
    if text.startswith("env:"):
        return f"from the environment ({text[4:]})"
    tail = text[-4:] if len(text) >= 16 else ""
    return f"set, {len(text)} characters" + (f", ending …{tail}" if tail else "")
