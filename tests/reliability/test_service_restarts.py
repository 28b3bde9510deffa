"""PostgreSQL and Redis restarted in the middle of a burst (full mode; real servers,
really restarted, a real Celery worker): afterwards every accepted message is present
exactly once, and none was acknowledged to its sender before it was stored.

These restart the machine's own PostgreSQL and Redis (the commands .ci/run starts them
with), so they run in the suite's own sequence and never beside another test run."""

from __future__ import annotations

import datetime as dt
import shutil
import smtplib
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import close_old_connections, connection
from django.db.models import Count

from channels_inbox import services
from channels_inbox.models import InboundMessage
from channels_inbox.smtp_inbound import build_controller
from tests.channels_inbox.test_worker import wait_for
from tests.conftest import full_mode_only
from tests.emails import build_email
from tests.reliability.test_worker_crash import queue, start_worker, stop  # noqa: F401  (the queue fixture)
from tickets.models import Message, Ticket

pytestmark = [full_mode_only, pytest.mark.worker, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def _pg_cluster() -> list[str]:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def restart_postgresql() -> None:
    subprocess.run([*_pg_cluster(), "restart"], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    while not _pg_up() and time.monotonic() < deadline:
        time.sleep(0.2)


def _redis_up() -> bool:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], capture_output=True, text=True).stdout.strip() == "PONG"


def restart_redis(down_for: float = 2.0) -> None:
    """Stop Redis (nothing saved: every queued task is forgotten) and start it as .ci/run does."""
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    deadline = time.monotonic() + 20
    while _redis_up() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(down_for)
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
                   check=True, capture_output=True)
    deadline = time.monotonic() + 20
    while not _redis_up() and time.monotonic() < deadline:
        time.sleep(0.1)


def _pg_up() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], capture_output=True).returncode == 0


def _ensure_services_up() -> None:
    if not _redis_up():
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
                       capture_output=True)
    subprocess.run([*_pg_cluster(), "start"], capture_output=True)
    deadline = time.monotonic() + 60
    while not (_pg_up() and _redis_up()) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(autouse=True)
def _services_come_back():
    assert shutil.which("redis-server") and shutil.which("pg_ctlcluster"), "these tests restart the local servers"
    _ensure_services_up()
    yield
    _ensure_services_up()
    connection.close()


def _message(i: int) -> bytes:
    return build_email(sender=f"Customer {i} <r{i}@example.com>", subject=f"Restart {i}", message_id=f"restart-{i}@example.com")


def _wait_all_processed(ids: list[int]) -> None:
    def done() -> bool:
        close_old_connections()
        try:
            return not InboundMessage.objects.filter(pk__in=ids, status=InboundMessage.Status.RECEIVED).exists()
        except Exception:  # the database is still coming back
            connection.close()
            return False

    wait_for(done, timeout=240, what="every stored message processed")


def _assert_exactly_once(count: int) -> None:
    messages = Message.objects.filter(external_id__startswith="restart-")
    assert messages.count() == count
    assert not messages.values("external_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Ticket.objects.filter(messages__external_id__startswith="restart-").distinct().count() == count
    assert not InboundMessage.objects.filter(status=InboundMessage.Status.QUARANTINED).exists()


def test_postgresql_restarted_mid_burst_of_smtp_mail(tmp_path, queue, email_channel):  # noqa: F811
    controller = build_controller(host="127.0.0.1", port=0, server_hostname="mx.parley.test")
    controller.start()
    worker = start_worker(tmp_path, queue, "pg")
    accepted: set[int] = set()
    try:
        def deliver(i: int) -> bool:
            """One MTA delivery attempt: True on 250, False on a temporary 4xx refusal."""
            try:
                with smtplib.SMTP(controller.hostname, controller.port, timeout=30) as session:
                    session.sendmail(f"r{i}@example.com", ["support@parley.test"], _message(i))
            except smtplib.SMTPResponseException as exc:
                assert 400 <= exc.smtp_code < 500, exc
                return False
            except smtplib.SMTPRecipientsRefused as exc:  # RCPT answered 4xx while the lookup failed
                assert all(400 <= code < 500 for code, _ in exc.recipients.values()), exc
                return False
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                return False
            accepted.add(i)
            return True

        restarting = threading.Thread(target=lambda: (time.sleep(1.0), restart_postgresql()))
        pending = list(range(40))
        restarting.start()
        # Like an MTA: a refused message is tried again later until it is accepted.
        deadline = time.monotonic() + 180
        while pending and time.monotonic() < deadline:
            pending = [i for i in pending if not deliver(i)]
            if pending:
                time.sleep(0.5)
        restarting.join()
        assert not pending, f"never accepted: {pending}"
    finally:
        controller.stop()
    try:
        connection.close()
        # Rows whose task failed for good while the database was away: beat's sweep.
        wait_for(lambda: _usable(), timeout=60, what="database back")
        services.inbound_requeue_stale(older_than=dt.timedelta(0))
        ids = list(InboundMessage.objects.filter(channel=email_channel).values_list("pk", flat=True))
        _wait_all_processed(ids)
    finally:
        stop(worker)
    # Every 250 answered was for a stored message; each is there exactly once.
    assert accepted == set(range(40))
    _assert_exactly_once(40)


def _usable() -> bool:
    try:
        close_old_connections()
        InboundMessage.objects.exists()
        return True
    except Exception:
        connection.close()
        return False


def test_redis_restarted_mid_burst_loses_no_message_and_no_reply(tmp_path, queue, email_channel, agent_user):  # noqa: F811
    from tickets.services import message_reply

    worker = start_worker(tmp_path, queue, "redis")
    try:
        stored = [services.inbound_store(channel=email_channel, raw=_message(i), source="burst").pk for i in range(30)]
        wait_for(lambda: InboundMessage.objects.filter(pk__in=stored, status=InboundMessage.Status.PROCESSED).count() >= 3,
                 timeout=120, what="the burst under way")
        restart_redis()
        # Stored while the broker came back (or just after): their prompts may be lost too.
        stored += [services.inbound_store(channel=email_channel, raw=_message(i), source="burst").pk for i in range(30, 40)]
        first = Ticket.objects.filter(messages__external_id="restart-0@example.com").get()
        reply = message_reply(ticket=first, author=agent_user, text=f"Answer {uuid.uuid4().hex[:6]}")
        # Beat's sweeps, without their waiting time.
        services.inbound_requeue_stale(older_than=dt.timedelta(0))
        _wait_all_processed(stored)
        services.outbound_requeue_stale(now=reply.created_at + dt.timedelta(minutes=10))
        wait_for(lambda: Message.objects.filter(pk=reply.pk, delivery_status="sent").exists(), timeout=120, what="the reply sent")
    finally:
        stop(worker)
    _assert_exactly_once(40)
    sent = [p for p in (tmp_path / "outbox").iterdir()] if (tmp_path / "outbox").exists() else []
    assert sum(f"<{reply.external_id}>" in p.read_text() for p in sent) == 1  # sent once, not twice
