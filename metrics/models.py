"""Per-ticket measurements (one row per ticket, rebuilt from its TicketEvents) and the
daily rollups that sum them by dimension (docs/metrics.md).

Rollups are computed from TicketMetrics and survey responses only, never from tickets or
events; dashboards read rollups only.
"""

from __future__ import annotations

from django.db import models


class TicketMetrics(models.Model):
    """What one ticket measured, each duration twice (calendar seconds and business seconds).

    Written only by ``metrics.services.ticket_metrics_refresh``; a refresh replays the
    ticket's whole event log, so it is idempotent and a late event corrects the row.
    """

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="metrics")

    status = models.CharField(max_length=16)
    is_solved = models.BooleanField(default=False)
    # Merged into another ticket: its closing is not a resolution (excluded from resolution figures).
    merged_away = models.BooleanField(default=False)

    created_at = models.DateTimeField()
    created_date = models.DateField(help_text="Local date of creation in the company's time zone.")
    first_solved_at = models.DateTimeField(null=True, blank=True)
    first_solved_date = models.DateField(null=True, blank=True)
    # The latest move out of a solved status (a reopening): places the ticket in or out
    # of the backlog at past instants together with first_solved_at and solved_at.
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_date = models.DateField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True, help_text="The latest solve; empty while unsolved.")
    solved_date = models.DateField(null=True, blank=True, help_text="Local date of solved_at in the company's time zone.")
    first_response_at = models.DateTimeField(null=True, blank=True)

    first_response_seconds = models.FloatField(null=True, blank=True)
    first_response_business_seconds = models.FloatField(null=True, blank=True)
    # Sum and count, so any rollup's average is sum/count exactly.
    next_response_count = models.PositiveIntegerField(default=0)
    next_response_seconds = models.FloatField(default=0)
    next_response_business_seconds = models.FloatField(default=0)
    first_resolution_seconds = models.FloatField(null=True, blank=True)
    first_resolution_business_seconds = models.FloatField(null=True, blank=True)
    full_resolution_seconds = models.FloatField(null=True, blank=True)
    full_resolution_business_seconds = models.FloatField(null=True, blank=True)
    pending_seconds = models.FloatField(default=0)
    pending_business_seconds = models.FloatField(default=0)

    agent_replies = models.PositiveIntegerField(default=0)
    customer_messages = models.PositiveIntegerField(default=0)
    reopens = models.PositiveIntegerField(default=0)
    first_contact_resolved = models.BooleanField(default=False)
    # None: no SLA target for that metric; True: met; False: breached.
    sla_first_response_met = models.BooleanField(null=True, blank=True)
    sla_next_response_met = models.BooleanField(null=True, blank=True)
    sla_resolution_met = models.BooleanField(null=True, blank=True)

    # Dimensions, copied from the ticket at the last refresh (plain ids: no joins to slice).
    team_id = models.BigIntegerField(null=True, blank=True)
    assignee_id = models.BigIntegerField(null=True, blank=True)
    channel_id = models.BigIntegerField(null=True, blank=True)
    channel_kind = models.CharField(max_length=32, blank=True, default="")
    priority = models.CharField(max_length=16, blank=True, default="")
    customer_tier = models.CharField(max_length=16, blank=True, default="")
    # The ticket's sentiment (-1..1) at the last refresh; None when no message was scored.
    sentiment = models.FloatField(null=True, blank=True)

    # What the row was computed from: a stale row is one whose ticket has newer events.
    event_count = models.PositiveIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "ticket metrics"
        verbose_name_plural = "ticket metrics"
        indexes = [
            models.Index(fields=["created_date"], name="metrics_tm_created_date"),
            models.Index(fields=["solved_date"], name="metrics_tm_solved_date"),
            # The backlog of a day: tickets not yet first-solved, or reopened, by then.
            models.Index(fields=["first_solved_date"], name="metrics_tm_first_solved_date"),
            models.Index(fields=["reopened_date"], name="metrics_tm_reopened_date"),
            # The live tiles count open tickets by status.
            models.Index(
                fields=["status"], condition=models.Q(is_solved=False, merged_away=False), name="metrics_tm_open_status"
            ),
        ]

    def __str__(self) -> str:
        return f"metrics of ticket {self.ticket_id}"


