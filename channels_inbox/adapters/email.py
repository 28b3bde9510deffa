"""The email adapter: RFC 5322 / MIME in, SMTP out.

Parsing never trusts what a message says about itself. Real mail has wrong, missing or
made-up charsets, raw 8-bit bytes in headers, RFC 2047 words split inside a character,
broken or missing MIME boundaries, hostile HTML and NUL bytes. So:

- The standard library splits the message into parts, but header values are taken raw
  and decoded here (``decode_header_value``): encoded words in unknown charsets, words
  split inside a character and raw UTF-8 or Windows-1252 bytes all become readable text.
  The legacy (compat32) policy is used first because it hands over raw values; the
  modern policy's header objects replace undecodable bytes with U+FFFD before we can
  repair them, raise on some malformed headers, and drop backslashes from file names.
- Body bytes are decoded by ``decode_bytes``: the declared charset (widened to the
  superset mail programs really use: ISO-8859-1 means Windows-1252, GB2312 means
  GB18030...) unless the bytes are clean UTF-8, the most common mislabelling.
- A multipart whose boundary is missing or wrong is split again on the boundary its
  body actually uses; attached messages (forwards, bounces) stay whole ``.eml`` files.
- Every string that leaves this module is clean: no NUL (PostgreSQL rejects it), no
  surrogates, ``\\n`` line ends; html is sanitized.

Whatever can be read is kept. Only a message with no bytes or no sender address at all
is a ParseError; the pipeline quarantines it with its raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import hashlib
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
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.dateparse import parse_datetime

from channels_inbox.adapters.base import DeliveryResult, Envelope, EnvelopeAttachment, Sender
from channels_inbox.exceptions import ParseError, PermanentChannelError, TransientChannelError
from helpdesk.html import html_to_text, sanitize_html

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

# Raw header values first (compat32); the modern policy only when the legacy parser chokes.
_PARSE_POLICIES = (policy.compat32, policy.default)
# Writes an attached message back as it arrived: no refolding, 8-bit bytes left alone.
_VERBATIM = policy.default.clone(refold_source="none", cte_type="8bit", linesep="\r\n")
_MAX_DEPTH = 30  # MIME nesting deeper than this is an attack, not a message

_MSGID_RE = re.compile(r"<([^<>]*)>")
_AUTO_SUBJECT_RE = re.compile(
    # Localised subjects of out-of-office and auto-reply programs: the phrase must end the
    # subject or be followed by a colon, so a person writing about "auto reply settings"
    # is not mistaken for a machine.
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|answer)|autoreply|automatische antwort|"
    r"out of (?:the )?office(?: (?:reply|autoreply|notice))?|abwesenheit(?:snotiz)?|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|automatisch antwoord|"
    r"autosvar|automatisk svar)\s*(?::|$)",
    re.IGNORECASE,
)
_BOUNCE_SENDER_RE = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


# --- Text hygiene ---------------------------------------------------------------------

_ESCAPED_BYTES_RE = re.compile("[\udc80-\udcff]+")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_LINE_CONTROLS_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fix_surrogates(value: str) -> str:
    """Undo the surrogate escapes the parser leaves for raw 8-bit bytes.

    Senders who put UTF-8 (or Latin-1) straight into headers are common. Each run of
    escaped bytes is read as UTF-8 if it is UTF-8, else as Windows-1252, so one header
    may mix both.
    """

    def decode(match: re.Match[str]) -> str:
        raw = match.group().encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")

    return _ESCAPED_BYTES_RE.sub(decode, value)


def clean_text(value: str) -> str:
    """Body text fit to store: bytes repaired, ``\\n`` line ends, no NUL, no surrogates."""
    value = fix_surrogates(value).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _SURROGATE_RE.sub("\ufffd", value).lstrip("\ufeff")


def clean_line(value: str) -> str:
    """One line of header text: bytes repaired, no control characters, single spaces."""
    value = _SURROGATE_RE.sub("\ufffd", fix_surrogates(value))
    value = _LINE_CONTROLS_RE.sub(lambda m: " " if m.group() in "\t\n\r\x0b\x0c" else "", value)
    return " ".join(value.split())


# --- Charsets -------------------------------------------------------------------------

# What mail programs mean by a label (the WHATWG encoding standard's table, in short):
# each maps to the superset that really wrote the bytes.
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
}
# Python codecs that are not mail charsets: they raise on any input, or turn escapes
# such as "\\udc80" in the text into characters.
_NOT_MAIL_CHARSETS = {"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "charmap"}
# Labels under which valid UTF-8 is far more likely mislabelled than meant.
_WESTERN = {"cp1252", "iso8859-15"}
_UTF8_SEQUENCE_RE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def charset_codec(label: str | None) -> str | None:
    """The Python codec for a charset label, or None for a missing, unknown or unusable one."""
    if not label:
        return None
    label = label.split("*", 1)[0].strip().strip("\"'").lower()  # RFC 2231: "utf-8*en"
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL_CHARSETS:
        return None
    return _SUPERSETS.get(info.name, info.name)


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Decode text bytes whatever their label says.

    A declared multi-byte or non-Western charset is used as declared. For no label, a
    useless one, UTF-8 or a Western one, clean UTF-8 wins; bytes that are mostly UTF-8
    with a few broken sequences stay UTF-8; anything else is read as the (widened)
    declared charset or Windows-1252, which can decode every byte.
    """
    if not data:
        return ""
    codec = charset_codec(declared)
    if codec is not None and codec != "utf-8" and codec not in _WESTERN:
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError):
            try:
                return data.decode(codec, "replace")
            except (UnicodeError, LookupError):
                pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _UTF8_SEQUENCE_RE.search(data):
        return data.decode("utf-8", "replace")
    return data.decode(codec if codec in _WESTERN else "cp1252", "replace")


