"""Forms of the inbox: the filter form (query string and saved views alike), saved views, bulk actions.

Validation only: one form decides what a filter may be, whether it comes from the query
string or from a saved view's JSON, so a saved view can never hold what the URL would refuse.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.http import QueryDict

from tickets.models import Ticket
from tickets.widgets import FastCheckboxSelectMultiple, FastSelect, FastSelectMultiple
from tickets.selectors.inbox import (
    BUILTIN_VIEWS,
    SORT_CHOICES,
    InboxChoices,
    inbox_filter_choices,
)
from tickets.selectors.search import SEARCH_MAX_LENGTH
from tickets.services.bulk import ACTIONS, ADD_TAG, ASSIGN, MERGE, REMOVE_TAG, STATUS

SENTIMENT_CHOICES = [
    ("", "Any sentiment"),
    ("negative", "Negative"),
    ("neutral", "Neutral"),
    ("positive", "Positive"),
]

# The fields a saved view stores (everything but the view tab and the cursor).
FILTER_FIELDS = (
    "q",
    "status",
    "priority",
    "channel",
    "team",
    "assignee",
    "tag",
    "customer",
    "organization",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
    "sentiment",
)


def agent_choices() -> list[tuple[str, str]]:
    """Active staff as (id, name) choices: an assignee list for forms used outside the inbox
    page (which reads them with the other lists, ``inbox_filter_choices``)."""
    users = (
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .order_by("first_name", "last_name", "username")
    )
    return [(str(u.pk), u.get_full_name() or u.get_username()) for u in users]


def _assignee_bulk_choices() -> list[tuple[str, str]]:
    return [("me", "Me"), ("none", "Nobody (unassign)"), *agent_choices()]


class CommaListField(forms.CharField):
    """``billing, vip`` -> ["billing", "vip"] (lower-case, de-duplicated)."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        names = [n.strip().lower() for n in text.split(",") if n.strip()]
        for name in names:
            if len(name) > 64:
                raise forms.ValidationError("A tag name has at most 64 characters.")
        return list(dict.fromkeys(names))


class InboxFilterForm(forms.Form):
    view = forms.ChoiceField(
        choices=[*BUILTIN_VIEWS, ("all", "All tickets")], required=False
    )
    q = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH, label="Search")
    # Fast* widgets: same markup, rendered without a template per option (tickets/widgets.py).
    status = forms.MultipleChoiceField(
        choices=Ticket.Status.choices,
        required=False,
        widget=FastCheckboxSelectMultiple,
    )
    priority = forms.MultipleChoiceField(
        choices=Ticket.Priority.choices,
        required=False,
        widget=FastCheckboxSelectMultiple,
    )
    # Choices set per form from ``inbox_filter_choices`` (one query for all three lists);
    # cleaned to lists of ids.
    channel = forms.TypedMultipleChoiceField(coerce=int, required=False, widget=FastSelectMultiple)
    team = forms.TypedMultipleChoiceField(coerce=int, required=False, widget=FastSelectMultiple)
    assignee = forms.ChoiceField(required=False, widget=FastSelect)
    tag = CommaListField(
        required=False,
        max_length=500,
        help_text="Any of these tags, separated by commas",
    )
    customer = forms.IntegerField(required=False, min_value=1, label="Customer id")
    organization = forms.IntegerField(
        required=False, min_value=1, label="Organization id"
    )
    created_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    updated_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    updated_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sentiment = forms.ChoiceField(choices=SENTIMENT_CHOICES, required=False, widget=FastSelect)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def __init__(
        self,
        *args: Any,
        user: Any,
        choices: InboxChoices | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if choices is None:
            choices = inbox_filter_choices(user=user)
        self.fields["channel"].choices = choices.channels
        # Teams offered: public ones and the private ones this user may see.
        self.fields["team"].choices = choices.teams
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Nobody"),
            *choices.agents,
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, label in (("created", "Created"), ("updated", "Updated")):
            start, end = data.get(f"{name}_from"), data.get(f"{name}_to")
            if start and end and start > end:
                self.add_error(
                    f"{name}_to", f"{label} to must not be before {label.lower()} from."
                )
        return data

    @property
    def error_summary(self) -> str:
        parts = []
        for name, errors in self.errors.items():
            field = self.fields.get(name)
            label = (
                (field.label or name.replace("_", " ").capitalize())
                if field is not None
                else ""
            )
            parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return " ".join(parts)

    def _values(self) -> dict[str, Any]:
        """The filled-in filters; chosen channels and teams as lists of ids."""
        out: dict[str, Any] = {}
        for name in FILTER_FIELDS:
            value = self.cleaned_data.get(name)
            if value is None or value == "" or value == []:
                continue
            out[name] = value
        return out

    def filters(self) -> dict[str, Any]:
        """The cleaned filters, as ``selectors.inbox.apply_filters`` takes them."""
        return {k: v for k, v in self._values().items() if k != "q"}

    def has_filters(self) -> bool:
        return bool(self.filters()) or bool(self.cleaned_data.get("q"))

    def to_json(self) -> dict[str, Any]:
        """The cleaned filters as JSON primitives, for SavedView.filters."""
        out: dict[str, Any] = {}
        for name, value in self._values().items():
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif name == "tag":
                value = ", ".join(value)
            out[name] = value
        return out


def querydict_from_json(filters: dict[str, Any], **extra: str) -> QueryDict:
    """A SavedView's stored filters as the query string the filter form reads."""
    data = QueryDict(mutable=True)
    for name, value in (filters or {}).items():
        if name not in FILTER_FIELDS:
            continue
        for item in value if isinstance(value, list) else [value]:
            data.appendlist(name, str(item))
    for name, value in extra.items():
        if value:
            data[name] = value
    return data


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=120, strip=True)
    # The inbox's query string when "Save view" was pressed (what to save).
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)


