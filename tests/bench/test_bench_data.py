"""manage.py bench_data: set-based benchmark data that the app's own pages and services accept."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Max, Q
from django.utils.html import escape

from tests.conftest import FULL_MODE, full_mode_only

LOADED_TABLES = (
    "tickets_ticket",
    "tickets_message",
    "tickets_ticketevent",
    "tickets_ticket_tags",
    "tickets_customer",
    "tickets_customeridentity",
    "tickets_organization",
    "tickets_organizationdomain",
)


def _schema() -> set[tuple[str, str]]:
    """Every index and constraint of the loaded tables, by name and definition, and the
    statistics targets of index columns (the search indexes raise theirs)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(LOADED_TABLES)]
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])",
            [list(LOADED_TABLES)],
        )
        constraints = set(cursor.fetchall())
        cursor.execute(
            """SELECT a.attrelid::regclass::text, a.attnum::text || ':' || a.attstattarget FROM pg_attribute a
               JOIN pg_index i ON i.indexrelid = a.attrelid
               WHERE i.indrelid = ANY(%s::regclass[]) AND a.attstattarget > 0""",
            [list(LOADED_TABLES)],
        )
        return indexes | constraints | set(cursor.fetchall())


@pytest.mark.skipif(FULL_MODE, reason="checks the refusal on SQLite (embedded mode)")
@pytest.mark.django_db
def test_refuses_sqlite_with_a_clear_message():
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("bench_data", tickets=10, messages=50)


@full_mode_only
@pytest.mark.django_db
def test_refuses_fewer_messages_than_tickets():
    from tickets.models import Ticket

    with pytest.raises(CommandError, match="at least --tickets"):
        call_command("bench_data", tickets=10, messages=5)
    assert Ticket.objects.count() == 0


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_generated_rows_keep_the_services_invariants_and_render(client):
    from django.contrib.auth import get_user_model

    from tickets import services
    from tickets.demo.bulk import COMMON_WORD, LONG_THREAD, RARE_WORD
    from tickets.events import SYSTEM
    from tickets.models import Customer, CustomerIdentity, Message, Ticket, TicketEvent

    call_command("bench_data", tickets=10, messages=20)  # the cast exists, so the schema below is the app's
    before = _schema()
    call_command("bench_data", tickets=300, messages=1500, customers=80, fresh=True)

    assert Ticket.objects.count() == 300
    assert Message.objects.count() == 1500
    assert Customer.objects.count() == 80
    # Indexes and constraints were dropped for the load and are all back, identical.
    assert _schema() == before

    tickets = Ticket.objects.all()
    assert not tickets.exclude(number=F("id")).exists()
    assert not tickets.exclude(organization_id=F("customer__organization_id")).filter(customer__organization__isnull=False).exists()
    assert not tickets.filter(customer__organization__isnull=True, organization__isnull=False).exists()
    assert not tickets.filter(updated_at__lt=F("created_at")).exists()
    last = {t["pk"]: t["last"] for t in tickets.annotate(last=Max("messages__created_at")).values("pk", "last")}
    for ticket in tickets:
        assert ticket.updated_at == (ticket.closed_at or last[ticket.pk]), ticket.number
    # "new" means nobody answered or took it yet.
    new = tickets.filter(status=Ticket.Status.NEW)
    assert not new.filter(Q(assignee__isnull=False) | Q(first_response_at__isnull=False)).exists()
    assert not Message.objects.filter(ticket__status=Ticket.Status.NEW).exclude(direction=Message.Direction.INBOUND).exists()
    assert not tickets.filter(status=Ticket.Status.CLOSED).filter(Q(closed_at__isnull=True) | Q(solved_at__isnull=True)).exists()
    # Variety the inbox filters and views need.
    assert tickets.values("status").distinct().count() >= 4
    assert tickets.values("priority").distinct().count() == 4
    assert tickets.values("channel__kind").distinct().count() >= 3
    assert tickets.filter(team__is_private=True).exists() and tickets.filter(team__is_private=False).exists()
    assert tickets.filter(assignee__isnull=False).exists() and tickets.filter(sla_first_response_due_at__isnull=False).exists()
    assert tickets.filter(tags__isnull=False).exists() and tickets.filter(sentiment__isnull=False).exists()
    # Every customer is reachable by email; second identities on other kinds; all unique.
    assert CustomerIdentity.objects.filter(kind="email").count() == 80
    assert CustomerIdentity.objects.exclude(kind="email").exists()
    assert not CustomerIdentity.objects.values("kind", "address").annotate(n=Count("id")).filter(n__gt=1).exists()
    # The events the services write.
    assert TicketEvent.objects.filter(kind="created").count() == 300
    assert TicketEvent.objects.filter(kind="message_added").count() == 1500
    assert not TicketEvent.objects.filter(kind="message_added").exclude(message__ticket=F("ticket")).exists()
    # Words for the search benchmark.
    assert Message.objects.filter(text__icontains=COMMON_WORD).count() >= 300
    assert Message.objects.filter(text__icontains=RARE_WORD).exists()
    assert Ticket.objects.filter(subject__icontains=RARE_WORD).exists()
    long_thread = tickets.annotate(n=Count("messages")).filter(n=LONG_THREAD).first()
    assert long_thread is not None

    # Sequences moved on: the app keeps inserting.
    top = Ticket.objects.aggregate(m=Max("id"))["m"]
    opened = services.ticket_open(
        channel=long_thread.channel, customer=long_thread.customer, subject="After the load", actor=SYSTEM
    )
    assert opened.pk > top and opened.number == opened.pk
    Customer.objects.create(name="New after the load")

    # The real pages render the generated tickets.
    sam = get_user_model().objects.get(username="sam")
    client.force_login(sam)
    inbox = client.get("/?view=open")
    assert inbox.status_code == 200
    shown = Ticket.objects.filter(status__in=Ticket.UNSOLVED_STATUSES, team__is_private=False).order_by("-updated_at").first()
    assert f"/tickets/{shown.number}/" in inbox.content.decode()
    # The private team's tickets stay private: sam is not in billing, a manager sees them.
    private = tickets.filter(team__is_private=True).first()
    assert client.get(f"/tickets/{private.number}/").status_code == 404
    client.force_login(get_user_model().objects.get(username="maya"))
    assert client.get(f"/tickets/{private.number}/").status_code == 200
    page = client.get(f"/tickets/{long_thread.number}/")
    assert page.status_code == 200
    html = page.content.decode()
    for message in long_thread.messages.all():
        line = max(message.text.splitlines(), key=len)
        assert escape(line[:40]) in html, line

    # A second run without --fresh adds to what is there.
    call_command("bench_data", tickets=50, messages=120, customers=10)
    assert Ticket.objects.count() == 351 and Message.objects.count() == 1620
    assert not Ticket.objects.exclude(number=F("id")).exists()
