"""IMAP login with OAuth2 (SASL XOAUTH2), for Google Workspace / Gmail and Microsoft 365.

Both providers turn off password logins for IMAP; a mailbox is then opened with a short-lived
access token. The channel keeps what never changes (``imap.oauth2.token_url``, ``client_id``,
optional ``scope``) in its config and the two secrets (``imap_oauth2_client_secret``,
``imap_oauth2_refresh_token``) encrypted in its secrets, and Parley trades the refresh token
for an access token (RFC 6749 section 6, the ``refresh_token`` grant) at the token endpoint.

Access tokens are cached in the process until ``EXPIRY_MARGIN_SECONDS`` before they expire,
keyed by endpoint, client and a hash of the secrets (a changed secret never reuses a token
made with the old one). A cached token the server refuses (revoked, or the account's
sessions were reset) is dropped and a fresh one tried once; a freshly made token that is
refused is an authentication failure like a wrong password.

A new refresh token in the endpoint's answer (Microsoft rotates them) is not stored: the
old one stays valid until it expires or is revoked (Microsoft: 90 days of inactivity).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from imapclient.exceptions import LoginError

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from channels_inbox.adapters.email.config import ImapSettings

# A token this close to its expiry is not used: the IMAP session starts after the check.
EXPIRY_MARGIN_SECONDS = 120
# When the endpoint does not say (expires_in is optional in RFC 6749).
DEFAULT_LIFETIME_SECONDS = 3600
TOKEN_TIMEOUT_SECONDS = 20.0


class OAuth2Error(Exception):
    """No access token: the endpoint refused the refresh token or could not be reached."""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()


_cache: dict[str, _Token] = {}
_lock = threading.Lock()


def _key(imap: ImapSettings) -> str:
    secrets = f"{imap.oauth2_client_secret}\0{imap.oauth2_refresh_token}\0{imap.oauth2_scope}".encode()
    return f"{imap.oauth2_token_url}\0{imap.oauth2_client_id}\0{hashlib.sha256(secrets).hexdigest()}"


def clear_cache() -> None:
    """Forget every cached access token (tests; a process restart does the same)."""
    with _lock:
        _cache.clear()


def access_token(imap: ImapSettings, *, refresh: bool = False) -> tuple[str, bool]:
    """(an access token for the mailbox, whether it came from the cache).

    ``refresh`` skips the cache. One refresh at a time per process: workers polling the same
    mailbox do not all call the endpoint when the token runs out.
    """
    key = _key(imap)
    with _lock:
        cached = _cache.get(key)
        if not refresh and cached is not None and cached.expires_at - EXPIRY_MARGIN_SECONDS > time.monotonic():
            return cached.value, True
        token = _refresh(imap)
        _cache[key] = token
        return token.value, False


def _refresh(imap: ImapSettings) -> _Token:
    if not (imap.oauth2_token_url and imap.oauth2_client_id and imap.oauth2_refresh_token):
        raise OAuth2Error("the channel's OAuth2 settings are incomplete (token URL, client id, refresh token)")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": imap.oauth2_refresh_token,
        "client_id": imap.oauth2_client_id,
    }
    if imap.oauth2_client_secret:
        form["client_secret"] = imap.oauth2_client_secret
    if imap.oauth2_scope:
        form["scope"] = imap.oauth2_scope
    started = time.monotonic()
    try:
        response = httpx.post(
            imap.oauth2_token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=TOKEN_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise OAuth2Error(f"token endpoint {imap.oauth2_token_url} unreachable: {type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if response.status_code != 200:
        reason = " ".join(str(body.get(k, "")) for k in ("error", "error_description")).strip()
        raise OAuth2Error(
            f"token endpoint answered {response.status_code}" + (f": {reason[:300]}" if reason else "")
        )
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise OAuth2Error("token endpoint answered without an access_token")
    try:
        lifetime = float(body.get("expires_in", DEFAULT_LIFETIME_SECONDS))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_SECONDS
    return _Token(value=value, expires_at=started + lifetime)


def oauth2_login(client: IMAPClient, imap: ImapSettings) -> None:
    """AUTHENTICATE XOAUTH2 as ``imap.username``; one fresh token after a refused cached one.

    Raises ``LoginError`` when the server refuses a fresh token, ``OAuth2Error`` when no
    token can be had.
    """
    token, cached = access_token(imap)
    try:
        client.oauth2_login(imap.username, token)
    except LoginError:
        if not cached:
            raise
        token, _ = access_token(imap, refresh=True)
        client.oauth2_login(imap.username, token)
