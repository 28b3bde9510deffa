"""Reads of the CRM and workspace API: querysets the API views page, filter and order.

Each one starts from the workspace's own visibility rules (``visible_tickets``,
``visible_customers``), so an integration acting for a user sees exactly what that user
sees in the browser: a private team's tickets, and customers known only through them,
stay out of every list and are a 404 when asked for by id.

Lists return querysets (not pages): the API's cursor paginator orders and cuts them, and
every list costs a fixed number of queries whatever the page size (related rows are
joined or prefetched here).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from tickets.models import (
    AgentProfile,
    Customer,
    CustomerIdentity,
    Macro,
    Organization,
    Tag,
    Team,
    Ticket,
)
from tickets.selectors.customers import visible_customers
from tickets.selectors.workspace import visible_tickets

# --- Customers ---------------------------------------------------------------------


def _identities_prefetch() -> Prefetch:
    return Prefetch("identities", queryset=CustomerIdentity.objects.order_by("kind", "address", "pk"))


def customers_for_api(*, user: Any) -> QuerySet[Customer]:
    """Live customers the user may open, with their organization, identities and the
    number of their tickets the user can see."""
    visible = visible_tickets(user)
    ticket_count = (
        visible.filter(customer=OuterRef("pk")).order_by().values("customer").annotate(n=Count("pk")).values("n")
    )
    return (
        visible_customers(user, tickets=visible)
        .select_related("organization")
        .prefetch_related(_identities_prefetch())
        .annotate(ticket_count=Coalesce(Subquery(ticket_count, output_field=IntegerField()), Value(0)))
    )


def customer_search(qs: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Name, organization name or any address containing ``query`` (case-insensitive)."""
    query = query.strip()
    if not query:
        return qs
    address = CustomerIdentity.objects.filter(customer=OuterRef("pk"), address__icontains=query)
    return qs.filter(Q(name__icontains=query) | Q(organization__name__icontains=query) | Exists(address))


def customer_with_address(qs: QuerySet[Customer], *, address: str, kind: str = "") -> QuerySet[Customer]:
    """Customers holding exactly this address (emails compared lower-case)."""
    match = CustomerIdentity.objects.filter(customer=OuterRef("pk"), address__iexact=address.strip())
    if kind:
        match = match.filter(kind=kind)
    return qs.filter(Exists(match))


def customer_for_api(*, user: Any, customer_id: int) -> Customer | None:
    """One visible, live customer by id; a merged-away record is not found here (the API
    reports where it went in the 404's detail instead of answering with the survivor)."""
    return customers_for_api(user=user).filter(pk=customer_id).first()


def customer_merged_into(*, customer_id: int) -> int | None:
    """The survivor a merged-away record points at, if the id names one."""
    return Customer.objects.filter(pk=customer_id).values_list("merged_into_id", flat=True).first()


def customer_tickets_for_api(*, user: Any, customer: Customer) -> QuerySet[Ticket]:
    """The customer's tickets the user may see (their history)."""
    return (
        visible_tickets(user)
        .filter(customer=customer)
        .select_related("channel", "customer", "team", "assignee__agent", "organization")
        .prefetch_related("tags")
    )


def customer_has_records(*, customer: Customer) -> list[str]:
    """What a deletion would destroy or orphan: tickets (any, merged ones included), survey
    answers, records merged into this one. Empty means the customer can go."""
    reasons = []
    if Ticket.objects.filter(customer=customer).exists():
        reasons.append("tickets")
    if surveys_installed():
        from metrics.surveys.models import SurveyResponse

        if SurveyResponse.objects.filter(customer=customer).exists():
            reasons.append("survey responses")
    if Customer.objects.filter(merged_into=customer).exists():
        reasons.append("merged records")
    return reasons


def identities_of(*, customer: Customer) -> QuerySet[CustomerIdentity]:
    return CustomerIdentity.objects.filter(customer=customer).order_by("kind", "address", "pk")


def identity_of(*, customer: Customer, identity_id: int) -> CustomerIdentity | None:
    return identities_of(customer=customer).filter(pk=identity_id).first()


