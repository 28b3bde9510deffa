"""The generic API channel: HMAC-SHA256 signatures with a timestamp, messages to tickets,
verified-email linking, replies to the integrator's endpoint (signed), retries."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from channels_inbox.adapters.api import sign
from channels_inbox.models import InboundMessage
from tests.channels_inbox.standin import Answer, StandIn, run
from tests.factories import ChannelFactory
from tickets import services as ticket_services
from tickets.models import Attachment, Customer, Message, Ticket

SECRET = "whsec_9f8e7d6c5b4a"


class Integrator(StandIn):
    """The other system: takes replies (checking our signature) and serves files."""

    def handle(self, request):
        if request.path == "/files/error.png":
            return Answer(200, {"Content-Type": "image/png"}, b"\x89PNG-bytes")
        if request.path == "/replies":
            timestamp = request.headers.get("x-parley-timestamp", "")
            if request.headers.get("x-parley-signature") != sign(SECRET, timestamp, request.body):
                return Answer(401, body={"error": "bad signature"})
            return Answer(200, body={"id": "ext-" + request.json()["id"]})
        return Answer(404, body="no")


@pytest.fixture
def integrator():
    yield from run(Integrator)


@pytest.fixture
def channel(db, integrator):
    # The stand-in listens on loopback, which only a channel allowing private hosts fetches from.
    return ChannelFactory(
        kind="api",
        name="CRM",
        config={"outbound_url": integrator.url + "/replies", "allow_private_media_hosts": True},
        secrets={"signing_secret": SECRET},
    )


@pytest.fixture
def hook(client, channel, django_capture_on_commit_callbacks):
    def post(item, *, timestamp=None, signature=None, headers=True):
        body = json.dumps(item).encode()
        timestamp = str(int(time.time())) if timestamp is None else timestamp
        extra = {}
        if headers:
            extra = {"HTTP_X_PARLEY_TIMESTAMP": timestamp, "HTTP_X_PARLEY_SIGNATURE": signature or sign(SECRET, timestamp, body)}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("channels_inbox:hook_api", kwargs={"channel_key": channel.public_key}),
                data=body, content_type="application/json", **extra,
            )

    return post


MESSAGE = {"id": "msg-1", "conversation_id": "case-1", "from": {"id": "u-1", "name": "Lin Wei"}, "text": "Hello"}


def test_a_signed_message_becomes_a_ticket(hook):
    assert hook(MESSAGE).status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.thread_key, ticket.messages.get().text) == ("case-1", "Hello")


@pytest.mark.parametrize("signature", ["sha256=" + "0" * 64, "sha256=", "md5=abc", sign("other", "1", b"{}")])
def test_a_wrong_signature_is_403_and_nothing_is_stored(hook, signature):
    assert hook(MESSAGE, signature=signature).status_code == 403
    assert not InboundMessage.objects.exists()


def test_missing_signature_headers_are_401(hook):
    assert hook(MESSAGE, headers=False).status_code == 401
    assert not InboundMessage.objects.exists()


def test_a_replayed_request_is_refused_when_old_and_a_no_op_when_fresh(hook):
    old = str(int(time.time()) - 3600)
    assert hook(MESSAGE, timestamp=old).status_code == 403
    assert hook(MESSAGE).status_code == 200
    assert hook(MESSAGE).status_code == 200
    assert Message.objects.count() == 1
    assert InboundMessage.objects.order_by("pk").last().status == InboundMessage.Status.DUPLICATE


def test_a_body_changed_after_signing_is_refused(client, channel):
    timestamp = str(int(time.time()))
    signature = sign(SECRET, timestamp, json.dumps(MESSAGE).encode())
    tampered = json.dumps({**MESSAGE, "text": "Transfer the money"}).encode()
    response = client.post(
        reverse("channels_inbox:hook_api", kwargs={"channel_key": channel.public_key}), data=tampered,
        content_type="application/json", HTTP_X_PARLEY_TIMESTAMP=timestamp, HTTP_X_PARLEY_SIGNATURE=signature,
    )
    assert response.status_code == 403


def test_a_verified_email_links_to_the_customer_and_an_unverified_one_does_not(hook, integrator):
    known = ticket_services.customer_identify(kind="email", address="lin.wei@example.com", is_verified=True)

    hook({**MESSAGE, "from": {"id": "u-9", "email": "someone@example.com", "email_verified": False}})
    hook({**MESSAGE, "id": "msg-2", "conversation_id": "case-2",
          "from": {"id": "u-1", "email": "Lin.Wei@example.com", "email_verified": True},
          "attachments": [{"url": integrator.url + "/files/error.png", "filename": "error.png", "content_type": "image/png"}]})

    linked = Ticket.objects.get(thread_key="case-2")
    assert linked.customer == known
    assert Ticket.objects.get(thread_key="case-1").customer != known
    assert Customer.objects.count() == 2
    attachment = Attachment.objects.get()
    assert attachment.file.read() == b"\x89PNG-bytes"


def test_a_reply_is_posted_signed_to_the_outbound_url(hook, integrator, agent_user, django_capture_on_commit_callbacks):
    hook(MESSAGE)
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.message_reply(ticket=ticket, author=agent_user, text="We are on it")
    reply.refresh_from_db()

    assert reply.delivery_status == "sent" and reply.external_id == f"ext-parley-{reply.pk}"
    [request] = integrator.requests
    assert request.json()["to"] == {"id": "u-1"} and request.json()["conversation_id"] == "case-1"
    assert request.json()["text"] == "We are on it"


def test_statuses_and_edits_update_messages(hook, agent_user, integrator, django_capture_on_commit_callbacks):
    hook(MESSAGE)
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.message_reply(ticket=ticket, author=agent_user, text="Fixed")
    reply.refresh_from_db()

    hook({"type": "status", "message_id": reply.external_id, "status": "read"})
    hook({"type": "status", "message_id": reply.external_id, "status": "delivered"})  # late: read stays
    hook({"type": "edit", "id": "msg-1", "from": {"id": "u-1"}, "text": "Hello again"})
    hook({"type": "delete", "id": "msg-1", "from": {"id": "u-1"}})

    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    inbound = ticket.messages.get(direction="inbound")
    assert inbound.text == "Hello again" and inbound.edited_at and inbound.deleted_at


def test_a_reply_without_an_outbound_url_fails_visibly(hook, channel, agent_user, django_capture_on_commit_callbacks):
    channel.config = {}
    channel.save()
    hook(MESSAGE)
    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.message_reply(ticket=Ticket.objects.get(), author=agent_user, text="Hi")
    reply.refresh_from_db()
    assert reply.delivery_status == "failed" and "outbound_url" in reply.delivery_error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/admin/",
        "http://[::1]/",
        "http://10.1.2.3/files/a.png",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "ftp://198.51.100.7/a.png",
        "http:///no-host",
    ],
)
def test_attachment_urls_on_private_or_odd_addresses_are_refused(url):
    from channels_inbox.exceptions import PermanentChannelError
    from channels_inbox.social.http import check_public_url

    with pytest.raises(PermanentChannelError, match="Refused to fetch"):
        check_public_url(url)


def test_a_sender_cannot_make_parley_fetch_an_internal_address(hook, channel, integrator):
    """SSRF: a signed payload naming a loopback URL gets its attachment listed, never fetched."""
    channel.config = {**channel.config, "allow_private_media_hosts": False}
    channel.save(update_fields=["config"])
    hook({**MESSAGE, "attachments": [{"url": integrator.url + "/files/error.png", "filename": "error.png", "content_type": "image/png"}]})

    attachment = Attachment.objects.get()
    assert attachment.filename == "error.png" and not attachment.file  # shown by name, not fetched
    assert not [r for r in integrator.requests if r.path.startswith("/files/")]
    assert Ticket.objects.get(thread_key="case-1").messages.count() == 1  # the message itself is kept
