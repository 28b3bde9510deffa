"""The admin area, /manage/: who may open what, and every action on channels, teams, agents,
shared macros and the company's details, with the errors bad input gets."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from channels_inbox.models import Channel
from tests.factories import AgentFactory, ChannelFactory, TeamFactory, UserFactory
from tickets.models import AgentProfile, CompanyProfile, Macro, Team
from tickets.roles import user_role

pytestmark = pytest.mark.django_db

User = get_user_model()


def _user(role: str):
    """A staff user holding ``role`` through its group only (not a superuser), as /manage/ creates them."""
    profile = AgentFactory(role=role)
    if profile.user.is_superuser:
        profile.user.is_superuser = False
        profile.user.save(update_fields=["is_superuser"])
    return profile.user


def _client(role: str | None) -> Client:
    client = Client()
    if role == "customer":
        client.force_login(UserFactory(is_staff=False))
    elif role == "superuser":
        client.force_login(AgentFactory(role="admin").user)  # the factory's admins are superusers
    elif role:
        client.force_login(_user(role))
    return client


@pytest.fixture
def admin_client():
    return _client("admin")


@pytest.fixture
def manager_client():
    return _client("manager")


def _errors(response) -> str:
    """The text of the page's error lists, unescaped, to assert on what a user reads."""
    import html

    body = response.content.decode()
    return html.unescape(" ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.DOTALL)))


# --- Who may open what ---------------------------------------------------------------


def _pages() -> dict[str, str]:
    team = TeamFactory(name="Billing", slug="billing")
    channel = ChannelFactory(kind="email", inbound_address="help@acme.example")
    agent = _user("agent")
    macro = Macro.objects.create(name="Thanks", body="Thank you!")
    return {
        "index": "/manage/",
        "channels": "/manage/channels/",
        "channel_new": "/manage/channels/new/?kind=email",
        "channel": f"/manage/channels/{channel.pk}/",
        "teams": "/manage/teams/",
        "team_new": "/manage/teams/new/",
        "team": f"/manage/teams/{team.pk}/",
        "agents": "/manage/agents/",
        "agent_new": "/manage/agents/new/",
        "agent": f"/manage/agents/{agent.pk}/",
        "macros": "/manage/macros/",
        "macro_new": "/manage/macros/new/",
        "macro": f"/manage/macros/{macro.pk}/",
        "company": "/manage/company/",
    }


MANAGER_MAY_VIEW = {"index", "teams", "team", "agents", "agent"}


@pytest.mark.parametrize("role", ["admin", "superuser", "manager", "agent", "customer", None])
def test_who_may_open_each_manage_page(role):
    pages = _pages()
    client = _client(role)
    for name, url in pages.items():
        response = client.get(url)
        if role is None:
            expected = 302
        elif role == "customer":
            expected = 404  # non-staff: the workspace does not exist for them
        elif role == "agent":
            expected = 403
        elif role == "manager":
            expected = (302 if name == "index" else 200) if name in MANAGER_MAY_VIEW else 403
        else:
            expected = 302 if name == "index" else 200
        assert response.status_code == expected, (role, name, response.status_code)
        if role is None:
            assert response["Location"].startswith("/login/")


def test_index_sends_each_role_to_its_first_section(admin_client, manager_client):
    assert admin_client.get("/manage/")["Location"] == "/manage/channels/"
    assert manager_client.get("/manage/")["Location"] == "/manage/teams/"


def test_manager_sees_only_their_sections_in_the_side_menu(manager_client):
    body = manager_client.get("/manage/teams/").content.decode()
    assert 'href="/manage/agents/"' in body and 'href="/manage/teams/"' in body
    assert 'href="/manage/channels/"' not in body and 'href="/manage/company/"' not in body
    assert "New team" not in body


@pytest.mark.parametrize("role", ["manager", "agent"])
def test_posts_reserved_to_admins_are_refused_and_change_nothing(role, django_capture_on_commit_callbacks):
    team = TeamFactory(name="Billing", slug="billing")
    target = _user("agent")
    macro = Macro.objects.create(name="Thanks", body="Thank you!")
    channel = ChannelFactory(kind="api", name="Shop")
    client = _client(role)
    posts = [
        ("/manage/teams/new/", {"name": "Sneaky"}),
        (f"/manage/teams/{team.pk}/", {"name": "Renamed", "is_private": "on"}),
        ("/manage/agents/new/", {"username": "mallory", "email": "m@x.example", "role": "admin", "capacity": 5,
                                 "availability": "available"}),
        (f"/manage/agents/{target.pk}/", {"email": "x@x.example", "role": "admin", "capacity": 1, "availability": "away"}),
        (f"/manage/agents/{target.pk}/active/", {"is_active": "0"}),
        (f"/manage/agents/{target.pk}/password-link/", {}),
        ("/manage/macros/new/", {"name": "Sneaky", "is_active": "on"}),
        (f"/manage/macros/{macro.pk}/", {"name": "Renamed"}),
        (f"/manage/macros/{macro.pk}/delete/", {}),
        ("/manage/channels/new/?kind=api", {"name": "Sneaky", "config": "{}"}),
        (f"/manage/channels/{channel.pk}/", {"name": "Renamed", "config": "{}"}),
        ("/manage/company/", {"name": "Evil Corp", "time_zone": "UTC"}),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for url, data in posts:
            assert client.post(url, data).status_code == 403, url
    team.refresh_from_db()
    target.refresh_from_db()
    channel.refresh_from_db()
    assert (team.name, team.is_private) == ("Billing", False)
    assert not Team.objects.filter(name="Sneaky").exists()
    assert not User.objects.filter(username="mallory").exists()
    assert target.is_active and target.email != "x@x.example" and user_role(target) == "agent"
    assert list(Macro.objects.values_list("name", flat=True)) == ["Thanks"]
    assert channel.name == "Shop" and not Channel.objects.filter(name="Sneaky").exists()
    assert not CompanyProfile.objects.exists()
    assert mail.outbox == []


def test_agent_cannot_change_availability_of_others():
    other = _user("agent")
    client = _client("agent")
    assert client.post(f"/manage/agents/{other.pk}/availability/", {"availability": "offline"}).status_code == 403
    assert AgentProfile.objects.get(user=other).availability == "available"


# --- Teams ---------------------------------------------------------------------------


def test_admin_creates_a_private_team_with_members(admin_client):
    ana, bo = AgentFactory(display_name="Ana"), AgentFactory(display_name="Bo")
    response = admin_client.post(
        "/manage/teams/new/", {"name": "  Security  Desk ", "is_private": "on", "members": [ana.pk, bo.pk]}
    )
    assert response.status_code == 302 and response["Location"] == "/manage/teams/"
    team = Team.objects.get(name="Security Desk")
    assert team.is_private and team.slug == "security-desk"
    assert set(team.agents.all()) == {ana, bo}
    listing = admin_client.get("/manage/teams/").content.decode()
    assert "Security Desk" in listing and "Private" in listing


def test_admin_edits_a_team_name_privacy_and_members(admin_client):
    ana, bo = AgentFactory(display_name="Ana"), AgentFactory(display_name="Bo")
    team = TeamFactory(name="Billing", slug="billing")
    team.agents.add(ana)
    page = admin_client.get(f"/manage/teams/{team.pk}/").content.decode()
    assert 'value="Billing"' in page
    response = admin_client.post(f"/manage/teams/{team.pk}/", {"name": "Payments", "is_private": "on", "members": [bo.pk]})
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.slug, team.is_private) == ("Payments", "payments", True)
    assert list(team.agents.all()) == [bo]


def test_duplicate_team_name_is_refused_whatever_its_case(admin_client):
    TeamFactory(name="Billing", slug="billing")
    other = TeamFactory(name="Sales", slug="sales")
    response = admin_client.post("/manage/teams/new/", {"name": "billing"})
    assert response.status_code == 200
    assert "A team named “billing” already exists." in _errors(response)
    response = admin_client.post(f"/manage/teams/{other.pk}/", {"name": "BILLING"})
    assert "already exists" in _errors(response)
    assert Team.objects.count() == 2 and Team.objects.get(pk=other.pk).name == "Sales"


def test_team_service_refuses_duplicates_too():
    from django.core.exceptions import ValidationError

    from tickets import services

    services.team_create(name="Billing")
    with pytest.raises(ValidationError, match="already exists"):
        services.team_create(name="BILLING")
    # Another team whose slug would clash gets a free one.
    assert services.team_create(name="Billing!").slug == "billing-2"


def test_manager_sees_a_team_and_its_members_read_only(manager_client):
    team = TeamFactory(name="Security", slug="security", is_private=True)
    team.agents.add(AgentFactory(display_name="Ana Member"))
    page = manager_client.get(f"/manage/teams/{team.pk}/").content.decode()
    assert "Ana Member" in page and "Private" in page
    assert "<form method=\"post\" class=\"manage-form\"" not in page


def test_team_list_query_count_does_not_grow(admin_client, django_assert_max_num_queries):
    for i in range(15):
        team = TeamFactory(name=f"Team {i:02d}", slug=f"team-{i:02d}")
        team.agents.add(AgentFactory())
    with django_assert_max_num_queries(7):
        response = admin_client.get("/manage/teams/")
    assert response.content.decode().count("/manage/teams/") >= 15


# --- Agents --------------------------------------------------------------------------


def _agent_data(**overrides):
    data = {
        "username": "kim",
        "email": "kim@acme.example",
        "first_name": "Kim",
        "last_name": "Lee",
        "display_name": "Kim L.",
        "role": "agent",
        "skills": "Billing, german,  billing ",
        "capacity": "12",
        "availability": "away",
        "password": "",
    }
    data.update(overrides)
    return data


def test_admin_creates_an_agent_who_gets_a_link_to_choose_a_password(admin_client, django_capture_on_commit_callbacks):
    team = TeamFactory(name="Billing", slug="billing")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/manage/agents/new/", _agent_data(teams=[team.pk]))
    assert response.status_code == 302, _errors(response)
    user = User.objects.get(username="kim")
    assert user.is_staff and user.is_active and not user.is_superuser and not user.has_usable_password()
    assert user_role(user) == "agent"
    profile = user.agent
    assert profile.display_name == "Kim L." and profile.capacity == 12 and profile.availability == "away"
    assert profile.skills == ["billing", "german"] and list(profile.teams.all()) == [team]
    assert profile.availability_changed_at is not None

    # The invitation: a link that lets Kim choose a password and sign in.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["kim@acme.example"]
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body).group(1)
    client = Client()
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "a long fresh secret 42", "new_password2": "a long fresh secret 42"})
    assert done.status_code == 302
    assert client.login(username="kim", password="a long fresh secret 42")


