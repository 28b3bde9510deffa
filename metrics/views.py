"""The managers' dashboards (/dashboards/) and their CSV exports.

Every number comes from metrics.selectors (rollups only). Table cells are formatted once
here, in Python, and the page and the CSV export both print those strings: an export
always says what the page says.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from metrics import charts, selectors
from metrics.forms import DashboardFilterForm
from metrics.selectors import Filters, Row
from metrics.services import company_zone, rollups_catch_up
from tickets.views.manage.base import admin_or_manager_required


def fmt_int(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def fmt_num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def fmt_score(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def fmt_duration(seconds: float | None) -> str:
    """17h 05m, 12m 30s, 2d 03h: precise enough to read, short enough for a table."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600:02d}h"


Column = tuple[str, str, Callable[[float | None], str]]
COLUMNS: list[Column] = [
    ("created", "Created", fmt_int),
    ("solved", "Solved", fmt_int),
    ("resolution_rate", "Resolution rate", fmt_pct),
    ("first_response_avg", "First response", fmt_duration),
    ("first_response_business_avg", "First response (business)", fmt_duration),
    ("next_response_avg", "Next response", fmt_duration),
    ("first_resolution_avg", "First resolution", fmt_duration),
    ("full_resolution_avg", "Full resolution", fmt_duration),
    ("full_resolution_business_avg", "Full resolution (business)", fmt_duration),
    ("fcr_rate", "First-contact resolution", fmt_pct),
    ("reopen_rate", "Reopen rate", fmt_pct),
    ("replies_per_ticket", "Replies per ticket", fmt_num),
    ("sla_first_response", "SLA first response", fmt_pct),
    ("sla_resolution", "SLA resolution", fmt_pct),
    ("csat", "CSAT", fmt_pct),
    ("nps", "NPS", fmt_score),
    ("ces", "CES", fmt_num),
    ("response_rate", "Survey response rate", fmt_pct),
    ("backlog", "Backlog at end", fmt_int),
]
# The summary cards: the range's total of the same figures, and a few more.
CARDS: list[Column] = [
    *COLUMNS[:3],
    COLUMNS[3],
    COLUMNS[4],
    COLUMNS[5],
    COLUMNS[7],
    COLUMNS[8],
    COLUMNS[9],
    COLUMNS[10],
    ("sla_first_response", "SLA first response", fmt_pct),
    ("sla_next_response", "SLA next response", fmt_pct),
    ("sla_resolution", "SLA resolution", fmt_pct),
    ("csat", "CSAT", fmt_pct),
    ("nps", "NPS", fmt_score),
    ("ces", "CES (1-7)", fmt_num),
    ("response_rate", "Survey response rate", fmt_pct),
    ("sentiment", "Sentiment (-1..1)", fmt_num),
    ("backlog", "Backlog at end", fmt_int),
    ("backlog_age_avg", "Backlog average age", fmt_duration),
]
TABLES = {
    "trend": "Period",
    "teams": "Team",
    "agents": "Agent",
    "channels": "Channel",
}


GROUPS = {"trend": "day", "teams": "team_id", "agents": "agent_id", "channels": "channel_kind"}


def table_rows(filters: Filters, name: str, sums: selectors.Sums | None = None) -> tuple[list[Row], Row]:
    """The rows of one dashboard table and its total line (the same for page and CSV)."""
    group = GROUPS[name]
    group_sums = sums[group] if sums is not None else None
    if name == "trend":
        rows = selectors.trend(filters, by_day=group_sums)
        return rows, selectors.trend_total(filters, rows)
    rows = selectors.table(filters, group, sums=group_sums)
    return rows, selectors.rows_total(rows)


def cells(row: Row, columns: Sequence[Column] = COLUMNS) -> list[str]:
    figures = row.figures
    return [row.label] + [formatter(figures[key]) for key, _, formatter in columns]


def row_html(values: list[str]) -> str:
    """One table row: the label as a row header, then the cells, each escaped. Built here
    rather than by a template loop: a year by day is 7,000 cells, which the template engine
    (and even format_html per cell) renders slowly."""
    return '<tr><th scope="row">' + escape(values[0]) + "</th><td>" + "</td><td>".join(map(escape, values[1:])) + "</td></tr>"


