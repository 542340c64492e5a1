"""The report's figure functions: exact traces from tiny inputs, escaping, determinism."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import plotly.graph_objects as go
import pytest

from custseg.report.plots import (
    ABOVE_COLOR,
    BELOW_COLOR,
    EMPTY_FIGURE_TEXT,
    category_breakdown_figure,
    correlation_heatmap_figure,
    count_histogram_figure,
    effect_size_figure,
    feature_histograms_figure,
    missing_values_figure,
    plot_text,
    profile_heatmap_figure,
    revenue_over_time_figure,
    rfm_grid_figure,
    segment_color,
    silhouette_figure,
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
NAN = float("nan")

# Markup the figures write themselves; anything else starting with "<" came from the data.
OWN_TAGS = re.compile(r"<br>|<extra>|</extra>")


def strings(value: Any) -> Iterator[str]:
    """Every string in a figure dict (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def hist_item(name: str, note: str = "") -> dict[str, Any]:
    return {"name": name, "edges": [0.0, 1.0, 2.0, 4.0], "counts": [3, 2, 1], "note": note}


REVENUE_ROWS = [
    {"period": "2011-01", "revenue": 1000.126, "orders": 12, "customers": 10},
    {"period": "2011-02", "revenue": 1500.0, "orders": 20, "customers": 14},
]


# Every figure function fed the hostile names in each string it takes (revenue over time
# takes no customer strings: its periods are validated).
HOSTILE: dict[str, Callable[[], go.Figure]] = {
    "histograms": lambda: feature_histograms_figure(
        [hist_item(SCRIPT, IMG), hist_item(IMG)], title=SCRIPT
    ),
    "correlation": lambda: correlation_heatmap_figure([SCRIPT, IMG], [[1, 0.5], [0.5, 1]]),
    "missing": lambda: missing_values_figure(
        [{"column": SCRIPT, "missing": 3, "share": 0.01}, {"column": IMG, "missing": 1, "share": 0}]
    ),
    "categories": lambda: category_breakdown_figure(
        [{"name": SCRIPT, "levels": [IMG, SCRIPT * 2], "counts": [2, 1]}]
    ),
    "counts": lambda: count_histogram_figure(
        [1, 2], [5, 1], x_title=SCRIPT, y_title=IMG, overflow_label=SCRIPT
    ),
    "profile": lambda: profile_heatmap_figure(
        [0, -1, 1],
        {0: SCRIPT, 1: IMG},
        [SCRIPT, IMG],
        [[1, 2], [0, 0], [3, None]],
        [[SCRIPT, IMG], ["a", "b"], [IMG, SCRIPT]],
    ),
    "silhouette": lambda: silhouette_figure(
        [0, 1], {0: SCRIPT, 1: IMG}, [[0.5, 0.2], [0.1]], average=0.3
    ),
    "rfm": lambda: rfm_grid_figure(
        [SCRIPT, "old"],
        [IMG, "2+"],
        [[3, 1], [0, 2]],
        [[0, 1], [None, 1]],
        names={0: SCRIPT, 1: IMG},
    ),
    "effect": lambda: effect_size_figure(
        [{"label": SCRIPT, "effect": 1.0}, {"label": IMG, "effect": -0.5}]
    ),
}
TYPICAL: dict[str, Callable[[], go.Figure]] = {
    **HOSTILE,
    "revenue": lambda: revenue_over_time_figure(REVENUE_ROWS),
}
EMPTY: dict[str, Callable[[], go.Figure]] = {
    "histograms": lambda: feature_histograms_figure([]),
    "correlation": lambda: correlation_heatmap_figure([], []),
    "missing": lambda: missing_values_figure([]),
    "categories": lambda: category_breakdown_figure([]),
    "revenue": lambda: revenue_over_time_figure([]),
    "counts": lambda: count_histogram_figure([], [], x_title="orders"),
    "profile": lambda: profile_heatmap_figure([0], ["A"], [], [[]], [[]]),
    "silhouette": lambda: silhouette_figure([-1], ["noise"], [[0.1]], average=None),
    "rfm": lambda: rfm_grid_figure([], [], [], [], names={}),
    "effect": lambda: effect_size_figure([]),
}


# ---------------------------------------------------------------- every function


@pytest.mark.parametrize("name", HOSTILE)
def test_customer_strings_are_escaped_everywhere(name: str) -> None:
    texts = list(strings(HOSTILE[name]().to_dict()))
    leftover = [t for t in texts if "<" in OWN_TAGS.sub("", t)]
    assert leftover == []
    assert not any(">" in OWN_TAGS.sub("", t) for t in texts)
    joined = "\n".join(texts)
    assert "&lt;script&gt;" in joined or "&lt;script" in joined
    assert "&lt;img src=x" in joined


def test_revenue_periods_must_be_months() -> None:
    rows = [{**REVENUE_ROWS[0], "period": SCRIPT}]
    with pytest.raises(ValueError, match=r"Period '<script>alert\(1\)</script>' is not an ISO"):
        revenue_over_time_figure(rows)
    with pytest.raises(ValueError, match="'2011-13'"):
        revenue_over_time_figure([{**REVENUE_ROWS[0], "period": "2011-13"}])


@pytest.mark.parametrize("name", TYPICAL)
def test_same_input_same_figure(name: str) -> None:
    assert TYPICAL[name]().to_json() == TYPICAL[name]().to_json()


@pytest.mark.parametrize("name", EMPTY)
def test_nothing_to_draw_says_so(name: str) -> None:
    fig = EMPTY[name]()
    assert len(fig.data) == 0
    assert len(fig.layout.annotations) == 1
    assert fig.layout.annotations[0].text
    assert fig.layout.xaxis.visible is False


# ---------------------------------------------------------------- one by one


def test_feature_histograms_grid() -> None:
    items = [hist_item(f"f{i}", "log1p" if i == 0 else "") for i in range(4)]
    fig = feature_histograms_figure(items, columns=3)
    assert len(fig.data) == 4
    assert [a.text for a in fig.layout.annotations] == ["f0 (log1p)", "f1", "f2", "f3"]
    # Bars sit on the bins: centres and widths from the edges, the range in the hover.
    assert list(fig.data[0].x) == [0.5, 1.5, 3.0]
    assert list(fig.data[0].width) == [1.0, 1.0, 2.0]
    assert list(fig.data[0].customdata) == ["0 to 1", "1 to 2", "2 to 4"]
    assert fig.data[3].xaxis == "x4" and fig.data[3].yaxis == "y4"
    assert fig.layout.showlegend is False
    # Two rows here, one row with three columns of one figure: 200 pixels a row.
    one_row = feature_histograms_figure(items[:3], columns=3)
    assert fig.layout.height - one_row.layout.height == 200
    assert feature_histograms_figure(items, title="after").layout.title.text == "after"


def test_feature_histograms_round_to_the_bin_width() -> None:
    edges = [1940.0, 1945.0, 1950.0 + 1e-9]
    item = {"name": "Year_Birth", "edges": edges, "counts": [4, 5], "note": ""}
    fig = feature_histograms_figure([item])
    assert list(fig.data[0].x) == [1942.5, 1947.5]
    assert list(fig.data[0].customdata) == ["1940 to 1945", "1945 to 1950"]
    big = {"name": "Income", "edges": [0.0, 50_000.0, 100_000.0], "counts": [1, 1], "note": ""}
    assert list(feature_histograms_figure([big]).data[0].customdata) == [
        "0 to 50,000",
        "50,000 to 100,000",
    ]


def test_feature_histograms_need_one_more_edge_than_counts() -> None:
    item = {"name": "revenue", "edges": [0, 1], "counts": [1, 2], "note": ""}
    with pytest.raises(ValueError, match=r"'revenue' has 2 bin edges for 2 counts; pass n \+ 1"):
        feature_histograms_figure([item])


def test_feature_histograms_stay_light() -> None:
    items = [
        {"name": f"feature {i}", "edges": [j / 7 for j in range(31)], "counts": [9] * 30}
        for i in range(20)
    ]
    assert len(feature_histograms_figure(items).to_json()) < 60_000


def test_correlation_heatmap_scale_text_and_gaps() -> None:
    fig = correlation_heatmap_figure(["a", "b", "c"], [[1, 0.123456, NAN]] * 3)
    heat = fig.data[0]
    assert (heat.zmin, heat.zmax) == (-1, 1)
    # Blue for -1, white for 0, red for +1.
    assert heat.colorscale[0] == (0.0, "rgb(5,48,97)")
    assert heat.colorscale[5] == (0.5, "rgb(247,247,247)")
    assert heat.colorscale[-1] == (1.0, "rgb(103,0,31)")
    assert heat.z[0] == [1.0, 0.123, None]
    assert heat.text[0] == ["1.00", "0.12", ""]
    assert "%{x}" in heat.hovertemplate and "%{y}" in heat.hovertemplate
    assert fig.layout.yaxis.autorange == "reversed"


def test_correlation_heatmap_writes_values_up_to_15_features() -> None:
    def heat(n: int) -> go.Figure:
        return correlation_heatmap_figure(
            [f"f{i}" for i in range(n)], [[float(i == j) for j in range(n)] for i in range(n)]
        )

    assert heat(15).data[0].texttemplate == "%{text}"
    assert heat(16).data[0].text is None and heat(16).data[0].texttemplate is None
    assert heat(3).layout.height < heat(15).layout.height < heat(40).layout.height == 800


def test_correlation_heatmap_checks_the_shape() -> None:
    with pytest.raises(ValueError, match=r"'matrix' has shape \(1, 2\).*expected 2 rows of 2"):
        correlation_heatmap_figure(["a", "b"], [[1.0, 0.5]])


def test_missing_values_labels() -> None:
    rows = [
        {"column": "Income", "missing": 12, "share": 0.005},
        {"column": "Age", "missing": 1, "share": 0.0002},
        {"column": "Gap", "missing": 2, "share": NAN},
    ]
    bars = missing_values_figure(rows).data[0]
    assert list(bars.x) == [0.5, 0.02, None]
    assert list(bars.text) == ["12 (0.5%)", "1 (<0.1%)", "2 (n/a)"]
    assert list(bars.y) == ["Income", "Age", "Gap"]


def test_category_breakdown_panels() -> None:
    long_level = "a level with a very long name indeed"
    items = [
        {"name": "Country", "levels": ["UK", "France", "other"], "counts": [300, 99, 1]},
        {"name": "Kidhome", "levels": ["0", "1"], "counts": [1, 1]},
        {"name": "Channel", "levels": [long_level], "counts": [5]},
    ]
    fig = category_breakdown_figure(items, columns=2)
    assert len(fig.data) == 3
    assert [a.text for a in fig.layout.annotations] == ["Country", "Kidhome", "Channel"]
    assert list(fig.data[0].text) == ["300 (75%)", "99 (25%)", "1 (<1%)"]
    # Levels that look like numbers stay categories; long ones are cut on the axis only.
    assert fig.layout.yaxis2.type == "category"
    assert list(fig.data[2].y) == [long_level]
    assert fig.layout.yaxis3.ticktext == ("a level with a very l…",)
    # One bar thickness per row: the second panel keeps room for three levels.
    assert fig.layout.yaxis2.range == (2.5, -0.5)
    with pytest.raises(ValueError, match="'Country' has 3 levels for 2 counts"):
        category_breakdown_figure([{**items[0], "counts": [1, 2]}])


def test_revenue_over_time() -> None:
    fig = revenue_over_time_figure(REVENUE_ROWS)
    bars, line = fig.data
    assert list(bars.x) == ["2011-01-01", "2011-02-01"]
    assert list(bars.y) == [1000.13, 1500.0]
    assert list(bars.customdata) == [12, 20]
    assert list(line.y) == [10, 14]
    assert (bars.yaxis, line.yaxis) == ("y", "y2")
    assert fig.layout.xaxis.type == "date"
    assert fig.layout.hovermode == "x unified"


def test_count_histogram_overflow_bar() -> None:
    values = list(range(1, 21))
    fig = count_histogram_figure(
        values, [100 - v for v in values], x_title="orders per customer", overflow_label="20+"
    )
    bars = fig.data[0]
    assert bars.customdata[-1] == "20+" and bars.customdata[0] == "1"
    assert fig.layout.xaxis.tickvals == (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    assert fig.layout.xaxis.ticktext[-1] == "20+"
    assert fig.layout.xaxis.title.text == "orders per customer"
    assert fig.layout.yaxis.title.text == "customers"
    plain = count_histogram_figure([0, 1, 2], [1, 2, 3], x_title="returns")
    assert plain.layout.xaxis.tickvals == (0, 1, 2)
    assert plain.layout.xaxis.ticktext == ("0", "1", "2")
    with pytest.raises(ValueError, match="3 values for 2 counts"):
        count_histogram_figure([1, 2, 3], [1, 2], x_title="orders")


def test_profile_heatmap_features_as_rows_noise_last() -> None:
    fig = profile_heatmap_figure(
        [-1, 0, 1],
        {0: "Big", 1: "Small"},
        ["revenue", "orders"],
        [[0.0, 0.1], [3.0, NAN], [-0.5, -2.5]],
        [["n1", "n2"], ["900", "12"], ["40", "2"]],
    )
    heat = fig.data[0]
    assert list(heat.x) == ["0 · Big", "1 · Small", "not in a segment"]
    assert list(heat.y) == ["revenue", "orders"]
    assert heat.z == ([2.0, -0.5, 0.0], [None, -2.0, 0.1])
    assert (heat.zmin, heat.zmax) == (-2.0, 2.0)
    assert heat.text == (["900", "40", "n1"], ["12", "2", "n2"])
    # The hover keeps the unclipped value.
    assert heat.customdata[0][0] == ["900", "+3.00"]
    assert heat.customdata[1][0] == ["12", "n/a"]
    assert "clipped at ±2" in heat.colorbar.title.text.replace("<br>", " ")
    assert fig.layout.xaxis.side == "top"


def test_profile_heatmap_one_segment_and_bad_shapes() -> None:
    one = profile_heatmap_figure([0], ["All"], ["revenue"], [[0.0]], [["10"]])
    assert one.data[0].z == ([0.0],)
    with pytest.raises(ValueError, match="'z' has shape"):
        profile_heatmap_figure([0, 1], ["A", "B"], ["revenue"], [[0.0]], [["1"], ["2"]])
    with pytest.raises(ValueError, match="'text' has shape"):
        profile_heatmap_figure([0], ["A"], ["revenue", "orders"], [[0.0, 1.0]], [["1"]])


def test_silhouette_bands() -> None:
    fig = silhouette_figure(
        [0, -1, 1],
        ["A", "B"],  # indexed by segment number, like segment_map_figure's names
        [[0.2, 0.6, NAN], [0.9], [-0.3, 0.1]],
        average=0.234,
        sizes=[300, 50, 100],
    )
    assert [t.name for t in fig.data] == ["0 · A", "1 · B"]
    assert list(fig.data[0].x) == [0.6, 0.2]
    assert [t.fill for t in fig.data] == ["tozerox", "tozerox"]
    assert [t.fillcolor for t in fig.data] == [segment_color(0), segment_color(1)]
    # Band thickness by customers: 300 and 100, with a gap of 4% of 400 between.
    assert list(fig.data[0].y) == [75.0, 225.0]
    assert list(fig.data[1].y) == [341.0, 391.0]
    # A small segment keeps 40% of the average band, room for its label.
    small = silhouette_figure([0, 1], ["A", "B"], [[0.5], [0.5]], average=0.5, sizes=[1000, 10])
    # 0.4 x 505 = 202 thick; the gap is 4% of 1000 + 202.
    assert small.layout.yaxis.tickvals == (500.0, 1149.08)
    assert fig.layout.yaxis.ticktext == ("0 · A<br>300 customers", "1 · B<br>100 customers")
    assert fig.layout.annotations[0].text == "average 0.23"
    assert fig.layout.shapes[0].x0 == 0.234 and fig.layout.shapes[0].line.dash == "dash"
    assert fig.layout.xaxis.range == (-0.35, 1.0)


def test_silhouette_one_segment_without_average() -> None:
    fig = silhouette_figure([0], {0: "All"}, [[0.5, 0.4]], average=None)
    assert len(fig.data) == 1
    assert fig.layout.shapes == () and fig.layout.annotations == ()
    with pytest.raises(ValueError, match="2 segments, 1 lists of values and no sizes"):
        silhouette_figure([0, 1], ["A", "B"], [[0.5]], average=0.5)


def test_rfm_grid_cells() -> None:
    fig = rfm_grid_figure(
        ["0–30 days", "31+ days"],
        ["1 order", "2+"],
        [[412, 5], [0, 3]],
        [[0, 1], [None, 1]],
        names={0: "Champions", 1: "Loyal"},
    )
    heat = fig.data[0]
    assert heat.text == (["412<br>0 · Champions", "5<br>1 · Loyal"], ["0", "3<br>1 · Loyal"])
    assert heat.customdata[1] == ["—", "1 · Loyal"]
    assert heat.zmin == 0 and heat.z == ([412, 5], [0, 3])
    assert fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(ValueError, match="'dominant' has shape"):
        rfm_grid_figure(["r"], ["f"], [[1]], [[0, 1]], names={})


def test_effect_size_bars_by_sign() -> None:
    items = [
        {"label": "revenue", "effect": 1.23456},
        {"label": "Education = PhD", "effect": -0.5},
        {"label": "recency", "effect": NAN},
        {"label": "orders", "effect": 0.2},
    ]
    fig = effect_size_figure(items)
    above, below = fig.data
    assert (above.marker.color, below.marker.color) == (ABOVE_COLOR, BELOW_COLOR)
    assert list(above.y) == ["revenue", "orders"] and list(above.x) == [1.23, 0.2]
    assert list(below.y) == ["Education = PhD"] and list(below.text) == ["-0.50"]
    # Every label keeps its row, in the given order, even without a value.
    assert fig.layout.yaxis.categoryarray == ("revenue", "Education = PhD", "recency", "orders")
    assert fig.layout.xaxis.title.text == "difference from the other customers (standardized)"
    assert fig.layout.height == 100 + 28 * 4


def test_empty_figure_default_text() -> None:
    fig = count_histogram_figure([], [], x_title="orders")
    assert fig.layout.annotations[0].text == EMPTY_FIGURE_TEXT
    assert plot_text(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert math.isclose(fig.layout.height, 180)
