"""Parallel worker processes on PostgreSQL never push an agent past capacity and never
skip or double a round-robin turn (row locks on the team's routing row and its agents)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import full_mode_only
from tests.factories import AgentFactory, TeamFactory, TeamRoutingFactory, TicketFactory
from tickets.models import Ticket, TicketEvent

pytestmark = [full_mode_only, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8


def run_workers(team_id: int, ticket_ids: list[int], tmp_path: Path) -> list[int]:
    """One OS process per share of the tickets, all released at the same instant."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    go = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": url, "ASSIGN_GO_FILE": str(go), "SECRET_KEY": os.environ.get("SECRET_KEY", "x")}
    shares = [ticket_ids[i::WORKERS] for i in range(WORKERS)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.routing.assign_worker", str(team_id), *map(str, share)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for share in shares
    ]
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        results.append(int(out.strip().splitlines()[-1]))
    return results


def test_parallel_workers_never_assign_beyond_capacity(tmp_path):
    row = TeamRoutingFactory(strategy="least_loaded")
    agents = [AgentFactory(capacity=c) for c in (3, 5, 4, 6)]
    for agent in agents:
        agent.teams.add(row.team)
    # An agent shared with a second team that is busy too: capacity holds across teams.
    other = TeamRoutingFactory(strategy="least_loaded", team=TeamFactory())
    agents[0].teams.add(other.team)
    TicketFactory(team=other.team, assignee=agents[0].user, status="open")
    tickets = [TicketFactory(team=row.team).pk for _ in range(40)]

    assigned = run_workers(row.team_id, tickets, tmp_path)

    loads = {a.user_id: Ticket.objects.filter(assignee=a.user, status__in=["new", "open"]).count() for a in agents}
    assert loads == {a.user_id: a.capacity for a in agents}
    assert sum(assigned) == 3 + 5 + 4 + 6 - 1
    assert Ticket.objects.filter(pk__in=tickets, assignee__isnull=True).count() == 40 - sum(assigned)


def test_parallel_round_robin_neither_skips_nor_doubles_a_turn(tmp_path):
    row = TeamRoutingFactory(strategy="round_robin")
    agents = [AgentFactory(capacity=100) for _ in range(4)]
    for agent in agents:
        agent.teams.add(row.team)
    tickets = [TicketFactory(team=row.team).pk for _ in range(48)]

    assert sum(run_workers(row.team_id, tickets, tmp_path)) == 48

    # In commit order, the assignments cycle through the agents without a gap or repeat.
    order = list(
        TicketEvent.objects.filter(ticket_id__in=tickets, kind=TicketEvent.Kind.ASSIGNED).order_by("id").values_list("data__to", flat=True)
    )
    ids = sorted(a.user_id for a in agents)
    assert order == [ids[i % 4] for i in range(48)]
