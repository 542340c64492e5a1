"""Plain-words texts of the new-customer checks, shared by the segmentation report and the
report of ``custseg forecast``. Pure functions of the metrics dicts: they format, never
compute a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Backtest rows of fewer customers are not picked for the headline sentence: a ratio over a
#: handful of customers is noise, however far from 1.
MIN_HEADLINE_CUSTOMERS = 20


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def _amount(value: float | None, currency: str = "") -> str:
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    body = f"{abs(value):,.0f}" if abs(value) >= 100 else f"{abs(value):,.2f}"
    return f"{sign}{currency}{body}"


def classifier_verdict(check: Mapping[str, Any], names: Mapping[int, str]) -> str:
    """One sentence: does the first purchase predict the segment here, and on what test.

    Examples
    --------
    >>> check = {"method": "time split", "cut_date": "2011-06-01", "n_train": 900,
    ...          "n_test": 300, "accuracy": 0.31, "majority_segment": 1,
    ...          "majority_accuracy": 0.47, "macro_f1": 0.25, "majority_macro_f1": 0.13,
    ...          "used": False, "reason": "..."}
    >>> classifier_verdict(check, {1: "Loyal"})[:60]
    'The first purchase does not predict the segment here. Tested'
    """
    if check.get("method") is None:
        return (
            "The first purchase is not used to predict the segment here: "
            f"{check.get('reason', 'it could not be checked')}."
        )
    majority = names.get(int(check["majority_segment"]), str(check["majority_segment"]))
    if check["method"] == "time split":
        test = (
            f"Tested on the {check['n_test']:,} customers who first bought on or after "
            f"{check['cut_date']}, after learning from the {check['n_train']:,} before them"
        )
    else:
        test = (
            f"Tested by cross-validation grouped by first-purchase week on "
            f"{check['n_test']:,} customers (their first purchases are too close together in "
            "time to test on later customers)"
        )
    scores = (
        f"the segment predicted from the first purchase was right for "
        f"{_share(check['accuracy'])} of them; always answering the most common segment "
        f"({majority}) was right for {_share(check['majority_accuracy'])} "
        f"(macro-F1 {check['macro_f1']:.2f} against {check['majority_macro_f1']:.2f})"
    )
    if check["used"]:
        return (
            f"The first purchase predicts the segment here. {test}, {scores}. "
            "Treat the predicted segment as a first guess to refine as the customer buys again."
        )
    return (
        f"The first purchase does not predict the segment here. {test}, {scores}. "
        "So segments.csv does not guess from the first purchase: for one-time buyers it gives "
        f"the most common segment ({majority}) and, as its probability, that segment's share "
        "of the customers."
    )


def backtest_section(
    backtest: Mapping[str, Any] | None, currency: str = ""
) -> dict[str, Any] | None:
    """Rows (formatted, amounts with ``currency`` before them) and sentences of the forecast
    backtest for a report.

    Examples
    --------
    >>> backtest_section({"done": False, "reason": "the data covers 90 days"})
    {'done': False, 'reason': 'the data covers 90 days'}
    """
    if not backtest:
        return None
    if not backtest.get("done"):
        return {"done": False, "reason": str(backtest.get("reason") or "")}

    def ratio(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    def fmt(row: Mapping[str, Any]) -> dict[str, str]:
        return {
            "customers": f"{row['customers']:,}",
            "purchases_forecast": f"{row['forecast_purchases_each']:.2f}",
            "purchases_actual": f"{row['actual_purchases_each']:.2f}",
            "purchases_ratio": ratio(row["purchases_ratio"]),
            "revenue_forecast": _amount(row["forecast_revenue_total"], currency),
            "revenue_actual": _amount(row["actual_revenue_total"], currency),
            "revenue_ratio": ratio(row["revenue_ratio"]),
        }

    rows = [{"segment": r["segment"], "name": r["name"], **fmt(r)} for r in backtest["rows"]]
    total = backtest["total"]
    sentences = [
        f"Fitted on the data before {backtest['start']}, the forecast of the next "
        f"{backtest['days']} days ({backtest['period']}) is compared with what the customers "
        f"did up to {backtest['end']}.",
    ]

    def off_by(row: Mapping[str, Any]) -> float:
        forecast, actual = row["forecast_purchases_each"], row["actual_purchases_each"]
        return abs(math.log((forecast + 0.01) / (actual + 0.01)))

    candidates = [r for r in backtest["rows"] if r["customers"] >= MIN_HEADLINE_CUSTOMERS]
    if candidates:
        worst = max(candidates, key=off_by)
        sentences.append(
            f"Last period, the forecast for {worst['name']} was "
            f"{worst['forecast_purchases_each']:.2f} purchases per customer; they made "
            f"{worst['actual_purchases_each']:.2f}."
        )
    sentences.append(
        f"Over all {total['customers']:,} customers the forecast was "
        f"{_amount(total['forecast_purchases_total'])} purchases and "
        f"{_amount(total['forecast_revenue_total'], currency)} of revenue; they made "
        f"{_amount(total['actual_purchases_total'])} purchases and "
        f"{_amount(total['actual_revenue_total'], currency)}."
    )
    coverage = backtest.get("segment_coverage")
    if backtest.get("by_segment", True):
        grouping = (
            "Customers are grouped by the segment their purchase history at the start points "
            "to (a decision tree that learned today's segments from today's histories gives "
            f"{_share(backtest['segment_agreement'])} of today's customers their own segment"
            + (
                f", and {_share(coverage)} of the histories at the start lie within the range "
                "of the segment it gives them"
                if coverage is not None
                else ""
            )
            + ")"
        )
    else:
        grouping = (
            "The backtest is not shown per segment: the segments a decision tree trained on "
            "today's segments gives the purchase histories at the start are far from today's "
            f"mix ({_share(backtest.get('segment_shift') or 0.0)} of the customers would have "
            "to change segment to match it, more than half), and only "
            f"{_share(coverage or 0.0)} of those histories lie within the range of the segment "
            "they are given: the tree extrapolates, so grouping by it would be a guess "
            "(typically when the customers started together and were all younger a period "
            "ago than any customer today)"
        )
    sentences.append(
        f"{grouping}; the {backtest['customers_first_seen']:,} customers who first bought "
        "during the period were not there to forecast. The backtest refits BG/NBD and "
        "Gamma-Gamma only, not the first-purchase model of new customers."
    )
    return {
        "done": True,
        "days": str(backtest["days"]),
        "rows": rows,
        "total": fmt(total),
        "sentences": sentences,
    }


TRUSTED_RATIO = (0.8, 1.25)
"""A backtest whose forecast of revenue over all customers was within these times what
happened is not called out in the report's "How far to trust it"."""


