"""Fixtures of the channel tests: the platforms' API stand-ins (tests/channels_inbox/platforms.py)."""

from tests.channels_inbox.platforms import graph_api, telegram_api, twilio_api

__all__ = ["graph_api", "telegram_api", "twilio_api"]
