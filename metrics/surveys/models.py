"""Survey responses, and (from 0002) invitations, campaigns and settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# The answer scale of each kind, inclusive.
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


class SurveyResponse(models.Model):
    """One customer's answer to one survey question.

    With a ticket there is at most one response per (ticket, kind): a second answer (a
    second click in the email, a changed mind on the page) updates it, so a rating is
    never counted twice. NPS answers from a campaign have no ticket.
    """

    class Kind(models.TextChoices):
        CSAT = "csat", "CSAT"
        NPS = "nps", "NPS"
        CES = "ces", "CES"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses"
    )
    customer = models.ForeignKey("tickets.Customer", on_delete=models.CASCADE, related_name="survey_responses")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, default="")
    # Where the answer came from: email, widget, social, web, api.
    source = models.CharField(max_length=16)
    # Time of the latest answer (a changed rating moves it).
    answered_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "kind"], condition=models.Q(ticket__isnull=False), name="survey_one_per_ticket_kind"
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "answered_at"], name="survey_kind_answered"),
            models.Index(fields=["customer", "answered_at"], name="survey_customer_answered"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score} from customer {self.customer_id}"


class SurveySettings(models.Model):
    """The surveys' settings, one row (pk=1), edited by admins under /manage/surveys/.

    Wording fields take the placeholders of automatic messages (``{{ customer.first_name }}``,
    ``{{ ticket.number }}``, ``{{ company.name }}``): see tickets/placeholders.py.
    """

    csat_enabled = models.BooleanField("send CSAT when a ticket is solved", default=True)
    ces_enabled = models.BooleanField("ask the CES question on the CSAT page", default=False)
    quiet_period_hours = models.PositiveIntegerField(
        default=72,
        help_text="A ticket solved again within this many hours of its last survey gets no new one.",
    )
    link_expiry_days = models.PositiveIntegerField(default=30, help_text="Survey links stop working after this many days.")
    csat_subject = models.CharField(max_length=200, default="How did we do? [#{{ ticket.number }}]")
    csat_question = models.CharField(max_length=300, default="How satisfied are you with the help you received?")
    csat_intro = models.TextField(
        blank=True,
        default='Hello {{ customer.first_name|default:"there" }},\n\nYour request "{{ ticket.subject }}" has been solved. '
        "One click tells us how we did:",
    )
    ces_question = models.CharField(max_length=300, default="How easy was it to get your issue resolved?")
    nps_subject = models.CharField(max_length=200, default="A quick question from {{ company.name }}")
    nps_question = models.CharField(
        max_length=300, default="How likely are you to recommend {{ company.name }} to a friend or colleague?"
    )
    thanks_text = models.CharField(max_length=300, default="Thank you for your feedback!")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "survey settings"
        verbose_name_plural = "survey settings"

    def __str__(self) -> str:
        return "Survey settings"


class NpsCampaign(models.Model):
    """An NPS email to chosen customers, sent in batches by Celery."""

    class Audience(models.TextChoices):
        ALL = "all", "All customers with an email address"
        ORGANIZATION = "organization", "Customers of one organization"
        TIER = "tier", "Customers of one tier"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    name = models.CharField(max_length=200)
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.ALL)
    organization = models.ForeignKey(
        "tickets.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tier = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    recipients_total = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class SurveyInvitation(models.Model):
    """One survey sent to one customer: what the response rate counts, and what a link names.

    A CSAT invitation belongs to one solve of a ticket (``solve_event``, unique: the task
    may run twice, the customer gets one survey); an NPS invitation to one campaign and
    customer (unique too). Links carry the invitation id signed, never the id in clear.
    """

    class Kind(models.TextChoices):
        CSAT = "csat", "CSAT"
        NPS = "nps", "NPS"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_invitations"
    )
    customer = models.ForeignKey("tickets.Customer", on_delete=models.CASCADE, related_name="survey_invitations")
    campaign = models.ForeignKey(NpsCampaign, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations")
    solve_event = models.ForeignKey("tickets.TicketEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The channel kind it went through: email, telegram, whatsapp, ...
    via = models.CharField(max_length=16)
    message = models.ForeignKey("tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    response = models.ForeignKey(SurveyResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations")
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    # Why the survey could not be handed to the mail server (NPS campaigns); "" when it was.
    delivery_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["solve_event"], condition=models.Q(solve_event__isnull=False), name="survey_invitation_one_per_solve"
            ),
            models.UniqueConstraint(
                fields=["campaign", "customer"], condition=models.Q(campaign__isnull=False), name="survey_invitation_one_per_campaign"
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "sent_at"], name="survey_invitation_kind_sent"),
            models.Index(fields=["ticket", "-sent_at"], name="survey_invitation_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} invitation to customer {self.customer_id}"
