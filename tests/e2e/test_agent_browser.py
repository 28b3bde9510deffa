"""An agent's day in a real browser: sign in, the inbox, a ticket, a reply made from a macro,
and the customer's answer arriving live on a colleague's screen."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from channels_inbox import services as inbound_services
from tests.e2e.conftest import screenshot
from tests.emails import build_email
from tests.factories import AgentFactory, UserFactory
from tickets.models import Macro, Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_agent_signs_in_replies_with_a_macro_and_a_colleague_sees_the_answer_live(new_page, live_asgi, email_channel):
    AgentFactory(user=UserFactory(username="sam", first_name="Sam", last_name="Reyes", is_staff=True), role="agent")
    maya = UserFactory(username="maya", first_name="Maya", last_name="", is_staff=True)
    AgentFactory(user=maya, role="manager")
    Macro.objects.create(
        name="Parcel re-sent",
        body="Hi {{ customer.first_name }},\n\nsorry about that: a new parcel left today (ticket "
        "#{{ ticket.number }}).\n\n{{ agent.name }}",
    )

    def deliver(**email) -> None:
        inbound = inbound_services.inbound_store(channel=email_channel, raw=build_email(**email), enqueue=False)
        inbound_services.inbound_process(inbound_id=inbound.pk)

    live_asgi.run_sync(
        deliver, message_id="parcel@example.com", subject="Parcel never arrived",
        body="Order 4411 is two weeks late. <b>help</b>",
    )
    ticket = Ticket.objects.get()

    page = new_page()
    page.goto("/")
    assert "/login/" in page.url  # signed-out visitors land on the sign-in page
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".error").first).to_contain_text("Your username and password didn't match")

    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_asgi.url}/")
    row = page.locator("table.inbox tbody tr", has_text="Parcel never arrived")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Email")

    row.get_by_role("link", name="Parcel never arrived").click()
    page.wait_for_url(f"**/tickets/{ticket.number}/")
    # the customer's text is shown as text, never as markup
    expect(page.locator("article.message.inbound")).to_contain_text("Order 4411 is two weeks late. <b>help</b>")

    # A colleague has the same ticket open.
    colleague = new_page(maya)
    colleague.goto(f"/tickets/{ticket.number}/")
    expect(colleague.locator("#presence")).to_contain_text("Sam Reyes is viewing")

    # Reply with a macro: its placeholders are filled for this customer, ticket and agent.
    page.select_option("#insert-macro", label="Parcel re-sent")
    page.get_by_role("button", name="Insert").click()
    box = page.locator("textarea[name=text]")
    expect(box).to_have_value(f"Hi Ada,\n\nsorry about that: a new parcel left today (ticket #{ticket.number}).\n\nSam Reyes")
    box.press("Control+End")
    box.type("\nPS: tracking number to follow.")
    screenshot(page, "reply-macro")
    page.select_option("form.reply select[name=status]", "pending")
    page.locator("form.reply button.primary").click()
    expect(page.locator("article.message.outbound")).to_contain_text("a new parcel left today")
    screenshot(page, "ticket", full_page=True)

    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    text = reply.text.replace("\r\n", "\n")  # a browser submits text areas with CRLF
    assert text == f"Hi Ada,\n\nsorry about that: a new parcel left today (ticket #{ticket.number}).\n\nSam Reyes\nPS: tracking number to follow."
    assert Ticket.objects.get().status == Ticket.Status.PENDING
    assert mail.outbox[0].to == ["ada@example.com"]

    # The customer answers; the colleague's page shows it without a reload.
    live_asgi.run_sync(
        deliver, subject="Re: Parcel never arrived", in_reply_to="parcel@example.com", body="Thank you, got the tracking.",
    )
    expect(colleague.locator("#timeline")).to_contain_text("Thank you, got the tracking.")
    expect(colleague.locator("#timeline")).to_contain_text("a new parcel left today")

    page.click("form.logout button")
    page.goto("/")
    assert "/login/" in page.url
