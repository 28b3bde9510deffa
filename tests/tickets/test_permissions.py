"""Who may see and do what: roles, private teams, signed-out visitors."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.factories import AgentFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Ticket
from tickets.roles import roles_sync, user_role

pytestmark = pytest.mark.django_db


def test_roles_exist_after_migrate_with_their_permissions():
    groups = {g.name: g for g in Group.objects.all()}
    assert {"admin", "manager", "agent"} <= set(groups)
    agent = AgentFactory(role="agent").user
    manager = AgentFactory(role="manager").user
    admin = AgentFactory(role="admin").user

    assert agent.has_perm("tickets.change_ticket") and agent.has_perm("tickets.add_message")
    assert not agent.has_perm("tickets.delete_ticket")
    assert not agent.has_perm("channels_inbox.change_channel")
    assert not agent.has_perm("tickets.change_team")
    assert manager.has_perm("tickets.change_team") and manager.has_perm("tickets.change_agentprofile")
    assert not manager.has_perm("channels_inbox.change_channel")
    assert admin.has_perm("channels_inbox.change_channel") and admin.has_perm("auth.add_user")
    assert [user_role(u) for u in (agent, manager, admin)] == ["agent", "manager", "admin"]


def test_roles_sync_is_idempotent_and_repairs_drift():
    from django.contrib.auth.models import Permission

    agent_group = Group.objects.get(name="agent")
    agent_group.permissions.add(Permission.objects.get(codename="delete_ticket"))
    roles_sync()
    roles_sync()
    assert not agent_group.permissions.filter(codename="delete_ticket").exists()
    assert Group.objects.filter(name="agent").count() == 1


def test_signed_out_visitor_is_sent_to_the_login_page(client):
    ticket = TicketFactory()
    for url in ("/", f"/tickets/{ticket.number}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_customer_account_without_staff_role_gets_404(client):
    ticket = TicketFactory()
    client.force_login(UserFactory(is_staff=False))
    assert client.get("/").status_code == 404
    assert client.get(f"/tickets/{ticket.number}/").status_code == 404


def test_private_team_tickets_are_hidden_from_other_agents():
    private = TeamFactory(name="Security", slug="security", is_private=True)
    ticket = TicketFactory(team=private, subject="Breach report")
    outsider = AgentFactory(role="agent")
    member = AgentFactory(role="agent")
    member.teams.add(private)
    manager = AgentFactory(role="manager")

    from django.test import Client

    def status_for(user):
        c = Client()
        c.force_login(user)
        return c.get(f"/tickets/{ticket.number}/").status_code, "Breach report" in c.get("/").content.decode()

    assert status_for(outsider.user) == (404, False)
    assert status_for(member.user) == (200, True)
    assert status_for(manager.user) == (200, True)


def test_outsider_cannot_reply_to_a_private_ticket(client):
    private = TeamFactory(name="Legal", slug="legal", is_private=True)
    ticket = TicketFactory(team=private)
    client.force_login(AgentFactory(role="agent").user)
    response = client.post(f"/tickets/{ticket.number}/reply/", {"text": "hi"})
    assert response.status_code == 404
    assert not ticket.messages.exists()
    response = client.post(f"/tickets/{ticket.number}/status/", {"status": "solved"})
    assert response.status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.NEW


def test_roles_have_every_app_permission_on_a_fresh_database():
    # The test database was migrated once, from nothing: channels_inbox permissions must be there.
    agent_group = Group.objects.get(name="agent")
    assert agent_group.permissions.filter(codename="view_channel").exists()
    assert Group.objects.get(name="admin").permissions.filter(codename="change_inboundmessage").exists()
    # The routing app migrates after tickets: its rules are still an admin's to edit.
    assert Group.objects.get(name="admin").permissions.filter(content_type__app_label="routing", codename="change_rule").exists()


def test_channel_secrets_are_hidden_from_managers_in_the_admin(client):
    from tests.factories import ChannelFactory

    channel = ChannelFactory(secrets={"bot_token": "TOPSECRET-123"})
    client.force_login(AgentFactory(role="manager").user)
    response = client.get(f"/admin/channels_inbox/channel/{channel.pk}/change/")
    assert response.status_code == 200
    assert "TOPSECRET-123" not in response.content.decode()

    # Administrators see that a secret is set, never the secret itself (issue 8).
    client.force_login(AgentFactory(role="admin").user)
    page = client.get(f"/admin/channels_inbox/channel/{channel.pk}/change/").content.decode()
    assert "TOPSECRET-123" not in page and "bot_token: set, 13 characters" in page


def test_managers_cannot_replay_inbound_from_the_admin(client):
    from tests.factories import InboundMessageFactory

    InboundMessageFactory(status="quarantined")  # actions only show over a non-empty list
    client.force_login(AgentFactory(role="manager").user)
    page = client.get("/admin/channels_inbox/inboundmessage/").content.decode()
    assert "Replay selected" not in page
    client.force_login(AgentFactory(role="admin").user)
    assert "Replay selected" in client.get("/admin/channels_inbox/inboundmessage/").content.decode()


def test_tickets_cannot_be_edited_in_the_admin_bypassing_the_event_log(client):
    ticket = TicketFactory(status=Ticket.Status.OPEN)
    client.force_login(AgentFactory(role="admin").user)
    response = client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", {"status": "solved"})
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN


def test_email_channel_config_is_validated_when_saved_in_the_admin():
    from channels_inbox.admin import ChannelForm

    data = {"kind": "email", "name": "Support", "public_key": "k1", "inbound_address": "help@acme.example",
            "is_active": True, "config": '{"imap": {"port": "x"}, "thread_by_subject_days": -1}', "secrets": "{}"}
    form = ChannelForm(data=data)
    assert not form.is_valid()
    assert "imap needs at least a host" in form.errors["config"][0]
    assert "thread_by_subject_days" in form.errors["config"][0]
    data["config"] = '{"imap": {"host": "imap.acme.example", "security": "ssl"}}'
    assert ChannelForm(data=data).is_valid(), ChannelForm(data=data).errors
    data["inbound_address"] = ""
    assert "inbound_address" in ChannelForm(data=data).errors
