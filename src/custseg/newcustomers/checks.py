"""Checks that decide whether a new-customer prediction is shown as one.

- :func:`check_first_purchase_classifier`: does the first purchase predict the segment better
  than always answering the most common segment? Trained on the customers who first bought
  before a cut date, scored on the later ones (a time split: the classifier is used on
  customers who arrive after it was fitted). Only when no such split can be made, a
  cross-validation grouped by first-purchase week stands in, and the result says so.
- :func:`backtest_forecast`: the purchase forecast fitted on the data up to an earlier day,
  against what customers actually did after that day, per segment and in total.

Both return plain dicts (numbers and text) for ``metrics.json`` and the saved model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from custseg.newcustomers.forecast import (
    bgnbd_expected_purchases,
    fit_history,
    history_codes,
    outcome_by_code,
    purchase_history,
    sample_positions,
)
from custseg.newcustomers.purchases import CustomerPurchases, as_purchases

#: Share of the customers, the latest to arrive, that the time split tests on: a quarter keeps
#: most of the customers for training and still scores a few hundred on a shop's year.
CHECK_TEST_SHARE = 0.25
#: Fewest customers either side of the split (and per fold of the fallback): an accuracy
#: measured on fewer is too noisy to decide anything (its standard error is over 0.09).
MIN_CHECK_CUSTOMERS = 30
#: The classifier is used only when its accuracy beats always answering the training
#: customers' most common segment by this many points, or by ACCURACY_STANDARD_ERRORS standard
#: errors of that majority accuracy on the test customers, whichever is larger: a gain smaller
#: than the noise of the test is no gain. Accuracy is the criterion because the column a
#: marketer reads is "the segment this customer will be in": if the majority answer is right
#: more often, the classifier's answer misleads.
MIN_ACCURACY_GAIN = 0.02
ACCURACY_STANDARD_ERRORS = 2.0
#: ...and only when its macro-F1 beats the majority answer's by this much: a classifier that
#: wins on accuracy by answering the big segment almost always has learned nothing about the
#: others. 0.10 is "clearly": the majority answer's macro-F1 is about 0.1 to 0.2 for 3 to 6
#: segments, and a first purchase that carries the segment lifts it well above 0.5.
MIN_MACRO_F1_GAIN = 0.10
#: Folds of the grouped cross-validation used when no time split can be made.
CHECK_CV_FOLDS = 3
#: The forecast is backtested over the forecast horizon when the data is long enough, and
#: otherwise over the longest period that leaves this much history to fit on: half a year,
#: two new-customer quarters, so that BG/NBD sees repeat purchases of most customers.
MIN_BACKTEST_HISTORY_DAYS = 180
#: No backtest over fewer days: a month is the shortest period whose purchases say anything
#: about a yearly forecast.
MIN_BACKTEST_DAYS = 28
#: Depth of the tree that gives each customer, from their purchase history at the backtest
#: start, the segment that history points to (see :func:`history_segments`).
HISTORY_TREE_DEPTH = 8
#: Largest change of the segment mix (total-variation distance between today's segment
#: shares and those the history tree gives the customers at the backtest start) for the
#: backtest to be shown per segment. A customer base does not change half its mix in one
#: period; a tree that does is extrapolating from histories unlike any it learned from. On a
#: SaaS export whose 1,000 accounts all started within eight months the tree put every
#: account in "Lost customers" a year earlier (a shift of 0.72: every account then had fewer
#: invoices than any account today), while "agreeing" with 99.6% of today's customers; on
#: the demo the shift is 0.24, on the planted generator 0.33 (its newest segment had not
#: arrived yet).
MAX_SEGMENT_SHIFT = 0.5


def check_first_purchase_classifier(
    make_classifier: Callable[[], Pipeline],
    features: pd.DataFrame,
    labels: np.ndarray,
    first_day: pd.Series,
) -> dict[str, Any]:
    """Score the first-purchase classifier against the majority answer on later customers.

    Parameters
    ----------
    make_classifier : callable
        Returns a fresh, unfitted classifier.
    features : pandas.DataFrame
        First-purchase features of the customers with a known segment.
    labels : numpy.ndarray
        Their segment numbers.
    first_day : pandas.Series
        Their first purchase day (same order).

    Returns
    -------
    dict
        ``method`` (``"time split"``, ``"grouped cross-validation"`` or ``None``),
        ``cut_date``, ``n_train``, ``n_test``, ``accuracy``, ``majority_segment``,
        ``majority_accuracy``, ``accuracy_margin``, ``macro_f1``, ``majority_macro_f1``,
        ``used`` and ``reason`` (a sentence).

    Examples
    --------
    >>> check = check_first_purchase_classifier(make, feats, y, first)  # doctest: +SKIP
    >>> check["used"], check["reason"]  # doctest: +SKIP
    (False, 'accuracy 0.35 is below the majority answer's 0.47 + 0.03 ...')
    """
    labels = np.asarray(labels, dtype=np.int64)
    days = pd.to_datetime(pd.Series(np.asarray(first_day))).dt.normalize().to_numpy()
    order = np.argsort(days, kind="stable")
    cut = days[order[int(len(days) * (1 - CHECK_TEST_SHARE))]] if len(days) else None
    test = days >= cut if cut is not None else np.zeros(0, dtype=bool)
    if (
        cut is not None
        and MIN_CHECK_CUSTOMERS <= test.sum() <= len(days) - MIN_CHECK_CUSTOMERS
        and len(np.unique(labels[~test])) >= 2
    ):
        predicted = make_classifier().fit(features[~test], labels[~test]).predict(features[test])
        majority = int(np.bincount(labels[~test]).argmax())
        truth = labels[test]
        result = {
            "method": "time split",
            "cut_date": str(pd.Timestamp(cut).date()),
            "n_train": int((~test).sum()),
            "n_test": int(test.sum()),
        }
    else:
        weeks = (
            (days - days.min()).astype("timedelta64[D]").astype(np.int64) // 7
            if len(days)
            else days
        )
        n_groups = len(np.unique(weeks))
        if n_groups < CHECK_CV_FOLDS or len(labels) < CHECK_CV_FOLDS * MIN_CHECK_CUSTOMERS:
            return {
                "method": None,
                "n_train": int(len(labels)),
                "n_test": 0,
                "used": False,
                "reason": (
                    f"it could not be checked: {len(labels)} customers with a known segment, "
                    f"first purchases in {n_groups} week(s); a check needs "
                    f"{CHECK_CV_FOLDS * MIN_CHECK_CUSTOMERS} customers over "
                    f"{CHECK_CV_FOLDS} weeks or more"
                ),
            }
        predicted = np.empty_like(labels)
        baseline = np.empty_like(labels)
        for train, held in GroupKFold(n_splits=CHECK_CV_FOLDS).split(features, labels, weeks):
            if len(np.unique(labels[train])) < 2:
                predicted[held] = labels[train][0]
            else:
                predicted[held] = (
                    make_classifier()
                    .fit(features.iloc[train], labels[train])
                    .predict(features.iloc[held])
                )
            baseline[held] = np.bincount(labels[train]).argmax()
        truth = labels
        majority = int(np.bincount(labels).argmax())
        result = {
            "method": "grouped cross-validation",
            "cut_date": None,
            "n_train": int(len(labels)),
            "n_test": int(len(labels)),
            "why_not_time_split": (
                "the first purchases are too close together in time to test on later "
                f"customers (at least {MIN_CHECK_CUSTOMERS} customers each side are needed); "
                f"{CHECK_CV_FOLDS}-fold cross-validation grouped by first-purchase week instead"
            ),
        }
        return {**result, **_verdict(truth, predicted, baseline, majority)}
    return {**result, **_verdict(truth, predicted, np.full_like(truth, majority), majority)}


def accuracy_margin(majority_accuracy: float, n_customers: int) -> float:
    """How far the classifier's accuracy must beat the majority answer's: at least
    :data:`MIN_ACCURACY_GAIN`, and :data:`ACCURACY_STANDARD_ERRORS` standard errors of the
    majority accuracy on ``n_customers``.

    Examples
    --------
    >>> accuracy_margin(0.5, 10_000), round(accuracy_margin(0.5, 100), 3)
    (0.02, 0.1)
    """
    noise = ACCURACY_STANDARD_ERRORS * np.sqrt(
        majority_accuracy * (1 - majority_accuracy) / max(n_customers, 1)
    )
    return float(max(MIN_ACCURACY_GAIN, noise))


def beats_majority(scores: dict[str, Any]) -> bool:
    """The rule of :func:`check_first_purchase_classifier` applied to scores with
    ``accuracy``, ``majority_accuracy``, ``macro_f1``, ``majority_macro_f1``, ``n_customers``.

    Examples
    --------
    >>> beats_majority({"accuracy": 0.25, "majority_accuracy": 0.52, "macro_f1": 0.2,
    ...                 "majority_macro_f1": 0.14, "n_customers": 500})
    False
    """
    if scores.get("accuracy") is None:
        return False
    margin = accuracy_margin(scores["majority_accuracy"], scores["n_customers"])
    return bool(
        scores["accuracy"] >= scores["majority_accuracy"] + margin
        and scores["macro_f1"] >= scores["majority_macro_f1"] + MIN_MACRO_F1_GAIN
    )


def _verdict(
    truth: np.ndarray, predicted: np.ndarray, baseline: np.ndarray, majority: int
) -> dict[str, Any]:
    accuracy = float(accuracy_score(truth, predicted))
    majority_accuracy = float(accuracy_score(truth, baseline))
    macro_f1 = float(f1_score(truth, predicted, average="macro", zero_division=0))
    majority_f1 = float(f1_score(truth, baseline, average="macro", zero_division=0))
    margin = accuracy_margin(majority_accuracy, len(truth))
    wins_accuracy = accuracy >= majority_accuracy + margin
    wins_f1 = macro_f1 >= majority_f1 + MIN_MACRO_F1_GAIN
    if wins_accuracy and wins_f1:
        reason = (
            f"accuracy {accuracy:.3f} beats the majority answer's {majority_accuracy:.3f} by "
            f"at least {margin:.3f}, and macro-F1 {macro_f1:.3f} beats its {majority_f1:.3f} "
            f"by at least {MIN_MACRO_F1_GAIN:.2f}"
        )
    elif not wins_accuracy:
        reason = (
            f"accuracy {accuracy:.3f} against {majority_accuracy:.3f} for always answering the "
            f"most common segment: it needs {majority_accuracy + margin:.3f} or more"
        )
    else:
        reason = (
            f"macro-F1 {macro_f1:.3f} against {majority_f1:.3f} for always answering the most "
            f"common segment: it needs {majority_f1 + MIN_MACRO_F1_GAIN:.3f} or more"
        )
    return {
        "accuracy": round(accuracy, 4),
        "majority_segment": int(majority),
        "majority_accuracy": round(majority_accuracy, 4),
        "accuracy_margin": round(margin, 4),
        "macro_f1": round(macro_f1, 4),
        "majority_macro_f1": round(majority_f1, 4),
        "used": bool(wins_accuracy and wins_f1),
        "reason": reason,
    }


def backtest_days(span_days: int, horizon_days: int) -> tuple[int, str]:
    """Length of the backtest period, and why: the horizon when the data leaves
    :data:`MIN_BACKTEST_HISTORY_DAYS` of history before it, else the longest period that does
    (0 when that is shorter than :data:`MIN_BACKTEST_DAYS`).

    Examples
    --------
    >>> backtest_days(546, 365)
    (365, 'the forecast horizon')
    >>> backtest_days(374, 365)[0]
    194
    """
    if span_days - horizon_days >= MIN_BACKTEST_HISTORY_DAYS:
        return horizon_days, "the forecast horizon"
    days = span_days - MIN_BACKTEST_HISTORY_DAYS
    if days < MIN_BACKTEST_DAYS:
        return 0, ""
    return days, (
        f"the longest period that leaves {MIN_BACKTEST_HISTORY_DAYS} days of history to fit "
        f"on (the data covers {span_days} days, fewer than the {horizon_days}-day horizon plus "
        f"{MIN_BACKTEST_HISTORY_DAYS})"
    )


def _history_inputs(history: pd.DataFrame) -> np.ndarray:
    n = history["n_purchases"].to_numpy()
    return np.column_stack(
        [
            np.log1p(n),
            history["T"].to_numpy() - history["t_x"].to_numpy(),
            history["T"].to_numpy(),
            np.log1p(np.maximum(history["revenue"].to_numpy(), 0.0)),
            np.log1p(np.maximum(history["revenue"].to_numpy(), 0.0) / np.maximum(n, 1)),
        ]
    )


def history_segments(
    now: pd.DataFrame, labels: pd.Series, then: pd.DataFrame, *, seed: int = 0
) -> tuple[np.ndarray, float, float]:
    """The segment each customer's purchase history at an earlier day points to.

    A customer's segment *today* is partly made of what they did in the backtest period (a
    "lost" customer made no purchase in it, by definition), so grouping the backtest by it
    would compare each forecast with its own answer. Instead a decision tree learns today's
    segments from the purchase-history summary today (purchases, days since the last and the
    first, revenue, mean purchase value), and gives each customer the segment their summary
    at the backtest start points to.

    Returns
    -------
    segments : numpy.ndarray
        One per row of ``then``.
    agreement : float
        Share of today's customers the tree gives their own segment.
    coverage : float
        Share of the rows of ``then`` whose summary lies within the range of today's
        customers of the segment they are given (every input between its smallest and
        largest value there); the rest are placed by extrapolation.

    Examples
    --------
    >>> segs, agreement, coverage = history_segments(h_now, labels, h_then)  # doctest: +SKIP

    The tree learns from a seeded sample of at most
    :data:`~custseg.newcustomers.forecast.MAX_FIT_CUSTOMERS` customers; ``agreement`` is
    measured on them.
    """
    # Rows by position: one lookup of every customer, not one per use (a million ids).
    segment_of = labels.reindex(now.index).to_numpy(dtype=np.float64)
    known = np.flatnonzero(~np.isnan(segment_of))
    known = known[sample_positions(len(known), seed=seed)]
    tree = DecisionTreeClassifier(
        max_depth=HISTORY_TREE_DEPTH, min_samples_leaf=5, random_state=seed
    )
    y = segment_of[known].astype(np.int64)
    inputs = _history_inputs(now.iloc[known])
    tree.fit(inputs, y)
    agreement = float(np.mean(tree.predict(inputs) == y))
    then_inputs = _history_inputs(then)
    segments = tree.predict(then_inputs).astype(np.int64) if len(then) else np.zeros(0, np.int64)
    inside = np.zeros(len(segments), dtype=bool)
    for seg in np.unique(segments):
        ref = inputs[y == seg]
        rows = segments == seg
        inside[rows] = (
            (then_inputs[rows] >= ref.min(axis=0)) & (then_inputs[rows] <= ref.max(axis=0))
        ).all(axis=1)
    coverage = float(inside.mean()) if len(inside) else 0.0
    return segments, agreement, coverage


def _mix_shift(today: np.ndarray, then: np.ndarray) -> float:
    """Total-variation distance between two segment mixes (0 the same shares, 1 disjoint).

    Examples
    --------
    >>> _mix_shift(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    0.25
    """
    if not len(today) or not len(then):
        return 0.0
    size = int(max(today.max(), then.max())) + 2
    a = np.bincount(today + 1, minlength=size) / len(today)
    b = np.bincount(then + 1, minlength=size) / len(then)
    return float(0.5 * np.abs(a - b).sum())


def _ratio(forecast: float, actual: float) -> float | None:
    return round(forecast / actual, 3) if actual > 0 else None


def backtest_forecast(
    sales: pd.DataFrame | CustomerPurchases,
    labels: pd.Series,
    segment_names: list[str],
    end: pd.Timestamp,
    horizon_days: int,
    first_day: pd.Timestamp,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma on the lines before ``end - days``, forecast the next
    ``days`` and compare with what happened, per segment and in total.

    Parameters
    ----------
    sales : pandas.DataFrame or CustomerPurchases
        Kept sale lines (``customer_id``, ``ts``, ``amount``), or their summary.
    labels : pandas.Series
        Segment of each customer today (index ``customer_id``; -1 for noise).
    segment_names : list of str
    end : pandas.Timestamp
        The analysis date (first day after the data used).
    horizon_days : int
        The forecast horizon.
    first_day : pandas.Timestamp
        First day of the data.

    Returns
    -------
    dict
        ``done`` (and ``reason`` when not), ``days``, ``period`` (why that length),
        ``start``, ``end``, ``segment_agreement`` and ``segment_coverage`` (see
        :func:`history_segments`), ``segment_shift`` (how far the segment mix at the start is
        from today's), ``by_segment`` (whether that shift is at most
        :data:`MAX_SEGMENT_SHIFT`), ``rows`` (per segment, empty when not ``by_segment``:
        ``segment``, ``name``, ``customers``, forecast and actual ``purchases`` and
        ``revenue``, per customer and total, ``purchases_ratio`` and ``revenue_ratio`` =
        forecast / actual), ``total`` (the same over all customers) and
        ``customers_first_seen`` (customers who first bought in the period: not forecast).

    Examples
    --------
    >>> backtest_forecast(lines.sales, labels, names, end, 365, first)["total"]  # doctest: +SKIP
    """
    days, period = backtest_days(int((end - first_day).days), int(horizon_days))
    if not days:
        return {
            "done": False,
            "reason": (
                f"the data covers {(end - first_day).days} days, fewer than the "
                f"{MIN_BACKTEST_HISTORY_DAYS + MIN_BACKTEST_DAYS} a backtest needs"
            ),
        }
    start = end - pd.Timedelta(days=days)
    sales = as_purchases(sales)
    then = purchase_history(sales, start)
    bg, gg = fit_history(then, seed=seed)
    from custseg.newcustomers.models import expected_spend

    purchases = bgnbd_expected_purchases(bg, days, then["x"], then["t_x"], then["T"])
    revenue = purchases * expected_spend(gg, then)
    bought, spent = outcome_by_code(sales, start, days)
    then_codes = history_codes(sales, start)
    actual = {"purchases": bought[then_codes], "revenue": spent[then_codes]}
    now = purchase_history(sales, end)
    segments, agreement, coverage = history_segments(now, labels, then, seed=seed)
    frame = pd.DataFrame(
        {
            "segment": segments,
            "forecast_purchases": purchases,
            "actual_purchases": actual["purchases"],
            "forecast_revenue": revenue,
            "actual_revenue": actual["revenue"],
        }
    )

    def row(part: pd.DataFrame) -> dict[str, Any]:
        # Per customer and total, forecast and actual, and forecast / actual.
        n = len(part)
        sums = {c: float(part[c].sum()) for c in part.columns if c != "segment"}
        return {
            "customers": int(n),
            **{f"{c}_total": round(v, 2) for c, v in sums.items()},
            **{f"{c}_each": round(v / n, 4) if n else None for c, v in sums.items()},
            "purchases_ratio": _ratio(sums["forecast_purchases"], sums["actual_purchases"]),
            "revenue_ratio": _ratio(sums["forecast_revenue"], sums["actual_revenue"]),
        }

    rows = []
    today = labels.reindex(now.index).dropna().astype(np.int64).to_numpy()
    shift = _mix_shift(today, segments)
    by_segment = shift <= MAX_SEGMENT_SHIFT
    for seg in sorted(int(s) for s in np.unique(segments)) if by_segment else []:
        name = segment_names[seg] if 0 <= seg < len(segment_names) else "Noise"
        rows.append({"segment": seg, "name": name, **row(frame[frame["segment"] == seg])})
    return {
        "done": True,
        "days": int(days),
        "period": period,
        "start": str(start.date()),
        "end": str((end - pd.Timedelta(days=1)).date()),
        "model": "BG/NBD and Gamma-Gamma refitted on the lines before the start",
        "segment_agreement": round(agreement, 4),
        "segment_coverage": round(coverage, 4),
        "segment_shift": round(shift, 4),
        "by_segment": bool(by_segment),
        "rows": rows,
        "total": row(frame),
        "customers_first_seen": int((now["first_day"] >= start).sum()),
    }
