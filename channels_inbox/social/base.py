"""What the social and messaging adapters share: reading a webhook body, settings and
secrets, the base URL of each platform's API (overridable per channel, so tests point it at
a local stand-in), and small parse helpers that keep every string storable."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.http import HttpResponse

from channels_inbox.exceptions import ChannelMisconfigured
from channels_inbox.social.secrets import secret_value

if TYPE_CHECKING:
    from django.http import HttpRequest

    from channels_inbox.models import Channel


def clean(value: Any, limit: int = 100_000) -> str:
    """A platform's string as we store it: no NUL (PostgreSQL refuses it), no lone surrogate, bounded."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", "")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def storable(value: Any) -> Any:
    """A parsed JSON value with every string (keys too) made storable in jsonb."""
    if isinstance(value, str):
        return clean(value, 10_000_000)
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {clean(k, 10_000): storable(v) for k, v in value.items()}
    return value


def from_timestamp(value: Any) -> dt.datetime | None:
    """Unix seconds (or milliseconds, as Messenger sends) -> aware datetime; None when unusable."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return dt.datetime.fromtimestamp(number, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


class WebhookAdapter:
    """Base of the adapters that take webhooks under ``/hooks/<kind>/<channel-key>/``."""

    kind: ClassVar[str]
    # The platform's name in error messages ("Telegram answered 429: ...").
    platform: ClassVar[str]
    # Settings in Channel.config: name -> default ("" means required).
    config_fields: ClassVar[dict[str, Any]] = {}
    # Secrets in Channel.secrets that must be set.
    required_secrets: ClassVar[tuple[str, ...]] = ()
    default_api_base: ClassVar[str] = ""

    # --- settings ----------------------------------------------------------------------

    def validate(self, config: dict, secrets: dict) -> list[str]:
        problems = []
        if not isinstance(config, dict):
            return ["the configuration must be a JSON object"]
        for name, default in self.config_fields.items():
            if default == "" and not str(config.get(name) or "").strip():
                problems.append(f"config needs {name!r}")
        unknown = sorted(set(config) - set(self.config_fields) - {"api_base"})
        if unknown:
            problems.append(f"config has unknown settings: {', '.join(unknown)}")
        base = config.get("api_base")
        if base and not str(base).startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
            problems.append("api_base must be an https:// URL")
        for name in self.required_secrets:
            if not secrets.get(name):
                problems.append(f"secret {name!r} is not set")
        return problems

    def config(self, channel: Channel, name: str) -> str:
        value = (channel.config or {}).get(name)
        if value in (None, ""):
            value = self.config_fields.get(name, "")
        return str(value)

    def secret(self, channel: Channel, name: str) -> str:
        value = secret_value(channel.secrets or {}, name)
        if not value:
            raise ChannelMisconfigured(f"the channel {channel.name!r} has no {name} set")
        return value

    def api_base(self, channel: Channel) -> str:
        """The platform's API root; ``config.api_base`` overrides it (a stand-in, a proxy)."""
        return ((channel.config or {}).get("api_base") or self.default_api_base).rstrip("/")

    # --- inbound -----------------------------------------------------------------------

    def read_payload(self, request: HttpRequest) -> tuple[Any, str]:
        """The body as it will be stored, and the delivery's id if the platform gives one.
        Never raises: a body that is not JSON is kept as text and shown as an unknown shape.
        Strings PostgreSQL's jsonb cannot hold (NUL, lone surrogates) are cleaned; the view
        then keeps the exact bytes in ``InboundMessage.raw`` as well."""
        try:
            return storable(json.loads(request.body)), ""
        except (ValueError, UnicodeDecodeError, RecursionError):
            return {"unreadable_body": clean(request.body.decode("utf-8", "replace"), 50_000)}, ""

    def acknowledgement(self) -> HttpResponse:
        return HttpResponse(status=200)

    @staticmethod
    def max_body_bytes() -> int:
        return settings.PARLEY_MAX_WEBHOOK_BYTES
