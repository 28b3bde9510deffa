"""MIME parts: parsing, content types, parameters, bodies and attachments."""

from __future__ import annotations

import io
import mimetypes
import quopri
import re
import unicodedata
from collections.abc import Iterator
from email import policy
from email.generator import BytesGenerator
from email.message import Message as StdMessage
from email.parser import BytesParser

from channels_inbox.adapters.base import EnvelopeAttachment
from channels_inbox.adapters.email.decoding import (
    FOLD_RE,
    SURROGATE_RE,
    clean_line,
    clean_text,
    decode_b,
    decode_bytes,
    decode_header_value,
    fix_surrogates,
    header_text,
    raw_headers,
)
from channels_inbox.exceptions import ParseError

# The modern policy first (the standard library's default); the legacy one only as a fallback
# for structures it refuses. Headers are decoded by our own code from their raw bytes either way.
_PARSE_POLICIES = (policy.default, policy.compat32)
# Writes an attached message back as it arrived: no refolding, 8-bit bytes left alone.
_VERBATIM = policy.default.clone(refold_source="none", cte_type="8bit", linesep="\r\n")
_MAX_DEPTH = 30  # MIME nesting deeper than this is an attack, not a message


# --- Parts ----------------------------------------------------------------------------


def parse_message(data: bytes, *, headersonly: bool = False) -> StdMessage:
    last: Exception | None = None
    for parse_policy in _PARSE_POLICIES:
        try:
            return BytesParser(policy=parse_policy).parsebytes(data, headersonly=headersonly)
        except Exception as exc:  # noqa: BLE001 - try the next parser
            last = exc
    raise ParseError(f"unparseable message: {last!r}")


def headers_of(data: bytes) -> StdMessage | None:
    """The headers of an attached message, or None when even they cannot be read."""
    try:
        return parse_message(data, headersonly=True)
    except ParseError:
        return None


_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")


def part_content_type(part: StdMessage) -> str:
    """The part's type; an unreadable one counts as the default type, as RFC 2045 says."""
    try:
        value = clean_line(part.get_content_type()).lower()
    except Exception:  # noqa: BLE001
        value = ""
    return value if _CONTENT_TYPE_RE.match(value) else part.get_default_type()


def part_disposition(part: StdMessage) -> str:
    value = header_text(part, "Content-Disposition")
    return value.split(";", 1)[0].strip().lower()


def mime_params(part: StdMessage) -> StdMessage:
    """The part's Content-Type and Content-Disposition, raw bytes repaired, for parameter lookups.

    The legacy parameter parser handles RFC 2231 (``filename*=UTF-8''...``, continuations)
    and keeps backslashes, but it turns raw 8-bit bytes into U+FFFD; repaired first, a
    name written in raw UTF-8 or Latin-1 survives.
    """
    view = StdMessage(policy=policy.compat32)
    for name in ("Content-Type", "Content-Disposition"):
        for value in raw_headers(part, name):
            view[name] = SURROGATE_RE.sub("\ufffd", fix_surrogates(FOLD_RE.sub("", value)))
    return view


def _charset(part: StdMessage) -> str | None:
    try:
        return mime_params(part).get_content_charset()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        return None


def _filename(part: StdMessage) -> str:
    """The sender's name for a part: RFC 2231 parameters, RFC 2047 words or raw bytes."""
    try:
        name = mime_params(part).get_filename()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        name = None
    return decode_header_value(name) if isinstance(name, str) else ""


def _part_bytes(part: StdMessage) -> bytes:
    """A leaf's content with its transfer encoding undone (b"" for a split multipart).

    Only ``get_payload(decode=True)`` is safe on hostile parts: without ``decode`` the
    standard library decodes 8-bit content with the declared charset, whatever codec
    that names.
    """
    if part.is_multipart():
        return b""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    return data if isinstance(data, bytes) else b""


def _attached_message_bytes(part: StdMessage) -> bytes:
    """The bytes of a message/* part's content (a forwarded mail, a delivery report) as sent.

    The parser has split the content into header blocks; writing the part back without
    refolding and dropping its own MIME headers gives the attached bytes. Some clients
    base64-encode attached messages although RFC 2046 forbids it; that is undone too.
    """
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_VERBATIM).flatten(part)
    except Exception:  # noqa: BLE001
        return _part_bytes(part)
    flat = buffer.getvalue()
    body = flat[2:] if flat.startswith(b"\r\n") else flat.partition(b"\r\n\r\n")[2]
    encoding = header_text(part, "Content-Transfer-Encoding").lower()
    if encoding == "base64":
        return decode_b(body.decode("ascii", "replace"))
    if encoding == "quoted-printable":
        return quopri.decodestring(body)
    return body


