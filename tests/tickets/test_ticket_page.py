"""What an agent sees of a message: new text first, quotes folded, inline images, safe files."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from channels_inbox import services as inbound_services
from tests.emails import build_email
from tests.factories import AgentFactory, TeamFactory
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x1f\x15\xc4\x89" + b"\x00" * 20


def ingest(channel, raw: bytes) -> Ticket:
    inbound = inbound_services.inbound_store(channel=channel, raw=raw, enqueue=False)
    result = inbound_services.inbound_process(inbound_id=inbound.pk)
    return Ticket.objects.get(pk=result.ticket_ids[0])


def test_quoted_history_is_folded_but_kept(agent_client, email_channel):
    body = "It still fails.\n\nOn Mon, 23 Nov 2026 at 10:00, Sam <support@parley.test> wrote:\n> Please try again.\n"
    ticket = ingest(email_channel, build_email(body=body))
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    visible, _, folded = page.partition('<details class="quoted">')
    assert "It still fails." in visible
    assert "Please try again." in folded and "Please try again." not in visible


def test_inline_cid_image_is_shown_from_the_app(agent_client, email_channel):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ada@example.com", "support@parley.test", "Screenshot"
    msg["Message-ID"] = "<cid-test@example.com>"
    msg.set_content("see screenshot")
    msg.add_alternative('<p>See:</p><img src="cid:shot1@example.com" alt="screenshot">', subtype="html")
    msg.get_payload()[1].add_related(PNG, maintype="image", subtype="png", cid="<shot1@example.com>", filename="shot.png")
    ticket = ingest(email_channel, msg.as_bytes())

    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    src = re.search(r'<img src="([^"]+)" alt="screenshot"', page).group(1)
    assert src.startswith(f"/tickets/{ticket.number}/attachments/")
    response = agent_client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG
    assert "sandbox" in response["Content-Security-Policy"]


def test_html_and_svg_attachments_are_only_downloaded(agent_client, email_channel):
    raw = build_email(
        attachments=[
            ("evil.html", "text/html", b"<script>alert(document.cookie)</script>"),
            ("evil.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ]
    )
    ticket = ingest(email_channel, raw)
    for attachment in Attachment.objects.filter(message__ticket=ticket):
        response = agent_client.get(f"/tickets/{ticket.number}/attachments/{attachment.pk}/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"


def test_attachments_follow_the_tickets_permissions(client, email_channel):
    ticket = ingest(email_channel, build_email(attachments=[("a.txt", "text/plain", b"secret")]))
    attachment = Attachment.objects.get()
    private = TeamFactory(name="Legal", slug="legal", is_private=True)
    Ticket.objects.filter(pk=ticket.pk).update(team=private)
    client.force_login(AgentFactory(role="agent").user)
    assert client.get(f"/tickets/{ticket.number}/attachments/{attachment.pk}/").status_code == 404

    other = ingest(email_channel, build_email(subject="Other", message_id="other@example.com"))
    member = AgentFactory(role="agent")
    member.teams.add(private)
    client.force_login(member.user)
    assert client.get(f"/tickets/{ticket.number}/attachments/{attachment.pk}/").status_code == 200
    # an attachment is reachable only through its own ticket
    assert client.get(f"/tickets/{other.number}/attachments/{attachment.pk}/").status_code == 404


def test_hostile_html_in_a_message_never_reaches_the_page(agent_client, email_channel):
    html = '<p>Hi</p><img src=x onerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">x</a><blockquote><p>old</p><script>alert(4)</script></blockquote>'
    ticket = ingest(email_channel, build_email(html=html))
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "onerror" not in page and "alert(2)" not in page and "javascript:" not in page and "alert(4)" not in page


def test_ticket_page_queries_do_not_grow_with_the_conversation(agent_client, email_channel, django_assert_max_num_queries):
    from tests.factories import AttachmentFactory, MessageFactory

    ticket = ingest(email_channel, build_email())
    for i in range(25):
        message = MessageFactory(ticket=ticket, text=f"message {i}\n\nOn Mon, Sam wrote:\n> earlier")
        AttachmentFactory(message=message)
    # session, user, role, visible teams (4); ticket (with this user's read marker), tags,
    # customer identities (3); macros, assignees, teams (3); messages, attachments, events
    # (3); our mailboxes for the CC suggestion (1); tag suggestions (1); the customer panel's
    # history (1); permissions and profile for the menu (3); the read marker, first view
    # only (1).
    with django_assert_max_num_queries(20):
        response = agent_client.get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200 and "message 24" in response.content.decode()


def _page_queries(client, number) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/tickets/{number}/").status_code == 200
    return len(captured)


def test_ticket_page_query_count_is_the_same_for_few_and_many_entries(agent_client, agent_user):
    """Messages, attachments, notes and events of every kind: the count does not move."""
    from tests.factories import AttachmentFactory, MessageFactory, TicketFactory
    from tickets import services
    from tickets.events import Actor

    other = AgentFactory(role="agent").user
    team = TeamFactory(name="Billing", slug="billing")

    def grow(ticket, n):
        for i in range(n):
            AttachmentFactory(message=MessageFactory(ticket=ticket, text=f"m{i}"))
            services.message_add_note(ticket=ticket, author=agent_user, text=f"note {i}")
            services.ticket_assign(ticket=ticket, assignee=other if i % 2 else agent_user, actor=Actor.agent(agent_user))
            services.ticket_set_team(ticket=ticket, team_id=team.pk if i % 2 else None, actor=Actor.agent(agent_user))
            services.ticket_set_tags(ticket=ticket, names=[f"t{i}"], actor=Actor.agent(agent_user))

    small, large = TicketFactory(), TicketFactory()
    grow(small, 2)
    grow(large, 8)
    assert _page_queries(agent_client, small.number) == _page_queries(agent_client, large.number)


def test_timeline_interleaves_messages_notes_and_events_by_time(agent_client, agent_user):
    from tests.factories import MessageFactory, TicketFactory
    from tickets import services
    from tickets.events import Actor

    ticket = TicketFactory(status=Ticket.Status.OPEN)
    MessageFactory(ticket=ticket, text="Customer asks")
    services.ticket_set_priority(ticket=ticket, priority="urgent", actor=Actor.agent(agent_user))
    services.message_add_note(ticket=ticket, author=agent_user, text="Private thought")
    services.ticket_assign(ticket=ticket, assignee=agent_user, actor=Actor.agent(agent_user))
    services.ticket_set_tags(ticket=ticket, names=["vip", "billing"], actor=Actor.agent(agent_user))
    services.ticket_change_status(ticket=ticket, status="pending", actor=Actor.agent(agent_user))

    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    timeline = page[page.index('id="timeline"') : page.index('id="reply-box"')]
    order = ["Customer asks", "Priority Normal → Urgent", "Private thought", "Assigned to", "Tags added billing, vip", "Status Open → Pending"]
    positions = [timeline.index(text) for text in order]
    assert positions == sorted(positions)
    # the note is marked as one, apart from public messages
    note = timeline[timeline.rindex("<article", 0, timeline.index("Private thought")) : timeline.index("Private thought")]
    assert 'class="message note"' in note and "Internal note" in note


def test_merge_and_split_events_link_to_the_other_ticket(agent_client, agent_user):
    from tests.factories import MessageFactory, TicketFactory
    from tickets import services
    from tickets.events import Actor

    target, source = TicketFactory(), TicketFactory()
    MessageFactory(ticket=target, text="first")
    second = MessageFactory(ticket=target, text="another topic")
    services.ticket_merge(source=source, target=target, actor=Actor.agent(agent_user))
    new = services.message_split(message=second, actor=Actor.agent(agent_user))
    page = agent_client.get(f"/tickets/{target.number}/").content.decode()
    assert f"#{source.number} merged into this ticket" in page
    assert f"A message was split off into #{new.number}" in page and f'href="/tickets/{new.number}/"' in page


def test_image_attachments_get_a_preview_other_files_a_link(agent_client, email_channel):
    ticket = ingest(
        email_channel,
        build_email(attachments=[("photo.png", "image/png", PNG), ("report.pdf", "application/pdf", b"%PDF-1.4")]),
    )
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    png = Attachment.objects.get(filename="photo.png")
    pdf = Attachment.objects.get(filename="report.pdf")
    assert f'<img src="/tickets/{ticket.number}/attachments/{png.pk}/" alt="photo.png"' in page
    assert f'<img src="/tickets/{ticket.number}/attachments/{pdf.pk}/"' not in page
    assert f'href="/tickets/{ticket.number}/attachments/{pdf.pk}/">report.pdf</a>' in page


def test_sla_clock_shows_time_left_overdue_or_nothing(agent_client):
    import datetime as dt

    from django.utils import timezone

    from tests.factories import TicketFactory

    now = timezone.now()
    running = TicketFactory(
        sla_first_response_due_at=now + dt.timedelta(hours=2, seconds=30),
        sla_resolution_due_at=now - dt.timedelta(minutes=90, seconds=10),
    )
    page = agent_client.get(f"/tickets/{running.number}/").content.decode()
    assert "First response" in page and "2 h left" in page
    assert "Resolution" in page and "overdue by 1 h 30 min" in page

    answered = TicketFactory(sla_first_response_due_at=now, first_response_at=now - dt.timedelta(minutes=5))
    assert "met" in agent_client.get(f"/tickets/{answered.number}/").content.decode()

    no_sla = TicketFactory()
    assert "sla-clock" not in agent_client.get(f"/tickets/{no_sla.number}/").content.decode()


def test_hostile_text_in_reply_note_and_customer_name_is_escaped(agent_client, agent_user):
    from tests.factories import CustomerFactory, TicketFactory

    ticket = TicketFactory(customer=CustomerFactory(name="<script>alert('name')</script>"))
    agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "<script>alert('reply')</script>"})
    agent_client.post(f"/tickets/{ticket.number}/reply/", {"text": "<img src=x onerror=alert(1)>", "is_note": "true"})
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;reply&#x27;)&lt;/script&gt;" in page


def test_merged_ticket_address_leads_to_its_target_only_for_those_who_see_it(client, agent_client, agent_user):
    from tests.factories import TicketFactory
    from tickets import services
    from tickets.events import Actor

    source, target = TicketFactory(), TicketFactory()
    services.ticket_merge(source=source, target=target, actor=Actor.agent(agent_user))
    response = agent_client.get(f"/tickets/{source.number}/")
    assert response.status_code == 302 and response["Location"] == f"/tickets/{target.number}/"

    legal = TeamFactory(name="Legal", slug="legal", is_private=True)
    Ticket.objects.filter(pk=target.pk).update(team=legal)
    assert agent_client.get(f"/tickets/{source.number}/").status_code == 404


def test_opening_the_page_marks_the_ticket_read(agent_client, agent_user):
    from tests.factories import TicketFactory
    from tickets.models import TicketReadState

    ticket = TicketFactory()
    agent_client.get(f"/tickets/{ticket.number}/")
    assert TicketReadState.objects.filter(user=agent_user, ticket=ticket).exists()


def test_reopening_a_read_ticket_writes_nothing_until_something_new_happens(agent_client, agent_user, email_channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.models import TicketReadState

    ticket = ingest(email_channel, build_email(message_id="first@example.com"))
    agent_client.get(f"/tickets/{ticket.number}/")
    first = TicketReadState.objects.get(user=agent_user, ticket=ticket).last_read_at

    with CaptureQueriesContext(connection) as captured:
        assert agent_client.get(f"/tickets/{ticket.number}/").status_code == 200
    assert not [q for q in captured.captured_queries if "ticketreadstate" in q["sql"].lower() and not q["sql"].startswith("SELECT")]
    assert TicketReadState.objects.get(user=agent_user, ticket=ticket).last_read_at == first

    # The customer writes again: the ticket is unread until the agent opens it once more.
    again = ingest(email_channel, build_email(subject="Re: Cannot log in", body="One more thing", in_reply_to="first@example.com"))
    assert again.pk == ticket.pk
    ticket.refresh_from_db()
    assert ticket.last_customer_activity_at > first
    agent_client.get(f"/tickets/{ticket.number}/")
    assert TicketReadState.objects.get(user=agent_user, ticket=ticket).last_read_at >= ticket.last_customer_activity_at


def test_an_edited_message_shows_its_new_text_not_a_remembered_one(agent_client, email_channel):
    """Bodies are kept rendered between views; a change to the text is a new body."""
    from tests.factories import MessageFactory

    ticket = ingest(email_channel, build_email())
    message = MessageFactory(ticket=ticket, text="First wording\n\nOn Mon, Sam wrote:\n> earlier")
    assert "First wording" in agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    message.text = "Second <wording>\n\nOn Mon, Sam wrote:\n> earlier"
    message.save(update_fields=["text"])
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Second &lt;wording&gt;" in page and "First wording" not in page
    assert "Show quoted text" in page


def test_an_edited_html_message_shows_its_new_html(agent_client, email_channel):
    """HTML bodies are kept folded and sanitised between views, under a key of their HTML."""
    from tests.factories import MessageFactory

    ticket = ingest(email_channel, build_email())
    quote = "<div>On Mon, Sam wrote:</div><blockquote>earlier</blockquote>"
    message = MessageFactory(ticket=ticket, text="", html=f"<p>First wording</p>{quote}")
    first = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "First wording" in first and "Show quoted text" in first
    assert "First wording" in agent_client.get(f"/tickets/{ticket.number}/").content.decode()  # from the cache
    message.html = f"<p>Second wording<script>alert(1)</script></p>{quote}"
    message.save(update_fields=["html"])
    page = agent_client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "Second wording" in page and "First wording" not in page and "alert(1)" not in page


def test_private_team_without_members_stays_hidden_from_agents_and_anonymous_users(agent_user):
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import TicketFactory
    from tickets.selectors import visible_tickets

    hidden = TicketFactory(team=TeamFactory(name="Legal", slug="legal", is_private=True))
    public = TicketFactory(team=TeamFactory(name="Support", slug="support"))
    for user in (agent_user, AnonymousUser()):
        seen = set(visible_tickets(user).values_list("pk", flat=True))
        assert public.pk in seen and hidden.pk not in seen
