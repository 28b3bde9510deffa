"""Rate limits: per API key, per signed-in user for sessions, per address otherwise.

The default throttle (REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]); counters live in the
default cache, Redis in full mode, so every process shares them. Rates come from the
settings ``API_THROTTLE_RATE`` (default ``1200/min``) and ``API_THROTTLE_ANON_RATE``
(``60/min``), read on each request so tests and operators can change them. Over the
limit: 429 problem with ``Retry-After``. Views need nothing; a view may set
``throttle_scope_suffix = "bulk"`` to count in a separate bucket of the same rate.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from helpdesk.ratelimit import client_ip


class ApiRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read per request (not at import): settings overrides take effect at once.
        return settings.API_THROTTLE_RATE

    def allow_request(self, request: Any, view: Any) -> bool:
        # The rate may differ between requests (settings changed): parse it every time.
        self.rate = self.get_rate() if getattr(request, "user", None) and request.user.is_authenticated else settings.API_THROTTLE_ANON_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        from tickets.api.models import ApiKey

        suffix = getattr(view, "throttle_scope_suffix", "")
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            # The project's rule (PARLEY_TRUSTED_PROXIES), not DRF's default, which would take
            # X-Forwarded-For as sent: a client could pick a fresh address per request.
            ident = f"addr:{client_ip(request._request)}"
        return f"throttle:api{':' + suffix if suffix else ''}:{ident}"
