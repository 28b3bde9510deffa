"""The widget's HTTP endpoints: the session, and the HTTPS fallback when websockets are blocked.

Why these views are ``csrf_exempt``, and why that is safe
---------------------------------------------------------
Django's CSRF protection defends *cookie* authentication: a hostile page making the
browser send the victim's cookies along. The widget uses no cookie at all. A visitor is
authenticated by their visitor token, which the widget sends in the ``X-Visitor-Token``
header; a custom header cannot be set by a form or a plain cross-site request, so a
browser must first send a CORS preflight, which we answer only for the channel's allowed
origins. A hostile page therefore can neither send a visitor's token (it does not have
it, and cannot make the browser attach it) nor get a preflight through from an origin not
on the list. The Origin header is checked again on every request. That is our CSRF
defence; Django's token (which needs a cookie and a page of ours) cannot apply to a widget
running on someone else's site, and that is the only reason these views are exempt.

The session endpoint has no token yet: it creates one, reads nothing that belongs to
anyone, and requires a JSON body (``application/json``, which also forces a preflight).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.text import get_valid_filename
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from channels_inbox.models import Channel
from channels_inbox.widget import frames, selectors, services
from channels_inbox.widget.config import WidgetSettings
from channels_inbox.widget.exceptions import WidgetError
from channels_inbox.widget.loader import public_settings
from helpdesk.ratelimit import client_ip
from tickets.files import attachment_response

TOKEN_HEADER = "X-Visitor-Token"  # noqa: S105 - a header name
# Magic numbers of the image types we show inline: a file claiming to be an image must be one.
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = f"Content-Type, {TOKEN_HEADER}"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


def _error(exc: WidgetError, origin: str = "", frame: Any = None) -> HttpResponse:
    return _cors(
        JsonResponse(frames.error_frame(exc, frame), status=exc.status), origin
    )


def widget_endpoint(*, needs_visitor: bool) -> Callable:
    """Channel by key (404), Origin against the channel's list (403, no CORS headers), the
    preflight, the per-IP rate limit, the visitor token (401), errors as ``error`` frames."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt  # see the module's docstring: the custom header + preflight is the CSRF defence
        @wraps(view)
        def wrapper(request: HttpRequest, key: str) -> HttpResponse:
            channel = selectors.chat_channel(key=key)
            if channel is None:
                raise Http404("No such chat")
            origin = request.headers.get("Origin", "")
            if not WidgetSettings.from_config(channel.config).origin_allowed(origin):
                return JsonResponse(
                    {
                        "type": "error",
                        "code": "origin_not_allowed",
                        "detail": "This site may not use this chat.",
                    },
                    status=403,
                )
            if request.method == "OPTIONS":
                return _cors(HttpResponse(status=204), origin)
            visitor = None
            try:
                if needs_visitor:
                    visitor = selectors.visitor_for_token(
                        channel=channel, token=request.headers.get(TOKEN_HEADER)
                    )
                    if visitor is None:
                        raise WidgetError(
                            "unknown_visitor",
                            f"Send the {TOKEN_HEADER} header from the session.",
                            status=401,
                        )
                    visitor.channel = channel
                services.check_rate(visitor=None, ip=client_ip(request))
                response = (
                    view(request, channel, visitor)
                    if needs_visitor
                    else view(request, channel)
                )
            except WidgetError as exc:
                return _error(exc, origin)
            return _cors(response, origin)

        return wrapper

    return decorate


def _json_body(request: HttpRequest) -> Any:
    if request.content_type != "application/json":
        raise WidgetError(
            "invalid_frame", "Send JSON (Content-Type: application/json).", status=415
        )
    try:
        return json.loads(request.body or b"{}")
    except ValueError:
        raise WidgetError("invalid_frame", "The body is not valid JSON.") from None


