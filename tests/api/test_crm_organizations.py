"""/api/v1/organizations/: CRUD, their customers and tickets, permissions."""

from __future__ import annotations

import pytest

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import (
    CustomerFactory,
    OrganizationDomainFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import Organization, OrganizationDomain

pytestmark = pytest.mark.django_db

URL = "/api/v1/organizations/"


@pytest.fixture
def manager_api(make_key) -> KeyClient:
    return KeyClient(make_key(role="manager")[1])


def test_list_search_and_retrieve(api_client):
    engines = OrganizationFactory(name="Analytical Engines")
    OrganizationDomainFactory(organization=engines, domain="engines.example")
    OrganizationFactory(name="Navy")
    CustomerFactory(organization=engines)
    rows = api_client.get(URL).json()["results"]
    assert [r["name"] for r in rows] == ["Analytical Engines", "Navy"]
    assert rows[0]["domains"] == ["engines.example"] and rows[0]["customer_count"] == 1
    assert [r["id"] for r in api_client.get(URL, {"q": "engines.ex"}).json()["results"]] == [engines.pk]
    assert [r["id"] for r in api_client.get(URL, {"domain": "ENGINES.example"}).json()["results"]] == [engines.pk]
    one = api_client.get(f"{URL}{engines.pk}/")
    assert one.status_code == 200 and one["ETag"]
    assert_problem(api_client.get(f"{URL}999999/"), 404)


def test_agents_may_read_but_not_create(api_client, make_key):
    assert_problem(api_client.post(URL, {"name": "Acme"}), 403)  # agents hold no organizations:write
    no_scope = KeyClient(make_key(scopes=["customers:read"])[1])
    assert_problem(no_scope.get(URL), 403, "permission-denied")


def test_manager_creates_and_edits_with_domains(manager_api):
    response = manager_api.post(URL, {"name": "Acme", "notes": "big", "domains": ["@Acme.example", "acme.test"]})
    assert response.status_code == 201, response.json()
    org = Organization.objects.get(pk=response.json()["id"])
    assert sorted(org.domains.values_list("domain", flat=True)) == ["acme.example", "acme.test"]
    etag = manager_api.get(f"{URL}{org.pk}/")["ETag"]
    patched = manager_api.patch(f"{URL}{org.pk}/", {"domains": ["acme.example"]}, HTTP_IF_MATCH=etag)
    assert patched.status_code == 200, patched.json()
    assert patched.json()["domains"] == ["acme.example"] and patched.json()["notes"] == "big"
    assert_problem(manager_api.patch(f"{URL}{org.pk}/", {"name": "Stale"}, HTTP_IF_MATCH=etag), 412)
    org.refresh_from_db()
    assert org.name == "Acme"


def test_validation_and_domain_conflicts(manager_api):
    OrganizationDomainFactory(domain="taken.example")
    body = assert_problem(manager_api.post(URL, {"name": " ", "domains": ["not a domain"]}), 400)
    assert {e["field"] for e in body["errors"]} == {"name", "domains"}
    assert_problem(manager_api.post(URL, {"name": "Dup", "domains": ["taken.example"]}), 409, "domain-taken")
    assert not Organization.objects.filter(name="Dup").exists()


def test_delete_is_for_admins_and_only_when_empty(manager_api, admin_api):
    empty, busy = OrganizationFactory(), OrganizationFactory()
    OrganizationDomainFactory(organization=empty)
    CustomerFactory(organization=busy)
    assert_problem(manager_api.delete(f"{URL}{empty.pk}/"), 403)
    assert_problem(admin_api.delete(f"{URL}{busy.pk}/"), 409, "organization-in-use")
    assert admin_api.delete(f"{URL}{empty.pk}/").status_code == 204
    assert not OrganizationDomain.objects.filter(organization_id=empty.pk).exists()


def test_customers_and_tickets_follow_visibility(api_client, manager_api):
    org = OrganizationFactory()
    public = CustomerFactory(name="Public", organization=org)
    secret = CustomerFactory(name="Secret", organization=org)
    seen = TicketFactory(customer=public, organization=org)
    TicketFactory(customer=secret, organization=org, team=TeamFactory(name="Vault", slug="vault", is_private=True))
    assert [c["name"] for c in api_client.get(f"{URL}{org.pk}/customers/").json()["results"]] == ["Public"]
    assert [t["number"] for t in api_client.get(f"{URL}{org.pk}/tickets/").json()["results"]] == [seen.number]
    assert len(manager_api.get(f"{URL}{org.pk}/tickets/").json()["results"]) == 2
    assert_problem(api_client.get(f"{URL}999999/tickets/"), 404)
