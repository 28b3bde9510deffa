"""Merging duplicate customers and moving identities: everything moves, events record it,
a second merge of the same pair is a clear error, and parallel merges neither deadlock nor
lose rows (PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from tests.conftest import full_mode_only
from tests.factories import (
    AgentFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    MessageFactory,
    OrganizationFactory,
    TicketFactory,
)
from tickets import services
from tickets.events import SYSTEM, Actor
from tickets.exceptions import (
    CustomerMergeNotAllowed,
    IdentityMoveNotAllowed,
    OrganizationDomainTaken,
    StaleEdit,
)
from tickets.models import (
    Customer,
    CustomerIdentity,
    Message,
    OrganizationDomain,
    Ticket,
    TicketEvent,
)


@pytest.fixture
def agent(db):
    return AgentFactory(role="agent").user


def duplicate_pair(n: int = 0):
    """Ada twice: once by email (the record we keep), once from Telegram."""
    acme = OrganizationFactory(name="Acme")
    target = CustomerFactory(name="Ada Lovelace", organization=acme, notes="Prefers email.", custom_attributes={"plan": "pro", "seats": 5})
    source = CustomerFactory(
        name="ada_l", tier=Customer.Tier.VIP, language="en", notes="Met at the fair.",
        custom_attributes={"plan": "free", "telegram_lang": "en"},
    )
    CustomerIdentityFactory(customer=target, kind="email", address=f"ada{n}@acme.test", is_verified=True)
    CustomerIdentityFactory(customer=source, kind="telegram", address=f"77700{n}")
    CustomerIdentityFactory(customer=source, kind="phone", address=f"+447000000{n}")
    return source, target


@pytest.mark.django_db
def test_merge_moves_identities_tickets_messages_and_records_events(agent):
    source, target = duplicate_pair()
    kept_ticket = TicketFactory(customer=target)
    moved = [TicketFactory(customer=source, status=s) for s in ("open", "solved", "closed")]
    for t in moved:
        MessageFactory(ticket=t)
    note = MessageFactory(ticket=moved[0], direction="note", author_kind="agent", author_customer=None)

    survivor = services.customer_merge(source=source, target=target, actor=Actor.agent(agent))

    assert survivor.pk == target.pk
    assert set(CustomerIdentity.objects.filter(customer=target).values_list("address", flat=True)) == {
        "ada0@acme.test", "777000", "+4470000000",
    }
    assert not CustomerIdentity.objects.filter(customer=source).exists()
    assert set(Ticket.objects.filter(customer=target).values_list("pk", flat=True)) == {kept_ticket.pk, *(t.pk for t in moved)}
    assert Message.objects.filter(author_customer=source).count() == 0
    assert Message.objects.filter(author_customer=target).count() == 3
    assert Message.objects.get(pk=note.pk).author_customer is None
    source.refresh_from_db()
    assert source.merged_into_id == target.pk

    events = TicketEvent.objects.filter(kind=TicketEvent.Kind.CUSTOMER_CHANGED)
    assert sorted(e.ticket_id for e in events) == sorted(t.pk for t in moved)
    for event in events:
        assert event.data == {"from": source.pk, "to": target.pk, "reason": "merge"}
        assert event.actor_user == agent and event.actor_kind == "agent"
    assert not TicketEvent.objects.filter(ticket=kept_ticket).exists()


@pytest.mark.django_db
def test_merge_combines_the_record_without_losing_what_an_agent_wrote(agent):
    source, target = duplicate_pair()
    services.customer_merge(source=source, target=target, actor=Actor.agent(agent))
    target.refresh_from_db()
    assert target.name == "Ada Lovelace"  # the kept record's values win
    assert target.tier == Customer.Tier.VIP  # VIP on either record stays VIP
    assert target.language == "en"  # filled from the duplicate where empty
    assert target.organization.name == "Acme"
    assert target.custom_attributes == {"plan": "pro", "seats": 5, "telegram_lang": "en"}
    assert target.notes.startswith("Prefers email.")
    assert "Met at the fair." in target.notes
    assert "plan: free" in target.notes  # the differing value is kept in the notes
    assert f"customer {source.pk}" in target.notes


@pytest.mark.django_db
def test_moved_tickets_follow_the_survivors_organization(agent):
    old_org, new_org = OrganizationFactory(name="Old"), OrganizationFactory(name="New")
    source = CustomerFactory(organization=old_org)
    target = CustomerFactory(organization=new_org)
    ticket = TicketFactory(customer=source, organization=old_org)
    services.customer_merge(source=source, target=target, actor=Actor.agent(agent))
    ticket.refresh_from_db()
    assert ticket.organization_id == new_org.pk


@pytest.mark.django_db
def test_merging_twice_is_a_clear_error_and_changes_nothing(agent):
    source, target = duplicate_pair()
    TicketFactory(customer=source)
    services.customer_merge(source=source, target=target, actor=Actor.agent(agent))
    notes = Customer.objects.get(pk=target.pk).notes
    with pytest.raises(CustomerMergeNotAllowed, match="already merged"):
        services.customer_merge(source=source, target=target, actor=Actor.agent(agent))
    with pytest.raises(CustomerMergeNotAllowed, match="itself merged"):
        services.customer_merge(source=CustomerFactory(), target=source, actor=Actor.agent(agent))
    assert Customer.objects.get(pk=target.pk).notes == notes
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.CUSTOMER_CHANGED).count() == 1


@pytest.mark.django_db
def test_a_customer_cannot_be_merged_into_itself(agent):
    customer = CustomerFactory()
    with pytest.raises(CustomerMergeNotAllowed, match="itself"):
        services.customer_merge(source=customer, target=customer, actor=Actor.agent(agent))


@pytest.mark.django_db
def test_records_merged_into_the_source_earlier_point_at_the_survivor(agent):
    first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    services.customer_merge(source=first, target=second, actor=Actor.agent(agent))
    services.customer_merge(source=second, target=third, actor=Actor.agent(agent))
    assert Customer.objects.get(pk=first.pk).merged_into_id == third.pk


@pytest.mark.django_db
def test_mail_from_a_merged_identity_arrives_on_the_survivor(agent):
    source, target = duplicate_pair()
    services.customer_merge(source=source, target=target, actor=Actor.agent(agent))
    assert services.customer_identify(kind="telegram", address="777000").pk == target.pk


@pytest.mark.django_db
def test_identity_moves_alone_and_tickets_stay(agent):
    source, target = duplicate_pair()
    ticket = TicketFactory(customer=source)
    identity = CustomerIdentity.objects.get(address="777000")
    services.customer_identity_move(identity=identity, target=target, actor=Actor.agent(agent))
    assert CustomerIdentity.objects.get(pk=identity.pk).customer_id == target.pk
    assert Ticket.objects.get(pk=ticket.pk).customer_id == source.pk
    assert services.customer_identify(kind="telegram", address="777000").pk == target.pk

    with pytest.raises(IdentityMoveNotAllowed, match="already belongs"):
        services.customer_identity_move(identity=identity, target=target, actor=Actor.agent(agent))
    merged_away = CustomerFactory()
    services.customer_merge(source=merged_away, target=source, actor=SYSTEM)
    with pytest.raises(IdentityMoveNotAllowed, match="merged"):
        services.customer_identity_move(identity=identity, target=merged_away, actor=Actor.agent(agent))


@pytest.mark.django_db
def test_edit_is_logged_with_the_user_and_the_fields(agent, caplog):
    customer = CustomerFactory(name="Ada")
    with caplog.at_level(logging.INFO, logger="tickets.services.customers"):
        services.customer_update(
            customer=customer, actor=Actor.agent(agent), name="Ada Lovelace", organization=None,
            tier="vip", language="", time_zone="", notes="", custom_attributes={},
        )
    record = next(r for r in caplog.records if "edited" in r.getMessage())
    assert agent.username in record.getMessage()
    assert record.fields == ["name", "tier"]
    assert record.user_id == agent.pk


@pytest.mark.django_db
def test_edit_of_a_record_changed_meanwhile_is_refused(agent):
    customer = CustomerFactory(name="Ada")
    opened_at = customer.updated_at
    services.customer_update(
        customer=customer, actor=Actor.agent(agent), name="Ada L", organization=None, tier="standard",
        language="", time_zone="", notes="", custom_attributes={}, expected_updated_at=opened_at,
    )
    with pytest.raises(StaleEdit):
        services.customer_update(
            customer=customer, actor=Actor.agent(agent), name="Ada X", organization=None, tier="standard",
            language="", time_zone="", notes="", custom_attributes={}, expected_updated_at=opened_at,
        )
    assert Customer.objects.get(pk=customer.pk).name == "Ada L"


@pytest.mark.django_db
def test_organization_domains_are_unique_across_organizations(agent):
    acme, other = OrganizationFactory(name="Acme"), OrganizationFactory(name="Other")
    OrganizationDomain.objects.create(organization=other, domain="other.test")
    services.organization_update(organization=acme, actor=Actor.agent(agent), name="Acme Inc", notes="n", domains=["acme.test"])
    with pytest.raises(OrganizationDomainTaken, match="other.test"):
        services.organization_update(
            organization=acme, actor=Actor.agent(agent), name="Acme Inc", notes="n", domains=["acme.test", "other.test"]
        )
    assert list(acme.domains.values_list("domain", flat=True)) == ["acme.test"]
    services.organization_update(organization=acme, actor=Actor.agent(agent), name="Acme Inc", notes="n", domains=[])
    assert not acme.domains.exists()


# --- PostgreSQL: parallel merges -----------------------------------------------------------


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Start the jobs in threads (one database connection each) at the same instant."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def runner(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 -- surfaced by the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a merge hung"
    return results


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_the_same_merge_twice_at_once_merges_once_and_loses_nothing():
    for n in range(3):
        source, target = duplicate_pair(n)
        tickets = [TicketFactory(customer=source) for _ in range(20)]
        for t in tickets[:5]:
            MessageFactory(ticket=t)
        results = run_together(
            [lambda s=source, t=target: services.customer_merge(source=s, target=t, actor=SYSTEM) for _ in range(2)]
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], CustomerMergeNotAllowed), results
        assert Ticket.objects.filter(customer=target).count() == 20
        assert CustomerIdentity.objects.filter(customer=target).count() == 3
        assert TicketEvent.objects.filter(kind="customer_changed", data__to=target.pk).count() == 20


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_opposite_merges_of_one_pair_at_once_do_not_deadlock():
    for n in range(3):
        a, b = duplicate_pair(n)
        [TicketFactory(customer=c) for c in (a, b) for _ in range(10)]
        results = run_together(
            [
                lambda a=a, b=b: services.customer_merge(source=a, target=b, actor=SYSTEM),
                lambda a=a, b=b: services.customer_merge(source=b, target=a, actor=SYSTEM),
            ]
        )
        errors = [r for r in results if isinstance(r, Exception)]
        # One wins; the other is told the pair is already merged (never a deadlock error).
        assert len(errors) == 1 and isinstance(errors[0], CustomerMergeNotAllowed), results
        survivor = next(r for r in results if isinstance(r, Customer))
        assert Ticket.objects.filter(customer=survivor).count() == 20
        assert CustomerIdentity.objects.filter(customer=survivor).count() == 3


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_merge_and_identity_move_at_once_do_not_deadlock():
    for n in range(3):
        source, target = duplicate_pair(n)
        third = CustomerFactory()
        identity = CustomerIdentity.objects.get(customer=source, kind="telegram")
        results = run_together(
            [
                lambda s=source, t=target: services.customer_merge(source=s, target=t, actor=SYSTEM),
                lambda i=identity, t=third: services.customer_identity_move(identity=i, target=t, actor=SYSTEM),
            ]
        )
        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, IdentityMoveNotAllowed)], results
        owner = CustomerIdentity.objects.get(pk=identity.pk).customer_id
        assert owner in (target.pk, third.pk)
        assert CustomerIdentity.objects.filter(customer=source).count() == 0
