"""The email adapter: RFC 5322 / MIME in, SMTP out.

Parsing uses the standard library's modern policy and never trusts what the message says
about itself: charsets may be wrong or missing, headers may hold raw 8-bit bytes, MIME
boundaries may be broken. Whatever can be read is kept; what cannot becomes a ParseError
and the raw bytes stay quarantined.
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
import unicodedata
from email import policy
from email.message import EmailMessage as StdEmailMessage
from email.message import Message as StdMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import TYPE_CHECKING, ClassVar
import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from channels_inbox.adapters.base import DeliveryResult, Envelope, EnvelopeAttachment, Sender
from channels_inbox.exceptions import ParseError, PermanentChannelError, TransientChannelError
from helpdesk.html import html_to_text, sanitize_html

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message

_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_AUTO_SUBJECT_RE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|r[ée]ponse automatique|autosvar)",
    re.IGNORECASE,
)
_BOUNCE_SENDER_RE = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


# --- Decoding helpers -----------------------------------------------------------------


def fix_surrogates(value: str) -> str:
    """Undo the surrogate escapes the parser leaves for raw 8-bit header bytes.

    Senders who put UTF-8 (or Latin-1) straight into headers are common; we read the
    bytes as UTF-8 if they are, else as Windows-1252.
    """
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Decode body bytes: the declared charset if it works, else UTF-8, else Windows-1252."""
    candidates: list[str] = []
    if declared:
        try:
            candidates.append(codecs.lookup(declared.strip().strip('"')).name)
        except LookupError:
            pass
    candidates += ["utf-8"]
    for charset in candidates:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("cp1252", "replace")


def header_text(msg: StdMessage, name: str) -> str:
    """A header as clean text, whatever its encoding; '' when missing or unreadable."""
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not lose the message
        value = None
        for key, raw in msg.raw_items() if hasattr(msg, "raw_items") else []:
            if key.lower() == name.lower():
                value = raw
                break
    if value is None:
        return ""
    return " ".join(fix_surrogates(str(value)).split())


def _addresses(msg: StdMessage, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, tolerant of broken syntax."""
    value = header_text(msg, name)
    if not value:
        return []
    try:
        header = msg.get(name)
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]  # type: ignore[union-attr]
    except Exception:
        pairs = getaddresses([value])
    return [(fix_surrogates(n or ""), fix_surrogates(a).strip().lower()) for n, a in pairs if a and "@" in a]


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a References / In-Reply-To header, without angle brackets."""
    found = _MSGID_RE.findall(value or "")
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip().strip("<>")]
    return found


def _part_bytes(part: StdMessage) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
        return b""
    return data


def _part_text(part: StdMessage) -> str:
    return decode_bytes(_part_bytes(part), part.get_content_charset())


def safe_filename(name: str, content_type: str, index: int) -> str:
    """A display-safe file name: no directories, no control characters, a sane length."""
    name = fix_surrogates(name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".")
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment-{index}{extension}"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 190] + "." + ext[:8]) if dot else name[:200]
    return name


# --- Parsing ------------------------------------------------------------------------


