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
    with django_assert_max_num_queries(16):
        response = agent_client.get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200 and "message 24" in response.content.decode()
