"""How a message's body is shown to agents: new part first, quoted history folded, inline images."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from helpdesk.html import sanitize_html
from tickets.models import Message
from tickets.quoting import split_html, split_text

register = template.Library()

_CID_RE = re.compile(r"""(src\s*=\s*["'])cid:([^"']+)(["'])""", re.IGNORECASE)


def _with_inline_images(html: str, message: Message) -> str:
    """Point ``cid:`` images at the stored inline attachments (served after a permission check)."""
    by_cid = {a.content_id.strip("<>"): a for a in message.attachments.all() if a.content_id and a.file}
    if not by_cid:
        return html

    def replace(match: re.Match[str]) -> str:
        attachment = by_cid.get(match.group(2).strip("<>"))
        if attachment is None:
            return match.group(0)
        url = reverse("tickets:attachment", args=[message.ticket.number, attachment.pk])
        return f"{match.group(1)}{url}{match.group(3)}"

    return _CID_RE.sub(replace, html)


@register.simple_tag
def message_body(message: Message) -> dict[str, Any]:
    """{"visible": safe html, "quoted": safe html or ""} for the ticket timeline."""
    if message.html:
        visible, quoted = split_html(_with_inline_images(message.html, message))
        # Each half is sanitized again: a cut can leave tags open, nh3 closes them.
        return {"visible": mark_safe(sanitize_html(visible)), "quoted": mark_safe(sanitize_html(quoted)) if quoted else ""}
    visible, quoted = split_text(message.text)
    return {
        "visible": SafeString(linebreaks(escape(visible))),
        "quoted": SafeString(linebreaks(escape(quoted))) if quoted else "",
    }
