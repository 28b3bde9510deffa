"""Adapters' parse over recorded payloads: every payload of every kind, then the tricky cases one by one.

Payloads live in ``payloads/<kind>/``: ``.eml`` files are raw bytes (InboundMessage.raw),
``.json`` files are webhook bodies (InboundMessage.payload). A file whose name starts with
``invalid-`` must be refused with a ParseError; every other one must become envelopes
that are safe to store and show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import fields, is_dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from channels_inbox.adapters import ADAPTERS
from channels_inbox.adapters.base import Envelope, Sender
from channels_inbox.adapters.email import EmailAdapter, parse_email
from channels_inbox.exceptions import ParseError
from channels_inbox.models import InboundMessage
from tests.emails import build_email

PAYLOADS = Path(__file__).parent / "payloads"
EMAIL = PAYLOADS / "email"
UTC = dt.timezone.utc
UNLIMITED = 50 * 1024 * 1024
# Neither PostgreSQL nor any encoder takes these: a NUL, or a lone surrogate (the parser's
# escape for an undecoded byte is "\udc80"-"\udcff").
UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
UNSAFE_HTML = ("<script", "onerror", "onload", "onmouseover", "javascript:", "<iframe", "<object", "<embed", "<form", "expression(")


def _payload_files() -> list:
    cases = []
    for kind in sorted(ADAPTERS):
        for path in sorted((PAYLOADS / kind).glob("*")):
            if path.is_file():
                cases.append(pytest.param(kind, path, id=f"{kind}/{path.name}"))
    return cases


def _inbound(path: Path) -> InboundMessage:
    """An unsaved InboundMessage holding the payload as the receiver would store it (parse is pure)."""
    if path.suffix == ".eml":
        return InboundMessage(raw=path.read_bytes())
    if path.suffix == ".json":
        return InboundMessage(payload=json.loads(path.read_bytes()))
    raise AssertionError(f"unknown payload format: {path.name}")


def _strings(value, where: str = "envelope"):
    """(where, text) for every str inside an envelope: fields, lists, nested dataclasses."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif is_dataclass(value):
        for f in fields(value):
            yield from _strings(getattr(value, f.name), f"{where}.{f.name}")


def assert_storable(envelope: Envelope) -> None:
    assert envelope.sender.address
    assert envelope.external_id
    assert envelope.text is not None
    html = envelope.html.lower()
    for unsafe in UNSAFE_HTML:
        assert unsafe not in html, f"{unsafe!r} survived sanitizing"
    for where, text in _strings(envelope):
        assert not UNSTORABLE_RE.search(text), f"{where} holds a NUL or a surrogate: {text[:80]!r}"


def parse(name: str, *, max_attachment_bytes: int = UNLIMITED) -> Envelope:
    return parse_email((EMAIL / name).read_bytes(), max_attachment_bytes=max_attachment_bytes)


@pytest.mark.parametrize(("kind", "path"), _payload_files())
def test_every_adapter_parses_its_recorded_payloads(kind, path):
    adapter = ADAPTERS[kind]
    if path.name.startswith("invalid-"):
        with pytest.raises(ParseError):
            adapter.parse(_inbound(path))
        return
    envelopes = adapter.parse(_inbound(path))
    assert envelopes
    for envelope in envelopes:
        # SMS senders are phone identities; every other kind names its own identity kind.
        assert envelope.sender.kind == {"sms": "phone"}.get(kind, kind)
        assert_storable(envelope)


def test_every_registered_adapter_has_valid_and_invalid_payloads():
    for kind in ADAPTERS:
        names = [p.name for p in (PAYLOADS / kind).glob("*") if p.is_file()]
        assert any(n.startswith("invalid-") for n in names), kind
        assert any(not n.startswith("invalid-") for n in names), kind


