"""The rules engine: facts about one ticket, the compiled rule set, one ordered pass.

One pass per trigger: every active rule for the trigger is tried once, in order, against
the ticket as the earlier rules left it. Changes the rules make never start another pass
(the tickets services call back into routing with the RULE actor, and routing runs no
rules for that), so a rule fires at most once per event per ticket: no loops. A rule that
raises is rolled back to its own savepoint, logged and recorded on the ticket, and the
pass goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils import timezone

from tickets import events
from tickets.events import RULE
from tickets.models import CustomerIdentity, Message, Ticket
from tickets.routing import business_hours, sla
from tickets.routing.models import Rule, SLAPolicy, TeamRouting
from tickets.routing.rules import CompiledRule, RuleDefinitionError, compile_actions, compile_conditions

logger = logging.getLogger(__name__)

CREATED, MESSAGE, UPDATED, SCHEDULE = "created", "message", "updated", "schedule"
TRIGGERS = (CREATED, MESSAGE, UPDATED, SCHEDULE)


# --- Facts ------------------------------------------------------------------------------


class TicketFacts:
    """The values conditions read, computed on first use (a rule set that never asks about
    tags never queries them) and cached until the ticket changes."""

    def __init__(
        self,
        ticket: Ticket,
        *,
        message: Message | None = None,
        sender_address: str = "",
        now: dt.datetime | None = None,
        survey: tuple[str, int] | None = None,
    ):
        self.ticket = ticket
        self.message = message
        # (kind, score) of the survey answer this pass runs for; None on every other pass,
        # so "survey_score lte 2" matches only when a survey has just been answered.
        self.survey = survey
        self.sender_address = sender_address.lower()
        self.now = now or timezone.now()
        self._cache: dict[str, Any] = {}
        # True while ``ticket`` is known to be the row as it stands (read in this
        # transaction, locked, and not changed since): an action may use it unread.
        self.ticket_is_current = False

    def refresh(self, ticket: Ticket) -> None:
        self.ticket = ticket
        self._cache.clear()

    def get(self, field: str) -> Any:
        try:
            return self._cache[field]
        except KeyError:
            value = self._cache[field] = getattr(self, f"_{field}")()
            return value

    def lower(self, field: str) -> str:
        """The field as lower-case text, computed once for all the rules that compare it."""
        key = f"lower:{field}"
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = (self.get(field) or "").lower()
            return value

    def _hours_since(self, at: dt.datetime | None) -> float | None:
        return None if at is None else (self.now - at).total_seconds() / 3600

    def _channel(self) -> int:
        return self.ticket.channel_id

    def _channel_kind(self) -> str:
        return self.ticket.channel.kind

    def _subject(self) -> str:
        return self.ticket.subject

    def _body(self) -> str:
        if self.message is not None:
            return self.message.text
        latest = (
            Message.objects.filter(ticket_id=self.ticket.pk, direction=Message.Direction.INBOUND)
            .order_by("-created_at", "-id")
            .values_list("text", flat=True)
            .first()
        )
        return latest or ""

    def _text(self) -> str:
        return f"{self.get('subject')}\n{self.get('body')}"

    def _sender_address(self) -> str:
        if self.sender_address:
            return self.sender_address
        address = (
            CustomerIdentity.objects.filter(customer_id=self.ticket.customer_id, kind=CustomerIdentity.Kind.EMAIL)
            .order_by("id")
            .values_list("address", flat=True)
            .first()
        )
        return (address or "").lower()

    def _sender_domain(self) -> str:
        address = self.get("sender_address")
        return address.rpartition("@")[2] if "@" in address else ""

    def _customer_tier(self) -> str:
        return self.ticket.customer.tier

    def _organization(self) -> int | None:
        return self.ticket.organization_id

    def _language(self) -> str:
        return ((self.message.language if self.message is not None else "") or self.ticket.language).lower()

    def _sentiment(self) -> float | None:
        if self.message is not None and self.message.sentiment is not None:
            return self.message.sentiment
        return self.ticket.sentiment

    def _priority(self) -> str:
        return self.ticket.priority

    def _status(self) -> str:
        return self.ticket.status

    def _tags(self) -> frozenset[str]:
        return frozenset(self.ticket.tags.values_list("name", flat=True))

    def _team(self) -> int | None:
        return self.ticket.team_id

    def _assignee(self) -> int | None:
        return self.ticket.assignee_id

    def _within_business_hours(self) -> bool:
        return business_hours.is_open(sla.team_calendar(self.ticket.team_id), self.now)

    def _hours_since_created(self) -> float | None:
        return self._hours_since(self.ticket.created_at)

    def _hours_since_customer_activity(self) -> float | None:
        return self._hours_since(self.ticket.last_customer_activity_at)

    def _hours_since_agent_activity(self) -> float | None:
        return self._hours_since(self.ticket.last_agent_activity_at)

    def _sla(self) -> str:
        return sla.state_of_ticket(self.ticket, now=self.now)

    def _survey_kind(self) -> str | None:
        return self.survey[0] if self.survey is not None else None

    def _survey_score(self) -> int | None:
        return self.survey[1] if self.survey is not None else None


# --- The compiled rule set and what routing needs to know of its setup, per process ----
#
# Checking the database for changes on every routing decision cost a round trip per
# message. Instead:
# * a change saved in this process (the admin, a shell, a test) is seen at once: the
#   models' save/delete signals drop the snapshot (see ``config_changed``); a change in
#   a transaction that is later rolled back is noticed and dropped as well;
# * a change saved by another process is seen within ROUTING_CONFIG_RECHECK_SECONDS
#   (default 1 s): that is how often one small query compares the tables' fingerprints;
# * the snapshot built inside a transaction that later rolls back is dropped (the
#   change's on-commit callback is discarded with it, which is how we notice).

_lock = threading.Lock()


@dataclass(frozen=True)
class Setup:
    """What routing needs to know before it reads anything about a ticket."""

    key: tuple[Any, ...]
    rules: tuple[CompiledRule, ...]
    has_sla_policies: bool  # no policy at all: no ticket can be under one, SLA work is skipped
    automatic_team_ids: frozenset[int]  # teams whose strategy is not manual


_state: dict[str, Any] = {"setup": None, "checked_at": 0.0, "pending": None, "stale": True}


def _fingerprint() -> tuple[Any, ...]:
    """Changes whenever a rule, an SLA policy or a team's strategy is added, edited or deleted."""
    # Plain SQL, one statement: the ORM's aggregate machinery costs more than the query.
    rule = connection.ops.quote_name(Rule._meta.db_table)
    policy = connection.ops.quote_name(SLAPolicy._meta.db_table)
    team = connection.ops.quote_name(TeamRouting._meta.db_table)
    with connection.cursor() as cursor:
        # Table names come from our own models, quoted; values are parameters.
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {rule}), (SELECT MAX(updated_at) FROM {rule}), (SELECT SUM(id) FROM {rule}),"  # noqa: S608
            f" (SELECT COUNT(*) FROM {policy}),"
            f" (SELECT COUNT(*) FROM {team} WHERE strategy <> %s), (SELECT SUM(team_id) FROM {team} WHERE strategy <> %s),"
            f" (SELECT SUM(team_id * team_id) FROM {team} WHERE strategy <> %s)",
            [TeamRouting.Strategy.MANUAL] * 3,
        )
        return tuple(cursor.fetchone())


