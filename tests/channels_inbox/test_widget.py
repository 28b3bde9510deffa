"""The live-chat widget's server side, over a real websocket consumer and the test client.

The visitor's socket goes through the project's real ASGI application (so the widget's
own origin check, not the agents' AllowedHostsOriginValidator, decides); agents' ticket
pages through the agents' websocket routes. Embedded mode: in-memory layer and SQLite;
full mode: Redis pub/sub layer and PostgreSQL.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.core.cache import cache

from channels_inbox.models import Channel, InboundMessage, WidgetVisitor
from channels_inbox.widget import identity as identity_check
from channels_inbox.widget import realtime as widget_realtime
from helpdesk.asgi import application
from helpdesk.routing import websocket_urlpatterns
from metrics.surveys.models import SurveyResponse
from tests.factories import AgentFactory, ChannelFactory, CustomerIdentityFactory, TeamFactory, UserFactory
from tickets import presence, services
from tickets.events import Actor
from tickets.models import Customer, CustomerIdentity, Message, Ticket

# Sockets and worker threads see only committed data; plain HTTP tests roll back (faster).
sockets = pytest.mark.django_db(transaction=True)

ORIGIN = "https://shop.example"
SECRET = "widget-test-secret"
agent_sockets = URLRouter(websocket_urlpatterns)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_state():
    """Rate counters, signature replay marks and presence must not leak between tests."""
    cache.clear()
    presence._stores.clear()
    widget_realtime._stores.clear()
    yield
    cache.clear()


@pytest.fixture
def team(db):
    return TeamFactory(name="Support", slug="support")


@pytest.fixture
def agent(team):
    profile = AgentFactory(user=UserFactory(first_name="Maya", last_name="Lind", is_staff=True))
    profile.teams.set([team])
    return profile.user


@pytest.fixture
def chat(team):
    return ChannelFactory(
        kind="chat",
        name="Website chat",
        default_team=team,
        config={"widget": {"allowed_origins": [ORIGIN], "greeting": "Hello!"}},
        secrets={"identity_secret": SECRET},
    )


def _session(client, chat, origin: str = ORIGIN, **body):
    return client.post(
        f"/widget/{chat.public_key}/session", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin
    )


def _token(client, chat, **body) -> str:
    response = _session(client, chat, **body)
    assert response.status_code == 200, response.content
    return response.json()["visitor_token"]


def _post_frame(client, chat, token: str, frame: dict, origin: str = ORIGIN):
    return client.post(
        f"/widget/{chat.public_key}/messages",
        data=json.dumps(frame),
        content_type="application/json",
        HTTP_ORIGIN=origin,
        HTTP_X_VISITOR_TOKEN=token,
    )


async def _visitor_socket(chat, token: str, origin: str = ORIGIN) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(
        application, f"/ws/widget/{chat.public_key}/?token={token}", headers=[(b"origin", origin.encode())]
    )
    connected, code = await socket.connect(timeout=10)
    assert connected, code
    return socket


async def _until(socket: WebsocketCommunicator, kind: str, key: str = "type", timeout: float = 15) -> dict:
    """The next frame of this kind (others arrive in between: echoes, status, presence)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if frame.get(key) == kind:
            return frame


def _message(client_id: str | None = None, text: str = "Where is my order?") -> dict:
    return {"type": "message", "client_id": client_id or str(uuid.uuid4()), "text": text}


# --- Acknowledgement and resend -------------------------------------------------------


