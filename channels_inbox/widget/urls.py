"""The widget's HTTP endpoints, mounted at ``/widget/`` (the loader and demo page are C2's)."""

from __future__ import annotations

from django.urls import path

from channels_inbox.widget import views

app_name = "widget"

urlpatterns = [
    path("<str:key>/session", views.session, name="session"),
    path("<str:key>/messages", views.messages, name="messages"),
    path("<str:key>/events", views.events, name="events"),
    path("<str:key>/upload", views.upload, name="upload"),
    path("<str:key>/files/<str:token>/", views.file, name="file"),
]
