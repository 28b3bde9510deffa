"""The admin page's form for a new API key (validation only; keys.api_key_create writes)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from tickets.api.scopes import ALL_SCOPES


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Which integration uses it, e.g. “CRM sync”.")
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        label="Acts as",
        help_text="The key sees and may do what this person may (private teams stay private), narrowed by the scopes.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="write includes read.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")
