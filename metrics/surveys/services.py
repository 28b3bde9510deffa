"""Every write of the surveys app.

:func:`survey_response_record` is the one way an answer is stored, whoever collected it
(the email/social survey page here, the chat widget, the REST API): it validates the
scale, keeps one response per (ticket, kind) and writes the ``survey_answered`` event so
metrics, routing rules and webhooks hear of it in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from metrics.surveys import compose
from metrics.surveys.models import (
    SCALES,
    NpsCampaign,
    SurveyInvitation,
    SurveyResponse,
    SurveySettings,
)
from metrics.surveys.selectors import (
    email_address_of,
    nps_campaign_audience,
    survey_settings_get,
)
from tickets import events
from tickets import services as ticket_services
from tickets.events import Actor
from tickets.models import Customer, Message, Ticket, TicketEvent
from tickets.placeholders import render_placeholders
from tickets.realtime import publish_on_commit

logger = logging.getLogger(__name__)

COMMENT_MAX_CHARS = 5000
SOURCES = ("email", "widget", "social", "web", "api")


def survey_scale_check(*, kind: str, score: int) -> None:
    """Raise ValueError with a message a customer or API user can act on."""
    if kind not in SCALES:
        raise ValueError(f"Unknown survey kind {kind!r}: use one of {', '.join(SCALES)}.")
    low, high = SCALES[kind]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ValueError(f"A {kind.upper()} score must be a whole number from {low} to {high}; got {score!r}.")


@transaction.atomic
def survey_response_record(
    *,
    ticket_id: int | None,
    customer_id: int | None = None,
    kind: str,
    score: int,
    comment: str = "",
    source: str,
    at: dt.datetime | None = None,
) -> SurveyResponse:
    """Store an answer: create it, or update the ticket's earlier answer of the same kind.

    ``customer_id`` defaults to the ticket's customer; one of the two is required. A
    second answer replaces the score (and the comment, when a new one is given): a
    customer who clicks "2" then "4" has rated 4, once. A CSAT answer also marks the
    ticket's latest open CSAT invitation answered, whichever way it arrived (a link,
    the widget, the API), so the response rate counts it.
    """
    return _record(
        ticket_id=ticket_id, customer_id=customer_id, kind=kind, score=score, comment=comment, source=source, at=at
    )


def _record(
    *,
    ticket_id: int | None,
    customer_id: int | None,
    kind: str,
    score: int,
    comment: str,
    source: str,
    at: dt.datetime | None,
    invitation: SurveyInvitation | None = None,
) -> SurveyResponse:
    survey_scale_check(kind=kind, score=score)
    if source not in SOURCES:
        raise ValueError(f"Unknown survey source {source!r}: use one of {', '.join(SOURCES)}.")
    comment = (comment or "").strip()[:COMMENT_MAX_CHARS]
    at = at or timezone.now()
    ticket: Ticket | None = None
    if ticket_id is not None:
        ticket = Ticket.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=ticket_id).first()
        if ticket is None:
            raise ValueError(f"Ticket {ticket_id} does not exist.")
        customer_id = customer_id or ticket.customer_id
    if customer_id is None:
        raise ValueError("A survey response needs a ticket or a customer.")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise ValueError(f"Customer {customer_id} does not exist.")

    response: SurveyResponse | None = None
    if ticket is not None:
        # The ticket row lock above serialises two answers to the same ticket.
        response = SurveyResponse.objects.filter(ticket=ticket, kind=kind).first()
    elif invitation is not None and invitation.response_id is not None:
        # A campaign's link clicked again: the same answer, changed.
        response = SurveyResponse.objects.select_for_update().filter(pk=invitation.response_id).first()
    previous: int | None = None
    if response is not None and response.score == score and comment in ("", response.comment):
        # The same answer again (a link clicked twice, a page reloaded): nothing to tell anyone.
        _invitation_mark_answered(response=response, ticket=ticket, invitation=invitation, at=at)
        return response
    if response is None:
        response = SurveyResponse.objects.create(
            kind=kind, ticket=ticket, customer=customer, score=score, comment=comment, source=source, answered_at=at
        )
    else:
        previous = response.score
        response.score, response.source, response.answered_at = score, source, at
        fields = ["score", "source", "answered_at", "updated_at"]
        if comment:
            response.comment = comment
            fields.append("comment")
        response.save(update_fields=fields)

    _invitation_mark_answered(response=response, ticket=ticket, invitation=invitation, at=at)
    if ticket is not None:
        events.survey_answered(
            ticket,
            kind=kind,
            score=response.score,
            comment=response.comment,
            source=source,
            previous=previous,
            response_id=response.pk,
            actor=Actor.of_customer(customer),
            at=at,
        )
        # An open ticket page shows the answer at once (tickets/realtime.py).
        publish_on_commit("ticket.updated", ticket_id=ticket.pk, fields=["survey"])
        # A low rating can fire a rule ("updated" rules with survey conditions).
        from tickets.routing import services as routing

        routing.on_survey_answered(ticket=ticket, kind=kind, score=response.score)
    return response


def _invitation_mark_answered(
    *, response: SurveyResponse, ticket: Ticket | None, invitation: SurveyInvitation | None, at: dt.datetime
) -> None:
    if invitation is None and ticket is not None and response.kind == SurveyResponse.Kind.CSAT:
        invitation = (
            SurveyInvitation.objects.filter(ticket=ticket, kind=SurveyInvitation.Kind.CSAT, answered_at__isnull=True)
            .order_by("-sent_at", "-id")
            .first()
        )
    if invitation is None or invitation.kind != response.kind:
        return  # a CES answer on the CSAT page leaves the CSAT invitation as it is
    changed = []
    if invitation.answered_at is None:
        invitation.answered_at = at
        changed.append("answered_at")
    if invitation.response_id != response.pk:
        invitation.response = response
        changed.append("response")
    if changed:
        invitation.save(update_fields=changed)


@transaction.atomic
def survey_invitation_answer(
    *, invitation: SurveyInvitation, kind: str, score: int, comment: str = "", at: dt.datetime | None = None
) -> SurveyResponse:
    """An answer given through an invitation's link (the public survey page).

    ``kind`` is the invitation's own (csat, nps) or "ces", asked on the CSAT page. The
    caller has checked the link (signature, expiry) with ``survey_invitation_from_token``.
    """
    allowed = {SurveyInvitation.Kind.CSAT: ("csat", "ces"), SurveyInvitation.Kind.NPS: ("nps",)}[invitation.kind]
    if kind not in allowed:
        raise ValueError(f"This survey does not ask a {kind.upper()} question.")
    if invitation.ticket_id is not None:
        # Ticket first, then the invitation: the order every answer about a ticket locks in.
        Ticket.objects.select_for_update().filter(pk=invitation.ticket_id).values_list("pk").first()
    invitation = SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
    source = "email" if invitation.via == "email" else "social"
    return _record(
        ticket_id=invitation.ticket_id,
        customer_id=invitation.customer_id,
        kind=kind,
        score=score,
        comment=comment,
        source=source,
        at=at,
        invitation=invitation if kind == invitation.kind else None,
    )


# --- Settings -----------------------------------------------------------------------------


@transaction.atomic
def survey_settings_update(**values: object) -> SurveySettings:
    """Save the settings row (pk=1) with the given field values."""
    row, _ = SurveySettings.objects.select_for_update().get_or_create(pk=1)
    for name, value in values.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    return row


# --- CSAT after a solve ----------------------------------------------------------------------

SOCIAL_KINDS = ("telegram", "messenger", "instagram", "whatsapp", "sms", "api")


def _latest_solve(ticket: Ticket) -> TicketEvent | None:
    return (
        TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED, data__to=Ticket.Status.SOLVED)
        .order_by("-created_at", "-id")
        .first()
    )


def _csat_skip_reason(ticket: Ticket, conf: SurveySettings, now: dt.datetime) -> str:
    """Why this solved ticket gets no survey ("" when it does)."""
    if not conf.csat_enabled:
        return "CSAT is turned off"
    if ticket.channel.kind == "chat":
        return "the chat widget asks for its rating itself"
    if not ticket.channel.is_active:
        return "the ticket's channel is turned off"
    if ticket.channel.kind != "email" and ticket.channel.kind not in SOCIAL_KINDS:
        return f"no survey for {ticket.channel.kind} channels"
    inbound = ticket.messages.filter(direction=Message.Direction.INBOUND)
    if inbound.exists() and not inbound.filter(is_auto_reply=False).exists():
        return "the ticket came from automatic replies or bounces"
    quiet_since = now - dt.timedelta(hours=conf.quiet_period_hours)
    if SurveyInvitation.objects.filter(ticket=ticket, kind=SurveyInvitation.Kind.CSAT, sent_at__gte=quiet_since).exists():
        return "a survey was sent for this ticket within the quiet period"
    if ticket.channel.kind == "email" and not email_address_of(ticket.customer_id):
        return "the customer has no email address"
    return ""


@transaction.atomic
def csat_invitation_send(*, ticket_id: int, now: dt.datetime | None = None) -> SurveyInvitation | None:
    """Send the CSAT survey for the ticket's current solve, once; None when none is due.

    Safe to run twice and late: a ticket reopened before this runs gets nothing, a solve
    that already has its invitation is not surveyed again (the row for it is unique), and
    a ticket solved again within the quiet period is left alone.
    """
    now = now or timezone.now()
    ticket = (
        Ticket.objects.select_for_update(of=("self",)).select_related("channel", "customer").filter(pk=ticket_id).first()
    )
    if ticket is None or ticket.status != Ticket.Status.SOLVED:
        return None
    solve = _latest_solve(ticket)
    if solve is None:
        return None
    existing = SurveyInvitation.objects.filter(solve_event=solve).first()
    if existing is not None:
        return existing
    conf = survey_settings_get()
    reason = _csat_skip_reason(ticket, conf, now)
    if reason:
        logger.info("no CSAT survey", extra={"ticket_id": ticket.pk, "reason": reason})
        return None
    invitation = SurveyInvitation.objects.create(
        kind=SurveyInvitation.Kind.CSAT,
        ticket=ticket,
        customer_id=ticket.customer_id,
        solve_event=solve,
        via=ticket.channel.kind,
        sent_at=now,
        expires_at=now + dt.timedelta(days=conf.link_expiry_days),
    )
    subject = render_placeholders(conf.csat_subject, ticket=ticket)
    if ticket.channel.kind == "email":
        text, html = compose.csat_email(invitation=invitation, ticket=ticket, conf=conf)
    else:
        text, html = compose.csat_social(invitation=invitation, ticket=ticket, conf=conf), ""
    message = ticket_services.message_send_automatic(ticket=ticket, subject=subject, text=text)
    if html:
        # The same message, with buttons for mail clients that show HTML; sent on commit.
        Message.objects.filter(pk=message.pk).update(html=html)
    invitation.message = message
    invitation.save(update_fields=["message"])
    return invitation


# --- NPS campaigns ----------------------------------------------------------------------------


@transaction.atomic
def nps_campaign_create(
    *, name: str, audience: str, organization_id: int | None = None, tier: str = "", created_by: object = None
) -> NpsCampaign:
    """A draft campaign; nothing is sent until :func:`nps_campaign_start`."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the campaign a name."})
    if audience not in NpsCampaign.Audience.values:
        raise ValidationError({"audience": "Choose who receives the survey."})
    if audience == NpsCampaign.Audience.ORGANIZATION and not organization_id:
        raise ValidationError({"organization": "Choose the organization."})
    if audience == NpsCampaign.Audience.TIER and tier not in Customer.Tier.values:
        raise ValidationError({"tier": "Choose the tier."})
    return NpsCampaign.objects.create(
        name=name[:200],
        audience=audience,
        organization_id=organization_id if audience == NpsCampaign.Audience.ORGANIZATION else None,
        tier=tier if audience == NpsCampaign.Audience.TIER else "",
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )


