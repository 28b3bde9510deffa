"""API scopes: one ``read`` and one ``write`` scope per resource, e.g. ``tickets:read``.

How to use:

- A view declares its resource, ``api_resource = "customers"``; ``permissions.HasScope``
  then asks ``<resource>:read`` for GET/HEAD/OPTIONS and ``<resource>:write`` for the rest.
- ``write`` implies ``read``: ``expand({"tickets:write"}) == {"tickets:read", "tickets:write"}``.
- What a request may do is ``effective_scopes(user, key)``: the scopes the user's role
  allows (``ROLE_SCOPES``), narrowed by the key's own scopes when it came with an API key.
  A browser session gets everything its role allows. Visibility (private teams) is the
  user's, whatever the scopes: scopes only ever narrow.
- A new resource: add its name to ``RESOURCES`` and to the roles in ``ROLE_SCOPES``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tickets.roles import ADMIN, AGENT, MANAGER, user_role

READ = "read"
WRITE = "write"

RESOURCES: tuple[str, ...] = (
    "tickets",
    "messages",
    "customers",
    "organizations",
    "teams",
    "agents",
    "tags",
    "macros",
    "channels",
    "rules",
    "sla",
    "surveys",
    "metrics",
    "webhooks",
)

ALL_SCOPES: tuple[str, ...] = tuple(f"{r}:{a}" for r in RESOURCES for a in (READ, WRITE))


def scope(resource: str, action: str) -> str:
    return f"{resource}:{action}"


def _all(*resources: str, write: Iterable[str] = ()) -> frozenset[str]:
    granted = {scope(r, READ) for r in resources} | {scope(r, WRITE) for r in write}
    return frozenset(granted)


# What each role may do through the API: the same as in the workspace (tickets/roles.py).
# Agents work tickets and customers; managers also run teams, macros, rules and reports;
# admins everything, webhooks included.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    ADMIN: frozenset(ALL_SCOPES),
    MANAGER: _all(
        *[r for r in RESOURCES if r != "webhooks"],
        write=("tickets", "messages", "customers", "organizations", "tags", "macros", "teams", "agents", "surveys"),
    ),
    AGENT: _all(
        "tickets", "messages", "customers", "organizations", "teams", "agents", "tags", "macros",
        "channels", "sla", "surveys",
        write=("tickets", "messages", "customers", "tags", "surveys", "agents"),  # agents: only their own availability
    ),
}


class UnknownScope(ValueError):
    """A scope string that names no resource or action."""


def validate(scopes: Iterable[str]) -> list[str]:
    """The scopes, checked and sorted; raises UnknownScope naming the bad ones."""
    scopes = [s.strip() for s in scopes if s and s.strip()]
    bad = [s for s in scopes if s not in ALL_SCOPES]
    if bad:
        raise UnknownScope(f"unknown scope{'s' if len(bad) > 1 else ''}: {', '.join(bad)}")
    return sorted(set(scopes))


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """Add the ``read`` scope each ``write`` scope implies."""
    result = set(scopes)
    for s in list(result):
        resource, _, action = s.partition(":")
        if action == WRITE:
            result.add(scope(resource, READ))
    return frozenset(result)


def role_scopes(user: Any) -> frozenset[str]:
    """Everything the user's role allows; nothing for non-staff or inactive users."""
    if not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return frozenset()
    return ROLE_SCOPES.get(user_role(user) or "", frozenset())


def effective_scopes(user: Any, key: Any = None) -> frozenset[str]:
    """The scopes a request holds: the role's, narrowed by the API key's when there is one."""
    allowed = role_scopes(user)
    if key is None:
        return allowed
    return allowed & expand(key.scopes or [])
