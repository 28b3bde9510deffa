"""Shared macros (no owner): offered to every agent in the reply box. Administrators only."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tickets import selectors, services
from tickets.forms_manage import MacroForm
from tickets.models import Macro
from tickets.views.manage.base import add_service_errors, admin_required, manage_context


def _macro_or_404(macro_id: int) -> Macro:
    macro = selectors.macro_shared_get(macro_id=macro_id)
    if macro is None:
        raise Http404("No such shared macro")
    return macro


@admin_required
def macro_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "tickets/manage/macros.html", manage_context(request, "macros", macros=list(selectors.macro_list_shared()))
    )


@admin_required
def macro_create(request: HttpRequest) -> HttpResponse:
    form = MacroForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            macro = services.macro_create_shared(**form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            flash.success(request, f"Macro “{macro.name}” created.")
            return redirect("tickets:manage:macros")
    return render(request, "tickets/manage/macro_form.html", manage_context(request, "macros", form=form, macro=None))


@admin_required
def macro_edit(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = _macro_or_404(macro_id)
    if request.method == "POST":
        form = MacroForm(request.POST)
        if form.is_valid():
            try:
                services.macro_update_shared(macro=macro, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                flash.success(request, f"Macro “{macro.name}” saved.")
                return redirect("tickets:manage:macros")
    else:
        form = MacroForm(
            initial={
                "name": macro.name, "body": macro.body, "is_note": macro.is_note, "set_status": macro.set_status,
                "set_priority": macro.set_priority, "set_team": macro.set_team_id,
                "add_tags": ", ".join(macro.add_tags or []), "assign_to_me": macro.assign_to_me,
                "is_active": macro.is_active,
            }
        )
    return render(request, "tickets/manage/macro_form.html", manage_context(request, "macros", form=form, macro=macro))


@admin_required
@require_POST
def macro_delete(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = _macro_or_404(macro_id)
    name = macro.name
    services.macro_delete_shared(macro=macro)
    flash.success(request, f"Macro “{name}” deleted.")
    return redirect("tickets:manage:macros")
