"""Two segments side by side, from the report's data.

Pure functions of the report's plain data (:func:`custseg.report.build_report_data`), so the
Compare page only draws what they return. The values are the report's profile table
(``profiles``: ``columns``, ``rows`` with ``label``, ``note``, ``cells``, ``overall``,
``text``; ``features`` with ``name``). How far apart the two segments are on each feature is
the report's own comparison when it has one (``compare.pairs``: each pair of segments, each
feature's ``gap`` in standard deviations of all customers and the ``better`` side), else the
difference of the profile heatmap's standardized means (``heatmap``: ``features``, ``z`` in
the order of ``segments.rows``). Other keys are ignored.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

COMPARE_MIN_DIFFERENCE = 0.5
"""Smallest difference, in standard deviations, that counts as a real difference between two
segments (a medium standardized mean difference by Cohen's rule of thumb; smaller gaps are
within the spread of either segment)."""

COMPARE_MOST = 3
"""Features highlighted at most: the few that tell the two segments apart, not a ranking."""


def default_pair(data: dict[str, Any]) -> tuple[int, int]:
    """The pair shown first: the report's (the two closest segments, the pair a reader most
    likely confuses), else the first two segments.

    Examples
    --------
    >>> default_pair({"compare": {"a": 1, "b": 2}, "profiles": {"columns": []}})
    (1, 2)
    >>> default_pair({"profiles": {"columns": [{"segment": 0}, {"segment": 1}]}})
    (0, 1)
    """
    compare = data.get("compare") or {}
    if compare.get("a") is not None and compare.get("b") is not None:
        return int(compare["a"]), int(compare["b"])
    segments = [int(c["segment"]) for c in data["profiles"]["columns"]]
    return segments[0], segments[1]


def _differences(data: dict[str, Any], first: int, second: int) -> dict[str, tuple[float, str]]:
    """Feature label (or column name) -> (how far apart ``first`` and ``second`` are, in
    standard deviations; the better side, "A", "B" or "")."""
    low, high = sorted((first, second))
    pair = ((data.get("compare") or {}).get("pairs") or {}).get(f"{low}-{high}")
    if pair:
        sides = {"a": "A", "b": "B"} if first == low else {"a": "B", "b": "A"}
        return {
            str(r["label"]): (float(r["gap"]), sides.get(str(r.get("better") or ""), ""))
            for r in pair
            if r.get("gap") is not None and math.isfinite(float(r["gap"]))
        }
    heatmap = data.get("heatmap") or {}
    order = [int(r["segment"]) for r in (data.get("segments") or {}).get("rows") or []]
    z = heatmap.get("z") or []
    if first not in order or second not in order or len(z) != len(order):
        return {}
    out = {}
    a, b = z[order.index(first)], z[order.index(second)]
    for name, za, zb in zip(heatmap.get("features") or [], a, b, strict=False):
        if za is not None and zb is not None and math.isfinite(za - zb):
            out[str(name)] = (abs(float(za) - float(zb)), "")
    return out


def comparison(
    data: dict[str, Any], first: int, second: int
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The two segments' rows of the report's profile table, and the features on which they
    differ most.

    Parameters
    ----------
    data : dict
        What :func:`custseg.report.build_report_data` returned.
    first, second : int
        The segments to compare (A and B).

    Returns
    -------
    table : DataFrame
        One row per profile row (customers, shares, each feature; not the text rows such as
        the action): ``feature`` (its label), ``note`` (median, most common ...), ``a``,
        ``b`` (the two segments' values as the report writes them), ``overall`` (all
        customers), ``difference`` (how far apart A and B are, in standard deviations; NaN
        where not measured) and ``better`` ("A", "B" or "" where neither side is better).
    differ : list of dict
        The table's rows of the features that differ most: at most :data:`COMPARE_MOST`,
        each by at least :data:`COMPARE_MIN_DIFFERENCE`, largest first.

    Examples
    --------
    >>> data = {
    ...     "compare": {"pairs": {"0-1": [{"label": "Revenue", "gap": 1.6, "better": "a"}]}},
    ...     "profiles": {
    ...         "columns": [{"segment": 0}, {"segment": 1}],
    ...         "features": [{"name": "revenue"}],
    ...         "rows": [
    ...             {"label": "Customers", "cells": ["10", "30"], "overall": "40"},
    ...             {"label": "Revenue", "note": "median", "cells": ["900", "40"]},
    ...             {"label": "Action", "cells": ["Reward", "Wake"], "text": True},
    ...         ],
    ...     },
    ... }
    >>> table, differ = comparison(data, 1, 0)
    >>> table[["feature", "a", "b", "better"]].values.tolist()
    [['Customers', '30', '10', ''], ['Revenue', '40', '900', 'B']]
    >>> [(d["feature"], d["difference"]) for d in differ]
    [('Revenue', 1.6)]
    """
    profiles = data["profiles"]
    order = [int(c["segment"]) for c in profiles["columns"]]
    i, j = order.index(first), order.index(second)
    rows = [r for r in profiles["rows"] if not r.get("text")]
    # The feature rows are the last rows before the text rows, one per entry of "features",
    # in its order: that entry has the column name (the heatmap's key).
    names = [str(f.get("name")) for f in profiles.get("features") or []]
    names = [""] * (len(rows) - len(names)) + names if len(names) <= len(rows) else []
    differences = _differences(data, first, second)
    records = []
    for row, name in zip(rows, names or [""] * len(rows), strict=True):
        label = str(row.get("label", ""))
        difference, better = differences.get(label) or differences.get(name) or (math.nan, "")
        records.append(
            {
                "feature": label,
                "note": str(row.get("note") or ""),
                "a": str(row["cells"][i]),
                "b": str(row["cells"][j]),
                "overall": str(row.get("overall") or ""),
                "difference": difference,
                "better": better,
            }
        )
    table = pd.DataFrame(
        records, columns=["feature", "note", "a", "b", "overall", "difference", "better"]
    )
    size = table["difference"]
    top = size[size >= COMPARE_MIN_DIFFERENCE].sort_values(ascending=False, kind="stable")
    differ = [
        {str(k): v for k, v in row.items()}
        for row in table.loc[top.index[:COMPARE_MOST]].to_dict("records")
    ]
    return table, differ


def comparison_actions(data: dict[str, Any], first: int, second: int) -> tuple[str, str]:
    """The suggested actions of the two segments (the profile table's text row), or blanks."""
    profiles = data["profiles"]
    order = [int(c["segment"]) for c in profiles["columns"]]
    i, j = order.index(first), order.index(second)
    texts = [r for r in profiles["rows"] if r.get("text")]
    action = next((r for r in texts if "action" in str(r.get("label", "")).lower()), None)
    if action is None:
        return "", ""
    return str(action["cells"][i]), str(action["cells"][j])
