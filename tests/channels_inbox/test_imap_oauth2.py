"""IMAP with OAuth2 (XOAUTH2) against a real Dovecot whose ``oauth2`` passdb checks each
access token with a local introspection stand-in, and a stand-in token endpoint that trades
the channel's refresh token for access tokens (RFC 6749's refresh_token grant).

The stand-in is one provider: ``/token`` issues tokens, ``/introspect`` (Dovecot's
``introspection_mode = post``) says which are active and whose they are. Revoking a token
there makes Dovecot refuse it at the next AUTHENTICATE (Dovecot's auth cache is off).
The Dovecot config is the 2.3 one (Debian 12); 2.4 moved OAuth2 out of the passdb.
Crash safety of the poll itself is test_imap.py's business: these tests run in one
transaction each (faster), only sign-in differs.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from channels_inbox import imap, oauth2
from channels_inbox.adapters.email.config import EmailChannelSettings, validate
from channels_inbox.models import Channel, ImapFolderState, InboundMessage
from tests.channels_inbox.dovecot import (
    CONFIG_2_3,
    Dovecot,
    dovecot_binary,
    dovecot_version,
    start_dovecot,
)
from tests.channels_inbox.standin import Answer, Request, StandIn
from tests.emails import build_email
from tests.factories import ChannelFactory
from tickets.models import Ticket

CLIENT_ID = "parley-client.apps.example"
CLIENT_SECRET = "client-secret-123"
REFRESH_TOKEN = "1//refresh-token-abc"

_binary = dovecot_binary()
needs_dovecot_2_3 = pytest.mark.skipif(
    _binary is None or dovecot_version(_binary) >= (2, 4),
    reason="needs Dovecot 2.3 (apt-get install dovecot-imapd): its oauth2 passdb validates the tokens",
)

# Dovecot 2.3 with XOAUTH2 through the oauth2 passdb; PLAIN/LOGIN (the static password) stay
# for the test's own set-up (appending mail).
CONFIG_OAUTH2 = CONFIG_2_3.replace("auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2").replace(
    "passdb {{\n  driver = static\n  args = password={password}\n}}",
    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2\n  args = {root}/dovecot-oauth2.conf.ext\n}}\n"
    "passdb {{\n  driver = static\n  mechanisms = plain login\n  args = password={password}\n}}",
)
assert "driver = oauth2" in CONFIG_OAUTH2 and "xoauth2" in CONFIG_OAUTH2

OAUTH2_FILE = """\
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


