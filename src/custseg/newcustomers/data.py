"""Kept sale lines for the new-customer models, through custseg's own reading and cleaning.

The same reader, role detection and cleaning rules as :func:`custseg.segment` run here, so
the row accounting (cancellations, bad prices, missing ids, ...) is the same. Customers whose
lines are all dropped (only returns, negative amounts, non-products) are counted, not scored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from custseg.engines.duckdb import DuckDBEngine
from custseg.errors import InputError
from custseg.features.transactions import transaction_features
from custseg.newcustomers.purchases import CustomerPurchases, purchases_from_engine

#: Columns of the kept sale lines, as :func:`custseg.clean.build_lines` names them.
LINE_COLUMNS = ("customer_id", "invoice", "ts", "quantity", "price", "amount", "product",
                "description", "country")  # fmt: skip


@dataclass
class SaleLines:
    """Kept sale lines of a source and what reading and cleaning them found.

    ``sales`` is what the models read of the kept lines: one row per kept line (columns of
    :data:`LINE_COLUMNS` the source has) from :func:`read_sale_lines`, or only their
    per-customer summary (:class:`~custseg.newcustomers.purchases.CustomerPurchases`) from
    :func:`sale_lines_from_engine`, which is what :func:`custseg.segment` uses: the lines
    themselves never leave DuckDB there. ``purchases`` is that summary either way.
    ``features_at`` holds custseg's RFM features at each requested day (for labelling
    customers with a segment model).
    """

    sales: pd.DataFrame | CustomerPurchases
    roles: dict[str, str]
    cleaning: dict[str, Any]
    source: dict[str, Any]
    has_time: bool
    first_day: dt.date
    last_day: dt.date
    features_at: dict[str, pd.DataFrame] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    purchases: CustomerPurchases | None = None

    @property
    def line_frame(self) -> pd.DataFrame:
        """The kept lines as a DataFrame (only :func:`read_sale_lines` keeps them)."""
        if not isinstance(self.sales, pd.DataFrame):
            raise TypeError("these sale lines were summarised in the engine; use read_sale_lines")
        return self.sales

    @property
    def excluded_customers(self) -> int:
        """Customers with lines but no kept sale (only returns, negative amounts, ...)."""
        return int(self.cleaning["customers_in"] - self.cleaning["customers_kept"])


def read_sale_lines(
    source: str | Path | pd.DataFrame,
    *,
    sheet: str | None = None,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    non_product_codes: list[str] | None = None,
    feature_days: Callable[[dt.date, dt.date], list[dt.date]] | None = None,
) -> SaleLines:
    """Read and clean invoice lines; return the kept sales.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        Invoice lines in any format :func:`custseg.segment` reads.
    sheet, columns, date_format, non_product_codes
        As in :func:`custseg.segment`.
    feature_days : callable, optional
        Given the first and last day of the kept sales, returns the days at which to also
        compute custseg's customer features (from the lines dated before each day), while
        the cleaned lines are still in the engine.

    Raises
    ------
    InputError
        When the source is not invoice lines or nothing is left after cleaning.

    Examples
    --------
    >>> lines = read_sale_lines(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> lines.sales.columns.tolist()[:3]  # doctest: +SKIP
    ['customer_id', 'invoice', 'ts']
    """
    # The pipeline's preparation stage is reused as is (read, roles, kind, build and clean).
    from custseg.prepare import Timer, prepare

    with DuckDBEngine() as engine:
        prep = prepare(
            engine,
            source,
            Timer(None),
            kind="transactions",
            sheet=sheet,
            columns=columns,
            date_format=date_format,
            non_product_codes=non_product_codes,
        )
        return sale_lines_from_engine(engine, prep, feature_days=feature_days, keep_lines=True)


def sale_lines_from_engine(
    engine: DuckDBEngine,
    prep: Any,
    *,
    feature_days: Callable[[dt.date, dt.date], list[dt.date]] | None = None,
    keep_lines: bool = False,
) -> SaleLines:
    """What the new-customer models need of the kept sale lines of an engine that holds
    ``clean_lines`` (made by the pipeline's preparation ``prep``), read out before the engine
    closes: their per-customer summary, computed in DuckDB, and with ``keep_lines`` the lines
    themselves (as a DataFrame, for the time-split evaluation).

    Examples
    --------
    See :func:`read_sale_lines`; :func:`custseg.segment` calls this on its own engine so that
    the file is read once.
    """
    roles = prep.schema.roles
    engine.sql(
        "CREATE OR REPLACE TEMP VIEW nc_kept AS SELECT * FROM clean_lines WHERE reason IS NULL"
    )
    # One pass for what the summaries are made according to.
    n_kept, n_invoices, n_timed, first_day, last_day = engine.sql(
        """SELECT count(*), count(invoice), count(*) FILTER (WHERE ts <> date_trunc('day', ts)),
                  min(ts)::DATE, max(ts)::DATE FROM nc_kept"""
    ).fetchone() or (0, 0, 0, None, None)
    if not n_kept:
        raise InputError("Nothing left after cleaning: no kept sale lines.")
    has_time = bool(n_timed)
    span = (first_day, last_day)
    purchases = purchases_from_engine(
        engine,
        "nc_kept",
        has_invoice="invoice" in roles and bool(n_invoices),
        has_country="country" in roles,
    )
    sales: pd.DataFrame | CustomerPurchases = purchases
    if keep_lines:
        sales = _line_frame(engine, roles)
    features_at: dict[str, pd.DataFrame] = {}
    days = feature_days(span[0], span[1]) if feature_days else []
    for day in days:
        engine.sql(
            "CREATE OR REPLACE TABLE lines_before AS SELECT * FROM clean_lines WHERE ts < ?::TIMESTAMP",
            [day],
        )
        features_at[day.isoformat()] = transaction_features(
            engine,
            day,
            has_invoice="invoice" in roles,
            has_product="product" in roles,
            non_product_codes=prep.cleaning.get("non_product_codes"),
            table="lines_before",
        )
    return SaleLines(
        sales=sales,
        roles=dict(roles),
        cleaning=prep.cleaning,
        source=prep.info.to_dict(),
        has_time=has_time,
        first_day=span[0],
        last_day=span[1],
        features_at=features_at,
        warnings=list(prep.warnings),
        purchases=purchases,
    )


def _line_frame(engine: DuckDBEngine, roles: dict[str, str]) -> pd.DataFrame:
    optional = {"invoice", "product", "description", "country"}
    present = [c for c in LINE_COLUMNS if c not in optional or c in roles]
    select = ", ".join("CAST(amount AS DOUBLE) AS amount" if c == "amount" else c for c in present)
    sales = engine.sql(f"SELECT {select} FROM nc_kept ORDER BY _row").df()
    sales["customer_id"] = sales["customer_id"].astype(str).astype(object)
    for col in ("invoice", "product", "description", "country"):
        if col in sales:
            sales[col] = sales[col].astype(object)
    return sales


def parse_day(value: str | dt.date, what: str) -> dt.date:
    """A day from ``YYYY-MM-DD`` text, with a message naming the option when it is not one.

    Examples
    --------
    >>> parse_day("2011-09-01", "--calibration-end")
    datetime.date(2011, 9, 1)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(
            f"{what} {value!r} is not a date. Write it as YYYY-MM-DD, e.g. 2011-09-01."
        ) from None
