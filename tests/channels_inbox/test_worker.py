"""The spine with a real Celery worker process on Redis and PostgreSQL (full mode only).

A message stored by the web process is processed by a separate worker; an agent's reply
is delivered by that worker. Nothing is faked: broker, worker, database are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from channels_inbox import services
from channels_inbox.models import InboundMessage
from helpdesk.celery import app as celery_app
from tests.conftest import full_mode_only
from tests.emails import build_email
from tickets.models import Message, Ticket

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [full_mode_only, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, *, timeout: float = 60.0, what: str = "condition"):
    """Poll until ``predicate()`` is truthy; the worker runs in another process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(tmp_path) -> Iterator[Path]:
    """A real `celery worker` on its own queue, against the test database."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_QUEUE": queue,
        "PARLEY_VAR_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test"),
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-P", "solo", "-Q", queue, "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield tmp_path
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_worker_processes_stored_mail_and_delivers_the_reply(worker, email_channel, agent_user):
    from tickets.services import message_reply

    inbound = services.inbound_store(channel=email_channel, raw=build_email(message_id="w1@example.com"), source="test")
    # The web side only stored it; the worker turns it into a ticket.
    ticket = wait_for(lambda: Ticket.objects.filter(messages__external_id="w1@example.com").first(), what="ticket")
    inbound.refresh_from_db()
    assert inbound.status == InboundMessage.Status.PROCESSED

    reply = message_reply(ticket=ticket, author=agent_user, text="Hello from the worker test")
    wait_for(
        lambda: Message.objects.filter(pk=reply.pk, delivery_status=Message.DeliveryStatus.SENT).exists(),
        what="reply sent",
    )
    sent = list((worker / "outbox").iterdir())
    assert len(sent) == 1
    content = sent[0].read_text()
    assert f"Message-ID: <{reply.external_id}>" in content
    assert "In-Reply-To: <w1@example.com>" in content
    assert f"[#{ticket.number}]" in content
    assert "ada@example.com" in content


def test_a_burst_is_processed_exactly_once(worker, email_channel):
    raws = [build_email(subject=f"Burst {i}", message_id=f"burst-{i}@example.com") for i in range(20)]
    for raw in raws:
        services.inbound_store(channel=email_channel, raw=raw, source="burst")
    # a second delivery of every message: the worker must drop them as duplicates
    for raw in raws[:5]:
        services.inbound_store(channel=email_channel, raw=raw, source="burst-again")

    wait_for(
        lambda: not InboundMessage.objects.filter(status=InboundMessage.Status.RECEIVED).exists(),
        what="all inbound processed",
    )
    assert Message.objects.filter(external_id__startswith="burst-").count() == 20
    assert Ticket.objects.count() == 20
    assert InboundMessage.objects.filter(status=InboundMessage.Status.DUPLICATE).count() == 5
