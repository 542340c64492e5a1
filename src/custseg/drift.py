"""Drift: do the customers being scored still look like the customers the model was fitted on?

At fit time :func:`reference` summarises the training customers as plain data, stored in the
model (``SegmentModel.drift_reference``): for each numeric model feature the training deciles
and the share of customers between them, for each categorical one the share of each category,
and the share of customers per segment. At scoring time :func:`check` compares the scored
customers with it:

- the **population stability index** (PSI) of each model feature,
  ``sum((share - training_share) * ln(share / training_share))`` over the bins;
- each segment's **share of customers** against its training share.

The thresholds are :data:`THRESHOLDS`; docs/scoring.md#drift explains them.

Examples
--------
>>> report = check(model, scored)  # doctest: +SKIP
>>> report.verdict, report.warnings  # doctest: +SKIP
('moved', ["feature 'revenue' moved (PSI 0.41 > 0.25) ..."])
>>> report.to_dict()["features"][0]  # doctest: +SKIP
{'feature': 'revenue', 'kind': 'numeric', 'psi': 0.41, 'status': 'moved'}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

REFERENCE_VERSION = 1
"""Layout of the stored reference; a reference of another layout is treated as absent."""

THRESHOLDS: dict[str, float] = {
    # PSI above this: the feature's distribution moved; the segments may no longer mean what
    # they meant in training. 0.25 is the usual credit-scoring rule of thumb for "significant
    # shift" (Siddiqi, Credit Risk Scorecards, 2006).
    "psi_moved": 0.25,
    # PSI above this (up to psi_moved): a shift worth knowing, reported but not warned about.
    "psi_shifted": 0.10,
    # A segment's share of customers multiplied or divided by this factor or more ...
    "share_ratio": 2.0,
    # ... and changed by at least this many customers in a hundred: with a training share of
    # 2%, 4% in a batch of 100 customers is 4 customers, within chance.
    "share_min_change": 0.05,
    # Fewer customers than this: PSI and shares are noise (a decile holds 10 customers at
    # 100), so the check is skipped and says why.
    "min_customers": 100,
    # Deciles: bins from the training quantiles 0.1, 0.2, ..., 0.9.
    "bins": 10,
    # Most categories kept per feature; rarer ones are pooled into one "other" bin.
    "max_categories": 20,
    # Bin shares are floored at this before the logarithm (an empty bin would be infinite).
    "share_floor": 0.0001,
}
"""The drift check's named thresholds, with the reason for each value."""

NO_REFERENCE = (
    "this model has no training reference for drift checks (saved by an older custseg); "
    "refit to enable"
)
OTHER = "(other)"
MISSING = "(missing)"


