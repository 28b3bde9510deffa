"""/manage/api-keys/: included by tickets/views/manage/urls.py (namespace tickets:manage:api_keys)."""

from django.urls import path

from tickets.api import manage_views

app_name = "api_keys"

urlpatterns = [
    path("", manage_views.api_key_list, name="list"),
    path("<int:key_id>/revoke/", manage_views.api_key_revoke, name="revoke"),
]
