"""Which channel receives mail for an address, and the unguessable reply-address tag."""

from __future__ import annotations

import pytest

from channels_inbox.selectors import (
    email_channel_for_address,
    split_plus_address,
    ticket_number_from_token,
    ticket_reply_token,
)
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def test_exact_and_plus_addressed_recipients_find_their_channel():
    channel = ChannelFactory(kind="email", inbound_address="support@acme.example")
    assert email_channel_for_address("Support@ACME.example").channel == channel
    plus = email_channel_for_address("support+t42-abc@acme.example")
    assert plus.channel == channel and plus.ticket_token == "t42-abc"
    assert email_channel_for_address("sales@acme.example") is None
    assert email_channel_for_address("") is None


def test_inactive_channels_receive_nothing():
    ChannelFactory(kind="email", inbound_address="old@acme.example", is_active=False)
    assert email_channel_for_address("old@acme.example") is None


def test_split_plus_address():
    assert split_plus_address("a+b+c@x.io") == ("a@x.io", "b+c")
    assert split_plus_address("a@x.io") == ("a@x.io", "")
    assert split_plus_address("no-at-sign") == ("no-at-sign", "")


def test_reply_token_round_trips_and_forgeries_fail(settings):
    token = ticket_reply_token(1234)
    assert token.startswith("t1234-")
    assert ticket_number_from_token(token) == 1234
    assert ticket_number_from_token(token.replace("t1234", "t1235")) is None
    assert ticket_number_from_token("t1234-0000000000") is None
    assert ticket_number_from_token("garbage") is None
    settings.SECRET_KEY = "another key"
    assert ticket_number_from_token(token) is None
