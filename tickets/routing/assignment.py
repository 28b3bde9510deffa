"""Automatic assignment: round robin, least loaded and skills, safe under parallel workers.

Locks are always taken in one order: the team's TeamRouting row, then its available
agents' profiles (ordered by id), then tickets. Holding the team row serialises
assignment within a team (so the round-robin pointer never skips or doubles a turn);
holding the agents' rows serialises teams that share an agent (so two teams never push
one agent past capacity). Loads are counted after the locks are held, so they include
every assignment committed before. Queue sweeps lock tickets with SKIP LOCKED: a ticket
that the pipeline is still writing is left for the next sweep instead of deadlocking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone

from tickets.events import SYSTEM, Actor
from tickets.models import AgentProfile, Ticket
from tickets.routing import business_hours, sla
from tickets.routing.models import TeamRouting, TicketRouting

# Tickets that count against an agent's capacity: the ones waiting for them to act.
LOAD_STATUSES = (Ticket.Status.NEW, Ticket.Status.OPEN)
# Tickets a queue sweep hands out.
QUEUE_STATUSES = (Ticket.Status.NEW, Ticket.Status.OPEN)
PRIORITY_RANK = Case(
    When(priority=Ticket.Priority.URGENT, then=Value(3)),
    When(priority=Ticket.Priority.HIGH, then=Value(2)),
    When(priority=Ticket.Priority.NORMAL, then=Value(1)),
    default=Value(0),
    output_field=IntegerField(),
)
SWEEP_LIMIT = 200


@dataclass
class Candidate:
    user_id: int
    capacity: int
    skills: frozenset[str]
    load: int
    user: object


def choose(
    candidates: Sequence[Candidate],
    *,
    strategy: str,
    skills: Iterable[str] = (),
    vip_user_ids: frozenset[int] = frozenset(),
    is_vip: bool = False,
    exclude_user_ids: Iterable[int] = (),
    last_user_id: int | None = None,
) -> Candidate | None:
    """Pick an agent: below capacity, with the skills asked for, VIP group first for VIPs."""
    excluded = set(exclude_user_ids)
    pool = [c for c in candidates if c.load < c.capacity and c.user_id not in excluded]
    wanted = {s.strip().lower() for s in skills if s.strip()}
    if wanted:
        pool = [c for c in pool if wanted <= c.skills]
    if is_vip and vip_user_ids:
        pool = [c for c in pool if c.user_id in vip_user_ids] or pool
    if not pool:
        return None
    if strategy == TeamRouting.Strategy.ROUND_ROBIN:
        ordered = sorted(pool, key=lambda c: c.user_id)
        if last_user_id is not None:
            for candidate in ordered:
                if candidate.user_id > last_user_id:
                    return candidate
        return ordered[0]
    return min(pool, key=lambda c: (c.load, c.user_id))


def _lock_team(team_id: int) -> TeamRouting:
    locked = TeamRouting.objects.select_for_update(of=("self",)).select_related("business_hours")
    row = locked.filter(team_id=team_id).first()  # one statement when the row exists, as it mostly does
    if row is not None:
        return row
    TeamRouting.objects.get_or_create(team_id=team_id)
    return locked.get(team_id=team_id)


def _lock_candidates(team_id: int) -> list[Candidate]:
    profiles = list(
        AgentProfile.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(teams=team_id, availability=AgentProfile.Availability.AVAILABLE, user__is_active=True)
        .order_by("id")
    )
    user_ids = [p.user_id for p in profiles]
    loads = dict(
        Ticket.objects.filter(assignee_id__in=user_ids, status__in=LOAD_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    return [
        Candidate(
            user_id=p.user_id,
            capacity=p.capacity,
            skills=frozenset(str(s).strip().lower() for s in (p.skills or [])),
            load=loads.get(p.user_id, 0),
            user=p.user,
        )
        for p in profiles
    ]


def _vip_user_ids(settings: TeamRouting) -> frozenset[int]:
    if settings.vip_group_id is None:
        return frozenset()
    return frozenset(get_user_model().objects.filter(groups=settings.vip_group_id).values_list("id", flat=True))


def assign_tickets(
    *,
    team_id: int,
    ticket_ids: Sequence[int] | None = None,
    actor: Actor = SYSTEM,
    strategy: str | None = None,
    skills: Sequence[str] = (),
    exclude_user_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> dict[int, int]:
    """Assign the given tickets of a team, or its queue (highest priority, then oldest,
    first) when ``ticket_ids`` is None. Returns ticket id -> user id for those assigned;
    the rest stay in the queue. Nothing happens for a manual team or outside its hours."""
    from tickets.services import ticket_assign  # the tickets services call back into routing

    now = now or timezone.now()
    assigned: dict[int, int] = {}
    # No savepoint of its own: every caller runs it in one (routing's entry points) or in
    # a transaction of its own, and an error here is theirs to roll back.
    with transaction.atomic(savepoint=False):
        settings = _lock_team(team_id)
        strategy = strategy or settings.strategy
        if strategy == TeamRouting.Strategy.MANUAL:
            return assigned
        if not business_hours.is_open(sla.calendar_of(settings.business_hours), now):
            return assigned
        candidates = _lock_candidates(team_id)
        if not any(c.load < c.capacity for c in candidates):
            return assigned
        tickets = Ticket.objects.select_related("customer").filter(
            team_id=team_id, assignee__isnull=True, status__in=QUEUE_STATUSES
        )
        if ticket_ids is None:
            tickets = (
                tickets.annotate(rank=PRIORITY_RANK)
                .order_by("-rank", "created_at", "id")
                .select_for_update(skip_locked=True, of=("self",))[:SWEEP_LIMIT]
            )
        else:
            tickets = tickets.filter(pk__in=ticket_ids).order_by("id").select_for_update(of=("self",))
        rows = list(tickets)
        required = dict(TicketRouting.objects.filter(ticket_id__in=[t.pk for t in rows]).values_list("ticket_id", "required_skills"))
        vip_ids = _vip_user_ids(settings)
        for ticket in rows:
            chosen = choose(
                candidates,
                strategy=strategy,
                skills=[*skills, *(required.get(ticket.pk) or [])],
                vip_user_ids=vip_ids,
                is_vip=ticket.customer.is_vip,
                exclude_user_ids=exclude_user_ids,
                last_user_id=settings.last_assigned_user_id,
            )
            if chosen is None:
                continue
            ticket_assign(ticket=ticket, assignee=chosen.user, actor=actor)
            chosen.load += 1
            settings.last_assigned_user_id = chosen.user_id
            assigned[ticket.pk] = chosen.user_id
        if assigned:
            settings.save(update_fields=["last_assigned_user_id"])
    return assigned


def sweep_all_queues(*, now: dt.datetime | None = None) -> int:
    """Beat: every automatic team's waiting tickets get their chance (an agent came back,
    business hours began, a ticket was handed back). Returns how many were assigned."""
    team_ids = (
        Ticket.objects.filter(team__isnull=False, assignee__isnull=True, status__in=QUEUE_STATUSES)
        .exclude(team__routing__strategy=TeamRouting.Strategy.MANUAL)
        .exclude(team__routing__isnull=True)
        .values_list("team_id", flat=True)
        .distinct()
    )
    return sum(len(assign_tickets(team_id=team_id, now=now)) for team_id in list(team_ids))
