"""Admin pages for channels and the durable inbox (with replay of quarantined messages)."""

from django.contrib import admin, messages

from channels_inbox.models import Channel, InboundMessage
from channels_inbox.services import inbound_replay


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "inbound_address", "default_team", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "inbound_address", "public_key"]
    # Secrets are write-only in spirit: never listed, only edited on the form.
    exclude = []


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "channel", "status", "outcome", "source", "attempts", "received_at"]
    list_filter = ["status", "channel__kind"]
    search_fields = ["external_id", "source", "error"]
    readonly_fields = ["channel", "raw", "payload", "external_id", "source", "error", "attempts", "received_at", "processed_at", "outcome", "ticket"]
    actions = ["replay"]

    @admin.action(description="Replay selected quarantined messages")
    def replay(self, request, queryset):
        results = inbound_replay(inbound_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Replayed {len(results)} message(s).", messages.SUCCESS)
