"""ASGI entry point: HTTP through Django, websockets through Channels' URL router."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from django.urls import re_path  # noqa: E402

from helpdesk.routing import public_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [
                *public_websocket_urlpatterns,  # the chat widget: per-channel origin checks of its own
                re_path(r"^", AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
            ]
        ),
    }
)

# The chat widget's messages are processed in this process (docs/channels/chat.md): load
# the language models now, in the background, rather than on the first customer's message
# (3-5 s on a small machine). The Celery worker does the same when it starts.
import threading  # noqa: E402

from tickets.routing.language import warm_up  # noqa: E402

threading.Thread(target=warm_up, name="parley-warm-up", daemon=True).start()
