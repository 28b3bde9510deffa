"""Reads of the channel layer that receivers (SMTP, IMAP, provider webhooks) share."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from channels_inbox.models import Channel
from tickets import selectors as ticket_selectors
from tickets.models import Ticket


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


# --- What a reply on a social channel may be ------------------------------------------------


@dataclass(frozen=True)
class ReplyConstraints:
    """What the channel allows the next reply to be, for the agent to see before sending."""

    free_form_allowed: bool = True
    # Why not (or, when allowed, the rule the agent should know), in words for the agent.
    reason: str = ""
    # The customer-service window: free-form replies are possible until then.
    window_closes_at: dt.datetime | None = None
    template_required: bool = False
    # Messenger's message tag for replies after 24 hours (HUMAN_AGENT), when configured.
    tag: str = ""
    # The channel's approved templates (config ``templates``), offered when one is required.
    templates: tuple[MessageTemplate, ...] = ()


@dataclass(frozen=True)
class MessageTemplate:
    """An approved WhatsApp template the admin listed in the channel's ``templates`` config:
    ``{"name": "order_update", "language": "en_US", "parameters": 2, "label": "Order update"}``."""

    name: str
    language: str = "en_US"
    parameters: int = 0
    label: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}|{self.language}"


def channel_templates(channel: Channel) -> tuple[MessageTemplate, ...]:
    """The channel's configured templates; malformed entries are skipped, not fatal."""
    found = []
    for item in (channel.config or {}).get("templates") or []:
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            continue
        try:
            count = max(0, min(int(item.get("parameters") or 0), 20))
        except (TypeError, ValueError):
            count = 0
        name = str(item["name"]).strip()[:512]
        found.append(MessageTemplate(name=name, language=str(item.get("language") or "en_US").strip()[:20],
                                     parameters=count, label=str(item.get("label") or name)[:200]))
    return tuple(found)


def reply_constraints(*, ticket: Ticket) -> ReplyConstraints:
    """Whether a free-form reply may go out on this ticket's channel now, and why not.

    WhatsApp allows free-form messages for 24 hours after the customer's last message (the
    customer-service window); after that only an approved template. Messenger and Instagram
    allow 24 hours, 7 days with the Human Agent tag when Meta granted it (config
    ``human_agent_tag``). Other channels have no window.
    """
    from channels_inbox.adapters.meta import window_hours

    channel = ticket.channel
    hours = window_hours(channel.kind, channel.config or {})
    if hours is None:
        return ReplyConstraints()
    name = channel.get_kind_display()
    last = ticket_selectors.last_customer_message_at(ticket=ticket)
    template_path = channel.kind == Channel.Kind.WHATSAPP
    if last is None:
        return ReplyConstraints(
            free_form_allowed=False,
            template_required=template_path,
            templates=channel_templates(channel) if template_path else (),
            reason=f"The customer has not written on this ticket: {name} allows "
            + ("only an approved template." if template_path else "no message until they do."),
        )
    now = timezone.now()
    closes = last + dt.timedelta(hours=hours)
    if now >= closes:
        return ReplyConstraints(
            free_form_allowed=False,
            window_closes_at=closes,
            template_required=template_path,
            templates=channel_templates(channel) if template_path else (),
            reason=f"More than {hours} hours since the customer's last message: {name} allows "
            + ("only an approved template now." if template_path else "no reply until they write again."),
        )
    tag = "HUMAN_AGENT" if hours > 24 and now >= last + dt.timedelta(hours=24) else ""
    return ReplyConstraints(
        free_form_allowed=True,
        window_closes_at=closes,
        tag=tag,
        reason=f"{name} allows free-form replies until {timezone.localtime(closes):%Y-%m-%d %H:%M} "
        f"({hours} hours after the customer's last message).",
    )
