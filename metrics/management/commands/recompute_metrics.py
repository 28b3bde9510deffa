"""``manage.py recompute_metrics [--since YYYY-MM-DD]``: rebuild per-ticket measurements exactly."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.services import metrics_recompute


class Command(BaseCommand):
    help = (
        "Recompute per-ticket metrics from the event log: every ticket, or those with any event "
        "since DATE (a local date in the company's time zone). Same code as the incremental task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", metavar="DATE", help="only tickets with events on or after this date (YYYY-MM-DD)")

    def handle(self, *args, since: str | None = None, **options) -> None:
        since_date = None
        if since:
            try:
                since_date = dt.date.fromisoformat(since)
            except ValueError:
                raise CommandError(f"--since {since!r} is not a date like 2026-01-31") from None
        started = time.monotonic()
        count = metrics_recompute(since=since_date)
        self.stdout.write(f"recomputed metrics of {count} tickets in {time.monotonic() - started:.1f}s")