def test_admin_creates_an_agent_with_a_password_and_no_email_is_sent(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/manage/agents/new/", _agent_data(role="manager", password="another long secret 7")
        )
    assert response.status_code == 302
    assert mail.outbox == []
    assert Client().login(username="kim", password="another long secret 7")
    assert user_role(User.objects.get(username="kim")) == "manager"


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"username": "taken"}, "The user name “taken” is taken."),
        ({"email": "TAKEN@acme.example"}, "Another user already has the address"),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"username": "bad name!"}, "Enter a valid username"),
        ({"capacity": "-1"}, "greater than or equal to 0"),
        ({"role": "owner"}, "Select a valid choice"),
        ({"password": "kim"}, "too short"),
    ],
)
def test_agent_creation_bad_input_gets_a_clear_error(
    admin_client, overrides, field_message, django_capture_on_commit_callbacks
):
    UserFactory(username="taken", email="taken@acme.example", is_staff=True)
    before = User.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/manage/agents/new/", _agent_data(**overrides))
    assert response.status_code == 200
    assert field_message in _errors(response)
    assert User.objects.count() == before and mail.outbox == []


def test_admin_edits_an_agent_role_teams_and_details(admin_client):
    agent = _user("agent")
    team = TeamFactory(name="Billing", slug="billing")
    page = admin_client.get(f"/manage/agents/{agent.pk}/").content.decode()
    assert agent.email in page
    response = admin_client.post(
        f"/manage/agents/{agent.pk}/",
        {"email": "new@acme.example", "first_name": "N", "last_name": "E", "display_name": "Newt", "role": "manager",
         "teams": [team.pk], "skills": "vip", "capacity": "3", "availability": "offline"},
    )
    assert response.status_code == 302, _errors(response)
    agent.refresh_from_db()
    assert agent.email == "new@acme.example" and user_role(agent) == "manager"
    assert [g.name for g in agent.groups.all()] == ["manager"]  # the old role group is gone
    profile = AgentProfile.objects.get(user=agent)
    assert (profile.display_name, profile.capacity, profile.skills, profile.availability) == ("Newt", 3, ["vip"], "offline")
    assert list(profile.teams.all()) == [team]


