"""Quoted history and signatures fold in the agent's view, from the mail clients people use."""

from __future__ import annotations

from tickets.quoting import split_html, split_text


def test_gmail_style_attribution_and_quote():
    text = "Thanks, that worked!\n\nOn Mon, 23 Nov 2026 at 10:00, Parley Support <support@parley.test> wrote:\n> Try again now.\n>\n> Sam"
    visible, quoted = split_text(text)
    assert visible == "Thanks, that worked!"
    assert quoted.startswith("On Mon, 23 Nov 2026") and "> Try again now." in quoted


def test_attribution_wrapped_over_two_lines():
    text = "Still broken.\n\nOn Mon, 23 Nov 2026 at 10:00, Parley Support\n<support@parley.test> wrote:\n\n> Try again."
    assert split_text(text)[0] == "Still broken."


def test_german_outlook_block():
    text = "Danke!\n\nVon: Parley Support <support@parley.test>\nGesendet: Montag, 23. November 2026 10:00\nAn: Ada\nBetreff: AW: Login\n\nBitte erneut versuchen."
    visible, quoted = split_text(text)
    assert visible == "Danke!" and quoted.startswith("Von: Parley Support")


def test_original_message_separator():
    visible, quoted = split_text("See below.\n\n-----Original Message-----\nFrom: x\nhello")
    assert visible == "See below." and quoted.startswith("-----Original Message-----")


def test_signature_after_the_delimiter_folds():
    visible, quoted = split_text("Here is the log.\n\n-- \nAda Lovelace\nAnalytical Engines Ltd")
    assert visible == "Here is the log." and quoted.startswith("-- ")


def test_interleaved_answers_are_not_folded():
    text = "> Which version?\n3.2\n> Which browser?\nFirefox"
    assert split_text(text) == (text, "")


def test_a_message_that_is_only_a_quote_stays_visible():
    text = "> just forwarding this\n> to you"
    assert split_text(text) == (text, "")


def test_mentioning_from_in_prose_is_not_outlook():
    text = "From: my experience this never works.\nCan you help?"
    assert split_text(text) == (text, "")


def test_html_blockquote_with_attribution():
    html = "<p>Works now, thanks.</p><div>On Mon, 23 Nov 2026, Sam wrote:<br></div><blockquote><p>Try again.</p></blockquote>"
    visible, quoted = split_html(html)
    assert visible == "<p>Works now, thanks.</p>"
    assert quoted.startswith("<div>On Mon") and "<blockquote>" in quoted


def test_html_outlook_header_block():
    html = "<p>Yes please.</p><hr><p><b>From:</b> Parley Support<br><b>Sent:</b> Monday</p><p>Old text</p>"
    visible, quoted = split_html(html)
    assert visible == "<p>Yes please.</p>" and "Old text" in quoted


def test_html_without_quote_is_untouched():
    html = "<p>Hello</p><p>Nothing quoted here.</p>"
    assert split_html(html) == (html, "")
