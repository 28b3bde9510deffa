"""Trend charts drawn on the server as inline SVG: no JavaScript, nothing from a CDN.

Each chart is a pure function of its labels and values, so what the page draws is what
its table (and the CSV) says. Missing values (no tickets that period) break the line
rather than drawing a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

COLORS = ("#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9")
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


def _nice_max(value: float) -> float:
    """A round upper bound for the axis: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str = "",
    kind: str = "line",
    floor: float | None = 0.0,
) -> SafeString:
    """An accessible SVG chart (``role="img"``, a title, a <title> per point).

    ``kind`` "bar" draws grouped bars (counts), "line" draws lines with points (averages,
    rates). ``floor`` is the axis' lower end (None: the smallest value, for NPS and sentiment).
    """
    values = [v for _, points in series for v in points if v is not None]
    top = _nice_max(max(values, default=0))
    bottom = min(0.0, min(values, default=0)) if floor is None else floor
    if floor is None and bottom < 0:
        bottom = -_nice_max(-bottom)
    span = (top - bottom) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)
    step = plot_w / count

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - bottom) / span)

    def x(index: int) -> float:
        return LEFT + step * (index + 0.5)

    parts: list[str] = []
    for tick in range(5):
        value = bottom + span * tick / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(_fmt(value))}</text>'
        )
    shown = {0, len(labels) - 1, (len(labels) - 1) // 2} if len(labels) > 3 else set(range(len(labels)))
    for index in sorted(shown):
        parts.append(
            f'<text class="axis" x="{x(index):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(labels[index])}</text>'
        )
    for number, (name, points) in enumerate(series):
        color = COLORS[number % len(COLORS)]
        if kind == "bar":
            width = step * 0.8 / len(series)
            for index, value in enumerate(points):
                if value is None:
                    continue
                left = x(index) - step * 0.4 + width * number
                parts.append(
                    f'<rect x="{left:.1f}" y="{y(max(value, 0)):.1f}" width="{width:.1f}" '
                    f'height="{abs(y(value) - y(0)):.1f}" fill="{color}"><title>{escape(name)} '
                    f"{escape(labels[index])}: {escape(_fmt(value))}{escape(unit)}</title></rect>"
                )
            continue
        segment: list[str] = []
        for index, value in enumerate(list(points) + [None]):
            if value is None:
                if len(segment) > 1:
                    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>')
                segment = []
                continue
            segment.append(f"{x(index):.1f},{y(value):.1f}")
            parts.append(
                f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="2.5" fill="{color}"><title>{escape(name)} '
                f"{escape(labels[index])}: {escape(_fmt(value))}{escape(unit)}</title></circle>"
            )
    legend = "".join(
        format_html('<span class="legend-item"><i style="background:{}"></i>{}</span>', COLORS[n % len(COLORS)], name)
        for n, (name, _) in enumerate(series)
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
    return mark_safe(f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>{svg}<div class="legend">{legend}</div></figure>')  # noqa: S308 - every text escaped above
