"""Decoding what mail says about itself: text hygiene, charsets and header values."""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import re
from email import policy
from email.message import Message as StdMessage
from email.utils import getaddresses, parsedate_to_datetime

from django.utils.dateparse import parse_datetime

_MSGID_RE = re.compile(r"<([^<>]*)>")


# --- Text hygiene ---------------------------------------------------------------------

_ESCAPED_BYTES_RE = re.compile("[\udc80-\udcff]+")
SURROGATE_RE = re.compile("[\ud800-\udfff]")
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
    return SURROGATE_RE.sub("\ufffd", value).lstrip("\ufeff")


def clean_line(value: str) -> str:
    """One line of header text: bytes repaired, no control characters, single spaces."""
    value = SURROGATE_RE.sub("\ufffd", fix_surrogates(value))
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
FOLD_RE = re.compile(r"\r?\n(?=[ \t])")


def decode_b(text: str) -> bytes:
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
    value = FOLD_RE.sub("", raw)
    chunks: list[tuple[str | None, str | bytes]] = []  # (charset, bytes) or (None, text)
    position = 0
    for match in _ENCODED_WORD_RE.finditer(value):
        between = value[position : match.start()]
        follows_word = bool(chunks) and chunks[-1][0] is not None
        if between and not (follows_word and not between.strip(" \t")):
            chunks.append((None, between))
        charset = match.group(1).split("*", 1)[0]
        data = decode_b(match.group(3)) if match.group(2) in "bB" else _decode_q(match.group(3))
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


def raw_headers(msg: StdMessage, name: str) -> list[str]:
    name = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.strip().lower() == name]


def header_text(msg: StdMessage, name: str) -> str:
    """A header (the first of that name) as one clean line of text; '' when missing."""
    values = raw_headers(msg, name)
    return clean_line(decode_header_value(values[0])) if values else ""


def valid_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and len(address) <= 254 and not re.search(r"[\s<>]", address)


def addresses(msg: StdMessage, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs of an address header, tolerant of broken syntax.

    The legacy address parser works on the raw value and never raises; display names are
    decoded afterwards, so an encoded comma ("Lovelace=2C Ada") cannot split an address.
    The modern parser is a second opinion when the legacy one finds nothing.
    """
    values = [FOLD_RE.sub("", value) for value in raw_headers(msg, name)]
    if not values:
        return []
    try:
        pairs = getaddresses(values)
    except Exception:  # noqa: BLE001 - a parser bug must not lose the message
        pairs = []
    result = []
    for display_name, address in pairs:
        address = clean_line(address).lower()
        if valid_address(address):
            result.append((clean_line(decode_header_value(display_name))[:200], address))
    if result:
        return result
    for value in values:
        try:
            header = policy.default.header_factory(name, value)
            pairs = [(a.display_name, a.addr_spec) for a in header.addresses]  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001, S112 - an unparseable address header is skipped; the raw header is kept
            continue
        for display_name, address in pairs:
            address = clean_line(address).lower()
            if valid_address(address):
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
