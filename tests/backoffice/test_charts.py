"""The SVG charts: one element per point, heights proportional to the values, links, escaping, no script."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from backoffice.charts import Point, bar_chart, line_chart, nice_ceiling


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (21, 25), (99, 100), (101, 200), (Decimal("437.20"), Decimal("500.00"))],
)
def test_the_axis_ends_on_a_round_number(value, ceiling):
    assert nice_ceiling(value) == ceiling


def bars(svg: str) -> list[tuple[str, str, float]]:
    return [
        (label, value, float(height))
        for height, label, value in re.findall(
            r'<rect class="bar" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="[^"]+" '
            r'data-label="([^"]*)" data-value="([^"]*)">',
            svg,
        )
    ]


def test_bar_chart_draws_one_linked_bar_per_point_in_proportion():
    svg = str(bar_chart([Point("Pending", 4, "/a?x=1&y=2"), Point("Shipped", 2, "/b"), Point("Held", 0)], title="T"))
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "<script" not in svg
    drawn = bars(svg)
    assert [(label, value) for label, value, _ in drawn] == [("Pending", "4"), ("Shipped", "2"), ("Held", "0")]
    (_, _, four), (_, _, two), (_, _, zero) = drawn
    assert four == pytest.approx(2 * two) and zero == 0
    assert '<a href="/a?x=1&amp;y=2">' in svg and "<title>Pending: 4</title>" in svg


def test_labels_are_escaped():
    svg = str(bar_chart([Point('<b>"x"</b>', 1)], title="<T>"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and 'aria-label="&lt;T&gt;"' in svg


def test_an_empty_or_all_zero_series_draws_no_bar_heights():
    assert bars(str(bar_chart([], title="none"))) == []
    assert [h for _, _, h in bars(str(bar_chart([Point("a", 0), Point("b", 0)], title="zeros")))] == [0, 0]


def test_line_chart_has_a_linked_marker_per_point_with_money_values():
    points = [Point("1 Jan", Decimal("10.00"), "/d1"), Point("2 Jan", Decimal("0.00"), "/d2")]
    svg = str(line_chart(points, title="Revenue", fmt=lambda v: f"{v:.2f}"))
    assert svg.count('<circle class="point"') == 2
    assert 'data-label="1 Jan" data-value="10.00"' in svg and '<a href="/d2">' in svg
    assert "<polyline" in svg


def test_every_bar_is_labelled_even_when_the_labels_do_not_fit_side_by_side():
    points = [Point(f"Status number {i}", i) for i in range(12)]
    svg = str(bar_chart(points, title="T", width=300))
    labels = re.findall(r'<text class="label"[^>]*>([^<]*)</text>', svg)
    assert labels == [p.label for p in points]  # none left blank
    assert svg.count('transform="rotate(-35') == 12  # slanted to fit
    few = str(bar_chart(points[:3], title="T", width=480))
    assert "rotate(" not in few and re.findall(r'<text class="label"[^>]*>([^<]*)</text>', few) == [
        p.label for p in points[:3]
    ]