# --- Headers --------------------------------------------------------------------------

_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")


def _decode_b(text: str) -> bytes:
    """Base64 (an RFC 2047 "B" word, an encoded attached message), forgiving bad padding and stray characters."""
    text = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(text) % 4 == 1:
        text = text[:-1]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def _decode_q(text: str) -> bytes:
    """RFC 2047 "Q" text: underscores are spaces, =XX are bytes."""
    raw = text.replace("_", " ").encode("utf-8", "surrogateescape")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def decode_header_value(raw: str) -> str:
    """Decode a raw header value: RFC 2047 encoded words and raw 8-bit bytes.

    More forgiving than the standard library: unknown charsets fall back like bodies do,
    adjacent words in one charset are joined before decoding (senders split UTF-8
    characters across words), and encoded words inside quotes are decoded too.
    Whitespace between two encoded words is dropped, as RFC 2047 says.
    """
    value = _FOLD_RE.sub("", raw)
    chunks: list[tuple[str | None, str | bytes]] = []  # (charset, bytes) or (None, text)
    position = 0
    for match in _ENCODED_WORD_RE.finditer(value):
        between = value[position : match.start()]
        follows_word = bool(chunks) and chunks[-1][0] is not None
        if between and not (follows_word and not between.strip(" \t")):
            chunks.append((None, between))
        charset = match.group(1).split("*", 1)[0]
        data = _decode_b(match.group(3)) if match.group(2) in "bB" else _decode_q(match.group(3))
        previous = chunks[-1] if chunks else (None, "")
        if previous[0] is not None and previous[0].lower() == charset.lower():
            chunks[-1] = (charset, previous[1] + data)  # type: ignore[operator]
        else:
            chunks.append((charset, data))
        position = match.end()
    if position < len(value):
        chunks.append((None, value[position:]))
    return "".join(
        fix_surrogates(part) if charset is None else decode_bytes(part, charset)  # type: ignore[arg-type]
        for charset, part in chunks
    )


def _raw_headers(msg: StdMessage, name: str) -> list[str]:
    name = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.strip().lower() == name]


def header_text(msg: StdMessage, name: str) -> str:
    """A header (the first of that name) as one clean line of text; '' when missing."""
    values = _raw_headers(msg, name)
    return clean_line(decode_header_value(values[0])) if values else ""


def _valid_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and len(address) <= 254 and not re.search(r"[\s<>]", address)


