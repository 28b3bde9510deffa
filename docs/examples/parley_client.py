"""A small Python client for the Parley REST API (docs/api.md), using httpx.

    from parley_client import ParleyClient

    parley = ParleyClient("https://help.example.com", "prl_1a2b3c4d_...")
    for ticket in parley.tickets(status="open", team=2):
        print(ticket["number"], ticket["subject"])
    ticket = parley.create_ticket(email="ada@example.com", name="Ada", subject="Export broken", text="The button does nothing.")
    parley.reply(ticket["number"], "Thanks Ada, we are on it.", status="pending")

Creates are retried safely (each carries an Idempotency-Key), updates can be guarded with
the ETag (``if_match=``), 429 answers are waited out, and errors raise ``ParleyError``
with the problem details.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx


class ParleyError(Exception):
    """An error answer: ``status``, and the RFC 9457 ``problem`` (type, title, detail, errors)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem


class ParleyClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, max_retries: int = 3, **httpx_options: Any) -> None:
        self.max_retries = max_retries
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1/",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            **httpx_options,
        )

    # --- plumbing ---------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call; waits out 429s (Retry-After) and retries network errors on safe or idempotent calls."""
        for attempt in range(self.max_retries + 1):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError:
                retry_safe = method in ("GET", "HEAD") or "Idempotency-Key" in (kwargs.get("headers") or {})
                if attempt == self.max_retries or not retry_safe:
                    raise
                time.sleep(2**attempt)
                continue
            if response.status_code == 429 and attempt < self.max_retries:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code >= 400:
                try:
                    problem = response.json()
                except ValueError:
                    problem = {"title": response.reason_phrase, "detail": response.text[:500]}
                raise ParleyError(response.status_code, problem)
            return response
        raise AssertionError("unreachable")

    def paginate(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, following the cursor pages."""
        page = self.request("GET", path, params=params).json()
        yield from page["results"]
        while page["next"]:  # the next page's full address, filters included
            page = self.request("GET", page["next"]).json()
            yield from page["results"]

    def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Idempotency-Key": str(uuid.uuid4()), **kwargs.pop("headers", {})}
        return self.request("POST", path, headers=headers, **kwargs).json()

    # --- tickets ----------------------------------------------------------------------

    def tickets(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Filters: status, priority, team, assignee, channel, channel_kind, customer,
        organization, tag, created_after/before, updated_after/before, q, ordering, page_size."""
        return self.paginate("tickets/", **filters)

    def ticket(self, number: int) -> tuple[dict[str, Any], str]:
        """The ticket and its ETag (pass it to ``update_ticket(if_match=...)``)."""
        response = self.request("GET", f"tickets/{number}/")
        return response.json(), response.headers["ETag"]

    def create_ticket(self, *, email: str, text: str, subject: str = "", name: str = "", **fields: Any) -> dict[str, Any]:
        body = {"customer": {"email": email, "name": name}, "subject": subject, "message": {"text": text}, **fields}
        return self._post("tickets/", json=body)

    def update_ticket(self, number: int, *, if_match: str | None = None, **changes: Any) -> dict[str, Any]:
        """status, priority, team, assignee, tags; with ``if_match`` a concurrent change raises ParleyError 412."""
        headers = {"If-Match": if_match} if if_match else {}
        return self.request("PATCH", f"tickets/{number}/", json=changes, headers=headers).json()

    def merge(self, number: int, into: int) -> dict[str, Any]:
        return self._post(f"tickets/{number}/merge/", json={"into": into})

    def bulk(self, numbers: list[int], action: str, **arguments: Any) -> dict[str, Any]:
        return self._post("tickets/bulk/", json={"numbers": numbers, "action": action, **arguments})

    # --- messages ---------------------------------------------------------------------

    def messages(self, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(f"tickets/{number}/messages/")

    def reply(self, number: int, text: str, *, status: str | None = None, files: list[tuple[str, bytes, str]] = ()) -> dict[str, Any]:
        """A public reply; ``files`` as (filename, content, content type)."""
        return self._message(f"tickets/{number}/replies/", text, files, status=status)

    def note(self, number: int, text: str, *, files: list[tuple[str, bytes, str]] = ()) -> dict[str, Any]:
        return self._message(f"tickets/{number}/notes/", text, files)

    def _message(self, path: str, text: str, files: Any, **fields: Any) -> dict[str, Any]:
        data = {"text": text, **{k: v for k, v in fields.items() if v is not None}}
        if not files:
            return self._post(path, json=data)
        return self._post(path, data=data, files=[("attachments", f) for f in files])

    def download(self, url: str) -> bytes:
        """An attachment's bytes, from the ``url`` in a message's ``attachments``."""
        return self.request("GET", url, headers={"Accept": "*/*"}).content
