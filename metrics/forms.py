"""The dashboards' filter form: bad input is reported and the defaults are used instead."""

from __future__ import annotations

from django import forms

from metrics.selectors import GRAINS, Filters, default_filters
from tickets.widgets import FastSelect

MAX_DAYS = 2 * 366


class DashboardFilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    # Selects rendered in Python (tickets/widgets.py): Django's templates per <option> were
    # a sixth of the page's time.
    grain = forms.ChoiceField(choices=[(g, g.title()) for g in GRAINS], required=False, widget=FastSelect)
    team = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, widget=FastSelect)
    agent = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, widget=FastSelect)
    channel = forms.ChoiceField(required=False, widget=FastSelect)
    priority = forms.ChoiceField(required=False, widget=FastSelect)
    tier = forms.ChoiceField(required=False, widget=FastSelect)

    def __init__(self, *args, **kwargs) -> None:
        from channels_inbox.models import Channel
        from django.contrib.auth import get_user_model
        from tickets.models import Customer, Team, Ticket

        super().__init__(*args, **kwargs)
        every = [("", "All")]
        self.fields["team"].choices = every + [(0, "No team")] + list(Team.objects.order_by("name").values_list("pk", "name"))
        staff = get_user_model().objects.filter(is_staff=True, agent__isnull=False).select_related("agent").order_by("username")
        self.fields["agent"].choices = every + [(0, "Unassigned")] + [(u.pk, u.agent.name) for u in staff]
        self.fields["channel"].choices = every + list(Channel.Kind.choices)
        self.fields["priority"].choices = every + list(Ticket.Priority.choices)
        self.fields["tier"].choices = every + list(Customer.Tier.choices)

    def clean(self) -> dict:
        data = super().clean()
        defaults = default_filters()
        start, end = data.get("start") or defaults.start, data.get("end") or defaults.end
        if start > end:
            raise forms.ValidationError("The start date must not be after the end date.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days; use the month grain for long trends.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> Filters:
        """The chosen filters, or the defaults when the form is invalid (errors are shown)."""
        if not self.is_valid():
            return default_filters()
        d = self.cleaned_data
        defaults = default_filters()
        return Filters(
            today=defaults.today,
            tz_name=defaults.tz_name,
            start=d["start"],
            end=d["end"],
            grain=d.get("grain") or "day",
            team_id=d.get("team"),
            agent_id=d.get("agent"),
            channel_kind=d.get("channel") or "",
            priority=d.get("priority") or "",
            customer_tier=d.get("tier") or "",
        )
