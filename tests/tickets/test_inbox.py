"""The unified inbox: built-in views and counts, filters, sorts with keyset pages, unread
markers, saved views, permissions, bad input, query count."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from tests.factories import (
    AgentFactory,
    ChannelFactory,
    CustomerFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tickets import selectors, services
from tickets.models import SavedView, Ticket
from tickets.selectors.inbox import COUNT_CAP, inbox_view_counts

pytestmark = pytest.mark.django_db


def _subjects(response) -> list[str]:
    return re.findall(
        r'<a href="/tickets/\d+/">([^<]+)</a></td>\s*<td>', response.content.decode()
    )


def _rows(response) -> list[str]:
    return re.findall(r"Ticket subject \d+|Row \w+", response.content.decode())


def _next(response) -> str | None:
    match = re.search(r'href="\?([^"]*cursor=[^"]+)"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def test_unauthenticated_user_is_sent_to_sign_in(client):
    assert client.get("/")["Location"].startswith("/login/")
    assert client.post("/inbox/bulk/", {"ticket": ["1"], "action": "status"})[
        "Location"
    ].startswith("/login/")


def test_non_staff_user_gets_404(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=False))
    assert client.get("/").status_code == 404


def test_builtin_views_and_their_counts(agent_client, agent_user):
    now = timezone.now()
    other = AgentFactory().user
    TicketFactory(subject="Row mine", assignee=agent_user, status=Ticket.Status.OPEN)
    TicketFactory(subject="Row theirs", assignee=other, status=Ticket.Status.OPEN)
    TicketFactory(subject="Row unassigned", status=Ticket.Status.NEW)
    TicketFactory(subject="Row pending", status=Ticket.Status.PENDING, assignee=other)
    TicketFactory(subject="Row solved", status=Ticket.Status.SOLVED)
    TicketFactory(
        subject="Row breached",
        status=Ticket.Status.OPEN,
        assignee=other,
        sla_resolution_due_at=now - dt.timedelta(minutes=5),
    )
    TicketFactory(
        subject="Row soon",
        status=Ticket.Status.NEW,
        sla_first_response_due_at=now + dt.timedelta(minutes=30),
    )
    # Answered already: the first-response clock no longer counts.
    TicketFactory(
        subject="Row answered",
        status=Ticket.Status.OPEN,
        assignee=other,
        first_response_at=now,
        sla_first_response_due_at=now + dt.timedelta(minutes=30),
        sla_resolution_due_at=now + dt.timedelta(days=2),
    )
    # Solved tickets are never at risk.
    TicketFactory(
        subject="Row solvedlate",
        status=Ticket.Status.SOLVED,
        sla_resolution_due_at=now - dt.timedelta(hours=3),
    )

    expected = {
        "mine": {"Row mine"},
        "unassigned": {"Row unassigned", "Row soon"},
        "open": {
            "Row mine",
            "Row theirs",
            "Row unassigned",
            "Row pending",
            "Row breached",
            "Row soon",
            "Row answered",
        },
        "pending": {"Row pending"},
        "solved": {"Row solved", "Row solvedlate"},
        "sla": {"Row breached", "Row soon"},
    }
    page = agent_client.get("/").content.decode()
    for key, rows in expected.items():
        response = agent_client.get(f"/?view={key}")
        assert set(_rows(response)) == rows, key
        assert re.search(
            rf'\?view={key}"[^>]*>[^<]+<span class="count"[^>]*>{len(rows)}</span>',
            page,
        ), key


def test_counts_are_capped(agent_user, settings):
    for _ in range(6):
        TicketFactory(status=Ticket.Status.OPEN)
    counts = inbox_view_counts(user=agent_user, cap=5)
    assert counts["open"].is_capped and str(counts["open"]) == f"{COUNT_CAP:,}+"
    assert counts["mine"].value == 0 and str(counts["mine"]) == "0"


def test_list_shows_channel_customer_status_priority_assignee_team(
    agent_client, agent_user
):
    channel = ChannelFactory(kind="telegram", name="Bot")
    team = TeamFactory(name="Billing")
    TicketFactory(
        subject="Where is my parcel",
        channel=channel,
        customer=CustomerFactory(name="Ada Lovelace"),
        team=team,
        assignee=agent_user,
        priority=Ticket.Priority.URGENT,
        status=Ticket.Status.OPEN,
    )
    body = agent_client.get("/").content.decode()
    for text in (
        "Where is my parcel",
        "Telegram",
        "Ada Lovelace",
        "Billing",
        "Urgent",
        "Open",
        agent_user.get_full_name(),
    ):
        assert text in body


def test_private_team_tickets_hidden_from_outsiders_shown_to_managers(
    client, agent_client
):
    private = TeamFactory(name="Legal", is_private=True)
    TicketFactory(subject="Row secret", team=private)
    TicketFactory(subject="Row public")
    assert _rows(agent_client.get("/")) == ["Row public"]
    assert (
        '<span class="count" aria-label="1 tickets">1</span>'
        in agent_client.get("/").content.decode()
    )
    manager = AgentFactory(role="manager").user
    client.force_login(manager)
    assert set(_rows(client.get("/"))) == {"Row secret", "Row public"}
    member = AgentFactory()
    member.teams.add(private)
    client.force_login(member.user)
    assert set(_rows(client.get("/"))) == {"Row secret", "Row public"}


def test_filters_combine(agent_client, agent_user):
    email, chat = ChannelFactory(kind="email"), ChannelFactory(kind="chat")
    team = TeamFactory()
    org_customer = CustomerFactory(
        organization=__import__("tests.factories", fromlist=["x"]).OrganizationFactory()
    )
    vip = TicketFactory(
        subject="Row match",
        channel=chat,
        team=team,
        priority="high",
        status="open",
        assignee=agent_user,
        sentiment=-0.8,
        customer=org_customer,
        organization=org_customer.organization,
    )
    vip.tags.add(TagFactory(name="refund"))
    TicketFactory(
        subject="Row wrongchannel",
        channel=email,
        team=team,
        priority="high",
        status="open",
        assignee=agent_user,
        sentiment=-0.8,
    )
    TicketFactory(
        subject="Row happy",
        channel=chat,
        team=team,
        priority="high",
        status="open",
        assignee=agent_user,
        sentiment=0.9,
    )
    query = (
        f"status=open&priority=high&channel={chat.pk}&team={team.pk}&assignee=me&tag=refund"
        f"&sentiment=negative&customer={org_customer.pk}&organization={org_customer.organization_id}"
    )
    assert _rows(agent_client.get(f"/?{query}")) == ["Row match"]
    assert set(_rows(agent_client.get("/?sentiment=negative"))) == {
        "Row match",
        "Row wrongchannel",
    }
    assert _rows(agent_client.get("/?sentiment=positive")) == ["Row happy"]
    assert _rows(agent_client.get("/?assignee=none")) == []


def test_date_range_filters(agent_client):
    old = timezone.now() - dt.timedelta(days=10)
    TicketFactory(subject="Row old", created_at=old, updated_at=old)
    TicketFactory(subject="Row new")
    today = timezone.localdate()
    assert _rows(agent_client.get(f"/?created_from={today}")) == ["Row new"]
    assert _rows(agent_client.get(f"/?updated_to={today - dt.timedelta(days=5)}")) == [
        "Row old"
    ]


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=bogus", "Status"),
        ("priority=extreme", "Priority"),
        ("team=abc", "Team"),
        ("channel=999999", "Channel"),
        ("assignee=123456", "Assignee"),
        ("customer=-4", "Customer id"),
        ("created_from=yesterday", "Created from"),
        (
            "created_from=2026-02-10&created_to=2026-02-01",
            "Created to must not be before created from",
        ),
        ("sentiment=angry", "Sentiment"),
        ("sort=random", "Sort"),
        ("view=everything", "View"),
        ("q=" + "x" * 500, "Search"),
    ],
)
def test_bad_filters_get_a_clear_message_not_a_500(agent_client, query, message):
    TicketFactory(subject="Row visible")
    response = agent_client.get(f"/?{query}")
    assert response.status_code == 400
    body = response.content.decode()
    assert "These filters are not valid" in body and message in body
    assert "Row visible" not in body


def test_mangled_or_foreign_cursor_shows_the_first_page(agent_client):
    TicketFactory(subject="Row one")
    for cursor in ("not-a-cursor", "WyJjcmVhdGVkIiwxLDJd", "W10", "%00"):
        response = agent_client.get(f"/?cursor={cursor}")
        assert response.status_code == 200 and "Row one" in response.content.decode()


def _walk(client, query: str) -> list[str]:
    """Every page of a list, following the Older tickets links."""
    seen: list[str] = []
    response = client.get(f"/?{query}")
    for _ in range(20):
        seen += _rows(response)
        following = _next(response)
        if not following:
            return seen
        response = client.get(f"/?{following}")
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("sort", ["updated", "created", "priority", "sla"])
def test_every_sort_pages_stably_with_keyset_cursors(agent_client, sort, settings):
    import tickets.selectors.inbox as inbox_selectors

    settings.DEBUG = False
    base = timezone.now() - dt.timedelta(days=1)
    priorities = ["low", "normal", "high", "urgent"]
    expected = []
    for i in range(23):
        # Ties on purpose: the same timestamps and priorities for several rows.
        stamp = base + dt.timedelta(minutes=i // 3)
        due = None if i % 4 == 0 else base + dt.timedelta(hours=i % 5)
        expected.append(
            TicketFactory(
                subject=f"Row s{i:02d}",
                created_at=stamp,
                updated_at=stamp,
                priority=priorities[i % 4],
                status="open",
                sla_resolution_due_at=due,
            )
        )
    original = inbox_selectors.PAGE_SIZE
    inbox_selectors.PAGE_SIZE = 5
    try:
        walked = _walk(agent_client, f"sort={sort}")
    finally:
        inbox_selectors.PAGE_SIZE = original
    rank = {"urgent": 3, "high": 2, "normal": 1, "low": 0}
    keys = {
        "updated": lambda t: (-t.updated_at.timestamp(), -t.pk),
        "created": lambda t: (-t.created_at.timestamp(), -t.pk),
        "priority": lambda t: (-rank[t.priority], -t.updated_at.timestamp(), -t.pk),
        "sla": lambda t: (
            t.sla_resolution_due_at is None,
            t.sla_resolution_due_at.timestamp() if t.sla_resolution_due_at else 0,
            t.pk,
        ),
    }
    assert walked == [
        f"Row s{int(t.subject[5:]):02d}" for t in sorted(expected, key=keys[sort])
    ]


def test_first_page_cursor_keeps_its_filters(agent_client):
    for i in range(55):
        TicketFactory(subject=f"Row p{i}", priority="high")
    TicketFactory(subject="Row low", priority="low")
    first = agent_client.get("/?priority=high&sort=created")
    following = _next(first)
    assert "priority=high" in following and "sort=created" in following
    rows = _rows(first) + _rows(agent_client.get(f"/?{following}"))
    assert len(rows) == 55 and "Row low" not in rows


def test_htmx_filter_request_gets_the_list_fragment(agent_client):
    TicketFactory(subject="Row frag")
    response = agent_client.get(
        "/?status=new", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="inbox-list"
    )
    body = response.content.decode()
    assert 'id="inbox-list"' in body and "Row frag" in body and "<html" not in body


def test_queries_do_not_grow_with_page_size(
    agent_client, agent_user, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent_client.get("/").status_code == 200
        return len(ctx)

    for i in range(3):
        TicketFactory(subject=f"Row q{i}", last_customer_activity_at=timezone.now())
    few = count()
    team = TeamFactory()
    for i in range(60):
        t = TicketFactory(
            subject=f"Row m{i}",
            team=team,
            assignee=agent_user,
            last_customer_activity_at=timezone.now(),
        )
        t.tags.add(TagFactory(name=f"t{i % 3}"))
    many = count()
    assert few == many
    assert many <= 14


def test_unread_marker_until_the_agent_opens_the_ticket(agent_client, agent_user):
    ticket = TicketFactory(
        subject="Row unread", last_customer_activity_at=timezone.now()
    )
    TicketFactory(subject="Row quiet")  # no customer activity: nothing to read
    body = agent_client.get("/").content.decode()
    assert body.count('class="status-new unread"') == 1 and "Unread: " in body
    services.ticket_mark_read(ticket=ticket, user=agent_user)
    assert "Unread: " not in agent_client.get("/").content.decode()
    # The customer writes again: unread again.
    Ticket.objects.filter(pk=ticket.pk).update(
        last_customer_activity_at=timezone.now() + dt.timedelta(seconds=5)
    )
    assert "Unread: " in agent_client.get("/").content.decode()


def test_opening_the_ticket_page_marks_it_read(agent_client, agent_user):
    ticket = TicketFactory(
        last_customer_activity_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert selectors.ticket_unread_ids(user=agent_user, tickets=[ticket]) == {ticket.pk}
    agent_client.get(f"/tickets/{ticket.number}/")
    assert selectors.ticket_unread_ids(user=agent_user, tickets=[ticket]) == frozenset()


def test_mark_read_twice_updates_one_row(agent_user):
    from tickets.models import TicketReadState

    ticket = TicketFactory()
    services.ticket_mark_read(ticket=ticket, user=agent_user)
    first = TicketReadState.objects.get().last_read_at
    services.ticket_mark_read(ticket=ticket, user=agent_user)
    assert (
        TicketReadState.objects.count() == 1
        and TicketReadState.objects.get().last_read_at >= first
    )


def test_unread_flags_are_one_query(agent_user, django_assert_num_queries):
    tickets = [
        TicketFactory(last_customer_activity_at=timezone.now()) for _ in range(10)
    ]
    services.ticket_mark_read(ticket=tickets[0], user=agent_user)
    with django_assert_num_queries(1):
        unread = selectors.ticket_unread_ids(user=agent_user, tickets=tickets)
    assert unread == {t.pk for t in tickets[1:]}


# --- Saved views -------------------------------------------------------------------


def test_save_current_filters_as_a_view_and_open_it(agent_client, agent_user):
    TicketFactory(subject="Row urgent", priority="urgent")
    TicketFactory(subject="Row calm", priority="low")
    response = agent_client.post(
        "/inbox/views/", {"name": "Fires", "query": "priority=urgent&sort=created"}
    )
    view = SavedView.objects.get(owner=agent_user)
    assert response["Location"] == f"/?saved={view.pk}"
    assert view.filters == {"priority": ["urgent"]} and view.sort == "created"
    page = agent_client.get(f"/?saved={view.pk}")
    assert _rows(page) == ["Row urgent"] and "Fires" in page.content.decode()


def test_saved_view_with_a_bad_filter_is_refused(agent_client, agent_user):
    response = agent_client.post(
        "/inbox/views/", {"name": "Odd", "query": "status=bogus"}, follow=True
    )
    assert "cannot be saved" in response.content.decode()
    assert not SavedView.objects.exists()


def test_saved_view_name_must_be_unique_per_agent(agent_client, agent_user):
    agent_client.post("/inbox/views/", {"name": "Mine", "query": ""})
    response = agent_client.post(
        "/inbox/views/", {"name": "mine", "query": "status=open"}, follow=True
    )
    assert "already have a view named" in response.content.decode()
    assert SavedView.objects.count() == 1
    # Another agent may use the same name.
    other = AgentFactory().user
    services.saved_view_create(owner=other, name="Mine", filters={})
    assert SavedView.objects.count() == 2


def test_saved_view_without_a_name_is_refused(agent_client):
    response = agent_client.post(
        "/inbox/views/", {"name": "", "query": ""}, follow=True
    )
    assert (
        "Give the view a name" in response.content.decode()
        and not SavedView.objects.exists()
    )


def test_rename_delete_and_reorder_saved_views(agent_client, agent_user):
    a = services.saved_view_create(owner=agent_user, name="A", filters={})
    b = services.saved_view_create(owner=agent_user, name="B", filters={})
    c = services.saved_view_create(owner=agent_user, name="C", filters={})
    agent_client.post(f"/inbox/views/{c.pk}/move/", {"direction": "up"})
    assert [v.name for v in selectors.saved_views_for(user=agent_user)] == [
        "A",
        "C",
        "B",
    ]
    agent_client.post(f"/inbox/views/{a.pk}/move/", {"direction": "down"})
    assert [v.name for v in selectors.saved_views_for(user=agent_user)] == [
        "C",
        "A",
        "B",
    ]
    agent_client.post(f"/inbox/views/{b.pk}/rename/", {"name": "Bee"})
    assert SavedView.objects.get(pk=b.pk).name == "Bee"
    response = agent_client.post(
        f"/inbox/views/{a.pk}/rename/", {"name": "Bee"}, follow=True
    )
    assert "already have a view named" in response.content.decode()
    agent_client.post(f"/inbox/views/{c.pk}/delete/")
    assert [v.name for v in selectors.saved_views_for(user=agent_user)] == ["A", "Bee"]


def test_another_agents_saved_view_is_404(agent_client):
    other = services.saved_view_create(
        owner=AgentFactory().user, name="Theirs", filters={}
    )
    assert agent_client.get(f"/?saved={other.pk}").status_code == 404
    assert agent_client.get("/?saved=abc").status_code == 404
    for action, data in (
        ("rename", {"name": "x"}),
        ("delete", {}),
        ("move", {"direction": "up"}),
    ):
        assert (
            agent_client.post(f"/inbox/views/{other.pk}/{action}/", data).status_code
            == 404
        )
    assert SavedView.objects.get(pk=other.pk).name == "Theirs"


def test_saved_view_actions_must_be_posted(agent_client, agent_user):
    view = services.saved_view_create(owner=agent_user, name="A", filters={})
    assert agent_client.get(f"/inbox/views/{view.pk}/delete/").status_code == 405


def test_saved_view_filters_validated_again_when_loaded(agent_client, agent_user):
    view = SavedView.objects.create(
        owner=agent_user, name="Stale", filters={"team": [987654]}
    )
    response = agent_client.get(f"/?saved={view.pk}")
    assert (
        response.status_code == 400
        and "These filters are not valid" in response.content.decode()
    )


def test_htmx_filter_on_the_page_target_refreshes_counts_and_the_save_form(agent_client):
    TicketFactory(subject="Row page", priority="urgent")
    response = agent_client.get("/?priority=urgent", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="inbox-page")
    body = response.content.decode()
    assert 'id="inbox-page"' in body and "<html" not in body and "Row page" in body
    assert 'name="query" value="priority=urgent"' in body and 'class="count"' in body


def test_search_inside_a_saved_view(agent_client, agent_user):
    view = services.saved_view_create(owner=agent_user, name="Urgent", filters={"priority": ["urgent"]})
    TicketFactory(subject="Row printer", priority="urgent")
    TicketFactory(subject="Row other", priority="urgent")
    TicketFactory(subject="Row printerlow", priority="low")
    assert _rows(agent_client.get(f"/?saved={view.pk}&q=printer")) == ["Row printer"]


def test_tag_filter_matches_any_tag_once_per_ticket(agent_client):
    both = TicketFactory(subject="Row both")
    both.tags.add(TagFactory(name="login"), TagFactory(name="billing"))
    one = TicketFactory(subject="Row one")
    one.tags.add(TagFactory(name="vip"))
    TicketFactory(subject="Row none").tags.add(TagFactory(name="other"))
    # Both tags of "Row both" match: it is still one row.
    assert sorted(_rows(agent_client.get("/?tag=login,billing,vip"))) == [
        "Row both",
        "Row one",
    ]
    assert _rows(agent_client.get("/?tag=nosuchtag")) == []


def test_rows_show_precomputed_labels_links_and_local_times(agent_client, settings):
    settings.TIME_ZONE = "Europe/Paris"
    ticket = TicketFactory(subject="", status="on_hold", priority="urgent", team=None)
    Ticket.objects.filter(pk=ticket.pk).update(
        updated_at=dt.datetime(2026, 1, 15, 8, 30, tzinfo=dt.UTC)
    )
    body = agent_client.get("/?view=all").content.decode()
    assert f'href="/tickets/{ticket.number}/">(no subject)</a>' in body
    assert "<td>On hold</td>" in body and ">Urgent</td>" in body
    # 08:30 UTC shown in the configured zone (Paris, UTC+1 in January).
    assert '<time datetime="2026-01-15T08:30:00+00:00">2026-01-15 09:30</time>' in body


def test_rows_flag_tickets_at_risk_or_past_their_sla(agent_client):
    now = timezone.now()
    breached = TicketFactory(subject="Row breached", status="open", sla_first_response_due_at=now - dt.timedelta(minutes=5))
    at_risk = TicketFactory(subject="Row atrisk", status="open", sla_resolution_due_at=now + dt.timedelta(minutes=20))
    answered = TicketFactory(
        subject="Row answered", status="open", first_response_at=now, sla_first_response_due_at=now - dt.timedelta(hours=1)
    )
    later = TicketFactory(subject="Row later", status="open", sla_resolution_due_at=now + dt.timedelta(hours=5))
    solved = TicketFactory(subject="Row solved", status="solved", sla_resolution_due_at=now - dt.timedelta(hours=1))
    body = agent_client.get("/?view=all").content.decode()

    def row(ticket) -> str:
        start = body.index(f'href="/tickets/{ticket.number}/"')
        return body[start : body.index("</tr>", start)]

    assert "SLA breached" in row(breached)
    assert "SLA at risk" in row(at_risk) and "SLA breached" not in row(at_risk)
    for quiet in (answered, later, solved):  # answered: the first-response clock no longer runs
        assert "SLA " not in row(quiet)
