"""IMAP polling of email channels: UID-incremental, crash-safe, acknowledged only once stored.

One folder per channel (``config["imap"]``, read through ``EmailChannelSettings``), one
``ImapFolderState`` row per (channel, folder) holding the server's UIDVALIDITY and the
highest UID stored. A poll:

1. SELECTs the folder and compares UIDVALIDITY with the stored one. A new value means
   the old UIDs name nothing any more: the position restarts at 0 (or at the highest UID
   already stored under the *new* value, see below) and the folder is read again; the
   pipeline drops the messages it already has by Message-ID.
2. Acknowledges leftovers: messages at or below the stored position that are still
   unacknowledged (not ``\\Seen``, or still in the folder when an archive folder is set).
   They were stored by an earlier poll that died before it could flag or move them.
3. Searches ``UID <last_uid+1>:*`` and keeps only UIDs above ``last_uid`` (for ``N:*`` a
   server answers with the highest UID even when it is below N). Selection is by UID,
   never by ``\\Seen``: a person reading the shared mailbox in a mail client must not hide
   mail from the helpdesk.
4. Fetches ``BODY.PEEK[]`` (which leaves ``\\Seen`` alone) in batches of at most
   ``BATCH_MESSAGES`` messages and ``BATCH_BYTES`` bytes, using the ``RFC822.SIZE`` fetched
   first, so one poll never holds more than a batch in memory; a message larger than the
   byte budget is fetched on its own. Oversized mail is stored all the same: IMAP has no
   way to refuse it, and the parser records attachments over the limit by name and size.
5. Stores each message in its own committed transaction together with the advance of
   ``last_uid`` (``inbound_store`` queues processing on commit), and only then flags the
   batch ``\\Seen`` or moves it to the archive folder.

Why no message is lost or stored twice: "stored" and "position advanced" commit together.
Killed before that commit, neither happened and the message is fetched again. Killed
after it, the next poll starts above the message, so it is not stored again, and step 2
acknowledges it. The state row is locked for each store, so two pollers of one mailbox
(the beat task and ``poll_imap --idle``) serialize and the second skips what the first
took; the Celery task also holds a cache lock so they rarely even try.

If the state row is lost (deleted by hand, a restored backup), the position is recovered
from the ``source`` of the InboundMessages already stored for that folder and UIDVALIDITY
(``imap:<folder>:uidvalidity <v>:uid <n>``), so they are not stored again. This is one
query when a state row is (re)created rather than a lookup per message on every poll:
``InboundMessage.source`` has no index.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import DELETED, SEEN

from channels_inbox import services
from channels_inbox.adapters.email.config import EmailChannelSettings, ImapSettings
from channels_inbox.models import Channel, ImapFolderState, InboundMessage
from channels_inbox.oauth2 import OAuth2Error, oauth2_login

logger = logging.getLogger(__name__)

# Seconds to connect, and to wait for any one reply of the server.
TIMEOUT_SECONDS = 30.0
# One FETCH holds at most this many messages and (unless one message alone is larger)
# this many bytes in memory.
BATCH_MESSAGES = 20
BATCH_BYTES = 20 * 1024 * 1024
# Longest UID list sent in one command (STORE, MOVE): keeps command lines short.
COMMAND_UIDS = 500

# Everything that means "the server or the network failed", as opposed to a bug here.
IMAP_ERRORS: tuple[type[BaseException], ...] = (IMAPClientError, OSError, OAuth2Error)


@dataclass
class PollResult:
    """What one poll of one mailbox did; ``errors`` is empty when it went well."""

    channel_id: int
    folder: str = ""
    fetched: int = 0  # message bodies downloaded
    stored: int = 0  # new InboundMessage rows
    skipped: int = 0  # fetched but left alone: another poller stored it first
    acknowledged: int = 0  # flagged \Seen or moved, this poll's and earlier polls' leftovers
    uidvalidity_changed: bool = False
    has_more: bool = False  # stopped at max_messages; the folder holds more
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = (
            f"channel {self.channel_id} {self.folder or '-'}: fetched {self.fetched}, stored {self.stored}, "
            f"skipped {self.skipped}, acknowledged {self.acknowledged}"
        )
        if self.uidvalidity_changed:
            text += ", UIDVALIDITY changed (folder read again)"
        if self.has_more:
            text += ", more waiting"
        if self.errors:
            text += f", error: {'; '.join(self.errors)}"
        return text


class _NotConfigured(Exception):
    """The channel is gone, inactive, not email, or has no IMAP settings."""


# --- Reads ------------------------------------------------------------------------------


def imap_channel_ids() -> list[int]:
    """The active email channels with an IMAP mailbox, the ones beat polls."""
    channels = Channel.objects.filter(kind=Channel.Kind.EMAIL, is_active=True, config__has_key="imap").order_by("pk")
    return [channel.pk for channel in channels if EmailChannelSettings.from_channel(channel).imap is not None]


def _channel_imap(channel_id: int) -> tuple[Channel, ImapSettings]:
    channel = Channel.objects.filter(pk=channel_id, kind=Channel.Kind.EMAIL, is_active=True).first()
    imap = EmailChannelSettings.from_channel(channel).imap if channel is not None else None
    if channel is None or imap is None:
        raise _NotConfigured(f"channel {channel_id} is not an active email channel with IMAP settings")
    return channel, imap


def _source(folder: str, uidvalidity: int, uid: int) -> str:
    return f"{_source_prefix(folder, uidvalidity)}{uid}"


def _source_prefix(folder: str, uidvalidity: int) -> str:
    return f"imap:{folder}:uidvalidity {uidvalidity}:uid "


def _highest_stored_uid(channel: Channel, folder: str, uidvalidity: int) -> int:
    """The highest UID of this folder and UIDVALIDITY already stored, from the sources."""
    prefix = _source_prefix(folder, uidvalidity)
    sources = InboundMessage.objects.filter(channel=channel, source__startswith=prefix).values_list("source", flat=True)
    uids = [int(tail) for tail in (s[len(prefix):] for s in sources.iterator()) if tail.isdigit()]
    return max(uids, default=0)


# --- The IMAP connection ----------------------------------------------------------------


def imap_connect(imap: ImapSettings, *, timeout: float = TIMEOUT_SECONDS) -> IMAPClient:
    """A logged-in client: implicit TLS (``ssl``), ``starttls``, or plain text (``none``).

    Certificates are verified against the system's CAs; plain text is for a server on
    loopback or a trusted private network only.
    """
    context = ssl.create_default_context()
    client = IMAPClient(imap.host, port=imap.port, ssl=imap.security == "ssl", ssl_context=context, timeout=timeout)
    try:
        if imap.security == "starttls":
            client.starttls(context)
        if imap.auth == "oauth2":
            oauth2_login(client, imap)  # AUTHENTICATE XOAUTH2 with an access token
        else:
            client.login(imap.username, imap.password)
    except BaseException:
        _close_quietly(client)
        raise
    return client


def _close_quietly(client: IMAPClient) -> None:
    """Log out, or at least drop the socket; the connection may already be broken."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - best effort on a connection we are abandoning
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001, S110 - the connection is being abandoned anyway
            pass


