"""A ticket's messages: the timeline, public replies, internal notes, attachments.

Everything is reached through the ticket, read with ``ticket_get_for_user``: a private
team's ticket is a 404 for outsiders, its messages and files too. Replies go out through
the ticket's channel on the delivery task, exactly like an agent's reply.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import FileResponse
from rest_framework import parsers, renderers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tickets import selectors, services
from tickets.api.base import ApiView
from tickets.api.problems import ProblemJSONRenderer
from tickets.api.schema import OpenApiParameter, OpenApiTypes, example, extend_schema
from tickets.api.serializers.messages import (
    MessageSerializer,
    NoteInputSerializer,
    ReplyInputSerializer,
)
from tickets.files import attachment_response
from tickets.models import Message, Ticket

NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The ticket's number")
MESSAGE_ID = OpenApiParameter("message_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ATTACHMENT_ID = OpenApiParameter("attachment_id", OpenApiTypes.INT, OpenApiParameter.PATH)

MESSAGE_EXAMPLE = {
    "id": 5120,
    "direction": "inbound",
    "author": {"kind": "customer", "name": "Ada Lovelace", "customer_id": 77, "user_id": None},
    "subject": "Cannot export my invoices",
    "text": "The export button does nothing.",
    "html": "",
    "to": ["support@example.com"],
    "cc": [],
    "is_auto_reply": False,
    "delivery_status": "",
    "delivery_error": "",
    "sent_at": None,
    "edited_at": None,
    "deleted_at": None,
    "created_at": "2026-11-23T10:00:00Z",
    "attachments": [
        {
            "id": 301,
            "filename": "screenshot.png",
            "size": 48213,
            "content_type": "image/png",
            "is_inline": False,
            "is_oversize": False,
            "url": "http://localhost:8000/api/v1/tickets/1042/attachments/301/",
        }
    ],
}
REPLY_EXAMPLE = {
    **MESSAGE_EXAMPLE,
    "id": 5121,
    "direction": "outbound",
    "author": {"kind": "agent", "name": "Sam Agent", "customer_id": None, "user_id": 9},
    "subject": "[#1042] Re: Cannot export my invoices",
    "text": "Thanks Ada, we are on it.",
    "to": ["ada@example.com"],
    "delivery_status": "queued",
    "attachments": [],
}


class _TicketMessagesApi(ApiView):
    api_resource = "messages"
    serializer_class = MessageSerializer
    filter_backends: list = []

    def ticket(self) -> Ticket:
        ticket = selectors.ticket_get_for_user(user=self.request.user, number=self.kwargs["number"])
        if ticket is None:
            raise NotFound(f"No ticket {self.kwargs['number']} that you can see.")
        return ticket

    def messages(self, ticket: Ticket) -> Any:
        return Message.objects.filter(ticket=ticket).select_related(
            "author_customer", "author_user", "author_user__agent", "ticket"
        ).prefetch_related("attachments")

    def message_response(self, message: Message, **kwargs: Any) -> Response:
        fresh = self.messages(message.ticket).get(pk=message.pk)
        return Response(MessageSerializer(fresh, context={"request": self.request}).data, **kwargs)


class MessageListApi(_TicketMessagesApi):
    ordering = ("created_at",)

    @extend_schema(
        summary="List a ticket's messages",
        description="The timeline in order (oldest first), notes included; cursor pages.",
        parameters=[NUMBER],
        responses={200: MessageSerializer(many=True)},
        examples=[example("The timeline", [MESSAGE_EXAMPLE, REPLY_EXAMPLE], list=True)],
    )
    def get(self, request: Request, number: int) -> Response:
        page = self.paginate_queryset(self.messages(self.ticket()))
        return self.get_paginated_response(MessageSerializer(page, many=True, context={"request": request}).data)


class MessageDetailApi(_TicketMessagesApi):
    @extend_schema(
        summary="Get one message",
        parameters=[NUMBER, MESSAGE_ID],
        responses={200: MessageSerializer},
        examples=[example("A message", MESSAGE_EXAMPLE)],
    )
    def get(self, request: Request, number: int, message_id: int) -> Response:
        message = self.messages(self.ticket()).filter(pk=message_id).first()
        if message is None:
            raise NotFound(f"No message {message_id} on ticket {number}.")
        return Response(MessageSerializer(message, context={"request": request}).data)


class ReplyCreateApi(_TicketMessagesApi):
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser]

    @extend_schema(
        summary="Reply to the customer",
        description=(
            "A public reply, sent through the ticket's channel on the delivery task like an agent's reply "
            "(`delivery_status` starts `queued`). JSON, or multipart/form-data with `attachments` files "
            "(the workspace's limits). Honours `Idempotency-Key`."
        ),
        parameters=[NUMBER],
        request={"application/json": ReplyInputSerializer, "multipart/form-data": ReplyInputSerializer},
        responses={201: MessageSerializer},
        examples=[
            example("A reply that solves the ticket", {"text": "Thanks Ada, it is fixed now.", "status": "solved"}, request=True),
            example("Queued", REPLY_EXAMPLE, status=201),
        ],
    )
    def post(self, request: Request, number: int) -> Response:
        ticket = self.ticket()
        serializer = ReplyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        is_email = ticket.channel.kind == "email"
        message = services.message_reply(
            ticket=ticket,
            author=request.user,
            text=data["text"],
            html=data["html"],
            to=(data["to"] or None) if is_email else None,
            cc=data["cc"] if is_email else (),
            status=data["status"],
            attachments=data["attachments"],
        )
        return self.message_response(message, status=status.HTTP_201_CREATED)


class NoteCreateApi(_TicketMessagesApi):
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser]

    @extend_schema(
        summary="Add an internal note",
        description="Seen by agents only, never sent. JSON, or multipart/form-data with `attachments` files.",
        parameters=[NUMBER],
        request={"application/json": NoteInputSerializer, "multipart/form-data": NoteInputSerializer},
        responses={201: MessageSerializer},
        examples=[
            example("A note", {"text": "Customer confirmed by phone."}, request=True),
            example(
                "Added",
                {**REPLY_EXAMPLE, "direction": "note", "subject": "", "text": "Customer confirmed by phone.", "to": [], "delivery_status": ""},
                status=201,
            ),
        ],
    )
    def post(self, request: Request, number: int) -> Response:
        ticket = self.ticket()
        serializer = NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.message_add_note(
            ticket=ticket, author=request.user, text=data["text"], html=data["html"], attachments=data["attachments"]
        )
        return self.message_response(message, status=status.HTTP_201_CREATED)


class _AnyRenderer(renderers.BaseRenderer):
    """Lets a download be asked for with any Accept header; errors still render as JSON."""

    media_type = "*/*"
    format = "json"  # no ?format= of its own: the schema shows none
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode() if data is not None else b""


class AttachmentDownloadApi(_TicketMessagesApi):
    renderer_classes = [renderers.JSONRenderer, ProblemJSONRenderer, _AnyRenderer]

    @extend_schema(
        summary="Download an attachment",
        description="The file itself. Images are shown inline; anything else downloads (never run in a browser).",
        parameters=[NUMBER, ATTACHMENT_ID],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, number: int, attachment_id: int) -> FileResponse:
        attachment = selectors.attachment_for_ticket(ticket=self.ticket(), attachment_id=attachment_id)
        if attachment is None or not attachment.file:
            raise NotFound(f"No attachment {attachment_id} on ticket {number}.")
        return attachment_response(attachment, cache_control="private, max-age=3600")
