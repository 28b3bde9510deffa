"""manage.py create_api_key NAME [--scopes tickets:read tickets:write ...] [--user USERNAME]

Prints the new key once (on stdout, alone on its line, for scripts); Parley keeps only its hash.
Without --scopes the key gets every scope the user's role allows; without --user it acts
as the first active superuser.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.api import keys
from tickets.api.scopes import ALL_SCOPES, UnknownScope, role_scopes


class Command(BaseCommand):
    help = "Create an API key and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Which integration uses the key")
        parser.add_argument("--scopes", nargs="+", default=None, metavar="SCOPE", help=f"e.g. tickets:read tickets:write; one of: {' '.join(ALL_SCOPES)}")
        parser.add_argument("--user", default=None, help="Username the key acts as (default: the first active superuser)")

    def handle(self, *args: Any, name: str, scopes: list[str] | None, user: str | None, **options: Any) -> None:
        User = get_user_model()
        if user:
            acting = User.objects.filter(username=user).first()
            if acting is None:
                raise CommandError(f"no user named {user!r}")
        else:
            acting = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
            if acting is None:
                raise CommandError("no active superuser; name the user the key acts as with --user")
        if scopes is None:
            scopes = sorted(role_scopes(acting))
        try:
            key, raw = keys.api_key_create(name=name, user=acting, scopes=scopes)
        except (UnknownScope, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"API key {key.name!r} acting as {acting.get_username()} with scopes {' '.join(key.scopes)}; shown once:")
        self.stdout.write(raw)
