"""Teams: administrators create and edit them; managers see them and their members."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from tickets import selectors, services
from tickets.forms_manage import TeamForm
from tickets.models import Team
from tickets.views.manage.base import (
    add_service_errors,
    admin_or_manager_required,
    admin_required,
    manage_context,
)


@admin_or_manager_required
def team_list(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.team_list_for_manage())
    return render(request, "tickets/manage/teams.html", manage_context(request, "teams", teams=teams))


@admin_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(**form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            flash.success(request, f"Team “{team.name}” created.")
            return redirect("tickets:manage:teams")
    return render(request, "tickets/manage/team_form.html", manage_context(request, "teams", form=form, team=None))


@admin_or_manager_required
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    """Administrators edit the team here; managers see who is in it."""
    team = get_object_or_404(Team, pk=team_id)
    if request.method == "POST" and request.parley_role != "admin":
        raise PermissionDenied("Only administrators change teams.")
    if request.method == "POST":
        form = TeamForm(request.POST, team=team)
        if form.is_valid():
            try:
                services.team_update(team=team, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
                team.refresh_from_db()
            else:
                flash.success(request, f"Team “{team.name}” saved.")
                return redirect("tickets:manage:teams")
    else:
        form = TeamForm(
            initial={"name": team.name, "is_private": team.is_private, "members": list(team.agents.all())}, team=team
        )
    return render(
        request,
        "tickets/manage/team_form.html",
        manage_context(request, "teams", form=form, team=team, members=selectors.team_members(team=team)),
    )
