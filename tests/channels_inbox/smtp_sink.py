"""A real SMTP server on loopback that keeps what it receives: the stand-in for the MTA
replies are sent through.

``smtp_sink`` (the fixture) starts one on a free port and points Django's SMTP backend at
it. Other test modules use it with ``from tests.channels_inbox.smtp_sink import smtp_sink``.
Answers can be scripted: ``sink.refuse_recipient("x@y", "550 5.1.1 no such user")``,
``sink.data_reply = "451 4.3.0 try later"`` (every DATA), ``sink.handler.data_replies``
(the next ones, in order), ``sink.mail_reply = "..."``.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class ReceivedMail:
    """One message as the server got it: the envelope and the exact bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class SinkHandler:
    """Collects messages; answers what the test scripted, else 250."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.recipient_replies: dict[str, str] = {}
        self.mail_reply: str | None = None
        self.data_reply: str | None = None
        # Answers for the next DATA commands, one each, before data_reply applies.
        self.data_replies: list[str] = []
        self.mail_attempts = 0
        self.data_attempts = 0

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]) -> str:  # noqa: N802
        self.mail_attempts += 1
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]) -> str:  # noqa: N802
        reply = self.recipient_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.data_attempts += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        if self.data_reply:
            return self.data_reply
        self.messages.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                mail_options=list(envelope.mail_options),
            )
        )
        return "250 2.0.0 OK: queued"


class _SinkController(Controller):
    """Binds port 0 (a free port, no race) and learns which one it got."""

    def _trigger_server(self) -> None:
        if self.server is not None and self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.handler = SinkHandler()
        self.controller = _SinkController(self.handler, hostname=host, port=0, server_hostname="sink.test")

    @property
    def host(self) -> str:
        return self.controller.hostname

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def messages(self) -> list[ReceivedMail]:
        return self.handler.messages

    def refuse_recipient(self, address: str, reply: str) -> None:
        self.handler.recipient_replies[address.lower()] = reply

    @property
    def data_reply(self) -> str | None:
        return self.handler.data_reply

    @data_reply.setter
    def data_reply(self, value: str | None) -> None:
        self.handler.data_reply = value

    @property
    def mail_reply(self) -> str | None:
        return self.handler.mail_reply

    @mail_reply.setter
    def mail_reply(self, value: str | None) -> None:
        self.handler.mail_reply = value

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_sink(settings) -> Iterator[SmtpSink]:
    """A running sink; Django's SMTP backend sends to it (plain SMTP, no auth)."""
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = False, False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield sink
    finally:
        sink.stop()
