"""Telegram end to end: the secret-token check, updates to tickets, media fetched on a task,
replies through the Bot API (checked by a local stand-in), retries and the connection test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from channels_inbox import services as inbound_services
from channels_inbox.adapters.telegram import TelegramAdapter
from channels_inbox.exceptions import PermanentChannelError, TransientChannelError
from channels_inbox.models import InboundMessage
from tests.channels_inbox.platforms import TELEGRAM_TOKEN
from tests.factories import ChannelFactory
from tickets import services as ticket_services
from tickets.models import Attachment, Customer, CustomerIdentity, Message, Ticket

PAYLOADS = Path(__file__).parent / "payloads" / "telegram"
SECRET = "s3cr3t-token_for-webhook"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.fixture
def channel(db, telegram_api):
    return ChannelFactory(
        kind="telegram",
        name="Telegram bot",
        config={"api_base": telegram_api.url},
        secrets={"bot_token": TELEGRAM_TOKEN, "webhook_secret": SECRET},
    )


@pytest.fixture
def hook(client, channel, django_capture_on_commit_callbacks):
    def post(body: bytes, *, token: str | None = SECRET):
        headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": token} if token is not None else {}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("channels_inbox:hook_telegram", kwargs={"channel_key": channel.public_key}),
                data=body, content_type="application/json", **headers,
            )

    return post


# --- signatures -----------------------------------------------------------------------------


def test_a_valid_secret_token_is_stored_and_becomes_a_ticket(hook, channel):
    response = hook(payload("text.json"))

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.external_id, inbound.source) == (channel, "810000101", "hook:telegram")
    assert inbound.status == InboundMessage.Status.PROCESSED
    ticket = Ticket.objects.get()
    assert ticket.channel == channel and ticket.thread_key == "583920117"
    assert ticket.subject == "Dobrý den, my order #5521 has not arrived yet. Can you check?"
    message = ticket.messages.get()
    assert message.external_id == "583920117:4021"
    identity = CustomerIdentity.objects.get(kind="telegram")
    assert (identity.address, identity.customer.name) == ("583920117", "Jana Novák")


@pytest.mark.parametrize("token", ["wrong", SECRET + "x", SECRET[:-1], ""])
def test_a_wrong_secret_token_is_refused_and_nothing_is_stored(hook, token):
    response = hook(payload("text.json"), token=token)

    assert response.status_code in (401, 403)
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def test_a_missing_secret_token_is_401(hook):
    response = hook(payload("text.json"), token=None)

    assert response.status_code == 401
    assert not InboundMessage.objects.exists()


def test_a_channel_without_a_webhook_secret_accepts_nothing(hook, channel):
    channel.secrets = {"bot_token": TELEGRAM_TOKEN}
    channel.save()

    assert hook(payload("text.json"), token="").status_code == 401
    assert hook(payload("text.json"), token="anything").status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_replayed_update_creates_nothing_twice(hook):
    assert hook(payload("text.json")).status_code == 200
    assert hook(payload("text.json")).status_code == 200

    assert Ticket.objects.count() == 1 and Message.objects.count() == 1
    assert list(InboundMessage.objects.order_by("pk").values_list("status", flat=True)) == ["processed", "duplicate"]


def test_unknown_key_inactive_channel_and_oversize_body(client, hook, channel, settings):
    url = reverse("channels_inbox:hook_telegram", kwargs={"channel_key": "nope"})
    assert client.post(url, data=b"{}", content_type="application/json").status_code == 404
    settings.PARLEY_MAX_WEBHOOK_BYTES = 100
    assert hook(payload("text.json")).status_code == 413
    settings.PARLEY_MAX_WEBHOOK_BYTES = 1024 * 1024
    channel.is_active = False
    channel.save()
    assert hook(payload("text.json")).status_code == 404
    assert not InboundMessage.objects.exists()


def test_get_is_not_allowed_for_telegram(client, channel):
    url = reverse("channels_inbox:hook_telegram", kwargs={"channel_key": channel.public_key})
    assert client.get(url).status_code == 405


def test_a_body_that_is_not_json_is_stored_and_quarantined_not_an_error_page(hook):
    response = hook(b"this is not json")

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert inbound.payload == {"unreadable_body": "this is not json"} and bytes(inbound.raw) == b"this is not json"
    assert inbound.status == InboundMessage.Status.QUARANTINED


# --- payload shapes end to end --------------------------------------------------------------


def test_a_conversation_threads_on_the_chat_and_media_is_downloaded(hook, telegram_api):
    hook(payload("text.json"))
    hook(payload("photo-with-caption.json"))

    ticket = Ticket.objects.get()
    photo_message = ticket.messages.order_by("pk").last()
    assert photo_message.text == "The box was crushed like this"
    attachment = photo_message.attachments.get()
    assert attachment.file and attachment.sha256
    assert attachment.file.read().startswith(b"\x89PNG")
    assert attachment.remote_url == "telegram-file:AgACAgIAAxkBAAIBQ2ZlargeAAA"
    assert attachment.content_type == "image/jpeg"
    # getFile, then the file itself, both with the bot token in the path
    paths = [r.path for r in telegram_api.requests]
    assert paths == [f"/bot{TELEGRAM_TOKEN}/getFile", f"/file/bot{TELEGRAM_TOKEN}/photos/file_7.jpg"]


def test_media_over_the_size_limit_is_recorded_as_oversize(hook, settings):
    settings.PARLEY_MAX_ATTACHMENT_BYTES = 50
    hook(payload("photo-with-caption.json"))

    attachment = Attachment.objects.get()
    assert attachment.is_oversize and not attachment.file
    assert attachment.size == 128


def test_media_the_platform_cannot_find_stays_listed_by_name(hook):
    hook(payload("document.json"))  # the stand-in does not know this file id

    attachment = Attachment.objects.get()
    assert attachment.filename == "faktura-2024-117.pdf" and not attachment.file
    assert attachment.remote_url.startswith("telegram-file:")


def test_location_and_contacts_are_structured_content(hook):
    hook(payload("venue.json"))
    hook(payload("contact-other.json"))

    venue, contact = Message.objects.order_by("pk")
    assert venue.content == {
        "type": "location", "latitude": 50.0833, "longitude": 14.4167,
        "name": "Parcel locker Národní", "address": "Národní 25, Praha 1",
    }
    assert venue.text.startswith("📍 Location: 50.0833, 14.4167")
    assert contact.content["contacts"] == [{"name": "Petr", "phones": ["+420 777 000 111"], "emails": []}]
    # someone else's number is not the customer's: no phone identity, no linking
    assert not CustomerIdentity.objects.filter(kind="phone").exists()


def test_an_edit_updates_the_text_and_keeps_the_original(hook):
    hook(payload("text.json"))
    hook(payload("edited-message.json"))
    hook(payload("edited-message.json"))  # redelivered

    message = Message.objects.get()
    assert message.text == "Dobrý den, my order #5512 has not arrived yet. Can you check?"
    assert message.edited_at is not None
    assert [e["previous_text"] for e in message.content["edits"]] == [
        "Dobrý den, my order #5521 has not arrived yet. Can you check?"
    ]
    assert InboundMessage.objects.order_by("pk").last().outcome == "updated"


def test_business_deletions_mark_the_messages(hook):
    hook(payload("text.json"))
    hook(payload("business-deleted.json"))

    message = Message.objects.get()
    assert message.deleted_at is not None and message.text  # the text stays for the record


def test_unknown_shapes_are_shown_and_bot_updates_ignored(hook):
    hook(payload("dice-unknown.json"))
    hook(payload("my-chat-member.json"))

    message = Message.objects.get()
    assert message.text == "[Telegram sent content Parley cannot show yet: dice]"
    assert message.content["raw"]["dice"] == {"emoji": "🎲", "value": 4}
    ignored = InboundMessage.objects.order_by("pk").last()
    assert ignored.status == InboundMessage.Status.IGNORED
    assert "my_chat_member" in ignored.error


def test_a_shared_own_phone_number_links_to_the_customer_who_has_it_verified(hook):
    existing = ticket_services.customer_identify(kind="phone", address="+420601234567", display_name="Jana N.", is_verified=True)

    hook(payload("contact-own.json"))

    assert Customer.objects.count() == 1
    assert CustomerIdentity.objects.get(kind="telegram").customer == existing
    assert Ticket.objects.get().customer == existing


def test_an_unverified_phone_number_links_nobody(hook):
    ticket_services.customer_identify(kind="phone", address="+420601234567", is_verified=False)

    hook(payload("contact-own.json"))

    assert Customer.objects.count() == 2
    assert CustomerIdentity.objects.get(kind="telegram").customer != CustomerIdentity.objects.get(kind="phone").customer


# --- outbound ---------------------------------------------------------------------------------


@pytest.fixture
def ticket(hook):
    hook(payload("text.json"))
    return Ticket.objects.get()


def reply(ticket, agent_user, capture, text="Your parcel is on its way."):
    with capture(execute=True):
        message = ticket_services.message_reply(ticket=ticket, author=agent_user, text=text)
    message.refresh_from_db()
    return message


def test_a_reply_goes_out_through_send_message(ticket, agent_user, telegram_api, django_capture_on_commit_callbacks):
    message = reply(ticket, agent_user, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert message.external_id == "583920117:9001"
    [request] = telegram_api.requests
    assert request.path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
    assert request.json() == {"chat_id": "583920117", "text": "Your parcel is on its way."}


def test_a_long_reply_is_sent_in_parts(ticket, agent_user, telegram_api, django_capture_on_commit_callbacks):
    message = reply(ticket, agent_user, django_capture_on_commit_callbacks, text="x" * 5000)

    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert [len(r.json()["text"]) for r in telegram_api.requests] == [4096, 904]


def test_attachments_go_out_as_documents(ticket, agent_user, telegram_api):
    from django.core.files.base import ContentFile

    message = Message.objects.create(
        ticket=ticket, channel=ticket.channel, direction="outbound", author_kind="agent", text="Label attached",
        delivery_status="queued", created_at=ticket.created_at,
    )
    attachment = Attachment(message=message, filename="label.pdf", size=9, content_type="application/pdf", sha256="ab" * 32)
    attachment.file.save("label", ContentFile(b"%PDF-1.4\n"), save=True)

    result = TelegramAdapter().send(message)

    text, document = telegram_api.requests
    assert text.json()["text"] == "Label attached"
    assert document.path.endswith("/sendDocument")
    parts = document.multipart()
    assert parts["chat_id"] == ("", b"583920117") and parts["document"] == ("label.pdf", b"%PDF-1.4\n")
    assert result.external_id == "583920117:9001"


def test_429_respects_retry_after_then_sends(ticket, agent_user, telegram_api, django_capture_on_commit_callbacks):
    telegram_api.fail_next(429, {"Retry-After": "7"}, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}})

    message = reply(ticket, agent_user, django_capture_on_commit_callbacks)

    assert message.delivery_status == Message.DeliveryStatus.SENT
    assert len(telegram_api.requests) == 2
    assert message.delivery_attempts == 1  # the refused attempt was recorded


def test_the_adapter_reports_the_wait_telegram_asks_for(ticket, telegram_api):
    telegram_api.fail_next(429, {}, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 31", "parameters": {"retry_after": 31}})
    message = Message(ticket=ticket, channel=ticket.channel, direction="outbound", text="hi")

    with pytest.raises(TransientChannelError) as caught:
        TelegramAdapter().send(message)
    assert caught.value.retry_after == 31


def test_server_errors_are_retried_and_the_last_failure_is_shown(ticket, agent_user, telegram_api, django_capture_on_commit_callbacks):
    for _ in range(3):
        telegram_api.fail_next(502, {}, "Bad Gateway")

    message = reply(ticket, agent_user, django_capture_on_commit_callbacks)

    assert len(telegram_api.requests) == 3
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    assert "502" in message.delivery_error
    assert ticket.messages.filter(direction="note", text__startswith="Delivery of a reply failed").exists()


def test_a_4xx_is_permanent_and_not_retried(ticket, agent_user, telegram_api, django_capture_on_commit_callbacks):
    Ticket.objects.filter(pk=ticket.pk).update(thread_key="404")

    message = reply(ticket, agent_user, django_capture_on_commit_callbacks)

    assert len(telegram_api.requests) == 1
    assert message.delivery_status == Message.DeliveryStatus.FAILED
    assert "chat not found" in message.delivery_error


def test_a_wrong_token_is_a_permanent_failure(ticket, telegram_api):
    ticket.channel.secrets = {"bot_token": "1:wrong", "webhook_secret": SECRET}
    ticket.channel.save()
    message = Message(ticket=ticket, channel=ticket.channel, direction="outbound", text="hi")

    with pytest.raises(PermanentChannelError, match="401"):
        TelegramAdapter().send(message)


def test_connection_test_asks_get_me(channel, telegram_api):
    assert inbound_services.channel_test_connection(channel=channel) == (
        "Connected to Telegram as @parley_support_bot (bot id 7000000001)."
    )
    assert telegram_api.requests[0].path == f"/bot{TELEGRAM_TOKEN}/getMe"


def test_payload_is_stored_before_processing_exactly_as_sent(hook):
    hook(payload("nul-bytes.json"))

    inbound = InboundMessage.objects.get()
    assert inbound.payload["update_id"] == 810000117
    assert bytes(inbound.raw) == payload("nul-bytes.json")  # jsonb cannot hold a NUL: the bytes are kept too
    message = Message.objects.get()
    assert "\x00" not in message.text and message.text.startswith("text with a NUL")
    assert json.dumps(message.text)
