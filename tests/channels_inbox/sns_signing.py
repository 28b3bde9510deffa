"""Amazon SNS as seen by Parley: messages signed the way SNS signs them, with a throwaway RSA
key and self-signed certificates made here, served by a stand-in on 127.0.0.1 (the settings
allow that stand-in's URL instead of ``sns.<region>.amazonaws.com``).

``sns_signer`` (a fixture) signs a message: ``sns_signer.sign(message, version="2")`` fills
in SignatureVersion, SigningCertURL and Signature; ``cert="expired"`` uses a certificate
whose validity ended yesterday. The canonical string is built here independently of
``channels_inbox.sns``, from AWS's documentation.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from channels_inbox import sns as sns_module
from tests.channels_inbox.standin import Answer, Request, StandIn

NOTIFICATION_FIELDS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_FIELDS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def _certificate(key: rsa.RSAPrivateKey, *, not_before: datetime, not_after: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-east-1.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class SnsStandIn(StandIn):
    """Serves the signing certificates (``/<name>.pem``) and records SubscribeURL visits."""

    def __init__(self) -> None:
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC)
        self.pems = {
            "valid": _certificate(self.key, not_before=now - timedelta(days=1), not_after=now + timedelta(days=30)),
            "expired": _certificate(self.key, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)),
        }

    def handle(self, request: Request) -> Answer:
        name = request.path.rsplit("/", 1)[-1].removesuffix(".pem")
        if request.path.endswith(".pem") and name in self.pems:
            return Answer(200, {"Content-Type": "application/x-pem-file"}, self.pems[name])
        if request.query.get("Action") == ["ConfirmSubscription"]:
            return Answer(200, {"Content-Type": "text/xml"}, "<ConfirmSubscriptionResponse/>")
        return Answer(404, {}, "not found")

    def cert_url(self, cert: str = "valid") -> str:
        return f"{self.url}/SimpleNotificationService/{cert}.pem"

    def cert_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith(".pem")]

    def sign(self, message: dict, *, version: str = "1", cert: str = "valid", key: rsa.RSAPrivateKey | None = None) -> dict:
        message = {k: v for k, v in message.items() if k not in ("Signature", "SignatureVersion", "SigningCertURL")}
        message["SignatureVersion"] = version
        message["SigningCertURL"] = self.cert_url(cert)
        fields = NOTIFICATION_FIELDS if message["Type"] == "Notification" else CONFIRMATION_FIELDS
        canonical = "".join(f"{name}\n{message[name]}\n" for name in fields if name in message).encode()
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.key).sign(canonical, padding.PKCS1v15(), algorithm)
        message["Signature"] = base64.b64encode(signature).decode()
        return message

    def sign_json(self, data):
        """A JSON body signed afresh; anything that is not an SNS-shaped object is left as it is."""
        try:
            message = json.loads(data)
        except (TypeError, ValueError):
            return data
        if not isinstance(message, dict) or message.get("Type") not in sns_module.SIGNED_FIELDS:
            return data
        return json.dumps(self.sign(message))


@pytest.fixture(scope="session")
def _sns_standin():
    standin = SnsStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def sns_signer(_sns_standin, settings):
    """The SNS stand-in, allowed as the certificate host for this test; fresh cache and log."""
    settings.PARLEY_SNS_SIGNING_CERT_URL_PATTERN = "^" + re.escape(_sns_standin.url + "/")
    sns_module.clear_cache()
    _sns_standin.requests.clear()
    _sns_standin.scripted.clear()
    yield _sns_standin
    sns_module.clear_cache()
