"""The one HTTP client of the social channels (httpx), and how platforms' answers map to
channel errors: 429 and 5xx are transient (with the Retry-After the platform asked for),
other 4xx are permanent, network errors are transient. Every platform's base URL comes
from the channel's config, so tests point it at a local stand-in."""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils import timezone

from channels_inbox.exceptions import PermanentChannelError, TransientChannelError

# A platform asking us to wait longer than this gets this: the task retries later anyway.
MAX_RETRY_AFTER = 3600.0


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max((when - timezone.now()).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _error_detail(response: httpx.Response) -> str:
    """The platform's own words for an error, short: Telegram's description, Graph's
    error.message, Twilio's message; else the start of the body."""
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)[:300]
        for key in ("description", "message", "detail"):
            if body.get(key):
                return str(body[key])[:300]
    return json.dumps(body)[:300]


def raise_for_status(response: httpx.Response, *, platform: str, retry_after: float | None = None) -> None:
    """Map a platform's error answer to a channel error (nothing for 2xx)."""
    status = response.status_code
    if status < 400:
        return
    detail = f"{platform} answered {status}: {_error_detail(response)}"
    if status == 429:
        wait = retry_after if retry_after is not None else retry_after_seconds(response.headers.get("Retry-After"))
        raise TransientChannelError(detail, retry_after=wait)
    if status >= 500 or status in (408, 409, 425):
        raise TransientChannelError(detail, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    raise PermanentChannelError(detail)


@contextmanager
def client(*, auth: Any = None, headers: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    """A client with the configured timeout; network failures become transient errors."""
    try:
        with httpx.Client(
            timeout=settings.PARLEY_CHANNEL_HTTP_TIMEOUT, auth=auth, headers=headers or {}, follow_redirects=False
        ) as http:
            yield http
    except httpx.TransportError as exc:
        raise TransientChannelError(f"{type(exc).__name__}: {exc}") from exc


def check_public_url(url: str) -> None:
    """Refuse a URL a sender gave us unless it names a public http(s) host.

    An integration's payload may carry attachment URLs; fetched blindly, one pointing at
    127.0.0.1, the metadata service (169.254.169.254) or the office network would make
    Parley read internal addresses for whoever can send a message (SSRF). Every address
    the name resolves to must be global; redirects are not followed for such URLs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentChannelError(f"Refused to fetch {url[:200]!r}: only http(s) URLs with a host are fetched")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientChannelError(f"Could not resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            raise PermanentChannelError(
                f"Refused to fetch {parts.hostname}: it resolves to {address}, a private or reserved address"
            )


def download(
    http: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    platform: str,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = True,
) -> tuple[bytes | None, int, str]:
    """Stream a file, stopping at ``max_bytes``: (data or None when over the limit, size, content type).

    The size of an oversize file is the declared Content-Length when there is one, else
    what was read before stopping (at least max_bytes + 1)."""
    with http.stream("GET", url, headers=headers or {}, follow_redirects=follow_redirects) as response:
        if response.status_code >= 400:
            response.read()
            raise_for_status(response, platform=platform)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return None, int(declared), content_type
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                return None, size, content_type
            chunks.append(chunk)
        return b"".join(chunks), size, content_type
