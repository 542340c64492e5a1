"""Figures of a segmentation: functions that take plain data and return a plotly Figure.

The HTML report and the app call the same functions. Strings that come from the customer's
data (segment names, which are built from column names and categories) are passed through
:func:`plot_text` before they reach plotly: plotly.js reads a subset of HTML in every text it
draws (``<b>``, ``<a href>``, ...) and decodes entities, so escaping shows the text literally.

Examples
--------
>>> import numpy as np
>>> fig = segment_map_figure(np.zeros((4, 2)), np.array([0, 0, 1, 1]), ["A", "B"])
>>> [trace.name for trace in fig.data]
['0 · A', '1 · B']
"""

from __future__ import annotations

import copy
import html
import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly import colors as plotly_colors
from plotly.subplots import make_subplots

MAP_MAX_POINTS = 5_000
"""The segment map draws at most this many customers (a seeded random sample above it): more
points only blur the picture and grow the report."""

SEGMENT_COLORS: tuple[str, ...] = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#B279A2",
    "#EECA3B",
    "#FF9DA6",
    "#9D755D",
    "#5D6D7E",
)
"""One colour per segment number (Tableau 10 order, grey last), cycled beyond ten."""
NOISE_COLOR = "#BAB0AC"
"""Colour of customers that no segment claims (label -1 of density methods)."""
FIGURE_FONT = dict(
    family='system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    size=13,
    color="#1f2933",
)
"""The report's system font stack, so that figures and text match and nothing is downloaded."""
FIGURE_TEMPLATE = "plotly_white"
DENDROGRAM_LEAVES = 30
"""The dendrogram draws the tree down to this many groups (``truncate_mode="lastp"``): below
that, thousands of single customers make an unreadable comb."""


def plot_text(value: Any) -> str:
    """Escape a customer-supplied string for plotly, which reads HTML tags in its texts.

    Examples
    --------
    >>> plot_text("<b>Big</b> & bold")
    '&lt;b&gt;Big&lt;/b&gt; &amp; bold'
    """
    return html.escape(str(value), quote=False)


def segment_color(segment: int) -> str:
    """The colour of a segment number; noise (-1) is grey.

    Examples
    --------
    >>> segment_color(0), segment_color(-1)
    ('#4C78A8', '#BAB0AC')
    """
    if segment < 0:
        return NOISE_COLOR
    return SEGMENT_COLORS[segment % len(SEGMENT_COLORS)]


def segment_label(segment: int, name: Any) -> str:
    """Legend label of a segment, escaped for plotly: ``"0 · Champions"``.

    Examples
    --------
    >>> segment_label(2, "At risk")
    '2 · At risk'
    """
    if segment < 0:
        return "not in a segment"
    return f"{segment} · {plot_text(name)}"


def sample_indices(n: int, max_points: int = MAP_MAX_POINTS, seed: int = 0) -> np.ndarray:
    """Sorted row indices of a seeded random sample of at most ``max_points`` of ``n`` rows.

    Examples
    --------
    >>> sample_indices(3).tolist()
    [0, 1, 2]
    >>> len(sample_indices(10_000, 100, seed=1))
    100
    """
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def _finite_or_none(values: Iterable[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        f = None if v is None else float(v)
        out.append(None if f is None or math.isnan(f) or math.isinf(f) else f)
    return out


@cache
def _template_json() -> dict[str, Any]:
    """:data:`FIGURE_TEMPLATE` as plotly's validated ``layout.template`` (the same dict, in
    the same key order, as ``update_layout(template=FIGURE_TEMPLATE)`` stores)."""
    return dict(go.Layout(template=FIGURE_TEMPLATE).template.to_plotly_json())


def _set_template(fig: go.Figure) -> None:
    """Give ``fig`` :data:`FIGURE_TEMPLATE` without validating the template again.

    Assigning a template by name makes plotly deep-copy and re-validate the whole template
    object, some 10 ms a figure (a third of a report's figure time). The dict assigned here
    was validated once by :func:`_template_json`; plotly assigns its default template the
    same way (``BaseFigure._initialize_layout_template``).
    """
    layout = fig.layout
    validate = layout._validate
    layout._validate = False
    try:
        layout.template = copy.deepcopy(_template_json())
    finally:
        layout._validate = validate


LEGEND_BELOW: dict[str, Any] = dict(
    orientation="h",
    xref="paper",
    x=0,
    xanchor="left",
    yref="container",
    y=0,
    yanchor="bottom",
)
"""Where the figures put their legends: one horizontal band under everything else. Plotly's
toolbar (the modebar) appears over the top right corner on hover and covered legends there;
a legend held to the bottom of the figure (``yref="container"``) reserves its own margin, so
axis labels and titles stack above it however many lines it wraps to."""


MODEBAR_PIXELS = 30
"""Height of plotly's toolbar (the modebar, over the top right corner on hover): figures with
nothing but a plot area there keep at least this top margin, so it covers no data."""


def _legend_below(fig: go.Figure) -> go.Figure:
    """Put the legend of ``fig`` in :data:`LEGEND_BELOW`."""
    fig.update_layout(legend=LEGEND_BELOW)
    return fig


def _style(fig: go.Figure, height: int) -> go.Figure:
    _set_template(fig)
    fig.update_layout(
        font=FIGURE_FONT,
        height=height,
        margin=dict(l=60, r=20, t=50, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hoverlabel=dict(font=dict(family=FIGURE_FONT["family"])),
    )
    return fig


def k_selection_figure(
    candidates: Sequence[Mapping[str, Any]] | pd.DataFrame,
    chosen_k: int,
    elbow_k: int | None,
    algorithm_label: str | None = None,
) -> go.Figure:
    """How k was chosen: WCSS with its elbow (BIC for a Gaussian mixture, which chooses k by
    it), and silhouette, Davies-Bouldin and Calinski-Harabasz against k, with the chosen k
    marked in every panel.

    Parameters
    ----------
    candidates : sequence of dict or DataFrame
        One row per candidate k with ``k``, ``inertia``, ``silhouette``, ``davies_bouldin``
        and ``calinski_harabasz``, and ``bic`` for a Gaussian mixture (missing values are
        left as gaps). When any row has a ``bic``, the first panel shows BIC instead of WCSS.
    chosen_k : int
        The recommended number of segments.
    elbow_k : int or None
        The elbow (knee) of the WCSS curve, if one was found.
    algorithm_label : str, optional
        The clustering family the rows belong to (``"k-means"``), named in the title.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> rows = [{"k": k, "inertia": 100 / k, "silhouette": 0.3, "davies_bouldin": 1.0,
    ...          "calinski_harabasz": 50.0} for k in (2, 3, 4)]
    >>> len(k_selection_figure(rows, chosen_k=3, elbow_k=3).data)
    9
    """
    frame = pd.DataFrame(
        list(candidates) if not isinstance(candidates, pd.DataFrame) else candidates
    )
    use_bic = "bic" in frame and any(v is not None for v in _finite_or_none(frame["bic"]))
    panels = (
        ("bic", "BIC (lower is better)")
        if use_bic
        else ("inertia", "WCSS (lower; look for the elbow)"),
        ("silhouette", "Silhouette (higher is better)"),
        ("davies_bouldin", "Davies-Bouldin (lower is better)"),
        ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
    )
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[title for _, title in panels],
        horizontal_spacing=0.1,
        vertical_spacing=0.16,
    )
    ks = [int(k) for k in frame["k"]] if "k" in frame else []
    for i, (column, title) in enumerate(panels):
        row, col = divmod(i, 2)
        values = _finite_or_none(frame[column]) if column in frame else [None] * len(ks)
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=values,
                mode="lines+markers",
                line=dict(color="#4C78A8", width=2),
                marker=dict(size=7, color="#4C78A8"),
                name=title.split(" (")[0],
                showlegend=False,
                hovertemplate="k=%{x}: %{y:,.3~f}<extra></extra>",
            ),
            row=row + 1,
            col=col + 1,
        )
        chosen = [v for k, v in zip(ks, values, strict=True) if k == chosen_k]
        fig.add_trace(
            go.Scatter(
                x=[chosen_k] * len(chosen),
                y=chosen,
                mode="markers",
                marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="#E45756", width=3)),
                name=f"chosen k = {chosen_k}",
                legendgroup="chosen",
                showlegend=i == 0,
                hovertemplate=f"chosen k={chosen_k}: %{{y:,.3~f}}<extra></extra>",
            ),
            row=row + 1,
            col=col + 1,
        )
        if column == "inertia" and elbow_k is not None:
            elbow = [v for k, v in zip(ks, values, strict=True) if k == elbow_k]
            fig.add_trace(
                go.Scatter(
                    x=[elbow_k] * len(elbow),
                    y=elbow,
                    mode="markers",
                    marker=dict(size=15, symbol="star", color="#F58518"),
                    name=f"elbow of WCSS at k = {elbow_k}",
                    hovertemplate=f"elbow at k={elbow_k}<extra></extra>",
                ),
                row=row + 1,
                col=col + 1,
            )
        fig.update_xaxes(
            dtick=1,
            title_text="k (number of segments)" if row == 1 else None,
            row=row + 1,
            col=col + 1,
        )
    _style(fig, 640)
    # The top stays clear for plotly's toolbar (MODEBAR_PIXELS), which appears on hover.
    fig.update_layout(margin=dict(t=MODEBAR_PIXELS + 30, b=10))
    _legend_below(fig)
    fig.update_xaxes(automargin=True)
    fig.update_annotations(font_size=13)
    if algorithm_label:
        fig.update_layout(
            title=dict(
                text=f"{plot_text(algorithm_label)}: the criteria for each number of segments k",
                xref="paper",
                x=0,
                xanchor="left",
                yref="container",
                y=1,
                yanchor="top",
                pad=dict(t=MODEBAR_PIXELS),
                font=dict(size=15),
            ),
            margin=dict(t=MODEBAR_PIXELS + 60),
        )
    return fig


