"""Scoring for the web service, without any web framework: request rows in, result rows out.

A :class:`Scorer` holds one loaded :class:`~custseg.model.SegmentModel` and scores the rows of
one request with it:

- **customer tables**: the rows are typed in memory with the model's stored column plan (the
  same numbers, categories and date columns, dates counted to the same reference day), then
  :meth:`SegmentModel.assign_with_probability` and :meth:`SegmentModel.label_frame` give the
  same table :meth:`SegmentModel.predict` gives. No DuckDB, no file machinery: one row costs
  about a millisecond instead of the ~50 ms of ``predict`` on a one-row DataFrame;
- **invoice lines**: the lines go through :meth:`SegmentModel.predict` on a DataFrame, so that
  cleaning, features and the next-year forecast are exactly those of ``custseg predict``.

Examples
--------
>>> scorer = Scorer(custseg.load_model("out/model.skops"))  # doctest: +SKIP
>>> scorer.score([{"CustomerID": "1", "Age": 31, "Income": 60}]).results[0]["segment_name"]  # doctest: +SKIP
'Young high spenders'
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from custseg.errors import CustsegWarning, InputError, show_rows
from custseg.features.customers import MAX_AGE, CustomerColumns, age_in_years
from custseg.model import SegmentModel

#: Roles of invoice lines whose values are numbers; the others are text (the date is a
#: timestamp).
NUMBER_ROLES = ("quantity", "price", "amount")
#: Roles a line must give a value for, when the model has them; the others may be null or
#: left out. The invoice number is required: the features count orders by it.
REQUIRED_ROLES = ("customer_id", "invoice", "date", "quantity", "price", "amount")

_WHOLE_ID = re.compile(r"^([0-9]+)\.0+$")


class RowError(InputError):
    """A value of one request row that cannot be scored: ``row`` (0-based) and ``field``
    (the column name) say where, for a 422 answer that names them."""

    def __init__(self, message: str, *, row: int, field: str) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


@dataclass
class Scored:
    """The answer to one request: one dict per customer, and the warnings scoring gave
    (lines dropped by the cleaning rules, customers left without a row)."""

    results: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def clean_id(value: Any) -> str | None:
    """A customer id as ``custseg predict`` writes it: trimmed text, ``17850.0`` as ``17850``.

    Examples
    --------
    >>> clean_id(" 17850.0 "), clean_id("00123"), clean_id(""), clean_id(42)
    ('17850', '00123', None, '42')
    """
    if value is None:
        return None
    text = _WHOLE_ID.sub(r"\1", str(value).strip())
    return text or None


def parse_day(value: str, fmt: str | None) -> dt.date:
    """The day a date text names: ISO 8601 (``2024-03-01``, ``2024-03-01T10:00:00``) or the
    format the model read the column with (``%d/%m/%Y``, ...).

    Examples
    --------
    >>> parse_day("2024-03-01T10:00:00Z", None), parse_day("01/03/2024", "%d/%m/%Y")
    (datetime.date(2024, 3, 1), datetime.date(2024, 3, 1))
    """
    text = value.strip()
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        if fmt is None:
            raise ValueError(f"{value!r} is not an ISO 8601 date such as 2024-03-01") from None
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date: write it as 2024-03-01 (ISO 8601) or as {fmt!r}"
        ) from None


def _json_value(value: Any) -> Any:
    """A cell as JSON: missing values (NaN, NA, None) as null, numpy scalars as Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer, bool, np.bool_)):
        return int(value)
    return value


