"""Inbound SMTP: mail for the email channels, stored before it is acknowledged.

``manage.py smtp_inbound`` runs an aiosmtpd server that the company MTA (Postfix, Exim,
a provider's relay) forwards support mail to. It is a final destination, not a relay:

- ``RCPT TO`` accepts only the inbound addresses of active email channels, plus-addressed
  ones included (``support+t42-ab12@x.com``); every other address is refused on its own
  (``550 5.1.1``), so a message to a known and an unknown address is accepted for the
  known one. More than ``MAX_RECIPIENTS`` recipients in one transaction: ``452 4.5.3``.
- ``SIZE`` is advertised as ``PARLEY_MAX_INBOUND_BYTES`` (read when a connection opens; the
  same value is enforced for that whole session). A larger ``MAIL FROM ... SIZE=`` or a
  larger ``DATA`` is refused with ``552 5.3.4``.
- ``DATA``: the exact bytes received are stored as one InboundMessage per distinct channel
  among the accepted recipients, all in one database transaction; ``250 2.0.0`` is sent
  only after that transaction committed. Any storage error answers ``451 4.3.0`` and
  nothing is kept, so the sending MTA retries and nothing is lost or half-stored. A
  retried message that was in fact stored is a harmless duplicate: the pipeline drops it
  by Message-ID (or by the hash of the raw bytes when there is no Message-ID, which is why
  no ``Received:`` line is prepended: it would make every delivery's bytes different).
- Processing is queued on commit like every other inbound row (in embedded mode it runs
  in-process before the ``250`` is sent). If queuing fails after the commit the message is
  still acknowledged: the row is stored and the stale-row sweep queues it again.

Stopping (SIGTERM, Ctrl-C) closes the connections; a message being stored at that moment
is committed but may go unacknowledged, and the MTA's retry is then dropped as a duplicate.

No STARTTLS and no AUTH: the server is meant to listen on loopback or a private network
behind the company MTA, which does TLS, spam and virus filtering toward the internet.
Do not expose it to the internet directly.

The Django ORM is synchronous, aiosmtpd is asyncio: database work runs on a small thread
pool owned by the handler, with ``close_old_connections`` around each job, as a
long-running process must (a stale or broken connection is replaced, never reused).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connections, transaction

from channels_inbox import selectors, services
from channels_inbox.models import Channel

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_RECIPIENTS = 100
DB_THREADS = 4

# The replies, with RFC 3463 enhanced status codes.
REPLY_RCPT_OK = "250 2.1.5 Recipient ok"
REPLY_ACCEPTED = "250 2.0.0 Message accepted"
REPLY_NO_MAILBOX = "550 5.1.1 <{address}>: no such mailbox here"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_TOO_BIG = "552 5.3.4 Message too big for system"
REPLY_TRY_LATER = "451 4.3.0 Temporary failure, try again later"

# aiosmtpd's own wording for the size limit (MAIL FROM SIZE=, then DATA), made ours.
_AIOSMTPD_REPLIES = {
    "552 Error: message size exceeds fixed maximum message size": REPLY_TOO_BIG,
    "552 Error: Too much mail data": REPLY_TOO_BIG,
}


# --- Database work (runs on the handler's threads) ------------------------------------


def resolve_recipient(address: str) -> tuple[int, bool] | None:
    """(channel id, plus-addressed?) of the active email channel receiving ``address``."""
    close_old_connections()
    try:
        recipient = selectors.email_channel_for_address(address)
        return (recipient.channel.pk, bool(recipient.ticket_token)) if recipient is not None else None
    finally:
        close_old_connections()


def store_message(*, raw: bytes, recipients: dict[str, tuple[int, bool]], source: str) -> list[int]:
    """Store ``raw`` once per distinct channel of ``recipients``; all or nothing.

    ``recipients`` maps each accepted RCPT TO address to (channel id, plus-addressed?).
    Each channel's row records one of its addresses as the envelope recipient, preferring
    a plus-addressed one (its tag names the ticket). Raises if nothing could be stored;
    returns the ids of the stored rows once they are committed.
    """
    per_channel: dict[int, str] = {}
    for address, (channel_id, is_tagged) in recipients.items():
        if channel_id not in per_channel or (is_tagged and not recipients[per_channel[channel_id]][1]):
            per_channel[channel_id] = address
    committed = False

    def mark_committed() -> None:
        nonlocal committed
        committed = True

    stored: list[int] = []
    close_old_connections()
    try:
        with transaction.atomic():
            # Registered first, so it runs first when the transaction commits: from then
            # on the message is durable whatever the enqueue callbacks after it do.
            transaction.on_commit(mark_committed)
            channels = Channel.objects.in_bulk(list(per_channel))
            for channel_id, address in per_channel.items():
                channel = channels.get(channel_id)
                if channel is None:
                    raise Channel.DoesNotExist(f"channel {channel_id} for <{address}> disappeared during the transaction")
                inbound = services.inbound_store(
                    channel=channel, raw=raw, source=source, envelope_recipient=address, enqueue=True
                )
                stored.append(inbound.pk)
    except Exception:
        if not committed:
            raise
        logger.exception("smtp message stored, but queuing its processing failed", extra={"inbound_ids": stored})
    finally:
        close_old_connections()
    return stored


# --- The aiosmtpd handler -------------------------------------------------------------


class InboundHandler:
    """aiosmtpd handler: recipients checked against the channels, DATA stored durably."""

    def __init__(self, *, max_recipients: int = MAX_RECIPIENTS, db_threads: int = DB_THREADS) -> None:
        self.max_recipients = max_recipients
        self.db_threads = db_threads
        self.executor = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="smtp-inbound-db")

    async def _db(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(func, *args, **kwargs))

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        attempts = getattr(envelope, "parley_rcpt_attempts", 0) + 1
        envelope.parley_rcpt_attempts = attempts  # type: ignore[attr-defined]
        if attempts > self.max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        try:
            found = await self._db(resolve_recipient, address)
        except Exception:
            logger.exception("smtp recipient lookup failed", extra={"address": address})
            return REPLY_TRY_LATER
        if found is None:
            logger.info("smtp recipient refused", extra={"address": address, "peer": _peer(session)})
            return REPLY_NO_MAILBOX.format(address=address)
        routes: dict[str, tuple[int, bool]] = getattr(envelope, "parley_routes", None) or {}
        routes[address] = found
        envelope.parley_routes = routes  # type: ignore[attr-defined]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return REPLY_RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else bytes(content or b"")
        routes: dict[str, tuple[int, bool]] = getattr(envelope, "parley_routes", None) or {}
        if not routes:  # aiosmtpd refuses DATA before a recipient; never answer 250 for nothing stored
            return "503 5.5.1 Error: need RCPT command"
        source = f"smtp:{_peer(session)}"
        try:
            ids = await self._db(store_message, raw=raw, recipients=routes, source=source)
        except Exception:
            logger.exception("smtp message not stored; answered 451", extra={"peer": _peer(session), "size": len(raw)})
            return REPLY_TRY_LATER
        logger.info(
            "smtp message stored",
            extra={"peer": _peer(session), "size": len(raw), "recipients": envelope.rcpt_tos, "inbound_ids": ids},
        )
        return REPLY_ACCEPTED

    def close(self) -> None:
        """Let database work in flight finish (a commit completes), close every thread's
        database connection (kept ones too, with ``DATABASE_CONN_MAX_AGE``), free the threads."""
        workers = self.db_threads
        barrier = threading.Barrier(workers)

        def close_this_threads_connections() -> None:
            # All jobs wait at the barrier, so each runs on a thread of its own: every
            # thread of the pool closes its connections.
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass
            connections.close_all()

        for _ in range(workers):
            self.executor.submit(close_this_threads_connections)
        self.executor.shutdown(wait=True)


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


# --- Server and controller ------------------------------------------------------------


class InboundSMTP(SMTP):
    """aiosmtpd's SMTP with our size-limit reply (RFC 3463 ``5.3.4``)."""

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = _AIOSMTPD_REPLIES.get(status, status)
        await super().push(status)


