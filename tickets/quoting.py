"""Fold quoted history and signatures out of the way in the agent's view, losing nothing.

Mail clients quote differently: ``>`` lines and "On … wrote:" (Gmail, Apple Mail,
Thunderbird), "-----Original Message-----" or a From:/Sent: block (Outlook), ``<blockquote>``
in HTML; the signature follows a "-- " line (RFC 3676). Each splitter returns the new part
and the folded rest; when everything would fold, nothing does.
"""

from __future__ import annotations

import re

# "On Mon, 2 Nov 2026 at 10:00, Ada <ada@example.com> wrote:" and its translations.
_ATTRIBUTION_RE = re.compile(
    r"^\s*(on\b.{0,300}\bwrote|am\b.{0,300}\bschrieb|le\b.{0,300}\ba écrit|el\b.{0,300}\bescribió|op\b.{0,300}\bschreef)\s*:?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ORIGINAL_RE = re.compile(r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM_RE = re.compile(r"^\s*\**(from|von|de|van)\s*:\**\s+\S", re.IGNORECASE)
_OUTLOOK_SENT_RE = re.compile(r"^\s*\**(sent|gesendet|envoyé|enviado|verzonden|date)\s*:", re.IGNORECASE)


def split_text(text: str) -> tuple[str, str]:
    """(new text, folded quote and signature) of a plain-text message."""
    lines = text.splitlines()
    cut = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip("\r") == "-- " or stripped == "--":
            cut = i
            break
        if _ORIGINAL_RE.match(line):
            cut = i
            break
        if _OUTLOOK_FROM_RE.match(line) and any(_OUTLOOK_SENT_RE.match(n) for n in lines[i + 1 : i + 4]):
            cut = i
            break
        # An attribution line (possibly wrapped over two lines) followed by quoted lines.
        for span in (1, 2):
            head = " ".join(lines[i : i + span])
            following = next((n for n in lines[i + span :] if n.strip()), "")
            if _ATTRIBUTION_RE.match(head) and following.lstrip().startswith(">"):
                cut = i
                break
        if cut is not None:
            break
        if stripped.startswith(">") and all(not n.strip() or n.lstrip().startswith(">") for n in lines[i:]):
            cut = i
            break
    if cut is None:
        return text, ""
    visible = "\n".join(lines[:cut]).rstrip()
    if not visible.strip():
        return text, ""
    return visible, "\n".join(lines[cut:]).strip("\n")


_HTML_QUOTE_START_RE = re.compile(
    r"<blockquote\b|-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}", re.IGNORECASE
)
_HTML_OUTLOOK_RE = re.compile(
    r"(<hr\b[^>]*>\s*)?(<(div|p|span|b|strong|font)\b[^>]*>\s*)*(from|von|de)\s*:(\s*</(b|strong|span|font)>)?(?=.{0,600}?(sent|gesendet|envoyé)\s*:)",
    re.IGNORECASE | re.DOTALL,
)
_HTML_ATTRIBUTION_RE = re.compile(r"<(div|p)\b[^>]*>(?:(?!</?(?:div|p)\b).){0,400}?\b(wrote|schrieb|a écrit|escribió)\s*:", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


def split_html(html: str) -> tuple[str, str]:
    """(new part, folded quote) of a sanitized HTML message. The halves are re-sanitized by the
    caller's template tag, which closes any tag the cut left open."""
    positions = [m.start() for m in (_HTML_QUOTE_START_RE.search(html), _HTML_OUTLOOK_RE.search(html)) if m]
    if not positions:
        return html, ""
    cut = min(positions)
    attribution = None
    for match in _HTML_ATTRIBUTION_RE.finditer(html, max(0, cut - 600), cut):
        attribution = match
    if attribution is not None:
        cut = attribution.start()
    visible = html[:cut]
    if not _TAG_RE.sub("", visible).strip():
        return html, ""
    return visible, html[cut:]
