"""Every read of the surveys app: settings, links, audiences, rates, campaign progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from metrics.surveys.exceptions import SurveyLinkExpired, SurveyLinkInvalid
from metrics.surveys.models import (
    NpsCampaign,
    SurveyInvitation,
    SurveyResponse,
    SurveySettings,
)
from metrics.surveys.tokens import survey_token_read
from tickets.models import Customer, CustomerIdentity


def survey_settings_get() -> SurveySettings:
    """The settings row; an unsaved row of defaults until an admin saves the page."""
    return SurveySettings.objects.filter(pk=1).first() or SurveySettings(pk=1)


def survey_invitation_from_token(token: str, *, now: dt.datetime | None = None) -> SurveyInvitation:
    """The invitation a link names. SurveyLinkInvalid when tampered or unknown,
    SurveyLinkExpired past its expiry (checked before anything is stored)."""
    invitation_id = survey_token_read(token)
    invitation = (
        SurveyInvitation.objects.select_related("ticket", "customer", "response", "campaign")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise SurveyLinkInvalid("This survey link is not valid.")
    if (now or timezone.now()) >= invitation.expires_at:
        raise SurveyLinkExpired("This survey link has expired.")
    return invitation


def email_address_of(customer_id: int) -> str:
    """The customer's first email address, or "" when they have none."""
    return (
        CustomerIdentity.objects.filter(customer_id=customer_id, kind=CustomerIdentity.Kind.EMAIL)
        .order_by("id")
        .values_list("address", flat=True)
        .first()
        or ""
    )


def nps_audience(*, audience: str, organization_id: int | None = None, tier: str = "") -> QuerySet[Customer]:
    """The customers a campaign reaches: live (not merged away) records with an email address,
    narrowed to an organization or a tier."""
    has_email = CustomerIdentity.objects.filter(customer=OuterRef("pk"), kind=CustomerIdentity.Kind.EMAIL)
    customers = Customer.objects.filter(Exists(has_email), merged_into__isnull=True)
    if audience == NpsCampaign.Audience.ORGANIZATION:
        customers = customers.filter(organization_id=organization_id) if organization_id else customers.none()
    elif audience == NpsCampaign.Audience.TIER:
        customers = customers.filter(tier=tier) if tier else customers.none()
    return customers.order_by("pk")


def nps_campaign_audience(campaign: NpsCampaign) -> QuerySet[Customer]:
    return nps_audience(audience=campaign.audience, organization_id=campaign.organization_id, tier=campaign.tier)


def nps_score(scores: Iterable[int]) -> int | None:
    """% promoters (9-10) minus % detractors (0-6), rounded; None without answers."""
    scores = list(scores)
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100 * (promoters - detractors) / len(scores))


@dataclass(frozen=True)
class ResponseRate:
    sent: int
    answered: int

    @property
    def rate(self) -> float | None:
        """Answered invitations per invitation sent, 0..1 (None when nothing was sent)."""
        return self.answered / self.sent if self.sent else None


def survey_response_rate(
    *, kind: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> ResponseRate:
    """Invitations sent in [since, until) and how many of them were answered (whenever)."""
    invitations = SurveyInvitation.objects.all()
    if kind:
        invitations = invitations.filter(kind=kind)
    if since is not None:
        invitations = invitations.filter(sent_at__gte=since)
    if until is not None:
        invitations = invitations.filter(sent_at__lt=until)
    counts = invitations.aggregate(sent=Count("pk"), answered=Count("pk", filter=Q(answered_at__isnull=False)))
    return ResponseRate(sent=counts["sent"], answered=counts["answered"])


def nps_campaign_list() -> QuerySet[NpsCampaign]:
    return NpsCampaign.objects.select_related("organization", "created_by").annotate(
        answered=Count("invitations", filter=Q(invitations__answered_at__isnull=False))
    )


@dataclass(frozen=True)
class CampaignProgress:
    total: int
    sent: int
    answered: int
    promoters: int
    passives: int
    detractors: int
    nps: int | None
    responses: list[SurveyResponse]


def nps_campaign_progress(campaign: NpsCampaign, *, latest: int = 50) -> CampaignProgress:
    """How far sending has got and what the answers say so far."""
    scores = list(
        SurveyResponse.objects.filter(invitations__campaign=campaign).values_list("score", flat=True)
    )
    responses = list(
        SurveyResponse.objects.filter(invitations__campaign=campaign)
        .select_related("customer")
        .order_by("-answered_at", "-id")[:latest]
    )
    return CampaignProgress(
        total=campaign.recipients_total,
        sent=campaign.sent_count,
        answered=len(scores),
        promoters=sum(1 for s in scores if s >= 9),
        passives=sum(1 for s in scores if 7 <= s <= 8),
        detractors=sum(1 for s in scores if s <= 6),
        nps=nps_score(scores),
        responses=responses,
    )
