"""Hand-built tickets with known timestamps for the rollup tests (docs/metrics.md).

Company zone America/New_York; the "Berlin" team works 09:00-17:00 Mon-Fri in
Europe/Berlin. Every instant below is UTC. March 2026: New York is on EST (UTC-5) until
Sunday 8 March; Berlin is on CET (UTC+1).

- T1 (Berlin team, VIP customer, agent A): created Mon 2 Mar 15:30 (16:30 Berlin, 10:30 NY);
  one agent reply and solved Tue 3 Mar 08:30 (09:30 Berlin, 03:30 NY). First response and
  resolution: 17 h calendar, 1 business hour (16:30-17:00 and 09:00-09:30 Berlin). SLA
  first response breached, resolution met. CSAT survey sent at the solve, answered 5
  (positive) five days later: it counts on 3 Mar (late survey).
- T2 (no team: 24/7): created Tue 3 Mar 04:30, i.e. 23:30 on Mon 2 Mar in New York.
  Reply 05:30 (first response 1 h) with pending; customer answers 07:30 (open); reply
  and solved 08:00 (next response 30 min). Reopened by the customer Thu 5 Mar 14:00,
  solved again 15:00 (no reply). First resolution 1.5 h, full 2.5 h, pending 2 h.
- T3: created Mon 2 Mar 14:00, merged into T1 at 15:00 (closed): counts in volume only.
- T4 (no team): created Wed 25 Feb 12:00, still open: in every day's backlog since.
- An NPS answer without a ticket from a VIP customer, 9 on Wed 4 Mar 15:00.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from metrics.services import ticket_metrics_refresh
from tests.factories import (
    AgentFactory,
    BusinessHoursFactory,
    ChannelFactory,
    CustomerFactory,
    TeamFactory,
    TeamRoutingFactory,
    TicketEventFactory,
    TicketFactory,
)
from tickets.models import CompanyProfile, Ticket

UTC = dt.UTC


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    tickets: dict[str, Ticket]
    team_id: int
    agent_id: int
    steps: list  # (at, callable) in time order


def build(*, on_step=None) -> World:
    """Create the tickets and replay their events in time order; ``on_step`` runs after each
    event (the incremental path: refresh the ticket, run the beat)."""
    CompanyProfile.objects.update_or_create(pk=1, defaults={"time_zone": "America/New_York"})
    calendar = BusinessHoursFactory(time_zone="Europe/Berlin")
    team = TeamFactory(name="Berlin", slug="berlin")
    TeamRoutingFactory(team=team, business_hours=calendar)
    agent = AgentFactory(role="agent").user
    email = ChannelFactory(kind="email")
    chat = ChannelFactory(kind="chat")
    vip = CustomerFactory(tier="vip")
    tickets = {
        "T1": TicketFactory(channel=email, customer=vip, team=team, assignee=agent, created_at=utc(2, 15, 30), status="solved"),
        "T2": TicketFactory(channel=chat, created_at=utc(3, 4, 30), status="solved", priority="high"),
        "T3": TicketFactory(channel=email, customer=vip, created_at=utc(2, 14), status="closed"),
        "T4": TicketFactory(channel=email, created_at=utc(25, 12, month=2), status="open"),
    }
    Ticket.objects.filter(pk=tickets["T3"].pk).update(merged_into=tickets["T1"])
    t1, t2, t3, t4 = (tickets[k] for k in ("T1", "T2", "T3", "T4"))

    def ev(ticket, kind, at, actor="system", **data):
        return lambda: TicketEventFactory(ticket=ticket, kind=kind, actor_kind=actor, created_at=at, data=data)

    def inbound(ticket, at):
        return ev(ticket, "message_added", at, "customer", direction="inbound", is_auto_reply=False)

    def reply(ticket, at):
        return ev(ticket, "message_added", at, "agent", direction="outbound", is_auto_reply=False)

    def status(ticket, at, old, new, actor="agent"):
        return ev(ticket, "status_changed", at, actor, **{"from": old, "to": new})

    def survey(at, **kw):
        def make():
            from metrics.surveys.models import SurveyInvitation, SurveyResponse

            response = SurveyResponse.objects.create(answered_at=at, comment=kw.pop("comment", ""), **kw["response"])
            if "sent_at" in kw:
                SurveyInvitation.objects.create(
                    kind=response.kind, ticket_id=response.ticket_id, customer_id=response.customer_id, via="email",
                    response=response, sent_at=kw["sent_at"], expires_at=kw["sent_at"] + dt.timedelta(days=30), answered_at=at,
                )
        return make

    steps = [
        (utc(25, 12, month=2), t4, ev(t4, "created", utc(25, 12, month=2), "customer", status="new")),
        (utc(25, 12, month=2), t4, inbound(t4, utc(25, 12, month=2))),
        (utc(2, 14), t3, ev(t3, "created", utc(2, 14), "customer", status="new")),
        (utc(2, 14), t3, inbound(t3, utc(2, 14))),
        (utc(2, 15), t3, ev(t3, "merged", utc(2, 15), "agent", role="source", other=t1.pk)),
        (utc(2, 15), t3, status(t3, utc(2, 15), "new", "closed")),
        (utc(2, 15, 30), t1, ev(t1, "created", utc(2, 15, 30), "customer", status="new")),
        (utc(2, 15, 30), t1, inbound(t1, utc(2, 15, 30))),
        (utc(2, 15, 30), t1, ev(t1, "sla_applied", utc(2, 15, 30), due={"first_response": "x", "resolution": "y"})),
        (utc(2, 16, 30), t1, ev(t1, "sla_breached", utc(2, 16, 30), metric="first_response")),
        (utc(3, 4, 30), t2, ev(t2, "created", utc(3, 4, 30), "customer", status="new")),
        (utc(3, 4, 30), t2, inbound(t2, utc(3, 4, 30))),
        (utc(3, 5, 30), t2, reply(t2, utc(3, 5, 30))),
        (utc(3, 5, 30), t2, status(t2, utc(3, 5, 30), "new", "pending")),
        (utc(3, 7, 30), t2, inbound(t2, utc(3, 7, 30))),
        (utc(3, 7, 30), t2, status(t2, utc(3, 7, 30), "pending", "open", "customer")),
        (utc(3, 8), t2, reply(t2, utc(3, 8))),
        (utc(3, 8), t2, status(t2, utc(3, 8), "open", "solved")),
        (utc(3, 8, 30), t1, reply(t1, utc(3, 8, 30))),
        (utc(3, 8, 30), t1, status(t1, utc(3, 8, 30), "new", "solved")),
        (utc(4, 15), None, survey(utc(4, 15), response={"kind": "nps", "customer": vip, "score": 9, "source": "email"})),
        (utc(5, 14), t2, inbound(t2, utc(5, 14))),
        (utc(5, 14), t2, status(t2, utc(5, 14), "solved", "open", "customer")),
        (utc(5, 14), t2, ev(t2, "reopened", utc(5, 14), "customer", **{"from": "solved"})),
        (utc(5, 15), t2, status(t2, utc(5, 15), "open", "solved")),
        (
            utc(8, 10),
            t1,
            survey(
                utc(8, 10),
                sent_at=utc(3, 8, 30),
                comment="Quick and kind.",
                response={"kind": "csat", "ticket": t1, "customer": vip, "score": 5, "source": "email"},
            ),
        ),
    ]
    for _at, ticket, make in steps:
        make()
        if on_step is not None:
            on_step(ticket)
    if on_step is None:
        for ticket in tickets.values():
            ticket_metrics_refresh(ticket_id=ticket.pk, mark_rollups=False)
    return World(tickets=tickets, team_id=team.pk, agent_id=agent.pk, steps=steps)
