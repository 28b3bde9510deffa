"""The unified inbox: built-in and saved views, filters, search, sorting, bulk actions.

Every action is a plain GET link or POST form (works without JavaScript); with htmx the
same views answer with a fragment of templates/tickets/inbox.html: ``#list`` (counts,
bulk form and rows) after filtering or a bulk action, ``#rows`` for the next page.
"""

from __future__ import annotations

from html import escape as _e
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from channels_inbox.models import Channel
from tickets import selectors, services
from tickets.exceptions import SavedViewNameTaken
from tickets.forms_inbox import (
    BulkActionForm,
    InboxFilterForm,
    SavedViewForm,
    SavedViewMoveForm,
    SavedViewRenameForm,
    querydict_from_json,
)
from tickets.models import SavedView, Ticket
from tickets.selectors.inbox import BUILTIN_VIEWS, Page, inbox_filter_choices, sla_flag
from tickets.selectors.search import search_supports_rank
from tickets.services.bulk import ACTIONS, BulkResult
from tickets.views.base import staff_required


_CHANNEL_KINDS = dict(Channel.Kind.choices)
_STATUSES = dict(Ticket.Status.choices)
_PRIORITIES = dict(Ticket.Priority.choices)
_URL_MARK = "987654321"
_SLA_CHIPS = {
    "breached": ' <span class="chip sla-breached" title="An SLA target has passed">SLA breached</span>',
    "at_risk": ' <span class="chip sla-at-risk" title="An SLA target is due within the hour">SLA at risk</span>',
}
_UNREAD_DOT = '<span class="unread-dot" aria-hidden="true"></span><span class="visually-hidden">Unread: </span>'


def inbox_rows_html(items: list[Ticket], unread: frozenset[int], *, can_bulk: bool) -> SafeString:
    """The list's ``<tr>`` rows as one string, made in Python.

    Why: the rows are most of the page (50 rows x 10 columns). As a template each row cost
    ~35 variable lookups, ``{% if %}`` nodes and escapes through Django's template engine
    (~1,700 lookups per page); here a row is one f-string, every text from the database
    escaped with ``html.escape`` (what Django's autoescape uses), the ticket URL reversed
    once per page. The markup is the one the template wrote (tests/tickets/test_inbox.py).
    """
    url = reverse("tickets:detail", args=[_URL_MARK])
    head, tail = url.split(_URL_MARK)
    now = timezone.now()
    local = timezone.get_current_timezone()
    parts = []
    for t in items:
        number = t.number
        href = f"{head}{number}{tail}"
        is_unread = t.pk in unread
        kind = t.channel.kind
        status, priority = t.status, t.priority
        assignee = t.assignee
        team = t.team
        updated = t.updated_at
        sla = _SLA_CHIPS.get(sla_flag(t, now), "")
        select = (
            f'<td><input type="checkbox" name="ticket" value="{number}" id="select-{number}" form="bulk-form">'
            f'<label for="select-{number}" class="visually-hidden">Select ticket {number}</label></td>'
            if can_bulk
            else ""
        )
        parts.append(
            f'\n          <tr class="status-{_e(status)}{" unread" if is_unread else ""}" data-ticket="{t.pk}">'
            f"\n            {select}"
            f'\n            <td><a href="{href}">{number}</a></td>'
            f'\n            <td><span class="chip chip-{_e(kind)}" title="{_e(t.channel.name)}">'
            f"{_e(_CHANNEL_KINDS.get(kind, kind))}</span></td>"
            f"\n            <td>{_e(str(t.customer))}</td>"
            f'\n            <td>{_UNREAD_DOT if is_unread else ""}<a href="{href}">{_e(t.subject or "(no subject)")}</a></td>'
            f"\n            <td>{_e(_STATUSES.get(status, status))}{sla}</td>"
            f'\n            <td class="priority-{_e(priority)}">{_e(_PRIORITIES.get(priority, priority))}</td>'
            f"\n            <td>{_e((assignee.get_full_name() or str(assignee)) if assignee else '—')}</td>"
            f"\n            <td>{_e(str(team)) if team else '—'}</td>"
            f'\n            <td><time datetime="{updated.isoformat()}">'
            f'{updated.astimezone(local).strftime("%Y-%m-%d %H:%M")}</time></td>'
            "\n          </tr>\n          \n          "
        )
    return mark_safe("".join(parts))  # noqa: S308 (every database text escaped above)