# --- Rollups ---------------------------------------------------------------------------
# Keyed by (day, team, agent, channel kind, priority, customer tier) with plain values
# (0 = no team / unassigned, "" = none) so a key is never NULL and a unique constraint
# holds. Only additive counts and sums: a week, a month or any filter is a SUM over rows,
# and a summary card is the sum of its table.

DIMENSIONS = ("team_id", "agent_id", "channel_kind", "priority", "customer_tier")


class RollupKey(models.Model):
    day = models.DateField(help_text="Local date in the company's time zone.")
    team_id = models.BigIntegerField(default=0)
    agent_id = models.BigIntegerField(default=0)
    channel_kind = models.CharField(max_length=32, blank=True, default="")
    priority = models.CharField(max_length=16, blank=True, default="")
    customer_tier = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        abstract = True


class DailyRollup(RollupKey):
    """Every figure of docs/metrics.md as counts and sums, on the day its definition names.

    Written only by metrics.rollups (a day is deleted and rebuilt in one statement pair).
    """

    # By created_date.
    created = models.PositiveIntegerField(default=0)
    created_resolvable = models.PositiveIntegerField(default=0, help_text="created, not merged away")
    created_solved = models.PositiveIntegerField(default=0, help_text="created, solved now, not merged away")
    first_response_count = models.PositiveIntegerField(default=0)
    first_response_seconds = models.FloatField(default=0)
    first_response_business_seconds = models.FloatField(default=0)
    next_response_count = models.PositiveIntegerField(default=0)
    next_response_seconds = models.FloatField(default=0)
    next_response_business_seconds = models.FloatField(default=0)
    sla_first_response_met = models.PositiveIntegerField(default=0)
    sla_first_response_missed = models.PositiveIntegerField(default=0)
    sentiment_count = models.PositiveIntegerField(default=0)
    sentiment_sum = models.FloatField(default=0)
    # By solved_date, solved tickets not merged away.
    solved = models.PositiveIntegerField(default=0)
    first_resolution_seconds = models.FloatField(default=0)
    first_resolution_business_seconds = models.FloatField(default=0)
    full_resolution_seconds = models.FloatField(default=0)
    full_resolution_business_seconds = models.FloatField(default=0)
    solved_first_contact = models.PositiveIntegerField(default=0)
    solved_reopened = models.PositiveIntegerField(default=0)
    solved_replies = models.PositiveIntegerField(default=0)
    sla_resolution_met = models.PositiveIntegerField(default=0)
    sla_resolution_missed = models.PositiveIntegerField(default=0)
    sla_next_response_met = models.PositiveIntegerField(default=0)
    sla_next_response_missed = models.PositiveIntegerField(default=0)
    # Surveys, on the day the survey was sent (answered day when there was no invitation).
    surveys_sent = models.PositiveIntegerField(default=0)
    surveys_answered = models.PositiveIntegerField(default=0)
    csat_positive = models.PositiveIntegerField(default=0)
    csat_total = models.PositiveIntegerField(default=0)
    nps_promoters = models.PositiveIntegerField(default=0)
    nps_passives = models.PositiveIntegerField(default=0)
    nps_detractors = models.PositiveIntegerField(default=0)
    ces_sum = models.PositiveIntegerField(default=0)
    ces_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", *DIMENSIONS], name="metrics_daily_key"),
        ]


class BacklogRollup(RollupKey):
    """Tickets open (not solved, not merged away) at the end of the day, and how old they were."""

    open_count = models.PositiveIntegerField(default=0)
    age_seconds = models.FloatField(default=0, help_text="sum of ages at the end of the day")
    age_under_1d = models.PositiveIntegerField(default=0)
    age_1_3d = models.PositiveIntegerField(default=0)
    age_3_7d = models.PositiveIntegerField(default=0)
    age_over_7d = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", *DIMENSIONS], name="metrics_backlog_key"),
        ]


class DirtyDay(models.Model):
    """A day whose rollups must be rebuilt by the beat task (metrics.tasks.rollups_refresh).

    Marked in the same transaction as the TicketMetrics change; a mark made while the
    day is being rebuilt moves ``marked_at`` forward, so it survives that rebuild.
    """

    class Kind(models.TextChoices):
        DAILY = "daily", "Daily figures"
        BACKLOG = "backlog", "Backlog"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    day = models.DateField()
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="metrics_dirty_kind_day")]


class Watermark(models.Model):
    """How far a beat task has read a source that has no hook (survey responses)."""

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField()
