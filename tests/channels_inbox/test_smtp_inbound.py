"""The inbound SMTP server, spoken to over a real socket with smtplib.

The server runs in-process on a free loopback port (its handler's database work runs on
its own threads, hence transactional tests); one test runs the real management command
as a separate process. A message is acknowledged only once it is stored: every check of
the database below runs right after the client got its answer, with no waiting.
"""

from __future__ import annotations

import os
import queue
import select
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from channels_inbox import services
from channels_inbox.models import InboundMessage
from channels_inbox.selectors import ticket_reply_token
from channels_inbox.smtp_inbound import MAX_RECIPIENTS, InboundController, build_controller, serve
from tests.conftest import full_mode_only
from tests.emails import build_email
from tests.factories import ChannelFactory
from tickets.models import Message, Ticket

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp_server(transactional_db) -> Iterator[InboundController]:
    controller = build_controller(host="127.0.0.1", port=0, server_hostname="mx.parley.test")
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def client(smtp_server) -> Iterator[smtplib.SMTP]:
    """An ESMTP session with the server (EHLO done)."""
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, local_hostname="mta.example.net", timeout=30) as session:
        session.ehlo()
        yield session


def mail(**kwargs) -> bytes:
    """A test message with CRLF line ends, as MTAs send it (smtplib sends bytes as given)."""
    raw = build_email(**kwargs).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def transaction_(client: smtplib.SMTP, *, rcpts: list[str], raw: bytes, sender: str = "ada@example.com") -> tuple[list[tuple[int, bytes]], tuple[int, bytes]]:
    """MAIL, RCPT each, DATA: every reply, as a mail server would read them."""
    assert client.mail(sender)[0] == 250
    rcpt_replies = [client.rcpt(r) for r in rcpts]
    if not any(code == 250 for code, _ in rcpt_replies):
        client.rset()
        return rcpt_replies, (0, b"")
    return rcpt_replies, client.data(raw)


# --- Accepted, stored, processed ------------------------------------------------------


def test_known_recipient_is_stored_exactly_and_becomes_a_ticket(client, email_channel):
    raw = mail(message_id="smtp-1@example.com", subject="Printer on fire", body="Hello\n.dot line stays\n..two\n")

    [(rcpt_code, rcpt_msg)], (code, message) = transaction_(client, rcpts=["support@parley.test"], raw=raw)

    assert (rcpt_code, rcpt_msg) == (250, b"2.1.5 Recipient ok")
    assert (code, message) == (250, b"2.0.0 Message accepted")
    # Committed by the time the client reads 250: no waiting here.
    inbound = InboundMessage.objects.get()
    assert bytes(inbound.raw) == raw  # byte for byte, dot-stuffing undone
    assert inbound.channel == email_channel
    assert inbound.envelope_recipient == "support@parley.test"
    assert inbound.source.startswith("smtp:127.0.0.1:")
    # Processing was queued on commit (tasks run in-process in tests) and made the ticket.
    assert inbound.status == InboundMessage.Status.PROCESSED
    message_row = Message.objects.get(external_id="smtp-1@example.com")
    assert message_row.ticket.subject == "Printer on fire"
    assert inbound.ticket_id == message_row.ticket_id
    assert "Hello\n.dot line stays\n..two" in message_row.text


def test_ehlo_advertises_size_8bitmime_and_no_auth_or_starttls(client, settings):
    assert client.esmtp_features["size"] == str(settings.PARLEY_MAX_INBOUND_BYTES)
    assert "8bitmime" in client.esmtp_features
    assert "auth" not in client.esmtp_features and "starttls" not in client.esmtp_features


def test_unknown_recipient_is_refused_and_nothing_is_stored(client, email_channel):
    [(code, message)], _ = transaction_(client, rcpts=["nobody@parley.test"], raw=mail())

    assert (code, message) == (550, b"5.1.1 <nobody@parley.test>: no such mailbox here")
    assert client.mail("ada@example.com")[0] == 250  # the session goes on
    assert client.docmd("DATA")[0] == 503  # no valid recipient: no DATA
    assert not InboundMessage.objects.exists()


