"""What the report shows about each segment and on its maps, as plain data.

Profile heatmap, distinguishing features, membership rules, per-segment silhouette, the
recency-by-frequency grid and the naming rules table. Everything here reads the saved
result (segments, profiles, metrics, model inputs), so a re-rendered report is identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_samples

from custseg.labels import (
    distinct_labels,
    feature_direction,
    format_feature,
)
from custseg.profile.naming import (
    CUSTOMER_ACTIONS,
    EFFECT_FOR_NAME,
    RFM_NAMING_RULES,
    attribute_words,
)
from custseg.report.plots import sample_indices

SILHOUETTE_PLOT_MAX = 3_000
"""The per-segment silhouette plot is computed on at most this many customers (a seeded
sample): silhouette needs every pairwise distance, and 3,000 customers draw the same shape."""
SILHOUETTE_POINTS = 300
"""Points drawn per segment in the silhouette plot (evenly spaced quantiles of its values)."""
RECENCY_CLASSES: tuple[tuple[str, float, float], ...] = (
    ("last 30 days", 0, 30),
    ("31–90 days ago", 31, 90),
    ("91–180 days ago", 91, 180),
    ("181–365 days ago", 181, 365),
    ("over a year ago", 366, np.inf),
)
"""Rows of the recency-by-frequency grid: days since the last purchase (most recent first)."""
FREQUENCY_CLASSES: tuple[tuple[str, float, float], ...] = (
    ("1 order", 1, 1),
    ("2 orders", 2, 2),
    ("3–4", 3, 4),
    ("5–9", 5, 9),
    ("10 or more", 10, np.inf),
)
"""Columns of the recency-by-frequency grid: number of orders."""
HEATMAP_CLIP = 2.0
"""The profile heatmap's colours saturate at this many standard deviations."""


def _finite(value: Any, digits: int = 3) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if np.isfinite(f) else None


def profile_heatmap(
    result: Any, formatted: dict[int, dict[str, str]], order: list[int]
) -> dict[str, Any] | None:
    """Each segment's mean of each numeric model input (standardized: 0 is the average
    customer, 1 one standard deviation above), with its typical value as the cell text."""
    pre = result.metrics.get("preprocessing") or {}
    numeric = [str(c) for c in pre.get("numeric") or []]
    if not numeric:
        return None
    X = np.asarray(result.model_inputs, dtype=float)[:, : len(numeric)]
    labels = np.asarray(result.labels, dtype=int)
    z, text = [], []
    for seg in order:
        inside = labels == seg
        means = X[inside].mean(axis=0) if inside.any() else np.full(len(numeric), np.nan)
        z.append([_finite(v) for v in means])
        text.append([formatted.get(seg, {}).get(col, "") for col in numeric])
    user = (result.metrics.get("presentation") or {}).get("labels") or {}
    return {
        "features": numeric,
        "labels": distinct_labels(numeric, user),
        "directions": [feature_direction(c) for c in numeric],
        "z": z,
        "text": text,
        "clip": HEATMAP_CLIP,
    }