def _addresses(msg: StdMessage, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs of an address header, tolerant of broken syntax.

    The legacy address parser works on the raw value and never raises; display names are
    decoded afterwards, so an encoded comma ("Lovelace=2C Ada") cannot split an address.
    The modern parser is a second opinion when the legacy one finds nothing.
    """
    values = [_FOLD_RE.sub("", value) for value in _raw_headers(msg, name)]
    if not values:
        return []
    try:
        pairs = getaddresses(values)
    except Exception:  # noqa: BLE001 - a parser bug must not lose the message
        pairs = []
    result = []
    for display_name, address in pairs:
        address = clean_line(address).lower()
        if _valid_address(address):
            result.append((clean_line(decode_header_value(display_name))[:200], address))
    if result:
        return result
    for value in values:
        try:
            header = policy.default.header_factory(name, value)
            pairs = [(a.display_name, a.addr_spec) for a in header.addresses]  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            continue
        for display_name, address in pairs:
            address = clean_line(address).lower()
            if _valid_address(address):
                result.append((clean_line(display_name)[:200], address))
    return result


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a Message-ID / In-Reply-To / References value, without angle brackets.

    Whitespace inside brackets is dropped (broken mailers fold inside an id); a value
    without brackets is one id, or its words that look like ids.
    """
    found = ["".join(m.split()) for m in _MSGID_RE.findall(value or "")]
    found = [m for m in found if m]
    if not found and value and value.strip():
        words = [w.strip("<>,;") for w in value.split()]
        found = [w for w in words if w] if len(words) == 1 else [w for w in words if "@" in w]
    return [m[:512] for m in found]


def parse_date(value: str) -> dt.datetime | None:
    """An aware datetime from an RFC 5322 date (or an ISO 8601 one); None when unreadable.

    A date with no zone or "-0000" is taken as UTC.
    """
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


# --- Parts ----------------------------------------------------------------------------


def _parse(data: bytes, *, headersonly: bool = False) -> StdMessage:
    last: Exception | None = None
    for parse_policy in _PARSE_POLICIES:
        try:
            return BytesParser(policy=parse_policy).parsebytes(data, headersonly=headersonly)
        except Exception as exc:  # noqa: BLE001 - try the next parser
            last = exc
    raise ParseError(f"unparseable message: {last!r}")


def _headers_of(data: bytes) -> StdMessage | None:
    """The headers of an attached message, or None when even they cannot be read."""
    try:
        return _parse(data, headersonly=True)
    except ParseError:
        return None


_CONTENT_TYPE_RE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")


def _content_type(part: StdMessage) -> str:
    """The part's type; an unreadable one counts as the default type, as RFC 2045 says."""
    try:
        value = clean_line(part.get_content_type()).lower()
    except Exception:  # noqa: BLE001
        value = ""
    return value if _CONTENT_TYPE_RE.match(value) else part.get_default_type()


def _disposition(part: StdMessage) -> str:
    value = header_text(part, "Content-Disposition")
    return value.split(";", 1)[0].strip().lower()


def _mime_params(part: StdMessage) -> StdMessage:
    """The part's Content-Type and Content-Disposition, raw bytes repaired, for parameter lookups.

    The legacy parameter parser handles RFC 2231 (``filename*=UTF-8''...``, continuations)
    and keeps backslashes, but it turns raw 8-bit bytes into U+FFFD; repaired first, a
    name written in raw UTF-8 or Latin-1 survives.
    """
    view = StdMessage(policy=policy.compat32)
    for name in ("Content-Type", "Content-Disposition"):
        for value in _raw_headers(part, name):
            view[name] = _SURROGATE_RE.sub("\ufffd", fix_surrogates(_FOLD_RE.sub("", value)))
    return view


def _charset(part: StdMessage) -> str | None:
    try:
        return _mime_params(part).get_content_charset()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        return None


def _filename(part: StdMessage) -> str:
    """The sender's name for a part: RFC 2231 parameters, RFC 2047 words or raw bytes."""
    try:
        name = _mime_params(part).get_filename()
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
        return _decode_b(body.decode("ascii", "replace"))
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
        recovered = _parse(header + body)
    except ParseError:
        return []
    return recovered.get_payload() if recovered.is_multipart() else []


def _leaves(part: StdMessage, alternative: int | None = None, depth: int = 0) -> Iterator[tuple[StdMessage, str, int | None]]:
    """(part, content type, id of its nearest multipart/alternative) for every leaf, in order.

    Attached messages and reports (message/*) are leaves, not descended into. A
    multipart that cannot be split even on a sniffed boundary is one leaf, read as text.
    """
    content_type = _content_type(part)
    if content_type.startswith("multipart/") and depth < _MAX_DEPTH:
        subparts = (part.get_payload() if part.is_multipart() else None) or _resplit(part, content_type)
        if subparts:
            group = id(part) if content_type == "multipart/alternative" else alternative
            for sub in subparts:
                yield from _leaves(sub, group, depth + 1)
            return
    yield part, content_type, alternative


def _is_body(part: StdMessage, content_type: str) -> bool:
    if content_type.startswith("multipart/"):
        return True  # a multipart we could not split: its raw text is all there is
    if content_type not in ("text/plain", "text/html"):
        return False
    disposition = _disposition(part)
    if disposition == "attachment":
        return False
    return disposition == "inline" or not _filename(part)


_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _body_text(part: StdMessage, content_type: str) -> str:
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


def _attachment(part: StdMessage, content_type: str, index: int) -> EnvelopeAttachment:
    """An attachment with all its bytes (the size limit is applied by the caller)."""
    name = _filename(part)
    if content_type in ("message/rfc822", "message/global"):
        data = _attached_message_bytes(part)
        if not name:
            attached = _headers_of(data) if data else None
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


# --- Parsing ------------------------------------------------------------------------


def parse_email(raw: bytes, *, max_attachment_bytes: int) -> Envelope:
    """Parse one RFC 5322 message into an Envelope.

    Attachments over ``max_attachment_bytes`` are recorded with their size and no data.
    Raises ParseError only for an empty message or one with no sender address.
    """
    if not raw or not raw.strip():
        raise ParseError("empty message")
    # Files saved by Windows tools may start with a byte order mark, exports with blank lines.
    data = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    msg = _parse(data.lstrip(b"\r\n"))

    senders = _addresses(msg, "From") or _addresses(msg, "Sender") or _addresses(msg, "Reply-To")
    if not senders:
        return_path = clean_line(parseaddr(header_text(msg, "Return-Path"))[1]).lower()
        if _valid_address(return_path):
            senders = [("", return_path)]
    if not senders:
        raise ParseError("no sender address (From, Sender, Reply-To and Return-Path are all missing or invalid)")
    display_name, address = senders[0]

    bodies: list[tuple[str, int | None, str]] = []  # (content type, alternative group, text)
    attachments: list[tuple[EnvelopeAttachment, str]] = []  # with the part's disposition
    for index, (part, content_type, group) in enumerate(_leaves(msg), start=1):
        if _is_body(part, content_type):
            bodies.append((content_type, group, _body_text(part, content_type)))
        else:
            attachments.append((_attachment(part, content_type, index), _disposition(part)))

    # Text: every plain body, plus the text of each html body that has no plain
    # alternative (html-only mail, an empty text/plain alternative, a list footer).
    has_plain = {group for kind, group, body in bodies if kind != "text/html" and group is not None and body.strip()}
    texts: list[str] = []
    htmls: list[str] = []
    for kind, group, body in bodies:
        if kind == "text/html":
            html_part = sanitize_html(body)
            htmls.append(html_part)
            if group is None or group not in has_plain:
                texts.append(html_to_text(html_part))
        else:
            texts.append(body)
    text = clean_text("\n\n".join(t.strip("\n") for t in texts if t.strip())).strip()
    html = clean_text("\n".join(h for h in htmls if h.strip())).strip()

    for attachment, disposition in attachments:
        shown = bool(attachment.content_id) and f"cid:{attachment.content_id}" in html
        attachment.is_inline = bool(attachment.content_id) and (disposition != "attachment" or shown)

    message_id = next(iter(message_ids(header_text(msg, "Message-ID"))), "")
    external_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    in_reply_to = next(iter(message_ids(header_text(msg, "In-Reply-To"))), "")
    references = message_ids(header_text(msg, "References"))

    subject = header_text(msg, "Subject")
    is_auto, is_bounce, reason = _automatic(msg, address, subject)
    if is_bounce and not in_reply_to:
        # A bounce names no parent; the returned message does, and threads it to its ticket.
        in_reply_to = _returned_message_id([a for a, _ in attachments])

    for attachment, _ in attachments:
        if attachment.size > max_attachment_bytes:
            attachment.data = None

    return Envelope(
        sender=Sender(kind="email", address=address, display_name=display_name),
        external_id=external_id[:512],
        subject=subject[:500],
        text=text,
        html=html,
        attachments=[a for a, _ in attachments],
        in_reply_to=in_reply_to,
        references=references,
        to=[a for _, a in _addresses(msg, "To")],
        cc=[a for _, a in _addresses(msg, "Cc")],
        sent_at=parse_date(header_text(msg, "Date")),
        language=header_text(msg, "Content-Language").split(",", 1)[0].strip()[:16],
        is_auto_reply=is_auto,
        is_bounce=is_bounce,
        auto_reason=reason,
    )


def _returned_message_id(attachments: list[EnvelopeAttachment]) -> str:
    """The Message-ID of the message a bounce returns (attached whole or as headers only)."""
    for attachment in attachments:
        if attachment.content_type in ("message/rfc822", "message/global", "text/rfc822-headers") and attachment.data:
            returned = _headers_of(attachment.data)
            found = message_ids(header_text(returned, "Message-ID")) if returned is not None else []
            if found:
                return found[0]
    return ""


def _report_type(msg: StdMessage) -> str:
    try:
        value = _mime_params(msg).get_param("report-type")
    except Exception:  # noqa: BLE001
        return ""
    return value.strip().lower() if isinstance(value, str) else ""


def _automatic(msg: StdMessage, sender: str, subject: str) -> tuple[bool, bool, str]:
    """(is auto-reply, is bounce, why) from the headers RFC 3464, 3834 and common mailers set."""
    content_type = _content_type(msg)
    report_type = _report_type(msg) if content_type == "multipart/report" else ""
    if _BOUNCE_SENDER_RE.match(sender) or report_type == "delivery-status" or header_text(msg, "X-Failed-Recipients"):
        return True, True, "delivery status notification"
    if report_type == "disposition-notification":
        return True, False, "read receipt (disposition notification)"
    auto_submitted = header_text(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";", 1)[0].split("(", 1)[0].strip() != "no":
        return True, False, f"Auto-Submitted: {auto_submitted}"
    # "list" is not here: mail relayed by a group address (support@ as a Google Group)
    # carries "Precedence: list" and is written by people.
    precedence = header_text(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "auto_reply"):
        return True, False, f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header_text(msg, name):
            return True, False, f"{name} header"
    if _AUTO_SUBJECT_RE.match(subject):
        suppress = {v.strip().lower() for v in header_text(msg, "X-Auto-Response-Suppress").split(",")}
        if suppress & {"all", "oof", "autoreply"}:
            return True, False, "out-of-office reply"
        return True, False, "auto-reply subject"
    return False, False, ""


# --- The adapter ----------------------------------------------------------------------


class EmailAdapter:
    """Email channels: one mailbox each (``Channel.inbound_address``)."""

    kind: ClassVar[str] = "email"

    def authenticate(self, request: HttpRequest, channel: Channel) -> None:
        # Inbound mail arrives over IMAP/SMTP, not HTTP; provider webhooks have their own checks.
        raise PermissionDenied("email channels do not take inbound HTTP requests")

    def parse(self, raw: InboundMessage) -> list[Envelope]:
        if raw.raw is None:
            raise ParseError("no raw bytes stored for this email")
        return [parse_email(bytes(raw.raw), max_attachment_bytes=settings.PARLEY_MAX_ATTACHMENT_BYTES)]

    def send(self, message: Message) -> DeliveryResult:
        """Send an agent's reply by SMTP, threaded for the customer's mail client."""
        import smtplib

        from django.core.mail import EmailMultiAlternatives, get_connection

        ticket = message.ticket
        channel = message.channel
        if not message.to:
            raise PermanentChannelError("the reply has no recipient address")
        from_address = (channel.inbound_address if channel else "") or settings.DEFAULT_FROM_EMAIL
        references = [r for r in message.references.split() if r]
        email = EmailMultiAlternatives(
            subject=message.subject or f"[#{ticket.number}] {ticket.subject}",
            body=message.text,
            from_email=f"{settings.PARLEY_COMPANY_NAME} <{from_address}>",
            to=message.to,
            cc=message.cc,
            headers={
                "Message-ID": f"<{message.external_id}>",
                **({"In-Reply-To": f"<{message.in_reply_to}>"} if message.in_reply_to else {}),
                **({"References": " ".join(f"<{r}>" for r in references)} if references else {}),
                "X-Parley-Ticket": str(ticket.number),
                # RFC 3834: our replies are human-written, but tell autoresponders not to answer them.
                "X-Auto-Response-Suppress": "OOF, AutoReply",
            },
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        for attachment in message.attachments.all():
            if attachment.file:
                with attachment.file.open("rb") as fh:
                    email.attach(attachment.filename, fh.read(), attachment.content_type)
        try:
            get_connection(fail_silently=False).send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentChannelError(f"recipient refused: {exc.recipients}") from exc
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentChannelError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TransientChannelError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientChannelError(f"{type(exc).__name__}: {exc}") from exc
        return DeliveryResult(external_id=message.external_id or "")
