"""The company's details (one row): name, website, support email, phone, address, time zone."""

from __future__ import annotations

import zoneinfo

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tickets import selectors, services
from tickets.forms_manage import CompanyForm
from tickets.views.manage.base import add_service_errors, admin_required, manage_context

_TIME_ZONES = sorted(zoneinfo.available_timezones())


@admin_required
def company_edit(request: HttpRequest) -> HttpResponse:
    profile = selectors.company_profile_get()
    if request.method == "POST":
        form = CompanyForm(request.POST)
        if form.is_valid():
            try:
                services.company_profile_update(**form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                flash.success(request, "Company details saved.")
                return redirect("tickets:manage:company")
    else:
        form = CompanyForm(
            initial={
                "name": profile.name, "website": profile.website, "support_email": profile.support_email,
                "phone": profile.phone, "address": profile.address, "time_zone": profile.time_zone,
            }
        )
    return render(
        request, "tickets/manage/company.html", manage_context(request, "company", form=form, time_zones=_TIME_ZONES)
    )
