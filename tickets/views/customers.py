"""The CRM pages: customers (list, record, edit, merge, identity links) and organizations.

Anyone on staff may look (customers known only through a private team's tickets are a 404
for outsiders, like the tickets themselves); changing needs ``tickets.change_customer``
(``tickets.change_organization`` for organizations), otherwise 403.
"""

from __future__ import annotations

import functools
import zoneinfo

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tickets import selectors, services
from tickets.events import Actor
from tickets.exceptions import (
    CustomerMergeNotAllowed,
    IdentityMoveNotAllowed,
    OrganizationDomainTaken,
    StaleEdit,
)
from tickets.forms_customers import (
    AttributeFormSet,
    CustomerForm,
    IdentityMoveForm,
    MergeForm,
    OrganizationForm,
    attribute_initial,
)
from tickets.models import Customer, CustomerIdentity
from tickets.selectors.customers import PAGE_HISTORY_LIMIT, organization_choices
from tickets.views.base import staff_required

CHANGE_CUSTOMER = "tickets.change_customer"
CHANGE_ORGANIZATION = "tickets.change_organization"


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"You may not do this ({permission}).")


def _customer_or_404(request: HttpRequest, customer_id: int) -> Customer:
    customer = selectors.customer_get_for_user(user=request.user, customer_id=customer_id)
    if customer is None:
        raise Http404("No such customer")
    return customer


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# --- Customers list --------------------------------------------------------------------


@staff_required
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    page = selectors.customer_list(user=request.user, query=query, cursor=request.GET.get("cursor"))
    template = "tickets/customers/list.html#rows" if _is_htmx(request) else "tickets/customers/list.html"
    return render(request, template, {"page": page, "q": query})


# --- One customer ----------------------------------------------------------------------


def _edit_forms(customer: Customer, data=None) -> tuple[CustomerForm, AttributeFormSet]:
    initial = {
        "name": customer.name,
        "organization": customer.organization.name if customer.organization else "",
        "tier": customer.tier,
        "language": customer.language,
        "time_zone": customer.time_zone,
        "notes": customer.notes,
        "loaded_at": customer.updated_at.isoformat() if customer.updated_at else "",
    }
    return (
        CustomerForm(data, initial=initial),
        AttributeFormSet(data, initial=attribute_initial(customer.custom_attributes), prefix="attr"),
    )


def _detail_context(request: HttpRequest, customer: Customer, form=None, formset=None) -> dict:
    if form is None or formset is None:
        form, formset = _edit_forms(customer)
    merge_q = request.GET.get("merge_q", "")[:200]
    return {
        "customer": customer,
        "panel": selectors.customer_panel(
            customer=customer, user=request.user, history_limit=PAGE_HISTORY_LIMIT, cursor=request.GET.get("cursor")
        ),
        "form": form,
        "formset": formset,
        "merge_q": merge_q,
        "candidates": selectors.customer_merge_candidates(user=request.user, customer=customer, query=merge_q),
        "organization_names": organization_choices() if request.user.has_perm(CHANGE_CUSTOMER) else [],
        "time_zones": _time_zones() if request.user.has_perm(CHANGE_CUSTOMER) else [],
        "can_edit": request.user.has_perm(CHANGE_CUSTOMER),
    }


