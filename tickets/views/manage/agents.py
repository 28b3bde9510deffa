"""Agents: administrators create, edit, deactivate and send password links; managers see the
list and each agent and set their availability."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tickets import selectors, services
from tickets.forms_manage import AgentCreateForm, AgentForm, AvailabilityForm
from tickets.models import AgentProfile
from tickets.roles import ADMIN, user_role
from tickets.views.manage.base import (
    add_service_errors,
    admin_or_manager_required,
    admin_required,
    manage_context,
)


def _staff_user_or_404(user_id: int):
    user = selectors.staff_user_for_manage(user_id=user_id)
    if user is None:
        raise Http404("No such agent")
    return user


def _role_of(user) -> str | None:
    """The role from the prefetched groups (no query per row)."""
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    return next((r for r in ("admin", "manager", "agent") if r in names), None)


def _rows(users) -> list[dict]:
    return [{"user": u, "profile": getattr(u, "agent", None), "role": _role_of(u)} for u in users]


@admin_or_manager_required
def agent_list(request: HttpRequest) -> HttpResponse:
    rows = _rows(selectors.staff_list_for_manage())
    return render(
        request,
        "tickets/manage/agents.html",
        manage_context(request, "agents", rows=rows, availability_choices=AgentProfile.Availability.choices),
    )


@admin_required
def agent_create(request: HttpRequest) -> HttpResponse:
    form = AgentCreateForm(request.POST or None, initial={"role": "agent", "capacity": 20, "availability": "offline"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            profile = services.agent_create(**data, site_url=request.build_absolute_uri("/"))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if data["password"]:
                flash.success(request, f"{profile.name} can now sign in as {profile.user.username}.")
            else:
                flash.success(request, f"{profile.name} was emailed a link to choose a password ({profile.user.email}).")
            return redirect("tickets:manage:agents")
    return render(request, "tickets/manage/agent_form.html", manage_context(request, "agents", form=form, agent_user=None))


@admin_or_manager_required
def agent_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    """Administrators edit the agent here; managers see the agent and may set availability."""
    user = _staff_user_or_404(user_id)
    profile = getattr(user, "agent", None)
    if request.method == "POST":
        if request.parley_role != ADMIN:
            raise PermissionDenied("Only administrators change agents.")
        form = AgentForm(request.POST, user=user)
        if form.is_valid():
            try:
                services.agent_update(user=user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                flash.success(request, f"{user.get_username()} saved.")
                return redirect("tickets:manage:agents")
    else:
        form = AgentForm(
            user=user,
            initial={
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "display_name": profile.display_name if profile else "",
                "role": user_role(user) or "agent",
                "teams": list(profile.teams.all()) if profile else [],
                "skills": ", ".join(profile.skills) if profile else "",
                "capacity": profile.capacity if profile else 20,
                "availability": profile.availability if profile else AgentProfile.Availability.OFFLINE,
            },
        )
    return render(
        request,
        "tickets/manage/agent_form.html",
        manage_context(
            request, "agents", form=form, agent_user=user, profile=profile, role=_role_of(user),
            availability_form=AvailabilityForm(initial={"availability": getattr(profile, "availability", "offline")}),
        ),
    )


@admin_or_manager_required
@require_POST
def agent_availability(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user_or_404(user_id)
    form = AvailabilityForm(request.POST)
    if not form.is_valid():
        flash.error(request, "Choose available, away or offline.")
    else:
        profile = services.agent_set_availability(user=user, availability=form.cleaned_data["availability"])
        if request.htmx:
            return render(
                request,
                "tickets/manage/agents.html#availability",
                {"row": {"user": user, "profile": profile}, "availability_choices": AgentProfile.Availability.choices},
            )
        flash.success(request, f"{profile.name} is now {profile.get_availability_display().lower()}.")
    if request.POST.get("back") == "detail":
        return redirect("tickets:manage:agent", user_id=user.pk)
    return redirect("tickets:manage:agents")


@admin_required
@require_POST
def agent_active(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user_or_404(user_id)
    is_active = request.POST.get("is_active") == "1"
    try:
        services.agent_set_active(user=user, is_active=is_active, changed_by=request.user)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        flash.success(request, f"{user.get_username()} {'reactivated' if is_active else 'deactivated'}.")
    return redirect("tickets:manage:agent", user_id=user.pk)


@admin_required
@require_POST
def agent_password_link(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _staff_user_or_404(user_id)
    try:
        services.agent_send_password_link(user=user, site_url=request.build_absolute_uri("/"))
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        flash.success(request, f"A link to choose a new password was emailed to {user.email}.")
    return redirect("tickets:manage:agent", user_id=user.pk)
