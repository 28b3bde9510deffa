"""Customers: identify a sender, keep the CRM record."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.models import Customer, CustomerIdentity, OrganizationDomain

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


# --- Customers ---------------------------------------------------------------------


def normalise_address(kind: str, address: str) -> str:
    address = address.strip()
    if kind == CustomerIdentity.Kind.EMAIL:
        return address.lower()
    if kind in (CustomerIdentity.Kind.PHONE, CustomerIdentity.Kind.WHATSAPP):
        return "".join(ch for ch in address if ch.isdigit() or ch == "+")
    return address


def _organization_for_email(address: str):
    domain = address.rpartition("@")[2].lower()
    if not domain:
        return None
    link = OrganizationDomain.objects.select_related("organization").filter(domain=domain).first()
    return link.organization if link else None


@transaction.atomic(savepoint=False)
def customer_identify(
    *,
    kind: str,
    address: str,
    display_name: str = "",
    is_verified: bool = False,
    seen_at: dt.datetime | None = None,
) -> Customer:
    """The customer behind an identity, created on first contact; marks them as seen.

    The last-seen update locks the customer's row until the caller's transaction ends; the
    pipeline relies on it to process one customer's messages one at a time.

    Safe under concurrency: two workers meeting the same new sender race on the
    identity's unique constraint and both end with the same customer.
    """
    address = normalise_address(kind, address)
    seen_at = seen_at or timezone.now()
    identity = CustomerIdentity.objects.select_related("customer").filter(kind=kind, address=address).first()
    if identity is None:
        try:
            with transaction.atomic():
                organization = _organization_for_email(address) if kind == CustomerIdentity.Kind.EMAIL else None
                customer = Customer.objects.create(
                    name=display_name.strip()[:200]
                    or (address.partition("@")[0] if kind == "email" else address)[:200],
                    organization=organization,
                    first_seen_at=seen_at,
                    last_seen_at=seen_at,
                )
                identity = CustomerIdentity.objects.create(
                    customer=customer,
                    kind=kind,
                    address=address,
                    display_name=display_name[:200],
                    is_verified=is_verified,
                )
                return customer
        except IntegrityError:
            identity = CustomerIdentity.objects.select_related("customer").get(kind=kind, address=address)
    customer = identity.customer
    while customer.merged_into_id:  # a merged record hands its contacts to the survivor
        customer = Customer.objects.get(pk=customer.merged_into_id)
    updates = {"last_seen_at": seen_at}
    if not customer.name and display_name:
        updates["name"] = display_name[:200]
    Customer.objects.filter(pk=customer.pk).update(**updates)
    for key, value in updates.items():
        setattr(customer, key, value)
    if is_verified and not identity.is_verified:
        CustomerIdentity.objects.filter(pk=identity.pk).update(is_verified=True)
    return customer
