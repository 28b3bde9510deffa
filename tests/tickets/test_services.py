"""Agent-side ticket changes: each writes exactly the event metrics will read."""

from __future__ import annotations

import pytest

from tests.factories import AgentFactory, TeamFactory, TicketFactory
from tickets.events import Actor
from tickets.exceptions import InvalidTransition
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_assign, ticket_set_priority, ticket_set_tags, ticket_set_team

pytestmark = pytest.mark.django_db


def events_of(ticket: Ticket, kind: str) -> list[dict]:
    return list(ticket.events.filter(kind=kind).values_list("data", flat=True))


def test_assigning_a_new_ticket_opens_it_and_is_logged():
    agent = AgentFactory().user
    ticket = ticket_assign(ticket=TicketFactory(), assignee=agent, actor=Actor.agent(agent))
    assert ticket.assignee == agent and ticket.status == Ticket.Status.OPEN
    assert events_of(ticket, TicketEvent.Kind.ASSIGNED) == [{"from": None, "to": agent.pk}]
    assert events_of(ticket, TicketEvent.Kind.STATUS_CHANGED) == [{"from": "new", "to": "open"}]
    # the same assignment again changes and logs nothing
    ticket_assign(ticket=ticket, assignee=agent, actor=Actor.agent(agent))
    assert ticket.events.filter(kind=TicketEvent.Kind.ASSIGNED).count() == 1
    ticket_assign(ticket=ticket, assignee=None, actor=Actor.agent(agent))
    assert events_of(ticket, TicketEvent.Kind.ASSIGNED)[-1] == {"from": agent.pk, "to": None}


def test_team_change_is_logged_once():
    team = TeamFactory()
    ticket = TicketFactory()
    ticket_set_team(ticket=ticket, team_id=team.pk, actor=Actor())
    ticket_set_team(ticket=ticket, team_id=team.pk, actor=Actor())
    assert Ticket.objects.get(pk=ticket.pk).team == team
    assert events_of(ticket, TicketEvent.Kind.TEAM_CHANGED) == [{"from": None, "to": team.pk}]


def test_priority_change_and_unknown_priority():
    ticket = TicketFactory()
    ticket_set_priority(ticket=ticket, priority="urgent", actor=Actor())
    assert events_of(ticket, TicketEvent.Kind.PRIORITY_CHANGED) == [{"from": "normal", "to": "urgent"}]
    with pytest.raises(InvalidTransition):
        ticket_set_priority(ticket=ticket, priority="whenever", actor=Actor())
    assert Ticket.objects.get(pk=ticket.pk).priority == "urgent"


def test_tags_are_normalised_and_only_real_changes_logged():
    ticket = TicketFactory()
    ticket_set_tags(ticket=ticket, names=["Billing", " refund ", "billing", ""], actor=Actor())
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["billing", "refund"]
    ticket_set_tags(ticket=ticket, names=["refund", "billing"], actor=Actor())  # same set: nothing
    ticket_set_tags(ticket=ticket, names=["refund", "vip"], actor=Actor())
    assert events_of(ticket, TicketEvent.Kind.TAGS_CHANGED) == [
        {"added": ["billing", "refund"], "removed": []},
        {"added": ["vip"], "removed": ["billing"]},
    ]