@transaction.atomic
def nps_campaign_start(*, campaign_id: int, now: dt.datetime | None = None) -> NpsCampaign:
    """Freeze the recipient count and queue the first batch (once: a started campaign is left as it is)."""
    from metrics.surveys.tasks import nps_campaign_send_batch

    campaign = NpsCampaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status != NpsCampaign.Status.DRAFT:
        return campaign
    campaign.status = NpsCampaign.Status.SENDING
    campaign.started_at = now or timezone.now()
    campaign.recipients_total = nps_campaign_audience(campaign).count()
    campaign.save(update_fields=["status", "started_at", "recipients_total"])
    transaction.on_commit(lambda: nps_campaign_send_batch.delay(campaign.pk))
    return campaign


def nps_campaign_send_batch_run(*, campaign_id: int, batch_size: int | None = None) -> int:
    """Send the survey to the next batch of the campaign's customers; returns how many were
    handled, and queues the next batch while any remain.

    Each customer is one short transaction (invitation row, then the mail): a crash loses
    at most the one in flight, and a customer who has an invitation is never mailed again
    (unique per campaign and customer), so the batch is safe to run twice.
    """
    from metrics.surveys.tasks import nps_campaign_send_batch

    size = batch_size or settings.PARLEY_SURVEY_BATCH_SIZE
    campaign = NpsCampaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != NpsCampaign.Status.SENDING:
        return 0
    conf = survey_settings_get()
    invited = SurveyInvitation.objects.filter(campaign=campaign, customer=OuterRef("pk"))
    customers = list(nps_campaign_audience(campaign).exclude(Exists(invited))[:size])
    for customer in customers:
        _nps_send_one(campaign=campaign, customer=customer, conf=conf)
    with transaction.atomic():
        campaign = NpsCampaign.objects.select_for_update().get(pk=campaign.pk)
        campaign.sent_count = SurveyInvitation.objects.filter(campaign=campaign, delivery_error="").count()
        fields = ["sent_count"]
        if len(customers) < size:
            campaign.status = NpsCampaign.Status.SENT
            campaign.finished_at = timezone.now()
            fields += ["status", "finished_at"]
        campaign.save(update_fields=fields)
        if len(customers) == size:
            transaction.on_commit(lambda: nps_campaign_send_batch.delay(campaign.pk))
    return len(customers)


