"""Macros: placeholders, applying one from the reply box, personal macros and who may use them."""

from __future__ import annotations

import pytest

from tests.factories import (
    AgentFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    TeamFactory,
    TicketFactory,
)
from tickets import selectors, services
from tickets.exceptions import InvalidTransition, MacroNotAllowed
from tickets.models import CompanyProfile, Macro, Message, Ticket, TicketEvent
from tickets.placeholders import render_placeholders

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(db):
    customer = CustomerFactory(name="Ada Lovelace")
    CustomerIdentityFactory(customer=customer, address="ada@example.com")
    return TicketFactory(customer=customer, status=Ticket.Status.OPEN)


# --- Placeholders --------------------------------------------------------------------


def test_placeholders_are_filled_from_customer_ticket_agent_and_company(ticket, agent_user):
    CompanyProfile.objects.create(pk=1, name="Acme Support")
    agent_user.agent.display_name = "Sam Rivera"
    agent_user.agent.save()
    text = render_placeholders(
        "Hi {{ customer.first_name }}, about #{{ticket.number}}. {{ agent.name }}, {{ company.name }}",
        ticket=ticket,
        agent=agent_user,
        keep_unknown=True,
    )
    assert text == f"Hi Ada, about #{ticket.number}. Sam Rivera, Acme Support"


def test_unknown_placeholders_stay_visible_and_nothing_is_executed(ticket, agent_user):
    body = "{{ ticket.customer.delete }} {{ customer.password }} {% load static %}{% now 'Y' %} {{ customer.first_name|upper }} {{"
    assert render_placeholders(body, ticket=ticket, agent=agent_user, keep_unknown=True) == body
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_a_value_that_looks_like_a_placeholder_is_not_expanded_again(agent_user):
    customer = CustomerFactory(name="{{ agent.name }} <script>x</script>")
    ticket = TicketFactory(customer=customer)
    text = render_placeholders("Hi {{ customer.name }}", ticket=ticket, agent=agent_user, keep_unknown=True)
    assert text == "Hi {{ agent.name }} <script>x</script>"


def test_empty_value_uses_the_default(agent_user):
    ticket = TicketFactory(customer=CustomerFactory(name=""))
    text = render_placeholders('Hi {{ customer.first_name|default:"there" }}!', ticket=ticket, keep_unknown=True)
    assert text == "Hi there!"


# --- Which macros an agent gets --------------------------------------------------------


def test_agents_get_shared_active_macros_and_only_their_own_personal_ones(agent_user):
    other = AgentFactory(role="agent").user
    shared = Macro.objects.create(name="Thanks")
    mine = Macro.objects.create(name="My sign-off", owner=agent_user)
    Macro.objects.create(name="Theirs", owner=other)
    Macro.objects.create(name="Retired", is_active=False)
    assert list(selectors.macros_for_user(user=agent_user)) == [mine, shared]


# --- Applying a macro ----------------------------------------------------------------


def test_macro_apply_replies_and_changes_fields_in_one_go(ticket, agent_user):
    team = TeamFactory(name="Billing", slug="billing")
    macro = Macro.objects.create(
        name="Refund done",
        body="Refunded.",
        set_status="pending",
        set_priority="high",
        set_team=team,
        add_tags=["refund"],
        assign_to_me=True,
    )
    message = services.macro_apply(macro=macro, ticket=ticket, user=agent_user, text="Refunded, Ada.")
    ticket.refresh_from_db()
    assert message.direction == Message.Direction.OUTBOUND and message.text == "Refunded, Ada."
    assert (ticket.status, ticket.priority, ticket.team_id, ticket.assignee_id) == ("pending", "high", team.pk, agent_user.pk)
    assert list(ticket.tags.values_list("name", flat=True)) == ["refund"]
    event = ticket.events.get(kind=TicketEvent.Kind.MACRO_APPLIED)
    assert event.data == {"macro": macro.pk, "name": "Refund done"} and event.message_id == message.pk
    assert Macro.objects.get(pk=macro.pk).usage_count == 1


def test_note_macro_adds_a_note(ticket, agent_user):
    macro = Macro.objects.create(name="Escalate", body="Escalating", is_note=True)
    message = services.macro_apply(macro=macro, ticket=ticket, user=agent_user, text="Escalating")
    assert message.direction == Message.Direction.NOTE


def test_a_refused_action_takes_the_whole_macro_back(agent_user):
    ticket = TicketFactory(status=Ticket.Status.CLOSED)
    macro = Macro.objects.create(name="Reopen", body="Again", is_note=True, set_priority="urgent", set_status="open")
    with pytest.raises(InvalidTransition):
        services.macro_apply(macro=macro, ticket=ticket, user=agent_user, text="Again")
    ticket.refresh_from_db()
    assert not ticket.messages.exists() and ticket.priority == "normal"
    assert not ticket.events.filter(kind=TicketEvent.Kind.MACRO_APPLIED).exists()
    assert Macro.objects.get(pk=macro.pk).usage_count == 0


def test_another_agents_personal_macro_cannot_be_applied(ticket, agent_user):
    theirs = Macro.objects.create(name="Theirs", body="x", owner=AgentFactory(role="agent").user)
    with pytest.raises(MacroNotAllowed):
        services.macro_apply(macro=theirs, ticket=ticket, user=agent_user, text="x")