@sockets
def test_a_message_is_stored_then_acked_and_a_resend_is_acked_again_but_stored_once(client, chat, agent, settings):
    settings.PARLEY_WIDGET_MAX_MESSAGE_CHARS = 60
    token = _token(client, chat, name="Ada")
    client_id = str(uuid.uuid4())

    async def scenario():
        socket = await _visitor_socket(chat, token)
        status = await _until(socket, "status")
        await socket.send_json_to(_message(client_id, "Where is my order? https://shop.example/o/42 <b>now</b>"))
        first = await _until(socket, "ack")
        await socket.send_json_to(_message(client_id, "Where is my order? https://shop.example/o/42 <b>now</b>"))
        second = await _until(socket, "ack")
        await socket.send_json_to(_message("too-long", "x" * 61))
        too_long = await _until(socket, "error")
        await socket.disconnect()
        return status, first, second, too_long

    status, first, second, too_long = async_to_sync(scenario)()
    assert status == {"type": "status", "agents_available": True}
    assert too_long["code"] == "message_too_long" and too_long["client_id"] == "too-long"
    message = Message.objects.get()
    assert first["id"] == second["id"] == message.pk and first["client_id"] == client_id
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.PROCESSED and inbound.external_id.endswith(client_id)
    ticket = message.ticket
    assert ticket.channel == chat and ticket.customer.name == "Ada" and ticket.team.slug == "support"
    # Escaped, links clickable for agents; the plain text kept as typed.
    assert '<a href="https://shop.example/o/42"' in message.html and "&lt;b&gt;now" in message.html
    assert WidgetVisitor.objects.get().ticket == ticket


# --- Typing, read receipts, agent replies --------------------------------------------


@sockets
def test_typing_read_receipts_and_an_agent_reply_reach_the_other_side(client, chat, agent):
    token = _token(client, chat, name="Ada")

    async def scenario():
        visitor = await _visitor_socket(chat, token)
        await _until(visitor, "status")
        await visitor.send_json_to(_message("m1", "Hello"))
        ack = await _until(visitor, "ack")
        ticket = await Ticket.objects.aget()

        page = WebsocketCommunicator(agent_sockets, f"/ws/tickets/{ticket.number}/")
        page.scope["user"] = agent
        assert (await page.connect(timeout=10))[0]
        read = await _until(visitor, "read")  # the agent opened the ticket: the visitor sees it read

        await visitor.send_json_to({"type": "typing", "state": True})
        visitor_typing = await _until(page, "visitor.typing", key="kind")
        await page.send_json_to({"type": "replying", "replying": True})
        agent_typing = await _until(visitor, "typing")

        reply = await _reply(ticket, agent, "It ships today.")
        pushed = await _until(visitor, "message")
        while pushed["message"]["author"] != "agent":
            pushed = await _until(visitor, "message")
        await visitor.send_json_to({"type": "read", "up_to": pushed["message"]["id"]})
        await visitor.send_json_to({"type": "history"})  # handled in order: the read is applied first
        history = await _until(visitor, "history")
        await page.disconnect()
        await visitor.disconnect()
        return ack, read, visitor_typing, agent_typing, reply, pushed, history

    ack, read, visitor_typing, agent_typing, reply, pushed, history = async_to_sync(scenario)()
    assert read == {"type": "read", "up_to": ack["id"]}
    assert visitor_typing["state"] is True and visitor_typing["name"] == "Ada"
    assert agent_typing == {"type": "typing", "name": "Maya Lind", "state": True}
    assert pushed["message"]["text"] == "It ships today." and pushed["message"]["name"] == "Maya Lind"
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.READ
    assert [m["author"] for m in history["messages"]] == ["visitor", "agent"]
    assert history["messages"][0]["client_id"] == "m1"


def _set_availability(user, availability: str) -> None:
    user.agent.availability = availability
    user.agent.save()
    cache.clear()  # the widgets' cached "agents available"


async def _reply(ticket, agent, text):
    return await database_sync_to_async(services.message_reply)(ticket=ticket, author=agent, text=text)


# --- Uploads ---------------------------------------------------------------------------


def _upload(client, chat, token, name, data, content_type, client_id="f1"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/widget/{chat.public_key}/upload",
        data={"file": SimpleUploadedFile(name, data, content_type=content_type), "client_id": client_id, "text": "see"},
        HTTP_ORIGIN=ORIGIN,
        HTTP_X_VISITOR_TOKEN=token,
    )


