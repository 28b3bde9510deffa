"""survey_response_record: scales, one response per (ticket, kind), the timeline event."""

from __future__ import annotations

import pytest

from metrics.surveys.models import SurveyResponse
from metrics.surveys.services import survey_response_record
from tests.factories import CustomerFactory, TicketFactory
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "score"),
    [("csat", 0), ("csat", 6), ("nps", 11), ("ces", 0), ("ces", 8), ("csat", True), ("csat", "3"), ("stars", 3)],
)
def test_scores_outside_the_scale_are_refused_and_nothing_is_stored(kind, score):
    ticket = TicketFactory()
    with pytest.raises(ValueError, match="must be a whole number|Unknown survey kind"):
        survey_response_record(ticket_id=ticket.pk, kind=kind, score=score, source="email")
    assert not SurveyResponse.objects.exists()
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.SURVEY_ANSWERED).exists()


@pytest.mark.parametrize(("kind", "low", "high"), [("csat", 1, 5), ("nps", 0, 10), ("ces", 1, 7)])
def test_both_ends_of_each_scale_are_accepted(kind, low, high):
    customer = CustomerFactory()
    assert survey_response_record(ticket_id=None, customer_id=customer.pk, kind=kind, score=low, source="web").score == low
    assert survey_response_record(ticket_id=None, customer_id=customer.pk, kind=kind, score=high, source="web").score == high


def test_a_second_answer_updates_the_first_and_both_are_on_the_timeline():
    ticket = TicketFactory()
    first = survey_response_record(ticket_id=ticket.pk, kind="csat", score=2, comment="slow", source="email")
    second = survey_response_record(ticket_id=ticket.pk, kind="csat", score=4, source="email")

    assert second.pk == first.pk
    response = SurveyResponse.objects.get()
    assert (response.score, response.comment, response.customer_id) == (4, "slow", ticket.customer_id)
    answered = list(TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SURVEY_ANSWERED))
    assert [e.data["score"] for e in answered] == [2, 4]
    assert answered[1].data["previous"] == 2
    assert answered[1].actor_kind == TicketEvent.ActorKind.CUSTOMER
    assert {"kind", "score", "comment", "source"} <= answered[0].data.keys()


def test_csat_and_ces_of_one_ticket_are_two_responses():
    ticket = TicketFactory()
    survey_response_record(ticket_id=ticket.pk, kind="csat", score=5, source="email")
    survey_response_record(ticket_id=ticket.pk, kind="ces", score=6, source="email")
    assert sorted(SurveyResponse.objects.values_list("kind", flat=True)) == ["ces", "csat"]


def test_a_response_needs_a_ticket_or_a_customer_and_a_known_source():
    with pytest.raises(ValueError, match="needs a ticket or a customer"):
        survey_response_record(ticket_id=None, kind="nps", score=9, source="email")
    with pytest.raises(ValueError, match="Unknown survey source"):
        survey_response_record(ticket_id=None, customer_id=CustomerFactory().pk, kind="nps", score=9, source="fax")


def test_the_same_answer_twice_writes_one_event():
    ticket = TicketFactory()
    survey_response_record(ticket_id=ticket.pk, kind="csat", score=3, comment="ok", source="email")
    survey_response_record(ticket_id=ticket.pk, kind="csat", score=3, source="email")
    survey_response_record(ticket_id=ticket.pk, kind="csat", score=3, comment="ok", source="email")
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SURVEY_ANSWERED).count() == 1
    survey_response_record(ticket_id=ticket.pk, kind="csat", score=3, comment="better now", source="email")
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.SURVEY_ANSWERED).count() == 2
    assert SurveyResponse.objects.get().comment == "better now"
