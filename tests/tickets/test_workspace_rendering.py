"""The agent pages' Python-made markup (inbox rows, ticket timeline) and the inbox's
one-query choice lists: hostile text stays text, private teams stay private, and the
markup is the one the templates wrote (see also test_inbox.py / test_ticket_page.py)."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.db.models import prefetch_related_objects
from django.utils import timezone

from tests.factories import (
    AgentFactory,
    AttachmentFactory,
    ChannelFactory,
    CustomerFactory,
    MessageFactory,
    TeamFactory,
    TicketEventFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Message, Ticket, TicketEvent
from tickets.selectors.inbox import inbox_filter_choices

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>&'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"


def test_inbox_rows_escape_every_text_from_the_database(agent_client, agent_user):
    team = TeamFactory(name=f"Team {HOSTILE}")
    agent_user.agent.teams.add(team)
    assignee = UserFactory(is_staff=True, first_name=HOSTILE, last_name="")
    ticket = TicketFactory(
        subject=f"Row {HOSTILE}",
        customer=CustomerFactory(name=f"Ada {HOSTILE}"),
        channel=ChannelFactory(name=f"Box {HOSTILE}"),
        team=team,
        assignee=assignee,
        status=Ticket.Status.OPEN,
        last_customer_activity_at=timezone.now(),
    )
    body = agent_client.get("/?view=open").content.decode()
    row = re.search(rf'<tr class="status-open unread" data-ticket="{ticket.pk}">(.*?)</tr>', body, re.S)
    assert row is not None
    cells = row.group(1)
    assert "<script>" not in cells
    assert f"<td>Ada {ESCAPED}</td>" in cells
    assert f'<a href="/tickets/{ticket.number}/">Row {ESCAPED}</a>' in cells
    assert f'title="Box {ESCAPED}">Email</span>' in cells
    assert f"<td>{ESCAPED}</td>" in cells  # the assignee's name
    assert f"<td>Team {ESCAPED}</td>" in cells
    assert '<span class="visually-hidden">Unread: </span>' in cells


def test_inbox_row_of_an_unassigned_ticket_without_subject_or_team(agent_client):
    ticket = TicketFactory(subject="", status=Ticket.Status.NEW)
    body = agent_client.get("/?view=open").content.decode()
    row = re.search(rf'data-ticket="{ticket.pk}">(.*?)</tr>', body, re.S).group(1)
    assert f'<a href="/tickets/{ticket.number}/">(no subject)</a>' in row
    assert row.count("<td>—</td>") == 2  # nobody assigned, no team
    local = timezone.localtime(ticket.updated_at).strftime("%Y-%m-%d %H:%M")
    assert f'<time datetime="{ticket.updated_at.isoformat()}">{local}</time>' in row


def test_filter_choices_are_one_query_and_keep_private_teams_private(
    agent_user, django_assert_num_queries
):
    public = TeamFactory(name="Alpha public")
    mine = TeamFactory(name="Beta private mine", is_private=True)
    TeamFactory(name="Gamma private other", is_private=True)
    agent_user.agent.teams.add(mine)
    ChannelFactory(name="Zulu chat", kind="chat")
    ChannelFactory(name="Alpha mail", kind="email")
    UserFactory(is_staff=True, first_name="", last_name="", username="zz-nameless")
    UserFactory(is_staff=False, first_name="Not", last_name="Staff")
    UserFactory(is_staff=True, is_active=False, first_name="Gone", last_name="Away")

    prefetch_related_objects([agent_user], "groups")  # as the inbox view does, for the role
    with django_assert_num_queries(1):
        choices = inbox_filter_choices(user=agent_user)

    assert [label for _, label in choices.teams] == ["Alpha public", "Beta private mine"]
    assert (str(public.pk), "Alpha public") in choices.teams
    labels = [label for _, label in choices.channels]
    assert labels.index("Alpha mail (Email)") < labels.index("Zulu chat (Live chat)")
    agents = [label for _, label in choices.agents]
    assert "zz-nameless" in agents and "Not Staff" not in agents and "Gone Away" not in agents
    assert agent_user.get_full_name() in agents

    manager = AgentFactory(role="manager").user
    teams = [label for _, label in inbox_filter_choices(user=manager).teams]
    assert "Gamma private other" in teams


def test_filtering_on_a_private_team_one_cannot_see_is_refused(agent_client):
    hidden = TeamFactory(name="Hidden", is_private=True)
    TicketFactory(subject="Row hidden", team=hidden, status=Ticket.Status.OPEN)
    response = agent_client.get(f"/?team={hidden.pk}")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert "Row hidden" not in response.content.decode()


def test_timeline_escapes_hostile_text_and_lists_attachments(agent_client, email_channel):
    customer = CustomerFactory(name=f"Eve {HOSTILE}")
    ticket = TicketFactory(channel=email_channel, customer=customer)
    message = MessageFactory(
        ticket=ticket,
        author_customer=customer,
        text=f"Body {HOSTILE}",
        to=[f"to{HOSTILE}@x.test"],
        cc=["cc@x.test"],
    )
    stored = AttachmentFactory(
        message=message, filename=f"a{HOSTILE}.png", content_type="image/png", size=2048, sha256="ab" * 32
    )
    stored.file.save("a.png", ContentFile(b"png"), save=True)
    AttachmentFactory(message=message, filename="big.iso", size=10**9, is_oversize=True)
    AttachmentFactory(message=message, filename="inline.png", content_id="<img1>", is_inline=True)
    MessageFactory(
        ticket=ticket,
        direction=Message.Direction.OUTBOUND,
        author_kind=Message.AuthorKind.AGENT,
        author_customer=None,
        author_user=UserFactory(is_staff=True, first_name="", last_name="", username="nameless-agent"),
        text="Reply",
        delivery_status=Message.DeliveryStatus.FAILED,
        delivery_error=f"Refused {HOSTILE}",
    )
    TicketEventFactory(
        ticket=ticket, kind=TicketEvent.Kind.RULE_FIRED, data={"name": HOSTILE}, actor_kind="rule"
    )

    body = agent_client.get(f"/tickets/{ticket.number}/").content.decode()

    timeline = body[body.index('<ol class="timeline-list">') : body.index("</ol>", body.index('<ol class="timeline-list">'))]
    assert "<script>" not in timeline
    assert f"<strong>Eve {ESCAPED}</strong>" in timeline
    assert f"Body {ESCAPED}" in timeline
    assert f'<span class="recipients">to to{ESCAPED}@x.test · cc cc@x.test</span>' in timeline
    url = f"/tickets/{ticket.number}/attachments/{stored.pk}/"
    assert f'<a class="attachment-preview" href="{url}"><img src="{url}" alt="a{ESCAPED}.png"' in timeline
    assert f'<a href="{url}">a{ESCAPED}.png</a>' in timeline
    assert "big.iso" in timeline and "— too large, not stored" in timeline
    assert "inline.png" not in timeline
    assert "<strong>nameless-agent</strong>" in timeline
    assert f'<p class="error">Refused {ESCAPED}</p>' in timeline
    assert f"Rule “{ESCAPED}” fired" in timeline
    # Only the customer's message can be split off; the form carries the CSRF token.
    assert timeline.count('class="split-form"') == 1
    assert f'action="/tickets/{ticket.number}/messages/{message.pk}/split/"' in timeline
    assert 'name="csrfmiddlewaretoken"' in timeline


def test_timeline_of_a_ticket_without_messages(agent_client):
    ticket = TicketFactory()
    body = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert '<li class="timeline-empty">No messages yet.</li>' in body
