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
        connected, _ = await communicator.connect()
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
        connected, code = await communicator.connect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert connected is False
    assert code == 4401


def test_failed_processing_publishes_nothing(email_channel, agent_user):
    async def scenario():
        communicator = _communicator(agent_user)
        await communicator.connect()

        def ingest():
            inbound = inbound_services.inbound_store(channel=email_channel, raw=b"not mail", enqueue=False)
            return inbound_services.inbound_process(inbound_id=inbound.pk)

        await sync_to_async(ingest)()
        nothing = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True