def test_staff_user_without_a_profile_is_listed_and_gets_one_when_edited(admin_client):
    bare = UserFactory(username="root2", is_staff=True)
    assert "root2" in admin_client.get("/manage/agents/").content.decode()
    response = admin_client.post(
        f"/manage/agents/{bare.pk}/",
        {"email": "root2@acme.example", "role": "agent", "capacity": "5", "availability": "available"},
    )
    assert response.status_code == 302, _errors(response)
    assert AgentProfile.objects.get(user=bare).capacity == 5


def test_the_last_administrator_cannot_be_demoted_or_deactivated():
    admin = _user("admin")
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/manage/agents/{admin.pk}/", {"email": admin.email, "role": "agent", "capacity": "5", "availability": "away"}
    )
    assert response.status_code == 200
    assert "at least one active administrator" in response.content.decode()
    assert user_role(admin) == "admin"
    other_admin = _user("admin")
    client.force_login(other_admin)
    # Deactivating someone else is fine while another admin remains...
    assert client.post(f"/manage/agents/{admin.pk}/active/", {"is_active": "0"}).status_code == 302
    admin.refresh_from_db()
    assert not admin.is_active
    # ...but nobody deactivates themselves.
    response = client.post(f"/manage/agents/{other_admin.pk}/active/", {"is_active": "0"}, follow=True)
    assert "You cannot deactivate your own account." in response.content.decode()
    other_admin.refresh_from_db()
    assert other_admin.is_active