def _recheck_seconds() -> float:
    return float(getattr(settings, "ROUTING_CONFIG_RECHECK_SECONDS", 1.0))


def _pending_rolled_back(marker: Any) -> bool:
    """True when the transaction that changed the setup ended without committing (its
    on-commit callback was discarded) or Django lost track of it."""
    conn = transaction.get_connection()
    return not conn.in_atomic_block or all(entry[1] is not marker for entry in conn.run_on_commit)


class _CommitMarker:
    def __call__(self) -> None:
        if _state["pending"] is self:
            _state["pending"] = None
        _state["stale"] = True


def config_changed(**_: Any) -> None:
    """A rule, SLA policy or team routing setting changed in this process: the next
    decision rebuilds the snapshot, and keeps checking until the change is committed."""
    _state["stale"] = True
    if transaction.get_connection().in_atomic_block:
        marker = _CommitMarker()
        _state["pending"] = marker
        transaction.on_commit(marker)


def _team_routing_saved(sender: Any, instance: TeamRouting, update_fields: Any = None, **kwargs: Any) -> None:
    # The round-robin pointer moves on every assignment: not a change of setup.
    if update_fields is not None and set(update_fields) <= {"last_assigned_user_id"}:
        return
    config_changed()


def connect_signals() -> None:
    for model in (Rule, SLAPolicy):
        post_save.connect(config_changed, sender=model, dispatch_uid=f"routing-config-{model.__name__}-save")
        post_delete.connect(config_changed, sender=model, dispatch_uid=f"routing-config-{model.__name__}-delete")
    post_save.connect(_team_routing_saved, sender=TeamRouting, dispatch_uid="routing-config-team-save")
    post_delete.connect(config_changed, sender=TeamRouting, dispatch_uid="routing-config-team-delete")
    post_migrate.connect(config_changed, dispatch_uid="routing-config-migrate")  # flush, migrate: tables rewritten


def _build(key: tuple[Any, ...]) -> Setup:
    rules = []
    for rule in Rule.objects.filter(is_active=True).order_by("position", "id"):
        try:
            rules.append(compile_rule(rule))
        except RuleDefinitionError as exc:  # saved around the admin's validation (a shell, a fixture)
            logger.warning("routing rule skipped: invalid definition", extra={"rule_id": rule.pk, "error": str(exc)})
    automatic = frozenset(
        TeamRouting.objects.exclude(strategy=TeamRouting.Strategy.MANUAL).values_list("team_id", flat=True)
    )
    return Setup(key=key, rules=tuple(rules), has_sla_policies=bool(key[3]), automatic_team_ids=automatic)


