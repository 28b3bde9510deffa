"""Merging two tickets and splitting a message into a ticket of its own (services)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from tests.conftest import full_mode_only
from tests.factories import (
    AgentFactory,
    AttachmentFactory,
    MessageFactory,
    TeamFactory,
    TicketFactory,
)
from tickets import services
from tickets.events import Actor
from tickets.exceptions import MergeNotAllowed, SplitNotAllowed
from tickets.models import Attachment, Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(agent_user):
    return Actor.agent(agent_user)


def test_merge_moves_messages_and_attachments_and_closes_the_source(actor):
    target = TicketFactory(status=Ticket.Status.OPEN)
    source = TicketFactory(customer=target.customer, status=Ticket.Status.OPEN)
    MessageFactory(ticket=target, text="first question")
    moved = MessageFactory(ticket=source, text="same question again")
    attachment = AttachmentFactory(message=moved)

    result = services.ticket_merge(source=source, target=target, actor=actor)

    assert result.pk == target.pk
    assert list(target.messages.values_list("text", flat=True)) == ["first question", "same question again"]
    assert Attachment.objects.get(pk=attachment.pk).message.ticket_id == target.pk
    source.refresh_from_db()
    assert source.merged_into_id == target.pk
    assert source.status == Ticket.Status.CLOSED and source.closed_at is not None
    assert not source.messages.exists()
    on_source = source.events.get(kind=TicketEvent.Kind.MERGED)
    on_target = target.events.get(kind=TicketEvent.Kind.MERGED)
    assert on_source.data == {"role": "source", "other_id": target.pk, "other_number": target.number, "moved_messages": 1}
    assert on_target.data == {"role": "target", "other_id": source.pk, "other_number": source.number, "moved_messages": 1}
    assert on_source.actor_user == actor.user and on_source.actor_kind == "agent"
    assert source.events.filter(kind=TicketEvent.Kind.STATUS_CHANGED, data__to="closed").exists()


def test_earlier_merges_into_the_source_follow_it_to_the_target(actor):
    first, second, third = TicketFactory(), TicketFactory(), TicketFactory()
    services.ticket_merge(source=first, target=second, actor=actor)
    services.ticket_merge(source=second, target=third, actor=actor)
    assert Ticket.objects.get(pk=first.pk).merged_into_id == third.pk


def test_merge_into_itself_is_refused(actor):
    ticket = TicketFactory()
    with pytest.raises(MergeNotAllowed, match="itself"):
        services.ticket_merge(source=ticket, target=ticket, actor=actor)


def test_merge_into_a_merged_ticket_is_refused_and_changes_nothing(actor):
    a, b, c = TicketFactory(), TicketFactory(), TicketFactory()
    MessageFactory(ticket=c)
    services.ticket_merge(source=a, target=b, actor=actor)
    with pytest.raises(MergeNotAllowed, match="was merged into another ticket"):
        services.ticket_merge(source=c, target=a, actor=actor)
    with pytest.raises(MergeNotAllowed, match="already merged"):
        services.ticket_merge(source=a, target=c, actor=actor)
    assert c.messages.count() == 1 and Ticket.objects.get(pk=c.pk).merged_into_id is None


def test_merge_into_a_closed_ticket_is_refused(actor):
    closed = TicketFactory(status=Ticket.Status.CLOSED)
    with pytest.raises(MergeNotAllowed, match="closed"):
        services.ticket_merge(source=TicketFactory(), target=closed, actor=actor)


def test_merge_across_private_team_visibility_is_refused():
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    manager = AgentFactory(role="manager").user  # sees everything: the refusal is about the tickets
    private = TicketFactory(team=legal)
    shared = TicketFactory()
    MessageFactory(ticket=private, text="confidential")
    for source, target in ((private, shared), (shared, private)):
        with pytest.raises(MergeNotAllowed, match="private team"):
            services.ticket_merge(source=source, target=target, actor=Actor.agent(manager))
    assert private.messages.get().text == "confidential"
    # the same private team on both sides is fine
    other_private = TicketFactory(team=legal)
    services.ticket_merge(source=other_private, target=private, actor=Actor.agent(manager))


def test_merge_needs_both_tickets_visible_to_the_agent():
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    outsider = AgentFactory(role="agent").user
    a, b = TicketFactory(team=legal), TicketFactory(team=legal)
    with pytest.raises(MergeNotAllowed, match="can see"):
        services.ticket_merge(source=a, target=b, actor=Actor.agent(outsider))
    assert Ticket.objects.get(pk=a.pk).merged_into_id is None


def test_split_moves_one_customer_message_into_a_linked_ticket(actor):
    original = TicketFactory(subject="Refund", status=Ticket.Status.OPEN)
    MessageFactory(ticket=original, text="refund please")
    other_topic = MessageFactory(ticket=original, text="also, my password", subject="Password")
    after = MessageFactory(ticket=original, text="thanks")
    attachment = AttachmentFactory(message=other_topic)

    new = services.message_split(message=other_topic, actor=actor)

    assert new.pk != original.pk and new.linked_ticket_id == original.pk
    assert new.customer_id == original.customer_id and new.channel_id == original.channel_id
    assert new.subject == "Password"
    assert list(new.messages.values_list("text", flat=True)) == ["also, my password"]
    assert Attachment.objects.get(pk=attachment.pk).message.ticket_id == new.pk
    # only the chosen message moves; later ones stay where they were
    assert Message.objects.get(pk=after.pk).ticket_id == original.pk
    on_original = original.events.get(kind=TicketEvent.Kind.SPLIT)
    on_new = new.events.get(kind=TicketEvent.Kind.SPLIT)
    assert on_original.data["role"] == "original" and on_original.data["other_number"] == new.number
    assert on_new.data["role"] == "new" and on_new.data["other_number"] == original.number
    assert on_new.message_id == other_topic.pk


def test_split_refuses_replies_notes_and_the_opening_message(actor):
    ticket = TicketFactory()
    opening = MessageFactory(ticket=ticket)
    reply = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND, author_kind="agent", author_customer=None)
    note = MessageFactory(ticket=ticket, direction=Message.Direction.NOTE, author_kind="agent", author_customer=None)
    for message, match in ((opening, "opened the ticket"), (reply, "customer"), (note, "customer")):
        with pytest.raises(SplitNotAllowed, match=match):
            services.message_split(message=message, actor=actor)
    assert Ticket.objects.count() == 1 and ticket.messages.count() == 3


def test_split_needs_the_ticket_visible_to_the_agent():
    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    ticket = TicketFactory(team=legal)
    MessageFactory(ticket=ticket)
    second = MessageFactory(ticket=ticket)
    with pytest.raises(SplitNotAllowed, match="can see"):
        services.message_split(message=second, actor=Actor.agent(AgentFactory(role="agent").user))


# --- Concurrency (PostgreSQL row locks) -------------------------------------------------


def _waiting_on_locks() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@full_mode_only
@pytest.mark.django_db(transaction=True)
def test_opposite_merges_at_once_never_deadlock_and_exactly_one_wins():
    """Agent 1 merges A into B while agent 2 merges B into A. Both queue behind a lock the
    test holds on the lower row; a service that locked source-then-target would let agent 2
    take the higher row meanwhile, and on release the two would deadlock (PostgreSQL kills
    one with 'deadlock detected'). Ours locks in id order: one merge wins, the other sees
    the merged row and is refused with a clear error."""
    manager = AgentFactory(role="manager").user
    a, b = TicketFactory(), TicketFactory()
    MessageFactory(ticket=a, text="from a")
    MessageFactory(ticket=b, text="from b")
    low, high = sorted((a, b), key=lambda t: t.pk)
    outcomes: dict[str, object] = {}

    def merge(name: str, source: Ticket, target: Ticket) -> None:
        try:
            services.ticket_merge(source=source, target=target, actor=Actor.agent(manager))
            outcomes[name] = "merged"
        except Exception as exc:  # noqa: BLE001 - recorded and asserted on below
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=merge, args=("low-into-high", low, high)),
        threading.Thread(target=merge, args=("high-into-low", high, low)),
    ]
    blocker = connections.create_connection("default")
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM tickets_ticket WHERE id = %s FOR UPDATE", [low.pk])
            # One after the other, so PostgreSQL's lock queue is in a known order: the
            # merge of low into high is granted the low row first.
            for waiting, thread in enumerate(threads, start=1):
                thread.start()
                deadline = time.monotonic() + 10
                while _waiting_on_locks() < waiting and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert _waiting_on_locks() == waiting, "the merge should be waiting on a locked row"
            cursor.execute("COMMIT")
    finally:
        blocker.close()
    for thread in threads:
        thread.join(timeout=20)

    results = list(outcomes.values())
    assert results.count("merged") == 1, outcomes
    refused = next(r for r in results if r != "merged")
    assert isinstance(refused, MergeNotAllowed), refused
    merged = Ticket.objects.filter(merged_into__isnull=False).get()
    survivor = Ticket.objects.get(merged_into__isnull=True)
    assert merged.merged_into_id == survivor.pk
    assert sorted(survivor.messages.values_list("text", flat=True)) == ["from a", "from b"]


def test_merge_runs_in_one_transaction(actor):
    """A refused merge inside a caller's transaction leaves that transaction usable."""
    source, closed = TicketFactory(), TicketFactory(status=Ticket.Status.CLOSED)
    with transaction.atomic():
        with pytest.raises(MergeNotAllowed):
            services.ticket_merge(source=source, target=closed, actor=actor)
        services.ticket_merge(source=source, target=TicketFactory(), actor=actor)
    assert Ticket.objects.get(pk=source.pk).merged_into_id is not None
