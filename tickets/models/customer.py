"""The CRM record: customers, the identities that reach them, their organizations."""

from __future__ import annotations

from django.db import models


class Organization(models.Model):
    """A company whose people write to us; customers join it by their email domain."""

    name = models.CharField(max_length=200)
    notes = models.TextField(blank=True, default="")
    custom_attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationDomain(models.Model):
    """An email domain owned by one organization (``acme.com``), stored lower-case."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    def __str__(self) -> str:
        return self.domain


class Customer(models.Model):
    """A person we help, whichever channels they write from."""

    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        VIP = "vip", "VIP"

    name = models.CharField(max_length=200, blank=True, default="")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    language = models.CharField(max_length=16, blank=True, default="")
    time_zone = models.CharField(max_length=64, blank=True, default="")
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    custom_attributes = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True, default="")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Set when this record was merged into another; the record is kept for the audit trail.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["organization", "name"], name="customer_org_name")]

    def __str__(self) -> str:
        return self.name or f"Customer {self.pk}"

    @property
    def is_vip(self) -> bool:
        return self.tier == self.Tier.VIP

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


class CustomerIdentity(models.Model):
    """One way to reach a customer: an email address, a phone number, a handle on a network.

    ``(kind, address)`` is unique, so one person can hold identities on many channels
    while one address always resolves to exactly one customer.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone (SMS)"
        CHAT = "chat", "Chat visitor"
        TELEGRAM = "telegram", "Telegram"
        MESSENGER = "messenger", "Messenger"
        INSTAGRAM = "instagram", "Instagram"
        WHATSAPP = "whatsapp", "WhatsApp"
        API = "api", "API"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    address = models.CharField(max_length=320)
    display_name = models.CharField(max_length=200, blank=True, default="")
    is_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "customer identities"
        constraints = [models.UniqueConstraint(fields=["kind", "address"], name="identity_kind_address_unique")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"
