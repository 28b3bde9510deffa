"""Routing's own tables: rules, SLA policies, business-hours calendars, team settings and
per-ticket state. Tickets' own tables are untouched: team-level settings live one-to-one
with ``tickets.Team`` and per-ticket state one-to-one with ``tickets.Ticket``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from tickets.routing.business_hours import DAYS, Calendar, CalendarError


class BusinessHours(models.Model):
    """A calendar: weekly working hours in a time zone, minus holidays."""

    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin")
    # {"mon": [["09:00", "17:00"]], "tue": [...], ...}; a day left out is closed.
    schedule = models.JSONField(
        default=dict,
        help_text='Working intervals per day, e.g. {"mon": [["09:00", "12:30"], ["13:30", "17:00"]]}; days: '
        + ", ".join(DAYS)
        + '; "24:00" ends a day; a day left out is closed.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "business hours calendar"
        verbose_name_plural = "business hours calendars"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.time_zone})"

    def clean(self) -> None:
        try:
            Calendar.build(time_zone=self.time_zone, schedule=self.schedule)
        except CalendarError as exc:
            raise ValidationError({"schedule": str(exc)}) from None


class Holiday(models.Model):
    """A closed day of a calendar (a local date in the calendar's zone)."""

    calendar = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="routing_holiday_calendar_date_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SLAPolicy(models.Model):
    """Response and resolution targets per priority and customer tier, counted in business hours."""

    name = models.CharField(max_length=120, unique=True)
    is_default = models.BooleanField(
        default=False, help_text="Applied to new tickets whose team names no policy and no rule applied one."
    )
    business_hours = models.ForeignKey(
        BusinessHours,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Used when the ticket's team has no calendar; empty means 24/7.",
    )
    pause_when_pending = models.BooleanField(default=True, help_text="The clock stops while the ticket waits on the customer.")
    warn_before_minutes = models.PositiveIntegerField(default=30, help_text="Warn the assignee this long before a breach.")
    breach_notify = models.BooleanField(default=True, help_text="On breach, notify the assignee and the team's managers.")
    breach_raise_priority = models.BooleanField(default=False, help_text="On breach, raise the priority one step.")
    breach_reassign = models.BooleanField(default=False, help_text="On breach, reassign to another available agent of the team.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="routing_one_default_sla"),
        ]

    def __str__(self) -> str:
        return self.name


class SLATarget(models.Model):
    """One row of a policy: the targets for a priority (and optionally a customer tier)."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=16, choices=[
        ("low", "Low"), ("normal", "Normal"), ("high", "High"), ("urgent", "Urgent"),
    ])
    customer_tier = models.CharField(
        max_length=16, blank=True, default="", choices=[("", "Any tier"), ("standard", "Standard"), ("vip", "VIP")]
    )
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "priority", "customer_tier"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority", "customer_tier"], name="routing_sla_target_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy}: {self.priority} {self.customer_tier or 'any tier'}"


class Rule(models.Model):
    """An ordered automation: when its conditions match on a trigger, its actions run once."""

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=100, help_text="Rules run in ascending position, then by id.")
    on_created = models.BooleanField("on ticket created", default=True)
    on_message = models.BooleanField("on message received", default=False)
    on_updated = models.BooleanField("on ticket updated", default=False)
    on_schedule = models.BooleanField(
        "on schedule (time-based)", default=False, help_text="Checked on every beat tick; fires at most once per ticket."
    )
    match = models.CharField(max_length=8, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(default=list, blank=True, help_text='[{"field": "subject", "op": "contains", "value": "refund"}]')
    actions = models.JSONField(default=list, help_text='[{"type": "set_priority", "priority": "high"}]')
    stop_processing = models.BooleanField(default=False, help_text="When this rule fires, later rules are skipped.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["is_active", "position"], name="routing_rule_active_pos")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from tickets.routing.rules import RuleDefinitionError, compile_actions, compile_conditions

        errors: dict[str, str] = {}
        try:
            compile_conditions(self.conditions)
        except RuleDefinitionError as exc:
            errors["conditions"] = str(exc)
        try:
            compile_actions(self.actions, check_references=True)
        except RuleDefinitionError as exc:
            errors["actions"] = str(exc)
        if not (self.on_created or self.on_message or self.on_updated or self.on_schedule):
            errors["on_created"] = "Choose at least one trigger."
        if errors:
            raise ValidationError(errors)


class RuleFiring(models.Model):
    """A time-based rule fired on a ticket: it never fires there again (no repeats, no loops)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    fired_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "ticket"], name="routing_rule_firing_unique")]


class TeamRouting(models.Model):
    """A team's assignment settings and its round-robin pointer (the row locked while assigning)."""

    class Strategy(models.TextChoices):
        MANUAL = "manual", "Manual (agents pick from the queue)"
        ROUND_ROBIN = "round_robin", "Round robin"
        LEAST_LOADED = "least_loaded", "Least loaded"
        SKILLS = "skills", "Skills-based (then least loaded)"

    team = models.OneToOneField("tickets.Team", on_delete=models.CASCADE, primary_key=True, related_name="routing")
    strategy = models.CharField(max_length=16, choices=Strategy.choices, default=Strategy.MANUAL)
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Empty means 24/7."
    )
    sla_policy = models.ForeignKey(
        SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Applied to the team's new tickets."
    )
    vip_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="VIP customers' tickets go to available agents of this group first.",
    )
    hand_back_when_unavailable = models.BooleanField(
        default=False, help_text="When an agent goes away or offline, their new and open tickets return to the queue."
    )
    # The user id of the agent who had the last round-robin turn.
    last_assigned_user_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "team routing settings"
        verbose_name_plural = "team routing settings"

    def __str__(self) -> str:
        return f"Routing of {self.team}"


class TicketRouting(models.Model):
    """Routing's state of one ticket: its SLA policy, due times, pause and warnings, required skills."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="routing")
    sla_policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # Paused while pending on the customer: when the pause began, and the business
    # seconds of earlier pauses (they push every due time back).
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    # Metric names already warned about / breached for their current due time.
    warned = models.JSONField(default=list, blank=True)
    breached = models.JSONField(default=list, blank=True)
    required_skills = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["first_response_due_at"], name="routing_tr_first_due"),
            models.Index(fields=["next_response_due_at"], name="routing_tr_next_due"),
            models.Index(fields=["resolution_due_at"], name="routing_tr_resolution_due"),
        ]

    def __str__(self) -> str:
        return f"Routing state of ticket {self.ticket_id}"