@pytest.mark.django_db
def test_uploads_are_checked_for_size_and_type_and_stored_as_attachments(client, chat, settings):
    settings.PARLEY_WIDGET_MAX_UPLOAD_BYTES = 1000
    token = _token(client, chat)

    too_big = _upload(client, chat, token, "big.png", PNG + b"\x00" * 1000, "image/png")
    assert too_big.status_code == 413 and too_big.json()["code"] == "upload_too_large"
    html = _upload(client, chat, token, "page.html", b"<script>alert(1)</script>", "text/html")
    assert html.status_code == 415 and html.json()["code"] == "upload_type"
    fake = _upload(client, chat, token, "fake.png", b"<svg onload=alert(1)>", "image/png")
    assert fake.status_code == 415
    assert not InboundMessage.objects.exists()

    ok = _upload(client, chat, token, "../../shot.png", PNG, "image/png")
    assert ok.status_code == 200 and ok.json()["type"] == "ack"
    attachment = Message.objects.get(pk=ok.json()["id"]).attachments.get()
    assert attachment.filename == "shot.png" and attachment.content_type == "image/png" and attachment.file
    history = _session(client, chat, visitor_token=token).json()["history"]
    url = history[0]["attachments"][0]["url"]
    image = client.get(url)
    assert image.status_code == 200 and b"".join(image.streaming_content) == PNG
    assert client.get(url.replace("/files/", "/files/x")).status_code == 404


# --- Offline: email ---------------------------------------------------------------------


@sockets
def test_nobody_available_the_visitor_leaves_an_email_and_the_reply_goes_by_email(client, chat, agent, monkeypatch):
    monkeypatch.setattr(widget_realtime, "REFRESH_SECONDS", 0.2)
    ChannelFactory(kind="email", name="Support mailbox", inbound_address="support@parley.test")
    agent.agent.availability = "offline"
    agent.agent.save()
    someone = CustomerIdentityFactory(address="taken@example.com")
    token = _token(client, chat, name="Ada")

    async def scenario():
        socket = await _visitor_socket(chat, token)
        status = await _until(socket, "status")
        await socket.send_json_to({"type": "email", "email": "not an address"})
        bad = await _until(socket, "error")
        await socket.send_json_to({"type": "email", "email": "Ada@Example.com"})
        await _until(socket, "status")
        await socket.send_json_to(_message("m1", "Anyone there?"))
        await _until(socket, "ack")
        # An agent comes back: the open widget hears it without reconnecting.
        await database_sync_to_async(_set_availability)(agent, "available")
        back = await _until(socket, "status")
        await socket.disconnect()
        await database_sync_to_async(_set_availability)(agent, "offline")
        return status, bad, back

    status, bad, back = async_to_sync(scenario)()
    assert status["agents_available"] is False and bad["code"] == "invalid_email"
    assert back == {"type": "status", "agents_available": True}
    ticket = Ticket.objects.get()
    identity = CustomerIdentity.objects.get(kind="email", address="ada@example.com")
    assert identity.customer == ticket.customer and identity.is_verified is False

    reply = services.message_reply(ticket=ticket, author=agent, text="Sorry we missed you: it ships today.")
    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENT
    [email] = mail.outbox
    assert email.to == ["ada@example.com"] and f"[#{ticket.number}]" in email.subject
    assert reply.external_id and email.extra_headers["Message-ID"] == f"<{reply.external_id}>"

    # The customer answers the email: it threads back onto the chat's ticket.
    from channels_inbox import services as inbound_services
    from tests.emails import build_email

    mailbox = Channel.objects.get(kind="email")
    answer = build_email(sender="Ada <ada@example.com>", subject=f"Re: {email.subject}", in_reply_to=f"<{reply.external_id}>", body="Great, thanks!")
    inbound_services.inbound_store(channel=mailbox, raw=answer)
    assert Ticket.objects.count() == 1
    assert ticket.messages.filter(direction="inbound").last().text.startswith("Great, thanks!")

    # An address someone else already holds is never merged into this visitor's record.
    other = _token(client, chat)
    _post_frame(client, chat, other, {"type": "email", "email": "taken@example.com"})
    _post_frame(client, chat, other, _message("m2", "hello"))
    assert CustomerIdentity.objects.get(address="taken@example.com").customer == someone.customer
    assert Customer.objects.filter(identities__address="taken@example.com").count() == 1


