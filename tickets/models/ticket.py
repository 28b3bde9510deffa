"""Tickets, their messages and attachments, tags, and the append-only event log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Tag(models.Model):
    """A label on tickets (``billing``, ``bug``), lower-case and unique."""

    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    """One customer request and the whole conversation about it."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        ON_HOLD = "on_hold", "On hold"
        SOLVED = "solved", "Solved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    # Statuses in which the ticket still needs someone's work (the backlog).
    UNSOLVED_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)

    # The human number shown as #1234; equal to the id for tickets made here, kept
    # separate so tickets imported from another helpdesk can keep their numbers.
    number = models.PositiveBigIntegerField(unique=True, null=True, blank=True)
    subject = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    channel = models.ForeignKey("channels_inbox.Channel", on_delete=models.PROTECT, related_name="tickets")
    customer = models.ForeignKey("tickets.Customer", on_delete=models.PROTECT, related_name="tickets")
    organization = models.ForeignKey(
        "tickets.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    team = models.ForeignKey("tickets.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    language = models.CharField(max_length=16, blank=True, default="")
    # -1.0 (angry) .. 1.0 (delighted), from the latest customer messages; null until known.
    sentiment = models.FloatField(null=True, blank=True)
    # Conversation key on chat and social channels (a chat session, a Telegram chat id):
    # the next message with the same key on the same channel joins this ticket.
    thread_key = models.CharField(max_length=255, blank=True, default="")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets")
    # A follow-up of a closed ticket, or a ticket opened by someone who quoted another
    # ticket's number without taking part in it, points at that ticket.
    linked_ticket = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="linked_tickets")
    reopen_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(db_index=False)
    updated_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_customer_activity_at = models.DateTimeField(null=True, blank=True)
    last_agent_activity_at = models.DateTimeField(null=True, blank=True)
    sla_first_response_due_at = models.DateTimeField(null=True, blank=True)
    sla_resolution_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            # The inbox: keyset pages on (updated_at desc, id desc) within a status,
            # a team's queue, an agent's tickets (shared/FLOORS.md).
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_updated"),
            models.Index(fields=["team", "status", "-updated_at", "-id"], name="ticket_team_status_updated"),
            models.Index(fields=["assignee", "status", "-updated_at", "-id"], name="ticket_assignee_status_upd"),
            models.Index(fields=["customer", "-created_at"], name="ticket_customer_created"),
            models.Index(fields=["channel", "thread_key"], name="ticket_channel_thread", condition=~Q(thread_key="")),
            models.Index(fields=["created_at"], name="ticket_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_unsolved(self) -> bool:
        return self.status in self.UNSOLVED_STATUSES


class Message(models.Model):
    """One message of a ticket's conversation: from the customer, to the customer, or an internal note."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "From the customer"
        OUTBOUND = "outbound", "To the customer"
        NOTE = "note", "Internal note"

    class AuthorKind(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    class DeliveryStatus(models.TextChoices):
        NOT_APPLICABLE = "", "—"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey("channels_inbox.Channel", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    author_kind = models.CharField(max_length=16, choices=AuthorKind.choices)
    author_customer = models.ForeignKey(
        "tickets.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    subject = models.CharField(max_length=500, blank=True, default="")
    text = models.TextField(blank=True, default="")
    # Sanitized on the way in; safe to render as is.
    html = models.TextField(blank=True, default="")
    # The channel's id for this message (an email's Message-ID, a platform's message id):
    # a second delivery of the same message hits the unique constraint and is a no-op.
    external_id = models.CharField(max_length=512, null=True, blank=True)
    in_reply_to = models.CharField(max_length=512, blank=True, default="")
    references = models.TextField(blank=True, default="")
    # Email recipients and similar per-channel addressing.
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    is_auto_reply = models.BooleanField(default=False)
    # Structured content a channel sends besides text (a location, a contact card, a
    # payload shape we do not know yet): kept as received, shown to the agent.
    content = models.JSONField(default=dict, blank=True)
    # Detected on the way in (ISO 639-1) and scored -1.0 .. 1.0; rolled up on the ticket.
    language = models.CharField(max_length=16, blank=True, default="")
    sentiment = models.FloatField(null=True, blank=True)
    # The sender edited or deleted the message on their platform; the original text stays.
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    delivery_status = models.CharField(max_length=16, choices=DeliveryStatus.choices, blank=True, default="")
    delivery_error = models.TextField(blank=True, default="")
    delivery_attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    inbound = models.ForeignKey(
        "channels_inbox.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_channel_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="message_ticket_created"),
            # Email threading looks up In-Reply-To / References across mailboxes.
            models.Index(fields=["external_id"], name="message_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} message {self.pk} on ticket {self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.direction != self.Direction.NOTE


def attachment_upload_to(instance: "Attachment", filename: str) -> str:
    # The stored name is the checksum: never the sender's name (no path traversal,
    # no overwrites); the original name lives in ``filename``.
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    """A file sent with a message. An oversize one is recorded (name, size) but not stored."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_upload_to, max_length=255, blank=True)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    # For inline images referenced as cid:... from the message's html.
    content_id = models.CharField(max_length=255, blank=True, default="")
    is_inline = models.BooleanField(default=False)
    is_oversize = models.BooleanField(default=False)
    # Where a channel's media waits to be fetched (downloaded on a task, then ``file`` is set).
    remote_url = models.URLField(max_length=2048, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class TicketEvent(models.Model):
    """The ticket's append-only timeline and audit log; metrics are computed from it."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        MESSAGE_ADDED = "message_added", "Message added"
        ASSIGNED = "assigned", "Assigned"
        STATUS_CHANGED = "status_changed", "Status changed"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        TEAM_CHANGED = "team_changed", "Team changed"
        TAGS_CHANGED = "tags_changed", "Tags changed"
        REOPENED = "reopened", "Reopened"
        MERGED = "merged", "Merged"
        SLA_BREACHED = "sla_breached", "SLA breached"
        DELIVERY_FAILED = "delivery_failed", "Delivery failed"
        SPLIT = "split", "Split"
        CUSTOMER_CHANGED = "customer_changed", "Customer changed"
        MACRO_APPLIED = "macro_applied", "Macro applied"
        RULE_FIRED = "rule_fired", "Rule fired"
        SLA_APPLIED = "sla_applied", "SLA policy applied"
        SURVEY_ANSWERED = "survey_answered", "Survey answered"

    class ActorKind(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"
        RULE = "rule", "Rule"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices, default=ActorKind.SYSTEM)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_customer = models.ForeignKey("tickets.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # What changed: {"from": "open", "to": "solved"}, {"rule": 4}, ...
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket_created"),
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on ticket {self.ticket_id}"
