"""Outgoing webhooks end to end: events become signed POSTs to a real HTTP server on
loopback, with retries, giving up, disabling, redelivery and no duplicate sends."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import ChannelFactory, CustomerFactory, CustomerIdentityFactory
from tickets import services as ticket_services
from tickets.events import SYSTEM, Actor
from tickets.models import Ticket
from tickets.webhooks import services, tasks
from tickets.webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def open_ticket(db, django_capture_on_commit_callbacks):
    channel = ChannelFactory(kind="email", name="Support")
    customer = CustomerFactory(name="Ada Lovelace")

    def open_(subject="Refund please"):
        with django_capture_on_commit_callbacks(execute=True):
            return ticket_services.ticket_open(channel=channel, customer=customer, subject=subject, actor=SYSTEM)

    return open_


def test_an_ingested_email_reaches_the_receiver_signed(make_endpoint, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(events=["ticket.created", "message.created"])
    channel = ChannelFactory(kind="email", name="Support", inbound_address="support@parley.test")
    inbound = inbound_services.inbound_store(
        channel=channel, raw=build_email(message_id="root@example.com", subject="Refund please"), enqueue=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        inbound_services.inbound_process(inbound_id=inbound.pk)

    ticket = Ticket.objects.get()
    assert [e["event"] for e in receiver.events] == ["ticket.created", "message.created"]
    created, message = receiver.events
    assert created["data"]["ticket"]["number"] == ticket.number
    assert created["data"]["ticket"]["subject"] == "Refund please"
    assert created["data"]["ticket"]["channel"] == {"id": channel.pk, "kind": "email", "name": "Support"}
    assert message["data"]["message"]["direction"] == "inbound"
    assert message["data"]["message"]["is_internal"] is False
    assert message["data"]["message"]["author"]["kind"] == "customer"
    assert created["created_at"].endswith("Z")
    # Every request carried a signature the receiver accepted (it answers 401 otherwise).
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert {d.status for d in deliveries} == {"succeeded"}
    assert {str(d.delivery_id) for d in deliveries} == {e["id"] for e in receiver.events}
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests)


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(make_endpoint, receiver, open_ticket):
    make_endpoint()
    receiver.secret = "whsec_not-the-one"
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "given_up"
    assert delivery.attempts == 3
    assert delivery.last_status_code == 401
    assert "bad signature" in delivery.response_excerpt


def test_nothing_is_recorded_without_a_subscription(db, receiver, open_ticket, make_endpoint):
    open_ticket()
    assert not WebhookDelivery.objects.exists()
    make_endpoint(events=["sla.breached"])
    open_ticket()
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_retried_after_a_500_with_the_same_delivery_id_and_body(make_endpoint, receiver, open_ticket):
    make_endpoint()
    receiver.fail_next(500, body="database down")
    receiver.fail_next(502)
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 3
    assert len(receiver.requests) == 3
    assert {r.headers["parley-delivery"] for r in receiver.requests} == {str(delivery.delivery_id)}
    assert len({r.body for r in receiver.requests}) == 1
    assert len(receiver.events) == 1


def test_retried_after_a_timeout(make_endpoint, receiver, open_ticket):
    make_endpoint()
    receiver.hold_next()  # the first request gets no answer within the read timeout
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"
    assert delivery.attempts == 2
    assert len(receiver.events) == 1


def test_given_up_after_the_schedule_then_disabled_with_a_notice_to_admins(
    make_endpoint, receiver, open_ticket, settings, admin_user
):
    settings.PARLEY_WEBHOOK_DISABLE_AFTER_FAILURES = 2
    endpoint = make_endpoint()
    for _ in range(6):
        receiver.fail_next(500)
    open_ticket("first")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 1
    assert mail.outbox == []

    open_ticket("second")
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.is_auto_disabled and endpoint.disabled_at is not None
    assert "2 deliveries in a row failed" in endpoint.disabled_reason
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    assert "CRM sync" in mail.outbox[0].subject and receiver.url in mail.outbox[0].body
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["given_up", "given_up"]
    assert len(receiver.requests) == 6

    open_ticket("third")  # disabled: nothing recorded, nothing sent
    assert WebhookDelivery.objects.count() == 2
    assert len(receiver.requests) == 6


def test_disabled_after_days_of_failures(make_endpoint, receiver, open_ticket):
    endpoint = make_endpoint()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(days=4))
    for _ in range(3):
        receiver.fail_next(503)
    open_ticket()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "more than 3 days" in endpoint.disabled_reason


def test_a_success_resets_the_failure_count(make_endpoint, receiver, open_ticket):
    endpoint = make_endpoint()
    for _ in range(3):
        receiver.fail_next(500)
    open_ticket()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.failing_since
    open_ticket()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_410_gone_disables_at_once(make_endpoint, receiver, open_ticket, admin_user):
    endpoint = make_endpoint()
    receiver.fail_next(410)
    open_ticket()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "410" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().status == "given_up"
    assert len(receiver.requests) == 1
    assert len(mail.outbox) == 1


def test_429_honours_retry_after(make_endpoint, receiver, open_ticket):
    make_endpoint()
    receiver.fail_next(429, {"Retry-After": "120"})
    before = timezone.now()
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_status_code == 429
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 125
    assert len(receiver.requests) == 1
    # Not due yet: the sweep leaves it alone, and so does a stray run of the task.
    assert services.deliveries_requeue_due(grace_seconds=0) == 0
    assert tasks.deliver_webhook(delivery.pk) == "not due"
    # Once due, the sweep sends it.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.deliveries_requeue_due(grace_seconds=0) == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert len(receiver.events) == 1


def test_backoff_follows_the_schedule_with_jitter(make_endpoint, receiver, open_ticket, settings):
    settings.PARLEY_WEBHOOK_RETRY_SCHEDULE = [60, 600]
    make_endpoint()
    receiver.fail_next(500)
    before = timezone.now()
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert 48 <= (delivery.next_attempt_at - before).total_seconds() <= 73
    assert [services.retry_delay(n) // 60 for n in (1, 2, 3)] in ([0, 8, 8], [0, 9, 9], [1, 8, 9]) or all(
        0.8 * base <= services.retry_delay(n) <= 1.2 * base for n, base in ((1, 60), (2, 600), (3, 600))
    )


def test_no_duplicate_send_when_the_task_runs_twice(make_endpoint, receiver, open_ticket):
    make_endpoint()
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"
    assert tasks.deliver_webhook(delivery.pk) == "done"
    assert tasks.deliver_webhook(delivery.pk) == "done"
    assert len(receiver.requests) == 1


def test_a_delivery_being_sent_is_not_sent_again(make_endpoint, receiver):
    endpoint = make_endpoint()
    delivery = services.endpoint_send_test(endpoint=endpoint)  # queued on commit: not sent yet
    claimed = services._claim(delivery.pk)
    assert not isinstance(claimed, str)
    assert services.delivery_attempt(delivery_pk=delivery.pk).reason == "being sent"
    assert receiver.requests == []


def test_redelivery_from_the_log_keeps_the_delivery_id(make_endpoint, receiver, open_ticket, django_capture_on_commit_callbacks):
    make_endpoint()
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_redeliver(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert delivery.redelivery_count == 1
    assert [r.headers["parley-delivery"] for r in receiver.requests] == [str(delivery.delivery_id)] * 2


def test_re_enabling_sends_what_waited(make_endpoint, receiver, open_ticket, django_capture_on_commit_callbacks):
    endpoint = make_endpoint()
    receiver.fail_next(429, {"Retry-After": "600"})
    open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_update(
            endpoint=endpoint, name=endpoint.name, url=endpoint.url, events=endpoint.events, is_active=False,
            allow_private_network=True,
        )
    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "Paused by an administrator."
    assert services.deliveries_requeue_due(grace_seconds=0) == 0
    with pytest.raises(ValidationError):
        services.delivery_redeliver(delivery=WebhookDelivery.objects.get())
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_enable(endpoint=endpoint)
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert len(receiver.events) == 1


def test_the_test_event_is_sent_once_and_never_counts(make_endpoint, receiver, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(events=["sla.breached"])
    receiver.fail_next(500)
    with django_capture_on_commit_callbacks(execute=True):
        failed = services.endpoint_send_test(endpoint=endpoint)
    failed.refresh_from_db()
    assert failed.status == "given_up" and failed.attempts == 1
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_send_test(endpoint=endpoint)
    assert receiver.events[-1]["event"] == "webhook.test"
    assert receiver.events[-1]["data"]["endpoint"]["id"] == endpoint.pk


def test_a_rotated_secret_signs_the_next_delivery(make_endpoint, receiver, open_ticket):
    endpoint = make_endpoint()
    old = receiver.secret
    receiver.secret = services.endpoint_rotate_secret(endpoint=endpoint)
    assert receiver.secret != old and receiver.secret.startswith("whsec_")
    open_ticket()
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_the_secret_is_encrypted_at_rest(make_endpoint, receiver):
    from django.db import connection

    endpoint = make_endpoint()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert receiver.secret not in stored
    assert stored.startswith("gAAAAA")


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://127.0.0.1:9/hooks", "private or reserved"),
        ("http://169.254.169.254/latest/meta-data", "private or reserved"),
        ("http://10.1.2.3/hook", "private or reserved"),
        ("ftp://example.com/hook", "http:// or https://"),
        ("https://user:pw@example.com/hook", "no user name"),
        ("not a url", "http:// or https://"),
    ],
)
def test_a_bad_url_is_refused_at_save_time(db, admin_user, url, message):
    with pytest.raises(ValidationError) as caught:
        services.endpoint_create(name="Bad", url=url, events=["ticket.created"], created_by=admin_user)
    assert message in str(caught.value)
    assert not WebhookEndpoint.objects.exists()


def test_loopback_allowed_by_the_setting(db, admin_user, settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE_URLS = True
    endpoint, _ = services.endpoint_create(name="Dev", url="http://127.0.0.1:9/h", events=["ticket.created"], created_by=admin_user)
    assert endpoint.pk


def test_unknown_or_no_events_are_refused(db, admin_user):
    with pytest.raises(ValidationError, match="Unknown event"):
        services.endpoint_create(name="x", url="http://127.0.0.1/", events=["ticket.exploded"], created_by=admin_user, allow_private_network=True)
    with pytest.raises(ValidationError, match="at least one"):
        services.endpoint_create(name="x", url="http://127.0.0.1/", events=[], created_by=admin_user, allow_private_network=True)


def test_a_url_that_turns_private_later_is_not_called(make_endpoint, receiver, open_ticket):
    endpoint = make_endpoint()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(allow_private_network=False)
    open_ticket()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "given_up" and delivery.attempts == 1
    assert "private or reserved" in delivery.last_error
    assert receiver.requests == []


# --- What each event carries -------------------------------------------------------------------


def test_changes_in_one_transaction_make_one_ticket_updated(make_endpoint, receiver, open_ticket, django_capture_on_commit_callbacks, agent_user):
    make_endpoint(events=["ticket.created", "ticket.updated"])
    ticket = open_ticket()
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ticket_services.ticket_set_priority(ticket=ticket, priority="high", actor=Actor.agent(agent_user))
        ticket_services.ticket_assign(ticket=ticket, assignee=agent_user, actor=Actor.agent(agent_user))
        ticket_services.ticket_set_tags(ticket=ticket, names=["billing"], actor=Actor.agent(agent_user))
    assert [e["event"] for e in receiver.events] == ["ticket.created", "ticket.updated"]
    updated = receiver.events[1]["data"]
    # Assigning a new ticket also opens it: every change of the transaction, in order.
    assert updated["changes"] == [
        {"field": "priority", "from": "normal", "to": "high"},
        {"field": "status", "from": "new", "to": "open"},
        {"field": "assignee", "from": None, "to": agent_user.pk},
        {"field": "tags", "added": ["billing"], "removed": []},
    ]
    assert updated["ticket"]["priority"] == "high"
    assert updated["ticket"]["assignee"]["id"] == agent_user.pk
    assert updated["ticket"]["tags"] == ["billing"]


def test_an_internal_note_is_flagged(make_endpoint, receiver, open_ticket, django_capture_on_commit_callbacks, agent_user):
    make_endpoint(events=["message.created"])
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.message_add_note(ticket=ticket, author=agent_user, text="Customer is on the old plan.")
    message = receiver.events[0]["data"]["message"]
    assert message["direction"] == "note" and message["is_internal"] is True
    assert message["author"]["kind"] == "agent" and message["author"]["id"] == agent_user.pk
    assert message["text"] == "Customer is on the old plan."


def test_customer_updated_on_edit_merge_and_identity_move(make_endpoint, receiver, django_capture_on_commit_callbacks, agent_user):
    make_endpoint(events=["customer.updated"])
    ada = CustomerFactory(name="Ada")
    dup = CustomerFactory(name="Ada L.")
    identity = CustomerIdentityFactory(customer=dup, kind="telegram", address="4242")
    actor = Actor.agent(agent_user)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.customer_update(
            customer=ada, actor=actor, name="Ada Lovelace", organization=None, tier="vip", language="en",
            time_zone="", notes="", custom_attributes={},
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.customer_identity_move(identity=identity, target=ada, actor=actor)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.customer_merge(source=dup, target=ada, actor=actor)
    got = [(e["data"]["customer"]["id"], e["data"]["reason"]) for e in receiver.events]
    assert got == [(ada.pk, "updated"), (dup.pk, "identity_moved"), (ada.pk, "identity_moved"), (ada.pk, "merged")]
    edit = receiver.events[0]["data"]
    assert edit["changes"] == ["name", "tier", "language"]
    assert edit["customer"]["name"] == "Ada Lovelace" and edit["customer"]["tier"] == "vip"
    assert receiver.events[2]["data"]["customer"]["identities"] == [{"kind": "telegram", "address": "4242", "is_verified": False}]
    assert receiver.events[3]["data"]["merged_customer_id"] == dup.pk


def test_sla_breached_and_survey_answered(make_endpoint, receiver, open_ticket, django_capture_on_commit_callbacks):
    from tickets import events

    make_endpoint(events=["sla.breached", "survey.answered"])
    ticket = open_ticket()
    due = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        events.sla_breached(ticket, metric="first_response", due_at=due, policy_id=None)
        events.survey_answered(
            ticket, kind="csat", score=5, comment="Great", source="email", actor=SYSTEM, previous=None, response_id=7
        )
    breached, answered = receiver.events
    assert breached["event"] == "sla.breached"
    assert breached["data"]["sla"] == {"metric": "first_response", "due_at": due.isoformat(), "policy_id": None}
    assert answered["data"]["survey"] == {
        "kind": "csat", "score": 5, "comment": "Great", "source": "email", "previous": None, "response_id": 7,
    }
    assert answered["data"]["ticket"]["number"] == ticket.number


def test_a_rolled_back_change_sends_nothing(make_endpoint, receiver, db, django_capture_on_commit_callbacks):
    from django.db import transaction

    make_endpoint()
    channel = ChannelFactory(kind="email")
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                ticket_services.ticket_open(channel=channel, customer=customer, subject="x", actor=SYSTEM)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_payload_is_the_documented_envelope(make_endpoint, receiver, open_ticket):
    make_endpoint()
    open_ticket()
    body = json.loads(receiver.requests[0].body)
    assert list(body) == ["id", "event", "created_at", "data"]
    assert set(body["data"]["ticket"]) >= {
        "id", "number", "subject", "status", "priority", "channel", "customer", "organization", "team", "assignee",
        "tags", "language", "merged_into", "created_at", "updated_at", "first_response_at", "solved_at", "closed_at",
    }


def test_without_subscribers_events_cost_no_sql(db, open_ticket, make_endpoint, receiver):
    """The hot path: once warm, recording events reads nothing of webhooks, even when the
    recheck falls due (the shared copy of the subscriptions is in the cache, not SQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.webhooks import hooks

    open_ticket()  # warm: the subscriptions were read once
    hooks._state["checked_at"] = float("-inf")  # the per-process copy is due for a recheck
    with CaptureQueriesContext(connection) as captured:
        open_ticket()
    assert not [q for q in captured.captured_queries if "webhook" in q["sql"].lower()]
    assert not WebhookDelivery.objects.exists()

    # A new endpoint is heard at once in this process.
    make_endpoint()
    open_ticket()
    assert len(receiver.events) == 1


def test_old_finished_deliveries_are_pruned(make_endpoint, receiver, open_ticket):
    endpoint = make_endpoint()
    open_ticket()
    receiver.fail_next(429, {"Retry-After": "600"})
    open_ticket()
    old = timezone.now() - dt.timedelta(days=31)
    WebhookDelivery.objects.update(created_at=old)
    services.endpoint_send_test(endpoint=endpoint)  # recent, waiting
    assert tasks.prune_webhook_deliveries() == 1  # only the old succeeded one
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == ["failed", "pending"]
