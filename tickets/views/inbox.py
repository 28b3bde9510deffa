"""The unified inbox: built-in and saved views, filters, search, sorting, bulk actions.

Every action is a plain GET link or POST form (works without JavaScript); with htmx the
same views answer with a fragment of templates/tickets/inbox.html: ``#list`` (counts,
bulk form and rows) after filtering or a bulk action, ``#rows`` for the next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
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
    agent_choices,
    querydict_from_json,
)
from tickets.models import SavedView, Ticket
from tickets.selectors.inbox import BUILTIN_VIEWS, Page, sla_flag
from tickets.selectors.search import search_supports_rank
from tickets.services.bulk import ACTIONS, BulkResult
from tickets.views.base import staff_required


@dataclass(frozen=True)
class InboxRow:
    """One row of the list with its strings made in Python.

    Why: the row loop is most of the page's time (50 rows x 10 columns). ``{% url %}``,
    ``|date``, ``get_*_display`` and chains of ``|default`` cost a template lookup each;
    made here they are one attribute read (the list renders in about half the time).
    """

    ticket: Ticket
    url: str
    unread: bool
    channel_kind: str
    channel_name: str
    channel_label: str
    customer: str
    subject: str
    status_label: str
    priority_label: str
    assignee: str
    team: str
    updated_iso: str
    updated_label: str
    # "breached", "at_risk" or "": the same clocks as the "SLA at risk" view, from the row.
    sla: str = ""


_CHANNEL_KINDS = dict(Channel.Kind.choices)
_STATUSES = dict(Ticket.Status.choices)
_PRIORITIES = dict(Ticket.Priority.choices)
_URL_MARK = 987654321


def inbox_rows(items: list[Ticket], unread: frozenset[int]) -> list[InboxRow]:
    url = reverse("tickets:detail", args=[_URL_MARK])
    now = timezone.now()
    rows = []
    for t in items:
        assignee = t.assignee
        updated = timezone.localtime(t.updated_at)
        rows.append(
            InboxRow(
                ticket=t,
                url=url.replace(str(_URL_MARK), str(t.number)),
                unread=t.pk in unread,
                channel_kind=t.channel.kind,
                channel_name=t.channel.name,
                channel_label=_CHANNEL_KINDS.get(t.channel.kind, t.channel.kind),
                customer=str(t.customer),
                subject=t.subject or "(no subject)",
                status_label=_STATUSES.get(t.status, t.status),
                priority_label=_PRIORITIES.get(t.priority, t.priority),
                assignee=(assignee.get_full_name() or str(assignee)) if assignee else "—",
                team=str(t.team) if t.team else "—",
                updated_iso=t.updated_at.isoformat(),
                updated_label=updated.strftime("%Y-%m-%d %H:%M"),
                sla=sla_flag(t, now),
            )
        )
    return rows


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
    agents = agent_choices()
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
    form = InboxFilterForm(data, user=request.user, agent_choices=agents)
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
    context = {
        "page": page,
        "rows": inbox_rows(page.items, unread),
        "unread": unread,
        "view": "" if saved else view,
        "views": [(key, label, counts[key]) for key, label in BUILTIN_VIEWS],
        "saved": saved,
        "saved_views": selectors.saved_views_for(user=request.user),
        "form": form,
        "sort": sort,
        "query": query.urlencode(),
        "bulk_actions": ACTIONS,
        "bulk_form": BulkActionForm(user=request.user, agent_choices=agents),
        "can_bulk": request.user.has_perm("tickets.change_ticket"),
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
