"""smtp_inbound: receive mail for the email channels over SMTP, behind the company MTA.

Runs until SIGTERM or Ctrl-C; a message is acknowledged (250) only once it is stored.
See ``channels_inbox.smtp_inbound`` for the replies and what is (deliberately) missing:
no STARTTLS, no AUTH; listen on loopback or a private network only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from channels_inbox.smtp_inbound import InboundController, serve


class Command(BaseCommand):
    help = "Receive mail for the email channels' addresses over SMTP (run behind the company MTA)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.SMTP_INBOUND_HOST, help="address to listen on (default: SMTP_INBOUND_HOST)")
        parser.add_argument("--port", type=int, default=settings.SMTP_INBOUND_PORT, help="port (default: SMTP_INBOUND_PORT; 0 picks a free one)")
        parser.add_argument("--hostname", default=None, help="the name in the greeting (default: this machine's host name)")

    def handle(self, *args, host: str, port: int, hostname: str | None, **options) -> None:
        def ready(controller: InboundController) -> None:
            limit = settings.PARLEY_MAX_INBOUND_BYTES
            self.stdout.write(f"smtp_inbound listening on {controller.hostname}:{controller.port} (max {limit} bytes per message)")
            self.stdout.flush()

        serve(host=host, port=port, server_hostname=hostname, on_ready=ready)
        self.stdout.write("smtp_inbound stopped")
