"""Reads of the CRM: the customer panel beside a ticket, the customer and organization pages,
the customers list and the pickers used to merge duplicates.

Every ticket listed here goes through ``visible_tickets(user)``: a private team's tickets
never show up in a customer's history for someone outside the team, and a customer known
only through such tickets is hidden altogether (their name alone would leak the case).
Each function costs a fixed number of queries however long the history is.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce

from tickets.models import (
    Customer,
    CustomerIdentity,
    Message,
    Organization,
    OrganizationDomain,
    Ticket,
)
from tickets.selectors.workspace import visible_tickets

PANEL_HISTORY_LIMIT = 10
PAGE_HISTORY_LIMIT = 50
SENTIMENT_POINTS = 10
LIST_LIMIT = 50
PICKER_LIMIT = 10

# Eight block heights for a text sparkline of scores in -1.0 .. 1.0.
_BLOCKS = "▁▂▃▄▅▆▇█"


# --- Shapes handed to templates ------------------------------------------------------


@dataclass(frozen=True)
class SentimentPoint:
    """One ticket's sentiment: the ticket's own score, or the mean of its customer messages'."""

    number: int | None
    subject: str
    created_at: dt.datetime
    score: float

    @property
    def label(self) -> str:
        if self.score <= -0.25:
            return "negative"
        if self.score >= 0.25:
            return "positive"
        return "neutral"

    @property
    def block(self) -> str:
        index = round((max(-1.0, min(1.0, self.score)) + 1.0) / 2.0 * (len(_BLOCKS) - 1))
        return _BLOCKS[index]


@dataclass(frozen=True)
class SentimentTrend:
    """Oldest first, so the sparkline reads left to right like a timeline."""

    points: list[SentimentPoint]

    @property
    def sparkline(self) -> str:
        return "".join(p.block for p in self.points)

    @property
    def average(self) -> float | None:
        return sum(p.score for p in self.points) / len(self.points) if self.points else None

    @property
    def direction(self) -> str:
        """Whether the latest tickets are happier than the earlier ones (halves compared)."""
        if len(self.points) < 2:
            return "steady"
        half = len(self.points) // 2
        earlier = sum(p.score for p in self.points[:half]) / half
        later = sum(p.score for p in self.points[half:]) / (len(self.points) - half)
        if later - earlier >= 0.2:
            return "improving"
        if earlier - later >= 0.2:
            return "worsening"
        return "steady"


@dataclass(frozen=True)
class CustomerPanel:
    """Everything the CRM panel (and the customer page) shows of one customer."""

    customer: Customer
    identities: list[CustomerIdentity]
    attributes: list[tuple[str, str]]
    history: list[Ticket]
    history_total: int
    next_cursor: str | None
    sentiment: SentimentTrend
    survey_responses: list[Any] = field(default_factory=list)

    @property
    def has_more_history(self) -> bool:
        return self.next_cursor is not None


@dataclass(frozen=True)
class CustomerPage:
    items: list[Customer]
    next_cursor: str | None


@dataclass(frozen=True)
class OrganizationRecord:
    organization: Organization
    domains: list[str]
    customers: list[Customer]
    customers_more: bool
    tickets: list[Ticket]
    tickets_more: bool


# --- Cursors -------------------------------------------------------------------------


def _encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """A mangled or foreign cursor reads as "first page" rather than an error page."""
    if not cursor:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(parts, list) or len(parts) != arity:
        return None
    return parts


# --- Visibility ----------------------------------------------------------------------


def visible_customers(user: Any, *, tickets: QuerySet[Ticket] | None = None) -> QuerySet[Customer]:
    """Customers a user may open: those with a ticket the user can see, or with no live
    ticket at all (nothing to leak). Merged-away records are left out; their page redirects.
    ``tickets`` is the caller's ``visible_tickets(user)``, when it has one (saves its queries)."""
    from tickets.roles import ADMIN, MANAGER, user_role

    if user_role(user) in (ADMIN, MANAGER):  # they see every ticket, hence every customer
        return Customer.objects.filter(merged_into__isnull=True)
    live = Ticket.objects.filter(customer=OuterRef("pk"), merged_into__isnull=True)
    seen = (tickets if tickets is not None else visible_tickets(user)).filter(customer=OuterRef("pk"))
    return Customer.objects.filter(merged_into__isnull=True).filter(~Exists(live) | Exists(seen))


def customer_get_for_user(*, user: Any, customer_id: int) -> Customer | None:
    """The customer if the user may see them. A merged record resolves to the survivor so
    old links keep working; the caller compares ids to redirect."""
    row = Customer.objects.filter(pk=customer_id).only("pk", "merged_into").first()
    seen: set[int] = set()
    while row is not None and row.merged_into_id and row.pk not in seen:
        seen.add(row.pk)
        row = Customer.objects.filter(pk=row.merged_into_id).only("pk", "merged_into").first()
    if row is None:
        return None
    return visible_customers(user).select_related("organization").filter(pk=row.pk).first()


