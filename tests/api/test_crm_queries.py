"""Every CRM list costs the same number of queries for 2 rows as for 8: related rows are
joined or prefetched, never read one row at a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.surveys.services import survey_response_record
from tests.factories import (
    AgentFactory,
    ChannelFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    OrganizationDomainFactory,
    OrganizationFactory,
    RuleFactory,
    SLATargetFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import Macro

pytestmark = pytest.mark.django_db


def _customer(n: int) -> None:
    customer = CustomerFactory(organization=OrganizationFactory())
    CustomerIdentityFactory(customer=customer)
    TicketFactory(customer=customer).tags.add(TagFactory())


def _organization(n: int) -> None:
    OrganizationDomainFactory(organization=OrganizationFactory())


def _team(n: int) -> None:
    team = TeamFactory()
    AgentFactory().teams.add(team)


def _agent(n: int) -> None:
    AgentFactory().teams.add(TeamFactory())


def _macro(n: int) -> None:
    Macro.objects.create(name=f"Macro {n}", body="x", set_team=TeamFactory())


def _channel(n: int) -> None:
    ChannelFactory(default_team=TeamFactory())


def _survey(n: int) -> None:
    survey_response_record(ticket_id=TicketFactory().pk, kind="csat", score=4, source="email")


def _history(n: int, ctx: dict) -> None:
    if n == 0:
        ctx["organization"] = OrganizationFactory()
        ctx["customer"] = CustomerFactory(organization=ctx["organization"])
    ticket = TicketFactory(
        customer=ctx["customer"], organization=ctx["organization"], assignee=AgentFactory().user, team=TeamFactory()
    )
    ticket.tags.add(TagFactory())


def _organization_customers(n: int, ctx: dict) -> None:
    if n == 0:
        _history(n, ctx)
    else:
        CustomerFactory(organization=ctx["organization"])


def _plain(make: Callable[[int], object]) -> Callable[[int, dict], None]:
    def run(n: int, ctx: dict) -> None:
        make(n)

    return run


# (url, make(n, ctx)): the url may name ctx["customer"] / ctx["organization"], made by make(0, ctx).
LISTS: list[tuple[str, Callable[[int, dict], None]]] = [
    ("/api/v1/customers/", _plain(_customer)),
    ("/api/v1/organizations/", _plain(_organization)),
    ("/api/v1/teams/", _plain(_team)),
    ("/api/v1/agents/", _plain(_agent)),
    ("/api/v1/tags/", _plain(lambda n: TicketFactory().tags.add(TagFactory()))),
    ("/api/v1/macros/", _plain(_macro)),
    ("/api/v1/channels/", _plain(_channel)),
    ("/api/v1/rules/", _plain(lambda n: RuleFactory())),
    ("/api/v1/sla-policies/", _plain(lambda n: SLATargetFactory())),
    ("/api/v1/survey-responses/", _plain(_survey)),
    ("/api/v1/customers/{customer.pk}/tickets/", _history),
    ("/api/v1/organizations/{organization.pk}/tickets/", _history),
    ("/api/v1/organizations/{organization.pk}/customers/", _organization_customers),
]


@pytest.mark.parametrize(("url", "make"), LISTS, ids=[u for u, _ in LISTS])
def test_list_queries_do_not_grow_with_the_page(admin_api, url, make):
    ctx: dict = {}

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = admin_api.get(url.format(**ctx))
        assert response.status_code == 200, response.content[:300]
        return len(queries), len(response.json()["results"])

    for n in range(2):
        make(n, ctx)
    admin_api.get(url.format(**ctx))  # the key's first use records last_used_at: one write, once a minute
    few, rows_few = count()
    for n in range(2, 8):
        make(n, ctx)
    many, rows_many = count()
    assert rows_many > rows_few
    assert many == few, f"{url}: {few} queries for {rows_few} rows, {many} for {rows_many}"
    assert many <= 6, f"{url}: {many} queries"
