"""Template context every workspace page needs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tickets.roles import user_role


def workspace(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's role, for menus.

    Why not ``perms.tickets.change_team`` in the template: that loads every permission of
    the user (two queries on every page); the role is one query, cached on the user for
    the request and shared with the visibility rules.
    """
    return {"parley_role": user_role(getattr(request, "user", None))}
