"""Teams and agents.

Every staff member reads teams (private ones too: their names are in every ticket's team
picker; what a private team hides is its tickets) and agents (the assignee picker shows
them). As in /manage/: creating and changing teams is for administrators (and needs
``teams:write``); an agent's availability is set by the agent themself, or by a manager
or an administrator for anyone (``agents:write``).
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from tickets import services
from tickets.api.base import ApiView, ApiViewSet
from tickets.api.crm import selectors
from tickets.api.crm.common import (
    IdFilter,
    int_or_404,
    is_admin_or_manager,
    require_admin,
)
from tickets.api.problems import Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.serializers.tickets import NamedRefSerializer
from tickets.forms_manage import TeamForm
from tickets.models import AgentProfile, Team
from tickets.roles import ADMIN, MANAGER

# --- Serializers ---------------------------------------------------------------------


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user_id", help_text="The agent's id (their user id)")
    username = serializers.CharField(source="user.username")
    name = serializers.CharField()


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, default=0)
    members = MemberSerializer(source="agents", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "is_private", "member_count", "members", "created_at"]
        read_only_fields = fields


class TeamInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    is_private = serializers.BooleanField(required=False, default=False)
    members = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=1000,
        help_text="Agent ids (user ids) of the members: the complete list",
    )


class AgentSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="user_id", read_only=True, help_text="The agent's user id")
    username = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    role = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    teams = NamedRefSerializer(many=True, read_only=True)

    class Meta:
        model = AgentProfile
        fields = [
            "id", "username", "name", "email", "role", "is_active", "teams", "skills", "capacity",
            "availability", "availability_changed_at",
        ]
        read_only_fields = fields

    def get_role(self, profile: AgentProfile) -> str | None:
        """From the prefetched groups: no query per row."""
        if profile.user.is_superuser:
            return ADMIN
        names = {g.name for g in profile.user.groups.all()}
        return next((r for r in (ADMIN, MANAGER, "agent") if r in names), None)


class AvailabilitySerializer(serializers.Serializer):
    availability = serializers.ChoiceField(choices=AgentProfile.Availability.choices)


# --- Filters -------------------------------------------------------------------------


class TeamFilter(filters.FilterSet):
    is_private = filters.BooleanFilter()
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Team
        fields: list[str] = []


class AgentFilter(filters.FilterSet):
    team = IdFilter(field_name="teams", label="Team id")
    availability = filters.ChoiceFilter(choices=AgentProfile.Availability.choices)
    is_active = filters.BooleanFilter(field_name="user__is_active")

    class Meta:
        model = AgentProfile
        fields: list[str] = []


# --- Examples ------------------------------------------------------------------------

MEMBER_EXAMPLE = {"id": 7, "username": "grace", "name": "Grace Hopper"}
TEAM_EXAMPLE = {
    "id": 2,
    "name": "Billing",
    "slug": "billing",
    "is_private": False,
    "member_count": 1,
    "members": [MEMBER_EXAMPLE],
    "created_at": "2026-01-10T08:00:00Z",
}
AGENT_EXAMPLE = {
    "id": 7,
    "username": "grace",
    "name": "Grace Hopper",
    "email": "grace@parley.example",
    "role": "agent",
    "is_active": True,
    "teams": [{"id": 2, "name": "Billing"}],
    "skills": ["billing", "german"],
    "capacity": 20,
    "availability": "available",
    "availability_changed_at": "2026-11-23T08:01:00Z",
}


# --- Views ---------------------------------------------------------------------------


def _team_form(data: dict[str, Any], team: Team | None) -> dict[str, Any]:
    """Validate with /manage/'s own team form; members arrive as agent (user) ids."""
    user_ids = list(dict.fromkeys(data.get("members", [])))
    profiles = dict(
        AgentProfile.objects.filter(user_id__in=user_ids, user__is_active=True, user__is_staff=True).values_list("user_id", "pk")
    )
    unknown = [u for u in user_ids if u not in profiles]
    if unknown:
        raise serializers.ValidationError({"members": [f"no active agent with id {u}" for u in unknown]})
    form = TeamForm(
        {"name": data["name"], "is_private": data.get("is_private", False), "members": [profiles[u] for u in user_ids]},
        team=team,
    )
    if not form.is_valid():
        raise serializers.ValidationError({f: [str(e) for e in errors] for f, errors in form.errors.items()})
    return form.cleaned_data


