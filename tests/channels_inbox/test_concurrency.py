"""Parallel workers on PostgreSQL: the same message twice, or one new conversation's
messages at once, never create anything twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from channels_inbox import services
from channels_inbox.models import Channel, InboundMessage
from tests.conftest import full_mode_only
from tests.emails import build_email
from tests.factories import ChannelFactory
from tickets.models import Customer, Message, Ticket

pytestmark = [full_mode_only, pytest.mark.django_db(transaction=True)]


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Start the jobs in threads (one database connection each) at the same instant."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def runner(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # surfaced by the assertions below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_same_email_processed_by_parallel_workers_is_one_message(email_channel):
    for round_ in range(5):
        raw = build_email(message_id=f"race-{round_}@example.com", sender=f"new{round_}@example.com")
        ids = [services.inbound_store(channel=email_channel, raw=raw, enqueue=False).pk for _ in range(4)]
        results = run_together([lambda i=i: services.inbound_process(inbound_id=i) for i in ids])
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sorted(r.outcome for r in results) == ["duplicate"] * 3 + ["new_ticket"]
    assert Message.objects.count() == 5
    assert Ticket.objects.count() == 5
    assert Customer.objects.count() == 5


def test_first_messages_of_a_new_conversation_at_once_open_one_ticket():
    channel = ChannelFactory(kind=Channel.Kind.API)
    payloads = [
        {"id": f"m{i}", "conversation_id": "conv-1", "from": {"id": "visitor-7", "name": "Vi"}, "text": f"message {i}"}
        for i in range(4)
    ]
    ids = [services.inbound_store(channel=channel, payload=p, enqueue=False).pk for p in payloads]
    results = run_together([lambda i=i: services.inbound_process(inbound_id=i) for i in ids])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Customer.objects.count() == 1
    ticket = Ticket.objects.get()
    assert ticket.messages.count() == 4
    assert sorted(r.outcome for r in results) == ["new_ticket"] + ["threaded"] * 3
    assert InboundMessage.objects.filter(status="processed").count() == 4
