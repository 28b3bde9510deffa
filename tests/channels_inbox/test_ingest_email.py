"""ingest_email end to end: .eml folders, maildirs, mbox files, quarantine, duplicates, --channel."""

from __future__ import annotations

import io
import mailbox
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from channels_inbox.models import InboundMessage
from tests.emails import build_email
from tests.factories import ChannelFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = Path(__file__).parent / "payloads" / "email"
SUMMARY_RE = re.compile(
    r"^received (\d+), new tickets (\d+), threaded (\d+), duplicates (\d+), quarantined (\d+), ignored (\d+)$"
)


def ingest(*paths: Path | str, channel: str | None = None) -> tuple[str, str]:
    """Run the command; (the summary line, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    args = [str(p) for p in paths] + (["--channel", channel] if channel else [])
    call_command("ingest_email", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def summary(received=0, new=0, threaded=0, duplicates=0, quarantined=0, ignored=0) -> str:
    return (
        f"received {received}, new tickets {new}, threaded {threaded}, "
        f"duplicates {duplicates}, quarantined {quarantined}, ignored {ignored}"
    )


def question(message_id: str, sender: str = "Ada Lovelace <ada@example.com>", subject: str = "Cannot log in") -> bytes:
    return build_email(sender=sender, subject=subject, message_id=message_id)


def reply(message_id: str, to: str) -> bytes:
    return build_email(subject="Re: Cannot log in", message_id=message_id, in_reply_to=to, references=[to])


@pytest.fixture
def eml_folder(tmp_path) -> Path:
    """A root question, its reply and a second customer's question, named in arrival order."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "01-question.eml").write_bytes(question("root@example.com"))
    (folder / "02-reply.eml").write_bytes(reply("r1@example.com", "root@example.com"))
    (folder / "03-other.eml").write_bytes(question("o1@example.org", sender="Grace <grace@example.org>", subject="Billing"))
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden files are not mail
    return folder


def test_folder_of_eml_files(email_channel, eml_folder):
    line, errors = ingest(eml_folder)

    assert line == summary(received=3, new=2, threaded=1)
    assert errors == ""
    assert Ticket.objects.count() == 2
    assert Message.objects.count() == 3
    root = Ticket.objects.get(messages__external_id="root@example.com")
    assert set(root.messages.values_list("external_id", flat=True)) == {"root@example.com", "r1@example.com"}
    assert all(s.startswith(f"file:{eml_folder}") for s in InboundMessage.objects.values_list("source", flat=True))


def test_running_twice_reports_duplicates_and_creates_nothing_new(email_channel, eml_folder):
    ingest(eml_folder)
    line, _ = ingest(eml_folder)

    assert line == summary(received=3, duplicates=3)
    assert (Ticket.objects.count(), Message.objects.count()) == (2, 3)
    assert InboundMessage.objects.count() == 6  # every delivery is kept raw
    assert InboundMessage.objects.filter(status=InboundMessage.Status.DUPLICATE).count() == 3


def test_maildir(email_channel, tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(question("a@example.com"))
    seen = mailbox.MaildirMessage(question("b@example.org", sender="grace@example.org", subject="Billing"))
    seen.set_subdir("cur")  # already read by a mail client: in cur/, not new/
    box.add(seen)
    box.add(question("a@example.com"))  # delivered twice
    box.close()

    line, errors = ingest(tmp_path / "Maildir")

    # Maildir keys carry no order, so the counts are chosen not to depend on it.
    assert line == summary(received=3, new=2, duplicates=1)
    assert errors == ""
    assert all(s.startswith("maildir:") for s in InboundMessage.objects.values_list("source", flat=True))


def test_mbox_file(email_channel, tmp_path):
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path, create=True)
    for raw in (question("root@example.com"), reply("r1@example.com", "root@example.com"), question("o1@example.org", sender="grace@example.org")):
        box.add(raw)
    box.close()

    line, errors = ingest(path)

    assert line == summary(received=3, new=2, threaded=1)
    assert errors == ""
    assert sorted(InboundMessage.objects.values_list("source", flat=True)) == [f"mbox:{path}:{key}" for key in range(3)]


