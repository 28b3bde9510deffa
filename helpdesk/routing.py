"""Websocket routes of every app, gathered in one list for asgi.py."""
from django.urls import path

from tickets.consumers import AgentInboxConsumer, TicketConsumer

websocket_urlpatterns = [
    path("ws/inbox/", AgentInboxConsumer.as_asgi()),
    path("ws/tickets/<int:number>/", TicketConsumer.as_asgi()),
]
