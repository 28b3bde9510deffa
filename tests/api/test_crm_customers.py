"""/api/v1/customers/: CRUD, search, identities, merge, history — and every permission rule."""

from __future__ import annotations

import pytest

from tests.api.conftest import KeyClient, assert_problem
from tests.factories import (
    AgentFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import Customer, CustomerIdentity, Ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"


def _key_client(make_key, *, role: str = "agent", scopes=None, user=None) -> KeyClient:
    kwargs = {"role": role, "user": user}
    if scopes is not None:
        kwargs["scopes"] = scopes
    key, raw = make_key(**kwargs)
    client = KeyClient(raw)
    client.key = key
    return client


@pytest.fixture
def private_customer(db):
    """A customer known only through a private team's ticket."""
    customer = CustomerFactory(name="Secret Sam")
    TicketFactory(customer=customer, team=TeamFactory(name="Vault", slug="vault", is_private=True))
    return customer


# --- Reading -------------------------------------------------------------------------


def test_list_shows_visible_customers_with_identities_and_counts(api_client, private_customer):
    ada = CustomerFactory(name="Ada Lovelace", organization=OrganizationFactory(name="Engines"))
    CustomerIdentityFactory(customer=ada, address="ada@example.com")
    TicketFactory(customer=ada)
    response = api_client.get(URL)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["name"] for r in rows] == ["Ada Lovelace"]  # the private team's customer is left out
    assert rows[0]["organization"]["name"] == "Engines"
    assert rows[0]["identities"][0]["address"] == "ada@example.com"
    assert rows[0]["ticket_count"] == 1


def test_search_by_name_and_exact_email(api_client):
    ada = CustomerFactory(name="Ada Lovelace")
    CustomerIdentityFactory(customer=ada, address="ada@example.com")
    grace = CustomerFactory(name="Grace Hopper")
    CustomerIdentityFactory(customer=grace, address="grace@navy.example")
    assert [r["id"] for r in api_client.get(URL, {"q": "lovel"}).json()["results"]] == [ada.pk]
    assert [r["id"] for r in api_client.get(URL, {"q": "navy"}).json()["results"]] == [grace.pk]
    assert [r["id"] for r in api_client.get(URL, {"email": "ADA@example.com"}).json()["results"]] == [ada.pk]
    assert api_client.get(URL, {"email": "ada@"}).json()["results"] == []


def test_list_pages_with_a_cursor_and_orders(api_client):
    for name in ("Cleo", "Abe", "Bea"):
        CustomerFactory(name=name)
    first = api_client.get(URL, {"page_size": 2}).json()
    assert [r["name"] for r in first["results"]] == ["Abe", "Bea"]
    second = api_client.get(first["next"]).json()
    assert [r["name"] for r in second["results"]] == ["Cleo"] and second["next"] is None
    newest = api_client.get(URL, {"ordering": "-created_at"}).json()["results"]
    assert newest[0]["name"] == "Bea"
    assert_problem(api_client.get(URL, {"ordering": "notes"}), 400, "validation")


def test_list_query_count_does_not_grow_with_the_page(api_client, django_assert_max_num_queries):
    for n in range(8):
        customer = CustomerFactory()
        CustomerIdentityFactory(customer=customer)
        TicketFactory(customer=customer)
    with django_assert_max_num_queries(12):
        assert len(api_client.get(URL).json()["results"]) == 8


def test_retrieve_answers_an_etag_and_hides_private_customers(api_client, private_customer):
    ada = CustomerFactory(name="Ada")
    response = api_client.get(f"{URL}{ada.pk}/")
    assert response.status_code == 200 and response["ETag"]
    assert_problem(api_client.get(f"{URL}{private_customer.pk}/"), 404, "not-found")
    assert_problem(api_client.get(f"{URL}999999/"), 404)


def test_team_member_and_manager_see_the_private_customer(make_key, private_customer):
    manager = _key_client(make_key, role="manager")
    assert manager.get(f"{URL}{private_customer.pk}/").status_code == 200
    member = AgentFactory(role="agent")
    member.teams.add(Ticket.objects.get(customer=private_customer).team)
    assert _key_client(make_key, user=member.user).get(f"{URL}{private_customer.pk}/").status_code == 200


