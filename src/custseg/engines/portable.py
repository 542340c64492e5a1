"""The cleaning rules, the row accounting and the customer features, written once as Ibis
expressions and compiled for each engine (DuckDB, a SQL database, Spark).

Every function here takes and returns Ibis expressions over tables that follow the
*lines contract* (:data:`LINE_COLUMNS`): one row per input line, already typed by the engine
that read it. Nothing here runs a query; the engine compiles the expression to its own SQL and
runs it (:meth:`custseg.engines.duckdb.DuckDBEngine.run`). The formulas are the ones
:data:`custseg.features.transactions.TRANSACTION_FEATURES` and
:data:`custseg.clean.CLEANING_RULES` describe.

Ibis is imported when a function is first called, not when custseg is imported: a misspelled
path fails before it is loaded.

Examples
--------
>>> import ibis
>>> lines = ibis.table(LINE_COLUMNS, name="lines")
>>> clean = classify(lines, analysis_date=dt.date(2011, 12, 10), non_product_codes=["POST"])
>>> "reason" in clean.columns
True
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: The typed lines every engine hands to :func:`classify`: name -> Ibis type. ``_row`` is the
#: line's number in the input (file order; an engine without an order numbers them as it
#: reads), ``amount`` is exact (quantity x price, or the given amount) so that sums do not
#: depend on the order of the additions.
LINE_COLUMNS: dict[str, str] = {
    "_row": "int64",
    "customer_id": "string",
    "invoice": "string",
    "ts": "timestamp",
    "quantity": "float64",
    "price": "float64",
    "amount": "decimal(18, 4)",
    "product": "string",
    "description": "string",
    "country": "string",
}


def classify(
    lines: ir.Table,
    *,
    analysis_date: dt.date,
    non_product_codes: list[str],
    has_invoice: bool = True,
    duplicate: str | None = None,
) -> ir.Table:
    """Give every line a ``reason``: the first cleaning rule it meets, NULL for a kept sale.

    The rules are :data:`custseg.clean.CLEANING_RULES` in their order. ``exact_duplicate``
    needs the lines' raw values: an engine either names a boolean column of ``lines`` that
    marks them (``duplicate``; :func:`duplicate_flag` makes it) or marks them afterwards, as
    DuckDB does with hashes. Also adds ``is_duplicate``.

    Parameters
    ----------
    lines : ibis Table
        Follows :data:`LINE_COLUMNS` (extra columns are kept as they are).
    analysis_date : datetime.date
        Lines at or after its midnight are ``after_analysis_date``.
    non_product_codes : list of str
        Product codes that are not products (compared trimmed and upper-case).
    has_invoice : bool
        Whether invoice numbers exist: ``C`` marks a cancellation and ``A`` an adjustment.
    duplicate : str, optional
        A boolean column of ``lines``, true for a copy of an earlier line; it is dropped.
    """
    import ibis

    codes = [c.strip().upper() for c in non_product_codes]
    invoice = lines.invoice.upper() if has_invoice else ibis.literal("", type="string")
    product_code = lines.product.upper()
    rules = [
        (lines.customer_id.isnull(), "missing_customer_id"),
        (
            lines.ts.isnull()
            | lines.quantity.isnull()
            | lines.price.isnull()
            | lines.amount.isnull()
            # A line without an invoice number belongs to no order: kept, it counted no order
            # for its customer (n_orders 0, an infinite mean order value).
            | (lines.invoice.isnull() if has_invoice else ibis.literal(False)),
            "missing_value",
        ),
    ]
    if duplicate is not None:
        rules.append((lines[duplicate], "exact_duplicate"))
    rules += [
        (
            invoice.startswith("C") | (lines.quantity < 0) | (lines.amount < 0),
            "cancellation",
        ),
        (invoice.startswith("A"), "adjustment"),
    ]
    if codes:
        rules.append((product_code.isin(codes), "non_product_code"))
    rules += [
        (lines.price <= 0, "non_positive_price"),
        (lines.quantity == 0, "zero_quantity"),
        (lines.ts >= _midnight(analysis_date), "after_analysis_date"),
    ]
    # A NULL condition (a missing invoice, product or price) does not match, as in SQL's CASE.
    reason = ibis.cases(*((cond.fill_null(False), name) for cond, name in rules), else_=None)
    flag = lines[duplicate] if duplicate is not None else ibis.literal(False)
    out = lines.mutate(is_duplicate=flag, reason=reason.cast("string"))
    return out.drop(duplicate) if duplicate is not None else out


def _midnight(day: dt.date) -> Any:
    import ibis

    # A literal, not ibis.timestamp(y, m, d, ...): Ibis 12 has no Spark SQL for the latter.
    return ibis.literal(dt.datetime(day.year, day.month, day.day), type="timestamp")


def duplicate_flag(raw: ir.Table, columns: list[str]) -> Any:
    """A boolean column of ``raw``: true for every row identical in ``columns`` to another row
    counted before it (each group of identical rows keeps one original; missing values count
    as equal, as in ``GROUP BY``). The portable way, a window over every column; the DuckDB
    engine compares 64-bit hashes first, several times faster on large files.
    """
    import ibis

    return ibis.row_number().over(group_by=[raw[c] for c in columns]) > 0


def accounting(clean: ir.Table) -> ir.Table:
    """Lines and exact revenue per ``reason`` (NULL = kept): the cleaning table's numbers."""
    return clean.group_by("reason").aggregate(
        rows=clean.count(), revenue=clean.amount.cast("float64").sum().fill_null(0)
    )


