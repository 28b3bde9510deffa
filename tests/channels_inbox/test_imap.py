"""IMAP polling against a real Dovecot (tests/channels_inbox/dovecot.py): new mail becomes
tickets once, is acknowledged on the server only after it is stored, and survives a
UIDVALIDITY change, a lost state row, a bad password and a poller killed mid-batch."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from imapclient import IMAPClient
from imapclient.imapclient import SEEN

from channels_inbox import imap, services, tasks
from channels_inbox.models import Channel, ImapFolderState, InboundMessage
from helpdesk.celery import app as celery_app
from tests.channels_inbox.dovecot import Dovecot, dovecot_binary, start_dovecot
from tests.conftest import full_mode_only
from tests.emails import build_email
from tests.factories import ChannelFactory
from tickets.models import Message, Ticket

ROOT = Path(__file__).resolve().parents[2]

needs_dovecot = pytest.mark.skipif(
    dovecot_binary() is None,
    reason="dovecot is not installed (apt-get install dovecot-imapd): these tests run against a real Dovecot",
)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """One private server per module; each test reads its own fresh mailbox."""
    server = start_dovecot()
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> str:
    """A user name nobody has used: Dovecot gives it an empty Maildir on first login."""
    return f"support-{uuid.uuid4().hex[:12]}@parley.test"


@pytest.fixture
def make_channel(db, dovecot: Dovecot, mailbox: str) -> Callable[..., Channel]:
    def make(*, password: str | None = None, **imap_overrides) -> Channel:
        return ChannelFactory(
            kind=Channel.Kind.EMAIL,
            inbound_address=mailbox,
            config={"imap": dovecot.imap_config(mailbox, **imap_overrides)},
            secrets={"imap_password": dovecot.password if password is None else password},
        )

    return make


def mails(count: int, *, prefix: str = "m", start: int = 0) -> list[bytes]:
    return [
        build_email(sender=f"Customer {i} <c{i}@example.com>", subject=f"Question {i}", message_id=f"{prefix}{i}@example.com")
        for i in range(start, start + count)
    ]


def all_seen(flags: dict[int, tuple[bytes, ...]]) -> bool:
    return bool(flags) and all(SEEN in f for f in flags.values())


def unflag_all(dovecot: Dovecot, mailbox: str, folder: str = "INBOX") -> None:
    """What the server looks like when a poll died after storing, before flagging."""
    with dovecot.client(mailbox) as client:
        client.select_folder(folder)
        client.remove_flags(client.search(["ALL"]), [SEEN])


# --- The poll ---------------------------------------------------------------------------


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_new_mail_becomes_tickets_and_is_flagged_seen(dovecot, mailbox, make_channel):
    channel = make_channel()
    dovecot.append(mailbox, mails(3))

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert (result.fetched, result.stored, result.skipped, result.acknowledged, result.errors) == (3, 3, 0, 3, [])
    assert Ticket.objects.filter(channel=channel).count() == 3
    assert set(Message.objects.values_list("external_id", flat=True)) == {f"m{i}@example.com" for i in range(3)}
    inbound = InboundMessage.objects.filter(channel=channel).order_by("pk")
    assert all(row.status == InboundMessage.Status.PROCESSED for row in inbound)
    uidvalidity = dovecot.uidvalidity(mailbox)
    assert [row.source for row in inbound] == [f"imap:INBOX:uidvalidity {uidvalidity}:uid {uid}" for uid in (1, 2, 3)]
    state = ImapFolderState.objects.get(channel=channel, folder="INBOX")
    assert (state.uidvalidity, state.last_uid, state.last_error) == (uidvalidity, 3, "")
    assert state.last_polled_at is not None
    assert all_seen(dovecot.flags(mailbox))


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_a_second_poll_fetches_only_what_is_new(dovecot, mailbox, make_channel):
    channel = make_channel()
    dovecot.append(mailbox, mails(2))
    imap.imap_poll_channel(channel_id=channel.pk)

    again = imap.imap_poll_channel(channel_id=channel.pk)
    assert (again.fetched, again.stored, again.acknowledged) == (0, 0, 0)

    dovecot.append(mailbox, mails(1, start=2))
    third = imap.imap_poll_channel(channel_id=channel.pk)
    assert (third.fetched, third.stored) == (1, 1)
    assert InboundMessage.objects.filter(channel=channel).count() == 3
    assert Message.objects.count() == 3
    assert ImapFolderState.objects.get(channel=channel).last_uid == 3


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_with_an_archive_folder_stored_mail_is_moved_there(dovecot, mailbox, make_channel):
    channel = make_channel(archive_folder="Processed")
    dovecot.append(mailbox, mails(3))

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert (result.stored, result.acknowledged) == (3, 3)
    assert dovecot.flags(mailbox) == {}
    archived = dovecot.flags(mailbox, folder="Processed")
    assert len(archived) == 3 and all_seen(archived)
    assert Ticket.objects.count() == 3
    # The folder is empty now, but the position stands: nothing is fetched again.
    assert imap.imap_poll_channel(channel_id=channel.pk).fetched == 0


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_mail_stored_but_not_yet_flagged_is_flagged_by_the_next_poll_not_stored_again(dovecot, mailbox, make_channel):
    channel = make_channel()
    dovecot.append(mailbox, mails(5))
    imap.imap_poll_channel(channel_id=channel.pk)
    unflag_all(dovecot, mailbox)

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert (result.fetched, result.stored, result.acknowledged) == (0, 0, 5)
    assert all_seen(dovecot.flags(mailbox))
    assert InboundMessage.objects.count() == 5


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_a_lost_state_row_is_recovered_from_the_stored_sources(dovecot, mailbox, make_channel):
    channel = make_channel()
    dovecot.append(mailbox, mails(3))
    imap.imap_poll_channel(channel_id=channel.pk)
    ImapFolderState.objects.filter(channel=channel).delete()
    unflag_all(dovecot, mailbox)

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert (result.fetched, result.stored, result.acknowledged) == (0, 0, 3)
    assert ImapFolderState.objects.get(channel=channel).last_uid == 3
    assert InboundMessage.objects.count() == 3
    assert all_seen(dovecot.flags(mailbox))


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_a_new_uidvalidity_reads_the_folder_again_without_duplicate_messages(dovecot, mailbox, make_channel):
    channel = make_channel(folder="Support")
    dovecot.append(mailbox, mails(3), folder="Support")
    imap.imap_poll_channel(channel_id=channel.pk)
    before = dovecot.uidvalidity(mailbox, folder="Support")
    # The folder is recreated (a server migration, a restore): same mail, new UIDs.
    with dovecot.client(mailbox) as client:
        client.delete_folder("Support")
    dovecot.append(mailbox, mails(3) + mails(1, start=3), folder="Support")
    after = dovecot.uidvalidity(mailbox, folder="Support")
    assert after != before

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert result.uidvalidity_changed
    assert (result.fetched, result.stored) == (4, 4)
    state = ImapFolderState.objects.get(channel=channel, folder="Support")
    assert (state.uidvalidity, state.last_uid) == (after, 4)
    assert Message.objects.count() == 4
    assert Ticket.objects.count() == 4
    assert InboundMessage.objects.filter(status=InboundMessage.Status.DUPLICATE).count() == 3
    assert all_seen(dovecot.flags(mailbox, folder="Support"))


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_polls_are_capped_and_fetch_in_bounded_batches(dovecot, mailbox, make_channel, monkeypatch, settings):
    channel = make_channel()
    dovecot.append(mailbox, mails(44) + [build_email(message_id="big@example.com", attachments=[("big.bin", "application/octet-stream", b"x" * 20_000)])])
    # The big one is over the inbound limit and the batch budget: stored all the same, fetched alone.
    settings.PARLEY_MAX_INBOUND_BYTES = 10_000
    monkeypatch.setattr(imap, "BATCH_BYTES", 10_000)
    body_fetches: list[int] = []
    real_fetch = IMAPClient.fetch

    def counting_fetch(self, messages, data, modifiers=None):
        if "BODY.PEEK[]" in data:
            body_fetches.append(len(messages))
        return real_fetch(self, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", counting_fetch)

    first = imap.imap_poll_channel(channel_id=channel.pk, max_messages=30)
    assert (first.fetched, first.stored, first.has_more) == (30, 30, True)
    second = imap.imap_poll_channel(channel_id=channel.pk, max_messages=30)
    assert (second.fetched, second.stored, second.has_more) == (15, 15, False)

    assert body_fetches == [20, 10, 14, 1]
    assert InboundMessage.objects.count() == 45
    assert Message.objects.filter(external_id="big@example.com").exists()
    assert all_seen(dovecot.flags(mailbox))


@needs_dovecot
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("case", "expected"),
    [("wrong password", "authentication failed"), ("nothing listening", "connection refused")],
)
def test_server_failures_are_recorded_not_raised(dovecot, mailbox, make_channel, case, expected):
    if case == "wrong password":
        channel = make_channel(password="not-the-password")
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        channel = make_channel(port=closed_port)

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert not result.ok and expected in result.errors[0]
    state = ImapFolderState.objects.get(channel=channel)
    assert expected in state.last_error
    assert state.last_polled_at is not None
    assert state.last_uid == 0
    # A good poll clears the error.
    if case == "wrong password":
        channel.secrets = {"imap_password": dovecot.password}
        channel.save(update_fields=["secrets"])
        assert imap.imap_poll_channel(channel_id=channel.pk).ok
        assert ImapFolderState.objects.get(channel=channel).last_error == ""


@pytest.mark.django_db
def test_channels_without_imap_are_not_polled():
    chat = ChannelFactory(kind=Channel.Kind.CHAT)
    plain = ChannelFactory(kind=Channel.Kind.EMAIL)
    inactive = ChannelFactory(kind=Channel.Kind.EMAIL, is_active=False, config={"imap": {"host": "127.0.0.1"}})
    polled = ChannelFactory(kind=Channel.Kind.EMAIL, config={"imap": {"host": "127.0.0.1"}})

    assert imap.imap_channel_ids() == [polled.pk]
    for channel in (chat, plain, inactive):
        result = imap.imap_poll_channel(channel_id=channel.pk)
        assert "not an active email channel with IMAP settings" in result.errors[0]
    assert not ImapFolderState.objects.exists()


# --- Celery -----------------------------------------------------------------------------


def test_beat_polls_the_imap_mailboxes_every_imap_poll_seconds():
    entry = django_settings.CELERY_BEAT_SCHEDULE["poll-imap"]
    assert entry["task"] == "channels_inbox.tasks.poll_imap_mailboxes"
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == int(os.environ.get("IMAP_POLL_SECONDS", 60))


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_the_beat_task_polls_every_imap_channel(dovecot, make_channel):
    first = make_channel()
    second = ChannelFactory(
        kind=Channel.Kind.EMAIL,
        config={"imap": dovecot.imap_config(f"other-{uuid.uuid4().hex[:8]}@parley.test")},
        secrets={"imap_password": dovecot.password},
    )
    ChannelFactory(kind=Channel.Kind.EMAIL)  # no IMAP
    dovecot.append(first.config["imap"]["username"], mails(2))
    dovecot.append(second.config["imap"]["username"], mails(1, prefix="o"))

    assert tasks.poll_imap_mailboxes.delay().get() == 2  # eager: the channel tasks ran too

    assert InboundMessage.objects.filter(channel=first).count() == 2
    assert InboundMessage.objects.filter(channel=second).count() == 1
    assert ImapFolderState.objects.filter(last_polled_at__isnull=False).count() == 2
    assert cache.get(f"imap-poll:{first.pk}") is None  # the lock is released


@pytest.mark.django_db
def test_a_mailbox_being_polled_is_not_polled_twice_at_once():
    channel = ChannelFactory(kind=Channel.Kind.EMAIL, config={"imap": {"host": "127.0.0.1", "port": 9}})
    key = f"imap-poll:{channel.pk}"
    assert cache.add(key, "another worker", timeout=60)
    try:
        assert tasks.poll_imap_channel(channel.pk) == "locked"
        assert not ImapFolderState.objects.exists()
        assert cache.get(key) == "another worker"
    finally:
        cache.delete(key)


# --- The command ------------------------------------------------------------------------


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_poll_imap_command_prints_a_summary(dovecot, mailbox, make_channel):
    channel = make_channel()
    dovecot.append(mailbox, mails(2))
    out = io.StringIO()

    call_command("poll_imap", "--channel", str(channel.pk), stdout=out)

    lines = out.getvalue().strip().splitlines()
    assert lines[0] == f"channel {channel.pk} INBOX: fetched 2, stored 2, skipped 0, acknowledged 2"
    assert lines[-1] == "polled 1 mailbox(es): fetched 2, stored 2, skipped 0, acknowledged 2, failed 0"


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_poll_imap_command_fails_when_a_mailbox_fails(make_channel):
    make_channel(password="wrong")
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 mailbox"):
        call_command("poll_imap", stdout=out)
    assert "authentication failed" in out.getvalue()


@pytest.mark.django_db
def test_poll_imap_command_refuses_a_channel_without_imap():
    channel = ChannelFactory(kind=Channel.Kind.EMAIL)
    with pytest.raises(CommandError, match="not an active email channel with IMAP"):
        call_command("poll_imap", "--channel", str(channel.pk))


# --- IDLE -------------------------------------------------------------------------------


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_idle_fetches_mail_when_the_server_announces_it(dovecot, mailbox, make_channel):
    channel = make_channel()
    stop = threading.Event()
    results: list[imap.PollResult] = []
    senders: list[threading.Thread] = []

    def on_poll(result: imap.PollResult) -> None:
        results.append(result)
        if not senders:
            # Mail arrives while the watcher goes on to wait in IDLE.
            senders.append(threading.Thread(target=dovecot.append, args=(mailbox, mails(1))))
            senders[0].start()
        if result.stored or result.errors:
            stop.set()

    # No re-poll for an hour: only the server's EXISTS can bring the message in.
    watchdog = threading.Timer(30, stop.set)
    watchdog.start()
    try:
        imap.imap_watch_channel(channel_id=channel.pk, stop=stop, repoll_seconds=3600, check_seconds=0.5, on_poll=on_poll)
    finally:
        watchdog.cancel()
        for sender in senders:
            sender.join()

    assert [r.errors for r in results if r.errors] == []
    assert results[0].stored == 0 and results[-1].stored == 1
    assert Ticket.objects.filter(channel=channel).count() == 1
    assert all_seen(dovecot.flags(mailbox))


# --- Killed mid-batch -------------------------------------------------------------------


@full_mode_only
@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_a_poller_killed_mid_batch_loses_nothing_and_stores_nothing_twice(dovecot, mailbox, make_channel, tmp_path):
    """SIGKILL a real `manage.py poll_imap` while it stores 200 messages, then poll again."""
    total = 200
    channel = make_channel()
    imap.imap_poll_channel(channel_id=channel.pk)  # the empty folder: the position is UID 0
    dovecot.append(mailbox, mails(total, prefix="k"))

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "true",  # the poller processes what it stores, as embedded mode does
        "CELERY_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "PARLEY_VAR_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test"),
    }
    log = tmp_path / "poll_imap.log"
    with log.open("wb") as out:
        poller = subprocess.Popen(
            [sys.executable, "manage.py", "poll_imap", "--channel", str(channel.pk)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while InboundMessage.objects.filter(channel=channel).count() < 20:
            assert poller.poll() is None, f"poll_imap ended early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"poll_imap stored nothing in 60 s:\n{log.read_text()}"
            time.sleep(0.02)
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=10)
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()

    stored_at_kill = InboundMessage.objects.filter(channel=channel).count()
    assert 20 <= stored_at_kill < total, "the kill must land in the middle of the mailbox"
    # "stored" and "advanced" committed together: the position is exactly what was stored.
    assert ImapFolderState.objects.get(channel=channel).last_uid == stored_at_kill

    call_command("poll_imap", "--channel", str(channel.pk), stdout=io.StringIO())
    # Rows the kill caught between storing and processing: beat's stale-row sweep.
    services.inbound_requeue_stale(older_than=dt.timedelta(0))

    inbound = InboundMessage.objects.filter(channel=channel)
    assert inbound.count() == total
    assert inbound.values("source").distinct().count() == total
    assert not inbound.exclude(status=InboundMessage.Status.PROCESSED).exists()
    external_ids = list(Message.objects.filter(channel=channel).values_list("external_id", flat=True))
    assert sorted(external_ids) == sorted(f"k{i}@example.com" for i in range(total))
    assert Ticket.objects.filter(channel=channel).count() == total
    flags = dovecot.flags(mailbox)
    assert len(flags) == total and all_seen(flags)
