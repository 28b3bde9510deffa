"""The managers' dashboards, under /dashboards/."""

from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("live/", views.live, name="live"),
    path("export/<str:table>.csv", views.export, name="export"),
]
