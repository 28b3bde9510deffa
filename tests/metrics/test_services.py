"""The incremental path (event -> on commit -> task -> row) against a full recompute.

Transactional tests: the refresh is queued when a transaction really commits, so these
tests commit for real instead of running inside one never-committed test transaction.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from metrics.models import TicketMetrics
from tests.conftest import full_mode_only
from tests.factories import AgentFactory, TicketFactory
from metrics.services import ticket_metrics_refresh
from metrics.tasks import refresh_ticket_metrics
from tickets import services
from tickets.events import Actor
from tickets.models import CompanyProfile, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = [f.name for f in TicketMetrics._meta.fields if f.name not in ("computed_at",)]


def snapshot() -> dict[int, dict]:
    return {row.ticket_id: model_to_dict(row, fields=COMPARED) for row in TicketMetrics.objects.order_by("ticket_id")}


def _customer_writes(ticket: Ticket, message_id: str, text: str = "Any news?"):
    return services.message_receive(
        ticket=ticket, channel=ticket.channel, customer=ticket.customer, external_id=message_id, text=text
    )


def test_each_event_refreshes_the_row_once_its_transaction_commits(email_ticket, agent_user):
    from metrics.surveys.models import SurveySettings

    # The CSAT survey a solve sends is a message of its own (another transaction, another refresh).
    SurveySettings.objects.update_or_create(pk=1, defaults={"csat_enabled": False})
    TicketMetrics.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        services.message_reply(ticket=email_ticket, author=agent_user, text="Refund on its way.", status=Ticket.Status.SOLVED)
    # One reply writes two events (status changed, message added) and refreshes the row once.
    inserts = [q for q in queries.captured_queries if 'INSERT INTO "metrics_ticketmetrics"' in q["sql"]]
    updates = [q for q in queries.captured_queries if 'UPDATE "metrics_ticketmetrics"' in q["sql"]]
    assert len(inserts) == 1 and len(updates) == 1  # the UPDATE found no row, then one INSERT
    row = TicketMetrics.objects.get(ticket=email_ticket)
    assert row.is_solved and row.agent_replies == 1 and row.customer_messages == 1
    assert row.first_contact_resolved is True
    assert row.channel_kind == "email" and row.customer_tier == email_ticket.customer.tier
    assert row.first_response_seconds is not None and row.first_response_seconds >= 0


def test_a_rolled_back_transaction_queues_nothing(email_ticket, agent_user):
    TicketMetrics.objects.all().delete()
    try:
        with transaction.atomic():
            services.ticket_change_status(ticket=email_ticket, status=Ticket.Status.PENDING, actor=Actor.agent(agent_user))
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    assert not TicketMetrics.objects.exists()
    services.ticket_set_priority(ticket=email_ticket, priority=Ticket.Priority.HIGH, actor=Actor.agent(agent_user))
    row = TicketMetrics.objects.get(ticket=email_ticket)
    assert row.priority == "high" and row.status == "new" and row.pending_seconds == 0


def test_late_event_on_an_old_ticket_updates_its_row(email_ticket, agent_user):
    services.message_reply(ticket=email_ticket, author=agent_user, text="Done.", status=Ticket.Status.SOLVED)
    assert TicketMetrics.objects.get(ticket=email_ticket).is_solved
    Ticket.objects.filter(pk=email_ticket.pk).update(created_at=email_ticket.created_at - dt.timedelta(days=40))
    _customer_writes(email_ticket, "late@example.com", "It came back, the refund bounced.")
    row = TicketMetrics.objects.get(ticket=email_ticket)
    assert row.reopens == 1 and not row.is_solved and row.solved_at is None
    assert row.first_contact_resolved is False and row.first_solved_at is not None
    assert row.full_resolution_seconds is None and row.first_resolution_seconds is not None


def test_incremental_equals_full_recompute(email_ticket, agent_user):
    CompanyProfile.objects.update_or_create(pk=1, defaults={"time_zone": "Pacific/Auckland"})
    actor = Actor.agent(agent_user)
    services.message_reply(ticket=email_ticket, author=agent_user, text="Which order?", status=Ticket.Status.PENDING)
    _customer_writes(email_ticket, "m2@example.com", "Order 42.")
    services.ticket_assign(ticket=email_ticket, assignee=agent_user, actor=actor)
    services.message_reply(ticket=email_ticket, author=agent_user, text="Refunded.", status=Ticket.Status.SOLVED)
    _customer_writes(email_ticket, "m3@example.com", "Not received.")
    services.ticket_change_status(ticket=email_ticket, status=Ticket.Status.SOLVED, actor=actor)
    incremental = snapshot()
    row = incremental[email_ticket.pk]
    assert (row["agent_replies"], row["customer_messages"], row["reopens"], row["next_response_count"]) == (2, 3, 1, 1)
    assert row["assignee_id"] == agent_user.pk and row["is_solved"] is True

    TicketMetrics.objects.all().delete()
    call_command("recompute_metrics")
    assert snapshot() == incremental

    # --since only picks tickets with events from that local date on; the rows are the same.
    TicketMetrics.objects.all().delete()
    call_command("recompute_metrics", "--since", "2000-01-01")
    assert snapshot() == incremental
    TicketMetrics.objects.all().delete()
    call_command("recompute_metrics", "--since", "2999-01-01")
    assert snapshot() == {}


def test_the_task_is_idempotent(email_ticket, agent_user):
    services.message_reply(ticket=email_ticket, author=agent_user, text="Hello", status=Ticket.Status.SOLVED)
    assert refresh_ticket_metrics.delay(email_ticket.pk).get() is True
    first = snapshot()
    assert refresh_ticket_metrics.delay(email_ticket.pk).get() is True
    assert snapshot() == first and TicketMetrics.objects.count() == 1


def test_a_ticket_that_no_longer_exists_is_skipped(db):
    assert ticket_metrics_refresh(ticket_id=987654) is None
    assert refresh_ticket_metrics.delay(987654).get() is False


def test_recompute_rejects_a_bad_date(db):
    import pytest
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a date"):
        call_command("recompute_metrics", "--since", "yesterday")


@pytest.mark.django_db(transaction=True)
def test_a_failing_refresh_never_fails_the_committed_change(monkeypatch, caplog):
    """Measurements are derived: a broken refresh is logged, the reply stays committed."""
    from metrics import tasks

    def broken(ticket_id):
        raise RuntimeError("metrics bug")

    monkeypatch.setattr(tasks.refresh_ticket_metrics, "delay", broken)
    ticket = TicketFactory()
    services.message_add_note(ticket=ticket, author=AgentFactory().user, text="still saved")
    assert ticket.messages.filter(text="still saved").exists()
    assert "metrics refresh not queued" in caplog.text


@full_mode_only
def test_a_recompute_split_over_processes_gives_the_same_rows(email_ticket, agent_user):
    from metrics.services import metrics_recompute

    services.message_reply(ticket=email_ticket, author=agent_user, text="Which order?", status=Ticket.Status.PENDING)
    other = TicketFactory(channel=email_ticket.channel)
    services.message_add_note(ticket=other, author=agent_user, text="looking")
    incremental = snapshot()
    assert len(incremental) == 2
    TicketMetrics.objects.all().delete()
    assert metrics_recompute(workers=2, batch_size=1) == 2
    assert snapshot() == incremental
    with pytest.raises(CommandError, match="at least 1"):
        call_command("recompute_metrics", "--workers", "0")