# Kept for callers of the foundation's name.
INBOX_VIEWS = BUILTIN_VIEWS

TEMPLATE = "tickets/inbox.html"


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _saved_view_or_404(request: HttpRequest, view_id: Any) -> SavedView:
    try:
        view = selectors.saved_view_get(user=request.user, view_id=int(view_id))
    except (TypeError, ValueError):
        view = None
    if view is None:
        raise Http404("No such saved view")
    return view


def _inbox_context(request: HttpRequest, data: QueryDict) -> tuple[dict[str, Any], int]:
    """Everything the inbox page shows for one query string; (context, HTTP status)."""
    # One read of the user's groups and teams for the whole page: the role check, the
    # visible tickets, the counts and the filter form all need them.
    prefetch_related_objects([request.user], "groups")
    visible = selectors.visible_tickets(request.user)
    choices = inbox_filter_choices(user=request.user)
    saved = None
    if data.get("saved"):
        saved = _saved_view_or_404(request, data["saved"])
        data = querydict_from_json(
            saved.filters,
            view="all",
            sort=data.get("sort") or saved.sort,
            cursor=data.get("cursor", ""),
            q=data.get("q", ""),
        )
    form = InboxFilterForm(data, user=request.user, choices=choices)
    status = 200
    page = Page(items=[], next_cursor=None)
    view, sort = "open", "updated"
    if form.is_valid():
        search = form.cleaned_data["q"]
        view = form.cleaned_data["view"] or (
            "all" if saved or form.has_filters() else "open"
        )
        sort = form.cleaned_data["sort"] or (
            "relevance" if search and search_supports_rank() else "updated"
        )
        page = selectors.ticket_list_for_agent(
            user=request.user,
            view=view,
            cursor=data.get("cursor"),
            filters=form.filters(),
            sort=sort,
            search=search,
            visible=visible,
        )
    else:
        status = 400
    # The current query string without the cursor: links to the next page and bulk
    # actions come back to exactly this list.
    query = data.copy() if not saved else QueryDict(mutable=True)
    if saved:
        query["saved"] = str(saved.pk)
        if data.get("sort") and data.get("sort") != saved.sort:
            query["sort"] = data["sort"]
        if data.get("q"):
            query["q"] = data["q"]
    query.pop("cursor", None)
    counts = selectors.inbox_view_counts(user=request.user, visible=visible)
    unread = selectors.ticket_unread_ids(user=request.user, tickets=page.items)
    can_bulk = request.user.has_perm("tickets.change_ticket")
    context = {
        "page": page,
        "rows_html": inbox_rows_html(page.items, unread, can_bulk=can_bulk),
        "unread": unread,
        "view": "" if saved else view,
        "views": [(key, label, counts[key]) for key, label in BUILTIN_VIEWS],
        "saved": saved,
        "saved_views": selectors.saved_views_for(user=request.user),
        "form": form,
        "sort": sort,
        "query": query.urlencode(),
        "bulk_actions": ACTIONS,
        "bulk_form": BulkActionForm(user=request.user, agent_choices=choices.agents),
        "can_bulk": can_bulk,
        "save_form": SavedViewForm(initial={"query": query.urlencode()}),
    }
    return context, status


# htmx target -> fragment: the whole page body after filtering or a bulk action (counts,
# the "save view" form and the list all change), the list alone, or the next rows.
_FRAGMENTS = {"inbox-page": "page", "inbox-list": "list"}


@staff_required
def inbox(request: HttpRequest) -> HttpResponse:
    context, status = _inbox_context(request, request.GET)
    if _is_htmx(request):
        fragment = _FRAGMENTS.get(request.headers.get("HX-Target", ""), "rows")
        return render(request, f"{TEMPLATE}#{fragment}", context, status=status)
    return render(request, TEMPLATE, context, status=status)