class SavedViewRenameForm(forms.Form):
    name = forms.CharField(max_length=120, strip=True)


class SavedViewMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class TicketNumbersField(forms.Field):
    """The checked rows: repeated ``ticket`` values, each a ticket number."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return [int(v) for v in value]
        except (TypeError, ValueError):
            raise forms.ValidationError(
                "Ticket numbers must be whole numbers."
            ) from None


class BulkActionForm(forms.Form):
    ticket = TicketNumbersField(
        required=True, error_messages={"required": "Select at least one ticket."}
    )
    action = forms.ChoiceField(choices=ACTIONS)
    assignee = forms.ChoiceField(choices=_assignee_bulk_choices, required=False)
    status = forms.ChoiceField(
        choices=[("", "—"), *Ticket.Status.choices], required=False
    )
    tag = forms.CharField(required=False, max_length=64)
    merge_target = forms.IntegerField(required=False, min_value=1, label="Merge into #")
    # The inbox's query string to return to.
    next = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == ASSIGN:
            value = data.get("assignee") or ""
            if not value:
                self.add_error("assignee", "Choose whom to assign to.")
            elif value == "me":
                data["assignee_user"] = self.user
            elif value == "none":
                data["assignee_user"] = None
            else:
                data["assignee_user"] = (
                    get_user_model()
                    .objects.filter(pk=int(value), is_staff=True, is_active=True)
                    .first()
                )
                if data["assignee_user"] is None:
                    self.add_error("assignee", "No such agent.")
        elif action == STATUS and not data.get("status"):
            self.add_error("status", "Choose a status.")
        elif action in (ADD_TAG, REMOVE_TAG) and not (data.get("tag") or "").strip():
            self.add_error("tag", "Name the tag.")
        elif action == MERGE:
            target = data.get("merge_target")
            if target is None:
                self.add_error(
                    "merge_target", "Say which ticket the others merge into."
                )
            elif target not in (data.get("ticket") or []):
                self.add_error(
                    "merge_target",
                    "The ticket to merge into must be one of the selected tickets.",
                )
            elif len(data.get("ticket") or []) < 2:
                self.add_error("ticket", "Select at least two tickets to merge.")
        return data

    def __init__(
        self,
        *args: Any,
        user: Any,
        agent_choices: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if agent_choices is not None:
            self.fields["assignee"].choices = [
                ("me", "Me"),
                ("none", "Nobody (unassign)"),
                *agent_choices,
            ]

    @property
    def error_summary(self) -> str:
        return " ".join(e for errors in self.errors.values() for e in errors)
