"""/manage/surveys/: the survey settings (administrators) and NPS campaigns (managers too)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from metrics.surveys import selectors, services
from metrics.surveys.forms import NpsCampaignForm, SurveySettingsForm
from metrics.surveys.models import NpsCampaign
from tickets.views.manage.base import (
    add_service_errors,
    admin_or_manager_required,
    admin_required,
    manage_context,
)

SECTION = "surveys"


@admin_or_manager_required
def surveys_index(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - dt.timedelta(days=30)
    return render(
        request,
        "surveys/manage/index.html",
        manage_context(
            request,
            SECTION,
            conf=selectors.survey_settings_get(),
            csat_rate=selectors.survey_response_rate(kind="csat", since=since),
            campaigns=list(selectors.nps_campaign_list()[:50]),
        ),
    )


@admin_required
def surveys_settings(request: HttpRequest) -> HttpResponse:
    conf = selectors.survey_settings_get()
    form = SurveySettingsForm(request.POST or None, instance=conf)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in SurveySettingsForm.Meta.fields}
        try:
            services.survey_settings_update(**values)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            flash.success(request, "Survey settings saved.")
            return redirect("surveys:manage")
    return render(request, "surveys/manage/settings.html", manage_context(request, SECTION, form=form))


@admin_or_manager_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    """Choose the customers, see how many they are ("Preview"), then send."""
    form = NpsCampaignForm(request.POST or None, initial={"audience": NpsCampaign.Audience.ALL})
    preview: int | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        organization = data.get("organization")
        audience = dict(audience=data["audience"], organization_id=organization.pk if organization else None, tier=data.get("tier") or "")
        if "send" in request.POST:
            try:
                campaign = services.nps_campaign_create(name=data["name"], created_by=request.user, **audience)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                campaign = services.nps_campaign_start(campaign_id=campaign.pk)
                flash.success(request, f"Sending the NPS survey to {campaign.recipients_total} customers.")
                return redirect("surveys:campaign", campaign_id=campaign.pk)
        else:
            preview = selectors.nps_audience(**audience).count()
    return render(
        request, "surveys/manage/campaign_form.html", manage_context(request, SECTION, form=form, preview=preview)
    )


@admin_or_manager_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.nps_campaign_list().filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("No such campaign")
    context = manage_context(request, SECTION, campaign=campaign, progress=selectors.nps_campaign_progress(campaign))
    if getattr(request, "htmx", False):
        return render(request, "surveys/manage/campaign.html#progress", context)
    return render(request, "surveys/manage/campaign.html", context)


@require_POST
@admin_or_manager_required
def campaign_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Queue the next batch again (after a worker was stopped mid-campaign); harmless twice."""
    services.nps_campaign_resume(campaign_id=campaign_id)
    flash.success(request, "Sending resumed.")
    return redirect("surveys:campaign", campaign_id=campaign_id)