def identity_holder(*, kind: str, address: str) -> CustomerIdentity | None:
    return CustomerIdentity.objects.filter(kind=kind, address=address).first()


# --- Organizations -----------------------------------------------------------------


def organizations_for_api() -> QuerySet[Organization]:
    """Every organization (their names are not private: the customer form offers them all),
    with its domains and its number of live customers."""
    members = (
        Customer.objects.filter(organization=OuterRef("pk"), merged_into__isnull=True)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Organization.objects.prefetch_related("domains").annotate(
        customer_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0))
    )


def organization_search(qs: QuerySet[Organization], query: str) -> QuerySet[Organization]:
    from tickets.models import OrganizationDomain

    query = query.strip()
    if not query:
        return qs
    domain = OrganizationDomain.objects.filter(organization=OuterRef("pk"), domain__icontains=query)
    return qs.filter(Q(name__icontains=query) | Exists(domain))


def organization_customers_for_api(*, user: Any, organization: Organization) -> QuerySet[Customer]:
    return customers_for_api(user=user).filter(organization=organization)


def organization_tickets_for_api(*, user: Any, organization: Organization) -> QuerySet[Ticket]:
    return (
        visible_tickets(user)
        .filter(organization=organization)
        .select_related("channel", "customer", "team", "assignee__agent", "organization")
        .prefetch_related("tags")
    )


def organization_has_records(*, organization: Organization) -> list[str]:
    reasons = []
    if Customer.objects.filter(organization=organization).exists():
        reasons.append("customers")
    if Ticket.objects.filter(organization=organization).exists():
        reasons.append("tickets")
    return reasons


# --- Teams, agents, tags, macros, channels ----------------------------------------


def teams_for_api() -> QuerySet[Team]:
    """Every team, private ones included: their names are offered in every ticket's team
    picker; what a private team keeps private is its tickets."""
    members = Prefetch("agents", queryset=AgentProfile.objects.select_related("user").order_by("display_name", "pk"))
    return Team.objects.annotate(member_count=Count("agents", distinct=True)).prefetch_related(members)


def agents_for_api() -> QuerySet[AgentProfile]:
    """Staff users' agent profiles with their user, teams and role groups (three queries)."""
    return AgentProfile.objects.filter(user__is_staff=True).select_related("user").prefetch_related(
        Prefetch("teams", queryset=Team.objects.order_by("name")), "user__groups"
    )


def agent_user(*, user_id: int) -> Any | None:
    """A staff user by id (the agent's id in the API is their user id)."""
    return get_user_model().objects.filter(pk=user_id, is_staff=True).first()


def tags_for_api(*, user: Any) -> QuerySet[Tag]:
    """Tags with how many tickets the user can see carry them."""
    visible = visible_tickets(user).filter(tags=OuterRef("pk")).order_by().values("tags").annotate(n=Count("pk")).values("n")
    return Tag.objects.annotate(usage_count=Coalesce(Subquery(visible, output_field=IntegerField()), Value(0)))


def macros_for_api(*, user: Any) -> QuerySet[Macro]:
    """The macros the user's reply box offers: active shared ones and the user's own."""
    from tickets.selectors.ticket_page import macros_for_user

    return macros_for_user(user=user)


def channels_for_api() -> QuerySet:
    from channels_inbox.models import Channel

    return Channel.objects.select_related("default_team").defer("secrets")


# --- Surveys -----------------------------------------------------------------------


def surveys_installed() -> bool:
    return apps.is_installed("metrics.surveys")


def survey_responses_for_api(*, user: Any) -> QuerySet:
    """Survey answers the user may read: those on tickets they can see, and those without a
    ticket (an NPS campaign's) from customers they can open."""
    from metrics.surveys.models import SurveyResponse

    visible = visible_tickets(user)
    on_visible_ticket = Q(ticket__isnull=False, ticket__in=visible.values("pk"))
    without_ticket = Q(ticket__isnull=True, customer__in=visible_customers(user, tickets=visible).values("pk"))
    return SurveyResponse.objects.filter(on_visible_ticket | without_ticket).select_related("ticket", "customer")
