"""Who is calling: an API key (``Authorization: Bearer prl_...``) or the browser's session.

Both are in ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``; a view needs nothing.
After authentication ``request.user`` is the acting user (the key's user) and
``request.auth`` is the ``ApiKey`` (None for a session). Missing credentials answer 401
with ``WWW-Authenticate: Bearer``; a malformed, unknown or revoked key answers 401.
A session request that changes something needs the CSRF token, as every form does.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from tickets.api import keys


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw or " " in raw:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <key>'.")
        key = keys.api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is not valid or was revoked.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The user this API key acts as is deactivated.")
        keys.api_key_touch(key=key)
        return key.user, key

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session (Swagger UI, the workspace's own scripts), CSRF enforced."""
