"""Brute-force protection for the sign-in form.

Failed sign-ins are counted in the cache per (username, address) and per address, in
fixed windows of ``PARLEY_LOGIN_WINDOW_SECONDS``. Past ``PARLEY_LOGIN_MAX_FAILURES`` for
one username from one address, or ``PARLEY_LOGIN_MAX_FAILURES_PER_IP`` from one address
in all, that pair (or that address) is refused until the window ends, without the
password even being checked. A username alone is never locked: that would let anyone lock
an agent out of their account by guessing wrong on purpose from elsewhere.
"""

from __future__ import annotations

import logging

from django.conf import settings

from helpdesk import ratelimit

logger = logging.getLogger(__name__)


def _pair(username: str, ip: str) -> str:
    return f"{username.strip().lower()}|{ip}"


def locked(*, username: str, ip: str) -> bool:
    """Whether this attempt must be refused before checking the password."""
    window = settings.PARLEY_LOGIN_WINDOW_SECONDS
    return (
        ratelimit.hits("login-fail", _pair(username, ip), window=window) >= settings.PARLEY_LOGIN_MAX_FAILURES
        or ratelimit.hits("login-fail-ip", ip, window=window) >= settings.PARLEY_LOGIN_MAX_FAILURES_PER_IP
    )


def failed(*, username: str, ip: str) -> None:
    window = settings.PARLEY_LOGIN_WINDOW_SECONDS
    ratelimit.allow("login-fail", _pair(username, ip), limit=10**9, window=window)
    ratelimit.allow("login-fail-ip", ip, limit=10**9, window=window)
    logger.warning("failed sign-in", extra={"username": username[:150], "ip": ip})


def succeeded(*, username: str, ip: str) -> None:
    ratelimit.reset("login-fail", _pair(username, ip), window=settings.PARLEY_LOGIN_WINDOW_SECONDS)
