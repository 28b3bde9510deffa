"""ingest_email PATH...: import .eml files, maildir folders and mbox files through the pipeline.

Each message is stored as an InboundMessage first, then processed, exactly as mail that
arrives over IMAP or SMTP. One summary line says what became of them. A bad message is
quarantined, never fatal; only a missing path is a usage error (exit status 1).
"""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_inbox import services
from channels_inbox.models import Channel
from channels_inbox.pipeline import Outcome


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _maildir_order(key: str) -> tuple[float, str]:
    stamp = key.split(".", 1)[0]
    try:
        return float(stamp), key
    except ValueError:
        return float("inf"), key


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(5) == b"From "


def iter_messages(path: Path) -> Iterator[tuple[str, bytes | None, str]]:
    """(source, raw bytes or None, read error) for every message under ``path``."""
    if _is_maildir(path):
        box = mailbox.Maildir(path, factory=None, create=False)
        # Maildir names start with the delivery time in seconds: sort numerically so
        # messages are ingested in arrival order (replies after what they answer).
        for key in sorted(box.iterkeys(), key=_maildir_order):
            try:
                yield f"maildir:{path}:{key}", box.get_bytes(key), ""
            except OSError as exc:
                yield f"maildir:{path}:{key}", None, str(exc)
        return
    if path.is_dir():
        for child in sorted(p for p in path.iterdir() if not p.name.startswith(".")):
            yield from iter_messages(child)
        return
    try:
        if _is_mbox(path):
            box = mailbox.mbox(path, factory=None, create=False)
            for key in box.iterkeys():
                yield f"mbox:{path}:{key}", box.get_bytes(key), ""
            return
        yield f"file:{path}", path.read_bytes(), ""
    except OSError as exc:
        yield f"file:{path}", None, str(exc)


class Command(BaseCommand):
    help = "Ingest .eml files, maildir folders or mbox files into tickets, printing a one-line summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help=".eml files, maildir folders, mbox files, or folders of them")
        parser.add_argument("--channel", help="the email channel: its id, inbound address or key (default: the first email channel)")
        parser.add_argument("--async", dest="use_queue", action="store_true", help="queue processing on Celery instead of running it here")

    def _channel(self, ref: str | None) -> Channel:
        qs = Channel.objects.filter(kind=Channel.Kind.EMAIL)
        if ref:
            channel = (
                qs.filter(pk=int(ref)).first() if ref.isdigit() else None
            ) or qs.filter(inbound_address=ref.lower()).first() or qs.filter(public_key=ref).first()
            if channel is None:
                raise CommandError(f"no email channel {ref!r}")
            return channel
        channel = qs.filter(is_active=True).order_by("pk").first()
        if channel is None:
            channel = Channel.objects.create(kind=Channel.Kind.EMAIL, name="Email")
        return channel

    def handle(self, *args, **options) -> None:
        paths = [Path(p) for p in options["paths"]]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        channel = self._channel(options["channel"])
        counts: Counter[str] = Counter()
        for path in paths:
            for source, raw, error in iter_messages(path):
                if raw is None:
                    counts["unreadable"] += 1
                    self.stderr.write(f"unreadable: {source}: {error}")
                    continue
                counts["received"] += 1
                inbound = services.inbound_store(channel=channel, raw=raw, source=source, enqueue=options["use_queue"])
                if options["use_queue"]:
                    counts["queued"] += 1
                    continue
                result = services.inbound_process(inbound_id=inbound.pk)
                counts[result.outcome] += 1
                if result.outcome == Outcome.QUARANTINED:
                    self.stderr.write(f"quarantined: {source} (inbound #{inbound.pk}): {result.error}")
        parts = [
            f"received {counts['received']}",
            f"new tickets {counts[Outcome.NEW_TICKET]}",
            f"threaded {counts[Outcome.THREADED]}",
            f"duplicates {counts[Outcome.DUPLICATE]}",
            f"quarantined {counts[Outcome.QUARANTINED]}",
            f"ignored {counts[Outcome.IGNORED]}",
        ]
        if counts["unreadable"]:
            parts.append(f"unreadable {counts['unreadable']}")
        if counts["queued"]:
            parts.append(f"queued {counts['queued']}")
        self.stdout.write(", ".join(parts))
