"""The managers' metrics over the API: the dashboards' summary, tables and trend.

Managers and administrators only, as the dashboards (``metrics:read``; an agent's key
gets 403). Every number comes from ``metrics.selectors`` with the filters validated by
the dashboards' own form (``metrics.forms.DashboardFilterForm``): the API answers exactly
what /dashboards/ shows for the same query string, unformatted (durations in seconds,
rates in percent, ``null`` where a figure has nothing to be computed from). Bad filters
are a 400 problem here, where the page shows the error and falls back to its defaults.

Tickets appear only in the summary's survey comments (their numbers); those go through
the workspace's visibility rules like every other read of tickets.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from metrics import selectors
from metrics.forms import DashboardFilterForm
from metrics.selectors import Filters, Row
from metrics.services import rollups_catch_up
from tickets import selectors as workspace_selectors
from tickets.api.base import ApiView
from tickets.api.crm.common import is_admin_or_manager
from tickets.api.schema import OpenApiParameter, OpenApiTypes, example, extend_schema
from tickets.models import Customer, Ticket

# ?group= -> the rollups' column, as the dashboards' tables group.
GROUPS: dict[str, str] = {
    "team": "team_id",
    "agent": "agent_id",
    "channel": "channel_kind",
    "priority": "priority",
    "tier": "customer_tier",
}
_CHOICE_LABELS: dict[str, dict[str, str]] = {
    "priority": dict(Ticket.Priority.choices),
    "tier": dict(Customer.Tier.choices),
}

# What each figure means (docs/metrics.md); any figure the selectors add later is served too.
FIGURE_HELP: dict[str, str] = {
    "created": "Tickets created",
    "solved": "Tickets solved (not merged away)",
    "resolution_rate": "Percent of the tickets created that are solved",
    "first_response_avg": "Average first response, seconds",
    "first_response_business_avg": "Average first response in business hours, seconds",
    "next_response_avg": "Average next response, seconds",
    "next_response_business_avg": "Average next response in business hours, seconds",
    "first_resolution_avg": "Average time to the first solve, seconds",
    "first_resolution_business_avg": "Average time to the first solve in business hours, seconds",
    "full_resolution_avg": "Average time to the last solve, seconds",
    "full_resolution_business_avg": "Average time to the last solve in business hours, seconds",
    "fcr_rate": "First-contact resolution, percent of the solved",
    "reopen_rate": "Percent of the solved that were reopened",
    "replies_per_ticket": "Agent replies per solved ticket",
    "sla_first_response": "Percent of first-response targets met",
    "sla_next_response": "Percent of next-response targets met",
    "sla_resolution": "Percent of resolution targets met",
    "csat": "CSAT: percent of ratings 4 or 5",
    "csat_count": "CSAT answers",
    "nps": "NPS, -100 to 100",
    "nps_count": "NPS answers",
    "ces": "CES, average 1-7",
    "ces_count": "CES answers",
    "response_rate": "Percent of the surveys sent that were answered",
    "sentiment": "Average sentiment of customer messages, -1 to 1",
    "backlog": "Unsolved tickets at the end of the range (or period)",
    "backlog_age_avg": "Their average age, seconds",
    "age_under_1d": "Backlog younger than a day",
    "age_1_3d": "Backlog 1-3 days old",
    "age_3_7d": "Backlog 3-7 days old",
    "age_over_7d": "Backlog older than 7 days",
}


def figure_names() -> list[str]:
    """The figures the selectors compute, read from them (no list kept here to drift)."""
    sums = dict.fromkeys(selectors.SUM_FIELDS, 0)
    backlog = dict.fromkeys(selectors.BACKLOG_FIELDS, 0)
    return [*selectors.figures(sums), *selectors.backlog_figures(backlog)]


# --- Serializers ---------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A count (integer) or a measure (float) as the selectors computed it, or null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value


FiguresSerializer = type(
    "MetricFiguresSerializer",
    (serializers.Serializer,),
    {name: NumberField(help_text=FIGURE_HELP.get(name, name.replace("_", " "))) for name in figure_names()},
)


class AppliedFiltersSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First local day (company time zone)")
    end = serializers.DateField(help_text="Last local day, included")
    team = serializers.IntegerField(allow_null=True, help_text="Team id; 0: tickets without a team")
    agent = serializers.IntegerField(allow_null=True, help_text="Agent (user) id; 0: unassigned")
    channel = serializers.CharField()
    priority = serializers.CharField()
    tier = serializers.CharField()


class TableRowSerializer(serializers.Serializer):
    key = serializers.JSONField(help_text="Team or agent id (0: none), or channel kind, priority, tier; null on the total")
    label = serializers.CharField()
    figures = FiguresSerializer()


class TrendRowSerializer(serializers.Serializer):
    start = serializers.DateField(allow_null=True, help_text="The period's first day; null on the total")
    label = serializers.CharField(help_text="2026-11-23, 2026-W48 or 2026-11")
    figures = FiguresSerializer()


class LiveSerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Unsolved tickets now")
    waiting_on_us = serializers.IntegerField(help_text="Of those, not pending on the customer")
    agents_available = serializers.IntegerField()


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The survey response's id")
    kind = serializers.CharField()
    score = serializers.IntegerField()
    comment = serializers.CharField()
    answered_at = serializers.DateTimeField()
    ticket = serializers.IntegerField(allow_null=True, source="ticket__number", help_text="The ticket's number")
    customer = serializers.CharField(source="customer__name", help_text="The customer's name")


class SummarySerializer(serializers.Serializer):
    filters = AppliedFiltersSerializer()
    figures = FiguresSerializer()
    live = LiveSerializer()
    comments = CommentSerializer(many=True, help_text="The latest 20 survey answers with a comment in the range")


class TableSerializer(serializers.Serializer):
    filters = AppliedFiltersSerializer()
    group = serializers.CharField()
    rows = TableRowSerializer(many=True)
    total = TableRowSerializer()


class TrendSerializer(serializers.Serializer):
    filters = AppliedFiltersSerializer()
    grain = serializers.CharField()
    rows = TrendRowSerializer(many=True)
    total = TrendRowSerializer()


class GroupSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=list(GROUPS))


# --- Examples ------------------------------------------------------------------------

FILTERS_EXAMPLE = {"start": "2026-10-25", "end": "2026-11-23", "team": None, "agent": None, "channel": "", "priority": "", "tier": ""}
FIGURES_EXAMPLE = {
    "created": 412, "solved": 398, "resolution_rate": 91.3, "first_response_avg": 2710.5,
    "first_response_business_avg": 1804.2, "next_response_avg": 5120.0, "next_response_business_avg": 3300.8,
    "first_resolution_avg": 61200.0, "first_resolution_business_avg": 20400.0, "full_resolution_avg": 70311.4,
    "full_resolution_business_avg": 23500.9, "fcr_rate": 64.1, "reopen_rate": 4.3, "replies_per_ticket": 1.8,
    "sla_first_response": 93.5, "sla_next_response": 90.2, "sla_resolution": 88.0, "csat": 87.5, "csat_count": 120,
    "nps": 32.0, "nps_count": 50, "ces": 5.6, "ces_count": 18, "response_rate": 30.2, "sentiment": 0.21,
    "backlog": 37, "backlog_age_avg": 190800.0, "age_under_1d": 12, "age_1_3d": 14, "age_3_7d": 8, "age_over_7d": 3,
}
SUMMARY_EXAMPLE = {
    "filters": FILTERS_EXAMPLE,
    "figures": FIGURES_EXAMPLE,
    "live": {"open": 37, "waiting_on_us": 21, "agents_available": 4},
    "comments": [
        {"id": 88, "kind": "csat", "score": 5, "comment": "Quick and kind.", "answered_at": "2026-11-23T10:02:00Z", "ticket": 1042, "customer": "Ada Lovelace"}
    ],
}
TABLE_EXAMPLE = {
    "filters": FILTERS_EXAMPLE,
    "group": "team",
    "rows": [
        {"key": 2, "label": "Billing", "figures": {**FIGURES_EXAMPLE, "created": 300, "solved": 290}},
        {"key": 0, "label": "No team", "figures": {**FIGURES_EXAMPLE, "created": 112, "solved": 108}},
    ],
    "total": {"key": None, "label": "Total", "figures": FIGURES_EXAMPLE},
}
TREND_EXAMPLE = {
    "filters": {**FILTERS_EXAMPLE, "start": "2026-11-02", "end": "2026-11-15"},
    "grain": "week",
    "rows": [
        {"start": "2026-11-02", "label": "2026-W45", "figures": {**FIGURES_EXAMPLE, "created": 95}},
        {"start": "2026-11-09", "label": "2026-W46", "figures": {**FIGURES_EXAMPLE, "created": 102}},
    ],
    "total": {"start": None, "label": "Total", "figures": {**FIGURES_EXAMPLE, "created": 197}},
}

FILTER_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (company time zone); default 29 days before end"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, included; default today. At most 732 days in all"),
    OpenApiParameter("team", OpenApiTypes.INT, description="Team id; 0 for tickets without a team"),
    OpenApiParameter("agent", OpenApiTypes.INT, description="Agent (user) id; 0 for unassigned"),
    OpenApiParameter("channel", OpenApiTypes.STR, description="Channel kind: email, chat, telegram, ..."),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=list(Ticket.Priority.values)),
    OpenApiParameter("tier", OpenApiTypes.STR, enum=list(Customer.Tier.values), description="Customer tier"),
]


# --- Views ---------------------------------------------------------------------------


class MetricsApi(ApiView):
    """The dashboards' audience and filters; ``self.filters`` once the request is checked."""

    api_resource = "metrics"
    filter_backends: list[Any] = []  # noqa: RUF012 - the filters are the dashboards' own
    pagination_class = None

    def check_permissions(self, request: Any) -> None:
        super().check_permissions(request)
        if not is_admin_or_manager(request.user):
            raise PermissionDenied("Only managers and administrators see metrics, as on the dashboards.")

    def dashboard_filters(self, request: Any) -> Filters:
        """The query string through the dashboards' own form: the same defaults and limits."""
        form = DashboardFilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
        rollups_catch_up()  # embedded mode has no beat: as the dashboards do before reading
        return form.filters()


