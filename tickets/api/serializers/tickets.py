"""Tickets: output, create, update, merge and bulk inputs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from channels_inbox.models import Channel
from tickets.models import Team, Ticket
from tickets.services.bulk import ACTIONS, BULK_LIMIT


class ChannelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        agent = getattr(user, "agent", None)
        return agent.name if agent is not None else (user.get_full_name() or user.get_username())


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as the API shows it (read only)."""

    channel = ChannelRefSerializer()
    customer = NamedRefSerializer()
    organization = NamedRefSerializer(allow_null=True)
    team = NamedRefSerializer(allow_null=True)
    assignee = UserRefSerializer(allow_null=True)
    tags = serializers.SerializerMethodField()
    merged_into = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "number",
            "subject",
            "status",
            "priority",
            "channel",
            "customer",
            "organization",
            "team",
            "assignee",
            "tags",
            "language",
            "sentiment",
            "reopen_count",
            "merged_into",
            "created_at",
            "updated_at",
            "first_response_at",
            "solved_at",
            "closed_at",
            "last_customer_activity_at",
            "last_agent_activity_at",
            "sla_first_response_due_at",
            "sla_resolution_due_at",
        ]
        read_only_fields = fields

    def get_tags(self, ticket: Ticket) -> list[str]:
        return sorted(t.name for t in ticket.tags.all())

    def get_merged_into(self, ticket: Ticket) -> int | None:
        return ticket.merged_into.number if ticket.merged_into_id and ticket.merged_into else None


class CustomerInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class FirstMessageSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=100_000, required=False, allow_blank=True, default="")
    html = serializers.CharField(max_length=500_000, required=False, allow_blank=True, default="")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data["text"].strip() and not data["html"].strip():
            raise serializers.ValidationError("a message needs text or html")
        return data


def _team(value: int | None) -> Team | None:
    if value is None:
        return None
    team = Team.objects.filter(pk=value).first()
    if team is None:
        raise serializers.ValidationError(f"no team with id {value}")
    return team


def _agent(value: int | None) -> Any:
    if value is None:
        return None
    user = get_user_model().objects.filter(pk=value, is_active=True, is_staff=True).first()
    if user is None:
        raise serializers.ValidationError(f"no active agent with id {value}")
    return user


class TicketCreateSerializer(serializers.Serializer):
    """A new ticket for a customer (found or created by email) with their first message."""

    customer = CustomerInputSerializer()
    subject = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    message = FirstMessageSerializer()
    channel = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="Channel id; default: the first active API channel, else the first active email channel")
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False, allow_null=True, default=None)
    team = serializers.IntegerField(required=False, allow_null=True, default=None)
    assignee = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="User id of an agent")
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list, max_length=50)

    def validate_channel(self, value: int | None) -> Channel:
        if value is not None:
            channel = Channel.objects.filter(pk=value, is_active=True).first()
            if channel is None:
                raise serializers.ValidationError(f"no active channel with id {value}")
            return channel
        for kind in (Channel.Kind.API, Channel.Kind.EMAIL):
            channel = Channel.objects.filter(kind=kind, is_active=True).order_by("pk").first()
            if channel is not None:
                return channel
        raise serializers.ValidationError("there is no active API or email channel; name one with 'channel'")

    def validate_team(self, value: int | None) -> Team | None:
        return _team(value)

    def validate_assignee(self, value: int | None) -> Any:
        return _agent(value)


class TicketUpdateSerializer(serializers.Serializer):
    """Fields a PATCH may change; each goes through its own service (and event)."""

    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    team = serializers.IntegerField(required=False, allow_null=True, help_text="Team id, or null for none")
    assignee = serializers.IntegerField(required=False, allow_null=True, help_text="User id of an agent, or null to unassign")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50, help_text="The complete list (replaces the tags)"
    )

    def validate_team(self, value: int | None) -> Team | None:
        return _team(value)

    def validate_assignee(self, value: int | None) -> Any:
        return _agent(value)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data:
            raise serializers.ValidationError("nothing to change: send one of status, priority, team, assignee, tags")
        return data


class TicketMergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(help_text="Number of the ticket this one is merged into")


class TicketBulkSerializer(serializers.Serializer):
    numbers = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=BULK_LIMIT)
    action = serializers.ChoiceField(choices=[a for a, _ in ACTIONS])
    assignee = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="assign: user id, or null to unassign")
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False, allow_blank=True, default="")
    tag = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    merge_into = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="merge: one of the numbers")

    def validate_assignee(self, value: int | None) -> Any:
        return _agent(value)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        action = data["action"]
        if action == "status" and not data["status"]:
            raise serializers.ValidationError({"status": "required for the status action"})
        if action in ("add_tag", "remove_tag") and not data["tag"].strip():
            raise serializers.ValidationError({"tag": f"required for the {action} action"})
        if action == "merge" and data["merge_into"] is None:
            raise serializers.ValidationError({"merge_into": "required for the merge action"})
        return data


class BulkItemSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    result = serializers.ChoiceField(choices=["changed", "unchanged", "failed"])
    detail = serializers.CharField(allow_blank=True)


class BulkResultSerializer(serializers.Serializer):
    summary = serializers.CharField()
    results = BulkItemSerializer(many=True)
