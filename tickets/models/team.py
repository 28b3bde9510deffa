"""Teams and the agents who work in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Team(models.Model):
    """A group of agents sharing a queue; a private team's tickets are seen only by its members and managers."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    is_private = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """What Parley knows of a staff user beyond Django's User: teams, skills, capacity, availability."""

    class Availability(models.TextChoices):
        AVAILABLE = "available", "Available"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    display_name = models.CharField(max_length=120, blank=True, default="")
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    skills = models.JSONField(default=list, blank=True)
    # Most open tickets this agent should hold at once (used by least-loaded assignment).
    capacity = models.PositiveIntegerField(default=20)
    availability = models.CharField(max_length=16, choices=Availability.choices, default=Availability.OFFLINE)
    availability_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()

    @property
    def is_available(self) -> bool:
        return self.availability == self.Availability.AVAILABLE
