"""Per-channel email settings, read from ``Channel.config`` and ``Channel.secrets``.

One typed view of the JSON so the IMAP poller, the SMTP receiver, the provider webhooks
and outbound delivery all read the same names; ``validate`` says what is wrong in words
an admin understands.

config (non-secret)::

    {"from_name": "Acme Support", "reply_to": "", "signature": "-- \\nAcme Support",
     "plus_addressing": true,                 # replies go to support+<token>@domain
     "thread_by_subject_days": 0,             # 0 = off; else same sender + subject within N days
     "auto_ack": {"enabled": false, "subject": "...", "body": "..."},
     "imap": {"host": "imap.example.com", "port": 993, "security": "ssl" | "starttls" | "none",
              "username": "support@example.com", "folder": "INBOX",
              "archive_folder": "",            # move stored mail there; "" = flag it \\Seen
              "use_idle": true,
              "auth": "password" | "oauth2",   # oauth2: XOAUTH2 with a refresh token
              "oauth2": {"token_url": "https://oauth2.googleapis.com/token",
                         "client_id": "...", "scope": ""}}}

secrets::

    {"imap_password": "...",                       # auth "password"
     "imap_oauth2_client_secret": "...", "imap_oauth2_refresh_token": "..."}   # auth "oauth2"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels_inbox.models import Channel


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    archive_folder: str = ""
    use_idle: bool = True
    # "password" (LOGIN) or "oauth2" (AUTHENTICATE XOAUTH2, channels_inbox/oauth2.py).
    auth: str = "password"
    oauth2_token_url: str = ""
    oauth2_client_id: str = ""
    oauth2_scope: str = ""
    oauth2_client_secret: str = field(default="", repr=False)
    oauth2_refresh_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class AutoAckSettings:
    enabled: bool = False
    subject: str = "[#{{ ticket.number }}] We received your message"
    body: str = (
        "Hello {{ customer.first_name }},\n\nthank you for writing to us. Your request has the number "
        "#{{ ticket.number }}; we will answer as soon as we can.\n\n{{ company.name }}"
    )


@dataclass(frozen=True)
class EmailChannelSettings:
    from_name: str = ""
    reply_to: str = ""
    signature: str = ""
    plus_addressing: bool = False
    thread_by_subject_days: int = 0
    auto_ack: AutoAckSettings = field(default_factory=AutoAckSettings)
    imap: ImapSettings | None = None

    @classmethod
    def from_channel(cls, channel: Channel) -> "EmailChannelSettings":
        config: dict[str, Any] = channel.config or {}
        secrets: dict[str, Any] = channel.secrets or {}
        imap_conf = config.get("imap") or None
        imap = None
        if isinstance(imap_conf, dict) and imap_conf.get("host"):
            oauth2 = imap_conf.get("oauth2") if isinstance(imap_conf.get("oauth2"), dict) else {}
            imap = ImapSettings(
                host=str(imap_conf["host"]),
                port=int(imap_conf.get("port") or (993 if imap_conf.get("security", "ssl") == "ssl" else 143)),
                security=str(imap_conf.get("security", "ssl")),
                username=str(imap_conf.get("username") or channel.inbound_address or ""),
                password=str(secrets.get("imap_password", "")),
                folder=str(imap_conf.get("folder") or "INBOX"),
                archive_folder=str(imap_conf.get("archive_folder") or ""),
                use_idle=bool(imap_conf.get("use_idle", True)),
                auth=str(imap_conf.get("auth") or "password"),
                oauth2_token_url=str(oauth2.get("token_url") or ""),
                oauth2_client_id=str(oauth2.get("client_id") or ""),
                oauth2_scope=str(oauth2.get("scope") or ""),
                oauth2_client_secret=str(secrets.get("imap_oauth2_client_secret", "")),
                oauth2_refresh_token=str(secrets.get("imap_oauth2_refresh_token", "")),
            )
        ack = config.get("auto_ack") or {}
        return cls(
            from_name=str(config.get("from_name", "")),
            reply_to=str(config.get("reply_to", "")),
            signature=str(config.get("signature", "")),
            plus_addressing=bool(config.get("plus_addressing", False)),
            thread_by_subject_days=int(config.get("thread_by_subject_days") or 0),
            auto_ack=AutoAckSettings(
                enabled=bool(ack.get("enabled", False)),
                subject=str(ack.get("subject") or AutoAckSettings.subject),
                body=str(ack.get("body") or AutoAckSettings.body),
            ),
            imap=imap,
        )


def validate(config: dict[str, Any]) -> list[str]:
    """Problems with an email channel's config, as sentences; empty when it is fine."""
    problems: list[str] = []
    if not isinstance(config, dict):
        return ["the configuration must be a JSON object"]
    imap = config.get("imap")
    if imap is not None:
        if not isinstance(imap, dict) or not imap.get("host"):
            problems.append("imap needs at least a host")
        elif imap.get("security", "ssl") not in ("ssl", "starttls", "none"):
            problems.append("imap.security must be ssl, starttls or none")
        elif "port" in imap and not str(imap["port"]).isdigit():
            problems.append("imap.port must be a number")
        else:
            problems.extend(_oauth2_problems(imap))
    days = config.get("thread_by_subject_days", 0)
    if not isinstance(days, int) or days < 0:
        problems.append("thread_by_subject_days must be a whole number of days (0 turns it off)")
    return problems



def _oauth2_problems(imap: dict[str, Any]) -> list[str]:
    """What an OAuth2 (XOAUTH2) mailbox's config lacks; its two secrets are checked by the
    channel form, which knows the stored secrets."""
    auth = imap.get("auth", "password")
    if auth not in ("password", "oauth2"):
        return ["imap.auth must be password or oauth2"]
    if auth != "oauth2":
        return []
    oauth2 = imap.get("oauth2")
    if not isinstance(oauth2, dict):
        return ["imap.auth oauth2 needs imap.oauth2 with token_url and client_id"]
    problems = []
    token_url = str(oauth2.get("token_url") or "")
    if not token_url.startswith(("https://", "http://")):
        problems.append("imap.oauth2.token_url must be the provider's token endpoint (an https:// URL)")
    if not str(oauth2.get("client_id") or "").strip():
        problems.append("imap.oauth2.client_id is missing (the OAuth2 application's client id)")
    return problems

