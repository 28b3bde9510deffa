"""Presence on a ticket page: who else is viewing or replying, over a real websocket consumer.

Runs against whatever the environment gives: the in-memory layer and store in embedded
mode, the Redis channel layer and a Redis hash in full mode.
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache

from helpdesk.routing import websocket_urlpatterns
from tests.conftest import full_mode_only
from tests.factories import AgentFactory, TeamFactory, TicketFactory, UserFactory
from tickets import presence, services
from tickets.events import Actor

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def _fresh_presence():
    """Ticket ids repeat between tests: no entry of an earlier test may leak in (Redis in full
    mode, this process's memory in embedded mode)."""
    cache.clear()
    presence._stores.clear()
    yield
    cache.clear()
    presence._stores.clear()


def _agent(first_name: str, role: str = "agent", teams=()):
    agent = AgentFactory(user=UserFactory(first_name=first_name, last_name="", is_staff=True), role=role)
    agent.teams.set(teams)
    return agent.user


def _socket(user, number: int) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/tickets/{number}/")
    communicator.scope["user"] = user
    return communicator


async def _open(user, number: int) -> WebsocketCommunicator:
    communicator = _socket(user, number)
    connected, code = await communicator.connect(timeout=10)
    assert connected, code
    welcome = await communicator.receive_json_from(timeout=5)
    assert welcome == {"kind": "welcome", "heartbeat_seconds": presence.HEARTBEAT_SECONDS}
    return communicator


async def _presence_text(communicator: WebsocketCommunicator) -> str:
    """The next presence fragment this page receives, as the text a reader would see."""
    while True:
        event = await communicator.receive_json_from(timeout=5)
        if event["kind"] == "presence":
            return " ".join(re.sub(r"<[^>]+>", " ", event["html"]).split())


async def _presence_until(communicator: WebsocketCommunicator, expected: str) -> str:
    """Presence fragments arrive as others come and go; wait for the one a test expects."""
    text = None
    for _ in range(6):
        text = await _presence_text(communicator)
        if text == expected:
            return text
    return text


def test_two_agents_on_one_ticket_see_each_other_view_and_reply():
    maya = _agent("Maya", role="manager")
    sam = _agent("Sam")
    ticket = TicketFactory()

    async def scenario():
        maya_page = await _open(maya, ticket.number)
        assert await _presence_text(maya_page) == ""  # alone: nobody else shown

        sam_page = await _open(sam, ticket.number)
        seen = {
            "sam sees": await _presence_until(sam_page, "Maya is viewing"),
            "maya sees": await _presence_until(maya_page, "Sam is viewing"),
        }

        await sam_page.send_json_to({"type": "replying", "replying": True})
        seen["maya sees sam typing"] = await _presence_until(maya_page, "Sam is replying")
        await sam_page.send_json_to({"type": "replying", "replying": False})
        seen["sam stopped"] = await _presence_until(maya_page, "Sam is viewing")

        await sam_page.disconnect()
        seen["sam left"] = await _presence_until(maya_page, "")
        await maya_page.disconnect()
        return seen

    assert async_to_sync(scenario)() == {
        "sam sees": "Maya is viewing",
        "maya sees": "Sam is viewing",
        "maya sees sam typing": "Sam is replying",
        "sam stopped": "Sam is viewing",
        "sam left": "",
    }
    assert presence.viewers(ticket_id=ticket.pk) == []


def test_a_second_tab_of_the_same_agent_counts_once_and_does_not_show_herself():
    maya = _agent("Maya", role="manager")
    sam = _agent("Sam")
    ticket = TicketFactory()

    async def scenario():
        tab1 = await _open(sam, ticket.number)
        tab2 = await _open(sam, ticket.number)
        maya_page = await _open(maya, ticket.number)
        await tab2.send_json_to({"type": "replying", "replying": True})
        maya_sees = await _presence_until(maya_page, "Sam is replying")
        tab1_sees = await _presence_until(tab1, "Maya is viewing")
        for communicator in (tab1, tab2, maya_page):
            await communicator.disconnect()
        return maya_sees, tab1_sees

    assert async_to_sync(scenario)() == ("Sam is replying", "Maya is viewing")


def test_names_are_escaped_in_the_presence_fragment():
    sam = _agent("Sam")
    mallory = _agent("<img src=x onerror=alert(1)>")
    ticket = TicketFactory()

    async def scenario():
        page = await _open(sam, ticket.number)
        other = await _open(mallory, ticket.number)
        while True:
            event = await page.receive_json_from(timeout=5)
            if event["kind"] == "presence" and "viewing" in event["html"]:
                break
        await other.disconnect()
        await page.disconnect()
        return event["html"]

    html = async_to_sync(scenario)()
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; is viewing" in html


def test_ticket_events_reach_the_ticket_page_as_ids_only(email_ticket):
    sam = _agent("Sam")

    async def scenario():
        page = await _open(sam, email_ticket.number)
        await sync_to_async(services.message_add_note)(ticket=email_ticket, author=sam, text="Called the courier")
        while True:
            event = await page.receive_json_from(timeout=5)
            if event["kind"] != "presence":
                break
        await page.disconnect()
        return event

    event = async_to_sync(scenario)()
    assert event["kind"] == "message.created"
    assert event["ticket_id"] == email_ticket.pk
    assert "Called the courier" not in str(event)


@pytest.mark.parametrize("who", ["anonymous", "customer-facing non-staff user"])
def test_only_signed_in_staff_may_open_a_ticket_socket(who):
    ticket = TicketFactory()
    user = AnonymousUser() if who == "anonymous" else UserFactory(is_staff=False)

    async def scenario():
        return await _socket(user, ticket.number).connect(timeout=10)

    assert async_to_sync(scenario)() == (False, 4401)


def test_private_team_ticket_socket_refused_to_outsiders_like_a_missing_ticket():
    billing = TeamFactory(name="Billing", slug="billing", is_private=True)
    ticket = TicketFactory(team=billing)
    outsider = _agent("Olga")

    async def scenario():
        private = await _socket(outsider, ticket.number).connect(timeout=10)
        missing = await _socket(outsider, ticket.number + 1000).connect(timeout=10)
        return private, missing

    private, missing = async_to_sync(scenario)()
    assert private == (False, 4404)
    assert missing == private  # a private ticket is indistinguishable from no ticket
    assert presence.viewers(ticket_id=ticket.pk) == []


@pytest.mark.parametrize("role", ["member", "manager"])
def test_private_team_members_and_managers_may_open_the_socket(role):
    billing = TeamFactory(name="Billing", slug="billing", is_private=True)
    ticket = TicketFactory(team=billing)
    user = _agent("Bea", teams=[billing]) if role == "member" else _agent("Maya", role="manager")

    async def scenario():
        page = await _open(user, ticket.number)
        await page.disconnect()

    async_to_sync(scenario)()


def test_socket_closes_on_the_next_heartbeat_once_the_ticket_moves_to_a_private_team():
    sam = _agent("Sam")
    maya = _agent("Maya", role="manager")
    billing = TeamFactory(name="Billing", slug="billing", is_private=True)
    ticket = TicketFactory()

    async def scenario():
        page = await _open(sam, ticket.number)
        maya_page = await _open(maya, ticket.number)
        await _presence_until(maya_page, "Sam is viewing")
        await sync_to_async(services.ticket_set_team)(ticket=ticket, team_id=billing.pk, actor=Actor.agent(maya))
        await page.send_json_to({"type": "heartbeat"})
        while True:
            output = await page.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                break
        maya_sees = await _presence_until(maya_page, "")
        await maya_page.disconnect()
        return output["code"], maya_sees

    assert async_to_sync(scenario)() == (4404, "")


def test_unknown_or_malformed_messages_change_nothing():
    sam = _agent("Sam")
    maya = _agent("Maya", role="manager")
    ticket = TicketFactory()

    async def scenario():
        maya_page = await _open(maya, ticket.number)
        page = await _open(sam, ticket.number)
        await _presence_until(maya_page, "Sam is viewing")
        await page.send_json_to(["not", "an", "object"])
        await page.send_json_to({"type": "replying", "replying": "yes"})  # only true counts
        await page.send_json_to({"type": "delete-everything"})
        quiet = await maya_page.receive_nothing(timeout=0.3)
        await page.disconnect()
        await maya_page.disconnect()
        return quiet

    assert async_to_sync(scenario)() is True


@pytest.mark.django_db  # no database work: nothing for a transactional flush to clean
def test_presence_expires_without_heartbeats():
    """A tab that died without closing its socket disappears after TTL_SECONDS."""
    presence.touch(ticket_id=7, session="tab-a", user_id=1, name="Sam", is_replying=True, now=1000.0)
    presence.touch(ticket_id=7, session="tab-b", user_id=2, name="Maya", is_replying=False, now=1020.0)

    assert presence.viewers(ticket_id=7, now=1000.0 + presence.TTL_SECONDS - 1) == [
        presence.Viewer(user_id=2, name="Maya", is_replying=False),
        presence.Viewer(user_id=1, name="Sam", is_replying=True),
    ]
    assert presence.viewers(ticket_id=7, now=1000.0 + presence.TTL_SECONDS) == [
        presence.Viewer(user_id=2, name="Maya", is_replying=False)
    ]
    # a heartbeat keeps an entry alive
    presence.touch(ticket_id=7, session="tab-b", user_id=2, name="Maya", is_replying=False, now=1060.0)
    assert [v.name for v in presence.viewers(ticket_id=7, now=1100.0)] == ["Maya"]
    assert presence.viewers(ticket_id=7, now=1060.0 + presence.TTL_SECONDS) == []


@pytest.mark.django_db  # no database work: nothing for a transactional flush to clean
def test_presence_is_kept_per_ticket():
    presence.touch(ticket_id=1, session="a", user_id=1, name="Sam", is_replying=False)
    presence.touch(ticket_id=2, session="b", user_id=2, name="Maya", is_replying=False)
    presence.leave(ticket_id=1, session="a")
    assert presence.viewers(ticket_id=1) == []
    assert [v.name for v in presence.viewers(ticket_id=2)] == ["Maya"]


@full_mode_only
@pytest.mark.django_db
def test_full_mode_presence_lives_in_redis_where_every_process_sees_it():
    import redis
    from django.conf import settings

    presence.touch(ticket_id=42, session="specific.abc!1", user_id=3, name="Sam", is_replying=False)
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    key = cache.make_key("presence:42")
    assert client.hkeys(key) == [b"specific.abc!1"]
    assert 0 < client.ttl(key) <= presence.TTL_SECONDS * 2
    # another process (a fresh client) reads the same state
    presence._stores.clear()
    assert [v.name for v in presence.viewers(ticket_id=42)] == ["Sam"]