def test_deactivated_agent_cannot_sign_in_is_signed_out_and_can_be_reactivated(admin_client):
    profile = AgentFactory(user__username="leaver")
    agent_session = Client()
    agent_session.force_login(profile.user)
    assert agent_session.get("/").status_code == 200
    response = admin_client.post(f"/manage/agents/{profile.user.pk}/active/", {"is_active": "0"})
    assert response.status_code == 302
    profile.refresh_from_db()
    profile.user.refresh_from_db()
    assert not profile.user.is_active and profile.availability == "offline"
    assert agent_session.get("/").status_code == 302  # the open session no longer works
    assert not Client().login(username="leaver", password="correct horse battery staple")
    assert "Deactivated" in admin_client.get("/manage/agents/").content.decode()
    admin_client.post(f"/manage/agents/{profile.user.pk}/active/", {"is_active": "1"})
    assert Client().login(username="leaver", password="correct horse battery staple")


def test_admin_emails_an_agent_a_reset_link_that_works(admin_client, django_capture_on_commit_callbacks):
    profile = AgentFactory(user__username="forgetful", user__email="forgetful@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/manage/agents/{profile.user.pk}/password-link/", follow=True)
    assert "was emailed to forgetful@acme.example" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@acme.example"]
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body).group(1)
    client = Client()
    page = client.get(link, follow=True)
    client.post(page.redirect_chain[-1][0], {"new_password1": "brand new passphrase 9", "new_password2": "brand new passphrase 9"})
    assert client.login(username="forgetful", password="brand new passphrase 9")


def test_reset_link_for_an_agent_without_email_is_a_clear_error(admin_client):
    profile = AgentFactory(user__email="")
    response = admin_client.post(f"/manage/agents/{profile.user.pk}/password-link/", follow=True)
    assert "has no email address" in response.content.decode()
    assert mail.outbox == []


