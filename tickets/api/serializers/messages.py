"""Messages of a ticket: output, reply and note inputs (JSON or multipart with files)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from tickets.forms import MAX_REPLY_FILES, UploadedAttachment, clean_uploaded_files
from tickets.models import Attachment, Message, Ticket


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Download address; null when the file was too large to keep or is not fetched yet")

    class Meta:
        model = Attachment
        fields = ["id", "filename", "size", "content_type", "is_inline", "is_oversize", "url"]
        read_only_fields = fields

    def get_url(self, attachment: Attachment) -> str | None:
        if not attachment.file:
            return None
        path = reverse("api:attachment-download", args=[attachment.message.ticket.number, attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class AuthorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Message.AuthorKind.choices)
    name = serializers.CharField()
    customer_id = serializers.IntegerField(allow_null=True)
    user_id = serializers.IntegerField(allow_null=True)


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "author",
            "subject",
            "text",
            "html",
            "to",
            "cc",
            "is_auto_reply",
            "delivery_status",
            "delivery_error",
            "sent_at",
            "edited_at",
            "deleted_at",
            "created_at",
            "attachments",
        ]
        read_only_fields = fields

    def get_author(self, message: Message) -> dict[str, Any]:
        name = "Parley"
        if message.author_customer is not None:
            name = message.author_customer.name
        elif message.author_user is not None:
            agent = getattr(message.author_user, "agent", None)
            name = agent.name if agent is not None else (message.author_user.get_full_name() or message.author_user.get_username())
        return {
            "kind": message.author_kind,
            "name": name,
            "customer_id": message.author_customer_id,
            "user_id": message.author_user_id,
        }


MessageSerializer.get_author.__annotations__["return"] = AuthorSerializer  # the schema names the shape


class _FilesMixin(serializers.Serializer):
    attachments = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        help_text=f"Files (multipart/form-data only), at most {MAX_REPLY_FILES}, each within the workspace's attachment limit",
    )

    def validate_attachments(self, files: list[Any]) -> list[UploadedAttachment]:
        try:
            return clean_uploaded_files(files)  # the reply box's limits
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("text", "").strip() and not data.get("html", "").strip() and not data.get("attachments"):
            raise serializers.ValidationError({"text": ["a message needs text, html or attachments"]})
        return data


class NoteInputSerializer(_FilesMixin):
    text = serializers.CharField(max_length=100_000, required=False, allow_blank=True, default="")
    html = serializers.CharField(max_length=500_000, required=False, allow_blank=True, default="", help_text="Sanitized before it is stored")


class ReplyInputSerializer(NoteInputSerializer):
    to = serializers.ListField(
        child=serializers.EmailField(), required=False, allow_null=True, default=None, max_length=50,
        help_text="Email channels: recipients (default: the customer)",
    )
    cc = serializers.ListField(child=serializers.EmailField(), required=False, default=list, max_length=50, help_text="Email channels: copies")
    status = serializers.ChoiceField(
        choices=Ticket.Status.choices, required=False, allow_null=True, default=None,
        help_text="Status to set with the reply (default: a new ticket becomes open)",
    )
