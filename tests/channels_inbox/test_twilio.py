"""Twilio SMS and WhatsApp through Twilio: X-Twilio-Signature over the full URL and sorted
POST parameters, messages and status callbacks, MMS media, replies through a stand-in."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_inbox.models import InboundMessage
from channels_inbox.social.signatures import twilio_signature
from tests.channels_inbox.platforms import TWILIO_SID, TWILIO_TOKEN
from tests.factories import ChannelFactory
from tickets import services as ticket_services
from tickets.models import Attachment, Customer, Message, Ticket

PAYLOADS = Path(__file__).parent / "payloads"


def fields(kind: str, name: str) -> dict[str, str]:
    return json.loads((PAYLOADS / kind / name).read_text())


@pytest.fixture
def sms(db, twilio_api):
    return ChannelFactory(kind="sms", name="SMS", config={"api_base": twilio_api.url, "account_sid": TWILIO_SID, "from_number": "+14155550100"},
                          secrets={"auth_token": TWILIO_TOKEN})


@pytest.fixture
def twilio_whatsapp(db, twilio_api):
    return ChannelFactory(kind="whatsapp", name="WA via Twilio",
                          config={"provider": "twilio", "api_base": twilio_api.url, "account_sid": TWILIO_SID, "from_number": "+14155238886"},
                          secrets={"auth_token": TWILIO_TOKEN})


@pytest.fixture
def hook(client, django_capture_on_commit_callbacks):
    def post(channel, form: dict[str, str], *, sig: str | None = "good", url: str | None = None):
        path = reverse(f"channels_inbox:hook_{channel.kind}", kwargs={"channel_key": channel.public_key})
        full = url or f"http://testserver{path}"
        headers = {}
        if sig is not None:
            headers["HTTP_X_TWILIO_SIGNATURE"] = twilio_signature(full, form, TWILIO_TOKEN) if sig == "good" else sig
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data=form, **headers)

    return post


def test_the_signature_algorithm_matches_twilios_documented_example():
    # Twilio's security docs: URL + params sorted by name, HMAC-SHA1 with the auth token, base64.
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030", "To": "+18005551212"}
    expected = base64.b64encode(hmac.new(b"12345", b"https://mycompany.com/myapp.php?foo=1&bar=2"
                                         b"CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212", hashlib.sha1).digest()).decode()
    assert twilio_signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345") == expected


def test_a_signed_sms_becomes_a_ticket_answered_with_empty_twiml(hook, sms):
    response = hook(sms, fields("sms", "text.json"))

    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    assert b"<Response></Response>" in response.content
    ticket = Ticket.objects.get()
    assert ticket.thread_key == "+14155550123"
    identity = ticket.customer.identities.get()
    assert (identity.kind, identity.address, identity.is_verified) == ("phone", "+14155550123", True)


@pytest.mark.parametrize(("sig", "status"), [(None, 401), ("", 401), ("AAAA", 403), ("wrong-url", 403), ("wrong-token", 403)])
def test_bad_or_missing_signatures_store_nothing(hook, sms, sig, status):
    form = fields("sms", "text.json")
    if sig == "wrong-url":
        sig = twilio_signature("https://elsewhere.example/hook", form, TWILIO_TOKEN)
    elif sig == "wrong-token":
        sig = twilio_signature(f"http://testserver/hooks/sms/{sms.public_key}/", form, "other-token")
    assert hook(sms, form, sig=sig).status_code == status
    assert not InboundMessage.objects.exists()


def test_a_changed_parameter_breaks_the_signature(client, sms):
    form = fields("sms", "text.json")
    path = reverse("channels_inbox:hook_sms", kwargs={"channel_key": sms.public_key})
    sig = twilio_signature(f"http://testserver{path}", form, TWILIO_TOKEN)
    assert client.post(path, data={**form, "Body": "changed"}, HTTP_X_TWILIO_SIGNATURE=sig).status_code == 403


def test_the_configured_public_url_is_what_is_signed(hook, sms):
    sms.config = {**sms.config, "webhook_url": "https://support.example.com/hooks/sms/abc/"}
    sms.save()
    assert hook(sms, fields("sms", "text.json")).status_code == 403  # signed for testserver
    assert hook(sms, fields("sms", "text.json"), url="https://support.example.com/hooks/sms/abc/").status_code == 200


def test_a_replayed_sms_creates_nothing_twice(hook, sms):
    hook(sms, fields("sms", "text.json"))
    hook(sms, fields("sms", "text.json"))
    assert Message.objects.count() == 1
    assert InboundMessage.objects.order_by("pk").last().status == "duplicate"


def test_mms_media_is_downloaded_with_basic_auth(hook, sms, twilio_api):
    form = fields("sms", "mms.json")
    for i in (0, 1):
        form[f"MediaUrl{i}"] = form[f"MediaUrl{i}"].replace("https://api.twilio.com", twilio_api.url)

    hook(sms, form)

    files = Attachment.objects.order_by("pk")
    assert [a.filename for a in files] == ["media-1.jpeg", "media-2.png"]
    assert all(a.file.read().startswith(b"\x89PNG") for a in files)
    assert all(r.headers["authorization"].startswith("Basic ") for r in twilio_api.requests)


def test_sms_reply_and_its_status_callbacks(hook, sms, agent_user, twilio_api, django_capture_on_commit_callbacks):
    hook(sms, fields("sms", "text.json"))
    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.message_reply(ticket=Ticket.objects.get(), author=agent_user, text="Please unplug it for 30 s.")
    reply.refresh_from_db()
    assert reply.delivery_status == "sent" and reply.external_id.startswith("SM")
    form = twilio_api.requests[-1].form()
    assert form == {"To": ["+14155550123"], "From": ["+14155550100"], "Body": ["Please unplug it for 30 s."]}

    def callback(name):
        status = fields("sms", name)
        status["MessageSid"] = status["SmsSid"] = reply.external_id
        hook(sms, status)
        reply.refresh_from_db()
        return reply.delivery_status

    assert callback("status-sent.json") == "sent"
    assert callback("status-delivered.json") == "delivered"
    assert callback("status-undelivered.json") == "failed"
    assert "30003" in reply.delivery_error


def test_sms_send_errors(hook, sms, agent_user, twilio_api, django_capture_on_commit_callbacks):
    hook(sms, fields("sms", "text.json"))
    ticket = Ticket.objects.get()
    twilio_api.fail_next(429, {"Retry-After": "3"}, {"code": 20429, "message": "Too Many Requests", "status": 429})
    with django_capture_on_commit_callbacks(execute=True):
        retried = ticket_services.message_reply(ticket=ticket, author=agent_user, text="One")
    retried.refresh_from_db()
    assert retried.delivery_status == "sent" and retried.delivery_attempts == 1

    Ticket.objects.filter(pk=ticket.pk).update(thread_key="+14155550000")
    with django_capture_on_commit_callbacks(execute=True):
        refused = ticket_services.message_reply(ticket=ticket, author=agent_user, text="Two")
    refused.refresh_from_db()
    assert refused.delivery_status == "failed" and "21211" not in refused.delivery_error and "not a valid phone number" in refused.delivery_error


def test_whatsapp_through_twilio_links_to_the_sms_customer_and_keeps_the_window(hook, sms, twilio_whatsapp, agent_user, twilio_api, django_capture_on_commit_callbacks):
    sms_form = fields("sms", "text.json")
    sms_form["From"] = "+16505551234"
    hook(sms, sms_form)
    hook(twilio_whatsapp, fields("whatsapp", "twilio-text.json"))

    assert Customer.objects.count() == 1
    wa_ticket = Ticket.objects.get(channel=twilio_whatsapp)
    assert wa_ticket.thread_key == "whatsapp:+16505551234"

    with django_capture_on_commit_callbacks(execute=True):
        reply = ticket_services.message_reply(ticket=wa_ticket, author=agent_user, text="Hi Sheena")
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    assert twilio_api.requests[-1].form()["From"] == ["whatsapp:+14155238886"]

    Message.objects.filter(ticket=wa_ticket, direction="inbound").update(created_at=timezone.now() - dt.timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        late = ticket_services.message_reply(ticket=wa_ticket, author=agent_user, text="Still there?")
        template = ticket_services.message_send_template(ticket=wa_ticket, author=agent_user, name="HXb5b62575e6e4ff6129ad7c8efe1f983e", language="en", parameters=["5521"])
    late.refresh_from_db()
    template.refresh_from_db()
    assert late.delivery_status == "failed" and "approved template" in late.delivery_error
    assert template.delivery_status == "sent"
    form = twilio_api.requests[-1].form()
    assert form["ContentSid"] == ["HXb5b62575e6e4ff6129ad7c8efe1f983e"] and json.loads(form["ContentVariables"][0]) == {"1": "5521"}


def test_connection_tests(sms, twilio_whatsapp):
    from channels_inbox.services import channel_test_connection

    assert channel_test_connection(channel=sms) == "Connected to Twilio account Acme (active)."
    assert channel_test_connection(channel=twilio_whatsapp) == "Connected to Twilio account Acme (active)."


def _reply_with_files(ticket, files):
    from django.core.files.base import ContentFile

    message = Message.objects.create(ticket=ticket, channel=ticket.channel, direction="outbound", author_kind="agent",
                                     text="Photos attached", delivery_status="queued", created_at=timezone.now())
    for name, content_type, size in files:
        attachment = Attachment(message=message, filename=name, size=size, content_type=content_type, sha256="ab" * 32)
        attachment.file.save(name, ContentFile(b"x" * min(size, 64)), save=True)
    return message


def test_sms_replies_carry_files_as_media_urls_in_one_request(hook, sms, twilio_api):
    from channels_inbox.adapters.twilio import TwilioAdapter

    hook(sms, fields("sms", "text.json"))
    message = _reply_with_files(Ticket.objects.get(), [("a.jpg", "image/jpeg", 100), ("b.png", "image/png", 100),
                                                       ("huge.mp4", "video/mp4", 6 * 1024 * 1024), ("run.exe", "application/x-msdownload", 10)])

    result = TwilioAdapter().send(message)

    (request,) = twilio_api.requests
    form = request.form()
    assert form["Body"] == ["Photos attached"]
    assert len(form["MediaUrl"]) == 2 and all("/files/" in url for url in form["MediaUrl"])
    assert "huge.mp4" in result.detail and "run.exe" in result.detail


def test_whatsapp_through_twilio_takes_one_file_per_message(hook, sms, twilio_whatsapp, twilio_api):
    from channels_inbox.adapters.twilio import TWILIO_WHATSAPP

    hook(twilio_whatsapp, fields("whatsapp", "twilio-text.json"))
    ticket = Ticket.objects.get(channel=twilio_whatsapp)
    message = _reply_with_files(ticket, [("a.jpg", "image/jpeg", 100), ("b.jpg", "image/jpeg", 100)])

    result = TWILIO_WHATSAPP.send(message)

    assert len(twilio_api.requests[-1].form()["MediaUrl"]) == 1
    assert "b.jpg" in result.detail
