"""/api/v1/tickets/: list, filters, search, retrieve, create, update, merge, bulk."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import (
    AgentFactory,
    ChannelFactory,
    MessageFactory,
    OrganizationFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import CustomerIdentity, Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [t["number"] for t in response.json()["results"]]


# --- List, filters, search, ordering ----------------------------------------------------


def test_list_shows_tickets_newest_activity_first(api_client):
    now = timezone.now()
    old = TicketFactory(updated_at=now - dt.timedelta(hours=1))
    new = TicketFactory(updated_at=now)
    body = api_client.get(TICKETS).json()
    assert [t["number"] for t in body["results"]] == [new.number, old.number]
    first = body["results"][0]
    assert first["status"] == "new" and first["channel"]["kind"] == "email" and first["customer"]["id"] == new.customer_id


def test_filters(api_client):
    team = TeamFactory()
    agent = AgentFactory().user
    org = OrganizationFactory()
    chat = ChannelFactory(kind="chat")
    billing = TagFactory(name="billing")
    a = TicketFactory(status="open", priority="high", team=team, assignee=agent)
    b = TicketFactory(status="pending", channel=chat, organization=org)
    c = TicketFactory(status="open", created_at=timezone.now() - dt.timedelta(days=10))
    c.tags.add(billing)
    assert set(numbers(api_client.get(TICKETS, {"status": "open"}))) == {a.number, c.number}
    assert set(numbers(api_client.get(f"{TICKETS}?status=open&status=pending"))) == {a.number, b.number, c.number}
    assert numbers(api_client.get(TICKETS, {"priority": "high"})) == [a.number]
    assert numbers(api_client.get(TICKETS, {"team": team.pk})) == [a.number]
    assert set(numbers(api_client.get(TICKETS, {"team": "none"}))) == {b.number, c.number}
    assert numbers(api_client.get(TICKETS, {"assignee": agent.pk})) == [a.number]
    assert numbers(api_client.get(TICKETS, {"channel_kind": "chat"})) == [b.number]
    assert numbers(api_client.get(TICKETS, {"channel": chat.pk})) == [b.number]
    assert numbers(api_client.get(TICKETS, {"organization": org.pk})) == [b.number]
    assert numbers(api_client.get(TICKETS, {"customer": a.customer_id})) == [a.number]
    assert numbers(api_client.get(TICKETS, {"tag": "Billing"})) == [c.number]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert c.number not in numbers(api_client.get(TICKETS, {"created_after": since}))
    assert numbers(api_client.get(TICKETS, {"created_before": since})) == [c.number]


@pytest.mark.parametrize("query", ["status=opened", "team=abc", "created_after=yesterday", "channel_kind=fax"])
def test_bad_filter_values_are_400_problems(api_client, query):
    assert_problem(api_client.get(f"{TICKETS}?{query}"), 400, "validation")


def test_search(api_client):
    hit = TicketFactory(subject="Invoice export broken")
    MessageFactory(ticket=TicketFactory(subject="Other"), text="nothing to see")
    assert numbers(api_client.get(TICKETS, {"q": "invoice"})) == [hit.number]


def test_ordering(api_client):
    now = timezone.now()
    a = TicketFactory(created_at=now - dt.timedelta(hours=2), updated_at=now)
    b = TicketFactory(created_at=now - dt.timedelta(hours=1), updated_at=now - dt.timedelta(hours=1))
    assert numbers(api_client.get(TICKETS, {"ordering": "created_at"})) == [a.number, b.number]
    assert numbers(api_client.get(TICKETS, {"ordering": "-number"})) == [b.number, a.number]


def test_list_query_count_does_not_grow_with_the_page(api_client, django_assert_max_num_queries):
    team = TeamFactory()
    for _ in range(30):
        t = TicketFactory(team=team, status="open", assignee=AgentFactory().user)
        t.tags.add(TagFactory())
    with django_assert_max_num_queries(8):
        assert len(numbers(api_client.get(TICKETS, {"status": "open", "team": team.pk}))) == 30


# --- Retrieve ------------------------------------------------------------------------------


def test_retrieve_and_unknown_number(api_client):
    ticket = TicketFactory(subject="Refund")
    response = api_client.get(f"{TICKETS}{ticket.number}/")
    assert response.json()["subject"] == "Refund" and response["ETag"]
    assert_problem(api_client.get(f"{TICKETS}999999/"), 404, "not-found")


def test_merged_ticket_is_404(api_client):
    target = TicketFactory()
    merged = TicketFactory(merged_into=target)
    assert_problem(api_client.get(f"{TICKETS}{merged.number}/"), 404)


# --- Create -----------------------------------------------------------------------------------


def test_create_finds_or_creates_the_customer_and_runs_the_pipeline_steps(api_client, email_channel):
    team = TeamFactory()
    email_channel.default_team = team
    email_channel.save()
    body = {
        "customer": {"email": "Ada@Example.com", "name": "Ada Lovelace"},
        "subject": "Cannot export",
        "message": {"text": "", "html": "<p>The button <script>alert(1)</script>does nothing</p>"},
        "tags": ["Billing"],
    }
    response = api_client.post(TICKETS, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["team"]["id"] == team.pk and data["tags"] == ["billing"] and data["status"] == "new"
    assert response["Location"].endswith(f"/api/v1/tickets/{data['number']}/")
    ticket = Ticket.objects.get(number=data["number"])
    message = ticket.messages.get()
    assert message.direction == Message.Direction.INBOUND and "script" not in message.html and "does nothing" in message.text
    identity = CustomerIdentity.objects.get(address="ada@example.com")
    assert ticket.customer_id == identity.customer_id and identity.customer.name == "Ada Lovelace"
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds[:2] == [TicketEvent.Kind.CREATED, TicketEvent.Kind.TEAM_CHANGED] and TicketEvent.Kind.MESSAGE_ADDED in kinds
    assert ticket.events.get(kind=TicketEvent.Kind.CREATED).data["api_key"] == api_client.key.prefix
    # The same customer writes again through the API: the same customer record.
    again = api_client.post(TICKETS, {**body, "tags": []})
    assert Ticket.objects.get(number=again.json()["number"]).customer_id == identity.customer_id


def test_create_with_assignee_and_priority(api_client, email_channel):
    agent = AgentFactory().user
    response = api_client.post(
        TICKETS,
        {"customer": {"email": "bob@example.com"}, "message": {"text": "Hi\nsecond line"}, "priority": "urgent", "assignee": agent.pk},
    )
    data = response.json()
    assert data["priority"] == "urgent" and data["assignee"]["id"] == agent.pk and data["status"] == "open"
    assert data["subject"] == "Hi"


def test_create_refuses_an_assignee_outside_the_private_team(make_key, email_channel):
    private = TeamFactory(is_private=True)
    outsider = AgentFactory().user
    member = AgentFactory()
    member.teams.add(private)
    client = KeyClient(make_key(user=member.user, scopes=["tickets:write"])[1])
    response = client.post(
        TICKETS, {"customer": {"email": "c@example.com"}, "message": {"text": "x"}, "team": private.pk, "assignee": outsider.pk}
    )
    assert "cannot see" in assert_problem(response, 422)["detail"]
    assert Ticket.objects.count() == 0  # all or nothing


def test_create_validation(api_client, email_channel):
    body = assert_problem(
        api_client.post(TICKETS, {"customer": {"email": "a@example.com"}, "message": {"text": " "}, "channel": 999, "team": 999}),
        400,
    )
    assert {"message", "channel", "team"} <= {e["field"] for e in body["errors"]}


def test_create_without_any_channel_says_so(api_client):
    body = assert_problem(api_client.post(TICKETS, {"customer": {"email": "a@example.com"}, "message": {"text": "x"}}), 400)
    assert body["errors"][0]["field"] == "channel"


# --- Update -----------------------------------------------------------------------------------


def test_update_goes_through_services_and_records_events(api_client):
    ticket = TicketFactory()
    team = TeamFactory()
    agent = AgentFactory().user
    url = f"{TICKETS}{ticket.number}/"
    response = api_client.patch(url, {"status": "pending", "priority": "low", "team": team.pk, "assignee": agent.pk, "tags": ["a", "b"]})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["priority"], data["team"]["id"], data["assignee"]["id"], data["tags"]) == (
        "pending", "low", team.pk, agent.pk, ["a", "b"]
    )
    kinds = set(ticket.events.values_list("kind", flat=True))
    assert {"status_changed", "priority_changed", "team_changed", "assigned", "tags_changed"} <= kinds
    assert ticket.events.filter(actor_user=api_client.key.user).count() >= 5
    cleared = api_client.patch(url, {"assignee": None, "team": None}).json()
    assert cleared["assignee"] is None and cleared["team"] is None


def test_invalid_transition_is_409_and_changes_nothing(api_client):
    ticket = TicketFactory(status="closed", priority="normal")
    response = api_client.patch(f"{TICKETS}{ticket.number}/", {"priority": "high", "status": "open"})
    assert_problem(response, 409, "invalid-transition")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority) == ("closed", "normal")


def test_update_validation(api_client):
    ticket = TicketFactory()
    url = f"{TICKETS}{ticket.number}/"
    assert_problem(api_client.patch(url, {}), 400)
    assert_problem(api_client.patch(url, {"status": "done"}), 400)
    assert_problem(api_client.patch(url, {"assignee": 999999}), 400)
    assert_problem(api_client.put(url, {"status": "open"}, format="json"), 405)


def test_update_of_invisible_ticket_is_404(api_client):
    ticket = TicketFactory(team=TeamFactory(is_private=True))
    assert_problem(api_client.patch(f"{TICKETS}{ticket.number}/", {"priority": "high"}), 404)
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


# --- Merge and bulk ---------------------------------------------------------------------------


def test_merge(api_client):
    source, target = TicketFactory(), TicketFactory()
    MessageFactory(ticket=source)
    response = api_client.post(f"{TICKETS}{source.number}/merge/", {"into": target.number})
    assert response.status_code == 200 and response.json()["number"] == target.number
    source.refresh_from_db()
    assert source.merged_into_id == target.pk and target.messages.count() == 1
    assert_problem(api_client.post(f"{TICKETS}{target.number}/merge/", {"into": target.number}), 409, "merge-not-allowed")
    hidden = TicketFactory(team=TeamFactory(is_private=True))
    assert_problem(api_client.post(f"{TICKETS}{target.number}/merge/", {"into": hidden.number}), 400)


def test_bulk_reports_per_ticket_results(api_client):
    a, b = TicketFactory(status="open"), TicketFactory(status="closed")
    hidden = TicketFactory(team=TeamFactory(is_private=True))
    response = api_client.post(f"{TICKETS}bulk/", {"numbers": [a.number, b.number, hidden.number], "action": "status", "status": "pending"})
    assert response.status_code == 200
    results = {r["number"]: r for r in response.json()["results"]}
    assert results[a.number]["result"] == "changed"
    assert results[b.number]["result"] == "failed" and "closed" in results[b.number]["detail"]
    assert results[hidden.number] == {"number": hidden.number, "result": "failed", "detail": "not found"}
    hidden.refresh_from_db()
    assert hidden.status == "new"


def test_bulk_validation(api_client):
    body = assert_problem(api_client.post(f"{TICKETS}bulk/", {"numbers": [1], "action": "status"}), 400)
    assert body["errors"][0]["field"] == "status"
    assert_problem(api_client.post(f"{TICKETS}bulk/", {"numbers": [], "action": "assign"}), 400)