def test_a_mix_of_files_folders_maildirs_and_mbox_files(email_channel, tmp_path):
    single = tmp_path / "root.eml"
    single.write_bytes(question("root@example.com"))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "reply.eml").write_bytes(reply("r1@example.com", "root@example.com"))
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(reply("r2@example.com", "root@example.com"))
    maildir.close()
    mbox_path = tmp_path / "old.mbox"
    mbox = mailbox.mbox(mbox_path, create=True)
    mbox.add(question("x@example.net", sender="someone@example.net", subject="Other"))
    mbox.add(question("root@example.com"))  # already in the single file
    mbox.close()

    line, _ = ingest(single, folder, tmp_path / "Maildir", mbox_path)

    assert line == summary(received=5, new=2, threaded=2, duplicates=1)
    assert Ticket.objects.get(messages__external_id="root@example.com").messages.count() == 3


def test_a_bad_file_is_quarantined_and_reported_and_the_rest_goes_on(email_channel, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a-good.eml").write_bytes(question("good@example.com"))
    (folder / "b-garbage.eml").write_bytes(b"this is not an email at all\r\n")
    (folder / "c-empty.eml").write_bytes(b"")
    (folder / "d-good.eml").write_bytes(question("good2@example.org", sender="grace@example.org"))

    line, errors = ingest(folder)

    assert line == summary(received=4, new=2, quarantined=2)
    assert f"quarantined: file:{folder / 'b-garbage.eml'}" in errors
    assert "no sender address" in errors
    assert f"quarantined: file:{folder / 'c-empty.eml'}" in errors
    assert "empty message" in errors
    garbage = InboundMessage.objects.get(source=f"file:{folder / 'b-garbage.eml'}")
    assert garbage.status == InboundMessage.Status.QUARANTINED
    assert bytes(garbage.raw) == b"this is not an email at all\r\n"  # kept for replay


def test_every_recorded_email_payload_goes_through_the_pipeline(email_channel, settings):
    """The recorded payloads, stored and processed for real: only the invalid ones are quarantined.

    On PostgreSQL this also proves every derived text (NUL bytes, odd charsets) can be stored.
    """
    settings.PARLEY_MAX_ATTACHMENT_BYTES = 1024
    files = sorted(PAYLOADS.glob("*.eml"))
    invalid = [p for p in files if p.name.startswith("invalid-")]

    line, errors = ingest(PAYLOADS)

    counts = [int(n) for n in SUMMARY_RE.match(line).groups()]
    received, new, threaded, duplicates, quarantined, ignored = counts
    assert received == len(files)
    assert quarantined == len(invalid)
    assert received == new + threaded + duplicates + quarantined + ignored
    assert new > 30
    quarantined_sources = set(
        InboundMessage.objects.filter(status=InboundMessage.Status.QUARANTINED).values_list("source", flat=True)
    )
    assert quarantined_sources == {f"file:{p}" for p in invalid}, errors
    # the bounce, out-of-office and auto-replies had no ticket to join: kept, not ticketed
    assert ignored >= 4


def test_a_path_that_does_not_exist_is_a_usage_error_and_nothing_is_stored(email_channel, eml_folder, tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        ingest(eml_folder, tmp_path / "missing.eml")
    assert InboundMessage.objects.count() == 0


def test_a_path_that_does_not_exist_exits_non_zero(tmp_path):
    # A fresh process does not see pytest's test database; the path is checked before any query.
    result = subprocess.run(
        [sys.executable, "manage.py", "ingest_email", "/nonexistent/parley/inbox"],
        cwd=ROOT,
        env={**os.environ, "PARLEY_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "no such file or folder: /nonexistent/parley/inbox" in result.stderr


def test_channel_option_selects_the_channel_by_address(email_channel, tmp_path):
    billing = ChannelFactory(kind="email", name="Billing", inbound_address="billing@parley.test")
    first = tmp_path / "first.eml"
    first.write_bytes(question("one@example.com"))
    second = tmp_path / "second.eml"
    second.write_bytes(question("two@example.com"))

    ingest(first)
    line, _ = ingest(second, channel="Billing@Parley.test")

    assert line == summary(received=1, new=1)
    assert Ticket.objects.get(messages__external_id="one@example.com").channel == email_channel  # the default
    assert Ticket.objects.get(messages__external_id="two@example.com").channel == billing
    assert InboundMessage.objects.get(source=f"file:{second}").channel == billing


def test_unknown_channel_is_a_usage_error(email_channel, eml_folder):
    with pytest.raises(CommandError, match="no email channel 'nobody@parley.test'"):
        ingest(eml_folder, channel="nobody@parley.test")
    assert InboundMessage.objects.count() == 0
