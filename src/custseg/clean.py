"""Cleaning of invoice lines with full row accounting.

Every line of the input gets exactly one outcome: kept as a sale, or dropped for the first
rule of :data:`CLEANING_RULES` it meets. So ``rows_in == rows_kept + sum(rows dropped per
reason)`` always holds, and the report and ``metrics.json`` show the table.
Cancellation lines are not sales, but they are the evidence of returns: the return rate feature
reads them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from custseg.engines import portable
from custseg.engines.duckdb import DuckDBEngine, quote_ident
from custseg.errors import InputError, show_rows
from custseg.io.readers import SourceInfo
from custseg.schema import (
    NUMERIC_TYPES,
    PLAUSIBLE_YEARS,
    Schema,
    check_parsed,
    column_type,
    currency_in_values,
    date_expr,
    detect_date_format,
    id_expr,
    normalize_name,
    number_expr,
    text_expr,
    uses_decimal_comma,
    with_serials,
)

#: Stock codes that are not products: postage, fees, manual entries, bank charges, samples and
#: test lines seen in e-commerce exports such as UCI Online Retail (I and II). Matched after
#: trimming, ignoring case. Override with ``non_product_codes=`` / ``--non-product-codes``.
NON_PRODUCT_CODES: dict[str, str] = {
    "POST": "postage",
    "DOT": "dotcom postage",
    "C2": "carriage",
    "M": "manual entry",
    "D": "discount",
    "S": "samples",
    "B": "adjust bad debt",
    "CRUK": "CRUK commission",
    "BANK CHARGES": "bank charges",
    "AMAZONFEE": "Amazon fee",
    "PADS": "placeholder line (price 0.001)",
    "ADJUST": "manual adjustment",
    "ADJUST2": "manual adjustment",
    "TEST001": "test line",
    "TEST002": "test line",
}

#: The cleaning rules, in the order they are applied. A line is counted under the first rule
#: it meets, so each dropped line is counted once.
CLEANING_RULES: tuple[tuple[str, str], ...] = (
    ("missing_customer_id", "no customer id: the line cannot be tied to a customer"),
    ("missing_value", "no date, quantity, price/amount or invoice number"),
    ("exact_duplicate", "identical in every column to an earlier line"),
    (
        "cancellation",
        "cancellation ('C' invoice or negative quantity); read only for the return rate",
    ),
    ("adjustment", "accounting adjustment ('A' invoice)"),
    ("non_product_code", "not a product: postage, fees, manual lines, bank charges (see the list)"),
    ("non_positive_price", "unit price zero or negative"),
    ("zero_quantity", "quantity zero"),
    ("after_analysis_date", "dated on or after the analysis date"),
)

MISSING_VALUE_WARN_SHARE = 0.01
"""Lines left out for a missing value are warned about from this share of the lines: a few
are a messy export, more are a column read wrongly (an order total blank on most lines)."""

#: What to check when a rule dropped every line, per reason: the fix the error suggests.
EMPTY_AFTER_CLEANING_HINTS: dict[str, str] = {
    "missing_customer_id": "check the customer id column (--customer-col)",
    "missing_value": "check the date, quantity, price and invoice columns (--date-col, "
    "--quantity-col, --price-col or --amount-col, --invoice-col)",
    "exact_duplicate": "check that the file is not one line copied many times",
    "cancellation": "check the invoice and quantity columns (--invoice-col, --quantity-col): "
    "'C' invoices and negative quantities are cancellations",
    "adjustment": "check the invoice column (--invoice-col): 'A' invoices are adjustments",
    "non_product_code": "check the product column (--product-col) and the list of codes that "
    "are not products (--non-product-codes)",
    "non_positive_price": "check the price column (--price-col or --amount-col)",
    "zero_quantity": "check the quantity column (--quantity-col)",
    "after_analysis_date": "pass a later --analysis-date, or check the dates (--date-format)",
}

#: Days past the day of the run that a line may be dated before it counts as dated in the
#: future: one, for files written in a time zone ahead of this machine's. Such lines never set
#: the analysis date; they are counted under ``after_analysis_date`` with a warning.
FUTURE_GRACE_DAYS = 1


def today() -> dt.date:
    """The day of the run (this machine's calendar); lines dated after
    ``today() + FUTURE_GRACE_DAYS`` are dated in the future."""
    return dt.date.today()


def future_cutoff() -> dt.date:
    """The first day whose lines are dated in the future (midnight of that day and later).

    Examples
    --------
    >>> future_cutoff() == today() + dt.timedelta(days=FUTURE_GRACE_DAYS + 1)
    True
    """
    return today() + dt.timedelta(days=FUTURE_GRACE_DAYS + 1)


@dataclass
class CleaningReport:
    """Row accounting of the cleaning step."""

    rows_in: int
    rows_kept: int
    dropped: list[dict[str, Any]]
    revenue_in: float
    revenue_kept: float
    customers_in: int
    customers_kept: int
    analysis_date: str
    non_product_codes: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def mark_duplicates(engine: DuckDBEngine, table: str = "clean_lines") -> int:
    """Mark the lines of ``table`` that are identical in every column of ``raw`` to an earlier
    line (the first line of each group of identical lines is the original): ``is_duplicate``
    becomes true, and ``reason`` ``exact_duplicate`` unless an earlier rule already holds.

    ``table`` carries ``_hash``, a 64-bit hash of each line's values in ``raw``. Only lines
    whose hash is shared are compared value by value in ``raw`` (at 5M generated lines, about
    4,400 of them), and the few duplicates are updated in place. Missing values count as equal,
    as in ``GROUP BY``. Returns the number of duplicate lines.
    """
    # Sorting the hashes and comparing neighbours is about half the work of grouping them
    # (nearly every hash is its own group): 5M lines 1.05 -> 0.55 s CPU.
    engine.sql(
        f"""CREATE OR REPLACE TEMP TABLE shared_hashes AS
        SELECT DISTINCT _hash FROM (
            SELECT _hash, lag(_hash) OVER (ORDER BY _hash) AS previous FROM {table}
        ) WHERE _hash = previous"""
    )
    if not engine.scalar("SELECT count(*) FROM shared_hashes"):
        return 0
    columns = [c for c, _ in engine.columns("raw") if c != "_row"]
    group = ", ".join(quote_ident(c) for c in columns)
    engine.sql(
        f"""CREATE OR REPLACE TEMP TABLE duplicate_rows AS
        WITH candidates AS MATERIALIZED (
            SELECT _row, {group} FROM raw
            WHERE _row IN (SELECT _row FROM {table} WHERE _hash IN (SELECT _hash FROM shared_hashes))
        )
        SELECT _row FROM candidates
        WHERE _row NOT IN (SELECT min(_row) FROM candidates GROUP BY {group})"""
    )
    engine.sql(
        f"""UPDATE {table} SET is_duplicate = true, reason = CASE
            WHEN reason IN ('missing_customer_id', 'missing_value') THEN reason
            ELSE 'exact_duplicate' END
        WHERE _row IN (SELECT _row FROM duplicate_rows)"""
    )
    return int(engine.scalar("SELECT count(*) FROM duplicate_rows"))


def reads_every_date(engine: DuckDBEngine, column: str, fmt: str) -> bool:
    """Whether ``column`` is text whose every present value reads with ``fmt``."""
    if not column_type(engine, column).startswith(("VARCHAR", "TEXT")):
        return False
    value = f"trim(CAST({quote_ident(column)} AS VARCHAR))"
    failing = engine.scalar(
        f"SELECT count(*) FROM raw WHERE {value} <> '' AND ({date_expr(column, fmt)}) IS NULL"
    )
    return failing == 0


def build_lines(
    engine: DuckDBEngine,
    schema: Schema,
    info: SourceInfo,
    date_format: str | None = None,
    explicit: Collection[str] = (),
    preferred_format: str | None = None,
) -> list[str]:
    """Create the typed ``lines`` view of ``raw``: one row per input line, nothing dropped.

    ``preferred_format`` (the format a model was given at training) reads a text date column
    when it reads every value; otherwise the format is detected as usual.

    ``explicit`` names the roles the user (or, at scoring, the model) gave a column to: a
    detected amount column beside a price is checked (:func:`amount_is_per_order`) only when
    neither was given.

    Returns warnings (for example an ambiguous day/month order).
    """
    roles = schema.roles
    from custseg.io.readers import describe_source

    where = describe_source(info)
    warnings: list[str] = []
    fmt = date_format
    if (
        fmt is None
        and preferred_format
        and reads_every_date(engine, roles["date"], preferred_format)
    ):
        fmt = preferred_format  # every value reads: no second check below
    if fmt is None:
        # Detection already read every distinct value with the chosen format.
        fmt, warnings = detect_date_format(engine, roles["date"], where)
    else:
        fmt, warnings = with_serials(engine, roles["date"], fmt)
    schema.date_format = fmt
    ts = date_expr(roles["date"], fmt)
    if date_format is not None:
        check_parsed(
            engine,
            roles["date"],
            ts,
            "dates",
            "Fix them, or pass --date-format to say how dates are written.",
            where,
        )

    def number(role: str) -> str:
        """SQL reading a role's column as numbers (decimal commas, signs), not yet checked."""
        col = roles[role]
        return number_expr(
            col, column_type(engine, col), uses_decimal_comma(engine, col, info.delimiter)
        )

    def num(role: str, expr: str | None = None) -> str:
        """:func:`number`, with the column's currency read and every value checked."""
        col = roles[role]
        typ = column_type(engine, col)
        expr = expr if expr is not None else number(role)
        if typ not in NUMERIC_TYPES and not typ.startswith("DECIMAL"):
            symbols = currency_in_values(engine, col)
            if len(symbols) == 1 and schema.currency is None:
                schema.currency = symbols[0]
            elif len(symbols) > 1:
                warnings.append(
                    f"column '{col}' holds amounts in more than one currency "
                    f"({', '.join(symbols)}); they are added up as they are. Convert them to "
                    "one currency first, or split the file by currency."
                )
        check_parsed(
            engine,
            col,
            expr,
            "numbers",
            f"Fix them, or pass --{role}-col to use another column.",
            where,
        )
        return expr

    warnings += _currency_column(engine, schema)
    quantity = num("quantity") if "quantity" in roles else "1.0"
    if "quantity" not in roles:
        if "price" in roles:  # the line amount is then the price alone
            warnings.append("no quantity column: each line counts as one item")
        else:  # the amount is the line's; only item counts read one per line
            info.notes.append("no quantity column: each line counts as one item")
    given_price = num("price") if "price" in roles else "NULL"
    if "price" in roles:
        warnings += negative_prices(engine, roles["price"], given_price, where)
    amount_sql = number("amount") if "amount" in roles else None
    if (
        amount_sql is not None
        and "price" in roles
        and not {"amount", "price"} & set(explicit)
        and (why := amount_is_per_order(engine, given_price, amount_sql)) is not None
    ):
        info.notes.append(
            f"column '{roles['amount']}' is not used as the line amount: {why}; each line's "
            f"amount is its quantity x '{roles['price']}' (pass --amount-col to use it anyway)"
        )
        del roles["amount"]
    given_amount = num("amount", amount_sql) if "amount" in roles else "NULL"
    if "amount" in roles:
        factors = {roles["amount"]: given_amount}
    else:
        factors = {
            roles[r]: e for r, e in (("quantity", quantity), ("price", given_price)) if r in roles
        }
    check_line_amounts(engine, factors, where)
    if "price" in roles:
        price = "given_price"
        amount = "given_amount" if "amount" in roles else "quantity * given_price"
    else:
        price = "given_amount / NULLIF(quantity, 0)"
        amount = "given_amount"
    invoice = text_expr(roles["invoice"]) if "invoice" in roles else "NULL"
    optional = {
        r: (text_expr(roles[r]) if r in roles else "NULL")
        for r in ("product", "description", "country")
    }
    source_cols = [c for c, _ in engine.columns("raw") if c != "_row"]
    group = ", ".join(quote_ident(c) for c in source_cols)
    cid = id_expr(roles["customer_id"], column_type(engine, roles["customer_id"]))
    # A view, not a table: the lines are typed as they are read, once, when ``clean_lines`` is
    # made. Values are parsed once in the inner query; the outer one derives price and amount.
    engine.sql(
        f"""CREATE OR REPLACE VIEW lines AS SELECT
            _row, customer_id, invoice, ts, quantity,
            CAST({price} AS DOUBLE) AS price,
            CAST(round({amount}, 4) AS DECIMAL(18, 4)) AS amount,
            product, description, country, _hash
        FROM (SELECT
            CAST(_row AS BIGINT) AS _row,
            CAST({cid} AS VARCHAR) AS customer_id,
            CAST({invoice} AS VARCHAR) AS invoice,
            CAST({ts} AS TIMESTAMP) AS ts,
            CAST({quantity} AS DOUBLE) AS quantity,
            CAST({given_price} AS DOUBLE) AS given_price,
            CAST({given_amount} AS DOUBLE) AS given_amount,
            CAST({optional["product"]} AS VARCHAR) AS product,
            CAST({optional["description"]} AS VARCHAR) AS description,
            CAST({optional["country"]} AS VARCHAR) AS country,
            -- Exact duplicates are found on the raw values; see mark_duplicates.
            hash({group}) AS _hash
        FROM raw)"""
    )
    return warnings


CURRENCY_COLUMN_NAMES = (
    "currency",
    "currencycode",
    "waehrung",
    "wahrung",
    "whrung",
    "devise",
    "moneda",
)
"""Names (normalized) of a column that says each line's currency (Shopify's ``Currency``)."""


def _currency_column(engine: DuckDBEngine, schema: Schema) -> list[str]:
    """The report's currency from a column naming each line's currency (``EUR`` on every
    line), when the amounts carry no symbol; a warning when it names more than one, since the
    amounts are then added up as they are. Returns the warnings."""
    from custseg.labels import currency_symbol

    column = next(
        (c for c, _ in engine.columns("raw") if normalize_name(c) in CURRENCY_COLUMN_NAMES), None
    )
    if column is None:
        return []
    codes = [
        str(r[0])
        for r in engine.sql(
            f"SELECT DISTINCT upper(trim(CAST({quote_ident(column)} AS VARCHAR))) AS v FROM raw "
            "WHERE v IS NOT NULL AND v <> '' ORDER BY v LIMIT 6"
        ).fetchall()
    ]
    if len(codes) > 1:
        return [
            f"column '{column}' names more than one currency ({', '.join(codes[:5])}); the "
            "amounts are added up as they are. Convert them to one currency first, or split "
            "the file by currency."
        ]
    if codes and schema.currency is None and currency_symbol(codes[0]) is not None:
        schema.currency = currency_symbol(codes[0])
    return []


AMOUNT_BLANK_SHARE = 0.01
"""A detected amount column blank on more than this share of the lines that have a price is not
the line amount: an order total written on each order's first line only (Shopify's ``Total``),
which would leave every other line without a value and drop it. An amount that is filled in
but differs from quantity x price (net of discounts, with VAT) is the line amount as the
export states it, and is kept."""


def amount_is_per_order(engine: DuckDBEngine, price: str, amount: str) -> str | None:
    """Why the detected amount column is not the lines' amount (None when it is): blank on
    more than :data:`AMOUNT_BLANK_SHARE` of the lines with a price. ``price`` and ``amount``
    are the SQL that reads each. One query."""
    priced, blank = engine.sql(
        f"""SELECT count(*) FILTER (WHERE p IS NOT NULL),
                   count(*) FILTER (WHERE p IS NOT NULL AND a IS NULL)
            FROM (SELECT TRY_CAST({price} AS DOUBLE) AS p, TRY_CAST({amount} AS DOUBLE) AS a
                  FROM raw)"""
    ).fetchone() or (0, 0)
    if priced and blank > AMOUNT_BLANK_SHARE * priced:
        return (
            f"it is blank on {blank:,} of the {priced:,} lines with a price ({blank / priced:.0%}; "
            "an order total written on each order's first line?)"
        )
    return None


#: Largest line amount (quantity x price, or the amount column) custseg takes: line amounts
#: are kept exactly, as DECIMAL(18, 4), so that sums do not depend on the order of additions.
#: No real invoice line comes near 1e14; one that does is a value in the wrong column or unit.
MAX_LINE_AMOUNT = 99_999_999_999_999.99


def check_line_amounts(engine: DuckDBEngine, factors: dict[str, str], where: str) -> None:
    """Refuse lines of ``raw`` whose amount does not fit :data:`MAX_LINE_AMOUNT`, naming them.

    ``factors`` maps the columns whose product is the line amount (the amount column alone,
    or the quantity and the price) to the SQL that reads each. The largest distinct values
    are looked at first; rows are searched only when their product could be too large. The
    product is never formed where it could overflow a double (logarithms decide there).

    Raises
    ------
    InputError
        If a line amount is more than :data:`MAX_LINE_AMOUNT`.
    """
    if not factors:
        return
    bound = 1.0
    for col, expr in factors.items():
        bound *= float(
            engine.scalar(
                f"SELECT coalesce(max(abs({expr})), 0) FROM (SELECT DISTINCT {quote_ident(col)} "
                "FROM raw)"
            )
        )
    if bound <= MAX_LINE_AMOUNT:
        return
    exprs = list(factors.values())
    if len(exprs) == 1:
        too_large = f"abs({exprs[0]}) > {MAX_LINE_AMOUNT}"
    else:
        q, p = exprs
        too_large = (
            f"CASE WHEN ({q}) = 0 OR ({p}) = 0 THEN false "
            f"WHEN log10(abs({q})) + log10(abs({p})) > 300 THEN true "
            f"ELSE abs(({q}) * ({p})) > {MAX_LINE_AMOUNT} END"
        )
    rows = [
        int(r[0])
        for r in engine.sql(
            f"SELECT _row FROM raw WHERE {too_large} ORDER BY _row LIMIT 5"
        ).fetchall()
    ]
    if not rows:
        return
    n = int(engine.scalar(f"SELECT count(*) FROM raw WHERE {too_large}"))
    shown = " x ".join(
        f"{col} {engine.scalar(f'SELECT CAST({quote_ident(col)} AS VARCHAR) FROM raw WHERE _row = {rows[0]}')!r}"
        for col in factors
    )
    raise InputError(
        f"{where}: {n:,} line(s) have an amount of 1e14 or more ({show_rows(rows, total=n)}), "
        f"e.g. {shown}: custseg keeps line amounts exactly, below 1e14. Fix those values (one "
        "in the wrong column, or in another unit?)."
    )


def negative_prices(engine: DuckDBEngine, column: str, expr: str, where: str) -> list[str]:
    """A warning naming the lines of ``raw`` whose unit price (``expr``) is negative.

    A unit price is never negative: refunds are written with a negative quantity or a 'C'
    invoice, discounts as their own product. Such lines are never summed as sales (their
    amount is negative, so they count as ``cancellation`` unless an earlier rule holds), but
    the user should know which they are. Each distinct price is looked at once.
    """
    col = quote_ident(column)
    if not engine.scalar(
        f"SELECT count(*) FROM (SELECT DISTINCT {col} FROM raw) WHERE ({expr}) < 0"
    ):
        return []
    rows = [
        int(r[0])
        for r in engine.sql(
            f"SELECT _row FROM raw WHERE ({expr}) < 0 ORDER BY _row LIMIT 5"
        ).fetchall()
    ]
    n = int(engine.scalar(f"SELECT count(*) FROM raw WHERE ({expr}) < 0"))
    example = engine.scalar(f"SELECT CAST({col} AS VARCHAR) FROM raw WHERE _row = {rows[0]}")
    return [
        f"{where}: column '{column}' has {n:,} negative price(s) ({show_rows(rows, total=n)}), "
        f"e.g. {example!r}. They are not sales: those lines are counted as cancellation "
        "(or under an earlier rule), and on real products their value is taken off the "
        "customer's revenue like a return. Write refunds with a "
        "negative quantity or a 'C' invoice, give discounts a product code of their own and "
        "list it in --non-product-codes, or fix the prices."
    ]


def clean_lines(
    engine: DuckDBEngine,
    *,
    analysis_date: dt.date | None = None,
    non_product_codes: list[str] | None = None,
    has_invoice: bool = True,
) -> CleaningReport:
    """Classify every line of ``lines`` into ``clean_lines`` with a ``reason`` (NULL = kept).

    Parameters
    ----------
    engine : DuckDBEngine
        Holds the typed ``lines`` table made by :func:`build_lines`.
    analysis_date : datetime.date, optional
        Lines on or after it are dropped. By default the day after the last line.
    non_product_codes : list of str, optional
        Stock codes that are not products; :data:`NON_PRODUCT_CODES` by default.
    has_invoice : bool
        Whether invoice numbers exist (their ``C``/``A`` prefixes mark cancellations and
        adjustments).
    """
    codes = list(NON_PRODUCT_CODES) if non_product_codes is None else list(non_product_codes)
    first, last = engine.run(portable.compiled(engine.dialect, "date_range")).iloc[0]
    cutoff = dt.datetime.combine(future_cutoff(), dt.time())
    future = not pd.isna(last) and pd.Timestamp(last) >= cutoff
    if future and analysis_date is None:
        # The analysis date comes from the last line dated no later than tomorrow.
        last = engine.scalar(
            "SELECT max(ts) FROM lines WHERE customer_id IS NOT NULL AND ts < ?", [cutoff]
        )
        if pd.isna(last):
            raise InputError(
                f"Every line with a customer id is dated in the future (after "
                f"{cutoff.date() - dt.timedelta(days=1)}, tomorrow), e.g. {first:%Y-%m-%d}. "
                "Check the date column and its format (--date-col, --date-format), or pass "
                "--analysis-date to choose the day the customers are measured at."
            )
    analysis_date, warnings = settle_analysis_date(first, last, analysis_date)
    # One pass over the file types and classifies every line; exact duplicates, which need
    # all lines, are marked afterwards (mark_duplicates keeps the order of the rules).
    classify = portable.compiled(
        engine.dialect, "classify", non_product_codes=codes, has_invoice=has_invoice
    )
    engine.sql(f"CREATE OR REPLACE TABLE clean_lines AS {classify}", [analysis_date])
    mark_duplicates(engine)
    engine.sql("ALTER TABLE clean_lines DROP COLUMN _hash")
    n_future = 0
    if future:
        n_future, future_warnings = count_future(engine, cutoff, analysis_date)
        warnings += future_warnings
    return cleaning_report(
        engine.run(portable.compiled(engine.dialect, "accounting")),
        engine.run(portable.compiled(engine.dialect, "customer_counts")),
        analysis_date=analysis_date,
        non_product_codes=codes,
        warnings=warnings,
        future_rows=n_future,
    )


def count_future(
    engine: DuckDBEngine, cutoff: dt.datetime, analysis_date: dt.date
) -> tuple[int, list[str]]:
    """The lines of ``clean_lines`` dated in the future (on or after ``cutoff``, the day after
    tomorrow) that no earlier rule claimed, and a warning that says how many.

    They are counted under ``after_analysis_date``; the warning tells them apart.
    """
    row = engine.sql(
        "SELECT count(*), min(_row), max(ts) FROM clean_lines "
        "WHERE reason = 'after_analysis_date' AND ts >= ?",
        [cutoff],
    ).fetchone()
    n, first_row, latest = row if row else (0, None, None)
    if not n:
        return 0, []
    latest_day = pd.Timestamp(latest).date()
    return int(n), [
        f"{n:,} line(s) are dated in the future, after {cutoff.date() - dt.timedelta(days=1)} "
        f"(tomorrow), up to {latest_day} (first at row {first_row}): they are dropped, counted "
        f"under after_analysis_date, and the analysis date is {analysis_date}, the day after "
        "the last line dated no later than tomorrow. Fix those dates (check the date format), "
        "or pass --analysis-date to choose the day."
    ]


def settle_analysis_date(
    first: Any, last: Any, analysis_date: dt.date | None
) -> tuple[dt.date, list[str]]:
    """The analysis date (by default the day after the last line with a customer) and
    warnings about implausible dates, from the earliest and latest dates of the lines.

    Raises
    ------
    InputError
        If no line has a customer id.
    """
    warnings: list[str] = []
    first = None if pd.isna(first) else pd.Timestamp(first)
    last = None if pd.isna(last) else pd.Timestamp(last)
    if last is None:
        raise InputError(
            "Nothing left after cleaning: no line has a customer id. Check that the customer "
            "column is right (--customer-col)."
        )
    if analysis_date is None:
        analysis_date = last.date() + dt.timedelta(days=1)
        if last >= pd.Timestamp(future_cutoff()):
            # Engines that only report the latest date (a database, Spark) land here; the
            # DuckDB engine passes the last line dated no later than tomorrow instead.
            warnings.append(
                f"the latest line is dated in the future ({last:%Y-%m-%d}), so the analysis "
                f"date is {analysis_date}: fix that date, or pass --analysis-date"
            )
    low, high = PLAUSIBLE_YEARS
    if first is not None and first.year < low:
        warnings.append(
            f"some dates are implausibly early (earliest {first:%Y-%m-%d}); check the date format"
        )
    if last.year > high:
        warnings.append(
            f"some dates are implausibly late (latest {last:%Y-%m-%d}); check the date format"
        )
    return analysis_date, warnings


def cleaning_report(
    accounting: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    analysis_date: dt.date,
    non_product_codes: list[str],
    warnings: list[str],
    future_rows: int = 0,
) -> CleaningReport:
    """The cleaning table from the engine's answers to the portable ``accounting`` and
    ``customer_counts`` queries (:mod:`custseg.engines.portable`).

    Raises
    ------
    InputError
        If no line is kept.
    """
    by_reason: dict[str | None, tuple[int, float]] = {
        (None if pd.isna(reason) else str(reason)): (int(rows), float(revenue))
        for reason, rows, revenue in zip(
            accounting["reason"], accounting["rows"], accounting["revenue"], strict=True
        )
    }
    rows_in = sum(n for n, _ in by_reason.values())
    kept_rows, kept_rev = by_reason.get(None, (0, 0.0))
    dropped: list[dict[str, Any]] = [
        {
            "reason": reason,
            "description": desc,
            "rows": by_reason.get(reason, (0, 0.0))[0],
            "revenue": round(by_reason.get(reason, (0, 0.0))[1], 2),
        }
        for reason, desc in CLEANING_RULES
    ]
    assert rows_in == kept_rows + sum(d["rows"] for d in dropped), "row accounting broken"
    customers_in, customers_kept = customers.iloc[0]
    warnings = list(warnings)
    revenue_in = sum(r for _, r in by_reason.values())
    no_id, no_id_revenue = by_reason.get("missing_customer_id", (0, 0.0))
    if no_id:
        share = f", {no_id_revenue / revenue_in:.1%} of the revenue" if revenue_in > 0 else ""
        warnings.append(
            f"{no_id:,} line(s) ({no_id / rows_in:.1%} of the lines) have no customer id and are "
            f"left out: they hold {no_id_revenue:,.2f}{share}. If that is more than expected, "
            "check the customer id column (--customer-col)"
        )
    no_value = by_reason.get("missing_value", (0, 0.0))[0]
    if no_value > MISSING_VALUE_WARN_SHARE * rows_in:
        warnings.append(
            f"{no_value:,} line(s) ({no_value / rows_in:.1%} of the lines) have no date, "
            "quantity, price/amount or invoice number and are left out. If that is more than "
            f"expected, {EMPTY_AFTER_CLEANING_HINTS['missing_value']}"
        )
    # Lines dated in the future (``future_rows`` of them) have a warning of their own.
    late = by_reason.get("after_analysis_date", (0, 0.0))[0] - future_rows
    if late:
        warnings.append(
            f"{late:,} lines dated on or after the analysis date {analysis_date} were dropped "
            "(pass --analysis-date to measure at a later day)"
        )
    if kept_rows == 0:
        steps = ", ".join(f"{d['reason']}: {d['rows']:,}" for d in dropped if d["rows"])
        main = max(dropped, key=lambda d: d["rows"])["reason"]
        raise InputError(
            f"Nothing left after cleaning: all {rows_in:,} lines were dropped ({steps}). Most "
            f"were {main}: {EMPTY_AFTER_CLEANING_HINTS[main]}."
        )
    return CleaningReport(
        rows_in=rows_in,
        rows_kept=kept_rows,
        dropped=dropped,
        revenue_in=round(revenue_in, 2),
        revenue_kept=round(kept_rev, 2),
        customers_in=int(customers_in),
        customers_kept=int(customers_kept),
        analysis_date=analysis_date.isoformat(),
        non_product_codes=non_product_codes,
        warnings=warnings,
    )
