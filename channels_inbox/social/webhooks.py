"""Webhooks of the social and messaging channels: ``/hooks/<kind>/<channel-key>/``.

What a request gets, in order:

1. 413 -- the body is larger than ``PARLEY_MAX_WEBHOOK_BYTES``.
2. 404 -- no active channel of this kind has this key.
3. GET: the subscription handshake, where the platform has one (Meta's ``hub.challenge``
   with the channel's verify token); 405 otherwise.
4. 401 -- no signature at all; 403 -- a wrong one. Nothing is stored.
5. 200 -- stored as an InboundMessage (committed) and queued for the pipeline. The body is
   stored even when we do not understand it: the pipeline shows it to an agent or records
   why it was ignored; the platform never sees an error page for a shape we do not know.

The platforms retry a delivery that was not answered 200 in time; the pipeline drops the
repeat by (channel, external id), so a retried delivery creates nothing twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from channels_inbox import services
from channels_inbox.adapters import get_adapter
from channels_inbox.exceptions import SignatureMissing
from channels_inbox.models import Channel

logger = logging.getLogger(__name__)

# The kinds that take webhooks here (email has its own, through its providers).
SOCIAL_KINDS = (
    Channel.Kind.TELEGRAM,
    Channel.Kind.MESSENGER,
    Channel.Kind.INSTAGRAM,
    Channel.Kind.WHATSAPP,
    Channel.Kind.SMS,
    Channel.Kind.API,
)


@method_decorator(csrf_exempt, name="dispatch")
class ChannelWebhook(View):
    kind: str = ""
    http_method_names = ["get", "post"]

    def _channel(self, key: str) -> Channel:
        channel = Channel.objects.filter(public_key=key, kind=self.kind, is_active=True).first()
        if channel is None:
            raise Http404("no active channel of this kind has this key")
        return channel

    def get(self, request: HttpRequest, channel_key: str) -> HttpResponse:
        adapter = get_adapter(self.kind)
        handshake = getattr(adapter, "handshake", None)
        if handshake is None:
            return HttpResponse(status=405, headers={"Allow": "POST"})
        channel = self._channel(channel_key)
        try:
            return handshake(request, channel)
        except PermissionDenied as exc:
            return JsonResponse({"error": str(exc) or "forbidden"}, status=403)

    def post(self, request: HttpRequest, channel_key: str) -> HttpResponse:
        adapter: Any = get_adapter(self.kind)
        limit = adapter.max_body_bytes()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return JsonResponse({"error": f"payload larger than {limit} bytes"}, status=413)
        channel = self._channel(channel_key)
        if len(request.body) > limit:  # a chunked body has no Content-Length
            return JsonResponse({"error": f"payload larger than {limit} bytes"}, status=413)
        try:
            adapter.authenticate(request, channel)
        except SignatureMissing as exc:
            return JsonResponse({"error": str(exc) or "signature missing"}, status=401)
        except PermissionDenied as exc:
            logger.warning("webhook refused", extra={"kind": self.kind, "channel_id": channel.pk, "reason": str(exc)})
            return JsonResponse({"error": str(exc) or "signature does not match"}, status=403)
        payload, external_id = adapter.read_payload(request)
        # The exact bytes too, when what is stored as JSON had to be cleaned (a NUL, a lone
        # surrogate, a body that is not JSON): nothing the platform sent is lost.
        exact = request.body if _differs(payload, request.body) else None
        services.inbound_store(channel=channel, payload=payload, raw=exact, external_id=external_id, source=f"hook:{self.kind}")
        return adapter.acknowledgement()


def _differs(payload: Any, body: bytes) -> bool:
    if not isinstance(payload, dict) or "unreadable_body" in payload:
        return True
    try:
        return json.loads(body) != payload
    except ValueError:
        return False  # a form body (Twilio): its fields are the payload


WEBHOOK_VIEWS = {kind: type(f"{kind.title()}Webhook", (ChannelWebhook,), {"kind": kind}) for kind in SOCIAL_KINDS}
