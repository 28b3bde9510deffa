"""The ingestion pipeline: one stored InboundMessage in, tickets and messages out.

A chain of small ordered steps over one context object (like Zammad's filter chain):
each step reads the context, may call one tickets service, and may stop the chain with an
outcome. Each can be tested alone. The pipeline knows tickets and nothing of wire
formats; adapters know wire formats and nothing of tickets.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from channels_inbox.adapters import get_adapter
from channels_inbox.adapters.base import Envelope, Event
from channels_inbox.adapters.email.config import EmailChannelSettings
from channels_inbox.models import Channel, InboundMessage
from channels_inbox.selectors import split_plus_address, ticket_number_from_token
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.events import Actor
from tickets.exceptions import DuplicateMessage
from tickets.models import Customer, Message, Ticket
from tickets.placeholders import render_placeholders

logger = logging.getLogger(__name__)

# More messages than this from one customer within the window is a mail loop
# (two autoresponders answering each other), not a person.
LOOP_LIMIT = 30
LOOP_WINDOW = dt.timedelta(minutes=10)


class Outcome:
    NEW_TICKET = "new_ticket"
    THREADED = "threaded"
    UPDATED = "updated"  # an edit, a deletion or a delivery receipt applied to a message we hold
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"


@dataclass
class Context:
    inbound: InboundMessage
    channel: Channel
    envelope: Envelope
    customer: Customer | None = None
    ticket: Ticket | None = None
    message: Message | None = None
    is_new_ticket: bool = False
    follow_up_of: int | None = None
    linked_to: Ticket | None = None
    team_id: int | None = None
    outcome: str | None = None  # set by a step that ends the chain
    reason: str = ""


@dataclass
class Result:
    """What became of one InboundMessage (the summary line of ingest_email counts these)."""

    inbound_id: int
    status: str
    outcomes: list[str] = field(default_factory=list)
    ticket_ids: list[int] = field(default_factory=list)
    error: str = ""

    @property
    def outcome(self) -> str:
        if self.status == InboundMessage.Status.QUARANTINED:
            return Outcome.QUARANTINED
        for kind in (Outcome.NEW_TICKET, Outcome.THREADED, Outcome.UPDATED, Outcome.DUPLICATE, Outcome.IGNORED):
            if kind in self.outcomes:
                return kind
        return self.status


# --- The steps, in order ----------------------------------------------------------------


def drop_duplicate(ctx: Context) -> None:
    """The same message delivered twice (a retry, a re-poll) is a no-op."""
    if ticket_selectors.message_exists(channel=ctx.channel, external_id=ctx.envelope.external_id):
        ctx.outcome, ctx.reason = Outcome.DUPLICATE, "message already received"


def drop_own_mail(ctx: Context) -> None:
    """Mail from one of our own mailboxes is a loop (our reply bounced back to us)."""
    if ctx.envelope.sender.kind == "email" and Channel.objects.filter(inbound_address=ctx.envelope.sender.address).exists():
        ctx.outcome, ctx.reason = Outcome.IGNORED, f"sent from our own address {ctx.envelope.sender.address} (mail loop)"


def identify_customer(ctx: Context) -> None:
    sender = ctx.envelope.sender
    # customer_identify leaves the customer row locked until the end of the transaction
    # (its last-seen update; a new customer is invisible until commit and its identity's
    # unique constraint serialises racing creators): messages of one customer are processed
    # one at a time, so two messages of a new conversation cannot open two tickets.
    if sender.verified_contacts:
        # Social channels: a verified phone number links a new identity to its customer.
        ctx.customer = ticket_services.customer_identify_linked(
            kind=sender.kind,
            address=sender.address,
            display_name=sender.display_name,
            is_verified=sender.is_verified,
            verified_contacts=sender.verified_contacts,
        )
        return
    ctx.customer = ticket_services.customer_identify(
        kind=sender.kind, address=sender.address, display_name=sender.display_name, is_verified=sender.is_verified
    )


def drop_loop(ctx: Context) -> None:
    if not ctx.envelope.is_auto_reply:
        return
    assert ctx.customer is not None
    recent = ticket_selectors.recent_inbound_count(customer=ctx.customer, since=timezone.now() - LOOP_WINDOW)
    if recent >= LOOP_LIMIT:
        ctx.outcome, ctx.reason = Outcome.IGNORED, f"loop protection: {recent} automatic messages in {LOOP_WINDOW}"


def _plus_address_ticket(ctx: Context) -> Ticket | None:
    """The ticket named by a signed tag in the address the mail was sent to (support+t42-…@)."""
    env = ctx.envelope
    for address in [ctx.inbound.envelope_recipient, *env.to, *env.cc]:
        _, tag = split_plus_address(address or "")
        number = ticket_number_from_token(tag) if tag else None
        if number is not None:
            ticket = ticket_selectors.ticket_for_number(number=number)
            if ticket is not None:
                return ticket
    return None


def find_thread(ctx: Context) -> None:
    """Thread, in this order: the plus-address tag; In-Reply-To then every References entry;
    the [#N] subject token, for participants only; the conversation key (chat, social);
    same sender and subject within N days where the channel turns it on."""
    env = ctx.envelope
    assert ctx.customer is not None
    ticket = _plus_address_ticket(ctx) or ticket_selectors.ticket_for_message_ids(
        message_ids=[env.in_reply_to, *reversed(env.references)]
    )
    if ticket is None:
        number = ticket_selectors.subject_token_number(env.subject)
        quoted = ticket_selectors.ticket_for_number(number=number) if number is not None else None
        if quoted is not None:
            if ticket_selectors.is_ticket_participant(ticket=quoted, customer=ctx.customer, address=env.sender.address):
                ticket = quoted
            else:
                # A stranger quoting a ticket number never lands in someone else's ticket:
                # they get their own, linked to the one they named.
                ctx.linked_to = quoted
    if ticket is None:
        ticket = ticket_selectors.ticket_for_thread_key(channel=ctx.channel, thread_key=env.thread_key)
    if ticket is None and ctx.channel.kind == Channel.Kind.EMAIL:
        days = EmailChannelSettings.from_channel(ctx.channel).thread_by_subject_days
        if days:
            ticket = ticket_selectors.ticket_for_subject(channel=ctx.channel, customer=ctx.customer, subject=env.subject, days=days)
    if ticket is not None and ticket.status == Ticket.Status.CLOSED:
        # A closed ticket stays closed: the new message starts a follow-up linked to it.
        ctx.follow_up_of, ctx.linked_to, ticket = ticket.number, ticket, None
    ctx.ticket = ticket
    if ticket is None and env.is_auto_reply:
        ctx.outcome, ctx.reason = Outcome.IGNORED, f"automatic message with no ticket to attach to ({env.auto_reason})"


def open_ticket(ctx: Context) -> None:
    if ctx.ticket is not None:
        return
    assert ctx.customer is not None
    env = ctx.envelope
    subject = env.subject or (env.text.strip().splitlines() or [""])[0][:120]
    ctx.ticket = ticket_services.ticket_open(
        channel=ctx.channel,
        customer=ctx.customer,
        subject=subject,
        actor=Actor.of_customer(ctx.customer),
        thread_key=env.thread_key,
        language=env.language or ctx.customer.language,
        priority=Ticket.Priority.HIGH if ctx.customer.is_vip else Ticket.Priority.NORMAL,
        linked_ticket=ctx.linked_to,
        team_id=ctx.team_id,
        extra_event_data=(
            {"follow_up_of": ctx.follow_up_of}
            if ctx.follow_up_of
            else {"linked_to": ctx.linked_to.number}
            if ctx.linked_to
            else None
        ),
    )
    ctx.is_new_ticket = True


def append_message(ctx: Context) -> None:
    env = ctx.envelope
    assert ctx.ticket is not None and ctx.customer is not None
    # Social channels: structured content, and media the platform keeps for us to fetch.
    rich = bool(env.content) or any(a.remote_url for a in env.attachments)
    receive = ticket_services.message_receive_rich if rich else ticket_services.message_receive
    extra = {"content": env.content} if rich else {}
    try:
        ctx.message = receive(
            **extra,
            ticket=ctx.ticket,
            channel=ctx.channel,
            customer=ctx.customer,
            external_id=env.external_id,
            subject=env.subject,
            text=env.text,
            html=env.html,
            in_reply_to=env.in_reply_to,
            references=env.references,
            to=env.to,
            cc=env.cc,
            attachments=env.attachments,
            is_auto_reply=env.is_auto_reply,
            inbound_id=ctx.inbound.pk,
        )
    except DuplicateMessage:
        # Lost a race with a parallel delivery of the same message: undo our ticket too.
        raise _Duplicate() from None


def route(ctx: Context) -> None:
    """Initial routing: a new ticket opens in its channel's default team (the rules engine
    refines this). Decided before the ticket exists, so it is created with its team."""
    if ctx.ticket is None:
        ctx.team_id = ctx.channel.default_team_id


def route_rules(ctx: Context) -> None:
    """Routing (issue 5), once the message is stored: language and sentiment, the rules,
    the SLA policy and automatic assignment. Never raises: a failing rule is logged with
    the ticket and skipped, and ingestion goes on."""
    from tickets.routing import services as routing_services

    assert ctx.ticket is not None and ctx.message is not None
    routing_services.on_message_received(
        ticket=ctx.ticket, message=ctx.message, is_new_ticket=ctx.is_new_ticket, sender_address=ctx.envelope.sender.address
    )


def queue_media_downloads(ctx: Context) -> None:
    """Media a platform keeps for us (Telegram file ids, WhatsApp media ids, Twilio URLs) is
    fetched on a task once the message is committed: the pipeline makes no network calls."""
    if ctx.message is None or not any(a.remote_url for a in ctx.envelope.attachments):
        return
    from channels_inbox.tasks import download_attachment

    for attachment_id in ticket_selectors.attachments_to_download(message_id=ctx.message.pk):
        transaction.on_commit(lambda pk=attachment_id: download_attachment.delay(pk))


def record_bounce(ctx: Context) -> None:
    """A bounce of one of our replies marks that reply's delivery as failed, with the reason."""
    env = ctx.envelope
    if not env.is_bounce:
        return
    ours = ticket_selectors.outbound_message_for_external_id(external_id=env.in_reply_to)
    if ours is not None:
        reason = " ".join(env.text.split())[:500] or env.subject
        ticket_services.message_mark_bounced(message_id=ours.pk, reason=reason)


