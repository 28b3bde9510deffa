"""How a message's body is shown to agents: new part first, quoted history folded, inline images.

Folding and sanitising an HTML email costs one to a few milliseconds per message, every
time the ticket is shown, for a result that only changes when the message does. So an HTML
body is rendered once and kept in the cache (a day) under a hash of everything it depends
on (the HTML, the inline images' attachment ids and the ticket's number, and the code that
renders it): an edited message, a moved attachment or a fix to the sanitiser gives a new
key, so nothing is ever invalidated by hand. Plain-text bodies (chat, most replies) cost
about a tenth of a millisecond and are rendered each time: cheaper than fetching them.
``message_bodies`` prepares a whole timeline with one cache round trip; the
``message_body`` tag reads from it.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
from collections.abc import Iterable
from typing import Any

from django import template
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from helpdesk import html as html_module
from helpdesk.html import sanitize_html
from tickets import quoting
from tickets.models import Message
from tickets.quoting import split_html, split_text

register = template.Library()
logger = logging.getLogger(__name__)

_CID_RE = re.compile(r"""(src\s*=\s*["'])cid:([^"']+)(["'])""", re.IGNORECASE)
_CACHE_SECONDS = 24 * 3600


def _code_fingerprint() -> str:
    """Changes whenever the code that renders a body does (this module, the quote folding,
    the sanitiser and its nh3 version), so cached bodies never outlive a fix to it."""
    digest = hashlib.blake2b(digest_size=8)
    for module in (html_module, quoting):
        try:
            digest.update(inspect.getsource(module).encode())
        except (OSError, TypeError):  # no source shipped: fall back to the module's name
            digest.update(module.__name__.encode())
    try:
        digest.update(inspect.getsource(_render).encode())
    except (OSError, TypeError):
        digest.update(b"_render")
    digest.update(str(getattr(html_module.nh3, "__version__", "")).encode())
    return digest.hexdigest()


def _inline_images(message: Message) -> dict[str, Any]:
    return {a.content_id.strip("<>"): a for a in message.attachments.all() if a.content_id and a.file}


def _with_inline_images(html: str, message: Message, by_cid: dict[str, Any]) -> str:
    """Point ``cid:`` images at the stored inline attachments (served after a permission check)."""
    if not by_cid:
        return html

    def replace(match: re.Match[str]) -> str:
        attachment = by_cid.get(match.group(2).strip("<>"))
        if attachment is None:
            return match.group(0)
        url = reverse("tickets:attachment", args=[message.ticket.number, attachment.pk])
        return f"{match.group(1)}{url}{match.group(3)}"

    return _CID_RE.sub(replace, html)


def _render(message: Message, by_cid: dict[str, Any]) -> tuple[str, str]:
    """(visible html, folded quote html or "") — both already safe to show."""
    if message.html:
        visible, quoted = split_html(_with_inline_images(message.html, message, by_cid))
        # Each half is sanitized again: a cut can leave tags open, nh3 closes them.
        return sanitize_html(visible), sanitize_html(quoted) if quoted else ""
    visible, quoted = split_text(message.text)
    return linebreaks(escape(visible)), linebreaks(escape(quoted)) if quoted else ""


_FINGERPRINT = _code_fingerprint()


def _cache_key(message: Message, by_cid: dict[str, Any]) -> str:
    """For an HTML message: its HTML and, when it has inline images, what their URLs hold."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(message.html.encode("utf-8", "surrogatepass"))
    if by_cid:  # inline images link through the ticket's number and the attachments' ids
        digest.update(f"\0{message.ticket.number}\0".encode())
        digest.update(repr(sorted((cid, a.pk) for cid, a in by_cid.items())).encode("utf-8", "surrogatepass"))
    return f"parley:message-body:{_FINGERPRINT}:{digest.hexdigest()}"


def _as_body(rendered: tuple[str, str]) -> dict[str, Any]:
    visible, quoted = rendered
    # Both parts were rendered by render_body: sanitized HTML (nh3) or escaped text.
    return {"visible": mark_safe(visible), "quoted": mark_safe(quoted) if quoted else SafeString("")}  # noqa: S308


def message_bodies(messages: Iterable[Message]) -> dict[int, dict[str, Any]]:
    """Bodies of many messages by id: HTML ones with one cache read (and one write for those
    rendered now), plain-text ones rendered directly.

    The cache is an optimisation only: when it fails, bodies are rendered as if it were empty."""
    bodies: dict[int, dict[str, Any]] = {}
    wanted = {}
    for message in messages:
        if message.html:
            by_cid = _inline_images(message)
            wanted[message.pk] = (message, by_cid, _cache_key(message, by_cid))
        else:
            bodies[message.pk] = _as_body(_render(message, {}))
    if not wanted:
        return bodies
    try:
        cached = cache.get_many([key for _, _, key in wanted.values()])
    except Exception:
        logger.warning("message body cache unavailable", exc_info=True)
        cached = None
    fresh = {}
    for pk, (message, by_cid, key) in wanted.items():
        rendered = cached.get(key) if cached is not None else None
        if not (isinstance(rendered, tuple) and len(rendered) == 2):
            rendered = _render(message, by_cid)
            fresh[key] = rendered
        bodies[pk] = _as_body(rendered)
    if fresh and cached is not None:
        try:
            cache.set_many(fresh, _CACHE_SECONDS)
        except Exception:
            logger.warning("message body cache unavailable", exc_info=True)
    return bodies


@register.simple_tag(takes_context=True)
def message_body(context: template.Context, message: Message) -> dict[str, Any]:
    """{"visible": safe html, "quoted": safe html or ""} for the ticket timeline; from the
    page's ``message_bodies`` when the view prepared them, else rendered for this one."""
    prepared = context.get("message_bodies")
    if prepared and message.pk in prepared:
        return prepared[message.pk]
    return message_bodies([message])[message.pk]


# Dates on the ticket page: a timeline shows one or two per line, and Django's general
# ``date`` filter (format-string parsing, translation lookups) costs ~50 times more than
# strftime for the same fixed, language-neutral formats. Same output as
# ``|date:"Y-m-d H:i"`` and ``|date:"Y-m-d"`` in the current time zone.


def _local(value: Any) -> Any:
    from django.utils import timezone

    if value is None or value == "":
        return None
    if getattr(value, "tzinfo", None) is not None and hasattr(value, "hour"):
        return timezone.localtime(value)
    return value


@register.filter(expects_localtime=False)
def stamp(value: Any) -> str:
    """``2026-11-23 17:05`` (like ``|date:"Y-m-d H:i"``)."""
    value = _local(value)
    return value.strftime("%Y-%m-%d %H:%M") if value is not None and hasattr(value, "hour") else ""


@register.filter(expects_localtime=False)
def day(value: Any) -> str:
    """``2026-11-23`` (like ``|date:"Y-m-d"``)."""
    value = _local(value)
    return value.strftime("%Y-%m-%d") if value is not None and hasattr(value, "year") else ""