# A delimiter line followed by a MIME header: "------------" in a plain-text body is no boundary.
_BOUNDARY_LINE_RE = re.compile(
    rb"^--([0-9A-Za-z'()+_,./:=?-]{1,200})[ \t]*\r?\n(?=content-[a-z-]+:)", re.MULTILINE | re.IGNORECASE
)


def _resplit(part: StdMessage, content_type: str) -> list[StdMessage]:
    """The sub-parts of a multipart whose boundary parameter is missing or wrong.

    The first delimiter-looking line followed by a MIME header names the boundary the
    body really uses; the body is parsed again with it. [] when there is none.
    """
    body = _part_bytes(part)
    match = _BOUNDARY_LINE_RE.search(body)
    if match is None:
        return []
    header = f'Content-Type: {content_type}; boundary="{match.group(1).decode("ascii")}"\r\n\r\n'.encode("ascii")
    try:
        recovered = parse_message(header + body)
    except ParseError:
        return []
    return recovered.get_payload() if recovered.is_multipart() else []


def leaves(part: StdMessage, alternative: int | None = None, depth: int = 0) -> Iterator[tuple[StdMessage, str, int | None]]:
    """(part, content type, id of its nearest multipart/alternative) for every leaf, in order.

    Attached messages and reports (message/*) are leaves, not descended into. A
    multipart that cannot be split even on a sniffed boundary is one leaf, read as text.
    """
    content_type = part_content_type(part)
    if content_type.startswith("multipart/") and depth < _MAX_DEPTH:
        subparts = (part.get_payload() if part.is_multipart() else None) or _resplit(part, content_type)
        if subparts:
            group = id(part) if content_type == "multipart/alternative" else alternative
            for sub in subparts:
                yield from leaves(sub, group, depth + 1)
            return
    yield part, content_type, alternative


def is_body(part: StdMessage, content_type: str) -> bool:
    if content_type.startswith("multipart/"):
        return True  # a multipart we could not split: its raw text is all there is
    if content_type not in ("text/plain", "text/html"):
        return False
    disposition = part_disposition(part)
    if disposition == "attachment":
        return False
    return disposition == "inline" or not _filename(part)


_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def body_text(part: StdMessage, content_type: str) -> str:
    data = _part_bytes(part)
    charset = _charset(part)
    if not charset and content_type == "text/html":
        # No MIME label: the document's own <meta charset> is the best word we have.
        match = _META_CHARSET_RE.search(data[:4096])
        charset = match.group(1).decode("ascii") if match else None
    return clean_text(decode_bytes(data, charset))


# Extensions for unnamed parts: Python's own table only (the host's /etc/mime.types would
# make names differ between machines), and the common mail types it lacks or is vague on.
_MIME_TYPES = mimetypes.MimeTypes()
_EXTENSIONS = {"application/octet-stream": ".bin", "text/plain": ".txt", "text/calendar": ".ics", "message/rfc822": ".eml"}


def safe_filename(name: str, content_type: str, index: int) -> str:
    """A display-safe file name: no directories, no control or bidi characters, a sane length."""
    name = fix_surrogates(name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if unicodedata.category(ch)[0] == "Z" else ch  # any space or separator becomes a plain space
        for ch in unicodedata.normalize("NFC", name)
        if unicodedata.category(ch)[0] != "C"  # controls, NUL, bidi overrides
    )
    name = " ".join(name.split()).strip(" .")
    if not name:
        extension = (
            _EXTENSIONS.get(content_type)
            or _MIME_TYPES.guess_extension(content_type)
            or (".txt" if content_type.startswith(("text/", "message/")) else ".bin")
        )
        name = f"attachment-{index}{extension}"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + "." + ext[:8]) if dot and len(ext) <= 8 else name[:200]
    return name


def build_attachment(part: StdMessage, content_type: str, index: int) -> EnvelopeAttachment:
    """An attachment with all its bytes (the size limit is applied by the caller)."""
    name = _filename(part)
    if content_type in ("message/rfc822", "message/global"):
        data = _attached_message_bytes(part)
        if not name:
            attached = headers_of(data) if data else None
            subject = header_text(attached, "Subject") if attached is not None else ""
            # The subject names the file, but it is no path: "A/B test" stays one name.
            name = subject.replace("/", "-").replace("\\", "-")[:150] or "forwarded-message"
        filename = safe_filename(name, content_type, index)
        if not filename.lower().endswith(".eml"):
            filename += ".eml"
    else:
        data = _attached_message_bytes(part) if content_type.startswith("message/") else _part_bytes(part)
        filename = safe_filename(name, content_type, index)
    return EnvelopeAttachment(
        filename=filename,
        content_type=content_type[:255],
        size=len(data),
        data=data,
        content_id=header_text(part, "Content-ID").strip("<> ")[:255],
        # Inline when it says so, or when the html shows it although it says "attachment"
        # (set by parse_email, which has the html).
        is_inline=False,
    )
