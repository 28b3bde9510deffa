"""Reads for routing's admin pages and for other parts (the inbox's SLA badge)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from tickets.models import Ticket
from tickets.routing import engine, sla
from tickets.routing.models import Rule, TicketRouting
from tickets.routing.rules import RuleDefinitionError


@dataclass(frozen=True)
class DryRunRow:
    ticket: Ticket
    matched: bool
    error: str = ""


def rule_dry_run(*, rule: Rule, limit: int = 100, now: dt.datetime | None = None) -> list[DryRunRow]:
    """Which of the latest ``limit`` tickets would this rule's conditions match now? Reads only."""
    compiled = engine.compile_rule(rule)  # raises RuleDefinitionError for an invalid rule
    now = now or timezone.now()
    rows = []
    tickets = Ticket.objects.select_related("channel", "customer", "team", "assignee").order_by("-created_at", "-id")[:limit]
    for ticket in tickets:
        try:
            matched = compiled.matches(engine.TicketFacts(ticket, now=now))
            rows.append(DryRunRow(ticket=ticket, matched=matched))
        except Exception as exc:  # shown on the page, next to the ticket it failed on
            rows.append(DryRunRow(ticket=ticket, matched=False, error=f"{type(exc).__name__}: {exc}"))
    return rows


def sla_status(*, ticket: Ticket, now: dt.datetime | None = None) -> str:
    """none, paused, ok, at_risk or breached."""
    return sla.state_of_ticket(ticket, now=now or timezone.now())


def sla_statuses(*, ticket_ids: list[int], now: dt.datetime | None = None) -> dict[int, str]:
    """The SLA state of many tickets in one query (for list pages)."""
    now = now or timezone.now()
    states = TicketRouting.objects.select_related("sla_policy").filter(ticket_id__in=ticket_ids)
    return {s.ticket_id: sla.state_of(s, now=now) for s in states}


__all__ = ["DryRunRow", "RuleDefinitionError", "rule_dry_run", "sla_status", "sla_statuses"]
