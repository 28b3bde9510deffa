from django.urls import path

from tickets.views import inbox, ticket

app_name = "tickets"

urlpatterns = [
    path("", inbox.inbox, name="inbox"),
    path("tickets/<int:number>/", ticket.ticket_detail, name="detail"),
    path("tickets/<int:number>/reply/", ticket.ticket_reply, name="reply"),
    path("tickets/<int:number>/status/", ticket.ticket_status, name="status"),
    path("tickets/<int:number>/attachments/<int:attachment_id>/", ticket.attachment_download, name="attachment"),
]
