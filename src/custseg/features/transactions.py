"""Invoice lines -> one row per customer, computed in the engine (out of core).

The formulas, in one table (:data:`TRANSACTION_FEATURES`), are what the user guide and the
report show. All money is summed as exact decimals, so the same input always gives the same
bytes whatever the thread count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from custseg.clean import NON_PRODUCT_CODES
from custseg.engines import portable
from custseg.engines.duckdb import DuckDBEngine

#: Feature name -> formula. ``kept lines`` are the sales left by :mod:`custseg.clean`.
TRANSACTION_FEATURES: dict[str, str] = {
    "days_since_last_purchase": "analysis date - day of the last purchase, in days (recency)",
    "n_orders": "number of distinct invoices (purchase days when there is no invoice column) (frequency)",
    "revenue": (
        "sum of quantity x unit price over kept lines, minus the value of returned products "
        "(cancellation lines), never below 0 (monetary)"
    ),
    "mean_order_value": "revenue / n_orders (net of returns)",
    "days_since_first_purchase": "analysis date - day of the first purchase, in days (tenure)",
    "n_products": "number of distinct product codes bought",
    "return_rate": (
        "min(1, items returned / items bought); returned items are the quantities on "
        "cancellation lines of real products, which may refer to purchases before the data starts"
    ),
}


def transaction_features(
    engine: DuckDBEngine,
    analysis_date: dt.date,
    *,
    has_invoice: bool = True,
    has_product: bool = True,
    non_product_codes: list[str] | None = None,
    table: str = "clean_lines",
) -> pd.DataFrame:
    """Compute :data:`TRANSACTION_FEATURES` for every customer with at least one kept sale.

    Parameters
    ----------
    engine : DuckDBEngine
        Holds ``table`` with a ``reason`` column (NULL for kept lines), as made by
        :func:`custseg.clean.clean_lines`.
    analysis_date : datetime.date
        The day the features are measured at.
    has_invoice, has_product : bool
        Whether the invoice and product columns exist; without products ``n_products`` is
        left out, without invoices orders are purchase days.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by ``customer_id``.

    Examples
    --------
    See ``tests/test_features.py`` for a six-line table with its features worked out by hand.
    """
    codes = list(NON_PRODUCT_CODES) if non_product_codes is None else list(non_product_codes)
    # The definitions live in the portable layer; their SQL is compiled once per shape, and
    # the analysis date enters only here, so the compiled query does not depend on it.
    query = portable.compiled(
        engine.dialect,
        "customer_features",
        non_product_codes=codes,
        has_invoice=has_invoice,
        has_product=has_product,
        table=table,
    )
    return features_from_frame(engine.run(query), analysis_date)


def round_half_away(values: pd.Series, decimals: int) -> pd.Series:
    """Round doubles as SQL engines do: by their exact binary value, exact ties away from
    zero (0.125 -> 0.13, but 2.675, stored as 2.67499..., -> 2.67), the same whatever engine
    computed the values.

    Examples
    --------
    >>> round_half_away(pd.Series([0.125, -0.125, 2.675, 17.5]), 2).tolist()
    [0.13, -0.13, 2.67, 17.5]
    """
    from decimal import ROUND_HALF_UP, Decimal

    x = values.to_numpy(dtype="float64")
    scaled = x * 10.0**decimals
    out = np.round(scaled) / 10.0**decimals
    # Near a half the scaling itself may have rounded: decide those few exactly.
    near = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6 * np.maximum(1, np.abs(scaled))
    step = Decimal(1).scaleb(-decimals)
    for i in np.flatnonzero(near & np.isfinite(x)):
        out[i] = float(Decimal(float(x[i])).quantize(step, rounding=ROUND_HALF_UP))
    return pd.Series(out, index=values.index, name=values.name)


def features_from_frame(frame: pd.DataFrame, analysis_date: dt.date) -> pd.DataFrame:
    """The feature table from an engine's answer to the portable ``customer_features`` query:
    day differences to the analysis date, whole-number columns as integers, ids as text.

    Examples
    --------
    >>> raw = pd.DataFrame({"customer_id": [7], "last_day": [pd.Timestamp("2011-12-01")],
    ...     "first_day": [pd.Timestamp("2011-01-01")], "n_orders": [3], "revenue": [30.0],
    ...     "mean_order_value": [10.0], "return_rate": [0.0]})
    >>> [str(v) for v in features_from_frame(raw, dt.date(2011, 12, 10)).iloc[0]]
    ['7', '9', '3', '30.0', '10.0', '343', '0.0']
    """
    day = pd.Timestamp(analysis_date)
    frame = frame.copy()
    frame.insert(
        1, "days_since_last_purchase", (day - pd.to_datetime(frame.pop("last_day"))).dt.days
    )
    frame.insert(
        5, "days_since_first_purchase", (day - pd.to_datetime(frame.pop("first_day"))).dt.days
    )
    for col in ("days_since_last_purchase", "n_orders", "days_since_first_purchase", "n_products"):
        if col in frame:
            frame[col] = frame[col].astype("int64")
    frame["mean_order_value"] = round_half_away(frame["mean_order_value"].astype("float64"), 2)
    frame["return_rate"] = round_half_away(frame["return_rate"].astype("float64"), 4)
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.reset_index(drop=True)


ACTIVITY_TOP_COUNTRIES = 10
"""Countries listed by name in the activity summary; the rest are summed as "other"."""


def activity_summary(
    engine: DuckDBEngine, *, has_invoice: bool = True, table: str = "clean_lines"
) -> dict[str, Any]:
    """Kept sales over time and by country, for the report's exploration section.

    Returns
    -------
    dict
        ``by_month``: one dict per calendar month with ``period`` (``"2011-01"``), ``revenue``,
        ``orders`` and ``customers`` (active that month); ``by_country`` (when the data has a
        country column): the top :data:`ACTIVITY_TOP_COUNTRIES` countries by customers, then
        ``"other"``, each with ``customers`` and ``revenue``.

    Examples
    --------
    See ``tests/test_features.py``.
    """
    months = engine.run(
        portable.compiled(engine.dialect, "activity_by_month", table=table, has_invoice=has_invoice)
    )
    has_country = engine.scalar(
        f"SELECT count(*) FROM {table} WHERE reason IS NULL AND country IS NOT NULL"
    )
    countries = (
        engine.run(portable.compiled(engine.dialect, "activity_by_country", table=table))
        if has_country
        else None
    )
    return activity_from_frames(months, countries)


def activity_from_frames(months: pd.DataFrame, countries: pd.DataFrame | None) -> dict[str, Any]:
    """:func:`activity_summary`'s dict from an engine's answers to the portable
    ``activity_by_month`` and ``activity_by_country`` queries (``None``: no country column)."""
    out: dict[str, Any] = {
        "by_month": [
            {"period": p, "revenue": float(r), "orders": int(o), "customers": int(c)}
            for p, r, o, c in months.itertuples(index=False)
        ]
    }
    if countries is not None:
        rows_in = list(countries.itertuples(index=False))
        top = rows_in[:ACTIVITY_TOP_COUNTRIES]
        rest = rows_in[ACTIVITY_TOP_COUNTRIES:]
        rows = [{"level": str(c), "customers": int(n), "revenue": float(r)} for c, n, r in top]
        if rest:
            rows.append(
                {
                    "level": f"other ({len(rest)} countries)",
                    "customers": int(sum(n for _, n, _ in rest)),
                    "revenue": float(round(sum(r for _, _, r in rest), 2)),
                }
            )
        out["by_country"] = rows
    return out
