"""Reads of the unified inbox: built-in views, filters, sorts, keyset pages, counts, unread flags.

Every list page is ONE query: visibility (``visible_tickets``), the view's preset, the
agent's filters and an optional search narrow one queryset, ordered by the sort's key
columns and cut after the cursor with a row comparison ``(a, b, id) < (x, y, z)``, which
PostgreSQL turns into one index range scan on the matching composite index (created by
migration 0004_search). Counts, unread flags and saved views are one query each, so the
number of queries never depends on the page size.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from tickets.models import SavedView, Ticket, TicketReadState
from tickets.selectors.workspace import visible_tickets

PAGE_SIZE = 50

# --- Built-in views ----------------------------------------------------------------

SOLVED_STATUSES = (Ticket.Status.SOLVED, Ticket.Status.CLOSED)
SLA_AT_RISK_WINDOW = dt.timedelta(hours=1)

# (key, label) in the order the tabs are shown. "all" is no preset: saved views and
# hand-made filters start from it.
BUILTIN_VIEWS: list[tuple[str, str]] = [
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("open", "All open"),
    ("pending", "Pending"),
    ("solved", "Recently solved"),
    ("sla", "SLA at risk"),
]
VIEW_KEYS = [key for key, _ in BUILTIN_VIEWS] + ["all"]


def sla_at_risk_q(now: dt.datetime | None = None) -> Q:
    """Unsolved, with a due time within the next hour or already past: the first-response
    clock only while nobody has answered, the resolution clock always."""
    horizon = (now or timezone.now()) + SLA_AT_RISK_WINDOW
    return Q(status__in=Ticket.UNSOLVED_STATUSES) & (
        Q(first_response_at__isnull=True, sla_first_response_due_at__lte=horizon)
        | Q(sla_resolution_due_at__lte=horizon)
    )


def sla_flag(ticket: Ticket, now: dt.datetime) -> str:
    """A row's SLA badge, by the same clocks as ``sla_at_risk_q``, without a query:
    the due times live on the ticket."""
    if ticket.status not in Ticket.UNSOLVED_STATUSES:
        return ""
    due = [ticket.sla_resolution_due_at]
    if ticket.first_response_at is None:
        due.append(ticket.sla_first_response_due_at)
    due = [d for d in due if d is not None]
    if not due:
        return ""
    soonest = min(due)
    if soonest <= now:
        return "breached"
    return "at_risk" if soonest <= now + SLA_AT_RISK_WINDOW else ""


def apply_view(
    qs: QuerySet[Ticket], *, view: str, user: Any, now: dt.datetime | None = None
) -> QuerySet[Ticket]:
    """Narrow a queryset to one built-in view (unknown keys mean "all")."""
    if view == "mine":
        return qs.filter(assignee=user, status__in=Ticket.UNSOLVED_STATUSES)
    if view == "unassigned":
        return qs.filter(assignee__isnull=True, status__in=Ticket.UNSOLVED_STATUSES)
    if view == "open":
        return qs.filter(status__in=Ticket.UNSOLVED_STATUSES)
    if view == "pending":
        return qs.filter(status=Ticket.Status.PENDING)
    if view == "solved":
        return qs.filter(status__in=SOLVED_STATUSES)
    if view == "sla":
        return qs.filter(sla_at_risk_q(now))
    return qs


# --- Counts ------------------------------------------------------------------------

COUNT_CAP = 1000


@dataclass(frozen=True)
class ViewCount:
    """How many tickets a view holds, exact up to ``COUNT_CAP`` and "1,000+" beyond."""

    value: int
    is_capped: bool

    def __str__(self) -> str:
        return f"{COUNT_CAP:,}+" if self.is_capped else f"{self.value:,}"


def inbox_view_counts(
    *, user: Any, cap: int = COUNT_CAP, visible: QuerySet[Ticket] | None = None
) -> dict[str, ViewCount]:
    """Capped counts of every built-in view, in one query.

    Why capped: an exact COUNT(*) of "all open" or of one status at 1,000,000 tickets
    costs 40-150 ms on every page view (shared/FLOORS.md), and a number past a thousand
    tells an agent nothing more than "a lot". Each view here counts at most ``cap + 1``
    rows of its own index range (``SELECT COUNT(*) FROM (... LIMIT cap+1)``), so the whole
    bar costs a few thousand index entries at most, with no counter rows that every
    service (and the pipeline) would have to keep right under concurrency.
    """
    base = (visible if visible is not None else visible_tickets(user)).order_by()
    now = timezone.now()
    connection = connections[base.db]
    parts: list[str] = []
    params: list[Any] = []
    for key, _ in BUILTIN_VIEWS:
        sub = _count_walk(apply_view(base, view=key, user=user, now=now), key, now)
        sub = sub.values("pk")[: cap + 1]
        sql, sub_params = sub.query.get_compiler(using=base.db).as_sql()
        # ORM-compiled SQL with its parameters kept apart; ``key`` is one of BUILTIN_VIEWS.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS count_{key})")  # noqa: S608
        params.extend(sub_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {
        key: ViewCount(value=min(int(n), cap), is_capped=int(n) > cap)
        for (key, _), n in zip(BUILTIN_VIEWS, row)
    }


def _count_walk(qs: QuerySet[Ticket], key: str, now: dt.datetime) -> QuerySet[Ticket]:
    """Order a view's count subquery along its index, so the count stops after ``cap + 1``
    index entries whatever the table's physical order.

    Without an ORDER BY PostgreSQL chose a sequential scan "until 1,001 rows match",
    which is quick only while the unsolved tickets happen to lie early in the heap; on a
    table filled in creation order it reads the whole table. "SLA at risk" walks the
    SLA-due index up to the horizon (the same test: the earlier deadline is due).
    "Mine" and "Unassigned" stay unordered: the (assignee, status, …) index bounds them
    to one agent's queue, and sorting it would cost more than it saves.
    """
    if key in ("mine", "unassigned"):
        return qs
    if key == "sla":
        return (
            qs.annotate(inbox_sla_due=sla_due())
            .filter(inbox_sla_due__lte=now + SLA_AT_RISK_WINDOW)
            .order_by("inbox_sla_due", "id")
        )
    return qs.order_by("-updated_at", "-id")


# --- Filters -----------------------------------------------------------------------


class _ProbeEach(Exists):
    """``EXISTS (… OFFSET 0)``: a test run per candidate row, never pulled up into a join.

    Why: as a semi-join PostgreSQL starts from the subquery's side (a common tag links
    200,000 tickets) and probes each ticket, seconds at 1,000,000 tickets. As a per-row
    test the view's sort index is walked in order and stops after one page (3.5 s ->
    12 ms for team + priority + tag). The cost is bounded by the rows walked: a very
    rare tag on a large view walks more of it.
    """

    template = "EXISTS(%(subquery)s OFFSET 0)"


# Ticket.sentiment runs -1.0 .. 1.0; the bands agents filter on.
SENTIMENT_NEUTRAL_BAND = 0.25


def apply_filters(
    qs: QuerySet[Ticket], *, filters: Mapping[str, Any], user: Any
) -> QuerySet[Ticket]:
    """Narrow by the cleaned values of ``InboxFilterForm`` (tickets/forms_inbox.py).

    Keys: status, priority (lists of values), channel, team (lists of ids), assignee
    ("me", "none" or a user id), tag (list of names: any of them), customer,
    organization (ids), created_from/created_to/updated_from/updated_to (dates,
    inclusive, in the current time zone), sentiment ("negative"/"neutral"/"positive").
    """
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    if filters.get("priority"):
        qs = qs.filter(priority__in=filters["priority"])
    if filters.get("channel"):
        qs = qs.filter(channel_id__in=[_pk(c) for c in filters["channel"]])
    if filters.get("team"):
        qs = qs.filter(team_id__in=[_pk(t) for t in filters["team"]])
    assignee = filters.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=_pk(assignee))
    if filters.get("tag"):
        # A ticket holding any of the tags: a per-row test (see _ProbeEach), one row per
        # ticket (no DISTINCT).
        qs = qs.filter(
            _ProbeEach(
                Ticket.tags.through.objects.filter(
                    ticket_id=OuterRef("pk"), tag__name__in=filters["tag"]
                )
            )
        )
    if filters.get("customer"):
        qs = qs.filter(customer_id=_pk(filters["customer"]))
    if filters.get("organization"):
        qs = qs.filter(organization_id=_pk(filters["organization"]))
    for name, column in (("created", "created_at"), ("updated", "updated_at")):
        start, end = filters.get(f"{name}_from"), filters.get(f"{name}_to")
        if start:
            qs = qs.filter(**{f"{column}__gte": _day_start(start)})
        if end:
            qs = qs.filter(**{f"{column}__lt": _day_start(end + dt.timedelta(days=1))})
    sentiment = filters.get("sentiment")
    if sentiment == "negative":
        qs = qs.filter(sentiment__lt=-SENTIMENT_NEUTRAL_BAND)
    elif sentiment == "neutral":
        qs = qs.filter(
            sentiment__gte=-SENTIMENT_NEUTRAL_BAND,
            sentiment__lte=SENTIMENT_NEUTRAL_BAND,
        )
    elif sentiment == "positive":
        qs = qs.filter(sentiment__gt=SENTIMENT_NEUTRAL_BAND)
    return qs


def _pk(value: Any) -> int:
    return int(getattr(value, "pk", value))


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# --- Sorts and keyset pagination ---------------------------------------------------


def priority_rank() -> Case:
    """Urgent 3, high 2, normal 1, low 0: sortable, and indexed as this same expression."""
    return Case(
        When(priority=Ticket.Priority.URGENT, then=Value(3)),
        When(priority=Ticket.Priority.HIGH, then=Value(2)),
        When(priority=Ticket.Priority.NORMAL, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


def sla_due() -> Expression:
    """The next SLA deadline: the first-response due time while nobody has answered, the
    resolution due time always; the earlier of the two, NULL when there is none.

    ``Least(Coalesce(a, b), Coalesce(b, a))`` because SQLite's MIN() is NULL as soon as
    one argument is, while PostgreSQL's LEAST skips NULLs.
    """
    first = Case(
        When(first_response_at__isnull=True, then=F("sla_first_response_due_at")),
        default=Value(None),
        output_field=DateTimeField(),
    )
    resolution = F("sla_resolution_due_at")
    return Least(
        Coalesce(first, resolution, output_field=DateTimeField()),
        Coalesce(resolution, first, output_field=DateTimeField()),
        output_field=DateTimeField(),
    )


@dataclass(frozen=True)
class Sort:
    key: str
    label: str
    # Aliases the sort needs on the queryset, then its key columns (last one is "id").
    columns: tuple[str, ...]
    descending: bool
    # (column, python type) to rebuild a cursor: "dt", "int", "float".
    types: tuple[str, ...]
    nulls_last: bool = False


SORTS: dict[str, Sort] = {
    "updated": Sort(
        "updated", "Latest activity", ("updated_at", "id"), True, ("dt", "int")
    ),
    "created": Sort("created", "Newest", ("created_at", "id"), True, ("dt", "int")),
    "priority": Sort(
        "priority",
        "Priority",
        ("inbox_priority", "updated_at", "id"),
        True,
        ("int", "dt", "int"),
    ),
    "sla": Sort(
        "sla", "SLA due", ("inbox_sla_due", "id"), False, ("dt", "int"), nulls_last=True
    ),
    # Search only, PostgreSQL only (tickets/selectors/search.py annotates search_rank).
    "relevance": Sort(
        "relevance", "Relevance", ("search_rank", "id"), True, ("float", "int")
    ),
}
SORT_CHOICES = [(s.key, s.label) for s in SORTS.values()]


class RowCompare(Expression):
    """``(a, b, c) < (x, y, z)``: a keyset condition the database can use as one index range.

    Django has no public row-value lookup; PostgreSQL and SQLite (3.15+) both understand
    row values, and PostgreSQL turns this form (unlike the equivalent OR chain) into an
    index range condition.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, lhs: Sequence[Any], rhs: Sequence[Any], op: str) -> None:
        super().__init__()
        if op not in ("<", ">"):
            raise ValueError(op)
        self.lhs = [e if hasattr(e, "resolve_expression") else F(e) for e in lhs]
        self.rhs = list(rhs)
        self.op = op

    def get_source_expressions(self) -> list[Any]:
        return self.lhs

    def set_source_expressions(self, exprs: list[Any]) -> None:
        self.lhs = list(exprs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        left, right, params = [], [], []
        for expression in self.lhs:
            sql, p = compiler.compile(expression)
            left.append(sql)
            params.extend(p)
        for expression, value in zip(self.lhs, self.rhs):
            sql, p = compiler.compile(
                Value(value, output_field=expression.output_field)
            )
            right.append(sql)
            params.extend(p)
        return f"({', '.join(left)}) {self.op} ({', '.join(right)})", params


def _encode_cursor(sort: Sort, row: Ticket) -> str:
    values = []
    for column in sort.columns:
        value = getattr(row, column)
        values.append(value.isoformat() if isinstance(value, dt.datetime) else value)
    raw = json.dumps([sort.key, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(sort: Sort, cursor: str) -> list[Any] | None:
    """The cursor's key values, or None when it is mangled or made for another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if (
            not isinstance(data, list)
            or data[0] != sort.key
            or len(data) != len(sort.columns) + 1
        ):
            return None
        values: list[Any] = []
        for kind, value in zip(sort.types, data[1:]):
            if value is None:
                if not sort.nulls_last or kind != "dt":
                    return None
                values.append(None)
            elif kind == "dt":
                stamp = dt.datetime.fromisoformat(value)
                values.append(
                    stamp
                    if timezone.is_aware(stamp)
                    else timezone.make_aware(stamp, dt.UTC)
                )
            elif kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    return None
                values.append(value)
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return None
                values.append(float(value))
        return values
    except (
        ValueError,
        TypeError,
        IndexError,
        UnicodeDecodeError,
        json.JSONDecodeError,
    ):
        return None


def with_sort_columns(qs: QuerySet[Ticket], sort: Sort) -> QuerySet[Ticket]:
    if "inbox_priority" in sort.columns:
        qs = qs.annotate(inbox_priority=priority_rank())
    if "inbox_sla_due" in sort.columns:
        qs = qs.annotate(inbox_sla_due=sla_due())
    return qs


def order_and_cut(
    qs: QuerySet[Ticket], *, sort: Sort, cursor: str | None
) -> QuerySet[Ticket]:
    """Order by the sort's keys and keep the rows after the cursor (a mangled one is ignored)."""
    qs = with_sort_columns(qs, sort)
    values = _decode_cursor(sort, cursor) if cursor else None
    if values is not None:
        if sort.nulls_last and values[0] is None:
            # Past the dated rows: the undated ones, by id.
            qs = qs.filter(**{f"{sort.columns[0]}__isnull": True, "id__gt": values[-1]})
        elif sort.nulls_last:
            qs = qs.filter(
                RowCompare(sort.columns, values, ">")
                | Q(**{f"{sort.columns[0]}__isnull": True})
            )
        else:
            qs = qs.filter(
                RowCompare(sort.columns, values, "<" if sort.descending else ">")
            )
    ordering = []
    for column in sort.columns:
        expression = F(column)
        if sort.descending:
            ordering.append(expression.desc())
        else:
            ordering.append(
                expression.asc(nulls_last=True) if sort.nulls_last else expression.asc()
            )
    return qs.order_by(*ordering)


# The columns a list row shows or needs (the row's strings, the SLA badge, the unread
# flag, the cursor's keys). Why: the four joined tables hold ~45 columns, a dozen of them
# timestamps, and each one read is a value parsed and a model attribute set, 50 times a
# page; a channel's encrypted secrets were decrypted for every row. Reading another
# field of a listed ticket still works (Django loads a deferred field on access).
LIST_FIELDS = (
    "number",
    "subject",
    "status",
    "priority",
    "created_at",
    "updated_at",
    "first_response_at",
    "last_customer_activity_at",
    "sla_first_response_due_at",
    "sla_resolution_due_at",
    "customer__name",
    "channel__kind",
    "channel__name",
    "team__name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    next_cursor: str | None
    unread: frozenset[int] = field(default_factory=frozenset)


def page_of(
    qs: QuerySet[Ticket], *, sort: Sort, cursor: str | None, limit: int = PAGE_SIZE
) -> Page:
    qs = order_and_cut(qs, sort=sort, cursor=cursor)
    rows = list(
        qs.select_related("customer", "channel", "team", "assignee").only(*LIST_FIELDS)[
            : limit + 1
        ]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(sort, rows[-1])
    return Page(items=rows, next_cursor=next_cursor)


def ticket_list_for_agent(
    *,
    user: Any,
    view: str = "open",
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    filters: Mapping[str, Any] | None = None,
    sort: str = "updated",
    search: str = "",
    visible: QuerySet[Ticket] | None = None,
) -> Page:
    """One keyset page of the inbox: visible tickets of a view, filtered, searched, sorted.

    One query whatever the options; stable under inserts (a cursor holds the last row's
    key values, never an offset). ``relevance`` needs a search on PostgreSQL and falls back
    to latest activity otherwise. ``visible`` is ``visible_tickets(user)`` when the caller
    already holds it (the inbox page shares it with the counts).
    """
    from tickets.selectors.search import search_supports_rank, ticket_search

    qs = apply_view(
        visible if visible is not None else visible_tickets(user), view=view, user=user
    )
    if filters:
        qs = apply_filters(qs, filters=filters, user=user)
    chosen = SORTS.get(sort) or SORTS["updated"]
    if search.strip():
        qs = ticket_search(qs, search, rank=chosen.key == "relevance")
    if chosen.key == "relevance" and not (search.strip() and search_supports_rank()):
        chosen = SORTS["updated"]
    return page_of(qs, sort=chosen, cursor=cursor, limit=limit)


# --- Unread ------------------------------------------------------------------------


def ticket_unread_ids(*, user: Any, tickets: Iterable[Ticket]) -> frozenset[int]:
    """Ids of the tickets with customer activity the user has not seen, in one query.

    Unread: the customer wrote (``last_customer_activity_at``) after the user last opened
    the ticket, or the user never opened it. A ticket without customer activity is read.
    """
    tickets = [t for t in tickets if t.last_customer_activity_at is not None]
    if not tickets or not getattr(user, "is_authenticated", False):
        return frozenset()
    read = dict(
        TicketReadState.objects.filter(
            user=user, ticket_id__in=[t.pk for t in tickets]
        ).values_list("ticket_id", "last_read_at")
    )
    return frozenset(
        t.pk
        for t in tickets
        if (seen := read.get(t.pk)) is None or seen < t.last_customer_activity_at
    )


# --- Filter choices ----------------------------------------------------------------


@dataclass(frozen=True)
class InboxChoices:
    """What the inbox's filter and bulk forms offer, as (value, label) pairs of strings."""

    channels: list[tuple[str, str]]
    # Public teams and the private ones this user may see (all of them for managers).
    teams: list[tuple[str, str]]
    # Active staff, by first name, last name, username: "Full Name" or the username.
    agents: list[tuple[str, str]]


def inbox_filter_choices(*, user: Any) -> InboxChoices:
    """Channels, the teams the user may filter on, and the agents, in ONE query.

    Why: as three model querysets (the form's channel and team fields, the agent list)
    they cost three round trips and ~300 model attributes per inbox view; here they are
    one UNION of plain rows, each part in its own order. Private teams are kept by the
    same rule as ``visible_tickets``: managers and admins see all, others their own.
    """
    from django.contrib.auth import get_user_model

    from channels_inbox.models import Channel
    from tickets.models import AgentProfile, Team
    from tickets.roles import ADMIN, MANAGER, user_role

    sees_all = user_role(user) in (ADMIN, MANAGER)
    User = get_user_model()
    channel, team, staff = (
        Channel._meta.db_table,
        Team._meta.db_table,
        User._meta.db_table,
    )
    profile = AgentProfile._meta.db_table
    links = AgentProfile.teams.through._meta.db_table
    # Only table names from the models' metadata are formatted in; values are parameters.
    sql = f"""
        SELECT 'c', id, name, kind, '', true, ROW_NUMBER() OVER (ORDER BY name) FROM {channel}
        UNION ALL
        SELECT 't', t.id, t.name, '', '',
               NOT t.is_private OR %s OR EXISTS (
                   SELECT 1 FROM {links} l JOIN {profile} p ON p.id = l.agentprofile_id
                   WHERE l.team_id = t.id AND p.user_id = %s),
               ROW_NUMBER() OVER (ORDER BY t.name) FROM {team} t
        UNION ALL
        SELECT 'u', id, first_name, last_name, username, true,
               ROW_NUMBER() OVER (ORDER BY first_name, last_name, username)
        FROM {staff} WHERE is_staff AND is_active
        ORDER BY 1, 7
    """  # noqa: S608
    out: dict[str, list[tuple[str, str]]] = {"c": [], "t": [], "u": []}
    kinds = dict(Channel.Kind.choices)
    with connections[Team.objects.db].cursor() as cursor:
        cursor.execute(sql, [sees_all, getattr(user, "pk", None)])
        for kind, pk, name, extra, username, shown, _ in cursor.fetchall():
            if not shown:
                continue
            if kind == "u":  # User.get_full_name() or get_username()
                name = f"{name} {extra}".strip() or username
            elif kind == "c":  # str(channel): "Support mailbox (Email)"
                name = f"{name} ({kinds.get(extra, extra)})"
            out[kind].append((str(pk), name))
    return InboxChoices(channels=out["c"], teams=out["t"], agents=out["u"])


# --- Saved views -------------------------------------------------------------------


def saved_views_for(*, user: Any) -> list[SavedView]:
    return list(SavedView.objects.filter(owner=user).order_by("position", "name", "id"))


def saved_view_get(*, user: Any, view_id: int) -> SavedView | None:
    """One of the user's own saved views; someone else's is None (the view answers 404)."""
    return SavedView.objects.filter(owner=user, pk=view_id).first()


__all__ = [
    "BUILTIN_VIEWS",
    "COUNT_CAP",
    "InboxChoices",
    "SORTS",
    "SORT_CHOICES",
    "Page",
    "ViewCount",
    "apply_filters",
    "apply_view",
    "inbox_filter_choices",
    "inbox_view_counts",
    "page_of",
    "priority_rank",
    "saved_view_get",
    "saved_views_for",
    "sla_at_risk_q",
    "sla_due",
    "ticket_list_for_agent",
    "ticket_unread_ids",
]
