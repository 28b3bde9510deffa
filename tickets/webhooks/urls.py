"""Routes of /manage/webhooks/, included by tickets/views/manage/urls.py (namespace
``tickets:manage:webhooks``)."""

from django.urls import path

from tickets.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<int:endpoint_id>/", views.endpoint_edit, name="edit"),
    path("<int:endpoint_id>/rotate/", views.endpoint_rotate, name="rotate"),
    path("<int:endpoint_id>/test/", views.endpoint_test, name="test"),
    path("<int:endpoint_id>/enable/", views.endpoint_enable, name="enable"),
    path("<int:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
    path("deliveries/", views.delivery_list, name="deliveries"),
    path("deliveries/<int:delivery_id>/", views.delivery_detail, name="delivery"),
    path("deliveries/<int:delivery_id>/redeliver/", views.delivery_redeliver, name="redeliver"),
]