def _back_to_inbox(query: str) -> HttpResponse:
    url = reverse("tickets:inbox")
    # Only ever our own inbox with a query string: never an open redirect.
    return redirect(f"{url}?{QueryDict(query).urlencode()}" if query else url)


@staff_required
@require_POST
def inbox_bulk(request: HttpRequest) -> HttpResponse:
    """Apply one action to the checked tickets; each ticket succeeds or fails on its own."""
    if not request.user.has_perm("tickets.change_ticket"):
        raise PermissionDenied("You may not change tickets.")
    form = BulkActionForm(request.POST, user=request.user)
    result: BulkResult | None = None
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        result = services.tickets_bulk_update(
            user=request.user,
            numbers=data["ticket"],
            action=data["action"],
            assignee=data.get("assignee_user"),
            status=data.get("status") or "",
            tag=data.get("tag") or "",
            merge_target=data.get("merge_target"),
        )
    else:
        error = form.error_summary or "The bulk action is not valid."
    query = (request.POST.get("next") or "")[:4000]
    if _is_htmx(request):
        context, _ = _inbox_context(request, QueryDict(query))
        context.update({"bulk_result": result, "bulk_error": error})
        fragment = _FRAGMENTS.get(request.headers.get("HX-Target", ""), "page")
        return render(request, f"{TEMPLATE}#{fragment}", context, status=200 if result else 400)
    if result is not None:
        (flash.success if not result.failed else flash.warning)(request, result.summary)
        for number, reason in result.failed:
            flash.error(request, f"#{number}: {reason}")
    else:
        flash.error(request, error)
    return _back_to_inbox(query)


@staff_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the inbox's current filters and sort under a name."""
    form = SavedViewForm(request.POST)
    query = (request.POST.get("query") or "")[:4000]
    if not form.is_valid():
        flash.error(request, "Give the view a name (at most 120 characters).")
        return _back_to_inbox(query)
    filters = InboxFilterForm(QueryDict(query), user=request.user)
    if not filters.is_valid():
        flash.error(request, f"These filters cannot be saved: {filters.error_summary}")
        return _back_to_inbox(query)
    try:
        view = services.saved_view_create(
            owner=request.user,
            name=form.cleaned_data["name"],
            filters=filters.to_json(),
            sort=filters.cleaned_data.get("sort") or "",
        )
    except SavedViewNameTaken as exc:
        flash.error(request, str(exc))
        return _back_to_inbox(query)
    flash.success(request, f"Saved the view “{view.name}”.")
    return _back_to_inbox(urlencode({"saved": view.pk}))


@staff_required
@require_POST
def saved_view_rename(request: HttpRequest, view_id: int) -> HttpResponse:
    view = _saved_view_or_404(request, view_id)
    form = SavedViewRenameForm(request.POST)
    if not form.is_valid():
        flash.error(request, "Give the view a name (at most 120 characters).")
    else:
        try:
            services.saved_view_rename(view=view, name=form.cleaned_data["name"])
        except SavedViewNameTaken as exc:
            flash.error(request, str(exc))
    return _back_to_inbox(urlencode({"saved": view.pk}))


@staff_required
@require_POST
def saved_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    view = _saved_view_or_404(request, view_id)
    name = view.name
    services.saved_view_delete(view=view)
    flash.success(request, f"Deleted the view “{name}”.")
    return _back_to_inbox("")


@staff_required
@require_POST
def saved_view_move(request: HttpRequest, view_id: int) -> HttpResponse:
    """Move a saved view up or down the list (buttons: keyboard-friendly, no drag needed)."""
    view = _saved_view_or_404(request, view_id)
    form = SavedViewMoveForm(request.POST)
    if form.is_valid():
        services.saved_view_move(
            view=view, offset=-1 if form.cleaned_data["direction"] == "up" else 1
        )
    else:
        flash.error(request, "Move a view up or down.")
    return _back_to_inbox((request.POST.get("next") or "")[:4000])