def _numeric_values(column: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_numeric(column, errors="coerce"), dtype=np.float64)


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of ``values`` in the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)`` and, last,
    of missing values."""
    finite = ~np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[finite], side="left"), minlength=len(edges) + 1
    ).astype(np.float64)
    counts = np.append(counts, float((~finite).sum()))
    return counts / max(len(values), 1)


def _categories(column: pd.Series) -> pd.Series:
    text = column.astype(object).where(column.notna(), MISSING)
    return text.map(str)


def reference(
    features: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    labels: np.ndarray,
) -> dict[str, Any]:
    """The training reference of the drift check, as plain data (dicts, lists, floats).

    Parameters
    ----------
    features : DataFrame
        The training customers' features (one row per customer, original units).
    numeric, categorical : list of str
        The model's feature columns.
    labels : array of int
        The training customers' canonical segments (-1: noise).

    Returns
    -------
    dict
        ``version``, ``n_customers``, ``numeric`` (per feature: interior bin ``edges`` from
        the training deciles and the training ``shares`` of each bin, missing last),
        ``categorical`` (per feature: ``categories`` and their ``shares``, ``(other)`` last)
        and ``segments`` (``segment`` numbers and their ``shares``).

    Examples
    --------
    >>> ref = reference(pd.DataFrame({"x": range(100)}), ["x"], [], np.zeros(100, int))
    >>> ref["numeric"]["x"]["shares"][:3], ref["segments"]
    ([0.1, 0.1, 0.1], {'segment': [0], 'shares': [1.0]})
    """
    n = len(features)
    bins = int(THRESHOLDS["bins"])
    out: dict[str, Any] = {
        "version": REFERENCE_VERSION,
        "n_customers": n,
        "numeric": {},
        "categorical": {},
    }
    for name in numeric:
        values = _numeric_values(features[name])
        finite = values[~np.isnan(values)]
        quantiles = np.arange(1, bins) / bins
        edges = np.unique(np.quantile(finite, quantiles)) if len(finite) else np.zeros(0)
        out["numeric"][name] = {
            "edges": [float(e) for e in edges],
            "shares": [float(s) for s in _numeric_shares(values, edges)],
        }
    for name in categorical:
        counts = _categories(features[name]).value_counts(sort=True)
        keep = counts.iloc[: int(THRESHOLDS["max_categories"])]
        shares = [float(c) / max(n, 1) for c in keep]
        out["categorical"][name] = {
            "categories": [str(c) for c in keep.index],
            "shares": [*shares, max(0.0, 1.0 - sum(shares))],
        }
    segments, sizes = np.unique(np.asarray(labels, dtype=np.int64), return_counts=True)
    out["segments"] = {
        "segment": [int(s) for s in segments],
        "shares": [float(c) / max(n, 1) for c in sizes],
    }
    return out


def psi(shares: np.ndarray | list[float], training: np.ndarray | list[float]) -> float:
    """Population stability index of two sets of bin shares (floored at ``share_floor``).

    Examples
    --------
    >>> psi([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> round(psi([0.9, 0.1], [0.5, 0.5]), 3)
    0.879
    """
    floor = THRESHOLDS["share_floor"]
    a = np.maximum(np.asarray(shares, dtype=np.float64), floor)
    e = np.maximum(np.asarray(training, dtype=np.float64), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def _status(value: float) -> str:
    if value > THRESHOLDS["psi_moved"]:
        return "moved"
    if value > THRESHOLDS["psi_shifted"]:
        return "shifted"
    return "stable"


@dataclass
class DriftReport:
    """What :func:`check` found.

    Attributes
    ----------
    verdict : str
        ``"moved"`` (a feature's PSI above ``psi_moved`` or a segment's share doubled or
        halved), ``"shifted"`` (a PSI between ``psi_shifted`` and ``psi_moved``),
        ``"stable"``, ``"skipped"`` (fewer than ``min_customers`` customers) or
        ``"no_reference"`` (a model saved before custseg stored the reference).
    n_customers : int
        Customers scored.
    features : list of dict
        Per model feature: ``feature``, ``kind``, ``psi``, ``status``.
    segments : list of dict
        Per segment: ``segment``, ``segment_name``, ``training_share``, ``share``,
        ``status`` (``"moved"`` or ``"stable"``).
    reason : str or None
        Why the check was skipped.
    warnings : list of str
        One sentence per feature or segment that moved (what ``custseg predict`` prints as
        ``warning:``).
    notes : list of str
        Information that is not a warning: features that shifted, why the check was skipped.
    """

    verdict: str
    n_customers: int
    features: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the figures, the thresholds and the verdict.

        Examples
        --------
        >>> DriftReport("skipped", 3, reason="too few").to_dict()["verdict"]
        'skipped'
        """
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "n_customers": self.n_customers,
            "features": self.features,
            "segments": self.segments,
            "thresholds": dict(THRESHOLDS),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def check(
    model: Any, features: pd.DataFrame, labels: np.ndarray | pd.Series | None = None
) -> DriftReport:
    """Compare scored customers with the model's training customers.

    Parameters
    ----------
    model : SegmentModel
        The model that scored them; its ``drift_reference`` is the training side.
    features : DataFrame
        One row per scored customer with the model's feature columns in original units: what
        :meth:`SegmentModel.features_for` returns, or the table :meth:`SegmentModel.predict`
        returns (which also holds ``segment``).
    labels : array of int, optional
        The customers' segments (from :meth:`SegmentModel.assign_with_probability`); by
        default ``features["segment"]``.

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> scored = model.predict("new_orders.csv")  # doctest: +SKIP
    >>> report = check(model, scored)  # doctest: +SKIP
    >>> for message in report.warnings:  # doctest: +SKIP
    ...     print("warning:", message)
    """
    n = len(features)
    ref = getattr(model, "drift_reference", None)
    if not isinstance(ref, dict) or ref.get("version") != REFERENCE_VERSION:
        return DriftReport("no_reference", n, reason=NO_REFERENCE, notes=[NO_REFERENCE])
    minimum = int(THRESHOLDS["min_customers"])
    if n < minimum:
        reason = (
            f"drift not checked: {n:,} customer(s) scored, fewer than the {minimum:,} that "
            "distributions can be compared on"
        )
        return DriftReport("skipped", n, reason=reason, notes=[reason])
    if labels is None:
        labels = features["segment"]
    report = DriftReport("stable", n)
    moved = THRESHOLDS["psi_moved"]
    absent = [n for n in [*ref["numeric"], *ref["categorical"]] if n not in features]
    for name in absent:
        report.notes.append(
            f"feature '{name}' is not in the scored table; its drift is not checked"
        )
    for name, stored in ref["numeric"].items():
        if name not in features:
            continue
        edges = np.asarray(stored["edges"], dtype=np.float64)
        value = psi(_numeric_shares(_numeric_values(features[name]), edges), stored["shares"])
        report.features.append(_feature(name, "numeric", value))
    for name, stored in ref["categorical"].items():
        if name not in features:
            continue
        text = _categories(features[name])
        known = stored["categories"]
        counts = text.value_counts()
        shares = [float(counts.get(c, 0)) / n for c in known]
        value = psi([*shares, max(0.0, 1.0 - sum(shares))], stored["shares"])
        report.features.append(_feature(name, "categorical", value))
    for entry in report.features:
        if entry["status"] == "moved":
            report.warnings.append(
                f"feature '{entry['feature']}' moved (PSI {entry['psi']:.2f} > {moved:g}) "
                "since the model was fitted; the segments may not mean what they meant in "
                "training; refit the model"
            )
        elif entry["status"] == "shifted":
            report.notes.append(
                f"feature '{entry['feature']}' shifted a little (PSI {entry['psi']:.2f}, "
                f"{THRESHOLDS['psi_shifted']:g} to {moved:g})"
            )
    report.segments = _segments(model, ref["segments"], np.asarray(labels, dtype=np.int64))
    for entry in report.segments:
        if entry["status"] == "moved":
            ratio = entry["ratio"]
            change = "none in training" if ratio is None else f"{ratio:.2g}x its training share"
            report.warnings.append(
                f"segment {entry['segment']} '{entry['segment_name']}' holds "
                f"{entry['share']:.1%} of the customers scored against {entry['training_share']:.1%} "
                f"in training ({change}); refit the model if this is the "
                "population you now serve"
            )
    if report.warnings:
        report.verdict = "moved"
    elif any(e["status"] == "shifted" for e in report.features):
        report.verdict = "shifted"
    return report


def _feature(name: str, kind: str, value: float) -> dict[str, Any]:
    return {"feature": name, "kind": kind, "psi": round(value, 4), "status": _status(value)}


def _segments(model: Any, stored: dict[str, Any], labels: np.ndarray) -> list[dict[str, Any]]:
    """Each segment's share now and in training, flagged when it doubled or halved and moved
    by at least ``share_min_change``."""
    training = dict(zip(stored["segment"], stored["shares"], strict=True))
    now_segments, now_counts = np.unique(labels, return_counts=True)
    now = {
        int(s): float(c) / max(len(labels), 1)
        for s, c in zip(now_segments, now_counts, strict=True)
    }
    names = [*getattr(model, "segment_names", []), getattr(model, "noise_name", "Noise")]
    ratio_limit = THRESHOLDS["share_ratio"]
    out = []
    for segment in sorted(set(training) | set(now), key=lambda s: (s < 0, s)):
        before, after = float(training.get(segment, 0.0)), now.get(segment, 0.0)
        ratio = after / before if before > 0 else math.inf
        big = abs(after - before) >= THRESHOLDS["share_min_change"]
        moved = big and (ratio >= ratio_limit or ratio <= 1 / ratio_limit)
        out.append(
            {
                "segment": segment,
                "segment_name": str(names[segment]) if -1 <= segment < len(names) - 1 else "",
                "training_share": round(before, 4),
                "share": round(after, 4),
                "ratio": None if math.isinf(ratio) else round(ratio, 3),
                "status": "moved" if moved else "stable",
            }
        )
    return out
