"""Charts as server-rendered SVG: no JavaScript, no CDN, nothing to download, so the back office's dashboard
draws the same offline, in a test client and in a browser.

`bar_chart` and `line_chart` turn a series of `Point`s into one `<svg>` element. Every bar or point is a link
to the changelist behind it and carries its label and value (`data-label`, `data-value`, and a `<title>`
that browsers show as a tooltip), so a test can read the numbers back from the markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

Number = int | Decimal


@dataclass(frozen=True)
class Point:
    """One bar or one point: what it is called, how much it is, and the changelist that shows it."""

    label: str
    value: Number
    url: str = ""


# Room around the plot for the axis labels (left: values, bottom: point labels, top: value labels).
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 16, 34


def nice_ceiling(value: Number) -> Number:
    """The axis maximum: the smallest of 1, 2, 2.5, 5 × 10^k that is at least `value` (1 for an empty series),
    so gridlines fall on round numbers. Money (a Decimal) stays money."""
    if value <= 0:
        return Decimal("1.00") if isinstance(value, Decimal) else 1
    exponent = math.floor(math.log10(float(value)))
    for step in (1, 2, Decimal("2.5"), 5, 10):
        candidate = Decimal(step) * Decimal(10) ** exponent
        if candidate >= value:
            if isinstance(value, Decimal):
                return candidate.quantize(Decimal("0.01"))
            return int(candidate) if candidate == candidate.to_integral_value() else candidate
    raise AssertionError("unreachable: 10 × 10^k always covers value")


def _fmt(value: Number) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def _label_every(points: Sequence[Point], width: float) -> int:
    """Show every n-th point label so that labels (about 6 px a character at 10 px) do not overlap."""
    widest = max((len(p.label) for p in points), default=0) * 6 + 8
    return max(1, math.ceil(len(points) * widest / max(width, 1)))


def _left(top: Number, fmt) -> int:
    """Room on the left for the value axis's longest label."""
    return max(LEFT, len(fmt(top)) * 6 + 10)


def _ticks(top: Number) -> int:
    """How many equal steps the value axis has: whole numbers for counts (0, 1, 2 up to 2; 0, 5, 10 ...
    up to 25), quarters for money."""
    if isinstance(top, Decimal):
        return 4
    return next(n for n in (4, 5, 2, 1) if top % n == 0)


def _frame(
    *,
    title: str,
    kind: str,
    width: int,
    height: int,
    top: Number,
    body: SafeString,
    fmt,
    left: int,
    bottom: int = BOTTOM,
) -> SafeString:
    plot_height = height - TOP - bottom
    steps = _ticks(top)
    grid = []
    for i in range(steps + 1):
        value = Decimal(top) * i / steps
        y = TOP + plot_height - plot_height * i / steps
        grid.append((left, f"{y:.1f}", width - RIGHT, f"{y:.1f}", left - 4, f"{y + 3:.1f}", fmt(_round(value, top))))
    gridlines = format_html_join(
        "",
        '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end" font-size="10" fill="#666">{}</text>',
        grid,
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{}" role="img" aria-label="{}" '
        'viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>{}{}</svg>',
        kind,
        title,
        width,
        height,
        width,
        height,
        title,
        gridlines,
        body,
    )


def _round(value: Decimal, top: Number) -> Number:
    return value.quantize(Decimal("0.01")) if isinstance(top, Decimal) else int(value)


