"""Inbound email from providers' webhooks, end to end: /hooks/email/<channel-key>/<provider>/inbound/.

Each provider's request is built from a payload recorded in ``payloads/<provider>_inbound/``
(written from the provider's documentation) and authenticated as the provider does: Mailgun's
HMAC-SHA256 signature over timestamp + token with the signing key, HTTP basic auth for the
others. django-anymail's own checks run; nothing here replaces or mocks them.

Amazon SES needs boto3 (``django-anymail[amazon-ses]``) for anymail's view to be built at all;
its tests run where boto3 is importable, and the 503 that answers without it is tested where
it is not. SNS deliveries are signed afresh as they are posted (``sns_signing``); the
signature checks themselves are tested in test_ses_sns.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from channels_inbox.models import InboundMessage
from tests.channels_inbox.sns_signing import _sns_standin, sns_signer  # noqa: F401 - fixtures
from tests.emails import build_email
from tests.factories import ChannelFactory
from tickets.models import Message, Ticket

pytestmark = [
    pytest.mark.django_db,
    # anymail warns each time its SendGrid view is built that it no longer officially supports
    # SendGrid, and each time a basic-auth-only view is built without WEBHOOK_SECRET.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "parley-esp:correct-horse-battery"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
HAS_BOTO3 = importlib.util.find_spec("boto3") is not None
needs_boto3 = pytest.mark.skipif(not HAS_BOTO3, reason="Amazon SES inbound needs boto3 (django-anymail[amazon-ses])")


def payload(name: str):
    return json.loads((PAYLOADS / name).read_text())


def basic_auth(credentials: str = SECRET) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def mailgun_signature(*, key: str = SIGNING_KEY, timestamp: str | None = None, token: str | None = None) -> dict[str, str]:
    """The three fields Mailgun adds to every POST: HMAC-SHA256(key, timestamp + token), hex."""
    timestamp = timestamp or str(int(time.time()))
    token = token or secrets.token_hex(25)  # Mailgun: a random string of 50 characters
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}


@dataclass
class Delivery:
    """One webhook POST as a provider would send it, and what it should become."""

    url_name: str
    message_id: str
    recipient: str = "support@parley.test"
    data: object = None
    content_type: str | None = None  # None: multipart/form-data, as the test client encodes a dict
    headers: dict[str, str] = field(default_factory=dict)

    def url(self, channel_key: str) -> str:
        return reverse(f"channels_inbox:{self.url_name}", kwargs={"channel_key": channel_key})

    def post(self, client: Client, channel_key: str, *, auth: str | None = basic_auth(), **extra):
        headers = dict(self.headers)
        if auth is not None:
            headers["HTTP_AUTHORIZATION"] = auth
        headers.update(extra)
        if self.content_type is None:
            return client.post(self.url(channel_key), data=self.data, **headers)
        return client.post(self.url(channel_key), data=self.data, content_type=self.content_type, **headers)


def mailgun_mime(*, multipart: bool = True, url_name: str = "email_inbound_mailgun_mime", **signature) -> Delivery:
    data = {**payload("mailgun_inbound/raw-mime.json"), **mailgun_signature(**signature)}
    if multipart:
        return Delivery(url_name, "mailgun-raw-1@mail.example.com", data=data)
    return Delivery(url_name, "mailgun-raw-1@mail.example.com", data=urlencode(data), content_type="application/x-www-form-urlencoded")


def mailgun_parsed() -> Delivery:
    data = {**payload("mailgun_inbound/fully-parsed.json"), **mailgun_signature()}
    return Delivery("email_inbound_mailgun", "mailgun-parsed-1@mail.example.org", data=urlencode(data), content_type="application/x-www-form-urlencoded")


def postmark(name: str = "inbound.json") -> Delivery:
    data = payload(f"postmark_inbound/{name}")
    message_id = next(h["Value"] for h in data["Headers"] if h["Name"] == "Message-ID").strip("<>")
    return Delivery("email_inbound_postmark", message_id, data=json.dumps(data), content_type="application/json")


def sendgrid() -> Delivery:
    return Delivery("email_inbound_sendgrid", "sendgrid-raw-1@mail.example.com", data=payload("sendgrid_inbound/raw-mime.json"))


def sns(name: str) -> Delivery:
    """An Amazon SNS HTTPS delivery: JSON sent as text/plain, with its type and id in headers too."""
    data = payload(f"amazon_ses_inbound/{name}")
    return Delivery(
        "email_inbound_amazon_ses",
        "ses-raw-1@mail.example.com",
        data=json.dumps(data),
        content_type="text/plain; charset=UTF-8",
        headers={"HTTP_X_AMZ_SNS_MESSAGE_TYPE": data["Type"], "HTTP_X_AMZ_SNS_MESSAGE_ID": data["MessageId"]},
    )


def mailjet() -> Delivery:
    return Delivery("email_inbound_mailjet", "mailjet-1@mail.example.com", data=json.dumps(payload("mailjet_inbound/parse-api.json")), content_type="application/json")


def sparkpost() -> Delivery:
    return Delivery("email_inbound_sparkpost", "sparkpost-1@mail.example.com", data=json.dumps(payload("sparkpost_inbound/relay.json")), content_type="application/json")


DELIVERIES = {
    "mailgun-raw-mime-multipart": lambda: mailgun_mime(multipart=True),
    "mailgun-raw-mime-urlencoded": lambda: mailgun_mime(multipart=False),
    "mailgun-fully-parsed": mailgun_parsed,
    "postmark-parsed": postmark,
    "postmark-raw-email": lambda: postmark("inbound-raw-email.json"),
    "sendgrid-raw-mime": sendgrid,
    "amazon-ses-sns-action": lambda: sns("sns-notification.json"),
    "mailjet": mailjet,
    "sparkpost": sparkpost,
}
SOURCES = {
    "email_inbound_mailgun": "hook:email:mailgun",
    "email_inbound_mailgun_mime": "hook:email:mailgun",
    "email_inbound_postmark": "hook:email:postmark",
    "email_inbound_sendgrid": "hook:email:sendgrid",
    "email_inbound_amazon_ses": "hook:email:amazon_ses",
    "email_inbound_mailjet": "hook:email:mailjet",
    "email_inbound_sparkpost": "hook:email:sparkpost",
}
# Providers whose only check is basic auth.
BASIC_AUTH_ONLY = ["postmark-parsed", "sendgrid-raw-mime", "amazon-ses-sns-action", "mailjet", "sparkpost"]


def delivery_params(names=None):
    return [
        pytest.param(name, marks=[needs_boto3] if name.startswith("amazon-ses") else [], id=name)
        for name in (names or DELIVERIES)
    ]


@pytest.fixture(autouse=True)
def anymail_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [SECRET], "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    return settings


@pytest.fixture
def deliver(client, email_channel, django_capture_on_commit_callbacks, sns_signer):  # noqa: F811
    """POST a delivery to the email channel's URL; processing (eager Celery) runs on commit."""

    def _deliver(delivery: Delivery, *, channel_key: str | None = None, **kwargs):
        if delivery.url_name == "email_inbound_amazon_ses":
            delivery.data = sns_signer.sign_json(delivery.data)  # SNS signs what it sends
        with django_capture_on_commit_callbacks(execute=True):
            return delivery.post(client, channel_key or email_channel.public_key, **kwargs)

    return _deliver