def _describe(exc: BaseException, imap: ImapSettings) -> str:
    """An error in words an admin can act on (recorded in ImapFolderState.last_error)."""
    where = f"{imap.host}:{imap.port}"
    if isinstance(exc, OAuth2Error):
        return f"no OAuth2 access token for {imap.username!r}: {exc}"
    if isinstance(exc, LoginError):
        return f"authentication failed for {imap.username!r} at {where}: {_text(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"timed out talking to {where}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {imap.host!r}: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {where}: {exc}"
    if isinstance(exc, OSError):
        return f"network error with {where}: {exc}"
    return f"IMAP error from {where}: {_text(exc)}"


def _text(exc: BaseException) -> str:
    """imaplib puts the server's bytes in the message: b'[AUTHENTICATIONFAILED] ...'."""
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(text[1]):
        text = text[2:-1]
    return text


def _chunks(uids: Sequence[int], size: int = COMMAND_UIDS) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield list(uids[start : start + size])


# --- Writes -----------------------------------------------------------------------------


def _state_for(channel: Channel, folder: str) -> ImapFolderState:
    state, _ = ImapFolderState.objects.get_or_create(channel=channel, folder=folder)
    return state


def _sync_uidvalidity(*, state_id: int, channel: Channel, folder: str, uidvalidity: int) -> tuple[int, bool]:
    """Record the folder's UIDVALIDITY; returns (last_uid, whether it changed).

    A new or changed UIDVALIDITY sets the position to the highest UID already stored
    under that value: 0 after a real change, the old position when the row was lost.
    """
    with transaction.atomic(durable=True):
        state = ImapFolderState.objects.select_for_update().get(pk=state_id)
        if state.uidvalidity == uidvalidity:
            return state.last_uid, False
        changed = state.uidvalidity is not None
        recovered = _highest_stored_uid(channel, folder, uidvalidity)
        if changed:
            logger.warning(
                "IMAP UIDVALIDITY changed: reading the folder again",
                extra={"channel_id": channel.pk, "folder": folder, "old": state.uidvalidity, "new": uidvalidity},
            )
        elif recovered:
            logger.warning(
                "IMAP position recovered from stored messages",
                extra={"channel_id": channel.pk, "folder": folder, "last_uid": recovered},
            )
        state.uidvalidity, state.last_uid = uidvalidity, recovered
        state.save(update_fields=["uidvalidity", "last_uid"])
        return recovered, changed


