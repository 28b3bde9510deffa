"""Routes under /api/ (mounted by helpdesk/urls.py): the schema, its Swagger UI, and v1.

v1 resources: tickets and messages here; the CRM and configuration resources in
``tickets.api.crm_urls`` and the integration resources (webhooks, metrics) in
``tickets.api.integrations_urls``, both included under /api/v1/ as well. Any other /api/
address is a 404 problem.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from tickets.api.problems import not_found_view
from tickets.api.views import messages, tickets

app_name = "api"

router = SimpleRouter()
router.register("tickets", tickets.TicketViewSet, basename="ticket")

v1 = [
    *router.urls,  # tickets/, tickets/{number}/, tickets/{number}/merge/, tickets/bulk/
    path("tickets/<int:number>/messages/", messages.MessageListApi.as_view(), name="message-list"),
    path("tickets/<int:number>/messages/<int:message_id>/", messages.MessageDetailApi.as_view(), name="message-detail"),
    path("tickets/<int:number>/replies/", messages.ReplyCreateApi.as_view(), name="reply-create"),
    path("tickets/<int:number>/notes/", messages.NoteCreateApi.as_view(), name="note-create"),
    path(
        "tickets/<int:number>/attachments/<int:attachment_id>/",
        messages.AttachmentDownloadApi.as_view(),
        name="attachment-download",
    ),
    path("", include("tickets.api.crm_urls")),
    path("", include("tickets.api.integrations_urls")),  # webhooks, metrics
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[]), name="docs"),
    path("v1/", include(v1)),
    re_path(r"^.*$", not_found_view),
]
