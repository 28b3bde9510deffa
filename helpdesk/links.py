"""Absolute links for places without a request: emails sent by Celery tasks, signed media
URLs handed to messaging platforms, webhook payloads.

Request-bound views should keep ``request.build_absolute_uri``; everything else uses
``absolute_url`` so the one setting ``PARLEY_PUBLIC_URL`` decides the host customers see.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


def absolute_url(path: str) -> str:
    """``path`` (starting with "/") on the public base URL."""
    if not path.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {path!r}")
    return f"{settings.PARLEY_PUBLIC_URL}{path}"


def absolute_reverse(viewname: str, *args: object, **kwargs: object) -> str:
    """``reverse`` then ``absolute_url``: the public link to a named view."""
    return absolute_url(reverse(viewname, args=args or None, kwargs=kwargs or None))
