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
    BETTER_WORSE_SCALE,
    CORRELATION_TEXT_MAX,
    DIVERGING_SCALE,
    EFFECT_AXIS_TITLE,
    EMPTY_FIGURE_TEXT,
    MODEBAR_PIXELS,
    NEUTRAL_SCALE,
    VALUE_SHARE_MAX_HEIGHT,
    category_breakdown_figure,
    correlation_heatmap_figure,
    count_histogram_figure,
    dendrogram_figure,
    effect_size_figure,
    feature_histograms_figure,
    k_selection_figure,
    missing_values_figure,
    plot_text,
    profile_heatmap_figure,
    revenue_over_time_figure,
    rfm_grid_figure,
    segment_color,
    segment_map_figure,
    segment_sizes_figure,
    silhouette_figure,
    value_share_figure,
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
    "profile directions": lambda: profile_heatmap_figure(
        [0, 1],
        {0: SCRIPT, 1: IMG},
        [SCRIPT, IMG],
        [[1, 2], [3, None]],
        [[SCRIPT, IMG], [IMG, SCRIPT]],
        directions=[-1, 0],
    ),
    "value share": lambda: value_share_figure(
        [
            {"segment": 0, "name": SCRIPT, "customer_share": 0.2, "value_share": 0.7},
            {"segment": 1, "name": IMG, "customer_share": 0.8, "value_share": 0.3},
        ],
        value_label=SCRIPT,
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
    "value share": lambda: value_share_figure([], value_label="revenue"),
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


def correlation(n: int, name: str = "f") -> go.Figure:
    return correlation_heatmap_figure(
        [f"{name}{i}" for i in range(n)], [[float(i == j) for j in range(n)] for i in range(n)]
    )


def test_correlation_heatmap_writes_values_up_to_12_features() -> None:
    assert CORRELATION_TEXT_MAX == 12
    few, many = correlation(12).data[0], correlation(13).data[0]
    assert few.texttemplate == "%{text}" and few.text[0][:2] == ["1.00", "0.00"]
    # No fixed size: plotly.js shrinks the numbers to the cells ("auto") instead of
    # letting them run into each other.
    assert few.textfont.size is None
    assert many.text is None and many.texttemplate is None
    # In the hover still.
    assert "correlation %{z:.2f}" in many.hovertemplate


def test_correlation_heatmap_labels_do_not_overlap() -> None:
    few, many = correlation(12), correlation(25)
    # Up to 12 features, square cells and labels at -45 degrees; beyond, every row keeps 22
    # pixels for its name (the cells stretch to the width) and the labels stand upright.
    assert few.layout.yaxis.scaleanchor == "x" and few.layout.xaxis.tickangle == -45
    assert many.layout.yaxis.scaleanchor is None and many.layout.xaxis.tickangle == -90
    assert many.layout.height >= 22 * 25 + 40
    assert many.layout.xaxis.automargin and many.layout.yaxis.automargin
    # The height grows with the features and with the longest name (room for the labels).
    heights = [correlation(n).layout.height for n in (3, 12, 13, 25, 40)]
    assert heights == sorted(heights) and heights[0] == 340 and heights[-1] > 800
    assert correlation(25, name="Marital_Status = Married ").layout.height > heights[3]
    # Two features: flat labels unless they would overlap (plotly turns them).
    two = correlation(2).layout.xaxis
    assert two.tickangle is None and two.autotickangles == (0, -45)


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
    # Every month, the year under the first and under each January only.
    assert fig.layout.xaxis.tickvals == ("2011-01-01", "2011-02-01")
    assert fig.layout.xaxis.ticktext == ("Jan<br>2011", "Feb")


def test_revenue_over_time_ticks_thin_out_over_years() -> None:
    months = [f"{2010 + m // 12}-{m % 12 + 1:02d}" for m in range(2, 26)]
    rows = [{**REVENUE_ROWS[0], "period": month} for month in months]
    axis = revenue_over_time_figure(rows).layout.xaxis
    # 24 months: a tick each quarter, starting at the first quarter month in the data.
    assert axis.tickvals[:3] == ("2010-04-01", "2010-07-01", "2010-10-01")
    assert axis.ticktext[:5] == ("Apr<br>2010", "Jul", "Oct", "Jan<br>2011", "Apr")


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
    assert fig.layout.height == 130 + 28 * 4
    # The unit is spelt out in the hover, without a minus before "below".
    assert list(below.customdata) == ["0.50"]
    assert "standard deviations below" in below.hovertemplate


def test_effect_size_axis_title_fits_a_narrow_chart() -> None:
    fig = effect_size_figure([{"label": "revenue", "effect": 1.0}])
    assert fig.layout.xaxis.title.text == EFFECT_AXIS_TITLE
    # Under a 500-pixel-wide chart the plot is about 330 pixels: 40 characters of 14 px.
    assert len(EFFECT_AXIS_TITLE) <= 40
    assert "(SD)" in EFFECT_AXIS_TITLE
    # Tick labels, title and the legend below push the bottom margin as far as they need.
    assert fig.layout.xaxis.automargin is True
    assert fig.layout.legend.yref == "container"


def test_empty_figure_default_text() -> None:
    fig = count_histogram_figure([], [], x_title="orders")
    assert fig.layout.annotations[0].text == EMPTY_FIGURE_TEXT
    assert plot_text(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert math.isclose(fig.layout.height, 180)


# ---------------------------------------------------------------- legends and the toolbar

NAMES = {0: "Big spenders", 1: "Young families"}
# Every figure with a legend.
WITH_LEGEND: dict[str, Callable[[], go.Figure]] = {
    "k selection": lambda: k_selection_figure(
        [{"k": k, "inertia": 9.0 / k, "silhouette": 0.3, "davies_bouldin": 1.0} for k in (2, 3, 4)],
        chosen_k=3,
        elbow_k=3,
        algorithm_label="k-means",
    ),
    "dendrogram": lambda: dendrogram_figure(
        [[0, 1, 1.0, 2], [2, 3, 2.0, 2], [4, 5, 6.0, 4]],
        k=2,
        point_segments=[0, 0, 1, 1],
        names=NAMES,
    ),
    "map": lambda: segment_map_figure([[0, 0], [1, 1], [2, 0]], [0, 1, -1], NAMES),
    "sizes": lambda: segment_sizes_figure(
        [
            {"segment": 0, "segment_name": "A", "share": 0.25, "revenue_share": 0.75},
            {"segment": 1, "segment_name": "B", "share": 0.75, "revenue_share": 0.25},
        ]
    ),
    "revenue": lambda: revenue_over_time_figure(REVENUE_ROWS),
    "effect": HOSTILE["effect"],
}


@pytest.mark.parametrize("name", WITH_LEGEND)
def test_legends_sit_below_away_from_the_toolbar(name: str) -> None:
    fig = WITH_LEGEND[name]()
    assert sum(trace.showlegend is not False for trace in fig.data) >= 2
    legend = fig.layout.legend
    # Plotly's toolbar covers the top right corner on hover; the legend is a horizontal
    # band at the bottom of the figure, which keeps its own margin (yref "container").
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == (
        "h",
        "container",
        0,
        "bottom",
    )
    assert (legend.x, legend.xanchor) == (0, "left")
    assert fig.layout.margin.t >= MODEBAR_PIXELS
    # The x axis stacks its ticks and title above the legend.
    assert fig.layout.xaxis.automargin is True


def test_titles_stay_clear_of_the_toolbar() -> None:
    title = WITH_LEGEND["k selection"]().layout.title
    # Below the toolbar's strip, and aligned with the plots rather than the page edge.
    assert (title.yref, title.y, title.yanchor, title.pad.t) == ("container", 1, "top", 30)
    assert (title.xref, title.x, title.xanchor) == ("paper", 0, "left")


@pytest.mark.parametrize("name", ["missing", "counts", "rfm", "silhouette", "correlation"])
def test_figures_keep_the_toolbar_strip(name: str) -> None:
    assert HOSTILE[name]().layout.margin.t >= MODEBAR_PIXELS


def test_silhouette_axis_title_fits_a_narrow_chart() -> None:
    title = HOSTILE["silhouette"]().layout.xaxis.title.text
    assert max(len(line) for line in title.split("<br>")) <= 40


# ---------------------------------------------------------------- value share


def share_row(segment: int, name: str, customers: float, value: float | None) -> dict[str, Any]:
    return {"segment": segment, "name": name, "customer_share": customers, "value_share": value}


def test_value_share_bars_and_labels() -> None:
    rows = [
        share_row(-1, "noise", 0.1, 0.02),
        share_row(0, "Champions", 0.05, 0.4),
        share_row(1, "Regulars", 0.85, 0.58),
    ]
    fig = value_share_figure(rows, value_label="revenue")
    customers, value = fig.data
    # Customers in no segment last; percentages on the axis of the bars.
    assert list(customers.y) == ["0 · Champions", "1 · Regulars", "not in a segment"]
    assert list(customers.x) == [5.0, 85.0, 10.0] and list(value.x) == [40.0, 58.0, 2.0]
    assert list(customers.text) == ["5% of customers", "85% of customers", "10% of customers"]
    assert list(value.text) == ["40% of revenue", "58% of revenue", "2% of revenue"]
    assert list(value.customdata) == [
        "40.0% of the revenue",
        "58.0% of the revenue",
        "2.0% of the revenue",
    ]
    # Segment colours: solid for the value, light for the customers; noise grey.
    colors = [segment_color(0), segment_color(1), segment_color(-1)]
    assert list(value.marker.color) == colors
    assert list(customers.marker.line.color) == colors
    assert customers.marker.color[0] == "rgba(76,120,168,0.35)"
    assert (customers.orientation, value.orientation, fig.layout.barmode) == ("h", "h", "group")
    # No legend and no axis: the labels say it; room on the right for "40% of revenue".
    assert fig.layout.showlegend is False and fig.layout.xaxis.visible is False
    assert fig.layout.xaxis.range == (0, 85.0 * 1.6)
    assert fig.layout.yaxis.autorange == "reversed"


def test_value_share_customers_only() -> None:
    rows = [share_row(0, "A", 0.004, None), share_row(1, "B", 0.996, None)]
    fig = value_share_figure(rows, value_label="spend")
    assert len(fig.data) == 1
    (customers,) = fig.data
    assert list(customers.text) == ["0.4% of customers", "100% of customers"]
    # Alone, the customers' bars are solid.
    assert list(customers.marker.color) == [segment_color(0), segment_color(1)]
    assert "spend" not in fig.to_json()


def test_value_share_height_is_compact() -> None:
    def height(n: int) -> int:
        rows = [share_row(i, f"s{i}", 1 / n, 1 / n) for i in range(n)]
        return int(value_share_figure(rows, value_label="revenue").layout.height)

    assert height(2) == MODEBAR_PIXELS + 20 + 2 * 60
    assert height(4) == MODEBAR_PIXELS + 20 + 4 * 60
    assert height(8) == height(12) == VALUE_SHARE_MAX_HEIGHT == 360


def test_value_share_shares_are_fractions() -> None:
    with pytest.raises(ValueError, match=r"Segment 1 has customer_share 40\.0; pass fractions"):
        value_share_figure([share_row(0, "A", 0.6, None), share_row(1, "B", 40.0, None)])
    # A missing share leaves its bar out.
    fig = value_share_figure([share_row(0, "A", 0.5, 0.9), share_row(1, "B", NAN, None)])
    assert list(fig.data[0].x) == [50.0, None] and list(fig.data[0].text) == [
        "50% of customers",
        "",
    ]
    assert list(fig.data[1].x) == [90.0, None] and list(fig.data[1].text) == ["90% of value", ""]
    assert list(fig.data[1].customdata) == [
        "90.0% of the value",
        "share of the value not known",
    ]


# ---------------------------------------------------------------- profile directions

PROFILE_ARGS: tuple[Any, ...] = (
    [0, 1],
    {0: "Big", 1: "Small"},
    ["revenue", "days since last order", "age"],
    [[1.0, 1.0, 0.5], [-3.0, -0.25, NAN]],
    [["900", "120", "44"], ["40", "12", "n/a"]],
)


def test_profile_directions_colour_better_and_worse() -> None:
    fig = profile_heatmap_figure(*PROFILE_ARGS, directions=[1, -1, 0])
    neutral, better = fig.data
    # Lower is better for days since the last order: z = +1 is coloured -1, "worse";
    # features without a direction are left to the grey heatmap underneath.
    assert better.z == ([1.0, -2.0], [-1.0, 0.25], [None, None])
    assert neutral.z == ([None, None], [None, None], [0.5, None])
    assert (better.zmin, better.zmax, neutral.zmin, neutral.zmax) == (-2, 2, -2, 2)
    assert better.colorscale == tuple(tuple(step) for step in BETTER_WORSE_SCALE)
    assert neutral.colorscale == tuple(tuple(step) for step in NEUTRAL_SCALE)
    # Colour-blind safe: purple (worse) to green (better), not red to green.
    assert better.colorscale[0][1] == "rgb(64,0,75)" and better.colorscale[-1][1] == "rgb(0,68,27)"
    bar = better.colorbar
    assert bar.title.text.startswith("better / worse than average")
    assert (bar.tickvals, bar.ticktext) == ((-2, 0, 2), ("worse", "average", "better"))
    assert neutral.showscale is False and neutral.hoverinfo == "skip"
    # The cells still say the typical values; the top heatmap writes and hovers them all.
    assert better.text == (["900", "40"], ["120", "12"], ["44", "n/a"])
    assert neutral.text is None
    assert better.customdata[1][0] == ["120", "+1.00", "worse than average"]
    assert better.customdata[1][1] == ["12", "-0.25", "better than average"]
    assert better.customdata[2][0] == ["44", "+0.50", "above average"]
    assert better.customdata[2][1] == ["n/a", "n/a", "n/a"]
    assert better.customdata[0][1] == ["40", "-3.00", "worse than average"]


def test_profile_directions_without_neutral_features() -> None:
    fig = profile_heatmap_figure(*PROFILE_ARGS, directions=[1, -1, -1])
    assert len(fig.data) == 1
    assert fig.data[0].z[2] == [-0.5, None]
    # An average on a lower-is-better feature is 0, not -0.
    zero = profile_heatmap_figure([0], ["A"], ["recency"], [[0.0]], [["30"]], directions=[-1])
    assert "-0.0" not in zero.to_json()
    assert zero.data[0].customdata[0][0] == ["30", "+0.00", "average"]
    assert zero.data[0].colorbar.title.text == "better / worse than average"


def test_profile_default_is_unchanged() -> None:
    plain = profile_heatmap_figure(*PROFILE_ARGS)
    assert plain.to_json() == profile_heatmap_figure(*PROFILE_ARGS, directions=None).to_json()
    (heat,) = plain.data
    # Above and below the average, red and blue as before.
    assert heat.z == ([1.0, -2.0], [1.0, -0.25], [0.5, None])
    assert heat.colorscale == tuple(tuple(step) for step in DIVERGING_SCALE)
    assert heat.customdata[1][0] == ["120", "+1.00"]
    assert "better" not in heat.colorbar.title.text


def test_profile_directions_are_checked() -> None:
    with pytest.raises(ValueError, match=r"2 directions for 3 features; pass one per feature"):
        profile_heatmap_figure(*PROFILE_ARGS, directions=[1, -1])
    with pytest.raises(ValueError, match=r"Direction 2 is not one of -1, 0, \+1"):
        profile_heatmap_figure(*PROFILE_ARGS, directions=[1, 2, 0])