def test_an_inactive_channels_address_is_refused(client):
    ChannelFactory(kind="email", inbound_address="old@parley.test", is_active=False)
    ChannelFactory(kind="api", inbound_address="api@parley.test")  # not an email channel

    [(old, _), (api, _)], _ = transaction_(client, rcpts=["old@parley.test", "api@parley.test"], raw=mail())

    assert old == api == 550
    assert not InboundMessage.objects.exists()


def test_mixed_recipients_accept_the_known_and_refuse_the_others(client, email_channel):
    raw = mail(message_id="mixed@example.com", to="support@parley.test, stranger@parley.test")

    refused = client.sendmail("ada@example.com", ["stranger@parley.test", "Support@Parley.TEST"], raw)

    assert refused == {"stranger@parley.test": (550, b"5.1.1 <stranger@parley.test>: no such mailbox here")}
    inbound = InboundMessage.objects.get()
    assert inbound.envelope_recipient == "support@parley.test"
    assert Message.objects.filter(external_id="mixed@example.com").count() == 1


def test_plus_addressed_recipient_is_accepted_and_recorded(client, email_channel):
    client.sendmail("ada@example.com", ["support@parley.test"], mail(message_id="first@example.com"))
    ticket = Ticket.objects.get()
    tagged = f"support+{ticket_reply_token(ticket.number)}@parley.test"

    [(code, _)], (data_code, _) = transaction_(client, rcpts=[tagged], raw=mail(message_id="second@example.com"))

    assert code == data_code == 250
    inbound = InboundMessage.objects.get(envelope_recipient=tagged)
    assert inbound.channel == email_channel and inbound.status == InboundMessage.Status.PROCESSED


def test_two_addresses_of_one_channel_store_the_message_once(client, email_channel):
    tagged = "support+t9-0123456789@parley.test"

    refused = client.sendmail("ada@example.com", ["support@parley.test", tagged], mail(message_id="twice@example.com"))

    assert refused == {}
    inbound = InboundMessage.objects.get()
    assert inbound.envelope_recipient == tagged  # the plus-address carries the ticket's tag
    assert Message.objects.count() == 1


def test_addresses_of_two_channels_store_it_once_per_channel(client, email_channel):
    sales = ChannelFactory(kind="email", name="Sales", inbound_address="sales@parley.test")
    raw = mail(message_id="both@example.com", to="support@parley.test, sales@parley.test")

    client.sendmail("ada@example.com", ["support@parley.test", "sales@parley.test"], raw)

    rows = InboundMessage.objects.order_by("channel__name")
    assert [(r.channel, r.envelope_recipient) for r in rows] == [(sales, "sales@parley.test"), (email_channel, "support@parley.test")]
    assert all(bytes(r.raw) == raw for r in rows)
    assert sorted(Ticket.objects.values_list("channel__name", flat=True)) == ["Sales", "Support mailbox"]


def test_bounce_with_null_sender_is_accepted(client, email_channel):
    bounce = mail(sender="MAILER-DAEMON@mx.example.com", subject="Undelivered Mail Returned to Sender", message_id="dsn@mx.example.com")

    [(code, _)], (data_code, _) = transaction_(client, sender="<>", rcpts=["support@parley.test"], raw=bounce)

    assert code == data_code == 250
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.IGNORED  # a bounce with no ticket to attach to


def test_many_messages_in_one_session(client, email_channel):
    for i in range(25):
        refused = client.sendmail(f"customer{i}@example.com", ["support@parley.test"], mail(sender=f"customer{i}@example.com", message_id=f"many-{i}@example.com", subject=f"Question {i}"))
        assert refused == {}
        assert InboundMessage.objects.count() == i + 1  # each stored before its 250

    assert Ticket.objects.count() == 25
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {InboundMessage.Status.PROCESSED}


def test_the_same_message_delivered_twice_is_one_message(client, smtp_server, email_channel):
    raw = mail(message_id="again@example.com")
    client.sendmail("ada@example.com", ["support@parley.test"], raw)
    # The sending MTA did not see our 250 (connection dropped) and delivers again.
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=30) as other:
        assert other.sendmail("ada@example.com", ["support@parley.test"], raw) == {}

    assert InboundMessage.objects.count() == 2
    assert sorted(InboundMessage.objects.values_list("status", flat=True)) == ["duplicate", "processed"]
    assert Message.objects.filter(external_id="again@example.com").count() == 1
    assert Ticket.objects.count() == 1


