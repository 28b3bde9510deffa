"""Assignment strategies, VIP group, skills, capacity, business hours and availability."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import (
    AgentFactory,
    BusinessHoursFactory,
    ChannelFactory,
    CustomerFactory,
    RuleFactory,
    TeamRoutingFactory,
    TicketFactory,
)
from tickets.models import AgentProfile, Ticket
from tickets.routing import assignment
from tickets.routing import services as routing
from tickets.routing.assignment import Candidate, choose

pytestmark = pytest.mark.django_db


def team_with_agents(strategy: str, *capacities: int, **settings):
    row = TeamRoutingFactory(strategy=strategy, **settings)
    agents = []
    for capacity in capacities:
        agent = AgentFactory(capacity=capacity)
        agent.teams.add(row.team)
        agents.append(agent)
    return row.team, agents


def queue(team, n: int, **fields) -> list[Ticket]:
    return [TicketFactory(team=team, **fields) for _ in range(n)]


def test_round_robin_takes_turns_in_order():
    team, agents = team_with_agents("round_robin", 10, 10, 10)
    tickets = queue(team, 7)
    for t in tickets:
        assignment.assign_tickets(team_id=team.pk, ticket_ids=[t.pk])
    order = [Ticket.objects.get(pk=t.pk).assignee_id for t in tickets]
    ids = [a.user_id for a in agents]
    assert order == [ids[0], ids[1], ids[2], ids[0], ids[1], ids[2], ids[0]]


def test_least_loaded_prefers_the_emptiest_agent_and_respects_capacity():
    team, (busy, idle) = team_with_agents("least_loaded", 5, 2)
    TicketFactory(team=team, assignee=busy.user, status="open")
    TicketFactory(team=team, assignee=busy.user, status="open")
    TicketFactory(team=team, assignee=busy.user, status="pending")  # waiting on the customer: not load
    tickets = queue(team, 6)
    result = assignment.assign_tickets(team_id=team.pk)
    loads = {a.user_id: Ticket.objects.filter(assignee=a.user, status__in=["new", "open"]).count() for a in (busy, idle)}
    assert loads == {busy.user_id: 5, idle.user_id: 2}
    assert len(result) == 5 and Ticket.objects.filter(pk__in=[t.pk for t in tickets], assignee=None).count() == 1


def test_only_available_agents_get_tickets():
    team, (away, here) = team_with_agents("round_robin", 10, 10)
    AgentProfile.objects.filter(pk=away.pk).update(availability="away")
    for t in queue(team, 3):
        assignment.assign_tickets(team_id=team.pk, ticket_ids=[t.pk])
    assert set(Ticket.objects.filter(team=team).values_list("assignee_id", flat=True)) == {here.user_id}


def test_nobody_is_assigned_outside_the_teams_business_hours():
    closed = BusinessHoursFactory(time_zone="UTC", schedule={})
    team, _ = team_with_agents("round_robin", 10, business_hours=closed)
    [ticket] = queue(team, 1)
    assert assignment.assign_tickets(team_id=team.pk, ticket_ids=[ticket.pk]) == {}


def test_manual_teams_are_left_alone():
    team, _ = team_with_agents("manual", 10)
    [ticket] = queue(team, 1)
    assert assignment.assign_tickets(team_id=team.pk) == {}


def test_vip_customers_go_to_the_vip_group_first():
    vip_group = Group.objects.create(name="VIP desk")
    team, (regular, senior) = team_with_agents("round_robin", 10, 10)
    senior.user.groups.add(vip_group)
    from tickets.routing.models import TeamRouting

    TeamRouting.objects.filter(team=team).update(vip_group=vip_group)
    vip = CustomerFactory(tier="vip")
    tickets = [TicketFactory(team=team, customer=vip) for _ in range(3)]
    for t in tickets:
        assignment.assign_tickets(team_id=team.pk, ticket_ids=[t.pk])
    assert {Ticket.objects.get(pk=t.pk).assignee_id for t in tickets} == {senior.user_id}


def test_skills_required_by_a_rule_pick_the_agent_who_has_them(email_channel):
    team, (generalist, german) = team_with_agents("least_loaded", 10, 10)
    AgentProfile.objects.filter(pk=german.pk).update(skills=["German", "billing"])
    email_channel.default_team = team
    email_channel.save()
    RuleFactory(conditions=[{"field": "language", "op": "is", "value": "de"}], actions=[{"type": "auto_assign", "strategy": "skills", "skills": ["german"]}])
    raw = build_email(subject="Rechnung falsch", body="Hallo, meine Rechnung ist leider falsch. Können Sie mir bitte helfen?")
    inbound = inbound_services.inbound_store(channel=email_channel, raw=raw, enqueue=False)
    ticket = Ticket.objects.get(pk=inbound_services.inbound_process(inbound_id=inbound.pk).ticket_ids[0])
    assert ticket.language == "de"
    assert ticket.assignee_id == german.user_id


def test_new_tickets_of_an_automatic_team_are_assigned_on_arrival():
    team, (agent,) = team_with_agents("round_robin", 10)
    channel = ChannelFactory(kind="email", inbound_address="help@parley.test", default_team=team)
    inbound = inbound_services.inbound_store(channel=channel, raw=build_email(to="help@parley.test"), enqueue=False)
    ticket = Ticket.objects.get(pk=inbound_services.inbound_process(inbound_id=inbound.pk).ticket_ids[0])
    assert (ticket.assignee_id, ticket.status) == (agent.user_id, "open")


def test_waiting_tickets_go_to_an_agent_who_becomes_available_urgent_and_oldest_first():
    team, (agent,) = team_with_agents("least_loaded", 2)
    AgentProfile.objects.filter(pk=agent.pk).update(availability="offline")
    now = timezone.now()
    old_normal = TicketFactory(team=team, created_at=now - dt.timedelta(hours=5))
    new_urgent = TicketFactory(team=team, priority="urgent", created_at=now - dt.timedelta(hours=1))
    newest_normal = TicketFactory(team=team, created_at=now)
    assert assignment.sweep_all_queues() == 0
    AgentProfile.objects.filter(pk=agent.pk).update(availability="available")
    assert routing.on_agent_available(agent.pk) == 2
    assigned = set(Ticket.objects.filter(assignee=agent.user).values_list("pk", flat=True))
    assert assigned == {new_urgent.pk, old_normal.pk}
    assert Ticket.objects.get(pk=newest_normal.pk).assignee_id is None


def test_an_unavailable_agents_tickets_are_handed_back_when_the_team_says_so():
    team, (leaving, staying) = team_with_agents("round_robin", 10, 10, hand_back_when_unavailable=True)
    mine = [TicketFactory(team=team, assignee=leaving.user, status=s) for s in ("new", "open", "pending")]
    AgentProfile.objects.filter(pk=leaving.pk).update(availability="offline")
    assert routing.on_agent_unavailable(leaving.pk) == 2
    assignees = [Ticket.objects.get(pk=t.pk).assignee_id for t in mine]
    assert assignees == [staying.user_id, staying.user_id, leaving.user_id]  # pending stays with them


def test_without_hand_back_an_unavailable_agent_keeps_their_tickets():
    team, (leaving, _) = team_with_agents("round_robin", 10, 10)
    ticket = TicketFactory(team=team, assignee=leaving.user, status="open")
    assert routing.on_agent_unavailable(leaving.pk) == 0
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == leaving.user_id


def test_choose_is_deterministic_on_ties_and_skips_full_agents():
    a = Candidate(user_id=1, capacity=1, skills=frozenset(), load=1, user=None)
    b = Candidate(user_id=2, capacity=3, skills=frozenset({"fr"}), load=0, user=None)
    c = Candidate(user_id=3, capacity=3, skills=frozenset(), load=0, user=None)
    assert choose([a, b, c], strategy="least_loaded") is b
    assert choose([a, b, c], strategy="round_robin", last_user_id=2) is c
    assert choose([a, b, c], strategy="round_robin", last_user_id=3) is b  # wraps, skipping the full agent
    assert choose([a, b, c], strategy="skills", skills=["FR"]) is b
    assert choose([a, c], strategy="skills", skills=["fr"]) is None
