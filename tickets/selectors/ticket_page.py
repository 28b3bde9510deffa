"""Reads of the ticket page: the timeline, the SLA clock, the choices of its editors, macros.

The timeline is messages and events interleaved by time in a fixed number of queries,
however long the conversation: messages with their authors (1) and attachments (1),
events with their actors (1), then the users and teams the events name (at most 1 each,
none when the page already holds them: the editors' agent and team lists).

The ticket itself is read once with everything the page shows of it (``ticket_page_get``):
customer, organization, channel, team, assignee, tags, the customer's
identities, and when this user last read it (so opening an already-read ticket writes
nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from tickets.models import (
    AgentProfile,
    CustomerIdentity,
    Macro,
    Message,
    Tag,
    Team,
    Ticket,
    TicketEvent,
    TicketReadState,
)
from tickets.placeholders import agent_display_name, render_placeholders

# Events the page does not show as lines of their own: the message itself is the line.
_HIDDEN_EVENTS = (TicketEvent.Kind.MESSAGE_ADDED,)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the conversation: a message, or an event described in words."""

    at: dt.datetime
    message: Message | None = None
    event: TicketEvent | None = None
    text: str = ""
    actor: str = ""
    # Another ticket the event is about (a merge, a split): shown as a link.
    link_number: int | None = None

    @property
    def is_message(self) -> bool:
        return self.message is not None


def _actor_name(event: TicketEvent) -> str:
    if event.actor_user is not None:
        return agent_display_name(event.actor_user)
    if event.actor_customer is not None:
        return str(event.actor_customer)
    return {TicketEvent.ActorKind.RULE: "A rule", TicketEvent.ActorKind.CUSTOMER: "The customer"}.get(
        event.actor_kind, "Parley"
    )


def _label(choices: Any, value: Any) -> str:
    return dict(choices).get(value, str(value or "—"))


def _describe(event: TicketEvent, users: dict[int, str], teams: dict[int, str]) -> tuple[str, int | None]:
    """The event in words (plain text; the template escapes it) and a ticket it links to."""
    data = event.data or {}
    kind = TicketEvent.Kind
    if event.kind == kind.CREATED:
        return ("Ticket split off into a new ticket" if data.get("split_from") else "Ticket opened"), None
    if event.kind == kind.STATUS_CHANGED:
        return f"Status {_label(Ticket.Status.choices, data.get('from'))} → {_label(Ticket.Status.choices, data.get('to'))}", None
    if event.kind == kind.REOPENED:
        return "Reopened", None
    if event.kind == kind.PRIORITY_CHANGED:
        return (
            f"Priority {_label(Ticket.Priority.choices, data.get('from'))} → {_label(Ticket.Priority.choices, data.get('to'))}",
            None,
        )
    if event.kind == kind.ASSIGNED:
        to = data.get("to")
        return (f"Assigned to {users.get(to, 'a former agent')}" if to else "Unassigned"), None
    if event.kind == kind.TEAM_CHANGED:
        to = data.get("to")
        return (f"Moved to team {teams.get(to, 'a deleted team')}" if to else "Removed from its team"), None
    if event.kind == kind.TAGS_CHANGED:
        parts = []
        if data.get("added"):
            parts.append("added " + ", ".join(data["added"]))
        if data.get("removed"):
            parts.append("removed " + ", ".join(data["removed"]))
        return "Tags " + "; ".join(parts or ["changed"]), None
    if event.kind == kind.MERGED:
        number, moved = data.get("other_number"), data.get("moved_messages", 0)
        if data.get("role") == "source":
            return f"Merged into #{number}", number
        return f"#{number} merged into this ticket ({moved} message{'s' if moved != 1 else ''} moved)", number
    if event.kind == kind.SPLIT:
        number = data.get("other_number")
        if data.get("role") == "original":
            return f"A message was split off into #{number}", number
        return f"Split from #{number}", number
    if event.kind == kind.MACRO_APPLIED:
        return f"Macro “{data.get('name', '')}” applied", None
    if event.kind == kind.RULE_FIRED:
        return f"Rule “{data.get('name') or data.get('rule', '')}” fired", None
    if event.kind == kind.SLA_APPLIED:
        return f"SLA policy “{data.get('name') or data.get('policy', '')}” applied", None
    if event.kind == kind.SLA_BREACHED:
        target = str(data.get("target") or data.get("metric") or "").replace("_", " ")
        return f"SLA breached{': ' + target if target else ''}", None
    if event.kind == kind.DELIVERY_FAILED:
        return f"Delivery failed: {data.get('error', '')}", None
    if event.kind == kind.CUSTOMER_CHANGED:
        return "Customer changed", None
    if event.kind == kind.SURVEY_ANSWERED:
        # metrics.surveys: "CSAT 2/5 (was 4) via email: “too slow”"
        survey, score = str(data.get("kind") or "survey"), data.get("score")
        scale = {"csat": "/5", "nps": "/10", "ces": "/7"}.get(survey, "")
        text = f"{survey.upper()} rating {score}{scale}"
        if data.get("previous") is not None and data.get("previous") != score:
            text += f" (changed from {data['previous']})"
        if data.get("source"):
            text += f" via {data['source']}"
        return (f"{text}: “{data['comment']}”" if data.get("comment") else text), None
    return event.get_kind_display(), None


