"""seed_demo [--size N]: fill the database with a realistic, deterministic demo helpdesk.

Staff users with the demo logins (admin, maya, sam and colleagues), teams, one channel of
each kind, organizations, customers and N tickets (default 1,000) with whole conversations;
safe to run twice. The work is done by ``tickets.demo.seed_demo``, which explains how.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.demo import DEFAULT_SIZE, seed_demo


class Command(BaseCommand):
    help = "Fill the database with demo data (users admin/maya/sam, channels, customers, tickets). Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"number of tickets (default {DEFAULT_SIZE})")

    def handle(self, *args: Any, **options: Any) -> None:
        size: int = options["size"]
        if size < 0:
            raise CommandError("--size must be 0 or more")
        summary = seed_demo(size=size, stdout=self.stdout if options["verbosity"] >= 2 else None)
        if not summary.created:
            self.stdout.write(
                f"Demo data is already there ({summary.existing_tickets} tickets, {summary.customers} customers); "
                f"nothing to do ({summary.elapsed_seconds:.1f}s)."
            )
            return
        parts = ", ".join(f"{count} {name}" for name, count in summary.created.items())
        self.stdout.write(f"Demo data created in {summary.elapsed_seconds:.1f}s: {parts}.")
