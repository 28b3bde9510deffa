"""Channels: the list, a new channel of any kind, editing one. Administrators only."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from channels_inbox import services as channel_services
from channels_inbox.adapters import ADAPTERS
from channels_inbox.models import Channel
from tickets import selectors
from tickets.forms_manage import channel_form_class
from tickets.views.manage.base import add_service_errors, admin_required, manage_context


def _secret_status(value: object) -> str:
    """How a stored secret is shown: that it is there, never any of its characters.
    A reference to the environment shows the variable's name, which is not secret."""
    text = str(value or "")
    if text.startswith("env:"):
        return f"from the environment ({text[4:]})"
    return "stored"


@admin_required
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = list(selectors.channel_list_for_manage())
    return render(
        request,
        "tickets/manage/channels.html",
        manage_context(request, "channels", channels=channels, kinds=Channel.Kind.choices, adapters=set(ADAPTERS)),
    )


@admin_required
def channel_create(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in Channel.Kind.values:
        return render(
            request,
            "tickets/manage/channel_kind.html",
            manage_context(request, "channels", kinds=Channel.Kind.choices, adapters=set(ADAPTERS)),
        )
    form_class = channel_form_class(kind)
    form = form_class(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        secrets_set, _ = form.secret_changes()
        try:
            channel = channel_services.channel_create(kind=kind, secrets=secrets_set, **form.service_arguments())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            flash.success(request, f"Channel “{channel.name}” created.")
            return redirect("tickets:manage:channel", channel_id=channel.pk)
    return render(
        request,
        "tickets/manage/channel_form.html",
        manage_context(
            request, "channels", form=form, kind=kind, kind_label=Channel.Kind(kind).label,
            has_adapter=kind in ADAPTERS, channel=None, stored_secrets=[],
        ),
    )


@admin_required
def channel_edit(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(Channel.objects.select_related("default_team"), pk=channel_id)
    form_class = channel_form_class(channel.kind)
    if request.method == "POST":
        form = form_class(request.POST, channel=channel)
        if form.is_valid():
            secrets_set, secrets_clear = form.secret_changes()
            try:
                channel_services.channel_update(
                    channel=channel, secrets_set=secrets_set, secrets_clear=secrets_clear, **form.service_arguments()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
                channel.refresh_from_db()
            else:
                flash.success(request, f"Channel “{channel.name}” saved.")
                return redirect("tickets:manage:channel", channel_id=channel.pk)
    else:
        form = form_class(initial=form_class.initial_for(channel), channel=channel)
    if channel.kind not in Channel.Kind.values:
        raise Http404
    stored = [(name, _secret_status(value)) for name, value in sorted((channel.secrets or {}).items())]
    return render(
        request,
        "tickets/manage/channel_form.html",
        manage_context(
            request, "channels", form=form, kind=channel.kind, kind_label=channel.get_kind_display(),
            has_adapter=channel.kind in ADAPTERS, channel=channel, stored_secrets=stored,
        ),
    )
