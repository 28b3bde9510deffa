"""Shared fixtures. Tests run against whatever the environment says: PostgreSQL and Redis
in full mode (CI), SQLite and in-memory layers in embedded mode."""

from __future__ import annotations

import pytest
from django.conf import settings

from helpdesk.celery import app as celery_app

FULL_MODE = settings.FULL_MODE and bool(settings.REDIS_URL)

full_mode_only = pytest.mark.skipif(not FULL_MODE, reason="needs PostgreSQL and Redis (full mode)")


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test writes attachments and outgoing mail under its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    # The manifest storage needs collectstatic; tests render pages straight from static/.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Deliberately slow password hashing makes no sense in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks run in-process unless a test starts a real worker (tests marked ``worker``)."""
    from celery._state import _set_task_join_will_block

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    # Celery marks a process that hosted a worker pool as one where joining a result would
    # block; in a long test run something sets that process-wide flag, and an eager
    # result's .get() would then refuse. Eager results never block: clear it.
    _set_task_join_will_block(False)
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def email_channel(db):
    from tests.factories import ChannelFactory

    return ChannelFactory(kind="email", name="Support mailbox", inbound_address="support@parley.test")


@pytest.fixture
def agent_user(db):
    from tests.factories import AgentFactory

    return AgentFactory(role="agent").user


@pytest.fixture
def agent_client(client, agent_user):
    client.force_login(agent_user)
    return client


@pytest.fixture
def email_ticket(email_channel):
    """A ticket opened by Ada's first email ("Refund please", Message-ID root@example.com)."""
    from channels_inbox import services as inbound_services
    from tests.emails import build_email
    from tickets.models import Ticket

    inbound = inbound_services.inbound_store(
        channel=email_channel, raw=build_email(message_id="root@example.com", subject="Refund please"), enqueue=False
    )
    inbound_services.inbound_process(inbound_id=inbound.pk)
    return Ticket.objects.get()
