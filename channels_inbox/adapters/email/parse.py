"""``parse_email``: one RFC 5322 message into an Envelope, auto-replies and bounces flagged."""

from __future__ import annotations

import codecs
import hashlib
import re
from email.message import Message as StdMessage
from email.utils import parseaddr

from channels_inbox.adapters.base import Envelope, EnvelopeAttachment, Sender
from channels_inbox.adapters.email.decoding import (
    addresses,
    clean_line,
    clean_text,
    header_text,
    message_ids,
    parse_date,
    valid_address,
)
from channels_inbox.adapters.email.mime import (
    body_text,
    build_attachment,
    headers_of,
    is_body,
    leaves,
    mime_params,
    parse_message,
    part_content_type,
    part_disposition,
)
from channels_inbox.exceptions import ParseError
from helpdesk.html import html_to_text, sanitize_html

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
    msg = parse_message(data.lstrip(b"\r\n"))

    senders = addresses(msg, "From") or addresses(msg, "Sender") or addresses(msg, "Reply-To")
    if not senders:
        return_path = clean_line(parseaddr(header_text(msg, "Return-Path"))[1]).lower()
        if valid_address(return_path):
            senders = [("", return_path)]
    if not senders:
        raise ParseError("no sender address (From, Sender, Reply-To and Return-Path are all missing or invalid)")
    display_name, address = senders[0]

    bodies: list[tuple[str, int | None, str]] = []  # (content type, alternative group, text)
    attachments: list[tuple[EnvelopeAttachment, str]] = []  # with the part's disposition
    for index, (part, content_type, group) in enumerate(leaves(msg), start=1):
        if is_body(part, content_type):
            bodies.append((content_type, group, body_text(part, content_type)))
        else:
            attachments.append((build_attachment(part, content_type, index), part_disposition(part)))

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
        to=[a for _, a in addresses(msg, "To")],
        cc=[a for _, a in addresses(msg, "Cc")],
        sent_at=parse_date(header_text(msg, "Date")),
        language=header_text(msg, "Content-Language").split(",", 1)[0].strip()[:16],
        is_auto_reply=is_auto,
        is_bounce=is_bounce,
        is_bulk=_is_list_mail(msg),
        auto_reason=reason,
    )


def _is_list_mail(msg: StdMessage) -> bool:
    """Mailing-list or bulk mail (RFC 2369/2919 headers): kept and shown, never auto-answered."""
    return bool(
        header_text(msg, "List-Id")
        or header_text(msg, "List-Unsubscribe")
        or header_text(msg, "Precedence").lower() in ("list", "bulk", "junk")
    )


def _returned_message_id(attachments: list[EnvelopeAttachment]) -> str:
    """The Message-ID of the message a bounce returns (attached whole or as headers only)."""
    for attachment in attachments:
        if attachment.content_type in ("message/rfc822", "message/global", "text/rfc822-headers") and attachment.data:
            returned = headers_of(attachment.data)
            found = message_ids(header_text(returned, "Message-ID")) if returned is not None else []
            if found:
                return found[0]
    return ""


def _report_type(msg: StdMessage) -> str:
    try:
        value = mime_params(msg).get_param("report-type")
    except Exception:  # noqa: BLE001
        return ""
    return value.strip().lower() if isinstance(value, str) else ""


def _automatic(msg: StdMessage, sender: str, subject: str) -> tuple[bool, bool, str]:
    """(is auto-reply, is bounce, why) from the headers RFC 3464, 3834 and common mailers set."""
    content_type = part_content_type(msg)
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
