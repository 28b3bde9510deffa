"""Reads the social and messaging channels need of the tickets domain."""

from __future__ import annotations

import datetime as dt

from tickets.models import Attachment, Message, Ticket


def last_customer_message_at(*, ticket: Ticket) -> dt.datetime | None:
    """When the customer last wrote on this ticket (WhatsApp's 24-hour window opens then)."""
    return (
        Message.objects.filter(ticket=ticket, direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def attachments_to_download(*, message_id: int) -> list[int]:
    """Ids of a message's media still waiting at the platform."""
    return list(
        Attachment.objects.filter(message_id=message_id, is_oversize=False, file="")
        .exclude(remote_url="")
        .values_list("pk", flat=True)
    )


def attachment_for_download(*, attachment_id: int) -> Attachment | None:
    return Attachment.objects.select_related("message__channel", "message__ticket__channel").filter(pk=attachment_id).first()