def ticket_page_get(*, user: Any, number: int, tickets: QuerySet[Ticket] | None = None) -> Ticket | None:
    """The ticket as the page shows it, or None (not there, or not visible to ``user``).

    Three queries: the ticket with its relations and ``viewer_last_read_at`` (this user's
    read marker, None if never opened), then its tags and the customer's identities (in the
    customer panel's order; the CC suggestion reads them too). Not the rarely set linked
    ticket: one more join on the 24-index ticket table tripled the time PostgreSQL took to
    plan this query (~4 → ~13 ms under load); the template reads it only when set.
    ``tickets`` is the caller's ``visible_tickets(user)`` when it has one."""
    from tickets.selectors.workspace import visible_tickets

    read_at = TicketReadState.objects.filter(user_id=user.pk, ticket=OuterRef("pk")).values("last_read_at")[:1]
    identities = CustomerIdentity.objects.order_by("kind", "-is_verified", "address")
    return (
        (tickets if tickets is not None else visible_tickets(user))
        .select_related("customer", "customer__organization", "channel", "team", "assignee")
        .prefetch_related("tags", Prefetch("customer__identities", queryset=identities))
        .annotate(viewer_last_read_at=Subquery(read_at))
        .filter(number=number)
        .first()
    )


def ticket_needs_read_mark(*, ticket: Ticket) -> bool:
    """Whether opening the page must move the user's read marker: never read, or changed
    (or written to by the customer) since. A ticket read without ``ticket_page_get`` does
    not know, so it says yes. Skipping the write keeps a page view free of a commit."""
    seen = getattr(ticket, "viewer_last_read_at", _UNKNOWN)
    if seen is _UNKNOWN or seen is None:
        return True
    latest = max((t for t in (ticket.updated_at, ticket.last_customer_activity_at) if t is not None), default=None)
    return latest is not None and seen < latest


_UNKNOWN = object()


def ticket_page_timeline(
    *,
    ticket: Ticket,
    user_names: dict[int, str] | None = None,
    team_names: dict[int, str] | None = None,
) -> list[TimelineEntry]:
    """Messages and events of a ticket, oldest first, in at most five queries.

    ``user_names``/``team_names``: names the caller already holds (user id -> display
    name, team id -> name); only the ids the events name beyond those are queried."""
    # Attachments as a plain list per message (``timeline_attachments``): a prefetch into
    # ``message.attachments.all()`` builds a filtered queryset per message (~0.1 ms each,
    # 3 ms for 30 messages) that the page never uses as a queryset.
    messages = list(
        ticket.messages.select_related("author_customer", "author_user", "author_user__agent")
        .prefetch_related(Prefetch("attachments", to_attr="timeline_attachments"))
        .order_by("created_at", "id")
    )
    for message in messages:
        message.ticket = ticket  # the body renderer links inline images through the ticket
    ticket_events = list(
        ticket.events.exclude(kind__in=_HIDDEN_EVENTS)
        .select_related("actor_user", "actor_user__agent", "actor_customer")
        .order_by("created_at", "id")
    )
    user_ids = {e.data.get("to") for e in ticket_events if e.kind == TicketEvent.Kind.ASSIGNED and isinstance(e.data, dict)}
    team_ids = {e.data.get("to") for e in ticket_events if e.kind == TicketEvent.Kind.TEAM_CHANGED and isinstance(e.data, dict)}
    user_ids = {i for i in user_ids if isinstance(i, int)}
    team_ids = {i for i in team_ids if isinstance(i, int)}
    users = {i: user_names[i] for i in user_ids if i in user_names} if user_names else {}
    teams = {i: team_names[i] for i in team_ids if i in team_names} if team_names else {}
    user_ids -= users.keys()
    team_ids -= teams.keys()
    if user_ids:
        users |= {u.pk: agent_display_name(u) for u in get_user_model().objects.filter(pk__in=user_ids).select_related("agent")}
    if team_ids:
        teams |= dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))

    entries = [TimelineEntry(at=m.created_at, message=m) for m in messages]
    for event in ticket_events:
        text, link = _describe(event, users, teams)
        entries.append(TimelineEntry(at=event.created_at, event=event, text=text, actor=_actor_name(event), link_number=link))
    # Stable: at the same instant a message comes before the events it caused.
    entries.sort(key=lambda e: (e.at, 1 if e.event is not None else 0))
    return entries


