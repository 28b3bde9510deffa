"""/manage/ itself: the first section the user may open."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from tickets.views.manage.base import admin_or_manager_required, manage_context


@admin_or_manager_required
def manage_index(request: HttpRequest) -> HttpResponse:
    sections = manage_context(request, "")["sections"]
    return redirect(sections[0][0])
