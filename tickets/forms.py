"""Forms of the agent pages: validation only, no logic."""

from django import forms
from django.core.validators import validate_email

from tickets.models import Ticket


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=100_000)
    cc = forms.CharField(required=False, max_length=2000, label="CC", help_text="Addresses separated by commas")
    is_note = forms.BooleanField(required=False, label="Internal note")
    status = forms.ChoiceField(choices=[("", "Keep status"), *Ticket.Status.choices], required=False)

    def clean_cc(self) -> list[str]:
        addresses = [a.strip() for a in self.cleaned_data["cc"].replace(";", ",").split(",") if a.strip()]
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError(f"{address} is not an email address") from None
        return addresses


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)
