"""Replies as the common mail clients write them thread onto the right ticket.

Shapes written for these tests from how each client composes a reply: Gmail keeps
In-Reply-To and References; Outlook desktop adds Thread-Index and may cut References;
Outlook on the web and mobile clients sometimes send no thread headers at all, leaving
the [#N] token in a translated "AW:" subject; Apple Mail quotes in <blockquote type=cite>.
"""

from __future__ import annotations

import pytest
from django.core import mail

from channels_inbox import services
from tests.emails import build_email
from tickets.models import Message, Ticket
from tickets.quoting import split_html, split_text
from tickets.services import message_reply

pytestmark = pytest.mark.django_db


def ingest(channel, raw: bytes):
    inbound = services.inbound_store(channel=channel, raw=raw, enqueue=False)
    return services.inbound_process(inbound_id=inbound.pk)


@pytest.fixture
def conversation(email_channel, agent_user, django_capture_on_commit_callbacks):
    """A customer's first mail and our reply: what the customer's client now answers."""
    ingest(email_channel, build_email(subject="Invoice 2231 is wrong", message_id="first@mail.example.com"))
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        ours = message_reply(ticket=ticket, author=agent_user, text="Could you send a screenshot?", status="pending")
    sent = mail.outbox[-1]
    return ticket, ours, sent


def test_gmail_reply(email_channel, conversation):
    ticket, ours, sent = conversation
    quoted = "> Could you send a screenshot?"
    raw = build_email(
        subject=f"Re: {sent.subject}",
        message_id="CAJx1+gmail@mail.gmail.com",
        in_reply_to=ours.external_id,
        references=["first@mail.example.com", ours.external_id],
        body=f"Here it is.\n\nOn Mon, 23 Nov 2026 at 10:02, Parley Demo <support@parley.test> wrote:\n\n{quoted}\n",
        html=(
            '<div dir="ltr">Here it is.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            "On Mon, 23 Nov 2026 at 10:02, Parley Demo &lt;support@parley.test&gt; wrote:<br></div>"
            '<blockquote class="gmail_quote">Could you send a screenshot?</blockquote></div>'
        ),
    )
    result = ingest(email_channel, raw)
    assert result.ticket_ids == [ticket.pk]
    message = Message.objects.get(external_id="CAJx1+gmail@mail.gmail.com")
    visible, quoted = split_html(message.html)
    assert "Here it is." in visible and "screenshot" not in visible
    assert "wrote:" in quoted and "Could you send a screenshot?" in quoted
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN  # the customer answered: back to the agents


def test_outlook_desktop_reply_with_thread_index_and_no_references(email_channel, conversation):
    ticket, ours, sent = conversation
    raw = build_email(
        subject=f"RE: {sent.subject}",
        message_id="DB9PR01MB1234.eurprd01.prod.outlook.com",
        in_reply_to=ours.external_id,
        headers={"Thread-Index": "AQHZ9Xx1c2VyIHRocmVhZA==", "Thread-Topic": "Invoice 2231 is wrong"},
        body=(
            "Screenshot attached.\n\n"
            "From: Parley Demo <support@parley.test>\nSent: Monday, November 23, 2026 10:02 AM\n"
            f"To: Ada Lovelace <ada@example.com>\nSubject: {sent.subject}\n\nCould you send a screenshot?\n"
        ),
    )
    assert ingest(email_channel, raw).ticket_ids == [ticket.pk]
    message = Message.objects.get(external_id="DB9PR01MB1234.eurprd01.prod.outlook.com")
    assert split_text(message.text)[0] == "Screenshot attached."


def test_outlook_web_reply_without_any_thread_header_threads_by_the_token(email_channel, conversation):
    ticket, _, sent = conversation
    subject = sent.subject.replace("Re:", "AW:")  # a German Outlook rewrites the prefix
    raw = build_email(subject=f"AW: {subject}", message_id="AM0PR-owa@outlook.com", body="Anbei der Screenshot.")
    assert ingest(email_channel, raw).ticket_ids == [ticket.pk]


def test_apple_mail_reply(email_channel, conversation):
    ticket, ours, sent = conversation
    raw = build_email(
        subject=f"Re: {sent.subject}",
        message_id="5A1B2C3D-apple@example.com",
        in_reply_to=ours.external_id,
        references=["first@mail.example.com", ours.external_id],
        body="Sure, here.\n\n> On 23 Nov 2026, at 10:02, Parley Demo <support@parley.test> wrote:\n>\n> Could you send a screenshot?\n",
        html=(
            "<html><body><div>Sure, here.</div><div><br><blockquote type=\"cite\"><div>On 23 Nov 2026, at 10:02, "
            "Parley Demo &lt;support@parley.test&gt; wrote:</div><div>Could you send a screenshot?</div></blockquote></div></body></html>"
        ),
    )
    assert ingest(email_channel, raw).ticket_ids == [ticket.pk]
    message = Message.objects.get(external_id="5A1B2C3D-apple@example.com")
    visible, quoted = split_html(message.html)
    assert "Sure, here." in visible and "Could you send a screenshot?" in quoted


def test_reply_from_a_colleague_in_cc_using_reply_all(email_channel, conversation):
    ticket, ours, sent = conversation
    raw = build_email(
        sender="Bob Builder <bob@example.com>",
        subject=f"Re: {sent.subject}",
        message_id="bob-reply@example.com",
        in_reply_to=ours.external_id,
        body="Adding: the invoice was sent twice.",
    )
    assert ingest(email_channel, raw).ticket_ids == [ticket.pk]
    assert Message.objects.get(external_id="bob-reply@example.com").author_customer.name == "Bob Builder"


def test_mobile_client_reply_quoting_only_the_subject_token_but_from_a_stranger(email_channel, conversation):
    ticket, _, sent = conversation
    raw = build_email(sender="mallory@example.net", subject=sent.subject, message_id="m@example.net", body="I want in")
    result = ingest(email_channel, raw)
    assert result.outcome == "new_ticket"
    assert Ticket.objects.get(pk=result.ticket_ids[0]).linked_ticket == ticket
