"""The unified inbox."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tickets import selectors

from tickets.views.base import staff_required

INBOX_VIEWS = [
    ("open", "All open"),
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("pending", "Pending"),
    ("solved", "Recently solved"),
]


@staff_required
def inbox(request: HttpRequest) -> HttpResponse:
    view = request.GET.get("view", "open")
    if view not in dict(INBOX_VIEWS):
        view = "open"
    page = selectors.ticket_list_for_agent(user=request.user, view=view, cursor=request.GET.get("cursor"))
    context = {"page": page, "view": view, "views": INBOX_VIEWS}
    template = "tickets/inbox.html#rows" if getattr(request, "htmx", False) else "tickets/inbox.html"
    return render(request, template, context)
