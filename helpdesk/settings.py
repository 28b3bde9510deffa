"""Parley settings, read from the environment (django-environ).

Two running modes, chosen by the environment alone:

* embedded (no ``DATABASE_URL``): SQLite under ``var/``, local-memory cache,
  in-memory channel layer, Celery tasks run in-process. A secret key is generated
  once and kept in ``var/secret_key`` so ``make run`` needs nothing by hand.
* full (``DATABASE_URL`` set): PostgreSQL, Redis cache / broker / channel layer,
  a separate Celery worker and beat. ``SECRET_KEY`` must come from the environment.

Every variable read here is listed in the README's configuration table.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Mode and paths ------------------------------------------------------------------

VAR_DIR = Path(env("PARLEY_VAR_DIR", default=str(BASE_DIR / "var")))
FULL_MODE = bool(env("DATABASE_URL", default=""))
REDIS_URL = env("REDIS_URL", default="")

# --- Security ------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """Full mode refuses to start without a key; embedded mode keeps its own under var/."""
    key = env("SECRET_KEY", default="")
    if key:
        return key
    if FULL_MODE:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment in full mode (DATABASE_URL is set).")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if FULL_MODE else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind HTTPS (a TLS-terminating proxy sets X-Forwarded-Proto), cookies are secure.
SECURE_HTTPS = env.bool("SECURE_HTTPS", default=False)
if SECURE_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sign-in brute-force guard (tickets/login_guard.py): failed attempts per username and
# address, and per address, in fixed windows.
PARLEY_LOGIN_MAX_FAILURES = env.int("PARLEY_LOGIN_MAX_FAILURES", default=5)
PARLEY_LOGIN_MAX_FAILURES_PER_IP = env.int("PARLEY_LOGIN_MAX_FAILURES_PER_IP", default=50)
PARLEY_LOGIN_WINDOW_SECONDS = env.int("PARLEY_LOGIN_WINDOW_SECONDS", default=15 * 60)
# Reverse proxies in front of Parley that append to X-Forwarded-For (0: use REMOTE_ADDR).
PARLEY_TRUSTED_PROXIES = env.int("PARLEY_TRUSTED_PROXIES", default=0)
# Requests per minute one address may make to the inbound webhooks under /hooks/.
PARLEY_HOOKS_IP_RATE = env.int("PARLEY_HOOKS_IP_RATE", default=1200)

# --- Applications --------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally (no CDN)
    "channels",
    "tickets",
    "tickets.routing",  # routing, assignment, SLA and automations (label "routing")
    "channels_inbox",
    "metrics",
    "tickets.api",  # the REST API: keys and idempotency records (label "api")
    "metrics.surveys",  # CSAT/CES/NPS surveys (label "surveys")
    "tickets.webhooks",  # outgoing webhooks: endpoints and the delivery log (label "webhooks")
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tickets.context_processors.workspace",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------

if FULL_MODE:
    DATABASES = {"default": env.db("DATABASE_URL")}
    # 0 by default: under an ASGI server every request runs in a new thread, so kept
    # connections pile up instead of being reused (Django's documentation). Celery
    # workers may set it higher.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A dead database answers /healthz (and requests) with an error in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    # Server-side parameter binding lets psycopg prepare the statements a process repeats
    # (the pipeline's few dozen, thousands of times): PostgreSQL stops re-planning them.
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", env.bool("DATABASE_SERVER_SIDE_BINDING", default=True))
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "parley.sqlite3",
            # SQLite in WAL mode with a busy timeout: the ASGI server and in-process tasks
            # write from several threads.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("CACHE_URL", default=REDIS_URL),
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="parley"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "parley"}}

# --- Channels (realtime) ------------------------------------------------------------

if REDIS_URL:
    # The pub/sub layer: the list-based RedisChannelLayer collapsed at 1,000 rooms in our
    # measurements (shared/FLOORS.md); redis-py caps its async pool at 100 connections
    # unless told otherwise.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": env("CHANNEL_LAYER_URL", default=REDIS_URL), "max_connections": 2000}],
                "prefix": env("CHANNEL_LAYER_PREFIX", default="parley"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery --------------------------------------------------------------------------

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only once it has run: a worker killed mid-task leaves it on the
# queue. Every task is idempotent, so a second run is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="parley")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {
    # Safety net: an inbound row whose task was lost (broker flushed or down when it was
    # queued) is queued again; processing is idempotent, so a second run is harmless.
    "requeue-stale-inbound": {"task": "channels_inbox.tasks.requeue_stale_inbound", "schedule": 300.0},
    # The same for replies: one still "queued" whose delivery task was lost is queued again.
    "requeue-stale-outbound": {"task": "channels_inbox.tasks.requeue_stale_outbound", "schedule": 300.0},
    # IMAP mailboxes of email channels: one locked poll task per mailbox per tick.
    "poll-imap": {"task": "channels_inbox.tasks.poll_imap_mailboxes", "schedule": env.int("IMAP_POLL_SECONDS", default=60)},
    # Routing: SLA warnings, breaches and escalation, time-based rules, queued tickets to free agents.
    "routing-tick": {"task": "tickets.routing.tasks.routing_tick", "schedule": env.int("ROUTING_TICK_SECONDS", default=60)},
    # Metrics: rebuild the rollup days marked dirty by ticket refreshes and survey answers.
    "metrics-rollups": {"task": "metrics.tasks.refresh_rollups", "schedule": env.int("METRICS_ROLLUP_SECONDS", default=60)},
    # Outgoing webhooks: retries that are due and whose task is not coming (lost, or too far ahead for an ETA).
    "webhooks-requeue-due": {"task": "tickets.webhooks.tasks.requeue_due_webhook_deliveries", "schedule": 60.0},
    "webhooks-prune": {"task": "tickets.webhooks.tasks.prune_webhook_deliveries", "schedule": 86400.0},
    # REST API: Idempotency-Key answers are kept 24 hours.
    "api-prune-idempotency": {"task": "tickets.api.tasks.prune_idempotency_records", "schedule": 3600.0},
}

# --- Auth ----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:inbox"
LOGOUT_REDIRECT_URL = "login"

# The REST API (tickets/api/): API keys, scopes, problem details, cursor pages, throttles.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tickets.api.authentication.ApiKeyAuthentication",
        "tickets.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tickets.api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["tickets.api.throttling.ApiRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tickets.api.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "tickets.api.problems.ProblemJSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "tickets.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "tickets.api.problems.exception_handler",
}
# Requests per API key (or per signed-in user), and per address without credentials.
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="1200/min")
API_THROTTLE_ANON_RATE = env("API_THROTTLE_ANON_RATE", default="60/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "The Parley helpdesk REST API (v1). Guide with examples: docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several resources have a "kind" field with its own choices: name the customer identity's.
    "ENUM_NAME_OVERRIDES": {"IdentityKindEnum": "tickets.models.CustomerIdentity.Kind"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tickets.api.schema.drop_backend_integer_limits",  # the same schema on SQLite and PostgreSQL
    ],
}

# --- Email ---------------------------------------------------------------------------

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend" if FULL_MODE else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "outbox"
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="support@parley.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Parley --------------------------------------------------------------------------

PARLEY_COMPANY_NAME = env("PARLEY_COMPANY_NAME", default="Parley Demo")
# Where customers and other systems reach this server: the base of every absolute link
# made without a request (survey links in emails, signed media URLs for platforms,
# webhook payloads). helpdesk/links.py builds them.
PARLEY_PUBLIC_URL = env("PARLEY_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# How long a signed public link to an attachment (given to Instagram and Twilio, which
# fetch media by URL) stays valid, in seconds.
PARLEY_PUBLIC_MEDIA_MAX_AGE = env.int("PARLEY_PUBLIC_MEDIA_MAX_AGE", default=24 * 3600)
# Surveys (docs/surveys.md): requests a minute per client IP on the public survey pages,
# and how many NPS campaign emails one Celery task sends before queuing the next batch.
PARLEY_SURVEY_RATE_LIMIT = env.int("PARLEY_SURVEY_RATE_LIMIT", default=60)
PARLEY_SURVEY_BATCH_SIZE = env.int("PARLEY_SURVEY_BATCH_SIZE", default=200)
# Largest attachment stored; a larger one is recorded on the message (name, size) only.
PARLEY_MAX_ATTACHMENT_BYTES = env.int("PARLEY_MAX_ATTACHMENT_BYTES", default=25 * 1024 * 1024)
# Raw inbound payloads larger than this are refused at the door (SMTP 552, HTTP 413).
PARLEY_MAX_INBOUND_BYTES = env.int("PARLEY_MAX_INBOUND_BYTES", default=50 * 1024 * 1024)
# Social and messaging channels (channels_inbox/social): channel secrets are encrypted at
# rest with these Fernet keys (comma-separated, the first encrypts; rotate by prepending a
# new one); unset, a key derived from SECRET_KEY is used.
PARLEY_ENCRYPTION_KEY = env("PARLEY_ENCRYPTION_KEY", default="")
# Seconds an outbound call to a platform's API may take (send, media download, test connection).
PARLEY_CHANNEL_HTTP_TIMEOUT = env.float("PARLEY_CHANNEL_HTTP_TIMEOUT", default=20.0)
# Largest webhook body a social/messaging platform may post (they send JSON, not files).
PARLEY_MAX_WEBHOOK_BYTES = env.int("PARLEY_MAX_WEBHOOK_BYTES", default=1024 * 1024)
# Outgoing webhooks (tickets/webhooks, docs/webhooks.md): seconds before each retry (the
# attempts are one more than the list is long; each wait gets ±20 % jitter), time limits of
# one attempt, when an endpoint is disabled, and whether private addresses may be targets.
PARLEY_WEBHOOK_RETRY_SCHEDULE = env.list(
    "PARLEY_WEBHOOK_RETRY_SCHEDULE", cast=float, default=[30, 120, 600, 1800, 7200, 21600, 43200, 86400]
)
PARLEY_WEBHOOK_CONNECT_TIMEOUT = env.float("PARLEY_WEBHOOK_CONNECT_TIMEOUT", default=5.0)
PARLEY_WEBHOOK_READ_TIMEOUT = env.float("PARLEY_WEBHOOK_READ_TIMEOUT", default=10.0)
PARLEY_WEBHOOK_DISABLE_AFTER_FAILURES = env.int("PARLEY_WEBHOOK_DISABLE_AFTER_FAILURES", default=10)
PARLEY_WEBHOOK_DISABLE_AFTER_DAYS = env.float("PARLEY_WEBHOOK_DISABLE_AFTER_DAYS", default=3.0)
PARLEY_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("PARLEY_WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
# Days the delivery log keeps finished (succeeded, given-up) deliveries.
PARLEY_WEBHOOK_LOG_DAYS = env.float("PARLEY_WEBHOOK_LOG_DAYS", default=30.0)
# Subscriptions are cached per process and re-read this often; a due retry whose task has
# not run this long after its time is queued again by beat.
PARLEY_WEBHOOK_RECHECK_SECONDS = 2.0
PARLEY_WEBHOOK_SWEEP_GRACE_SECONDS = 60.0
# `manage.py smtp_inbound`: where the inbound SMTP server listens (behind the company MTA;
# no TLS, no AUTH, so loopback or a private network only).
SMTP_INBOUND_HOST = env("SMTP_INBOUND_HOST", default="127.0.0.1")
SMTP_INBOUND_PORT = env.int("SMTP_INBOUND_PORT", default=2525)
# Live-chat widget (channels_inbox/widget, docs/channels/chat.md): limits per message and
# upload, allowed upload types, and rate limits per visitor and per client IP per minute.
PARLEY_WIDGET_MAX_MESSAGE_CHARS = env.int("PARLEY_WIDGET_MAX_MESSAGE_CHARS", default=5000)
PARLEY_WIDGET_MAX_UPLOAD_BYTES = env.int("PARLEY_WIDGET_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
PARLEY_WIDGET_UPLOAD_TYPES = env.list(
    "PARLEY_WIDGET_UPLOAD_TYPES",
    default=["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
)
PARLEY_WIDGET_VISITOR_RATE = env.int("PARLEY_WIDGET_VISITOR_RATE", default=60)
PARLEY_WIDGET_IP_RATE = env.int("PARLEY_WIDGET_IP_RATE", default=600)

# --- Inbound email webhooks (django-anymail, channels_inbox/webhooks.py) ---------------

# Only the settings that are set: an empty Mailgun key would let anyone sign with "".
# Without WEBHOOK_SECRET the providers that have only basic auth are refused (503).
ANYMAIL = {
    name: value
    for name, value in {
        # "user:password" (comma-separated to rotate), put in each provider's webhook URL.
        "WEBHOOK_SECRET": env.list("ANYMAIL_WEBHOOK_SECRET", default=[]),
        "MAILGUN_WEBHOOK_SIGNING_KEY": env("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
    }.items()
    if value
}
# Amazon SES through SNS: the signing certificate (and SubscribeURL) must match this regex
# (channels_inbox/sns.py; default HTTPS on sns.<region>.amazonaws.com[.cn]).
PARLEY_SNS_SIGNING_CERT_URL_PATTERN = env(
    "PARLEY_SNS_SIGNING_CERT_URL_PATTERN", default=r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
)
# Providers post whole messages as form fields or JSON (Mailgun's body-mime, Postmark's
# base64 attachments): Django's 2.5 MB default would refuse ordinary mail with attachments.
DATA_UPLOAD_MAX_MEMORY_SIZE = PARLEY_MAX_INBOUND_BYTES

# --- Internationalisation ------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ----------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Logging: one JSON object per line on stdout -------------------------------------

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
