"""Teams, agents, tags, macros and channels through /api/v1/, with their permission rules."""

from __future__ import annotations

import pytest

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import (
    AgentFactory,
    ChannelFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import AgentProfile, Macro, Message, Team, Ticket

pytestmark = pytest.mark.django_db


def _client(make_key, **kwargs) -> KeyClient:
    key, raw = make_key(**kwargs)
    client = KeyClient(raw)
    client.key = key
    return client


# --- Teams ---------------------------------------------------------------------------


def test_everyone_reads_teams_with_members(api_client):
    team = TeamFactory(name="Billing", slug="billing")
    grace = AgentFactory(user__username="grace")
    grace.teams.add(team)
    TeamFactory(name="Vault", slug="vault", is_private=True)
    rows = api_client.get("/api/v1/teams/").json()["results"]
    assert [(t["name"], t["is_private"]) for t in rows] == [("Billing", False), ("Vault", True)]
    assert rows[0]["members"] == [{"id": grace.user_id, "username": "grace", "name": grace.name}]
    assert api_client.get("/api/v1/teams/", {"is_private": "true"}).json()["results"][0]["name"] == "Vault"
    assert api_client.get(f"/api/v1/teams/{team.pk}/")["ETag"]


def test_only_admins_with_teams_write_change_teams(make_key, admin_api):
    grace = AgentFactory()
    manager = _client(make_key, role="manager")  # holds teams:write, but /manage/ teams are admins' only
    assert_problem(manager.post("/api/v1/teams/", {"name": "Escalations"}), 403, "permission-denied")
    read_only_admin = _client(make_key, role="admin", scopes=["teams:read"])
    assert_problem(read_only_admin.post("/api/v1/teams/", {"name": "Escalations"}), 403)
    response = admin_api.post("/api/v1/teams/", {"name": "Escalations", "is_private": True, "members": [grace.user_id]})
    assert response.status_code == 201, response.json()
    team = Team.objects.get(name="Escalations")
    assert team.is_private and list(team.agents.all()) == [grace]
    etag = admin_api.get(f"/api/v1/teams/{team.pk}/")["ETag"]
    renamed = admin_api.patch(f"/api/v1/teams/{team.pk}/", {"name": "Escalation desk"}, HTTP_IF_MATCH=etag)
    assert renamed.status_code == 200 and renamed.json()["members"][0]["id"] == grace.user_id
    assert_problem(admin_api.patch(f"/api/v1/teams/{team.pk}/", {"is_private": False}, HTTP_IF_MATCH=etag), 412)


def test_team_validation(admin_api):
    TeamFactory(name="Billing", slug="billing")
    body = assert_problem(admin_api.post("/api/v1/teams/", {"name": "billing", "members": [999999]}), 400)
    assert body["errors"][0]["field"] == "members"
    body = assert_problem(admin_api.post("/api/v1/teams/", {"name": "billing"}), 400)
    assert body["errors"][0]["field"] == "name" and "already exists" in body["errors"][0]["detail"]


# --- Agents --------------------------------------------------------------------------


def test_agents_list_filter_and_retrieve(api_client):
    team = TeamFactory(name="Billing", slug="billing")
    away = AgentFactory(availability="away")
    away.teams.add(team)
    rows = api_client.get("/api/v1/agents/", {"availability": "away"}).json()["results"]
    assert [r["id"] for r in rows] == [away.user_id]
    assert rows[0]["teams"] == [{"id": team.pk, "name": "Billing"}] and rows[0]["role"] == "agent"
    assert [r["id"] for r in api_client.get("/api/v1/agents/", {"team": team.pk}).json()["results"]] == [away.user_id]
    assert api_client.get(f"/api/v1/agents/{away.user_id}/").json()["availability"] == "away"
    assert_problem(api_client.get("/api/v1/agents/999999/"), 404)


def test_availability_own_or_by_a_manager(make_key, monkeypatch):
    from tickets.api.scopes import AGENT, ROLE_SCOPES

    # Whatever the agent role's scopes, the view's own rule is: an agent sets only their own.
    monkeypatch.setitem(ROLE_SCOPES, AGENT, ROLE_SCOPES[AGENT] | {"agents:write"})

    me = AgentFactory(availability="available")
    other = AgentFactory(availability="available")
    admin = _client(make_key, role="admin", user=None)
    mine = _client(make_key, user=me.user, scopes=["agents:write"], role="agent")
    manager = _client(make_key, role="manager")
    url = "/api/v1/agents/{}/availability/"
    assert mine.post(url.format(me.user_id), {"availability": "away"}).status_code == 200
    assert_problem(mine.post(url.format(other.user_id), {"availability": "away"}), 403)
    assert AgentProfile.objects.get(pk=other.pk).availability == "available"
    response = manager.post(url.format(other.user_id), {"availability": "away"})
    assert response.status_code == 200 and response.json()["availability"] == "away"
    assert AgentProfile.objects.get(pk=other.pk).availability == "away"
    assert_problem(admin.post(url.format(other.user_id), {"availability": "asleep"}), 400)
    assert_problem(admin.post(url.format(999999), {"availability": "away"}), 404)


# --- Tags ----------------------------------------------------------------------------


def test_tags_count_only_visible_tickets(api_client):
    billing, vip, unused = TagFactory(name="billing"), TagFactory(name="vip"), TagFactory(name="unused")
    TicketFactory().tags.add(billing, vip)
    TicketFactory().tags.add(billing)
    TicketFactory(team=TeamFactory(name="Vault", slug="vault", is_private=True)).tags.add(vip)
    rows = {t["name"]: t["usage_count"] for t in api_client.get("/api/v1/tags/").json()["results"]}
    assert rows == {"billing": 2, "unused": 0, "vip": 1}
    assert [t["name"] for t in api_client.get("/api/v1/tags/", {"used": "false"}).json()["results"]] == ["unused"]
    page = api_client.get("/api/v1/tags/", {"ordering": "-usage_count", "page_size": 1}).json()
    names = [t["name"] for t in page["results"]]
    while page["next"]:
        page = api_client.get(page["next"]).json()
        names += [t["name"] for t in page["results"]]
    assert names == ["billing", "vip", "unused"]
    assert api_client.get(f"/api/v1/tags/{unused.pk}/").json()["name"] == "unused"
    assert_problem(api_client.post("/api/v1/tags/", {"name": "x"}), 405)


# --- Macros --------------------------------------------------------------------------


@pytest.fixture
def macros(api_client):
    me = api_client.key.user
    shared = Macro.objects.create(
        name="Refund issued", body="Hello {{ customer.first_name }}, refund for #{{ ticket.number }}. {{ nope.x }}",
        set_status="solved", add_tags=["refund"],
    )
    mine = Macro.objects.create(name="My note", body="Checked by {{ agent.name }}", is_note=True, owner=me)
    theirs = Macro.objects.create(name="Theirs", body="x", owner=AgentFactory().user)
    inactive = Macro.objects.create(name="Old", body="x", is_active=False)
    return {"shared": shared, "mine": mine, "theirs": theirs, "inactive": inactive}


def test_macros_list_shared_and_own(api_client, macros):
    rows = api_client.get("/api/v1/macros/").json()["results"]
    assert [(m["name"], m["is_shared"]) for m in rows] == [("My note", False), ("Refund issued", True)]
    assert [m["name"] for m in api_client.get("/api/v1/macros/", {"shared": "false"}).json()["results"]] == ["My note"]
    assert_problem(api_client.get(f"/api/v1/macros/{macros['theirs'].pk}/"), 404)


def test_apply_posts_the_rendered_reply_and_runs_the_actions(api_client, macros):
    ada = CustomerFactory(name="Ada Lovelace")
    CustomerIdentityFactory(customer=ada, address="ada@example.com")
    ticket = TicketFactory(customer=ada, status="open", channel=ChannelFactory(kind="email"))
    response = api_client.post(f"/api/v1/macros/{macros['shared'].pk}/apply/", {"ticket": ticket.number})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["message"]["direction"] == "outbound"
    assert body["message"]["text"] == f"Hello Ada, refund for #{ticket.number}. "
    assert body["ticket"]["status"] == "solved" and body["ticket"]["tags"] == ["refund"]
    ticket.refresh_from_db()
    assert ticket.status == "solved"
    macros["shared"].refresh_from_db()
    assert macros["shared"].usage_count == 1


def test_apply_a_note_macro_with_own_text(api_client, macros):
    ticket = TicketFactory(status="open")
    response = api_client.post(
        f"/api/v1/macros/{macros['mine'].pk}/apply/", {"ticket": ticket.number, "text": "Seen: {{ ticket.number }}"}
    )
    assert response.status_code == 200, response.json()
    note = Message.objects.get(ticket=ticket)
    assert (note.direction, note.text) == ("note", f"Seen: {ticket.number}")


def test_apply_refusals(api_client, macros, make_key):
    ticket = TicketFactory(status="open")
    secret = TicketFactory(status="open", team=TeamFactory(name="Vault", slug="vault", is_private=True))
    url = "/api/v1/macros/{}/apply/"
    assert_problem(api_client.post(url.format(macros["theirs"].pk), {"ticket": ticket.number}), 404)
    assert_problem(api_client.post(url.format(macros["inactive"].pk), {"ticket": ticket.number}), 404)
    assert_problem(api_client.post(url.format(macros["shared"].pk), {"ticket": secret.number}), 404)
    assert_problem(api_client.post(url.format(macros["shared"].pk), {"ticket": "one"}), 400)
    closed = TicketFactory(status="closed")
    reopen = {"ticket": closed.number, "status": "open"}  # a closed ticket cannot be reopened
    assert_problem(api_client.post(url.format(macros["mine"].pk), reopen), 409, "invalid-transition")
    assert not Message.objects.filter(ticket=closed).exists()  # all or nothing
    reader = _client(make_key, scopes=["macros:read"])
    assert_problem(reader.post(url.format(macros["shared"].pk), {"ticket": ticket.number}), 403)
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


# --- Channels ------------------------------------------------------------------------


def test_channels_are_read_only_and_never_show_secrets(api_client, admin_api, make_key):
    email = ChannelFactory(kind="email", name="Support", inbound_address="support@parley.test")
    telegram = ChannelFactory(
        kind="telegram", name="Bot", config={"username": "parley_bot", "api_base": "http://127.0.0.1:1"},
        secrets={"bot_token": "123:SECRET-TOKEN", "webhook_secret": "hush"},
    )
    rows = {c["name"]: c for c in api_client.get("/api/v1/channels/").json()["results"]}
    assert rows["Support"]["addresses"] == [{"kind": "inbound_address", "value": "support@parley.test"}]
    assert rows["Bot"]["addresses"] == [{"kind": "username", "value": "parley_bot"}]
    raw = api_client.get(f"/api/v1/channels/{telegram.pk}/").content.decode()
    assert "SECRET-TOKEN" not in raw and "hush" not in raw and "api_base" not in raw and "config" not in raw
    assert [c["id"] for c in api_client.get("/api/v1/channels/", {"kind": "email"}).json()["results"]] == [email.pk]
    assert_problem(admin_api.patch(f"/api/v1/channels/{email.pk}/", {"name": "x"}), 405)
    assert_problem(_client(make_key, scopes=["tickets:read"]).get("/api/v1/channels/"), 403)


SCOPED_LISTS = [
    ("/api/v1/customers/", "customers:read"),
    ("/api/v1/organizations/", "organizations:read"),
    ("/api/v1/teams/", "teams:read"),
    ("/api/v1/agents/", "agents:read"),
    ("/api/v1/tags/", "tags:read"),
    ("/api/v1/macros/", "macros:read"),
    ("/api/v1/channels/", "channels:read"),
    ("/api/v1/rules/", "rules:read"),
    ("/api/v1/sla-policies/", "sla:read"),
    ("/api/v1/survey-responses/", "surveys:read"),
]


@pytest.mark.parametrize(("url", "scope"), SCOPED_LISTS)
def test_each_list_needs_its_read_scope(make_key, url, scope):
    narrow = _client(make_key, role="admin", scopes=["tickets:read"])
    assert scope in assert_problem(narrow.get(url), 403, "permission-denied")["detail"]
    assert _client(make_key, role="admin", scopes=[scope]).get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/customers/", {"organization": "1" + "0" * 30}),
        ("/api/v1/customers/", {"organization": "1.5", "tier": "gold"}),
        ("/api/v1/customers/", {"updated_after": "yesterday"}),
        ("/api/v1/agents/", {"team": "9" * 40}),
        ("/api/v1/survey-responses/", {"ticket": "9" * 40, "score_max": "1e400"}),
        ("/api/v1/customers/{customer}/tickets/", {"status": "nope"}),
    ],
)
def test_odd_filter_values_are_answered_not_crashed_on(admin_api, url, params):
    response = admin_api.get(url.format(customer=CustomerFactory().pk), params)
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert_problem(response, 400, "validation")
    else:
        assert response.json()["results"] == []


@pytest.mark.parametrize(
    "resource",
    ["customers", "organizations", "teams", "agents", "tags", "macros", "channels", "rules", "sla-policies", "survey-responses"],
)
def test_ids_out_of_range_are_404(admin_api, resource):
    for bad in ("0", "9" * 19, "9" * 40):
        assert_problem(admin_api.get(f"/api/v1/{resource}/{bad}/"), 404)