# --- Accepted: stored before 200, then the pipeline makes the ticket --------------------


@pytest.mark.parametrize("name", delivery_params())
def test_a_delivery_is_stored_raw_and_becomes_a_ticket(deliver, email_channel, name):
    delivery = DELIVERIES[name]()

    response = deliver(delivery)

    assert response.status_code == 200, response.content
    inbound = InboundMessage.objects.get()
    assert inbound.channel == email_channel
    assert inbound.source == SOURCES[delivery.url_name]
    assert inbound.envelope_recipient == delivery.recipient
    assert inbound.payload is None
    assert f"<{delivery.message_id}>".encode() in bytes(inbound.raw)
    assert inbound.status == InboundMessage.Status.PROCESSED, inbound.error
    message = Message.objects.get()
    assert message.external_id == delivery.message_id
    assert message.ticket.channel == email_channel
    assert inbound.ticket_id == message.ticket_id
    assert message.text.strip()


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("mailgun-raw-mime-multipart", "body-mime"),
        ("sendgrid-raw-mime", "email"),
    ],
)
def test_raw_mime_form_fields_are_stored_exactly_as_posted(deliver, name, field):
    delivery = DELIVERIES[name]()

    assert deliver(delivery).status_code == 200

    assert bytes(InboundMessage.objects.get().raw) == delivery.data[field].encode()


