"""Forms of the CRM pages: the customer record, its custom attributes, organizations, merges.

Validation only. What a valid form means for the data is up to the services.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from django import forms

from tickets.models import Customer, Organization
from tickets.selectors.customers import attribute_text

ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9 _.\-]{0,63}$")
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUE = 1000
# A BCP 47 language tag, loosely: "en", "pt-BR", "zh-Hant-TW".
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    organization = forms.CharField(
        max_length=200,
        required=False,
        help_text="The exact name of an existing organization; leave empty for none.",
        widget=forms.TextInput(attrs={"list": "organization-names", "autocomplete": "off"}),
    )
    tier = forms.ChoiceField(choices=Customer.Tier.choices)
    language = forms.CharField(max_length=16, required=False, help_text="A language code such as en or pt-BR.")
    time_zone = forms.CharField(
        max_length=64,
        required=False,
        help_text="Such as Europe/Paris.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=20_000, required=False)
    # The record's updated_at when the form was shown: a save in between is detected.
    loaded_at = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_organization(self) -> Organization | None:
        name = self.cleaned_data["organization"].strip()
        if not name:
            return None
        matches = list(Organization.objects.filter(name__iexact=name)[:2])
        if not matches:
            raise forms.ValidationError(f"There is no organization named “{name}”.")
        if len(matches) > 1:
            raise forms.ValidationError(f"Several organizations are named “{name}”; ask a manager to rename one.")
        return matches[0]

    def clean_language(self) -> str:
        value = self.cleaned_data["language"].strip()
        if value and not LANGUAGE_TAG.match(value):
            raise forms.ValidationError("Use a language code such as en, fr or pt-BR.")
        return value

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"].strip()
        if not value:
            return ""
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"“{value}” is not a time zone; use a name such as Europe/Paris.") from None
        return value

    def clean_loaded_at(self) -> dt.datetime | None:
        value = self.cleaned_data["loaded_at"].strip()
        if not value:
            return None
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None


class AttributeForm(forms.Form):
    key = forms.CharField(max_length=64, required=False, label="Attribute")
    value = forms.CharField(max_length=MAX_ATTRIBUTE_VALUE, required=False, label="Value")

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if key and not ATTRIBUTE_KEY.match(key):
            raise forms.ValidationError(
                "Start with a letter; then letters, digits, spaces, dots, dashes or underscores (64 at most)."
            )
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("value", "").strip() and not data.get("key") and not self.errors:
            raise forms.ValidationError("A value needs an attribute name.")
        return data


class BaseAttributeFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        count = 0
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            key = form.cleaned_data.get("key", "")
            if not key:
                continue
            if key.lower() in seen:
                raise forms.ValidationError(f"The attribute “{key}” appears twice.")
            seen.add(key.lower())
            count += 1
        if count > MAX_ATTRIBUTES:
            raise forms.ValidationError(f"At most {MAX_ATTRIBUTES} attributes per customer.")

    def attributes(self, original: dict[str, Any]) -> dict[str, Any]:
        """The edited attributes; a value the agent left as it was keeps its stored type
        (a number stays a number), anything typed becomes text."""
        result: dict[str, Any] = {}
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            key = form.cleaned_data.get("key", "")
            if not key:
                continue
            value = form.cleaned_data.get("value", "")
            if key in original and attribute_text(original[key]) == value:
                result[key] = original[key]
            else:
                result[key] = value
        return result


AttributeFormSet = forms.formset_factory(
    AttributeForm, formset=BaseAttributeFormSet, extra=3, can_delete=True, max_num=MAX_ATTRIBUTES, absolute_max=200
)


def attribute_initial(attributes: Any) -> list[dict[str, str]]:
    if not isinstance(attributes, dict):
        return []
    return [{"key": str(k), "value": attribute_text(v)} for k, v in sorted(attributes.items(), key=lambda kv: str(kv[0]).lower())]


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000, required=False)
    domains = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        help_text="One email domain per line (acme.com). New customers writing from them join this organization.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("An organization needs a name.")
        return name

    def clean_domains(self) -> list[str]:
        raw = self.cleaned_data["domains"].replace(",", "\n").split()
        domains: list[str] = []
        for item in raw:
            domain = item.strip().lower().removeprefix("@").rstrip(".")
            if not DOMAIN.match(domain):
                raise forms.ValidationError(f"“{item}” is not an email domain such as acme.com.")
            if domain not in domains:
                domains.append(domain)
        if len(domains) > 100:
            raise forms.ValidationError("At most 100 domains per organization.")
        return domains


class MergeForm(forms.Form):
    """The confirmed pair: ``source`` disappears into ``target``."""

    source = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    target = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("source") and data.get("source") == data.get("target"):
            raise forms.ValidationError("A customer cannot be merged into itself.")
        return data


class IdentityMoveForm(forms.Form):
    target = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
