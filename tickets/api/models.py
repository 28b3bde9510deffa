"""API keys and idempotency records.

``ApiKey``: an integration's credential. The key is ``prl_<prefix>_<secret>``; Parley
keeps the prefix (to show and to find the row) and the SHA-256 of the whole key, never
the key itself. The key acts as ``user``: it sees what that user sees (private teams stay
private) and may do what the user's role allows, narrowed by ``scopes``. Create and
revoke keys through ``tickets.api.keys``.

``IdempotencyRecord``: the first answer to a POST sent with an ``Idempotency-Key``, kept
24 hours (tickets/api/idempotency.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    name = models.CharField(max_length=120)
    # Shown in lists and logs; unique, so a presented key finds its row by one index lookup.
    prefix = models.CharField(max_length=16, unique=True)
    # hex SHA-256 of the whole key string; compared in constant time.
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    # Updated at most once a minute (keys/touch): not a write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (prl_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def display(self) -> str:
        return f"prl_{self.prefix}_…"


class IdempotencyRecord(models.Model):
    """One POST's outcome, claimed before it runs: the unique (owner, key) row is what
    stops two concurrent duplicates from both executing."""

    # "key:<api key id>" or "user:<user id>": whose Idempotency-Key this is.
    owner = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    # Null while the first request is still running.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
