"""``Idempotency-Key`` on POST: retry a create safely.

The first POST with a given key (per API key, or per user for sessions) claims a unique
``IdempotencyRecord`` row *before* it runs, then stores its answer (status and body) when
it finishes. For 24 hours:

- the same key with the same request (method, path, body) replays the stored answer,
  with ``Idempotent-Replayed: true``, and does nothing again;
- the same key with a different request -> 422 problem ``idempotency-key-reused``;
- the same key while the first request still runs -> 409 problem ``idempotency-in-progress``
  (the claim is committed first, so two concurrent duplicates never both execute);
- a 5xx answer is not kept: the key may be retried.

How to use: ``IdempotencyMixin`` is part of ``base.ApiView``/``ApiViewSet``; every POST of
a view built on them honours the header. Nothing to do in the view. The header is
optional; a key is 1-255 visible ASCII characters (a UUID is the usual choice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from tickets.api.models import ApiKey, IdempotencyRecord
from tickets.api.problems import Conflict, Problem, UnprocessableEntity

HEADER = "Idempotency-Key"
TTL = dt.timedelta(hours=24)


def _owner(request: Any) -> str | None:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return None


def _fingerprint(request: Any) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    digest.update(request.content_type.encode() + b"\0")
    try:
        # The raw body (DRF has not parsed it yet at this point).
        digest.update(request._request.body)
    except RawPostDataException:
        # A session's CSRF check already read a form body: hash the parsed fields and files.
        django_request = request._request
        for name, values in sorted(django_request.POST.lists()):
            digest.update(f"{name}={values!r}".encode())
        for name, files in sorted(django_request.FILES.lists()):
            for upload in files:
                digest.update(f"{name}:{upload.name}:{upload.size}".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    return digest.hexdigest()


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record


def _claim(owner: str, key: str, fingerprint: str) -> IdempotencyRecord:
    """Claim (owner, key) in its own committed transaction, or raise what the caller answers."""
    now = timezone.now()
    IdempotencyRecord.objects.filter(owner=owner, key=key, created_at__lt=now - TTL).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(owner=owner, key=key, fingerprint=fingerprint, created_at=now)
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if existing is None:  # expired and deleted by a parallel request: claim again
        return _claim(owner, key, fingerprint)
    if existing.fingerprint != fingerprint:
        raise UnprocessableEntity(
            f"The Idempotency-Key {key!r} was already used with a different request; use a new key for a new request.",
            slug="idempotency-key-reused",
        )
    if existing.status_code is None:
        raise Conflict(
            f"A request with the Idempotency-Key {key!r} is still being processed; retry in a moment.",
            slug="idempotency-in-progress",
        )
    raise _Replay(existing)


def idempotency_records_prune() -> int:
    """Delete the records older than TTL (beat, hourly: tasks.prune_idempotency_records);
    returns how many. An expired key is also cleared when it is used again."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted


class IdempotencyMixin:
    """Claims the key after authentication and permission checks, replays or stores the answer."""

    _idempotency_record: IdempotencyRecord | None = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        self._idempotency_record = None
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return
        key = key.strip()
        if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
            raise Problem(400, "invalid-idempotency-key", "Bad Request", "An Idempotency-Key is 1 to 255 printable ASCII characters.")
        owner = _owner(request)
        if owner is None:
            return
        self._idempotency_record = _claim(owner, key, _fingerprint(request))

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            record = exc.record
            response = Response(record.response_body, status=record.status_code)
            for name, value in (record.response_headers or {}).items():
                response[name] = value
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is None:
            return response
        if response.status_code >= 500 or not hasattr(response, "data"):
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        body = json.loads(json.dumps(response.data, cls=JSONEncoder)) if response.data is not None else None
        headers = {h: response[h] for h in ("Location", "ETag", "Content-Type") if response.has_header(h)}
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code, response_body=body, response_headers=headers
        )
        return response
