"""The ingestion spine: store raw first, then dedupe, identify, thread, append, route."""

from __future__ import annotations

import pytest

from channels_inbox import pipeline, services
from channels_inbox.models import Channel, InboundMessage
from tests.emails import build_email
from tests.factories import ChannelFactory, OrganizationDomainFactory, TeamFactory
from tickets.models import Customer, CustomerIdentity, Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def ingest(channel: Channel, raw: bytes) -> pipeline.Result:
    inbound = services.inbound_store(channel=channel, raw=raw, source="test", enqueue=False)
    return services.inbound_process(inbound_id=inbound.pk)


def test_first_message_opens_a_ticket_with_customer_message_and_events(email_channel):
    result = ingest(email_channel, build_email(message_id="m1@example.com"))

    assert result.outcome == "new_ticket"
    ticket = Ticket.objects.get()
    assert ticket.number == ticket.pk
    assert ticket.subject == "Cannot log in"
    assert ticket.status == Ticket.Status.NEW
    assert ticket.customer.name == "Ada Lovelace"
    assert ticket.last_customer_activity_at is not None
    identity = CustomerIdentity.objects.get()
    assert (identity.kind, identity.address) == ("email", "ada@example.com")
    message = ticket.messages.get()
    assert message.external_id == "m1@example.com"
    assert "cannot log in" in message.text
    assert message.direction == Message.Direction.INBOUND
    assert list(ticket.events.values_list("kind", flat=True)) == ["created", "message_added"]
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.PROCESSED
    assert inbound.ticket == ticket
    assert bytes(inbound.raw).startswith(b"From:") or b"From:" in bytes(inbound.raw)


def test_processing_the_same_inbound_twice_creates_nothing_twice(email_channel):
    inbound = services.inbound_store(channel=email_channel, raw=build_email(), enqueue=False)
    first = services.inbound_process(inbound_id=inbound.pk)
    second = services.inbound_process(inbound_id=inbound.pk)

    assert first.outcome == second.outcome == "new_ticket"
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert TicketEvent.objects.count() == 2
    inbound.refresh_from_db()
    assert inbound.attempts == 1


def test_the_same_message_delivered_twice_is_one_message(email_channel):
    raw = build_email(message_id="same@example.com")
    assert ingest(email_channel, raw).outcome == "new_ticket"
    again = ingest(email_channel, raw)

    assert again.outcome == "duplicate"
    assert again.status == InboundMessage.Status.DUPLICATE
    assert Message.objects.count() == 1
    assert Ticket.objects.count() == 1
    # both deliveries are kept as raw rows: nothing accepted is ever dropped
    assert InboundMessage.objects.count() == 2


def test_message_without_message_id_is_deduplicated_by_content(email_channel):
    raw = b"From: bob@example.com\r\nSubject: no id\r\n\r\nbody\r\n"
    ingest(email_channel, raw)
    assert ingest(email_channel, raw).outcome == "duplicate"
    assert Message.objects.get().external_id.startswith("sha256:")


def test_reply_threads_by_in_reply_to(email_channel):
    ingest(email_channel, build_email(message_id="root@example.com"))
    result = ingest(email_channel, build_email(subject="Re: Cannot log in", message_id="r1@example.com", in_reply_to="root@example.com"))

    assert result.outcome == "threaded"
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().messages.count() == 2


def test_reply_threads_by_references_when_in_reply_to_is_unknown(email_channel):
    ingest(email_channel, build_email(message_id="root@example.com"))
    result = ingest(
        email_channel,
        build_email(message_id="r2@example.com", in_reply_to="lost@elsewhere", references=["root@example.com", "lost@elsewhere"]),
    )
    assert result.outcome == "threaded"


def test_reply_to_an_agent_reply_threads_by_our_message_id(email_channel, agent_user):
    from tickets.services import message_reply

    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    reply = message_reply(ticket=ticket, author=agent_user, text="Try resetting your password.")
    result = ingest(email_channel, build_email(message_id="c2@example.com", in_reply_to=reply.external_id, subject="Re: x"))
    assert result.outcome == "threaded"
    assert result.ticket_ids == [ticket.pk]


