"""An answer reaches an agent who has the inbox open, over the websocket, after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from helpdesk.routing import websocket_urlpatterns
from metrics.surveys.services import survey_response_record
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_answer_is_announced_to_open_pages(agent_user):
    ticket = TicketFactory(status="solved")

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/inbox/")
        communicator.scope["user"] = agent_user
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        await sync_to_async(survey_response_record)(ticket_id=ticket.pk, kind="csat", score=1, source="email")
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    event = async_to_sync(scenario)()
    assert (event["kind"], event["ticket_id"], event["fields"]) == ("ticket.updated", ticket.pk, ["survey"])
