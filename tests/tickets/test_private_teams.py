"""Private teams on every path that reaches a ticket or its data by id: an agent outside the
team gets 404 (never 403: nothing tells the ticket exists), and nothing changes; members,
managers and admins get through."""

from __future__ import annotations

import hashlib

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.files.base import ContentFile
from django.test import Client

from helpdesk.routing import websocket_urlpatterns
from tests.factories import (
    AgentFactory,
    AttachmentFactory,
    MessageFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import Ticket
from tickets.realtime import publish

SUBJECT = "Breach at ACME-PRIVATE-7731"


@pytest.fixture
def private_case(db):
    team = TeamFactory(name="Security", slug="security", is_private=True)
    ticket = TicketFactory(team=team, subject=SUBJECT, status=Ticket.Status.OPEN)
    message = MessageFactory(ticket=ticket, text="The secret text of the breach")
    data = b"\x89PNG"
    attachment = AttachmentFactory(
        message=message, filename="evidence.png", content_type="image/png", size=4, sha256=hashlib.sha256(data).hexdigest()
    )
    attachment.file.save("evidence.png", ContentFile(data), save=True)
    outsider = AgentFactory(role="agent")
    member = AgentFactory(role="agent")
    member.teams.add(team)
    public_ticket = TicketFactory(subject="Public question", status=Ticket.Status.OPEN)
    public_message = MessageFactory(ticket=public_ticket)
    return {
        "team": team, "ticket": ticket, "message": message, "attachment": attachment,
        "outsider": outsider.user, "member": member.user, "public_ticket": public_ticket,
        "public_message": public_message,
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _gets(c) -> dict[str, str]:
    n = c["ticket"].number
    return {
        "ticket page": f"/tickets/{n}/",
        "attachment": f"/tickets/{n}/attachments/{c['attachment'].pk}/",
        # A private attachment reached through a ticket the agent may see is still hidden.
        "attachment via another ticket": f"/tickets/{c['public_ticket'].number}/attachments/{c['attachment'].pk}/",
        "merge preview": f"/tickets/{n}/merge/?target={c['public_ticket'].number}",
        "admin ticket": f"/admin/tickets/ticket/{c['ticket'].pk}/change/",
        "admin ticket history": f"/admin/tickets/ticket/{c['ticket'].pk}/history/",
        "admin message": f"/admin/tickets/message/{c['message'].pk}/change/",
    }


def _posts(c) -> dict[str, tuple[str, dict]]:
    n = c["ticket"].number
    return {
        "reply": (f"/tickets/{n}/reply/", {"text": "hello"}),
        "note": (f"/tickets/{n}/reply/", {"text": "note", "is_note": "on"}),
        "status": (f"/tickets/{n}/status/", {"status": "solved"}),
        "priority": (f"/tickets/{n}/priority/", {"priority": "urgent"}),
        "assignee": (f"/tickets/{n}/assignee/", {"assignee": "me"}),
        "team": (f"/tickets/{n}/team/", {"team": ""}),
        "tags": (f"/tickets/{n}/tags/", {"tags": "leaked"}),
        "merge away": (f"/tickets/{n}/merge/", {"target": c["public_ticket"].number}),
        "split": (f"/tickets/{n}/messages/{c['message'].pk}/split/", {}),
        # A private message split through a ticket the agent may see.
        "split via another ticket": (f"/tickets/{c['public_ticket'].number}/messages/{c['message'].pk}/split/", {}),
    }


def _snapshot(ticket: Ticket) -> tuple:
    ticket = Ticket.objects.get(pk=ticket.pk)
    return (
        ticket.status, ticket.priority, ticket.team_id, ticket.assignee_id, ticket.merged_into_id,
        sorted(ticket.tags.values_list("name", flat=True)), ticket.messages.count(),
    )


@pytest.mark.django_db
def test_outsider_gets_404_on_every_read_path(private_case):
    client = _client(private_case["outsider"])
    for name, url in _gets(private_case).items():
        response = client.get(url)
        assert response.status_code == 404, (name, response.status_code)
        assert SUBJECT not in response.content.decode(), name


@pytest.mark.django_db
def test_outsider_gets_404_on_every_write_path_and_nothing_changes(private_case):
    client = _client(private_case["outsider"])
    before = _snapshot(private_case["ticket"])
    public_before = _snapshot(private_case["public_ticket"])
    for name, (url, data) in _posts(private_case).items():
        for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.post(url, data, **extra)
            assert response.status_code == 404, (name, extra, response.status_code)
    assert _snapshot(private_case["ticket"]) == before
    assert _snapshot(private_case["public_ticket"]) == public_before


@pytest.mark.django_db
def test_outsider_cannot_merge_a_visible_ticket_into_a_private_one(private_case):
    client = _client(private_case["outsider"])
    public = private_case["public_ticket"]
    response = client.post(f"/tickets/{public.number}/merge/", {"target": private_case["ticket"].number})
    assert response.status_code in (200, 400)
    assert SUBJECT not in response.content.decode()
    assert Ticket.objects.get(pk=public.pk).merged_into_id is None


@pytest.mark.django_db
def test_outsider_bulk_action_leaves_a_private_ticket_alone(private_case):
    client = _client(private_case["outsider"])
    before = _snapshot(private_case["ticket"])
    response = client.post(
        "/inbox/bulk/", {"ticket": [private_case["ticket"].number], "action": "status", "status": "solved"}
    )
    assert SUBJECT not in response.content.decode()
    assert _snapshot(private_case["ticket"]) == before


@pytest.mark.django_db
def test_private_ticket_is_hidden_from_the_outsiders_inbox_and_admin_list(private_case):
    client = _client(private_case["outsider"])
    assert SUBJECT not in client.get("/?view=open").content.decode()
    admin_list = client.get("/admin/tickets/ticket/")
    assert admin_list.status_code == 200
    assert SUBJECT not in admin_list.content.decode() and "Public question" in admin_list.content.decode()
    assert "The secret text" not in client.get("/admin/tickets/message/").content.decode()


@pytest.mark.django_db
def test_outsider_and_a_missing_ticket_get_the_same_answer(private_case):
    client = _client(private_case["outsider"])
    hidden = client.get(f"/tickets/{private_case['ticket'].number}/")
    missing = client.get("/tickets/99999999/")
    assert hidden.status_code == missing.status_code == 404
    assert client.get("/admin/tickets/ticket/99999999/change/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["member", "manager", "admin"])
def test_members_managers_and_admins_get_through(private_case, who):
    if who == "member":
        user = private_case["member"]
    else:
        user = AgentFactory(role=who).user
    client = _client(user)
    for name, url in _gets(private_case).items():
        if name.endswith("via another ticket") or name.startswith("admin"):
            continue
        assert client.get(url).status_code == 200, (who, name)
    assert SUBJECT in client.get("/").content.decode()
    response = client.post(f"/tickets/{private_case['ticket'].number}/status/", {"status": "pending"})
    assert response.status_code in (200, 302)
    assert Ticket.objects.get(pk=private_case["ticket"].pk).status == Ticket.Status.PENDING


@pytest.mark.django_db
def test_django_admin_shows_a_private_ticket_to_managers(private_case):
    client = _client(AgentFactory(role="manager").user)
    response = client.get(f"/admin/tickets/ticket/{private_case['ticket'].pk}/change/")
    assert response.status_code == 200 and SUBJECT in response.content.decode()


# --- Websockets ----------------------------------------------------------------------

application = URLRouter(websocket_urlpatterns)


@pytest.mark.django_db(transaction=True)
def test_inbox_socket_tells_an_outsider_only_ids(private_case):
    """The inbox socket reaches every agent, so it carries ids only: the page then asks for
    the row over HTTP, where the outsider gets nothing."""

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/inbox/")
        communicator.scope["user"] = private_case["outsider"]
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_nothing(timeout=0.1)
        from asgiref.sync import sync_to_async

        await sync_to_async(publish)("ticket.updated", ticket_id=private_case["ticket"].pk, fields=["status"])
        # Over Redis, a late event of an earlier test may come first: read up to ours.
        seen = [await communicator.receive_json_from(timeout=5)]
        while seen[-1].get("ticket_id") != private_case["ticket"].pk and len(seen) < 20:
            seen.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return seen

    events = async_to_sync(scenario)()
    assert events[-1]["ticket_id"] == private_case["ticket"].pk
    for event in events:
        assert SUBJECT not in str(event) and "secret text" not in str(event)
        assert set(event) <= {"kind", "ticket_id", "fields", "message_id"}
    assert _client(private_case["outsider"]).get(f"/tickets/{private_case['ticket'].number}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_ticket_socket_refuses_an_outsider_like_a_missing_ticket(private_case):
    async def connect(user, number):
        communicator = WebsocketCommunicator(application, f"/ws/tickets/{number}/")
        communicator.scope["user"] = user
        connected, code = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected, code

    hidden = async_to_sync(connect)(private_case["outsider"], private_case["ticket"].number)
    missing = async_to_sync(connect)(private_case["outsider"], 99999999)
    allowed = async_to_sync(connect)(private_case["member"], private_case["ticket"].number)
    assert hidden == missing and hidden[0] is False and hidden[1] == 4404
    assert allowed[0] is True
