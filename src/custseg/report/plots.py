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

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
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


def _style(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(
        template=FIGURE_TEMPLATE,
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
    fig.update_layout(margin=dict(t=100), legend=dict(y=1.1))
    fig.update_annotations(font_size=13)
    if algorithm_label:
        fig.update_layout(
            title=dict(
                text=f"{plot_text(algorithm_label)}: the criteria for each number of segments k",
                x=0,
                xanchor="left",
                y=0.985,
                yanchor="top",
                font=dict(size=15),
            ),
            margin=dict(t=120),
            legend=dict(y=1.09),
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
    fig.update_xaxes(
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
    fig.update_xaxes(title_text=plot_text(axis_titles[0]), zeroline=False)
    fig.update_yaxes(title_text=plot_text(axis_titles[1]), zeroline=False)
    return fig


def segment_sizes_figure(profiles: pd.DataFrame | Sequence[Mapping[str, Any]]) -> go.Figure:
    """Share of customers and, for transactions, share of revenue per segment.

    Parameters
    ----------
    profiles : DataFrame or sequence of dict
        One row per segment with ``segment``, ``segment_name``, ``share`` and optionally
        ``revenue_share`` (fractions between 0 and 1).

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
        series.append(("revenue_share", "share of revenue", "#F58518"))
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
    fig.update_layout(barmode="group", bargap=0.25)
    # Room on the right for the value labels outside the longest bar.
    fig.update_xaxes(title_text="percent", ticksuffix="%", range=[0, max(top, 1.0) * 1.12])
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig
