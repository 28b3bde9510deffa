"""An agent signs in with a real browser, finds a ticket in the inbox and answers it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import AgentFactory, UserFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_agent_signs_in_sees_the_inbox_and_replies(page, live_server, email_channel):
    AgentFactory(user=UserFactory(username="sam", first_name="Sam", is_staff=True), role="agent")
    inbound = inbound_services.inbound_store(
        channel=email_channel,
        raw=build_email(subject="Parcel never arrived", body="Order 4411 is two weeks late. <b>help</b>"),
        enqueue=False,
    )
    inbound_services.inbound_process(inbound_id=inbound.pk)
    ticket = Ticket.objects.get()

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url  # signed-out visitors land on the sign-in page
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text().startswith("Your username and password didn't match")

    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    row = page.locator("table.inbox tbody tr", has_text="Parcel never arrived")
    assert row.count() == 1
    assert "Email" in row.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "inbox.png"), full_page=True)

    row.get_by_role("link", name="Parcel never arrived").click()
    page.wait_for_url(f"**/tickets/{ticket.number}/")
    # the customer's text is shown as text, never as markup
    assert "Order 4411 is two weeks late. <b>help</b>" in page.locator("article.message.inbound").inner_text()

    page.fill("textarea[name=text]", "Sorry about that, a new parcel is on its way.")
    page.select_option("select[name=status]", "pending")
    page.click("form.reply button[type=submit]")
    page.wait_for_selector("article.message.outbound")
    page.screenshot(path=str(SCREENSHOTS / "ticket.png"), full_page=True)

    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert reply.text == "Sorry about that, a new parcel is on its way."
    assert Ticket.objects.get().status == Ticket.Status.PENDING
    assert mail.outbox[0].to == ["ada@example.com"]

    page.click("form.logout button")
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