def test_manager_sees_agents_and_sets_their_availability(manager_client):
    profile = AgentFactory(display_name="Ana", availability="available")
    listing = manager_client.get("/manage/agents/").content.decode()
    assert "Ana" in listing and "New agent" not in listing
    detail = manager_client.get(f"/manage/agents/{profile.user.pk}/").content.decode()
    assert "Set availability" in detail and "Deactivate" not in detail
    response = manager_client.post(f"/manage/agents/{profile.user.pk}/availability/", {"availability": "away"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.availability == "away" and profile.availability_changed_at is not None
    # Managers may not edit anything else about the agent.
    response = manager_client.post(
        f"/manage/agents/{profile.user.pk}/", {"email": "x@y.example", "role": "admin", "capacity": 1, "availability": "away"}
    )
    assert response.status_code == 403


def test_availability_change_from_the_list_with_htmx_returns_the_cell(manager_client):
    profile = AgentFactory(availability="available")
    response = manager_client.post(
        f"/manage/agents/{profile.user.pk}/availability/", {"availability": "offline"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert '<option value="offline" selected>' in body
    profile.refresh_from_db()
    assert profile.availability == "offline"


def test_unknown_availability_is_refused(manager_client):
    profile = AgentFactory(availability="available")
    response = manager_client.post(f"/manage/agents/{profile.user.pk}/availability/", {"availability": "asleep"}, follow=True)
    assert "Choose available, away or offline." in response.content.decode()
    profile.refresh_from_db()
    assert profile.availability == "available"


def test_unknown_agent_is_404(admin_client):
    customer = UserFactory(is_staff=False)
    assert admin_client.get("/manage/agents/999999/").status_code == 404
    assert admin_client.get(f"/manage/agents/{customer.pk}/").status_code == 404  # not staff: not an agent


def test_agent_list_query_count_does_not_grow(admin_client, django_assert_max_num_queries):
    for i in range(20):
        AgentFactory().teams.add(TeamFactory(name=f"T{i}", slug=f"t{i}"))
    with django_assert_max_num_queries(9):
        response = admin_client.get("/manage/agents/")
    assert response.status_code == 200


# --- Shared macros -------------------------------------------------------------------


def test_admin_creates_edits_and_deletes_a_shared_macro(admin_client):
    team = TeamFactory(name="Billing", slug="billing")
    response = admin_client.post(
        "/manage/macros/new/",
        {"name": "Refund done", "body": "Hi {{ customer.first_name }}, refunded. {{ agent.name }}", "set_status": "solved",
         "set_priority": "low", "set_team": team.pk, "add_tags": "Refund, billing, refund", "assign_to_me": "on",
         "is_active": "on"},
    )
    assert response.status_code == 302, _errors(response)
    macro = Macro.objects.get(name="Refund done")
    assert macro.owner is None and macro.is_shared and macro.is_active and macro.assign_to_me
    assert (macro.set_status, macro.set_priority, macro.set_team) == ("solved", "low", team)
    assert macro.add_tags == ["billing", "refund"]
    assert "Refund done" in admin_client.get("/manage/macros/").content.decode()

    response = admin_client.post(f"/manage/macros/{macro.pk}/", {"name": "Refund sent", "body": "Done.", "is_note": "on"})
    assert response.status_code == 302
    macro.refresh_from_db()
    assert (macro.name, macro.is_note, macro.is_active, macro.set_status, macro.set_team) == ("Refund sent", True, False, "", None)

    assert admin_client.post(f"/manage/macros/{macro.pk}/delete/").status_code == 302
    assert not Macro.objects.exists()


def test_macro_bad_input_gets_clear_errors(admin_client):
    Macro.objects.create(name="Greeting", body="Hello")
    response = admin_client.post("/manage/macros/new/", {"name": "greeting", "body": "x"})
    assert "A shared macro named “greeting” already exists." in _errors(response)
    response = admin_client.post("/manage/macros/new/", {"name": "Broken", "body": "Hi {{ customer.first_name|shout }}"})
    assert "A placeholder is broken" in _errors(response)
    response = admin_client.post("/manage/macros/new/", {"name": "Unclosed", "body": "Hi {{ customer.first_name, bye"})
    assert "A placeholder is not closed" in _errors(response)
    response = admin_client.post("/manage/macros/new/", {"name": "Odd", "set_status": "exploded"})
    assert "Select a valid choice" in _errors(response)
    assert Macro.objects.count() == 1


def test_personal_macros_are_not_listed_nor_editable_here(admin_client):
    owner = _user("agent")
    personal = Macro.objects.create(name="My secret macro", body="mine", owner=owner)
    assert "My secret macro" not in admin_client.get("/manage/macros/").content.decode()
    assert admin_client.get(f"/manage/macros/{personal.pk}/").status_code == 404
    assert admin_client.post(f"/manage/macros/{personal.pk}/delete/").status_code == 404
    assert Macro.objects.filter(pk=personal.pk).exists()


def test_macro_list_query_count_does_not_grow(admin_client, django_assert_max_num_queries):
    team = TeamFactory(name="Billing", slug="billing")
    for i in range(20):
        Macro.objects.create(name=f"Macro {i}", set_team=team)
    with django_assert_max_num_queries(7):
        assert admin_client.get("/manage/macros/").status_code == 200


# --- Company details -----------------------------------------------------------------


def test_admin_sets_the_company_details(admin_client):
    page = admin_client.get("/manage/company/").content.decode()
    assert 'list="time-zones"' in page and "<option value=\"Europe/Berlin\">" in page
    response = admin_client.post(
        "/manage/company/",
        {"name": "Acme Support", "website": "https://acme.example", "support_email": "help@acme.example",
         "phone": "+49 30 1234", "address": "Main St 1\nBerlin", "time_zone": "Europe/Berlin"},
    )
    assert response.status_code == 302, _errors(response)
    profile = CompanyProfile.objects.get()
    assert profile.pk == 1
    assert (profile.name, profile.time_zone, profile.website) == ("Acme Support", "Europe/Berlin", "https://acme.example")
    # Saving again keeps one row.
    admin_client.post("/manage/company/", {"name": "Acme", "time_zone": "UTC"})
    assert CompanyProfile.objects.count() == 1 and CompanyProfile.objects.get().name == "Acme"


@pytest.mark.parametrize("bad", ["Mars/Olympus", "Europe/berlin", "../../etc/passwd", "CET+1"])
def test_invalid_time_zone_is_refused_and_nothing_is_saved(admin_client, bad):
    response = admin_client.post("/manage/company/", {"name": "Acme", "time_zone": bad})
    assert response.status_code == 200
    assert f"“{bad}” is not a time zone" in _errors(response)
    assert not CompanyProfile.objects.exists()


def test_company_service_checks_the_time_zone_too():
    from django.core.exceptions import ValidationError

    from tickets import services

    with pytest.raises(ValidationError, match="is not a time zone"):
        services.company_profile_update(name="Acme", time_zone="Nowhere/Town")
    assert services.company_profile_update(name="Acme", time_zone="Asia/Tokyo").time_zone == "Asia/Tokyo"


# --- Channels ------------------------------------------------------------------------


def _email_data(**overrides):
    data = {
        "name": "Support",
        "is_active": "on",
        "inbound_address": "Help@Acme.example",
        "from_name": "Acme Support",
        "reply_to": "",
        "signature": "-- \nAcme",
        "plus_addressing": "on",
        "thread_by_subject_days": "3",
        "auto_ack_enabled": "on",
        "auto_ack_subject": "We got it [#{{ ticket.number }}]",
        "auto_ack_body": "Hello {{ customer.first_name }}",
        "imap_host": "imap.acme.example",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_username": "help@acme.example",
        "imap_password": "IMAP-PASSWORD-XYZ",
        "imap_folder": "INBOX",
        "imap_archive_folder": "",
        "imap_use_idle": "on",
    }
    data.update(overrides)
    return data


def test_admin_creates_an_email_channel_and_the_password_is_never_shown_back(admin_client):
    team = TeamFactory(name="Billing", slug="billing")
    picker = admin_client.get("/manage/channels/new/").content.decode()
    assert "?kind=email" in picker and "?kind=telegram" in picker
    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(default_team=team.pk))
    assert response.status_code == 302, _errors(response)
    channel = Channel.objects.get(name="Support")
    assert channel.kind == "email" and channel.inbound_address == "help@acme.example" and channel.default_team == team
    assert channel.config["plus_addressing"] is True and channel.config["thread_by_subject_days"] == 3
    assert channel.config["auto_ack"]["enabled"] is True
    assert channel.config["imap"] == {
        "host": "imap.acme.example", "port": 993, "security": "ssl", "username": "help@acme.example",
        "folder": "INBOX", "archive_folder": "", "use_idle": True,
    }
    assert channel.secrets == {"imap_password": "IMAP-PASSWORD-XYZ"}
    assert "IMAP-PASSWORD-XYZ" not in str(channel.config)

    page = admin_client.get(f"/manage/channels/{channel.pk}/").content.decode()
    assert "IMAP-PASSWORD-XYZ" not in page
    assert "imap_password</code>: stored" in page
    assert "IMAP-PASSWORD-XYZ" not in admin_client.get("/manage/channels/").content.decode()


def test_editing_an_email_channel_with_the_password_blank_keeps_it(admin_client):
    channel = ChannelFactory(
        kind="email", name="Support", inbound_address="help@acme.example",
        config={"imap": {"host": "imap.acme.example"}, "custom_setting": 7}, secrets={"imap_password": "KEEP-ME-123"},
    )
    response = admin_client.post(
        f"/manage/channels/{channel.pk}/", _email_data(name="Support desk", inbound_address="help@acme.example", imap_password="")
    )
    assert response.status_code == 302, _errors(response)
    channel.refresh_from_db()
    assert channel.name == "Support desk"
    assert channel.secrets == {"imap_password": "KEEP-ME-123"}
    assert channel.config["custom_setting"] == 7  # settings this form does not know survive an edit

    admin_client.post(f"/manage/channels/{channel.pk}/", _email_data(inbound_address="help@acme.example", imap_password="NEW-ONE-456"))
    channel.refresh_from_db()
    assert channel.secrets == {"imap_password": "NEW-ONE-456"}

    admin_client.post(
        f"/manage/channels/{channel.pk}/",
        _email_data(inbound_address="help@acme.example", imap_password="", clear_imap_password="on"),
    )
    channel.refresh_from_db()
    assert channel.secrets == {}


def test_email_channel_without_inbound_address_is_refused(admin_client):
    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(inbound_address=""))
    assert response.status_code == 200
    assert "This field is required." in _errors(response)
    assert not Channel.objects.exists()


def test_email_channel_service_needs_an_inbound_address():
    from django.core.exceptions import ValidationError

    from channels_inbox import services as channel_services

    with pytest.raises(ValidationError) as caught:
        channel_services.channel_create(kind="email", name="Support", inbound_address="")
    assert caught.value.message_dict["inbound_address"] == ["An email channel needs the address customers write to."]


def test_email_channel_bad_settings_are_refused_with_the_adapters_words(admin_client):
    # IMAP details without a server: the email adapter's own check says what is missing.
    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(imap_host=""))
    assert response.status_code == 200
    assert "imap needs at least a host" in response.content.decode()
    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(thread_by_subject_days="-2"))
    assert "greater than or equal to 0" in _errors(response)
    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(imap_security="rot13"))
    assert "Select a valid choice" in _errors(response)
    assert not Channel.objects.exists()
    # Nothing typed is lost: the form comes back filled in (secrets excepted).
    assert 'value="Acme Support"' in response.content.decode()
    assert "IMAP-PASSWORD-XYZ" not in response.content.decode()