# --- The panel and the customer page -------------------------------------------------


def customer_survey_responses(*, customer: Customer, user: Any) -> list[Any]:
    """CSAT/NPS/CES answers this customer gave, newest answer first (metrics.surveys): one
    query, only those about tickets ``visible_tickets(user)`` holds, plus the answers about
    no ticket (NPS campaigns), which concern the company rather than a team's work."""
    from metrics.surveys.models import SurveyResponse

    return list(
        SurveyResponse.objects.filter(customer=customer)
        .filter(Q(ticket__isnull=True) | Q(ticket__in=visible_tickets(user).values("pk")))
        .select_related("ticket")
        .order_by("-answered_at", "-id")[:PANEL_HISTORY_LIMIT]
    )


def _sentiment_expression():
    inbound_mean = (
        Message.objects.filter(
            ticket=OuterRef("pk"), direction=Message.Direction.INBOUND, sentiment__isnull=False
        )
        .values("ticket")
        .annotate(mean=Avg("sentiment"))
        .values("mean")
    )
    return Coalesce(F("sentiment"), Subquery(inbound_mean))


def _custom_attributes(customer: Customer) -> list[tuple[str, str]]:
    attributes = customer.custom_attributes if isinstance(customer.custom_attributes, dict) else {}
    return sorted(((str(k), attribute_text(v)) for k, v in attributes.items()), key=lambda kv: kv[0].lower())


