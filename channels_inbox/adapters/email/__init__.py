"""The email adapter: RFC 5322 / MIME in, SMTP out.

Parsing never trusts what a message says about itself. Real mail has wrong, missing or
made-up charsets, raw 8-bit bytes in headers, RFC 2047 words split inside a character,
broken or missing MIME boundaries, hostile HTML and NUL bytes. So:

- The standard library splits the message into parts, but header values are taken raw
  and decoded here (``decode_header_value``): encoded words in unknown charsets, words
  split inside a character and raw UTF-8 or Windows-1252 bytes all become readable text.
  Messages are parsed with the modern policy (compat32 only as a fallback for a structure
  it refuses), but header values are never read through its header objects, which replace
  undecodable bytes with U+FFFD before they can be repaired, raise on some malformed
  headers, and drop backslashes from file names: ``raw_items`` gives the source text.
- Body bytes are decoded by ``decode_bytes``: the declared charset (widened to the
  superset mail programs really use: ISO-8859-1 means Windows-1252, GB2312 means
  GB18030...) unless the bytes are clean UTF-8, the most common mislabelling.
- A multipart whose boundary is missing or wrong is split again on the boundary its
  body actually uses; attached messages (forwards, bounces) stay whole ``.eml`` files.
- Every string that leaves this module is clean: no NUL (PostgreSQL rejects it), no
  surrogates, ``\\n`` line ends; html is sanitized.

Whatever can be read is kept. Only a message with no bytes or no sender address at all
is a ParseError; the pipeline quarantines it with its raw bytes.

Layout: ``decoding`` (text hygiene, charsets, headers) <- ``mime`` (parts, bodies,
attachments) <- ``parse`` (``parse_email``, auto-reply and bounce detection) <-
``adapter`` (``EmailAdapter``).
"""

from channels_inbox.adapters.email.adapter import EmailAdapter
from channels_inbox.adapters.email.parse import parse_email

__all__ = ["EmailAdapter", "parse_email"]
