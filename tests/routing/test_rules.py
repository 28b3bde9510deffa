"""The rules engine, driven through the real ingestion pipeline and the tickets services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import AgentFactory, OrganizationFactory, RuleFactory, TeamFactory, TicketFactory
from tickets import services as ticket_services
from tickets.events import Actor
from tickets.models import Message, Ticket, TicketEvent
from tickets.routing import services as routing
from tickets.routing.models import RuleFiring

pytestmark = pytest.mark.django_db


def receive(channel, **email) -> Ticket:
    inbound = inbound_services.inbound_store(channel=channel, raw=build_email(**email), enqueue=False)
    result = inbound_services.inbound_process(inbound_id=inbound.pk)
    assert result.status == "processed", result
    return Ticket.objects.get(pk=result.ticket_ids[0])


def fired(ticket: Ticket) -> list[dict]:
    return [e.data for e in ticket.events.filter(kind=TicketEvent.Kind.RULE_FIRED).order_by("id")]


def test_a_matching_rule_sets_team_priority_and_tags_and_records_what_it_changed(email_channel):
    billing = TeamFactory(name="Billing", slug="billing")
    rule = RuleFactory(
        name="Refunds to billing",
        conditions=[{"field": "text", "op": "contains", "value": ["refund", "chargeback"]}],
        actions=[
            {"type": "set_team", "team": billing.pk},
            {"type": "set_priority", "priority": "high"},
            {"type": "add_tags", "tags": ["Billing", "refund"]},
        ],
    )
    ticket = receive(email_channel, subject="Money back", body="I would like a refund for order 42.")
    assert (ticket.team_id, ticket.priority) == (billing.pk, "high")
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["billing", "refund"]
    [event] = fired(ticket)
    assert event["rule"] == rule.pk and event["trigger"] == "created"
    assert {"action": "set_priority", "from": "normal", "to": "high"} in event["changes"]
    # The changes themselves are logged as the rule's, not the customer's or an agent's.
    priority_event = ticket.events.get(kind=TicketEvent.Kind.PRIORITY_CHANGED)
    assert priority_event.actor_kind == TicketEvent.ActorKind.RULE


def test_a_rule_that_does_not_match_leaves_the_ticket_alone(email_channel):
    RuleFactory(conditions=[{"field": "subject", "op": "regex", "value": r"^urgent\b"}], actions=[{"type": "set_priority", "priority": "urgent"}])
    ticket = receive(email_channel, subject="Not so urgent, really")
    assert ticket.priority == "normal"
    assert fired(ticket) == []


def test_any_and_all_combine_conditions(email_channel):
    org = OrganizationFactory(name="Acme")
    RuleFactory(
        name="all",
        conditions=[
            {"field": "sender_domain", "op": "is", "value": "example.com"},
            {"field": "customer_tier", "op": "is", "value": "vip"},
        ],
        actions=[{"type": "add_tags", "tags": ["all"]}],
    )
    RuleFactory(
        name="any",
        match="any",
        conditions=[
            {"field": "customer_tier", "op": "is", "value": "vip"},
            {"field": "sender_address", "op": "ends_with", "value": "@example.com"},
            {"field": "organization", "op": "in", "value": [org.pk]},
        ],
        actions=[{"type": "add_tags", "tags": ["any"]}],
    )
    ticket = receive(email_channel)
    assert list(ticket.tags.values_list("name", flat=True)) == ["any"]


def test_rules_run_in_order_and_stop_processing_skips_the_rest(email_channel):
    RuleFactory(position=20, name="second", actions=[{"type": "add_tags", "tags": ["second"]}])
    RuleFactory(position=10, name="first", stop_processing=True, actions=[{"type": "add_tags", "tags": ["first"]}])
    ticket = receive(email_channel)
    assert [e["name"] for e in fired(ticket)] == ["first"]


def test_later_rules_see_what_earlier_rules_changed(email_channel):
    RuleFactory(position=1, actions=[{"type": "set_priority", "priority": "urgent"}])
    RuleFactory(position=2, conditions=[{"field": "priority", "op": "is", "value": "urgent"}], actions=[{"type": "add_tags", "tags": ["escalated"]}])
    ticket = receive(email_channel)
    assert list(ticket.tags.values_list("name", flat=True)) == ["escalated"]


def test_a_failing_rule_is_logged_with_the_ticket_and_skipped_and_ingestion_goes_on(email_channel, caplog):
    RuleFactory(position=1, name="broken", actions=[{"type": "add_tags", "tags": ["half"]}, {"type": "set_team", "team": 999999}])
    RuleFactory(position=2, name="fine", actions=[{"type": "add_tags", "tags": ["fine"]}])
    ticket = receive(email_channel)
    # The broken rule's first action was rolled back with it; the next rule ran.
    assert list(ticket.tags.values_list("name", flat=True)) == ["fine"]
    broken, fine = fired(ticket)
    assert broken["name"] == "broken" and "error" in broken and broken["changes"] == []
    assert fine["name"] == "fine" and "error" not in fine
    assert ticket.messages.count() == 1
    assert "routing rule failed" in caplog.text


def test_rules_never_loop_each_fires_once_per_event(email_channel):
    agent = AgentFactory()
    # Two rules that would undo each other forever if changes re-triggered rules.
    RuleFactory(on_created=False, on_updated=True, conditions=[{"field": "priority", "op": "is", "value": "high"}], actions=[{"type": "set_priority", "priority": "low"}])
    RuleFactory(on_created=False, on_updated=True, conditions=[{"field": "priority", "op": "is", "value": "low"}], actions=[{"type": "set_priority", "priority": "high"}])
    ticket = receive(email_channel)
    ticket_services.ticket_set_priority(ticket=ticket, priority="high", actor=Actor.agent(agent.user))
    ticket.refresh_from_db()
    # One update event: the first rule fired (high -> low), the second saw low and fired once.
    assert [e["trigger"] for e in fired(ticket)] == ["updated", "updated"]
    assert ticket.priority == "high"


def test_message_rules_run_on_replies_but_not_on_automatic_ones(email_channel):
    RuleFactory(on_created=False, on_message=True, conditions=[{"field": "body", "op": "contains", "value": "still broken"}], actions=[{"type": "set_priority", "priority": "urgent"}])
    ticket = receive(email_channel, message_id="root@example.com")
    assert ticket.priority == "normal"
    receive(email_channel, message_id="r1@example.com", in_reply_to="root@example.com", subject="Re: Cannot log in", body="It is still broken!")
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert fired(ticket)[0]["trigger"] == "message"


def test_reply_and_note_actions_fill_placeholders(email_channel):
    RuleFactory(
        actions=[
            {"type": "send_reply", "text": "Hello {{ customer.first_name }}, we got ticket #{{ ticket.number }}."},
            {"type": "add_note", "text": "Auto-triaged by a rule."},
        ]
    )
    ticket = receive(email_channel, sender="Ada Lovelace <ada@example.com>")
    reply = ticket.messages.get(direction=Message.Direction.OUTBOUND)
    assert reply.text == f"Hello Ada, we got ticket #{ticket.number}."
    assert ticket.messages.get(direction=Message.Direction.NOTE).text == "Auto-triaged by a rule."


def test_notify_action_emails_the_managers(email_channel, mailoutbox, django_capture_on_commit_callbacks):
    manager = AgentFactory(role="manager", user__email="maya@parley.test")
    RuleFactory(
        conditions=[{"field": "customer_tier", "op": "is", "value": "vip"}, {"field": "sentiment", "op": "lt", "value": -0.5}],
        actions=[{"type": "notify", "to": ["managers"], "text": "Angry VIP on #{{ ticket.number }}"}],
    )
    from tickets.models import Customer, CustomerIdentity

    vip = Customer.objects.create(name="Very Important", tier="vip")
    CustomerIdentity.objects.create(customer=vip, kind="email", address="vip@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        calm = receive(email_channel, sender="vip@example.com", subject="Question", body="Could you tell me how to export my data? Thanks!")
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        angry = receive(email_channel, sender="vip@example.com", subject="Unacceptable", body="This is terrible and awful. I am furious, your service is horrible.")
    assert angry.pk != calm.pk
    assert [m.to for m in mailoutbox] == [[manager.user.email]]
    assert f"#{angry.number}" in mailoutbox[0].body


def test_scheduled_rules_fire_once_per_ticket(email_channel):
    rule = RuleFactory(
        on_created=False,
        on_schedule=True,
        conditions=[{"field": "hours_since_customer_activity", "op": "gt", "value": 24}, {"field": "status", "op": "in", "value": ["new", "open"]}],
        actions=[{"type": "add_tags", "tags": ["stale"]}],
    )
    ticket = receive(email_channel)
    fresh = receive(email_channel, sender="grace@example.com", subject="Another")
    Ticket.objects.filter(pk=ticket.pk).update(last_customer_activity_at=timezone.now() - dt.timedelta(hours=30))
    assert routing.run_scheduled_rules() == 1
    assert routing.run_scheduled_rules() == 0
    assert list(ticket.tags.values_list("name", flat=True)) == ["stale"]
    assert not fresh.tags.exists()
    assert RuleFiring.objects.filter(rule=rule).count() == 1


@pytest.mark.parametrize(
    ("conditions", "actions", "field", "message"),
    [
        ([{"field": "colour", "op": "is", "value": "red"}], [{"type": "unassign"}], "conditions", "unknown field"),
        ([{"field": "subject", "op": "regex", "value": "("}], [{"type": "unassign"}], "conditions", "invalid regular expression"),
        ([{"field": "priority", "op": "is", "value": "sky-high"}], [{"type": "unassign"}], "conditions", "not among"),
        ([{"field": "sentiment", "op": "contains", "value": "x"}], [{"type": "unassign"}], "conditions", "takes op"),
        ([], [], "actions", "non-empty list"),
        ([], [{"type": "launch_rocket"}], "actions", "unknown type"),
        ([], [{"type": "set_team", "team": 424242}], "actions", "no team with id"),
        ([], [{"type": "notify", "to": ["everyone"], "text": "x"}], "actions", "to is a list"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_error(conditions, actions, field, message):
    rule = RuleFactory.build(conditions=conditions, actions=actions)
    with pytest.raises(ValidationError) as info:
        rule.full_clean()
    assert message in " ".join(info.value.message_dict[field])


def test_condition_fields_cover_tags_status_hours_and_business_hours(email_channel):
    ticket = TicketFactory(channel=email_channel, status="open", last_customer_activity_at=timezone.now() - dt.timedelta(hours=3))
    ticket_services.ticket_set_tags(ticket=ticket, names=["billing", "eu"], actor=Actor())
    from tickets.routing.engine import TicketFacts
    from tickets.routing.rules import compile_conditions

    def matches(condition):
        [predicate] = compile_conditions([condition])
        return predicate(TicketFacts(Ticket.objects.get(pk=ticket.pk)))

    assert matches({"field": "tags", "op": "includes_all", "value": ["billing", "EU"]})
    assert not matches({"field": "tags", "op": "excludes", "value": ["eu"]})
    assert matches({"field": "status", "op": "not_in", "value": ["solved", "closed"]})
    assert matches({"field": "hours_since_customer_activity", "op": "gte", "value": 2.5})
    assert not matches({"field": "hours_since_agent_activity", "op": "gt", "value": 0})
    assert matches({"field": "assignee", "op": "is_empty"})
    assert matches({"field": "within_business_hours", "op": "is", "value": True})  # no team calendar: 24/7
    assert matches({"field": "sla", "op": "is", "value": "none"})
    assert matches({"field": "channel_kind", "op": "is", "value": "email"})
