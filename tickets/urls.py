from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("tickets/<int:number>/", views.ticket_detail, name="detail"),
    path("tickets/<int:number>/reply/", views.ticket_reply, name="reply"),
    path("tickets/<int:number>/status/", views.ticket_status, name="status"),
    path("tickets/<int:number>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
]
