"""Forms of the agent pages: validation only, no logic."""

from django import forms

from tickets.models import Ticket


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=100_000)
    is_note = forms.BooleanField(required=False, label="Internal note")
    status = forms.ChoiceField(choices=[("", "Keep status"), *Ticket.Status.choices], required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)