def attribute_text(value: Any) -> str:
    """How a stored attribute value (text, or a number or boolean set through the API)
    reads on the page and in the edit form; one spelling so an untouched value round-trips."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def customer_panel(
    *,
    customer: Customer,
    user: Any,
    exclude_ticket: Ticket | None = None,
    history_limit: int = PANEL_HISTORY_LIMIT,
    cursor: str | None = None,
    tickets: QuerySet[Ticket] | None = None,
) -> CustomerPanel:
    """The CRM record for the panel beside a ticket (``exclude_ticket`` is the ticket on
    screen, left out of "earlier tickets") and, with a larger limit and a cursor, for the
    customer page.

    Queries: identities, the user's role and teams (for ``visible_tickets``), and one for
    the history page, which also carries the total and each ticket's sentiment; a later
    page costs one more for the sentiment trend. ``tickets`` is the caller's
    ``visible_tickets(user)`` when it has one (the ticket page does: saves the role and team
    lookups); identities prefetched in the panel's order (``ticket_page_get`` does) are
    reused rather than read again.
    """
    prefetched = getattr(customer, "_prefetched_objects_cache", {})
    identities = (
        list(prefetched["identities"])
        if "identities" in prefetched
        else list(customer.identities.order_by("kind", "-is_verified", "address"))
    )
    tickets = (
        (tickets if tickets is not None else visible_tickets(user))
        .filter(customer=customer)
        .select_related("channel")
        .annotate(sentiment_score=_sentiment_expression())
    )
    exclude_id = exclude_ticket.pk if exclude_ticket is not None else None
    listed = tickets.exclude(pk=exclude_id) if exclude_id else tickets

    after = _decode_cursor(cursor, 2)
    page_qs = tickets
    if after is not None:
        try:
            stamp, pk = dt.datetime.fromisoformat(after[0]), int(after[1])
        except (TypeError, ValueError):
            after = None
        else:
            page_qs = tickets.filter(Q(created_at__lt=stamp) | Q(created_at=stamp, pk__lt=pk))

    # The ticket on screen stays in the query (it is part of the sentiment trend) and is
    # dropped below; the window total counts every listed ticket, not just this page.
    counted = (
        Case(When(pk=exclude_id, then=Value(0)), default=Value(1), output_field=IntegerField())
        if exclude_id
        else Value(1, output_field=IntegerField())
    )
    total_expression = Window(Sum(counted)) if after is None else Value(0, output_field=IntegerField())
    rows = list(page_qs.annotate(listed_total=total_expression).order_by("-created_at", "-id")[: history_limit + 2])
    history = [t for t in rows if t.pk != exclude_id]
    next_cursor = None
    if len(history) > history_limit:
        history = history[:history_limit]
        last = history[-1]
        next_cursor = _encode_cursor(last.created_at.isoformat(), last.pk)

    if after is None:
        total = rows[0].listed_total if rows else 0
        recent = rows[:SENTIMENT_POINTS]
    else:
        total = listed.count()
        recent = list(tickets.order_by("-created_at", "-id")[:SENTIMENT_POINTS])
    points = [
        SentimentPoint(number=t.number, subject=t.subject, created_at=t.created_at, score=float(t.sentiment_score))
        for t in reversed(recent)
        if t.sentiment_score is not None
    ]
    return CustomerPanel(
        customer=customer,
        identities=identities,
        attributes=_custom_attributes(customer),
        history=history,
        history_total=total,
        next_cursor=next_cursor,
        sentiment=SentimentTrend(points=points),
        survey_responses=customer_survey_responses(customer=customer, user=user),
    )


# --- Lists and pickers ---------------------------------------------------------------


def _search(qs: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    query = query.strip()
    if not query:
        return qs
    address_match = CustomerIdentity.objects.filter(customer=OuterRef("pk"), address__icontains=query)
    return qs.filter(Q(name__icontains=query) | Q(organization__name__icontains=query) | Exists(address_match))


def customer_list(*, user: Any, query: str = "", cursor: str | None = None, limit: int = LIST_LIMIT) -> CustomerPage:
    """One keyset page of customers by name, searchable by name, any address or organization.

    Queries: the user's role and teams, the page (with each customer's visible-ticket
    count), and the identities of the page's customers.
    """
    visible = visible_tickets(user)
    ticket_count = (
        visible.filter(customer=OuterRef("pk")).order_by().values("customer").annotate(n=Count("pk")).values("n")
    )
    qs = _search(visible_customers(user, tickets=visible), query)
    after = _decode_cursor(cursor, 2)
    if after is not None and isinstance(after[0], str) and isinstance(after[1], int):
        qs = qs.filter(Q(name__gt=after[0]) | Q(name=after[0], pk__gt=after[1]))
    rows = list(
        qs.select_related("organization")
        .prefetch_related(Prefetch("identities", queryset=CustomerIdentity.objects.order_by("kind", "address")))
        .annotate(ticket_count=Coalesce(Subquery(ticket_count, output_field=IntegerField()), Value(0)))
        .order_by("name", "pk")[: limit + 1]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].name, rows[-1].pk)
    return CustomerPage(items=rows, next_cursor=next_cursor)


def customer_merge_candidates(*, user: Any, customer: Customer, query: str) -> list[Customer]:
    """Possible duplicates of ``customer`` for the merge picker: a search, never the customer itself."""
    if not query.strip():
        return []
    rows = customer_list(user=user, query=query, limit=PICKER_LIMIT + 1).items
    return [c for c in rows if c.pk != customer.pk][:PICKER_LIMIT]


def customer_merge_preview(*, user: Any, source: Customer) -> dict[str, int]:
    """What a merge would move from ``source``: counts shown on the confirmation page."""
    return {
        "identities": source.identities.count(),
        "tickets": Ticket.objects.filter(customer=source).count(),
        "visible_tickets": visible_tickets(user).filter(customer=source).count(),
    }


def organization_choices(*, limit: int = 500) -> list[str]:
    """Organization names offered as suggestions in the customer form."""
    return list(Organization.objects.order_by("name").values_list("name", flat=True)[:limit])


def organization_record(*, user: Any, organization_id: int, limit: int = LIST_LIMIT) -> OrganizationRecord | None:
    """An organization with its domains, its first customers and its latest visible tickets."""
    organization = Organization.objects.filter(pk=organization_id).prefetch_related("domains").first()
    if organization is None:
        return None
    visible = visible_tickets(user)
    customers = list(
        visible_customers(user, tickets=visible)
        .filter(organization=organization)
        .prefetch_related(Prefetch("identities", queryset=CustomerIdentity.objects.order_by("kind", "address")))
        .order_by("name", "pk")[: limit + 1]
    )
    tickets = list(
        visible.filter(organization=organization)
        .select_related("customer", "channel")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    return OrganizationRecord(
        organization=organization,
        domains=sorted(d.domain for d in organization.domains.all()),
        customers=customers[:limit],
        customers_more=len(customers) > limit,
        tickets=tickets[:limit],
        tickets_more=len(tickets) > limit,
    )


def organization_list(*, query: str = "", cursor: str | None = None, limit: int = LIST_LIMIT) -> tuple[list[Organization], str | None]:
    """Organizations by name, searchable by name or domain, keyset paginated."""
    members = (
        Customer.objects.filter(organization=OuterRef("pk"), merged_into__isnull=True)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = Organization.objects.annotate(
        customer_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0))
    )
    query = query.strip()
    if query:
        domain_match = OrganizationDomain.objects.filter(organization=OuterRef("pk"), domain__icontains=query)
        qs = qs.filter(Q(name__icontains=query) | Exists(domain_match))
    after = _decode_cursor(cursor, 2)
    if after is not None and isinstance(after[0], str) and isinstance(after[1], int):
        qs = qs.filter(Q(name__gt=after[0]) | Q(name=after[0], pk__gt=after[1]))
    rows = list(qs.prefetch_related("domains").order_by("name", "pk")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].name, rows[-1].pk)
    return rows, next_cursor
