"""Amazon SES inbound through SNS: Parley verifies each SNS message's signature.

Messages are signed with a throwaway RSA key; its self-signed certificates are served by a
stand-in on 127.0.0.1 that the settings allow as the certificate host (``sns_signing``).
Basic auth (anymail's check) is sent as SNS sends it, so the signature check is what each
test is about.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from channels_inbox import sns
from channels_inbox.models import InboundMessage
from tests.channels_inbox.sns_signing import _sns_standin, sns_signer  # noqa: F401 - fixtures
from tests.channels_inbox.test_email_webhooks import SECRET, basic_auth, needs_boto3, payload
from tickets.models import Message, Ticket

pytestmark = [
    pytest.mark.django_db,
    needs_boto3,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning"),
]

URL = "/hooks/email/{key}/amazon_ses/inbound/"


@pytest.fixture(autouse=True)
def anymail_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [SECRET]}


@pytest.fixture
def post(client, email_channel, django_capture_on_commit_callbacks):
    """POST an SNS message as SNS does (JSON as text/plain, type and id in headers too)."""

    def _post(message: dict, *, auth: str | None = basic_auth()):
        headers = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": message["Type"], "HTTP_X_AMZ_SNS_MESSAGE_ID": message["MessageId"]}
        if auth is not None:
            headers["HTTP_AUTHORIZATION"] = auth
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                URL.format(key=email_channel.public_key),
                data=json.dumps(message),
                content_type="text/plain; charset=UTF-8",
                **headers,
            )

    return _post


def notification() -> dict:
    return payload("amazon_ses_inbound/sns-notification.json")


def assert_refused(response, status: int = 403) -> None:
    assert response.status_code == status, response.content
    assert InboundMessage.objects.count() == 0
    assert Ticket.objects.count() == 0


# --- Accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_correctly_signed_notification_is_stored_and_becomes_a_ticket(post, sns_signer, email_channel, version):
    response = post(sns_signer.sign(notification(), version=version))

    assert response.status_code == 200, response.content
    inbound = InboundMessage.objects.get()
    assert inbound.channel == email_channel
    assert inbound.status == InboundMessage.Status.PROCESSED, inbound.error
    assert Ticket.objects.get().subject == "Webhook deliveries stopped"


def test_a_notification_without_a_subject_is_signed_without_it(post, sns_signer):
    message = notification()
    del message["Subject"]
    assert post(sns_signer.sign(message, version="2")).status_code == 200
    assert Ticket.objects.count() == 1


def test_the_certificate_is_fetched_once_per_url(post, sns_signer):
    first = notification()
    second = notification()
    second["MessageId"] = "another-sns-delivery"

    assert post(sns_signer.sign(first)).status_code == 200
    assert post(sns_signer.sign(second, version="2")).status_code == 200
    assert len(sns_signer.cert_requests()) == 1


def test_a_replayed_message_is_stored_once_as_a_ticket(post, sns_signer):
    signed = sns_signer.sign(notification(), version="2")

    assert post(signed).status_code == 200
    assert post(signed).status_code == 200  # a valid signature can be replayed: dedupe catches it

    assert Message.objects.count() == 1
    assert Ticket.objects.count() == 1
    statuses = list(InboundMessage.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [InboundMessage.Status.PROCESSED, InboundMessage.Status.DUPLICATE]


# --- Refused: 403, nothing stored -----------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "field, value",
    [
        ("Message", "tampered"),  # the mail itself
        ("TopicArn", "arn:aws:sns:us-east-1:666666666666:attacker"),
        ("Timestamp", "2030-01-01T00:00:00.000Z"),
        ("Subject", "Another subject"),
    ],
)
def test_a_tampered_field_is_refused(post, sns_signer, version, field, value):
    signed = sns_signer.sign(notification(), version=version)
    if field == "Message":
        ses = json.loads(signed["Message"])
        ses["mail"]["source"] = "mallory@example.com"
        value = json.dumps(ses)
    signed[field] = value

    assert_refused(post(signed))


def test_a_tampered_message_id_is_refused(post, sns_signer):
    signed = sns_signer.sign(notification())
    signed["MessageId"] = "forged-id"  # headers follow it, so anymail's check passes
    assert_refused(post(signed))


def test_a_subject_added_after_signing_is_refused(post, sns_signer):
    message = notification()
    del message["Subject"]
    signed = sns_signer.sign(message)
    signed["Subject"] = "added"
    assert_refused(post(signed))


def test_the_signature_version_cannot_be_swapped(post, sns_signer):
    signed = sns_signer.sign(notification(), version="1")
    signed["SignatureVersion"] = "2"
    assert_refused(post(signed))


@pytest.mark.parametrize(
    "change",
    [
        {"Signature": None},
        {"Signature": ""},
        {"Signature": "not base64!"},
        {"SignatureVersion": None},
        {"SignatureVersion": "3"},
        {"SigningCertURL": None},
    ],
    ids=["no-signature", "empty-signature", "not-base64", "no-version", "unknown-version", "no-cert-url"],
)
def test_a_missing_or_malformed_signature_is_refused(post, sns_signer, change):
    signed = sns_signer.sign(notification())
    for name, value in change.items():
        if value is None:
            del signed[name]
        else:
            signed[name] = value
    assert_refused(post(signed))


def test_the_unsigned_message_from_the_documentation_is_refused(post, sns_signer):
    # The payload as recorded: an example signature, a certificate URL on AWS not allowed here.
    assert_refused(post(notification()))
    assert sns_signer.cert_requests() == []


def test_a_signature_by_another_key_is_refused(post, sns_signer):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert_refused(post(sns_signer.sign(notification(), key=other_key)))


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://localhost:{port}/SimpleNotificationService/valid.pem",  # same server, host not allowed
        "{url}.evil.test/SimpleNotificationService/valid.pem",
        "https://sns.us-east-1.amazonaws.com.evil.test/SimpleNotificationService/valid.pem",
    ],
)
def test_a_certificate_on_a_host_not_allowed_is_never_fetched(post, sns_signer, cert_url):
    signed = sns_signer.sign(notification())
    signed["SigningCertURL"] = cert_url.format(port=sns_signer.server.server_address[1], url=sns_signer.url)

    assert_refused(post(signed))
    assert sns_signer.requests == []


def test_an_expired_certificate_is_refused(post, sns_signer):
    assert_refused(post(sns_signer.sign(notification(), cert="expired")))


def test_a_certificate_url_that_serves_no_certificate_is_refused(post, sns_signer):
    signed = sns_signer.sign(notification())
    signed["SigningCertURL"] = sns_signer.url + "/SimpleNotificationService/missing.pem"
    assert_refused(post(signed))


def test_an_unauthenticated_request_fetches_no_certificate(post, sns_signer):
    response = post(sns_signer.sign(notification()), auth=basic_auth("x:y"))
    assert_refused(response, 400)
    assert sns_signer.requests == []


def test_a_certificate_host_failure_is_503_so_sns_delivers_again(post, sns_signer):
    signed = sns_signer.sign(notification())
    sns_signer.fail_next(502)

    assert_refused(post(signed), 503)
    assert post(signed).status_code == 200  # SNS's retry, once the host answers again
    assert Ticket.objects.count() == 1


# --- Subscription confirmations -------------------------------------------------------


def confirmation(sns_signer) -> dict:
    message = payload("amazon_ses_inbound/sns-subscription-confirmation.json")
    message["SubscribeURL"] = f"{sns_signer.url}/?Action=ConfirmSubscription&Token={message['Token']}"
    return message


def confirm_requests(sns_signer):
    return [r for r in sns_signer.requests if r.query.get("Action") == ["ConfirmSubscription"]]


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_subscription_confirmation_is_confirmed_by_its_url(post, sns_signer, version):
    message = confirmation(sns_signer)

    response = post(sns_signer.sign(message, version=version))

    assert response.status_code == 200, response.content
    assert [r.query["Token"] for r in confirm_requests(sns_signer)] == [[message["Token"]]]
    assert InboundMessage.objects.count() == 0


def test_a_subscription_confirmation_with_a_bad_signature_is_not_confirmed(post, sns_signer):
    signed = sns_signer.sign(confirmation(sns_signer))
    signed["Token"] = "0" * 64

    assert_refused(post(signed))
    assert confirm_requests(sns_signer) == []


def test_a_signed_confirmation_whose_url_is_not_sns_is_not_opened(post, sns_signer, caplog):
    message = confirmation(sns_signer)
    message["SubscribeURL"] = message["SubscribeURL"].replace("127.0.0.1", "localhost")

    with caplog.at_level("ERROR", logger="channels_inbox.webhooks"):
        assert post(sns_signer.sign(message)).status_code == 200

    assert confirm_requests(sns_signer) == []
    assert "confirm by hand" in caplog.text


def test_a_signed_unsubscribe_confirmation_is_acknowledged(post, sns_signer):
    message = confirmation(sns_signer)
    message["Type"] = "UnsubscribeConfirmation"
    assert post(sns_signer.sign(message, version="2")).status_code == 200
    assert confirm_requests(sns_signer) == []
    assert InboundMessage.objects.count() == 0


# --- The certificate URL pattern ------------------------------------------------------


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.eu-central-2.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
        ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
        ("https://sns.us-east-1.amazonaws.com.evil.test/cert.pem", False),
        ("https://sns.us-east-1.amazonaws.com@evil.test/cert.pem", False),
        ("https://evil.test/sns.us-east-1.amazonaws.com/cert.pem", False),
        ("https://s3.amazonaws.com/cert.pem", False),
        ("https://sns.us-east-1.amazonaws.com:8443/cert.pem", False),
    ],
)
def test_by_default_only_sns_hosts_over_https_are_allowed(url, allowed):
    with override_settings(PARLEY_SNS_SIGNING_CERT_URL_PATTERN=sns.DEFAULT_CERT_URL_PATTERN):
        assert sns.cert_url_allowed(url) is allowed