# --- Identity verification ---------------------------------------------------------------


def _identity(user_id="u-1", email="grace@example.com", at=None, secret=SECRET):
    at = int(time.time()) if at is None else at
    return {"user_id": user_id, "email": email, "timestamp": at, "signature": identity_check.sign(secret, user_id=user_id, email=email, timestamp=at)}


@pytest.mark.django_db
def test_identity_verification_good_stale_replayed_wrong_and_required(client, chat):
    known = CustomerIdentityFactory(address="grace@example.com", is_verified=True)
    identity = _identity()
    response = _session(client, chat, identity=identity)
    assert response.status_code == 200
    token = response.json()["visitor_token"]
    visitor = WidgetVisitor.objects.get()
    assert visitor.is_verified and visitor.thread_key == "user:u-1"
    # The same visitor may present it again (a reload); another browser may not.
    assert _session(client, chat, visitor_token=token, identity=identity).status_code == 200
    replay = _session(client, chat, identity=identity)
    assert replay.status_code == 403 and replay.json()["code"] == "replayed_signature"

    stale = _session(client, chat, identity=_identity(user_id="u-2", at=int(time.time()) - 601))
    assert stale.status_code == 403 and stale.json()["code"] == "stale_signature"
    wrong = _session(client, chat, identity=_identity(user_id="u-3", secret="not-the-secret"))
    assert wrong.status_code == 403 and wrong.json()["code"] == "bad_signature"
    forged = dict(_identity(user_id="u-4"), user_id="u-5")
    assert _session(client, chat, identity=forged).json()["code"] == "bad_signature"

    # A verified chat attaches to the customer who holds that verified email.
    _post_frame(client, chat, token, _message("m1", "Invoice question"))
    assert Ticket.objects.get().customer == known.customer

    chat.config = {"widget": {"allowed_origins": [ORIGIN], "require_verification": True}}
    chat.save()
    required = _session(client, chat)
    assert required.status_code == 403 and required.json()["code"] == "verification_required"


# --- Origins, rate limits, other visitors -------------------------------------------------


@sockets
def test_origins_are_checked_on_the_websocket_and_over_http(client, chat):
    token = _token(client, chat)

    async def scenario():
        socket = WebsocketCommunicator(
            application, f"/ws/widget/{chat.public_key}/?token={token}", headers=[(b"origin", b"https://evil.example")]
        )
        return await socket.connect(timeout=10)

    assert async_to_sync(scenario)() == (False, 4403)
    refused = _session(client, chat, origin="https://evil.example")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert _post_frame(client, chat, token, _message(), origin="https://evil.example").status_code == 403
    preflight = client.options(f"/widget/{chat.public_key}/messages", HTTP_ORIGIN=ORIGIN)
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Visitor-Token" in preflight["Access-Control-Allow-Headers"]
    assert client.options(f"/widget/{chat.public_key}/messages", HTTP_ORIGIN="https://evil.example").status_code == 403

    # A channel that requires verification answers an unverified visitor's socket with an error.
    chat.config = {"widget": {"allowed_origins": [ORIGIN], "require_verification": True}}
    chat.save()
    from channels_inbox.widget.selectors import token_hash

    WidgetVisitor.objects.create(
        channel=chat, token_hash=token_hash("anonymous-token"), public_id="p" * 32, thread_key="visitor:p"
    )

    async def scenario():
        socket = await _visitor_socket(chat, "anonymous-token")
        error = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return error, closed

    error, closed = async_to_sync(scenario)()
    assert error["code"] == "verification_required" and closed == {"type": "websocket.close", "code": 4401}