def _nps_send_one(*, campaign: NpsCampaign, customer: Customer, conf: SurveySettings) -> None:
    address = email_address_of(customer.pk)
    now = timezone.now()
    try:
        with transaction.atomic():
            invitation = SurveyInvitation.objects.create(
                kind=SurveyInvitation.Kind.NPS,
                customer=customer,
                campaign=campaign,
                via="email",
                sent_at=now,
                expires_at=now + dt.timedelta(days=conf.link_expiry_days),
            )
    except IntegrityError:  # another run of this batch got there first
        return
    try:
        compose.nps_email(invitation=invitation, customer=customer, address=address, conf=conf).send()
    except Exception as exc:  # one bad address or a mail server hiccup must not stop the campaign
        logger.warning("NPS survey not sent", extra={"campaign_id": campaign.pk, "customer_id": customer.pk})
        SurveyInvitation.objects.filter(pk=invitation.pk).update(delivery_error=f"{type(exc).__name__}: {exc}"[:1000])


def nps_campaign_resume(*, campaign_id: int) -> None:
    """Queue the next batch of a campaign still sending (its worker may have stopped)."""
    from metrics.surveys.tasks import nps_campaign_send_batch

    if NpsCampaign.objects.filter(pk=campaign_id, status=NpsCampaign.Status.SENDING).exists():
        transaction.on_commit(lambda: nps_campaign_send_batch.delay(campaign_id))