def _applied(filters: Filters) -> dict[str, Any]:
    return {
        "start": filters.start,
        "end": filters.end,
        "team": filters.team_id,
        "agent": filters.agent_id,
        "channel": filters.channel_kind,
        "priority": filters.priority,
        "tier": filters.customer_tier,
    }


def _row(row: Row, key_name: str, key: Any) -> dict[str, Any]:
    return {key_name: key, "label": row.label, "figures": row.figures}


class MetricsSummaryApi(MetricsApi):
    serializer_class = SummarySerializer

    @extend_schema(
        summary="Metrics summary",
        description="The dashboard's summary cards for the range (every figure), its live tiles and the latest "
        "survey comments. Needs `metrics:read` (managers and administrators).",
        parameters=FILTER_PARAMETERS,
        responses=SummarySerializer,
        examples=[example("The last 30 days", SUMMARY_EXAMPLE)],
    )
    def get(self, request: Any) -> Response:
        filters = self.dashboard_filters(request)
        rows = selectors.trend(filters)
        total = selectors.trend_total(filters, rows)
        comments = selectors.csat_comments(filters)
        numbers = {c["ticket__number"] for c in comments if c["ticket__number"] is not None}
        if numbers:
            visible = set(
                workspace_selectors.visible_tickets(request.user).filter(number__in=numbers).values_list("number", flat=True)
            )
            comments = [c for c in comments if c["ticket__number"] is None or c["ticket__number"] in visible]
        body = {"filters": _applied(filters), "figures": total.figures, "live": selectors.live_counts(), "comments": comments}
        return Response(SummarySerializer(body).data)