def effect_items(
    distinguishing: list[dict[str, Any]], presentation: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Bars of the distinguishing-features chart, with a readable label and fact (in the
    features' units, with the currency of ``presentation``)."""
    pres = presentation or {}
    user = pres.get("labels") or {}
    currency = pres.get("currency") or ""
    items = []
    named = dict(
        zip(
            (str(d["feature"]) for d in distinguishing),
            distinct_labels([str(d["feature"]) for d in distinguishing], user),
            strict=True,
        )
    )
    for d in distinguishing:
        effect = _finite(d.get("effect"))
        if effect is None:
            continue
        if d.get("kind") == "categorical":
            label = f"{named[str(d['feature'])]} = {d['level']}"
            fact = (
                f"{float(d['segment_share']):.0%} of the segment vs "
                f"{float(d['overall_share']):.0%} of all customers"
            )
        else:
            label = named[str(d["feature"])]
            fact = (
                f"median {format_feature(d['feature'], d['segment_median'], currency)} vs "
                f"{format_feature(d['feature'], d['overall_median'], currency)} overall"
            )
        items.append({"label": label, "effect": effect, "fact": fact})
    return items


def silhouette_data(result: Any) -> dict[str, Any] | None:
    """Per-segment silhouette values of a seeded sample, downsampled for drawing."""
    X = np.asarray(result.model_inputs, dtype=float)
    labels = np.asarray(result.labels, dtype=int)
    member = np.flatnonzero(labels >= 0)
    if len(np.unique(labels[member])) < 2:
        return None
    seed = int(result.metrics.get("seed") or 0)
    keep = member[sample_indices(len(member), SILHOUETTE_PLOT_MAX, seed)]
    values = silhouette_samples(X[keep], labels[keep])
    segments, series, negative, sizes = [], [], [], []
    for seg in sorted(np.unique(labels[keep])):
        mine = np.sort(values[labels[keep] == seg])[::-1]
        n_points = min(SILHOUETTE_POINTS, len(mine))
        idx = np.unique(np.linspace(0, len(mine) - 1, n_points).round().astype(int))
        segments.append(int(seg))
        sizes.append(int(np.sum(labels == seg)))
        series.append([round(float(v), 3) for v in mine[idx]])
        negative.append(float(np.mean(mine < 0)))
    return {
        "segments": segments,
        "values": series,
        "average": round(float(values.mean()), 3),
        "negative": negative,
        "sizes": sizes,
        "sampled": len(keep) < len(member),
        "n": int(len(keep)),
    }


def _classes(values: np.ndarray, classes: tuple[tuple[str, float, float], ...]) -> np.ndarray:
    out = np.full(len(values), -1)
    for i, (_, lo, hi) in enumerate(classes):
        out[(values >= lo) & (values <= hi)] = i
    return out


def rfm_grid(result: Any) -> dict[str, Any] | None:
    """Customers by recency class (rows) and frequency class (columns), with the segment
    that holds most of each cell (transactions only)."""
    frame = result.segments
    if "days_since_last_purchase" not in frame or "n_orders" not in frame:
        return None
    rec = _classes(frame["days_since_last_purchase"].to_numpy(dtype=float), RECENCY_CLASSES)
    freq = _classes(frame["n_orders"].to_numpy(dtype=float), FREQUENCY_CLASSES)
    labels = np.asarray(result.labels, dtype=int)
    counts: list[list[int]] = []
    dominant: list[list[int | None]] = []
    for i in range(len(RECENCY_CLASSES)):
        row_counts: list[int] = []
        row_dom: list[int | None] = []
        for j in range(len(FREQUENCY_CLASSES)):
            cell = labels[(rec == i) & (freq == j)]
            row_counts.append(int(len(cell)))
            if len(cell):
                segs, n = np.unique(cell, return_counts=True)
                row_dom.append(int(segs[np.argmax(n)]))
            else:
                row_dom.append(None)
        counts.append(row_counts)
        dominant.append(row_dom)
    return {
        "recency_labels": [c[0] for c in RECENCY_CLASSES],
        "frequency_labels": [c[0] for c in FREQUENCY_CLASSES],
        "counts": counts,
        "dominant": dominant,
    }


def naming_rules(metrics: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """The visible naming table: every rule in priority order and the segments it named."""
    entries = [e for e in metrics.get("segments") or [] if int(e.get("segment", -1)) >= 0]
    if metrics.get("kind") == "transactions":
        by_condition: dict[str, list[str]] = {}
        for e in entries:
            by_condition.setdefault(str(e.get("rule")), []).append(
                f"{e['segment']} · {names.get(int(e['segment']), '')}"
            )
        rows = [
            {
                "name": r.name,
                "condition": r.condition,
                "action": r.action,
                "segments": ", ".join(by_condition.get(r.condition, [])),
            }
            for r in RFM_NAMING_RULES
        ]
        intro = (
            "Transaction segments are named in RFM terms. Each segment's median recency, "
            "number of orders and revenue is scored 1 to 5 by where it falls among all "
            "customers (R = recency, 5 = bought most recently; F = frequency; M = monetary; "
            "T = tenure, 1 = joined most recently). The first rule below that matches and "
            "whose name is still free names the segment; a name used twice gets the "
            "segment's most distinguishing trait added."
        )
    else:
        by_label: dict[str, list[str]] = {}
        for e in entries:
            label = str(e.get("rule") or "").split(" (")[0]
            by_label.setdefault(label, []).append(
                f"{e['segment']} · {names.get(int(e['segment']), '')}"
            )
        rows = [
            {
                "name": label,
                "condition": condition,
                "action": action,
                "segments": ", ".join(by_label.get(label, [])),
            }
            for label, condition, _, action in CUSTOMER_ACTIONS
        ]
        numeric = [str(c) for c in (metrics.get("preprocessing") or {}).get("numeric") or []]
        words = [
            {"feature": col, "high": high, "low": low}
            for col in numeric
            for high, low in [attribute_words(col)]
        ]
        intro = (
            "Customer-table segments are named after their one or two most distinguishing "
            "attributes (those at least half a standard deviation from the other customers, "
            "or the most common category when it is over-represented). The action follows "
            "the first rule below that matches, where V, C and D are the segment's average "
            "standardized difference on spend-like, income-like and deal-like columns."
        )
    segments = [
        {
            "segment": int(e["segment"]),
            "name": names.get(int(e["segment"]), str(e.get("segment_name") or "")),
            "rule": str(e.get("rule") or ""),
            "facts": str(e.get("facts") or ""),
            "action": str(e.get("action") or ""),
            "scores": " ".join(
                _score_text(k, v)
                for k, v in (e.get("scores") or {}).items()
                if k in ("R", "F", "M", "T", "V", "returns") and v is not None
            ),
        }
        for e in entries
    ]
    return {
        "intro": intro,
        "rules": rows,
        "segments": segments,
        "words": words if metrics.get("kind") != "transactions" else [],
        "effect_for_name": EFFECT_FOR_NAME,
    }


def _score_text(key: str, value: Any) -> str:
    if key == "V":
        return f"V {float(value):.2f}"
    if key == "returns":
        return f"returns {float(value):.0%}"
    return f"{key}{int(value)}"


def typical_values(profiles: pd.DataFrame, formatter: Any) -> dict[int, dict[str, str]]:
    """Segment -> feature -> its typical value, formatted for reading."""
    out: dict[int, dict[str, str]] = {}
    for rec in profiles.to_dict("records"):
        out[int(rec["segment"])] = {str(k): formatter(str(k), v) for k, v in rec.items()}
    return out
