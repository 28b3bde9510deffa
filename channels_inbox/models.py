"""Channels (where conversations come from) and the durable inbox of raw inbound payloads."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from channels_inbox.social.secrets import EncryptedJSONField


def new_public_key() -> str:
    """A URL-safe routing key: the widget key, the webhook path segment."""
    return secrets.token_urlsafe(12)


class Channel(models.Model):
    """One inbox: a mailbox, a chat widget, a bot or page on a social network, an API source.

    Routing keys (``public_key``, ``inbound_address``) are unique indexed columns, so an
    inbound request finds its channel with one index lookup, never by scanning JSON.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        CHAT = "chat", "Live chat"
        TELEGRAM = "telegram", "Telegram"
        MESSENGER = "messenger", "Facebook Messenger"
        INSTAGRAM = "instagram", "Instagram"
        WHATSAPP = "whatsapp", "WhatsApp"
        SMS = "sms", "SMS"
        API = "api", "API"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    default_team = models.ForeignKey("tickets.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    public_key = models.CharField(max_length=64, unique=True, default=new_public_key)
    # Email channels: the address customers write to (lower-cased); unique where set.
    inbound_address = models.EmailField(max_length=254, null=True, blank=True)
    # Per-kind, non-secret settings, validated by the kind's adapter.
    config = models.JSONField(default=dict, blank=True)
    # Per-kind secrets (API tokens, signing secrets): encrypted at rest, read as a dict;
    # never rendered in pages or the API. A value "env:NAME" is read from the environment.
    secrets = EncryptedJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbound_address"],
                condition=Q(inbound_address__isnull=False),
                name="channel_inbound_address_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class InboundMessage(models.Model):
    """A raw inbound payload, stored before its sender is acknowledged.

    From this row on nothing is lost: parsing or processing errors leave it quarantined
    with the error and the raw bytes, and ``replay_inbound`` runs it again.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate"
        IGNORED = "ignored", "Ignored (loop or bounce with no ticket)"
        QUARANTINED = "quarantined", "Quarantined"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="inbound_messages")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    # Exactly one of raw (email bytes) or payload (a webhook's JSON) is usually set.
    raw = models.BinaryField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)
    # Known at receipt for some channels (a webhook's update id); dedupe is by Message.
    external_id = models.CharField(max_length=255, blank=True, default="")
    # Where it came from: "imap:INBOX:uid 42", "file:/path/x.eml", "hook:telegram".
    source = models.CharField(max_length=500, blank=True, default="")
    # The address the mail was delivered to (SMTP RCPT TO, a provider's envelope
    # recipient), which may carry a ticket's plus-address tag that headers lost.
    envelope_recipient = models.CharField(max_length=320, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # What the pipeline made of it, for the audit trail and the summary lines.
    outcome = models.CharField(max_length=32, blank=True, default="")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["status", "received_at"], name="inbound_status_received")]

    def __str__(self) -> str:
        return f"inbound #{self.pk} ({self.status})"

    @property
    def size(self) -> int:
        return len(self.raw) if self.raw is not None else 0


class ImapFolderState(models.Model):
    """How far the IMAP poller has read one folder of one channel's mailbox.

    UIDs are only comparable within one UIDVALIDITY; when the server changes it, every
    message is fetched again and dedupe by Message-ID keeps that harmless.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="imap_states")
    folder = models.CharField(max_length=255)
    uidvalidity = models.PositiveBigIntegerField(null=True, blank=True)
    # The highest UID stored as an InboundMessage (and so safe to flag or move).
    last_uid = models.PositiveBigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "folder"], name="imap_state_channel_folder_unique")]

    def __str__(self) -> str:
        return f"{self.channel} {self.folder} (uid {self.last_uid})"


class WidgetVisitor(models.Model):
    """One browser (or one signed-in user's device) talking through a chat channel's widget.

    The visitor token is a bearer credential kept in the visitor's browser: only its
    SHA-256 is stored, so a database leak does not let anyone read a conversation. The
    token is 256 bits of randomness, so a fast hash is enough (no password stretching).
    ``thread_key`` is the conversation key the pipeline threads on (``visitor:<public_id>``,
    or ``user:<id>`` once the host site verified who it is, so a user's devices share one
    conversation); tickets of the conversation carry it as their ``thread_key``.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="widget_visitors")
    token_hash = models.CharField(max_length=64, unique=True)
    # Public, non-secret id: the chat identity's address and the realtime group's name.
    public_id = models.CharField(max_length=32, unique=True)
    thread_key = models.CharField(max_length=255)
    customer = models.ForeignKey("tickets.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200, blank=True, default="")
    # Where to answer when the visitor has gone: given by the visitor (unverified) or by the
    # host site's signed identity (verified).
    email = models.EmailField(max_length=254, blank=True, default="")
    is_verified = models.BooleanField(default=False)
    # The host site's user id, from a verified identity only.
    external_user_id = models.CharField(max_length=255, blank=True, default="")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "thread_key"], name="widget_visitor_thread")]

    def __str__(self) -> str:
        return f"widget visitor {self.public_id}"