def test_postmark_raw_email_and_ses_content_are_stored_exactly_as_sent(deliver):
    assert deliver(postmark("inbound-raw-email.json")).status_code == 200
    sent = payload("postmark_inbound/inbound-raw-email.json")["RawEmail"].encode()
    assert bytes(InboundMessage.objects.get().raw) == sent


@needs_boto3
def test_ses_base64_content_is_stored_exactly_as_sent(deliver):
    assert deliver(sns("sns-notification.json")).status_code == 200
    ses = json.loads(payload("amazon_ses_inbound/sns-notification.json")["Message"])
    assert bytes(InboundMessage.objects.get().raw) == base64.b64decode(ses["content"])
    assert InboundMessage.objects.get().external_id == ses["mail"]["messageId"]


def test_postmark_parsed_fields_keep_the_attachment(deliver):
    assert deliver(postmark()).status_code == 200

    message = Message.objects.get()
    assert [(a.filename, a.content_type) for a in message.attachments.all()] == [("report.csv", "text/csv")]
    assert InboundMessage.objects.get().external_id == "73e6d360-66eb-11e1-8e72-a8904824019b"


def test_the_mailgun_mime_url_also_works_without_its_trailing_slash(client, email_channel):
    delivery = mailgun_mime()
    url = delivery.url(email_channel.public_key)
    assert url.endswith("/inbound_mime/")

    response = client.post(url.rstrip("/"), data=delivery.data, HTTP_AUTHORIZATION=basic_auth())

    assert response.status_code == 200
    assert InboundMessage.objects.count() == 1


def test_csrf_protection_does_not_apply_to_provider_webhooks(email_channel, django_capture_on_commit_callbacks):
    client = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = postmark().post(client, email_channel.public_key)
    assert response.status_code == 200
    assert Ticket.objects.count() == 1


def test_a_reply_by_webhook_threads_into_the_ticket(deliver):
    question = build_email(message_id="q1@example.com", subject="Cannot log in")
    answer = build_email(message_id="q2@example.com", subject="Re: Cannot log in", in_reply_to="q1@example.com", references=["q1@example.com"])
    for index, raw in enumerate((question, answer)):
        data = {**payload("mailgun_inbound/raw-mime.json"), "body-mime": raw.decode(), **mailgun_signature(token=f"{index:050d}")}
        assert deliver(Delivery("email_inbound_mailgun_mime", "", data=data)).status_code == 200

    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 2


def test_a_message_larger_than_djangos_default_upload_limit_is_accepted(deliver, settings):
    # Django refuses form fields and bodies over 2.5 MB unless told otherwise.
    attachment = ("logs.txt", "text/plain", b"x" * (3 * 1024 * 1024))
    raw = build_email(message_id="big@example.com", attachments=[attachment])
    data = {**payload("mailgun_inbound/raw-mime.json"), "body-mime": raw.decode(), **mailgun_signature()}

    response = deliver(Delivery("email_inbound_mailgun_mime", "big@example.com", data=data))

    assert response.status_code == 200
    assert Message.objects.get().external_id == "big@example.com"


def test_a_readable_payload_with_no_usable_message_is_stored_and_quarantined(deliver):
    data = payload("postmark_inbound/inbound.json")
    for key in ("From", "FromFull", "FromName"):
        data.pop(key)

    response = deliver(Delivery("email_inbound_postmark", "", data=json.dumps(data), content_type="application/json"))

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert inbound.status == InboundMessage.Status.QUARANTINED
    assert "sender" in inbound.error.lower()
    assert inbound.raw
    assert Ticket.objects.count() == 0


# --- A second delivery of the same message --------------------------------------------


