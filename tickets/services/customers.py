"""Customers: identify a sender, keep the CRM record."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import events
from tickets.events import Actor
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
    Organization,
    OrganizationDomain,
    Ticket,
)
from tickets.realtime import publish_on_commit
from tickets.webhooks.hooks import customer_updated_on_commit

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
    # The update waits for a merge holding this row; if that merge committed meanwhile,
    # the row is no longer live and the message belongs to the survivor.
    while not Customer.objects.filter(pk=customer.pk, merged_into__isnull=True).update(**updates):
        customer = Customer.objects.get(pk=Customer.objects.values_list("merged_into_id", flat=True).get(pk=customer.pk))
    for key, value in updates.items():
        setattr(customer, key, value)
    if is_verified and not identity.is_verified:
        CustomerIdentity.objects.filter(pk=identity.pk).update(is_verified=True)
    return customer


# --- The CRM record: edits, merges, identities, organizations ------------------------
#
# Automatic linking across channels (issue 8) belongs to the channel pipelines: when an
# adapter learns a *verified* email or phone for a sender whose identity sits on another
# customer than the one that already holds that verified address, it calls
# ``customer_merge(source=<the newer record>, target=<the older record>, actor=SYSTEM)``
# (or ``customer_identity_move`` to move only that identity). Never on unverified data:
# anyone can type someone else's address into a chat form.

CUSTOMER_EDITABLE_FIELDS = ("name", "organization", "tier", "language", "time_zone", "notes", "custom_attributes")


def _lock_customers(*pks: int) -> dict[int, Customer]:
    """Lock the customers' rows in ascending id order, the one order every CRM service
    uses, so two services touching the same pair wait for each other instead of deadlocking."""
    rows = Customer.objects.select_for_update().filter(pk__in=sorted(set(pks))).order_by("pk")
    return {c.pk: c for c in rows}


def _who(actor: Actor) -> str:
    if actor.user is not None:
        return actor.user.get_username()
    return actor.kind


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    actor: Actor,
    name: str,
    organization: Organization | None,
    tier: str,
    language: str,
    time_zone: str,
    notes: str,
    custom_attributes: dict[str, Any],
    expected_updated_at: dt.datetime | None = None,
) -> Customer:
    """Save an agent's edit of the CRM record and log who changed which fields.

    ``expected_updated_at`` is the record's ``updated_at`` when the form was opened: if
    someone saved in between, the edit is refused (StaleEdit) rather than silently undoing
    theirs. Customers have no event log of their own; the log line is the audit trail.
    """
    locked = _lock_customers(customer.pk).get(customer.pk)
    if locked is None:
        raise StaleEdit("This customer no longer exists.")
    if locked.merged_into_id:
        raise StaleEdit(f"This customer was merged into customer {locked.merged_into_id}; edit that record instead.")
    if expected_updated_at is not None and locked.updated_at != expected_updated_at:
        raise StaleEdit("Someone else changed this customer while you were editing. Review their change and try again.")
    wanted = {
        "name": name.strip()[:200],
        "organization": organization,
        "tier": tier,
        "language": language.strip()[:16],
        "time_zone": time_zone.strip()[:64],
        "notes": notes,
        "custom_attributes": dict(custom_attributes),
    }
    current = {f: getattr(locked, f) for f in CUSTOMER_EDITABLE_FIELDS if f != "organization"}
    current["organization"] = locked.organization_id
    wanted_ids = {**wanted, "organization": organization.pk if organization is not None else None}
    changed = [f for f in CUSTOMER_EDITABLE_FIELDS if current[f] != wanted_ids[f]]
    if not changed:
        return locked
    for f in changed:
        setattr(locked, f, wanted[f])
    locked.save(update_fields=[*changed, "updated_at"])
    customer_updated_on_commit(customer_id=locked.pk, reason="updated", changes=changed)
    logger.info(
        "customer %s edited by %s: %s",
        locked.pk,
        _who(actor),
        ", ".join(changed),
        extra={"customer_id": locked.pk, "user_id": getattr(actor.user, "pk", None), "fields": changed},
    )
    return locked


def _combined_notes(*, source: Customer, target: Customer, conflicts: dict[str, Any], at: dt.datetime) -> str:
    """The target's notes, then what only the source knew, under a dated heading."""
    extra: list[str] = []
    source_notes = source.notes.strip()
    if source_notes and source_notes not in target.notes:
        extra.append(source_notes)
    if conflicts:
        extra.append(
            "Attributes of the merged record that differed: " + "; ".join(f"{k}: {v}" for k, v in conflicts.items())
        )
    if not extra:
        return target.notes
    heading = f"— Merged from {source} (customer {source.pk}) on {at:%Y-%m-%d}:"
    return "\n\n".join(part for part in (target.notes.rstrip(), heading + "\n" + "\n".join(extra)) if part)