class MetricsTableApi(MetricsApi):
    serializer_class = TableSerializer

    @extend_schema(
        summary="Metrics per team, agent, channel, priority or tier",
        description="One row per value of `group` with activity in the range, busiest first, and the total line "
        "(the rows' sums, figures derived again: the dashboard's table). The backlog is at the range's end.",
        parameters=[
            OpenApiParameter("group", OpenApiTypes.STR, enum=list(GROUPS), required=True),
            *FILTER_PARAMETERS,
        ],
        responses=TableSerializer,
        examples=[example("Per team", TABLE_EXAMPLE)],
    )
    def get(self, request: Any) -> Response:
        query = GroupSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        group = query.validated_data["group"]
        filters = self.dashboard_filters(request)
        rows = selectors.table(filters, GROUPS[group])
        labels = _CHOICE_LABELS.get(group, {})
        body = {
            "filters": _applied(filters),
            "group": group,
            "rows": [{**_row(row, "key", row.key), "label": labels.get(row.key, row.label) or "None"} for row in rows],
            "total": _row(selectors.rows_total(rows), "key", None),
        }
        return Response(TableSerializer(body).data)


class MetricsTrendApi(MetricsApi):
    serializer_class = TrendSerializer

    @extend_schema(
        summary="Metrics per day, week or month",
        description="One row per period of the range, empty periods included (ISO weeks start on Monday), and the "
        "range's total (its backlog is the last day's): the dashboard's trend table and charts.",
        parameters=[
            OpenApiParameter("grain", OpenApiTypes.STR, enum=list(selectors.GRAINS), default="day"),
            *FILTER_PARAMETERS,
        ],
        responses=TrendSerializer,
        examples=[example("Two weeks", TREND_EXAMPLE)],
    )
    def get(self, request: Any) -> Response:
        filters = self.dashboard_filters(request)
        rows = selectors.trend(filters)
        body = {
            "filters": _applied(filters),
            "grain": filters.grain,
            "rows": [_row(row, "start", row.key) for row in rows],
            "total": _row(selectors.trend_total(filters, rows), "start", None),
        }
        return Response(TrendSerializer(body).data)
