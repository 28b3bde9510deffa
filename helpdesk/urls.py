"""Top-level URL configuration."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from channels_inbox import public_media
from helpdesk import health
from tickets.views import account

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by email and change (tickets/views/account.py), under Django's names.
    path("password/reset/", account.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", account.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", account.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", account.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("password/change/", account.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", account.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("account/availability/", account.availability_set, name="availability_set"),
    path("admin/", admin.site.urls),
    path("hooks/", include("channels_inbox.urls")),
    path("api/", include("tickets.api.urls")),  # REST API: /api/v1/, /api/schema/, /api/docs/
    path("widget/", include("channels_inbox.widget.loader_urls")),  # the widget's loader script and demo page
    path("widget/", include("channels_inbox.widget.urls")),  # the widget's session, HTTPS fallback, uploads
    path("files/<str:token>/<str:filename>", public_media.public_media, name="public_media"),
    path("dashboards/", include("metrics.urls")),  # the managers' dashboards and their CSV exports
    path("", include("metrics.surveys.urls")),  # /s/<token>/ survey pages and /manage/surveys/
    path("", include("tickets.urls")),
]

# Problem details (application/problem+json) for errors under /api/; Django's pages elsewhere.
handler404 = "tickets.api.problems.handler404"
handler500 = "tickets.api.problems.handler500"
