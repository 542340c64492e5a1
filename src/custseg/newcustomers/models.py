"""Fitting the new-customer models, and the object that holds them.

:class:`NewCustomerModels` keeps only plain scikit-learn estimators, NumPy arrays, lists and
dicts of numbers and text, so it pickles and saves with skops (see :data:`SKOPS_TRUSTED_TYPES`).
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from custseg.errors import CustsegWarning, InputError
from custseg.models._threads import limit
from custseg.newcustomers.checks import backtest_forecast, check_first_purchase_classifier
from custseg.newcustomers.classifier import CLASSIFIERS, make_classifier, tree_columns
from custseg.newcustomers.data import SaleLines, parse_day, read_sale_lines
from custseg.newcustomers.firstpurchase import (
    N_PRODUCT_CATEGORIES,
    feature_names,
    first_purchase_features,
    fit_product_categories,
    product_texts,
)
from custseg.newcustomers.forecast import (
    MAX_FIT_CUSTOMERS,
    bgnbd_expected_purchases,
    fit_bgnbd,
    fit_history,
    fit_notes,
    gamma_gamma_expected_value,
    history_codes,
    horizon_outcome,
    outcome_by_code,
    purchase_history,
    sample_positions,
)
from custseg.newcustomers.purchases import CustomerPurchases, as_purchases

#: A customer is *new* when their first purchase is at most this many days before the end of
#: the data: a quarter, long enough to gather a cohort of a size worth evaluating, short enough
#: that such customers have made at most a purchase or two, so that the buy-till-you-die model
#: knows little about them. It is also how long a customer must have been known for their
#: segment to count as known when the classifier is trained.
NEW_CUSTOMER_DAYS = 90
#: The clustering family used to label customers with their segment at the calibration end:
#: k-means is fast (seconds on the 4,300 customers of Online Retail) and gives every customer
#: a segment (no noise points to leave out).
SEGMENT_ALGORITHM = "kmeans"
#: Folds of the out-of-fold segment probabilities the covariate model learns from. Two folds
#: cost two fits on half the customers each (three cost three on two thirds, twice the work);
#: the probabilities only need to come from a model that did not see the customer.
OOF_FOLDS = 2
#: Customers (with a known segment) the first-purchase classifier learns from and is checked
#: on, at most: a seeded sample. Its time-split check then tests on 2,500 customers, where two
#: standard errors of the majority answer's accuracy are at most 0.02, the smallest margin
#: the check asks for anyway (:data:`~custseg.newcustomers.checks.MIN_ACCURACY_GAIN`); more
#: customers would make the fits slower without making the check any stricter.
MAX_CLASSIFIER_CUSTOMERS = 10_000
#: Longest window the covariate model learns purchase counts over. It learns a new
#: customer's level, and BG/NBD's curve carries that level to longer horizons; windows of
#: about a quarter keep the cohorts recent and let three of them fit in a short calibration
#: period. With 184-day windows (a 365-day horizon from 2011-09-01 on Online Retail) the model
#: lost to plain BG/NBD on earlier cohorts and was not used; with 120 it wins there and on the
#: later cohort (docs/new-customers.md).
MAX_TRAINING_WINDOW_DAYS = 120
#: Earlier cuts the covariate model learns from, ORIGIN_STEP_DAYS apart: several cohorts
#: instead of one make it depend less on the season of a single window.
TRAINING_ORIGINS = 3
ORIGIN_STEP_DAYS = 30
#: Folds of the check that the covariate model beats plain BG/NBD on the earlier cohorts
#: (out-of-fold MAE); when it does not, new customers get plain BG/NBD. Two folds score every
#: row out of fold with two fits (each boosting fit costs about the same at a few hundred or
#: a few thousand rows: its 150 rounds dominate).
VALIDATION_FOLDS = 2
#: Floor of a BG/NBD expectation used as a divisor.
MIN_EXPECTED = 1e-6
#: Default forecast horizon, in days.
DEFAULT_HORIZON_DAYS = 365
#: The covariate model needs a window of at least this many days before the calibration end
#: to learn what earlier new cohorts did next; with less, new customers get plain BG/NBD.
MIN_TRAINING_WINDOW_DAYS = 28
#: Poisson-loss boosting of new customers' purchases in the training window: few shallow
#: trees and large leaves, because a cohort is a few hundred customers.
COVARIATE_PARAMS: dict[str, Any] = {
    "loss": "poisson",
    "max_iter": 150,
    "learning_rate": 0.03,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "max_bins": 32,
    "early_stopping": False,
}
#: Horizon units: ``D`` days, ``W`` weeks, ``M`` months of 365/12 days (rounded), ``Y`` years
#: of 365 days. A bare number is days.
HORIZON_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.0 / 12.0, "Y": 365.0}
#: Types a skops file holding :class:`NewCustomerModels` must trust beyond skops' defaults.
#: Beyond the container, only scikit-learn's own tree arrays of the boosted models and data
#: types; the classifier, text model and scalers are on skops' default list.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    "custseg.newcustomers.models.NewCustomerModels",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "numpy.dtype",
    "functools.partial",
    "sklearn.utils.validation.check_array",
)


def parse_horizon(value: str | int) -> int:
    """Days in a horizon written as ``365D``, ``52W``, ``12M``, ``1Y`` or ``365``.

    Examples
    --------
    >>> parse_horizon("365D"), parse_horizon("99"), parse_horizon("12M"), parse_horizon("1y")
    (365, 99, 365, 365)
    """
    text = str(value).strip().upper()
    unit = text[-1:] if text[-1:] in HORIZON_UNITS else "D"
    number = text[:-1] if text[-1:] in HORIZON_UNITS else text
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    days = int(round(amount * HORIZON_UNITS[unit]))
    if amount <= 0 or days < 1:
        raise InputError(
            f"--horizon {value!r} is not a length of time. Write a number of days, weeks, "
            "months or years such as 365D, 52W, 12M or 1Y (a bare number is days)."
        )
    return days


@dataclass
class NewCustomerModels:
    """Fitted models that forecast purchases and, from a first purchase, predict the segment.

    Attributes
    ----------
    categories : Pipeline or None
        TF-IDF -> LSA -> k-means on product texts (``None`` without products/descriptions).
    category_names : list of str
    category_source : {"description", "product"} or None
    classifier : Pipeline
        First-purchase features -> segment number.
    segment_names : list of str
        Name of each segment number of the calibration segmentation.
    bgnbd : dict
        BG/NBD parameters (``r``, ``alpha``, ``a``, ``b``; days) at the calibration end.
    gamma_gamma : dict
        Gamma-Gamma parameters of the value of a purchase.
    covariate_model : Pipeline or None
        New customers' purchases over the training window, from first-purchase features,
        segment probabilities, ``x, t_x, T`` and BG/NBD's expectation (Poisson boosting).
    numeric, categorical : list of str
        First-purchase features the classifier reads.
    covariates : list of str
        Columns the covariate model reads (first-purchase features, ``segment_probability_<k>``,
        ``x``, ``t_x``, ``T``, ``bgnbd_expected``, then ``country``), in order.
    cohort_rates : dict
        Baseline: mean purchases and revenue per customer per day of earlier ``new`` and
        ``established`` cohorts.
    settings : dict
        Calibration end, horizon, new-customer window, training window, flags.

    Examples
    --------
    >>> models = fit_new_customer_models("orders.csv")  # doctest: +SKIP
    >>> models.forecast(lines.sales, "2012-01-01")[["predicted_purchases"]]  # doctest: +SKIP
    """

    categories: Pipeline | None
    category_names: list[str]
    category_source: str | None
    classifier: Pipeline
    segment_names: list[str]
    bgnbd: dict[str, Any]
    gamma_gamma: dict[str, Any]
    covariate_model: Pipeline | None
    numeric: list[str]
    categorical: list[str]
    covariates: list[str]
    cohort_rates: dict[str, dict[str, float]]
    settings: dict[str, Any] = field(default_factory=dict)

    def first_purchase_features(self, sales: pd.DataFrame | CustomerPurchases) -> pd.DataFrame:
        """First-purchase features of each customer in ``sales``, as the models read them."""
        feats = first_purchase_features(
            sales,
            categories=self.categories,
            category_names=self.category_names,
            category_source=self.category_source,
            with_hour="first_hour" in self.numeric,
            with_country="country" in self.categorical,
        )
        for col in self.numeric:
            if col not in feats:
                feats[col] = 0.0
        for col in self.categorical:
            if col not in feats:
                feats[col] = "unknown"
        return feats[self.numeric + self.categorical]

    def segment_probabilities(self, features: pd.DataFrame) -> pd.DataFrame:
        """Probability of every segment, one column ``segment_probability_<k>`` each."""
        proba = self.classifier.predict_proba(features)
        return _proba_frame(
            proba, self.classifier.classes_, len(self.segment_names), features.index
        )

    def forecast(
        self,
        sales: pd.DataFrame | CustomerPurchases,
        end: str | dt.date,
        horizon_days: int | None = None,
    ) -> pd.DataFrame:
        """Forecast every customer of ``sales`` over the horizon that starts at ``end``.

        Parameters
        ----------
        sales : pandas.DataFrame or CustomerPurchases
            Kept sale lines (as :func:`custseg.newcustomers.data.read_sale_lines` returns), or
            their summary (:mod:`custseg.newcustomers.purchases`).
        end : str or date
            First day of the horizon; lines on or after it are ignored.
        horizon_days : int, optional
            Length of the horizon; the one the models were fitted for by default.

        Returns
        -------
        pandas.DataFrame
            One row per customer (index ``customer_id``): ``first_purchase``, ``is_new``,
            ``n_purchases``, ``revenue``, ``predicted_purchases``, ``predicted_revenue``,
            ``bgnbd_purchases``, ``cohort_mean_purchases``, and for new customers
            ``predicted_segment``, ``predicted_segment_name``, ``segment_probability``.

        Examples
        --------
        >>> models.forecast(lines.sales, "2011-12-10").head()  # doctest: +SKIP
        """
        return self._forecast(sales, end, horizon_days)[0]

    def _forecast(
        self, sales: pd.DataFrame | CustomerPurchases, end: str | dt.date, horizon_days: int | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`forecast`, and every customer's segment probabilities from their first
        purchase (for :meth:`predict_sales`)."""
        end_ts = pd.Timestamp(parse_day(end, "The forecast start"))
        days = int(horizon_days or self.settings["horizon_days"])
        if isinstance(sales, pd.DataFrame):
            sales = sales[sales["ts"] < end_ts]
        purchases = as_purchases(sales)
        history = purchase_history(purchases, end_ts)
        is_new = (end_ts - history["first_day"]).dt.days <= self.settings["new_customer_days"]
        feats = _rows_of(self.first_purchase_features(purchases), history.index)
        # Scoring a million customers: one thread (threads spin longer than they save on
        # the boosting's small trees, and the process may share its cores).
        with limit(1):
            return self._forecast_rows(history, feats, is_new, end_ts, days)

    def _forecast_rows(
        self,
        history: pd.DataFrame,
        feats: pd.DataFrame,
        is_new: pd.Series,
        end_ts: pd.Timestamp,
        days: int,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        # Segment probabilities are read for new customers (their predicted segment and the
        # covariate model) and one-time buyers (predict's first-purchase segment) only; the
        # other rows are zeros (at a million customers scoring them all costs seconds).
        new = is_new.to_numpy()
        shown = np.flatnonzero(new | (history["n_purchases"].to_numpy() == 1))
        values = np.zeros((len(feats), len(self.segment_names)))
        if len(shown):
            values[shown] = self.segment_probabilities(feats.iloc[shown]).to_numpy()
        proba = pd.DataFrame(
            values,
            index=feats.index,
            columns=[f"segment_probability_{k}" for k in range(len(self.segment_names))],
        )
        bg = bgnbd_expected_purchases(self.bgnbd, days, history["x"], history["t_x"], history["T"])
        predicted = bg.copy()
        if self.covariate_model is not None and new.any():
            window = int(self.settings["training_window_days"])
            part = history[new]
            in_window = bgnbd_expected_purchases(
                self.bgnbd, window, part["x"], part["t_x"], part["T"]
            )
            X = covariate_frame(feats[new], proba[new], part, in_window)[self.covariates]
            counts = self.covariate_model.predict(X)
            # The model forecasts the training window's length; BG/NBD's own curve carries
            # that to the horizon asked for.
            predicted[new] = counts * bg[new] / np.maximum(in_window, MIN_EXPECTED)
        spend = expected_spend(self.gamma_gamma, history)
        group = np.where(is_new, "new", "established")
        rates = pd.DataFrame(self.cohort_rates).T
        out = pd.DataFrame(
            {
                "first_purchase": history["first_day"].dt.strftime("%Y-%m-%d"),
                "is_new": is_new.to_numpy(),
                "n_purchases": history["n_purchases"].astype(np.int64),
                "revenue": history["revenue"].round(2),
                "predicted_purchases": predicted,
                "predicted_revenue": predicted * spend,
                "bgnbd_purchases": bg,
                "cohort_mean_purchases": rates.loc[group, "purchases_per_day"].to_numpy() * days,
            },
            index=history.index,
        )
        segment = proba.to_numpy().argmax(axis=1)
        names = np.asarray(self.segment_names, dtype=object)
        out["predicted_segment"] = (
            pd.Series(segment, index=out.index, dtype="Int64").where(is_new).astype("Int64")
        )
        out["predicted_segment_name"] = pd.Series(
            names[segment], index=out.index, dtype=object
        ).where(is_new)
        out["segment_probability"] = np.where(is_new, proba.to_numpy().max(axis=1), np.nan)
        return out, proba

    def predict(
        self,
        source: str | Path | pd.DataFrame,
        *,
        end: str | dt.date | None = None,
        horizon_days: int | None = None,
        sheet: str | None = None,
        columns: dict[str, str] | None = None,
        date_format: str | None = None,
        non_product_codes: list[str] | None = None,
    ) -> pd.DataFrame:
        """Read invoice lines and give each customer the columns ``custseg predict`` adds.

        Parameters
        ----------
        source : str, Path or pandas.DataFrame
            Invoice lines, read and cleaned as :func:`custseg.segment` does.
        end : str or date, optional
            First day of the horizon; the day after the last line by default.
        horizon_days : int, optional
            The models' horizon by default.
        sheet, columns, date_format, non_product_codes
            As in :func:`custseg.segment`.

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``n_purchases``, ``expected_purchases``, ``expected_revenue`` and,
            for customers with a single purchase, ``first_purchase_segment``,
            ``first_purchase_segment_name`` and ``first_purchase_segment_probability``
            (empty for the others). When the first purchase did not beat the majority answer
            (:attr:`classifier_used` is False) these are the most common segment and its
            share, the same for every one-time buyer.

        Examples
        --------
        >>> models.predict("new_orders.csv").head()  # doctest: +SKIP
        """
        lines = read_sale_lines(
            source, **read_options(sheet, columns, date_format, non_product_codes)
        )
        start = day_or_after_last(lines, end, "The forecast start")
        return self.predict_sales(lines.sales, start, horizon_days)

    def predict_sales(
        self,
        sales: pd.DataFrame | CustomerPurchases,
        start: str | dt.date,
        horizon_days: int | None = None,
    ) -> pd.DataFrame:
        """:meth:`predict` on kept sale lines already read (lines on or after ``start`` are
        ignored).

        Examples
        --------
        >>> models.predict_sales(lines.sales, "2011-12-10").columns.tolist()[:3]  # doctest: +SKIP
        ['customer_id', 'n_purchases', 'expected_purchases']
        """
        table, frame = self._forecast(sales, start, horizon_days)
        proba = _rows_of(frame, table.index).to_numpy()
        if not self.classifier_used:
            # The first purchase did not beat the majority answer: every one-time buyer gets
            # the segment shares (the prior), so the answer is the most common segment.
            proba = np.tile(np.asarray(self.settings["segment_shares"]), (len(table), 1))
        single = (table["n_purchases"] == 1).to_numpy()
        segment = pd.Series(proba.argmax(axis=1), index=table.index, dtype="Int64")
        names = np.asarray(self.segment_names, dtype=object)[proba.argmax(axis=1)]
        return pd.DataFrame(
            {
                "customer_id": table.index.to_numpy(),
                "n_purchases": table["n_purchases"].to_numpy(),
                "expected_purchases": table["predicted_purchases"].round(4).to_numpy(),
                "expected_revenue": table["predicted_revenue"].round(2).to_numpy(),
                "first_purchase_segment": segment.where(single).reset_index(drop=True),
                "first_purchase_segment_name": pd.Series(names, dtype=object)
                .where(single)
                .to_numpy(),
                "first_purchase_segment_probability": np.where(
                    single, proba.max(axis=1).round(4), np.nan
                ),
            }
        )

    @property
    def classifier_used(self) -> bool:
        """Whether the first-purchase classifier beat the majority answer on the check
        (models saved before the check existed count as used)."""
        check = self.settings.get("first_purchase_check")
        return True if check is None else bool(check["used"])

    def __repr__(self) -> str:
        return (
            f"NewCustomerModels(calibration_end={self.settings.get('calibration_end')!r}, "
            f"horizon_days={self.settings.get('horizon_days')}, "
            f"segments={len(self.segment_names)}, categories={len(self.category_names)})"
        )


def _proba_frame(
    proba: np.ndarray, classes: np.ndarray, n_segments: int, index: pd.Index
) -> pd.DataFrame:
    full = np.zeros((len(index), n_segments))
    full[:, np.asarray(classes, dtype=np.int64)] = proba
    return pd.DataFrame(
        full, index=index, columns=[f"segment_probability_{k}" for k in range(n_segments)]
    )


def _rows_of(frame: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """The rows of ``frame`` for ``index``: a plain slice when both are the same ids in the
    same order (the usual case, and at a million customers far cheaper than a lookup)."""
    if frame.index.equals(index):
        return frame
    return frame.loc[index]


def covariate_frame(
    features: pd.DataFrame, proba: pd.DataFrame, history: pd.DataFrame, bgnbd: np.ndarray
) -> pd.DataFrame:
    """The covariate model's input: first-purchase features, segment probabilities, the BTYD
    summary ``x, t_x, T`` of each customer and BG/NBD's expectation over the window.

    Examples
    --------
    >>> ids = pd.Index(["a"], name="customer_id")
    >>> frame = covariate_frame(
    ...     pd.DataFrame({"first_basket_value": [20.0]}, index=ids),
    ...     pd.DataFrame({"segment_probability_0": [1.0]}, index=ids),
    ...     pd.DataFrame({"x": [1.0], "t_x": [10.0], "T": [27.0]}, index=ids),
    ...     np.array([0.4]),
    ... )
    >>> frame.columns.tolist()
    ['first_basket_value', 'segment_probability_0', 'x', 't_x', 'T', 'bgnbd_expected']
    """
    frame = features.join(proba).join(history[["x", "t_x", "T"]])
    frame["bgnbd_expected"] = np.asarray(bgnbd, dtype=np.float64)
    return frame


def expected_spend(gamma_gamma: dict[str, Any], history: pd.DataFrame) -> np.ndarray:
    """Gamma-Gamma expected value of a future purchase. Customers without a repeat purchase
    count their first purchase as one observation (shrunk to the population mean), so a big
    first basket predicts bigger purchases than a small one.

    Examples
    --------
    >>> gg = {"p": 6.25, "q": 3.74, "gamma": 15.44, "population_mean": 35.22}
    >>> h = pd.DataFrame({"x": [0.0, 2.0], "repeat_value": [0.0, 30.0],
    ...                   "first_value": [100.0, 5.0]})
    >>> expected_spend(gg, h).round(2).tolist()
    [80.26, 30.94]
    """
    x = history["x"].to_numpy()
    value = np.where(x > 0, history["repeat_value"], history["first_value"])
    return gamma_gamma_expected_value(gamma_gamma, np.maximum(x, 1), value)


@dataclass
class FitDetails:
    """What fitting found on the way (for the evaluation and metrics.json)."""

    labels: pd.Series
    known: pd.Index
    features: pd.DataFrame
    history: pd.DataFrame
    oof_accuracy: float | None
    training_window_days: int | None
    n_covariate_training: int
    segment_model: Any
    seconds: dict[str, float]
    warnings: list[str] = field(default_factory=list)


class _Stages:
    """Seconds per stage, and the progress callback (if any) told what starts."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.seconds: dict[str, float] = {}
        self.progress = progress
        self.clock = time.perf_counter()

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.clock, 3)
        self.clock = now

    def say(self, label: str) -> None:
        if self.progress is not None:
            self.progress(label)


def fit_models(
    lines: SaleLines,
    source: str | Path | pd.DataFrame,
    calibration_end: dt.date,
    horizon_days: int,
    *,
    seed: int = 0,
    classifier: str = "logistic",
    segment_options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[NewCustomerModels, FitDetails]:
    """Fit every new-customer model on the lines dated before ``calibration_end``.

    The steps, in order: the calibration segmentation (``custseg.segment`` with
    :data:`SEGMENT_ALGORITHM`), product categories and first-purchase features, the
    classifier (and out-of-fold segment probabilities), BG/NBD and Gamma-Gamma, then the
    covariate model on earlier cohorts. Returns the models and what was learned on the way.

    Examples
    --------
    >>> models, details = fit_models(lines, "orders.csv", dt.date(2011, 9, 1), 365)  # doctest: +SKIP
    """
    import custseg

    if classifier not in CLASSIFIERS:
        raise InputError(
            f"Unknown classifier {classifier!r}. Choose one of: {', '.join(CLASSIFIERS)}."
        )
    notes: list[str] = []
    stages = _Stages(progress)
    seconds, stage, say = stages.seconds, stages.stage, stages.say

    end = pd.Timestamp(calibration_end)
    sales = lines.line_frame
    calib = as_purchases(sales[sales["ts"] < end])
    history = purchase_history(calib, end)
    say("Segmenting the calibration period")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CustsegWarning)
        seg = custseg.segment(
            source,
            kind="transactions",
            algorithm=SEGMENT_ALGORITHM,
            analysis_date=calibration_end,
            seed=seed,
            # Only its labels are used here: the new-customer models are fitted below.
            new_customers=False,
            **(segment_options or {}),
        )
    labels = seg.segments.set_index("customer_id")["segment"].astype(np.int64)
    labels.index = labels.index.astype(str)
    segment_names = [str(n) for n in seg.model.segment_names]
    stage("segment")

    # The models below fit a few thousand rows: threads cost more in start-up and spinning
    # than they save (the boosting is 2x faster on one thread on 2 cores).
    with limit(1):
        models, details = _fit_after_segmentation(
            lines,
            calib,
            history,
            labels,
            segment_names,
            end,
            calibration_end,
            horizon_days,
            seed=seed,
            classifier=classifier,
            say=say,
            stage=stage,
            notes=notes,
        )
    details.segment_model = seg.model
    details.seconds = seconds
    return models, details


def _fit_after_segmentation(
    lines: SaleLines,
    calib: CustomerPurchases,
    history: pd.DataFrame,
    labels: pd.Series,
    segment_names: list[str],
    end: pd.Timestamp,
    calibration_end: dt.date,
    horizon_days: int,
    *,
    seed: int,
    classifier: str,
    say: Callable[[str], None],
    stage: Callable[[str], None],
    notes: list[str],
) -> tuple[NewCustomerModels, FitDetails]:
    say("Product categories and first purchases")
    texts, text_source = product_texts(calib)
    categories, category_names = (
        fit_product_categories(
            texts, text_source or "", n_categories=N_PRODUCT_CATEGORIES, seed=seed
        )
        if text_source
        else (None, [])
    )
    feats = first_purchase_features(
        calib,
        categories=categories,
        category_names=category_names,
        category_source=text_source,
        with_hour=lines.has_time,
        with_country="country" in lines.roles,
    )
    feats = _rows_of(feats, history.index)
    numeric, categorical = feature_names(feats)
    stage("first_purchase")

    say("First-purchase segment classifier")
    # Customers are addressed by their position in ``history`` (and ``feats``, same rows):
    # at a million customers every label lookup in a text index costs a tenth of a second.
    age = (end - history["first_day"]).dt.days.to_numpy()
    segment_of = labels.reindex(history.index).to_numpy()
    has_segment = ~np.isnan(segment_of)
    known_pos = np.flatnonzero((age > NEW_CUSTOMER_DAYS) & has_segment)
    all_young = known_pos.size < 2 * len(segment_names) or len(np.unique(segment_of[known_pos])) < 2
    if all_young:
        known_pos = np.flatnonzero(has_segment)
        notes.append(
            f"fewer than {2 * len(segment_names)} customers were known for over "
            f"{NEW_CUSTOMER_DAYS} days before the calibration end: the segment classifier "
            "learned from every customer, new ones included"
        )
    if len(known_pos) > MAX_CLASSIFIER_CUSTOMERS:
        notes.append(
            f"the first-purchase classifier learned from, and was checked on, a random sample "
            f"of {MAX_CLASSIFIER_CUSTOMERS:,} of the {len(known_pos):,} customers with a known "
            "segment"
        )
    known_pos = known_pos[sample_positions(len(known_pos), MAX_CLASSIFIER_CUSTOMERS, seed=seed)]
    known = history.index[known_pos]
    y = segment_of[known_pos].astype(np.int64)
    known_feats = feats.iloc[known_pos]
    clf = make_classifier(numeric, categorical, family=classifier, seed=seed)
    clf.fit(known_feats, y)
    n_seg = len(segment_names)
    counts = np.bincount(y, minlength=n_seg)
    folds = int(min(OOF_FOLDS, counts[counts > 0].min()))
    oof_accuracy = None
    # Customers the classifier learned from get out-of-fold probabilities, so the covariate
    # model does not learn to trust probabilities that saw the answer; the others get the
    # classifier's, computed only for the rows the covariate model reads.
    oof_row = np.full(len(history), -1, dtype=np.int64)
    oof_proba: np.ndarray | None = None
    if folds >= 2:
        oof = cross_val_predict(
            make_classifier(numeric, categorical, family=classifier, seed=seed),
            known_feats,
            y,
            cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
            method="predict_proba",
        )
        classes = np.unique(y)
        oof_proba = _proba_frame(oof, classes, n_seg, known).to_numpy()
        oof_row[known_pos] = np.arange(len(known_pos))
        oof_accuracy = float(np.mean(classes[oof.argmax(axis=1)] == y))

    def proba_at(positions: np.ndarray) -> pd.DataFrame:
        rows = feats.iloc[positions]
        values = clf.predict_proba(rows) if len(rows) else np.zeros((0, len(clf.classes_)))
        frame = _proba_frame(values, clf.classes_, n_seg, rows.index)
        if oof_proba is not None:
            own = oof_row[positions]
            frame.iloc[np.flatnonzero(own >= 0)] = oof_proba[own[own >= 0]]
        return frame

    check = check_first_purchase_classifier(
        lambda: make_classifier(numeric, categorical, family=classifier, seed=seed),
        known_feats,
        y,
        history["first_day"].iloc[known_pos],
    )
    if all_young:
        # The segments of customers known for a few weeks mostly say when they arrived;
        # beating the majority answer on them says nothing about the first purchase.
        check = {
            **check,
            "method": None,
            "used": False,
            "reason": (
                f"it could not be checked: fewer than {2 * len(segment_names)} customers were "
                f"known for over {NEW_CUSTOMER_DAYS} days, and the segments of younger "
                "customers mostly reflect when they arrived"
            ),
        }
    if not check["used"]:
        notes.append(
            "the first purchase does not predict the segment here ("
            + check["reason"]
            + "): the first-purchase segment columns give the most common segment and its share"
        )
    stage("classifier")

    say("BG/NBD and Gamma-Gamma")
    bg, gg = fit_history(history, seed=seed)
    notes.extend(fit_notes(bg, gg))
    if len(history) > MAX_FIT_CUSTOMERS:
        notes.append(
            f"BG/NBD and Gamma-Gamma (here and in the backtest) were fitted on a random sample "
            f"of {MAX_FIT_CUSTOMERS:,} of the {len(history):,} customers, and the covariate "
            f"model on at most {MAX_FIT_CUSTOMERS:,} new customers; every customer is forecast"
        )
    stage("bgnbd")

    say("New-customer covariate model")
    span = (end - pd.Timestamp(lines.first_day)).days
    window = min(horizon_days, span - NEW_CUSTOMER_DAYS, MAX_TRAINING_WINDOW_DAYS)
    covariate_model = None
    proba_columns = [f"segment_probability_{k}" for k in range(n_seg)]
    position_of_code = np.full(len(calib.ids), -1, dtype=np.int64)
    position_of_code[history_codes(calib, end)] = np.arange(len(history))
    covariates = [*numeric, *proba_columns, "x", "t_x", "T", "bgnbd_expected", *categorical]
    rates: dict[str, dict[str, float]] = {}
    n_training = 0
    validation: dict[str, Any] | None = None
    if window >= MIN_TRAINING_WINDOW_DAYS:
        parts = []
        for origin in range(TRAINING_ORIGINS):
            inner_end = end - pd.Timedelta(days=window + origin * ORIGIN_STEP_DAYS)
            if origin and (inner_end - pd.Timestamp(lines.first_day)).days < NEW_CUSTOMER_DAYS:
                break
            part = _training_rows(calib, position_of_code, inner_end, window, seed=seed + origin)
            parts.append(part)
            if origin == 0:
                rates = part.rates
        n_training = sum(len(p.target) for p in parts)
        n_bought = int(sum(p.target.sum() for p in parts))
        # Two leaves' worth of rows and of purchases: a Poisson model of who comes back needs
        # customers who came back (and a fold without a purchase cannot be fitted at all).
        enough = 2 * COVARIATE_PARAMS["min_samples_leaf"]
        if n_training >= enough and n_bought >= enough:
            X = _training_frame(parts, feats, proba_at, covariates)
            y = np.concatenate([p.target for p in parts])
            candidate = make_covariate_model(covariates, categorical, seed=seed)
            validation = validate_covariate_model(candidate, X, y)
            if validation["model_mae"] < validation["bgnbd_mae"]:
                covariate_model = candidate.fit(X, y)
            else:
                notes.append(
                    "on earlier cohorts the first-purchase covariate model did not beat plain "
                    f"BG/NBD (cross-validated MAE {validation['model_mae']:.3f} vs "
                    f"{validation['bgnbd_mae']:.3f}): new customers get plain BG/NBD forecasts"
                )
        elif n_training < enough:
            notes.append(
                (
                    f"only {n_training} new customer{'s' if n_training != 1 else ''} in the "
                    "training windows"
                    if n_training
                    else "no new customers in the training windows"
                )
                + ": new customers get plain BG/NBD forecasts"
            )
        else:
            notes.append(
                f"the {n_training:,} new customers of the training windows made only "
                f"{n_bought} purchases in them: new customers get plain BG/NBD forecasts"
            )
    else:
        notes.append(
            f"the calibration period ({span} days) leaves less than "
            f"{MIN_TRAINING_WINDOW_DAYS} days after a {NEW_CUSTOMER_DAYS}-day cohort to learn "
            "from: new customers get plain BG/NBD forecasts"
        )
    if not rates:
        overall = horizon_outcome(calib, pd.Timestamp(lines.first_day), span)
        per_day = {
            "purchases_per_day": float(overall["purchases"].mean() / max(span, 1)),
            "revenue_per_day": float(overall["revenue"].mean() / max(span, 1)),
        }
        rates = {"new": per_day, "established": per_day}
    stage("covariates")

    models = NewCustomerModels(
        categories=categories,
        category_names=category_names,
        category_source=text_source,
        classifier=clf,
        segment_names=segment_names,
        bgnbd=bg,
        gamma_gamma=gg,
        covariate_model=covariate_model,
        numeric=numeric,
        categorical=categorical,
        covariates=covariates,
        cohort_rates=rates,
        settings={
            "calibration_end": calibration_end.isoformat(),
            "horizon_days": int(horizon_days),
            "new_customer_days": NEW_CUSTOMER_DAYS,
            "training_window_days": int(window) if covariate_model is not None else None,
            "covariate_validation": validation,
            "first_purchase_check": check,
            "segment_shares": [float(v) for v in counts / max(counts.sum(), 1)],
            "segment_algorithm": SEGMENT_ALGORITHM,
            "classifier": classifier,
            "seed": seed,
        },
    )
    details = FitDetails(
        labels=labels,
        known=known,
        features=feats,
        history=history,
        oof_accuracy=oof_accuracy,
        training_window_days=models.settings["training_window_days"],
        n_covariate_training=n_training,
        segment_model=None,
        seconds={},
        warnings=notes,
    )
    return models, details


def make_covariate_model(
    covariates: list[str], categorical: list[str], *, seed: int = 0
) -> Pipeline:
    """An unfitted covariate model: Poisson boosting on the covariates (categorical last).

    Examples
    --------
    >>> make_covariate_model(["x", "country"], ["country"])[-1].loss
    'poisson'
    """
    n_numeric = len(covariates) - len(categorical)
    return Pipeline(
        [
            ("columns", tree_columns(covariates[:n_numeric], categorical)),
            (
                "model",
                HistGradientBoostingRegressor(
                    **COVARIATE_PARAMS,
                    categorical_features=list(range(n_numeric, len(covariates))),
                    random_state=seed,
                ),
            ),
        ]
    )


def validate_covariate_model(model: Pipeline, X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """Out-of-fold MAE of the covariate model on the earlier cohorts, next to plain BG/NBD's
    (the ``bgnbd_expected`` column). Folds group the rows by customer, since one customer can
    be new at two neighbouring cuts.

    Examples
    --------
    >>> validate_covariate_model(model, X, y)  # doctest: +SKIP
    {'model_mae': 0.61, 'bgnbd_mae': 0.64, 'folds': 2}
    """
    folds = GroupKFold(n_splits=VALIDATION_FOLDS)
    predicted = cross_val_predict(model, X, y, cv=folds, groups=X.index.to_numpy())
    return {
        "model_mae": round(float(np.mean(np.abs(predicted - y))), 4),
        "bgnbd_mae": round(float(np.mean(np.abs(X["bgnbd_expected"].to_numpy() - y))), 4),
        "folds": VALIDATION_FOLDS,
    }


@dataclass
class _TrainingRows:
    """One earlier cut's new customers: their rows in the features at the calibration end,
    their histories at the cut, BG/NBD's expectation and what they bought in the window."""

    rows: np.ndarray
    history: pd.DataFrame
    expected: np.ndarray
    target: np.ndarray
    rates: dict[str, dict[str, float]]


def _training_rows(
    calib: CustomerPurchases,
    position_of_code: np.ndarray,
    inner_end: pd.Timestamp,
    window: int,
    *,
    seed: int = 0,
) -> _TrainingRows:
    """What the new customers of an earlier cut did in the ``window`` days after it, next to
    what BG/NBD fitted at that cut expected of them. ``position_of_code`` gives the row of
    each customer code in the history at the calibration end."""
    inner = purchase_history(calib, inner_end)
    inner_codes = history_codes(calib, inner_end)
    inner_new = ((inner_end - inner["first_day"]).dt.days <= NEW_CUSTOMER_DAYS).to_numpy()
    bought, spent = outcome_by_code(calib, inner_end, window)
    outcome = pd.DataFrame({"purchases": bought[inner_codes], "revenue": spent[inner_codes]})
    rates = {}
    for name, mask in (("new", inner_new), ("established", ~inner_new)):
        # A cut near the start of the data has no established customers yet: all customers
        # of that cut stand in for them.
        group = outcome[mask] if mask.any() else outcome
        rates[name] = {
            "purchases_per_day": float(group["purchases"].mean() / window),
            "revenue_per_day": float(group["revenue"].mean() / window),
        }
    new_pos = np.flatnonzero(inner_new)
    new_pos = new_pos[
        sample_positions(len(new_pos), MAX_FIT_CUSTOMERS // TRAINING_ORIGINS, seed=seed)
    ]
    part = inner.iloc[new_pos]
    sample = inner.iloc[sample_positions(len(inner), seed=seed)]
    inner_bg = fit_bgnbd(sample["x"], sample["t_x"], sample["T"])
    return _TrainingRows(
        rows=position_of_code[inner_codes[new_pos]],
        history=part,
        expected=bgnbd_expected_purchases(inner_bg, window, part["x"], part["t_x"], part["T"]),
        target=outcome["purchases"].to_numpy()[new_pos],
        rates=rates,
    )


def _training_frame(
    parts: list[_TrainingRows],
    feats: pd.DataFrame,
    proba_at: Callable[[np.ndarray], pd.DataFrame],
    covariates: list[str],
) -> pd.DataFrame:
    """The covariate model's input over every cut. ``feats`` has the rows of the history at
    the calibration end and ``proba_at`` gives the segment probabilities of rows: asked once
    for all the cuts' customers (many are new at two neighbouring cuts)."""
    union = np.unique(np.concatenate([p.rows for p in parts]))
    proba = proba_at(union)
    return pd.concat(
        [
            covariate_frame(
                feats.iloc[p.rows],
                proba.iloc[np.searchsorted(union, p.rows)],
                p.history,
                p.expected,
            )[covariates]
            for p in parts
        ]
    )


def check_calibration_end(lines: SaleLines, calibration_end: dt.date, *, need_after: bool) -> None:
    """Refuse a calibration end outside the data, naming the data's date range.

    Examples
    --------
    >>> lines = SaleLines(pd.DataFrame(), {}, {}, {}, False, dt.date(2021, 1, 1),
    ...                   dt.date(2021, 3, 31))
    >>> check_calibration_end(lines, dt.date(2021, 4, 1), need_after=True)
    Traceback (most recent call last):
    ...
    custseg.errors.InputError: Calibration end 2021-04-01 is outside the data, whose kept sales run from 2021-01-01 to 2021-03-31. Pick a day after 2021-01-01 and leave days after it to compare the forecast with, e.g. 2021-03-08.
    """
    first, last = lines.first_day, lines.last_day
    latest = last if need_after else last + dt.timedelta(days=1)
    if not first < calibration_end <= latest:
        after = " and leave days after it to compare the forecast with" if need_after else ""
        raise InputError(
            f"Calibration end {calibration_end} is outside the data, whose kept sales run from "
            f"{first} to {last}. Pick a day after {first}{after}, e.g. "
            f"{first + (last - first) * 3 // 4}."
        )


def fit_new_customer_models(
    source: str | Path | pd.DataFrame,
    calibration_end: str | dt.date | None = None,
    *,
    horizon: str | int = f"{DEFAULT_HORIZON_DAYS}D",
    seed: int = 0,
    classifier: str = "logistic",
    sheet: str | None = None,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    non_product_codes: list[str] | None = None,
) -> NewCustomerModels:
    """Fit the first-purchase segment classifier and the purchase forecast on invoice lines.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        Invoice lines (any file :func:`custseg.segment` reads, or a DataFrame). Product,
        description, invoice and country columns are used when present.
    calibration_end : str or date, optional
        Lines on or after this day are not used; by default the day after the last line.
    horizon : str or int
        Forecast horizon: ``365D``, ``52W``, ``12M``, ``1Y`` or a number of days.
    seed : int
        Seed of everything random.
    classifier : {"logistic", "hgb"}
        First-purchase classifier family (see ``docs/new-customers.md``).
    sheet, columns, date_format, non_product_codes
        As in :func:`custseg.segment`.

    Returns
    -------
    NewCustomerModels

    Examples
    --------
    >>> from custseg.newcustomers import fit_new_customer_models
    >>> models = fit_new_customer_models(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> models.forecast(lines.sales, "2011-12-10")  # doctest: +SKIP
    """
    days = parse_horizon(horizon)
    options = read_options(sheet, columns, date_format, non_product_codes)
    lines = read_sale_lines(source, **options)
    end = day_or_after_last(lines, calibration_end, "Calibration end")
    check_calibration_end(lines, end, need_after=False)
    models, _ = fit_models(
        lines,
        source,
        end,
        days,
        seed=seed,
        classifier=classifier,
        segment_options=options,
    )
    return models


def day_or_after_last(lines: SaleLines, value: str | dt.date | None, what: str) -> dt.date:
    """``value`` as a day, or the day after the last kept line when it is None.

    Examples
    --------
    >>> lines = SaleLines(pd.DataFrame(), {}, {}, {}, False, dt.date(2021, 1, 1),
    ...                   dt.date(2021, 3, 31))
    >>> day_or_after_last(lines, None, "Calibration end")
    datetime.date(2021, 4, 1)
    """
    if value is None:
        return lines.last_day + dt.timedelta(days=1)
    return parse_day(value, what)


def read_options(
    sheet: str | None,
    columns: dict[str, str] | None,
    date_format: str | None,
    non_product_codes: list[str] | None,
) -> dict[str, Any]:
    """The reading options both the lines and the calibration segmentation are read with.

    Examples
    --------
    >>> read_options(None, {"customer_id": "Client"}, None, None)["columns"]
    {'customer_id': 'Client'}
    """
    return {
        "sheet": sheet,
        "columns": columns,
        "date_format": date_format,
        "non_product_codes": non_product_codes,
    }


FORECAST_COLUMNS = (
    "expected_purchases",
    "expected_revenue",
    "first_purchase_segment",
    "first_purchase_segment_name",
    "first_purchase_segment_probability",
)
"""Columns the new-customer models add to ``segments.csv`` and to ``custseg predict``."""


def fit_for_segmentation(
    lines: SaleLines,
    labels: pd.Series,
    segment_names: list[str],
    analysis_date: str | dt.date,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[NewCustomerModels | None, dict[str, Any]]:
    """Fit the new-customer models on the segments :func:`custseg.segment` just found.

    The classifier learns to predict *these* segments from a first purchase (customers in
    no segment, -1, are left out of its training), and the forecast starts at the analysis
    date. When the data cannot support the models (too short a period, too few customers),
    no model is returned and the summary says why; segmentation goes on without them.

    Returns
    -------
    models : NewCustomerModels or None
    summary : dict
        For ``metrics.json``: ``fitted``, ``reason`` (when not fitted), ``horizon_days``,
        ``new_customer_days``, the BG/NBD and Gamma-Gamma parameters, the classifier's
        out-of-fold accuracy next to the majority share, whether it is ``used`` and the
        ``check`` that decided it (:func:`~custseg.newcustomers.checks.check_first_purchase_classifier`),
        the ``backtest`` of the forecast
        (:func:`~custseg.newcustomers.checks.backtest_forecast`), the covariate model's
        validation, the product categories, notes and seconds per stage.

    Examples
    --------
    >>> models, summary = fit_for_segmentation(lines, labels, names, "2011-12-10")  # doctest: +SKIP
    """
    notes: list[str] = []
    stages = _Stages(progress)
    seconds, stage, say = stages.seconds, stages.stage, stages.say

    calibration_end = parse_day(analysis_date, "The analysis date")
    end = pd.Timestamp(calibration_end)
    members = labels[labels >= 0].astype(np.int64)
    summary: dict[str, Any] = {
        "fitted": False,
        "horizon_days": int(horizon_days),
        "new_customer_days": NEW_CUSTOMER_DAYS,
    }
    span = (end - pd.Timestamp(lines.first_day)).days
    if span < NEW_CUSTOMER_DAYS + MIN_TRAINING_WINDOW_DAYS or members.nunique() < 2:
        summary["reason"] = (
            f"the data covers {span} days, fewer than the {NEW_CUSTOMER_DAYS + MIN_TRAINING_WINDOW_DAYS} "
            "the new-customer models need"
            if members.nunique() >= 2
            else "fewer than two segments to learn"
        )
        return None, summary
    # The pipeline's lines end before the analysis date (later ones are dropped in cleaning).
    calib = lines.purchases if lines.purchases is not None else as_purchases(lines.sales)
    history = purchase_history(calib, end)
    # One thread for the fits and the backtest alike: L-BFGS-B's vector operations on a
    # handful of parameters cost 6x more CPU (and more wall time) when BLAS spreads them
    # over threads (a BG/NBD fit on Online Retail: 0.17 s against 0.03 s).
    with limit(1):
        try:
            models, details = _fit_after_segmentation(
                lines,
                calib,
                history,
                members,
                [str(n) for n in segment_names],
                end,
                calibration_end,
                int(horizon_days),
                seed=seed,
                classifier="logistic",
                say=say,
                stage=stage,
                notes=notes,
            )
        except (InputError, ValueError) as exc:
            summary["reason"] = f"the models could not be fitted ({exc})"
            return None, summary
        unfit = _forecast_not_finite(models, history, int(horizon_days))
        if unfit:
            summary["reason"] = unfit
            return None, summary
        say("Backtest of the forecast")
        backtest = backtest_forecast(
            calib,
            labels.astype(np.int64).set_axis(labels.index.astype(str)),
            [str(n) for n in segment_names],
            end,
            int(horizon_days),
            pd.Timestamp(lines.first_day),
            seed=seed,
        )
        stage("backtest")
    y = members.loc[details.known].to_numpy()
    majority = np.bincount(y).argmax() if len(y) else 0
    summary.update(
        {
            "fitted": True,
            "bgnbd": _rounded_params(models.bgnbd),
            "gamma_gamma": _rounded_params(models.gamma_gamma),
            "classifier": {
                "family": "logistic",
                "n_training": int(len(y)),
                "oof_accuracy": details.oof_accuracy,
                "majority_segment": int(majority),
                "majority_share": float(np.mean(y == majority)) if len(y) else None,
                "used": models.classifier_used,
                "check": models.settings["first_purchase_check"],
            },
            "backtest": backtest,
            "covariate_model": models.covariate_model is not None,
            "covariate_validation": models.settings.get("covariate_validation"),
            "training_window_days": models.settings.get("training_window_days"),
            "product_categories": list(models.category_names),
            "product_categories_source": models.category_source,
            "fit_sample": {
                "max_customers": MAX_FIT_CUSTOMERS,
                "classifier_max_customers": MAX_CLASSIFIER_CUSTOMERS,
                "customers": int(len(history)),
                "sampled": bool(len(history) > MAX_FIT_CUSTOMERS),
            },
            "notes": notes,
            "seconds": seconds,
        }
    )
    return models, summary


def _forecast_not_finite(models: NewCustomerModels, history: pd.DataFrame, days: int) -> str:
    """Why the fitted models cannot forecast these customers (a forecast that is not a
    number), or "" when every forecast is a number. A blank cell is never presented as a
    forecast: without a number for every customer, there is no forecast at all."""
    with np.errstate(all="ignore"):
        purchases = bgnbd_expected_purchases(
            models.bgnbd, days, history["x"], history["t_x"], history["T"]
        )
        revenue = purchases * expected_spend(models.gamma_gamma, history)
    bad = int((~np.isfinite(purchases) | ~np.isfinite(revenue)).sum())
    if not bad:
        return ""
    params = ", ".join(
        f"{k} = {v:.4g}"
        for k, v in {**models.bgnbd, **models.gamma_gamma}.items()
        if k in ("r", "alpha", "a", "b", "p", "q", "gamma") and v is not None
    )
    return (
        f"the fitted BG/NBD and Gamma-Gamma models give no number for {bad:,} of "
        f"{len(history):,} customers ({params}): the purchase histories do not fit these "
        "models"
    )


def _rounded_params(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: round(float(v), 6) if isinstance(v, (float, np.floating)) else v
        for k, v in params.items()
    }
