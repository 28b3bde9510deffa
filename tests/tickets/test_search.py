"""Inbox search: subjects, message text, customers' names and addresses; ranking and the
indexes on PostgreSQL, the icontains fallback on SQLite."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from tests.conftest import full_mode_only
from tests.factories import (
    CustomerFactory,
    CustomerIdentityFactory,
    MessageFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.selectors.search import message_vector, subject_vector

pytestmark = pytest.mark.django_db


def _rows(response) -> list[str]:
    return re.findall(r"Row \w+", response.content.decode())


def test_search_finds_subject_message_text_customer_name_and_address(agent_client):
    TicketFactory(subject="Row subject Invoice missing")
    MessageFactory(
        ticket=TicketFactory(subject="Row message"),
        text="The invoices were never delivered",
    )
    ada = CustomerFactory(name="Ada Lovelace")
    TicketFactory(subject="Row byname", customer=ada)
    grace = CustomerFactory(name="G. Hopper")
    CustomerIdentityFactory(customer=grace, address="grace@navy.example")
    TicketFactory(subject="Row byaddress", customer=grace)
    TicketFactory(subject="Row unrelated")

    assert set(_rows(agent_client.get("/?q=invoice"))) == {"Row subject", "Row message"}
    assert _rows(agent_client.get("/?q=lovelace")) == ["Row byname"]
    assert _rows(agent_client.get("/?q=grace@navy.example")) == ["Row byaddress"]


def test_search_respects_private_teams_and_view_filters(agent_client):
    TicketFactory(subject="Row secret refund", team=TeamFactory(is_private=True))
    TicketFactory(subject="Row solved refund", status="solved")
    TicketFactory(subject="Row open refund", status="open")
    assert set(_rows(agent_client.get("/?q=refund"))) == {"Row solved", "Row open"}
    assert _rows(agent_client.get("/?q=refund&status=open")) == ["Row open"]


def test_every_word_must_match(agent_client):
    TicketFactory(subject="Row both printer jammed")
    TicketFactory(subject="Row one printer works")
    assert _rows(agent_client.get("/?q=printer jammed")) == ["Row both"]


def test_search_without_hits_and_with_odd_characters(agent_client):
    TicketFactory(subject="Row any")
    for q in ("zzzqqq", "'\"&|!():*<>", "%_", "   "):
        response = agent_client.get("/", {"q": q})
        assert response.status_code == 200
    assert _rows(agent_client.get("/", {"q": "   "})) == ["Row any"]


def test_search_pages_with_the_relevance_or_chosen_sort(agent_client):
    for i in range(7):
        TicketFactory(subject=f"Row r{i} battery")
    import tickets.selectors.inbox as inbox_selectors

    original, inbox_selectors.PAGE_SIZE = inbox_selectors.PAGE_SIZE, 3
    try:
        for sort in ("", "&sort=created"):
            seen, response = [], agent_client.get(f"/?q=battery{sort}")
            while True:
                seen += _rows(response)
                match = re.search(
                    r'href="\?([^"]*cursor=[^"]+)"', response.content.decode()
                )
                if not match:
                    break
                response = agent_client.get("/?" + match.group(1).replace("&amp;", "&"))
            assert sorted(seen) == sorted(f"Row r{i}" for i in range(7))
    finally:
        inbox_selectors.PAGE_SIZE = original


@full_mode_only
def test_postgres_ranks_subject_matches_and_stemmed_words_first(agent_client):
    assert connection.vendor == "postgresql"
    MessageFactory(
        ticket=TicketFactory(subject="Row weak"),
        text="Something about refunds, among many other words here",
    )
    TicketFactory(subject="Row strong refund refunded")
    MessageFactory(ticket=TicketFactory(subject="Row none"), text="nothing to see")
    rows = _rows(agent_client.get("/?q=refund"))
    assert rows == ["Row strong", "Row weak"]  # stemming: "refunds" matches "refund"
    assert "Relevance" in agent_client.get("/?q=refund").content.decode()


@full_mode_only
def test_postgres_search_uses_the_gin_indexes():
    from tickets.models import Message, Ticket

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    try:
        # order_by(): without it the models' default ordering lets the planner walk an
        # ordering index of the (empty) table instead, and the test proved nothing.
        plan = Message.objects.alias(v=message_vector()).filter(v="refund").order_by().explain()
        assert "message_text_search" in plan
        plan = Ticket.objects.alias(v=subject_vector()).filter(v="refund").order_by().explain()
        assert "ticket_subject_search" in plan
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = on")


@full_mode_only
def test_postgres_sort_indexes_match_the_selector_expressions():
    from tickets.models import Ticket
    from tickets.selectors.inbox import priority_rank, sla_due

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
    try:
        unsolved = Ticket.objects.filter(status__in=Ticket.UNSOLVED_STATUSES)
        plan = (
            unsolved.annotate(p=priority_rank())
            .order_by("-p", "-updated_at", "-id")[:50]
            .explain()
        )
        assert "ticket_unsolved_priority" in plan
        plan = unsolved.annotate(d=sla_due()).order_by("d", "id")[:50].explain()
        assert "ticket_unsolved_sla_due" in plan
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = on")
            cursor.execute("SET enable_sort = on")


def test_migration_expressions_are_the_selectors_expressions():
    """The indexes are only used if their expressions are exactly what the selectors emit."""
    import importlib

    from tickets.models import Ticket
    from tickets.selectors.inbox import priority_rank, sla_due

    migration = importlib.import_module("tickets.migrations.0004_search")

    def sql(expression) -> str:
        return str(Ticket.objects.annotate(x=expression).values("x").query)

    assert sql(migration._priority_rank()) == sql(priority_rank())
    assert sql(migration._sla_due()) == sql(sla_due())


def test_ticket_matching_several_ways_is_listed_once(agent_client):
    ada = CustomerFactory(name="Ada Gearbox")
    ticket = TicketFactory(subject="Row many gearbox broken", customer=ada)
    MessageFactory(ticket=ticket, text="The gearbox is broken again")
    MessageFactory(ticket=ticket, text="Still the gearbox")
    assert _rows(agent_client.get("/?q=gearbox")) == ["Row many"]
    assert _rows(agent_client.get("/?q=gearbox&sort=updated")) == ["Row many"]


@full_mode_only
def test_postgres_newest_sort_of_unsolved_views_uses_its_index():
    """Migration 0005: "Newest" on the unsolved views walks an index instead of sorting."""
    from tickets.models import Ticket

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
    try:
        plan = (
            Ticket.objects.filter(status__in=Ticket.UNSOLVED_STATUSES)
            .order_by("-created_at", "-id")[:50]
            .explain()
        )
        assert "ticket_unsolved_created" in plan
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = on")
            cursor.execute("SET enable_sort = on")


@full_mode_only
def test_postgres_search_reads_one_candidate_list_not_every_ticket():
    """The hits of messages, subjects and customers are ONE id list filtered on the
    primary key (``pk IN (a) OR pk IN (b)`` was a sequential scan of every ticket), and
    customers' tickets are read through ``customer_id = ANY(ARRAY(...))``."""
    from tickets.models import Ticket
    from tickets.selectors.search import ticket_search

    sql = str(ticket_search(Ticket.objects.all(), "refund").query)
    assert sql.count('"tickets_ticket"."id" IN (') == 1
    assert ") UNION (" in sql and "customer_id = ANY(ARRAY(" in sql


@full_mode_only
def test_postgres_ranked_search_reads_its_candidates_once(django_assert_num_queries):
    """Ranked, the candidates (with their message hits' ranks) are one query of their own,
    and the page's query takes them as one id list: the message hits are walked once."""
    from tickets.models import Ticket
    from tickets.selectors.search import ticket_search

    hit = MessageFactory(ticket=TicketFactory(subject="Row hit"), text="A refund please").ticket
    with django_assert_num_queries(1) as captured:
        qs = ticket_search(Ticket.objects.all(), "refund", rank=True)
    assert ") UNION ALL (" in captured.captured_queries[0]["sql"]
    sql = str(qs.query)
    assert sql.count('"tickets_ticket"."id" IN (SELECT unnest(') == 1
    assert "tickets_message" not in sql.split("search_rank")[0]  # no message subquery in the rank
    assert [t.pk for t in qs] == [hit.pk]
