"""bench_data --tickets N --messages M [--customers C] [--fresh]: benchmark-sized data, fast.

Fills a PostgreSQL database with N tickets and M messages (and their customers with
identities and organizations, tags, events) in minutes: 1,000,000 / 5,000,000 is the
size bench/inbox.py measures. Uses the demo's staff logins (admin, maya, sam) and adds
agents agent01… . The work is done by ``tickets.demo.bulk.bulk_load``, which explains how.
Refuses to run on SQLite.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.demo.bulk import BulkLoadError, bulk_load


class Command(BaseCommand):
    help = "Fill a PostgreSQL database with benchmark data (set-based inserts; 1M tickets in minutes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets to add (default 1,000,000)")
        parser.add_argument("--messages", type=int, default=5_000_000, help="messages to add in all (default 5,000,000)")
        parser.add_argument("--customers", type=int, default=None, help="customers to add (default tickets / 4)")
        parser.add_argument(
            "--fresh",
            action="store_true",
            help="first empty EVERY ticket, message, event, customer and organization table of this database "
            "(not only earlier bench rows); staff, teams and channels stay",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = bulk_load(
                tickets=options["tickets"],
                messages=options["messages"],
                customers=options["customers"],
                fresh=options["fresh"],
                stdout=self.stdout if options["verbosity"] >= 2 else None,
            )
        except BulkLoadError as exc:
            raise CommandError(str(exc)) from None
        rows = ", ".join(f"{count:,} {name}" for name, count in summary.rows.items())
        self.stdout.write(f"Benchmark data added in {summary.total_seconds:.1f}s: {rows}.")
