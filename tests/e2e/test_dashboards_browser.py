"""The managers' dashboards in a real browser: charts drawn, no script from elsewhere,
the live tiles following new mail over the channel layer, and the guide's screenshots."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from channels_inbox import services as inbound_services
from metrics.services import rollups_refresh, ticket_metrics_refresh
from tests.e2e.conftest import screenshot
from tests.emails import build_email
from tests.factories import AgentFactory, UserFactory
from tests.metrics import fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_dashboard_draws_charts_and_its_tiles_follow_new_mail(new_page, live_asgi, email_channel):
    world = fixture.build(on_step=lambda t: t and ticket_metrics_refresh(ticket_id=t.pk))
    rollups_refresh()
    maya = UserFactory(username="maya", first_name="Maya", last_name="", is_staff=True)
    AgentFactory(user=maya, role="manager")

    page = new_page(maya, width=1400, height=1000)
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith(live_asgi.url) else outside.append(r.url))
    page.goto("/dashboards/?start=2026-02-23&end=2026-03-15&grain=day")
    expect(page.locator("figure.chart-box svg")).to_have_count(8)
    expect(page.locator('table[data-table="teams"] tbody th', has_text="Berlin")).to_be_visible()
    open_tile = page.locator('[data-tile="open"]')
    before = int(open_tile.inner_text())
    expect(page.locator("html")).to_have_attribute("data-live", "connected")
    screenshot(page, "dashboard", full_page=True)
    page.locator(f'a[href="/tickets/{world.tickets["T1"].number}/"]').scroll_into_view_if_needed()
    screenshot(page, "dashboard-tables")

    def deliver() -> None:
        inbound = inbound_services.inbound_store(
            channel=email_channel, raw=build_email(message_id="live@example.com", subject="Where is my order?"), enqueue=False
        )
        inbound_services.inbound_process(inbound_id=inbound.pk)

    live_asgi.run_sync(deliver)
    expect(open_tile).to_have_text(str(before + 1), timeout=15_000)
    assert not errors and not outside