def customer_counts(clean: ir.Table) -> ir.Table:
    """One row: customers with an id, and customers with at least one kept line."""
    per_customer = (
        clean.filter(clean.customer_id.notnull())
        .group_by("customer_id")
        .aggregate(kept=clean.reason.isnull().any())
    )
    return per_customer.aggregate(
        customers_in=per_customer.count(),
        customers_kept=per_customer.kept.ifelse(1, 0).sum().fill_null(0),
    )


def date_range(lines: ir.Table) -> ir.Table:
    """One row: the earliest date of all lines and the latest of the lines with a customer."""
    return lines.aggregate(
        first=lines.ts.min(), last=lines.ts.max(where=lines.customer_id.notnull())
    )


def customer_features(
    clean: ir.Table,
    *,
    non_product_codes: list[str],
    has_invoice: bool = True,
    has_product: bool = True,
) -> ir.Table:
    """The customer features of every customer with a kept sale, sorted by ``customer_id``.

    Returns ``customer_id``, ``last_day`` and ``first_day`` (dates; the engine-independent
    caller turns them into days before the analysis date), ``n_orders``, ``revenue``,
    ``mean_order_value`` and ``return_rate`` (not yet rounded: the caller rounds them the
    same way for every engine), and ``n_products`` (with products), as
    :data:`custseg.features.transactions.TRANSACTION_FEATURES` defines them: orders first (one
    row per customer and invoice, or purchase day without invoices), then customers; revenue
    net of the value of returned products and never below 0; returns read from the
    ``cancellation`` lines of real products. The expression does not depend on the analysis
    date, so its SQL is compiled once per shape (:func:`compiled`).
    """
    import ibis
    from ibis import _

    codes = [c.strip().upper() for c in non_product_codes]
    kept = clean.filter(clean.reason.isnull())
    order_key = kept.invoice if has_invoice else kept.ts.date().cast("string")
    orders = kept.group_by(customer_id=kept.customer_id, order_key=order_key).aggregate(
        last_ts=_.ts.max(), first_ts=_.ts.min(), revenue=_.amount.sum(), items=_.quantity.sum()
    )
    sales = orders.group_by("customer_id").aggregate(
        last_day=_.last_ts.max().date(),
        first_day=_.first_ts.min().date(),
        n_orders=_.order_key.count(),
        revenue=_.revenue.sum(),
        items=_.items.sum(),
    )
    cancelled = clean.filter(clean.reason == "cancellation")
    if has_product and codes:
        cancelled = cancelled.filter(
            cancelled.product.isnull() | ~cancelled.product.upper().isin(codes)
        )
    returns = cancelled.group_by("customer_id").aggregate(
        returned=_.quantity.abs().sum(), returned_value=_.amount.abs().sum()
    )
    s = sales.left_join(returns, "customer_id")
    # Rounded to the cents' hundredths first: exact already where money is a decimal, and it
    # puts SQLite's sums of doubles (357.68999...) back on the value before the ratio.
    net = ibis.greatest(0, s.revenue - s.returned_value.fill_null(0)).round(4)
    columns = {
        "customer_id": s.customer_id,
        "last_day": s.last_day,
        "first_day": s.first_day,
        "n_orders": s.n_orders,
        "revenue": net.round(2).cast("float64"),
        # Ratios of doubles are rounded by the caller (features_from_frame), not here: each
        # database rounds a double its own way (PostgreSQL through NUMERIC), which can move a
        # value that sits on a half cent.
        "mean_order_value": net.cast("float64") / s.n_orders,
        "return_rate": ibis.least(1.0, s.returned.fill_null(0) / s.items),
    }
    out = s.select(**columns)
    if has_product:
        products = (
            kept.select("customer_id", "product")
            .distinct()
            .group_by("customer_id")
            .aggregate(n_products=_.product.count())
        )
        names = [*columns][1:-1] + ["n_products", "return_rate"]
        joined = out.left_join(products, "customer_id")
        out = joined.select(
            "customer_id",
            *names[:-2],
            n_products=joined.n_products.fill_null(0),
            return_rate=joined.return_rate,
        )
    return out.order_by("customer_id")


def activity_by_month(clean: ir.Table, *, has_invoice: bool = True) -> ir.Table:
    """Kept revenue, orders and active customers per calendar month (``period`` = ``2011-01``).

    An order counts in each month it has lines.
    """
    from ibis import _

    kept = clean.filter(clean.reason.isnull())
    order_key = kept.invoice if has_invoice else kept.ts.date().cast("string")
    per_order = kept.group_by(
        month=kept.ts.truncate("M"), customer_id=kept.customer_id, order_key=order_key
    ).aggregate(revenue=_.amount.sum())
    months = per_order.group_by("month").aggregate(
        revenue=_.revenue.sum().round(2).cast("float64"),
        orders=_.order_key.count(),
        customers=_.customer_id.nunique(),
    )
    return months.order_by("month").select(
        period=months.month.strftime("%Y-%m"),
        revenue=_.revenue,
        orders=_.orders,
        customers=_.customers,
    )


def activity_by_country(clean: ir.Table) -> ir.Table:
    """Customers and kept revenue per country; a customer's country is the one of most of
    their lines (ties: alphabetical). Sorted by customers, most first."""
    import ibis
    from ibis import _

    kept = clean.filter(clean.reason.isnull())
    per_line = kept.group_by(
        customer_id=kept.customer_id, country=kept.country.fill_null("unknown")
    ).aggregate(n=_.count(), revenue=_.amount.cast("float64").sum())
    ranked = per_line.mutate(
        rank=ibis.row_number().over(
            group_by=per_line.customer_id, order_by=[per_line.n.desc(), per_line.country]
        ),
        total=per_line.revenue.sum().over(group_by=per_line.customer_id),
    )
    first = ranked.filter(ranked["rank"] == 0)
    countries = first.group_by("country").aggregate(
        customers=_.count(), revenue=_.total.sum().round(2)
    )
    return countries.order_by([countries.customers.desc(), countries.country])


#: The classified lines (:func:`classify`'s output).
CLEAN_COLUMNS: dict[str, str] = {**LINE_COLUMNS, "is_duplicate": "boolean", "reason": "string"}

#: The queries an engine runs on its ``lines`` (:data:`LINE_COLUMNS`) and ``clean_lines``
#: (:data:`CLEAN_COLUMNS`) tables: name -> (table, builder). None depends on the analysis date,
#: so each is compiled once per dialect and shape (:func:`compiled`).
QUERIES: dict[str, tuple[str, Any]] = {
    "date_range": ("lines", date_range),
    "accounting": ("clean_lines", accounting),
    "customer_counts": ("clean_lines", customer_counts),
    "customer_features": ("clean_lines", customer_features),
    "activity_by_month": ("clean_lines", activity_by_month),
    "activity_by_country": ("clean_lines", activity_by_country),
}


#: A day no data has, compiled in place of the analysis date and then swapped for a bound
#: parameter (Ibis has no placeholders), so that the cleaning's SQL is compiled once.
DATE_MARKER = dt.date(1234, 5, 6)


#: DuckDB's SQL of the usual query shapes, compiled from the definitions above and shipped with
#: custseg (``python -m custseg.engines.portable`` writes it; tests/test_portable.py checks that
#: every entry still equals a fresh compilation). A job on a file then needs no Ibis at all:
#: importing it and compiling cost about 0.5 s per run. Other shapes are compiled when needed.
PRECOMPILED = Path(__file__).with_name("duckdb_queries.json")


def _key(name: str, table: str, shape: tuple[tuple[str, Any], ...]) -> str:
    return json.dumps(
        [name, table, [[k, list(v) if isinstance(v, tuple) else v] for k, v in shape]]
    )