@sockets
def test_rate_limit_per_visitor(client, chat, settings):
    settings.PARLEY_WIDGET_VISITOR_RATE = 2
    token = _token(client, chat)

    async def scenario():
        socket = await _visitor_socket(chat, token)
        frames = []
        for n in range(3):
            await socket.send_json_to(_message(f"m{n}", f"message {n}"))
            frames.append(await _until(socket, "error" if n == 2 else "ack"))
        await socket.disconnect()
        return frames

    assert async_to_sync(scenario)()[2] == {
        "type": "error",
        "code": "rate_limited",
        "detail": "You are sending messages too fast; wait a moment and try again.",
        "client_id": "m2",
    }
    over_http = _post_frame(client, chat, token, _message("m3"))
    assert over_http.status_code == 429 and over_http.json()["code"] == "rate_limited"
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_http_fallback_send_and_poll_and_a_visitor_reads_only_their_own_conversation(client, chat):
    ada, bob = _token(client, chat, name="Ada"), _token(client, chat, name="Bob")
    ack = _post_frame(client, chat, ada, _message("a1", "Ada's secret order 1234")).json()
    assert ack["type"] == "ack" and ack["id"]
    _post_frame(client, chat, bob, _message("a1", "Bob here"))  # the same client id: still Bob's own message
    assert Message.objects.count() == 2

    def poll(token, after=""):
        response = client.get(
            f"/widget/{chat.public_key}/events", {"after": after}, HTTP_ORIGIN=ORIGIN, HTTP_X_VISITOR_TOKEN=token
        )
        assert response.status_code == 200
        return [e["message"]["text"] for e in response.json()["events"] if e["type"] == "message"]

    assert poll(ada) == ["Ada's secret order 1234"]
    assert poll(bob) == ["Bob here"] and poll(bob, after="0") == ["Bob here"]
    assert poll(ada, after=str(ack["id"])) == []
    assert _session(client, chat, visitor_token=bob).json()["history"][0]["text"] == "Bob here"
    missing = client.get(f"/widget/{chat.public_key}/events", HTTP_ORIGIN=ORIGIN)
    assert missing.status_code == 401 and missing.json()["code"] == "unknown_visitor"
    other_chat = ChannelFactory(kind="chat", name="Other site chat")
    assert _post_frame(client, other_chat, ada, _message()).status_code == 401


# --- Solve and CSAT --------------------------------------------------------------------------


def _poll_types(client, chat, token) -> list[str]:
    response = client.get(f"/widget/{chat.public_key}/events", HTTP_ORIGIN=ORIGIN, HTTP_X_VISITOR_TOKEN=token)
    return [event["type"] for event in response.json()["events"]]


@sockets
def test_solving_asks_the_visitor_for_a_rating_which_is_stored(client, chat, agent):
    token = _token(client, chat, name="Ada")
    _post_frame(client, chat, token, _message("m1", "Help"))
    ticket = Ticket.objects.get()
    early = _post_frame(client, chat, token, {"type": "csat", "score": 5})
    assert early.json()["code"] == "not_solved"

    async def scenario():
        socket = await _visitor_socket(chat, token)
        await database_sync_to_async(services.ticket_change_status)(ticket=ticket, status="solved", actor=Actor.agent(agent))
        solved = await _until(socket, "solved")
        polled = await database_sync_to_async(_poll_types)(client, chat, token)
        await socket.send_json_to({"type": "csat", "score": 9})
        bad = await _until(socket, "error")
        await socket.send_json_to({"type": "csat", "score": 4, "comment": "Quick, thanks"})
        done = await _until(socket, "solved")
        await socket.disconnect()
        return solved, polled, bad, done

    solved, polled, bad, done = async_to_sync(scenario)()
    assert "solved" in polled and "solved" not in _poll_types(client, chat, token)  # asked until rated
    assert solved == {"type": "solved", "csat": True} and bad["code"] == "invalid_score"
    assert done == {"type": "solved", "csat": False}
    response = SurveyResponse.objects.get()
    assert (response.ticket, response.kind, response.score, response.comment, response.source) == (
        ticket, "csat", 4, "Quick, thanks", "widget"
    )


