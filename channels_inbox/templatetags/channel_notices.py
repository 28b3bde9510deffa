"""``{% reply_constraints ticket as constraints %}``: what the ticket's channel allows the next
reply to be (WhatsApp's 24-hour window), for the notice above the reply box."""

from __future__ import annotations

from django import template

from channels_inbox.selectors import ReplyConstraints
from channels_inbox.selectors import reply_constraints as select_reply_constraints

register = template.Library()


@register.simple_tag
def reply_constraints(ticket) -> ReplyConstraints:
    return select_reply_constraints(ticket=ticket)