@transaction.atomic
def customer_merge(*, source: Customer, target: Customer, actor: Actor) -> Customer:
    """Fold a duplicate record (``source``) into ``target``: identities, tickets and the
    messages the source wrote move over, each moved ticket records CUSTOMER_CHANGED, and the
    source stays as an empty shell pointing at the target (``merged_into``) so old links and
    the audit trail still resolve. Ticket events keep naming the source as their actor:
    the log is append-only, and the shell leads to the survivor.

    Notes and custom attributes are combined: the target's values win, the source's notes
    and any differing attribute values are appended to the target's notes, so nothing an
    agent wrote is lost. Raises CustomerMergeNotAllowed for a self-merge or when either
    record was already merged (two agents merging the same pair at once: the second is told).
    """
    if source.pk == target.pk:
        raise CustomerMergeNotAllowed("A customer cannot be merged into itself.")
    locked = _lock_customers(source.pk, target.pk)
    source_row, target_row = locked.get(source.pk), locked.get(target.pk)
    if source_row is None or target_row is None:
        raise CustomerMergeNotAllowed("One of these customers no longer exists.")
    if source_row.merged_into_id:
        raise CustomerMergeNotAllowed(f"{source_row} was already merged into customer {source_row.merged_into_id}.")
    if target_row.merged_into_id:
        raise CustomerMergeNotAllowed(f"{target_row} was itself merged into customer {target_row.merged_into_id}.")
    now = timezone.now()

    # Tickets: locked in id order (after the customers, as every ticket service does) and moved.
    moved = list(
        Ticket.objects.select_for_update().filter(customer_id=source_row.pk).order_by("pk").values_list("pk", "status")
    )
    ticket_ids = [pk for pk, _ in moved]
    organization_id = target_row.organization_id or source_row.organization_id
    if ticket_ids:
        Ticket.objects.filter(pk__in=ticket_ids).update(customer_id=target_row.pk)
        if source_row.organization_id != organization_id:
            # Tickets filed under the duplicate's (derived) organization follow the survivor's.
            Ticket.objects.filter(pk__in=ticket_ids, organization_id=source_row.organization_id).update(
                organization_id=organization_id
            )
        events.customer_changed(ticket_ids, old_id=source_row.pk, new_id=target_row.pk, reason="merge", actor=actor, at=now)
    identities = CustomerIdentity.objects.filter(customer_id=source_row.pk).update(customer_id=target_row.pk)
    messages = Message.objects.filter(author_customer_id=source_row.pk).update(author_customer_id=target_row.pk)
    # Survey answers and invitations follow the survivor (issue 6, metrics/surveys).
    from metrics.surveys.services import surveys_move_customer

    surveys_move_customer(source_id=source_row.pk, target_id=target_row.pk)
    # Records merged into the source earlier now point straight at the survivor.
    Customer.objects.filter(merged_into_id=source_row.pk).update(merged_into_id=target_row.pk)

    source_attributes = source_row.custom_attributes if isinstance(source_row.custom_attributes, dict) else {}
    target_attributes = target_row.custom_attributes if isinstance(target_row.custom_attributes, dict) else {}
    conflicts = {k: v for k, v in source_attributes.items() if k in target_attributes and target_attributes[k] != v}
    target_row.notes = _combined_notes(source=source_row, target=target_row, conflicts=conflicts, at=now)
    target_row.custom_attributes = {**source_attributes, **target_attributes}
    target_row.name = target_row.name or source_row.name
    target_row.organization_id = organization_id
    target_row.language = target_row.language or source_row.language
    target_row.time_zone = target_row.time_zone or source_row.time_zone
    if source_row.tier == Customer.Tier.VIP:
        target_row.tier = Customer.Tier.VIP
    seen_first = [t for t in (target_row.first_seen_at, source_row.first_seen_at) if t]
    seen_last = [t for t in (target_row.last_seen_at, source_row.last_seen_at) if t]
    target_row.first_seen_at = min(seen_first) if seen_first else None
    target_row.last_seen_at = max(seen_last) if seen_last else None
    target_row.save(
        update_fields=[
            "notes", "custom_attributes", "name", "organization", "language", "time_zone", "tier",
            "first_seen_at", "last_seen_at", "updated_at",
        ]
    )
    source_row.merged_into = target_row
    source_row.save(update_fields=["merged_into", "updated_at"])
    customer_updated_on_commit(customer_id=target_row.pk, reason="merged", merged_customer_id=source_row.pk)

    for pk, status in moved:
        if status in Ticket.UNSOLVED_STATUSES:
            publish_on_commit("customer_changed", ticket_id=pk)
    logger.info(
        "customer %s merged into %s by %s: %s tickets, %s identities, %s messages moved",
        source_row.pk,
        target_row.pk,
        _who(actor),
        len(ticket_ids),
        identities,
        messages,
        extra={"customer_id": target_row.pk, "merged_customer_id": source_row.pk, "user_id": getattr(actor.user, "pk", None)},
    )
    return target_row


