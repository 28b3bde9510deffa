"""Writes the CRM API needs that the workspace pages do not offer yet: creating and deleting
customers and organizations, adding and removing a customer's identities, saving routing
rules and SLA policies outside the admin site.

They follow tickets/services' rules (keyword-only, typed, atomic, the CRM's lock order,
a log line as the audit trail) and sit here only because no page writes these yet; when
one does, they move to ``tickets.services.customers`` / ``tickets.routing.services``.
Edits, merges and identity moves use the workspace's own services.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.api.crm.selectors import customer_has_records, organization_has_records
from tickets.events import Actor
from tickets.exceptions import OrganizationDomainTaken, TicketError
from tickets.models import Customer, CustomerIdentity, Organization, OrganizationDomain
from tickets.services.customers import _lock_customers, _who, normalise_address
from tickets.webhooks.hooks import customer_updated_on_commit

logger = logging.getLogger(__name__)


def _audit(message: str, *, actor: Actor, **ids: Any) -> None:
    """The log line that is these records' audit trail (as in tickets/services/customers.py):
    ``message`` names the ids in braces, e.g. "customer {customer_id} deleted"."""
    logger.info("%s by %s", message.format(**ids), _who(actor), extra={**ids, "user_id": getattr(actor.user, "pk", None)})


class IdentityTaken(TicketError):
    """This (kind, address) already belongs to a customer."""

    def __init__(self, message: str, *, holder_id: int) -> None:
        super().__init__(message)
        self.holder_id = holder_id


class RecordInUse(TicketError):
    """The record still has tickets or other records depending on it; it is not deleted."""


def _identity_taken(kind: str, address: str) -> IdentityTaken:
    holder = CustomerIdentity.objects.filter(kind=kind, address=address).values_list("customer_id", flat=True).first()
    return IdentityTaken(
        f"The {kind} identity {address} already belongs to a customer; move it rather than adding it again.",
        holder_id=holder or 0,
    )


def _add_identity(
    *, customer: Customer, kind: str, address: str, display_name: str, is_verified: bool
) -> CustomerIdentity:
    address = normalise_address(kind, address)
    if CustomerIdentity.objects.filter(kind=kind, address=address).exists():
        raise _identity_taken(kind, address)
    try:
        with transaction.atomic():
            return CustomerIdentity.objects.create(
                customer=customer, kind=kind, address=address, display_name=display_name[:200], is_verified=is_verified
            )
    except IntegrityError:  # two requests adding the same address at once: the constraint decides
        raise _identity_taken(kind, address) from None


@transaction.atomic
def customer_create(
    *,
    actor: Actor,
    name: str,
    organization: Organization | None = None,
    tier: str = Customer.Tier.STANDARD,
    language: str = "",
    time_zone: str = "",
    notes: str = "",
    custom_attributes: dict[str, Any] | None = None,
    identities: Iterable[dict[str, Any]] = (),
) -> Customer:
    """A customer entered by hand or by an integration (a CRM sync), with the identities
    that reach them. Raises IdentityTaken when one of the addresses already belongs to
    someone: nothing is created then."""
    customer = Customer.objects.create(
        name=name.strip()[:200],
        organization=organization,
        tier=tier,
        language=language.strip()[:16],
        time_zone=time_zone.strip()[:64],
        notes=notes,
        custom_attributes=dict(custom_attributes or {}),
    )
    for identity in identities:
        _add_identity(
            customer=customer,
            kind=identity["kind"],
            address=identity["address"],
            display_name=identity.get("display_name", ""),
            is_verified=bool(identity.get("is_verified", False)),
        )
    _audit("customer {customer_id} created", actor=actor, customer_id=customer.pk)
    customer_updated_on_commit(customer_id=customer.pk, reason="created")
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, actor: Actor) -> None:
    """Delete a customer nobody wrote about: one with tickets, survey answers or records
    merged into it is refused (RecordInUse): merge duplicates instead, so history stays."""
    locked = _lock_customers(customer.pk).get(customer.pk)
    if locked is None:
        return
    reasons = customer_has_records(customer=locked)
    if reasons:
        raise RecordInUse(f"This customer has {', '.join(reasons)}; merge the record into another one instead of deleting it.")
    locked.delete()
    _audit("customer {customer_id} deleted", actor=actor, customer_id=customer.pk)


@transaction.atomic
def customer_identity_add(
    *, customer: Customer, actor: Actor, kind: str, address: str, display_name: str = "", is_verified: bool = False
) -> CustomerIdentity:
    """Give a customer one more way to reach them. The address is normalised as the
    pipeline does (emails lower-case, phone numbers digits only), so the next message from
    it lands on this customer. Raises IdentityTaken when someone already holds it."""
    locked = _lock_customers(customer.pk).get(customer.pk)
    if locked is None or locked.merged_into_id:
        raise RecordInUse("This customer was merged into another record; add the identity there.")
    identity = _add_identity(
        customer=locked, kind=kind, address=address, display_name=display_name, is_verified=is_verified
    )
    Customer.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    _audit("identity {identity_id} added to customer {customer_id}", actor=actor, identity_id=identity.pk, customer_id=locked.pk)
    customer_updated_on_commit(customer_id=locked.pk, reason="identity_added", changes=["identities"], identity_id=identity.pk)
    return identity


@transaction.atomic
def customer_identity_remove(*, identity: CustomerIdentity, actor: Actor) -> None:
    """Forget one identity: the next message from that address opens a new customer.
    Tickets and messages stay with the customer."""
    customer_id = identity.customer_id
    _lock_customers(customer_id)
    CustomerIdentity.objects.filter(pk=identity.pk).delete()
    Customer.objects.filter(pk=customer_id).update(updated_at=timezone.now())
    _audit(
        "identity {identity_id} removed from customer {customer_id}",
        actor=actor,
        identity_id=identity.pk,
        customer_id=customer_id,
    )
    customer_updated_on_commit(customer_id=customer_id, reason="identity_removed", changes=["identities"], identity_id=identity.pk)


@transaction.atomic
def organization_create(*, actor: Actor, name: str, notes: str = "", domains: Iterable[str] = ()) -> Organization:
    """A new organization with its email domains (refused, OrganizationDomainTaken, when
    another organization holds one); existing customers are not moved into it."""
    wanted = sorted({d.strip().lower().rstrip(".") for d in domains if d.strip()})
    taken = list(OrganizationDomain.objects.filter(domain__in=wanted).select_related("organization"))
    if taken:
        raise OrganizationDomainTaken("; ".join(f"{d.domain} already belongs to {d.organization}" for d in taken))
    organization = Organization.objects.create(name=name.strip()[:200], notes=notes)
    try:
        with transaction.atomic():
            OrganizationDomain.objects.bulk_create(OrganizationDomain(organization=organization, domain=d) for d in wanted)
    except IntegrityError:
        raise OrganizationDomainTaken("Another organization took one of these domains just now.") from None
    _audit("organization {organization_id} created", actor=actor, organization_id=organization.pk)
    return organization


@transaction.atomic
def organization_delete(*, organization: Organization, actor: Actor) -> None:
    """Delete an organization nobody belongs to; one with customers or tickets is refused
    (RecordInUse) so no ticket silently loses its organization."""
    locked = Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if locked is None:
        return
    reasons = organization_has_records(organization=locked)
    if reasons:
        raise RecordInUse(f"This organization has {' and '.join(reasons)}; move them first.")
    locked.delete()
    _audit("organization {organization_id} deleted", actor=actor, organization_id=organization.pk)


# --- Routing: rules and SLA policies (the admin site's forms, saved here) -------------


@transaction.atomic
def routing_record_save(*, form: Any, actor: Actor) -> Any:
    """Save a validated rule or SLA policy form, as the admin site does. Routing reloads
    its rules when their count, ids or newest ``updated_at`` change, so no cache to clear."""
    record = form.save()
    _audit("{record} saved", actor=actor, record=f"{record._meta.label_lower}:{record.pk}")
    return record


@transaction.atomic
def sla_policy_save(*, form: Any, targets: list[dict[str, Any]] | None, actor: Actor) -> Any:
    """Save an SLA policy form and, when ``targets`` is given, make them the policy's
    complete list of targets (rows already validated: one per priority and tier)."""
    from tickets.routing.models import SLATarget

    policy = routing_record_save(form=form, actor=actor)
    if targets is not None:
        SLATarget.objects.filter(policy=policy).delete()
        SLATarget.objects.bulk_create(SLATarget(policy=policy, **row) for row in targets)
    return policy


@transaction.atomic
def routing_record_delete(*, record: Any, actor: Actor) -> None:
    """Delete a rule (its firings go with it) or an SLA policy (tickets and teams using it
    keep their due times and simply name no policy any more)."""
    label, pk = record._meta.label_lower, record.pk
    record.delete()
    _audit("{record} deleted", actor=actor, record=f"{label}:{pk}")
