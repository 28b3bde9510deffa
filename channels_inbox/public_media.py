"""Signed, expiring public links to our attachments, for platforms that fetch media by URL.

Instagram's Send API and Twilio's Messages API cannot take an uploaded file: they are
given a URL and download it themselves, from the internet, without our credentials. So the
URL itself is the credential: it names one attachment, is signed with SECRET_KEY (salted
for this one use) and expires after ``PARLEY_PUBLIC_MEDIA_MAX_AGE`` seconds — long enough
for the platform's fetch and its retries, short enough that a leaked link soon dies. The
file name in the path is decoration for the platform's preview; only the token counts.

Served through ``tickets.files.attachment_response``: raster images inline, everything
else as an octet-stream download under a sandboxing CSP, so a link can never serve a
customer's HTML or SVG as a page of our origin.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.text import get_valid_filename
from django.views.decorators.http import require_safe

from helpdesk.links import absolute_url
from tickets.files import attachment_response
from tickets.models import Attachment

_SALT = "parley.channels_inbox.public-media"


def public_media_url(attachment: Attachment) -> str:
    """An absolute URL a platform can fetch ``attachment`` from, valid for the max age."""
    token = signing.dumps(attachment.pk, salt=_SALT, compress=False)
    name = get_valid_filename(attachment.filename) or "file"
    return absolute_url(reverse("public_media", kwargs={"token": token, "filename": name}))


def _attachment_from_token(token: str) -> Attachment | None:
    try:
        attachment_id = signing.loads(token, salt=_SALT, max_age=settings.PARLEY_PUBLIC_MEDIA_MAX_AGE)
    except signing.BadSignature:  # tampered or expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(attachment_id, int):
        return None
    return Attachment.objects.filter(pk=attachment_id).exclude(file="").first()


@require_safe
def public_media(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    """The file behind a valid token; 404 for anything else, saying nothing more."""
    attachment = _attachment_from_token(token)
    if attachment is None:
        raise Http404("No such file")
    return attachment_response(attachment, cache_control="private, no-store")