@pytest.mark.parametrize("name", sorted(p.name for p in EMAIL.glob("*.eml") if not p.name.startswith("invalid-")))
def test_truncated_mail_parses_or_fails_with_a_parse_error(name):
    """A download cut short anywhere is still read as far as it goes, or refused cleanly."""
    raw = (EMAIL / name).read_bytes()
    for cut in range(0, len(raw), max(1, len(raw) // 12)):
        try:
            envelope = parse_email(raw[:cut], max_attachment_bytes=UNLIMITED)
        except ParseError:
            continue
        assert_storable(envelope)


# --- plain text, charsets, line endings ----------------------------------------------------


def test_plain_utf8_message():
    envelope = parse("plain-utf8.eml")

    assert envelope.sender == Sender(kind="email", address="ada@example.com", display_name="Ada Lovelace")
    assert envelope.subject == "Invoice 2024-117 shows the wrong amount"
    assert envelope.text == (
        "Hello,\n\ninvoice 2024-117 shows 12,50 € instead of 10,00 €.\nCould you check it? Grüße aus Köln — Ada"
    )
    assert envelope.html == ""
    assert envelope.attachments == []
    assert envelope.external_id == "20240603101500.4711@mail.example.com"
    assert envelope.to == ["support@parley.test"]
    assert envelope.cc == []
    assert envelope.sent_at == dt.datetime(2024, 6, 3, 8, 15, tzinfo=UTC)
    assert envelope.language == "en-GB"
    assert (envelope.is_auto_reply, envelope.is_bounce, envelope.auto_reason) == (False, False, "")


def test_crlf_and_lf_line_endings_give_the_same_text():
    crlf, lf = parse("crlf-line-endings.eml"), parse("lf-line-endings.eml")

    assert crlf.text == lf.text == "First line.\nSecond line.\n\nThird paragraph."
    assert crlf.subject == lf.subject == "Line endings"


def test_crlf_inside_encoded_bodies_becomes_lf():
    envelope = parse("crlf-multipart-base64.eml")

    assert envelope.text == "Zeile eins – über CRLF.\nZeile zwei.\n\nAbsatz drei."
    assert "\r" not in envelope.html
    assert "<p>Absatz drei.</p>" in envelope.html


BODY_CHARSETS = [
    ("latin1-body.eml", "je n'arrive pas à me connecter depuis la mise à jour.\nOù est le problème ? Merci d'avance.\n\nHélène"),
    # ISO-8859-1 as Outlook means it: Windows-1252, whose 0x80 is the euro sign and 0x93/0x94 curly quotes
    ("windows-1252-bytes-declared-latin1.eml", "de terugbetaling van €49,95 is nog niet ontvangen. U schreef “binnen 5 werkdagen”."),
    ("us-ascii-declared-utf8-body.eml", "Die Straße ist gesperrt – naïve Frage: wo ist mein Paket? 日本語もOK."),
    ("latin1-declared-utf8-body.eml", "Le café est fermé, prière de rappeler après 14 h."),
    ("unknown-charset-x-unknown.eml", "Señor, el envío llegó dañado."),
    ("unknown-charset-utf8mb4.eml", "Vielen Dank! 🙏 Das Problem ist gelöst."),
    ("missing-charset-8bit-utf8.eml", "Ça marche pas : l'écran reste noir."),
    ("missing-charset-8bit-latin1.eml", "Grüße, der Drucker druckt nur noch Müll."),
    ("iso-2022-jp.eml", "ログインできません。よろしくお願いします。"),
    # labelled GB2312 but written by a GBK encoder: 喆 is not in GB2312
    ("gb2312-declared-gbk-chars.eml", "您好，我是陶喆的粉丝，订单号 3307 还没有发货。"),
    ("html-only-meta-charset.eml", "Zażółć gęślą jaźń"),
]


@pytest.mark.parametrize(("name", "expected"), BODY_CHARSETS, ids=[case[0] for case in BODY_CHARSETS])
def test_body_charsets_are_decoded_whatever_the_label_says(name, expected):
    envelope = parse(name)
    assert expected in envelope.text
    assert "\ufffd" not in envelope.text


def test_python_codec_names_are_not_used_as_mail_charsets():
    # "undefined" raises on any input; "unicode-escape" would turn the text "\udc80" into a surrogate
    envelope = parse("charset-python-codec-names.eml")

    assert envelope.subject == "Grüße"
    assert envelope.text == "Bestellung 5531: der Karton war leer. Grüße\n\nPath: C:\\new\\udc80\\x00 folder"


# --- headers ---------------------------------------------------------------------------------


HEADERS = [
    ("rfc2047-b-and-q-mixed-charsets.eml", "Überweisung für Rechnung 2024-117 – € 49", "Zoë Ångström", "zoe@example.se"),
    ("rfc2047-inside-quotes-and-language.eml", "Re: Lieferung verspätet — Grüße", "Jörg Müller", "joerg@example.de"),
    ("raw-utf8-headers.eml", "Ärger mit der Bestellung – bitte prüfen", "Jürgen Groß", "juergen.gross@example.de"),
    ("raw-latin1-headers.eml", "Réclamation : colis endommagé – urgent", "Hélène Côté", "helene.cote@example.ca"),
    ("latin1-body.eml", "Problème de connexion", "Hélène Dubois", "helene.dubois@example.fr"),
    ("unknown-charset-x-unknown.eml", "Envío dañado", "Diego Ramos", "diego@example.es"),
    ("unknown-charset-utf8mb4.eml", "🎉 Danke für Ihre Hilfe", "Mei Chén", "mei@example.com"),
    ("iso-2022-jp.eml", "お問い合わせ", "山田 太郎", "taro@example.jp"),
    ("gb2312-declared-gbk-chars.eml", "订单未发货（陶喆）", "Chen Wei", "chen.wei@example.cn"),
    ("from-comment-style-no-to.eml", "Old-style From header", "Ada Lovelace", "ada@example.com"),
    ("no-from-uses-reply-to.eml", "Contact form", "Web Customer", "customer@example.org"),
    ("mbox-from-line.eml", "Saved from an mbox", "Ada Lovelace", "ada@example.com"),
    ("utf8-bom.eml", "Saved by a Windows tool", "Ada Lovelace", "ada@example.com"),
    ("leading-blank-lines.eml", "Exported with blank lines on top", "Ada Lovelace", "ada@example.com"),
]


@pytest.mark.parametrize(("name", "subject", "display_name", "address"), HEADERS, ids=[case[0] for case in HEADERS])
def test_subject_and_sender_are_decoded(name, subject, display_name, address):
    envelope = parse(name)
    assert envelope.subject == subject
    assert envelope.sender.display_name == display_name
    assert envelope.sender.address == address


def test_encoded_recipient_names_do_not_split_addresses():
    envelope = parse("rfc2047-b-and-q-mixed-charsets.eml")
    # "=?utf-8?Q?Support=2C_Parley?=" decodes to a name with a comma in it
    assert envelope.to == ["andre@example.be", "support@parley.test"]
    assert envelope.cc == ["moore@example.net"]


def test_very_long_headers_are_read_and_bounded():
    envelope = parse("long-headers.eml")

    assert len(envelope.subject) == 500
    assert envelope.subject.startswith("Very long subject Very long subject")
    assert len(envelope.to) == 150
    assert envelope.to[-1] == "r149@example.com"
    assert len(envelope.references) == 300
    assert envelope.references[0] == "ref0.0@example.com"
    assert envelope.references[-1] == "ref299.2367781@example.com"
    assert envelope.text.startswith("One line body One line body")


def test_nul_bytes_are_stripped_from_text_but_kept_in_attachment_data():
    envelope = parse("nul-bytes.eml")

    assert envelope.subject == "Report attached"
    assert envelope.sender.display_name == "NullByte"
    assert envelope.text == "Line one with a NUL.\n\nHTML with a NUL"
    assert envelope.html == "<p>HTML with a NUL</p>"
    [attachment] = envelope.attachments
    assert attachment.filename == "report.pdf"
    assert attachment.data == b"binary\x00data"  # files are bytes: nothing is stripped from them


@pytest.mark.parametrize("name", ["empty-body.eml", "headers-only-no-separator.eml"])
def test_empty_body(name):
    envelope = parse(name)
    assert (envelope.text, envelope.html, envelope.attachments) == ("", "", [])
    assert envelope.subject


# --- dates and ids ---------------------------------------------------------------------------


def test_malformed_date_is_no_date():
    envelope = parse("malformed-date.eml")
    assert envelope.sent_at is None
    assert envelope.text == "My computer's clock is wrong."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 03 Jun 2024 10:15:00 +0200", dt.datetime(2024, 6, 3, 8, 15, tzinfo=UTC)),
        ("3 Jun 2024 10:15 +0200", dt.datetime(2024, 6, 3, 8, 15, tzinfo=UTC)),  # no weekday, no seconds
        ("Mon, 3 Jun 24 10:15:00 GMT", dt.datetime(2024, 6, 3, 10, 15, tzinfo=UTC)),  # two-digit year
        ("Mon, 03 Jun 2024 10:15:00 -0000", dt.datetime(2024, 6, 3, 10, 15, tzinfo=UTC)),  # "zone unknown"
        ("Mon, 03 Jun 2024 10:15:00", dt.datetime(2024, 6, 3, 10, 15, tzinfo=UTC)),  # no zone at all
        ("Mon, 03 Jun 2024 10:15:00 +0200 (Mitteleuropäische Sommerzeit)", dt.datetime(2024, 6, 3, 8, 15, tzinfo=UTC)),
        ("2024-06-03T10:15:00+02:00", dt.datetime(2024, 6, 3, 8, 15, tzinfo=UTC)),  # ISO 8601 from scripts
        ("Mon Jun  3 10:15:00 2024", dt.datetime(2024, 6, 3, 10, 15, tzinfo=UTC)),  # asctime
        ("Tuesday, 32 Foo 2024 25:61:99 +0100", None),
        ("Mon, 1 Jan 99999 10:00:00 +0000", None),
        ("Mon, 1 Jan 2024 10:00:00 +9999", None),
        ("03.06.2024 10:15", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_date_parsing_is_tolerant(value, expected):
    raw = f"From: ada@example.com\nDate: {value}\nMessage-ID: <d@example.com>\n\nbody\n".encode()
    sent_at = parse_email(raw, max_attachment_bytes=UNLIMITED).sent_at
    assert sent_at == expected
    assert sent_at is None or sent_at.tzinfo is not None


def test_message_without_message_id_gets_a_content_hash_id():
    raw = (EMAIL / "no-message-id.eml").read_bytes()
    envelope = parse("no-message-id.eml")

    assert envelope.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse("no-message-id.eml").external_id == envelope.external_id  # stable: redeliveries dedupe
    assert envelope.sent_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a1b2@example.com>", "a1b2@example.com"),
        ("a1b2@example.com", "a1b2@example.com"),  # no brackets
        ("<a1b2\n @example.com>", "a1b2@example.com"),  # folded inside the id
        ("(comment) <a1b2@example.com>", "a1b2@example.com"),
        ("<", None),
        ("<>", None),
    ],
)
def test_message_id_forms(value, expected):
    raw = f"From: ada@example.com\nMessage-ID: {value}\n\nbody\n".encode()
    external_id = parse_email(raw, max_attachment_bytes=UNLIMITED).external_id
    assert external_id == (expected or "sha256:" + hashlib.sha256(raw).hexdigest())


# --- MIME structure --------------------------------------------------------------------------


def test_alternative_inside_mixed_with_an_attachment():
    envelope = parse("multipart-mixed-alternative-attachment.eml")

    assert envelope.text == "Please find the invoice attached. The total should be 10,00 €."
    assert "<b>attached</b>" in envelope.html
    [invoice] = envelope.attachments
    assert (invoice.filename, invoice.content_type, invoice.size) == ("invoice-2024-117.pdf", "application/pdf", 99)
    assert invoice.data is not None and len(invoice.data) == invoice.size
    assert invoice.data.startswith(b"%PDF-1.4") and invoice.data.endswith(b"%%EOF\n")
    assert (invoice.content_id, invoice.is_inline) == ("", False)


@pytest.mark.parametrize(
    ("name", "text", "filename", "content_type", "data"),
    [
        # the closing boundary never comes
        ("broken-boundary-unclosed.eml", "The export is attached.", "orders.csv", "text/csv", b"order,total\n4471,10.00\n4472,12.50\n"),
        # the boundary parameter names a boundary the body does not use
        ("broken-boundary-mismatch.eml", "Photo of the damage attached.", "damage.jpg", "image/jpeg", None),
        # no boundary parameter at all
        ("multipart-no-boundary.eml", "My notes are attached.", "notes.txt", "text/plain", b"step 1: restart\nstep 2: cry"),
    ],
    ids=["closing-boundary-missing", "boundary-mismatch", "no-boundary-parameter"],
)
def test_broken_multipart_is_split_on_the_boundary_the_body_uses(name, text, filename, content_type, data):
    envelope = parse(name)

    assert envelope.text == text
    [attachment] = envelope.attachments
    assert (attachment.filename, attachment.content_type) == (filename, content_type)
    assert attachment.size == len(attachment.data) > 0
    if data is not None:
        assert attachment.data == data


def test_multipart_without_boundary_or_parts_is_read_as_text():
    envelope = parse("multipart-no-boundary-plain-body.eml")

    assert envelope.attachments == []
    assert envelope.text == (
        "This body is plain text although the header says multipart.\n"
        "--------------------------------------------------\n"
        "The dashes above are a separator, not a MIME boundary."
    )


def test_html_only_message_gets_text_derived_from_its_html():
    envelope = parse("html-only.eml")

    assert envelope.text == (
        "Hello team,\n\nmy order #5521 still hasn't arrived & tracking shows nothing.\n\n"
        "- Ordered: 1 June\n- Paid: yes\n\nThanks,\nLinus"
    )
    assert "<strong>#5521</strong>" in envelope.html
    # the document's <title> and <style> are neither text nor html
    assert "Order update" not in envelope.html and "Order update" not in envelope.text
    assert "color" not in envelope.html and "color" not in envelope.text


def test_empty_plain_alternative_falls_back_to_the_html():
    envelope = parse("alternative-empty-text.eml")
    assert envelope.text == "Only the HTML part has content."
    assert "<em>HTML</em>" in envelope.html


def test_group_relayed_html_mail_keeps_its_text_and_is_not_automatic():
    # support@ as a Google Group: "Precedence: list", an html body and a plain-text footer
    envelope = parse("mailing-list-html-with-text-footer.eml")

    assert envelope.text == (
        'Is there a discount for non-profits?\n\n--\nYou received this message because you are subscribed to the group "support".'
    )
    assert envelope.html == "<p>Is there a discount for <b>non-profits</b>?</p>"
    assert not envelope.is_auto_reply


def test_inline_images_keep_their_content_id():
    envelope = parse("inline-image-cid.eml")

    assert envelope.text == "Our logo looks wrong in the footer, see below.\n[logo]"
    assert 'src="cid:logo.png@01DAB5C3.8E2F1A40"' in envelope.html
    assert [(a.filename, a.content_type, a.content_id, a.is_inline) for a in envelope.attachments] == [
        ("logo.png", "image/png", "logo.png@01DAB5C3.8E2F1A40", True),
        # says "attachment" but the html shows it: inline all the same
        ("signature.png", "image/png", "sig@example.com", True),
        # has a Content-ID the html does not use: a plain attachment
        ("chart.png", "image/png", "chart@example.com", False),
    ]
    for attachment in envelope.attachments:
        assert attachment.data.startswith(b"\x89PNG\r\n\x1a\n")
        assert attachment.size == len(attachment.data)


def test_forwarded_message_is_kept_whole_as_an_eml_attachment():
    envelope = parse("forwarded-message-rfc822.eml")

    assert envelope.sender.address == "ada@example.com"
    assert envelope.external_id == "fwd-4471@example.com"
    assert envelope.text == "See the shop's answer below, this is not acceptable."
    assert "Dear customer" not in envelope.text
    [forwarded] = envelope.attachments
    assert (forwarded.filename, forwarded.content_type) == ("Order 4471 delayed.eml", "message/rfc822")
    assert forwarded.size == len(forwarded.data)
    # written back as it came: the long header is not refolded, the 8-bit body is untouched
    trace = "-".join(f"hop{i}" for i in range(60))
    assert f"X-Shop-Trace: {trace}\r\n".encode() in forwarded.data
    inner = BytesParser(policy=policy.default).parsebytes(forwarded.data)
    assert inner["Subject"] == "Order 4471 delayed"
    assert inner["Message-ID"] == "<order-4471-delay@shop.example>"
    assert "We’re sorry." in inner.get_content()
    # and it is a message of its own that parses like any other
    assert parse_email(forwarded.data, max_attachment_bytes=UNLIMITED).sender.address == "orders@shop.example"


def test_base64_encoded_forwarded_message_is_decoded():
    envelope = parse("forwarded-message-rfc822-base64.eml")

    [forwarded] = envelope.attachments
    assert (forwarded.filename, forwarded.content_type) == ("original.eml", "message/rfc822")
    assert forwarded.data.startswith(b"Return-Path: <orders@shop.example>\n")
    assert parse_email(forwarded.data, max_attachment_bytes=UNLIMITED).subject == "Order 4471 delayed"


def test_winmail_dat_is_kept_as_an_attachment():
    envelope = parse("winmail-dat.eml")

    assert envelope.text == "Please see the attached spreadsheet."
    [tnef] = envelope.attachments
    assert (tnef.filename, tnef.content_type, tnef.size) == ("winmail.dat", "application/ms-tnef", 77)
    assert tnef.data[:4] == b"\x78\x9f\x3e\x22"  # the TNEF signature


def test_attachment_filenames_are_decoded_and_made_safe():
    envelope = parse("attachment-filenames.eml")

    assert envelope.text == "Files for ticket 8812 attached."
    assert [(a.filename, a.content_type) for a in envelope.attachments] == [
        ("€ Kursübersicht 2024.pdf", "application/pdf"),  # RFC 2231 filename*=UTF-8''...
        ("日本語の資料.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),  # RFC 2231 continuations
        ("evil.sh", "application/x-sh"),  # ../../evil.sh
        ("report.xls", "application/vnd.ms-excel"),  # C:\Users\bob\Desktop\report.xls
        ("attachment-6.bin", "application/octet-stream"),  # no name at all
        ("Schäden am Paket.jpg", "image/jpeg"),  # RFC 2047 word in name= (Outlook)
        ("Übersicht März.txt", "text/plain"),  # raw UTF-8 bytes in the parameter
        ("invoicefdp.exe", "application/octet-stream"),  # right-to-left override removed: no "invoiceexe.pdf" disguise
        ("attachment-10.pdf", "application/pdf"),  # ".." is no name
        ("a" * 190 + ".pdf", "application/pdf"),  # 300 characters, shortened with its extension kept
    ]
    unnamed = envelope.attachments[4]
    assert unnamed.data == bytes(range(256)) and unnamed.size == 256
    assert envelope.attachments[2].data == b"#!/bin/sh\necho pwned"


def test_oversize_attachments_are_recorded_without_data():
    full = parse("attachment-filenames.eml")
    limited = parse("attachment-filenames.eml", max_attachment_bytes=20)

    assert [a.size for a in limited.attachments] == [a.size for a in full.attachments]
    for attachment in limited.attachments:
        assert (attachment.data is None) == (attachment.size > 20), attachment.filename
    assert limited.attachments[4].data is None and limited.attachments[4].size == 256

    [forwarded] = parse("forwarded-message-rfc822.eml", max_attachment_bytes=100).attachments
    assert forwarded.data is None
    assert forwarded.filename == "Order 4471 delayed.eml" and forwarded.size > 100


def test_adapter_applies_the_configured_attachment_limit(settings):
    settings.PARLEY_MAX_ATTACHMENT_BYTES = 50
    raw = (EMAIL / "multipart-mixed-alternative-attachment.eml").read_bytes()

    [envelope] = EmailAdapter().parse(InboundMessage(raw=raw))

    [invoice] = envelope.attachments
    assert (invoice.size, invoice.data) == (99, None)


def test_calendar_invitation_and_signature_parts_are_attachments():
    invite = parse("calendar-invite.eml")
    assert invite.text == "You have been invited to the onboarding call."
    assert [(a.filename, a.content_type) for a in invite.attachments] == [
        ("attachment-2.ics", "text/calendar"),
        ("invite.ics", "application/ics"),
    ]
    assert b"SUMMARY:Onboarding call" in invite.attachments[0].data

    signed = parse("smime-signed.eml")
    assert signed.text == "This message is signed."
    assert [(a.filename, a.content_type) for a in signed.attachments] == [("smime.p7s", "application/pkcs7-signature")]


# --- hostile html ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hostile-html.eml", "hostile-html-only.eml"])
def test_hostile_html_comes_out_sanitized(name):
    envelope = parse(name)
    html = envelope.html.lower()

    assert "<p>please reset my password.</p>" in html
    assert 'href="https://example.com/help"' in html
    for unsafe in (*UNSAFE_HTML, "<svg", "<input", "<base", "<meta", "<style", "data:image", "evil.example", "alert("):
        assert unsafe not in html, unsafe
    assert "Please reset my password." in envelope.text
    for leaked in ("alert(", "document.cookie", "background", "expression"):
        assert leaked not in envelope.text


# --- automatic mail ------------------------------------------------------------------------------


def test_bounce_is_flagged_and_threads_to_the_returned_message():
    envelope = parse("bounce-delivery-status.eml")

    assert (envelope.is_auto_reply, envelope.is_bounce) == (True, True)
    assert envelope.auto_reason == "delivery status notification"
    assert envelope.sender.address == "mailer-daemon@mx.parley.test"
    assert "Recipient address rejected: User unknown" in envelope.text
    # the bounce has no In-Reply-To; the message it returns names our reply
    assert envelope.in_reply_to == "parley.1042.5f0c2a9b@parley.test"
    report, returned = envelope.attachments
    assert report.content_type == "message/delivery-status"
    assert b"Status: 5.1.1" in report.data
    assert (returned.filename, returned.content_type) == ("[#1042] Printer offline.eml", "message/rfc822")


def test_auto_submitted_reply():
    envelope = parse("auto-replied.eml")
    assert (envelope.is_auto_reply, envelope.is_bounce) == (True, False)
    assert envelope.auto_reason == "Auto-Submitted: auto-replied (vacation)"
    assert envelope.in_reply_to == "parley.1042.5f0c2a9b@parley.test"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("exchange-out-of-office.eml", "Sono fuori ufficio fino al 17 giugno. Per urgenze: +39 02 0000 0000."),
        ("exchange-out-of-office-german.eml", "Ich bin bis einschließlich 14. Juni nicht im Büro."),
    ],
)
def test_exchange_out_of_office(name, text):
    envelope = parse(name)
    assert (envelope.is_auto_reply, envelope.is_bounce) == (True, False)
    assert envelope.auto_reason == "out-of-office reply"
    assert envelope.text == text


