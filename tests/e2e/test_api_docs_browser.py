"""The interactive API documentation (/api/docs/) in a real browser: Swagger UI loads from
our own static files (nothing from a CDN) and a signed-in agent can try a request."""

from __future__ import annotations

import pytest

from tests.factories import AgentFactory, TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_runs_from_local_assets_and_tries_a_request(new_page, live_asgi):
    agent = AgentFactory(role="agent").user
    ticket = TicketFactory(subject="Printer on fire")
    page = new_page(agent)
    foreign: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(live_asgi.url) else foreign.append(request.url))

    page.goto("/api/docs/")
    page.get_by_text("Parley API").first.wait_for()
    operation = page.locator("#operations-tickets-tickets_list")
    operation.wait_for()
    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    body = page.locator(".responses-wrapper .live-responses-table .response-col_description pre").first
    body.wait_for()
    assert "Printer on fire" in body.inner_text() and str(ticket.number) in body.inner_text()
    assert foreign == [], foreign
