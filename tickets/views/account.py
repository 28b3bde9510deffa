"""The signed-in user's own account: password reset by email, password change, availability.

Django's auth views do the work; these subclasses only point them at Parley's templates
and form. Routes are in helpdesk/urls.py under Django's usual names (``password_reset``,
``password_reset_confirm``...), which the auth views reverse themselves.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tickets import services
from tickets.forms_manage import AccountPasswordResetForm, AvailabilityForm, GuardedAuthenticationForm
from tickets.views.base import staff_required


class LoginView(auth_views.LoginView):
    """Django's sign-in behind the brute-force guard; a locked attempt answers 429."""

    form_class = GuardedAuthenticationForm

    def form_invalid(self, form: GuardedAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "locked"):
            response.status_code = 429
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an email address and always answers "check your inbox": whether an account
    has that address is never revealed — not by the page, and not by the time it takes,
    because the email is sent by a worker (tickets.tasks.send_password_reset) queued the
    same way for every address."""

    form_class = AccountPasswordResetForm
    template_name = "registration/password_reset_form.html"

    def form_valid(self, form: AccountPasswordResetForm) -> HttpResponse:
        from tickets.tasks import send_password_reset

        email, domain, use_https = form.cleaned_data["email"], self.request.get_host(), self.request.is_secure()
        transaction.on_commit(lambda: send_password_reset.delay(email, domain, use_https))
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


@staff_required
@require_POST
def availability_set(request: HttpRequest) -> HttpResponse:
    """The top bar's availability menu. htmx swaps the form in place; without JavaScript the
    browser comes back to the page it was on."""
    form = AvailabilityForm(request.POST)
    if form.is_valid():
        profile = services.agent_set_availability(user=request.user, availability=form.cleaned_data["availability"])
        status = 200
    else:
        profile = getattr(request.user, "agent", None)
        status = 400
    if request.htmx:
        return render(
            request, "tickets/manage/_availability.html", {"profile": profile, "availability_error": status == 400},
            status=status,
        )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = "tickets:inbox"
    return redirect(back)