# --- Admin: the widget's settings and secret on the channel page ------------------------------


@pytest.mark.django_db
def test_admin_edits_the_chat_widget_settings_and_its_secret(client, chat):
    admin = AgentFactory(role="admin").user
    client.force_login(admin)
    page = client.get(f"/manage/channels/{chat.pk}/").content.decode()
    assert f"/widget/{chat.public_key}.js" in page and "identity_secret" in page and SECRET not in page

    bad = {"widget": {"position": "top", "allowed_origins": ["shop.example/path"], "require_verification": "yes"}}
    response = client.post(f"/manage/channels/{chat.pk}/", {"name": "Website chat", "is_active": "on", "config": json.dumps(bad)})
    text = response.content.decode()
    assert response.status_code == 200
    assert "widget.position" in text and "is not an origin" in text and "true or false" in text

    good = {"widget": {"color": "#112233", "allowed_origins": ["https://shop.example"], "require_verification": True}}
    response = client.post(
        f"/manage/channels/{chat.pk}/",
        {"name": "Website chat", "is_active": "on", "config": json.dumps(good), "new_secrets": '{"identity_secret": "rotated-secret"}'},
    )
    assert response.status_code == 302
    chat.refresh_from_db()
    assert chat.config["widget"]["color"] == "#112233" and chat.secrets["identity_secret"] == "rotated-secret"
    session = _session(client, chat, identity=_identity(secret="rotated-secret"))
    assert session.status_code == 200 and session.json()["config"]["color"] == "#112233"


@pytest.mark.django_db
def test_the_demo_data_has_an_active_chat_channel_whose_widget_any_site_may_open(client):
    from tickets.demo.writer import Writer

    writer = Writer()
    channels = writer.channels(teams=writer.teams())
    chat = channels["chat"]
    assert chat.is_active and chat.name == "Website chat" and chat.config["widget"]["allowed_origins"] == []
    response = _session(client, chat, origin="http://127.0.0.1:8000")
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"


@pytest.mark.django_db
def test_a_stored_message_whose_processing_was_lost_is_swept_and_a_resend_is_not_duplicated(client, chat):
    from channels_inbox import services as inbound_services
    from channels_inbox.adapters.chat import PAYLOAD_VERSION

    token = _token(client, chat, name="Ada")
    visitor = WidgetVisitor.objects.get()
    # The process died after storing the message, before processing it (and before the ack).
    payload = {
        "v": PAYLOAD_VERSION, "visitor": visitor.public_id, "thread_key": visitor.thread_key,
        "sender": {"address": f"visitor:{visitor.public_id}", "name": "Ada"}, "client_id": "lost", "text": "Hello?",
    }
    lost = inbound_services.inbound_store(channel=chat, payload=payload, external_id=f"{visitor.public_id}:lost", enqueue=False)
    # The widget, never acked, sends it again; later the stale-row sweep runs the lost row.
    ack = _post_frame(client, chat, token, _message("lost", "Hello?")).json()
    assert ack["type"] == "ack" and ack["id"] == Message.objects.get().pk
    assert inbound_services.inbound_process(inbound_id=lost.pk).status == InboundMessage.Status.DUPLICATE
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_agents_are_available_only_within_the_teams_business_hours(chat, agent, team):
    import datetime as dt

    from channels_inbox.widget.selectors import agents_available
    from tests.factories import BusinessHoursFactory, TeamRoutingFactory

    routing = TeamRoutingFactory(team=team, business_hours=BusinessHoursFactory(time_zone="UTC"))
    monday_noon, sunday_noon = (dt.datetime(2026, 11, d, 12, tzinfo=dt.timezone.utc) for d in (23, 22))
    assert agents_available(chat, now=monday_noon) is True
    assert agents_available(chat, now=sunday_noon) is False  # closed on weekends
    routing.business_hours = None  # round the clock
    routing.save()
    assert agents_available(chat, now=sunday_noon) is True
    agent.agent.availability = "away"
    agent.agent.save()
    assert agents_available(chat, now=monday_noon) is False
