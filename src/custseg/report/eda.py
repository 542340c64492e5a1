"""What the report's exploration section shows, as plain data.

Distributions are pre-binned here (the report carries counts, not one value per customer, so
it stays small whatever the number of customers); the figures only draw them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

HISTOGRAM_BINS = 20
"""Bars per feature histogram."""
TAIL_QUANTILE = 0.01
"""Histograms of original values span the 1st to 99th percentile; the rarer values at either
end are counted in the first and last bar, so one huge customer does not squash the rest."""
MAX_INTEGER_BARS = 25
"""A whole-number feature whose values span at most this many numbers (0 to 24, say) gets one
bar per value."""
MAX_CORRELATION_FEATURES = 25
"""The correlation heatmap shows at most this many numeric features (the first ones)."""
STRONG_CORRELATION = 0.7
"""Pairs of features correlated at least this much (Spearman) are named under the heatmap:
they say much the same thing and together weigh more in the distances."""
MAX_STRONG_PAIRS = 6
"""At most this many strongly correlated pairs are named."""
TOP_LEVELS = 10
"""Category breakdowns list this many levels by count; the rest are summed as "other"."""
MAX_ORDERS_BAR = 20
"""The orders-per-customer histogram has one bar per count up to this, then "20+"."""
TRANSFORM_LABELS = {"log1p": "log(1 + x)", "yeo-johnson": "Yeo-Johnson", "none": ""}
"""How each skew transformation is named under the histograms."""


def _round(values: np.ndarray, digits: int = 4) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values]


def histogram(values: Any, *, clip_tails: bool = True) -> dict[str, Any] | None:
    """Bin edges and counts of the finite values, or None when there are none.

    Whole numbers spanning at most :data:`MAX_INTEGER_BARS` values get one bar per value
    (empty bars included). Otherwise
    :data:`HISTOGRAM_BINS` equal bars span the 1st to 99th percentile (``clip_tails``) or
    the full range, with the tails counted in the edge bars.

    Examples
    --------
    >>> histogram([1, 1, 2, 3])
    {'edges': [0.5, 1.5, 2.5, 3.5], 'counts': [2, 1, 1], 'folded': 0}
    """
    x = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return None
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < MAX_INTEGER_BARS and np.all(x == np.round(x)):
        # (A few whole numbers far apart, such as 0 and 10**9, get equal bars instead: one
        # bar per value between them would be millions of bars.)
        edges = np.arange(lo - 0.5, hi + 1.5, 1.0)
        counts = np.histogram(x, bins=edges)[0]
        return {"edges": _round(edges), "counts": [int(c) for c in counts], "folded": 0}
    if clip_tails:
        qlo, qhi = np.quantile(x, [TAIL_QUANTILE, 1 - TAIL_QUANTILE])
        if qhi > qlo:
            lo, hi = float(qlo), float(qhi)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    folded = int(np.sum((x < lo) | (x > hi)))
    counts = np.histogram(np.clip(x, lo, hi), bins=edges)[0]
    return {"edges": _round(edges), "counts": [int(c) for c in counts], "folded": folded}


def _numeric_pipeline(preprocessor: Any) -> Any:
    for name, transformer, _ in getattr(preprocessor, "transformers_", []):
        if name == "numeric":
            return transformer
    return None


def _transforms(preprocessor: Any, numeric: list[str]) -> dict[str, Any]:
    """Per numeric model input: its skew transformation and how many values were capped."""
    pipe = _numeric_pipeline(preprocessor)
    if pipe is None or not numeric:
        return {}
    skew = pipe.named_steps.get("skew")
    clip = pipe.named_steps.get("clip")
    methods = list(getattr(skew, "methods_", ["none"] * len(numeric)))
    return {
        "methods": dict(zip(numeric, methods, strict=False)),
        "limit": float(getattr(clip, "limit", np.inf)),
    }


def _outliers(inputs: np.ndarray, numeric: list[str], limit: float) -> list[dict[str, Any]]:
    # Model inputs are capped at +-limit, so a value at the cap was an outlier before it.
    rows = []
    n = len(inputs)
    for j, name in enumerate(numeric):
        capped = int(np.sum(np.abs(inputs[:, j]) >= limit - 1e-12))
        if capped:
            rows.append(
                {
                    "feature": str(name),
                    "customers": capped,
                    "share": capped / n if n else 0.0,
                }
            )
    return rows


def _categories(frame: pd.DataFrame, categorical: list[str]) -> list[dict[str, Any]]:
    items = []
    for col in categorical:
        if col not in frame:
            continue
        counts = frame[col].astype(object).where(frame[col].notna(), "(missing)").value_counts()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        levels = [str(v) for v in counts.index[:TOP_LEVELS]]
        values = [int(v) for v in counts.to_numpy()[:TOP_LEVELS]]
        if len(counts) > TOP_LEVELS:
            levels.append(f"other ({len(counts) - TOP_LEVELS} levels)")
            values.append(int(counts.to_numpy()[TOP_LEVELS:].sum()))
        items.append({"name": str(col), "levels": levels, "counts": values})
    return items


def _correlation(frame: pd.DataFrame, numeric: list[str]) -> dict[str, Any] | None:
    cols = [c for c in numeric if c in frame][:MAX_CORRELATION_FEATURES]
    data = frame[cols].apply(pd.to_numeric, errors="coerce")
    cols = [c for c in cols if data[c].min() < data[c].max()]  # two distinct values or more
    if len(cols) < 2:
        return None
    matrix = data[cols].corr(method="spearman").to_numpy()
    values = [[None if not np.isfinite(v) else round(float(v), 3) for v in row] for row in matrix]
    pairs = []
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            r = values[i][j]
            if r is not None and abs(r) >= STRONG_CORRELATION:
                pairs.append((abs(r), cols[i], cols[j], r))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return {
        "names": [str(c) for c in cols],
        "matrix": values,
        "strong": [f"{a} and {b} ({v:+.2f})" for _, a, b, v in pairs[:MAX_STRONG_PAIRS]],
        "n_strong": len(pairs),
        "cut": len([c for c in numeric if c in frame]) > MAX_CORRELATION_FEATURES,
    }


def _orders_histogram(frame: pd.DataFrame) -> dict[str, Any] | None:
    if "n_orders" not in frame:
        return None
    orders = pd.to_numeric(frame["n_orders"], errors="coerce").dropna().astype(int)
    values = list(range(1, MAX_ORDERS_BAR))
    counts = [int((orders == v).sum()) for v in values]
    values.append(MAX_ORDERS_BAR)
    counts.append(int((orders >= MAX_ORDERS_BAR).sum()))
    one = counts[0] / len(orders) if len(orders) else 0.0
    return {
        "values": values,
        "counts": counts,
        "overflow_label": f"{MAX_ORDERS_BAR}+",
        "one_order_share": one,
    }


def exploration_data(result: Any) -> dict[str, Any]:
    """The exploration (EDA) section's data for a :class:`~custseg.SegmentationResult`.

    Returns
    -------
    dict
        ``before`` and ``after``: one histogram per numeric feature in original units and as
        the model sees it (after the skew transformation, scaling and capping);
        ``correlation``; ``missing`` (per feature column); ``outliers`` (customers capped per
        feature); ``categories`` (breakdowns of categorical columns, or of countries for
        transactions); ``activity`` (revenue by month, transactions only); ``orders``
        (orders per customer, transactions only).
    """
    metrics = result.metrics
    pre = metrics.get("preprocessing") or {}
    frame: pd.DataFrame = result.segments
    return _explore(
        frame,
        kind=str(metrics.get("kind") or "customers"),
        features=[str(c) for c in (metrics.get("features") or {}) if c in frame],
        model_numeric=[str(c) for c in pre.get("numeric") or []],
        categorical=[str(c) for c in pre.get("categorical") or []],
        inputs=np.asarray(result.model_inputs, dtype=float),
        preprocessor=result.model.preprocessor,
        activity=metrics.get("activity") or {},
    )


def explore(features: pd.DataFrame, details: dict[str, Any]) -> dict[str, Any]:
    """The same exploration data before any clustering, from :func:`custseg.build_features`.

    The preprocessing is fitted here (as :func:`custseg.segment` would), so that the
    histograms of the model inputs can be shown before segmenting.

    Examples
    --------
    >>> features, details = custseg.build_features(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> sorted(explore(features, details))[:3]  # doctest: +SKIP
    ['activity', 'after', 'before']
    """
    from custseg.preprocess import build_preprocessor, categorical_as_text, plan_columns

    kind = str((details.get("schema") or {}).get("kind") or "customers")
    plan = plan_columns(
        features,
        list(details["numeric"]),
        list(details["categorical"]),
        unrelated_numbers=kind == "customers",
    )
    frame = categorical_as_text(features, plan.categorical)[plan.numeric + plan.categorical]
    preprocessor = build_preprocessor(plan)
    inputs = np.asarray(preprocessor.fit_transform(frame), dtype=float)
    return _explore(
        features,
        kind=kind,
        features=[str(c) for c in features.columns if c != "customer_id"],
        model_numeric=list(plan.numeric),
        categorical=list(plan.categorical),
        inputs=inputs,
        preprocessor=preprocessor,
        activity=details.get("activity") or {},
    )


def _explore(
    frame: pd.DataFrame,
    *,
    kind: str,
    features: list[str],
    model_numeric: list[str],
    categorical: list[str],
    inputs: np.ndarray,
    preprocessor: Any,
    activity: dict[str, Any],
) -> dict[str, Any]:
    numeric = [c for c in features if c not in categorical]
    transforms = _transforms(preprocessor, model_numeric)
    methods = transforms.get("methods", {})
    before = []
    for col in numeric:
        hist = histogram(frame[col])
        if hist is None:
            continue
        before.append({"name": col, "note": "", **hist})
    after = []
    for j, col in enumerate(model_numeric):
        hist = histogram(inputs[:, j], clip_tails=False)
        if hist is None:
            continue
        label = TRANSFORM_LABELS.get(str(methods.get(col, "none")), "")
        after.append({"name": col, "note": label, **hist})
    n = len(frame)
    missing = []
    for col in features:
        count = int(frame[col].isna().sum())
        if count:
            missing.append({"column": col, "missing": count, "share": count / n if n else 0.0})
    categories = _categories(frame, categorical)
    if activity.get("by_country"):
        rows = activity["by_country"]
        categories.insert(
            0,
            {
                "name": "country (customers)",
                "levels": [str(r["level"]) for r in rows],
                "counts": [int(r["customers"]) for r in rows],
            },
        )
    transformed = [
        f"{col}: {TRANSFORM_LABELS[str(m)]}"
        for col, m in methods.items()
        if TRANSFORM_LABELS.get(str(m))
    ]
    outliers = _outliers(inputs, model_numeric, transforms["limit"]) if transforms else []
    return {
        "before": before,
        "after": after,
        "folded": sum(int(h["folded"]) for h in before),
        "transformed": transformed,
        "clip_limit": transforms.get("limit"),
        "correlation": _correlation(frame, numeric),
        "missing": missing,
        "outliers": outliers,
        "categories": categories,
        "activity": list(activity.get("by_month") or []),
        "orders": _orders_histogram(frame) if kind == "transactions" else None,
        "kind": kind,
        "n_customers": n,
    }
