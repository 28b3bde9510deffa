"""Forms of the webhook pages: they type the input; the services validate it (URL, events)."""

from __future__ import annotations

from django import forms

from tickets.webhooks.events import EVENTS
from tickets.webhooks.models import WebhookDelivery


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="For you: “CRM sync”, “Data warehouse”.")
    url = forms.URLField(
        max_length=2048,
        label="URL",
        assume_scheme="https",
        help_text="Where Parley POSTs each event. It must answer 2xx within a few seconds.",
    )
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {text}") for name, text in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text="What this endpoint receives.",
    )
    allow_private_network = forms.BooleanField(
        required=False,
        label="Allow a private network address",
        help_text="Only for a receiver inside your own network (or on this machine). Otherwise Parley sends only to public addresses.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active", help_text="Untick to pause sending.")

    def __init__(self, *args, with_active: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not with_active:
            del self.fields["is_active"]


class DeliveryFilterForm(forms.Form):
    """The delivery log's filters (GET); invalid values are ignored, never an error page."""

    endpoint = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    event = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *WebhookDelivery.Status.choices])
    delivery = forms.CharField(required=False, max_length=64, label="Delivery id")
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, endpoints: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [("", "Any endpoint"), *endpoints]
        self.fields["event"].choices = [("", "Any event"), *((n, n) for n in [*EVENTS, "webhook.test"])]