def acknowledge(ctx: Context) -> None:
    """The channel's automatic acknowledgement for a new ticket, if it is on, and never to
    auto-replies, bounces or list mail (RFC 3834)."""
    if not ctx.is_new_ticket or ctx.channel.kind != Channel.Kind.EMAIL or not ctx.envelope.may_auto_answer:
        return
    ack = EmailChannelSettings.from_channel(ctx.channel).auto_ack
    if not ack.enabled:
        return
    assert ctx.ticket is not None
    ticket_services.message_send_automatic(
        ticket=ctx.ticket,
        subject=render_placeholders(ack.subject, ticket=ctx.ticket),
        text=render_placeholders(ack.body, ticket=ctx.ticket),
    )


STEPS: list[Callable[[Context], None]] = [
    drop_duplicate,
    drop_own_mail,
    identify_customer,
    drop_loop,
    find_thread,
    route,
    open_ticket,
    append_message,
    route_rules,  # issue 5: rules, SLA, assignment, language and sentiment
    queue_media_downloads,
    record_bounce,
    acknowledge,
]


class _Duplicate(Exception):
    """Internal: unwinds one envelope's savepoint when a parallel delivery won the race."""


def apply_update(ctx: Context) -> None:
    """Envelopes that are news about a message we hold, not a message: the platform's edits,
    deletions and delivery receipts, and what we ignore on purpose (echoes of our own sends)."""
    env = ctx.envelope
    if env.event == Event.IGNORE:
        ctx.outcome, ctx.reason = Outcome.IGNORED, env.reason or "nothing to do"
        return
    if env.event == Event.STATUS:
        message = None
        if env.target_external_id:
            message = ticket_services.message_record_delivery(
                channel=ctx.channel, external_id=env.target_external_id, status=env.delivery_status, error=env.reason
            )
        if env.status_upto is not None:
            moved = ticket_services.message_record_delivery_upto(
                channel=ctx.channel, thread_key=env.thread_key, status=env.delivery_status, upto=env.status_upto
            )
            if message is None and moved:
                ctx.outcome, ctx.reason = Outcome.UPDATED, f"{moved} message(s) {env.delivery_status} by watermark"
                return
    elif env.event == Event.EDIT:
        message = ticket_services.message_record_edit(
            channel=ctx.channel, external_id=env.target_external_id, text=env.text, edited_at=env.sent_at
        )
    elif env.event == Event.DELETE:
        message = ticket_services.message_record_deletion(
            channel=ctx.channel, external_id=env.target_external_id, deleted_at=env.sent_at
        )
    else:
        raise ValueError(f"unknown envelope event {env.event!r}")
    if message is None:
        ctx.outcome, ctx.reason = Outcome.IGNORED, f"{env.event} for a message we do not hold ({env.target_external_id})"
    else:
        ctx.outcome, ctx.ticket, ctx.message = Outcome.UPDATED, message.ticket, message


