"""A realistic, deterministic demo helpdesk: ``seed_demo(size=N)``.

Writes staff users with the demo logins (admin, maya, sam and colleagues), three teams,
one channel of each kind, organizations, customers with identities on the channels they
use, and N tickets spread over the last 60 days with whole conversations.

Why not the services: they write one row at a time, publish realtime events and queue
deliveries, which is right for live traffic and far too slow for 100,000 tickets. Instead
each ticket's life is replayed in memory by ``story.Story``, whose methods follow the rules
of ``tickets.services`` (the status transitions, the timestamps, which TicketEvent each
change writes and with what data, in what order), and ``writer.Writer`` bulk-inserts the
rows in batches. Metrics read TicketEvent, so the history must be as the services would
have left it.

Idempotent: the demo set is recognised by its channels (the email channel's address, the
others' kind and name) and by its customers' identities; only what is missing is created.
Tickets on the demo channels count as demo tickets, so ``size`` tops the count up to N
(an interrupted run resumes; a smaller N than what is there does nothing).
A second run finds everything and says so in well under a second of queries. Randomness
comes from ``random.Random`` seeded per customer and per ticket, so the same size gives
the same data (timestamps are relative to the moment of the run).

Modules: ``base`` (seed, sizes, addresses), ``cast`` (teams, staff, channels,
organizations, customers), ``topics`` (what tickets are about: per topic a few cases, each
with every line of its conversations), ``story`` (one ticket's life in memory), ``writer``
(the database writes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tickets.models import Ticket
from tickets.roles import AGENT, roles_sync

from .base import DEFAULT_SIZE, MIN_CUSTOMERS, TICKETS_PER_CUSTOMER
from .cast import STAFF, TEAMS, personas
from .story import World
from .writer import Output, Writer

__all__ = ["DEFAULT_SIZE", "Summary", "seed_demo"]


@dataclass(frozen=True)
class Summary:
    """What a run found and did."""

    created: dict[str, int]  # rows created, by kind in order of creation; empty when all was there
    existing_tickets: int  # demo tickets there before the run
    customers: int  # demo customers after the run
    elapsed_seconds: float


def seed_demo(*, size: int, stdout: Output | None = None) -> Summary:
    """Make sure the demo set is there with ``size`` tickets; progress lines go to ``stdout``."""
    if size < 0:
        raise ValueError("size must be 0 or more")
    started = time.perf_counter()
    writer = Writer(stdout=stdout)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        roles_sync()
        teams = writer.teams()
        users = writer.staff(teams=teams)
        channels = writer.channels(teams=teams)
        organization_ids = writer.organizations()
        writer.tags()
    people = personas(count=max(MIN_CUSTOMERS, size // TICKETS_PER_CUSTOMER))
    customer_ids = writer.customers(personas=people, organization_ids=organization_ids, now=now)
    existing = Ticket.objects.filter(channel__in=channels.values()).count()
    if existing < size:
        # sam, the agent login of the demo, takes a double share so "Mine" has something in it.
        team_agents = {
            slug: [users[s.username] for s in STAFF for _ in range(2 if s.username == "sam" else 1) if slug in s.teams and s.role == AGENT]
            for slug, _, _ in TEAMS
        }
        world = World(
            channels=channels,
            teams=teams,
            team_agents=team_agents,
            manager_id=users["maya"],
            personas=people,
            customer_ids=customer_ids,
            organization_ids=organization_ids,
            agent_names={users[s.username]: s.first_name for s in STAFF},
            now=now,
        )
        writer.tickets(world=world, start=existing, size=size)
    # A few CSAT/CES/NPS answers on recent solved tickets, through the surveys' services.
    from metrics.surveys.demo import seed_surveys

    writer.created["survey answers"] = seed_surveys(channels=channels.values(), now=now)
    return Summary(
        created={name: count for name, count in writer.created.items() if count},
        existing_tickets=existing,
        customers=len(customer_ids),
        elapsed_seconds=time.perf_counter() - started,
    )
