from django.urls import include, path

from tickets.views import customers, inbox, ticket

app_name = "tickets"

urlpatterns = [
    path("", inbox.inbox, name="inbox"),
    path("inbox/bulk/", inbox.inbox_bulk, name="inbox_bulk"),
    path("inbox/views/", inbox.saved_view_create, name="saved_view_create"),
    path("inbox/views/<int:view_id>/rename/", inbox.saved_view_rename, name="saved_view_rename"),
    path("inbox/views/<int:view_id>/delete/", inbox.saved_view_delete, name="saved_view_delete"),
    path("inbox/views/<int:view_id>/move/", inbox.saved_view_move, name="saved_view_move"),
    path("manage/", include("tickets.views.manage.urls")),
    path("tickets/<int:number>/", ticket.ticket_detail, name="detail"),
    path("tickets/<int:number>/reply/", ticket.ticket_reply, name="reply"),
    path("tickets/<int:number>/template/", ticket.ticket_send_template, name="send_template"),
    path("tickets/<int:number>/status/", ticket.ticket_status, name="status"),
    path("tickets/<int:number>/priority/", ticket.ticket_priority, name="priority"),
    path("tickets/<int:number>/assignee/", ticket.ticket_assign, name="assign"),
    path("tickets/<int:number>/team/", ticket.ticket_team, name="team"),
    path("tickets/<int:number>/tags/", ticket.ticket_tags, name="tags"),
    path("tickets/<int:number>/merge/", ticket.ticket_merge, name="merge"),
    path("tickets/<int:number>/messages/<int:message_id>/split/", ticket.message_split, name="split"),
    path("macros/", ticket.macro_list, name="macros"),
    path("macros/<int:macro_id>/", ticket.macro_edit, name="macro_edit"),
    path("macros/<int:macro_id>/delete/", ticket.macro_delete, name="macro_delete"),
    path("tickets/<int:number>/attachments/<int:attachment_id>/", ticket.attachment_download, name="attachment"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:customer_id>/", customers.customer_detail, name="customer"),
    path("customers/<int:customer_id>/merge/", customers.customer_merge, name="customer_merge"),
    path(
        "customers/<int:customer_id>/identities/<int:identity_id>/move/",
        customers.identity_move,
        name="identity_move",
    ),
    path("organizations/", customers.organization_list, name="organizations"),
    path("organizations/<int:organization_id>/", customers.organization_detail, name="organization"),
]
