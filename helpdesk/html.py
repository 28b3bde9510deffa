"""HTML in and out: sanitize what strangers send, derive plain text from HTML.

Every HTML path (email bodies, chat, notes, macros) goes through ``sanitize_html``
before it is stored, so templates can render stored html as is.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

import nh3

_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "center"}
_ALLOWED_TAGS -= {"map", "area"}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"title", "lang", "dir", "align"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "font": {"color"},
}
# cid: keeps inline email images (rewritten to attachment URLs when shown).
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
# Removed with their content, not just unwrapped: code, styles, the document title, and
# elements whose content the HTML parser reads as raw text (it would come out as escaped
# markup such as "&lt;script&gt;").
_CLEAN_CONTENT_TAGS = {"script", "style", "title", "iframe", "noscript", "noembed", "noframes", "xmp", "template"}
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _storable(text: str) -> str:
    """No NUL (PostgreSQL text cannot hold it) and no lone surrogates (not encodable)."""
    return _SURROGATE_RE.sub("\ufffd", text.replace("\x00", ""))


def sanitize_html(html: str) -> str:
    """Return ``html`` with scripts, event handlers, styles and dangerous URLs removed."""
    if not html:
        return ""
    return nh3.clean(
        _storable(html),
        tags=_ALLOWED_TAGS,
        clean_content_tags=_CLEAN_CONTENT_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"}
    _SKIP = {"script", "style", "head", "title", "iframe", "noscript", "noembed", "noframes", "xmp", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag in self._BLOCK and tag != "li":  # the next item starts its own line: no blank line between items
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body, for messages that came with HTML only (search, previews, SMS)."""
    if not html:
        return ""
    html = _storable(html)
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # a parser failure must never lose the message: fall back to tag stripping
        return html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).strip()
    text = "".join(parts for parts in parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
