"""Admin pages for channels and the durable inbox (with replay of quarantined messages)."""

from django import forms
from django.contrib import admin, messages

from channels_inbox.adapters import ADAPTERS
from channels_inbox.adapters.email.config import validate as validate_email_config
from channels_inbox.exceptions import ChannelError
from channels_inbox.social.secrets import mask
from channels_inbox.models import Channel, InboundMessage


class ChannelForm(forms.ModelForm):
    """Per-kind settings are checked when saved, not discovered when a poll fails.

    Secrets are write-only: ``secrets_update`` takes a JSON object of the secrets to set
    (an empty value removes one; ``"env:NAME"`` reads it from the environment at use) and
    the stored values are never put back into the page, for anyone.
    """

    secrets_update = forms.JSONField(
        required=False,
        label="Set secrets",
        help_text=(
            'A JSON object of secrets to set, e.g. {"bot_token": "...", "webhook_secret": "..."}; '
            '"" removes one; "env:NAME" reads it from the environment. Stored encrypted; '
            "current values are never shown. Leave empty to keep them."
        ),
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
    )

    class Meta:
        model = Channel
        exclude = ["secrets"]

    def clean_secrets_update(self):
        value = self.cleaned_data.get("secrets_update")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, (str, type(None))) for v in value.values()):
            raise forms.ValidationError("Secrets must be a JSON object of names to text values.")
        return value

    def merged_secrets(self) -> dict:
        secrets = dict(self.instance.secrets or {}) if self.instance.pk else {}
        for name, value in (self.cleaned_data.get("secrets_update") or {}).items():
            if value:
                secrets[name] = value
            else:
                secrets.pop(name, None)
        return secrets

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == Channel.Kind.EMAIL:
            problems = validate_email_config(cleaned.get("config") or {})
            if problems:
                self.add_error("config", "; ".join(problems))
            if not cleaned.get("inbound_address"):
                self.add_error("inbound_address", "An email channel needs the address customers write to.")
        elif kind in ADAPTERS and hasattr(ADAPTERS[kind], "validate") and "secrets_update" not in self.errors:
            problems = ADAPTERS[kind].validate(cleaned.get("config") or {}, self.merged_secrets())
            if problems:
                self.add_error(None, "; ".join(problems))
        return cleaned

    def save(self, commit=True):
        self.instance.secrets = self.merged_secrets()
        return super().save(commit=commit)


from channels_inbox.services import channel_test_connection, inbound_replay


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "inbound_address", "default_team", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "inbound_address", "public_key"]

    readonly_fields = ["stored_secrets", "webhook_path"]
    actions = ["test_connection"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # Only those who may change a channel see that secrets exist or may set them.
        if not request.user.has_perm("channels_inbox.change_channel"):
            fields = [f for f in fields if f not in ("stored_secrets", "secrets_update")]
        return fields

    @admin.display(description="Stored secrets")
    def stored_secrets(self, obj):
        if obj is None or not obj.pk:
            return "(none yet)"
        secrets = obj.secrets or {}
        return "; ".join(f"{name}: {mask(value)}" for name, value in sorted(secrets.items())) or "(none)"

    @admin.display(description="Webhook path")
    def webhook_path(self, obj):
        if obj is None or not obj.pk or obj.kind == Channel.Kind.EMAIL:
            return "—"
        return f"/hooks/{obj.kind}/{obj.public_key}/"

    @admin.action(description="Test connection (ask the platform who we are)", permissions=["change"])
    def test_connection(self, request, queryset):
        for channel in queryset:
            try:
                line = channel_test_connection(channel=channel)
            except ChannelError as exc:
                self.message_user(request, f"{channel.name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{channel.name}: {line}", messages.SUCCESS)


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
