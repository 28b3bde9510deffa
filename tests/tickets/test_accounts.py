"""Accounts: password reset by email end to end, password change, and an agent's own
availability from the top bar."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from tests.factories import AgentFactory, UserFactory
from tickets.models import AgentProfile, CompanyProfile

pytestmark = pytest.mark.django_db

OLD = "correct horse battery staple"  # the factories' password
NEW = "a completely new passphrase 31"


@pytest.fixture
def reset_request(client, django_capture_on_commit_callbacks):
    """POST the reset form and run what it queued (the email goes out on a worker)."""

    def post(email: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/password/reset/", {"email": email})

    return post


def _reset_link(message) -> str:
    return re.search(r"http://testserver(/password/reset/[^/\s]+/[^/\s]+/)", message.body).group(1)


def test_login_page_offers_a_password_reset(client):
    body = client.get("/login/").content.decode()
    assert '<a href="/password/reset/">Forgot your password?</a>' in body


def test_password_reset_end_to_end_through_the_outbox(client, reset_request):
    CompanyProfile.objects.create(pk=1, name="Acme Support", time_zone="UTC")
    user = UserFactory(username="kim", email="kim@acme.example", is_staff=True)
    AgentFactory(user=user)

    page = client.get("/password/reset/")
    assert page.status_code == 200 and 'name="email"' in page.content.decode()
    response = reset_request("Kim@ACME.example")
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent/"
    assert "Check your email" in client.get(response["Location"]).content.decode()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["kim@acme.example"]
    assert message.subject == "Reset your Acme Support password"
    assert "Your user name is: kim" in message.body

    # The emailed link: Django swaps the token for a session marker, then asks for the password.
    link = _reset_link(message)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    mismatch = client.post(set_url, {"new_password1": NEW, "new_password2": NEW + "x"})
    assert "didn’t match" in mismatch.content.decode() or "didn&#x27;t match" in mismatch.content.decode()
    done = client.post(set_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == "/password/reset/done/"
    assert "Your password is set" in client.get("/password/reset/done/").content.decode()

    fresh = Client()
    assert not fresh.login(username="kim", password=OLD)
    assert fresh.post("/login/", {"username": "kim", "password": NEW})["Location"] == "/"

    # The link works once.
    again = Client().get(link, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_unknown_email_gets_the_same_answer_and_no_mail(client, reset_request):
    UserFactory(username="kim", email="kim@acme.example")
    known = reset_request("kim@acme.example")
    unknown = reset_request("nobody@acme.example")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["kim@acme.example"]


def test_deactivated_account_gets_no_reset_mail_and_the_same_answer(client, reset_request):
    UserFactory(username="gone", email="gone@acme.example", is_active=False)
    response = reset_request("gone@acme.example")
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent/"
    assert mail.outbox == []


def test_invited_agent_without_a_password_can_still_ask_for_a_link(client, reset_request):
    user = UserFactory(username="new", email="new@acme.example", is_staff=True)
    user.set_unusable_password()
    user.save()
    reset_request("new@acme.example")
    assert len(mail.outbox) == 1
    link = _reset_link(mail.outbox[0])
    page = client.get(link, follow=True)
    client.post(page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert Client().login(username="new", password=NEW)


def test_bad_email_on_the_reset_form_is_a_clear_error(client, reset_request):
    response = reset_request("not an address")
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mail.outbox == []


def test_tampered_reset_link_does_not_work(client, reset_request):
    user = UserFactory(username="kim", email="kim@acme.example")
    reset_request("kim@acme.example")
    link = _reset_link(mail.outbox[0])
    tampered = link[:-3] + ("a" if link[-3] != "a" else "b") + link[-2:]
    assert "This link no longer works" in Client().get(tampered, follow=True).content.decode()
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_password_change_for_the_signed_in_user(client):
    user = UserFactory(username="kim", is_staff=True)
    AgentFactory(user=user)
    assert client.get("/password/change/")["Location"].startswith("/login/")  # signed out: sign in first
    client.force_login(user)
    page = client.get("/password/change/").content.decode()
    assert 'name="old_password"' in page
    wrong = client.post("/password/change/", {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})
    assert wrong.status_code == 200 and "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post("/password/change/", {"old_password": OLD, "new_password1": "123", "new_password2": "123"})
    assert "too short" in weak.content.decode()
    response = client.post("/password/change/", {"old_password": OLD, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302 and response["Location"] == "/password/change/done/"
    assert client.get("/").status_code == 200  # still signed in here
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_top_bar_links_to_password_change(agent_client):
    assert 'href="/password/change/"' in agent_client.get("/").content.decode()


# --- Availability ---------------------------------------------------------------------


def test_top_bar_shows_the_agents_availability(client):
    profile = AgentFactory(availability=AgentProfile.Availability.AWAY)
    client.force_login(profile.user)
    body = client.get("/").content.decode()
    assert 'action="/account/availability/"' in body
    assert '<option value="away" selected>' in body
    assert '<label for="availability-select"' in body


def test_agent_sets_their_own_availability_and_comes_back(client):
    profile = AgentFactory(availability=AgentProfile.Availability.AVAILABLE)
    client.force_login(profile.user)
    response = client.post("/account/availability/", {"availability": "away", "next": "/?view=mine"})
    assert response.status_code == 302 and response["Location"] == "/?view=mine"
    profile.refresh_from_db()
    assert profile.availability == "away"
    first_change = profile.availability_changed_at
    assert first_change is not None
    # The same choice again does not restart the clock.
    client.post("/account/availability/", {"availability": "away"})
    profile.refresh_from_db()
    assert profile.availability_changed_at == first_change


def test_availability_with_htmx_returns_the_form_only(client):
    profile = AgentFactory(availability=AgentProfile.Availability.AVAILABLE)
    client.force_login(profile.user)
    response = client.post("/account/availability/", {"availability": "offline"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert '<option value="offline" selected>' in body


def test_unknown_availability_is_refused(client):
    profile = AgentFactory(availability=AgentProfile.Availability.AVAILABLE)
    client.force_login(profile.user)
    response = client.post("/account/availability/", {"availability": "sleeping"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Choose available, away or offline." in response.content.decode()
    profile.refresh_from_db()
    assert profile.availability == "available"


def test_availability_never_redirects_off_site(client):
    profile = AgentFactory()
    client.force_login(profile.user)
    response = client.post("/account/availability/", {"availability": "away", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_staff_user_without_a_profile_gets_one_when_setting_availability(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)
    client.post("/account/availability/", {"availability": "available"})
    assert AgentProfile.objects.get(user=user).availability == "available"


def test_availability_needs_a_signed_in_staff_user(client):
    assert client.post("/account/availability/", {"availability": "away"})["Location"].startswith("/login/")
    client.force_login(UserFactory(is_staff=False))
    assert client.post("/account/availability/", {"availability": "away"}).status_code == 404
    assert client.get("/account/availability/").status_code == 404


def test_availability_only_accepts_post(agent_client):
    assert agent_client.get("/account/availability/").status_code == 405


def test_going_offline_hands_tickets_back_and_coming_back_takes_the_queue(client, django_capture_on_commit_callbacks):
    """Availability drives routing (tickets/routing): a team that hands back gives a leaving
    agent's open tickets to an available colleague; an agent who returns gets the queue."""
    from tests.factories import TeamRoutingFactory, TicketFactory
    from tickets.models import Ticket

    row = TeamRoutingFactory(strategy="round_robin", hand_back_when_unavailable=True)
    leaving, staying = AgentFactory(capacity=10), AgentFactory(capacity=10)
    for profile in (leaving, staying):
        profile.teams.add(row.team)
    ticket = TicketFactory(team=row.team, assignee=leaving.user, status="open")
    client.force_login(leaving.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/account/availability/", {"availability": "offline"})
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == staying.user_id

    AgentProfile.objects.filter(pk=staying.pk).update(availability="offline")
    waiting = TicketFactory(team=row.team, status="new")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/account/availability/", {"availability": "available"})
    assert Ticket.objects.get(pk=waiting.pk).assignee_id == leaving.user_id


# --- sign-in brute-force guard -------------------------------------------------------------


def test_repeated_failed_sign_ins_lock_that_username_from_that_address(settings):
    settings.PARLEY_LOGIN_MAX_FAILURES = 3
    UserFactory(username="kim", is_staff=True)
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        wrong = attacker.post("/login/", {"username": "kim", "password": "guess"})
        assert wrong.status_code == 200 and "didn&#x27;t match" in wrong.content.decode()

    locked = attacker.post("/login/", {"username": "KIM", "password": OLD})  # even the right password
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in attacker.session

    # Kim, from her own address, is not locked out by someone else's guessing.
    kim = Client(REMOTE_ADDR="198.51.100.7")
    assert kim.post("/login/", {"username": "kim", "password": OLD}).status_code == 302


def test_many_usernames_from_one_address_lock_the_address(settings):
    settings.PARLEY_LOGIN_MAX_FAILURES_PER_IP = 4
    UserFactory(username="lee", is_staff=True)
    sprayer = Client(REMOTE_ADDR="203.0.113.10")
    for name in ("a", "b", "c", "d"):
        sprayer.post("/login/", {"username": name, "password": "x"})
    assert sprayer.post("/login/", {"username": "lee", "password": OLD}).status_code == 429


def test_a_successful_sign_in_clears_the_failures(settings):
    settings.PARLEY_LOGIN_MAX_FAILURES = 3
    UserFactory(username="sam", is_staff=True)
    agent = Client(REMOTE_ADDR="198.51.100.8")
    for _ in range(2):
        agent.post("/login/", {"username": "sam", "password": "typo"})
    assert agent.post("/login/", {"username": "sam", "password": OLD}).status_code == 302
    agent.logout()
    for _ in range(2):
        agent.post("/login/", {"username": "sam", "password": "typo"})
    assert agent.post("/login/", {"username": "sam", "password": OLD}).status_code == 302


def test_the_client_address_behind_trusted_proxies_cannot_be_chosen_by_the_client(rf, settings):
    from helpdesk.ratelimit import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.50", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "10.0.0.2"
    settings.PARLEY_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.50"  # what our proxy saw; "1.2.3.4" was the client's claim