@pytest.mark.parametrize("name", delivery_params())
def test_a_replayed_delivery_is_stored_again_and_changes_nothing(deliver, name):
    first = DELIVERIES[name]()
    again = DELIVERIES[name]()  # a provider's retry: the same message, freshly signed

    assert deliver(first).status_code == 200
    assert deliver(again).status_code == 200

    assert Message.objects.count() == 1
    assert Ticket.objects.count() == 1
    statuses = list(InboundMessage.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [InboundMessage.Status.PROCESSED, InboundMessage.Status.DUPLICATE]


# --- Refused: nothing stored ----------------------------------------------------------


@pytest.mark.parametrize("name", delivery_params(BASIC_AUTH_ONLY))
@pytest.mark.parametrize("auth", [basic_auth("parley-esp:wrong"), basic_auth("someone:correct-horse-battery"), "Bearer " + SECRET, "Basic not-base64!"])
def test_wrong_basic_auth_is_refused_and_nothing_is_stored(deliver, name, auth):
    response = deliver(DELIVERIES[name](), auth=auth)

    assert response.status_code == 400
    assert InboundMessage.objects.count() == 0
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("name", delivery_params(BASIC_AUTH_ONLY))
def test_missing_basic_auth_is_refused_and_nothing_is_stored(deliver, name):
    response = deliver(DELIVERIES[name](), auth=None)

    if name.startswith("amazon-ses"):
        # SNS sends credentials only after a 401 asking for them.
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic ")
    else:
        assert response.status_code == 400
    assert InboundMessage.objects.count() == 0


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda: mailgun_signature(key="key-someone-else"), id="signed-with-another-key"),
        pytest.param(lambda: {**mailgun_signature(), "token": "0" * 50}, id="token-changed-after-signing"),
        pytest.param(lambda: {**mailgun_signature(), "timestamp": "1700000000"}, id="timestamp-changed-after-signing"),
        pytest.param(lambda: {k: v for k, v in mailgun_signature().items() if k != "signature"}, id="no-signature"),
        pytest.param(lambda: {}, id="no-signature-fields"),
    ],
)
def test_a_bad_mailgun_signature_is_refused_and_nothing_is_stored(deliver, signature):
    data = {**payload("mailgun_inbound/raw-mime.json"), **signature()}

    response = deliver(Delivery("email_inbound_mailgun_mime", "", data=data))

    assert response.status_code == 400
    assert InboundMessage.objects.count() == 0


def test_mailgun_needs_the_basic_auth_too_once_a_webhook_secret_is_set(deliver):
    assert deliver(mailgun_mime(), auth=None).status_code == 400
    assert deliver(mailgun_mime(), auth=basic_auth("parley-esp:wrong")).status_code == 400
    assert InboundMessage.objects.count() == 0


@pytest.mark.parametrize("name", delivery_params(BASIC_AUTH_ONLY))
def test_without_a_webhook_secret_basic_auth_only_providers_are_refused(deliver, settings, name):
    # anymail alone would accept these (with a warning): Parley refuses them.
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}

    response = deliver(DELIVERIES[name](), auth=basic_auth())

    assert response.status_code == 503
    assert "not configured" in response.json()["error"]
    assert InboundMessage.objects.count() == 0


def test_without_a_webhook_secret_mailgun_still_works_by_its_signature(deliver, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}

    assert deliver(mailgun_mime(), auth=None).status_code == 200
    assert Message.objects.get().external_id == "mailgun-raw-1@mail.example.com"


def test_without_a_signing_key_mailgun_is_refused(deliver, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [SECRET]}

    response = deliver(mailgun_mime())

    assert response.status_code == 503
    assert InboundMessage.objects.count() == 0


def test_with_nothing_configured_every_provider_is_refused(client, settings, email_channel):
    settings.ANYMAIL = {}
    for name in DELIVERIES:
        response = DELIVERIES[name]().post(client, email_channel.public_key, auth=None)
        assert response.status_code == 503, name
    assert InboundMessage.objects.count() == 0


