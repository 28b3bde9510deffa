"""Forms of the agent pages: validation only, no logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import validate_email
from django.template.defaultfilters import filesizeformat

from tickets.models import Ticket

# More files than this in one reply is a mistake, not a message.
MAX_REPLY_FILES = 10


def parse_addresses(value: str) -> list[str]:
    """Addresses separated by commas or semicolons, each validated; the error names the bad one."""
    addresses = [a.strip() for a in value.replace(";", ",").split(",") if a.strip()]
    for address in addresses:
        try:
            validate_email(address)
        except forms.ValidationError:
            raise forms.ValidationError(f"{address} is not an email address") from None
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class UploadedAttachment:
    """An agent's uploaded file in the shape message services store (``IncomingFile``)."""

    filename: str
    content_type: str
    size: int
    data: bytes
    content_id: str = ""
    is_inline: bool = False


def clean_uploaded_files(files: list[Any]) -> list[UploadedAttachment]:
    """An agent's uploads checked against the limits (how many, how large) and read; the
    reply box and the REST API share them. Raises forms.ValidationError naming the file."""
    if len(files) > MAX_REPLY_FILES:
        raise forms.ValidationError(f"Attach at most {MAX_REPLY_FILES} files to one message.")
    limit = settings.PARLEY_MAX_ATTACHMENT_BYTES
    too_big = [f.name for f in files if f.size > limit]
    if too_big:
        raise forms.ValidationError(
            f"{', '.join(too_big)}: larger than {filesizeformat(limit)}, the most one attachment may be."
        )
    return [
        UploadedAttachment(
            filename=(f.name or "attachment")[:255],
            content_type=(getattr(f, "content_type", "") or "application/octet-stream")[:255],
            size=f.size,
            data=f.read(),
        )
        for f in files
    ]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one ``<input type=file multiple>``; always a list, maybe empty."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=100_000, required=False)
    to = forms.CharField(
        required=False, max_length=2000, label="To", help_text="Empty: the customer's address"
    )
    cc = forms.CharField(required=False, max_length=2000, label="CC", help_text="Addresses separated by commas")
    is_note = forms.BooleanField(required=False, label="Internal note")
    status = forms.ChoiceField(choices=[("", "Keep status"), *Ticket.Status.choices], required=False)
    macro = forms.IntegerField(required=False, widget=forms.HiddenInput)
    attachments = MultipleFileField(label="Attach files")

    def note_selected(self) -> bool:
        """Whether the box is set to "internal note" (as submitted, or as the macro suggests)."""
        return bool(self.fields["is_note"].to_python(self["is_note"].value()))

    def clean_to(self) -> list[str]:
        return parse_addresses(self.cleaned_data["to"])

    def clean_cc(self) -> list[str]:
        return parse_addresses(self.cleaned_data["cc"])

    def clean_attachments(self) -> list[UploadedAttachment]:
        return clean_uploaded_files(self.cleaned_data["attachments"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        nothing_to_send = not (cleaned.get("text") or "").strip() and not cleaned.get("attachments")
        if nothing_to_send and not cleaned.get("macro") and "text" not in self.errors:
            self.add_error("text", forms.ValidationError(self.fields["text"].error_messages["required"], code="required"))
        return cleaned


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Ticket.Priority.choices)


class AssigneeForm(forms.Form):
    """``choices`` are the agents who may hold this ticket (see ticket_assignee_choices)."""

    assignee = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Assignee")

    def __init__(self, *args: Any, agents: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agents = {profile.user_id: profile for profile in agents}
        self.fields["assignee"].choices = [("", "Unassigned"), *((p.user_id, p.name) for p in agents)]

    def clean_assignee(self) -> Any:
        user_id = self.cleaned_data["assignee"]
        return self.agents[user_id].user if user_id is not None else None


class TeamForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="No team")

    def __init__(self, *args: Any, teams: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class TagsForm(forms.Form):
    tags = forms.CharField(required=False, max_length=2000, help_text="Separated by commas")

    def clean_tags(self) -> list[str]:
        names = [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]
        too_long = [n for n in names if len(n) > 64]
        if too_long:
            raise forms.ValidationError(f"A tag has at most 64 characters: {too_long[0][:70]}")
        return names


class MergeForm(forms.Form):
    target = forms.IntegerField(min_value=1, label="Merge into ticket number")


class TemplateMessageForm(forms.Form):
    """An approved template message (WhatsApp outside its 24-hour window): one of the
    channel's configured templates, or any approved name typed in, with its parameters one
    per line."""

    template = forms.CharField(required=False, max_length=540)
    name = forms.CharField(required=False, max_length=512)
    language = forms.CharField(required=False, max_length=20)
    parameters = forms.CharField(required=False, widget=forms.Textarea, max_length=4000)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        chosen = (data.get("template") or "").strip()
        if chosen:
            name, _, language = chosen.partition("|")
        else:
            name, language = (data.get("name") or "").strip(), (data.get("language") or "").strip()
        if not name:
            raise forms.ValidationError("Choose a template or type an approved template's name.")
        data["name"], data["language"] = name, language or "en_US"
        data["parameters"] = [line.strip() for line in (data.get("parameters") or "").splitlines() if line.strip()]
        return data
