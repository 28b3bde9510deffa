"""Channels, read only: kind, name, whether active, the default team and the addresses
customers reach them at. Secrets (tokens, signing secrets) and the rest of the per-kind
configuration are never part of the answer."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers

from channels_inbox.models import Channel
from tickets.api.base import ApiViewSet
from tickets.api.crm import selectors
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.serializers.tickets import NamedRefSerializer

# Configuration keys that are public addresses (a phone number customers text, a page id,
# a bot's user name); every other key stays inside Parley.
ADDRESS_KEYS = ("from_number", "phone_number", "phone_number_id", "page_id", "instagram_account_id", "username", "bot_username")


class AddressSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="inbound_address, widget_key, or the setting's name (phone_number ...)")
    value = serializers.CharField()


class ChannelSerializer(serializers.ModelSerializer):
    default_team = NamedRefSerializer(allow_null=True, read_only=True)
    addresses = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = ["id", "kind", "name", "is_active", "default_team", "addresses", "created_at"]
        read_only_fields = fields

    @extend_schema_field(AddressSerializer(many=True))
    def get_addresses(self, channel: Channel) -> list[dict[str, str]]:
        addresses = []
        if channel.inbound_address:
            addresses.append({"kind": "inbound_address", "value": channel.inbound_address})
        if channel.kind == Channel.Kind.CHAT:  # embedded in public web pages by design
            addresses.append({"kind": "widget_key", "value": channel.public_key})
        config: Any = channel.config if isinstance(channel.config, dict) else {}
        for key in ADDRESS_KEYS:
            value = config.get(key)
            if isinstance(value, (str, int)) and str(value).strip():
                addresses.append({"kind": key, "value": str(value)})
        return addresses


class ChannelFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Channel.Kind.choices)
    is_active = filters.BooleanFilter()

    class Meta:
        model = Channel
        fields: list[str] = []


CHANNEL_EXAMPLE = {
    "id": 1,
    "kind": "email",
    "name": "Support mailbox",
    "is_active": True,
    "default_team": {"id": 2, "name": "Billing"},
    "addresses": [{"kind": "inbound_address", "value": "support@example.com"}],
    "created_at": "2026-01-10T08:00:00Z",
}


@extend_schema_view(
    list=extend_schema(summary="List channels", examples=[example("A page of channels", [CHANNEL_EXAMPLE], list=True)]),
    retrieve=extend_schema(summary="One channel", examples=[example("A channel", CHANNEL_EXAMPLE)]),
)
class ChannelViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "channels"
    serializer_class = ChannelSerializer
    filterset_class = ChannelFilter
    ordering_fields = ("name", "created_at")
    ordering = ("name",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = Channel.objects.none()

    def get_queryset(self) -> QuerySet[Channel]:
        if getattr(self, "swagger_fake_view", False):
            return Channel.objects.none()
        return selectors.channels_for_api()
