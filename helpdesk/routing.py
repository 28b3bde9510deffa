"""Websocket routes of every app, gathered in one list for asgi.py."""
from django.urls import path

from channels_inbox.widget.consumers import WidgetConsumer
from tickets.consumers import AgentInboxConsumer, TicketConsumer

websocket_urlpatterns = [
    path("ws/inbox/", AgentInboxConsumer.as_asgi()),
    path("ws/tickets/<int:number>/", TicketConsumer.as_asgi()),
]

# The chat widget runs on customers' sites: it checks each channel's allowed origins
# itself, so asgi.py mounts these outside the project-wide AllowedHostsOriginValidator.
public_websocket_urlpatterns = [
    path("ws/widget/<str:key>/", WidgetConsumer.as_asgi()),
]