def _walk_leaves(part: StdMessage):
    """Leaf parts in order; an attached message (message/rfc822) is one leaf, not descended into."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield part
        return
    payload = part.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            yield from _walk_leaves(sub)
    else:
        # A multipart whose boundary is broken or missing: the parser kept the body as a
        # string; treat it as one text leaf so nothing is lost.
        yield part


def _is_attachment(part: StdMessage) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if part.get_content_type() == "message/rfc822":
        return True
    maintype = part.get_content_maintype()
    if maintype == "multipart":
        return False
    if maintype != "text":
        return True
    return bool(part.get_filename()) and disposition != "inline"


def parse_email(raw: bytes, *, max_attachment_bytes: int) -> Envelope:
    """Parse one RFC 5322 message into an Envelope."""
    if not raw or not raw.strip():
        raise ParseError("empty message")
    try:
        msg: StdEmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise ParseError(f"unparseable message: {exc}") from exc

    senders = _addresses(msg, "From") or _addresses(msg, "Sender") or _addresses(msg, "Reply-To")
    if not senders:
        return_path = parseaddr(header_text(msg, "Return-Path"))[1]
        if return_path and "@" in return_path:
            senders = [("", return_path.lower())]
    if not senders:
        raise ParseError("no sender address (From, Sender, Reply-To and Return-Path are all missing or invalid)")
    display_name, address = senders[0]

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[EnvelopeAttachment] = []
    for index, part in enumerate(_walk_leaves(msg), start=1):
        content_type = part.get_content_type()
        if not _is_attachment(part) and content_type in ("text/plain", "text/html", "text/enriched") or (
            part.is_multipart() and not isinstance(part.get_payload(), list)
        ):
            body = _part_text(part)
            (htmls if content_type == "text/html" else texts).append(body)
            continue
        if content_type == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            data = inner_msg.as_bytes(policy=policy.SMTP) if inner_msg is not None else _part_bytes(part)
            subject = header_text(inner_msg, "Subject") if inner_msg is not None else ""
            filename = safe_filename(part.get_filename() or (subject and f"{subject[:80]}.eml") or "", "message/rfc822", index)
            if not filename.endswith(".eml"):
                filename += ".eml"
        else:
            data = _part_bytes(part)
            try:
                filename = part.get_filename() or ""
            except Exception:
                filename = ""
            filename = safe_filename(filename, content_type, index)
        content_id = header_text(part, "Content-ID").strip("<> ")
        size = len(data)
        attachments.append(
            EnvelopeAttachment(
                filename=filename,
                content_type=content_type,
                size=size,
                data=data if size <= max_attachment_bytes else None,
                content_id=content_id,
                is_inline=bool(content_id) and (part.get_content_disposition() or "inline") == "inline",
            )
        )

    html = sanitize_html("\n".join(htmls)) if htmls else ""
    text = "\n\n".join(t.strip("\n") for t in texts).strip() if texts else html_to_text(html)

    message_id = next(iter(message_ids(header_text(msg, "Message-ID"))), "")
    external_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    in_reply_to = next(iter(message_ids(header_text(msg, "In-Reply-To"))), "")
    references = message_ids(header_text(msg, "References"))

    sent_at = None
    date_value = header_text(msg, "Date")
    if date_value:
        try:
            sent_at = parsedate_to_datetime(date_value)
            if sent_at is not None and timezone.is_naive(sent_at):
                sent_at = sent_at.replace(tzinfo=dt.timezone.utc)
        except (TypeError, ValueError, IndexError):
            sent_at = None

    subject = header_text(msg, "Subject")
    is_auto, is_bounce, reason = _automatic(msg, address, subject)
    return Envelope(
        sender=Sender(kind="email", address=address, display_name=display_name),
        external_id=external_id[:512],
        subject=subject[:500],
        text=text,
        html=html,
        attachments=attachments,
        in_reply_to=in_reply_to,
        references=references,
        to=[a for _, a in _addresses(msg, "To")],
        cc=[a for _, a in _addresses(msg, "Cc")],
        sent_at=sent_at,
        language=header_text(msg, "Content-Language")[:16],
        is_auto_reply=is_auto,
        is_bounce=is_bounce,
        auto_reason=reason,
    )


def _automatic(msg: StdMessage, sender: str, subject: str) -> tuple[bool, bool, str]:
    """(is auto-reply, is bounce, why) from the headers RFC 3834 and common mailers set."""
    content_type = msg.get_content_type()
    if _BOUNCE_SENDER_RE.match(sender) or (
        content_type == "multipart/report" and "delivery-status" in (msg.get_param("report-type") or "")
    ):
        return True, True, "delivery status notification"
    auto_submitted = header_text(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return True, False, f"Auto-Submitted: {auto_submitted}"
    precedence = header_text(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return True, False, f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header_text(msg, name):
            return True, False, f"{name} header"
    if header_text(msg, "X-Auto-Response-Suppress").lower() in ("all", "oof", "autoreply") and _AUTO_SUBJECT_RE.match(subject):
        return True, False, "out-of-office reply"
    if _AUTO_SUBJECT_RE.match(subject):
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
