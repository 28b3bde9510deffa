"""Webhook tests: a receiver on loopback that checks signatures the way docs/webhooks.md
tells integrators to, and endpoints pointing at it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest

from tests.channels_inbox.standin import Answer, Request, StandIn, run
from tickets.webhooks import hooks


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, written from the documentation alone (not Parley's code)."""
    items = [part.split("=", 1) for part in header.split(",")]
    timestamp = next((v for k, v in items if k == "t"), None)
    candidates = [v for k, v in items if k == "v1"]
    if timestamp is None or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, c) for c in candidates)


class Receiver(StandIn):
    """An integration's endpoint: 401 for a bad signature, else 200 and it keeps the event.

    ``hold_next()`` makes the next request wait (a receiver too slow to answer) until
    ``release()``; scripted failures come from ``fail_next`` as in the other stand-ins."""

    def __init__(self) -> None:
        super().__init__()
        self.secret = ""
        self.events: list[dict] = []
        self._hold = 0
        self._released = threading.Event()
        # Poll for shutdown often: every test starts and stops one.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def hold_next(self, count: int = 1) -> None:
        self._hold += count

    def release(self) -> None:
        self._released.set()

    def _answer(self, request: Request) -> Answer:
        with self._lock:
            hold = self._hold > 0
            if hold:
                self._hold -= 1
        if hold:
            with self._lock:
                self.requests.append(request)
            self._released.wait(10)
            return Answer(200, body={"late": True})
        return super()._answer(request)

    def handle(self, request: Request) -> Answer:
        if not verify_signature(self.secret, request.headers.get("parley-signature", ""), request.body):
            return Answer(401, body={"error": "bad signature"})
        payload = json.loads(request.body)
        if payload["id"] != request.headers.get("parley-delivery") or payload["event"] != request.headers.get("parley-event"):
            return Answer(400, body={"error": "headers do not match the body"})
        self.events.append(payload)
        return Answer(200, body={"ok": True})

    def stop(self) -> None:
        self.release()
        super().stop()


@pytest.fixture
def receiver():
    yield from run(Receiver)


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # Three attempts with no wait (in-process retries run at once), short time limits.
    settings.PARLEY_WEBHOOK_RETRY_SCHEDULE = [0, 0]
    settings.PARLEY_WEBHOOK_CONNECT_TIMEOUT = 2.0
    settings.PARLEY_WEBHOOK_READ_TIMEOUT = 0.5
    settings.PARLEY_WEBHOOK_DISABLE_AFTER_FAILURES = 10
    settings.PARLEY_WEBHOOK_DISABLE_AFTER_DAYS = 3
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE_URLS = False
    hooks.subscriptions_changed()  # the per-process cache forgets the previous test's endpoints
    yield
    hooks.subscriptions_changed()


@pytest.fixture
def admin_user(db):
    from tests.factories import AgentFactory

    return AgentFactory(role="admin", user__username="root", user__email="root@parley.test").user


@pytest.fixture
def make_endpoint(db, receiver, admin_user):
    """An endpoint on the receiver (loopback, so private addresses allowed for it)."""
    from tickets.webhooks import services

    def make(events=("ticket.created",), path="/hooks", **kwargs):
        endpoint, secret = services.endpoint_create(
            name=kwargs.pop("name", "CRM sync"),
            url=receiver.url + path,
            events=list(events),
            created_by=admin_user,
            allow_private_network=kwargs.pop("allow_private_network", True),
        )
        receiver.secret = secret
        return endpoint

    return make
