"""Writes of the widget: sessions, visitor messages, email for offline answers, receipts, CSAT.

How a visitor message is processed, and why
-------------------------------------------
``visitor_message_receive`` stores the message as an ``InboundMessage`` (committed), then
runs the ingestion pipeline on it *in the same worker thread*, at once, and only then
answers with the ``ack`` frame. It does not queue ``process_inbound`` on Celery:

* customer -> agent delivery is the number that matters in a live chat (p99 < 100 ms for
  1,000 open widgets on one ASGI process): a broker hop and a busy worker pool would add
  their queueing delay to every message, while the pipeline itself takes milliseconds;
* the ``ack`` carries the message's id (the widget needs it for read receipts and
  ``history``), which exists only once the pipeline has made the ``Message``.

Nothing is lost by this: the row is committed before processing starts, so a crash or a
killed process leaves it ``received`` and the stale-inbound sweep (``requeue_stale_inbound``,
every 5 minutes) processes it on a worker; the widget, having no ack, re-sends, and the
duplicate drop keeps one message. A pipeline error quarantines the row (replayable) and
the ack says ``"id": null``: stored, not yet shown to agents. In embedded mode tasks are
eager anyway, so both paths are the same.

Callers run these functions in a thread (``sync_to_async(thread_sensitive=False)``): the
ASGI event loop never waits on the database.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from channels_inbox import services as inbound_services
from channels_inbox.adapters.chat import PAYLOAD_VERSION
from channels_inbox.models import Channel, WidgetVisitor
from channels_inbox.widget import identity as identity_check
from channels_inbox.widget import selectors
from channels_inbox.widget.config import WidgetSettings, identity_secret
from channels_inbox.widget.exceptions import WidgetError
from channels_inbox.widget.realtime import send_frame
from helpdesk import ratelimit
from tickets import services as ticket_services
from tickets.models import CustomerIdentity, Message, Ticket

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Session:
    visitor: WidgetVisitor
    token: str


@dataclass
class Upload:
    """A file a visitor sent, already checked against the limits."""

    name: str
    content_type: str
    data: bytes


def _clean_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WidgetError(
            "invalid_email", "Please give an email address like name@example.com."
        )
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise WidgetError(
            "invalid_email", "Please give an email address like name@example.com."
        ) from None
    return email


def _thread_key(visitor: WidgetVisitor) -> str:
    return (
        f"user:{visitor.external_user_id}"
        if visitor.is_verified
        else f"visitor:{visitor.public_id}"
    )


def _sender_address(visitor: WidgetVisitor) -> str:
    # Host-site user ids are per site: scoped by channel, so two sites' user 42 never meet.
    if visitor.is_verified:
        return f"chat{visitor.channel_id}:user:{visitor.external_user_id}"
    return f"visitor:{visitor.public_id}"


def check_rate(*, visitor: WidgetVisitor | None, ip: str) -> None:
    """Per visitor and per client IP, per minute (settings ``PARLEY_WIDGET_*_RATE``)."""
    if ip and not ratelimit.allow(
        "widget-ip", ip, limit=settings.PARLEY_WIDGET_IP_RATE
    ):
        raise WidgetError(
            "rate_limited",
            "Too many requests from your network; wait a minute and try again.",
            status=429,
        )
    if visitor is not None and not ratelimit.allow(
        "widget-visitor", visitor.public_id, limit=settings.PARLEY_WIDGET_VISITOR_RATE
    ):
        raise WidgetError(
            "rate_limited",
            "You are sending messages too fast; wait a moment and try again.",
            status=429,
        )


def _attach_email(visitor: WidgetVisitor) -> None:
    """An email the visitor typed becomes an unverified identity of their customer record,
    unless someone already holds that address: never a merge."""
    if visitor.email and visitor.customer_id and not visitor.is_verified:
        customer = visitor.customer
        if customer is not None:
            ticket_services.customer_identity_add_unverified(
                customer=customer,
                kind=CustomerIdentity.Kind.EMAIL,
                address=visitor.email,
            )


@transaction.atomic
def visitor_session(
    *,
    channel: Channel,
    token: str | None,
    name: Any = None,
    email: Any = None,
    identity: Any = None,
) -> Session:
    """Start or resume a visitor's conversation (the ``session`` endpoint).

    An unknown token starts a new conversation rather than failing (a cleared database, a
    token of another channel). A signed identity for another user than the token's starts
    a new conversation too: a shared computer never shows one user another's chat.
    """
    conf = WidgetSettings.from_config(channel.config)
    visitor = selectors.visitor_for_token(channel=channel, token=token)
    if visitor is not None and identity is not None and visitor.is_verified:
        claimed = identity.get("user_id") if isinstance(identity, dict) else None
        if str(claimed) != visitor.external_user_id:
            visitor = None
    if visitor is None:
        token = secrets.token_urlsafe(32)
        public_id = uuid.uuid4().hex
        visitor = WidgetVisitor(
            channel=channel,
            token_hash=selectors.token_hash(token),
            public_id=public_id,
            thread_key=f"visitor:{public_id}",
        )
    assert token is not None
    verified = None
    if identity is not None:
        verified = identity_check.verify(
            secret=identity_secret(channel.secrets),
            identity=identity,
            token_hash=visitor.token_hash,
        )
    elif conf.require_verification:
        raise WidgetError(
            "verification_required",
            "This chat is for signed-in users only.",
            status=403,
        )
    if verified is not None:
        visitor.is_verified = True
        visitor.external_user_id = verified.user_id
        visitor.email = verified.email or visitor.email
    if isinstance(name, str) and name.strip():
        visitor.name = " ".join(name.split())[:200]
    if email not in (None, "") and not visitor.is_verified:
        visitor.email = _clean_email(email)
    visitor.thread_key = _thread_key(visitor)
    visitor.last_seen_at = timezone.now()
    visitor.save()
    _attach_email(visitor)
    return Session(visitor=visitor, token=token)


def visitor_set_email(*, visitor: WidgetVisitor, email: Any) -> None:
    """Nobody is online: where to answer. Stored unverified, never merged into anyone."""
    if visitor.is_verified:
        return  # the host site told us who this is; a typed address does not override it
    visitor.email = _clean_email(email)
    WidgetVisitor.objects.filter(pk=visitor.pk).update(email=visitor.email)
    _attach_email(visitor)


def _prechat_missing(visitor: WidgetVisitor, conf: WidgetSettings) -> list[str]:
    missing = []
    if conf.prechat.get("name") == "required" and not visitor.name:
        missing.append("name")
    if conf.prechat.get("email") == "required" and not visitor.email:
        missing.append("email")
    return missing


def clean_client_id(value: Any) -> str:
    if not isinstance(value, str) or not _CLIENT_ID.match(value):
        raise WidgetError(
            "invalid_frame", "client_id must be 1-64 letters, digits, - or _ (a UUID)."
        )
    return value


def visitor_message_receive(
    *, visitor: WidgetVisitor, client_id: Any, text: Any, upload: Upload | None = None
) -> tuple[dict[str, Any], Message | None]:
    """Store, process and acknowledge one visitor message; a re-sent one is acked again.

    Returns the ``ack`` frame and the message (None if the pipeline could not process it).
    """
    client_id = clean_client_id(client_id)
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise WidgetError(
            "invalid_frame", "text must be a string.", client_id=client_id
        )
    text = text.strip()
    if len(text) > settings.PARLEY_WIDGET_MAX_MESSAGE_CHARS:
        raise WidgetError(
            "message_too_long",
            f"Messages are limited to {settings.PARLEY_WIDGET_MAX_MESSAGE_CHARS} characters.",
            status=413,
            client_id=client_id,
        )
    if not text and upload is None:
        raise WidgetError("empty_message", "The message is empty.", client_id=client_id)
    channel = visitor.channel
    conf = WidgetSettings.from_config(channel.config)
    if conf.require_verification and not visitor.is_verified:
        raise WidgetError(
            "verification_required",
            "This chat is for signed-in users only.",
            status=403,
            client_id=client_id,
        )
    missing = _prechat_missing(visitor, conf)
    if missing:
        raise WidgetError(
            "prechat_required",
            f"Please give your {' and '.join(missing)} first.",
            client_id=client_id,
        )
    external_id = f"{visitor.public_id}:{client_id}"
    received_at = timezone.now()
    # A re-send of a message already made: acked again without storing anything.
    message = _message_for(channel, external_id) if _message_exists(channel, external_id) else None
    if message is None:
        payload = {
            "v": PAYLOAD_VERSION,
            "visitor": visitor.public_id,
            "thread_key": visitor.thread_key,
            "sender": {
                "address": _sender_address(visitor),
                "name": visitor.name,
                "verified": visitor.is_verified,
                "email": visitor.email if visitor.is_verified else "",
            },
            "client_id": client_id,
            "text": text,
            "sent_at": received_at.isoformat(),
            "file": {
                "name": upload.name,
                "content_type": upload.content_type,
                "size": len(upload.data),
            }
            if upload
            else None,
        }
        inbound = inbound_services.inbound_store(
            channel=channel,
            payload=payload,
            raw=upload.data if upload else None,
            external_id=external_id,
            source=f"widget:{visitor.public_id}",
            enqueue=False,  # processed right here, see the module's docstring
        )
        inbound_services.inbound_process(inbound_id=inbound.pk)
        message = _message_for(channel, external_id)
        if message is not None:
            _after_message(visitor, message)
    ack = {
        "type": "ack",
        "client_id": client_id,
        "id": message.pk if message else None,
        "at": (message.created_at if message else received_at).isoformat(),
    }
    return ack, message


def _message_for(channel: Channel, external_id: str) -> Message | None:
    return (
        Message.objects.filter(channel=channel, external_id=external_id)
        .select_related("author_customer", "author_user__agent")
        .prefetch_related("attachments")
        .first()
    )


def _message_exists(channel: Channel, external_id: str) -> bool:
    return Message.objects.filter(channel=channel, external_id=external_id).exists()


def _after_message(visitor: WidgetVisitor, message: Message) -> None:
    """The visitor record follows its conversation: current ticket, customer, last seen."""
    first_contact = visitor.customer_id is None
    visitor.ticket_id, visitor.customer_id = message.ticket_id, message.author_customer_id
    visitor.last_seen_at = timezone.now()
    WidgetVisitor.objects.filter(pk=visitor.pk).update(
        ticket_id=visitor.ticket_id, customer_id=visitor.customer_id, last_seen_at=visitor.last_seen_at
    )
    if first_contact:
        _attach_email(visitor)


def visitor_mark_read(*, visitor: WidgetVisitor, up_to: Any) -> int:
    """The visitor has seen the agents' messages up to ``up_to``: those show as read."""
    if not isinstance(up_to, int) or isinstance(up_to, bool) or up_to <= 0:
        raise WidgetError("invalid_frame", "up_to must be a message id.")
    upto = (
        Message.objects.filter(
            ticket__channel_id=visitor.channel_id,
            ticket__thread_key=visitor.thread_key,
            direction=Message.Direction.OUTBOUND,
            pk__lte=up_to,
            sent_at__isnull=False,
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if upto is None:
        return 0
    with transaction.atomic():
        return ticket_services.message_record_delivery_upto(
            channel=visitor.channel,
            thread_key=visitor.thread_key,
            status=Message.DeliveryStatus.READ,
            upto=upto,
        )


def visitor_rate(*, visitor: WidgetVisitor, score: Any, comment: Any = "") -> None:
    """The CSAT answer to the ``solved`` prompt, stored against the conversation's ticket."""
    from metrics.surveys.services import survey_response_record

    ticket = selectors.conversation_ticket(visitor)
    if ticket is None or ticket.solved_at is None:
        raise WidgetError("not_solved", "There is no solved conversation to rate yet.")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise WidgetError("invalid_score", "The rating is a whole number from 1 to 5.")
    if not isinstance(comment, str):
        comment = ""
    try:
        survey_response_record(
            ticket_id=ticket.pk,
            kind="csat",
            score=score,
            comment=comment.strip()[:5000],
            source="widget",
        )
    except ValueError as exc:
        raise WidgetError("invalid_score", str(exc)) from None


def ticket_solved_on_commit(ticket: Ticket) -> None:
    """Called by the ticket services when a ticket is solved: a chat visitor gets the
    ``solved`` frame (and the CSAT prompt) once the change is committed."""
    if not ticket.thread_key:
        return  # email tickets have no conversation key: nothing to look up
    ticket_id = ticket.pk

    def notify() -> None:
        group = selectors.chat_group_for_ticket(ticket_id=ticket_id)
        if group:
            send_frame(group, {"type": "solved", "csat": True})

    transaction.on_commit(notify)


def visitor_events(
    *, visitor: WidgetVisitor, after: int | None
) -> list[dict[str, Any]]:
    """What the HTTPS fallback's poll answers: new messages, the agents' read marker,
    who is typing, and the CSAT prompt while the newest ticket is solved and unrated."""
    from tickets import presence

    events: list[dict[str, Any]] = [
        {"type": "message", "message": frame}
        for frame in selectors.history_frames(visitor=visitor, after=after)
    ]
    ticket = selectors.conversation_ticket(visitor)
    if ticket is not None:
        up_to = selectors.agent_read_up_to(visitor=visitor, ticket=ticket)
        if up_to:
            events.append({"type": "read", "up_to": up_to})
        for viewer in presence.viewers(ticket_id=ticket.pk):
            if viewer.is_replying:
                events.append({"type": "typing", "name": viewer.name, "state": True})
        if (
            ticket.status == Ticket.Status.SOLVED
            and not ticket.survey_responses.filter(kind="csat").exists()
        ):
            events.append({"type": "solved", "csat": True})
    events.append(
        {
            "type": "status",
            "agents_available": selectors.agents_available(visitor.channel),
        }
    )
    return events


def visitor_touch(*, visitor: WidgetVisitor, at: dt.datetime | None = None) -> None:
    WidgetVisitor.objects.filter(pk=visitor.pk).update(
        last_seen_at=at or timezone.now()
    )
