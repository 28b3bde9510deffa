"""The customer panel beside a ticket: the CRM record and the history across channels,
private teams respected, a fixed number of queries however long the history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    AgentFactory,
    ChannelFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    MessageFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFactory,
)
from tickets import selectors
from tickets.selectors.customers import PANEL_HISTORY_LIMIT

pytestmark = pytest.mark.django_db


def ticket_at(customer, days_ago: int, **kwargs):
    at = timezone.now() - dt.timedelta(days=days_ago)
    return TicketFactory(customer=customer, created_at=at, updated_at=at, **kwargs)


@pytest.fixture
def ada():
    customer = CustomerFactory(
        name="Ada Lovelace", tier="vip", organization=OrganizationFactory(name="Analytical Engines"),
        notes="Call before noon.", custom_attributes={"plan": "enterprise", "seats": 40, "beta": True},
    )
    CustomerIdentityFactory(customer=customer, kind="email", address="ada@engines.test", is_verified=True)
    CustomerIdentityFactory(customer=customer, kind="telegram", address="4242", display_name="ada_l")
    return customer


def test_panel_lists_earlier_tickets_across_channels_newest_first(agent_user, ada):
    email, telegram = ChannelFactory(kind="email"), ChannelFactory(kind="telegram")
    oldest = ticket_at(ada, 30, channel=email, subject="Invoice copy", status="closed")
    middle = ticket_at(ada, 10, channel=telegram, subject="App crashes", status="solved")
    current = ticket_at(ada, 0, channel=email, subject="Refund")
    TicketFactory(subject="Someone else's")

    panel = selectors.customer_panel(customer=ada, user=agent_user, exclude_ticket=current)

    assert [t.subject for t in panel.history] == ["App crashes", "Invoice copy"]
    assert [t.channel.kind for t in panel.history] == ["telegram", "email"]
    assert panel.history_total == 2 and not panel.has_more_history
    assert [(i.kind, i.address, i.is_verified) for i in panel.identities] == [
        ("email", "ada@engines.test", True), ("telegram", "4242", False),
    ]
    assert panel.attributes == [("beta", "true"), ("plan", "enterprise"), ("seats", "40")]
    assert {middle.pk, oldest.pk} == {t.pk for t in panel.history}


def test_merged_away_tickets_are_not_history(agent_user, ada):
    kept = ticket_at(ada, 2)
    ticket_at(ada, 3, merged_into=kept)
    assert selectors.customer_panel(customer=ada, user=agent_user).history_total == 1


def test_history_hides_private_team_tickets_from_outsiders(ada):
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    ticket_at(ada, 5, team=legal, subject="Lawsuit")
    ticket_at(ada, 4, subject="Password reset")
    current = ticket_at(ada, 0)
    outsider = AgentFactory(role="agent")
    member = AgentFactory(role="agent")
    member.teams.add(legal)

    outside = selectors.customer_panel(customer=ada, user=outsider.user, exclude_ticket=current)
    inside = selectors.customer_panel(customer=ada, user=member.user, exclude_ticket=current)
    manager = selectors.customer_panel(customer=ada, user=AgentFactory(role="manager").user, exclude_ticket=current)

    assert [t.subject for t in outside.history] == ["Password reset"] and outside.history_total == 1
    assert [t.subject for t in inside.history] == ["Password reset", "Lawsuit"] and inside.history_total == 2
    assert manager.history_total == 2


def test_long_history_is_cut_with_the_total_and_a_link(agent_client, agent_user, ada):
    tickets = [ticket_at(ada, d) for d in range(PANEL_HISTORY_LIMIT + 5, 0, -1)]
    current = ticket_at(ada, 0)
    panel = selectors.customer_panel(customer=ada, user=agent_user, exclude_ticket=current)
    assert len(panel.history) == PANEL_HISTORY_LIMIT
    assert panel.history_total == len(tickets) and panel.has_more_history
    assert panel.history[0].pk == tickets[-1].pk


def test_sentiment_trend_uses_ticket_scores_then_customer_messages(agent_user, ada):
    ticket_at(ada, 4, sentiment=-0.8, subject="Angry")
    by_messages = ticket_at(ada, 3, subject="Mixed")
    MessageFactory(ticket=by_messages, sentiment=0.2)
    MessageFactory(ticket=by_messages, sentiment=0.6)
    MessageFactory(ticket=by_messages, direction="outbound", author_kind="agent", sentiment=-1.0)  # ours: ignored
    ticket_at(ada, 2, subject="Unknown")  # no score at all: left out
    current = ticket_at(ada, 0, sentiment=0.9, subject="Happy")

    trend = selectors.customer_panel(customer=ada, user=agent_user, exclude_ticket=current).sentiment

    assert [(p.subject, round(p.score, 2), p.label) for p in trend.points] == [
        ("Angry", -0.8, "negative"), ("Mixed", 0.4, "positive"), ("Happy", 0.9, "positive"),
    ]
    assert trend.sparkline == "▂▆█"
    assert trend.direction == "improving"


def test_survey_responses_hook_is_empty_until_metrics_provides_them(agent_client, agent_user, ada):
    assert selectors.customer_survey_responses(customer=ada, user=agent_user) == []
    current = ticket_at(ada, 0)
    page = agent_client.get(f"/tickets/{current.number}/").content.decode()
    assert "Satisfaction given" not in page


def test_panel_queries_do_not_grow_with_the_history(agent_user, ada):
    def count_for(customer) -> int:
        current = ticket_at(customer, 0)
        agent_user.__dict__.pop("_parley_role", None)  # each count pays the role query (cached per request)
        with CaptureQueriesContext(connection) as ctx:
            selectors.customer_panel(customer=customer, user=agent_user, exclude_ticket=current)
        return len(ctx.captured_queries)

    for d in range(1, 3):
        ticket_at(ada, d, sentiment=0.1)
    short = count_for(ada)
    long_customer = CustomerFactory()
    for d in range(1, 60):
        ticket = ticket_at(long_customer, d)
        MessageFactory(ticket=ticket, sentiment=-0.2)
        CustomerIdentityFactory(customer=long_customer) if d % 10 == 0 else None
    assert count_for(long_customer) == short
    assert short <= 6  # identities, role, teams, the history page (with total and sentiment), survey answers


def test_ticket_page_shows_the_panel(agent_client, ada):
    earlier = ticket_at(ada, 3, subject="Earlier problem", status="solved", sentiment=-0.5)
    current = ticket_at(ada, 0, subject="Now")
    page = agent_client.get(f"/tickets/{current.number}/").content.decode()
    panel = page[page.index('class="customer-panel"'):]
    assert "Ada Lovelace" in panel and "VIP" in panel and "Analytical Engines" in panel
    assert "ada@engines.test" in panel and "Telegram" in panel and "verified" in panel
    assert "Call before noon." in panel and "enterprise" in panel
    assert f'href="/tickets/{earlier.number}/"' in panel and "Earlier problem" in panel and "Solved" in panel
    assert f'href="/customers/{ada.pk}/"' in panel
    assert "negative" in panel


def test_ticket_page_queries_do_not_grow_with_the_customers_history(agent_client, ada):
    def count_for(ticket) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent_client.get(f"/tickets/{ticket.number}/").status_code == 200
        return len(ctx.captured_queries)

    first = ticket_at(ada, 0)
    agent_client.get(f"/tickets/{first.number}/")  # warm per-process caches
    short = count_for(first)
    for d in range(1, 40):
        MessageFactory(ticket=ticket_at(ada, d, sentiment=0.3))
    assert count_for(first) == short


def test_hostile_customer_data_is_escaped_in_the_panel(agent_client):
    customer = CustomerFactory(
        name="<script>alert(1)</script>", notes="<img src=x onerror=alert(2)>",
        custom_attributes={"<b>k</b>": "<script>alert(3)</script>"},
    )
    CustomerIdentityFactory(customer=customer, kind="chat", address="<svg onload=alert(4)>")
    ticket = ticket_at(customer, 0, subject="<i>subject</i>")
    ticket_at(customer, 1, subject="<script>alert(5)</script>")
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    for raw in ("<script>alert(1)", "<img src=x", "<script>alert(3)", "<svg onload", "<b>k</b>", "<script>alert(5)"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