# --- From the ticket page --------------------------------------------------------------


def test_inserting_a_macro_fills_the_reply_box_with_rendered_placeholders(agent_client, ticket):
    macro = Macro.objects.create(name="Hello", body="Hi {{ customer.first_name }}, {{ nope.x }}", set_status="solved")
    page = agent_client.get(f"/tickets/{ticket.number}/?insert_macro={macro.pk}&text=Already+typed").content.decode()
    assert "Already typed\n\nHi Ada, {{ nope.x }}</textarea>" in page
    assert f'name="macro" value="{macro.pk}"' in page
    assert 'Macro “Hello” will also' in page


def test_htmx_insert_returns_only_the_reply_box(agent_client, ticket):
    macro = Macro.objects.create(name="Hello", body="Hi {{ customer.first_name }}")
    response = agent_client.get(f"/tickets/{ticket.number}/?insert_macro={macro.pk}", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="reply-box"' in body and "Hi Ada" in body and "<html" not in body and 'id="timeline"' not in body


def test_sending_with_a_macro_applies_it(agent_client, ticket, agent_user):
    macro = Macro.objects.create(name="Solve", body="Done", set_status="solved", add_tags=["done"])
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Done, Ada", "macro": macro.pk, "is_note": "false"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "solved" and ticket.messages.get().text == "Done, Ada"
    assert list(ticket.tags.values_list("name", flat=True)) == ["done"]
    assert Macro.objects.get(pk=macro.pk).usage_count == 1


def test_hostile_macro_body_is_escaped_in_the_reply_box(agent_client, ticket):
    macro = Macro.objects.create(name="Evil", body="</textarea><script>alert(1)</script>{{ customer.first_name }}")
    page = agent_client.get(f"/tickets/{ticket.number}/?insert_macro={macro.pk}").content.decode()
    assert "<script>alert(1)" not in page and "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;Ada" in page


def test_another_agents_personal_macro_is_404_on_the_page_and_refused_on_send(agent_client, ticket):
    theirs = Macro.objects.create(name="Theirs", body="x", set_status="solved", owner=AgentFactory(role="agent").user)
    assert agent_client.get(f"/tickets/{ticket.number}/?insert_macro={theirs.pk}").status_code == 404
    response = agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "Keep me", "macro": theirs.pk})
    assert response.status_code == 400 and "no longer available" in response.content.decode()
    assert "Keep me</textarea>" in response.content.decode()
    assert not ticket.messages.exists() and Ticket.objects.get(pk=ticket.pk).status == "open"


# --- Personal macros page ------------------------------------------------------------


def test_agent_creates_edits_and_deletes_a_personal_macro(agent_client, agent_user):
    response = agent_client.post(
        "/macros/", {"name": "Sign-off", "body": "Best, {{ agent.name }}", "set_priority": "high", "add_tags": "a, B", "is_active": "on"}
    )
    assert response.status_code == 302
    macro = Macro.objects.get(owner=agent_user)
    assert (macro.name, macro.set_priority, macro.add_tags) == ("Sign-off", "high", ["a", "b"])
    page = agent_client.get("/macros/").content.decode()
    assert "Sign-off" in page
    agent_client.post(f"/macros/{macro.pk}/", {"name": "Signature", "body": "Cheers", "is_active": "on"})
    assert Macro.objects.get(pk=macro.pk).name == "Signature"
    agent_client.post(f"/macros/{macro.pk}/delete/")
    assert not Macro.objects.filter(pk=macro.pk).exists()


def test_duplicate_personal_macro_name_is_refused_with_a_message(agent_client, agent_user):
    Macro.objects.create(name="Sign-off", owner=agent_user)
    response = agent_client.post("/macros/", {"name": "sign-off", "body": "x", "is_active": "on"})
    assert response.status_code == 400 and "already have a macro named" in response.content.decode()
    assert Macro.objects.filter(owner=agent_user).count() == 1


def test_an_agent_cannot_edit_or_delete_another_agents_or_a_shared_macro(agent_client):
    theirs = Macro.objects.create(name="Theirs", body="x", owner=AgentFactory(role="agent").user)
    shared = Macro.objects.create(name="Shared", body="y")
    for macro in (theirs, shared):
        assert agent_client.get(f"/macros/{macro.pk}/").status_code == 404
        assert agent_client.post(f"/macros/{macro.pk}/", {"name": "Hacked", "is_active": "on"}).status_code == 404
        assert agent_client.post(f"/macros/{macro.pk}/delete/").status_code == 404
    assert Macro.objects.get(pk=theirs.pk).name == "Theirs" and Macro.objects.get(pk=shared.pk).name == "Shared"


def test_personal_macro_service_refuses_anothers_macro(agent_user):
    theirs = Macro.objects.create(name="Theirs", owner=AgentFactory(role="agent").user)
    with pytest.raises(MacroNotAllowed):
        services.macro_save_personal(owner=agent_user, macro=theirs, name="Mine now")
    with pytest.raises(MacroNotAllowed):
        services.macro_delete_personal(owner=agent_user, macro=theirs)
