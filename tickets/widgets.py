"""Select and checkbox widgets that render in Python.

Why: Django renders every ``<option>`` and checkbox through its widget templates, about a
third of a millisecond each on our reference machine; the inbox's filter form (a dozen
controls, ~100 options) spent ~37 ms there on every page view (bench/README.md, run 4).
These produce the same markup with ``format_html`` in one pass. Only plain, flat choices
are supported (no option groups), which is all the inbox uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict[str, Any]) -> SafeString:
    parts = []
    for key, val in attrs.items():
        if val is True:
            parts.append(format_html(" {}", key))
        elif val not in (False, None):
            parts.append(format_html(' {}="{}"', key, val))
    return mark_safe("".join(parts))  # noqa: S308 (each part made by format_html)


class _FastChoices:
    def _flat_choices(self) -> Iterable[tuple[str, str]]:
        for value, label in self.choices:
            value = getattr(value, "value", value)  # ModelChoiceIteratorValue
            yield ("" if value is None else str(value)), str(label)


class _FastSelectRender(_FastChoices):
    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            final["multiple"] = True
        chosen = set(self.format_value(value))  # Django's rules: None is "", values as str
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((v, mark_safe(" selected") if v in chosen else "", label) for v, label in self._flat_choices()),
        )
        return format_html('<select name="{}"{}>{}</select>', name, _attrs(final), options)


class FastSelect(_FastSelectRender, forms.Select):
    pass


class FastSelectMultiple(_FastSelectRender, forms.SelectMultiple):
    pass


class FastCheckboxSelectMultiple(_FastChoices, forms.CheckboxSelectMultiple):
    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        base_id = final.get("id", "")
        chosen = set(self.format_value(value))  # Django's rules: None is "", values as str
        items = format_html_join(
            "",
            '<div><label for="{}"><input type="checkbox" name="{}" value="{}" id="{}"{}> {}</label></div>',
            (
                (f"{base_id}_{i}", name, v, f"{base_id}_{i}", mark_safe(" checked") if v in chosen else "", label)
                for i, (v, label) in enumerate(self._flat_choices())
            ),
        )
        return format_html('<div id="{}">{}</div>', base_id, items)