@lru_cache(maxsize=1)
def _shipped() -> dict[str, str]:
    try:
        loaded = json.loads(PRECOMPILED.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a source tree without the file: compile everything
        return {}
    return dict(loaded.get("queries", {}))


@lru_cache(maxsize=128)
def _compiled(dialect: str, name: str, table: str, shape: tuple[tuple[str, Any], ...]) -> str:
    if dialect == "duckdb":
        shipped = _shipped().get(_key(name, table, shape))
        if shipped is not None:
            return shipped
    return _compile(dialect, name, table, shape)


def _compile(dialect: str, name: str, table: str, shape: tuple[tuple[str, Any], ...]) -> str:
    import ibis

    if name == "classify":
        lines = ibis.table({**LINE_COLUMNS, "_hash": "uint64"}, name=table or "lines")
        expr = classify(lines, analysis_date=DATE_MARKER, **dict(shape))
        sql = str(ibis.to_sql(expr.relocate("_hash", after="reason"), dialect=dialect))
        marker = str(ibis.to_sql(_midnight(DATE_MARKER).name("m").as_table(), dialect=dialect))
        literal = marker.split("SELECT", 1)[1].rsplit(" AS ", 1)[0].strip()
        if sql.count(literal) != 1:  # pragma: no cover - an Ibis change would show here
            raise RuntimeError(f"cannot bind the analysis date in {dialect} SQL")
        return sql.replace(literal, "CAST(? AS TIMESTAMP)")
    default_table, build = QUERIES[name]
    columns = LINE_COLUMNS if default_table == "lines" else CLEAN_COLUMNS
    expr = build(ibis.table(columns, name=table or default_table), **dict(shape))
    return str(ibis.to_sql(expr, dialect=dialect))


def compiled(dialect: str, name: str, *, table: str | None = None, **shape: Any) -> str:
    """The SQL of one of :data:`QUERIES` for an engine's dialect, compiled once per shape and
    cached for the process (a compilation takes 5-30 ms, and the whole feature stage about
    0.2 s at 1M lines).

    ``shape`` holds the builder's keyword arguments (``has_invoice``, ``has_product``,
    ``non_product_codes``); ``table`` the table's name when it is not the usual one.
    ``"classify"`` (:func:`classify` of the ``lines`` table with its ``_hash`` column last)
    takes the analysis date as a bound parameter: run it with ``[analysis_date]``.

    Examples
    --------
    >>> sql = compiled("duckdb", "customer_features", non_product_codes=["POST"])
    >>> "GROUP BY" in sql
    True
    """
    usual = QUERIES[name][0] if name in QUERIES else "lines"
    return _compiled(dialect, name, "" if table in (None, usual) else table, _freeze(shape))


def usual_shapes(non_product_codes: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The queries a job on a file runs, for the given non-product codes, with and without
    invoices and products: (name, shape) pairs."""
    codes = list(non_product_codes)
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("date_range", {}),
        ("accounting", {}),
        ("customer_counts", {}),
        ("activity_by_country", {}),
    ]
    for has_invoice in (True, False):
        shapes.append(("classify", {"non_product_codes": codes, "has_invoice": has_invoice}))
        shapes.append(("activity_by_month", {"has_invoice": has_invoice}))
        for has_product in (True, False):
            shapes.append(
                (
                    "customer_features",
                    {
                        "non_product_codes": codes,
                        "has_invoice": has_invoice,
                        "has_product": has_product,
                    },
                )
            )
    return shapes


def warm_up(non_product_codes: list[str], dialect: str = "duckdb") -> None:
    """Have the queries of the usual shapes ready: read from :data:`PRECOMPILED` for DuckDB
    (milliseconds), else compiled with Ibis (about 0.5 s with its import). The command line
    calls it in a background thread while DuckDB reads the file."""
    for name, shape in usual_shapes(non_product_codes):
        compiled(dialect, name, **shape)


def write_precompiled(non_product_codes: list[str], path: Path = PRECOMPILED) -> int:
    """Compile the usual shapes for DuckDB with Ibis and write them to ``path``; returns how
    many queries were written."""
    import ibis

    queries = {}
    for name, shape in usual_shapes(non_product_codes):
        frozen = _freeze(shape)
        queries[_key(name, "", frozen)] = _compile("duckdb", name, "", frozen)
    payload = {"ibis": ibis.__version__, "queries": queries}
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return len(queries)


def _freeze(shape: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in shape.items()))


if __name__ == "__main__":
    from custseg.clean import NON_PRODUCT_CODES

    print(f"{write_precompiled(list(NON_PRODUCT_CODES))} queries written to {PRECOMPILED}")