def cached_setup() -> Setup | None:
    """The snapshot if it can be used without asking the database, else None."""
    current: Setup | None = _state["setup"]
    if current is None or _state["stale"] or _state["pending"] is not None:
        return None
    return current if time.monotonic() - _state["checked_at"] < _recheck_seconds() else None


def setup() -> Setup:
    """The current snapshot; a database round trip only when it may be out of date."""
    current: Setup | None = _state["setup"]
    now = time.monotonic()
    pending = _state["pending"]
    if pending is not None and _pending_rolled_back(pending):
        _state["pending"], _state["stale"] = None, True
    if current is not None and not _state["stale"] and now - _state["checked_at"] < _recheck_seconds():
        return current
    # Stale is cleared before reading, so a change signalled meanwhile is not lost.
    _state["stale"] = False
    key = _fingerprint()
    if current is None or current.key != key:
        current = _build(key)
        with _lock:
            _state["setup"] = current
    _state["checked_at"] = now
    return current


def compile_rule(rule: Rule) -> CompiledRule:
    return CompiledRule(
        id=rule.pk,
        name=rule.name,
        match_any=rule.match == Rule.Match.ANY,
        predicates=tuple(compile_conditions(rule.conditions)),
        actions=tuple(compile_actions(rule.actions)),
        stop_processing=rule.stop_processing,
        on_created=rule.on_created,
        on_message=rule.on_message,
        on_updated=rule.on_updated,
        on_schedule=rule.on_schedule,
    )


def active_rules() -> tuple[CompiledRule, ...]:
    return setup().rules


def rules_for(trigger: str) -> list[CompiledRule]:
    return [r for r in active_rules() if getattr(r, f"on_{trigger}")]


# --- One pass -----------------------------------------------------------------------------

ActionRunner = Callable[[CompiledRule, dict[str, Any], TicketFacts], dict[str, Any]]


def run_pass(
    *,
    ticket: Ticket,
    trigger: str,
    run_action: ActionRunner,
    message: Message | None = None,
    sender_address: str = "",
    now: dt.datetime | None = None,
    rules: list[CompiledRule] | None = None,
    before_fire: Callable[[CompiledRule], bool] | None = None,
    facts: TicketFacts | None = None,
) -> list[int]:
    """Try each rule of the trigger once, in order; returns the ids of the rules that fired.

    ``facts`` (with ``ticket_is_current`` when the caller holds the ticket's row lock and
    has just read it) lets the caller see the ticket as the rules left it afterwards."""
    if facts is None:
        facts = TicketFacts(ticket, message=message, sender_address=sender_address, now=now)
    locked = facts.ticket_is_current  # the row stays locked: each re-read below is current too
    fired: list[int] = []
    for rule in rules if rules is not None else rules_for(trigger):
        try:
            if not rule.matches(facts):
                continue
        except Exception as exc:  # a condition that cannot be evaluated is the rule's failure, not ingestion's
            _record_failure(facts.ticket, rule, trigger, exc)
            continue
        if before_fire is not None and not before_fire(rule):
            continue
        changes: list[dict[str, Any]] = []
        try:
            with transaction.atomic():
                for index, action in enumerate(rule.actions):
                    # The first action sees the ticket as read; later ones, as the previous changed it.
                    facts.ticket_is_current = locked and index == 0
                    changes.append(run_action(rule, action, facts))
        except Exception as exc:
            _record_failure(facts.ticket, rule, trigger, exc)
            facts.refresh(Ticket.objects.select_related("channel", "customer").get(pk=facts.ticket.pk))
            continue
        events.rule_fired(facts.ticket, rule_id=rule.id, rule_name=rule.name, trigger=trigger, changes=changes)
        fired.append(rule.id)
        facts.refresh(Ticket.objects.select_related("channel", "customer").get(pk=facts.ticket.pk))
        if rule.stop_processing:
            break
    return fired


def _record_failure(ticket: Ticket, rule: CompiledRule, trigger: str, exc: Exception) -> None:
    logger.warning(
        "routing rule failed and was skipped",
        extra={"rule_id": rule.id, "ticket_id": ticket.pk, "trigger": trigger, "error": repr(exc)},
    )
    events.rule_fired(ticket, rule_id=rule.id, rule_name=rule.name, trigger=trigger, changes=[], error=f"{type(exc).__name__}: {exc}")


__all__ = ["RULE", "TRIGGERS", "Setup", "TicketFacts", "active_rules", "compile_rule", "config_changed", "run_pass", "rules_for", "setup"]
