"""The Python-rendered select and checkbox widgets say what Django's own would."""

from __future__ import annotations

import re

import pytest
from django import forms

from tickets.widgets import FastCheckboxSelectMultiple, FastSelect, FastSelectMultiple

CHOICES = [("", "Any"), ("a", "Alpha"), ("b", "Beta & <b>bold</b>"), ("c", '"Quoted"')]


def _options(html: str) -> list[tuple[str, bool, str]]:
    return [
        (value, bool(selected), label.strip())
        for value, selected, label in re.findall(r'<option value="([^"]*)"( selected)?[^>]*>(.*?)</option>', html)
    ]


@pytest.mark.parametrize(
    ("fast", "django_widget", "value"),
    [
        (FastSelect, forms.Select, "b"),
        (FastSelect, forms.Select, None),
        (FastSelectMultiple, forms.SelectMultiple, ["a", "c"]),
        (FastSelectMultiple, forms.SelectMultiple, []),
    ],
)
def test_selects_match_djangos_options_selection_and_escaping(fast, django_widget, value):
    ours = fast(choices=CHOICES).render("f", value, attrs={"id": "id_f"})
    theirs = django_widget(choices=CHOICES).render("f", value, attrs={"id": "id_f"})
    assert _options(ours) == _options(theirs)
    assert ('multiple' in ours) == ('multiple' in theirs)
    assert "<b>" not in ours and "&lt;b&gt;bold&lt;/b&gt;" in ours


def test_checkboxes_match_djangos_ids_and_checked_state():
    ours = FastCheckboxSelectMultiple(choices=CHOICES[1:]).render("status", ["a", "c"], attrs={"id": "id_status"})
    theirs = forms.CheckboxSelectMultiple(choices=CHOICES[1:]).render("status", ["a", "c"], attrs={"id": "id_status"})

    def boxes(html):
        return re.findall(r'<input type="checkbox" name="status" value="([^"]*)"[^>]*id="(id_status_\d)"( checked)?', html)

    assert boxes(ours) == boxes(theirs) and len(boxes(ours)) == 3
    assert '<label for="id_status_1">' in ours and "&lt;b&gt;" in ours


def test_the_inbox_filter_form_keeps_what_the_agent_chose(agent_client):
    page = agent_client.get("/?status=open&status=pending&sentiment=negative").content.decode()
    assert re.search(r'value="open" id="id_status_\d" checked', page)
    assert re.search(r'value="pending" id="id_status_\d" checked', page)
    assert not re.search(r'value="solved" id="id_status_\d" checked', page)
    assert '<option value="negative" selected>' in page
