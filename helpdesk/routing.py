"""Websocket routes of every app, gathered in one list for asgi.py."""
from django.urls import path

from tickets.consumers import AgentInboxConsumer

websocket_urlpatterns = [
    path("ws/inbox/", AgentInboxConsumer.as_asgi()),
]