@extend_schema_view(
    list=extend_schema(summary="List teams", examples=[example("A page of teams", [TEAM_EXAMPLE], list=True)]),
    retrieve=extend_schema(summary="One team and its members", examples=[example("A team", TEAM_EXAMPLE)]),
    create=extend_schema(
        summary="Create a team",
        description="Administrators only, with `teams:write`.",
        request=TeamInputSerializer,
        responses={201: TeamSerializer},
        examples=[
            example("A private team", {"name": "Escalations", "is_private": True, "members": [7]}, request=True),
            example("Created", {**TEAM_EXAMPLE, "name": "Escalations", "slug": "escalations", "is_private": True}, status=201),
        ],
    ),
    update=extend_schema(
        summary="Replace a team's name, privacy and members",
        description="Administrators only. `members` is the complete list.",
        request=TeamInputSerializer,
        responses=TeamSerializer,
        examples=[example("Rename", {"name": "Billing & Refunds", "is_private": False, "members": [7]}, request=True), example("Saved", TEAM_EXAMPLE)],
    ),
    partial_update=extend_schema(
        summary="Change a team's name, privacy or members",
        description="Administrators only.",
        request=TeamInputSerializer,
        responses=TeamSerializer,
        examples=[example("Make private", {"is_private": True}, request=True), example("Saved", {**TEAM_EXAMPLE, "is_private": True})],
    ),
)
class TeamViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "teams"
    serializer_class = TeamSerializer
    filterset_class = TeamFilter
    ordering_fields = ("name", "created_at")
    ordering = ("name",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = Team.objects.none()

    def get_queryset(self) -> QuerySet[Team]:
        if getattr(self, "swagger_fake_view", False):
            return Team.objects.none()
        return selectors.teams_for_api()

    def _answer(self, team_id: int, *, status_code: int = 200) -> Response:
        fresh = selectors.teams_for_api().get(pk=team_id)
        self.etag_object = fresh
        headers = {"Location": f"/api/v1/teams/{team_id}/"} if status_code == 201 else {}
        return Response(TeamSerializer(fresh).data, status=status_code, headers=headers)

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_admin(request.user, "create teams")
        serializer = TeamInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.team_create(**_team_form(serializer.validated_data, None))
        return self._answer(team.pk, status_code=status.HTTP_201_CREATED)

    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        require_admin(request.user, "change teams")
        team = self.get_object()
        current = {"name": team.name, "is_private": team.is_private, "members": [m.user_id for m in team.agents.all()]}
        body = {**current, **request.data} if kwargs.get("partial") and isinstance(request.data, dict) else request.data
        serializer = TeamInputSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        services.team_update(team=team, **_team_form(serializer.validated_data, team))
        return self._answer(team.pk)

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


@extend_schema_view(
    list=extend_schema(summary="List agents", examples=[example("A page of agents", [AGENT_EXAMPLE], list=True)]),
    retrieve=extend_schema(summary="One agent", examples=[example("An agent", AGENT_EXAMPLE)]),
)
class AgentViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Agents by their user id (the id tickets name as ``assignee``)."""

    api_resource = "agents"
    serializer_class = AgentSerializer
    filterset_class = AgentFilter
    ordering_fields = ("display_name",)
    ordering = ("id",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = AgentProfile.objects.none()

    def get_queryset(self) -> QuerySet[AgentProfile]:
        if getattr(self, "swagger_fake_view", False):
            return AgentProfile.objects.none()
        return selectors.agents_for_api()

    def get_object(self) -> AgentProfile:
        pk = int_or_404(self.kwargs.get("pk"), "agent")
        profile = self.get_queryset().filter(user_id=pk).first()
        if profile is None:
            raise Problem(404, "not-found", "Not Found", f"No agent {pk}.")
        self.etag_object = profile
        return profile


class AgentAvailabilityApi(ApiView):
    api_resource = "agents"
    serializer_class = AvailabilitySerializer

    @extend_schema(
        summary="Set an agent's availability",
        description="Agents set their own; managers and administrators anyone's. Coming back as available offers "
        "them the waiting queue; going away may hand their tickets back (the team's routing settings say).",
        request=AvailabilitySerializer,
        responses=AgentSerializer,
        examples=[example("Away", {"availability": "away"}, request=True), example("Saved", {**AGENT_EXAMPLE, "availability": "away"})],
    )
    def post(self, request: Any, pk: int) -> Response:
        user = selectors.agent_user(user_id=int_or_404(pk, "agent"))
        if user is None:
            raise Problem(404, "not-found", "Not Found", f"No agent {pk}.")
        if user.pk != request.user.pk and not is_admin_or_manager(request.user):
            raise PermissionDenied("Agents set their own availability; managers and administrators set anyone's.")
        serializer = AvailabilitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.agent_set_availability(user=user, availability=serializer.validated_data["availability"])
        profile = selectors.agents_for_api().get(user_id=user.pk)
        self.etag_object = profile
        return Response(AgentSerializer(profile).data)