def _chart_series(rows: list[Row], *keys: tuple[str, str], scale: float = 1.0) -> list[tuple[str, list[float | None]]]:
    out = []
    for key, name in keys:
        values = []
        for row in rows:
            value = row.figures[key]
            values.append(None if value is None else value / scale)
        out.append((name, values))
    return out


def trend_charts(rows: list[Row]) -> list[str]:
    labels = [row.label for row in rows]
    hours = 3600.0
    return [
        charts.chart(
            title="Volume: tickets created and solved", labels=labels, kind="bar",
            series=_chart_series(rows, ("created", "Created"), ("solved", "Solved")),
        ),
        charts.chart(
            title="First response, average (hours)", labels=labels, unit=" h",
            series=_chart_series(rows, ("first_response_avg", "Calendar"), ("first_response_business_avg", "Business"), scale=hours),
        ),
        charts.chart(
            title="Full resolution, average (hours)", labels=labels, unit=" h",
            series=_chart_series(rows, ("full_resolution_avg", "Calendar"), ("full_resolution_business_avg", "Business"), scale=hours),
        ),
        charts.chart(
            title="CSAT and survey response rate (%)", labels=labels, unit="%",
            series=_chart_series(rows, ("csat", "CSAT"), ("response_rate", "Response rate")),
        ),
        charts.chart(title="NPS (-100..100)", labels=labels, floor=None, series=_chart_series(rows, ("nps", "NPS"))),
        charts.chart(title="CES, average (1-7)", labels=labels, series=_chart_series(rows, ("ces", "CES"))),
        charts.chart(
            title="SLA compliance (%)", labels=labels, unit="%",
            series=_chart_series(
                rows, ("sla_first_response", "First response"), ("sla_next_response", "Next response"), ("sla_resolution", "Resolution")
            ),
        ),
        charts.chart(title="Backlog at the end of each period", labels=labels, kind="bar", series=_chart_series(rows, ("backlog", "Open"))),
    ]


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, Filters]:
    form = DashboardFilterForm(request.GET or None)
    return form, (form.filters() if request.GET else selectors.default_filters())


@admin_or_manager_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The overview: summary cards, trend charts, per-team, per-agent and per-channel
    tables, the latest survey comments and the live tiles."""
    rollups_catch_up()
    form, filters = _filters(request)
    query = request.GET.urlencode()
    tables = []
    trend_rows: list[Row] = []
    total: Row | None = None
    sums = selectors.rollup_sums(filters, tuple(GROUPS.values()))
    for name, heading in TABLES.items():
        rows, table_total = table_rows(filters, name, sums)
        if name == "trend":
            trend_rows, total = rows, table_total
        tables.append(
            {
                "name": name,
                "heading": heading,
                "body": mark_safe("".join(row_html(cells(row)) for row in rows)),  # noqa: S308 - row_html escapes every cell
                "empty": not rows,
                "total": mark_safe(row_html(cells(table_total))),  # noqa: S308 - row_html escapes every cell
                "csv": f"{reverse('metrics:export', args=[name])}?{query}",
            }
        )
    figures = total.figures if total else {}
    context = {
        "form": form,
        "filters": filters,
        "cards": [(label, formatter(figures.get(key))) for key, label, formatter in CARDS],
        "charts": trend_charts(trend_rows),
        "columns": [label for _, label, _ in COLUMNS],
        "tables": tables,
        "comments": selectors.csat_comments(filters),
        "company_tz": filters.tz_name or company_zone().key,
        "live": selectors.live_counts(),
    }
    return render(request, "metrics/dashboard.html", context)


@admin_or_manager_required
def export(request: HttpRequest, table: str) -> HttpResponse:
    """One dashboard table as CSV, with the same filters, rows, total and strings as the page."""
    if table not in TABLES:
        raise Http404("No such table")
    rollups_catch_up()
    _, filters = _filters(request)
    rows, total = table_rows(filters, table)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="parley-{table}-{filters.start}-{filters.end}.csv"'
    writer = csv.writer(response)
    writer.writerow([TABLES[table]] + [label for _, label, _ in COLUMNS])
    for row in rows:
        writer.writerow(cells(row))
    writer.writerow(cells(total))
    return response


@admin_or_manager_required
def live(request: HttpRequest) -> HttpResponse:
    """The live tiles alone (htmx refresh and the websocket's fetch)."""
    return render(request, "metrics/dashboard.html#live", {"live": selectors.live_counts()})
