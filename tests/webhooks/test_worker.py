"""Webhook delivery on a real Celery worker (full mode only): the retry after a 500 is a
countdown task the worker runs later, not an in-process loop."""

from __future__ import annotations

import pytest

from tests.channels_inbox.test_worker import wait_for, worker  # noqa: F401  (the worker fixture)
from tests.conftest import full_mode_only
from tests.factories import ChannelFactory, CustomerFactory
from tickets import services as ticket_services
from tickets.events import SYSTEM
from tickets.webhooks import services
from tickets.webhooks.models import WebhookDelivery

pytestmark = [full_mode_only, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quick_retries(monkeypatch):
    """The worker reads its settings from the environment: one retry, one second later."""
    monkeypatch.setenv("PARLEY_WEBHOOK_RETRY_SCHEDULE", "1")
    monkeypatch.setenv("PARLEY_WEBHOOK_READ_TIMEOUT", "2")


def test_the_worker_delivers_and_retries_after_a_500(quick_retries, worker, receiver, admin_user):  # noqa: F811
    endpoint, receiver.secret = services.endpoint_create(
        name="CRM", url=receiver.url + "/hooks", events=["ticket.created"], created_by=admin_user, allow_private_network=True
    )
    receiver.fail_next(500)
    ticket_services.ticket_open(channel=ChannelFactory(kind="email"), customer=CustomerFactory(), subject="Hi", actor=SYSTEM)

    try:
        delivery = wait_for(
            lambda: WebhookDelivery.objects.filter(endpoint=endpoint, status="succeeded").first(), what="the retried delivery"
        )
    except AssertionError:
        print(list(WebhookDelivery.objects.values()), (worker / "worker.log").read_text()[-6000:])
        raise
    assert delivery.attempts == 2
    assert [r.headers["parley-delivery"] for r in receiver.requests] == [str(delivery.delivery_id)] * 2
    assert receiver.events[0]["data"]["ticket"]["subject"] == "Hi"
