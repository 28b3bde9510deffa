"""The public webhook doors refuse a flood from one address before doing any work."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from channels_inbox.models import InboundMessage
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def test_a_flood_from_one_address_gets_429_and_stores_nothing(settings):
    settings.PARLEY_HOOKS_IP_RATE = 3
    channel = ChannelFactory(kind="telegram", name="Bot", secrets={"bot_token": "1:x", "secret_token": "s3cret"})
    url = reverse("channels_inbox:hook_telegram", kwargs={"channel_key": channel.public_key})
    flood = Client(REMOTE_ADDR="203.0.113.77")
    answers = [flood.post(url, data=b"{}", content_type="application/json").status_code for _ in range(5)]
    assert answers[:3] == [401, 401, 401] or all(a in (401, 403) for a in answers[:3])
    assert answers[3:] == [429, 429]
    assert flood.post(url, data=b"{}", content_type="application/json")["Retry-After"] == "60"
    # Another address is not affected, and the email doors share the rule.
    assert Client(REMOTE_ADDR="198.51.100.1").post(url, data=b"{}", content_type="application/json").status_code in (401, 403)
    email = ChannelFactory(kind="email", name="Mail", inbound_address="mail@parley.test")
    postmark = reverse("channels_inbox:email_inbound_postmark", kwargs={"channel_key": email.public_key})
    assert flood.post(postmark, data=b"{}", content_type="application/json").status_code == 429
    assert not InboundMessage.objects.exists()