def backtest_verdict(backtest: Mapping[str, Any] | None) -> str | None:
    """One sentence for "How far to trust it" when the backtest's revenue forecast was far
    from what happened (outside :data:`TRUSTED_RATIO` over all customers), else None.

    Examples
    --------
    >>> row = {"name": "Big spenders", "customers": 90, "revenue_ratio": 2.01}
    >>> backtest_verdict({"done": True, "total": {"revenue_ratio": 1.69}, "rows": [row]})
    'Last period the forecast of revenue was 1.69 times what the customers brought (2.01 times for Big spenders): read the revenue forecast as an upper bound.'
    """
    if not backtest or not backtest.get("done"):
        return None
    ratio = backtest["total"].get("revenue_ratio")
    low, high = TRUSTED_RATIO
    if ratio is None or low <= ratio <= high:
        return None
    over = ratio > high
    rows = [
        r
        for r in backtest.get("rows") or []
        if r.get("revenue_ratio") is not None and r["customers"] >= MIN_HEADLINE_CUSTOMERS
    ]
    worst = (max if over else min)(rows, key=lambda r: r["revenue_ratio"], default=None)
    detail = (
        f" ({worst['revenue_ratio']:.2f} times for {worst['name']})"
        if worst is not None
        and (worst["revenue_ratio"] > ratio if over else worst["revenue_ratio"] < ratio)
        else ""
    )
    bound = "an upper bound" if over else "a lower bound"
    return (
        f"Last period the forecast of revenue was {ratio:.2f} times what the customers "
        f"brought{detail}: read the revenue forecast as {bound}."
    )
