"""A seeded generator of invoice lines with planted behavioural segments.

Each planted segment has its own ranges of orders, recency, tenure, basket value, basket
breadth and returns (:data:`PLANTED_SEGMENTS`). Tests check that custseg finds the planted
number of segments and the planted membership.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

#: Planted segments: ranges (low, high) drawn uniformly per customer. ``orders`` is the number
#: of invoices, ``last``/``first`` are days before the end of the period of the last/first
#: invoice, ``basket`` is the value of one order, ``lines`` the lines per order, ``returns``
#: the chance that an order has a returned line.
PLANTED_SEGMENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "Champions",
        "orders": (20, 40),
        "last": (0, 10),
        "first": (330, 364),
        "basket": (400, 800),
        "lines": (15, 30),
        "returns": 0.05,
    },
    {
        "name": "Lost one-time buyers",
        "orders": (1, 1),
        "last": (220, 364),
        "first": None,
        "basket": (10, 30),
        "lines": (1, 3),
        "returns": 0.0,
    },
    {
        "name": "New customers",
        "orders": (1, 2),
        "last": (0, 20),
        "first": (0, 30),
        "basket": (40, 90),
        "lines": (3, 6),
        "returns": 0.0,
    },
    {
        "name": "At risk",
        "orders": (6, 12),
        "last": (120, 200),
        "first": (300, 364),
        "basket": (120, 250),
        "lines": (6, 12),
        "returns": 0.3,
    },
    {
        "name": "Regulars",
        "orders": (5, 10),
        "last": (5, 40),
        "first": (150, 250),
        "basket": (50, 100),
        "lines": (4, 8),
        "returns": 0.0,
    },
)


#: Product families of the first-purchase signal, one per planted segment (in the order of
#: :data:`PLANTED_SEGMENTS`): with ``first_purchase_signal=True`` product ``p`` belongs to
#: family ``p % 5``, its description starts with the family's words, and a customer's first
#: order is drawn from their segment's family.
PRODUCT_FAMILIES: tuple[str, ...] = (
    "CRYSTAL CHANDELIER",
    "PAPER NAPKIN",
    "CHILDRENS PUZZLE",
    "GARDEN PLANTER",
    "KITCHEN STORAGE",
)


def make_transactions(
    n_customers: int = 1000,
    *,
    n_segments: int = 4,
    seed: int = 0,
    end: str = "2023-12-31",
    n_products: int = 400,
    first_purchase_signal: bool = False,
) -> tuple[pd.DataFrame, pd.Series]:
    """Generate invoice lines for customers drawn from ``n_segments`` planted segments.

    Parameters
    ----------
    n_customers : int
        Customers to generate, spread evenly over the segments.
    n_segments : int
        How many of :data:`PLANTED_SEGMENTS` to use (2 to 5).
    seed : int
        The same seed gives the same lines.
    end : str
        Last day of the period (ISO date).
    n_products : int
        Size of the product catalogue.
    first_purchase_signal : bool
        Plant the segment in the first purchase's product mix too: descriptions name one of
        :data:`PRODUCT_FAMILIES` and each customer's first order holds products of their
        segment's family only (its size already depends on the segment). Off by default,
        which keeps the lines of earlier versions byte for byte.

    Returns
    -------
    lines : pandas.DataFrame
        UCI Online Retail columns: ``InvoiceNo, StockCode, Description, Quantity,
        InvoiceDate, UnitPrice, CustomerID, Country``.
    truth : pandas.Series
        Planted segment number per customer id (index: customer id as text).

    Examples
    --------
    >>> lines, truth = make_transactions(50, n_segments=2, seed=1)
    >>> sorted(truth.unique().tolist())
    [0, 1]
    """
    if not 2 <= n_segments <= len(PLANTED_SEGMENTS):
        raise ValueError(
            f"n_segments must be between 2 and {len(PLANTED_SEGMENTS)}, got {n_segments}"
        )
    rng = np.random.default_rng(seed)
    end_day = dt.datetime.fromisoformat(end)
    prices = np.round(rng.lognormal(mean=1.0, sigma=0.6, size=n_products), 2) + 0.25
    codes = [f"P{i:05d}" for i in range(n_products)]
    names = [
        f"{PRODUCT_FAMILIES[p % len(PRODUCT_FAMILIES)]} {p}"
        if first_purchase_signal
        else f"PRODUCT {p}"
        for p in range(n_products)
    ]
    family = np.arange(n_products) % len(PRODUCT_FAMILIES)
    rows: list[tuple[Any, ...]] = []
    truth: dict[str, int] = {}
    invoice = 500000
    for c in range(n_customers):
        seg = c % n_segments
        spec = PLANTED_SEGMENTS[seg]
        cid = str(10000 + c)
        truth[cid] = seg
        n_orders = int(rng.integers(spec["orders"][0], spec["orders"][1] + 1))
        last = float(rng.uniform(*spec["last"]))
        first = (
            last
            if spec["first"] is None or n_orders == 1
            else max(last, float(rng.uniform(*spec["first"])))
        )
        days = np.sort(rng.uniform(last, first, size=n_orders))[::-1]
        days[0], days[-1] = first, last
        for order, day in enumerate(days):
            invoice += 1
            when = end_day - dt.timedelta(days=float(day))
            when = when.replace(
                hour=int(rng.integers(8, 20)),
                minute=int(rng.integers(0, 60)),
                second=0,
                microsecond=0,
            )
            n_lines = int(rng.integers(spec["lines"][0], spec["lines"][1] + 1))
            if first_purchase_signal and order == 0:
                own = np.flatnonzero(family == seg)
                items = rng.choice(own, size=min(n_lines, len(own)), replace=False)
            else:
                items = rng.choice(n_products, size=n_lines, replace=False)
            target = float(rng.uniform(*spec["basket"]))
            for p in items:
                qty = max(1, int(round(target / n_lines / prices[p])))
                rows.append(
                    (
                        str(invoice),
                        codes[p],
                        names[p],
                        qty,
                        when,
                        float(prices[p]),
                        cid,
                        "United Kingdom",
                    )
                )
            if rng.random() < spec["returns"]:
                p = items[0]
                rows.append(
                    (
                        f"C{invoice}",
                        codes[p],
                        names[p],
                        -1,
                        when + dt.timedelta(days=3),
                        float(prices[p]),
                        cid,
                        "United Kingdom",
                    )
                )
    lines = pd.DataFrame(
        rows,
        columns=[
            "InvoiceNo",
            "StockCode",
            "Description",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
            "Country",
        ],
    )
    lines["InvoiceDate"] = lines["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return lines, pd.Series(truth, name="planted_segment")
