"""Serving stored attachments safely, wherever they are served from.

Two doors lead to an attachment file: the agent's ticket page (login, visibility) and a
signed public link handed to a messaging platform that fetches media by URL (Instagram,
Twilio). Both answer through ``attachment_response`` so that a file uploaded by a customer
can never run as a page of our origin: only raster images are shown inline; everything
else (HTML, SVG, PDF, scripts) is a download of type application/octet-stream, under a
sandboxing Content-Security-Policy and ``nosniff``.
"""

from __future__ import annotations

from django.http import FileResponse

from tickets.models import Attachment

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def attachment_response(attachment: Attachment, *, cache_control: str) -> FileResponse:
    """The file of ``attachment`` (which must have one) as a safe response."""
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.filename,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = cache_control
    return response
