"""Hostile input on every path an agent's browser renders — email bodies (text and HTML),
subjects, sender names, attachment names, internal notes, customer and organization
fields, tags and macros — checked in a real Chromium: nothing a customer or colleague
wrote ever runs as script in Parley's pages."""

from __future__ import annotations

import pytest

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import AgentFactory, UserFactory
from tickets import services
from tickets.events import Actor
from tickets.models import Customer, Macro, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

# Each vector reports itself through window.__xss(name) if it ever runs.
VECTORS = [
    "<script>window.__xss('script')</script>",
    "<img src=x onerror=\"window.__xss('img')\">",
    "<svg onload=\"window.__xss('svg')\"><circle r=1></circle></svg>",
    "\"><img src=x onerror=window.__xss('attribute-breakout')>",
    "'><script>window.__xss('quote-breakout')</script>",
    "<a href=\"javascript:window.__xss('js-link')\">click me</a>",
    "<iframe srcdoc=\"<script>parent.__xss('iframe')</script>\"></iframe>",
    "<details open ontoggle=\"window.__xss('details')\"><summary>x</summary></details>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss('mxss')\"></style></mglyph></table></mtext></math>",
    "<form><button formaction=\"javascript:window.__xss('formaction')\">go</button></form>",
    "</textarea><script>window.__xss('textarea-breakout')</script>",
    "<style>@import 'javascript:window.__xss(\"css\")';</style>",
]
ALL = " ".join(VECTORS)
WATCH = """
window.__hits = [];
window.__xss = (where) => window.__hits.push(where);
window.alert = window.confirm = window.prompt = () => window.__hits.push('dialog');
"""


def _visit(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # onerror/onload/ontoggle handlers would have fired by now
    hits = page.evaluate("window.__hits")
    assert hits == [], f"script ran on {path}: {hits}"
    # Nothing clickable may carry script either.
    assert page.locator("a[href^='javascript:' i], [formaction^='javascript:' i], iframe[srcdoc]").count() == 0, path


def test_no_hostile_input_ever_runs_in_the_agents_browser(new_page, live_asgi, email_channel):
    agent = AgentFactory(user=UserFactory(username="sam", is_staff=True), role="admin").user

    def hostile_world() -> Ticket:
        raw = build_email(
            sender="\"Mallory '><img src=x onerror=window.__xss('name')>\" <mallory@example.com>",
            subject=f"Refund {VECTORS[1]}",
            body=f"Plain text part: {ALL}",
            html=f"<p>HTML part</p>{ALL}",
            message_id="hostile@example.com",
            attachments=[(f"{VECTORS[3]}.html", "text/html", b"<script>window.__xss('file')</script>")],
        )
        inbound = inbound_services.inbound_store(channel=email_channel, raw=raw, enqueue=False)
        inbound_services.inbound_process(inbound_id=inbound.pk)
        ticket = Ticket.objects.get()
        actor = Actor.agent(agent)
        services.message_add_note(ticket=ticket, author=agent, text=f"Note: {ALL}")
        services.ticket_set_tags(ticket=ticket, names=[VECTORS[0][:60], "<b>bold</b>"], actor=actor)
        customer = Customer.objects.get()
        organization = customer.organization
        services.customer_update(
            customer=customer, actor=actor, name=VECTORS[4], organization=organization, tier=customer.tier,
            language="en", time_zone="UTC", notes=f"Notes {ALL}", custom_attributes={VECTORS[2]: VECTORS[1]},
        )
        Macro.objects.create(name=f"Macro {VECTORS[1]}", body=f"Hi {{{{ customer.first_name }}}} {ALL}")
        return ticket

    ticket = live_asgi.run_sync(hostile_world)
    page = new_page(agent)
    page.add_init_script(WATCH)

    _visit(page, "/")
    _visit(page, "/?q=Refund")
    _visit(page, f"/tickets/{ticket.number}/")
    # The text is shown as text: the agent can read exactly what was sent.
    assert "window.__xss('script')" in page.locator("main").inner_text()
    # Applying the hostile macro puts its text in the reply box, still inert.
    page.locator("#insert-macro").select_option(label=f"Macro {VECTORS[1]}")
    page.locator(".macro-picker button", has_text="Insert").click()
    page.wait_for_function("document.querySelector('#reply-box textarea').value.includes('window.__xss')")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__hits") == []
    _visit(page, f"/customers/{ticket.customer_id}/")
    _visit(page, "/customers/")
    _visit(page, "/macros/")
    _visit(page, "/manage/macros/")

    # Control: the same vectors, inserted as HTML, do run — so the checks above can fail.
    page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", VECTORS[1] + VECTORS[7])
    page.wait_for_timeout(300)
    assert set(page.evaluate("window.__hits")) >= {"img", "details"}
