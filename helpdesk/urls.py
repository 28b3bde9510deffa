"""Top-level URL configuration."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from helpdesk import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("hooks/", include("channels_inbox.urls")),
    path("", include("tickets.urls")),
]