def test_an_inbound_address_belongs_to_one_channel(admin_client):
    ChannelFactory(kind="email", inbound_address="help@acme.example")
    response = admin_client.post("/manage/channels/new/?kind=email", _email_data(inbound_address="HELP@acme.example"))
    assert "help@acme.example already belongs to another channel." in _errors(response)
    assert Channel.objects.count() == 1


def test_other_kinds_take_json_settings_and_write_only_secrets(admin_client):
    response = admin_client.post(
        "/manage/channels/new/?kind=api",
        {"name": "Shop", "is_active": "on", "config": '{"outbound_url": "https://shop.example/hook"}',
         "new_secrets": '{"signing_secret": "SIGN-789-SECRET"}'},
    )
    assert response.status_code == 302, _errors(response)
    channel = Channel.objects.get(name="Shop")
    assert channel.kind == "api" and channel.config == {"outbound_url": "https://shop.example/hook"}
    assert channel.secrets == {"signing_secret": "SIGN-789-SECRET"}
    page = admin_client.get(f"/manage/channels/{channel.pk}/").content.decode()
    assert "SIGN-789-SECRET" not in page and "signing_secret</code>: stored" in page

    # Blank secrets keep what is stored; a new name is added...
    admin_client.post(
        f"/manage/channels/{channel.pk}/",
        {"name": "Shop", "is_active": "on", "config": "{}", "new_secrets": '{"old_token": "env:SHOP_TOKEN"}'},
    )
    channel.refresh_from_db()
    assert channel.secrets == {"signing_secret": "SIGN-789-SECRET", "old_token": "env:SHOP_TOKEN"}
    assert channel.config == {}
    assert "from the environment (SHOP_TOKEN)" in admin_client.get(f"/manage/channels/{channel.pk}/").content.decode()
    # ...and a ticked one is removed; the others stay.
    admin_client.post(
        f"/manage/channels/{channel.pk}/", {"name": "Shop", "config": "{}", "new_secrets": "", "clear_secrets": ["old_token"]}
    )
    channel.refresh_from_db()
    assert channel.secrets == {"signing_secret": "SIGN-789-SECRET"} and not channel.is_active