def process_envelope(inbound: InboundMessage, envelope: Envelope) -> Context:
    ctx = Context(inbound=inbound, channel=inbound.channel, envelope=envelope)
    if envelope.event != Event.MESSAGE:
        with transaction.atomic():
            apply_update(ctx)
        return ctx
    try:
        with transaction.atomic():
            for step in STEPS:
                step(ctx)
                if ctx.outcome:
                    return ctx
    except _Duplicate:
        ctx.outcome, ctx.reason, ctx.ticket = Outcome.DUPLICATE, "message already received", None
        return ctx
    ctx.outcome = Outcome.NEW_TICKET if ctx.is_new_ticket else Outcome.THREADED
    return ctx


# Errors of the database itself are transient: the task retries, nothing is quarantined.
_TRANSIENT = (OperationalError, InterfaceError)


def _relax_commit_durability() -> None:
    """Let PostgreSQL acknowledge this transaction's commit before its WAL reaches disk.

    Safe here, and only here: the raw message was committed durably before its sender was
    acknowledged. If the server crashes and loses this processing commit, the row is still
    "received" and the stale-row sweep (requeue_stale_inbound) processes it again, which
    is idempotent. It saves a disk flush per message, the largest single wait of ingestion.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def run(inbound_id: int) -> Result:
    """Process one stored inbound message. Safe to call twice: a finished row is left alone."""
    with transaction.atomic():
        _relax_commit_durability()
        inbound = InboundMessage.objects.select_for_update(of=("self",)).select_related("channel").filter(pk=inbound_id).first()
        if inbound is None:
            return Result(inbound_id=inbound_id, status="missing")
        if inbound.status != InboundMessage.Status.RECEIVED:
            return Result(
                inbound_id=inbound_id,
                status=inbound.status,
                outcomes=[inbound.outcome] if inbound.outcome else [],
                ticket_ids=[inbound.ticket_id] if inbound.ticket_id else [],
                error=inbound.error,
            )
        inbound.attempts += 1
        result = Result(inbound_id=inbound_id, status=InboundMessage.Status.PROCESSED)
        try:
            with transaction.atomic():
                envelopes = get_adapter(inbound.channel.kind).parse(inbound)
                contexts = [process_envelope(inbound, envelope) for envelope in envelopes]
        except _TRANSIENT:
            raise
        except DatabaseError as exc:
            if not transaction.get_connection().is_usable():
                raise
            _quarantine(inbound, result, exc)
        except Exception as exc:  # any parse or processing error quarantines the row, raw bytes kept
            _quarantine(inbound, result, exc)
        else:
            result.outcomes = [c.outcome or "" for c in contexts]
            result.ticket_ids = [c.ticket.pk for c in contexts if c.ticket is not None]
            reasons = [c.reason for c in contexts if c.reason]
            if all(o == Outcome.DUPLICATE for o in result.outcomes):
                result.status = InboundMessage.Status.DUPLICATE
            elif all(o in (Outcome.IGNORED, Outcome.DUPLICATE) for o in result.outcomes):
                result.status = InboundMessage.Status.IGNORED
            inbound.status = result.status
            inbound.outcome = result.outcome
            inbound.error = "; ".join(reasons)[:5000]
            inbound.ticket_id = result.ticket_ids[0] if result.ticket_ids else None
            inbound.processed_at = timezone.now()
        inbound.save(update_fields=["status", "outcome", "error", "attempts", "ticket", "processed_at"])
    return result


def _quarantine(inbound: InboundMessage, result: Result, exc: Exception) -> None:
    logger.warning("inbound message quarantined", extra={"inbound_id": inbound.pk, "error": repr(exc)})
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    result.status = InboundMessage.Status.QUARANTINED
    result.error = detail
    inbound.status = InboundMessage.Status.QUARANTINED
    inbound.outcome = Outcome.QUARANTINED
    inbound.error = detail[:5000]
    inbound.ticket_id = None
    inbound.processed_at = timezone.now()
