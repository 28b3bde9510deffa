"""Admin pages for channels and the durable inbox (with replay of quarantined messages)."""

from django import forms
from django.contrib import admin, messages

from channels_inbox.adapters.email.config import validate as validate_email_config
from channels_inbox.models import Channel, InboundMessage


class ChannelForm(forms.ModelForm):
    """Per-kind settings are checked when saved, not discovered when a poll fails."""

    class Meta:
        model = Channel
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Channel.Kind.EMAIL:
            problems = validate_email_config(cleaned.get("config") or {})
            if problems:
                self.add_error("config", "; ".join(problems))
            if not cleaned.get("inbound_address"):
                self.add_error("inbound_address", "An email channel needs the address customers write to.")
        return cleaned
from channels_inbox.services import inbound_replay


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "inbound_address", "default_team", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "inbound_address", "public_key"]

    def get_exclude(self, request, obj=None):
        # Channel secrets (API tokens, signing keys) are for administrators' eyes only.
        if request.user.has_perm("channels_inbox.change_channel"):
            return []
        return ["secrets"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "channel", "status", "outcome", "source", "attempts", "received_at"]
    list_filter = ["status", "channel__kind"]
    search_fields = ["external_id", "source", "error"]
    readonly_fields = ["channel", "raw", "payload", "external_id", "source", "error", "attempts", "received_at", "processed_at", "outcome", "ticket"]
    actions = ["replay"]

    @admin.action(description="Replay selected quarantined messages", permissions=["change"])
    def replay(self, request, queryset):
        results = inbound_replay(inbound_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Replayed {len(results)} message(s).", messages.SUCCESS)
