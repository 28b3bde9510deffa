"""Routing's entry points, called by the ingestion pipeline, the tickets services, the
availability service and Celery beat.

Every entry point is safe to call in the middle of another service's transaction: its
work runs in a savepoint, and an error is logged and swallowed (a rule's failure never
blocks ingestion or an agent's change).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tickets import events
from tickets.events import RULE, SYSTEM, Actor
from tickets.models import AgentProfile, Message, Team, Ticket, TicketEvent
from tickets.placeholders import render_placeholders
from tickets.routing import assignment, engine, language, sla
from tickets.routing.models import RuleFiring, SLAPolicy, TeamRouting, TicketRouting
from tickets.routing.notifications import notify
from tickets.routing.rules import CompiledRule

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# How many of the latest customer messages the ticket's sentiment averages.
SENTIMENT_WINDOW = 3
SCHEDULE_BATCH = 500


def _never_raises(default: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run in a savepoint; log and swallow errors so the caller's work goes on."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except Exception:
                logger.exception("routing step failed; the ticket goes on unrouted", extra={"step": func.__name__})
                return default

        return wrapper

    return decorate


# --- Actions --------------------------------------------------------------------------


def _run_action(rule: CompiledRule, action: dict[str, Any], facts: engine.TicketFacts) -> dict[str, Any]:
    """Carry out one action through the tickets services (actor RULE); returns what changed."""
    from tickets import services as ticket_services

    if facts.ticket_is_current:
        ticket = facts.ticket
    else:
        ticket = Ticket.objects.select_related("channel", "customer").get(pk=facts.ticket.pk)
    kind = action["type"]
    change: dict[str, Any] = {"action": kind}
    if kind == "set_team":
        Team.objects.only("pk").get(pk=action["team"])  # a team deleted since the rule was saved fails the rule
        change.update({"from": ticket.team_id, "to": action["team"]})
        ticket_services.ticket_set_team(ticket=ticket, team_id=action["team"], actor=RULE)
    elif kind == "set_priority":
        change.update({"from": ticket.priority, "to": action["priority"]})
        ticket_services.ticket_set_priority(ticket=ticket, priority=action["priority"], actor=RULE)
    elif kind == "set_status":
        change.update({"from": ticket.status, "to": action["status"]})
        ticket_services.ticket_change_status(ticket=ticket, status=action["status"], actor=RULE)
    elif kind in ("add_tags", "remove_tags"):
        current = set(ticket.tags.values_list("name", flat=True))
        names = {t.strip().lower() for t in action["tags"]}
        wanted = current | names if kind == "add_tags" else current - names
        change["tags"] = sorted(names)
        ticket_services.ticket_set_tags(ticket=ticket, names=sorted(wanted), actor=RULE)
    elif kind == "assign_agent":
        user = get_user_model().objects.get(pk=action["user"], agent__isnull=False)
        change.update({"from": ticket.assignee_id, "to": user.pk})
        ticket_services.ticket_assign(ticket=ticket, assignee=user, actor=RULE)
    elif kind == "unassign":
        change.update({"from": ticket.assignee_id, "to": None})
        ticket_services.ticket_assign(ticket=ticket, assignee=None, actor=RULE)
    elif kind == "auto_assign":
        skills = sorted({s.strip().lower() for s in action.get("skills", [])})
        if skills:
            TicketRouting.objects.update_or_create(ticket_id=ticket.pk, defaults={"required_skills": skills})
        change["skills"] = skills
        if ticket.team_id is None:
            change["result"] = "no team"
        else:
            done = assignment.assign_tickets(
                team_id=ticket.team_id, ticket_ids=[ticket.pk], actor=RULE, strategy=action.get("strategy")
            )
            change["to"] = done.get(ticket.pk)
            change["result"] = "assigned" if done else "queued"
    elif kind == "apply_sla":
        policy = SLAPolicy.objects.get(pk=action["policy"])
        apply_sla_policy(ticket=ticket, policy=policy, actor=RULE)
        change["policy"] = policy.pk
    elif kind == "send_reply":
        if facts.message is not None and facts.message.is_auto_reply:
            change["result"] = "skipped: the customer's message is an automatic reply"
        else:
            subject = action.get("subject") or f"Re: {ticket.subject}"
            reply = ticket_services.message_send_automatic(
                ticket=ticket,
                subject=render_placeholders(subject, ticket=ticket),
                text=render_placeholders(action["text"], ticket=ticket),
            )
            change["message"] = reply.pk
    elif kind == "add_note":
        note = ticket_services.message_add_note(ticket=ticket, author=None, text=render_placeholders(action["text"], ticket=ticket))
        change["message"] = note.pk
    elif kind == "notify":
        text = render_placeholders(action["text"], ticket=ticket)
        change["to"] = notify(ticket=ticket, targets=action["to"], subject=f"[#{ticket.number}] {rule.name}", text=text)
    return change


def _run_rules(ticket: Ticket, trigger: str, *, message: Message | None = None, sender_address: str = "") -> list[int]:
    return engine.run_pass(ticket=ticket, trigger=trigger, run_action=_run_action, message=message, sender_address=sender_address)


# --- SLA ------------------------------------------------------------------------------


@transaction.atomic
def apply_sla_policy(*, ticket: Ticket, policy: SLAPolicy, actor: Actor = SYSTEM) -> TicketRouting:
    """Put a ticket under a policy: due times computed now and on every later change."""
    state, _ = TicketRouting.objects.get_or_create(ticket_id=ticket.pk)
    state = TicketRouting.objects.select_for_update(of=("self",)).select_related("sla_policy").get(pk=state.pk)
    state.sla_policy = policy
    state.warned, state.breached = [], []
    ticket = Ticket.objects.select_related("customer").get(pk=ticket.pk)
    sla.sync(ticket, state=state)
    due = {metric: (d.isoformat() if d else None) for metric, d in sla.due_times(state).items()}
    events.sla_applied(ticket, policy_id=policy.pk, policy_name=policy.name, due=due, actor=actor)
    return state


def _apply_sla_policy_to_new_ticket(*, ticket: Ticket, policy: SLAPolicy, actor: Actor) -> TicketRouting:
    """``apply_sla_policy`` for a ticket the pipeline has just opened and holds, which has
    no routing state yet (the caller has just looked): nobody else can see the ticket, so
    the state is inserted straight away, without get_or_create, re-reads or a savepoint."""
    state = TicketRouting(ticket_id=ticket.pk, sla_policy=policy)
    sla.sync(ticket, state=state)
    due = {metric: (d.isoformat() if d else None) for metric, d in sla.due_times(state).items()}
    events.sla_applied(ticket, policy_id=policy.pk, policy_name=policy.name, due=due, actor=actor)
    return state


def _default_policy(ticket: Ticket) -> SLAPolicy | None:
    if ticket.team_id is not None:
        settings = sla.team_settings(ticket.team_id)
        if settings is not None and settings.sla_policy is not None:
            return settings.sla_policy
    return SLAPolicy.objects.filter(is_default=True).first()


# --- Language and sentiment -------------------------------------------------------------


def analyse_message(message: Message, *, only_message: bool = False) -> None:
    """Fill the message's language and sentiment and roll them up onto its ticket.
    ``only_message``: the ticket holds no other message (the pipeline's new ticket), so
    the rolled-up sentiment is this message's and needs no query."""
    if message.direction != Message.Direction.INBOUND:
        return
    text = f"{message.subject}\n{message.text}" if message.subject else message.text
    message.language = language.detect_language(text)
    message.sentiment = language.score_sentiment(message.text or message.subject)
    Message.objects.filter(pk=message.pk).update(language=message.language, sentiment=message.sentiment)
    if message.is_auto_reply:
        return
    if only_message:
        scores = [message.sentiment] if message.sentiment is not None else []
    else:
        scores = [
            s
            for s in Message.objects.filter(ticket_id=message.ticket_id, direction=Message.Direction.INBOUND, is_auto_reply=False)
            .exclude(sentiment=None)
            .order_by("-created_at", "-id")
            .values_list("sentiment", flat=True)[:SENTIMENT_WINDOW]
        ]
    updates: dict[str, Any] = {"sentiment": round(sum(scores) / len(scores), 3) if scores else None}
    if message.language:
        updates["language"] = message.language
    Ticket.objects.filter(pk=message.ticket_id).update(**updates)


# --- Entry points ---------------------------------------------------------------------


def _ticket(ticket_id: int) -> Ticket:
    return Ticket.objects.select_related("channel", "customer").get(pk=ticket_id)


# While routing works on a ticket (a rules pass, an SLA policy, assignment), the changes
# its own actions make call back into ``on_ticket_updated`` with the RULE or SYSTEM actor;
# for those only the SLA clock would be recomputed, and the routing call recomputes it
# once at its end instead of after every change.
_routing_ticket_ids: ContextVar[frozenset[int]] = ContextVar("routing_ticket_ids", default=frozenset())


@contextlib.contextmanager
def _routing(ticket_id: int) -> Iterator[None]:
    token = _routing_ticket_ids.set(_routing_ticket_ids.get() | {ticket_id})
    try:
        with sla.memoized():
            yield
    finally:
        _routing_ticket_ids.reset(token)


def _locked_ticket(ticket_id: int) -> Ticket:
    """The ticket read under its row lock (the pipeline already holds it: no wait, no extra
    statement): nobody else can change it, so the rules' actions may use it unread."""
    return Ticket.objects.select_for_update(of=("self",)).select_related("channel", "customer").get(pk=ticket_id)


def _rules_pass(
    ticket: Ticket, trigger: str, rules: list[CompiledRule], *, message: Message | None, sender_address: str, locked: bool
) -> Ticket:
    """One pass over ``rules``; returns the ticket as the rules left it (the pass re-reads
    it after each rule that fired)."""
    if not rules:
        return ticket
    facts = engine.TicketFacts(ticket, message=message, sender_address=sender_address)
    facts.ticket_is_current = locked
    engine.run_pass(ticket=ticket, trigger=trigger, run_action=_run_action, rules=rules, facts=facts)
    return facts.ticket


def _route_new_ticket(
    ticket: Ticket, *, message: Message | None, sender_address: str, setup: engine.Setup, locked: bool = False
) -> tuple[Ticket, TicketRouting | None]:
    """The "created" rules, the default SLA policy, automatic assignment; returns the ticket
    as they left it and its routing state when it was read (None: read it again)."""
    ticket = _rules_pass(
        ticket, engine.CREATED, [r for r in setup.rules if r.on_created], message=message, sender_address=sender_address, locked=locked
    )
    state = None
    if setup.has_sla_policies:
        state = TicketRouting.objects.select_related("sla_policy").filter(ticket_id=ticket.pk).first()
        if state is None or state.sla_policy_id is None:
            policy = _default_policy(ticket)
            if policy is not None:
                if state is None and locked:
                    state = _apply_sla_policy_to_new_ticket(ticket=ticket, policy=policy, actor=SYSTEM)
                else:
                    state = apply_sla_policy(ticket=ticket, policy=policy, actor=SYSTEM)
                # What the policy stored on the ticket row, so no re-read is needed.
                ticket.sla_first_response_due_at = state.first_response_due_at
                ticket.sla_resolution_due_at = state.resolution_due_at
    # A manual team (or one with no routing settings) assigns nobody: no need to lock it.
    if ticket.team_id in setup.automatic_team_ids and ticket.assignee_id is None:
        if assignment.assign_tickets(team_id=ticket.team_id, ticket_ids=[ticket.pk]):
            ticket = _ticket(ticket.pk)
    return ticket, state


@_never_raises()
def on_message_received(*, ticket: Ticket, message: Message, is_new_ticket: bool, sender_address: str = "") -> None:
    """The pipeline, after a customer's message is stored: language and sentiment, then the
    "created" rules for a new ticket (default SLA, automatic assignment) or the "message"
    rules for a reply (skipped for automatic replies), then the SLA clock.

    Work that cannot change anything is skipped: with no rules for the trigger, no SLA
    policy anywhere and no automatic team, only language and sentiment are stored."""
    analyse_message(message, only_message=is_new_ticket)
    setup = engine.setup()
    if is_new_ticket:
        busy = (
            setup.has_sla_policies
            or any(r.on_created for r in setup.rules)
            or (ticket.team_id is not None and ticket.team_id in setup.automatic_team_ids)
        )
    else:
        busy = setup.has_sla_policies or (not message.is_auto_reply and any(r.on_message for r in setup.rules))
    if not busy:
        return
    with _routing(ticket.pk):
        ticket = _locked_ticket(ticket.pk)
        state = None
        if is_new_ticket:
            ticket, state = _route_new_ticket(ticket, message=message, sender_address=sender_address, setup=setup, locked=True)
        elif not message.is_auto_reply:
            rules = [r for r in setup.rules if r.on_message]
            ticket = _rules_pass(ticket, engine.MESSAGE, rules, message=message, sender_address=sender_address, locked=True)
        # A new ticket's state was just read (None: it has none, so no clock to run).
        if setup.has_sla_policies and (state is not None or not is_new_ticket):
            sla.sync(ticket, state=state, state_is_stored=True)


@_never_raises()
def on_ticket_created(*, ticket: Ticket, message: Message | None = None) -> None:
    """A ticket opened outside the pipeline (an agent, the API): same as a new inbound ticket."""
    if message is not None:
        analyse_message(message)
    _route_new_ticket(_ticket(ticket.pk), message=message, sender_address="", setup=engine.setup())
    sla.sync(_ticket(ticket.pk))


def on_ticket_updated(*, ticket: Ticket, changed: Sequence[str], actor: Actor) -> None:
    """The tickets services, after a change: the "updated" rules run for changes made by
    people (never for the rules' own or the system's changes: no loops); the SLA clock is
    recomputed for every change; a ticket moved to an automatic team with nobody on it is
    assigned.

    Skipped without a query (not even a savepoint) when that cannot change anything: a
    change made by routing's own work on this ticket (the SLA clock is recomputed at the
    end of it), or no "updated" rules, no SLA policy and no automatic team to assign in."""
    people = actor.kind in (TicketEvent.ActorKind.AGENT, TicketEvent.ActorKind.CUSTOMER)
    if not people and ticket.pk in _routing_ticket_ids.get():
        return
    setup = engine.cached_setup()
    if setup is not None and not setup.has_sla_policies:
        if not people:
            return
        if not any(r.on_updated for r in setup.rules) and not ("team" in changed and setup.automatic_team_ids):
            return
    _on_ticket_updated(ticket=ticket, changed=changed, actor=actor)


@_never_raises()
def _on_ticket_updated(*, ticket: Ticket, changed: Sequence[str], actor: Actor) -> None:
    ticket = _ticket(ticket.pk)
    if actor.kind in (TicketEvent.ActorKind.AGENT, TicketEvent.ActorKind.CUSTOMER):
        _run_rules(ticket, engine.UPDATED)
        ticket = _ticket(ticket.pk)
        if "team" in changed and ticket.team_id is not None and ticket.assignee_id is None:
            assignment.assign_tickets(team_id=ticket.team_id, ticket_ids=[ticket.pk])
            ticket = _ticket(ticket.pk)
    sla.sync(ticket)


@_never_raises()
def on_survey_answered(*, ticket: Ticket, kind: str, score: int) -> None:
    """A customer answered a survey about the ticket (metrics.surveys): the "updated" rules
    run once with ``survey_kind`` and ``survey_score`` set, so a rule such as "survey_score
    lte 2: notify the team" fires on a low rating (and on no other update)."""
    rules = [r for r in engine.setup().rules if r.on_updated]
    if not rules:
        return
    with _routing(ticket.pk):
        facts = engine.TicketFacts(_ticket(ticket.pk), survey=(kind, score))
        fired = engine.run_pass(ticket=facts.ticket, trigger="survey", run_action=_run_action, rules=rules, facts=facts)
        if fired:
            sla.sync(_ticket(ticket.pk))


def on_agent_available(agent_id: int) -> int:
    """An agent (AgentProfile id) became available: their automatic teams' queues are
    offered to them and their colleagues, highest priority then oldest first. Returns how
    many tickets were assigned."""
    team_ids = list(AgentProfile.objects.filter(pk=agent_id).values_list("teams", flat=True))
    total = 0
    for team_id in team_ids:
        if team_id is not None:
            total += len(_sweep(team_id) or {})
    return total


@_never_raises(default={})
def _sweep(team_id: int) -> dict[int, int]:
    return assignment.assign_tickets(team_id=team_id)


@transaction.atomic
def on_agent_unavailable(agent_id: int) -> int:
    """An agent (AgentProfile id) went away or offline: in teams that hand back, their new
    and open tickets return to the queue and go to available colleagues (or wait there).
    Returns how many tickets were handed back."""
    from tickets.services import ticket_assign

    profile = AgentProfile.objects.filter(pk=agent_id).select_related("user").first()
    if profile is None:
        return 0
    team_ids = list(
        TeamRouting.objects.filter(team__agents=profile, hand_back_when_unavailable=True).values_list("team_id", flat=True)
    )
    handed_back = 0
    for team_id in team_ids:
        tickets = Ticket.objects.filter(team_id=team_id, assignee_id=profile.user_id, status__in=assignment.QUEUE_STATUSES)
        for ticket in tickets.order_by("id"):
            ticket_assign(ticket=ticket, assignee=None, actor=SYSTEM)
            handed_back += 1
        _sweep(team_id)
    return handed_back


# --- Beat -------------------------------------------------------------------------------


def sla_check(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Warn before breaches and escalate on them. Returns (warnings, breaches)."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=1)  # no policy warns a day ahead; bounded scan
    ids = list(
        TicketRouting.objects.filter(sla_policy__isnull=False, paused_at__isnull=True)
        .filter(Q(first_response_due_at__lte=horizon) | Q(next_response_due_at__lte=horizon) | Q(resolution_due_at__lte=horizon))
        .filter(ticket__status__in=Ticket.UNSOLVED_STATUSES)
        .values_list("ticket_id", flat=True)
    )
    warnings = breaches = 0
    for ticket_id in ids:
        w, b = _sla_check_one(ticket_id, now) or (0, 0)
        warnings, breaches = warnings + w, breaches + b
    return warnings, breaches


@_never_raises()
def _sla_check_one(ticket_id: int, now: dt.datetime) -> tuple[int, int]:
    from tickets import services as ticket_services

    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("customer", "channel").get(pk=ticket_id)
    state = TicketRouting.objects.select_for_update(of=("self",)).select_related("sla_policy").get(ticket_id=ticket_id)
    to_warn, to_breach = sla.due_metrics(state, now=now)
    if not to_warn and not to_breach:
        return 0, 0
    sla.mark(state, warned=to_warn, breached=to_breach)
    policy = state.sla_policy
    assert policy is not None
    for metric, due in to_warn:
        notify(
            ticket=ticket,
            targets=["assignee"] if ticket.assignee_id else ["team"],
            subject=f"[#{ticket.number}] SLA at risk: {metric.replace('_', ' ')}",
            text=f"Ticket #{ticket.number} ({ticket.subject}) is due for {metric.replace('_', ' ')} at {due.isoformat()}.",
        )
    for metric, due in to_breach:
        events.sla_breached(ticket, metric=metric, due_at=due, policy_id=policy.pk)
        if policy.breach_notify:
            notify(
                ticket=ticket,
                targets=["assignee", "managers"],
                subject=f"[#{ticket.number}] SLA breached: {metric.replace('_', ' ')}",
                text=f"Ticket #{ticket.number} ({ticket.subject}) missed its {metric.replace('_', ' ')} target ({due.isoformat()}).",
            )
    if to_breach and policy.breach_raise_priority:
        order = list(Ticket.Priority.values)
        higher = order[min(order.index(ticket.priority) + 1, len(order) - 1)]
        if higher != ticket.priority:
            ticket = ticket_services.ticket_set_priority(ticket=ticket, priority=higher, actor=SYSTEM)
    if to_breach and policy.breach_reassign and ticket.team_id is not None and ticket.assignee_id is not None:
        previous = ticket.assignee_id
        ticket_services.ticket_assign(ticket=ticket, assignee=None, actor=SYSTEM)
        done = assignment.assign_tickets(team_id=ticket.team_id, ticket_ids=[ticket.pk], exclude_user_ids=[previous])
        if not done:  # nobody else free: better the agent who had it than nobody
            ticket_services.ticket_assign(ticket=ticket, assignee=get_user_model().objects.get(pk=previous), actor=SYSTEM)
    return len(to_warn), len(to_breach)


def run_scheduled_rules(*, now: dt.datetime | None = None) -> int:
    """Time-based rules over every unsolved ticket; each rule fires at most once per
    ticket (a RuleFiring row claims it). Returns how many times rules fired."""
    now = now or timezone.now()
    rules = engine.rules_for(engine.SCHEDULE)
    if not rules:
        return 0
    done = set(RuleFiring.objects.filter(rule_id__in=[r.id for r in rules]).values_list("rule_id", "ticket_id"))
    tickets = Ticket.objects.filter(status__in=Ticket.UNSOLVED_STATUSES).select_related("channel", "customer").order_by("id")
    fired = 0
    for ticket in tickets.iterator(chunk_size=SCHEDULE_BATCH):
        pending = [r for r in rules if (r.id, ticket.pk) not in done]
        if pending:
            fired += _scheduled_rules_on(ticket, pending, now) or 0
    return fired


@_never_raises(default=0)
def _scheduled_rules_on(ticket: Ticket, rules: list[CompiledRule], now: dt.datetime) -> int:
    def claim(compiled: CompiledRule) -> bool:
        try:
            with transaction.atomic():
                RuleFiring.objects.create(rule_id=compiled.id, ticket_id=ticket.pk, fired_at=now)
        except IntegrityError:  # another worker's tick got there first
            return False
        return True

    fired = engine.run_pass(ticket=ticket, trigger=engine.SCHEDULE, run_action=_run_action, now=now, rules=rules, before_fire=claim)
    return len(fired)


def routing_tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    warnings, breaches = sla_check(now=now)
    fired = run_scheduled_rules(now=now)
    assigned = assignment.sweep_all_queues(now=now)
    return {"sla_warnings": warnings, "sla_breaches": breaches, "scheduled_rules_fired": fired, "assigned_from_queue": assigned}