def _leaf_point(tree: np.ndarray, node: int, n_points: int) -> int:
    """One fitted point under ``node`` of a linkage matrix (its leftmost leaf)."""
    while node >= n_points:
        node = int(tree[node - n_points, 0])
    return node


def cut_height(tree: np.ndarray | Sequence[Sequence[float]], k: int) -> float | None:
    """The height at which the tree falls into ``k`` groups: halfway between the last merge
    made and the first merge left undone (None when k is 1 or more than the points).

    Examples
    --------
    >>> tree = [[0, 1, 1.0, 2], [2, 3, 2.0, 2], [4, 5, 6.0, 4]]
    >>> cut_height(tree, 2)
    4.0
    """
    Z = np.asarray(tree, dtype=float).reshape(-1, 4)
    if k < 2 or k > len(Z):
        return None
    return float((Z[-k, 2] + Z[-k + 1, 2]) / 2)


def dendrogram_figure(
    tree: np.ndarray | Sequence[Sequence[float]],
    k: int | None = None,
    point_segments: Sequence[int] | np.ndarray | None = None,
    names: Mapping[int, str] | None = None,
    *,
    linkage_label: str | None = None,
    max_leaves: int = DENDROGRAM_LEAVES,
) -> go.Figure:
    """The merge tree of hierarchical clustering, truncated to its last ``max_leaves``
    groups, with the cut into ``k`` segments drawn as a dashed line.

    Parameters
    ----------
    tree : array of shape (n_points - 1, 4)
        A scipy linkage matrix.
    k : int, optional
        Number of segments the tree was cut into; draws the cut.
    point_segments : sequence of int, optional
        Segment number of each fitted point (the rows the tree was built on). Branches
        below the cut are then coloured like their segment everywhere else in the report.
    names : mapping, optional
        Segment name by segment number, for the legend.
    linkage_label : str, optional
        The linkage (``"ward"``), named on the height axis.
    max_leaves : int
        Leaves drawn (``truncate_mode="lastp"``); each stands for a group of customers.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> tree = [[0, 1, 1.0, 2], [2, 3, 2.0, 2], [4, 5, 6.0, 4]]
    >>> fig = dendrogram_figure(tree, k=2, point_segments=[0, 0, 1, 1], names={0: "A", 1: "B"})
    >>> [trace.name for trace in fig.data if trace.showlegend is not False]
    ['0 · A', '1 · B', 'above the cut', 'cut into 2 segments']
    """
    from scipy.cluster.hierarchy import dendrogram

    Z = np.asarray(tree, dtype=float).reshape(-1, 4)
    n_points = len(Z) + 1
    d = dendrogram(Z, truncate_mode="lastp", p=max_leaves, no_plot=True)
    leaves = [int(v) for v in d["leaves"]]
    sizes = [1 if v < n_points else int(Z[v - n_points, 3]) for v in leaves]
    positions = [5.0 + 10.0 * i for i in range(len(leaves))]
    cut = cut_height(Z, k) if k is not None else None
    segments = None if point_segments is None else np.asarray(point_segments, dtype=int)
    leaf_segment = (
        [int(segments[_leaf_point(Z, v, n_points)]) for v in leaves]
        if segments is not None and len(segments) == n_points
        else None
    )
    lookup = dict(names or {})
    # One trace per colour: the links of a segment, joined by gaps (None).
    groups: dict[int | None, tuple[list[float | None], list[float | None]]] = {}
    for xs, ys in zip(d["icoord"], d["dcoord"], strict=True):
        segment = None
        if leaf_segment is not None and cut is not None and max(ys) <= cut:
            inside = [
                s for x, s in zip(positions, leaf_segment, strict=True) if xs[0] <= x <= xs[3]
            ]
            segment = inside[0] if inside else None
        gx, gy = groups.setdefault(segment, ([], []))
        gx.extend([*(float(v) for v in xs), None])
        gy.extend([*(float(v) for v in ys), None])
    fig = go.Figure()
    for segment in sorted((s for s in groups if s is not None), key=lambda s: (s < 0, s)):
        gx, gy = groups[segment]
        label = segment_label(segment, lookup.get(segment, f"segment {segment}"))
        fig.add_trace(
            go.Scatter(
                x=gx,
                y=gy,
                mode="lines",
                line=dict(color=segment_color(segment), width=2),
                name=label,
                hoverinfo="skip",
            )
        )
    if None in groups:
        gx, gy = groups[None]
        fig.add_trace(
            go.Scatter(
                x=gx,
                y=gy,
                mode="lines",
                line=dict(color="#5f6b7a", width=1.5),
                name="above the cut" if cut is not None else "merges",
                showlegend=cut is not None,
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=positions,
            y=[0.0] * len(positions),
            mode="markers",
            marker=dict(
                size=7,
                color=[segment_color(s) for s in leaf_segment] if leaf_segment else "#5f6b7a",
            ),
            showlegend=False,
            customdata=sizes,
            hovertemplate="%{customdata:,} customer(s)<extra></extra>",
        )
    )
    if cut is not None and k is not None:
        right = positions[-1] + 5.0 if positions else 10.0
        fig.add_trace(
            go.Scatter(
                x=[0.0, right],
                y=[cut, cut],
                mode="lines",
                line=dict(color="#E45756", width=2, dash="dash"),
                name=f"cut into {k} segments",
                hovertemplate=f"cut into {k} segments at height %{{y:,.3~f}}<extra></extra>",
            )
        )
    _style(fig, 480)
    fig.update_layout(margin=dict(t=MODEBAR_PIXELS, b=10))
    _legend_below(fig)
    fig.update_xaxes(
        automargin=True,
        tickmode="array",
        tickvals=positions,
        ticktext=[f"{s:,}" for s in sizes],
        tickangle=-90 if len(positions) > 20 else 0,
        title_text="groups at the bottom of the tree (customers in each)",
        showgrid=False,
        zeroline=False,
    )
    height_title = "merge height"
    if linkage_label:
        height_title += f" ({plot_text(linkage_label)} linkage)"
    fig.update_yaxes(title_text=height_title, rangemode="tozero")
    return fig