def test_a_merged_record_is_a_404_naming_its_survivor(api_client):
    source, target = CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=source.pk).update(merged_into=target)
    body = assert_problem(api_client.get(f"{URL}{source.pk}/"), 404, "merged")
    assert body["merged_into"] == target.pk


def test_reading_needs_the_customers_read_scope(make_key):
    client = _key_client(make_key, scopes=["tickets:read"])
    body = assert_problem(client.get(URL), 403, "permission-denied")
    assert "customers:read" in body["detail"]


# --- Creating, editing, deleting ----------------------------------------------------


def test_create_with_identities(api_client):
    org = OrganizationFactory(name="Engines")
    response = api_client.post(
        URL,
        {
            "name": "Ada Lovelace",
            "organization": org.pk,
            "tier": "vip",
            "time_zone": "Europe/London",
            "custom_attributes": {"plan": "enterprise", "seats": 40},
            "identities": [{"kind": "email", "address": " Ada@Example.com ", "is_verified": True}],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"{URL}{body['id']}/"
    customer = Customer.objects.get(pk=body["id"])
    assert (customer.name, customer.tier, customer.organization_id) == ("Ada Lovelace", "vip", org.pk)
    assert customer.custom_attributes == {"plan": "enterprise", "seats": 40}
    identity = customer.identities.get()
    assert (identity.address, identity.is_verified) == ("ada@example.com", True)


def test_create_validation_errors_are_field_problems(api_client):
    response = api_client.post(
        URL,
        {
            "name": "",
            "tier": "gold",
            "time_zone": "Mars/Olympus",
            "language": "english please",
            "organization": 999999,
            "custom_attributes": {"9lives": 1, "nested": {"a": 1}},
            "identities": [{"kind": "email", "address": "not an email"}],
        },
    )
    body = assert_problem(response, 400, "validation")
    fields = {e["field"] for e in body["errors"]}
    assert {"name", "tier", "time_zone", "language", "organization", "custom_attributes", "identities.0.address"} <= fields
    assert not Customer.objects.exists()


def test_create_with_an_address_someone_holds_is_a_conflict_and_creates_nothing(api_client):
    CustomerIdentityFactory(address="taken@example.com")
    response = api_client.post(URL, {"name": "Dup", "identities": [{"kind": "email", "address": "taken@example.com"}]})
    assert_problem(response, 409, "identity-taken")
    assert not Customer.objects.filter(name="Dup").exists()


def test_create_is_idempotent_with_a_key(api_client):
    body = {"name": "Once Only"}
    first = api_client.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_client.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Customer.objects.filter(name="Once Only").count() == 1


def test_patch_changes_only_the_fields_sent_and_honours_if_match(api_client):
    ada = CustomerFactory(name="Ada", notes="keep me", language="en")
    etag = api_client.get(f"{URL}{ada.pk}/")["ETag"]
    response = api_client.patch(f"{URL}{ada.pk}/", {"tier": "vip"}, HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    ada.refresh_from_db()
    assert (ada.tier, ada.notes, ada.language, ada.name) == ("vip", "keep me", "en", "Ada")
    assert response["ETag"] != etag
    # The old tag no longer matches: a second writer holding it is refused, nothing changes.
    assert_problem(api_client.patch(f"{URL}{ada.pk}/", {"name": "Overwritten"}, HTTP_IF_MATCH=etag), 412, "precondition-failed")
    ada.refresh_from_db()
    assert ada.name == "Ada"


def test_put_replaces_the_record(api_client):
    ada = CustomerFactory(name="Ada", notes="old")
    body = {
        "name": "Ada L.", "organization": None, "tier": "standard", "language": "", "time_zone": "",
        "notes": "", "custom_attributes": {},
    }
    response = api_client.put(f"{URL}{ada.pk}/", body, format="json")
    assert response.status_code == 200
    ada.refresh_from_db()
    assert (ada.name, ada.notes) == ("Ada L.", "")
    incomplete = api_client.put(f"{URL}{ada.pk}/", {"name": "x"}, format="json")
    assert {e["field"] for e in assert_problem(incomplete, 400)["errors"]} >= {"tier", "notes"}


def test_editing_a_private_customer_is_a_404(api_client, private_customer):
    assert_problem(api_client.patch(f"{URL}{private_customer.pk}/", {"name": "x"}), 404)


def test_writing_needs_the_write_scope(make_key):
    ada = CustomerFactory()
    client = _key_client(make_key, scopes=["customers:read"])
    assert_problem(client.post(URL, {"name": "x"}), 403, "permission-denied")
    assert_problem(client.patch(f"{URL}{ada.pk}/", {"name": "x"}), 403, "permission-denied")


def test_delete_is_for_admins_and_refused_for_customers_with_tickets(api_client, admin_api):
    empty, busy = CustomerFactory(), CustomerFactory()
    TicketFactory(customer=busy)
    assert_problem(api_client.delete(f"{URL}{empty.pk}/"), 403, "permission-denied")  # agents may not delete
    assert_problem(admin_api.delete(f"{URL}{busy.pk}/"), 409, "customer-in-use")
    assert admin_api.delete(f"{URL}{empty.pk}/").status_code == 204
    assert not Customer.objects.filter(pk=empty.pk).exists()
    assert Customer.objects.filter(pk=busy.pk).exists()


def test_delete_with_a_stale_if_match_is_refused(admin_api):
    customer = CustomerFactory()
    etag = admin_api.get(f"{URL}{customer.pk}/")["ETag"]
    admin_api.patch(f"{URL}{customer.pk}/", {"name": "changed"})
    assert_problem(admin_api.delete(f"{URL}{customer.pk}/", HTTP_IF_MATCH=etag), 412)
    assert Customer.objects.filter(pk=customer.pk).exists()


# --- Identities ----------------------------------------------------------------------


def test_identities_list_add_and_remove(api_client, admin_api):
    ada = CustomerFactory()
    CustomerIdentityFactory(customer=ada, address="ada@example.com")
    url = f"{URL}{ada.pk}/identities/"
    assert [i["address"] for i in api_client.get(url).json()["results"]] == ["ada@example.com"]
    added = api_client.post(url, {"kind": "phone", "address": "+44 20 7946 0018", "display_name": "Ada"})
    assert added.status_code == 201
    assert added.json()["address"] == "+442079460018"
    assert api_client.get(url, {"kind": "phone"}).json()["results"][0]["id"] == added.json()["id"]
    one = f"{url}{added.json()['id']}/"
    assert api_client.get(one).json()["kind"] == "phone"
    assert_problem(api_client.delete(one), 403)  # removing an identity is for administrators
    assert admin_api.delete(one).status_code == 204
    assert not CustomerIdentity.objects.filter(pk=added.json()["id"]).exists()


def test_adding_a_taken_or_invalid_identity(api_client):
    ada = CustomerFactory()
    CustomerIdentityFactory(address="taken@example.com")
    url = f"{URL}{ada.pk}/identities/"
    assert_problem(api_client.post(url, {"kind": "email", "address": "Taken@example.com"}), 409, "identity-taken")
    body = assert_problem(api_client.post(url, {"kind": "fax", "address": "1"}), 400)
    assert body["errors"][0]["field"] == "kind"


def test_identity_of_another_customer_or_a_private_one_is_a_404(api_client, private_customer):
    ada, other = CustomerFactory(), CustomerFactory()
    foreign = CustomerIdentityFactory(customer=other)
    assert_problem(api_client.get(f"{URL}{ada.pk}/identities/{foreign.pk}/"), 404)
    assert_problem(api_client.get(f"{URL}{private_customer.pk}/identities/"), 404)
    assert_problem(api_client.post(f"{URL}{private_customer.pk}/identities/", {"kind": "email", "address": "a@b.example"}), 404)


def test_move_an_identity_to_another_customer(api_client, private_customer):
    ada, grace = CustomerFactory(), CustomerFactory()
    identity = CustomerIdentityFactory(customer=ada)
    url = f"{URL}{ada.pk}/identities/{identity.pk}/move/"
    assert_problem(api_client.post(url, {"customer": private_customer.pk}), 404)  # cannot move into the invisible
    assert_problem(api_client.post(url, {}), 400)
    response = api_client.post(url, {"customer": grace.pk})
    assert response.status_code == 200
    identity.refresh_from_db()
    assert identity.customer_id == grace.pk
    # Moving it again from its old owner: it is no longer theirs.
    assert_problem(api_client.post(url, {"customer": grace.pk}), 404)


# --- Merge and history ----------------------------------------------------------------


def test_merge_folds_the_source_into_this_customer(api_client):
    target, source = CustomerFactory(name="Ada"), CustomerFactory(name="Ada L.")
    CustomerIdentityFactory(customer=source, address="ada@work.example")
    ticket = TicketFactory(customer=source)
    response = api_client.post(f"{URL}{target.pk}/merge/", {"source": source.pk})
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == target.pk
    assert {i["address"] for i in response.json()["identities"]} == {"ada@work.example"}
    ticket.refresh_from_db()
    assert ticket.customer_id == target.pk
    assert_problem(api_client.get(f"{URL}{source.pk}/"), 404, "merged")


def test_merge_refusals(api_client, private_customer, make_key):
    ada = CustomerFactory()
    assert_problem(api_client.post(f"{URL}{ada.pk}/merge/", {"source": ada.pk}), 409, "merge-not-allowed")
    assert_problem(api_client.post(f"{URL}{ada.pk}/merge/", {"source": private_customer.pk}), 404)
    assert_problem(api_client.post(f"{URL}{ada.pk}/merge/", {"source": "x"}), 400)
    reader = _key_client(make_key, scopes=["customers:read"])
    assert_problem(reader.post(f"{URL}{ada.pk}/merge/", {"source": CustomerFactory().pk}), 403)


def test_history_lists_only_tickets_the_user_may_see(api_client, make_key):
    ada = CustomerFactory()
    open_ticket = TicketFactory(customer=ada, status="open")
    TicketFactory(customer=ada, status="solved")
    TicketFactory(customer=ada, team=TeamFactory(name="Vault", slug="vault", is_private=True))
    url = f"{URL}{ada.pk}/tickets/"
    numbers = [t["number"] for t in api_client.get(url).json()["results"]]
    assert len(numbers) == 2
    assert [t["number"] for t in api_client.get(url, {"status": "open"}).json()["results"]] == [open_ticket.number]
    assert len(_key_client(make_key, role="manager").get(url).json()["results"]) == 3
    assert_problem(_key_client(make_key, scopes=["customers:read"]).get(url), 403)  # tickets:read needed


def test_survey_answers_in_the_history(api_client):
    from metrics.surveys.services import survey_response_record

    ada = CustomerFactory()
    seen = TicketFactory(customer=ada)
    hidden = TicketFactory(customer=ada, team=TeamFactory(name="Vault", slug="vault", is_private=True))
    survey_response_record(ticket_id=seen.pk, kind="csat", score=5, source="email")
    survey_response_record(ticket_id=hidden.pk, kind="csat", score=1, source="email")
    rows = api_client.get(f"{URL}{ada.pk}/survey-responses/").json()["results"]
    assert [(r["ticket"], r["score"]) for r in rows] == [(seen.number, 5)]


# --- Webhooks ------------------------------------------------------------------------


@pytest.fixture
def customer_webhook(settings, admin_api):
    """A receiver on loopback subscribed to customer.updated (the webhook tests' own receiver)."""
    from tests.channels_inbox.standin import run
    from tests.webhooks.conftest import Receiver
    from tickets.webhooks import hooks
    from tickets.webhooks import services as webhooks

    settings.PARLEY_WEBHOOK_RETRY_SCHEDULE = [0, 0]
    settings.PARLEY_WEBHOOK_READ_TIMEOUT = 0.5
    hooks.subscriptions_changed()
    for receiver in run(Receiver):
        _, receiver.secret = webhooks.endpoint_create(
            name="CRM sync", url=receiver.url + "/hooks", events=["customer.updated"],
            created_by=admin_api.key.user, allow_private_network=True,
        )
        yield receiver
    hooks.subscriptions_changed()


def test_api_changes_reach_customer_webhooks(api_client, admin_api, customer_webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(URL, {"name": "Ada", "identities": [{"kind": "email", "address": "ada@example.com"}]})
    customer_id = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        added = api_client.post(f"{URL}{customer_id}/identities/", {"kind": "phone", "address": "+15550100"})
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.delete(f"{URL}{customer_id}/identities/{added.json()['id']}/")
    got = [(e["data"]["customer"]["id"], e["data"]["reason"]) for e in customer_webhook.events]
    assert got == [(customer_id, "created"), (customer_id, "identity_added"), (customer_id, "identity_removed")]
    assert [i["address"] for i in customer_webhook.events[-1]["data"]["customer"]["identities"]] == ["ada@example.com"]
