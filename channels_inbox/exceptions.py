"""Errors of the channel layer; the pipeline and tasks map them to statuses and retries."""

from django.core.exceptions import PermissionDenied


class ChannelError(Exception):
    """Base of every channel error."""


class UnsupportedChannelKind(ChannelError):
    """No adapter is registered for this channel kind (yet)."""


class ParseError(ChannelError):
    """The raw payload cannot be understood; the inbound message is quarantined."""


class TransientChannelError(ChannelError):
    """Sending failed for a reason that may pass (timeout, 5xx, rate limit): retry later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Sending can never succeed as is (bad address, rejected content): record and tell the agent."""


class SignatureMissing(PermissionDenied):
    """A webhook request carries no signature at all (answered 401; a wrong one gets 403)."""


class ChannelMisconfigured(ChannelError):
    """The channel lacks a setting or secret this operation needs; the message names it."""