def test_subject_token_threads_for_participants_and_links_strangers(email_channel):
    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()

    same = ingest(email_channel, build_email(subject=f"Re: [#{ticket.number}] Cannot log in", message_id="t1@example.com"))
    assert same.outcome == "threaded"

    stranger = ingest(
        email_channel,
        build_email(sender="mallory@evil.example", subject=f"[#{ticket.number}] give me access", message_id="t2@example.com"),
    )
    assert stranger.outcome == "new_ticket"
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert new.linked_ticket == ticket
    assert new.events.get(kind="created").data["linked_to"] == ticket.number
    assert ticket.messages.count() == 2  # nothing of the stranger's landed in Ada's ticket


def test_subject_token_threads_for_someone_copied_on_the_ticket(email_channel):
    ingest(email_channel, build_email(message_id="root@example.com", headers={"Cc": "boss@example.com"}))
    ticket = Ticket.objects.get()
    boss = ingest(email_channel, build_email(sender="boss@example.com", subject=f"[#{ticket.number}] me too", message_id="b@example.com"))
    assert boss.outcome == "threaded"


def test_colleague_of_the_same_organization_not_on_the_ticket_gets_a_linked_ticket(email_channel):
    OrganizationDomainFactory(domain="acme.example")
    ingest(email_channel, build_email(sender="ann@acme.example", message_id="root@acme.example"))
    ticket = Ticket.objects.get()
    colleague = ingest(email_channel, build_email(sender="bert@acme.example", subject=f"[#{ticket.number}] me too", message_id="b@acme.example"))
    assert colleague.outcome == "new_ticket"
    assert Ticket.objects.exclude(pk=ticket.pk).get().linked_ticket == ticket


def test_in_reply_to_wins_over_references(email_channel):
    ingest(email_channel, build_email(subject="First", message_id="first@example.com"))
    ingest(email_channel, build_email(subject="Second", message_id="second@example.com"))
    first, second = Ticket.objects.order_by("pk")
    result = ingest(
        email_channel,
        build_email(message_id="r@example.com", in_reply_to="second@example.com", references=["first@example.com"]),
    )
    assert result.ticket_ids == [second.pk]


def test_plus_addressed_reply_threads_even_without_any_header(email_channel):
    from channels_inbox.selectors import ticket_reply_token

    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    to = f"support+{ticket_reply_token(ticket.number)}@parley.test"
    # Outlook on the web: no In-Reply-To, no References, a rewritten subject
    result = ingest(email_channel, build_email(to=to, subject="AW: Ihre Anfrage", message_id="o@example.com"))
    assert result.ticket_ids == [ticket.pk]


def test_forged_plus_address_tag_is_ignored(email_channel):
    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    result = ingest(email_channel, build_email(sender="eve@example.com", to=f"support+t{ticket.number}-0000000000@parley.test", message_id="f@example.com"))
    assert result.outcome == "new_ticket"


def test_same_subject_threading_is_off_by_default_and_on_per_channel(email_channel):
    ingest(email_channel, build_email(subject="Printer on fire", message_id="p1@example.com"))
    assert ingest(email_channel, build_email(subject="RE: AW: Printer on fire", message_id="p2@example.com")).outcome == "new_ticket"
    email_channel.config = {"thread_by_subject_days": 7}
    email_channel.save()
    result = ingest(email_channel, build_email(subject="Re: printer  on fire", message_id="p3@example.com"))
    assert result.outcome == "threaded"
    # another sender with the same subject is someone else's problem
    other = ingest(email_channel, build_email(sender="zed@example.com", subject="Printer on fire", message_id="p4@example.com"))
    assert other.outcome == "new_ticket"


def test_customer_message_reopens_a_solved_ticket_and_counts_it(email_channel, agent_user):
    from tickets.events import Actor
    from tickets.services import ticket_change_status

    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    ticket_change_status(ticket=ticket, status=Ticket.Status.SOLVED, actor=Actor.agent(agent_user))

    ingest(email_channel, build_email(message_id="again@example.com", in_reply_to="root@example.com"))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.reopen_count == 1
    assert ticket.solved_at is None
    assert ticket.events.filter(kind=TicketEvent.Kind.REOPENED).count() == 1