class FastInputs:
    """:meth:`SegmentModel.model_inputs` without the ``ColumnTransformer`` wrapper: each fitted
    transformer transforms its own columns and the blocks are put side by side, which is what
    ``ColumnTransformer.transform`` computes, minus its per-call checks.

    Use :meth:`for_model`, which returns None (keep the model's own path) unless the
    preprocessor is a dense ``ColumnTransformer`` that drops the remainder and both paths
    give identical numbers on probe rows (missing values, and values from the fitted
    imputers, with and without missing values in the same request).
    """

    def __init__(self, model: SegmentModel) -> None:
        from custseg.preprocess import categorical_as_text, check_finite

        self.model = model
        self.parts = [
            (transformer, list(columns))
            for _, transformer, columns in model.preprocessor.transformers_
            if not isinstance(transformer, str) and len(columns)
        ]
        self.names = [str(n) for n in model.preprocessor.get_feature_names_out()]
        self._as_text = categorical_as_text
        self._check_finite = check_finite

    def __call__(self, features: pd.DataFrame) -> np.ndarray:
        frame = self._as_text(features, self.model.categorical)
        blocks = [
            np.asarray(self._transform(t, frame[cols]), dtype=np.float64) for t, cols in self.parts
        ]
        X = np.hstack(blocks) if len(blocks) > 1 else blocks[0]
        self._check_finite(X, self.names)
        return X

    @staticmethod
    def _transform(transformer: Any, sub: pd.DataFrame) -> Any:
        """``transformer.transform(sub)``; a pipeline that starts with a ``SimpleImputer``
        skips it when ``sub`` has nothing to impute (the imputer's checks are most of the
        cost of one row, and without missing values it hands on the values as they are)."""
        from sklearn.impute import SimpleImputer

        steps = getattr(transformer, "steps", None)
        if not steps or not isinstance(steps[0][1], SimpleImputer) or sub.isna().to_numpy().any():
            return transformer.transform(sub)
        numeric = all(pd.api.types.is_numeric_dtype(t) for t in sub.dtypes)
        X = sub.to_numpy(dtype=np.float64 if numeric else object)
        for _, step in steps[1:]:
            if step is not None and step != "passthrough":
                X = step.transform(X)
        return X

    @classmethod
    def for_model(cls, model: SegmentModel) -> FastInputs | None:
        """The fast path for ``model``, or None when it does not give the same numbers."""
        pre = model.preprocessor
        if type(pre).__name__ != "ColumnTransformer" or getattr(pre, "remainder", None) not in (
            "drop",
            None,
        ):
            return None
        try:
            fast = cls(model)
            if any(t == "passthrough" for _, t, _ in pre.transformers_):
                return None
            probe = pd.DataFrame(
                {
                    "customer_id": ["a", "b"],
                    **{c: [np.nan, 1.0] for c in model.numeric},
                    **{c: [None, "x"] for c in model.categorical},
                }
            )
            for transformer, columns in fast.parts:
                impute = getattr(transformer, "named_steps", {}).get("impute")
                values = getattr(impute, "statistics_", None)
                if values is not None and len(values) == len(columns):
                    for col, value in zip(columns, values, strict=True):
                        probe.loc[1, col] = value
            with np.errstate(all="ignore"):
                # Both rows (missing values: the imputers run), and the second alone
                # (nothing missing: they are skipped).
                same = all(
                    np.array_equal(fast(rows), model.model_inputs(rows))
                    for rows in (probe, probe.iloc[[1]].reset_index(drop=True))
                )
        except Exception:  # any doubt: keep the model's own path
            return None
        return fast if same else None