def _anymail_setting_from(env: dict[str, str], tmp_path) -> dict:
    """settings.ANYMAIL as a fresh process builds it from ``env`` (embedded mode)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "ANYMAIL_WEBHOOK_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY"}}
    result = subprocess.run(
        [sys.executable, "-c", "import json, helpdesk.settings as s; print(json.dumps(s.ANYMAIL))"],
        cwd=ROOT,
        env={**clean, "PARLEY_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_settings_leave_out_unset_and_empty_values(tmp_path):
    # An empty Mailgun key in ANYMAIL would make HMAC("") a valid signature.
    assert _anymail_setting_from({}, tmp_path) == {}
    assert _anymail_setting_from({"MAILGUN_WEBHOOK_SIGNING_KEY": "", "ANYMAIL_WEBHOOK_SECRET": ""}, tmp_path) == {}
    assert _anymail_setting_from({"MAILGUN_WEBHOOK_SIGNING_KEY": "key-abc", "ANYMAIL_WEBHOOK_SECRET": "a:b,c:d"}, tmp_path) == {
        "WEBHOOK_SECRET": ["a:b", "c:d"],
        "MAILGUN_WEBHOOK_SIGNING_KEY": "key-abc",
    }


def test_both_rotated_webhook_secrets_are_accepted(deliver, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["old:one", "new:two"]}

    assert deliver(postmark(), auth=basic_auth("old:one")).status_code == 200
    assert deliver(postmark("inbound-raw-email.json"), auth=basic_auth("new:two")).status_code == 200
    assert Message.objects.count() == 2


def test_a_body_over_the_inbound_limit_is_refused_with_413(deliver, settings):
    settings.PARLEY_MAX_INBOUND_BYTES = 1000

    response = deliver(postmark())

    assert response.status_code == 413
    assert InboundMessage.objects.count() == 0


# --- The channel key ------------------------------------------------------------------


@pytest.mark.parametrize("name", delivery_params())
def test_an_unknown_channel_key_is_404_and_nothing_is_stored(deliver, name):
    response = deliver(DELIVERIES[name](), channel_key="no-such-key")

    assert response.status_code == 404
    assert InboundMessage.objects.count() == 0


@pytest.mark.parametrize(
    "channel_kwargs",
    [
        pytest.param({"kind": "email", "is_active": False}, id="inactive-email-channel"),
        pytest.param({"kind": "api"}, id="api-channel"),
        pytest.param({"kind": "chat"}, id="chat-channel"),
    ],
)
def test_only_an_active_email_channel_takes_mail(deliver, channel_kwargs):
    other = ChannelFactory(**channel_kwargs)

    response = deliver(postmark(), channel_key=other.public_key)

    assert response.status_code == 404
    assert InboundMessage.objects.count() == 0


def test_without_credentials_a_known_and_an_unknown_key_look_the_same(deliver, email_channel):
    known = deliver(postmark(), auth=basic_auth("x:y"))
    unknown = deliver(postmark(), auth=basic_auth("x:y"), channel_key="no-such-key")

    assert known.status_code == unknown.status_code == 400
    assert known.content == unknown.content
    bad_signature = {**payload("mailgun_inbound/raw-mime.json"), **mailgun_signature(key="key-wrong")}
    assert deliver(Delivery("email_inbound_mailgun_mime", "", data=bad_signature), channel_key="no-such-key").status_code == 400


def test_each_channel_gets_its_own_mail(client, django_capture_on_commit_callbacks):
    first = ChannelFactory(kind="email", inbound_address="support@parley.test")
    second = ChannelFactory(kind="email", inbound_address="billing@parley.test")

    with django_capture_on_commit_callbacks(execute=True):
        postmark().post(client, second.public_key)

    assert InboundMessage.objects.get().channel == second
    assert Ticket.objects.get().channel == second
    assert not InboundMessage.objects.filter(channel=first).exists()


def test_an_unknown_provider_is_404(client, email_channel):
    response = client.post(f"/hooks/email/{email_channel.public_key}/pigeon/inbound/", data={}, HTTP_AUTHORIZATION=basic_auth())
    assert response.status_code == 404


# --- Authenticated, but not a message anymail can read: 400 with the reason, nothing stored


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        pytest.param(
            lambda: Delivery("email_inbound_mailgun", "", data={"recipient": "support@parley.test", **mailgun_signature()}),
            "message-headers",
            id="mailgun-neither-body-mime-nor-parsed-fields",
        ),
        pytest.param(
            lambda: Delivery(
                "email_inbound_mailgun",
                "",
                data=json.dumps({"signature": mailgun_signature(), "event-data": {"event": "delivered"}}),
                content_type="application/json",
            ),
            "tracking",
            id="mailgun-tracking-webhook-pointed-at-inbound",
        ),
        pytest.param(
            lambda: Delivery("email_inbound_mailgun", "", data={"attachments": "[]", "message-url": "https://storage.example/x", **mailgun_signature()}),
            "store()",
            id="mailgun-store-action",
        ),
        pytest.param(lambda: Delivery("email_inbound_postmark", "", data="not json", content_type="application/json"), "JSONDecodeError", id="postmark-not-json"),
        pytest.param(lambda: Delivery("email_inbound_postmark", "", data="[1, 2]", content_type="application/json"), "AttributeError", id="postmark-not-an-object"),
        pytest.param(
            lambda: Delivery("email_inbound_postmark", "", data=json.dumps({"RecordType": "Bounce"}), content_type="application/json"),
            "Bounce",
            id="postmark-bounce-webhook-pointed-at-inbound",
        ),
        pytest.param(
            lambda: Delivery("email_inbound_sendgrid", "", data={"to": "support@parley.test", "subject": "hi"}),
            "missing both 'headers' and 'email'",
            id="sendgrid-neither-raw-nor-parsed",
        ),
        pytest.param(
            lambda: Delivery("email_inbound_sparkpost", "", data=json.dumps([{"msys": {"relay_message": {"protocol": "smtp"}}}]), content_type="application/json"),
            "content",
            id="sparkpost-relay-without-content",
        ),
    ],
)
def test_an_unreadable_payload_is_400_with_the_reason_and_nothing_is_stored(deliver, build, reason):
    response = deliver(build())

    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert InboundMessage.objects.count() == 0


@needs_boto3
def test_an_sns_body_that_is_not_json_is_400_and_nothing_is_stored(deliver):
    delivery = Delivery(
        "email_inbound_amazon_ses",
        "",
        data="<xml/>",
        content_type="text/plain",
        headers={"HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification", "HTTP_X_AMZ_SNS_MESSAGE_ID": "x"},
    )
    response = deliver(delivery)
    assert response.status_code == 400
    assert "Malformed SNS" in response.json()["error"]
    assert InboundMessage.objects.count() == 0


@needs_boto3
def test_sns_headers_that_do_not_match_the_body_are_refused(deliver):
    delivery = sns("sns-notification.json")
    delivery.headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = "another-id"
    assert deliver(delivery).status_code == 400
    assert InboundMessage.objects.count() == 0


@needs_boto3
def test_an_ses_sending_event_pointed_at_the_inbound_url_is_400(deliver):
    data = payload("amazon_ses_inbound/sns-notification.json")
    ses = json.loads(data["Message"])
    ses["notificationType"] = "Delivery"
    data["Message"] = json.dumps(ses)
    delivery = sns("sns-notification.json")
    delivery.data = json.dumps(data)
    response = deliver(delivery)
    assert response.status_code == 400
    assert "sending" in response.json()["error"]
    assert InboundMessage.objects.count() == 0


@needs_boto3
@pytest.mark.parametrize("auth", [None, basic_auth("x:y")])
def test_an_unauthenticated_sns_subscription_confirmation_is_refused(deliver, auth):
    response = deliver(sns("sns-subscription-confirmation.json"), auth=auth)
    assert response.status_code == (401 if auth is None else 400)
    assert InboundMessage.objects.count() == 0


@needs_boto3
def test_an_authenticated_sns_subscription_confirmation_logs_its_url_and_stores_nothing(deliver, settings, caplog):
    # anymail's own confirmation calls AWS through boto3 (no network here): turned off, the
    # logged SubscribeURL is how an operator confirms by hand.
    settings.ANYMAIL = {**settings.ANYMAIL, "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False}
    sent = payload("amazon_ses_inbound/sns-subscription-confirmation.json")

    with caplog.at_level("WARNING", logger="channels_inbox.webhooks"):
        response = deliver(sns("sns-subscription-confirmation.json"))

    assert response.status_code == 200
    assert InboundMessage.objects.count() == 0
    assert [r.subscribe_url for r in caplog.records if hasattr(r, "subscribe_url")] == [sent["SubscribeURL"]]


@needs_boto3
def test_an_sns_unsubscribe_confirmation_is_acknowledged_and_stores_nothing(deliver):
    data = payload("amazon_ses_inbound/sns-subscription-confirmation.json")
    data["Type"] = "UnsubscribeConfirmation"
    delivery = sns("sns-subscription-confirmation.json")
    delivery.data = json.dumps(data)
    delivery.headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] = "UnsubscribeConfirmation"

    assert deliver(delivery).status_code == 200
    assert InboundMessage.objects.count() == 0


def test_head_answers_200_for_providers_that_check_the_url(client, email_channel):
    # Some providers send HEAD when the URL is saved; it neither authenticates nor stores.
    assert client.head(postmark().url(email_channel.public_key)).status_code == 200
    assert client.get(postmark().url(email_channel.public_key)).status_code == 405
