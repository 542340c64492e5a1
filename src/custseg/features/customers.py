"""A customer table (one row per customer) -> typed feature frame.

Each column other than the id becomes a number, a date (turned into days before a reference
day, ``days_since_<column>``) or a category (text). The plan is stored in the model so that new
customers are typed exactly like the training table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from custseg.engines.duckdb import DuckDBEngine, quote_ident, sql_literal
from custseg.errors import InputError, show_rows
from custseg.schema import (
    NUMERIC_TYPES,
    check_parsed,
    currency_in_values,
    date_expr,
    detect_date_format,
    id_expr,
    number_expr,
    percent_column,
    uses_decimal_comma,
)


@dataclass
class CustomerColumns:
    """How each column of a customer table is read."""

    id_col: str
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    #: date column -> [format or None, reference day as ISO text]
    dates: dict[str, list[str | None]] = field(default_factory=dict)
    decimal_comma: list[str] = field(default_factory=list)
    #: the one currency symbol written in the number columns' values (``$1,234.50``), if any
    currency: str | None = None
    #: columns a scored file may lack: the model left them out of its segments, so they are
    #: read when present (for the output) and skipped when absent. Set at scoring only.
    optional: list[str] = field(default_factory=list)

    def feature_name(self, col: str) -> str:
        """Name of the feature made from a column."""
        return f"days_since_{col}" if col in self.dates else col

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, as a model stores it (without ``optional``, set at scoring)."""
        return {k: v for k, v in self.__dict__.items() if k != "optional"}

    def for_scoring(self, used: Collection[str]) -> CustomerColumns:
        """This plan with every column whose feature is not in ``used`` (the features a model
        segments on) marked optional.

        Examples
        --------
        >>> plan = CustomerColumns("id", numeric=["age", "tenure"], categorical=["email"])
        >>> plan.for_scoring(["age"]).optional
        ['tenure', 'email']
        """
        columns = [*self.numeric, *self.categorical, *self.dates]
        return replace(self, optional=[c for c in columns if self.feature_name(c) not in used])

    def present(self, have: Collection[str]) -> CustomerColumns:
        """This plan without the optional columns missing from ``have``.

        Examples
        --------
        >>> plan = CustomerColumns("id", numeric=["age", "tenure"], optional=["tenure"])
        >>> plan.present(["id", "age"]).numeric
        ['age']
        """
        gone = {c for c in self.optional if c not in have}
        if not gone:
            return self
        return replace(
            self,
            numeric=[c for c in self.numeric if c not in gone],
            categorical=[c for c in self.categorical if c not in gone],
            dates={c: v for c, v in self.dates.items() if c not in gone},
            optional=[c for c in self.optional if c not in gone],
        )


def _all_numbers(engine: DuckDBEngine, col: str, expr: str) -> bool:
    q = quote_ident(col)
    bad = engine.scalar(
        f"SELECT count(*) FROM raw WHERE {q} IS NOT NULL AND trim(CAST({q} AS VARCHAR)) <> '' "
        f"AND ({expr}) IS NULL"
    )
    present = engine.scalar(f"SELECT count({q}) FROM raw")
    return bool(present) and bad == 0


def _plain_text(engine: DuckDBEngine, columns: list[str]) -> set[str]:
    """The text columns none of whose values holds a digit or spells a special number
    (``inf``, ``nan``): neither numbers nor dates, so categories without the per-column checks
    (several queries each: a table of hundreds of text columns took seconds). One query."""
    if not columns:
        return set()
    checks = ", ".join(
        f"coalesce(bool_or(regexp_matches(lower(CAST({quote_ident(c)} AS VARCHAR)), "
        f"'[0-9]|inf|nan')), false)"
        for c in columns
    )
    row = engine.sql(f"SELECT {checks} FROM raw").fetchone()
    return {c for c, has in zip(columns, row or [], strict=False) if has is False}


def plan_customer_columns(
    engine: DuckDBEngine, id_col: str, where: str, delimiter: str | None
) -> tuple[CustomerColumns, list[str]]:
    """Decide how each column of ``raw`` is read (number, date or category).

    Returns the plan and warnings (for example dates that read day-first or month-first).
    """
    plan = CustomerColumns(id_col=id_col)
    warnings: list[str] = []
    columns = [(c, t) for c, t in engine.columns("raw") if c not in ("_row", id_col)]
    text = _plain_text(engine, [c for c, t in columns if t == "VARCHAR"])
    symbols: set[str] = set()
    for col, typ in columns:
        if typ in NUMERIC_TYPES or typ.startswith("DECIMAL") or typ == "BOOLEAN":
            plan.numeric.append(col)
            continue
        if typ.startswith(("TIMESTAMP", "DATE")):
            plan.dates[col] = [None, ""]
            continue
        if col in text:
            plan.categorical.append(col)
            continue
        comma = uses_decimal_comma(engine, col, delimiter)
        percent = percent_column(engine, col)
        if _all_numbers(engine, col, number_expr(col, typ, comma, percent)):
            plan.numeric.append(col)
            if comma:
                plan.decimal_comma.append(col)
            if not percent:
                symbols.update(currency_in_values(engine, col))
            continue
        fmt, date_warnings = detect_date_format(engine, col, where, required=False)
        warnings.extend(date_warnings)
        if fmt:
            plan.dates[col] = [fmt, ""]
        else:
            plan.categorical.append(col)
    if len(symbols) == 1:
        plan.currency = symbols.pop()
    for col, (fmt, _) in plan.dates.items():
        last = engine.scalar(f"SELECT max({date_expr(col, fmt)}) FROM raw")
        ref = (last.date() if isinstance(last, dt.datetime) else last) + dt.timedelta(days=1)
        plan.dates[col][1] = ref.isoformat()
    return plan, warnings


