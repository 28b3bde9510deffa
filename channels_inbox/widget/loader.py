"""The live-chat widget's loader script (``/widget/<key>.js``) and its demo host page.

A site embeds the widget with one tag, ``<script src="https://HOST/widget/<key>.js" async>``.
The loader answers a single JavaScript file: the widget's code and styles from
``static/widget/`` followed by ``ParleyWidget.boot({...})`` with the channel's public
settings. One request, no CDN, a short ``max-age`` so a settings change shows within
minutes, and an ETag so a returning visitor's browser revalidates with a 304.

Settings come from ``Channel.config["widget"]``, checked by ``channels_inbox.widget.config``
(a colour that is a colour, a known position); values the page must not see
(``allowed_origins``, the verification secret) never leave the server. The settings
are written as a JSON literal with ``<``, ``>``, ``&`` and the JavaScript line separators
escaped, so no value (a greeting of ``</script><script>…``) can end the script or the string.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe

from channels_inbox.models import Channel
from channels_inbox.widget.config import WidgetSettings
from channels_inbox.widget.selectors import chat_channel

# What the loader sends: these static files, in this order, inside one response.
WIDGET_JS = "widget/widget.js"
WIDGET_CSS = "widget/widget.css"
MAX_AGE_SECONDS = 300
_JS_UNSAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}
_sources: dict[str, tuple[float, str]] = {}


def demo_chat_channel() -> Channel | None:
    """The channel the demo page embeds: the demo's "Website chat", else the first active chat channel."""
    chats = Channel.objects.filter(kind=Channel.Kind.CHAT, is_active=True).order_by("pk")
    return chats.filter(name="Website chat").first() or chats.first()


def public_settings(channel: Channel) -> dict[str, Any]:
    """What the page may know of a chat channel: the checked public settings (never the
    allowed origins or the secret), its name as the panel's title, and the upload limits
    the widget checks before sending (the server checks again)."""
    return {
        **WidgetSettings.from_config(channel.config).public(),
        "key": channel.public_key,
        "title": channel.name[:80],
        "max_text": settings.PARLEY_WIDGET_MAX_MESSAGE_CHARS,
        "upload": {"max_bytes": settings.PARLEY_WIDGET_MAX_UPLOAD_BYTES, "types": list(settings.PARLEY_WIDGET_UPLOAD_TYPES)},
    }


def js_literal(value: Any) -> str:
    """A JSON value safe anywhere in a script, even inlined in HTML: ASCII-only (so U+2028
    and U+2029 are escaped), and no ``<``, ``>`` or ``&`` to end a script element."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).translate(
        _JS_UNSAFE
    )


def _static_source(path: str) -> str:
    """A static file's text (scripts as ASCII), re-read when it changes (one stat per request)."""
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(path)
    mtime = Path(found).stat().st_mtime
    cached = _sources.get(path)
    if cached is None or cached[0] != mtime:
        text = Path(found).read_text(encoding="utf-8")
        cached = (mtime, _ascii_js(text) if path.endswith(".js") else text)
        _sources[path] = cached
    return cached[1]


def _ascii_js(source: str) -> str:
    """The widget's source with every non-ASCII character (in its strings and comments) as a
    ``\\uXXXX`` escape: the script reads the same whatever charset the host page assumes."""
    return re.sub(
        r"[^\x00-\x7f]",
        lambda m: "".join(f"\\u{u:04x}" for u in _utf16(m.group())),
        source,
    )


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def loader_script(*, channel: Channel, base_url: str) -> str:
    """The whole script a host page receives for this channel (ASCII only)."""
    config = {
        **public_settings(channel),
        "base": base_url.rstrip("/"),
        "css": _static_source(WIDGET_CSS),
    }
    return f"{_static_source(WIDGET_JS)}\nwindow.ParleyWidget.boot({js_literal(config)});\n"


def _javascript(
    body: str, *, status: int = 200, max_age: int = MAX_AGE_SECONDS
) -> HttpResponse:
    response = HttpResponse(
        body, status=status, content_type="text/javascript; charset=utf-8"
    )
    response["Cache-Control"] = f"public, max-age={max_age}"
    # Loaded by other sites' pages: allowed across origins whatever the server's defaults.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_safe
@gzip_page
def widget_script(request: HttpRequest, key: str) -> HttpResponse:
    """The loader: widget code, styles and this channel's settings; a harmless comment and 404 otherwise."""
    channel = chat_channel(key=key)
    if channel is None:
        return _javascript(
            "/* Parley: no active chat widget has this key. */\n",
            status=404,
            max_age=60,
        )
    body = loader_script(channel=channel, base_url=request.build_absolute_uri("/"))
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        not_modified["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
        return not_modified
    response = _javascript(body)
    response["ETag"] = etag
    return response


@require_safe
def widget_demo(request: HttpRequest) -> HttpResponse:
    """A pretend customer's web site that embeds the widget, so `make run` shows it working."""
    channel = demo_chat_channel()
    return render(
        request,
        "widget/demo.html",
        {"channel": channel},
        status=200 if channel else 404,
    )
