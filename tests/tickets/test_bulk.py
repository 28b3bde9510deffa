"""Bulk actions from the inbox: assign, status, tags, merge; permissions, private teams,
per-ticket failures, with and without htmx."""

from __future__ import annotations

import pytest

from tests.factories import (
    AgentFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def _post(client, numbers, **data):
    return client.post("/inbox/bulk/", {"ticket": [str(n) for n in numbers], **data})


def test_assign_to_me_then_unassign(agent_client, agent_user):
    tickets = [TicketFactory(status="new") for _ in range(3)]
    response = _post(
        agent_client,
        [t.number for t in tickets],
        action="assign",
        assignee="me",
        next="view=mine",
    )
    assert response.status_code == 302 and response["Location"] == "/?view=mine"
    assert set(Ticket.objects.values_list("assignee_id", flat=True)) == {agent_user.pk}
    # ticket_assign's own rules apply: a new ticket assigned becomes open, with events.
    assert set(Ticket.objects.values_list("status", flat=True)) == {"open"}
    assert (
        TicketEvent.objects.filter(kind="assigned", actor_user=agent_user).count() == 3
    )
    _post(agent_client, [tickets[0].number], action="assign", assignee="none")
    assert Ticket.objects.get(pk=tickets[0].pk).assignee_id is None


def test_assign_to_another_agent_and_the_flash_summary(agent_client):
    colleague = AgentFactory().user
    ticket = TicketFactory()
    response = _post(
        agent_client, [ticket.number], action="assign", assignee=str(colleague.pk)
    )
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == colleague.pk
    page = agent_client.get(response["Location"]).content.decode()
    assert "1 ticket updated" in page


def test_assigning_an_agent_outside_a_private_team_fails_for_that_ticket_only(client):
    private = TeamFactory(is_private=True, name="Legal")
    manager = AgentFactory(role="manager").user
    outsider = AgentFactory().user
    secret, public = TicketFactory(team=private), TicketFactory()
    client.force_login(manager)
    response = _post(
        client,
        [secret.number, public.number],
        action="assign",
        assignee=str(outsider.pk),
    )
    assert Ticket.objects.get(pk=public.pk).assignee_id == outsider.pk
    assert Ticket.objects.get(pk=secret.pk).assignee_id is None
    page = client.get(response["Location"]).content.decode()
    assert (
        f"#{secret.number}: " in page
        and "cannot see tickets of the private team Legal" in page
    )


def test_status_change_reports_invalid_transitions_and_changes_the_rest(agent_client):
    open_ticket = TicketFactory(status="open")
    closed = TicketFactory(status="closed")
    response = _post(
        agent_client,
        [open_ticket.number, closed.number],
        action="status",
        status="pending",
    )
    assert Ticket.objects.get(pk=open_ticket.pk).status == "pending"
    assert Ticket.objects.get(pk=closed.pk).status == "closed"
    page = agent_client.get(response["Location"]).content.decode()
    assert (
        f"#{closed.number}: a closed ticket cannot be reopened" in page
        and "1 not changed" in page
    )


def test_add_and_remove_a_tag(agent_client):
    a, b = TicketFactory(), TicketFactory()
    b.tags.add(TagFactory(name="vip"))
    _post(agent_client, [a.number, b.number], action="add_tag", tag="Refund ")
    assert set(a.tags.values_list("name", flat=True)) == {"refund"}
    assert set(b.tags.values_list("name", flat=True)) == {"vip", "refund"}
    _post(agent_client, [a.number, b.number], action="remove_tag", tag="vip")
    assert set(b.tags.values_list("name", flat=True)) == {"refund"}
    assert TicketEvent.objects.filter(kind="tags_changed").count() == 3


def test_merge_selected_tickets_into_one(agent_client):
    target, s1, s2 = (
        TicketFactory(status="open"),
        TicketFactory(status="open"),
        TicketFactory(status="open"),
    )
    _post(
        agent_client,
        [s1.number, target.number, s2.number],
        action="merge",
        merge_target=str(target.number),
    )
    assert set(
        Ticket.objects.filter(merged_into=target).values_list("pk", flat=True)
    ) == {s1.pk, s2.pk}
    assert Ticket.objects.get(pk=target.pk).merged_into_id is None


def test_merge_target_must_be_selected(agent_client):
    a, b, other = TicketFactory(), TicketFactory(), TicketFactory()
    response = _post(
        agent_client,
        [a.number, b.number],
        action="merge",
        merge_target=str(other.number),
        next="",
    )
    page = agent_client.get(response["Location"]).content.decode()
    assert "must be one of the selected tickets" in page
    assert not Ticket.objects.filter(merged_into__isnull=False).exists()


def test_tickets_the_user_cannot_see_are_skipped_and_reported(agent_client):
    secret = TicketFactory(team=TeamFactory(is_private=True), status="open")
    visible = TicketFactory(status="open")
    response = _post(
        agent_client,
        [secret.number, visible.number, 999999],
        action="status",
        status="solved",
    )
    assert Ticket.objects.get(pk=secret.pk).status == "open"
    assert Ticket.objects.get(pk=visible.pk).status == "solved"
    page = agent_client.get(response["Location"]).content.decode()
    assert f"#{secret.number}: not found" in page and "#999999: not found" in page


def test_a_member_of_the_private_team_may_change_its_tickets(client):
    team = TeamFactory(is_private=True)
    member = AgentFactory()
    member.teams.add(team)
    ticket = TicketFactory(team=team, status="open")
    client.force_login(member.user)
    _post(client, [ticket.number], action="status", status="pending")
    assert Ticket.objects.get(pk=ticket.pk).status == "pending"


def test_staff_without_a_role_may_not_bulk_change(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)
    ticket = TicketFactory(status="open")
    assert (
        _post(client, [ticket.number], action="status", status="solved").status_code
        == 403
    )
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


def test_unauthenticated_and_non_staff_are_refused(client):
    ticket = TicketFactory(status="open")
    assert _post(client, [ticket.number], action="status", status="solved")[
        "Location"
    ].startswith("/login/")
    client.force_login(UserFactory(is_staff=False))
    assert (
        _post(client, [ticket.number], action="status", status="solved").status_code
        == 404
    )
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


def test_bulk_must_be_posted(agent_client):
    assert agent_client.get("/inbox/bulk/").status_code == 405


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "status", "status": "solved"}, "Select at least one ticket"),
        ({"ticket": ["abc"], "action": "status", "status": "solved"}, "whole numbers"),
        ({"ticket": ["1"], "action": "explode"}, "Select a valid choice"),
        ({"ticket": ["1"], "action": "status"}, "Choose a status"),
        (
            {"ticket": ["1"], "action": "status", "status": "gone"},
            "Select a valid choice",
        ),
        ({"ticket": ["1"], "action": "assign"}, "Choose whom to assign to"),
        (
            {"ticket": ["1"], "action": "assign", "assignee": "424242"},
            "Select a valid choice",
        ),
        ({"ticket": ["1"], "action": "add_tag", "tag": "  "}, "Name the tag"),
        ({"ticket": ["1"], "action": "merge"}, "Say which ticket"),
    ],
)
def test_bad_bulk_input_gets_a_clear_message(agent_client, data, message):
    ticket = TicketFactory(status="open")
    response = agent_client.post("/inbox/bulk/", data, follow=True)
    assert response.status_code == 200 and message in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


def test_htmx_bulk_rerenders_the_list_with_the_result(agent_client):
    ok, closed = (
        TicketFactory(subject="Row ok", status="open"),
        TicketFactory(subject="Row closed", status="closed"),
    )
    response = agent_client.post(
        "/inbox/bulk/",
        {
            "ticket": [ok.number, closed.number],
            "action": "status",
            "status": "pending",
            "next": "view=pending",
        },
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="inbox-list",
    )
    body = response.content.decode()
    assert (
        response.status_code == 200
        and "<html" not in body
        and 'id="inbox-list"' in body
    )
    assert (
        "1 ticket updated" in body
        and f"#{closed.number}: a closed ticket cannot be reopened" in body
    )
    # The list is the one the agent was looking at (Pending), already showing the change.
    assert "Row ok" in body and "Row closed" not in body


def test_htmx_bulk_with_bad_input_answers_400_with_the_message(agent_client):
    response = agent_client.post(
        "/inbox/bulk/",
        {"action": "status", "status": "solved"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="inbox-list",
    )
    assert (
        response.status_code == 400
        and "Select at least one ticket" in response.content.decode()
    )
