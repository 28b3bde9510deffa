"""What the agent workspace keeps beyond tickets: company details, macros, saved views, read markers."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CompanyProfile(models.Model):
    """The support organisation's own details, set once by an admin (one row, pk=1).

    Macros and outgoing messages read them through placeholders such as
    ``{{ company.name }}``.
    """

    name = models.CharField(max_length=200, default="Parley Support")
    website = models.URLField(blank=True, default="")
    support_email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    address = models.TextField(blank=True, default="")
    # IANA name; the company's business day and every metric's day boundaries use it.
    time_zone = models.CharField(max_length=64, default="UTC")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "company profile"

    def __str__(self) -> str:
        return self.name


class Macro(models.Model):
    """A canned response with optional actions, applied from the reply box.

    ``body`` may hold placeholders ({{ customer.first_name }}, {{ ticket.number }},
    {{ agent.name }}, {{ company.name }}); a macro without actions is a canned response.
    A shared macro (no owner) is offered to every agent; a personal one only to its owner.
    """

    name = models.CharField(max_length=120)
    body = models.TextField(blank=True, default="")
    is_note = models.BooleanField(default=False, help_text="Insert as an internal note rather than a public reply.")
    # Actions, each optional: applied together with the reply.
    set_status = models.CharField(max_length=16, blank=True, default="")
    set_priority = models.CharField(max_length=16, blank=True, default="")
    set_team = models.ForeignKey("tickets.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    add_tags = models.JSONField(default=list, blank=True)
    assign_to_me = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="macros"
    )
    is_active = models.BooleanField(default=True)
    usage_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="macro_owner_name_unique"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(owner__isnull=True), name="macro_shared_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None


class SavedView(models.Model):
    """An agent's own inbox view: a named set of filters and a sort order."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=120)
    # Validated by the inbox filter form before it is stored: {"status": ["open"], "team": [3], ...}
    filters = models.JSONField(default=dict, blank=True)
    sort = models.CharField(max_length=32, blank=True, default="")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedview_owner_name_unique")]

    def __str__(self) -> str:
        return self.name


class TicketReadState(models.Model):
    """When an agent last looked at a ticket: newer customer activity shows it as unread."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="read_states")
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "ticket"], name="readstate_user_ticket_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.ticket_id} at {self.last_read_at:%Y-%m-%d %H:%M}"
