#!/usr/bin/env python
"""Benchmark: the routing decision for one inbound message with 200 active rules, and
assignment under 8 concurrent worker processes.

* ``decision``: facts about the ticket and its new message, then every active rule's
  conditions (200 rules: text, regex, sender, tier, language, sentiment, tags, hours),
  which is what decides a routing outcome; timed per message, p50/p95/p99 in ms.
* ``full``: ``routing.services.on_message_received`` end to end (language and sentiment,
  the rules and their actions, SLA, assignment) in a transaction rolled back each time.
* ``concurrency``: 8 processes assign a shared queue (least loaded, small capacities, one
  agent shared with another team); the check is that no agent ends above capacity.

Runs against whatever database the environment names (embedded SQLite under var/ by
default, or DATABASE_URL and SECRET_KEY for PostgreSQL); migrate it first. It adds rows
under names starting with "bench-routing" and deletes them again at the end (rules
included, so real mail is never routed by them). Prints one JSON object on stdout::

    python bench/routing.py
    {"benchmark": "routing", "rules": 200, "decision_ms": {"p50": ..., "p95": ...}, ...}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from channels_inbox.models import Channel  # noqa: E402
from tickets.models import AgentProfile, Customer, CustomerIdentity, Message, Team, Ticket  # noqa: E402
from tickets.routing import engine, language  # noqa: E402
from tickets.routing import services as routing  # noqa: E402
from tickets.routing.models import Rule, TeamRouting  # noqa: E402

PREFIX = "bench-routing"
WORDS = ("refund", "invoice", "login", "password", "export", "webhook", "shipping", "cancel", "upgrade", "api")


def _rules(n: int, team_id: int) -> list[Rule]:
    rng = random.Random(7)
    rules = []
    for i in range(n):
        word = rng.choice(WORDS) + str(i)  # mostly no match: the realistic case is "try them all"
        shapes = [
            [{"field": "text", "op": "contains", "value": [word, f"{word}s"]}],
            [{"field": "subject", "op": "regex", "value": rf"\b{word}\b"}, {"field": "priority", "op": "in", "value": ["high", "urgent"]}],
            [{"field": "sender_domain", "op": "in", "value": [f"{word}.example", "partner.example"]}],
            [{"field": "customer_tier", "op": "is", "value": "vip"}, {"field": "sentiment", "op": "lt", "value": -0.6}],
            [{"field": "language", "op": "in", "value": ["de", "fr"]}, {"field": "tags", "op": "includes_any", "value": [word]}],
            [{"field": "within_business_hours", "op": "is", "value": False}, {"field": "channel_kind", "op": "is", "value": "sms"}],
        ]
        rules.append(
            Rule(
                name=f"{PREFIX}-{i}",
                position=i,
                on_created=True,
                on_message=True,
                match="all" if i % 3 else "any",
                conditions=shapes[i % len(shapes)],
                actions=[{"type": "add_tags", "tags": [word]}],
            )
        )
    # A few that do match, so the measured path includes firing.
    rules[-1].conditions = [{"field": "text", "op": "contains", "value": "cannot log in"}]
    rules[-1].actions = [{"type": "set_team", "team": team_id}, {"type": "set_priority", "priority": "high"}]
    Rule.objects.bulk_create(rules)
    return rules


def _cleanup() -> None:
    Rule.objects.filter(name__startswith=PREFIX).delete()
    tickets = Ticket.objects.filter(subject__startswith=PREFIX)
    Message.objects.filter(ticket__in=tickets).delete()
    tickets.delete()
    get_user_model().objects.filter(username__startswith=PREFIX).delete()
    Team.objects.filter(slug__startswith=PREFIX).delete()
    Customer.objects.filter(name__startswith=PREFIX).delete()
    Channel.objects.filter(name__startswith=PREFIX).delete()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(ordered[-1], 3)}


def _agent(name: str, capacity: int, teams: list[Team]) -> AgentProfile:
    user = get_user_model().objects.create(username=f"{PREFIX}-{name}", is_staff=True, email=f"{name}@bench.example")
    profile = AgentProfile.objects.create(user=user, capacity=capacity, availability=AgentProfile.Availability.AVAILABLE)
    profile.teams.set(teams)
    return profile


def _worker(args: tuple[int, list[int]]) -> int:
    team_id, ticket_ids = args
    from tickets.routing import assignment

    connections.close_all()
    return sum(len(assignment.assign_tickets(team_id=team_id, ticket_ids=[t])) for t in ticket_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    _cleanup()
    try:
        channel = Channel.objects.create(kind=Channel.Kind.EMAIL, name=f"{PREFIX} mailbox", inbound_address=f"{PREFIX}@parley.localhost")
        team = Team.objects.create(name=f"{PREFIX} team", slug=f"{PREFIX}-team")
        other = Team.objects.create(name=f"{PREFIX} other", slug=f"{PREFIX}-other")
        TeamRouting.objects.create(team=team, strategy=TeamRouting.Strategy.LEAST_LOADED)
        TeamRouting.objects.create(team=other, strategy=TeamRouting.Strategy.LEAST_LOADED)
        customer = Customer.objects.create(name=f"{PREFIX} Ada", tier="standard")
        CustomerIdentity.objects.create(customer=customer, kind="email", address=f"ada@{PREFIX}.example")
        _rules(args.rules, team.pk)
        now = timezone.now()
        ticket = Ticket.objects.create(subject=f"{PREFIX} Cannot log in", channel=channel, customer=customer, created_at=now, updated_at=now)
        message = Message.objects.create(
            ticket=ticket, channel=channel, direction="inbound", author_kind="customer", author_customer=customer,
            subject=ticket.subject, created_at=now,
            text="Hello,\nI cannot log in since this morning. The password reset mail never arrives.\nThanks, Ada",
        )
        engine.active_rules()  # compile once, as a running worker has
        language.warm_up()  # and has its language models loaded (a worker loads them as it starts)
        print("bench: rules ready", file=sys.stderr)

        decision = []
        # The pipeline holds the ticket and its message already; the decision is the rule
        # set's freshness check, the facts the conditions ask for, and the conditions.
        loaded = Ticket.objects.select_related("channel", "customer").get(pk=ticket.pk)
        for _ in range(args.messages):
            started = time.perf_counter()
            rules = engine.rules_for(engine.MESSAGE)
            facts = engine.TicketFacts(loaded, message=message, sender_address=f"ada@{PREFIX}.example")
            matched = [r.id for r in rules if r.matches(facts)]
            decision.append((time.perf_counter() - started) * 1000)
        assert matched, "the matching rule should match"

        print("bench: decision timed", file=sys.stderr)
        full = []
        for _ in range(min(args.messages, 100)):
            started = time.perf_counter()
            try:
                with transaction.atomic():
                    routing.on_message_received(ticket=ticket, message=message, is_new_ticket=True, sender_address=f"ada@{PREFIX}.example")
                    full.append((time.perf_counter() - started) * 1000)
                    raise _Rollback
            except _Rollback:
                pass

        print("bench: full routing timed", file=sys.stderr)
        # Concurrency: 8 processes, 60 tickets, capacities 3..6, one agent also busy elsewhere.
        capacities = [3, 4, 5, 6, 3, 4]
        agents = [_agent(f"a{i}", c, [team]) for i, c in enumerate(capacities)]
        agents[0].teams.add(other)
        Ticket.objects.create(subject=f"{PREFIX} other", channel=channel, customer=customer, team=other, assignee=agents[0].user, status="open", created_at=now, updated_at=now)
        queue = [
            Ticket.objects.create(subject=f"{PREFIX} q{i}", channel=channel, customer=customer, team=team, created_at=now, updated_at=now).pk
            for i in range(60)
        ]
        connections.close_all()
        started = time.perf_counter()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.workers) as pool:
            assigned = sum(pool.map(_worker, [(team.pk, queue[i :: args.workers]) for i in range(args.workers)]))
        seconds = time.perf_counter() - started
        loads = {a.user_id: Ticket.objects.filter(assignee=a.user, status__in=["new", "open"]).count() for a in agents}
        over = {str(a.user_id): loads[a.user_id] - a.capacity for a in agents if loads[a.user_id] > a.capacity}
        result = {
            "benchmark": "routing",
            "database": connection.vendor,
            "rules": args.rules,
            "messages": args.messages,
            "decision_ms": _percentiles(decision),
            "decision_p95_target_ms": 5,
            "decision_p95_ok": _percentiles(decision)["p95"] < 5,
            "full_routing_ms": _percentiles(full),
            "concurrency": {
                "workers": args.workers,
                "tickets": len(queue),
                "total_capacity": sum(capacities) - 1,
                "assigned": assigned,
                "agents_over_capacity": over,
                "ok": not over and assigned == sum(capacities) - 1,
                "seconds": round(seconds, 3),
            },
        }
    finally:
        _cleanup()
    print(json.dumps(result))


class _Rollback(Exception):
    pass


if __name__ == "__main__":
    main()
