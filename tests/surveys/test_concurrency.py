"""PostgreSQL, parallel threads: a survey sent twice at once is sent once, and clicks racing
on one survey leave one answer (the ticket's row lock orders them)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from metrics.surveys.models import SurveyInvitation, SurveyResponse
from metrics.surveys.services import csat_invitation_send, survey_invitation_answer, survey_invitation_record
from tests.conftest import full_mode_only
from tests.factories import ChannelFactory, MessageFactory, TicketFactory
from tickets.models import Message, TicketEvent

pytestmark = [full_mode_only, pytest.mark.django_db(transaction=True)]
THREADS = 6


def race(work, threads: int = THREADS) -> list[BaseException]:
    """Run ``work(i)`` in ``threads`` threads released together; returns their errors."""
    barrier, errors = threading.Barrier(threads), []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    return errors


def test_the_survey_task_running_in_parallel_sends_one_survey():
    ticket = TicketFactory(channel=ChannelFactory(kind="telegram"), status="solved")
    MessageFactory(ticket=ticket, direction=Message.Direction.INBOUND, author_kind="customer")
    TicketEvent.objects.create(ticket=ticket, kind="status_changed", data={"from": "open", "to": "solved"}, created_at=ticket.created_at)

    assert race(lambda i: csat_invitation_send(ticket_id=ticket.pk)) == []
    assert SurveyInvitation.objects.count() == 1
    assert Message.objects.filter(ticket=ticket, direction=Message.Direction.OUTBOUND).count() == 1


def test_racing_clicks_leave_one_answer():
    ticket = TicketFactory(status="solved")
    invitation = survey_invitation_record(ticket_id=ticket.pk, via="email")

    # Five different ratings at once: each changes the one answer, none adds one.
    assert race(lambda i: survey_invitation_answer(invitation=invitation, kind="csat", score=1 + i), threads=5) == []
    response = SurveyResponse.objects.get()
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SURVEY_ANSWERED).count() == 5
    last = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SURVEY_ANSWERED).order_by("id").last()
    assert last.data["score"] == response.score
    assert SurveyInvitation.objects.get().response_id == response.pk
