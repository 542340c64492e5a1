"""Large Online-Retail-like invoice lines as Parquet, with planted segments, for the scale benchmark.

:func:`write_retail` writes ``n_lines`` (about; the count is random) invoice lines with the
columns of the UCI Online Retail file (``InvoiceNo``, ``StockCode``, ``Description``,
``Quantity``, ``InvoiceDate``, ``UnitPrice``, ``CustomerID``, ``Country``) and a side file with
the planted truth per customer (``customer_id``, ``segment``, ``segment_name``).

The file is written in chunks of customers (numpy for the draws, pyarrow for the columns, one
``ParquetWriter``), so memory stays bounded at any size: 100M lines never sit in memory at once.
Each chunk holds whole customers, and within a chunk the lines are sorted by date and invoice
numbers follow the dates; across chunks they do not (the file is not globally date-sorted).

The behaviours (the truth) are five groups that a marketer would call different segments, over
two years of dates (:data:`BEHAVIOURS`): VIPs (about 3% of customers, well over half the
revenue), loyal regulars, new customers, lapsing regulars (last purchase 200-260 days before
the end) and one-off buyers. About 2% of the lines get a cancellation line (``InvoiceNo``
``C...``, negative ``Quantity``), and about 0.5% of the lines have no ``CustomerID`` (a
customer whose only lines all lost their id drops out of the data; compare on the customers
present in both).

Usage (also used by ``bench_scale.py``)::

    python benchmarks/_bigdata.py 20M /tmp/retail_20M.parquet [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Days covered by the data; the last date is :data:`END`.
PERIOD_DAYS = 730
END = np.datetime64("2011-12-09", "D")
#: Share of lines that get a cancellation line, and share of lines without a customer id.
CANCEL_SHARE = 0.02
MISSING_ID_SHARE = 0.005
#: Lines per chunk written at once (whole customers per chunk): bounds the memory.
CHUNK_LINES = 2_000_000
N_PRODUCTS = 3_000
COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium")
COUNTRY_SHARES = (0.85, 0.04, 0.035, 0.025, 0.02, 0.015, 0.015)
WORDS = ("MUG", "CANDLE", "LANTERN", "NOTEBOOK", "CUSHION", "TEA SET", "FRAME", "GIFT BAG")
COLOURS = ("RED", "BLUE", "WHITE", "VINTAGE", "SET OF 3", "PINK")


@dataclass(frozen=True)
class Behaviour:
    """One planted group.

    ``recency``: days from the last purchase to the end; ``tenure``: days from the first
    purchase to the end (``None``: ``first_gap`` days before the last); orders are
    ``orders[1]`` + negative binomial with mean ``orders[0]``, capped at ``orders[2]``; order
    values lognormal with median ``order_value`` and log-sd 0.5; ``lines`` lines per order on
    average.
    """

    name: str
    share: float
    recency: tuple[float, float]
    orders: tuple[float, int, int]
    order_value: float
    lines: float
    tenure: tuple[float, float] | None = None
    first_gap: tuple[float, float] = (0.0, 0.0)


#: The planted segments (about 21 lines per customer on average, cancellations included).
BEHAVIOURS = (
    Behaviour("VIPs", 0.03, (0, 30), (35, 15, 120), 1200.0, 5.0, tenure=(500, 729)),
    Behaviour("Loyal regulars", 0.30, (0, 45), (12, 5, 40), 150.0, 2.5, tenure=(400, 729)),
    Behaviour("New customers", 0.20, (0, 40), (1.5, 1, 3), 60.0, 2.5, first_gap=(0, 30)),
    Behaviour("Lapsing regulars", 0.22, (200, 260), (10, 5, 30), 130.0, 2.5, tenure=(450, 729)),
    Behaviour("One-off buyers", 0.25, (60, 700), (1, 1, 1), 40.0, 2.5),
)


def parse_size(text: str) -> int:
    """``"20M"`` -> 20_000_000, ``"500k"`` -> 500_000, ``"1000"`` -> 1000."""
    t = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if scale > 1 else t) * scale)


def lines_per_customer() -> float:
    """Expected invoice lines per customer (cancellations included) under :data:`BEHAVIOURS`."""
    total = 0.0
    for b in BEHAVIOURS:
        mean, lo, _ = b.orders
        total += b.share * max(mean, lo) * b.lines
    return total * (1 + CANCEL_SHARE)


def _catalogue() -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)  # the same catalogue for every size and seed
    p = np.arange(N_PRODUCTS)
    codes = pa.array([f"{10002 + 7 * i}{'ABC'[i % 3] if i % 4 == 0 else ''}" for i in p])
    names = pa.array(
        [f"{WORDS[i % len(WORDS)]} {COLOURS[i % len(COLOURS)]} {i}" for i in p], pa.string()
    )
    prices = np.round(rng.lognormal(1.0, 0.8, N_PRODUCTS) + 0.19, 2)
    popularity = 1 / np.arange(1, N_PRODUCTS + 1) ** 0.9
    return codes, names, prices, np.cumsum(popularity / popularity.sum())


def _people(rng: np.random.Generator, label: np.ndarray) -> dict[str, np.ndarray]:
    """Per-customer recency, tenure, orders and order-value median for the given labels."""
    n = len(label)
    recency, tenure = np.empty(n), np.empty(n)
    orders, median, lines = np.empty(n, np.int64), np.empty(n), np.empty(n)
    for g, b in enumerate(BEHAVIOURS):
        ix = np.flatnonzero(label == g)
        m = len(ix)
        rec = rng.uniform(*b.recency, m)
        mean, lo, hi = b.orders
        if mean <= lo:
            o = np.full(m, lo)
        else:
            r = 4.0
            o = np.minimum(lo + rng.negative_binomial(r, r / (r + mean - lo), m), hi)
        if b.tenure is not None:
            ten = rng.uniform(*b.tenure, m)
        else:
            ten = rec + rng.uniform(*b.first_gap, m)
        ten = np.where((o > 1) & (ten < rec + 7), rec + rng.uniform(7, 45, m), ten)
        ten = np.minimum(np.where(o == 1, rec, ten), PERIOD_DAYS - 1)
        recency[ix], tenure[ix], orders[ix] = np.minimum(rec, ten), ten, o
        median[ix], lines[ix] = b.order_value, b.lines
    return {
        "recency": recency,
        "tenure": tenure,
        "orders": orders,
        "median": median,
        "lines": lines,
    }


def _chunk(
    rng: np.random.Generator,
    ids: np.ndarray,
    label: np.ndarray,
    country: np.ndarray,
    first_invoice: int,
    catalogue: tuple[pa.Array, pa.Array, np.ndarray, np.ndarray],
) -> tuple[pa.Table, int]:
    """The invoice lines of one chunk of customers, and the number of orders it used."""
    codes, names, prices, cdf = catalogue
    people = _people(rng, label)
    n_orders = people["orders"]
    order_cust = np.repeat(np.arange(len(ids)), n_orders)
    total = len(order_cust)
    starts = np.cumsum(n_orders) - n_orders
    pos = np.arange(total) - np.repeat(starts, n_orders)
    frac = rng.random(total)
    frac[pos == 0] = 1.0  # the first order is at the tenure, the last at the recency
    frac[pos == np.repeat(n_orders, n_orders) - 1] = 0.0
    rec, ten = people["recency"][order_cust], people["tenure"][order_cust]
    days_before = np.floor(rec + frac * (ten - rec)).astype(np.int64)
    seconds = (END - days_before).astype("datetime64[s]").astype(np.int64)
    seconds += rng.integers(8 * 3600, 19 * 3600, total) // 60 * 60
    order_by_date = np.argsort(seconds, kind="stable")
    invoice = np.empty(total, np.int64)
    invoice[order_by_date] = first_invoice + np.arange(total)
    value = people["median"][order_cust] * np.exp(rng.normal(0.0, 0.5, total))

    n_lines = 1 + rng.poisson(people["lines"][order_cust] - 1)
    line_order = np.repeat(np.arange(total), n_lines)
    weights = rng.gamma(1.0, 1.0, len(line_order))
    weight_sum = np.bincount(line_order, weights=weights, minlength=total)
    line_value = value[line_order] * weights / weight_sum[line_order]
    product = np.minimum(np.searchsorted(cdf, rng.random(len(line_order))), N_PRODUCTS - 1)
    unit_price = prices[product]
    quantity = np.maximum(1, np.round(line_value / unit_price)).astype(np.int64)
    line_seconds = seconds[line_order]

    cancel = np.flatnonzero(rng.random(len(line_order)) < CANCEL_SHARE)
    later = rng.integers(1, 10, len(cancel)) * 86400
    end_s = (END.astype("datetime64[s]") + np.timedelta64(19 * 3600, "s")).astype(np.int64)
    ret_qty = -np.maximum(1, np.round(quantity[cancel] * rng.uniform(0.3, 1.0, len(cancel))))

    line_invoice = np.concatenate([invoice[line_order], invoice[line_order[cancel]]])
    is_cancel = np.r_[np.zeros(len(line_order), bool), np.ones(len(cancel), bool)]
    prod = np.concatenate([product, product[cancel]])
    qty = np.concatenate([quantity, ret_qty.astype(np.int64)])
    ts = np.concatenate([line_seconds, np.minimum(line_seconds[cancel] + later, end_s)])
    cust = order_cust[line_order]
    cust = np.concatenate([cust, cust[cancel]])
    # By date, then invoice (one int64 key: days span < 2**26 s, a chunk's orders < 2**24).
    key = (ts - ts.min()) * (1 << 24) + (line_invoice - first_invoice)
    order = np.argsort(key)
    n = len(order)

    inv = pc.cast(pa.array(line_invoice[order]), pa.string())
    inv = pc.if_else(pa.array(is_cancel[order]), pc.binary_join_element_wise("C", inv, ""), inv)
    prod_idx = pa.array(prod[order].astype(np.int32))
    missing = rng.random(n) < MISSING_ID_SHARE
    table = pa.table(
        {
            "InvoiceNo": inv,
            "StockCode": pa.DictionaryArray.from_arrays(prod_idx, codes),
            "Description": pa.DictionaryArray.from_arrays(prod_idx, names),
            "Quantity": pa.array(qty[order]),
            "InvoiceDate": pa.array(ts[order].astype("datetime64[s]")),
            "UnitPrice": pa.array(prices[prod[order]]),
            "CustomerID": pa.array(ids[cust[order]], mask=missing),
            "Country": pa.DictionaryArray.from_arrays(
                pa.array(country[cust[order]].astype(np.int32)), pa.array(COUNTRIES)
            ),
        }
    )
    return table, total


def write_retail(path: str | Path, n_lines: int, *, seed: int = 0) -> dict[str, object]:
    """Write about ``n_lines`` invoice lines to ``path`` (Parquet) and the truth beside it.

    The truth goes to ``<path stem>.truth.parquet`` (``customer_id``, ``segment``,
    ``segment_name``), a summary to ``<path stem>.json``. Files are written under temporary
    names and renamed at the end, so an interrupted run leaves no file that looks complete.
    Returns the summary (lines, customers, seconds).
    """
    started = time.perf_counter()
    path = Path(path)
    truth_path, meta_path = truth_path_of(path), path.with_suffix(".json")
    n_customers = max(len(BEHAVIOURS), round(n_lines / lines_per_customer()))
    seq = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seq.spawn(1)[0])
    shares = np.array([b.share for b in BEHAVIOURS])
    label = rng.choice(len(BEHAVIOURS), n_customers, p=shares / shares.sum()).astype(np.int8)
    ids = 10_000 + rng.permutation(n_customers).astype(np.int64)
    country = rng.choice(len(COUNTRIES), n_customers, p=COUNTRY_SHARES).astype(np.int8)
    per_chunk = max(1_000, int(CHUNK_LINES / lines_per_customer()))
    bounds = list(range(0, n_customers, per_chunk)) + [n_customers]
    chunk_seeds = seq.spawn(len(bounds))[1:]
    catalogue = _catalogue()
    tmp = path.with_name(path.name + ".tmp")
    written, next_invoice, writer = 0, 536_365, None
    try:
        for (a, b), cs in zip(zip(bounds[:-1], bounds[1:], strict=True), chunk_seeds, strict=True):
            table, used = _chunk(
                np.random.default_rng(cs),
                ids[a:b],
                label[a:b],
                country[a:b],
                next_invoice,
                catalogue,
            )
            next_invoice += used
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=1_000_000)
            written += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    names = np.array([b.name for b in BEHAVIOURS])
    truth = pa.table(
        {"customer_id": ids, "segment": label.astype(np.int64), "segment_name": names[label]}
    )
    truth_tmp = truth_path.with_name(truth_path.name + ".tmp")
    pq.write_table(truth, truth_tmp)
    summary = {
        "lines": written,
        "customers": n_customers,
        "seed": seed,
        "segments": {b.name: int((label == g).sum()) for g, b in enumerate(BEHAVIOURS)},
        "seconds": round(time.perf_counter() - started, 2),
    }
    meta_path.write_text(json.dumps(summary, indent=1))
    os.replace(truth_tmp, truth_path)
    os.replace(tmp, path)
    return summary


def truth_path_of(path: str | Path) -> Path:
    """Where :func:`write_retail` puts the truth for the data file ``path``."""
    path = Path(path)
    return path.with_name(path.stem + ".truth.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("size", help="number of lines, e.g. 1M, 5M, 20M, 100M")
    parser.add_argument("path", help="output Parquet file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(write_retail(args.path, parse_size(args.size), seed=args.seed)))


if __name__ == "__main__":
    main()
