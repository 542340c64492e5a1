"""What the new-customer models read of the kept sale lines, summarised inside DuckDB.

The models never need the lines themselves: BG/NBD, Gamma-Gamma, the backtest and the
covariate model's cohorts read each customer's *purchase days* (one row per customer and day
with the day's value), and the first-purchase classifier reads each customer's *first
purchase* (its basket, price level, timing, country, and how its value splits over product
texts). :class:`CustomerPurchases` holds exactly that as NumPy arrays, computed by one SQL
definition (:func:`purchases_from_engine`) whether the lines sit in the engine that read the
file or in a DataFrame (:func:`as_purchases`). At 20 million lines and a million customers it
is a few hundred MB, where the lines in pandas took several GB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from custseg.engines.duckdb import DuckDBEngine

#: Columns of a line table the summaries read (``NULL`` stands in for absent optional ones).
LINE_TABLE_COLUMNS = ("_row", "customer_id", "invoice", "ts", "quantity", "price", "amount",
                      "product", "description", "country")  # fmt: skip


@dataclass
class CustomerPurchases:
    """Per-customer summaries of kept sale lines (see the module docstring).

    Attributes
    ----------
    ids : numpy.ndarray
        Customer ids (text), sorted; a customer's *code* is its position here.
    customer, day, amount : numpy.ndarray
        One entry per purchase day, sorted by customer code then day: the code, the day
        (days since 1970-01-01) and the value bought that day.
    first : pandas.DataFrame
        One row per customer (index ``customer_id``, same order as ``ids``):
        ``first_basket_value``, ``first_n_items``, ``first_n_products``,
        ``first_mean_unit_price``, ``first_ts`` and, with a country column, ``country``.
    text_customer, text_id, text_amount : numpy.ndarray
        Value of each customer's first purchase per product text (code, index into
        ``texts``, value).
    texts : numpy.ndarray
        The distinct product texts of first purchases (description, else product code).
    product_texts : pandas.Series
        The text of each product in the catalogue (see
        :func:`custseg.newcustomers.firstpurchase.product_texts`).
    text_source : {"description", "product"} or None
    has_country : bool

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "a"], "amount": [5.0, 7.0],
    ...     "ts": pd.to_datetime(["2021-01-01 09:00", "2021-01-03 10:00"]),
    ...     "quantity": [1.0, 1.0], "price": [5.0, 7.0]})
    >>> p = as_purchases(s)
    >>> p.ids.tolist(), p.amount.tolist()
    (['a'], [5.0, 7.0])
    """

    ids: np.ndarray
    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    first: pd.DataFrame
    text_customer: np.ndarray
    text_id: np.ndarray
    text_amount: np.ndarray
    texts: np.ndarray
    product_texts: pd.Series
    text_source: str | None
    has_country: bool

    @property
    def first_day(self) -> pd.Timestamp:
        """The earliest purchase day."""
        return day_timestamps(np.array([self.day.min()]))[0]

    @property
    def last_day(self) -> pd.Timestamp:
        """The latest purchase day."""
        return day_timestamps(np.array([self.day.max()]))[0]


def day_number(ts: pd.Timestamp | Any) -> int:
    """Days since 1970-01-01 of a timestamp (its day).

    Examples
    --------
    >>> day_number(pd.Timestamp("1970-01-03 10:00"))
    2
    """
    return int((pd.Timestamp(ts).normalize() - pd.Timestamp("1970-01-01")).days)


def day_timestamps(days: np.ndarray) -> pd.DatetimeIndex:
    """Midnight timestamps of day numbers (days since 1970-01-01).

    Examples
    --------
    >>> day_timestamps(np.array([0, 31])).strftime("%Y-%m-%d").tolist()
    ['1970-01-01', '1970-02-01']
    """
    return pd.DatetimeIndex(np.asarray(days, dtype=np.int64).astype("datetime64[D]")).as_unit("ns")


def purchases_from_engine(
    engine: DuckDBEngine,
    table: str,
    *,
    has_invoice: bool,
    has_country: bool,
) -> CustomerPurchases:
    """Summarise the lines of ``table`` (columns :data:`LINE_TABLE_COLUMNS`, only kept sales)
    inside DuckDB; only the summaries leave it.

    A customer's first purchase is their first invoice (the invoice of their earliest line),
    or all their lines of their first day when there is no invoice column. Products are
    keyed by their code, else by their description (trimmed, upper case); texts are
    descriptions, else product codes.

    The lines are read three times, each time without a text function: counted per raw
    (product, description) pair (the catalogue, where keys and texts are computed once per
    pair), summed per customer and day, and joined to each customer's first day. The first
    purchase is picked among the first day's lines (an invoice whose lines carry several
    dates counts with its first day's lines), which are then summarised by integer codes.

    Examples
    --------
    See :func:`as_purchases`.
    """
    counts = engine.sql(f"SELECT count(product), count(description) FROM {table}").fetchone() or (
        0,
        0,
    )
    key_col = "product" if counts[0] else ("description" if counts[1] else None)
    text_source = "description" if counts[1] else ("product" if counts[0] else None)
    _make_catalogue(engine, table, key_col, text_source)
    # Per customer and day: the day's value and first line; the first day holds the first
    # purchase. Ids are coded after this aggregation, on its (far fewer) rows.
    engine.sql(
        f"""CREATE OR REPLACE TEMP TABLE nc_day_rows AS
        SELECT CAST(customer_id AS VARCHAR) AS customer_id,
               (CAST(ts AS DATE) - DATE '1970-01-01')::INTEGER AS day,
               CAST(sum(amount) AS DOUBLE) AS amount
        FROM {table} GROUP BY 1, 2"""
    )
    engine.sql(
        """CREATE OR REPLACE TEMP TABLE nc_ids AS
        SELECT customer_id, first_day,
               (row_number() OVER (ORDER BY customer_id) - 1)::INTEGER AS code
        FROM (SELECT customer_id, min(day) AS first_day FROM nc_day_rows GROUP BY 1)"""
    )
    ids = engine.sql("SELECT customer_id FROM nc_ids ORDER BY code").fetchnumpy()["customer_id"]
    days = engine.sql(
        """SELECT i.code, d.day, d.amount FROM nc_day_rows AS d JOIN nc_ids AS i USING (customer_id)
        ORDER BY 1, 2"""
    ).fetchnumpy()
    # The first day's lines, with their catalogue entry instead of texts; with invoices, only
    # those of the invoice of the earliest (time, invoice) line (missing invoices last).
    engine.sql(
        f"""CREATE OR REPLACE TEMP TABLE nc_first_lines AS
        SELECT i.code, l._row, l.ts, l.invoice, CAST(l.quantity AS DOUBLE) AS quantity,
               CAST(l.price AS DOUBLE) AS price, l.amount, c.key_id, c.text_id, l.country
        FROM {table} AS l
        JOIN nc_ids AS i ON CAST(l.customer_id AS VARCHAR) = i.customer_id
          AND (CAST(l.ts AS DATE) - DATE '1970-01-01')::INTEGER = i.first_day
        JOIN nc_catalogue AS c
          ON coalesce(l.product, '') = c.product AND coalesce(l.description, '') = c.description"""
    )
    if has_invoice:
        engine.sql(
            """CREATE OR REPLACE TEMP TABLE nc_first_lines AS
            WITH f AS (
                SELECT code, coalesce(min({'ts': ts, 'no_invoice': invoice IS NULL,
                                          'invoice': invoice}).invoice, '') AS invoice
                FROM nc_first_lines GROUP BY 1)
            SELECT l.* FROM nc_first_lines AS l
            JOIN f ON l.code = f.code AND coalesce(l.invoice, '') = f.invoice"""
        )
    n_products = "count(DISTINCT key_id)" if key_col else "count(*)"
    first = engine.sql(
        f"""SELECT code,
            CAST(sum(amount) AS DOUBLE) AS first_basket_value,
            sum(quantity) AS first_n_items,
            CAST({n_products} AS DOUBLE) AS first_n_products,
            avg(price) AS first_mean_unit_price,
            min(ts) AS first_ts,
            arg_min(country, _row) FILTER (WHERE country IS NOT NULL) AS country
        FROM nc_first_lines GROUP BY code ORDER BY code"""
    ).df()
    first.index = pd.Index(ids.astype(object), name="customer_id")
    first = first.drop(columns="code")
    if has_country:
        first["country"] = first["country"].astype(object)
    else:
        first = first.drop(columns="country")
    texts = engine.sql(
        "SELECT text FROM nc_catalogue GROUP BY text_id, text ORDER BY text_id"
    ).fetchnumpy()["text"]
    per_text = engine.sql(
        """SELECT code, text_id, CAST(sum(amount) AS DOUBLE) AS amount FROM nc_first_lines
        GROUP BY 1, 2 ORDER BY 1, 2"""
    ).fetchnumpy()
    catalogue = _catalogue_texts(engine, key_col, text_source)
    for name in ("nc_first_lines", "nc_ids", "nc_day_rows", "nc_catalogue"):
        engine.sql(f"DROP TABLE IF EXISTS {name}")
    return CustomerPurchases(
        ids=np.asarray(ids, dtype=object),
        customer=np.asarray(days["code"], dtype=np.int32),
        day=np.asarray(days["day"], dtype=np.int32),
        amount=np.asarray(days["amount"], dtype=np.float64),
        first=first,
        text_customer=np.asarray(per_text["code"], dtype=np.int32),
        text_id=np.asarray(per_text["text_id"], dtype=np.int32),
        text_amount=np.asarray(per_text["amount"], dtype=np.float64),
        texts=np.asarray(texts, dtype=object),
        product_texts=catalogue,
        text_source=text_source,
        has_country=has_country,
    )


def _make_catalogue(
    engine: DuckDBEngine, table: str, key_col: str | None, text_source: str | None
) -> None:
    """``nc_catalogue``: one row per raw (product, description) pair of the lines (missing
    as ''), with its line count, first line, product key (``key``, ``key_id``) and text
    (``text``, ``text_id``); the text functions run here, once per pair."""
    key = f"upper(trim({key_col}))" if key_col else "''"
    text = f"trim({text_source})" if text_source else "''"
    engine.sql(
        f"""CREATE OR REPLACE TEMP TABLE nc_catalogue AS
        WITH pairs AS (
            SELECT coalesce(product, '') AS product, coalesce(description, '') AS description,
                   count(*) AS n, min(_row) AS first_row
            FROM {table} GROUP BY 1, 2),
        named AS (SELECT *, {key} AS key, {text} AS text FROM pairs)
        SELECT *, (dense_rank() OVER (ORDER BY key) - 1)::INTEGER AS key_id,
               (dense_rank() OVER (ORDER BY text) - 1)::INTEGER AS text_id
        FROM named"""
    )


def _catalogue_texts(engine: DuckDBEngine, key: str | None, source: str | None) -> pd.Series:
    """Each product's most frequent description (ties: the first in text order), indexed by
    product key in key order; or, without descriptions, the product codes in the order they
    first appear (read from ``nc_catalogue``)."""
    if key is None:
        return pd.Series(dtype=object)
    if source == "description":
        rows = engine.sql(
            """SELECT key, text FROM (
                SELECT key, text, row_number() OVER (PARTITION BY key ORDER BY n DESC, text) AS rn
                FROM (SELECT key, text, sum(n) AS n FROM nc_catalogue GROUP BY 1, 2)
                WHERE text <> '')
            WHERE rn = 1 ORDER BY key"""
        ).fetchnumpy()
        texts = pd.Series(
            np.asarray(rows["text"], dtype=object), index=np.asarray(rows["key"], dtype=object)
        )
    else:
        codes = engine.sql(
            "SELECT key FROM nc_catalogue GROUP BY 1 ORDER BY min(first_row)"
        ).fetchnumpy()["key"]
        codes = np.asarray(codes, dtype=object)
        texts = pd.Series(codes, index=codes)
    return texts


def as_purchases(sales: pd.DataFrame | CustomerPurchases) -> CustomerPurchases:
    """The :class:`CustomerPurchases` of kept sale lines given as a DataFrame (columns of
    :data:`custseg.newcustomers.data.LINE_COLUMNS`; ``customer_id``, ``ts`` and ``amount``
    at least), computed by the same SQL as :func:`purchases_from_engine`. Summaries are
    returned as they are.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["b", "a", "a"], "amount": [1.0, 5.0, 7.0],
    ...     "ts": pd.to_datetime(["2021-01-02", "2021-01-01", "2021-01-01"]),
    ...     "quantity": [1.0, 1.0, 1.0], "price": [1.0, 5.0, 7.0]})
    >>> p = as_purchases(s)
    >>> p.ids.tolist(), p.customer.tolist(), p.amount.tolist()
    (['a', 'b'], [0, 1], [12.0, 1.0])
    """
    if isinstance(sales, CustomerPurchases):
        return sales
    frame = pd.DataFrame(
        {
            col: (
                np.arange(len(sales), dtype=np.int64)
                if col == "_row"
                else sales[col].to_numpy()
                if col in sales
                else np.full(len(sales), None, dtype=object)
            )
            for col in LINE_TABLE_COLUMNS
        }
    )
    for col in ("customer_id", "invoice", "product", "description", "country"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["customer_id"] = frame["customer_id"].astype(str).astype(object)
    with DuckDBEngine(threads=1) as engine:
        engine.con.register("nc_frame", frame)
        engine.sql(
            """CREATE TEMP TABLE nc_source AS SELECT _row, customer_id,
                CAST(invoice AS VARCHAR) AS invoice, CAST(ts AS TIMESTAMP) AS ts,
                CAST(quantity AS DOUBLE) AS quantity, CAST(price AS DOUBLE) AS price,
                CAST(amount AS DOUBLE) AS amount, CAST(product AS VARCHAR) AS product,
                CAST(description AS VARCHAR) AS description, CAST(country AS VARCHAR) AS country
            FROM nc_frame"""
        )
        return purchases_from_engine(
            engine,
            "nc_source",
            has_invoice="invoice" in sales and bool(sales["invoice"].notna().any()),
            has_country="country" in sales,
        )
