"""Forms of the surveys' manage pages (the public page parses its two fields by hand)."""

from __future__ import annotations

from django import forms

from metrics.surveys.models import NpsCampaign, SurveySettings
from tickets.models import Customer, Organization


class SurveySettingsForm(forms.ModelForm):
    class Meta:
        model = SurveySettings
        fields = [
            "csat_enabled", "ces_enabled", "quiet_period_hours", "link_expiry_days",
            "csat_subject", "csat_intro", "csat_question", "ces_question", "nps_subject", "nps_question", "thanks_text",
        ]
        widgets = {"csat_intro": forms.Textarea(attrs={"rows": 4})}

    def clean_link_expiry_days(self) -> int:
        days = self.cleaned_data["link_expiry_days"]
        if not 1 <= days <= 365:
            raise forms.ValidationError("Choose between 1 and 365 days.")
        return days


class NpsCampaignForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="For you: customers do not see it.")
    audience = forms.ChoiceField(choices=NpsCampaign.Audience.choices, widget=forms.RadioSelect)
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name"), required=False, help_text="When sending to one organization."
    )
    tier = forms.ChoiceField(
        choices=[("", "---------"), *Customer.Tier.choices], required=False, help_text="When sending to one tier."
    )

    def clean(self) -> dict:
        data = super().clean()
        audience = data.get("audience")
        if audience == NpsCampaign.Audience.ORGANIZATION and not data.get("organization"):
            self.add_error("organization", "Choose the organization.")
        if audience == NpsCampaign.Audience.TIER and not data.get("tier"):
            self.add_error("tier", "Choose the tier.")
        return data
