"""Where events are sent (``WebhookEndpoint``) and what was sent (``WebhookDelivery``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from channels_inbox.social.secrets import EncryptedJSONField


class WebhookEndpoint(models.Model):
    """One receiver URL and the events it subscribed to.

    ``is_active`` is the one switch that decides whether events are sent; ``disabled_at``
    and ``disabled_reason`` say why it is off when Parley turned it off (repeated failures,
    410 Gone) or an administrator paused it.
    """

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2048)
    # {"signing": "whsec_..."}: one Fernet token in the database, never shown back in full.
    secrets = EncryptedJSONField(blank=True, default=dict)
    # Event names ("ticket.created", ...); see tickets.webhooks.events.EVENTS.
    events = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    # Deliver to loopback and private-network addresses (a receiver inside the company
    # network, tests); off by default: otherwise a URL could make Parley probe the LAN.
    allow_private_network = models.BooleanField(default=False)
    # Deliveries given up in a row (reset by any success), and since when it has failed.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    # True when Parley disabled it by itself: the admin page shows a banner until re-enabled.
    is_auto_disabled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event for one endpoint, and what became of sending it.

    ``delivery_id`` is sent as ``Parley-Delivery`` and as the payload's ``id``: the same on
    every retry and redelivery, so a receiver that saw it already can ignore it. ``body`` is
    the exact JSON text sent (and signed), so every attempt sends the same bytes.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (will retry)"
        GIVEN_UP = "given_up", "Given up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker is sending: a second run of the task finds it taken and leaves.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    redelivery_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The delivery log, newest first (ids grow with time), per endpoint or overall (the primary key).
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint"),
            # The retry sweep: deliveries still to be sent, by due time.
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due", condition=Q(status__in=["pending", "failed"])),
            # Each endpoint's waiting deliveries (the admin list, re-enabling).
            models.Index(fields=["endpoint"], name="webhook_delivery_open", condition=Q(status__in=["pending", "failed"])),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        """Still to be sent (first attempt or a retry)."""
        return self.status in (self.Status.PENDING, self.Status.FAILED)
