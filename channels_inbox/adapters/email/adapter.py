"""The email channel adapter: parse stored raw mail, send replies by SMTP."""

from __future__ import annotations

from email.utils import formataddr
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
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
        import smtplib

        from django.core.mail import EmailMultiAlternatives, get_connection

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
