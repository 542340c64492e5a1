"""Per-segment profiles in original units, and what sets each segment apart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _mode(values: pd.Series) -> Any:
    """Most common value (the first in sort order on ties), or None when all are missing."""
    modes = values.mode(dropna=True)
    return modes.iloc[0] if len(modes) else None


def segment_profiles(
    features: pd.DataFrame,
    labels: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    revenue_col: str | None = None,
) -> pd.DataFrame:
    """One row per segment: size, share, revenue share, and typical values.

    Typical values are medians for numbers and the most common value for categories.

    Examples
    --------
    >>> df = pd.DataFrame({"revenue": [10.0, 20.0, 100.0]})
    >>> segment_profiles(df, np.array([1, 1, 0]), ["revenue"], [], "revenue")[["segment", "n_customers", "revenue_share"]]
       segment  n_customers  revenue_share
    0        0            1       0.769231
    1        1            2       0.230769
    """
    frame = features.assign(_segment=labels)
    groups = frame.groupby("_segment", sort=True)
    out = pd.DataFrame({"segment": sorted(frame["_segment"].unique())})
    out["n_customers"] = groups.size().to_numpy()
    out["share"] = out["n_customers"] / len(frame)
    if revenue_col is not None:
        totals = groups[revenue_col].sum().to_numpy()
        out["revenue_share"] = totals / totals.sum() if totals.sum() else np.nan
    # Built at once: one column at a time, a table of hundreds of features made pandas warn
    # once per column that the frame is fragmented (issue 17).
    typical: dict[str, Any] = {col: groups[col].median().to_numpy() for col in numeric}
    typical |= {col: [_mode(part) for _, part in groups[col]] for col in categorical}
    out = out.drop(columns=[c for c in typical if c in out.columns])
    return tidy_floats(pd.concat([out, pd.DataFrame(typical, index=out.index)], axis=1))


def tidy_floats(frame: pd.DataFrame, digits: int = 12) -> pd.DataFrame:
    """``frame`` with its float columns rounded to ``digits`` significant digits: summary
    numbers (medians, shares) lose the binary rounding noise of their last digits
    (``23.884999999999998`` is written ``23.885``).

    Examples
    --------
    >>> tidy_floats(pd.DataFrame({"a": [23.884999999999998, None], "b": ["x", "y"]}))["a"].tolist()
    [23.885, nan]
    """
    tidy = {
        col: [float(f"{v:.{digits}g}") if pd.notna(v) else v for v in frame[col]]
        for col in frame.columns
        if pd.api.types.is_float_dtype(frame[col])
    }
    out = frame.copy()
    if tidy:
        # Set at once and copied after: column by column, hundreds of columns leave a
        # fragmented frame, which pandas warns about at the next insert.
        out[list(tidy)] = pd.DataFrame(tidy, index=frame.index)
    return out.copy()


def distinguishing_features(
    features: pd.DataFrame, labels: np.ndarray, numeric: list[str], categorical: list[str]
) -> dict[int, list[dict[str, Any]]]:
    """For each segment, features ordered by how strongly they set it apart from the rest.

    Numbers: standardized mean difference (segment mean - others' mean) / overall standard
    deviation (Cohen's d style), on a log scale for skewed non-negative columns so that one
    giant customer does not dominate. Categories: the level whose share in the segment most
    exceeds its share overall (lift, reported as the difference in shares).
    """
    result: dict[int, list[dict[str, Any]]] = {}
    # Everything that does not depend on the segment is computed once per column.
    transformed: dict[str, np.ndarray] = {}
    original: dict[str, np.ndarray] = {}
    overall_median: dict[str, float] = {}
    spread: dict[str, float] = {}
    for col in numeric:
        values = features[col].to_numpy(dtype=float)
        original[col] = values
        overall_median[col] = float(np.nanmedian(values))
        finite = values[np.isfinite(values)]
        if len(finite) and finite.min() >= 0 and float(np.asarray(pd.Series(finite).skew())) > 1:
            values = np.log1p(values)
        transformed[col] = values
        spread[col] = float(np.nanstd(values))
    levels_of = {col: features[col].astype(object) for col in categorical}
    overall_of = {col: levels.value_counts(normalize=True) for col, levels in levels_of.items()}
    for seg in sorted(np.unique(labels)):
        inside = labels == seg
        items: list[dict[str, Any]] = []
        for col, values in transformed.items():
            sd = spread[col]
            if sd == 0 or inside.all():
                continue
            if np.isnan(values[inside]).all() or np.isnan(values[~inside]).all():
                continue  # missing for every customer on one side: no difference to measure
            effect = (np.nanmean(values[inside]) - np.nanmean(values[~inside])) / sd
            items.append(
                {
                    "feature": col,
                    "kind": "numeric",
                    "effect": float(effect),
                    "segment_median": float(np.nanmedian(original[col][inside])),
                    "overall_median": overall_median[col],
                }
            )
        for col in categorical:
            levels, overall = levels_of[col], overall_of[col]
            within = levels[inside].value_counts(normalize=True)
            if within.empty:
                continue
            lift = (within - overall.reindex(within.index).fillna(0)).sort_values(ascending=False)
            level = lift.index[0]
            items.append(
                {
                    "feature": col,
                    "kind": "categorical",
                    "level": str(level),
                    "effect": float(lift.iloc[0]) * 2.5,  # a 20-point share gap weighs like d = 0.5
                    "segment_share": float(within[level]),
                    "overall_share": float(overall[level]),
                }
            )
        items.sort(key=lambda d: -abs(d["effect"]))
        result[int(seg)] = items
    return result


MAX_DISTINGUISHING = 6
"""Distinguishing features kept per segment in metrics.json and shown in the report."""


def summarize_distinguishing(
    items: list[dict[str, Any]], n: int = MAX_DISTINGUISHING
) -> list[dict[str, Any]]:
    """The ``n`` strongest items of :func:`distinguishing_features`, rounded for reading.

    Examples
    --------
    >>> summarize_distinguishing([{"feature": "age", "kind": "numeric", "effect": 1.23456,
    ...     "segment_median": 61.0, "overall_median": 40.5}])
    [{'feature': 'age', 'kind': 'numeric', 'effect': 1.235, 'segment_median': 61.0, 'overall_median': 40.5}]
    """
    out = []
    for item in items[:n]:
        out.append(
            {
                key: round(float(value), 3) if key == "effect" else value
                for key, value in item.items()
            }
        )
    return out
