"""Celery entry points of surveys. Each takes ids, calls a service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def send_csat_survey(ticket_id: int) -> int | None:
    """Survey the customer about the ticket's current solve (queued when it is solved);
    returns the invitation id, or None when no survey is due."""
    from metrics.surveys.services import csat_invitation_send

    invitation = csat_invitation_send(ticket_id=ticket_id)
    return invitation.pk if invitation is not None else None


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def nps_campaign_send_batch(campaign_id: int) -> int:
    """Mail the next batch of an NPS campaign; queues the following batch itself."""
    from metrics.surveys.services import nps_campaign_send_batch_run

    return nps_campaign_send_batch_run(campaign_id=campaign_id)