def test_garbage_is_accepted_stored_and_quarantined_never_lost(client, email_channel):
    garbage = b"\x00\xff\xfe not a mail at all \x81\r\n\r\n\x00binary\x00\r\n"

    [(code, _)], (data_code, message) = transaction_(client, rcpts=["support@parley.test"], raw=garbage)

    assert code == data_code == 250
    inbound = InboundMessage.objects.get()
    assert bytes(inbound.raw) == garbage
    assert inbound.status == InboundMessage.Status.QUARANTINED
    assert "ParseError" in inbound.error
    assert not Ticket.objects.exists()


def test_too_many_recipients_are_refused_with_452(client, email_channel):
    rcpts = [f"support+r{i}@parley.test" for i in range(MAX_RECIPIENTS + 2)]

    replies, (data_code, _) = transaction_(client, rcpts=rcpts, raw=mail(message_id="crowd@example.com"))

    codes = [code for code, _ in replies]
    assert codes[:MAX_RECIPIENTS] == [250] * MAX_RECIPIENTS
    assert replies[MAX_RECIPIENTS:] == [(452, b"4.5.3 Too many recipients")] * 2
    assert data_code == 250
    assert InboundMessage.objects.count() == 1  # all on one channel


# --- Size limit -------------------------------------------------------------------------


def test_declared_size_over_the_limit_is_refused_at_mail_from(smtp_server, email_channel, settings):
    settings.PARLEY_MAX_INBOUND_BYTES = 2000  # read when a connection opens
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=30) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "2000"
        assert client.mail("ada@example.com", ["SIZE=2001"]) == (552, b"5.3.4 Message too big for system")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # smtplib declares SIZE itself
            client.sendmail("ada@example.com", ["support@parley.test"], mail(body="x" * 3000))
    assert refused.value.smtp_code == 552
    assert not InboundMessage.objects.exists()


def test_data_over_the_limit_is_refused_after_reading_it(smtp_server, email_channel, settings):
    settings.PARLEY_MAX_INBOUND_BYTES = 2000
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=30) as client:
        client.ehlo()
        [(code, _)], reply = transaction_(client, rcpts=["support@parley.test"], raw=mail(body=("x" * 70 + "\n") * 50))
        assert code == 250
        assert reply == (552, b"5.3.4 Message too big for system")
        # The session is still usable: a small message goes through.
        [_], (small, _) = transaction_(client, rcpts=["support@parley.test"], raw=mail(message_id="small@example.com"))
        assert small == 250
    assert InboundMessage.objects.count() == 1
    assert Message.objects.get().external_id == "small@example.com"


# --- Storage failures: 451, nothing half-stored, the retry succeeds ---------------------


def test_a_database_failure_answers_451_and_stores_nothing(client, email_channel, monkeypatch):
    ChannelFactory(kind="email", name="Sales", inbound_address="sales@parley.test")
    real_store = services.inbound_store
    calls: list[str] = []

    def failing_second_store(**kwargs):
        calls.append(kwargs["envelope_recipient"])
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real_store(**kwargs)

    monkeypatch.setattr(services, "inbound_store", failing_second_store)
    raw = mail(message_id="retry@example.com")

    replies, reply = transaction_(client, rcpts=["support@parley.test", "sales@parley.test"], raw=raw)

    assert [c for c, _ in replies] == [250, 250]
    assert reply == (451, b"4.3.0 Temporary failure, try again later")
    assert len(calls) == 2  # the first channel's row was written, then rolled back
    assert not InboundMessage.objects.exists() and not Message.objects.exists()

    monkeypatch.setattr(services, "inbound_store", real_store)  # the database is back: the MTA retries
    assert client.sendmail("ada@example.com", ["support@parley.test", "sales@parley.test"], raw) == {}
    assert InboundMessage.objects.count() == 2 and Message.objects.count() == 2