def surveys_move_customer(*, source_id: int, target_id: int) -> int:
    """A customer record was merged into another (``tickets.services.customer_merge``, in
    its transaction): their answers and invitations now belong to the survivor. Returns
    how many responses moved. An invitation to a campaign both records received stays
    with the merged-away record (one per campaign and customer), still counted as sent."""
    moved = SurveyResponse.objects.filter(customer_id=source_id).update(customer_id=target_id)
    both = SurveyInvitation.objects.filter(customer_id=target_id, campaign__isnull=False).values("campaign_id")
    SurveyInvitation.objects.filter(customer_id=source_id).exclude(campaign_id__in=both).update(customer_id=target_id)
    return moved


@transaction.atomic
def survey_invitation_record(
    *, ticket_id: int, via: str, sent_at: dt.datetime | None = None, kind: str = SurveyInvitation.Kind.CSAT
) -> SurveyInvitation:
    """Count a survey asked some other way (the chat widget's own prompt, imported history)
    as sent, so the response rate includes it; the next answer about the ticket marks it."""
    ticket = Ticket.objects.only("pk", "customer_id").get(pk=ticket_id)
    sent_at = sent_at or timezone.now()
    return SurveyInvitation.objects.create(
        kind=kind,
        ticket=ticket,
        customer_id=ticket.customer_id,
        via=via,
        sent_at=sent_at,
        expires_at=sent_at + dt.timedelta(days=survey_settings_get().link_expiry_days),
    )
