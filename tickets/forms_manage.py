"""Forms of the admin area (/manage/) and of the account pages: validation only.

The services repeat every rule that protects data (unique names, the last administrator,
time zones); these forms exist to say what is wrong next to the field, before a service
is called.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.template import Engine, TemplateSyntaxError

from channels_inbox.models import Channel
from helpdesk.ratelimit import client_ip
from tickets import login_guard
from tickets.models import AgentProfile, Team, Ticket
from tickets.services.admin import ROLE_CHOICES

User = get_user_model()


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class TeamMembersField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: AgentProfile) -> str:
        return f"{obj.name} ({obj.user.get_username()})"


# --- Teams ---------------------------------------------------------------------------


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    is_private = forms.BooleanField(
        required=False,
        label="Private",
        help_text="Only the team's members, managers and administrators see its tickets.",
    )
    members = TeamMembersField(queryset=AgentProfile.objects.none(), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, team: Team | None = None, **kwargs: Any) -> None:
        from tickets.selectors import assignable_agents

        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["members"].queryset = assignable_agents()

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if Team.objects.filter(name__iexact=name).exclude(pk=getattr(self.team, "pk", None)).exists():
            raise forms.ValidationError(f"A team named “{name}” already exists.")
        return name


# --- Agents --------------------------------------------------------------------------


class AgentForm(forms.Form):
    """Edit an agent; ``AgentCreateForm`` adds the user name and an optional password."""

    email = forms.EmailField(help_text="Password links are sent here.")
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    display_name = forms.CharField(max_length=120, required=False, help_text="Shown to customers; the full name if empty.")
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple
    )
    skills = forms.CharField(
        max_length=1000, required=False, help_text="Separated by commas, such as: billing, german, refunds."
    )
    capacity = forms.IntegerField(
        min_value=0, max_value=1000, initial=20, help_text="Most open tickets this agent should hold at once."
    )
    availability = forms.ChoiceField(choices=AgentProfile.Availability.choices)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exclude(pk=getattr(self.user, "pk", None)).exists():
            raise forms.ValidationError(f"Another user already has the address {email}.")
        return email

    def clean_skills(self) -> list[str]:
        return _comma_list(self.cleaned_data["skills"])


class AgentCreateForm(AgentForm):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Used to sign in. Letters, digits and @ . + - _ only.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to email the agent a link to choose their own (recommended).",
    )

    field_order = ("username", "email", "first_name", "last_name", "display_name", "role", "password")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"The user name “{username}” is taken.")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            candidate = User(
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class AvailabilityForm(forms.Form):
    availability = forms.ChoiceField(choices=AgentProfile.Availability.choices)


# --- Shared macros -------------------------------------------------------------------

_UNCLOSED_PLACEHOLDER = re.compile(r"\{\{(?![^{}\n]*\}\})")
_PLACEHOLDER_ENGINE = Engine(autoescape=False, libraries={}, builtins=["django.template.defaultfilters"])


class MacroForm(forms.Form):
    name = forms.CharField(max_length=120)
    body = forms.CharField(
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "Placeholders: {{ customer.first_name }}, {{ customer.name }}, {{ ticket.number }}, "
            "{{ ticket.subject }}, {{ agent.name }}, {{ company.name }}."
        ),
    )
    is_note = forms.BooleanField(required=False, label="Insert as an internal note")
    set_status = forms.ChoiceField(choices=[("", "Keep status"), *Ticket.Status.choices], required=False)
    set_priority = forms.ChoiceField(choices=[("", "Keep priority"), *Ticket.Priority.choices], required=False)
    set_team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False, empty_label="Keep team")
    add_tags = forms.CharField(max_length=1000, required=False, help_text="Separated by commas.")
    assign_to_me = forms.BooleanField(required=False, label="Assign the ticket to the agent who applies it")
    is_active = forms.BooleanField(required=False, initial=True, label="Active (offered to agents)")

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        # Django's template lexer reads an unclosed "{{" as plain text: the agent would send it as is.
        if _UNCLOSED_PLACEHOLDER.search(body):
            raise forms.ValidationError("A placeholder is not closed: write {{ customer.first_name }} with both braces.")
        try:
            _PLACEHOLDER_ENGINE.from_string(body)
        except TemplateSyntaxError as exc:
            raise forms.ValidationError(f"A placeholder is broken: {exc}. Write them as {{{{ customer.first_name }}}}.")
        return body

    def clean_add_tags(self) -> list[str]:
        return _comma_list(self.cleaned_data["add_tags"])


# --- Company -------------------------------------------------------------------------


class CompanyForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Shown to customers as {{ company.name }}.")
    website = forms.URLField(required=False, assume_scheme="https")
    support_email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=64, required=False)
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    time_zone = forms.CharField(
        max_length=64,
        help_text="An IANA name such as Europe/Berlin; business days and daily metrics use it.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if name not in zoneinfo.available_timezones():
            raise forms.ValidationError(
                f"“{name}” is not a time zone; use an IANA name such as Europe/Berlin or America/New_York."
            )
        return name


# --- Channels ------------------------------------------------------------------------


class ChannelBaseForm(forms.Form):
    name = forms.CharField(max_length=120)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    default_team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="No team",
        help_text="Every new ticket of this channel goes to this team.",
    )

    def __init__(self, *args: Any, channel: Channel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel

    def service_arguments(self) -> dict[str, Any]:
        """What channel_create/channel_update take, from the cleaned data."""
        data = self.cleaned_data
        return {"name": data["name"], "is_active": data["is_active"], "default_team": data["default_team"]}


class EmailChannelForm(ChannelBaseForm):
    """The email settings documented in channels_inbox/adapters/email/config.py, as fields.

    Keys of ``config`` this form does not know are kept as they are, so a setting added by a
    later version (or by hand) survives an edit here.
    """

    inbound_address = forms.EmailField(
        label="Inbound address", help_text="The address customers write to; each address belongs to one channel."
    )
    from_name = forms.CharField(max_length=200, required=False, label="Sender name")
    reply_to = forms.EmailField(required=False, label="Reply-To address")
    signature = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    plus_addressing = forms.BooleanField(
        required=False, help_text="Replies go to support+token@…, so threading survives mail clients that drop headers."
    )
    thread_by_subject_days = forms.IntegerField(
        min_value=0,
        max_value=365,
        initial=0,
        label="Thread by subject (days)",
        help_text="0 turns it off; otherwise the same sender and subject within this many days joins the ticket.",
    )
    auto_ack_enabled = forms.BooleanField(required=False, label="Send an acknowledgement to new tickets")
    auto_ack_subject = forms.CharField(max_length=500, required=False, label="Acknowledgement subject")
    auto_ack_body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Acknowledgement text")
    imap_host = forms.CharField(max_length=255, required=False, label="IMAP server")
    imap_port = forms.IntegerField(min_value=1, max_value=65535, required=False, label="IMAP port")
    imap_security = forms.ChoiceField(
        choices=[("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None (local servers only)")],
        required=False,
        label="IMAP security",
    )
    imap_username = forms.CharField(max_length=320, required=False, label="IMAP user name")
    imap_password = forms.CharField(
        required=False,
        strip=False,
        label="IMAP password",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_imap_password = forms.BooleanField(required=False, label="Remove the stored IMAP password")
    imap_folder = forms.CharField(max_length=255, required=False, label="IMAP folder", initial="INBOX")
    imap_archive_folder = forms.CharField(
        max_length=255, required=False, label="Archive folder", help_text="Move stored mail there; empty flags it as read."
    )
    imap_use_idle = forms.BooleanField(required=False, initial=True, label="Use IMAP IDLE")
    imap_auth = forms.ChoiceField(
        choices=[("password", "Password"), ("oauth2", "OAuth2 (Google Workspace, Microsoft 365)")],
        required=False,
        label="IMAP sign-in",
    )
    imap_oauth2_token_url = forms.CharField(
        max_length=500, required=False, label="OAuth2 token URL", help_text="e.g. https://oauth2.googleapis.com/token"
    )
    imap_oauth2_client_id = forms.CharField(max_length=500, required=False, label="OAuth2 client id")
    imap_oauth2_scope = forms.CharField(max_length=500, required=False, label="OAuth2 scope (optional)")
    imap_oauth2_client_secret = forms.CharField(
        required=False, strip=False, label="OAuth2 client secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    imap_oauth2_refresh_token = forms.CharField(
        required=False, strip=False, label="OAuth2 refresh token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    IMAP_FIELDS = ("imap_host", "imap_port", "imap_username", "imap_archive_folder")
    SECRET_FIELDS = ("imap_password", "imap_oauth2_client_secret", "imap_oauth2_refresh_token")

    @classmethod
    def initial_for(cls, channel: Channel) -> dict[str, Any]:
        config = channel.config or {}
        ack = config.get("auto_ack") or {}
        imap = config.get("imap") if isinstance(config.get("imap"), dict) else {}
        oauth2 = imap.get("oauth2") if isinstance(imap.get("oauth2"), dict) else {}
        return {
            "name": channel.name,
            "is_active": channel.is_active,
            "default_team": channel.default_team_id,
            "inbound_address": channel.inbound_address,
            "from_name": config.get("from_name", ""),
            "reply_to": config.get("reply_to", ""),
            "signature": config.get("signature", ""),
            "plus_addressing": bool(config.get("plus_addressing", False)),
            "thread_by_subject_days": config.get("thread_by_subject_days", 0),
            "auto_ack_enabled": bool(ack.get("enabled", False)),
            "auto_ack_subject": ack.get("subject", ""),
            "auto_ack_body": ack.get("body", ""),
            "imap_host": imap.get("host", ""),
            "imap_port": imap.get("port"),
            "imap_security": imap.get("security", "ssl"),
            "imap_username": imap.get("username", ""),
            "imap_folder": imap.get("folder", "INBOX"),
            "imap_archive_folder": imap.get("archive_folder", ""),
            "imap_use_idle": bool(imap.get("use_idle", True)),
            "imap_auth": imap.get("auth", "password"),
            "imap_oauth2_token_url": oauth2.get("token_url", ""),
            "imap_oauth2_client_id": oauth2.get("client_id", ""),
            "imap_oauth2_scope": oauth2.get("scope", ""),
        }

    def clean_inbound_address(self) -> str:
        address = self.cleaned_data["inbound_address"].strip().lower()
        clash = Channel.objects.filter(inbound_address=address).exclude(pk=getattr(self.channel, "pk", None))
        if clash.exists():
            raise forms.ValidationError(f"{address} already belongs to another channel.")
        return address

    def clean(self) -> dict[str, Any]:
        """OAuth2 sign-in needs its endpoint, client id and both secrets (given now or stored)."""
        data = super().clean()
        if data.get("imap_auth") == "oauth2" and data.get("imap_host"):
            stored = (self.channel.secrets if self.channel else None) or {}
            for name, what in (("imap_oauth2_token_url", "the token URL"), ("imap_oauth2_client_id", "the client id")):
                if not (data.get(name) or "").strip():
                    self.add_error(name, f"OAuth2 sign-in needs {what}.")
            url = (data.get("imap_oauth2_token_url") or "").strip()
            if url and not url.startswith(("https://", "http://")):
                self.add_error("imap_oauth2_token_url", "Give the provider's token endpoint, an https:// URL.")
            for name, what in (("imap_oauth2_client_secret", "the client secret"), ("imap_oauth2_refresh_token", "a refresh token")):
                if not data.get(name) and not stored.get(name):
                    self.add_error(name, f"OAuth2 sign-in needs {what}.")
        return data

    def build_config(self) -> dict[str, Any]:
        data = self.cleaned_data
        config = dict((self.channel.config if self.channel else None) or {})
        config.update(
            from_name=data["from_name"],
            reply_to=data["reply_to"],
            signature=data["signature"],
            plus_addressing=data["plus_addressing"],
            thread_by_subject_days=data["thread_by_subject_days"] or 0,
        )
        ack = dict(config.get("auto_ack") or {})
        ack.update(enabled=data["auto_ack_enabled"], subject=data["auto_ack_subject"], body=data["auto_ack_body"])
        config["auto_ack"] = {k: v for k, v in ack.items() if v not in ("", None)}
        if any(data.get(name) for name in self.IMAP_FIELDS) or data.get("imap_password"):
            imap = dict(config.get("imap") or {}) if isinstance(config.get("imap"), dict) else {}
            imap.update(
                host=data["imap_host"].strip(),
                security=data["imap_security"] or "ssl",
                username=data["imap_username"].strip(),
                folder=data["imap_folder"].strip() or "INBOX",
                archive_folder=data["imap_archive_folder"].strip(),
                use_idle=data["imap_use_idle"],
            )
            if data["imap_port"]:
                imap["port"] = data["imap_port"]
            else:
                imap.pop("port", None)
            if data.get("imap_auth") == "oauth2":
                imap["auth"] = "oauth2"
                oauth2 = {
                    "token_url": data["imap_oauth2_token_url"].strip(),
                    "client_id": data["imap_oauth2_client_id"].strip(),
                    "scope": data["imap_oauth2_scope"].strip(),
                }
                imap["oauth2"] = {k: v for k, v in oauth2.items() if v}
            else:
                imap.pop("auth", None)
                imap.pop("oauth2", None)
            # An empty host is kept so the adapter's own check says what is missing.
            config["imap"] = imap
        else:
            config.pop("imap", None)
        return config

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            **super().service_arguments(),
            "inbound_address": data["inbound_address"],
            "config": self.build_config(),
        }

    def secret_changes(self) -> tuple[dict[str, str], list[str]]:
        """(secrets to set, secrets to remove): a blank secret field keeps the stored one."""
        data = self.cleaned_data
        changes = {name: data[name] for name in self.SECRET_FIELDS if data.get(name)}
        if "imap_password" in changes:
            return changes, []
        return changes, (["imap_password"] if data.get("clear_imap_password") else [])


class OtherChannelForm(ChannelBaseForm):
    """Channels other than email: settings as a JSON object checked by the kind's adapter;
    secrets written one by one and never shown back."""

    config = forms.CharField(
        required=False,
        label="Settings (JSON)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="A JSON object of this kind's settings (no secrets here).",
    )
    new_secrets = forms.CharField(
        required=False,
        label="Set secrets (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text=(
            'A JSON object such as {"bot_token": "…"}. Only the names given change; '
            'leave empty to keep the stored secrets. "env:NAME" reads the value from the environment.'
        ),
    )
    clear_secrets = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Remove stored secrets"
    )

    def __init__(self, *args: Any, channel: Channel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, channel=channel, **kwargs)
        stored = sorted((channel.secrets or {}).keys()) if channel is not None else []
        self.fields["clear_secrets"].choices = [(k, k) for k in stored]
        if not stored:
            del self.fields["clear_secrets"]

    @classmethod
    def initial_for(cls, channel: Channel) -> dict[str, Any]:
        return {
            "name": channel.name,
            "is_active": channel.is_active,
            "default_team": channel.default_team_id,
            "config": json.dumps(channel.config or {}, indent=2, sort_keys=True),
        }

    @staticmethod
    def _json_object(text: str, what: str) -> dict[str, Any]:
        if not text.strip():
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"{what} are not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(value, dict):
            raise forms.ValidationError(f"{what} must be a JSON object, such as {{\"name\": \"value\"}}.")
        return value

    def clean_config(self) -> dict[str, Any]:
        return self._json_object(self.cleaned_data["config"], "The settings")

    def clean_new_secrets(self) -> dict[str, str]:
        value = self._json_object(self.cleaned_data["new_secrets"], "The secrets")
        if any(not isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Each secret must be a string.")
        return value

    def service_arguments(self) -> dict[str, Any]:
        return {**super().service_arguments(), "config": self.cleaned_data["config"]}

    def secret_changes(self) -> tuple[dict[str, str], list[str]]:
        return self.cleaned_data["new_secrets"], list(self.cleaned_data.get("clear_secrets") or [])


def channel_form_class(kind: str) -> type[ChannelBaseForm]:
    return EmailChannelForm if kind == Channel.Kind.EMAIL else OtherChannelForm


# --- Accounts ------------------------------------------------------------------------


class GuardedAuthenticationForm(AuthenticationForm):
    """Django's sign-in form behind the brute-force guard (tickets/login_guard.py)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
        "locked": "Too many failed sign-ins from here. Wait a few minutes, or reset your password.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else ""
        if login_guard.locked(username=username, ip=ip):
            raise ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except ValidationError:
            login_guard.failed(username=username, ip=ip)
            raise
        login_guard.succeeded(username=username, ip=ip)
        return cleaned


class AccountPasswordResetForm(PasswordResetForm):
    """Django's reset form, also for accounts that never chose a password (invited agents
    whose first link expired): every active user with that address gets a link.

    An unknown address is answered exactly like a known one; nothing tells whether an
    account exists.
    """

    def get_users(self, email: str):
        email_field = User.get_email_field_name()
        return (
            user
            for user in User._default_manager.filter(**{f"{email_field}__iexact": email, "is_active": True})
            if getattr(user, email_field, "") and getattr(user, email_field).lower() == email.lower()
        )