def test_other_kinds_are_checked_by_their_adapter(admin_client):
    # The API adapter needs its signing secret; removing it is refused and loses nothing.
    response = admin_client.post("/manage/channels/new/?kind=api", {"name": "Shop", "config": "{}", "new_secrets": ""})
    assert response.status_code == 200
    assert "signing_secret" in response.content.decode()
    assert not Channel.objects.exists()
    channel = ChannelFactory(kind="api", name="Shop", secrets={"signing_secret": "S-KEEP-1"})
    response = admin_client.post(
        f"/manage/channels/{channel.pk}/",
        {"name": "Shop", "config": '{"no_such_setting": 1}', "clear_secrets": ["signing_secret"]},
    )
    assert response.status_code == 200
    assert "no_such_setting" in response.content.decode()
    channel.refresh_from_db()
    assert channel.secrets == {"signing_secret": "S-KEEP-1"} and channel.config == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("config", "{not json", "The settings are not valid JSON"),
        ("config", "[1, 2]", "The settings must be a JSON object"),
        ("new_secrets", '{"token": 5}', "Each secret must be a string."),
        ("new_secrets", '"just a string"', "The secrets must be a JSON object"),
    ],
)
def test_other_kinds_bad_settings_get_clear_errors(admin_client, field, value, message):
    data = {"name": "Bot", "config": "{}", "new_secrets": ""}
    data[field] = value
    response = admin_client.post("/manage/channels/new/?kind=telegram", data)
    assert response.status_code == 200
    assert message in _errors(response)
    assert not Channel.objects.exists()
    assert value not in response.content.decode() or field == "config"  # typed secrets are not echoed


def test_channel_list_shows_every_channel_in_few_queries(admin_client, django_assert_max_num_queries):
    team = TeamFactory(name="Billing", slug="billing")
    for i in range(15):
        ChannelFactory(kind="email", inbound_address=f"box{i}@acme.example", default_team=team, secrets={"imap_password": f"PW-{i}-SECRET"})
    with django_assert_max_num_queries(7):
        response = admin_client.get("/manage/channels/")
    body = response.content.decode()
    assert "box14@acme.example" in body and "SECRET" not in body


def test_unknown_channel_is_404(admin_client):
    assert admin_client.get("/manage/channels/999999/").status_code == 404


# --- Navigation ----------------------------------------------------------------------


def test_top_bar_links_by_role():
    for role, manage, django_admin in [
        ("agent", False, False), ("manager", True, False), ("admin", True, False), ("superuser", True, True)
    ]:
        body = _client(role).get("/").content.decode()
        assert ('href="/manage/"' in body) is manage, role
        assert ('href="/admin/"' in body) is django_admin, role
