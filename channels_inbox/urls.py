"""Inbound webhooks, mounted under ``/hooks/`` (``/hooks/<kind>/<channel-key>/...``)."""

from __future__ import annotations

from django.urls import path

from channels_inbox.social.webhooks import WEBHOOK_VIEWS
from channels_inbox.webhooks import EMAIL_WEBHOOKS, MailgunInbound
from helpdesk.ratelimit import limit_by_ip

app_name = "channels_inbox"
# Every door here is public: a flood from one address is refused (429) before any work.
limited = limit_by_ip("hooks", "PARLEY_HOOKS_IP_RATE")

urlpatterns = [
    # reverse("channels_inbox:email_inbound_postmark", kwargs={"channel_key": channel.public_key})
    *(
        path(f"email/<str:channel_key>/{esp}/inbound/", limited(view.as_view()), name=f"email_inbound_{esp}")
        for esp, view in EMAIL_WEBHOOKS.items()
    ),
    # Mailgun posts the raw MIME message (body-mime) only to a URL that ends in "mime"; the form
    # without the slash is answered too, since a POST redirected to add it would be lost.
    path("email/<str:channel_key>/mailgun/inbound_mime/", limited(MailgunInbound.as_view()), name="email_inbound_mailgun_mime"),
    path("email/<str:channel_key>/mailgun/inbound_mime", limited(MailgunInbound.as_view())),
    # Social, messaging and API channels: reverse("channels_inbox:hook_telegram", kwargs={"channel_key": ...})
    *(path(f"{kind}/<str:channel_key>/", limited(view.as_view()), name=f"hook_{kind}") for kind, view in WEBHOOK_VIEWS.items()),
]
