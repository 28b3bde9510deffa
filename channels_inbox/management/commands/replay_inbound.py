"""replay_inbound [ID...]: run quarantined inbound messages through the pipeline again."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandParser

from channels_inbox import services


class Command(BaseCommand):
    help = "Re-run quarantined inbound messages (all of them, or the ids given) and print what became of them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="inbound message ids (default: every quarantined one)")

    def handle(self, *args, **options) -> None:
        results = services.inbound_replay(inbound_ids=options["ids"] or None)
        counts = Counter(r.outcome for r in results)
        for result in results:
            if result.error:
                self.stderr.write(f"still quarantined: inbound #{result.inbound_id}: {result.error}")
        summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items())) or "nothing to replay"
        self.stdout.write(f"replayed {len(results)}: {summary}")
