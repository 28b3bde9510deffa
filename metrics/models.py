"""Per-ticket measurements: one row per ticket, rebuilt from its TicketEvents (docs/metrics.md).

Rollups by period and dimension (next) sum these rows; they never scan tickets or events.
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
        ]

    def __str__(self) -> str:
        return f"metrics of ticket {self.ticket_id}"
