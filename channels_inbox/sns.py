"""Amazon SNS message signatures, verified as AWS documents them.

Amazon SES hands inbound mail to an SNS topic, and SNS POSTs it to Parley. django-anymail
(15.x) checks only the basic auth in the subscription URL; anyone who learns that URL and
its credentials could post any "mail". SNS signs every message it sends, so Parley checks
that signature too (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):

1. ``SignatureVersion`` "1" is SHA1withRSA, "2" is SHA256withRSA; anything else is refused.
2. ``SigningCertURL`` must match ``PARLEY_SNS_SIGNING_CERT_URL_PATTERN`` (by default HTTPS on
   ``sns.<region>.amazonaws.com``, ``.com.cn`` for the China regions) before anything is
   fetched: a message cannot make Parley download a certificate from a host of its choosing.
3. The certificate is fetched over httpx (no redirects, 64 KiB at most), cached per URL in
   the process (AWS gives each certificate its own URL), and must be valid now.
4. The signature is checked over the canonical string: ``Name\\nvalue\\n`` for each signed
   field of the message's type, in AWS's order, ``Subject`` only when the message has one.

``verify`` raises ``SignatureInvalid`` (the message is not SNS's: answer 403) or
``CertificateUnavailable`` (the certificate host could not be reached or failed: answer
503 so SNS delivers again later).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

# The fields SNS signs, per message type, in the order the canonical string lists them.
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
DEFAULT_CERT_URL_PATTERN = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
MAX_CERT_BYTES = 64 * 1024
CERT_FETCH_TIMEOUT = 10.0
_CACHE_SIZE = 32

_cache: OrderedDict[str, x509.Certificate] = OrderedDict()
_cache_lock = threading.Lock()


class SignatureInvalid(Exception):
    """The message's signature is missing, malformed, or not made by a valid SNS certificate."""


class CertificateUnavailable(Exception):
    """The allowed certificate URL could not be fetched right now (network, 5xx): try later."""


def canonical_string(message: dict[str, Any]) -> bytes:
    """The bytes SNS signed: each signed field present in the message, as ``Name\\nvalue\\n``."""
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise SignatureInvalid(f"unknown SNS message type {message.get('Type')!r}")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue  # optional: signed only when the publisher set one
            raise SignatureInvalid(f"the signed field {name} is missing")
        if not isinstance(value, str):
            raise SignatureInvalid(f"the signed field {name} is not a string")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


def cert_url_allowed(url: str) -> bool:
    """Whether a certificate (or subscription) URL points where SNS keeps them."""
    pattern = getattr(settings, "PARLEY_SNS_SIGNING_CERT_URL_PATTERN", "") or DEFAULT_CERT_URL_PATTERN
    return isinstance(url, str) and re.match(pattern, url) is not None


def verify(message: dict[str, Any]) -> None:
    """Check an SNS message's signature; return quietly when it is SNS's own."""
    version = message.get("SignatureVersion")
    hash_class = HASHES.get(str(version)) if isinstance(version, str) else None
    if hash_class is None:
        raise SignatureInvalid(f"unsupported SignatureVersion {version!r}")
    signature = message.get("Signature")
    if not isinstance(signature, str) or not signature:
        raise SignatureInvalid("the message has no Signature")
    try:
        signature_bytes = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SignatureInvalid("the Signature is not base64") from exc
    signed = canonical_string(message)
    url = message.get("SigningCertURL")
    if not isinstance(url, str) or not cert_url_allowed(url):
        raise SignatureInvalid(f"SigningCertURL {str(url)[:200]!r} is not an allowed SNS certificate URL")
    certificate = _certificate(url)
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureInvalid("the signing certificate is not valid now (expired or not yet valid)")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureInvalid("the signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature_bytes, signed, padding.PKCS1v15(), hash_class())
    except InvalidSignature as exc:
        raise SignatureInvalid("the signature does not match the message") from exc


def clear_cache() -> None:
    """Forget the fetched certificates (tests; a process restart does the same)."""
    with _cache_lock:
        _cache.clear()


def _certificate(url: str) -> x509.Certificate:
    with _cache_lock:
        certificate = _cache.get(url)
        if certificate is not None:
            _cache.move_to_end(url)
            return certificate
    certificate = _fetch(url)
    with _cache_lock:
        _cache[url] = certificate
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return certificate


def _fetch(url: str) -> x509.Certificate:
    try:
        with httpx.stream("GET", url, timeout=CERT_FETCH_TIMEOUT, follow_redirects=False) as response:
            if response.status_code >= 500:
                raise CertificateUnavailable(f"the certificate host answered {response.status_code}")
            if response.status_code != 200:
                raise SignatureInvalid(f"the certificate URL answered {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_CERT_BYTES:
                    raise SignatureInvalid("the certificate is larger than any SNS certificate")
    except httpx.HTTPError as exc:
        raise CertificateUnavailable(f"the certificate could not be fetched: {type(exc).__name__}") from exc
    try:
        return x509.load_pem_x509_certificate(body)
    except ValueError as exc:
        raise SignatureInvalid("the certificate URL did not serve a PEM certificate") from exc
