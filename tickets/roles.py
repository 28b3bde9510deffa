"""The role groups (admin, manager, agent) and the permissions each holds.

Roles are Django groups so the admin pages and ``has_perm`` work as usual; this module
is the single place that says what each role may do.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

ADMIN = "admin"
MANAGER = "manager"
AGENT = "agent"

_APPS = ("tickets", "routing", "channels_inbox", "metrics")

# (app_label, model) -> actions, per role. Admins get every permission of Parley's apps
# and of auth (users and groups).
ROLE_PERMISSIONS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    MANAGER: {
        ("tickets", "ticket"): ("view", "add", "change"),
        ("tickets", "message"): ("view", "add"),
        ("tickets", "attachment"): ("view", "add"),
        ("tickets", "ticketevent"): ("view",),
        ("tickets", "customer"): ("view", "add", "change"),
        ("tickets", "customeridentity"): ("view", "add", "change"),
        ("tickets", "organization"): ("view", "add", "change"),
        ("tickets", "organizationdomain"): ("view", "add", "change", "delete"),
        ("tickets", "tag"): ("view", "add", "change"),
        ("tickets", "team"): ("view", "change"),
        ("tickets", "agentprofile"): ("view", "change"),
        ("channels_inbox", "channel"): ("view",),
        ("channels_inbox", "inboundmessage"): ("view",),
        ("tickets", "macro"): ("view", "add", "change", "delete"),
        ("tickets", "savedview"): ("view", "add", "change", "delete"),
        ("tickets", "companyprofile"): ("view",),
    },
    AGENT: {
        ("tickets", "ticket"): ("view", "add", "change"),
        ("tickets", "message"): ("view", "add"),
        ("tickets", "attachment"): ("view", "add"),
        ("tickets", "ticketevent"): ("view",),
        ("tickets", "customer"): ("view", "add", "change"),
        ("tickets", "customeridentity"): ("view", "add"),
        ("tickets", "organization"): ("view",),
        ("tickets", "tag"): ("view", "add"),
        ("tickets", "team"): ("view",),
        ("tickets", "agentprofile"): ("view",),
        ("channels_inbox", "channel"): ("view",),
        ("tickets", "macro"): ("view",),
        ("tickets", "savedview"): ("view", "add", "change", "delete"),
        ("tickets", "companyprofile"): ("view",),
    },
}


def _permissions_for(role: str) -> list[Permission]:
    if role == ADMIN:
        return list(Permission.objects.filter(Q(content_type__app_label__in=_APPS) | Q(content_type__app_label="auth")))
    query = Q(pk__in=[])
    for (app_label, model), actions in ROLE_PERMISSIONS[role].items():
        query |= Q(content_type__app_label=app_label, content_type__model=model, codename__in=[f"{a}_{model}" for a in actions])
    return list(Permission.objects.filter(query))


def roles_sync() -> dict[str, Group]:
    """Create the role groups if missing and set their permissions to exactly what ROLE_PERMISSIONS says."""
    groups = {}
    for role in (ADMIN, MANAGER, AGENT):
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions_for(role))
        groups[role] = group
    return groups


def sync_roles_after_migrate(sender: Any, using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    """Runs after the tickets app migrates; other apps' permissions may not exist yet, so make them first."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_sync()


def user_role(user: Any) -> str | None:
    """The highest role a user holds (admin > manager > agent), or None for non-staff."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return ADMIN
    # Asked several times per page (visibility, menus, permissions): one query per user
    # object, which lives as long as the request.
    cached = getattr(user, "_parley_role", False)
    if cached is not False:
        return cached
    names = {g.name for g in user.groups.all()}
    role = next((r for r in (ADMIN, MANAGER, AGENT) if r in names), None)
    try:
        user._parley_role = role
    except AttributeError:  # an object that refuses attributes is simply not cached
        pass
    return role
