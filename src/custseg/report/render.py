"""Render the report dict to one self-contained HTML page.

The Jinja2 environment autoescapes everything. The only strings marked safe are the plotly
figure snippets (whose JSON plotly escapes: ``<``, ``>`` and ``/`` become ``\\u003c``,
``\\u003e``, ``\\u002f``) and the plotly.js bundle, embedded once; nothing is fetched.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from custseg.report.plots import (
    category_breakdown_figure,
    correlation_heatmap_figure,
    count_histogram_figure,
    dendrogram_figure,
    effect_size_figure,
    feature_histograms_figure,
    k_selection_figure,
    missing_values_figure,
    profile_heatmap_figure,
    revenue_over_time_figure,
    rfm_grid_figure,
    segment_map_figure,
    segment_sizes_figure,
    silhouette_figure,
    value_share_figure,
)

TEMPLATE = "report.html.j2"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
"""No plotly logo link; figures follow the page width."""


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("custseg.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def plotly_js() -> Markup:
    """The plotly.js bundle, safe to put inside one ``<script>`` element."""
    from plotly.offline import get_plotlyjs

    # A literal "</script" would end the element early; "<\/script" means the same in JS.
    return Markup(re.sub(r"</(script)", r"<\\/\1", get_plotlyjs(), flags=re.IGNORECASE))


def figure_html(fig: go.Figure, div_id: str) -> Markup:
    """A figure as an HTML snippet without plotly.js (the page embeds it once).

    A fixed ``div_id`` keeps the report byte-identical between runs.
    """
    return Markup(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=div_id,
            config=PLOTLY_CONFIG,
            default_width="100%",
        )
    )


def build_figures(data: dict[str, Any]) -> dict[str, Markup]:
    """The report's figures as HTML snippets, keyed by name (``figure-<name>`` ids)."""
    return {name: figure_html(fig, f"figure-{name}") for name, fig in report_figures(data).items()}


def report_figures(data: dict[str, Any]) -> dict[str, go.Figure]:
    """The report's figures from the plain data of :func:`build_report_data`, as Plotly
    figures keyed by name (the web app shows the same ones).

    Names: ``value_share`` (with a value measure), ``sizes``, ``map``, ``k_selection`` (more than one candidate), ``dendrogram``
    (hierarchical), the exploration's ``activity``, ``orders``, ``categories``, ``before``,
    ``after``, ``correlation``, ``missing`` (each when there is something to show),
    ``heatmap``, ``effects-<segment>``, ``silhouette`` and ``rfm_grid`` (transactions).
    """
    k_sel = data["k_selection"]
    seg_map = data["map"]
    figures: dict[str, go.Figure] = {}
    executive = data.get("executive")
    if executive is not None and executive["has_value"]:
        figures["value_share"] = value_share_figure(
            executive["chart_rows"], value_label=executive["value_label"]
        )
    figures |= {
        "sizes": segment_sizes_figure(
            data["segments"]["plot_rows"], value_label=data.get("value_label") or "revenue"
        ),
        "map": segment_map_figure(
            list(zip(seg_map["x"], seg_map["y"], strict=True)),
            seg_map["labels"],
            seg_map["names"],
            seed=seg_map["seed"],
            axis_titles=tuple(seg_map["axis_titles"]),
        ),
    }
    if k_sel["show_curve"]:
        figures["k_selection"] = k_selection_figure(
            k_sel["plot_rows"],
            chosen_k=k_sel["chosen_k"],
            elbow_k=k_sel["elbow_k"],
            algorithm_label=k_sel["algorithm_title"],
        )
    tree = data.get("dendrogram")
    if tree is not None:
        figures["dendrogram"] = dendrogram_figure(
            tree["linkage"],
            k=tree["k"],
            point_segments=tree["point_segments"],
            names=tree["names"],
            linkage_label=tree["linkage_method"] or None,
        )
    figures.update(exploration_figures(data["eda"]))
    names = data["map"]["names"]
    heat = data["heatmap"]
    if heat is not None:
        order = [r["segment"] for r in data["segments"]["rows"]]
        figures["heatmap"] = profile_heatmap_figure(
            order,
            names,
            heat.get("labels") or heat["features"],
            heat["z"],
            heat["text"],
            directions=heat.get("directions"),
        )
    for row in data["segments"]["rows"]:
        if row["effects"]:
            figures[f"effects-{row['segment']}"] = effect_size_figure(row["effects"])
    sil = data["silhouette"]
    if sil is not None:
        figures["silhouette"] = silhouette_figure(
            sil["segments"], names, sil["values"], average=sil["average"], sizes=sil["sizes"]
        )
    grid = data["rfm_grid"]
    if grid is not None:
        figures["rfm_grid"] = rfm_grid_figure(
            grid["recency_labels"],
            grid["frequency_labels"],
            grid["counts"],
            grid["dominant"],
            names=names,
        )
    return figures


def exploration_figures(eda: dict[str, Any]) -> dict[str, go.Figure]:
    """The exploration section's figures, keyed by name, from its data (the report's
    ``data["eda"]``, or :func:`~custseg.report.summary.exploration_section` of
    :func:`~custseg.report.eda.explore` before segmenting)."""
    figures: dict[str, go.Figure] = {}
    if eda["before"]:
        figures["before"] = feature_histograms_figure(eda["before"])
    if eda["after"]:
        figures["after"] = feature_histograms_figure(eda["after"])
    if eda["correlation"] is not None:
        figures["correlation"] = correlation_heatmap_figure(
            eda["correlation"]["names"], eda["correlation"]["matrix"]
        )
    if eda["missing"]:
        figures["missing"] = missing_values_figure(eda["missing"])
    if eda["categories"]:
        figures["categories"] = category_breakdown_figure(eda["categories"])
    if eda["activity"]:
        figures["activity"] = revenue_over_time_figure(eda["activity"])
    if eda["orders"] is not None:
        orders = eda["orders"]
        figures["orders"] = count_histogram_figure(
            orders["values"],
            orders["counts"],
            x_title="orders per customer",
            overflow_label=orders["overflow_label"],
        )
    return figures


def render_report_data(data: dict[str, Any]) -> str:
    """Render the dict of :func:`build_report_data` into the report's HTML."""
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(data=data, figures=build_figures(data), plotly_js=plotly_js())
    )
