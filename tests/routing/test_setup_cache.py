"""Routing keeps its rules and setup compiled per process: changes still take effect when
they should, and a message costs no extra queries when nothing is configured."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import RuleFactory
from tickets.models import Ticket
from tickets.routing import engine
from tickets.routing.models import Rule

pytestmark = pytest.mark.django_db


def receive(channel, **email) -> Ticket:
    inbound = inbound_services.inbound_store(channel=channel, raw=build_email(**email), enqueue=False)
    result = inbound_services.inbound_process(inbound_id=inbound.pk)
    assert result.status == "processed", result
    return Ticket.objects.get(pk=result.ticket_ids[0])


def test_a_rule_saved_in_this_process_applies_to_the_very_next_message(email_channel):
    receive(email_channel, message_id="before@example.com", subject="First")  # the set is compiled (empty)
    RuleFactory(actions=[{"type": "add_tags", "tags": ["fresh"]}])
    ticket = receive(email_channel, message_id="after@example.com", subject="Second")
    assert list(ticket.tags.values_list("name", flat=True)) == ["fresh"]


def test_a_rule_whose_transaction_rolled_back_is_forgotten(email_channel):
    with pytest.raises(RuntimeError), transaction.atomic():
        RuleFactory(actions=[{"type": "add_tags", "tags": ["ghost"]}])
        assert [r.name for r in engine.active_rules()]  # compiled while uncommitted
        raise RuntimeError("the admin's save failed later on")
    assert engine.active_rules() == ()
    ticket = receive(email_channel, message_id="m@example.com")
    assert not ticket.tags.exists()


def test_a_change_that_bypasses_save_is_seen_after_the_recheck_interval(email_channel, settings):
    assert engine.active_rules() == ()
    settings.ROUTING_CONFIG_RECHECK_SECONDS = 3600
    # As another process's change looks from here: no signal reaches this process.
    Rule.objects.bulk_create([Rule(name="bulk", actions=[{"type": "add_tags", "tags": ["bulk"]}])])
    try:
        assert engine.active_rules() == ()  # within the interval, the compiled set is used
        settings.ROUTING_CONFIG_RECHECK_SECONDS = 0
        assert [r.name for r in engine.active_rules()] == ["bulk"]
    finally:
        # The test's rollback of the bulk insert sends no signal either: the next test
        # must not find the rule compiled.
        engine.config_changed()


def test_routing_reads_the_ticket_only_when_rules_or_policies_could_change_it(email_channel):
    _queries_of(email_channel, "warm@example.com")  # setup compiled, models loaded
    with_nothing = _queries_of(email_channel, "a@example.com")
    RuleFactory(conditions=[{"field": "subject", "op": "contains", "value": "never-matches"}])
    _queries_of(email_channel, "b@example.com")  # the set is compiled again
    with_a_rule = _queries_of(email_channel, "c@example.com")
    # The rule pass reads the ticket under its lock; with nothing configured, nothing does,
    # and the compiled set costs no query per message.
    assert with_a_rule == with_nothing + 1


def _queries_of(channel, message_id: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        # A new customer each time: both messages take the same path (a new ticket).
        receive(channel, message_id=message_id, sender=f"customer-{message_id}", subject="Hello there, my order has not arrived")
    return len(captured.captured_queries)