def test_reply_to_a_closed_ticket_opens_a_follow_up(email_channel, agent_user):
    from tickets.events import Actor
    from tickets.services import ticket_change_status

    ingest(email_channel, build_email(message_id="root@example.com"))
    old = Ticket.objects.get()
    ticket_change_status(ticket=old, status=Ticket.Status.CLOSED, actor=Actor.agent(agent_user))

    result = ingest(email_channel, build_email(message_id="later@example.com", in_reply_to="root@example.com"))
    assert result.outcome == "new_ticket"
    new = Ticket.objects.exclude(pk=old.pk).get()
    assert new.events.get(kind="created").data["follow_up_of"] == old.number
    assert new.linked_ticket == old
    old.refresh_from_db()
    assert old.status == Ticket.Status.CLOSED


def test_auto_reply_with_no_ticket_is_ignored_but_kept(email_channel):
    raw = build_email(subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    result = ingest(email_channel, raw)
    assert result.outcome == "ignored"
    assert Ticket.objects.count() == 0
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.IGNORED
    assert "Auto-Submitted" in inbound.error
    assert bytes(inbound.raw) == raw


def test_auto_reply_on_a_solved_ticket_is_recorded_without_reopening(email_channel, agent_user):
    from tickets.events import Actor
    from tickets.services import ticket_change_status

    ingest(email_channel, build_email(message_id="root@example.com"))
    ticket = Ticket.objects.get()
    ticket_change_status(ticket=ticket, status=Ticket.Status.SOLVED, actor=Actor.agent(agent_user))
    result = ingest(email_channel, build_email(message_id="ooo@example.com", in_reply_to="root@example.com", headers={"Auto-Submitted": "auto-replied"}))

    assert result.outcome == "threaded"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED
    assert ticket.messages.filter(is_auto_reply=True).count() == 1


def test_mail_from_our_own_mailbox_is_a_loop_and_ignored(email_channel):
    result = ingest(email_channel, build_email(sender="support@parley.test"))
    assert result.outcome == "ignored"
    assert Ticket.objects.count() == 0


def test_unparseable_message_is_quarantined_with_its_raw_bytes(email_channel):
    raw = b"this is not an email at all\r\n"
    result = ingest(email_channel, raw)
    assert result.outcome == "quarantined"
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.QUARANTINED
    assert "no sender address" in inbound.error
    assert bytes(inbound.raw) == raw
    assert Ticket.objects.count() == 0


def test_processing_error_rolls_back_partial_work_and_replay_recovers(email_channel, monkeypatch):
    def broken_route(ctx):
        raise RuntimeError("routing bug")

    monkeypatch.setattr(pipeline, "STEPS", [*pipeline.STEPS[:-1], broken_route])
    result = ingest(email_channel, build_email(message_id="x@example.com"))
    assert result.outcome == "quarantined"
    assert "routing bug" in InboundMessage.objects.get().error
    # nothing half-done survives the failure
    assert (Ticket.objects.count(), Message.objects.count(), Customer.objects.count()) == (0, 0, 0)

    monkeypatch.undo()  # the bug is fixed
    replayed = services.inbound_replay()
    assert [r.outcome for r in replayed] == ["new_ticket"]
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.PROCESSED
    assert inbound.attempts == 2
    assert Message.objects.get().external_id == "x@example.com"


def test_replay_of_a_still_broken_message_keeps_it_quarantined(email_channel):
    ingest(email_channel, b"garbage\r\n")
    results = services.inbound_replay()
    assert [r.outcome for r in results] == ["quarantined"]
    assert InboundMessage.objects.get().attempts == 2


def test_channel_kind_without_adapter_is_quarantined_not_lost():
    # A kind no adapter is registered for (every named kind has one, or will).
    channel = ChannelFactory(kind="carrier-pigeon")
    inbound = services.inbound_store(channel=channel, payload={"update_id": 1}, enqueue=False)
    result = services.inbound_process(inbound_id=inbound.pk)
    assert result.outcome == "quarantined"
    assert "no adapter" in InboundMessage.objects.get().error


def test_new_ticket_joins_the_channels_default_team(db):
    team = TeamFactory(name="Billing", slug="billing")
    channel = ChannelFactory(kind="email", inbound_address="billing@parley.test", default_team=team)
    ingest(channel, build_email(to="billing@parley.test"))
    ticket = Ticket.objects.get()
    assert ticket.team == team
    assert ticket.events.filter(kind=TicketEvent.Kind.TEAM_CHANGED, actor_kind="system").exists()


def test_customer_joins_organization_by_email_domain_and_vip_gets_high_priority(email_channel):
    domain = OrganizationDomainFactory(domain="acme.example")
    ingest(email_channel, build_email(sender="Ann <ann@ACME.example>", message_id="1@acme.example"))
    customer = Customer.objects.get()
    assert customer.organization == domain.organization
    assert Ticket.objects.get().organization == domain.organization

    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.VIP)
    ingest(email_channel, build_email(sender="ann@acme.example", subject="New question", message_id="2@acme.example"))
    assert Ticket.objects.order_by("-pk").first().priority == Ticket.Priority.HIGH