def _store(*, state_id: int, channel: Channel, folder: str, uidvalidity: int, uid: int, raw: bytes) -> bool:
    """Store one message and advance the position past it, in one committed transaction.

    ``durable=True``: this must be the outermost transaction, because once it returns
    the caller may flag the message on the server: it must really be committed by then. Returns False, storing nothing,
    when another poller already advanced past ``uid`` (or re-read the folder meanwhile).
    """
    with transaction.atomic(durable=True):
        state = ImapFolderState.objects.select_for_update().get(pk=state_id)
        if state.uidvalidity != uidvalidity or uid <= state.last_uid:
            return False
        services.inbound_store(
            channel=channel,
            raw=raw,
            source=_source(folder, uidvalidity, uid),
            envelope_recipient="",
            enqueue=True,
        )
        state.last_uid = uid
        state.save(update_fields=["last_uid"])
    return True


def _record(state_id: int, *, error: str) -> None:
    """When the folder was last polled and how it went ("" = fine); leaves the position alone."""
    ImapFolderState.objects.filter(pk=state_id).update(last_polled_at=timezone.now(), last_error=error[:5000])


# --- The poll ---------------------------------------------------------------------------


def imap_poll_channel(*, channel_id: int, max_messages: int = 500, client: IMAPClient | None = None) -> PollResult:
    """Poll one channel's IMAP folder once: store new mail, then acknowledge it on the server.

    Opens its own connection unless ``client`` (logged in, as ``poll_imap --idle`` keeps
    one) is given. Server, network and authentication failures are logged and recorded on
    the folder's ``ImapFolderState.last_error`` and returned in ``PollResult.errors``, never
    raised; database errors are raised (the beat task's next run retries). Must run outside
    any transaction: each message is committed before it is acknowledged.
    """
    result = PollResult(channel_id=channel_id)
    try:
        channel, imap = _channel_imap(channel_id)
    except _NotConfigured as exc:
        result.errors.append(str(exc))
        return result
    result.folder = imap.folder
    state = _state_for(channel, imap.folder)
    own_client = client is None
    error = ""
    try:
        if client is None:
            client = imap_connect(imap)
        _poll(client, channel=channel, imap=imap, state_id=state.pk, max_messages=max_messages, result=result)
    except IMAP_ERRORS as exc:
        error = _describe(exc, imap)
        result.errors.append(error)
        logger.warning("IMAP poll failed", extra={"channel_id": channel_id, "folder": imap.folder, "error": error})
    except Exception as exc:
        # A bug, a time limit or a database failure: recorded if the database still
        # answers, and raised for the logs and the task's retry.
        try:
            _record(state.pk, error=f"unexpected error: {type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - the original error is the one worth raising
            logger.exception("cannot record the IMAP poll error")
        raise
    finally:
        if own_client and client is not None:
            _close_quietly(client)
    _record(state.pk, error=error)
    if result.stored or result.errors:
        logger.info("IMAP poll", extra={"channel_id": channel_id, "summary": result.summary()})
    return result


def _poll(client: IMAPClient, *, channel: Channel, imap: ImapSettings, state_id: int, max_messages: int, result: PollResult) -> None:
    try:
        selected = client.select_folder(imap.folder)
    except IMAPClientError as exc:
        raise IMAPClientError(f"cannot open folder {imap.folder!r}: {_text(exc)}") from exc
    uidvalidity = int(selected[b"UIDVALIDITY"])
    last_uid, result.uidvalidity_changed = _sync_uidvalidity(
        state_id=state_id, channel=channel, folder=imap.folder, uidvalidity=uidvalidity
    )

    if last_uid:
        # Stored by an earlier poll that died before acknowledging them.
        criteria = ["UID", f"1:{last_uid}"] if imap.archive_folder else ["UID", f"1:{last_uid}", "UNSEEN"]
        leftovers = sorted(uid for uid in client.search(criteria) if uid <= last_uid)
        if leftovers:
            logger.info("IMAP leftovers acknowledged", extra={"channel_id": channel.pk, "count": len(leftovers)})
            _acknowledge(client, imap, leftovers, result)

    # For "N:*" servers answer with the highest UID even when it is below N.
    new_uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
    if len(new_uids) > max_messages:
        new_uids, result.has_more = new_uids[:max_messages], True
    if not new_uids:
        return

    sizes = {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in client.fetch(new_uids, ["RFC822.SIZE"]).items()}
    limit = settings.PARLEY_MAX_INBOUND_BYTES
    for batch in _batches([uid for uid in new_uids if uid in sizes], sizes):
        handled: list[int] = []
        response = client.fetch(batch, ["BODY.PEEK[]"])
        for uid in batch:
            raw = response.get(uid, {}).get(b"BODY[]")
            if raw is None:  # expunged since the SEARCH: UIDs are never reused, nothing to do
                continue
            result.fetched += 1
            if len(raw) > limit:
                logger.warning(
                    "IMAP message over PARLEY_MAX_INBOUND_BYTES stored anyway",
                    extra={"channel_id": channel.pk, "uid": uid, "size": len(raw)},
                )
            if _store(state_id=state_id, channel=channel, folder=imap.folder, uidvalidity=uidvalidity, uid=uid, raw=raw):
                result.stored += 1
                handled.append(uid)
            else:
                result.skipped += 1
        del response
        # Only now, with every message of the batch committed, does the server hear of it.
        _acknowledge(client, imap, handled, result)


def _batches(uids: Sequence[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Consecutive UIDs grouped by count and total size; a huge message goes alone."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= BATCH_MESSAGES or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _acknowledge(client: IMAPClient, imap: ImapSettings, uids: Sequence[int], result: PollResult) -> None:
    """Flag stored messages \\Seen and, with an archive folder, move them there.

    Without MOVE (RFC 6851) the fallback is COPY, \\Deleted and UID EXPUNGE; a server
    without UIDPLUS gets a plain EXPUNGE, which also removes other messages already
    flagged \\Deleted in the folder.
    """
    if not uids:
        return
    for chunk in _chunks(uids):
        client.add_flags(chunk, [SEEN], silent=True)
    if imap.archive_folder:
        if not client.folder_exists(imap.archive_folder):
            client.create_folder(imap.archive_folder)
        for chunk in _chunks(uids):
            if client.has_capability("MOVE"):
                client.move(chunk, imap.archive_folder)
            else:
                client.copy(chunk, imap.archive_folder)
                client.add_flags(chunk, [DELETED], silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(chunk)
                else:
                    client.expunge()
    result.acknowledged += len(uids)


# --- IDLE -------------------------------------------------------------------------------


def imap_watch_channel(
    *,
    channel_id: int,
    stop: threading.Event,
    repoll_seconds: float = 300.0,
    poll_seconds: float = 60.0,
    check_seconds: float = 10.0,
    max_backoff_seconds: float = 300.0,
    on_poll: Callable[[PollResult], None] | None = None,
) -> None:
    """Keep one channel's mailbox connected and poll it as soon as mail arrives, until ``stop``.

    Where the server offers IDLE (RFC 2177) and the channel allows it (``use_idle``), the
    connection waits in IDLE and polls when the server announces EXISTS, and regardless
    every ``repoll_seconds`` (servers drop IDLE after 30 minutes; a missed notification
    costs at most that long). Otherwise it polls every ``poll_seconds``. Any failure
    reconnects with exponential backoff, 1 s doubling up to ``max_backoff_seconds``.
    ``check_seconds`` bounds how long ``stop`` may go unnoticed. Returns when the channel
    is deactivated or loses its IMAP settings. ``on_poll`` sees every poll's result.
    """
    backoff = 1.0
    while not stop.is_set():
        close_old_connections()  # a long-running process must not reuse a dead connection
        try:
            channel, imap = _channel_imap(channel_id)
        except _NotConfigured as exc:
            logger.info("IMAP watch ends", extra={"channel_id": channel_id, "reason": str(exc)})
            return
        state_id = _state_for(channel, imap.folder).pk
        client: IMAPClient | None = None
        try:
            client = imap_connect(imap)
            backoff = _watch_session(
                client,
                imap,
                channel_id=channel_id,
                stop=stop,
                repoll_seconds=repoll_seconds,
                poll_seconds=poll_seconds,
                check_seconds=check_seconds,
                on_poll=on_poll,
                backoff=backoff,
            )
        except IMAP_ERRORS as exc:
            error = _describe(exc, imap)
            logger.warning("IMAP watch connection failed", extra={"channel_id": channel_id, "error": error})
            _record(state_id, error=error)
            if on_poll is not None:
                on_poll(PollResult(channel_id=channel_id, folder=imap.folder, errors=[error]))
        finally:
            if client is not None:
                _close_quietly(client)
        if not stop.is_set():
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff_seconds)


def _watch_session(
    client: IMAPClient,
    imap: ImapSettings,
    *,
    channel_id: int,
    stop: threading.Event,
    repoll_seconds: float,
    poll_seconds: float,
    check_seconds: float,
    on_poll: Callable[[PollResult], None] | None,
    backoff: float,
) -> float:
    """Poll and wait on one connection until ``stop`` or a failure (raised to reconnect)."""
    use_idle = imap.use_idle and client.has_capability("IDLE")
    while not stop.is_set():
        close_old_connections()
        result = imap_poll_channel(channel_id=channel_id, client=client)
        if on_poll is not None:
            on_poll(result)
        if result.errors:
            return backoff  # already recorded; reconnect after the backoff
        backoff = 1.0
        if result.fetched or result.has_more:
            # Mail that arrived while this poll ran may have been announced in a reply
            # it consumed: poll again until a poll finds nothing, then wait.
            continue
        if not use_idle:
            stop.wait(poll_seconds)
            continue
        deadline = time.monotonic() + repoll_seconds
        client.idle()
        try:
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                responses = client.idle_check(timeout=min(check_seconds, remaining))
                if any(len(r) >= 2 and r[1] == b"EXISTS" for r in responses):
                    break
        finally:
            client.idle_done()
    return backoff