@transaction.atomic
def customer_identity_move(*, identity: CustomerIdentity, target: Customer, actor: Actor) -> CustomerIdentity:
    """Link one identity (a Telegram account, a phone number) to another customer: from now
    on what arrives from it lands on ``target``. Tickets already opened stay where they are;
    merge the two records to bring the history over as well."""
    source_id = CustomerIdentity.objects.filter(pk=identity.pk).values_list("customer_id", flat=True).first()
    if source_id is None:
        raise IdentityMoveNotAllowed("This identity no longer exists.")
    if source_id == target.pk:
        raise IdentityMoveNotAllowed("This identity already belongs to that customer.")
    # Customers first (as customer_merge does), then the identity: no lock-order inversion.
    locked = _lock_customers(source_id, target.pk)
    target_row = locked.get(target.pk)
    if target_row is None or target_row.merged_into_id:
        raise IdentityMoveNotAllowed("That customer was merged into another record; choose the surviving one.")
    row = CustomerIdentity.objects.select_for_update().get(pk=identity.pk)
    if row.customer_id != source_id:
        raise IdentityMoveNotAllowed("This identity moved to another customer meanwhile; reload and try again.")
    row.customer = target_row
    row.save(update_fields=["customer"])
    Customer.objects.filter(pk=target_row.pk).update(updated_at=timezone.now())
    for customer_id in (source_id, target_row.pk):
        customer_updated_on_commit(customer_id=customer_id, reason="identity_moved", changes=["identities"], identity_id=row.pk)
    logger.info(
        "identity %s (%s) moved from customer %s to %s by %s",
        row.pk,
        row.kind,
        source_id,
        target_row.pk,
        _who(actor),
        extra={"identity_id": row.pk, "customer_id": target_row.pk, "user_id": getattr(actor.user, "pk", None)},
    )
    return row


@transaction.atomic
def customer_identity_add_unverified(*, customer: Customer, kind: str, address: str) -> CustomerIdentity | None:
    """Record a contact a customer gave us without proof (an email typed into the chat
    widget) as an unverified identity of theirs, so replies can reach it.

    Never merges: an address already held by anyone (this customer or another) is left
    where it is and None is returned.
    """
    address = normalise_address(kind, address)
    if not address or CustomerIdentity.objects.filter(kind=kind, address=address).exists():
        return None
    try:
        with transaction.atomic():
            return CustomerIdentity.objects.create(customer=customer, kind=kind, address=address, is_verified=False)
    except IntegrityError:  # claimed meanwhile by a parallel message
        return None


@transaction.atomic
def organization_update(
    *, organization: Organization, actor: Actor, name: str, notes: str, domains: list[str]
) -> Organization:
    """Rename an organization, edit its notes and set the email domains whose new customers
    join it. Existing customers and tickets keep their organization: a domain added today
    does not rewrite who wrote in yesterday. A domain held by another organization is refused."""
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    wanted = sorted({d.strip().lower().rstrip(".") for d in domains if d.strip()})
    current = set(OrganizationDomain.objects.filter(organization=locked).values_list("domain", flat=True))
    taken = list(
        OrganizationDomain.objects.filter(domain__in=set(wanted) - current)
        .exclude(organization=locked)
        .select_related("organization")
    )
    if taken:
        raise OrganizationDomainTaken(
            "; ".join(f"{d.domain} already belongs to {d.organization}" for d in taken)
        )
    changed = [f for f, v in (("name", name.strip()[:200]), ("notes", notes)) if getattr(locked, f) != v]
    locked.name, locked.notes = name.strip()[:200], notes
    if changed:
        locked.save(update_fields=changed)
    removed = current - set(wanted)
    added = [d for d in wanted if d not in current]
    if removed:
        OrganizationDomain.objects.filter(organization=locked, domain__in=removed).delete()
    try:
        with transaction.atomic():
            OrganizationDomain.objects.bulk_create(OrganizationDomain(organization=locked, domain=d) for d in added)
    except IntegrityError:
        raise OrganizationDomainTaken("Another organization took one of these domains just now.") from None
    if changed or removed or added:
        logger.info(
            "organization %s edited by %s: %s",
            locked.pk,
            _who(actor),
            ", ".join([*changed, *([f"domains +{added} -{sorted(removed)}"] if added or removed else [])]),
            extra={"organization_id": locked.pk, "user_id": getattr(actor.user, "pk", None)},
        )
    return locked
