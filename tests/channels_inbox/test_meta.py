"""WhatsApp Cloud API, Messenger and Instagram: Meta's handshake and X-Hub-Signature-256,
payloads to tickets, statuses, echoes, media, the 24-hour window and templates, replies
through a local Graph API stand-in."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_inbox.adapters.meta import WhatsAppAdapter
from channels_inbox.exceptions import TransientChannelError
from channels_inbox.models import InboundMessage
from channels_inbox.selectors import reply_constraints
from tests.channels_inbox.platforms import GRAPH_TOKEN, PHONE_NUMBER_ID
from tests.factories import ChannelFactory
from tickets import services as ticket_services
from tickets.models import Attachment, Customer, CustomerIdentity, Message, Ticket

PAYLOADS = Path(__file__).parent / "payloads"
APP_SECRET = "meta-app-secret-4f3e2d1c"
VERIFY = "verify-me-please"


def payload(kind: str, name: str) -> bytes:
    return (PAYLOADS / kind / name).read_bytes()


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def make_channel(kind, graph_api, **config):
    return ChannelFactory(
        kind=kind, name=kind,
        config={"api_base": graph_api.url, **({"phone_number_id": PHONE_NUMBER_ID} if kind == "whatsapp" else {"page_id": "112233445566778"}), **config},
        secrets={"app_secret": APP_SECRET, "access_token": GRAPH_TOKEN, "verify_token": VERIFY},
    )


@pytest.fixture
def whatsapp(db, graph_api):
    return make_channel("whatsapp", graph_api)


@pytest.fixture
def messenger(db, graph_api):
    return make_channel("messenger", graph_api)


@pytest.fixture
def instagram(db, graph_api):
    return make_channel("instagram", graph_api)


@pytest.fixture
def hook(client, django_capture_on_commit_callbacks):
    def post(channel, body: bytes, *, sig: str | None = "good"):
        headers = {}
        if sig is not None:
            headers["HTTP_X_HUB_SIGNATURE_256"] = signature(body) if sig == "good" else sig
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse(f"channels_inbox:hook_{channel.kind}", kwargs={"channel_key": channel.public_key}),
                data=body, content_type="application/json", **headers,
            )

    return post


# --- handshake and signatures ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
def test_the_verification_handshake_echoes_the_challenge_only_with_the_verify_token(db, client, graph_api, kind):
    channel = make_channel(kind, graph_api)
    url = reverse(f"channels_inbox:hook_{kind}", kwargs={"channel_key": channel.public_key})

    ok = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}).status_code == 403
    assert client.get(url, {"hub.mode": "subscribe", "hub.challenge": "1"}).status_code == 403
    assert client.get(url, {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY}).status_code == 403


@pytest.mark.parametrize(("kind", "name"), [("whatsapp", "text.json"), ("messenger", "text.json"), ("instagram", "text.json")])
def test_signed_deliveries_become_tickets_and_replays_create_nothing_twice(db, hook, graph_api, kind, name):
    channel = make_channel(kind, graph_api)
    assert hook(channel, payload(kind, name)).status_code == 200
    assert hook(channel, payload(kind, name)).status_code == 200

    assert Ticket.objects.count() == 1 and Message.objects.count() == 1
    assert list(InboundMessage.objects.order_by("pk").values_list("status", flat=True)) == ["processed", "duplicate"]


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
@pytest.mark.parametrize(
    ("sig", "status"),
    [(None, 401), ("sha256=" + "0" * 64, 403), ("sha1=abc", 403), ("sha256=", 403), ("wrong-secret", 403)],
)
def test_bad_or_missing_signatures_store_nothing(db, hook, graph_api, kind, sig, status):
    channel = make_channel(kind, graph_api)
    body = payload(kind, "text.json")
    if sig == "wrong-secret":
        sig = signature(body, "another-secret")
    assert hook(channel, body, sig=sig).status_code == status
    assert not InboundMessage.objects.exists()


def test_a_signature_over_a_different_body_is_refused(hook, whatsapp):
    body = payload("whatsapp", "text.json")
    assert hook(whatsapp, body.replace(b"size M", b"size L"), sig=signature(body)).status_code == 403


# --- WhatsApp ---------------------------------------------------------------------------------


def test_whatsapp_text_identifies_the_customer_by_their_verified_number(hook, whatsapp):
    known = ticket_services.customer_identify(kind="phone", address="+16505551234", display_name="Sheena N.", is_verified=True)

    hook(whatsapp, payload("whatsapp", "text.json"))

    ticket = Ticket.objects.get()
    assert ticket.customer == known and ticket.thread_key == "16505551234"
    identity = CustomerIdentity.objects.get(kind="whatsapp")
    assert (identity.address, identity.is_verified, identity.customer) == ("+16505551234", True, known)
    assert Customer.objects.count() == 1


def test_whatsapp_media_is_fetched_with_the_token(hook, whatsapp, graph_api):
    hook(whatsapp, payload("whatsapp", "image.json"))

    attachment = Attachment.objects.get()
    assert attachment.file.read().startswith(b"\x89PNG") and attachment.message.text == "This is what arrived"
    assert [r.path for r in graph_api.requests] == ["/v21.0/1003383421387256", "/media-bytes/1003383421387256"]
    assert all(r.headers["authorization"] == f"Bearer {GRAPH_TOKEN}" for r in graph_api.requests)


def test_whatsapp_location_contacts_buttons_and_unknown_types(hook, whatsapp):
    for name in ("location.json", "contacts.json", "reply-button.json", "unsupported.json", "reaction.json"):
        hook(whatsapp, payload("whatsapp", name))

    location, contacts, button, unknown = Message.objects.order_by("pk")
    assert location.content["type"] == "location" and location.content["name"] == "Philz Coffee"
    assert contacts.content["contacts"][0] == {"name": "Barbara Johnson", "phones": ["+1 (940) 555-1234"], "emails": ["bjohnson@example.com"]}
    assert button.content == {"type": "button", "text": "Track my order", "payload": "TRACK_5521"}
    assert unknown.content["type"] == "unsupported" and "unsupported" in unknown.text
    assert InboundMessage.objects.order_by("pk").last().status == "ignored"  # the reaction


@pytest.fixture
def wa_ticket(hook, whatsapp):
    hook(whatsapp, payload("whatsapp", "text.json"))
    return Ticket.objects.get()


def send(ticket, agent_user, capture, **kwargs):
    with capture(execute=True):
        if "template" in kwargs:
            message = ticket_services.message_send_template(ticket=ticket, author=agent_user, **kwargs["template"])
        else:
            message = ticket_services.message_reply(ticket=ticket, author=agent_user, text=kwargs.get("text", "Yes, size M is in stock."))
    message.refresh_from_db()
    return message


def test_whatsapp_reply_statuses_delivered_read_and_failed(hook, whatsapp, wa_ticket, agent_user, graph_api, django_capture_on_commit_callbacks):
    reply = send(wa_ticket, agent_user, django_capture_on_commit_callbacks)
    assert reply.delivery_status == "sent" and reply.external_id == "wamid.SENT1"
    body = graph_api.requests[-1].json()
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                    "type": "text", "text": {"preview_url": False, "body": "Yes, size M is in stock."}}

    def status(name):
        hook(whatsapp, payload("whatsapp", name).replace(b"wamid.OURREPLY", reply.external_id.encode()))
        reply.refresh_from_db()
        return reply.delivery_status

    assert status("status-delivered.json") == "delivered"
    assert status("status-read.json") == "read"
    assert status("status-delivered.json") == "read"  # late receipt: no step back
    assert status("status-failed.json") == "failed"
    assert "Message undeliverable (131026)" in reply.delivery_error


def test_the_24_hour_window_is_shown_and_enforced_and_templates_go_out(wa_ticket, agent_user, graph_api, django_capture_on_commit_callbacks):
    open_now = reply_constraints(ticket=wa_ticket)
    assert open_now.free_form_allowed and open_now.window_closes_at > timezone.now() + dt.timedelta(hours=23)

    Message.objects.filter(ticket=wa_ticket, direction="inbound").update(created_at=timezone.now() - dt.timedelta(hours=25))
    closed = reply_constraints(ticket=wa_ticket)
    assert not closed.free_form_allowed and closed.template_required
    assert "only an approved template" in closed.reason

    refused = send(wa_ticket, agent_user, django_capture_on_commit_callbacks, text="Still there?")
    assert refused.delivery_status == "failed" and "24 hours" in refused.delivery_error
    assert not graph_api.requests  # nothing was sent

    template = send(wa_ticket, agent_user, django_capture_on_commit_callbacks,
                    template={"name": "order_update", "language": "en_US", "parameters": ["5521", "Friday"]})
    assert template.delivery_status == "sent"
    assert graph_api.requests[-1].json()["template"] == {
        "name": "order_update", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "5521"}, {"type": "text", "text": "Friday"}]}],
    }


def test_the_channel_notice_on_the_ticket_page_shows_the_window(wa_ticket):
    from django.template.loader import render_to_string

    html = render_to_string("tickets/ticket/_channel_notice.html", {"ticket": wa_ticket})
    assert "free-form replies until" in html
    Message.objects.filter(ticket=wa_ticket, direction="inbound").update(created_at=timezone.now() - dt.timedelta(days=2))
    html = render_to_string("tickets/ticket/_channel_notice.html", {"ticket": wa_ticket})
    assert "only an approved template" in html and 'role="alert"' in html


def test_whatsapp_rate_limits_and_server_errors_are_transient(wa_ticket, graph_api):
    message = Message.objects.create(ticket=wa_ticket, channel=wa_ticket.channel, direction="outbound", author_kind="agent",
                                     text="hi", created_at=timezone.now())
    graph_api.fail_next(400, {}, {"error": {"message": "(#130429) Rate limit hit", "code": 130429}})
    with pytest.raises(TransientChannelError) as caught:
        WhatsAppAdapter().send(message)
    assert caught.value.retry_after == 60.0

    graph_api.fail_next(429, {"Retry-After": "12"}, {"error": {"message": "Too many calls", "code": 80007}})
    with pytest.raises(TransientChannelError) as caught:
        WhatsAppAdapter().send(message)
    assert caught.value.retry_after == 12.0

    graph_api.fail_next(503, {}, "Service Unavailable")
    with pytest.raises(TransientChannelError):
        WhatsAppAdapter().send(message)


def test_a_wrong_token_fails_permanently_and_visibly(wa_ticket, agent_user, graph_api, django_capture_on_commit_callbacks):
    channel = wa_ticket.channel
    channel.secrets = {**channel.secrets, "access_token": "expired"}
    channel.save()

    reply = send(wa_ticket, agent_user, django_capture_on_commit_callbacks)

    assert reply.delivery_status == "failed" and "Invalid OAuth access token" in reply.delivery_error
    assert len(graph_api.requests) == 1


def test_whatsapp_attachments_are_uploaded_then_sent(wa_ticket, graph_api):
    from django.core.files.base import ContentFile

    message = Message.objects.create(ticket=wa_ticket, channel=wa_ticket.channel, direction="outbound", author_kind="agent",
                                     text="Your label", delivery_status="queued", created_at=timezone.now())
    attachment = Attachment(message=message, filename="label.pdf", size=9, content_type="application/pdf", sha256="cd" * 32)
    attachment.file.save("label", ContentFile(b"%PDF-1.4\n"), save=True)

    WhatsAppAdapter().send(message)

    upload, text, document = graph_api.requests
    assert text.json()["text"]["body"] == "Your label"
    assert upload.path == f"/v21.0/{PHONE_NUMBER_ID}/media" and upload.multipart()["file"] == ("label.pdf", b"%PDF-1.4\n")
    assert document.json()["document"] == {"id": "MEDIA1", "filename": "label.pdf"}


def test_whatsapp_connection_test(whatsapp, graph_api):
    from channels_inbox.services import channel_test_connection

    assert channel_test_connection(channel=whatsapp) == "Connected to WhatsApp number +1 555-078-3881 (Acme Support)."


# --- Messenger and Instagram -----------------------------------------------------------------


def test_messenger_echoes_are_ignored_and_edits_applied(hook, messenger):
    hook(messenger, payload("messenger", "text.json"))
    hook(messenger, payload("messenger", "echo.json"))
    hook(messenger, payload("messenger", "edit.json"))

    message = Message.objects.get()
    assert message.text == "Hi! Is the store open on Saturday?" and message.edited_at
    echo = InboundMessage.objects.order_by("pk")[1]
    assert echo.status == "ignored" and "echo" in echo.error


def test_messenger_reply_delivery_and_media(hook, messenger, agent_user, graph_api, django_capture_on_commit_callbacks):
    hook(messenger, payload("messenger", "text.json"))
    ticket = Ticket.objects.get()
    reply = send(ticket, agent_user, django_capture_on_commit_callbacks, text="Yes, 10 to 4.")
    assert graph_api.requests[-1].json() == {"recipient": {"id": "6543210987654321"}, "messaging_type": "RESPONSE", "message": {"text": "Yes, 10 to 4."}}

    hook(messenger, payload("messenger", "delivery.json").replace(b"m_OURREPLY", reply.external_id.encode()))
    reply.refresh_from_db()
    assert reply.delivery_status == "delivered"


def test_messenger_after_24_hours_uses_the_human_agent_tag_when_granted(hook, messenger, agent_user, graph_api, django_capture_on_commit_callbacks):
    hook(messenger, payload("messenger", "text.json"))
    ticket = Ticket.objects.get()
    Message.objects.filter(direction="inbound").update(created_at=timezone.now() - dt.timedelta(hours=30))

    refused = send(ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")
    assert refused.delivery_status == "failed" and "24 hours" in refused.delivery_error

    messenger.config = {**messenger.config, "human_agent_tag": True}
    messenger.save()
    ticket.refresh_from_db()
    sent = send(ticket, agent_user, django_capture_on_commit_callbacks, text="Hello?")
    assert sent.delivery_status == "sent"
    assert graph_api.requests[-1].json()["tag"] == "HUMAN_AGENT"


def test_instagram_deletion_story_mention_and_read(hook, instagram, agent_user, django_capture_on_commit_callbacks):
    hook(instagram, payload("instagram", "text.json"))
    hook(instagram, payload("instagram", "story-mention.json"))
    hook(instagram, payload("instagram", "deleted.json"))
    ticket = Ticket.objects.get()
    reply = send(ticket, agent_user, django_capture_on_commit_callbacks, text="Yes we do!")
    hook(instagram, payload("instagram", "read.json").replace(b"aWdfOURREPLY", reply.external_id.encode()))

    first, story = ticket.messages.filter(direction="inbound").order_by("pk")
    assert first.deleted_at is not None
    assert story.content["shape"] == "story_mention"
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    assert json.dumps(story.content)


# --- files sent by URL (Instagram) ----------------------------------------------------------


def _outbound_with_files(ticket, files):
    from django.core.files.base import ContentFile

    message = Message.objects.create(ticket=ticket, channel=ticket.channel, direction="outbound", author_kind="agent",
                                     text="Here you go", delivery_status="queued", created_at=timezone.now())
    for name, content_type, data in files:
        attachment = Attachment(message=message, filename=name, size=len(data), content_type=content_type, sha256="ab" * 32)
        attachment.file.save(name, ContentFile(data), save=True)
    return message


def test_instagram_sends_files_as_signed_links_the_platform_can_fetch(hook, instagram, graph_api, client, settings):
    from urllib.parse import urlsplit

    from channels_inbox.adapters.meta import InstagramAdapter

    settings.PARLEY_PUBLIC_URL = "https://help.example.com"
    hook(instagram, payload("instagram", "text.json"))
    ticket = Ticket.objects.get()
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    message = _outbound_with_files(ticket, [("photo.png", "image/png", png), ("invoice.pdf", "application/pdf", b"%PDF-1.4\n"),
                                            ("notes.zip", "application/zip", b"PK\x03\x04")])

    result = InstagramAdapter().send(message)

    text, image, pdf = graph_api.requests
    assert text.json()["message"] == {"text": "Here you go"}
    assert image.json()["message"]["attachment"]["type"] == "image"
    assert pdf.json()["message"]["attachment"]["type"] == "file"
    assert "notes.zip" in result.detail and "photo.png" not in result.detail
    image_url = image.json()["message"]["attachment"]["payload"]["url"]
    assert image_url.startswith("https://help.example.com/files/")
    # What Instagram would fetch: the bytes, an image inline, the PDF only as a download.
    fetched = client.get(urlsplit(image_url).path)
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == png
    assert fetched["Content-Type"] == "image/png"
    fetched_pdf = client.get(urlsplit(pdf.json()["message"]["attachment"]["payload"]["url"]).path)
    assert fetched_pdf["Content-Type"] == "application/octet-stream" and "attachment" in fetched_pdf["Content-Disposition"]


def test_public_file_links_refuse_tampering_expiry_and_never_serve_html_inline(hook, instagram, client, settings):
    from urllib.parse import urlsplit

    from channels_inbox.public_media import public_media_url

    hook(instagram, payload("instagram", "text.json"))
    message = _outbound_with_files(Ticket.objects.get(), [("page.html", "text/html", b"<script>alert(1)</script>"),
                                                          ("pic.svg", "image/svg+xml", b"<svg onload=alert(1)></svg>")])
    html, svg = message.attachments.order_by("pk")
    path = urlsplit(public_media_url(html)).path

    served = client.get(path)
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream" and served["Content-Disposition"].startswith("attachment")
    assert "sandbox" in served["Content-Security-Policy"] and served["X-Content-Type-Options"] == "nosniff"
    assert client.get(urlsplit(public_media_url(svg)).path)["Content-Type"] == "application/octet-stream"

    token = path.split("/")[2]
    assert client.get(path.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))).status_code == 404
    assert client.post(path).status_code == 405
    settings.PARLEY_PUBLIC_MEDIA_MAX_AGE = -1  # every link already expired
    assert client.get(path).status_code == 404


def test_messenger_watermark_read_receipts_mark_every_earlier_reply_read(hook, messenger, agent_user, graph_api, django_capture_on_commit_callbacks):
    hook(messenger, payload("messenger", "text.json"))
    ticket = Ticket.objects.get()
    first = send(ticket, agent_user, django_capture_on_commit_callbacks, text="One")
    second = send(ticket, agent_user, django_capture_on_commit_callbacks, text="Two")
    later = send(ticket, agent_user, django_capture_on_commit_callbacks, text="Three")
    Message.objects.filter(pk=later.pk).update(sent_at=timezone.now() + dt.timedelta(hours=1))
    watermark = str(int(timezone.now().timestamp() * 1000)).encode()

    hook(messenger, payload("messenger", "read.json").replace(b"1732356230000", watermark))

    statuses = dict(Message.objects.filter(pk__in=[first.pk, second.pk, later.pk]).values_list("pk", "delivery_status"))
    assert statuses == {first.pk: "read", second.pk: "read", later.pk: "sent"}
    assert InboundMessage.objects.order_by("pk").last().outcome == "updated"


def test_agents_pick_an_approved_template_on_the_ticket_page_when_the_window_closed(wa_ticket, agent_client, graph_api, django_capture_on_commit_callbacks):
    channel = wa_ticket.channel
    channel.config = {**channel.config, "templates": [{"name": "order_update", "language": "en_US", "parameters": 2, "label": "Order update"},
                                                      {"bogus": True}]}
    channel.save(update_fields=["config"])
    Message.objects.filter(ticket=wa_ticket, direction="inbound").update(created_at=timezone.now() - dt.timedelta(days=2))
    url = reverse("tickets:detail", kwargs={"number": wa_ticket.number})

    page = agent_client.get(url).content.decode()
    assert 'value="order_update|en_US"' in page and "Order update (en_US, 2 parameters)" in page

    refused = agent_client.post(reverse("tickets:send_template", kwargs={"number": wa_ticket.number}), {"parameters": "x"}, follow=True)
    assert "Choose a template" in refused.content.decode()
    assert not graph_api.requests

    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(reverse("tickets:send_template", kwargs={"number": wa_ticket.number}),
                          {"template": "order_update|en_US", "parameters": "5521\n\nFriday\n"})
    sent = graph_api.requests[-1].json()["template"]
    assert sent["name"] == "order_update" and sent["language"] == {"code": "en_US"}
    assert [p["text"] for p in sent["components"][0]["parameters"]] == ["5521", "Friday"]
    assert Message.objects.filter(ticket=wa_ticket, direction="outbound").get().delivery_status == "sent"
