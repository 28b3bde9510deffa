"""seed_demo: the demo data set is complete, consistent with the event log, and made once."""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterator
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.test import override_settings

from channels_inbox.models import Channel
from tickets.demo.topics import TOPICS
from tickets.models import (
    AgentProfile,
    Customer,
    CustomerIdentity,
    Message,
    Organization,
    OrganizationDomain,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.roles import user_role

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The default demo, seeded once for the module inside a transaction rolled back at the
    end, so the rest of the suite still starts from an empty database; each test runs in a
    savepoint within it. Hashing as the function-scoped conftest fixture does (it is not
    active yet at module scope), or the demo passwords could not be checked."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            out = seed()
            # PostgreSQL defers foreign key checks to commit; check them once now rather
            # than again in every test's teardown.
            connection.check_constraints()
            yield out
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def counts() -> dict[str, int]:
    models = (Channel, Team, AgentProfile, Organization, Customer, CustomerIdentity, Ticket, Message, TicketEvent, get_user_model())
    return {m.__name__: m.objects.count() for m in models}


def test_the_demo_has_the_expected_size_and_variety(demo):
    assert "Demo data created" in demo
    assert sorted(Channel.objects.values_list("kind", flat=True)) == sorted(Channel.Kind.values)
    assert Channel.objects.get(kind="email").inbound_address == "support@parley.localhost"
    assert not Channel.objects.filter(default_team=None).exists()
    assert Team.objects.count() == 3
    assert Team.objects.filter(is_private=True).count() == 1
    assert 9 <= AgentProfile.objects.count() <= 12
    assert 200 <= Customer.objects.count() <= 220
    assert Organization.objects.filter(domains__isnull=False).distinct().count() >= 5
    assert Customer.objects.filter(tier=Customer.Tier.VIP).count() >= 3
    assert Ticket.objects.count() == 1000

    assert set(Message.objects.values_list("direction", flat=True)) == set(Message.Direction.values)
    statuses = Counter(Ticket.objects.values_list("status", flat=True))
    assert len(statuses) >= 5, statuses
    assert statuses["closed"] + statuses["solved"] > 500
    assert sum(statuses[s] for s in Ticket.UNSOLVED_STATUSES) >= 20
    kinds = Counter(Ticket.objects.values_list("channel__kind", flat=True))
    assert set(kinds) == set(Channel.Kind.values)
    assert kinds["email"] > kinds["chat"] > kinds["sms"]
    assert Ticket.objects.filter(tags__isnull=False).distinct().count() > 900
    assert Ticket.objects.exclude(sentiment=None).count() > 100
    assert len(set(Ticket.objects.values_list("subject", flat=True))) > 100


def test_customers_have_identities_for_the_channels_they_write_from(demo):
    assert not Customer.objects.filter(identities=None).exists()
    # Every ticket's customer can be reached on that ticket's kind of channel.
    identity_kind = {"sms": "phone"}
    pairs = set(CustomerIdentity.objects.values_list("customer_id", "kind"))
    for customer_id, channel_kind in Ticket.objects.values_list("customer_id", "channel__kind").distinct():
        assert (customer_id, identity_kind.get(channel_kind, channel_kind)) in pairs
    # Addresses at an organization's domain belong to its people, as the pipeline decides.
    domains = dict(OrganizationDomain.objects.values_list("domain", "organization_id"))
    emails = list(CustomerIdentity.objects.filter(kind="email").values_list("address", "customer__organization_id"))
    assert all(domains.get(address.rpartition("@")[2]) == org_id for address, org_id in emails)
    assert {org_id for _, org_id in emails} - {None}
    # A ticket belongs to its customer's organization.
    assert all(a == b for a, b in Ticket.objects.values_list("organization_id", "customer__organization_id"))
    # first/last seen agree with the tickets.
    for customer in Customer.objects.annotate(first=Min("tickets__created_at"), last=Max("tickets__last_customer_activity_at")):
        if customer.first is not None:
            assert (customer.first_seen_at, customer.last_seen_at) == (customer.first, customer.last)


def test_the_demo_logins_work_with_their_roles(demo, client):
    User = get_user_model()
    assert client.login(username="sam", password="parley-agent")
    assert client.login(username="maya", password="parley-manager")
    assert client.login(username="admin", password="parley-admin")
    assert not client.login(username="sam", password="parley-admin")
    admin, maya, sam = (User.objects.get(username=u) for u in ("admin", "maya", "sam"))
    assert admin.is_superuser and admin.is_staff
    assert (user_role(admin), user_role(maya), user_role(sam)) == ("admin", "manager", "agent")
    assert maya.first_name == "Maya" and maya.is_staff and not maya.is_superuser
    assert sam.is_staff and not sam.is_superuser
    assert list(sam.groups.values_list("name", flat=True)) == ["agent"]
    assert not User.objects.filter(is_staff=True, agent=None).exists()
    assert sam.agent.teams.exists() and sam.agent.skills and sam.agent.capacity > 0
    assert sam.assigned_tickets.filter(status__in=Ticket.UNSOLVED_STATUSES).exists()


def test_every_ticket_has_a_created_event_and_one_message_added_event_per_message(demo):
    assert not Ticket.objects.exclude(events__kind="created").exists()
    assert TicketEvent.objects.filter(kind="created").count() == Ticket.objects.count()
    added = TicketEvent.objects.filter(kind="message_added")
    assert added.count() == Message.objects.count()
    assert not added.filter(message=None).exists()
    assert added.values("message").distinct().count() == Message.objects.count()
    assert not added.exclude(ticket_id=F("message__ticket_id")).exists()
    assert not added.exclude(created_at=F("message__created_at")).exists()
    for direction in Message.Direction.values:
        matching = added.filter(message__direction=direction, data={"direction": direction, "is_auto_reply": False})
        assert matching.count() == Message.objects.filter(direction=direction).count()


def test_the_event_log_replays_to_each_tickets_current_state(demo):
    """Metrics rebuild history from events: each from/to chain must be unbroken and end
    where the ticket is, with the data shapes tickets/events.py writes."""
    log = defaultdict(list)
    for e in TicketEvent.objects.order_by("created_at", "id").values("ticket_id", "kind", "data", "created_at"):
        log[e["ticket_id"]].append(e)
    changes = {"status_changed": "status", "priority_changed": "priority", "assigned": "assignee", "team_changed": "team"}
    for t in Ticket.objects.all():
        events = log[t.pk]
        created = events[0]
        assert created["kind"] == "created" and created["created_at"] == t.created_at
        assert created["data"] == {"channel": t.channel_id, "status": "new", "priority": created["data"]["priority"]}
        state = {"status": "new", "priority": created["data"]["priority"], "assignee": None, "team": None}
        reopens = 0
        for e in events[1:]:
            if e["kind"] in changes:
                field = changes[e["kind"]]
                assert set(e["data"]) == {"from", "to"} and e["data"]["from"] == state[field], (t.pk, e)
                state[field] = e["data"]["to"]
            elif e["kind"] == "reopened":
                reopens += 1
                assert e["data"] == {"from": "solved", "reopen_count": reopens}
                assert state["status"] == "open"  # written right after the status change
            elif e["kind"] == "tags_changed":
                assert set(e["data"]) == {"added", "removed"}
            elif e["kind"] == "survey_answered":  # metrics/surveys/demo.py: answers after the solve
                assert {"kind", "score", "comment", "source"} <= set(e["data"]) and state["status"] in ("solved", "closed")
            else:
                assert e["kind"] == "message_added"
        assert state == {"status": t.status, "priority": t.priority, "assignee": t.assignee_id, "team": t.team_id}, t.pk
        assert reopens == t.reopen_count
        # A survey answer is the customer's, not a change of the ticket: updated_at stays.
        assert t.updated_at == [e for e in events if e["kind"] != "survey_answered"][-1]["created_at"]


def test_timestamps_agree_with_the_messages_and_the_status(demo):
    tickets = Ticket.objects.annotate(
        first_in=Min("messages__created_at", filter=Q(messages__direction="inbound")),
        last_in=Max("messages__created_at", filter=Q(messages__direction="inbound")),
        first_out=Min("messages__created_at", filter=Q(messages__direction="outbound")),
        last_out=Max("messages__created_at", filter=Q(messages__direction="outbound")),
    )
    for t in tickets:
        assert t.number == t.pk
        assert t.first_in == t.created_at
        assert t.first_response_at == t.first_out and t.last_agent_activity_at == t.last_out
        assert t.last_customer_activity_at == t.last_in
        assert t.first_response_at is None or t.first_response_at >= t.created_at
        assert t.updated_at >= t.created_at
        if t.status in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
            assert t.solved_at is not None and t.solved_at >= t.created_at
        else:
            assert t.solved_at is None
        assert (t.closed_at is not None) == (t.status == Ticket.Status.CLOSED)
        if t.closed_at:
            assert t.closed_at >= t.solved_at
        if t.status != Ticket.Status.NEW:
            assert t.assignee_id is not None
    assert Ticket.objects.filter(status=Ticket.Status.NEW, assignee=None).exists()


def test_messages_look_like_their_channels(demo):
    email = Message.objects.filter(channel__kind="email")
    assert not email.filter(external_id=None).exists()
    assert not email.filter(direction="outbound").exclude(external_id__endswith="@parley.localhost").exists()
    # The placeholder for the ticket number is gone everywhere (checked in Python: SQLite's LIKE stops at NUL).
    fields = email.values_list("subject", "external_id", "in_reply_to", "references")
    assert not any("\x00" in (value or "") for row in fields for value in row)
    reply = email.filter(direction="inbound", in_reply_to__startswith="parley.").select_related("ticket").first()
    assert reply is not None and f"[#{reply.ticket.number}]" in reply.subject
    assert reply.in_reply_to in reply.references.split()
    outbound = Message.objects.filter(direction="outbound")
    assert set(outbound.values_list("delivery_status", flat=True)) == {"sent"}
    assert not outbound.filter(Q(sent_at=None) | Q(author_user=None)).exists()
    assert not Message.objects.filter(direction="note").exclude(channel=None).exists()
    social = Message.objects.exclude(channel__kind="email").exclude(direction="note")
    assert not social.filter(external_id=None).exists()
    assert not Ticket.objects.filter(channel__kind__in=["chat", "telegram", "whatsapp", "sms"], thread_key="").exists()


def test_running_it_again_changes_nothing(demo, django_assert_max_num_queries):
    before = counts()
    with django_assert_max_num_queries(60):  # finding everything there takes a few queries, not a rebuild
        out = seed()
    assert "already there" in out
    assert counts() == before


@pytest.fixture
def empty_helpdesk() -> None:
    """No demo rows even while the module's demo is loaded; the deletions roll back with the test."""
    for model in (TicketEvent, Message, Ticket, CustomerIdentity, Customer, OrganizationDomain, Organization, Channel, Team):
        model.objects.all().delete()
    get_user_model().objects.all().delete()


def test_size_sets_the_number_of_tickets(empty_helpdesk):
    out = seed("--size", "300")
    assert Ticket.objects.count() == 300
    assert Customer.objects.count() == 200  # never fewer than 200
    assert "300 tickets" in out
    assert "already there" in seed("--size", "300")
    assert Ticket.objects.count() == 300


def snapshot() -> list[tuple]:
    """What the data says, without timestamps (they are relative to the moment of the run)."""
    return list(
        Ticket.objects.order_by("pk", "messages__created_at", "messages__pk").values_list(
            "subject", "channel__kind", "customer__name", "team__slug", "messages__text"
        )
    )


def test_the_same_size_gives_the_same_data_and_a_larger_size_only_adds(empty_helpdesk):
    sid = transaction.savepoint()
    seed("--size", "60")
    first = snapshot()
    transaction.savepoint_rollback(sid)

    seed("--size", "60")
    assert snapshot() == first
    seed("--size", "80")
    assert Ticket.objects.count() == 80
    assert snapshot()[: len(first)] == first


def test_size_must_not_be_negative():
    with pytest.raises(CommandError):
        seed("--size", "-1")


# --- The conversations' lines -----------------------------------------------------------------

CASE_LINES = ("ask", "chat", "answer", "follow_up", "hold", "resolution", "note")
PLACEHOLDERS = {"order", "invoice", "amount", "plan", "date", "browser", "device", "mobile", "city", "ref"}
STOPWORDS = set(
    "the and for our your you with this that can how what where who any has have not but are was were its i'd i'm "
    "can't don't hasn't isn't since from into there they them then than just all get got now please would could "
    "should does did need like want way".split()
)


def keywords(text: str) -> set[str]:
    """Content words, cut to four letters so "charged" meets "charge"; placeholders as they are."""
    words = re.findall(r"\{\w+\}|[a-z0-9]+(?:'[a-z]+)?", text.lower())
    return {w if w.startswith("{") else w[:4] for w in words if len(w) >= 3 and w not in STOPWORDS}


def topic_lines() -> Iterator[tuple[str, int | None, str]]:
    """Every line of every topic as (topic key, case index or None for the topic's own, line)."""
    for topic in TOPICS:
        for i, case in enumerate(topic.cases):
            for line in (*case.subjects, *(getattr(case, name) for name in CASE_LINES)):
                yield topic.key, i, line
        yield topic.key, None, topic.reopen
        yield topic.key, None, topic.reopen_reply


def test_each_subject_comes_with_the_request_it_names():
    """A ticket's subject, first message and replies come from one case, so a subject must
    name what its case's messages are about (a subject about PDF export once came with a
    message asking for dark mode, because both were drawn separately)."""
    assert len(TOPICS) == 15
    assert len({t.key for t in TOPICS}) == len(TOPICS)
    for topic in TOPICS:
        assert len(topic.cases) >= 2, topic.key
        for case in topic.cases:
            assert case.subjects and all(getattr(case, name).strip() for name in CASE_LINES), (topic.key, case)
            for subject in case.subjects:
                for request in (case.ask, case.chat):
                    assert keywords(subject) & keywords(request), (topic.key, subject, request)
                # What the subject quotes (the order, the amount), the customer's email says.
                assert keywords(subject) & {f"{{{p}}}" for p in PLACEHOLDERS} <= keywords(case.ask), (topic.key, subject)


def test_topic_lines_are_unique_and_use_known_placeholders():
    lines = [line for _, _, line in topic_lines()]
    assert [line for line, n in Counter(lines).items() if n > 1] == []
    for line in lines:
        names = {name for _, name, _, _ in string.Formatter().parse(line) if name is not None}
        assert names <= PLACEHOLDERS, line


def pattern(line: str) -> re.Pattern[str]:
    """The line with any value in its placeholders (words, numbers, "#123", "$49.00", "INV-2025-00042")."""
    parts = re.split(r"(\{\w+\})", line)
    return re.compile("".join(r"[\w#$.\- ]+?" if re.fullmatch(r"\{\w+\}", part) else re.escape(part) for part in parts))


def test_each_ticket_keeps_to_one_case_of_one_topic(demo):
    """Every topic line in a ticket (its subject, the customer's messages, the replies, the
    notes) comes from the same case of the same topic."""
    origins = [(pattern(line), line.split("{")[0], (key, i)) for key, i, line in topic_lines()]
    subjects = {(t.key, i): [pattern(s) for s in case.subjects] for t in TOPICS for i, case in enumerate(t.cases)}
    seen = Counter()
    for ticket in Ticket.objects.select_related("channel").prefetch_related("messages"):
        found = {
            origin
            for message in ticket.messages.all()
            for text in message.text.splitlines()
            for regex, prefix, origin in origins
            if text.startswith(prefix) and regex.fullmatch(text)
        }
        cases = {origin for origin in found if origin[1] is not None}
        assert len(cases) == 1, (ticket.pk, ticket.subject, sorted(found, key=str))
        case = cases.pop()
        assert {key for key, _ in found} == {case[0]}, (ticket.pk, found)
        if ticket.channel.kind in ("email", "api"):
            assert any(regex.fullmatch(ticket.subject) for regex in subjects[case]), (ticket.pk, ticket.subject, case)
        seen[case] += 1
    assert len(seen) > 30  # the demo shows most cases

