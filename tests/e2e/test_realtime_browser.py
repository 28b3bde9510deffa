"""The live workspace in a real browser: mail arriving while agents watch, presence, shortcuts.

New mail is injected through the real pipeline (store the raw message, then process it)
inside the live server, so its realtime events travel the production path: on commit ->
channel layer -> consumer -> the page refetches the fragment with the agent's permissions.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from channels_inbox import services as inbound_services
from tests.e2e.conftest import screenshot
from tests.emails import build_email
from tests.factories import AgentFactory, UserFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def _agent(username: str, first_name: str, role: str = "agent"):
    user = UserFactory(username=username, first_name=first_name, last_name="", is_staff=True)
    AgentFactory(user=user, role=role)
    return user


def _mail(live_asgi, channel, **email) -> int:
    """Deliver one email through the pipeline inside the server; the ticket's number."""

    def deliver() -> int:
        inbound = inbound_services.inbound_store(channel=channel, raw=build_email(**email), enqueue=False)
        result = inbound_services.inbound_process(inbound_id=inbound.pk)
        return Ticket.objects.get(pk=result.ticket_ids[0]).number

    return live_asgi.run_sync(deliver)


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _live(page) -> None:
    """The page's socket is open (parley.js marks the document)."""
    expect(page.locator("html")).to_have_attribute("data-live", "connected")


def test_new_mail_appears_live_in_the_inbox_and_on_the_open_ticket(new_page, live_asgi, email_channel):
    sam = _agent("sam", "Sam")
    maya = _agent("maya", "Maya", role="manager")
    number = _mail(live_asgi, email_channel, message_id="root@example.com", subject="Parcel never arrived",
                   body="Order 4411 is two weeks late.")

    inbox = new_page(sam)
    inbox_errors = _watch_errors(inbox)
    # Sam reads the ticket, then goes back to the inbox: the row is read.
    inbox.goto(f"/tickets/{number}/")
    inbox.goto("/")
    row = inbox.locator("table.inbox tbody tr", has_text="Parcel never arrived")
    expect(row).not_to_have_class(re.compile(r"\bunread\b"))
    _live(inbox)

    ticket = new_page(maya)
    ticket_errors = _watch_errors(ticket)
    ticket.goto(f"/tickets/{number}/")
    _live(ticket)
    ticket.fill("textarea[name=text]", "We have asked the courier and")

    # The customer writes again, and somebody else opens a new ticket.
    _mail(live_asgi, email_channel, subject="Re: Parcel never arrived", in_reply_to="root@example.com",
          body="Any news? I need it by Friday.")
    _mail(live_asgi, email_channel, sender="Bob Stone <bob@example.com>", subject="Printer on fire",
          body="Smoke everywhere.")

    # Sam's open inbox: the new ticket appears, and the answered one turns unread.
    expect(inbox.locator("table.inbox tbody tr", has_text="Printer on fire")).to_be_visible()
    expect(row).to_have_class(re.compile(r"\bunread\b"))
    expect(inbox.locator("#inbox-views a", has_text="All open")).to_contain_text("2")  # the counts follow
    screenshot(inbox, "inbox")

    # Maya's open ticket: the message shows in the timeline; she was writing, so she is warned.
    expect(ticket.locator("#timeline article", has_text="Any news? I need it by Friday.")).to_be_visible()
    notice = ticket.locator("#collision-notice")
    expect(notice).to_contain_text("A new message arrived while you were writing")
    assert ticket.input_value("textarea[name=text]") == "We have asked the courier and"  # her draft is intact
    screenshot(ticket, "collision")

    # Sending asks once more; "Send anyway" sends.
    ticket.fill("textarea[name=text]", "We have asked the courier and will write back today.")
    ticket.click("form.reply button[type=submit]")
    send_anyway = notice.get_by_role("button", name="Send anyway")
    expect(send_anyway).to_be_focused()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    send_anyway.click()
    expect(ticket.locator("#timeline article.outbound")).to_contain_text("will write back today")
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).author_user == maya

    assert inbox_errors == [] and ticket_errors == []


def test_agents_on_the_same_ticket_see_each_other_viewing_and_replying(new_page, live_asgi, email_channel):
    sam = _agent("sam", "Sam")
    maya = _agent("maya", "Maya", role="manager")
    number = _mail(live_asgi, email_channel, subject="Invoice has the wrong VAT number")

    sam_page = new_page(sam)
    sam_page.goto(f"/tickets/{number}/")
    expect(sam_page.locator("#presence")).not_to_contain_text("is viewing")  # alone

    maya_page = new_page(maya)
    maya_page.goto(f"/tickets/{number}/")
    expect(maya_page.locator("#presence")).to_contain_text("Sam is viewing")
    expect(sam_page.locator("#presence")).to_contain_text("Maya is viewing")

    sam_page.fill("textarea[name=text]", "Hello Ada, the corrected invoice")
    expect(maya_page.locator("#presence")).to_contain_text("Sam is replying")
    screenshot(maya_page, "presence")

    sam_page.fill("textarea[name=text]", "")
    expect(maya_page.locator("#presence")).to_contain_text("Sam is viewing")
    sam_page.close()
    expect(maya_page.locator("#presence")).not_to_contain_text("Sam")


def test_keyboard_shortcuts_and_their_help(new_page, live_asgi, email_channel):
    sam = _agent("sam", "Sam")
    for subject in ("Oldest question", "Middle question", "Newest question"):
        _mail(live_asgi, email_channel, subject=subject, sender=f"{subject.split()[0]} <{subject.split()[0].lower()}@example.com>")

    page = new_page(sam)
    errors = _watch_errors(page)
    page.goto("/")

    # '?' opens the help as a modal dialog; Esc closes it and gives the focus back.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next / previous ticket in the inbox")
    assert page.evaluate("document.getElementById('shortcuts').contains(document.activeElement)")
    screenshot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # j / k walk the rows (newest first), the focus ring shows where; o opens.
    rows = page.locator("table.inbox tbody tr")
    page.keyboard.press("j")
    expect(rows.nth(0).locator("a").first).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.nth(1).locator("a").first).to_be_focused()
    expect(rows.nth(1)).to_contain_text("Middle question")

    # Shortcuts stay off while typing: '/' focuses search, and j is a letter there.
    page.keyboard.press("/")
    search = page.locator("input[type=search]")
    expect(search).to_be_focused()
    page.keyboard.type("jk")
    assert search.input_value() == "jk"
    page.keyboard.press("Escape")  # leaves the box

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    expect(page.locator("h1")).to_contain_text("Middle question")

    # r: the reply box, as a public reply; n: the same box as an internal note.
    page.keyboard.press("n")
    expect(page.locator("textarea[name=text]")).to_be_focused()
    assert page.locator("form.reply input[name=is_note]").is_checked()
    page.keyboard.press("Escape")  # out of the box: shortcuts work again
    page.keyboard.press("r")
    expect(page.locator("textarea[name=text]")).to_be_focused()
    assert not page.locator("form.reply input[name=is_note]").is_checked()
    page.keyboard.press("Escape")

    # a assigns the ticket to me, s solves it; g then i goes back to the inbox.
    page.keyboard.press("a")
    expect(page.locator("#ticket-meta")).to_contain_text("Sam")
    page.keyboard.press("s")
    expect(page.locator("#ticket-meta")).to_contain_text("Solved")
    page.keyboard.press("g")
    page.keyboard.press("i")
    page.wait_for_url(re.compile(r"/$"))
    assert errors == []
