"""Placeholders in texts written by people: acknowledgements, macros, canned responses.

``{{ customer.first_name }}``, ``{{ ticket.number }}``, ``{{ agent.name }}``,
``{{ company.name }}`` (and the few other names in ``placeholder_context``), optionally
with a fallback: ``{{ customer.first_name|default:"there" }}``.

This is deliberately not a template language. Each ``{{ ... }}`` is looked up in a
fixed table of plain values and replaced by text, in one pass: nothing is executed, no
method or relation is reachable, a value that itself looks like a placeholder is not
expanded again, and ``{% ... %}`` is just text. The result is plain text; pages escape
it like any other message text.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from tickets.models import CustomerIdentity, Ticket

# {{ a.b }} or {{ a.b|default:"x" }}; anything else between braces is "unknown".
_PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_EXPRESSION_RE = re.compile(
    r"""^\s*(?P<name>[a-z_]+\.[a-z_]+)\s*(?:\|\s*default\s*:\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'))?\s*$"""
)


def _company() -> dict[str, str]:
    from tickets.models import CompanyProfile

    profile = CompanyProfile.objects.order_by("pk").first()
    if profile is None:
        return {"name": settings.PARLEY_COMPANY_NAME, "website": "", "support_email": "", "phone": ""}
    return {
        "name": profile.name,
        "website": profile.website,
        "support_email": profile.support_email,
        "phone": profile.phone,
    }


def agent_display_name(agent: Any) -> str:
    """The name customers see for an agent: the profile's display name, else the user's name."""
    if agent is None:
        return ""
    profile = getattr(agent, "agent", None)
    return profile.name if profile is not None else (agent.get_full_name() or agent.get_username())


def placeholder_context(*, ticket: Ticket, agent: Any = None) -> dict[str, dict[str, Any]]:
    """Every value a placeholder may read, as plain strings and numbers."""
    customer = ticket.customer
    email = customer.identities.filter(kind=CustomerIdentity.Kind.EMAIL).values_list("address", flat=True).first() or ""
    agent_name = agent_display_name(agent)
    return {
        "customer": {"name": customer.name, "first_name": customer.first_name, "email": email},
        "ticket": {"number": ticket.number, "subject": ticket.subject, "status": ticket.get_status_display()},
        "agent": {"name": agent_name, "first_name": agent_name.split()[0] if agent_name else ""},
        "company": _company(),
    }


def fill_placeholders(text: str, values: dict[str, dict[str, Any]], *, keep_unknown: bool) -> str:
    """Replace each known placeholder by its value (or its default when the value is empty).

    An unknown one is kept as written when ``keep_unknown`` (an agent sees it in the reply
    box and fixes it) or dropped (an automatic message nobody reviews before it leaves).
    """

    def replace(match: re.Match[str]) -> str:
        expression = _EXPRESSION_RE.match(match.group(1))
        if expression is not None:
            group, _, field = expression.group("name").partition(".")
            if group in values and field in values[group]:
                value = values[group][field]
                value = "" if value is None else str(value)
                default = expression.group("dq") if expression.group("dq") is not None else expression.group("sq")
                return value or (default or "")
        return match.group(0) if keep_unknown else ""

    return _PLACEHOLDER_RE.sub(replace, text)


def render_placeholders(text: str, *, ticket: Ticket, agent: Any = None, keep_unknown: bool = False) -> str:
    """The text with its placeholders filled in for this ticket and agent (plain text)."""
    if "{{" not in text:
        return text
    return fill_placeholders(text, placeholder_context(ticket=ticket, agent=agent), keep_unknown=keep_unknown)