def test_a_channel_deleted_between_rcpt_and_data_answers_451(client, email_channel):
    doomed = ChannelFactory(kind="email", name="Doomed", inbound_address="doomed@parley.test")
    assert client.mail("ada@example.com")[0] == 250
    assert client.rcpt("support@parley.test")[0] == 250
    assert client.rcpt("doomed@parley.test")[0] == 250
    doomed.delete()

    assert client.data(mail())[0] == 451
    assert not InboundMessage.objects.exists()
    # The MTA's retry: the vanished address is now refused, the rest is accepted.
    refused = client.sendmail("ada@example.com", ["support@parley.test", "doomed@parley.test"], mail())
    assert list(refused) == ["doomed@parley.test"]
    assert InboundMessage.objects.get().channel == email_channel


def test_if_queuing_fails_after_the_commit_the_message_is_still_accepted(client, email_channel, monkeypatch):
    from channels_inbox.tasks import process_inbound

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(process_inbound, "delay", broker_down)

    [_], reply = transaction_(client, rcpts=["support@parley.test"], raw=mail(message_id="late@example.com"))

    assert reply[0] == 250  # stored and committed: the stale-row sweep queues it later
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.RECEIVED


# --- Running and stopping ------------------------------------------------------------------


def test_serve_runs_until_told_to_stop(transactional_db, email_channel):
    ready: queue.Queue[InboundController] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=serve, kwargs={"host": "127.0.0.1", "port": 0, "on_ready": ready.put, "stop": stop}, daemon=True
    )
    thread.start()
    controller = ready.get(timeout=30)
    with smtplib.SMTP(controller.hostname, controller.port, timeout=30) as client:
        assert client.sendmail("ada@example.com", ["support@parley.test"], mail(message_id="serve@example.com")) == {}

    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    with pytest.raises(OSError):  # no longer listening
        smtplib.SMTP(controller.hostname, controller.port, timeout=5)
    assert InboundMessage.objects.get().status == InboundMessage.Status.PROCESSED


# --- A long-running process's database connections ----------------------------------------


@full_mode_only
def test_stopping_closes_the_kept_database_connections(email_channel, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)  # as DATABASE_CONN_MAX_AGE=600

    def server_sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    controller = build_controller(host="127.0.0.1", port=0, db_threads=3)
    controller.start()
    try:
        with smtplib.SMTP(controller.hostname, controller.port, timeout=30) as client:
            for i in range(6):
                client.sendmail("ada@example.com", ["support@parley.test"], mail(message_id=f"kept-{i}@example.com"))
        assert 1 <= server_sessions() <= 3  # kept between messages, one per thread at most
    finally:
        controller.stop()
    assert server_sessions() == 0
    assert InboundMessage.objects.count() == 6


# --- The real command, as its own process (full mode) -------------------------------------


def _read_line_with(process: subprocess.Popen, needle: str, *, timeout: float) -> str:
    """Read the process's output until a line contains ``needle`` (no sleeping)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not printed; output was:\n{''.join(seen)}")


@full_mode_only
def test_the_management_command_serves_and_stores(email_channel, tmp_path):
    import redis
    from django.conf import settings

    db = connection.settings_dict
    queue = f"test-smtp-{uuid.uuid4().hex[:8]}"  # no worker reads it: processing stays queued
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PARLEY_VAR_DIR": str(tmp_path),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test"),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "smtp_inbound", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = _read_line_with(process, "listening on", timeout=60)
        port = int(line.split("listening on ", 1)[1].split()[0].rpartition(":")[2])
        raw = mail(message_id="command@example.com")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            [(code, _)], (data_code, message) = transaction_(client, rcpts=["support@parley.test"], raw=raw)
            [(unknown, _)], _ = transaction_(client, rcpts=["nobody@parley.test"], raw=raw)
        assert (code, data_code, message) == (250, 250, b"2.0.0 Message accepted")
        assert unknown == 550
        inbound = InboundMessage.objects.get()
        assert bytes(inbound.raw) == raw and inbound.envelope_recipient == "support@parley.test"
        assert inbound.status == InboundMessage.Status.RECEIVED  # queued for a worker

        process.send_signal(signal.SIGTERM)
        _read_line_with(process, "smtp_inbound stopped", timeout=30)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