class OAuthProvider(StandIn):
    """A provider's token endpoint and its introspection endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = itertools.count(1)
        self.tokens: dict[str, str] = {}  # access token -> user name, while active
        self.owner: dict[str, str] = {}  # refresh token -> user name
        self.expires_in = 3600
        self.lock = threading.Lock()

    def handle(self, request: Request) -> Answer:
        if request.path == "/token" and request.method == "POST":
            return self.token(request)
        if request.path == "/introspect" and request.method == "POST":
            token = (request.form().get("token") or [""])[0]
            with self.lock:
                user = self.tokens.get(token)
            return Answer(200, {}, {"active": "true", "username": user} if user else {"active": "false"})
        return Answer(404, {}, {"error": "not_found"})

    def token(self, request: Request) -> Answer:
        form = {k: v[0] for k, v in request.form().items()}
        if form.get("grant_type") != "refresh_token":
            return Answer(400, {}, {"error": "unsupported_grant_type"})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Answer(401, {}, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        user = self.owner.get(form.get("refresh_token", ""))
        if user is None:
            return Answer(400, {}, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        token = f"ya29.token-{next(self.counter)}-{uuid.uuid4().hex[:8]}"
        with self.lock:
            self.tokens[token] = user
        return Answer(200, {}, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    def token_requests(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in r.form().items()} for r in self.requests if r.path == "/token"]

    def revoke_all(self) -> None:
        with self.lock:
            self.tokens.clear()


@pytest.fixture(scope="module")
def provider() -> Iterator[OAuthProvider]:
    standin = OAuthProvider().start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def dovecot(provider: OAuthProvider) -> Iterator[Dovecot]:
    server = start_dovecot(
        template=CONFIG_OAUTH2,
        files={"dovecot-oauth2.conf.ext": OAUTH2_FILE.replace("{introspection_url}", f"{provider.url}/introspect")},
    )
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh(provider: OAuthProvider) -> Iterator[None]:
    oauth2.clear_cache()
    provider.requests.clear()
    provider.scripted.clear()
    provider.expires_in = 3600
    yield
    oauth2.clear_cache()


@pytest.fixture
def mailbox(provider: OAuthProvider) -> str:
    user = f"support-{uuid.uuid4().hex[:12]}@parley.test"
    provider.owner[REFRESH_TOKEN + user] = user
    return user


def oauth2_channel(provider: OAuthProvider, dovecot: Dovecot, mailbox: str, **secrets: str) -> Channel:
    return ChannelFactory(
        kind=Channel.Kind.EMAIL,
        inbound_address=mailbox,
        config={
            "imap": dovecot.imap_config(
                mailbox, auth="oauth2", oauth2={"token_url": f"{provider.url}/token", "client_id": CLIENT_ID}
            )
        },
        secrets={
            "imap_oauth2_client_secret": CLIENT_SECRET,
            "imap_oauth2_refresh_token": REFRESH_TOKEN + mailbox,
            **secrets,
        },
    )


def deliver(dovecot: Dovecot, mailbox: str, count: int = 1) -> None:
    dovecot.append(
        mailbox,
        [build_email(subject=f"OAuth question {i}", message_id=f"oauth-{uuid.uuid4().hex}@example.com") for i in range(count)],
    )


def last_error(channel: Channel) -> str:
    return ImapFolderState.objects.get(channel=channel).last_error


# --- Against Dovecot --------------------------------------------------------------------


@needs_dovecot_2_3
@pytest.mark.django_db
def test_a_mailbox_signs_in_with_xoauth2_and_its_mail_becomes_tickets(provider, dovecot, mailbox, django_capture_on_commit_callbacks):
    channel = oauth2_channel(provider, dovecot, mailbox)
    deliver(dovecot, mailbox, 2)

    with django_capture_on_commit_callbacks(execute=True):  # the pipeline, queued on commit
        result = imap.imap_poll_channel(channel_id=channel.pk)

    assert result.ok, result.errors
    assert result.stored == 2
    assert Ticket.objects.filter(channel=channel).count() == 2
    assert provider.token_requests() == [
        {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN + mailbox, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]
    # Dovecot asked the provider about the token it was given.
    assert any(r.path == "/introspect" for r in provider.requests)


@needs_dovecot_2_3
@pytest.mark.django_db
def test_the_access_token_is_reused_until_shortly_before_it_expires(provider, dovecot, mailbox):
    channel = oauth2_channel(provider, dovecot, mailbox)
    deliver(dovecot, mailbox)

    assert imap.imap_poll_channel(channel_id=channel.pk).ok
    deliver(dovecot, mailbox)
    assert imap.imap_poll_channel(channel_id=channel.pk).stored == 1
    assert len(provider.token_requests()) == 1  # the second poll reused the token

    provider.expires_in = oauth2.EXPIRY_MARGIN_SECONDS  # tokens now expire within the margin
    oauth2.clear_cache()
    assert imap.imap_poll_channel(channel_id=channel.pk).ok
    assert imap.imap_poll_channel(channel_id=channel.pk).ok
    assert len(provider.token_requests()) == 3  # each poll needed a fresh one


@needs_dovecot_2_3
@pytest.mark.django_db
def test_a_revoked_cached_token_is_refreshed_once_and_the_poll_succeeds(provider, dovecot, mailbox):
    channel = oauth2_channel(provider, dovecot, mailbox)
    assert imap.imap_poll_channel(channel_id=channel.pk).ok
    provider.revoke_all()  # e.g. the admin reset the account's sessions
    deliver(dovecot, mailbox)

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert result.ok, result.errors
    assert result.stored == 1
    assert len(provider.token_requests()) == 2
    assert last_error(channel) == ""


@needs_dovecot_2_3
@pytest.mark.django_db
def test_a_fresh_token_the_server_refuses_is_an_authentication_error_without_a_loop(provider, dovecot, mailbox):
    # The token belongs to another user: Dovecot refuses it for this mailbox.
    other = f"other-{uuid.uuid4().hex[:8]}@parley.test"
    provider.owner[REFRESH_TOKEN + mailbox] = other
    channel = oauth2_channel(provider, dovecot, mailbox)
    deliver(dovecot, mailbox)

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert not result.ok
    assert "authentication failed" in result.errors[0]
    assert len(provider.token_requests()) == 1
    assert InboundMessage.objects.count() == 0
    assert "authentication failed" in last_error(channel)


@needs_dovecot_2_3
@pytest.mark.django_db
@pytest.mark.parametrize(
    "secrets, reason",
    [
        ({"imap_oauth2_refresh_token": "revoked"}, "invalid_grant"),
        ({"imap_oauth2_client_secret": "wrong"}, "invalid_client"),
    ],
)
def test_a_refused_refresh_token_is_recorded_and_nothing_is_fetched(provider, dovecot, mailbox, secrets, reason):
    channel = oauth2_channel(provider, dovecot, mailbox, **secrets)
    deliver(dovecot, mailbox)

    result = imap.imap_poll_channel(channel_id=channel.pk)

    assert not result.ok
    assert reason in result.errors[0] and "OAuth2" in result.errors[0]
    assert reason in last_error(channel)
    assert InboundMessage.objects.count() == 0
    assert not any(r.path == "/introspect" for r in provider.requests)  # never got as far as IMAP AUTHENTICATE


@needs_dovecot_2_3
@pytest.mark.django_db
def test_a_token_endpoint_failure_is_recorded_and_the_next_poll_recovers(provider, dovecot, mailbox):
    channel = oauth2_channel(provider, dovecot, mailbox)
    deliver(dovecot, mailbox)
    provider.fail_next(503, {}, {"error": "temporarily_unavailable"})

    first = imap.imap_poll_channel(channel_id=channel.pk)
    assert "503" in first.errors[0]

    second = imap.imap_poll_channel(channel_id=channel.pk)
    assert second.ok and second.stored == 1
    assert last_error(channel) == ""


@needs_dovecot_2_3
@pytest.mark.django_db
def test_the_password_is_not_what_signs_an_oauth2_mailbox_in(provider, dovecot, mailbox):
    # An XOAUTH2 attempt with the static password as "token" is refused by the oauth2 passdb:
    # the success above really went through the token.
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10) as client:
        with pytest.raises(LoginError):
            client.oauth2_login(mailbox, dovecot.password)


# --- The token endpoint alone -----------------------------------------------------------


def settings_for(provider: OAuthProvider, **overrides) -> imap.ImapSettings:
    values = dict(
        host="imap.example.com",
        username="box@example.com",
        auth="oauth2",
        oauth2_token_url=f"{provider.url}/token",
        oauth2_client_id=CLIENT_ID,
        oauth2_client_secret=CLIENT_SECRET,
        oauth2_refresh_token=REFRESH_TOKEN + "box@example.com",
    )
    values.update(overrides)
    return imap.ImapSettings(**values)


def test_a_changed_secret_never_reuses_a_token_made_with_the_old_one(provider):
    provider.owner[REFRESH_TOKEN + "box@example.com"] = "box@example.com"
    provider.owner["rotated"] = "box@example.com"
    first, cached = oauth2.access_token(settings_for(provider))
    assert not cached
    assert oauth2.access_token(settings_for(provider)) == (first, True)

    second, cached = oauth2.access_token(settings_for(provider, oauth2_refresh_token="rotated"))
    assert not cached and second != first


def test_the_scope_is_sent_when_configured(provider):
    provider.owner[REFRESH_TOKEN + "box@example.com"] = "box@example.com"
    oauth2.access_token(settings_for(provider, oauth2_scope="https://outlook.office.com/IMAP.AccessAsUser.All offline_access"))
    assert provider.token_requests()[0]["scope"] == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"


@pytest.mark.parametrize(
    "answer, reason",
    [
        (Answer(200, {}, {"token_type": "Bearer"}), "without an access_token"),
        (Answer(200, {}, "not json"), "without an access_token"),
        (Answer(500, {}, "<html>oops</html>"), "answered 500"),
    ],
)
def test_an_unusable_token_answer_is_an_oauth2_error(provider, answer, reason):
    provider.scripted.append(answer)
    with pytest.raises(oauth2.OAuth2Error, match=reason):
        oauth2.access_token(settings_for(provider))


def test_an_unreachable_token_endpoint_is_an_oauth2_error(provider):
    with pytest.raises(oauth2.OAuth2Error, match="unreachable"):
        oauth2.access_token(settings_for(provider, oauth2_token_url="http://127.0.0.1:9/token"))


# --- Configuration ----------------------------------------------------------------------


def test_the_channel_settings_carry_the_oauth2_config_and_secrets(db):
    channel = ChannelFactory(
        kind=Channel.Kind.EMAIL,
        config={"imap": {"host": "imap.gmail.com", "auth": "oauth2", "oauth2": {"token_url": "https://oauth2.googleapis.com/token", "client_id": "cid"}}},
        secrets={"imap_oauth2_client_secret": "s", "imap_oauth2_refresh_token": "r"},
    )
    settings = EmailChannelSettings.from_channel(channel).imap
    assert (settings.auth, settings.oauth2_token_url, settings.oauth2_client_id) == ("oauth2", "https://oauth2.googleapis.com/token", "cid")
    assert (settings.oauth2_client_secret, settings.oauth2_refresh_token) == ("s", "r")
    assert "oauth2_refresh_token" not in repr(settings) and "oauth2_client_secret" not in repr(settings)


@pytest.mark.parametrize(
    "imap_config, problem",
    [
        ({"host": "h", "auth": "kerberos"}, "imap.auth must be password or oauth2"),
        ({"host": "h", "auth": "oauth2"}, "needs imap.oauth2"),
        ({"host": "h", "auth": "oauth2", "oauth2": {"client_id": "c"}}, "token_url"),
        ({"host": "h", "auth": "oauth2", "oauth2": {"token_url": "ftp://x/token", "client_id": "c"}}, "token_url"),
        ({"host": "h", "auth": "oauth2", "oauth2": {"token_url": "https://x/token"}}, "client_id"),
    ],
)
def test_incomplete_oauth2_config_is_explained(imap_config, problem):
    problems = validate({"imap": imap_config})
    assert any(problem in p for p in problems), problems


def test_complete_oauth2_config_has_no_problems():
    config = {"imap": {"host": "h", "auth": "oauth2", "oauth2": {"token_url": "https://x/token", "client_id": "c"}}}
    assert validate(config) == []


# --- The channel form (/manage/channels/) -----------------------------------------------

OAUTH2_FORM = {
    "imap_auth": "oauth2",
    "imap_password": "",
    "imap_oauth2_token_url": "https://login.microsoftonline.com/acme/oauth2/v2.0/token",
    "imap_oauth2_client_id": "11111111-2222-3333-4444-555555555555",
    "imap_oauth2_scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    "imap_oauth2_client_secret": "CLIENT-SECRET-XYZ",
    "imap_oauth2_refresh_token": "REFRESH-TOKEN-XYZ",
}


@pytest.fixture
def admin_client(db):
    from tests.tickets.test_manage import _client

    return _client("admin")


def test_an_admin_sets_up_an_oauth2_mailbox_and_the_secrets_are_never_shown_back(admin_client):
    from tests.tickets.test_manage import _email_data, _errors

    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(**OAUTH2_FORM))

    assert response.status_code == 302, _errors(response)
    channel = Channel.objects.get(name="Support")
    assert channel.config["imap"]["auth"] == "oauth2"
    assert channel.config["imap"]["oauth2"] == {
        "token_url": OAUTH2_FORM["imap_oauth2_token_url"],
        "client_id": OAUTH2_FORM["imap_oauth2_client_id"],
        "scope": OAUTH2_FORM["imap_oauth2_scope"],
    }
    assert channel.secrets == {"imap_oauth2_client_secret": "CLIENT-SECRET-XYZ", "imap_oauth2_refresh_token": "REFRESH-TOKEN-XYZ"}
    page = admin_client.get(f"/manage/channels/{channel.pk}/").content.decode()
    assert "SECRET-XYZ" not in page and "REFRESH-TOKEN-XYZ" not in page
    assert OAUTH2_FORM["imap_oauth2_client_id"] in page  # not a secret: shown for editing

    # Saved again with the secret fields blank: the stored secrets stay.
    blank = {**OAUTH2_FORM, "imap_oauth2_client_secret": "", "imap_oauth2_refresh_token": ""}
    response = admin_client.post(f"/manage/channels/{channel.pk}/", _email_data(inbound_address="help@acme.example", **blank))
    assert response.status_code == 302, _errors(response)
    channel.refresh_from_db()
    assert channel.secrets["imap_oauth2_refresh_token"] == "REFRESH-TOKEN-XYZ"

    # Back to a password: the OAuth2 config goes, the password is stored.
    response = admin_client.post(
        f"/manage/channels/{channel.pk}/",
        _email_data(inbound_address="help@acme.example", imap_auth="password", imap_password="PW-123"),
    )
    assert response.status_code == 302, _errors(response)
    channel.refresh_from_db()
    assert "auth" not in channel.config["imap"] and "oauth2" not in channel.config["imap"]
    assert channel.secrets["imap_password"] == "PW-123"


@pytest.mark.parametrize(
    "missing, message",
    [
        ("imap_oauth2_token_url", "needs the token URL"),
        ("imap_oauth2_client_id", "needs the client id"),
        ("imap_oauth2_client_secret", "needs the client secret"),
        ("imap_oauth2_refresh_token", "needs a refresh token"),
    ],
)
def test_missing_oauth2_settings_are_form_errors_and_nothing_is_saved(admin_client, missing, message):
    from tests.tickets.test_manage import _email_data, _errors

    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(**{**OAUTH2_FORM, missing: ""}))

    assert response.status_code == 200
    assert message in _errors(response)
    assert not Channel.objects.exists()


def test_a_token_url_that_is_not_a_web_address_is_a_form_error(admin_client):
    from tests.tickets.test_manage import _email_data, _errors

    response = admin_client.post(
        "/manage/channels/new/?kind=email", _email_data(**{**OAUTH2_FORM, "imap_oauth2_token_url": "login.example/token"})
    )
    assert response.status_code == 200
    assert "token endpoint" in _errors(response)
    assert not Channel.objects.exists()
