"""The registry of channel adapters: one per kind, listed explicitly (no dynamic imports)."""

from __future__ import annotations

from channels_inbox.adapters.api import ApiAdapter
from channels_inbox.adapters.base import ChannelAdapter
from channels_inbox.adapters.chat import ChatAdapter
from channels_inbox.adapters.email import EmailAdapter
from channels_inbox.adapters.meta import InstagramAdapter, MessengerAdapter, WhatsAppAdapter
from channels_inbox.adapters.telegram import TelegramAdapter
from channels_inbox.adapters.twilio import TwilioAdapter
from channels_inbox.exceptions import UnsupportedChannelKind

ADAPTERS: dict[str, ChannelAdapter] = {
    EmailAdapter.kind: EmailAdapter(),
    ApiAdapter.kind: ApiAdapter(),
    ChatAdapter.kind: ChatAdapter(),
    TelegramAdapter.kind: TelegramAdapter(),
    WhatsAppAdapter.kind: WhatsAppAdapter(),
    MessengerAdapter.kind: MessengerAdapter(),
    InstagramAdapter.kind: InstagramAdapter(),
    TwilioAdapter.kind: TwilioAdapter(),
}


def get_adapter(kind: str) -> ChannelAdapter:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise UnsupportedChannelKind(f"no adapter for channel kind {kind!r}") from None