class Scorer:
    """Scores request rows with one loaded model (thread-safe; the model is never changed).

    Parameters
    ----------
    model : SegmentModel
        A model loaded with :func:`custseg.load_model`.

    Examples
    --------
    >>> scorer = Scorer(custseg.load_model("out/model.skops"))  # doctest: +SKIP
    >>> scorer.input_columns()  # doctest: +SKIP
    ['CustomerID', 'Age', 'Income', 'Channel']
    """

    def __init__(self, model: SegmentModel) -> None:
        self.model = model
        # A shallow copy whose model_inputs skips the ColumnTransformer's per-call overhead
        # (about 6 ms of validation and joblib set-up for one row) when that gives the same
        # numbers; assign_with_probability then runs unchanged on it.
        self.fast_model = copy.copy(model)
        fast = FastInputs.for_model(model)
        if fast is not None:
            self.fast_model.model_inputs = fast  # type: ignore[method-assign]
        self.actions = dict(enumerate(model.actions))
        # predict() on invoice lines reports through the warnings module, whose filters are
        # process-wide: one request at a time records them (DuckDB uses both cores anyway).
        self._lines_lock = threading.Lock()
        if model.kind == "customers":
            # A request carries the columns the segments are built on; those the model left
            # out (unrelated numbers, names, e-mails) are not asked for.
            # The stored plan without its optional columns: all of them left out.
            plan = (
                CustomerColumns(**model.settings["customer_columns"])
                .for_scoring({*model.numeric, *model.categorical})
                .present(())
            )
            self.id_col: str = plan.id_col
            self.numeric_cols: list[str] = list(plan.numeric)
            self.categorical_cols: list[str] = list(plan.categorical)
            #: date column -> (format, reference day): days are counted to that day, or for a
            #: birth date (:attr:`age_cols`) the age in whole years at it
            self.date_cols: dict[str, tuple[str | None, dt.date]] = {
                col: (fmt, dt.date.fromisoformat(str(ref)))
                for col, (fmt, ref) in plan.dates.items()
            }
            self.age_cols: list[str] = list(plan.birth_dates)
            self.feature_names: dict[str, str] = {
                col: plan.feature_name(col) for col in self.date_cols
            }
            self.roles: dict[str, str] = {}
        else:
            self.roles = {
                role: col
                for role, col in model.settings.get("roles", {}).items()
                if isinstance(col, str)
            }
            self.id_col = self.roles["customer_id"]

    # ------------------------------------------------------------ what a request holds

    def input_columns(self) -> list[str]:
        """The fields of one request row, by their column names in the training data."""
        if self.model.kind == "customers":
            return [self.id_col, *self.numeric_cols, *self.categorical_cols, *self.date_cols]
        return list(self.roles.values())

    # ------------------------------------------------------------ scoring

    def score(self, rows: list[dict[str, Any]]) -> Scored:
        """Score the rows of one request (customers, or invoice lines, by column name).

        Raises
        ------
        RowError
            A value that cannot be used (an empty or repeated customer id, a date that does
            not parse), naming the row and the column.
        InputError
            Anything else ``custseg predict`` would refuse.
        """
        if self.model.kind == "customers":
            notes: list[str] = []
            frame = self.customer_features(rows, notes)
            with np.errstate(all="ignore"):
                labels, probability = self.fast_model.assign_with_probability(frame)
            table = self.model.label_frame(frame, labels, probability)
            return Scored(self.records(table), notes)
        return self.score_lines(rows)

    def customer_features(
        self, rows: list[dict[str, Any]], notes: list[str] | None = None
    ) -> pd.DataFrame:
        """The feature frame of customer rows, as :func:`custseg.features.customers.
        customer_features` builds it from a file: ``customer_id``, the numeric columns, the
        categorical columns, then ``days_since_<date column>`` (``age_from_<column>`` for a
        birth date). An implausible age (born after the reference day, or older than
        :data:`~custseg.features.customers.MAX_AGE`) is left blank, and a sentence saying so
        is added to ``notes``."""
        ids: list[str] = []
        seen: dict[str, int] = {}
        for i, row in enumerate(rows):
            cid = clean_id(row.get(self.id_col))
            if cid is None:
                raise RowError(
                    f"row {i}: the customer id '{self.id_col}' is empty. Give every row an id.",
                    row=i,
                    field=self.id_col,
                )
            if cid in seen:
                raise RowError(
                    f"rows {seen[cid]} and {i} have the same customer id {cid!r} in "
                    f"'{self.id_col}'; send each customer once.",
                    row=i,
                    field=self.id_col,
                )
            seen[cid] = i
            ids.append(cid)
        data: dict[str, Any] = {"customer_id": ids}
        for col in self.numeric_cols:
            data[col] = np.array(
                [np.nan if (v := row.get(col)) is None else float(v) for row in rows],
                dtype=np.float64,
            )
        for col in self.categorical_cols:
            values = [row.get(col) for row in rows]
            data[col] = pd.Series(
                [None if v is None or not str(v).strip() else str(v).strip() for v in values],
                dtype=object,
            )
        for col, (fmt, ref) in self.date_cols.items():
            days = np.full(len(rows), np.nan)
            age = col in self.age_cols
            implausible: list[int] = []
            for i, row in enumerate(rows):
                value = row.get(col)
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                try:
                    day = value if isinstance(value, dt.date) else parse_day(str(value), fmt)
                except ValueError as exc:
                    raise RowError(f"row {i}, '{col}': {exc}.", row=i, field=col) from None
                if isinstance(day, dt.datetime):
                    day = day.date()
                if not age:
                    days[i] = float((ref - day).days)
                elif 0 <= (years := age_in_years(day, ref)) <= MAX_AGE:
                    days[i] = float(years)
                else:
                    implausible.append(i)
            if implausible and notes is not None:
                notes.append(
                    f"{show_rows(implausible[:5], total=len(implausible))}, '{col}': a birth date "
                    f"giving no plausible age at {ref.isoformat()} (after it, or more than "
                    f"{MAX_AGE} years before it); the age is left blank (the training median "
                    "is used). Correct the birth date to use it."
                )
            data[self.feature_names[col]] = days
        return pd.DataFrame(data)

    def score_lines(self, rows: list[dict[str, Any]]) -> Scored:
        """Score invoice lines through :meth:`SegmentModel.predict` (cleaning, features and
        the next-year forecast of ``custseg predict``); one dict per customer."""
        frame = self.lines_frame(rows)
        with self._lines_lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CustsegWarning)
            with np.errstate(all="ignore"):
                table = self.model.predict(frame)
        messages = [str(w.message) for w in caught if issubclass(w.category, CustsegWarning)]
        return Scored(self.records(table), messages)

    def lines_frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """Invoice lines as a DataFrame with the training file's column names: numbers as
        float (whole quantities as integers, as a CSV reads them), dates as timestamps,
        the rest as text."""
        data: dict[str, Any] = {}
        for role, col in self.roles.items():
            values = [row.get(col) for row in rows]
            if role in NUMBER_ROLES:
                numbers = np.array([np.nan if v is None else float(v) for v in values])
                if role == "quantity" and np.all(
                    np.isfinite(numbers) & (numbers == np.round(numbers))
                ):
                    data[col] = numbers.astype(np.int64)
                else:
                    data[col] = numbers
            elif role == "date":
                stamps = []
                for i, v in enumerate(values):
                    try:
                        stamps.append(None if v is None else _naive(v))
                    except ValueError:
                        raise RowError(
                            f"row {i}, '{col}': {v!r} is not a date and time written as ISO "
                            "8601, such as 2024-03-01T14:30:00 or 2024-03-01.",
                            row=i,
                            field=col,
                        ) from None
                data[col] = pd.to_datetime(pd.Series(stamps, dtype=object))
            else:
                data[col] = pd.Series(
                    [None if v is None else str(v) for v in values], dtype="string"
                )
        return pd.DataFrame(data)

    def records(self, table: pd.DataFrame) -> list[dict[str, Any]]:
        """The rows of a :meth:`SegmentModel.label_frame` table as JSON-ready dicts: the
        answer fields first (id, segment, name, action, probabilities, forecast), then the
        customer's features under ``features``."""
        from custseg.newcustomers.models import FORECAST_COLUMNS

        head = ["customer_id", "segment", "segment_name", "segment_probability"]
        head += [c for c in FORECAST_COLUMNS]
        present_head = [c for c in head if c in table.columns]
        features = [c for c in self.model.feature_columns if c in table.columns]
        head_values = {c: table[c].tolist() for c in present_head}
        feature_values = {c: table[c].tolist() for c in features}
        out = []
        for i in range(len(table)):
            record: dict[str, Any] = {c: _json_value(head_values[c][i]) for c in present_head}
            record["action"] = self.actions.get(record["segment"])
            record["features"] = {c: _json_value(feature_values[c][i]) for c in features}
            out.append(record)
        return out


def _naive(value: Any) -> dt.datetime:
    """A timestamp without its time zone (the wall-clock time the customer bought at)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(str(value).strip()).replace(tzinfo=None)


def require_fastapi() -> None:
    """Check that FastAPI and uvicorn are installed, or raise an
    :class:`~custseg.errors.InputError` with the install hint."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"custseg serve needs FastAPI and uvicorn ({exc.name} is not installed): "
            'pip install "custseg[serve]"'
        ) from None