def customer_features(engine: DuckDBEngine, plan: CustomerColumns, where: str) -> pd.DataFrame:
    """Read ``raw`` into a typed frame following ``plan``; one row per customer.

    Raises
    ------
    InputError
        If a planned column is missing, ids are missing or repeated, or values do not parse.
    """
    have = {c: t for c, t in engine.columns("raw")}
    plan = plan.present(have)
    needed = [plan.id_col, *plan.numeric, *plan.categorical, *plan.dates]
    missing = [c for c in needed if c not in have]
    if missing:
        raise InputError(
            f"{where} has no column '{missing[0]}', which the model was trained with. "
            f"Columns found: {', '.join(c for c in have if c != '_row')}."
        )
    selects = [f"{id_expr(plan.id_col, have[plan.id_col])} AS customer_id"]
    for col in plan.numeric:
        # Per cent signs are removed from every text column read as numbers (the plan keeps
        # no list of them): a model trained on 12 reads 12% as 12 too, and one trained on 12%
        # reads 12.
        expr = number_expr(col, have[col], col in plan.decimal_comma, percent=True)
        if have[col] == "BOOLEAN":
            expr = f"CAST({quote_ident(col)} AS DOUBLE)"
        check_parsed(engine, col, expr, "numbers", "Fix them or remove the column.", where)
        selects.append(f"{expr} AS {quote_ident(col)}")
    for col in plan.categorical:
        selects.append(
            f"NULLIF(trim(CAST({quote_ident(col)} AS VARCHAR)), '') AS {quote_ident(col)}"
        )
    for col, (fmt, ref) in plan.dates.items():
        check_parsed(
            engine, col, date_expr(col, fmt), "dates", f"Write them like the others ({fmt}).", where
        )
        selects.append(
            f"CAST(date_diff('day', CAST({date_expr(col, fmt)} AS DATE), "
            f"CAST({sql_literal(str(ref))} AS DATE)) AS DOUBLE) AS {quote_ident(plan.feature_name(col))}"
        )
    frame = engine.sql(f"SELECT _row, {', '.join(selects)} FROM raw ORDER BY _row").df()
    missing_ids = frame.loc[frame["customer_id"].isna(), "_row"].tolist()
    if missing_ids:
        raise InputError(
            f"{where}: column '{plan.id_col}' has {len(missing_ids):,} empty customer id(s) "
            f"({show_rows(missing_ids[:5], total=len(missing_ids))}). Give every row an id."
        )
    dup = frame["customer_id"].duplicated(keep=False)
    if dup.any():
        rows = frame.loc[dup, "_row"].tolist()
        example = frame.loc[dup, "customer_id"].iloc[0]
        raise InputError(
            f"{where}: customer id {example!r} in column '{plan.id_col}' appears more than once "
            f"({show_rows(rows[:5], total=len(rows))}), but a customer table has one row per "
            "customer. If these are invoice lines, pass --kind transactions with --date-col and "
            "--price-col (or --amount-col)."
        )
    _check_magnitudes(frame, plan.numeric, where)
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.drop(columns="_row").reset_index(drop=True)


LARGEST_VALUE = 1e30
"""Numbers beyond +-1e30 are refused. No amount, count or measure is that large (nanoseconds
since 1970 are about 1.7e18); such values are typing errors or overflow markers, and near the
float limit (1e308) they break what is computed from them (squares in scaling, the rules'
single precision, whose limit is 3.4e38)."""


def _check_magnitudes(frame: pd.DataFrame, numeric: list[str], where: str) -> None:
    """Refuse numbers beyond :data:`LARGEST_VALUE`, naming the column and the rows."""
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce").abs()
        huge = values > LARGEST_VALUE
        if huge.any():
            rows = frame.loc[huge, "_row"].astype(int).tolist()
            example = float(frame.loc[huge, col].iloc[0])
            raise InputError(
                f"{where}: column '{col}' has {len(rows):,} value(s) beyond +-{LARGEST_VALUE:g} "
                f"({show_rows(rows[:5], total=len(rows))}), e.g. {example:g}. No amount or "
                "count is that large: fix or remove those values, or leave the column out."
            )
