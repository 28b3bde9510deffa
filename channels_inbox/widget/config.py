"""A chat channel's widget settings (``Channel.config["widget"]``) and their checks.

Admins edit them as JSON on the channel's page (/manage/channels/); the identity
verification secret is the channel secret ``identity_secret`` (encrypted at rest like the
social channels' secrets, write-only in the admin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from channels_inbox.social.secrets import secret_value

SECRET_NAME = "identity_secret"  # noqa: S105 - the name of a secret, not one
PRECHAT_CHOICES = ("off", "optional", "required")
POSITIONS = ("right", "left")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def normalise_origin(origin: str) -> str:
    """``https://Shop.Example.com:443/`` -> ``https://shop.example.com`` (how browsers send it)."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class WidgetSettings:
    color: str = "#2563eb"
    greeting: str = "Hi! How can we help?"
    position: str = "right"
    language: str = "en"
    prechat: dict[str, str] = field(default_factory=lambda: {"name": "off", "email": "off"})
    # Origins (scheme://host[:port]) of the sites that may embed the widget; empty = any.
    allowed_origins: tuple[str, ...] = ()
    require_verification: bool = False

    @classmethod
    def from_config(cls, config: Any) -> WidgetSettings:
        widget = (config or {}).get("widget") if isinstance(config, dict) else None
        widget = widget if isinstance(widget, dict) else {}
        defaults = cls()
        prechat = widget.get("prechat") if isinstance(widget.get("prechat"), dict) else {}
        return cls(
            color=widget["color"] if _COLOR.match(str(widget.get("color", ""))) else defaults.color,
            greeting=str(widget.get("greeting") or defaults.greeting)[:500],
            position=widget.get("position") if widget.get("position") in POSITIONS else defaults.position,
            language=str(widget.get("language") or defaults.language)[:16],
            prechat={
                name: prechat.get(name) if prechat.get(name) in PRECHAT_CHOICES else defaults.prechat[name]
                for name in ("name", "email")
            },
            allowed_origins=tuple(
                o
                for o in (normalise_origin(x) for x in widget.get("allowed_origins") or [] if isinstance(x, str))
                if o
            ),
            require_verification=widget.get("require_verification") is True,
        )

    def public(self) -> dict[str, Any]:
        """What the widget may know (sent to any visitor): never the origins or the secret."""
        return {
            "color": self.color,
            "greeting": self.greeting,
            "position": self.position,
            "language": self.language,
            "prechat": dict(self.prechat),
            "require_verification": self.require_verification,
        }

    def origin_allowed(self, origin: str | None) -> bool:
        """Any origin when none are listed; otherwise the browser's Origin must be listed.

        A request without an Origin header is refused when origins are listed: every
        browser sends one on websocket handshakes and cross-origin fetches, so its absence
        means a non-browser client, which the list exists to keep out of embedding anyway.
        """
        if not self.allowed_origins:
            return True
        return bool(origin) and normalise_origin(origin) in self.allowed_origins


def identity_secret(secrets: Any) -> str:
    return secret_value(dict(secrets or {}), SECRET_NAME)


def config_problems(config: dict[str, Any], secrets: dict[str, Any]) -> list[str]:
    """What is wrong with a chat channel's settings, in words an admin understands."""
    widget = config.get("widget", {})
    if not isinstance(widget, dict):
        return [
            '"widget" must be a JSON object, e.g. {"widget": {"color": "#2563eb"}}.'
        ]
    problems = []
    if "color" in widget and not _COLOR.match(str(widget["color"])):
        problems.append(
            f"widget.color {widget['color']!r} is not a colour like #2563eb."
        )
    if "position" in widget and widget["position"] not in POSITIONS:
        problems.append('widget.position must be "right" or "left".')
    prechat = widget.get("prechat", {})
    if not isinstance(prechat, dict):
        problems.append(
            'widget.prechat must be an object like {"name": "optional", "email": "required"}.'
        )
    else:
        for name, value in prechat.items():
            if name not in ("name", "email"):
                problems.append(
                    f"widget.prechat.{name}: only name and email can be asked for."
                )
            elif value not in PRECHAT_CHOICES:
                problems.append(
                    f"widget.prechat.{name} must be one of {', '.join(PRECHAT_CHOICES)}."
                )
    origins = widget.get("allowed_origins", [])
    if not isinstance(origins, list):
        problems.append(
            'widget.allowed_origins must be a list like ["https://www.example.com"].'
        )
    else:
        for origin in origins:
            if not isinstance(origin, str) or not normalise_origin(origin):
                problems.append(
                    f"widget.allowed_origins: {origin!r} is not an origin like https://www.example.com."
                )
    if "require_verification" in widget and not isinstance(
        widget["require_verification"], bool
    ):
        problems.append("widget.require_verification must be true or false.")
    if widget.get("require_verification") is True and not identity_secret(secrets):
        problems.append(
            f'Identity verification is required but the secret "{SECRET_NAME}" is not set.'
        )
    return problems