def test_exchange_headers_are_kept():
    envelope = parse("exchange-out-of-office.eml")
    assert envelope.external_id == "AM0PR10MB3122C3F1A1E0@AM0PR10MB3122.EURPRD10.PROD.OUTLOOK.example"
    assert envelope.language == "it-IT"
    assert envelope.references == ["parley.1042.8a7b@parley.test"]


def test_read_receipt_is_automatic_but_no_bounce():
    envelope = parse("read-receipt-mdn.eml")
    assert (envelope.is_auto_reply, envelope.is_bounce) == (True, False)
    assert "read receipt" in envelope.auto_reason


def test_a_person_writing_about_auto_replies_is_not_an_auto_reply():
    envelope = parse("human-subject-mentions-auto-reply.eml")
    assert (envelope.is_auto_reply, envelope.auto_reason) == (False, "")


@pytest.mark.parametrize(
    ("subject", "is_auto"),
    [
        ("Automatic reply: Invoice", True),
        ("Out of Office: Invoice", True),
        ("Out of office", True),
        ("Autoreply: Invoice", True),
        ("Réponse automatique : Facture", True),
        ("Automatische Antwort: Rechnung", True),
        ("Re: Invoice", False),
        ("Out of office reply is not working", False),
        ("Automatic replies sent twice", False),
    ],
)
def test_auto_reply_subjects(subject, is_auto):
    envelope = parse_email(build_email(subject=subject), max_attachment_bytes=UNLIMITED)
    assert envelope.is_auto_reply is is_auto


# --- the generic API channel -----------------------------------------------------------------


def _api(name: str) -> list[Envelope]:
    return ADAPTERS["api"].parse(_inbound(PAYLOADS / "api" / name))


def test_api_batch_becomes_one_envelope_per_message():
    first, second = _api("batch.json")
    assert (first.external_id, second.external_id) == ("2001", "2002")
    assert first.thread_key == second.thread_key == "conv-78"
    assert first.sender == Sender(kind="api", address="user-7", display_name="Grace")


def test_api_html_is_sanitized_and_gives_the_text():
    [envelope] = _api("html-only-hostile.json")
    assert envelope.html == '<p>Hello <b>there</b></p><a rel="noopener noreferrer nofollow">link</a><img src="x">'
    assert envelope.text == "Hello there\nlink"
