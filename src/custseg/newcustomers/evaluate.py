"""Time-split evaluation: fit on the lines before the calibration end, forecast the horizon
after it, and compare with what happened.

Every number of ``metrics.json`` written by ``custseg forecast`` comes from
:func:`evaluate_forecast`; the command only prints and writes it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.pipeline import Pipeline

from custseg.newcustomers.data import parse_day, read_sale_lines
from custseg.newcustomers.firstpurchase import product_texts
from custseg.newcustomers.forecast import horizon_outcome
from custseg.newcustomers.models import (
    NEW_CUSTOMER_DAYS,
    NewCustomerModels,
    check_calibration_end,
    fit_models,
    parse_horizon,
    read_options,
)
from custseg.newcustomers.purchases import as_purchases

#: The forecasts compared, in the order tables show them: custseg's (BG/NBD for established
#: customers, the covariate model for new ones) and the two baselines.
FORECASTERS: dict[str, str] = {
    "custseg": "BG/NBD for customers with history; first-purchase covariate model for new ones",
    "bgnbd": "BG/NBD without covariates for everyone",
    "cohort_mean": "mean purchases per day of earlier new / established customers x days",
}
#: Columns of forecast.csv, in order.
FORECAST_COLUMNS = (
    "customer_id", "first_purchase", "is_new", "n_purchases_calibration", "revenue_calibration",
    "predicted_purchases", "predicted_revenue", "predicted_purchases_evaluated",
    "bgnbd_purchases_evaluated", "cohort_mean_purchases_evaluated", "actual_purchases",
    "predicted_revenue_evaluated", "actual_revenue", "calibration_segment", "predicted_segment", "predicted_segment_name",
    "segment_probability", "segment_at_evaluation_end",
)  # fmt: skip


@dataclass
class ForecastEvaluation:
    """Result of :func:`evaluate_forecast`: the metrics dict, one row per customer, the models."""

    metrics: dict[str, Any]
    forecast: pd.DataFrame
    models: NewCustomerModels


def _errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float | None]:
    diff = predicted - actual
    empty = len(diff) == 0
    return {
        "mae": None if empty else round(float(np.mean(np.abs(diff))), 4),
        "rmse": None if empty else round(float(np.sqrt(np.mean(diff**2))), 4),
        "predicted_total": round(float(predicted.sum()), 2),
    }


def forecast_errors(table: pd.DataFrame) -> dict[str, Any]:
    """MAE, RMSE and totals of purchases per customer for each of :data:`FORECASTERS`.

    Examples
    --------
    >>> t = pd.DataFrame({"actual_purchases": [0.0, 2.0],
    ...     "predicted_purchases_evaluated": [1.0, 1.0],
    ...     "bgnbd_purchases_evaluated": [0.0, 0.0],
    ...     "cohort_mean_purchases_evaluated": [1.0, 1.0]})
    >>> forecast_errors(t)["models"]["bgnbd"]
    {'mae': 1.0, 'rmse': 1.4142, 'predicted_total': 0.0}
    """
    actual = table["actual_purchases"].to_numpy(dtype=np.float64)
    columns = {
        "custseg": "predicted_purchases_evaluated",
        "bgnbd": "bgnbd_purchases_evaluated",
        "cohort_mean": "cohort_mean_purchases_evaluated",
    }
    return {
        "n_customers": len(table),
        "actual_total": round(float(actual.sum()), 2),
        "models": {
            name: _errors(table[col].to_numpy(dtype=np.float64), actual)
            for name, col in columns.items()
        },
    }


def classifier_scores(truth: np.ndarray, predicted: np.ndarray, majority: int) -> dict[str, Any]:
    """Accuracy and macro-F1 of the classifier and of always predicting ``majority``.

    Examples
    --------
    >>> s = classifier_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), majority=0)
    >>> s["accuracy"], s["majority_accuracy"], s["majority_macro_f1"]
    (0.75, 0.5, 0.3333)
    """
    base = np.full_like(truth, majority)
    return {
        "n_customers": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4) if len(truth) else None,
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4)
        if len(truth)
        else None,
        "majority_segment": int(majority),
        "majority_accuracy": round(float(accuracy_score(truth, base)), 4) if len(truth) else None,
        "majority_macro_f1": round(
            float(f1_score(truth, base, average="macro", zero_division=0)), 4
        )
        if len(truth)
        else None,
        "per_segment": per_segment_scores(truth, predicted),
    }


def per_segment_scores(truth: np.ndarray, predicted: np.ndarray) -> list[dict[str, Any]]:
    """Precision, recall and F1 of each segment that is true or predicted at least once.

    ``support`` counts the customers truly in the segment, ``predicted`` those the classifier
    put in it; a segment never predicted has precision 0.

    Examples
    --------
    >>> per_segment_scores(np.array([0, 1, 1]), np.array([1, 1, 1]))[1]
    {'segment': 1, 'precision': 0.6667, 'recall': 1.0, 'f1': 0.8, 'support': 2, 'predicted': 3}
    """
    labels = np.union1d(truth, predicted).astype(np.int64)
    if not len(labels):
        return []
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    return [
        {
            "segment": int(label),
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
            "predicted": int((predicted == label).sum()),
        }
        for i, label in enumerate(labels)
    ]


#: Words shown per product category in metrics.json and the report (names use the first two).
CATEGORY_TOP_WORDS = 6


def category_words(
    categories: Pipeline | None, n_words: int = CATEGORY_TOP_WORDS
) -> list[list[str]]:
    """The ``n_words`` heaviest words (or character n-grams) of each product category's centre.

    Examples
    --------
    >>> from custseg.newcustomers.firstpurchase import fit_product_categories
    >>> texts = pd.Series(["TEA MUG", "COFFEE MUG", "MUG TREE", "PAPER NAPKIN",
    ...                    "PAPER CUP", "NAPKIN RING"])
    >>> model, names = fit_product_categories(texts, "description", n_categories=2)
    >>> sorted(words[0] for words in category_words(model, 2))
    ['mug', 'paper']
    """
    if categories is None:
        return []
    terms = categories[0].get_feature_names_out()
    centres = categories[-1].cluster_centers_
    if "lsa" in categories.named_steps:
        centres = categories.named_steps["lsa"].inverse_transform(centres)
    return [[str(terms[i]).strip() for i in np.argsort(-c)[:n_words]] for c in centres]


def category_sizes(
    categories: Pipeline | None, n_categories: int, sales: pd.DataFrame
) -> list[int]:
    """How many distinct products of ``sales`` fall in each product category."""
    if categories is None or not n_categories:
        return []
    texts, _ = product_texts(sales)
    if texts.empty:
        return [0] * n_categories
    found = categories.predict(texts.to_numpy())
    return np.bincount(found, minlength=n_categories).astype(int).tolist()


def evaluate_forecast(
    source: str | Path | pd.DataFrame,
    calibration_end: str | dt.date,
    *,
    horizon: str | int = "365D",
    seed: int = 0,
    classifier: str = "logistic",
    sheet: str | None = None,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    non_product_codes: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ForecastEvaluation:
    """Fit on the lines before ``calibration_end``, forecast the horizon, compare with the data.

    New customers are those whose first purchase is at most
    :data:`~custseg.newcustomers.models.NEW_CUSTOMER_DAYS` days before the calibration end.
    When the data stops before the horizon does, the evaluation compares the days it covers
    (``metrics["evaluated_days"]``) and says so in ``metrics["warnings"]``.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        Invoice lines.
    calibration_end : str or date
        First day of the horizon (YYYY-MM-DD); lines before it are the calibration period.
    horizon : str or int
        ``365D``, ``52W``, ``12M``, ``1Y`` or a number of days.
    seed, classifier, sheet, columns, date_format, non_product_codes
        As in :func:`custseg.newcustomers.fit_new_customer_models`.
    progress : callable, optional
        Called with a label at the start of each stage.

    Returns
    -------
    ForecastEvaluation

    Raises
    ------
    InputError
        When the calibration end is not a day strictly inside the data.

    Examples
    --------
    >>> ev = evaluate_forecast("online_retail.csv", "2011-09-01", horizon="99D")  # doctest: +SKIP
    >>> ev.metrics["new_customers"]["models"]["custseg"]["mae"]  # doctest: +SKIP
    """
    total_start = time.perf_counter()
    days = parse_horizon(horizon)
    end = parse_day(calibration_end, "Calibration end")
    if progress is not None:
        progress("Reading and cleaning the lines")
    read_start = time.perf_counter()
    eval_days: list[int] = []

    def label_days(first: dt.date, last: dt.date) -> list[dt.date]:
        covered = min(days, (last - end).days + 1)
        eval_days.append(covered)
        return [end + dt.timedelta(days=covered)] if covered > 0 else []

    options = read_options(sheet, columns, date_format, non_product_codes)
    lines = read_sale_lines(source, **options, feature_days=label_days)
    check_calibration_end(lines, end, need_after=True)
    evaluated = eval_days[0]
    read_seconds = round(time.perf_counter() - read_start, 3)
    models, details = fit_models(
        lines,
        source,
        end,
        days,
        seed=seed,
        classifier=classifier,
        segment_options=options,
        progress=progress,
    )
    if progress is not None:
        progress("Comparing with what happened")
    eval_start = time.perf_counter()
    warn = [*lines.warnings, *details.warnings]
    if evaluated < days:
        warn.append(
            f"the data after the calibration end covers only {evaluated} of the {days} days of "
            f"the horizon (it ends on {lines.last_day}): the evaluation compares the first "
            f"{evaluated} days; forecast.csv's predicted_purchases cover the whole horizon"
        )
    sales = lines.line_frame
    start = pd.Timestamp(end)
    before = as_purchases(sales[sales["ts"] < start])
    table = models.forecast(before, end, days)
    window = models.forecast(before, end, evaluated)
    everything = lines.purchases if lines.purchases is not None else sales
    outcome = horizon_outcome(everything, start, evaluated).reindex(table.index, fill_value=0.0)
    eval_end = (end + dt.timedelta(days=evaluated)).isoformat()
    later = lines.features_at[eval_end]
    later = later[later["customer_id"].isin(table.index)]
    at_end = pd.Series(
        details.segment_model.assign(later), index=later["customer_id"].astype(str).to_numpy()
    )
    out = pd.DataFrame(
        {
            "customer_id": table.index,
            "first_purchase": table["first_purchase"].to_numpy(),
            "is_new": table["is_new"].to_numpy(),
            "n_purchases_calibration": table["n_purchases"].to_numpy(),
            "revenue_calibration": table["revenue"].to_numpy(),
            "predicted_purchases": table["predicted_purchases"].round(4).to_numpy(),
            "predicted_revenue": table["predicted_revenue"].round(2).to_numpy(),
            "predicted_purchases_evaluated": window["predicted_purchases"].round(4).to_numpy(),
            "bgnbd_purchases_evaluated": window["bgnbd_purchases"].round(4).to_numpy(),
            "cohort_mean_purchases_evaluated": window["cohort_mean_purchases"].round(4).to_numpy(),
            "actual_purchases": outcome["purchases"].astype(np.int64).to_numpy(),
            "actual_revenue": outcome["revenue"].round(2).to_numpy(),
            "predicted_revenue_evaluated": window["predicted_revenue"].round(2).to_numpy(),
            "calibration_segment": details.labels.reindex(table.index).astype("Int64").to_numpy(),
            "predicted_segment": table["predicted_segment"].to_numpy(),
            "predicted_segment_name": table["predicted_segment_name"].to_numpy(),
            "segment_probability": table["segment_probability"].round(4).to_numpy(),
            "segment_at_evaluation_end": at_end.reindex(table.index).astype("Int64").to_numpy(),
        }
    )[list(FORECAST_COLUMNS)]
    new = out[out["is_new"]]
    known_labels = details.labels.loc[details.known].to_numpy()
    majority = int(np.bincount(known_labels).argmax())
    scored = new[new["segment_at_evaluation_end"].notna()]
    classes = scored["segment_at_evaluation_end"].to_numpy(dtype=np.int64)
    guesses = scored["predicted_segment"].to_numpy(dtype=np.int64)
    revenue = {
        group: {
            "actual_total": round(float(part["actual_revenue"].sum()), 2),
            "predicted_total": round(float(part["predicted_revenue_evaluated"].sum()), 2),
        }
        for group, part in (("new_customers", new), ("all_customers", out))
    }
    later_firsts = sales[
        (sales["ts"] >= start)
        & ~sales["customer_id"].isin(out["customer_id"])
        & (sales["ts"] < start + pd.Timedelta(days=evaluated))
    ]["customer_id"].nunique()
    eval_seconds = round(time.perf_counter() - eval_start, 3)
    metrics: dict[str, Any] = {
        "input_file": None if isinstance(source, pd.DataFrame) else Path(source).name,
        "calibration_end": end.isoformat(),
        "data_first_day": lines.first_day.isoformat(),
        "data_last_day": lines.last_day.isoformat(),
        "horizon_days": days,
        "evaluated_days": evaluated,
        "horizon_fully_covered": evaluated >= days,
        "new_customer_days": NEW_CUSTOMER_DAYS,
        "purchase_definition": "a day with at least one kept sale line",
        "forecasters": FORECASTERS,
        "new_customers": forecast_errors(new),
        "all_customers": forecast_errors(out),
        "revenue": revenue,
        "classifier": {
            "family": classifier,
            "label": (
                f"segment at the end of the evaluated window ({eval_end}) by the calibration "
                "segmentation, for new customers; trained on customers known for over "
                f"{NEW_CUSTOMER_DAYS} days at the calibration end"
            ),
            "n_training_customers": int(details.known.size),
            "cross_validated_accuracy": None
            if details.oof_accuracy is None
            else round(details.oof_accuracy, 4),
            **classifier_scores(classes, guesses, majority),
            "used": models.classifier_used,
            "check": models.settings.get("first_purchase_check"),
        },
        "segments": {str(i): n for i, n in enumerate(models.segment_names)},
        "product_categories": {
            "source": models.category_source,
            "names": models.category_names,
            "top_words": category_words(models.categories),
            "n_products": category_sizes(
                models.categories,
                len(models.category_names),
                sales[sales["ts"] < start],
            ),
        },
        "bgnbd": _rounded(models.bgnbd),
        "gamma_gamma": _rounded(models.gamma_gamma),
        "covariate_model": {
            "fitted": models.covariate_model is not None,
            "training_window_days": details.training_window_days,
            "n_training_rows": details.n_covariate_training,
            "validation": models.settings.get("covariate_validation"),
            "covariates": models.covariates,
        },
        "counts": {
            "rows_in": lines.cleaning["rows_in"],
            "rows_kept": lines.cleaning["rows_kept"],
            "customers_in": lines.cleaning["customers_in"],
            "customers_excluded_no_kept_sale": lines.excluded_customers,
            "customers_in_calibration": len(out),
            "new_customers": len(new),
            "established_customers": int((~out["is_new"]).sum()),
            "customers_first_seen_in_horizon": int(later_firsts),
        },
        "cleaning": lines.cleaning,
        "warnings": warn,
        "seconds": {
            "read": read_seconds,
            **details.seconds,
            "evaluate": eval_seconds,
            "total": round(time.perf_counter() - total_start, 3),
        },
    }
    return ForecastEvaluation(metrics=metrics, forecast=out, models=models)


def _rounded(params: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in params.items()}
