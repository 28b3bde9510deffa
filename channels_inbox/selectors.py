"""Reads of the channel layer that receivers (SMTP, IMAP, provider webhooks) share."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

from channels_inbox.models import Channel


@dataclass(frozen=True)
class EmailRecipient:
    """An inbound recipient resolved to its channel, with the ticket token if plus-addressed."""

    channel: Channel
    ticket_token: str = ""


def split_plus_address(address: str) -> tuple[str, str]:
    """``support+t42-ab12@x.com`` -> (``support@x.com``, ``t42-ab12``)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower(), ""
    base, plus, tag = local.partition("+")
    return (f"{base}@{domain}", tag) if plus else (f"{local}@{domain}", "")


def email_channel_for_address(address: str) -> EmailRecipient | None:
    """The active email channel that receives mail for ``address`` (plus-addressing aware)."""
    address = (address or "").strip().lower()
    if not address:
        return None
    channels = Channel.objects.filter(kind=Channel.Kind.EMAIL, is_active=True)
    channel = channels.filter(inbound_address=address).first()
    if channel is not None:
        return EmailRecipient(channel=channel)
    base, tag = split_plus_address(address)
    if tag:
        channel = channels.filter(inbound_address=base).first()
        if channel is not None:
            return EmailRecipient(channel=channel, ticket_token=tag)
    return None


def ticket_reply_token(number: int) -> str:
    """The tag of a ticket's reply address: its number and a MAC, so nobody can guess another's."""
    mac = hmac.new(settings.SECRET_KEY.encode(), f"ticket:{number}".encode(), hashlib.sha256).hexdigest()[:10]
    return f"t{number}-{mac}"


def ticket_number_from_token(token: str) -> int | None:
    """The ticket number a reply-address tag names, or None if the tag is forged or not ours."""
    if not token.startswith("t") or "-" not in token:
        return None
    number_text = token[1:].partition("-")[0]
    if not number_text.isdigit():
        return None
    number = int(number_text)
    return number if hmac.compare_digest(ticket_reply_token(number), token) else None