@functools.cache
def _time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The whole record; POST saves the edit form."""
    customer = _customer_or_404(request, customer_id)
    if customer.pk != customer_id:  # a merged record: its survivor holds everything now
        return redirect("tickets:customer", customer_id=customer.pk)
    if request.method == "POST":
        _require(request, CHANGE_CUSTOMER)
        form, formset = _edit_forms(customer, request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                services.customer_update(
                    customer=customer,
                    actor=Actor.agent(request.user),
                    name=form.cleaned_data["name"],
                    organization=form.cleaned_data["organization"],
                    tier=form.cleaned_data["tier"],
                    language=form.cleaned_data["language"],
                    time_zone=form.cleaned_data["time_zone"],
                    notes=form.cleaned_data["notes"],
                    custom_attributes=formset.attributes(
                        customer.custom_attributes if isinstance(customer.custom_attributes, dict) else {}
                    ),
                    expected_updated_at=form.cleaned_data["loaded_at"],
                )
            except StaleEdit as exc:
                form.add_error(None, str(exc))
            else:
                flash.success(request, "Customer saved.")
                return redirect("tickets:customer", customer_id=customer.pk)
        context = _detail_context(request, customer, form, formset)
        return render(request, "tickets/customers/detail.html", context, status=400)
    if _is_htmx(request) and request.GET.get("merge_q") is not None:
        return render(request, "tickets/customers/detail.html#candidates", _detail_context(request, customer))
    return render(request, "tickets/customers/detail.html", _detail_context(request, customer))


# --- Merging duplicates ------------------------------------------------------------------


@staff_required
def customer_merge(request: HttpRequest, customer_id: int) -> HttpResponse:
    """GET: confirm merging ``?other=`` into this customer (``&keep=other`` reverses it).
    POST: merge the confirmed pair."""
    customer = _customer_or_404(request, customer_id)
    if request.method == "POST":
        _require(request, CHANGE_CUSTOMER)
        form = MergeForm(request.POST)
        if not form.is_valid():
            flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
            return redirect("tickets:customer", customer_id=customer.pk)
        source_id, target_id = form.cleaned_data["source"], form.cleaned_data["target"]
        if customer.pk not in (source_id, target_id):
            raise Http404("No such customer")
        source = _customer_or_404(request, source_id)
        target = _customer_or_404(request, target_id)
        if source.pk != source_id or target.pk != target_id:  # resolved to a survivor: merged meanwhile
            flash.error(request, "One of these customers was already merged into another record; nothing was changed.")
            return redirect("tickets:customer", customer_id=target.pk)
        try:
            survivor = services.customer_merge(source=source, target=target, actor=Actor.agent(request.user))
        except CustomerMergeNotAllowed as exc:
            flash.error(request, str(exc))
            return redirect("tickets:customer", customer_id=target.pk)
        flash.success(request, f"{source} was merged into {survivor}.")
        return redirect("tickets:customer", customer_id=survivor.pk)
    try:
        other_id = int(request.GET.get("other", ""))
    except ValueError:
        return redirect("tickets:customer", customer_id=customer.pk)
    other = _customer_or_404(request, other_id)
    if other.pk == customer.pk:
        flash.error(request, "A customer cannot be merged into itself.")
        return redirect("tickets:customer", customer_id=customer.pk)
    source, target = (customer, other) if request.GET.get("keep") == "other" else (other, customer)
    return render(
        request,
        "tickets/customers/merge.html",
        {
            "customer": customer,
            "other": other,
            "source": source,
            "target": target,
            "source_panel": selectors.customer_panel(customer=source, user=request.user),
            "target_panel": selectors.customer_panel(customer=target, user=request.user),
            "preview": selectors.customer_merge_preview(user=request.user, source=source),
            "form": MergeForm(initial={"source": source.pk, "target": target.pk}),
            "can_edit": request.user.has_perm(CHANGE_CUSTOMER),
        },
    )


@staff_required
def identity_move(request: HttpRequest, customer_id: int, identity_id: int) -> HttpResponse:
    """Link one of this customer's identities to another customer (search, then confirm)."""
    customer = _customer_or_404(request, customer_id)
    identity = CustomerIdentity.objects.filter(pk=identity_id, customer=customer).first()
    if identity is None:
        raise Http404("No such identity")
    if request.method == "POST":
        _require(request, CHANGE_CUSTOMER)
        form = IdentityMoveForm(request.POST)
        if not form.is_valid():
            flash.error(request, "Choose the customer to link this identity to.")
            return redirect("tickets:identity_move", customer_id=customer.pk, identity_id=identity.pk)
        target = _customer_or_404(request, form.cleaned_data["target"])
        try:
            services.customer_identity_move(identity=identity, target=target, actor=Actor.agent(request.user))
        except IdentityMoveNotAllowed as exc:
            flash.error(request, str(exc))
            return redirect("tickets:customer", customer_id=customer.pk)
        flash.success(request, f"{identity.get_kind_display()} {identity.address} now belongs to {target}.")
        return redirect("tickets:customer", customer_id=customer.pk)
    query = request.GET.get("q", "")[:200]
    context = {
        "customer": customer,
        "identity": identity,
        "q": query,
        "candidates": selectors.customer_merge_candidates(user=request.user, customer=customer, query=query),
        "can_edit": request.user.has_perm(CHANGE_CUSTOMER),
    }
    template = "tickets/customers/identity_move.html#candidates" if _is_htmx(request) else "tickets/customers/identity_move.html"
    return render(request, template, context)


# --- Organizations -------------------------------------------------------------------


@staff_required
def organization_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    rows, next_cursor = selectors.organization_list(query=query, cursor=request.GET.get("cursor"))
    template = "tickets/customers/organizations.html#rows" if _is_htmx(request) else "tickets/customers/organizations.html"
    return render(request, template, {"organizations": rows, "next_cursor": next_cursor, "q": query})


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    record = selectors.organization_record(user=request.user, organization_id=organization_id)
    if record is None:
        raise Http404("No such organization")
    organization = record.organization
    status = 200
    form = OrganizationForm(
        initial={"name": organization.name, "notes": organization.notes, "domains": "\n".join(record.domains)}
    )
    if request.method == "POST":
        _require(request, CHANGE_ORGANIZATION)
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                services.organization_update(
                    organization=organization,
                    actor=Actor.agent(request.user),
                    name=form.cleaned_data["name"],
                    notes=form.cleaned_data["notes"],
                    domains=form.cleaned_data["domains"],
                )
            except OrganizationDomainTaken as exc:
                form.add_error("domains", str(exc))
            else:
                flash.success(request, "Organization saved.")
                return redirect("tickets:organization", organization_id=organization.pk)
        status = 400
    return render(
        request,
        "tickets/customers/organization.html",
        {"record": record, "form": form, "can_edit": request.user.has_perm(CHANGE_ORGANIZATION)},
        status=status,
    )

