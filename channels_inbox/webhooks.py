"""Inbound email from providers' webhooks: ``/hooks/email/<channel-key>/<provider>/inbound/``.

django-anymail's inbound webhook views do the provider-specific work, unchanged: the
authenticity checks (Mailgun's HMAC-SHA256 over timestamp + token with the webhook signing
key; HTTP basic auth against ``ANYMAIL["WEBHOOK_SECRET"]``, which anymail checks for every
provider when it is set and which is the only check Postmark, SendGrid, Mailjet and SparkPost
have) and the reading of the provider's payload. Amazon SES's SNS messages also have their
signature verified, by Parley (``channels_inbox.sns``). Parley's subclasses add the
channel, named by the URL, and store each message with ``inbound_store`` before answering 200,
instead of sending anymail's global ``inbound`` signal (no signals in the core flow). The
pipeline runs on Celery; the request only authenticates, reads and stores.

What a POST gets, in the order it is checked:

1. 413 -- the body is larger than ``PARLEY_MAX_INBOUND_BYTES``.
2. 503 -- this provider cannot be authenticated here: no ``WEBHOOK_SECRET`` for a provider
   whose only check is basic auth (anymail itself would accept the request with a warning),
   no Mailgun signing key, or boto3 missing for Amazon SES. Logged as an error; providers
   retry a 5xx, so mail sent while the setting is being fixed is not lost.
3. 400 -- anymail's check failed (wrong signature, wrong or missing basic auth); 401 with
   ``WWW-Authenticate`` when an Amazon SNS request carries no credentials at all, which SNS
   needs before it sends them. Nothing is stored.
3b. Amazon SES only: 403 -- the SNS message signature is missing or wrong (``sns.verify``);
   503 -- the allowed certificate host could not be reached (SNS delivers again later).
4. 404 -- no active email channel has this key. Checked only once the request is
   authenticated: the credentials are the same for every channel, so a caller without them
   learns nothing about which keys exist.
5. 400 with ``{"error": ...}`` -- authenticated, but anymail cannot read the payload (missing
   fields, not JSON, a tracking webhook pointed at the inbound URL, Mailgun's store() action).
   Nothing is stored: there is no message in it to keep, and the provider's webhook log shows
   the reason.
6. 200 -- stored. The raw MIME as the provider sent it where it sends it (Mailgun's
   ``body-mime``, SendGrid's raw ``email``, Postmark's ``RawEmail``, SES's ``content``,
   SparkPost's ``email_rfc822``), else the message anymail rebuilt from the parsed fields.
   A message the pipeline cannot use is quarantined there, raw bytes kept; a second delivery
   of the same message is stored again and the pipeline marks it a duplicate.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from anymail.exceptions import AnymailAPIError, AnymailConfigurationError
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView, AnymailBotoClientAPIError
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from channels_inbox import services, sns
from channels_inbox.models import Channel

if TYPE_CHECKING:
    from anymail.inbound import AnymailInboundMessage
    from anymail.signals import AnymailInboundEvent

logger = logging.getLogger(__name__)

# Errors anymail raises while reading a payload it does not understand.
_UNREADABLE = (KeyError, IndexError, ValueError, TypeError, AttributeError, AnymailAPIError, AnymailConfigurationError)


class UnreadablePayload(Exception):
    """An authenticated request whose payload holds no message anymail can read."""


def _email_channel(key: str) -> Channel:
    channel = Channel.objects.filter(public_key=key, kind=Channel.Kind.EMAIL, is_active=True).first()
    if channel is None:
        raise Http404("no active email channel has this key")
    return channel


def _describe(exc: Exception) -> str:
    """anymail's reason in words: its own errors say what is misconfigured; a KeyError names a field."""
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        key = exc.args[0]
        return key if " " in key else f"missing field {key!r}"
    if isinstance(exc, AnymailConfigurationError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _text_bytes(value: Any) -> bytes | None:
    """A raw MIME field as bytes (form fields and JSON strings arrive decoded as text)."""
    if isinstance(value, str) and value:
        return value.encode("utf-8", errors="replace")
    return None


def _message_bytes(message: AnymailInboundMessage) -> bytes:
    """The message anymail built from a provider's parsed fields, serialized."""
    try:
        return message.as_bytes()
    except Exception:  # noqa: BLE001 - the generator refuses some odd headers; text still serializes
        return message.as_string().encode("utf-8", errors="replace")


class EmailInboundWebhook:
    """Mixed in before an anymail inbound view: refuses what cannot be authenticated, finds the
    channel, stores each message. anymail's own ``post``/``dispatch`` (CSRF exemption, SES's 401)
    and validators run unchanged."""

    # The URL segment and the tail of InboundMessage.source: "mailgun" -> "hook:email:mailgun".
    esp: ClassVar[str]
    # Set by anymail's views; declared here for type checkers.
    basic_auth: list[str] | None
    warn_if_no_basic_auth: bool
    esp_name: str
    kwargs: dict[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        # anymail reads its settings when the view is built (once per request): a missing
        # Mailgun key or a missing boto3 raises here, before dispatch could answer.
        self.configuration_error = ""
        try:
            super().__init__(**kwargs)
        except AnymailConfigurationError as exc:
            self.configuration_error = str(exc)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        try:
            return super().post(request, *args, **kwargs)  # type: ignore[misc]
        except UnreadablePayload as exc:
            logger.warning("inbound email webhook payload refused", extra={"esp": self.esp, "error": str(exc)})
            return JsonResponse({"error": str(exc)}, status=400)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > settings.PARLEY_MAX_INBOUND_BYTES:
            return JsonResponse({"error": f"payload larger than {settings.PARLEY_MAX_INBOUND_BYTES} bytes"}, status=413)
        problem = self.configuration_error
        if not problem and self.warn_if_no_basic_auth and not self.basic_auth:
            problem = f"{self.esp_name} inbound webhooks are authenticated only by basic auth, and ANYMAIL_WEBHOOK_SECRET is not set"
        if problem:
            logger.error("inbound email webhook refused: not configured", extra={"esp": self.esp, "problem": problem})
            return JsonResponse({"error": f"{self.esp_name} inbound email is not configured on this server"}, status=503)
        return None

    def run_validators(self, request: HttpRequest) -> None:
        try:
            super().run_validators(request)  # type: ignore[misc]
        except AnymailAPIError as exc:
            # Amazon SES: a body that is not an SNS message at all.
            raise UnreadablePayload(str(exc)[:300]) from exc

    def parse_events(self, request: HttpRequest) -> list:
        """Called by anymail once the request is authenticated: store, and signal nothing."""
        channel = _email_channel(self.kwargs["channel_key"])
        try:
            events = super().parse_events(request)  # type: ignore[misc]
        except AnymailBotoClientAPIError:
            raise  # Amazon SES: the S3 download failed; a 500 makes SNS deliver again later
        except _UNREADABLE as exc:
            raise UnreadablePayload(f"{self.esp_name} inbound payload could not be read: {_describe(exc)}"[:500]) from exc
        for event in events:
            message = event.message
            if message is None:
                continue
            services.inbound_store(
                channel=channel,
                raw=self.original_mime(request, event) or _message_bytes(message),
                external_id=str(event.event_id or ""),
                source=f"hook:email:{self.esp}",
                envelope_recipient=str(message.envelope_recipient or ""),
                enqueue=True,
            )
        return []  # anymail's post() would send them to its global signal; Parley has stored them

    def original_mime(self, request: HttpRequest, event: AnymailInboundEvent) -> bytes | None:
        """The message exactly as the provider sent it, if it sends raw MIME."""
        return None


class MailgunInbound(EmailInboundWebhook, MailgunInboundWebhookView):
    """Mailgun route ``forward()``: raw MIME (``body-mime``) when the URL ends in ``inbound_mime/``,
    parsed fields otherwise. Signed with the webhook signing key."""

    esp = "mailgun"

    def original_mime(self, request, event):
        return _text_bytes(request.POST.get("body-mime"))


class PostmarkInbound(EmailInboundWebhook, PostmarkInboundWebhookView):
    """Postmark's inbound JSON; ``RawEmail`` is there when "Include raw email content" is on."""

    esp = "postmark"

    def original_mime(self, request, event):
        return _text_bytes(event.esp_event.get("RawEmail"))


class SendGridInbound(EmailInboundWebhook, SendGridInboundWebhookView):
    """SendGrid Inbound Parse (multipart/form-data); ``email`` holds the raw MIME when "POST the
    raw, full MIME message" is on. anymail warns that it no longer officially supports SendGrid."""

    esp = "sendgrid"

    def original_mime(self, request, event):
        # anymail reads the parsed fields when both are present; so do we.
        return None if "headers" in request.POST else _text_bytes(request.POST.get("email"))


class AmazonSesInbound(EmailInboundWebhook, AmazonSESInboundWebhookView):
    """Amazon SES receipt rule -> SNS topic -> this URL (HTTPS subscription with basic auth).

    Two checks: anymail's basic auth in the subscription URL, then the SNS message signature
    (``channels_inbox.sns``; anymail 15.x has no such check). The "SNS" action carries the
    message; the "S3" action makes anymail download it with boto3 and AWS credentials from
    boto3's usual sources.
    """

    esp = "amazon_ses"

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except sns.SignatureInvalid as exc:
            logger.warning("Amazon SNS message refused: bad signature", extra={"error": str(exc)})
            return JsonResponse({"error": f"SNS message signature refused: {exc}"}, status=403)
        except sns.CertificateUnavailable as exc:
            logger.error("Amazon SNS unreachable", extra={"error": str(exc)})
            return JsonResponse({"error": f"Amazon SNS could not be reached, try again later: {exc}"}, status=503)

    def run_validators(self, request):
        # Basic auth and anymail's header checks first: an unauthenticated caller never makes
        # Parley fetch a certificate.
        super().run_validators(request)
        sns.verify(self._parse_sns_message(request))

    def parse_events(self, request):
        sns_message = self._parse_sns_message(request)
        if sns_message.get("Type") == "SubscriptionConfirmation":
            # Confirmed below when AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS is on (the default);
            # otherwise opening this URL confirms the subscription by hand.
            logger.warning(
                "Amazon SNS subscription confirmation received",
                extra={"topic_arn": sns_message.get("TopicArn"), "subscribe_url": sns_message.get("SubscribeURL")},
            )
        return super().parse_events(request)

    def auto_confirm_sns_subscription(self, sns_message):
        """Confirm by opening the signed ``SubscribeURL``, as AWS documents, instead of anymail's
        boto3 call: no AWS credentials are needed. Reached only once basic auth and the signature
        have passed; the URL must point at SNS (the certificate URL pattern) as well."""
        if not self.auto_confirm_enabled:
            return
        url = sns_message.get("SubscribeURL")
        if not sns.cert_url_allowed(url):
            logger.error("Amazon SNS SubscribeURL not on an SNS host; confirm by hand", extra={"subscribe_url": url})
            return
        try:
            response = httpx.get(url, timeout=sns.CERT_FETCH_TIMEOUT, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise sns.CertificateUnavailable(f"SubscribeURL could not be opened: {type(exc).__name__}") from exc
        if response.status_code != 200:
            logger.error(
                "Amazon SNS subscription confirmation failed; confirm by hand",
                extra={"subscribe_url": url, "status": response.status_code},
            )
            return
        logger.info("Amazon SNS subscription confirmed", extra={"topic_arn": sns_message.get("TopicArn")})

    def original_mime(self, request, event):
        action = (event.esp_event.get("receipt") or {}).get("action") or {}
        content = event.esp_event.get("content")
        if action.get("type") != "SNS" or not isinstance(content, str):
            return None  # S3: anymail streamed and parsed it; its serialization is stored
        if action.get("encoding") == "BASE64":
            try:
                return base64.b64decode(content.encode("ascii"))
            except (ValueError, binascii.Error):
                return None
        return _text_bytes(content)


class MailjetInbound(EmailInboundWebhook, MailjetInboundWebhookView):
    """Mailjet Parse API: parsed fields only (no raw MIME); anymail rebuilds the message."""

    esp = "mailjet"


class SparkPostInbound(EmailInboundWebhook, SparkPostInboundWebhookView):
    """SparkPost inbound relay webhook: a batch of relay messages, each with its raw MIME."""

    esp = "sparkpost"

    def original_mime(self, request, event):
        content = (event.esp_event.get("msys", {}).get("relay_message") or {}).get("content") or {}
        raw = content.get("email_rfc822")
        if not isinstance(raw, str):
            return None
        if content.get("email_rfc822_is_base64"):
            try:
                return base64.b64decode(raw)
            except (ValueError, binascii.Error):
                return None
        return _text_bytes(raw)


# The providers Parley takes inbound mail from, by URL segment (explicit: no dynamic imports).
EMAIL_WEBHOOKS: dict[str, type[EmailInboundWebhook]] = {
    view.esp: view for view in (MailgunInbound, PostmarkInbound, SendGridInbound, AmazonSesInbound, MailjetInbound, SparkPostInbound)
}
