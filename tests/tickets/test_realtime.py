"""New tickets and messages reach agents' browsers over websockets, after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from channels_inbox import services as inbound_services
from helpdesk.routing import websocket_urlpatterns
from tests.emails import build_email

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter(websocket_urlpatterns)


def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/inbox/")
    communicator.scope["user"] = user
    return communicator


def test_agent_sees_a_new_ticket_and_its_message_without_reload(email_channel, agent_user):
    async def scenario():
        communicator = _communicator(agent_user)
        connected, _ = await communicator.connect(timeout=10)
        assert connected

        def ingest():
            inbound = inbound_services.inbound_store(channel=email_channel, raw=build_email(), enqueue=False)
            return inbound_services.inbound_process(inbound_id=inbound.pk)

        result = await sync_to_async(ingest)()
        received = [await communicator.receive_json_from(timeout=5) for _ in range(2)]
        await communicator.disconnect()
        return result, received

    result, received = async_to_sync(scenario)()
    kinds = {event["kind"] for event in received}
    assert "ticket.created" in kinds
    assert all(event["ticket_id"] == result.ticket_ids[0] for event in received)
    # ids only: subjects of private teams never travel over the socket
    assert all("subject" not in event for event in received)


def test_anonymous_socket_is_refused():
    async def scenario():
        communicator = _communicator(AnonymousUser())
        connected, code = await communicator.connect(timeout=10)
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert connected is False
    assert code == 4401


def test_failed_processing_publishes_nothing(email_channel, agent_user):
    async def scenario():
        communicator = _communicator(agent_user)
        await communicator.connect(timeout=10)

        def ingest():
            inbound = inbound_services.inbound_store(channel=email_channel, raw=b"not mail", enqueue=False)
            return inbound_services.inbound_process(inbound_id=inbound.pk)

        await sync_to_async(ingest)()
        nothing = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True


def test_non_staff_user_socket_is_refused():
    from tests.factories import UserFactory

    user = UserFactory(is_staff=False)

    async def scenario():
        return await _communicator(user).connect(timeout=10)

    assert async_to_sync(scenario)() == (False, 4401)


def _inbox_rows_html(client) -> str:
    """What the live inbox fetches after an event: the rows fragment, as htmx asks for it."""
    response = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="rows")
    assert response.status_code == 200
    return response.content.decode()


def test_private_team_ticket_reaches_outsiders_as_an_id_only_and_their_fetch_hides_it(client, email_channel):
    """Everyone's inbox socket hears every event; what the page then shows is decided by the
    fetch, with the agent's own permissions."""
    from tests.factories import AgentFactory, TeamFactory
    from tickets.models import Ticket

    vip = TeamFactory(name="VIP", slug="vip", is_private=True)
    email_channel.default_team = vip
    email_channel.save(update_fields=["default_team"])
    outsider = AgentFactory(role="agent").user
    member = AgentFactory(role="agent")
    member.teams.add(vip)

    async def scenario():
        communicator = _communicator(outsider)
        connected, _ = await communicator.connect(timeout=10)
        assert connected

        def ingest():
            inbound = inbound_services.inbound_store(
                channel=email_channel, raw=build_email(subject="Board member locked out"), enqueue=False
            )
            return inbound_services.inbound_process(inbound_id=inbound.pk)

        await sync_to_async(ingest)()
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    event = async_to_sync(scenario)()
    ticket = Ticket.objects.get()
    assert ticket.team == vip
    assert event["ticket_id"] == ticket.pk
    assert "Board member" not in str(event)

    client.force_login(outsider)
    assert "Board member locked out" not in _inbox_rows_html(client)
    client.force_login(member.user)
    assert "Board member locked out" in _inbox_rows_html(client)


def test_a_new_customer_message_turns_a_read_ticket_unread_in_the_live_inbox(client, email_ticket, agent_user):
    client.force_login(agent_user)
    assert client.get(f"/tickets/{email_ticket.number}/").status_code == 200  # read
    assert 'class="status-' in _inbox_rows_html(client)
    assert " unread" not in _inbox_rows_html(client)

    async def scenario():
        communicator = _communicator(agent_user)
        await communicator.connect(timeout=10)

        def customer_answers():
            raw = build_email(subject="Re: Refund please", in_reply_to="root@example.com", body="Any news?")
            inbound = inbound_services.inbound_store(channel=email_ticket.channel, raw=raw, enqueue=False)
            return inbound_services.inbound_process(inbound_id=inbound.pk)

        await sync_to_async(customer_answers)()
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    event = async_to_sync(scenario)()
    assert event == {"kind": "message.created", "ticket_id": email_ticket.pk, "message_id": event["message_id"]}
    rows = _inbox_rows_html(client)
    assert f'data-ticket="{email_ticket.pk}"' in rows
    assert "Unread: " in rows
