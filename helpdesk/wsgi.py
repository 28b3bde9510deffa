"""WSGI entry point (gunicorn etc.); the ASGI one in asgi.py also serves websockets."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
application = get_wsgi_application()
