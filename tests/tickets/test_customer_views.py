"""The customer and organization pages: list and search, the record, edit, merge, identity
links; every permission rule; hostile input shown escaped."""

from __future__ import annotations

import pytest

from tests.factories import (
    AgentFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    OrganizationDomainFactory,
    OrganizationFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import (
    Customer,
    CustomerIdentity,
    OrganizationDomain,
    Ticket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client):
    """Staff, but in no role: may look, may not change."""
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.fixture
def manager_client(client):
    client.force_login(AgentFactory(role="manager").user)
    return client


def edit_data(customer: Customer, **overrides) -> dict:
    data = {
        "name": customer.name, "organization": "", "tier": customer.tier, "language": "", "time_zone": "",
        "notes": customer.notes, "loaded_at": customer.updated_at.isoformat(),
        "attr-TOTAL_FORMS": "3", "attr-INITIAL_FORMS": "0", "attr-MIN_NUM_FORMS": "0", "attr-MAX_NUM_FORMS": "50",
    }
    data.update(overrides)
    return data


def private_customer():
    """A customer known only through a private team's ticket."""
    team = TeamFactory(name="Legal", slug="legal", is_private=True)
    customer = CustomerFactory(name="Whistle Blower")
    CustomerIdentityFactory(customer=customer, address="wb@example.com")
    TicketFactory(customer=customer, team=team)
    return customer, team


# --- Access ---------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_login(client):
    customer = CustomerFactory()
    identity = CustomerIdentityFactory(customer=customer)
    org = OrganizationFactory()
    for url in (
        "/customers/", f"/customers/{customer.pk}/", f"/customers/{customer.pk}/merge/?other=1",
        f"/customers/{customer.pk}/identities/{identity.pk}/move/", "/organizations/", f"/organizations/{org.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    response = client.post(f"/customers/{customer.pk}/", edit_data(customer, name="Changed"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Customer.objects.get(pk=customer.pk).name != "Changed"


def test_non_staff_accounts_get_404(client):
    customer = CustomerFactory()
    client.force_login(UserFactory(is_staff=False))
    assert client.get("/customers/").status_code == 404
    assert client.get(f"/customers/{customer.pk}/").status_code == 404


def test_customer_known_only_through_a_private_team_is_404_for_outsiders(agent_client, client):
    customer, team = private_customer()
    assert agent_client.get(f"/customers/{customer.pk}/").status_code == 404
    assert "Whistle Blower" not in agent_client.get("/customers/?q=whistle").content.decode()
    assert agent_client.post(f"/customers/{customer.pk}/", edit_data(customer, name="X")).status_code == 404

    member = AgentFactory(role="agent")
    member.teams.add(team)
    client.force_login(member.user)
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
    assert "Whistle Blower" in client.get("/customers/?q=whistle").content.decode()


def test_managers_see_every_customer(manager_client):
    customer, _ = private_customer()
    assert manager_client.get(f"/customers/{customer.pk}/").status_code == 200
    assert "Whistle Blower" in manager_client.get("/customers/").content.decode()


def test_customer_with_one_visible_ticket_is_shown_without_the_private_one(agent_client):
    customer, _ = private_customer()
    TicketFactory(customer=customer, subject="Public question")
    page = agent_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Public question" in page
    assert "Tickets (1)" in page


def test_unknown_customer_is_404(agent_client):
    assert agent_client.get("/customers/999999/").status_code == 404


def test_merged_record_redirects_to_the_survivor(agent_client):
    survivor = CustomerFactory()
    merged = CustomerFactory(merged_into=survivor)
    response = agent_client.get(f"/customers/{merged.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/customers/{survivor.pk}/"


# --- List and search ------------------------------------------------------------------------


def test_list_searches_by_name_address_and_organization(agent_client):
    acme = OrganizationFactory(name="Acme Rockets")
    CustomerFactory(name="Wile Coyote", organization=acme)
    ada = CustomerFactory(name="Ada Lovelace")
    CustomerIdentityFactory(customer=ada, kind="whatsapp", address="+15550101")
    CustomerFactory(name="Grace Hopper")

    def names(q: str) -> str:
        return agent_client.get("/customers/", {"q": q}).content.decode()

    assert "Ada Lovelace" in names("lovelace") and "Grace" not in names("lovelace")
    assert "Ada Lovelace" in names("5550101") and "Wile" not in names("5550101")
    assert "Wile Coyote" in names("rockets") and "Ada" not in names("rockets")
    assert "No customer matches" in names("nobody-at-all")
    assert "Grace Hopper" in names("")


def test_list_pages_with_a_keyset_cursor_and_skips_merged_records(agent_client):
    for i in range(55):
        CustomerFactory(name=f"Customer {i:03d}")
    CustomerFactory(name="Customer 000", merged_into=Customer.objects.get(name="Customer 001"))
    first = agent_client.get("/customers/").content.decode()
    assert "Customer 000" in first and "Customer 049" in first and "Customer 050" not in first
    assert first.count(">Customer 000<") == 1
    cursor = first.split("cursor=")[1].split('"')[0]
    second = agent_client.get(f"/customers/?cursor={cursor}").content.decode()
    assert "Customer 050" in second and "Customer 054" in second and "Customer 049" not in second
    assert agent_client.get("/customers/?cursor=garbage!!").status_code == 200


def test_list_queries_do_not_grow_with_the_page(agent_client, django_assert_max_num_queries):
    for i in range(50):
        customer = CustomerFactory(organization=OrganizationFactory())
        CustomerIdentityFactory(customer=customer)
        TicketFactory(customer=customer)
    with django_assert_max_num_queries(10):
        response = agent_client.get("/customers/")
    assert response.status_code == 200


def test_htmx_search_returns_only_the_rows(agent_client):
    CustomerFactory(name="Ada Lovelace")
    response = agent_client.get("/customers/", {"q": "ada"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Ada Lovelace" in body and "<html" not in body


# --- The record and its edit form -----------------------------------------------------------


def test_customer_page_shows_the_full_record_and_history(agent_client):
    customer = CustomerFactory(name="Ada", notes="Likes tea", custom_attributes={"plan": "pro"}, tier="vip")
    CustomerIdentityFactory(customer=customer, kind="email", address="ada@x.test", is_verified=True)
    tickets = [TicketFactory(customer=customer, subject=f"Problem {i}") for i in range(3)]
    page = agent_client.get(f"/customers/{customer.pk}/").content.decode()
    for text in ("Ada", "VIP", "Likes tea", "plan", "pro", "ada@x.test", "verified", "Tickets (3)"):
        assert text in page
    for t in tickets:
        assert f'href="/tickets/{t.number}/"' in page


def test_customer_page_history_pages_with_a_cursor(agent_client, django_assert_max_num_queries):
    customer = CustomerFactory()
    import datetime as dt

    from django.utils import timezone

    base = timezone.now()
    for i in range(60):
        TicketFactory(customer=customer, subject=f"T{i:02d}", created_at=base - dt.timedelta(hours=i))
    with django_assert_max_num_queries(15):
        first = agent_client.get(f"/customers/{customer.pk}/").content.decode()
    assert ">T00<" in first and ">T49<" in first and ">T50<" not in first
    cursor = first.split("?cursor=")[1].split('"')[0]
    second = agent_client.get(f"/customers/{customer.pk}/?cursor={cursor}").content.decode()
    assert ">T50<" in second and ">T59<" in second and ">T49<" not in second


def test_agent_edits_the_record(agent_client, agent_user, caplog):
    acme = OrganizationFactory(name="Acme")
    customer = CustomerFactory(name="ada", custom_attributes={"seats": 5, "old": "x"})
    data = edit_data(
        customer, name="Ada Lovelace", organization="acme", tier="vip", language="pt-BR", time_zone="Europe/Lisbon",
        notes="VIP since 2020", **{
            "attr-TOTAL_FORMS": "4", "attr-INITIAL_FORMS": "2",
            "attr-0-key": "seats", "attr-0-value": "5",
            "attr-1-key": "old", "attr-1-value": "x", "attr-1-DELETE": "on",
            "attr-2-key": "plan", "attr-2-value": "enterprise",
        },
    )
    with caplog.at_level("INFO", logger="tickets.services.customers"):
        response = agent_client.post(f"/customers/{customer.pk}/", data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Ada Lovelace" and customer.organization == acme and customer.tier == "vip"
    assert customer.language == "pt-BR" and customer.time_zone == "Europe/Lisbon" and customer.notes == "VIP since 2020"
    assert customer.custom_attributes == {"seats": 5, "plan": "enterprise"}  # untouched 5 stays a number
    assert any(agent_user.username in r.getMessage() and "name" in r.fields for r in caplog.records if hasattr(r, "fields"))
    assert "Customer saved." in agent_client.get(f"/customers/{customer.pk}/").content.decode()


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"time_zone": "Mars/Olympus"}, "is not a time zone"),
        ({"language": "english please"}, "language code"),
        ({"organization": "No Such Org"}, "There is no organization named"),
        ({"tier": "platinum"}, "Select a valid choice"),
        ({"attr-0-key": "plan", "attr-0-value": "a", "attr-1-key": "Plan", "attr-1-value": "b"}, "appears twice"),
        ({"attr-0-key": "", "attr-0-value": "orphan value"}, "needs an attribute name"),
        ({"attr-0-key": "1bad key!", "attr-0-value": "v"}, "Start with a letter"),
        ({"attr-0-key": "long", "attr-0-value": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_invalid_edits_are_refused_and_change_nothing(agent_client, overrides, error):
    customer = CustomerFactory(name="Ada", custom_attributes={"plan": "pro"})
    response = agent_client.post(f"/customers/{customer.pk}/", edit_data(customer, name="Changed", **overrides))
    assert response.status_code == 400
    assert error in response.content.decode()
    customer.refresh_from_db()
    assert customer.name == "Ada" and customer.custom_attributes == {"plan": "pro"}


def test_edit_over_someone_elses_save_is_refused(agent_client):
    customer = CustomerFactory(name="Ada")
    stale = edit_data(customer, name="Mine")
    assert agent_client.post(f"/customers/{customer.pk}/", edit_data(customer, name="Theirs")).status_code == 302
    response = agent_client.post(f"/customers/{customer.pk}/", stale)
    assert response.status_code == 400 and "Someone else changed this customer" in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).name == "Theirs"


def test_staff_without_change_permission_gets_403_and_no_edit_form(viewer_client):
    customer = CustomerFactory(name="Ada")
    page = viewer_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Save customer" not in page and "may view this customer but not change it" in page
    assert viewer_client.post(f"/customers/{customer.pk}/", edit_data(customer, name="X")).status_code == 403
    assert Customer.objects.get(pk=customer.pk).name == "Ada"


def test_hostile_input_is_escaped_everywhere(agent_client):
    customer = CustomerFactory(name="Plain")
    hostile = "<script>alert('x')</script>"
    response = agent_client.post(
        f"/customers/{customer.pk}/",
        edit_data(customer, name=hostile, notes=f"<img src=x onerror=alert(1)>\n{hostile}",
                  **{"attr-0-key": "note", "attr-0-value": hostile}),
    )
    assert response.status_code == 302
    ticket = TicketFactory(customer=customer)
    for url in (f"/customers/{customer.pk}/", "/customers/", f"/tickets/{ticket.number}/", f"/customers/{customer.pk}/?merge_q=x"):
        page = agent_client.get(url).content.decode()
        assert "<script>alert(" not in page and "<img src=x" not in page, url
        assert "&lt;script&gt;" in page, url
    # A hostile attribute key (set through the API, say) is escaped too.
    Customer.objects.filter(pk=customer.pk).update(custom_attributes={"<b onmouseover=alert(1)>": "v"})
    assert "<b onmouseover" not in agent_client.get(f"/customers/{customer.pk}/").content.decode()


# --- Merging --------------------------------------------------------------------------------


def test_agent_finds_a_duplicate_confirms_and_merges(agent_client, agent_user):
    keep = CustomerFactory(name="Ada Lovelace")
    CustomerIdentityFactory(customer=keep, kind="email", address="ada@x.test")
    dupe = CustomerFactory(name="ada_tg")
    CustomerIdentityFactory(customer=dupe, kind="telegram", address="998877")
    ticket = TicketFactory(customer=dupe)

    found = agent_client.get(f"/customers/{keep.pk}/", {"merge_q": "998877"}).content.decode()
    assert f"/customers/{keep.pk}/merge/?other={dupe.pk}" in found
    assert f"?other={keep.pk}" not in found  # never itself
    partial = agent_client.get(f"/customers/{keep.pk}/", {"merge_q": "ada"}, HTTP_HX_REQUEST="true").content.decode()
    assert "ada_tg" in partial and "<html" not in partial

    confirm = agent_client.get(f"/customers/{keep.pk}/merge/", {"other": dupe.pk}).content.decode()
    assert "Merge ada_tg into Ada Lovelace?" in confirm and "1 ticket" in confirm and "998877" in confirm
    swapped = agent_client.get(f"/customers/{keep.pk}/merge/", {"other": dupe.pk, "keep": "other"}).content.decode()
    assert "Merge Ada Lovelace into ada_tg?" in swapped

    response = agent_client.post(f"/customers/{keep.pk}/merge/", {"source": dupe.pk, "target": keep.pk})
    assert response.status_code == 302 and response["Location"] == f"/customers/{keep.pk}/"
    assert Ticket.objects.get(pk=ticket.pk).customer_id == keep.pk
    assert Customer.objects.get(pk=dupe.pk).merged_into_id == keep.pk
    assert TicketEvent.objects.get(ticket=ticket, kind="customer_changed").actor_user == agent_user
    assert "was merged into" in agent_client.get(f"/customers/{keep.pk}/").content.decode()

    again = agent_client.post(f"/customers/{keep.pk}/merge/", {"source": dupe.pk, "target": keep.pk}, follow=True)
    assert "already merged into another record" in again.content.decode()
    assert TicketEvent.objects.filter(kind="customer_changed").count() == 1


def test_merge_post_needs_the_change_permission(viewer_client):
    keep, dupe = CustomerFactory(), CustomerFactory()
    response = viewer_client.post(f"/customers/{keep.pk}/merge/", {"source": dupe.pk, "target": keep.pk})
    assert response.status_code == 403
    assert Customer.objects.get(pk=dupe.pk).merged_into_id is None
    assert "You may not merge customers." in viewer_client.get(f"/customers/{keep.pk}/merge/?other={dupe.pk}").content.decode()


def test_merge_with_a_hidden_customer_or_an_unrelated_pair_is_404(agent_client):
    keep = CustomerFactory()
    hidden, _ = private_customer()
    assert agent_client.get(f"/customers/{keep.pk}/merge/", {"other": hidden.pk}).status_code == 404
    assert agent_client.post(f"/customers/{keep.pk}/merge/", {"source": hidden.pk, "target": keep.pk}).status_code == 404
    a, b = CustomerFactory(), CustomerFactory()
    assert agent_client.post(f"/customers/{keep.pk}/merge/", {"source": a.pk, "target": b.pk}).status_code == 404
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0


def test_merge_with_itself_or_bad_input_is_refused(agent_client):
    keep = CustomerFactory()
    response = agent_client.post(f"/customers/{keep.pk}/merge/", {"source": keep.pk, "target": keep.pk}, follow=True)
    assert "cannot be merged into itself" in response.content.decode()
    response = agent_client.post(f"/customers/{keep.pk}/merge/", {"source": "x", "target": keep.pk}, follow=True)
    assert response.status_code == 200
    assert agent_client.get(f"/customers/{keep.pk}/merge/?other=abc").status_code == 302
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0


# --- Identity links -------------------------------------------------------------------------


def test_agent_links_an_identity_to_another_customer(agent_client):
    visitor = CustomerFactory(name="Chat visitor 12")
    identity = CustomerIdentityFactory(customer=visitor, kind="chat", address="visitor-12")
    ada = CustomerFactory(name="Ada Lovelace")
    page = agent_client.get(f"/customers/{visitor.pk}/identities/{identity.pk}/move/", {"q": "lovelace"}).content.decode()
    assert "Link visitor-12 to Ada Lovelace" in page
    response = agent_client.post(f"/customers/{visitor.pk}/identities/{identity.pk}/move/", {"target": ada.pk})
    assert response.status_code == 302
    assert CustomerIdentity.objects.get(pk=identity.pk).customer_id == ada.pk


def test_identity_link_needs_the_change_permission(viewer_client):
    visitor, other = CustomerFactory(), CustomerFactory()
    identity = CustomerIdentityFactory(customer=visitor)
    url = f"/customers/{visitor.pk}/identities/{identity.pk}/move/"
    assert viewer_client.post(url, {"target": other.pk}).status_code == 403
    assert "Link " not in viewer_client.get(url, {"q": other.name}).content.decode().split("<h1>")[1].split("</h1>", 1)[1]
    assert CustomerIdentity.objects.get(pk=identity.pk).customer_id == visitor.pk


def test_identity_link_to_hidden_or_foreign_records_is_404(agent_client):
    visitor, other = CustomerFactory(), CustomerFactory()
    identity = CustomerIdentityFactory(customer=visitor)
    url = f"/customers/{visitor.pk}/identities/{identity.pk}/move/"
    assert agent_client.get(f"/customers/{other.pk}/identities/{identity.pk}/move/").status_code == 404
    hidden, _ = private_customer()
    assert agent_client.post(url, {"target": hidden.pk}).status_code == 404
    assert CustomerIdentity.objects.get(pk=identity.pk).customer_id == visitor.pk


# --- Organizations --------------------------------------------------------------------------


def test_organization_page_lists_customers_and_visible_tickets(agent_client):
    acme = OrganizationFactory(name="Acme", notes="Key account")
    OrganizationDomainFactory(organization=acme, domain="acme.test")
    wile = CustomerFactory(name="Wile", organization=acme)
    TicketFactory(customer=wile, organization=acme, subject="Rocket skates")
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    TicketFactory(customer=wile, organization=acme, subject="Secret matter", team=legal)
    page = agent_client.get(f"/organizations/{acme.pk}/").content.decode()
    assert "Acme" in page and "acme.test" in page and "Key account" in page and "Wile" in page
    assert "Rocket skates" in page and "Secret matter" not in page
    assert "Managers edit organizations." in page
    assert agent_client.get("/organizations/999999/").status_code == 404


def test_organization_list_searches_by_domain(agent_client):
    OrganizationDomainFactory(organization=OrganizationFactory(name="Acme"), domain="acme.test")
    OrganizationFactory(name="Globex")
    page = agent_client.get("/organizations/", {"q": "acme.te"}).content.decode()
    assert "Acme" in page and "Globex" not in page


def test_agents_may_not_edit_organizations(agent_client):
    acme = OrganizationFactory(name="Acme")
    response = agent_client.post(f"/organizations/{acme.pk}/", {"name": "Evil", "notes": "", "domains": ""})
    assert response.status_code == 403
    assert acme.__class__.objects.get(pk=acme.pk).name == "Acme"


def test_manager_edits_an_organization_and_its_domains(manager_client):
    acme = OrganizationFactory(name="Acme")
    OrganizationDomainFactory(organization=acme, domain="old.test")
    other = OrganizationFactory(name="Globex")
    OrganizationDomainFactory(organization=other, domain="globex.test")

    response = manager_client.post(
        f"/organizations/{acme.pk}/", {"name": "Acme Corp", "notes": "<b>bold</b>", "domains": "acme.test\n@ACME.io"}
    )
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.name == "Acme Corp" and acme.notes == "<b>bold</b>"
    assert sorted(acme.domains.values_list("domain", flat=True)) == ["acme.io", "acme.test"]
    assert "<b>bold</b>" not in manager_client.get(f"/organizations/{acme.pk}/").content.decode()

    taken = manager_client.post(f"/organizations/{acme.pk}/", {"name": "Acme Corp", "notes": "", "domains": "globex.test"})
    assert taken.status_code == 400 and "globex.test already belongs to Globex" in taken.content.decode()
    bad = manager_client.post(f"/organizations/{acme.pk}/", {"name": "Acme Corp", "notes": "", "domains": "not a domain"})
    assert bad.status_code == 400 and "is not an email domain" in bad.content.decode()
    blank = manager_client.post(f"/organizations/{acme.pk}/", {"name": "  ", "notes": "", "domains": ""})
    assert blank.status_code == 400
    assert sorted(OrganizationDomain.objects.filter(organization=acme).values_list("domain", flat=True)) == [
        "acme.io", "acme.test",
    ]
