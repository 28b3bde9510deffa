"""A Celery worker killed with SIGKILL in the middle of a burst loses nothing and
duplicates nothing (full mode: real Redis broker, real PostgreSQL, real worker processes).

What makes it hold (docs/architecture.md, "Tasks"): every inbound message is an
``InboundMessage`` row committed before anyone is told "received"; the worker's
transaction dies with it, so a half-processed row is still ``received``; tasks are
acknowledged late, and rows whose task is gone are queued again by the stale sweep
(``requeue_stale_inbound`` on beat); processing is idempotent (a row lock, the duplicate
drop by Message-ID)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from channels_inbox import services
from channels_inbox.models import InboundMessage
from helpdesk.celery import app as celery_app
from tests.channels_inbox.test_worker import wait_for
from tests.conftest import full_mode_only
from tests.emails import build_email
from tickets.models import Message, Ticket

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [full_mode_only, pytest.mark.worker, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def start_worker(tmp_path: Path, queue: str, name: str) -> subprocess.Popen:
    """A prefork worker (two processes) in its own process group, so the whole of it can be killed."""
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
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-c", "2", "-n", f"{name}@%h", "-Q", queue,
         "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def queue():
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous


def test_a_worker_killed_mid_burst_loses_and_duplicates_nothing(tmp_path, queue, email_channel):
    first = start_worker(tmp_path, queue, "first")
    try:
        # 60 customers writing at once (distinct senders: the loop guard limits one sender's rate).
        raws = [build_email(sender=f"Customer {i} <c{i}@example.com>", subject=f"Crash {i}", message_id=f"crash-{i}@example.com")
                for i in range(60)]
        stored = [services.inbound_store(channel=email_channel, raw=raw, source="burst").pk for raw in raws]
        # Kill the whole worker (parent and pool) with SIGKILL while it is in the middle of the burst.
        wait_for(lambda: InboundMessage.objects.filter(status=InboundMessage.Status.PROCESSED).count() >= 10,
                 timeout=120, what="the burst under way")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=20)
    finally:
        stop(first)
    left = InboundMessage.objects.filter(pk__in=stored).exclude(status=InboundMessage.Status.PROCESSED).count()
    assert left > 0, "the worker finished before it was killed; the test proves nothing"

    second = start_worker(tmp_path, queue, "second")
    try:
        # What beat's requeue_stale_inbound does every 5 minutes, without the wait.
        services.inbound_requeue_stale(older_than=dt.timedelta(0))
        wait_for(lambda: not InboundMessage.objects.filter(pk__in=stored).exclude(
            status__in=[InboundMessage.Status.PROCESSED, InboundMessage.Status.DUPLICATE]).exists(),
            timeout=180, what="every stored message processed after the restart")
    finally:
        stop(second)

    # Every message exactly once, each its own ticket; nothing quarantined.
    messages = Message.objects.filter(external_id__startswith="crash-")
    assert messages.count() == 60
    assert not messages.values("external_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Ticket.objects.filter(messages__external_id__startswith="crash-").distinct().count() == 60
    assert not InboundMessage.objects.filter(pk__in=stored, status=InboundMessage.Status.QUARANTINED).exists()
