"""Fixed-window counters in the cache (Redis in full mode, shared by every process), and
the client's address as the rate limits see it.

Used by every public door that must not be hammered: sign-in (failed attempts), the chat
widget, survey links. A cache failure lets the request through: a rate limit must never
lose a customer's message or lock everyone out because Redis blinked.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse


def _name(scope: str, key: str, window: int) -> str:
    return f"rate:{scope}:{key}:{int(time.time() // window)}"


def allow(scope: str, key: str, *, limit: int, window: int = 60) -> bool:
    """Count one hit of ``key`` in this window; False once it is over ``limit``."""
    if limit <= 0:
        return True
    name = _name(scope, key, window)
    try:
        cache.add(name, 0, timeout=window + 5)
        return cache.incr(name) <= limit
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=window + 5)
        return True
    except Exception:
        return True


def hits(scope: str, key: str, *, window: int = 60) -> int:
    """How many hits ``key`` has in the current window, without counting one more."""
    try:
        return int(cache.get(_name(scope, key, window)) or 0)
    except Exception:
        return 0


def reset(scope: str, key: str, *, window: int = 60) -> None:
    try:
        cache.delete(_name(scope, key, window))
    except Exception:  # noqa: S110 - a counter that cannot be reset expires with its window
        pass


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, behind ``PARLEY_TRUSTED_PROXIES`` reverse
    proxies, the address the outermost trusted proxy saw (X-Forwarded-For read from the
    right, so a client cannot choose its own address by sending the header)."""
    proxies = settings.PARLEY_TRUSTED_PROXIES
    if proxies > 0:
        chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(chain) >= proxies:
            return chain[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def limit_by_ip(scope: str, setting: str, *, window: int = 60) -> Callable[[Any], Any]:
    """A view decorator: at most ``settings.<setting>`` requests per client address per
    ``window`` seconds, then 429 with Retry-After (senders that retry, like the messaging
    platforms, simply come back later)."""

    def decorate(view: Any) -> Any:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not allow(scope, client_ip(request), limit=getattr(settings, setting), window=window):
                response = HttpResponse("Too many requests; try again later.\n", status=429, content_type="text/plain")
                response["Retry-After"] = str(window)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