def segment_map_figure(
    coords_2d: np.ndarray | Sequence[Sequence[float]],
    labels: np.ndarray | Sequence[int],
    names: Sequence[str] | Mapping[int, str],
    *,
    max_points: int = MAP_MAX_POINTS,
    seed: int = 0,
    axis_titles: tuple[str, str] = ("first principal component", "second principal component"),
) -> go.Figure:
    """Customers on a 2D map (for example a PCA projection), coloured by segment.

    Above ``max_points`` customers a seeded random sample is drawn
    (:func:`sample_indices`), so the same input gives the same figure.

    Parameters
    ----------
    coords_2d : array of shape (n, 2)
        Map coordinates of each customer.
    labels : array of shape (n,)
        Segment number of each customer (-1: in no segment).
    names : sequence or mapping
        Segment name by segment number.
    max_points : int
        Most customers drawn.
    seed : int
        Seed of the sample.
    axis_titles : tuple of str
        Titles of the x and y axes.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    coords = np.asarray(coords_2d, dtype=float).reshape(-1, 2)
    labels_arr = np.asarray(labels, dtype=int)
    keep = sample_indices(len(coords), max_points, seed)
    coords, labels_arr = coords[keep], labels_arr[keep]
    lookup = dict(names) if isinstance(names, Mapping) else dict(enumerate(names))
    fig = go.Figure()
    for seg in sorted(np.unique(labels_arr), key=lambda s: (s < 0, s)):
        inside = labels_arr == seg
        label = segment_label(int(seg), lookup.get(int(seg), f"segment {seg}"))
        fig.add_trace(
            go.Scatter(
                x=np.round(coords[inside, 0], 4),
                y=np.round(coords[inside, 1], 4),
                mode="markers",
                name=label,
                marker=dict(size=5, color=segment_color(int(seg)), opacity=0.65),
                hovertemplate=f"{label}<extra></extra>",
            )
        )
    _style(fig, 560)
    fig.update_layout(margin=dict(t=MODEBAR_PIXELS, b=10))
    _legend_below(fig)
    fig.update_xaxes(title_text=plot_text(axis_titles[0]), zeroline=False, automargin=True)
    fig.update_yaxes(title_text=plot_text(axis_titles[1]), zeroline=False)
    return fig


def segment_sizes_figure(
    profiles: pd.DataFrame | Sequence[Mapping[str, Any]], *, value_label: str = "revenue"
) -> go.Figure:
    """Share of customers and, with a value measure, share of value per segment.

    Parameters
    ----------
    profiles : DataFrame or sequence of dict
        One row per segment with ``segment``, ``segment_name``, ``share`` and optionally
        ``revenue_share`` (fractions between 0 and 1: the share of the value measure).
    value_label : str
        What the value is ("revenue" for invoice lines, "spend" for a customer table).

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> rows = [{"segment": 0, "segment_name": "A", "share": 0.25, "revenue_share": 0.75},
    ...         {"segment": 1, "segment_name": "B", "share": 0.75, "revenue_share": 0.25}]
    >>> [trace.name for trace in segment_sizes_figure(rows).data]
    ['share of customers', 'share of revenue']
    """
    frame = pd.DataFrame(profiles if isinstance(profiles, pd.DataFrame) else list(profiles))
    labels = [
        segment_label(int(s), n)
        for s, n in zip(frame["segment"], frame["segment_name"], strict=True)
    ]
    series = [("share", "share of customers", "#4C78A8")]
    if "revenue_share" in frame and frame["revenue_share"].notna().any():
        series.append(("revenue_share", f"share of {value_label}", "#F58518"))
    fig = go.Figure()
    for column, name, color in series:
        values = [100 * v if v is not None else None for v in _finite_or_none(frame[column])]
        fig.add_trace(
            go.Bar(
                y=labels,
                x=values,
                orientation="h",
                name=name,
                marker_color=color,
                text=[f"{v:.1f}%" if v is not None else "" for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"%{{y}}: %{{x:.1f}}% {name}<extra></extra>",
            )
        )
    top = max((100 * v for v in _finite_or_none(frame["share"]) if v is not None), default=0.0)
    if len(series) > 1:
        top = max(
            [top, *(100 * v for v in _finite_or_none(frame["revenue_share"]) if v is not None)]
        )
    _style(fig, 140 + 36 * len(labels) * len(series))
    fig.update_layout(barmode="group", bargap=0.25, margin=dict(t=MODEBAR_PIXELS, b=10))
    _legend_below(fig)
    # Room on the right for the value labels outside the longest bar.
    fig.update_xaxes(
        title_text="percent",
        ticksuffix="%",
        range=[0, max(top, 1.0) * 1.12],
        automargin=True,
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


VALUE_SHARE_ROW_PIXELS = 60
"""Height of a segment in :func:`value_share_figure` (its two bars and the gap) ..."""
VALUE_SHARE_MAX_HEIGHT = 360
"""... and the figure's most: eight segments or more share it, so that the summary stays
one screen."""


def value_share_figure(
    rows: Sequence[Mapping[str, Any]], *, value_label: str = "value"
) -> go.Figure:
    """Each segment's share of customers next to its share of the value they bring.

    For the executive summary: two bars per segment in the segment's colour, light for the
    customers and solid for the value, each labelled (``"5% of customers"``,
    ``"40% of revenue"``), so that a small segment bringing much of the value shows at a
    glance. No axis and no legend: the labels say it all. Customers in no segment (-1) come
    last, in grey. Without a value measure (every ``value_share`` None) the figure shows
    the customers only.

    Parameters
    ----------
    rows : sequence of dict
        One per segment, drawn top to bottom in the given order: ``segment`` (int, -1 for
        customers in no segment), ``name``, ``customer_share`` and ``value_share``
        (fractions between 0 and 1; ``value_share`` None when the data has no value). A
        share that is None or NaN leaves its bar out.
    value_label : str
        What the value is, in the bar labels and the hover (``"revenue"``, ``"spend"``).

    Returns
    -------
    plotly.graph_objects.Figure
        A bar trace of the customers' shares, then one of the value's shares (when any).

    Examples
    --------
    >>> fig = value_share_figure(
    ...     [{"segment": 0, "name": "Champions", "customer_share": 0.05, "value_share": 0.4},
    ...      {"segment": 1, "name": "Others", "customer_share": 0.95, "value_share": 0.6}],
    ...     value_label="revenue")
    >>> [list(trace.text) for trace in fig.data]
    [['5% of customers', '95% of customers'], ['40% of revenue', '60% of revenue']]
    """
    rows = sorted(rows, key=lambda r: int(r["segment"]) < 0)
    if not rows:
        return _empty_figure("no segments to show")
    segments = [int(r["segment"]) for r in rows]
    labels = [
        _wrapped(_raw_segment_label(seg, r["name"]), 24, max_lines=2)
        for seg, r in zip(segments, rows, strict=True)
    ]
    customers = [
        _share(r["customer_share"], "customer_share", seg)
        for seg, r in zip(segments, rows, strict=True)
    ]
    values = [
        _share(r["value_share"], "value_share", seg) for seg, r in zip(segments, rows, strict=True)
    ]
    what = plot_text(value_label)
    solid = [segment_color(seg) for seg in segments]
    series: list[tuple[list[float | None], str, list[str]]] = [(customers, "customers", solid)]
    if any(v is not None for v in values):
        # Customers light, value solid: the value is what the summary is about.
        series = [
            (customers, "customers", [_faded(color) for color in solid]),
            (values, what, solid),
        ]
    fig = go.Figure()
    for shares, noun, fills in series:
        fig.add_trace(
            go.Bar(
                x=[None if v is None else round(100 * v, 2) for v in shares],
                y=labels,
                orientation="h",
                name=f"share of {noun}",
                marker=dict(color=fills, line=dict(color=solid, width=1)),
                text=["" if v is None else f"{_share_text(v)} of {noun}" for v in shares],
                textposition="outside",
                textfont_size=12,
                cliponaxis=False,
                customdata=[
                    f"share of the {noun} not known"
                    if v is None
                    else f"{100 * v:.1f}% of the {noun}"
                    for v in shares
                ],
                hovertemplate="%{y}<br>%{customdata}<extra></extra>",
            )
        )
    top = max((100 * v for shares, _, _ in series for v in shares if v is not None), default=0)
    _style(
        fig,
        min(VALUE_SHARE_MAX_HEIGHT, MODEBAR_PIXELS + 20 + VALUE_SHARE_ROW_PIXELS * len(rows)),
    )
    fig.update_layout(
        showlegend=False,
        barmode="group",
        bargap=0.25 if len(series) > 1 else 0.45,
        bargroupgap=0.08,
        margin=dict(t=MODEBAR_PIXELS, b=10, r=10),
    )
    # Room on the right for the label outside the longest bar ("40% of revenue").
    fig.update_xaxes(
        range=[0, max(top, 1.0) * 1.6],
        visible=False,
    )
    fig.update_yaxes(
        type="category",
        autorange="reversed",
        automargin=True,
        ticklabelstandoff=6,
        showgrid=False,
    )
    return fig


def _share(value: Any, what: str, segment: int) -> float | None:
    """A share checked to be a fraction between 0 and 1 (None or NaN when missing)."""
    (share,) = _finite_or_none([value])
    if share is not None and not -1e-9 <= share <= 1 + 1e-9:
        raise ValueError(
            f"Segment {segment} has {what} {share!r}; pass fractions between 0 and 1 "
            "(0.25 for a quarter), not percentages."
        )
    return share


def _share_text(share: float) -> str:
    """A share for people: whole percents, one decimal below 1% (``"0.4%"``)."""
    percent = 100 * share
    if 0 < percent < 0.1:
        return "<0.1%"
    if percent < 1:
        return f"{percent:.1f}%"
    return f"{percent:.0f}%"


def _faded(color: str, alpha: float = 0.35) -> str:
    """``color`` (``"#4C78A8"``) as a see-through ``rgba`` on the white background."""
    red, green, blue = plotly_colors.hex_to_rgb(color)
    return f"rgba({red},{green},{blue},{alpha})"


# ---------------------------------------------------------------- data and profile figures
#
# Customer strings reach plotly only as data (trace names, tick labels, text, customdata),
# escaped by plot_text; they are never pasted into a hovertemplate, where "%{...}" would be
# read as a placeholder.

DIVERGING_SCALE: list[list[Any]] = [
    [round(i / 10, 1), color] for i, color in enumerate(reversed(plotly_colors.sequential.RdBu))
]
"""Blue (below, negative) through white (0) to red (above, positive): ColorBrewer RdBu
reversed, shared by the correlation and profile heatmaps and the effect-size bars."""
COUNT_SCALE: list[list[Any]] = [
    [round(i / 8, 3), color] for i, color in enumerate(plotly_colors.sequential.Blues)
]
"""White to dark blue for counts of customers (ColorBrewer Blues)."""
ABOVE_COLOR = "rgb(214,96,77)"
"""Bars above the base (a positive difference): the red side of :data:`DIVERGING_SCALE`."""
BELOW_COLOR = "rgb(67,147,195)"
"""Bars below the base (a negative difference): the blue side of :data:`DIVERGING_SCALE`."""
BAR_COLOR = "#4C78A8"
EMPTY_FIGURE_TEXT = "nothing to show"
HISTOGRAM_ROW_HEIGHT = 200
"""Pixels per row of small histograms (plot and the title of the row below)."""
CORRELATION_TEXT_MAX = 12
"""Correlations are written in the cells up to this many features; beyond, a cell of a
report-wide chart is narrower than "-0.56" in a readable font, and the numbers ran into
each other. The font also shrinks with the cells (plotly's ``textfont.size="auto"``), so
that the numbers never overlap on a narrow screen."""
CORRELATION_ROW_PIXELS = 38
"""Height of a correlation row up to :data:`CORRELATION_TEXT_MAX` features (room for the
number: plotly fits "-0.56" in 11 px to a 37-pixel cell), and ..."""
CORRELATION_ROW_PIXELS_MANY = 22
"""... beyond, the least, where only the feature name must fit (11-pixel labels)."""
BETTER_WORSE_SCALE: list[list[Any]] = [
    [round(i / 10, 1), color] for i, color in enumerate(plotly_colors.diverging.PRGn)
]
"""Purple (worse than average) through light grey (average) to green (better): ColorBrewer
PRGn, which readers with the common colour-vision deficiencies still tell apart (red and
green are not). Used by the profile heatmap when features have a better direction."""
NEUTRAL_SCALE: list[list[Any]] = [[0.0, "rgb(255,255,255)"], [1.0, "rgb(150,150,150)"]]
"""White (below average) to grey (above): the profile heatmap's features that are neither
better nor worse when higher, kept apart from the better/worse colours."""
SILHOUETTE_AXIS_TITLE = "silhouette: 1 well inside its segment,<br>below 0 nearer another"
"""The silhouette axis title, in two lines short enough for a 500-pixel-wide chart (the
segment labels beside it are wrapped at 22 characters to leave the plot that width)."""
PROFILE_COLORBAR: dict[str, Any] = dict(
    # Horizontal, at the bottom left of the figure with its own margin, like the legends.
    **LEGEND_BELOW,
    len=260,
    lenmode="pixels",
    thickness=12,
    # Under its tick labels: plotly.js draws a title on top of a horizontal bar into it.
    title=dict(side="bottom"),
)
"""The profile heatmap's colour bar lies under the cells: on the right it took a column's
width from the segments, whose labels then ran into each other on a narrow screen."""
EFFECT_AXIS_TITLE = "difference from other customers (SD)"
"""The effect-size axis title: short enough to fit under a 500-pixel-wide chart (SD, standard
deviations; the hover spells it out)."""
PROFILE_CLIP = 2.0
"""The profile heatmap's colours stop at +-2 standard deviations, so one extreme segment does
not wash out the others (hover shows the unclipped value)."""


def _sig(value: Any, digits: int = 4) -> float | None:
    """``value`` rounded to ``digits`` significant digits; None when missing or not finite."""
    if value is None:
        return None
    f = float(value)
    if not math.isfinite(f):
        return None
    if f == 0:
        return 0.0
    return round(f, digits - 1 - math.floor(math.log10(abs(f))))


def _round_to(values: Iterable[Any], decimals: int) -> list[float | None]:
    return [None if v is None else round(v, decimals) for v in _finite_or_none(values)]


def _number_text(value: Any, step: float | None = None) -> str:
    """A number for people: 4 significant digits, or as fine as ``step`` (a bin width)
    needs; thousands grouped from 10,000 on (so years read 1975)."""
    f = None if value is None else float(value)
    if f is None or not math.isfinite(f):
        return "n/a"
    if step is not None and math.isfinite(step) and step > 0:
        decimals = min(6, max(0, 1 - math.floor(math.log10(step))))
    elif f == 0 or abs(f) >= 1000:
        decimals = 0
    else:
        decimals = min(6, max(0, 3 - math.floor(math.log10(abs(f)))))
    text = f"{f:,.{decimals}f}" if abs(f) >= 10_000 else f"{f:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _percent_text(percent: float | None) -> str:
    if percent is None:
        return "n/a"
    if 0 < percent < 0.1:
        return "<0.1%"
    return f"{percent:.1f}%"


def _short(value: Any, limit: int) -> str:
    """Escaped text cut to ``limit`` characters (cut before escaping, so no entity is split)."""
    text = str(value)
    return plot_text(text if len(text) <= limit else text[: limit - 1] + "…")


def _wrapped(value: Any, width: int, max_lines: int | None = None) -> str:
    """Escaped text broken into lines of about ``width`` characters with ``<br>`` (cut
    with an ellipsis beyond ``max_lines``)."""
    lines = textwrap.wrap(str(value), width, max_lines=max_lines, placeholder=" …") or [""]
    return "<br>".join(plot_text(line) for line in lines)


def _clip(value: float | None, bound: float) -> float | None:
    return None if value is None else max(-bound, min(bound, value))


def _raw_segment_label(segment: int, name: Any) -> str:
    """:func:`segment_label` before escaping."""
    return "not in a segment" if segment < 0 else f"{segment} · {name}"


def _name_lookup(names: Sequence[Any] | Mapping[int, Any]) -> dict[int, Any]:
    """Segment name by segment number, from a mapping or a sequence indexed by number."""
    return dict(names) if isinstance(names, Mapping) else dict(enumerate(names))


def _matrix(values: Any, n_rows: int, n_cols: int, what: str) -> list[list[Any]]:
    rows = [list(row) for row in values]
    shape = (len(rows), *sorted({len(row) for row in rows}))
    if len(rows) != n_rows or any(len(row) != n_cols for row in rows):
        raise ValueError(
            f"'{what}' has shape {shape} (rows, row lengths); expected {n_rows} rows of "
            f"{n_cols} values, one row per label and one value per column label."
        )
    return rows


def _empty_figure(message: str = EMPTY_FIGURE_TEXT, height: int = 180) -> go.Figure:
    """A blank figure saying why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font=dict(size=14, color="#5f6b7a"),
    )
    _style(fig, height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _pixel_spacing(gap: float, total: float, n: int) -> float:
    """A make_subplots spacing (a fraction) that leaves ``gap`` pixels between subplots."""
    if n < 2 or total <= 0:
        return 0.0
    return min(gap / total, 1 / (n - 1) - 1e-9)


def feature_histograms_figure(
    items: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    columns: int = 3,
) -> go.Figure:
    """Small multiples: one histogram per feature, from bins counted by the caller.

    Parameters
    ----------
    items : sequence of dict
        One per feature: ``name``; ``edges``, the n + 1 bin edges; ``counts``, the n
        customer counts; ``note``, shown after the name in the panel title
        (``"revenue (log1p)"``; empty for none). Bins may have unequal widths.
    title : str, optional
        Title above the panels (``"before transformation"``).
    columns : int
        Panels per row; each row is about 200 pixels high.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per feature, no legend; the bin range is in the hover.

    Examples
    --------
    >>> fig = feature_histograms_figure(
    ...     [{"name": "revenue", "edges": [0, 10, 20, 50], "counts": [5, 3, 1], "note": "log1p"}]
    ... )
    >>> fig.layout.annotations[0].text, list(fig.data[0].x), list(fig.data[0].width)
    ('revenue (log1p)', [5.0, 15.0, 35.0], [10.0, 10.0, 30.0])
    """
    items = list(items)
    if not items:
        return _empty_figure("no features to show")
    columns = max(1, min(int(columns), len(items)))
    n_rows = math.ceil(len(items) / columns)
    titles = []
    for item in items:
        label = _short(item["name"], 36)
        note = str(item.get("note") or "")
        titles.append(f"{label} ({plot_text(note)})" if note else label)
    plot_height = HISTOGRAM_ROW_HEIGHT * n_rows
    fig = make_subplots(
        rows=n_rows,
        cols=columns,
        subplot_titles=titles,
        horizontal_spacing=0.05 if columns > 1 else 0.0,
        vertical_spacing=_pixel_spacing(75, plot_height, n_rows),
    )
    for i, item in enumerate(items):
        edges = np.asarray(item["edges"], dtype=float).ravel()
        counts = [int(c) for c in item["counts"]]
        if len(edges) != len(counts) + 1:
            raise ValueError(
                f"Feature {str(item['name'])!r} has {len(edges)} bin edges for "
                f"{len(counts)} counts; pass n + 1 edges for n counts."
            )
        widths = np.diff(edges)
        finite = widths[np.isfinite(widths) & (widths > 0)]
        step = float(finite.min()) if len(finite) else 1.0
        # A thousandth of the narrowest bin is precision enough to place the bars.
        decimals = 3 - math.floor(math.log10(step))
        fig.add_trace(
            go.Bar(
                x=_round_to((edges[:-1] + edges[1:]) / 2, decimals),
                y=counts,
                width=_round_to(widths, decimals),
                customdata=[
                    f"{_number_text(lo, step)} to {_number_text(hi, step)}"
                    for lo, hi in zip(edges[:-1], edges[1:], strict=True)
                ],
                # A thin white edge keeps neighbouring bins apart (bars touch: bargap 0).
                marker=dict(color=BAR_COLOR, line=dict(width=0.5, color="white")),
                name=plot_text(item["name"]),
                showlegend=False,
                hovertemplate="%{customdata}: %{y:,} customers<extra>%{fullData.name}</extra>",
            ),
            row=i // columns + 1,
            col=i % columns + 1,
        )
    _style(fig, plot_height + 90 + (40 if title else 0))
    fig.update_layout(
        showlegend=False,
        bargap=0,
        margin=dict(l=50, r=20, t=80 if title else 40, b=40),
    )
    fig.update_annotations(font_size=13)
    fig.update_xaxes(nticks=5, tickfont_size=11, zeroline=False)
    fig.update_yaxes(nticks=4, tickfont_size=11, rangemode="tozero")
    if title:
        fig.update_layout(
            title=dict(text=plot_text(title), x=0, xref="paper", xanchor="left", font=dict(size=15))
        )
    return fig


def correlation_heatmap_figure(
    names: Sequence[str], matrix: Sequence[Sequence[float | None]] | np.ndarray
) -> go.Figure:
    """Correlations between features as a heatmap, red for positive and blue for negative.

    The colour scale is fixed to [-1, 1] (ColorBrewer RdBu reversed: -1 dark blue, 0 white,
    +1 dark red) so that figures of different data compare. Up to
    :data:`CORRELATION_TEXT_MAX` features the cells are square and the values are written
    in them, in a font that shrinks with the cells; beyond, the values are in the hover
    only (which always shows both names and the value) and the cells fill the width. The
    height grows with the features so that every row keeps its name.

    Parameters
    ----------
    names : sequence of str
        Feature names, in the order of the matrix rows and columns.
    matrix : array-like of shape (n, n)
        Correlations (Pearson or Spearman, the caller's choice); NaN or None leave a cell
        blank.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = correlation_heatmap_figure(["a", "b"], [[1.0, -0.5], [-0.5, 1.0]])
    >>> fig.data[0].zmin, fig.data[0].zmax, fig.data[0].text
    (-1, 1, (['1.00', '-0.50'], ['-0.50', '1.00']))
    """
    labels = [plot_text(n) for n in names]
    n = len(labels)
    if n == 0:
        return _empty_figure("no features to correlate")
    z = [_round_to(row, 3) for row in _matrix(np.asarray(matrix, dtype=float), n, n, "matrix")]
    few = n <= CORRELATION_TEXT_MAX
    fig = go.Figure(
        go.Heatmap(
            x=labels,
            y=labels,
            z=z,
            zmin=-1,
            zmax=1,
            colorscale=DIVERGING_SCALE,
            colorbar=dict(title=dict(text="correlation", side="right"), thickness=14),
            text=[["" if v is None else f"{v:.2f}" for v in row] for row in z] if few else None,
            texttemplate="%{text}" if few else None,
            # No textfont size: plotly.js then fits the numbers to the cells ("auto", at
            # most the figure's 13 px), so they shrink rather than overlap on a narrow screen.
            xgap=1,
            ygap=1,
            hovertemplate="%{y}<br>%{x}<br>correlation %{z:.2f}<extra></extra>",
        )
    )
    # Tick labels at -45 degrees (-90 when many) need about this much room below the cells
    # (a character is about 0.55 of the font size wide).
    longest = max(len(str(name)) for name in names)
    angle, font_size = (-45, 13) if few else (-90, 11)
    label_pixels = round(0.55 * font_size * longest * -math.sin(math.radians(angle))) + 20
    # Many features: rows of at least CORRELATION_ROW_PIXELS_MANY, and never less room than
    # the cells of CORRELATION_TEXT_MAX features, so that the height only grows with n.
    most = CORRELATION_ROW_PIXELS * CORRELATION_TEXT_MAX
    cells_pixels = CORRELATION_ROW_PIXELS * n if few else max(most, CORRELATION_ROW_PIXELS_MANY * n)
    _style(fig, max(340, 40 + cells_pixels + label_pixels))
    fig.update_layout(margin=dict(t=30, b=20))
    fig.update_xaxes(
        type="category",
        # Two labels may fit flat; plotly turns them when they would overlap.
        autotickangles=[0, angle],
        tickfont_size=font_size,
        showgrid=False,
        constrain="domain",
        automargin=True,
    )
    fig.update_yaxes(
        type="category",
        autorange="reversed",
        showgrid=False,
        constrain="domain",
        automargin=True,
        tickfont_size=font_size,
        # Many features: rows keep their height and the cells stretch to the width, so that
        # no row loses its name on a narrow screen.
        scaleanchor="x" if few else None,
    )
    if n > 2:
        fig.update_xaxes(tickangle=angle)
    return fig


def missing_values_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Share of missing values per column, as horizontal bars labelled ``"12 (0.5%)"``.

    Parameters
    ----------
    rows : sequence of dict
        One per column with missing values: ``column``, ``missing`` (count) and ``share``
        (a fraction between 0 and 1), drawn top to bottom in the given order.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = missing_values_figure([{"column": "Income", "missing": 24, "share": 0.0107}])
    >>> fig.data[0].x, fig.data[0].text
    ((1.07,), ('24 (1.1%)',))
    """
    rows = list(rows)
    if not rows:
        return _empty_figure("no missing values")
    labels = [plot_text(r["column"]) for r in rows]
    percents = [
        None if s is None else _sig(100 * s) for s in _finite_or_none(r["share"] for r in rows)
    ]
    texts = [
        f"{int(r['missing']):,} ({_percent_text(p)})" for r, p in zip(rows, percents, strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=percents,
            y=labels,
            orientation="h",
            marker_color=BAR_COLOR,
            text=texts,
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{text} missing<extra></extra>",
        )
    )
    top = max((p for p in percents if p is not None), default=0.0)
    _style(fig, 110 + 28 * len(rows))
    fig.update_layout(margin=dict(t=MODEBAR_PIXELS, b=45))
    fig.update_xaxes(
        title_text="share of rows missing", ticksuffix="%", range=[0, max(top, 1.0) * 1.25]
    )
    fig.update_yaxes(type="category", autorange="reversed", automargin=True, ticklabelstandoff=6)
    return fig


def category_breakdown_figure(items: Sequence[Mapping[str, Any]], *, columns: int = 2) -> go.Figure:
    """Small multiples of horizontal bars: customers per level of each categorical column.

    Parameters
    ----------
    items : sequence of dict
        One per column: ``name``, ``levels`` and their ``counts``, drawn top to bottom in the
        given order (the caller keeps the top levels and an ``"other"``). Level labels are
        cut to 22 characters on the axis; the hover shows them whole.
    columns : int
        Panels per row.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = category_breakdown_figure([{"name": "Country", "levels": ["UK", "France"],
    ...                                   "counts": [30, 10]}])
    >>> fig.data[0].y, fig.data[0].text
    (('UK', 'France'), ('30 (75%)', '10 (25%)'))
    """
    items = list(items)
    if not items:
        return _empty_figure("no categorical columns")
    columns = max(1, min(int(columns), len(items)))
    n_rows = math.ceil(len(items) / columns)
    row_pixels = [
        22 * max([1, *(len(item["levels"]) for item in items[r * columns : (r + 1) * columns])])
        for r in range(n_rows)
    ]
    gap = 70
    plot_height = sum(row_pixels) + gap * (n_rows - 1)
    fig = make_subplots(
        rows=n_rows,
        cols=columns,
        subplot_titles=[_short(item["name"], 40) for item in items],
        row_heights=row_pixels,
        horizontal_spacing=0.2 if columns > 1 else 0.0,
        vertical_spacing=_pixel_spacing(gap, plot_height, n_rows),
    )
    for i, item in enumerate(items):
        levels = [plot_text(level) for level in item["levels"]]
        counts = [int(c) for c in item["counts"]]
        if len(levels) != len(counts):
            raise ValueError(
                f"Column {str(item['name'])!r} has {len(levels)} levels for {len(counts)} "
                "counts; pass one count per level."
            )
        total = sum(counts)
        shares = [
            "n/a" if not total else "<1%" if 0 < c / total < 0.005 else f"{c / total:.0%}"
            for c in counts
        ]
        row, col = i // columns + 1, i % columns + 1
        fig.add_trace(
            go.Bar(
                x=counts,
                y=levels,
                orientation="h",
                marker_color=BAR_COLOR,
                text=[f"{c:,} ({s})" for c, s in zip(counts, shares, strict=True)],
                textposition="outside",
                textfont_size=11,
                cliponaxis=False,
                name=plot_text(item["name"]),
                showlegend=False,
                hovertemplate="%{y}: %{text} of customers<extra>%{fullData.name}</extra>",
            ),
            row=row,
            col=col,
        )
        fig.update_yaxes(
            type="category",
            tickvals=levels,
            ticktext=[_short(level, 22) for level in item["levels"]],
            tickfont_size=11,
            ticklabelstandoff=6,
            # Reversed (first level on top), with the same room per level in every panel of
            # the row so that bars have one thickness.
            range=[row_pixels[row - 1] / 22 - 0.5, -0.5],
            row=row,
            col=col,
        )
        fig.update_xaxes(range=[0, max([1, *counts]) * 1.4], row=row, col=col)
    _style(fig, plot_height + 80)
    fig.update_layout(showlegend=False, bargap=0.25, margin=dict(l=150, t=40, b=40))
    fig.update_annotations(font_size=13)
    fig.update_xaxes(nticks=4, tickfont_size=11, showticklabels=False, showgrid=False)
    return fig


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def revenue_over_time_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Revenue per month as bars, with the active customers as a line on a second axis.

    Parameters
    ----------
    rows : sequence of dict
        One per month, in time order: ``period`` (an ISO month, ``"2011-01"``),
        ``revenue``, ``orders`` and ``customers`` (customers who ordered that month).

    Returns
    -------
    plotly.graph_objects.Figure
        The hover shows revenue, orders and customers of the month together.

    Examples
    --------
    >>> fig = revenue_over_time_figure([
    ...     {"period": "2011-01", "revenue": 1200.5, "orders": 30, "customers": 20},
    ...     {"period": "2011-02", "revenue": 900.0, "orders": 25, "customers": 18}])
    >>> [trace.name for trace in fig.data], list(fig.data[0].x)
    (['revenue', 'active customers'], ['2011-01-01', '2011-02-01'])
    """
    rows = list(rows)
    if not rows:
        return _empty_figure("no orders to show")
    periods = []
    for r in rows:
        period = str(r["period"])
        if not _MONTH.fullmatch(period):
            raise ValueError(
                f"Period {period!r} is not an ISO month; pass months written like '2011-01'."
            )
        periods.append(f"{period}-01")
    orders = [int(r["orders"]) for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=periods,
            y=_round_to((r["revenue"] for r in rows), 2),
            customdata=orders,
            name="revenue",
            marker_color=BAR_COLOR,
            hovertemplate="revenue %{y:,.0f} from %{customdata:,} orders<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=periods,
            y=[int(r["customers"]) for r in rows],
            name="active customers",
            mode="lines+markers",
            line=dict(color="#F58518", width=2.5),
            marker=dict(size=6),
            hovertemplate="%{y:,} active customers<extra></extra>",
        ),
        secondary_y=True,
    )
    _style(fig, 380)
    fig.update_layout(hovermode="x unified", bargap=0.15, margin=dict(t=MODEBAR_PIXELS, r=70, b=10))
    _legend_below(fig)
    # A tick every month, quarter, half year or year; the year is written under the first
    # tick and each January only ("Jan / 2011", "Feb", ...), so that twelve months fit a
    # phone's width.
    step = next((m for m in (1, 3, 6) if len(rows) <= 15 * m), 12)
    ticks = [p for p in periods if (int(p[5:7]) - 1) % step == 0]
    fig.update_xaxes(
        type="date",
        tickmode="array",
        tickvals=ticks,
        ticktext=[
            _MONTH_NAMES[int(p[5:7]) - 1] + (f"<br>{p[:4]}" if i == 0 or p[5:7] == "01" else "")
            for i, p in enumerate(ticks)
        ],
        tickangle=0,
        automargin=True,
        hoverformat="%B %Y",
        showgrid=False,
    )
    fig.update_yaxes(title_text="revenue", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(
        title_text="active customers",
        rangemode="tozero",
        showgrid=False,
        tickmode="auto",
        nticks=6,
        secondary_y=True,
    )
    return fig


def count_histogram_figure(
    values: Sequence[int],
    counts: Sequence[int],
    *,
    x_title: str,
    y_title: str = "customers",
    overflow_label: str | None = None,
) -> go.Figure:
    """Bars of how many customers have each value of a whole-number count.

    Parameters
    ----------
    values : sequence of int
        The counted values (``1, 2, ..., 20``), increasing.
    counts : sequence of int
        Customers with each value.
    x_title, y_title : str
        Axis titles (``"orders per customer"``, ``"customers"``).
    overflow_label : str, optional
        When given, the last bar stands for its value and above and is labelled with it
        (``"20+"``).

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = count_histogram_figure([1, 2, 3], [50, 20, 7], x_title="orders",
    ...                              overflow_label="3+")
    >>> fig.data[0].customdata, fig.layout.xaxis.ticktext
    (('1', '2', '3+'), ('1', '2', '3+'))
    """
    values = [int(v) for v in values]
    counts = [int(c) for c in counts]
    if len(values) != len(counts):
        raise ValueError(
            f"{len(values)} values for {len(counts)} counts; pass one count per value."
        )
    if not values:
        return _empty_figure()
    labels = [str(v) for v in values]
    if overflow_label is not None:
        labels[-1] = plot_text(overflow_label)
    # Whole-number ticks, at most about 15 of them.
    span = values[-1] - values[0] + 1
    step = 1
    while span / step > 15:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    ticks = [
        v for v in range(values[0], values[-1]) if v % step == 0 and values[-1] - v >= step / 2
    ]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=counts,
            customdata=labels,
            marker_color=BAR_COLOR,
            name=plot_text(y_title),
            hovertemplate="%{customdata}: %{y:,} %{fullData.name}<extra></extra>",
        )
    )
    _style(fig, 340)
    fig.update_layout(bargap=0.12, margin=dict(t=MODEBAR_PIXELS))
    fig.update_xaxes(
        title_text=plot_text(x_title),
        tickmode="array",
        tickvals=[*ticks, values[-1]],
        ticktext=[*(str(v) for v in ticks), labels[-1]],
        showgrid=False,
    )
    fig.update_yaxes(title_text=plot_text(y_title), rangemode="tozero")
    return fig


