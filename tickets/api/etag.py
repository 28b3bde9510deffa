"""``ETag`` on single objects, ``If-Match`` on changes: no silent overwrites.

A GET of one object answers an ``ETag`` (strong, opaque). A PATCH, PUT or DELETE may
send it back in ``If-Match``; if the object changed since, the answer is 412 problem
``precondition-failed`` and nothing is changed. ``If-Match`` is **optional** (a client
that does not send it gets last-writer-wins, as before); ``If-Match: *`` always matches.
A successful PATCH/PUT answers the new ``ETag``.

How to use: ``ETagMixin`` is part of ``base.ApiViewSet``/``ApiView``.

- Generic views: ``get_object()`` records the object and, for unsafe methods, checks
  ``If-Match`` against it; ``finalize_response`` adds the ``ETag`` of ``self.etag_object``.
  After a change, set ``self.etag_object = fresh_object`` so the new tag is answered.
- To close the gap between the check and the write, check again on the locked row inside
  the write's transaction: ``self.check_if_match(locked_row)``.
- The tag comes from ``version`` if the model has one, else ``updated_at``, else the
  serialized representation; override ``etag_for(obj)`` for anything else.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rest_framework.utils.encoders import JSONEncoder

from tickets.api.problems import PreconditionFailed

UNSAFE = ("PUT", "PATCH", "DELETE")


def compute_etag(*parts: Any) -> str:
    raw = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


class ETagMixin:
    etag_object: Any = None

    def etag_for(self, obj: Any) -> str:
        label = obj._meta.label_lower if hasattr(obj, "_meta") else type(obj).__name__
        for attribute in ("version", "updated_at"):
            value = getattr(obj, attribute, None)
            if value is not None:
                return compute_etag(label, obj.pk, attribute, value.isoformat() if hasattr(value, "isoformat") else value)
        data = self.get_serializer(obj).data  # type: ignore[attr-defined]
        return compute_etag(label, obj.pk, json.dumps(data, cls=JSONEncoder, sort_keys=True))

    def check_if_match(self, obj: Any) -> None:
        header = self.request.headers.get("If-Match")  # type: ignore[attr-defined]
        if header is None or self.request.method not in UNSAFE:  # type: ignore[attr-defined]
            return
        tags = _tags(header)
        if "*" in tags:
            return
        current = self.etag_for(obj)
        if current not in tags:
            raise PreconditionFailed(
                "The object changed since you read it (its ETag is no longer the one in If-Match); "
                "fetch it again, then retry."
            )

    def check_if_match_locked(self, obj: Any) -> Any:
        """Call inside the write's ``transaction.atomic()``: lock the row, read it again and
        check ``If-Match`` on that, so no change can slip in between the check and the write.
        Returns the locked object (or ``obj`` itself when there is no If-Match)."""
        if self.request.headers.get("If-Match") is None:  # type: ignore[attr-defined]
            return obj
        locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        self.check_if_match(locked)
        return locked

    def get_object(self) -> Any:
        obj = super().get_object()  # type: ignore[misc]
        self.check_if_match(obj)
        self.etag_object = obj
        return obj

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        self.etag_object = None
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if (
            self.etag_object is not None
            and request.method in ("GET", "HEAD", "POST", "PUT", "PATCH")
            and 200 <= response.status_code < 300
            and not response.has_header("ETag")
        ):
            response["ETag"] = self.etag_for(self.etag_object)
        return response
