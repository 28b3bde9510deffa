"""/api/v1/survey-responses/: list and filter within visibility, record through survey_response_record."""

from __future__ import annotations

import pytest

from metrics.surveys.models import SurveyResponse
from metrics.surveys.services import survey_response_record
from tests.api.conftest import KeyClient, assert_problem
from tests.factories import CustomerFactory, TeamFactory, TicketFactory
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/survey-responses/"


def test_list_filters_and_hides_private_tickets_answers(api_client):
    seen = TicketFactory()
    hidden = TicketFactory(team=TeamFactory(name="Vault", slug="vault", is_private=True))
    survey_response_record(ticket_id=seen.pk, kind="csat", score=2, source="email", comment="slow")
    survey_response_record(ticket_id=hidden.pk, kind="csat", score=5, source="email")
    campaign = survey_response_record(ticket_id=None, customer_id=CustomerFactory().pk, kind="nps", score=9, source="web")
    rows = api_client.get(URL).json()["results"]
    assert sorted((r["kind"], r["score"]) for r in rows) == [("csat", 2), ("nps", 9)]
    low = api_client.get(URL, {"kind": "csat", "score_max": 3}).json()["results"]
    assert [(r["ticket"], r["comment"]) for r in low] == [(seen.number, "slow")]
    assert api_client.get(f"{URL}{campaign.pk}/").json()["ticket"] is None
    hidden_id = SurveyResponse.objects.get(ticket=hidden).pk
    assert_problem(api_client.get(f"{URL}{hidden_id}/"), 404)


def test_record_then_replace_an_answer(api_client):
    ticket = TicketFactory()
    first = api_client.post(URL, {"kind": "csat", "ticket": ticket.number, "score": 2})
    assert first.status_code == 201, first.json()
    assert first.json()["source"] == "api" and first.json()["customer"]["id"] == ticket.customer_id
    second = api_client.post(URL, {"kind": "csat", "ticket": ticket.number, "score": 4, "comment": "better"})
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert SurveyResponse.objects.get().score == 4
    assert ticket.events.filter(kind=TicketEvent.Kind.SURVEY_ANSWERED).count() == 2


def test_record_refusals(api_client, make_key):
    ticket = TicketFactory()
    hidden = TicketFactory(team=TeamFactory(name="Vault", slug="vault", is_private=True))
    body = assert_problem(api_client.post(URL, {"kind": "nps", "ticket": ticket.number, "score": 11}), 400)
    assert body["errors"][0]["field"] == "score"
    assert_problem(api_client.post(URL, {"kind": "csat", "score": 3}), 400)
    assert_problem(api_client.post(URL, {"kind": "csat", "ticket": hidden.number, "score": 3}), 404)
    other = CustomerFactory()
    body = assert_problem(api_client.post(URL, {"kind": "csat", "ticket": ticket.number, "customer": other.pk, "score": 3}), 400)
    assert body["errors"][0]["field"] == "customer"
    reader = KeyClient(make_key(scopes=["surveys:read"])[1])
    assert_problem(reader.post(URL, {"kind": "csat", "ticket": ticket.number, "score": 3}), 403)
    assert_problem(KeyClient(make_key(scopes=["tickets:read"])[1]).get(URL), 403)
    assert not SurveyResponse.objects.exists()
