"""SLA policies: due times on the ticket, recomputed on change, paused while pending,
warnings and breaches with escalation on the beat tick."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import (
    AgentFactory,
    BusinessHoursFactory,
    CustomerFactory,
    HolidayFactory,
    RuleFactory,
    SLAPolicyFactory,
    SLATargetFactory,
    TeamFactory,
    TeamRoutingFactory,
    TicketFactory,
)
from tickets import services as ticket_services
from tickets.events import Actor
from tickets.models import Ticket, TicketEvent
from tickets.routing import services as routing
from tickets.routing import sla
from tickets.routing.models import TicketRouting

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def receive(channel, **email) -> Ticket:
    inbound = inbound_services.inbound_store(channel=channel, raw=build_email(**email), enqueue=False)
    result = inbound_services.inbound_process(inbound_id=inbound.pk)
    return Ticket.objects.get(pk=result.ticket_ids[0])


@pytest.fixture
def policy():
    policy = SLAPolicyFactory(name="Standard", is_default=True, warn_before_minutes=15)
    SLATargetFactory(policy=policy, priority="normal", first_response_minutes=60, next_response_minutes=120, resolution_minutes=480)
    SLATargetFactory(policy=policy, priority="high", first_response_minutes=30, resolution_minutes=240)
    SLATargetFactory(policy=policy, priority="high", customer_tier="vip", first_response_minutes=10, resolution_minutes=60)
    return policy


def test_the_default_policy_puts_due_times_on_a_new_ticket(email_channel, policy):
    before = timezone.now()
    ticket = receive(email_channel)
    assert before + dt.timedelta(minutes=60) <= ticket.sla_first_response_due_at <= timezone.now() + dt.timedelta(minutes=60)
    assert ticket.sla_resolution_due_at - ticket.sla_first_response_due_at == dt.timedelta(minutes=420)
    event = ticket.events.get(kind=TicketEvent.Kind.SLA_APPLIED)
    assert event.data["name"] == "Standard"


def test_due_times_follow_priority_and_tier(email_channel, policy):
    ticket = receive(email_channel)
    agent = AgentFactory()
    ticket_services.ticket_set_priority(ticket=ticket, priority="high", actor=Actor.agent(agent.user))
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == ticket.created_at + dt.timedelta(minutes=30)
    ticket.customer.tier = "vip"
    ticket.customer.save()
    sla.sync(ticket)
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == ticket.created_at + dt.timedelta(minutes=10)
    # A priority the policy has no target for: nothing is due.
    ticket_services.ticket_set_priority(ticket=ticket, priority="low", actor=Actor.agent(agent.user))
    ticket.refresh_from_db()
    assert (ticket.sla_first_response_due_at, ticket.sla_resolution_due_at) == (None, None)


def test_due_times_count_in_the_teams_business_hours_with_holidays(policy):
    hours = BusinessHoursFactory(time_zone="Europe/Berlin")
    HolidayFactory(calendar=hours, date=dt.date(2025, 1, 20))
    team = TeamRoutingFactory(business_hours=hours, strategy="manual").team
    # Friday 16:30 Berlin: 30 minutes that day, Monday is a holiday, the rest on Tuesday.
    created = dt.datetime(2025, 1, 17, 16, 30, tzinfo=BERLIN)
    ticket = TicketFactory(team=team, created_at=created, updated_at=created)
    routing.apply_sla_policy(ticket=ticket, policy=policy)
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == dt.datetime(2025, 1, 21, 9, 30, tzinfo=BERLIN)
    assert ticket.sla_resolution_due_at == dt.datetime(2025, 1, 21, 16, 30, tzinfo=BERLIN)


def test_an_agent_reply_meets_the_first_response_and_a_new_customer_message_starts_next_response(email_channel, policy):
    agent = AgentFactory()
    ticket = receive(email_channel, message_id="root@example.com")
    ticket_services.message_reply(ticket=ticket, author=agent.user, text="On it.")
    ticket.refresh_from_db()
    state = TicketRouting.objects.get(ticket=ticket)
    assert ticket.sla_first_response_due_at is None and state.next_response_due_at is None
    assert ticket.sla_resolution_due_at is not None
    receive(email_channel, message_id="r2@example.com", in_reply_to="root@example.com", subject="Re: Cannot log in", body="Any news?")
    state.refresh_from_db()
    ticket.refresh_from_db()
    assert state.next_response_due_at == ticket.last_customer_activity_at + dt.timedelta(minutes=120)


def test_the_clock_stops_while_pending_on_the_customer(policy):
    start = dt.datetime(2025, 1, 13, 9, tzinfo=dt.UTC)
    ticket = TicketFactory(created_at=start, updated_at=start)
    routing.apply_sla_policy(ticket=ticket, policy=policy)
    Ticket.objects.filter(pk=ticket.pk).update(status="pending")
    sla.sync(Ticket.objects.get(pk=ticket.pk), now=start + dt.timedelta(minutes=20))
    ticket.refresh_from_db()
    assert (ticket.sla_first_response_due_at, ticket.sla_resolution_due_at) == (None, None)
    assert sla.state_of(TicketRouting.objects.get(ticket=ticket), now=start) == "paused"
    # Back after three hours: every due time moves three hours later.
    Ticket.objects.filter(pk=ticket.pk).update(status="open")
    sla.sync(Ticket.objects.get(pk=ticket.pk), now=start + dt.timedelta(minutes=200))
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == start + dt.timedelta(minutes=60 + 180)
    assert ticket.sla_resolution_due_at == start + dt.timedelta(minutes=480 + 180)


def test_a_solved_ticket_has_nothing_due(email_channel, policy):
    ticket = receive(email_channel)
    ticket_services.ticket_change_status(ticket=ticket, status="solved", actor=Actor.agent(AgentFactory().user))
    ticket.refresh_from_db()
    assert (ticket.sla_first_response_due_at, ticket.sla_resolution_due_at) == (None, None)


def test_warning_then_breach_with_escalation_once(email_channel, policy, mailoutbox, django_capture_on_commit_callbacks):
    policy.breach_raise_priority = True
    policy.save()
    team = TeamFactory()
    agent = AgentFactory(user__email="sam@parley.test")
    agent.teams.add(team)
    manager = AgentFactory(role="manager", user__email="maya@parley.test")
    manager.teams.add(team)
    ticket = receive(email_channel)
    ticket_services.ticket_set_team(ticket=ticket, team_id=team.pk, actor=Actor.agent(manager.user))
    ticket_services.ticket_assign(ticket=ticket, assignee=agent.user, actor=Actor.agent(manager.user))
    ticket.refresh_from_db()
    due = ticket.sla_first_response_due_at

    with django_capture_on_commit_callbacks(execute=True):
        assert routing.sla_check(now=due - dt.timedelta(minutes=30)) == (0, 0)
        assert routing.sla_check(now=due - dt.timedelta(minutes=10)) == (1, 0)
        assert routing.sla_check(now=due - dt.timedelta(minutes=5)) == (0, 0)  # warned once
    assert [m.to for m in mailoutbox] == [["sam@parley.test"]]
    assert "SLA at risk" in mailoutbox[0].subject

    with django_capture_on_commit_callbacks(execute=True):
        warnings, breaches = routing.sla_check(now=due + dt.timedelta(minutes=1))
        assert routing.sla_check(now=due + dt.timedelta(minutes=2)) == (0, 0)  # breached once
    assert breaches == 1
    breach = ticket.events.get(kind=TicketEvent.Kind.SLA_BREACHED)
    assert breach.data["metric"] == "first_response"
    assert sorted(mailoutbox[-1].to) == ["maya@parley.test", "sam@parley.test"]
    ticket.refresh_from_db()
    # Raised one step; the higher priority's (earlier) first-response target is also past.
    assert ticket.priority == "high"


def test_breach_reassigns_to_another_available_agent(email_channel, policy):
    policy.breach_reassign, policy.breach_notify = True, False
    policy.save()
    routing_row = TeamRoutingFactory(strategy="least_loaded")
    first, second = AgentFactory(), AgentFactory()
    for agent in (first, second):
        agent.teams.add(routing_row.team)
    ticket = TicketFactory(team=routing_row.team, assignee=first.user, status="open")
    routing.apply_sla_policy(ticket=ticket, policy=policy)
    ticket.refresh_from_db()
    routing.sla_check(now=ticket.sla_first_response_due_at + dt.timedelta(seconds=1))
    ticket.refresh_from_db()
    assert ticket.assignee_id == second.user_id


def test_a_rule_applies_a_policy(email_channel, policy):
    premium = SLAPolicyFactory(name="Premium")
    SLATargetFactory(policy=premium, priority="normal", first_response_minutes=5, resolution_minutes=30)
    RuleFactory(conditions=[{"field": "sender_domain", "op": "is", "value": "example.com"}], actions=[{"type": "apply_sla", "policy": premium.pk}])
    ticket = receive(email_channel)
    assert ticket.sla_first_response_due_at == ticket.created_at + dt.timedelta(minutes=5)
    assert [e.data["name"] for e in ticket.events.filter(kind=TicketEvent.Kind.SLA_APPLIED)] == ["Premium"]


def test_the_inbox_selector_tells_at_risk_from_breached(policy):
    from tickets.routing.selectors import sla_statuses

    now = timezone.now()
    ok = TicketFactory(created_at=now, updated_at=now)
    risky = TicketFactory(created_at=now - dt.timedelta(minutes=50), updated_at=now)
    late = TicketFactory(created_at=now - dt.timedelta(minutes=90), updated_at=now, customer=CustomerFactory())
    for t in (ok, risky, late):
        routing.apply_sla_policy(ticket=t, policy=policy)
    plain = TicketFactory()
    assert sla_statuses(ticket_ids=[ok.pk, risky.pk, late.pk, plain.pk], now=now) == {ok.pk: "ok", risky.pk: "at_risk", late.pk: "breached"}


def test_time_spent_solved_does_not_count_when_the_ticket_is_reopened(policy):
    start = dt.datetime(2025, 1, 13, 9, tzinfo=dt.UTC)
    ticket = TicketFactory(created_at=start, updated_at=start)
    routing.apply_sla_policy(ticket=ticket, policy=policy)
    Ticket.objects.filter(pk=ticket.pk).update(status="solved")
    sla.sync(Ticket.objects.get(pk=ticket.pk), now=start + dt.timedelta(minutes=30))
    # Reopened three days later: each clock resumes with what was left (30 min, 7.5 hours).
    Ticket.objects.filter(pk=ticket.pk).update(status="open")
    reopened = start + dt.timedelta(days=3, minutes=30)
    sla.sync(Ticket.objects.get(pk=ticket.pk), now=reopened)
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == reopened + dt.timedelta(minutes=30)
    assert ticket.sla_resolution_due_at == reopened + dt.timedelta(minutes=450)
    assert sla.state_of(TicketRouting.objects.get(ticket=ticket), now=reopened) == "ok"