class InboundController(Controller):
    """A threaded aiosmtpd controller serving ``InboundSMTP``; port 0 picks a free port."""

    def __init__(self, handler: InboundHandler, *, host: str, port: int, server_hostname: str, max_bytes: int | None) -> None:
        super().__init__(handler, hostname=host, port=port, server_hostname=server_hostname, ident="Parley ESMTP")
        self.max_bytes = max_bytes

    def factory(self) -> SMTP:
        # Called for every connection: the limit advertised in EHLO is the one DATA enforces.
        limit = self.max_bytes if self.max_bytes is not None else settings.PARLEY_MAX_INBOUND_BYTES
        return InboundSMTP(self.handler, data_size_limit=int(limit) or None, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        if self.server is not None and self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert=no_assert)
        self.handler.close()


def build_controller(
    *, host: str = "127.0.0.1", port: int = 2525, server_hostname: str | None = None, max_bytes: int | None = None,
    max_recipients: int = MAX_RECIPIENTS, db_threads: int = DB_THREADS,
) -> InboundController:
    """A controller ready to ``start()`` (in its own thread) and ``stop()``.

    ``max_bytes`` defaults to ``settings.PARLEY_MAX_INBOUND_BYTES``, read per connection.
    """
    handler = InboundHandler(max_recipients=max_recipients, db_threads=db_threads)
    return InboundController(
        handler, host=host, port=port, server_hostname=server_hostname or socket.gethostname(), max_bytes=max_bytes
    )


def serve(
    *, host: str, port: int, server_hostname: str | None = None, on_ready: Callable[[InboundController], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the server until SIGTERM or SIGINT (or ``stop`` is set); then close cleanly."""
    stop = stop or threading.Event()
    # aiosmtpd logs every command line (senders, recipients) at INFO; ours is one line a message.
    mail_log = logging.getLogger("mail.log")
    if mail_log.level == logging.NOTSET:
        mail_log.setLevel(logging.WARNING)
    controller = build_controller(host=host, port=port, server_hostname=server_hostname)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    controller.start()
    try:
        if on_ready is not None:
            on_ready(controller)
        stop.wait()
    finally:
        controller.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