def bar_chart(
    points: Sequence[Point],
    *,
    title: str,
    width: int = 480,
    height: int = 200,
    fmt: Callable[[Number], str] = _fmt,
    color: str = "#417690",
) -> SafeString:
    """A vertical bar chart of `points`, in their order. Heights are proportional to the values (a zero is
    no bar at all, only its label); each bar links to its point's url."""
    top = nice_ceiling(max((p.value for p in points), default=0))
    left = _left(top, fmt)
    plot_width = width - left - RIGHT
    slot = plot_width / max(len(points), 1)
    bar_width = max(slot * 0.7, 1)
    # Every bar is labelled: side by side when the labels fit, slanted (and the plot a little shorter) when not.
    slanted = _label_every(points, slot * len(points)) > 1
    widest = max((len(p.label) for p in points), default=0)
    bottom = min(BOTTOM + int(widest * 6 * 0.57), height // 2) if slanted else BOTTOM
    plot_height = height - TOP - bottom
    bars = []
    for i, point in enumerate(points):
        bar_height = plot_height * float(point.value) / float(top)
        x = left + i * slot + (slot - bar_width) / 2
        y = TOP + plot_height - bar_height
        label_x, label_y = x + bar_width / 2, height - bottom + 14
        turn = f' transform="rotate(-35 {label_x:.1f} {label_y - 4})"' if slanted else ""
        anchor = "end" if slanted else "middle"
        bars.append(
            format_html(
                '<a href="{}"><rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}" data-label="{}" '
                'data-value="{}"><title>{}: {}</title></rect>{}</a>'
                '<text class="label" x="{}" y="{}" text-anchor="{}" font-size="10" fill="#333"{}>{}</text>',
                point.url or "#",
                f"{x:.1f}",
                f"{y:.1f}",
                f"{bar_width:.1f}",
                f"{bar_height:.1f}",
                color,
                point.label,
                point.value,
                point.label,
                fmt(point.value),
                _value_text(point, x + bar_width / 2, y, fmt) if slot >= len(fmt(point.value)) * 6 else "",
                f"{label_x:.1f}",
                label_y,
                anchor,
                mark_safe(turn),  # numbers only
                point.label,
            )
        )
    body = mark_safe("".join(bars))  # every part is format_html's
    return _frame(
        title=title, kind="bar", width=width, height=height, top=top, body=body, fmt=fmt, left=left, bottom=bottom
    )


def _value_text(point: Point, x: float, y: float, fmt) -> SafeString:
    return format_html(
        '<text class="value" x="{}" y="{}" text-anchor="middle" font-size="10" fill="#333">{}</text>',
        f"{x:.1f}",
        f"{y - 3:.1f}",
        fmt(point.value),
    )


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    width: int = 480,
    height: int = 200,
    fmt: Callable[[Number], str] = _fmt,
    color: str = "#ba2121",
) -> SafeString:
    """A line through `points`, in their order, with a marker per point that links to its url."""
    top = nice_ceiling(max((p.value for p in points), default=0))
    left = _left(top, fmt)
    plot_width, plot_height = width - left - RIGHT, height - TOP - BOTTOM
    step = plot_width / max(len(points) - 1, 1)
    every = _label_every(points, plot_width)
    coordinates = [
        (left + i * step, TOP + plot_height - plot_height * float(p.value) / float(top)) for i, p in enumerate(points)
    ]
    line = format_html(
        '<polyline class="line" fill="none" stroke="{}" stroke-width="2" points="{}"/>',
        color,
        " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates),
    )
    markers = format_html_join(
        "",
        '<a href="{}"><circle class="point" cx="{}" cy="{}" r="3" fill="{}" data-label="{}" data-value="{}">'
        "<title>{}: {}</title></circle></a>"
        '<text class="label" x="{}" y="{}" text-anchor="middle" font-size="10" fill="#333">{}</text>',
        (
            (
                p.url or "#",
                f"{x:.1f}",
                f"{y:.1f}",
                color,
                p.label,
                p.value,
                p.label,
                fmt(p.value),
                f"{x:.1f}",
                height - BOTTOM + 14,
                p.label if i % every == 0 else "",
            )
            for i, (p, (x, y)) in enumerate(zip(points, coordinates, strict=True))
        ),
    )
    return _frame(
        title=title, kind="line", width=width, height=height, top=top, body=line + markers, fmt=fmt, left=left
    )
