"""Channel secrets: encrypted at rest, never shown back in full in the admin, validated per
kind, and the admin's 'test connection' action."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from channels_inbox.models import Channel
from channels_inbox.social.secrets import secret_value
from tests.channels_inbox.platforms import TELEGRAM_TOKEN
from tests.factories import ChannelFactory


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def raw_secrets(channel: Channel) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM channels_inbox_channel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_secrets_are_encrypted_at_rest_and_read_back(db):
    channel = ChannelFactory(kind="telegram", secrets={"bot_token": TELEGRAM_TOKEN, "webhook_secret": "hook-secret"})

    stored = raw_secrets(channel)
    assert TELEGRAM_TOKEN not in stored and "hook-secret" not in stored and stored.startswith("gAAAAA")
    assert Channel.objects.get(pk=channel.pk).secrets == {"bot_token": TELEGRAM_TOKEN, "webhook_secret": "hook-secret"}


def test_a_changed_secret_key_leaves_secrets_unreadable_but_never_destroys_them(db, settings):
    channel = ChannelFactory(kind="telegram", secrets={"bot_token": TELEGRAM_TOKEN})
    token = raw_secrets(channel)
    settings.SECRET_KEY = "another-key"

    reloaded = Channel.objects.get(pk=channel.pk)
    assert reloaded.secrets == {}
    reloaded.save()
    assert raw_secrets(channel) == token


def test_a_configured_encryption_key_encrypts_and_the_derived_key_still_decrypts(db, settings):
    from cryptography.fernet import Fernet

    old = ChannelFactory(kind="telegram", secrets={"bot_token": "old"})
    settings.PARLEY_ENCRYPTION_KEY = Fernet.generate_key().decode()
    new = ChannelFactory(kind="telegram", secrets={"bot_token": "new"})

    assert Channel.objects.get(pk=old.pk).secrets == {"bot_token": "old"}
    assert Channel.objects.get(pk=new.pk).secrets == {"bot_token": "new"}
    settings.PARLEY_ENCRYPTION_KEY = ""
    assert Channel.objects.get(pk=new.pk).secrets == {}  # only the configured key opens it


def test_secrets_can_be_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PARLEY_TEST_BOT_TOKEN", "from-env")
    assert secret_value({"bot_token": "env:PARLEY_TEST_BOT_TOKEN"}, "bot_token") == "from-env"


def test_the_admin_never_shows_a_secret_in_full_and_keeps_them_when_left_empty(admin_client):
    channel = ChannelFactory(kind="telegram", secrets={"bot_token": TELEGRAM_TOKEN, "webhook_secret": "hook-secret-value-123"})
    url = reverse("admin:channels_inbox_channel_change", args=[channel.pk])

    page = admin_client.get(url).content.decode()
    assert TELEGRAM_TOKEN not in page and "hook-secret-value-123" not in page
    assert "set, 21 characters, ending …-123" in page

    response = admin_client.post(url, {
        "kind": "telegram", "name": "Renamed", "is_active": "on", "public_key": channel.public_key,
        "config": "{}", "secrets_update": '{"webhook_secret": "rotated-secret-value-456"}',
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    channel.refresh_from_db()
    assert channel.name == "Renamed"
    assert channel.secrets == {"bot_token": TELEGRAM_TOKEN, "webhook_secret": "rotated-secret-value-456"}


def test_the_admin_validates_each_kinds_settings(admin_client):
    response = admin_client.post(reverse("admin:channels_inbox_channel_add"), {
        "kind": "whatsapp", "name": "WA", "is_active": "on", "public_key": "k1", "config": '{"colour": "red"}', "secrets_update": "",
    })
    page = response.content.decode()
    assert response.status_code == 200
    assert "config needs &#x27;phone_number_id&#x27;" in page and "unknown settings: colour" in page
    assert "secret &#x27;access_token&#x27; is not set" in page
    assert not Channel.objects.exists()


def test_the_test_connection_action(admin_client, telegram_api):
    good = ChannelFactory(kind="telegram", name="Good bot", config={"api_base": telegram_api.url}, secrets={"bot_token": TELEGRAM_TOKEN, "webhook_secret": "s"})
    bad = ChannelFactory(kind="telegram", name="Bad bot", config={"api_base": telegram_api.url}, secrets={"bot_token": "1:nope", "webhook_secret": "s"})

    response = admin_client.post(reverse("admin:channels_inbox_channel_changelist"),
                                 {"action": "test_connection", "_selected_action": [good.pk, bad.pk]}, follow=True)

    page = response.content.decode()
    assert "Good bot: Connected to Telegram as @parley_support_bot" in page
    assert "Bad bot: Telegram answered 401: Unauthorized" in page
