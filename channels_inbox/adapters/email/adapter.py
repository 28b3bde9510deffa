"""The email channel adapter: parse stored raw mail, send replies by SMTP."""

from __future__ import annotations

import smtplib
from email.utils import formataddr
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.utils.html import escape

from channels_inbox.adapters.base import DeliveryResult, Envelope
from channels_inbox.adapters.email.config import EmailChannelSettings
from channels_inbox.adapters.email.parse import parse_email
from channels_inbox.exceptions import ParseError, PermanentChannelError, TransientChannelError
from channels_inbox.selectors import ticket_reply_token

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel, InboundMessage
    from tickets.models import Message


# --- The adapter ----------------------------------------------------------------------


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _deliver(email: EmailMultiAlternatives) -> dict[str, tuple[int, bytes]]:
    """Send through the configured backend; with SMTP, return the recipients the server
    refused while accepting others (Django's backend drops them, and a lost CC must show)."""
    connection = get_connection(fail_silently=False)
    if not isinstance(connection, SMTPBackend):
        connection.send_messages([email])
        return {}
    opened = connection.open()
    try:
        encoding = email.encoding or settings.DEFAULT_CHARSET
        from_email = sanitize_address(email.from_email, encoding)
        recipients = [sanitize_address(address, encoding) for address in email.recipients()]
        return connection.connection.sendmail(from_email, recipients, email.message().as_bytes(linesep="\r\n")) or {}
    finally:
        if opened:
            connection.close()


def _reply_to(conf: EmailChannelSettings, from_address: str, number: int) -> list[str]:
    """With plus-addressing the customer's answer carries the ticket in its address, which
    threads it even when the mail client drops every header; otherwise the channel's reply-to."""
    if conf.plus_addressing and "@" in from_address:
        local, _, domain = from_address.partition("@")
        return [f"{local}+{ticket_reply_token(number)}@{domain}"]
    return [conf.reply_to] if conf.reply_to else []


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
        ticket = message.ticket
        channel = message.channel
        if not message.to:
            raise PermanentChannelError("the reply has no recipient address")
        conf = EmailChannelSettings.from_channel(channel) if channel else EmailChannelSettings()
        from_address = (channel.inbound_address if channel else "") or settings.DEFAULT_FROM_EMAIL
        references = [r for r in message.references.split() if r]
        is_automatic = message.author_kind == "system"
        headers = {
            "Message-ID": f"<{message.external_id}>",
            **({"In-Reply-To": f"<{message.in_reply_to}>"} if message.in_reply_to else {}),
            **({"References": " ".join(f"<{r}>" for r in references)} if references else {}),
            "X-Parley-Ticket": str(ticket.number),
            # Ask autoresponders not to answer (Exchange); ours are marked as RFC 3834 says.
            "X-Auto-Response-Suppress": "OOF, AutoReply",
            **({"Auto-Submitted": "auto-replied"} if is_automatic else {}),
        }
        text, html = message.text, message.html
        if conf.signature and not is_automatic:
            text = f"{text}\n\n{conf.signature}"
            if html:
                html = f"{html}<p>{escape(conf.signature).replace(chr(10), '<br>')}</p>"
        email = EmailMultiAlternatives(
            subject=message.subject or f"[#{ticket.number}] {ticket.subject}",
            body=text,
            from_email=formataddr((conf.from_name or settings.PARLEY_COMPANY_NAME, from_address)),
            to=message.to,
            cc=message.cc,
            reply_to=_reply_to(conf, from_address, ticket.number),
            headers=headers,
        )
        if html:
            email.attach_alternative(html, "text/html")
        for attachment in message.attachments.all():
            if attachment.file:
                with attachment.file.open("rb") as fh:
                    email.attach(attachment.filename, fh.read(), attachment.content_type)
        try:
            refused = _deliver(email)
        except smtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: temporary only if every refusal was a 4xx (greylisting).
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientChannelError(f"recipients deferred: {detail}") from exc
            raise PermanentChannelError(f"recipients refused: {detail}") from exc
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentChannelError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
            raise TransientChannelError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientChannelError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            detail = "; ".join(f"{addr} ({code} {_text(msg)})" for addr, (code, msg) in refused.items())
            return DeliveryResult(external_id=message.external_id or "", detail=f"Not accepted for: {detail}")
        return DeliveryResult(external_id=message.external_id or "")