def profile_heatmap_figure(
    segments: Sequence[int],
    names: Sequence[str] | Mapping[int, str],
    features: Sequence[str],
    z: Sequence[Sequence[float | None]] | np.ndarray,
    text: Sequence[Sequence[str]],
    *,
    directions: Sequence[int] | None = None,
) -> go.Figure:
    """What sets each segment apart: a heatmap of feature means, standardized.

    Drawn with the features as rows (top to bottom in the given order) and the segments as
    columns (labels on top, wrapped over lines, customers in no segment last): long feature
    names then read horizontally, and 5 to 25 features by 2 to 10 segments fit the report's
    width with room for the values in the cells (in a font that shrinks with them). Red is
    above the average customer, blue below; the colours stop at +-2 (:data:`PROFILE_CLIP`),
    the hover shows the exact value. The colour bar lies under the cells.

    With ``directions`` the colour says better or worse instead of above or below: a
    feature where lower is better (days since the last order) is coloured by minus its
    standardized mean, green for better than average and purple for worse
    (:data:`BETTER_WORSE_SCALE`, colour-blind safe). Features without a direction are shaded
    grey (:data:`NEUTRAL_SCALE`, darker for higher), and the hover says above or below.

    Parameters
    ----------
    segments : sequence of int
        Segment numbers, in the order wanted (-1, customers in no segment, is moved last).
    names : sequence or mapping
        Segment name by segment number (a sequence is indexed by the number).
    features : sequence of str
        Feature names.
    z : array-like of shape (n_segments, n_features)
        Standardized mean of each feature in each segment (one row per segment); None or NaN
        leave the cell blank.
    text : sequence of sequence of str, shape (n_segments, n_features)
        The segment's typical value of each feature in its own units, already formatted,
        written in the cell and in the hover.
    directions : sequence of int, optional
        One per feature: +1 when higher is better (spend), -1 when lower is better
        (recency), 0 when neither is (age).

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap; with ``directions`` and a feature without one, the grey heatmap of
        those features comes first, under the better/worse one (the last trace, which holds
        every cell's text and hover).

    Examples
    --------
    >>> fig = profile_heatmap_figure([0, 1], ["Big", "Small"], ["revenue", "orders"],
    ...                              [[1.5, 3.0], [-0.5, None]], [["900", "12"], ["40", "2"]])
    >>> fig.data[0].z  # features as rows, clipped at +-2
    ([1.5, -0.5], [2.0, None])
    >>> fig.data[0].x
    ('0 · Big', '1 · Small')
    >>> fig = profile_heatmap_figure([0, 1], ["Big", "Small"], ["revenue", "recency"],
    ...                              [[1.5, 1.0], [-0.5, -0.2]], [["900", "12"], ["40", "90"]],
    ...                              directions=[1, -1])
    >>> fig.data[-1].z  # recency above average is worse: -1
    ([1.5, -0.5], [-1.0, 0.2])
    """
    order = sorted(range(len(segments)), key=lambda i: segments[i] < 0)
    feature_labels = [plot_text(f) for f in features]
    if not order or not feature_labels:
        return _empty_figure("no segment profiles to show")
    values = _matrix(np.asarray(z, dtype=float), len(segments), len(features), "z")
    texts = _matrix(text, len(segments), len(features), "text")
    signs = None if directions is None else _directions(directions, len(features))
    lookup = _name_lookup(names)
    wrap = max(10, min(24, 72 // len(order)))
    columns = [
        _wrapped(
            _raw_segment_label(
                int(segments[i]), lookup.get(int(segments[i]), f"segment {segments[i]}")
            ),
            wrap,
            max_lines=4,
        )
        for i in order
    ]
    exact = [_round_to(values[i], 3) for i in order]
    shown = [[str(texts[i][j]) for j in range(len(features))] for i in order]
    # Features as rows: transpose the (segment, feature) input.
    rows = range(len(features))
    cell_text = [[_short(row[j], 14) for row in shown] for j in rows]

    def standardized(s: int, j: int) -> str:
        return "n/a" if exact[s][j] is None else f"{exact[s][j]:+.2f}"

    cells: dict[str, Any] = dict(
        x=columns, y=feature_labels, zmin=-PROFILE_CLIP, zmax=PROFILE_CLIP, xgap=2, ygap=2
    )
    # No textfont size: plotly.js fits the values to the cells (at most the figure's 13 px),
    # so that they shrink rather than run into each other on a narrow screen.
    written = dict(text=cell_text, texttemplate="%{text}")
    fig = go.Figure()
    if signs is None:
        fig.add_trace(
            go.Heatmap(
                **cells,
                z=[[_clip(row[j], PROFILE_CLIP) for row in exact] for j in rows],
                colorscale=DIVERGING_SCALE,
                colorbar=dict(
                    **PROFILE_COLORBAR,
                    title_text="standardized mean (clipped at ±2)",
                ),
                **written,
                customdata=[
                    [[plot_text(shown[s][j]), standardized(s, j)] for s in range(len(order))]
                    for j in rows
                ],
                hovertemplate=(
                    "%{y}<br>%{x}<br>typical value %{customdata[0]}"
                    "<br>standardized mean %{customdata[1]}<extra></extra>"
                ),
            )
        )
    else:
        if 0 in signs:
            fig.add_trace(
                go.Heatmap(
                    **cells,
                    z=[
                        [_clip(row[j], PROFILE_CLIP) if signs[j] == 0 else None for row in exact]
                        for j in rows
                    ],
                    colorscale=NEUTRAL_SCALE,
                    showscale=False,
                    name="no better or worse",
                    # The better/worse heatmap above writes and hovers every cell.
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Heatmap(
                **cells,
                z=[[_better(row[j], signs[j]) for row in exact] for j in rows],
                colorscale=BETTER_WORSE_SCALE,
                colorbar=dict(
                    **PROFILE_COLORBAR,
                    title_text="better / worse than average"
                    + ("<br>grey: neither, darker is higher" if 0 in signs else ""),
                    tickvals=[-PROFILE_CLIP, 0, PROFILE_CLIP],
                    ticktext=["worse", "average", "better"],
                ),
                name="better or worse",
                **written,
                customdata=[
                    [
                        [
                            plot_text(shown[s][j]),
                            standardized(s, j),
                            _verdict(exact[s][j], signs[j]),
                        ]
                        for s in range(len(order))
                    ]
                    for j in rows
                ],
                hovertemplate=(
                    "%{y}<br>%{x}<br>typical value %{customdata[0]}"
                    "<br>standardized mean %{customdata[1]}: %{customdata[2]}<extra></extra>"
                ),
            )
        )
    # The segment labels on top, and above them room for plotly's toolbar (a label's height
    # is fixed here by its lines; automargin alone would put it under the toolbar).
    font_size = 11 if len(order) > 6 else 13
    lines = max(label.count("<br>") + 1 for label in columns)
    top = MODEBAR_PIXELS + round(1.3 * font_size * lines) + 8
    _style(fig, max(300, top + 30 * len(features) + 75))
    fig.update_layout(margin=dict(t=top, b=10))
    fig.update_xaxes(
        type="category",
        side="top",
        # Horizontal while the labels fit, turned upright when they would overlap.
        autotickangles=[0, -90],
        tickfont_size=font_size,
        showgrid=False,
        automargin=True,
    )
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, automargin=True)
    return fig


def _directions(directions: Sequence[int], n_features: int) -> list[int]:
    """``directions`` checked: one of -1, 0, +1 per feature."""
    signs = list(directions)
    if len(signs) != n_features:
        raise ValueError(
            f"{len(signs)} directions for {n_features} features; pass one per feature "
            "(+1 higher is better, -1 lower is better, 0 neither)."
        )
    wrong = [d for d in signs if d not in (-1, 0, 1)]
    if wrong:
        raise ValueError(
            f"Direction {wrong[0]!r} is not one of -1, 0, +1 (+1 higher is better, -1 lower "
            "is better, 0 neither)."
        )
    return [int(d) for d in signs]


def _better(value: float | None, direction: int) -> float | None:
    """How much better than average a standardized mean is, clipped at :data:`PROFILE_CLIP`
    (None without a direction)."""
    if value is None or direction == 0:
        return None
    # 0.0 + turns the -0.0 of a lower-is-better average into 0.0.
    return 0.0 + max(-PROFILE_CLIP, min(PROFILE_CLIP, direction * value))


def _verdict(value: float | None, direction: int) -> str:
    """What a standardized mean says about a segment, for the hover."""
    if value is None:
        return "n/a"
    if value == 0:
        return "average"
    if direction == 0:
        return "above average" if value > 0 else "below average"
    return "better than average" if direction * value > 0 else "worse than average"


def silhouette_figure(
    segments: Sequence[int],
    names: Sequence[str] | Mapping[int, str],
    values: Sequence[Sequence[float]],
    *,
    average: float | None,
    sizes: Sequence[int] | None = None,
) -> go.Figure:
    """The silhouette plot: each segment's customers sorted by silhouette, as a band.

    Segments are stacked top to bottom with a gap, customers in no segment (-1) left out.
    A band's thickness is its number of points, or its customers when ``sizes`` is given,
    so that downsampled segments keep their relative size (but at least 40% of the average
    band, room for the label). The dashed line is the average silhouette of all customers.

    Parameters
    ----------
    segments : sequence of int
        Segment numbers.
    names : sequence or mapping
        Segment name by segment number (a sequence is indexed by the number).
    values : sequence of sequence of float
        For each segment, silhouette values of (a sample of) its customers; they are drawn
        sorted from highest to lowest.
    average : float or None
        The average silhouette, drawn as a dashed line labelled ``"average 0.23"``.
    sizes : sequence of int, optional
        Customers in each segment, for the band thickness and the hover.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = silhouette_figure([0, 1], ["A", "B"], [[0.6, 0.4], [0.3, -0.1, 0.2]],
    ...                         average=0.28)
    >>> [trace.name for trace in fig.data], list(fig.data[1].x)
    (['0 · A', '1 · B'], [0.3, 0.2, -0.1])
    >>> fig.layout.annotations[0].text
    'average 0.28'
    """
    if len(values) != len(segments) or (sizes is not None and len(sizes) != len(segments)):
        raise ValueError(
            f"{len(segments)} segments, {len(values)} lists of values and "
            f"{'no' if sizes is None else len(sizes)} sizes; pass one list (and size) per "
            "segment."
        )
    lookup = _name_lookup(names)
    bands = []
    for i, seg in enumerate(segments):
        vals = sorted((v for v in _finite_or_none(values[i]) if v is not None), reverse=True)
        if int(seg) >= 0 and vals:
            size = len(vals) if sizes is None else int(sizes[i])
            bands.append((int(seg), [round(v, 3) for v in vals], max(size, 1)))
    if not bands:
        return _empty_figure("no segments to show")
    # Small segments keep a band tall enough for their label.
    least = 0.4 * sum(size for _, _, size in bands) / len(bands)
    gap = 0.04 * sum(max(size, least) for _, _, size in bands)
    fig = go.Figure()
    tickvals, ticktext = [], []
    top = 0.0
    for seg, vals, size in bands:
        raw = _raw_segment_label(seg, lookup.get(seg, f"segment {seg}"))
        n = len(vals)
        thickness = max(size, least)
        ys = [top + thickness * (j + 0.5) / n for j in range(n)]
        fig.add_trace(
            go.Scatter(
                x=vals,
                y=_round_to(ys, 2),
                mode="lines",
                line=dict(color=segment_color(seg), width=1),
                fill="tozerox",
                fillcolor=segment_color(seg),
                name=plot_text(raw),
                showlegend=False,
                hovertemplate="silhouette %{x:.2f}<extra>%{fullData.name}</extra>",
            )
        )
        tickvals.append(round(top + thickness / 2, 2))
        ticktext.append(_wrapped(raw, 22) + (f"<br>{size:,} customers" if sizes else ""))
        top += thickness + gap
    lowest = min(min(vals) for _, vals, _ in bands)
    _style(fig, min(780, 170 + 90 * len(bands)))
    # The average's label above the plot stays clear of plotly's toolbar.
    fig.update_layout(margin=dict(t=MODEBAR_PIXELS + 20, b=10))
    fig.update_xaxes(
        # Two short lines fit under a 500-pixel-wide chart.
        title_text=SILHOUETTE_AXIS_TITLE,
        automargin=True,
        range=[max(-1.0, min(-0.1, lowest - 0.05)), 1.0],
        zeroline=True,
        zerolinecolor="#5f6b7a",
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=tickvals,
        ticktext=ticktext,
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    avg = _sig(average, 3) if average is not None else None
    if avg is not None:
        fig.add_vline(
            x=avg,
            line=dict(color="#E45756", width=2, dash="dash"),
            annotation=dict(text=f"average {avg:.2f}", font=dict(color="#E45756")),
            annotation_position="top",
        )
    return fig


def rfm_grid_figure(
    recency_labels: Sequence[str],
    frequency_labels: Sequence[str],
    counts: Sequence[Sequence[int]] | np.ndarray,
    dominant: Sequence[Sequence[int | None]],
    *,
    names: Sequence[str] | Mapping[int, str],
) -> go.Figure:
    """An RFM grid: customers by recency class (rows) and frequency class (columns).

    The colour is the number of customers in the cell (white to dark blue). Each cell says
    its count and the segment most of its customers belong to.

    Parameters
    ----------
    recency_labels : sequence of str
        Recency classes, most recent first; drawn top to bottom.
    frequency_labels : sequence of str
        Frequency classes (``"1 order"``, ``"2"``, ``"3–4"``, ...), left to right.
    counts : array-like of shape (n_recency, n_frequency)
        Customers in each cell.
    dominant : array-like of shape (n_recency, n_frequency)
        The segment number with the most customers in each cell, None for an empty cell.
    names : sequence or mapping
        Segment name by segment number (a sequence is indexed by the number).

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = rfm_grid_figure(["0-30 days", "31+ days"], ["1 order", "2+"],
    ...                       [[10, 5], [0, 3]], [[0, 1], [None, 1]], names={0: "New", 1: "Loyal"})
    >>> fig.data[0].text[0]
    ['10<br>0 · New', '5<br>1 · Loyal']
    """
    rows = [plot_text(r) for r in recency_labels]
    cols = [plot_text(f) for f in frequency_labels]
    if not rows or not cols:
        return _empty_figure()
    z = [[int(c) for c in row] for row in _matrix(counts, len(rows), len(cols), "counts")]
    top = _matrix(dominant, len(rows), len(cols), "dominant")
    lookup = _name_lookup(names)

    def raw_label(seg: Any) -> str | None:
        if seg is None:
            return None
        return _raw_segment_label(int(seg), lookup.get(int(seg), f"segment {seg}"))

    labels = [[raw_label(seg) for seg in row] for row in top]
    wrap = max(10, min(24, 110 // len(cols)))
    fig = go.Figure(
        go.Heatmap(
            x=cols,
            y=rows,
            z=z,
            zmin=0,
            colorscale=COUNT_SCALE,
            colorbar=dict(title=dict(text="customers", side="right"), thickness=14),
            text=[
                [
                    f"{c:,}" + ("" if label is None else f"<br>{_wrapped(label, wrap, 2)}")
                    for c, label in zip(zrow, lrow, strict=True)
                ]
                for zrow, lrow in zip(z, labels, strict=True)
            ],
            texttemplate="%{text}",
            textfont=dict(size=12),
            customdata=[
                ["—" if label is None else plot_text(label) for label in lrow] for lrow in labels
            ],
            xgap=2,
            ygap=2,
            hovertemplate=(
                "last order %{y}, %{x}<br>%{z:,} customers<br>"
                "most in segment %{customdata}<extra></extra>"
            ),
        )
    )
    _style(fig, 130 + 72 * len(rows))
    fig.update_layout(margin=dict(t=MODEBAR_PIXELS))
    fig.update_xaxes(type="category", title_text="frequency", showgrid=False, automargin=True)
    fig.update_yaxes(
        type="category",
        title_text="recency",
        autorange="reversed",
        showgrid=False,
        automargin=True,
    )
    return fig


def effect_size_figure(items: Sequence[Mapping[str, Any]]) -> go.Figure:
    """One segment's most distinguishing features: standardized differences as bars.

    Red bars are features where the segment is above the other customers, blue where it is
    below (the colours of :data:`DIVERGING_SCALE`). The axis says the unit briefly
    (:data:`EFFECT_AXIS_TITLE`); the hover says it in full. The legend sits below the chart.

    Parameters
    ----------
    items : sequence of dict
        ``label`` (``"revenue"``, ``"Education = PhD"``) and ``effect``, the standardized
        difference between the segment and the other customers; drawn top to bottom in
        the given order.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = effect_size_figure([{"label": "revenue", "effect": 1.2},
    ...                           {"label": "recency", "effect": -0.8}])
    >>> [(trace.name, list(trace.y)) for trace in fig.data]
    [('above the other customers', ['revenue']), ('below the other customers', ['recency'])]
    """
    items = list(items)
    if not items:
        return _empty_figure("no distinguishing features", height=140)
    labels = [plot_text(item["label"]) for item in items]
    effects = [_sig(item["effect"], 3) for item in items]
    fig = go.Figure()
    for side, color, keep in (
        ("above", ABOVE_COLOR, lambda e: e >= 0),
        ("below", BELOW_COLOR, lambda e: e < 0),
    ):
        inside = [i for i, e in enumerate(effects) if e is not None and keep(e)]
        fig.add_trace(
            go.Bar(
                x=[effects[i] for i in inside],
                y=[labels[i] for i in inside],
                orientation="h",
                name=f"{side} the other customers",
                marker_color=color,
                text=[f"{effects[i]:+.2f}" for i in inside],
                textposition="outside",
                textfont_size=11,
                cliponaxis=False,
                customdata=[f"{abs(effects[i] or 0.0):.2f}" for i in inside],
                # The axis title is short enough for a phone; the hover says it in full.
                hovertemplate=(
                    f"%{{y}}: %{{customdata}} standard deviations {side}<br>"
                    "the average of the other customers<extra></extra>"
                ),
            )
        )
    finite = [e for e in effects if e is not None]
    low, high = min([0.0, *finite]), max([0.0, *finite])
    pad = 0.2 * max(high - low, 0.5)
    _style(fig, 130 + 28 * len(items))
    fig.update_layout(barmode="relative", bargap=0.3, margin=dict(t=MODEBAR_PIXELS, b=10))
    _legend_below(fig)
    fig.update_xaxes(
        title_text=EFFECT_AXIS_TITLE,
        title_standoff=8,
        range=[low - (pad if low < 0 else 0), high + (pad if high > 0 else 0)],
        zeroline=True,
        zerolinecolor="#5f6b7a",
        automargin=True,
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=labels,
        autorange="reversed",
        automargin=True,
        ticklabelstandoff=6,
    )
    return fig
