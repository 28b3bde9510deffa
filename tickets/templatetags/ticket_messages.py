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
from django.template.defaultfilters import filesizeformat
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


def attachments_of(message: Message) -> list[Any]:
    """The message's attachments: the timeline's prefetched list
    (``selectors.ticket_page_timeline``), else read now."""
    prefetched = getattr(message, "timeline_attachments", None)
    return list(message.attachments.all()) if prefetched is None else prefetched


def _inline_images(message: Message) -> dict[str, Any]:
    return {a.content_id.strip("<>"): a for a in attachments_of(message) if a.content_id and a.file}


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


# The timeline: one string for all its lines, made in Python. A 30-message conversation
# cost ~930 template variable lookups, two includes and a ``{% with %}`` per line (about
# 5 ms of a ticket page on our reference machine); here each line is one f-string with
# the same markup the templates wrote (tests/tickets/test_ticket_page.py), every text
# from the database escaped with ``html.escape`` (what Django's autoescape uses) and the
# URLs reversed once per page.

_MARK, _MARK2 = "987654321", "987654322"
_DIRECTION_LABELS = {"note": "Internal note", "inbound": "Customer message"}


def _url_maker(name: str, marks: tuple[str, ...]) -> Any:
    """``reverse`` once with marker numbers, then fill in the real ones per line."""
    url = reverse(name, args=list(marks))
    head, _, rest = url.partition(marks[0])
    if len(marks) == 1:
        return lambda a: f"{head}{a}{rest}"
    middle, _, tail = rest.partition(marks[1])
    return lambda a, b: f"{head}{a}{middle}{b}{tail}"


def _message_line(
    m: Message, *, body: dict[str, Any], number: int, csrf: str, preview_types: Any, urls: dict[str, Any]
) -> str:
    at = stamp(m.created_at)
    direction = m.direction
    if m.author_customer is not None:
        author = escape(m.author_customer)
    elif m.author_user is not None:
        author = escape(m.author_user.get_full_name() or m.author_user)
    else:
        author = "System"
    kind = (
        '<span class="chip chip-note">Internal note</span>'
        if direction == "note"
        else f'<span class="direction">{escape(m.get_direction_display())}</span>'
    )
    delivery = (
        f'<span class="delivery delivery-{escape(m.delivery_status)}">{escape(m.get_delivery_status_display())}</span>'
        if m.delivery_status
        else ""
    )
    recipients = ""
    if m.to or m.cc:
        to = f"to {', '.join(escape(v) for v in m.to)}" if m.to else ""
        cc = f" · cc {', '.join(escape(v) for v in m.cc)}" if m.cc else ""
        recipients = f'<span class="recipients">{to}{cc}</span>'
    quoted = (
        f'<details class="quoted"><summary>Show quoted text</summary><div class="body">{body["quoted"]}</div></details>'
        if body["quoted"]
        else ""
    )
    attachments = attachments_of(m)
    files = ""
    if attachments:
        items = []
        for a in attachments:
            if a.is_inline:
                continue
            name = escape(a.filename)
            if a.file:
                url = urls["attachment"](number, a.pk)
                preview = (
                    f'<a class="attachment-preview" href="{url}"><img src="{url}" alt="{name}" loading="lazy" width="160" height="120"></a>'
                    if a.content_type in preview_types
                    else ""
                )
                link = f'\n        {preview}\n        <a href="{url}">{name}</a>\n      '
            else:
                link = name
            oversize = " — too large, not stored" if a.is_oversize else ""
            items.append(
                f'\n    <li class="attachment">\n      {link}\n'
                f'      <span class="size">({escape(filesizeformat(a.size))}){oversize}</span>\n    </li>\n  '
            )
        files = f'<ul class="attachments">{"".join(items)}</ul>'
    error = f'<p class="error">{escape(m.delivery_error)}</p>' if m.delivery_error else ""
    split = ""
    if direction == "inbound":
        split_url = urls["split"](number, m.pk)
        split = (
            f'\n  <form method="post" action="{split_url}" class="split-form"\n'
            f'        hx-post="{split_url}" hx-confirm="Move this message into a new ticket of its own?">{csrf}\n'
            '    <button type="submit" class="link-button">Split into a new ticket</button>\n  </form>\n  '
        )
    return (
        '\n<li class="timeline-message">\n'
        f'<article class="message {escape(direction)}" id="message-{m.pk}" '
        f'aria-label="{_DIRECTION_LABELS.get(direction, "Reply")} {at}">\n'
        f"  <header>\n    <strong>{author}</strong>\n    {kind}\n"
        f'    <time datetime="{m.created_at.isoformat()}">{at}</time>\n'
        f"    {delivery}\n    {recipients}\n  </header>\n  \n"
        f'  <div class="body">{body["visible"]}</div>\n  {quoted}\n  {files}\n  {error}\n  {split}\n'
        "</article>\n</li>\n"
    )


def _event_line(entry: Any, urls: dict[str, Any]) -> str:
    link = (
        f' <a href="{urls["detail"](entry.link_number)}">Open #{escape(entry.link_number)}</a>'
        if entry.link_number
        else ""
    )
    return (
        f'\n<li class="timeline-event event-{escape(entry.event.kind)}">\n'
        f'  <span class="event-text">{escape(entry.text)}{link}</span>\n'
        f'  <span class="event-meta">{escape(entry.actor)} · <time datetime="{entry.at.isoformat()}">{stamp(entry.at)}</time></span>\n'
        "</li>\n"
    )


@register.simple_tag(takes_context=True)
def timeline_lines(context: template.Context, timeline: Iterable[Any]) -> SafeString:
    """The ``<li>`` lines of the ticket's timeline (``selectors.TimelineEntry`` list)."""
    from django.template.defaulttags import CsrfTokenNode

    ticket = context.get("ticket")
    number = ticket.number if ticket is not None else None
    preview_types = context.get("preview_types") or ()
    csrf = CsrfTokenNode().render(context)
    urls = {
        "attachment": _url_maker("tickets:attachment", (_MARK, _MARK2)),
        "split": _url_maker("tickets:split", (_MARK, _MARK2)),
        "detail": _url_maker("tickets:detail", (_MARK,)),
    }
    parts = []
    for entry in timeline:
        if entry.is_message:
            m = entry.message
            line = _message_line(
                m, body=message_body(context, m), number=number, csrf=csrf, preview_types=preview_types, urls=urls
            )
        else:
            line = _event_line(entry, urls)
        parts.append(f"\n        {line}\n      ")
    if not parts:
        return mark_safe('\n        <li class="timeline-empty">No messages yet.</li>\n      ')
    return mark_safe("".join(parts))  # noqa: S308 (every database text escaped in the lines)
