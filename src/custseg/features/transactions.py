"""Invoice lines -> one row per customer, computed in the engine (out of core).

The formulas, in one table (:data:`TRANSACTION_FEATURES`), are what the user guide and the
report show. All money is summed as exact decimals, so the same input always gives the same
bytes whatever the thread count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from custseg.clean import NON_PRODUCT_CODES
from custseg.engines.duckdb import DuckDBEngine, sql_literal

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
    codes_sql = "[" + ", ".join(sql_literal(c.upper()) for c in codes) + "]::VARCHAR[]"
    order_key = "invoice" if has_invoice else "CAST(ts AS DATE)"
    product_filter = (
        f"AND (product IS NULL OR NOT list_contains({codes_sql}, upper(product)))"
        if has_product
        else ""
    )
    # Orders first (one row per customer and invoice), then customers: counting distinct
    # invoices inside the per-customer aggregate was slower. Distinct products likewise.
    products = (
        f""", products AS (
        SELECT customer_id, count(product) AS n_products
        FROM (SELECT DISTINCT customer_id, product FROM {table} WHERE reason IS NULL)
        GROUP BY customer_id
    )"""
        if has_product
        else ""
    )
    query = f"""
    WITH orders AS (
        SELECT customer_id, {order_key} AS order_key, max(ts) AS last_ts, min(ts) AS first_ts,
            sum(amount) AS revenue, sum(quantity) AS items
        FROM {table} WHERE reason IS NULL GROUP BY customer_id, order_key
    ), sales AS (
        SELECT customer_id,
            max(last_ts)::DATE AS last_day,
            min(first_ts)::DATE AS first_day,
            count(order_key) AS n_orders,
            sum(revenue) AS revenue,
            sum(items) AS items
        FROM orders GROUP BY customer_id
    ){products}, returns AS (
        SELECT customer_id, sum(abs(quantity)) AS returned, sum(abs(amount)) AS returned_value
        FROM {table} WHERE reason = 'cancellation' {product_filter}
        GROUP BY customer_id
    )
    SELECT s.customer_id,
        date_diff('day', s.last_day, ?::DATE) AS days_since_last_purchase,
        s.n_orders,
        CAST(round(greatest(0, s.revenue - coalesce(r.returned_value, 0)), 2) AS DOUBLE) AS revenue,
        CAST(round(greatest(0, s.revenue - coalesce(r.returned_value, 0)) / s.n_orders, 2) AS DOUBLE)
            AS mean_order_value,
        date_diff('day', s.first_day, ?::DATE) AS days_since_first_purchase
        {", p.n_products" if has_product else ""},
        round(least(1.0, coalesce(r.returned, 0) / s.items), 4) AS return_rate
    FROM sales s {"LEFT JOIN products p USING (customer_id)" if has_product else ""}
    LEFT JOIN returns r USING (customer_id)
    ORDER BY s.customer_id
    """
    frame = engine.sql(query, [analysis_date, analysis_date]).df()
    for col in ("days_since_last_purchase", "n_orders", "days_since_first_purchase", "n_products"):
        if col in frame:
            frame[col] = frame[col].astype("int64")
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
    order_key = "invoice" if has_invoice else "CAST(ts AS DATE)"
    # One row per month, customer and order first; an order counts in each month it has lines.
    months = engine.sql(
        f"""SELECT strftime(month, '%Y-%m') AS period,
            CAST(round(sum(revenue), 2) AS DOUBLE) AS revenue,
            count(order_key) AS orders,
            count(DISTINCT customer_id) AS customers
        FROM (SELECT date_trunc('month', ts) AS month, customer_id, {order_key} AS order_key,
                sum(amount) AS revenue
            FROM {table} WHERE reason IS NULL GROUP BY ALL)
        GROUP BY month ORDER BY month"""
    ).fetchall()
    out: dict[str, Any] = {
        "by_month": [
            {"period": p, "revenue": float(r), "orders": int(o), "customers": int(c)}
            for p, r, o, c in months
        ]
    }
    has_country = engine.scalar(
        f"SELECT count(*) FROM {table} WHERE reason IS NULL AND country IS NOT NULL"
    )
    if has_country:
        # A customer's country is the one of most of their lines (ties: alphabetical).
        countries = engine.sql(
            f"""WITH per_customer AS (
                SELECT customer_id, first(country ORDER BY n DESC, country) AS country,
                    sum(revenue) AS revenue
                FROM (SELECT customer_id, coalesce(country, 'unknown') AS country,
                        count(*) AS n, sum(CAST(amount AS DOUBLE)) AS revenue
                    FROM {table} WHERE reason IS NULL GROUP BY ALL)
                GROUP BY customer_id)
            SELECT country, count(*) AS customers, round(sum(revenue), 2) AS revenue
            FROM per_customer GROUP BY country ORDER BY customers DESC, country"""
        ).fetchall()
        top = countries[:ACTIVITY_TOP_COUNTRIES]
        rest = countries[ACTIVITY_TOP_COUNTRIES:]
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
