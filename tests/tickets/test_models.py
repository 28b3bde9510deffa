"""Every unique rule of the domain model, checked against the real database."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from channels_inbox.models import Channel
from tests.factories import (
    ChannelFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    MessageFactory,
    OrganizationDomainFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import CustomerIdentity, Tag, Team, Ticket
from tickets.services import customer_identify

pytestmark = pytest.mark.django_db


def raises_integrity(make) -> bool:
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


def test_identity_is_unique_per_kind_and_address_but_shared_across_kinds():
    CustomerIdentityFactory(kind="email", address="ada@example.com")
    assert raises_integrity(lambda: CustomerIdentityFactory(kind="email", address="ada@example.com"))
    # the same string as another kind of identity is another identity
    CustomerIdentityFactory(kind="api", address="ada@example.com")


def test_one_customer_may_hold_identities_on_many_channels():
    customer = CustomerFactory()
    for kind, address in [("email", "ada@example.com"), ("email", "ada@work.example"), ("whatsapp", "+4912345"), ("telegram", "998877")]:
        CustomerIdentityFactory(customer=customer, kind=kind, address=address)
    assert customer.identities.count() == 4
    assert customer_identify(kind="email", address="ADA@work.example") == customer


def test_phone_identities_are_normalised():
    first = customer_identify(kind="whatsapp", address="+49 (151) 234-567")
    assert customer_identify(kind="whatsapp", address="+49151234567") == first
    assert CustomerIdentity.objects.get().address == "+49151234567"


def test_message_external_id_is_unique_per_channel_only():
    message = MessageFactory(external_id="abc")
    assert raises_integrity(lambda: MessageFactory(ticket=message.ticket, external_id="abc"))
    MessageFactory(ticket=TicketFactory(channel=ChannelFactory()), external_id="abc")  # another channel
    # messages without an external id (notes, replies on some channels) never collide
    MessageFactory(ticket=message.ticket, external_id=None)
    MessageFactory(ticket=message.ticket, external_id=None)


def test_channel_inbound_address_unique_where_set():
    ChannelFactory(inbound_address="help@parley.test")
    assert raises_integrity(lambda: ChannelFactory(inbound_address="help@parley.test"))
    ChannelFactory(kind=Channel.Kind.CHAT, inbound_address=None)
    ChannelFactory(kind=Channel.Kind.CHAT, inbound_address=None)


def test_channel_public_keys_are_generated_unique():
    a, b = ChannelFactory(), ChannelFactory()
    assert a.public_key != b.public_key and len(a.public_key) >= 16
    assert raises_integrity(lambda: ChannelFactory(public_key=a.public_key))


def test_ticket_number_is_unique():
    ticket = TicketFactory()
    assert raises_integrity(lambda: TicketFactory(number=ticket.number))


def test_organization_domain_belongs_to_one_organization():
    OrganizationDomainFactory(domain="acme.example")
    assert raises_integrity(lambda: OrganizationDomainFactory(domain="acme.example"))


def test_tag_and_team_names_are_unique():
    TagFactory(name="billing")
    assert raises_integrity(lambda: Tag.objects.create(name="billing"))
    TeamFactory(name="Support", slug="support")
    assert raises_integrity(lambda: Team.objects.create(name="Support", slug="support-2"))


def test_ticket_unsolved_statuses():
    assert TicketFactory(status=Ticket.Status.PENDING).is_unsolved
    assert not TicketFactory(status=Ticket.Status.SOLVED).is_unsolved


def test_customer_cannot_be_deleted_while_they_have_tickets():
    from django.db.models import ProtectedError

    ticket = TicketFactory()
    with pytest.raises(ProtectedError):
        ticket.customer.delete()
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_merged_customer_hands_new_contacts_to_the_survivor():
    survivor = CustomerFactory()
    merged = CustomerFactory(merged_into=survivor)
    CustomerIdentityFactory(customer=merged, kind="email", address="old@example.com")
    assert customer_identify(kind="email", address="old@example.com") == survivor