@widget_endpoint(needs_visitor=False)
def session(request: HttpRequest, channel: Channel) -> HttpResponse:
    if request.method != "POST":
        raise WidgetError("method_not_allowed", "POST a JSON body.", status=405)
    body = _json_body(request)
    if not isinstance(body, dict):
        raise WidgetError("invalid_frame", "The body is a JSON object.")
    result = services.visitor_session(
        channel=channel,
        token=body.get("visitor_token")
        if isinstance(body.get("visitor_token"), str)
        else None,
        name=body.get("name"),
        email=body.get("email"),
        identity=body.get("identity"),
    )
    visitor = result.visitor
    visitor.channel = channel
    ticket = selectors.conversation_ticket(visitor)
    return JsonResponse(
        {
            "visitor_token": result.token,
            "config": public_settings(channel),
            "agents_available": selectors.agents_available(channel),
            "history": selectors.history_frames(visitor=visitor),
            "ticket": {"number": ticket.number, "status": ticket.status}
            if ticket
            else None,
        }
    )


@widget_endpoint(needs_visitor=True)
def messages(request: HttpRequest, channel: Channel, visitor: Any) -> HttpResponse:
    """Any client frame, answered with what the websocket would answer (``{}`` for none)."""
    if request.method != "POST":
        raise WidgetError("method_not_allowed", "POST a frame.", status=405)
    frame = _json_body(request)
    try:
        answer = frames.handle(
            visitor=visitor, frame=frame, ip=""
        )  # the IP was counted above
    except WidgetError as exc:
        return JsonResponse(frames.error_frame(exc, frame), status=exc.status)
    return JsonResponse(answer or {})


@widget_endpoint(needs_visitor=True)
def events(request: HttpRequest, channel: Channel, visitor: Any) -> HttpResponse:
    if request.method != "GET":
        raise WidgetError("method_not_allowed", "GET the events.", status=405)
    after = request.GET.get("after") or ""
    if after and not after.isdigit():
        raise WidgetError("invalid_frame", "after must be a message id.")
    services.visitor_touch(visitor=visitor)
    return JsonResponse(
        {
            "events": services.visitor_events(
                visitor=visitor, after=int(after) if after else None
            )
        }
    )


def _checked_upload(request: HttpRequest) -> services.Upload:
    limit = settings.PARLEY_WIDGET_MAX_UPLOAD_BYTES
    detail = f"Files are limited to {limit // (1024 * 1024) or 1} MB."
    # Refused before the body is read when the request says it is too large.
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        raise WidgetError("upload_too_large", detail, status=413)
    client_id = request.POST.get("client_id")
    upload = request.FILES.get("file")
    if upload is None:
        raise WidgetError("invalid_frame", "Send the file as multipart form field 'file'.", client_id=client_id)
    if upload.size > limit:
        raise WidgetError("upload_too_large", detail, status=413, client_id=client_id)
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    allowed = settings.PARLEY_WIDGET_UPLOAD_TYPES
    if content_type not in allowed:
        raise WidgetError(
            "upload_type",
            f"This kind of file cannot be sent here. Allowed: {', '.join(allowed)}.",
            status=415,
            client_id=client_id,
        )
    data = upload.read()
    if content_type in _MAGIC and not data.startswith(_MAGIC[content_type]):
        raise WidgetError("upload_type", f"The file is not really {content_type}.", status=415, client_id=client_id)
    name = get_valid_filename(os.path.basename(upload.name or "")) or "upload"
    return services.Upload(name=name[:255], content_type=content_type, data=data)


@widget_endpoint(needs_visitor=True)
def upload(request: HttpRequest, channel: Channel, visitor: Any) -> HttpResponse:
    """A file (multipart: ``file``, ``client_id``, optional ``text``) -> the ``ack`` frame."""
    if request.method != "POST":
        raise WidgetError("method_not_allowed", "POST the file.", status=405)
    services.check_rate(visitor=visitor, ip="")
    checked = _checked_upload(request)
    ack, message = services.visitor_message_receive(
        visitor=visitor,
        client_id=request.POST.get("client_id"),
        text=request.POST.get("text") or "",
        upload=checked,
    )
    frames.announce_message(visitor, message)
    return JsonResponse(ack)


@require_safe
def file(request: HttpRequest, key: str, token: str) -> HttpResponse:
    """An attachment of a conversation, by the signed link its message frame carried."""
    channel = selectors.chat_channel(key=key)
    attachment = (
        selectors.attachment_for_file_token(channel=channel, token=token)
        if channel
        else None
    )
    if attachment is None:
        raise Http404("No such file")
    return attachment_response(attachment, cache_control="private, max-age=3600")
