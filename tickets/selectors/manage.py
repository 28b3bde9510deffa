"""Reads of the admin area (/manage/): the lists of channels, teams, agents and shared macros,
and the company's details. Each list is a fixed number of queries, whatever its length."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, QuerySet

from tickets.models import AgentProfile, CompanyProfile, Macro, Team


def company_profile_get() -> CompanyProfile:
    """The company's details; an unsaved default (named after PARLEY_COMPANY_NAME) until an admin saves them."""
    profile = CompanyProfile.objects.filter(pk=1).first()
    return profile or CompanyProfile(pk=1, name=settings.PARLEY_COMPANY_NAME)


def channel_list_for_manage() -> QuerySet:
    from channels_inbox.models import Channel

    return Channel.objects.select_related("default_team").order_by("name", "pk")


def team_list_for_manage() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("agents", distinct=True)).order_by("name")


def team_members(*, team: Team) -> list[AgentProfile]:
    return list(team.agents.select_related("user").order_by("display_name", "user__username"))


def staff_list_for_manage() -> QuerySet:
    """Every staff user with their profile, teams and role groups: three queries in all.
    Users without a profile (a superuser made by createsuperuser) are listed too."""
    User = get_user_model()
    return (
        User.objects.filter(is_staff=True)
        .select_related("agent")
        .prefetch_related(
            Prefetch("agent__teams", queryset=Team.objects.order_by("name")),
            "groups",
        )
        .order_by("-is_active", "username")
    )


def staff_user_for_manage(*, user_id: int) -> Any | None:
    return staff_list_for_manage().filter(pk=user_id).first()


def macro_list_shared() -> QuerySet[Macro]:
    return Macro.objects.filter(owner__isnull=True).select_related("set_team").order_by("name", "pk")


def macro_shared_get(*, macro_id: int) -> Macro | None:
    return macro_list_shared().filter(pk=macro_id).first()


def assignable_agents() -> QuerySet[AgentProfile]:
    """Profiles offered as team members: active staff only."""
    return AgentProfile.objects.filter(user__is_active=True, user__is_staff=True).select_related("user")
