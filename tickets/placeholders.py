"""Placeholders in texts written by admins: acknowledgements now, macros and canned responses later.

``{{ customer.first_name }}``, ``{{ ticket.number }}``, ``{{ agent.name }}``,
``{{ company.name }}``. The context is plain dictionaries, never model instances, so a
template can read the values offered and nothing else (no methods, no relations).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError

from tickets.models import CustomerIdentity, Ticket

_ENGINE = Engine(autoescape=False, libraries={}, builtins=["django.template.defaultfilters"])


def placeholder_context(*, ticket: Ticket, agent: Any = None) -> dict[str, dict[str, Any]]:
    customer = ticket.customer
    email = customer.identities.filter(kind=CustomerIdentity.Kind.EMAIL).values_list("address", flat=True).first() or ""
    agent_name = ""
    if agent is not None:
        profile = getattr(agent, "agent", None)
        agent_name = profile.name if profile is not None else (agent.get_full_name() or agent.get_username())
    return {
        "customer": {"name": customer.name, "first_name": customer.first_name, "email": email},
        "ticket": {"number": ticket.number, "subject": ticket.subject, "status": ticket.get_status_display()},
        "agent": {"name": agent_name, "first_name": agent_name.split()[0] if agent_name else ""},
        "company": {"name": settings.PARLEY_COMPANY_NAME},
    }


def render_placeholders(text: str, *, ticket: Ticket, agent: Any = None) -> str:
    """The text with its placeholders filled in; a broken template is sent as written, never lost."""
    try:
        return _ENGINE.from_string(text).render(Context(placeholder_context(ticket=ticket, agent=agent)))
    except TemplateSyntaxError:
        return text
