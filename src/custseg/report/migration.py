"""The segment migration page: compute a plain dict, render it with an autoescaping template.

:func:`migration_data` turns a :class:`custseg.migration.Migration` into plain data,
:func:`sankey_figure` draws the flows (the app shows the same figure) and
:func:`render_migration` renders ``migration.html``: self-contained, plotly.js embedded once,
nothing fetched.

Examples
--------
>>> from custseg.migration import compare_runs
>>> html = render_migration(compare_runs("old/", "new/"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from custseg.report.plots import FIGURE_FONT, plot_text, segment_color
from custseg.report.render import _environment, figure_html, plotly_js

if TYPE_CHECKING:
    from custseg.migration import Migration

TEMPLATE = "migration.html.j2"
MOVERS_SHOWN = 200
"""Movers listed on the page (highest old value first); movers.csv has them all."""
NEW_GONE_COLOR = "#9AA5B1"
"""Colour of the ``new`` and ``gone`` nodes: customers outside one of the runs."""


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def sankey_figure(
    flows: Sequence[Mapping[str, Any]],
    old_nodes: Sequence[Mapping[str, Any]],
    new_nodes: Sequence[Mapping[str, Any]],
    *,
    measure: str = "customers",
) -> go.Figure:
    """Flows from the old segments (left) to the new ones (right).

    Parameters
    ----------
    flows : list of dict
        ``old`` and ``new`` (node keys) and ``value`` (customers, or revenue).
    old_nodes, new_nodes : list of dict
        ``key``, ``label`` (shown as written: escaped for plotly) and ``color``.
    measure : str
        What a flow's width is, for the hover text.

    Examples
    --------
    >>> fig = sankey_figure([{"old": "o0", "new": "n0", "value": 3}],
    ...                     [{"key": "o0", "label": "0 · A", "color": "#4C78A8"}],
    ...                     [{"key": "n0", "label": "0 · A", "color": "#4C78A8"}])
    >>> list(fig.data[0].link.value)
    [3]
    """
    nodes = [*old_nodes, *new_nodes]
    index = {n["key"]: i for i, n in enumerate(nodes)}
    kept = [f for f in flows if f["value"] and f["value"] > 0]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(
                label=[plot_text(n["label"]) for n in nodes],
                color=[n["color"] for n in nodes],
                pad=14,
                thickness=18,
                line=dict(width=0),
                hovertemplate="%{label}: %{value:,.0f} " + measure + "<extra></extra>",
            ),
            link=dict(
                source=[index[f["old"]] for f in kept],
                target=[index[f["new"]] for f in kept],
                value=[f["value"] for f in kept],
                color=[_rgba(nodes[index[f["old"]]]["color"], 0.35) for f in kept],
                hovertemplate="%{source.label} → %{target.label}: %{value:,.0f} "
                + measure
                + "<extra></extra>",
            ),
        )
    )
    fig.update_layout(
        font=FIGURE_FONT,
        height=max(360, 46 * max(len(old_nodes), len(new_nodes)) + 80),
        margin=dict(l=10, r=10, t=30, b=10),
        annotations=[
            dict(x=0, y=1.06, xref="paper", yref="paper", text="before", showarrow=False),
            dict(x=1, y=1.06, xref="paper", yref="paper", text="after", showarrow=False),
        ],
    )
    return fig


def migration_data(migration: Migration) -> dict[str, Any]:
    """The page as plain data: summary sentences, the matrix, segment pairs, movers and
    the Sankey's nodes and flows."""
    from custseg.migration import GONE, NEW, label, summary_lines

    s = migration.summary
    old_rows = migration.segments[migration.segments["run"] == "old"]
    new_rows = migration.segments[migration.segments["run"] == "new"]
    counterpart = {
        int(r["new_segment"]): int(r["old_segment"])
        for r in _records(migration.pairs)
        if r["new_segment"] is not None
    }

    old_nodes = [
        {
            "key": f"o{r['segment']}",
            "label": label(r["segment"], r["segment_name"]),
            "color": segment_color(r["segment"]),
        }
        for r in old_rows.to_dict("records")
    ]
    new_nodes = [
        {
            "key": f"n{r['segment']}",
            "label": label(r["segment"], r["segment_name"]),
            "color": segment_color(counterpart.get(int(r["segment"]), 100 + int(r["segment"]))),
        }
        for r in new_rows.to_dict("records")
    ]
    new_order = {c: i for i, c in enumerate(migration.counts.columns)}
    new_nodes.sort(key=lambda n: new_order.get(str(n["label"]), len(new_order)))
    has_new = s["new_customers"] > 0
    has_gone = s["gone_customers"] > 0
    if has_new:
        old_nodes.append({"key": "o-new", "label": f"{NEW} customers", "color": NEW_GONE_COLOR})
    if has_gone:
        new_nodes.append({"key": "n-gone", "label": f"{GONE}", "color": NEW_GONE_COLOR})
    flows = []
    for r in _records(migration.matrix):
        flows.append(
            {
                "old": "o-new" if r["old_segment"] is None else f"o{r['old_segment']}",
                "new": "n-gone" if r["new_segment"] is None else f"n{r['new_segment']}",
                "value": int(r["customers"]),
            }
        )
    counts = migration.counts
    diagonal = {
        label(r["old_segment"], r["old_segment_name"]): list(counts.columns).index(
            label(r["new_segment"], r["new_segment_name"])
        )
        for r in _records(migration.pairs)
        if r["new_segment"] is not None
    }
    matrix_rows = []
    for row_label, row in counts.iterrows():
        total = int(row.sum())
        matrix_rows.append(
            {
                "label": str(row_label),
                "diagonal": diagonal.get(str(row_label), -1),
                "cells": [
                    {"n": int(v), "share": (f"{v / total:.0%}" if total else "")}
                    for v in row.tolist()
                ],
                "total": total,
            }
        )
    value_label = s["value_label"]
    if value_label and s.get("currency"):
        value_label = f"{value_label} ({str(s['currency']).strip()})"
    movers = migration.movers.head(MOVERS_SHOWN)
    return {
        "title": "Segment migration",
        "summary": s,
        "lines": summary_lines(migration),
        "value_label": value_label,
        "columns": [str(c) for c in counts.columns],
        "matrix_rows": matrix_rows,
        "flows": [
            {
                "old": label(r["old_segment"], r["old_segment_name"]),
                "new": label(r["new_segment"], r["new_segment_name"]),
                "customers": f"{int(r['customers']):,}",
                "share": "" if _missing(r["share_of_old"]) else f"{r['share_of_old']:.1%}",
                "old_value": _money(r["old_value"]),
                "new_value": _money(r["new_value"]),
            }
            for r in _records(migration.matrix)
        ],
        "pairs": [
            {
                "old": label(r["old_segment"], r["old_segment_name"]),
                "old_group": r["old_group"],
                "new": ""
                if r["new_segment"] is None
                else label(r["new_segment"], r["new_segment_name"]),
                "new_group": r["new_group"],
                "distance": "" if _missing(r["distance"]) else f"{r['distance']:.3f}",
                "match": r["match"],
                "stayed": "" if _missing(r["stayed_share"]) else f"{r['stayed_share']:.1%}",
                "why": r.get("no_counterpart") or "",
            }
            for r in _records(migration.pairs)
        ],
        "movers": [
            {
                "customer_id": str(r["customer_id"]),
                "old": label(r["old_segment"], r["old_segment_name"]),
                "new": label(r["new_segment"], r["new_segment_name"]),
                "old_value": _money(r["old_value"]),
                "new_value": _money(r["new_value"]),
            }
            for r in movers.to_dict("records")
        ],
        "movers_total": len(migration.movers),
        "movers_shown": len(movers),
        "sankey": {"flows": flows, "old_nodes": old_nodes, "new_nodes": new_nodes},
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts, missing values as None."""
    return [
        {str(k): (None if _missing(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _money(value: Any) -> str:
    return "" if _missing(value) else f"{float(value):,.2f}"


def render_migration(migration: Migration) -> str:
    """``migration.html``: the summary, the Sankey chart, the matrix, the segment pairs and
    the movers, in one self-contained page (plotly.js embedded; no requests).

    Examples
    --------
    >>> from custseg.migration import compare_runs
    >>> render_migration(compare_runs("old/", "new/")).startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    data = migration_data(migration)
    sankey = data["sankey"]
    figure = figure_html(
        sankey_figure(sankey["flows"], sankey["old_nodes"], sankey["new_nodes"]),
        "figure-sankey",
    )
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(data=data, sankey=figure, plotly_js=plotly_js())
    )
