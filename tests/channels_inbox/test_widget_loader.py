"""The widget's loader script (/widget/<key>.js) and its demo host page."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from channels_inbox.models import Channel
from channels_inbox.widget.config import WidgetSettings
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

BOOT = re.compile(r"window\.ParleyWidget\.boot\((.*)\);\s*$", re.DOTALL)


def _chat(**widget) -> Channel:
    return ChannelFactory(kind=Channel.Kind.CHAT, name="Website chat", config={"widget": widget})


def _boot_settings(body: str) -> dict:
    """The settings object the script hands to the widget, read back as JSON."""
    match = BOOT.search(body)
    assert match, "the loader ends with ParleyWidget.boot({...})"
    return json.loads(match.group(1))


def test_the_loader_serves_the_widget_with_the_channels_settings(client):
    channel = _chat(color="#aa3300", greeting="Hi! Ask us anything.", position="left", language="fr",
                    prechat={"name": "required", "email": "optional"},
                    allowed_origins=["https://shop.example"], require_verification=True)
    channel.secrets = {"identity_secret": "s3cr3t-value"}
    channel.save()

    response = client.get(f"/widget/{channel.public_key}.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert "window.ParleyWidget" in body and "attachShadow" in body  # the widget's code itself
    settings = _boot_settings(body)
    assert settings["key"] == channel.public_key
    assert settings["color"] == "#aa3300"
    assert settings["greeting"] == "Hi! Ask us anything."
    assert settings["position"] == "left"
    assert settings["language"] == "fr"
    assert settings["prechat"] == {"name": "required", "email": "optional"}
    assert settings["title"] == "Website chat"
    assert settings["base"] == "http://testserver"
    assert ".launcher" in settings["css"]  # the styles travel with it: no second request
    assert settings["upload"]["max_bytes"] > 0 and "image/png" in settings["upload"]["types"]
    # What the page must not know stays on the server.
    assert "shop.example" not in body and "s3cr3t-value" not in body


def test_settings_out_of_range_fall_back_to_defaults(client):
    channel = _chat(color="red; background: url(//evil.example)", position="top", language="xx",
                    prechat={"name": "sometimes", "email": "required"})
    settings = _boot_settings(client.get(f"/widget/{channel.public_key}.js").content.decode())
    defaults = WidgetSettings()
    assert settings["color"] == defaults.color
    assert settings["position"] == "right"
    assert settings["prechat"] == {"name": defaults.prechat["name"], "email": "required"}


@pytest.mark.parametrize("case", ["unknown", "inactive", "not_chat"])
def test_unknown_inactive_or_non_chat_keys_get_a_harmless_comment_and_404(client, case):
    if case == "unknown":
        key = "no-such-key"
    elif case == "inactive":
        key = ChannelFactory(kind=Channel.Kind.CHAT, is_active=False).public_key
    else:
        key = ChannelFactory(kind=Channel.Kind.EMAIL).public_key

    response = client.get(f"/widget/{key}.js")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content.decode().strip()
    assert body.startswith("/*") and body.endswith("*/") and body.count("*/") == 1  # a comment and nothing else


def test_caching_headers_etag_and_revalidation(client):
    channel = _chat(greeting="Hello")
    first = client.get(f"/widget/{channel.public_key}.js")
    assert re.fullmatch(r"public, max-age=\d+", first["Cache-Control"])
    assert 0 < int(first["Cache-Control"].rsplit("=", 1)[1]) <= 3600  # short: settings changes show soon
    etag = first["ETag"]
    assert etag

    again = client.get(f"/widget/{channel.public_key}.js", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    # Compressed, the tag becomes a weak one; revalidating with it still answers 304.
    gzipped = client.get(f"/widget/{channel.public_key}.js", HTTP_ACCEPT_ENCODING="gzip")
    assert "Accept-Encoding" in gzipped["Vary"]
    assert client.get(f"/widget/{channel.public_key}.js", HTTP_ACCEPT_ENCODING="gzip",
                      HTTP_IF_NONE_MATCH=gzipped["ETag"]).status_code == 304

    channel.config = {"widget": {"greeting": "Bonjour"}}
    channel.save()
    changed = client.get(f"/widget/{channel.public_key}.js", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert _boot_settings(changed.content.decode())["greeting"] == "Bonjour"


@pytest.mark.parametrize("greeting", [
    "</script><script>alert(1)</script>",
    "<!-- <script>",
    "\"); alert(1); (\"",
    "line\u2028separator\u2029and `${backtick}` \\ and '; alert(2); //",
])
def test_hostile_settings_cannot_break_out_of_the_script(client, greeting):
    channel = _chat(greeting=greeting, color="</script>")
    body = client.get(f"/widget/{channel.public_key}.js").content.decode()
    boot = BOOT.search(body).group(1)
    # No character that could end a <script> element, open a comment or end a JS line inside a string.
    for dangerous in ("<", ">", "\u2028", "\u2029"):
        assert dangerous not in boot
    settings = _boot_settings(body)
    assert settings["greeting"] == greeting  # the visitor still reads exactly what was configured
    assert settings["color"] == WidgetSettings().color


def test_everything_the_host_page_downloads_is_under_30_kb_gzipped(client):
    channel = _chat(greeting="Hello! " * 40, prechat={"name": "optional", "email": "required"})
    response = client.get(f"/widget/{channel.public_key}.js", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    body = gzip.decompress(response.content).decode()
    assert "ParleyWidget.boot" in body
    # The loader is the only download (code and styles inline); measured as sent.
    assert len(response.content) < 30 * 1024, f"{len(response.content)} bytes gzipped"


def test_the_demo_page_embeds_the_demo_chat_channel_with_one_tag(client):
    ChannelFactory(kind=Channel.Kind.CHAT, name="Old chat", is_active=False)
    channel = _chat()
    response = client.get("/widget/demo/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<script src="/widget/{channel.public_key}.js" async></script>' in html
    assert "/static/css/parley.css" not in html  # a customer's site, not Parley's pages


def test_the_demo_page_without_a_chat_channel_says_how_to_make_one(client):
    response = client.get("/widget/demo/")
    assert response.status_code == 404
    assert "seed_demo" in response.content.decode()
