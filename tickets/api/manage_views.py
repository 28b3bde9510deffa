"""Manage > API keys (administrators): create a key (shown once), revoke one."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tickets.api import keys
from tickets.api.forms import ApiKeyForm
from tickets.api.models import ApiKey
from tickets.api.scopes import UnknownScope
from tickets.views.manage.base import admin_required, manage_context


@admin_required
def api_key_list(request: HttpRequest) -> HttpResponse:
    """The keys, and a form for a new one. A new key's secret is in this one answer only."""
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key, raw = keys.api_key_create(name=data["name"], user=data["user"], scopes=data["scopes"], created_by=request.user)
        except (ValueError, UnknownScope) as exc:
            form.add_error(None, str(exc))
        else:
            created = {"key": key, "raw": raw}
            form = ApiKeyForm()
    response = render(
        request,
        "api/manage_api_keys.html",
        manage_context(request, "api keys", form=form, api_keys=keys.api_keys_for_manage(), created=created),
        status=400 if request.method == "POST" and created is None else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a secret
    return response


@admin_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = ApiKey.objects.filter(pk=key_id).first()
    if key is None:
        raise Http404("No such key")
    keys.api_key_revoke(key=key)
    flash.success(request, f"API key “{key.name}” revoked; it no longer works.")
    return redirect("tickets:manage:api_keys:list")
