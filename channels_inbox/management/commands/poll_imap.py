"""poll_imap [--channel ID] [--idle]: fetch new mail from the IMAP mailboxes of email channels.

Without ``--idle``: poll every active email channel with IMAP settings (or the one named)
until its folder holds nothing new, print one line per mailbox and a total, and exit with
status 1 if any mailbox failed (the errors are also recorded on its ImapFolderState).
Celery beat does the same every IMAP_POLL_SECONDS; this is for cron, scripts and
debugging a mailbox's settings.

With ``--idle``: stay connected, one thread per mailbox, and fetch mail the moment the
server announces it (IMAP IDLE), re-polling every ``--repoll`` seconds regardless and every
``--interval`` seconds where the server has no IDLE; reconnect with backoff on errors;
stop on SIGTERM or Ctrl-C. It may run beside the beat task: the two never store a message
twice (the poll locks the folder's state row for each message). No cache lock is taken
here, so a killed command leaves nothing behind that would block the next poll.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from channels_inbox.imap import PollResult, imap_channel_ids, imap_poll_channel, imap_watch_channel


class Command(BaseCommand):
    help = "Fetch new mail from the IMAP mailboxes of email channels (once, or continuously with --idle)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", type=int, help="poll only this channel (its id)")
        parser.add_argument("--idle", action="store_true", help="stay connected and fetch mail as it arrives (IMAP IDLE)")
        parser.add_argument("--max-messages", type=int, default=500, help="messages per poll (default 500)")
        parser.add_argument("--repoll", type=float, default=300.0, help="with --idle: seconds between full polls (default 300)")
        parser.add_argument("--interval", type=float, default=60.0, help="with --idle, servers without IDLE: seconds between polls (default 60)")

    def handle(self, *args, **options) -> None:
        channel_ids = imap_channel_ids()
        if options["channel"] is not None:
            if options["channel"] not in channel_ids:
                raise CommandError(f"channel {options['channel']} is not an active email channel with IMAP settings")
            channel_ids = [options["channel"]]
        if not channel_ids:
            self.stdout.write("no active email channel has IMAP settings")
            return
        if options["idle"]:
            self._watch(channel_ids, repoll=options["repoll"], interval=options["interval"])
            return
        failed = 0
        totals = PollResult(channel_id=0)
        for channel_id in channel_ids:
            result = self._drain(channel_id, max_messages=options["max_messages"])
            self.stdout.write(result.summary())
            for name in ("fetched", "stored", "skipped", "acknowledged"):
                setattr(totals, name, getattr(totals, name) + getattr(result, name))
            failed += bool(result.errors)
        self.stdout.write(
            f"polled {len(channel_ids)} mailbox(es): fetched {totals.fetched}, stored {totals.stored}, "
            f"skipped {totals.skipped}, acknowledged {totals.acknowledged}, failed {failed}"
        )
        if failed:
            raise CommandError(f"{failed} mailbox(es) could not be polled; see the errors above")

    @staticmethod
    def _drain(channel_id: int, *, max_messages: int) -> PollResult:
        """Poll until the folder holds nothing new; one result adding up every round."""
        total = PollResult(channel_id=channel_id)
        while True:
            result = imap_poll_channel(channel_id=channel_id, max_messages=max_messages)
            total.folder = result.folder
            for name in ("fetched", "stored", "skipped", "acknowledged"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.uidvalidity_changed |= result.uidvalidity_changed
            total.errors += result.errors
            if result.errors or not result.has_more:
                return total

    def _watch(self, channel_ids: list[int], *, repoll: float, interval: float) -> None:
        stop = threading.Event()
        output = threading.Lock()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

        def report(result: PollResult) -> None:
            if result.stored or result.acknowledged or result.errors:
                with output:
                    (self.stderr if result.errors else self.stdout).write(result.summary())

        def run(channel_id: int) -> None:
            try:
                imap_watch_channel(channel_id=channel_id, stop=stop, repoll_seconds=repoll, poll_seconds=interval, on_poll=report)
            finally:
                connections.close_all()  # this thread's connections only

        threads = [threading.Thread(target=run, args=(cid,), name=f"imap-{cid}", daemon=True) for cid in channel_ids]
        self.stdout.write(f"watching {len(threads)} mailbox(es); stop with SIGTERM or Ctrl-C")
        try:
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads) and not stop.is_set():
                stop.wait(1.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("stopped")