# --- SLA clock -------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@dataclass(frozen=True)
class SlaClock:
    label: str
    due_at: dt.datetime
    # "running" (time left), "overdue", "met" or "missed" (done in time or late)
    state: str
    text: str


def sla_clock(*, ticket: Ticket, now: dt.datetime | None = None) -> list[SlaClock]:
    """First response and resolution targets with time left or overdue; empty when no SLA applies."""
    now = now or timezone.now()
    clocks = []
    for label, due, done in (
        ("First response", ticket.sla_first_response_due_at, ticket.first_response_at),
        ("Resolution", ticket.sla_resolution_due_at, ticket.solved_at),
    ):
        if due is None:
            continue
        if done is not None:
            state = "met" if done <= due else "missed"
            text = "met" if state == "met" else f"missed by {_duration((done - due).total_seconds())}"
        elif due > now:
            state, text = "running", f"{_duration((due - now).total_seconds())} left"
        else:
            state, text = "overdue", f"overdue by {_duration((now - due).total_seconds())}"
        clocks.append(SlaClock(label=label, due_at=due, state=state, text=text))
    return clocks


# --- Editors' choices ------------------------------------------------------------------


def ticket_assignee_choices(*, ticket: Ticket) -> list[AgentProfile]:
    """Agents a ticket may be assigned to: active staff who can see it (a private team's
    members, managers and admins)."""
    from tickets.roles import ADMIN, MANAGER

    qs = AgentProfile.objects.filter(user__is_active=True, user__is_staff=True).select_related("user")
    if ticket.team is not None and ticket.team.is_private:
        qs = qs.filter(
            Q(teams=ticket.team) | Q(user__groups__name__in=(ADMIN, MANAGER)) | Q(user__is_superuser=True)
        ).distinct()
    return sorted(qs, key=lambda p: p.name.lower())


def ticket_team_choices() -> QuerySet[Team]:
    return Team.objects.order_by("name")


def tag_suggestions(*, limit: int = 200) -> list[str]:
    return list(Tag.objects.order_by("name").values_list("name", flat=True)[:limit])


def message_for_ticket(*, ticket: Ticket, message_id: int) -> Message | None:
    """A message reachable only through its own (visible) ticket."""
    return Message.objects.filter(pk=message_id, ticket=ticket).first()


def merged_ticket_target(*, user: Any, number: int) -> Ticket | None:
    """For a merged ticket's old address: the ticket it now lives in, if the user may see it."""
    from tickets.selectors.workspace import visible_tickets

    merged_into_id = (
        Ticket.objects.filter(number=number, merged_into__isnull=False).values_list("merged_into_id", flat=True).first()
    )
    if merged_into_id is None:
        return None
    return visible_tickets(user).filter(pk=merged_into_id).first()


# --- Macros ----------------------------------------------------------------------------


def macros_for_user(*, user: Any) -> QuerySet[Macro]:
    """Macros offered in the reply box: every active shared one and the user's own."""
    return (
        Macro.objects.filter(is_active=True)
        .filter(Q(owner__isnull=True) | Q(owner=user))
        .select_related("set_team")
        .order_by("name", "pk")
    )


def macro_get_for_user(*, user: Any, macro_id: int) -> Macro | None:
    return macros_for_user(user=user).filter(pk=macro_id).first()


def macros_personal(*, user: Any) -> QuerySet[Macro]:
    return Macro.objects.filter(owner=user).select_related("set_team").order_by("name", "pk")


def macro_personal_get(*, user: Any, macro_id: int) -> Macro | None:
    """One of the user's own macros; None for another's or a shared one (the view says 404)."""
    return macros_personal(user=user).filter(pk=macro_id).first()


def macro_render(*, macro: Macro, ticket: Ticket, user: Any) -> str:
    """The macro's body with its placeholders filled in for this ticket and agent.

    Unknown placeholders stay as written, so the agent sees them in the reply box."""
    return render_placeholders(macro.body, ticket=ticket, agent=user, keep_unknown=True)
