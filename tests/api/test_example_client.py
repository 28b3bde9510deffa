"""docs/examples/parley_client.py works against the real app (in process, through httpx's WSGI transport)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

spec = importlib.util.spec_from_file_location("parley_client", Path(settings.BASE_DIR) / "docs" / "examples" / "parley_client.py")
parley_client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parley_client)


def test_the_example_client_does_what_the_docs_say(make_key, email_channel, settings, wsgi_app):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "parley.test"]
    _, raw = make_key(role="agent")
    parley = parley_client.ParleyClient("http://parley.test", raw, transport=httpx.WSGITransport(app=wsgi_app))
    for _ in range(3):
        TicketFactory(channel=email_channel, status="open")
    assert len(list(parley.tickets(status="open", page_size=2))) == 3
    ticket = parley.create_ticket(email="ada@example.com", name="Ada", subject="Export broken", text="It does nothing.")
    _, etag = parley.ticket(ticket["number"])
    parley.update_ticket(ticket["number"], if_match=etag, priority="high")
    with pytest.raises(parley_client.ParleyError) as stale:
        parley.update_ticket(ticket["number"], if_match=etag, priority="low")
    assert stale.value.status == 412 and stale.value.problem["type"] == "urn:parley:problem:precondition-failed"
    note = parley.note(ticket["number"], "see file", files=[("log.txt", b"hello", "text/plain")])
    assert parley.download(note["attachments"][0]["url"]) == b"hello"
    reply = parley.reply(ticket["number"], "On it.", status="pending")
    assert reply["direction"] == "outbound"
    assert [m["direction"] for m in parley.messages(ticket["number"])] == ["inbound", "note", "outbound"]