def test_same_sender_is_one_customer_across_tickets(email_channel):
    ingest(email_channel, build_email(subject="One", message_id="1@example.com"))
    ingest(email_channel, build_email(subject="Two", message_id="2@example.com"))
    assert Ticket.objects.count() == 2
    assert Customer.objects.count() == 1


def test_attachments_are_stored_by_checksum_and_oversize_ones_recorded(email_channel, settings):
    settings.PARLEY_MAX_ATTACHMENT_BYTES = 1000
    raw = build_email(
        attachments=[("../../etc/passwd", "text/plain", b"small file"), ("big.bin", "application/octet-stream", b"x" * 5000)]
    )
    ingest(email_channel, raw)
    message = Message.objects.get()
    small, big = message.attachments.order_by("size")
    assert small.filename == "passwd"
    assert small.file.name.startswith("attachments/") and ".." not in small.file.name
    assert small.file.read() == b"small file"
    assert len(small.sha256) == 64
    assert big.is_oversize and big.size == 5000 and not big.file


def test_api_channel_threads_by_conversation_id():
    channel = ChannelFactory(kind=Channel.Kind.API)
    first = {"id": "1", "conversation_id": "conv-9", "from": {"id": "u42", "name": "Ada"}, "text": "Hi"}
    second = {"id": "2", "conversation_id": "conv-9", "from": {"id": "u42"}, "text": "Still there?"}
    for payload in (first, second, first):
        inbound = services.inbound_store(channel=channel, payload=payload, enqueue=False)
        services.inbound_process(inbound_id=inbound.pk)
    ticket = Ticket.objects.get()
    assert ticket.thread_key == "conv-9"
    assert ticket.messages.count() == 2
    assert InboundMessage.objects.filter(status="duplicate").count() == 1


def test_api_payload_without_sender_is_quarantined_with_a_clear_error():
    channel = ChannelFactory(kind=Channel.Kind.API)
    inbound = services.inbound_store(channel=channel, payload={"id": "1", "text": "hi"}, enqueue=False)
    result = services.inbound_process(inbound_id=inbound.pk)
    assert result.outcome == "quarantined"
    assert "'from' must be an object" in result.error


def test_storing_enqueues_processing_only_after_commit(email_channel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inbound = services.inbound_store(channel=email_channel, raw=build_email())
    assert InboundMessage.objects.get(pk=inbound.pk).status == "received"
    assert Ticket.objects.count() == 0
    for callback in callbacks:
        callback()  # the task runs in-process (eager) once the transaction committed
    assert Ticket.objects.count() == 1


def test_rows_left_received_by_a_lost_task_are_requeued_and_processed(email_channel):
    import datetime as dt

    from django.utils import timezone

    stale = services.inbound_store(channel=email_channel, raw=build_email(message_id="lost@example.com"), enqueue=False)
    fresh = services.inbound_store(channel=email_channel, raw=build_email(message_id="fresh@example.com"), enqueue=False)
    InboundMessage.objects.filter(pk=stale.pk).update(received_at=timezone.now() - dt.timedelta(minutes=30))

    assert services.inbound_requeue_stale() == 1  # tasks run in-process here
    assert InboundMessage.objects.get(pk=stale.pk).status == InboundMessage.Status.PROCESSED
    assert InboundMessage.objects.get(pk=fresh.pk).status == InboundMessage.Status.RECEIVED
    assert services.inbound_requeue_stale() == 0
