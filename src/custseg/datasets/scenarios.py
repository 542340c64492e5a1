"""Seeded scenarios with known truth, for judging custseg's automatic choice of segments.

Each scenario is invoice lines (one row per product sold) or a customer table (one row per
customer) with planted groups, a share of unstructured "noise" customers drawn over the whole
range, and the planted group of every customer. Null scenarios have no groups at all: custseg
should say that the structure is weak.

``make_scenario(name, seed=0)`` gives the nominal scenario, as described in its
``description``. Any other seed gives a randomised variant of the same scenario
(:data:`VARIANT_BOUNDS`: another number of customers, shares, ranges and means moved within
stated bounds). :data:`DEV_SEEDS` (the nominal scenarios) and :data:`TUNING_SEEDS` (those and
three randomised variants) are for tuning; :data:`HOLDOUT_SEEDS` are for judging on data nobody
tuned to, and nothing that chooses segments may depend on them.

Generation is vectorised: 3,000 customers with about 25 lines each take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

#: Seeds used while developing the choice of segments (the nominal scenarios).
DEV_SEEDS: tuple[int, ...] = (0,)
#: Seeds free for tuning: the nominal scenarios and three randomised variants, so that a change
#: to the choice can be judged on variants before the holdout is looked at.
TUNING_SEEDS: tuple[int, ...] = (0, 1, 2, 3)
#: Seeds of randomised variants, for judging only. Never tune on these.
HOLDOUT_SEEDS: tuple[int, ...] = (101, 202)

#: How far a variant (any seed but 0) moves from the nominal scenario. Shares are multiplied
#: by ``exp(N(0, share_sigma))`` and renormalised (each kept within ``share_range``); every
#: day range moves each end by up to ``range_jitter`` of its width; order counts and money by
#: up to ``mean_jitter`` (relative); the number of customers is drawn from the scenario's
#: ``n_range``; a scenario with noise gets a noise share drawn from ``noise_range``.
VARIANT_BOUNDS: dict[str, Any] = {
    "share_sigma": 0.2,
    "share_range": (0.03, 0.6),
    "range_jitter": 0.1,
    "mean_jitter": 0.15,
    "noise_range": (0.01, 0.05),
}

#: Column names of invoice lines, per style: role -> column name. ``amount`` styles give the
#: line amount instead of a unit price.
LINE_STYLES: dict[str, dict[str, str]] = {
    "uci": {
        "invoice": "InvoiceNo",
        "product": "StockCode",
        "description": "Description",
        "quantity": "Quantity",
        "date": "InvoiceDate",
        "price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
    },
    "uci2": {
        "invoice": "Invoice",
        "product": "StockCode",
        "description": "Description",
        "quantity": "Quantity",
        "date": "InvoiceDate",
        "price": "Price",
        "customer_id": "Customer ID",
        "country": "Country",
    },
    "snake": {
        "customer_id": "customer_id",
        "invoice": "order_id",
        "date": "order_date",
        "product": "product_id",
        "description": "product_name",
        "quantity": "qty",
        "price": "unit_price",
        "country": "country",
    },
    "amount": {
        "customer_id": "client_id",
        "invoice": "order_id",
        "date": "order_date",
        "product": "sku",
        "description": "description",
        "quantity": "quantity",
        "amount": "line_total",
        "country": "country",
    },
}

#: Date formats of the date column (``None``: a native datetime column).
DATE_FORMATS: dict[str, str | None] = {
    "iso": "%Y-%m-%d %H:%M:%S",
    "iso_t": "%Y-%m-%dT%H:%M:%S",
    "us": "%m/%d/%Y %H:%M",
    "eu": "%d.%m.%Y %H:%M",
    "native": None,
}

COUNTRIES = ("United Kingdom", "Germany", "France", "Netherlands", "Spain", "Ireland")
COUNTRY_SHARES = (0.82, 0.05, 0.05, 0.03, 0.03, 0.02)
N_PRODUCTS = 600
PRODUCT_WORDS = (
    "MUG",
    "CANDLE",
    "LANTERN",
    "NOTEBOOK",
    "CUSHION",
    "TEA SET",
    "PHOTO FRAME",
    "GIFT BAG",
    "CLOCK",
    "VASE",
)


@dataclass(frozen=True)
class Behaviour:
    """One planted group of invoice-line customers.

    ``recency`` is the range of days between the last purchase and the end of the data;
    ``tenure`` the range of days since the first purchase (or, when ``None``, the first purchase
    is ``first_gap`` days before the last). Orders are ``orders[1] + NB`` with mean
    ``orders[0]``, capped at ``orders[2]``. Order values are lognormal with median
    ``order_value`` and log-sd ``value_sigma`` (Pareto with index ``pareto`` when given).
    ``returns`` is the chance that an order has a cancellation line.
    """

    name: str
    share: float
    recency: tuple[float, float]
    orders: tuple[float, int, int]
    order_value: float
    value_sigma: float = 0.5
    tenure: tuple[float, float] | None = None
    first_gap: tuple[float, float] = (0.0, 0.0)
    lines: float = 3.0
    returns: float = 0.0
    pareto: float | None = None


# Archetypes: realistic RFM behaviours, a marketer would call each a different segment.
VIP = Behaviour("VIPs", 0.05, (0, 30), (30, 10, 80), 900, 0.5, tenure=(300, 365), lines=8)
LOYAL = Behaviour("Loyal regulars", 0.3, (0, 45), (12, 5, 40), 120, 0.5, tenure=(250, 365))
NEW = Behaviour("Recent first-timers", 0.2, (0, 40), (1.5, 1, 3), 60, 0.5, first_gap=(0, 25))
LAPSING = Behaviour("Lapsing regulars", 0.2, (200, 260), (10, 5, 30), 110, 0.5, tenure=(330, 365))
ONE_OFF = Behaviour("One-off buyers", 0.25, (60, 365), (1, 1, 1), 35, 0.6, lines=2.5)
OCCASIONAL = Behaviour("Occasional buyers", 0.25, (30, 150), (3, 2, 8), 70, 0.5, tenure=(200, 365))
BARGAIN = Behaviour(
    "Frequent small baskets", 0.2, (0, 50), (16, 8, 50), 25, 0.5, tenure=(250, 365), lines=2
)
BIG_RARE = Behaviour(
    "Rare big orders", 0.2, (30, 200), (2, 1, 4), 700, 0.5, tenure=(150, 365), lines=10
)
HIBERNATING = Behaviour(
    "Hibernating", 0.2, (280, 365), (2, 1, 4), 40, 0.5, first_gap=(30, 120), lines=2.5
)
AT_RISK = Behaviour(
    "At-risk big spenders", 0.15, (120, 200), (8, 4, 20), 300, 0.5, tenure=(300, 365)
)


@dataclass(frozen=True)
class Column:
    """One generated column of a customer table.

    ``kind``: ``"lognormal"`` (median, log-sd), ``"normal"`` (mean, sd), ``"poisson"`` (mean),
    ``"category"`` (level -> probability). ``params`` holds one entry per planted group
    (and ``noise``, drawn over the whole range, is made from all of them).
    """

    name: str
    kind: str
    params: tuple[Any, ...]
    digits: int = 2
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class RandomColumn:
    """A column unrelated to the groups: ``levels`` drawn with ``probs`` for every customer."""

    name: str
    levels: tuple[Any, ...]
    probs: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Spec:
    """The recipe of one scenario (see :func:`make_scenario`)."""

    name: str
    kind: str
    description: str
    n_customers: int
    n_range: tuple[int, int]
    behaviours: tuple[Behaviour, ...] = ()
    group_names: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()
    columns: tuple[Column, ...] = ()
    random_columns: tuple[RandomColumn, ...] = ()
    noise: float = 0.0
    style: str = "uci"
    date_format: str = "iso"
    period_days: int = 365
    end: str = "2023-12-31"
    id_column: str = "customer_id"
    null: str | None = None


@dataclass
class Scenario:
    """A generated scenario: the data and the planted truth.

    Attributes
    ----------
    name, kind, description : str
        ``kind`` is ``"transactions"`` (invoice lines) or ``"customers"`` (one row each).
    data : pandas.DataFrame
        What custseg reads.
    truth : pandas.Series
        Planted group per customer id (text), -1 for unstructured customers.
    k_true : int
        Planted groups (1 for null scenarios).
    structured : bool
        False for null scenarios.
    group_names : list of str
        Name of each planted group, by group number.
    shares : list of float
        Planted share of the customers in each group (noise excluded).
    noise_share : float
        Share of unstructured customers.
    seed : int
    """

    name: str
    kind: str
    data: pd.DataFrame
    truth: pd.Series
    k_true: int
    structured: bool
    group_names: list[str]
    description: str
    shares: list[float] = field(default_factory=list)
    noise_share: float = 0.0
    seed: int = 0


# ------------------------------------------------------------------ the scenarios


def _b(base: Behaviour, share: float, **changes: Any) -> Behaviour:
    return replace(base, share=share, **changes)


def _lines(
    name: str,
    description: str,
    behaviours: tuple[Behaviour, ...],
    *,
    n: int = 2000,
    noise: float = 0.0,
    **kw: Any,
) -> Spec:
    return Spec(
        name=name,
        kind="transactions",
        description=description,
        n_customers=n,
        n_range=(max(1000, int(n * 0.7)), min(3000, int(n * 1.3))),
        behaviours=behaviours,
        group_names=tuple(b.name for b in behaviours),
        shares=tuple(b.share for b in behaviours),
        noise=noise,
        **kw,
    )


def _table(
    name: str,
    description: str,
    groups: tuple[str, ...],
    shares: tuple[float, ...],
    columns: tuple[Column, ...],
    *,
    n: int = 2000,
    noise: float = 0.0,
    random_columns: tuple[RandomColumn, ...] = (),
    id_column: str = "customer_id",
) -> Spec:
    return Spec(
        name=name,
        kind="customers",
        description=description,
        n_customers=n,
        n_range=(max(1000, int(n * 0.7)), min(3000, int(n * 1.3))),
        group_names=groups,
        shares=shares,
        columns=columns,
        random_columns=random_columns,
        noise=noise,
        id_column=id_column,
    )


REGION = RandomColumn("region", ("North", "South", "West"))
FLAG_NEWSLETTER = RandomColumn("newsletter", ("yes", "no"), (0.4, 0.6))
FLAG_APP = RandomColumn("has_app", (True, False), (0.5, 0.5))
FLAG_PROMO = RandomColumn("promo_opt_in", (0, 1), (0.7, 0.3))

_SPECS: tuple[Spec, ...] = (
    _lines(
        "active_vs_lapsing",
        "The issue's case: VIPs, loyal regulars, recent first-timers, lapsing regulars (last "
        "purchase 200-260 days ago) and one-off buyers; the lapsing group must not merge with "
        "the loyal one.",
        (
            _b(VIP, 0.05),
            _b(LOYAL, 0.30),
            _b(NEW, 0.20),
            _b(LAPSING, 0.20),
            _b(ONE_OFF, 0.25),
        ),
        n=3000,
    ),
    _lines(
        "new_vs_loyal",
        "Recent first-timers against loyal regulars, nothing else.",
        (_b(NEW, 0.45), _b(LOYAL, 0.55)),
        n=1500,
        style="snake",
        date_format="iso_t",
    ),
    _lines(
        "vip_tail",
        "A 3% VIP tail (Pareto order values) holds most of the revenue; regulars and "
        "occasional buyers make up the rest. The VIPs are a segment, not noise.",
        (
            _b(VIP, 0.03, order_value=1500, pareto=1.8, orders=(40, 20, 120)),
            _b(LOYAL, 0.45),
            _b(OCCASIONAL, 0.52),
        ),
        n=2500,
        style="uci2",
    ),
    _lines(
        "cdnow_one_off",
        "CDNOW-like: most customers bought once (60%) over 18 months, a few occasional and "
        "loyal ones and a 3% VIP tail; the best customers must not end up as noise.",
        (
            _b(ONE_OFF, 0.60, recency=(90, 540), order_value=30),
            _b(OCCASIONAL, 0.25, recency=(30, 300), tenure=(300, 540)),
            _b(LOYAL, 0.12, tenure=(350, 540)),
            _b(VIP, 0.03, tenure=(400, 540)),
        ),
        n=3000,
        period_days=545,
        end="1998-06-30",
        date_format="us",
    ),
    _lines(
        "classic_rfm_4",
        "Four textbook RFM groups (VIPs, loyal, at-risk big spenders, hibernating) with 3% "
        "unstructured customers.",
        (
            _b(VIP, 0.10),
            _b(LOYAL, 0.35),
            _b(AT_RISK, 0.20),
            _b(HIBERNATING, 0.35),
        ),
        noise=0.03,
    ),
    _lines(
        "rfm_6_groups",
        "Six groups: VIPs, loyal, new, at-risk big spenders, hibernating, one-off; 2% noise.",
        (
            _b(VIP, 0.05),
            _b(LOYAL, 0.25),
            _b(NEW, 0.15),
            _b(AT_RISK, 0.12),
            _b(HIBERNATING, 0.18),
            _b(ONE_OFF, 0.25, recency=(60, 250)),
        ),
        n=2500,
        noise=0.02,
        style="uci2",
        date_format="eu",
    ),
    _lines(
        "rfm_8_groups",
        "Eight groups from 3% to 25%: every archetype, plus lapsing regulars; 1% noise.",
        (
            _b(VIP, 0.03),
            _b(LOYAL, 0.20),
            _b(NEW, 0.12),
            _b(LAPSING, 0.10),
            _b(ONE_OFF, 0.25, recency=(90, 300)),
            _b(BARGAIN, 0.10),
            _b(BIG_RARE, 0.07),
            _b(AT_RISK, 0.13, recency=(120, 190)),
        ),
        n=3000,
        noise=0.01,
    ),
    _lines(
        "lapsing_inside_active",
        "Loyal regulars with a smaller lapsing group (15%) of the same frequency and spend, "
        "and new customers.",
        (_b(LOYAL, 0.45), _b(LAPSING, 0.15), _b(NEW, 0.40)),
        style="snake",
    ),
    _lines(
        "frequent_small_vs_rare_big",
        "Similar revenue, opposite habits: many small baskets against a few big orders.",
        (_b(BARGAIN, 0.5), _b(BIG_RARE, 0.5, recency=(0, 120))),
        n=1500,
        date_format="native",
    ),
    _lines(
        "recency_only",
        "Two groups alike in frequency and spend, different only in recency (0-45 against "
        "150-210 days).",
        (
            _b(LOYAL, 0.5, name="Active"),
            _b(LOYAL, 0.5, name="Lapsed", recency=(150, 210)),
        ),
        n=1500,
        style="amount",
    ),
    _lines(
        "pareto_money_3",
        "Three groups with heavy-tailed (Pareto) order values within each group.",
        (
            _b(LOYAL, 0.30, pareto=2.0, order_value=100),
            _b(OCCASIONAL, 0.40, pareto=2.0),
            _b(HIBERNATING, 0.30, pareto=2.0),
        ),
        noise=0.02,
        style="uci2",
    ),
    _lines(
        "small_groups_5",
        "Five groups of 3%, 5%, 12%, 30% and 50%: small groups must survive.",
        (
            _b(VIP, 0.03),
            _b(AT_RISK, 0.05),
            _b(NEW, 0.12),
            _b(LOYAL, 0.30),
            _b(ONE_OFF, 0.50),
        ),
        n=3000,
        date_format="us",
    ),
    _lines(
        "line_amounts_4",
        "Line amounts instead of quantity x price, client_id / order_id / sku: loyal, "
        "occasional, big rare orders, hibernating; 4% noise.",
        (
            _b(LOYAL, 0.30),
            _b(OCCASIONAL, 0.30),
            _b(BIG_RARE, 0.15),
            _b(HIBERNATING, 0.25),
        ),
        noise=0.04,
        style="amount",
        date_format="native",
    ),
    _lines(
        "frequent_returners",
        "Loyal regulars, the same behaviour with a third of orders returned, new customers, "
        "one-off buyers.",
        (
            _b(LOYAL, 0.35),
            _b(LOYAL, 0.20, name="Frequent returners", returns=0.6),
            _b(NEW, 0.20),
            _b(ONE_OFF, 0.25),
        ),
    ),
    _lines(
        "two_year_history",
        "Two years of data: long-standing regulars, customers who stopped last year, and new "
        "customers of this year.",
        (
            _b(LOYAL, 0.40, tenure=(550, 730)),
            _b(LOYAL, 0.30, name="Lapsed last year", recency=(380, 500), tenure=(600, 730)),
            _b(NEW, 0.30, recency=(0, 60), first_gap=(0, 120), orders=(2.5, 1, 6)),
        ),
        period_days=730,
        end="2024-06-30",
        style="snake",
    ),
    _lines(
        "wholesale_vs_retail",
        "Wholesale buyers (big, broad orders) against retail customers; 4% noise.",
        (
            _b(BIG_RARE, 0.25, name="Wholesale", orders=(8, 3, 20), recency=(0, 60)),
            _b(OCCASIONAL, 0.75, name="Retail", recency=(0, 200)),
        ),
        noise=0.04,
        style="uci",
        date_format="eu",
    ),
    _lines(
        "seven_groups",
        "Seven groups without VIPs: loyal, new, lapsing, one-off, small baskets, big rare "
        "orders, hibernating; 5% noise.",
        (
            _b(LOYAL, 0.20),
            _b(NEW, 0.15),
            _b(LAPSING, 0.12),
            _b(ONE_OFF, 0.15, recency=(60, 200)),
            _b(BARGAIN, 0.13),
            _b(BIG_RARE, 0.10),
            _b(HIBERNATING, 0.15),
        ),
        n=3000,
        noise=0.05,
        style="uci2",
    ),
    _lines(
        "vip_one_off_two",
        "Two groups: 5% VIPs against one-off buyers (the simplest revenue tail).",
        (_b(VIP, 0.05), _b(ONE_OFF, 0.95)),
        n=1500,
        date_format="iso_t",
    ),
    # ---- customer tables
    _table(
        "numeric_3",
        "Customer table: age, income (lognormal), annual spend (lognormal), visits per month; "
        "three groups.",
        ("Young low spenders", "Families", "Affluent"),
        (0.45, 0.35, 0.20),
        (
            Column("age", "normal", ((26, 4), (41, 5), (55, 6)), digits=0, low=18),
            Column("income", "lognormal", ((24000, 0.3), (52000, 0.3), (120000, 0.35))),
            Column("annual_spend", "lognormal", ((300, 0.4), (1200, 0.4), (4000, 0.45))),
            Column("visits_per_month", "poisson", ((2,), (5,), (3,)), digits=0),
        ),
    ),
    _table(
        "mixed_4",
        "Customer table with numbers and categories that carry the structure: membership "
        "tier and channel differ by group; 3% noise.",
        ("Basic online", "Silver in store", "Gold", "Lapsed"),
        (0.40, 0.30, 0.15, 0.15),
        (
            Column("spend_12m", "lognormal", ((250, 0.4), (700, 0.4), (3000, 0.4), (150, 0.5))),
            Column("orders_12m", "poisson", ((4,), (9,), (20,), (1,)), digits=0),
            Column(
                "months_since_last_order",
                "normal",
                ((1.5, 1), (2, 1), (1, 0.7), (10, 2)),
                digits=0,
                low=0,
            ),
            Column(
                "membership",
                "category",
                (
                    {"basic": 0.9, "silver": 0.1},
                    {"silver": 0.8, "basic": 0.2},
                    {"gold": 0.9, "silver": 0.1},
                    {"basic": 0.6, "silver": 0.4},
                ),
            ),
            Column(
                "channel",
                "category",
                (
                    {"online": 0.9, "store": 0.1},
                    {"store": 0.85, "online": 0.15},
                    {"online": 0.5, "store": 0.5},
                    {"online": 0.6, "store": 0.4},
                ),
            ),
        ),
        noise=0.03,
        id_column="CustomerID",
    ),
    _table(
        "random_region",
        "The issue's case: two clear groups crossed with a random 3-level region (k=2).",
        ("Low spenders", "High spenders"),
        (0.6, 0.4),
        (
            Column("income", "lognormal", ((28000, 0.3), (90000, 0.3))),
            Column("spend", "lognormal", ((400, 0.4), (3000, 0.4))),
            Column("age", "normal", ((32, 6), (50, 7)), digits=0, low=18),
        ),
        random_columns=(REGION,),
    ),
    _table(
        "random_flags",
        "Three groups plus two random binary flags (yes/no and 0/1).",
        ("Students", "Professionals", "Retirees"),
        (0.35, 0.40, 0.25),
        (
            Column("age", "normal", ((21, 2), (38, 6), (68, 5)), digits=0, low=18),
            Column("income", "lognormal", ((12000, 0.3), (60000, 0.35), (30000, 0.3))),
            Column("annual_spend", "lognormal", ((200, 0.4), (1500, 0.45), (700, 0.4))),
        ),
        random_columns=(FLAG_NEWSLETTER, FLAG_PROMO),
        id_column="client_id",
    ),
    _table(
        "categories_carry_structure",
        "Three groups told apart mostly by plan and device, with one weakly different number.",
        ("Mobile basic", "Desktop pro", "Tablet family"),
        (0.40, 0.35, 0.25),
        (
            Column("monthly_fee", "lognormal", ((10, 0.25), (30, 0.25), (20, 0.25))),
            Column(
                "plan",
                "category",
                (
                    {"basic": 0.9, "pro": 0.05, "family": 0.05},
                    {"pro": 0.9, "basic": 0.05, "family": 0.05},
                    {"family": 0.9, "basic": 0.05, "pro": 0.05},
                ),
            ),
            Column(
                "device",
                "category",
                (
                    {"mobile": 0.9, "desktop": 0.05, "tablet": 0.05},
                    {"desktop": 0.9, "mobile": 0.1},
                    {"tablet": 0.85, "mobile": 0.15},
                ),
            ),
        ),
    ),
    _table(
        "heavy_tail_5",
        "Five groups of 5% to 40% with heavy-tailed income and spend; 3% noise.",
        ("Budget", "Mainstream", "Upscale", "Young savers", "Big spenders"),
        (0.30, 0.40, 0.12, 0.13, 0.05),
        (
            Column(
                "income",
                "lognormal",
                ((22000, 0.35), (45000, 0.35), (110000, 0.4), (30000, 0.35), (250000, 0.5)),
            ),
            Column(
                "spend",
                "lognormal",
                ((250, 0.5), (800, 0.5), (2500, 0.5), (150, 0.5), (15000, 0.6)),
            ),
            Column(
                "age",
                "normal",
                ((45, 8), (42, 8), (50, 8), (24, 3), (52, 8)),
                digits=0,
                low=18,
            ),
            Column("visits", "poisson", ((6,), (10,), (8,), (14,), (4,)), digits=0),
        ),
        n=2500,
        noise=0.03,
    ),
    _table(
        "random_region_4",
        "Four numeric groups with a random region and a random app flag.",
        ("Small", "Medium", "Large", "Frequent"),
        (0.35, 0.30, 0.15, 0.20),
        (
            Column(
                "spend",
                "lognormal",
                ((200, 0.35), (800, 0.35), (4000, 0.4), (700, 0.35)),
            ),
            Column("orders", "poisson", ((3,), (6,), (8,), (25,)), digits=0),
            Column("tenure_years", "normal", ((1, 0.5), (4, 1), (6, 1.5), (3, 1)), low=0),
        ),
        random_columns=(REGION, FLAG_APP),
        id_column="CustomerID",
    ),
    _table(
        "two_groups_flags",
        "Two groups plus random newsletter (yes/no) and app (True/False) flags.",
        ("Casual", "Engaged"),
        (0.7, 0.3),
        (
            Column("sessions_per_week", "lognormal", ((1.5, 0.4), (8, 0.4))),
            Column("spend_12m", "lognormal", ((120, 0.5), (900, 0.5))),
        ),
        random_columns=(FLAG_NEWSLETTER, FLAG_APP),
        id_column="client_id",
    ),
    # ---- null scenarios
    replace(
        _lines("null_rfm_continuum", "", (), n=2000),
        description="No structure: one lognormal RFM continuum (a latent engagement score "
        "drives recency, frequency and spend together).",
        null="rfm",
    ),
    replace(
        _lines("null_skewed_money", "", (), n=2000, style="uci2"),
        description="No structure: a single population with a Pareto money continuum and "
        "continuous recency and frequency.",
        null="money",
    ),
    replace(
        _table("null_uniform_box", "", (), (), (), n=1500),
        description="No structure: customers uniform in a box (age, income, spend, visits).",
        null="box",
    ),
    replace(
        _table("null_gaussian_blob", "", (), (), (), n=1500, id_column="client_id"),
        description="No structure: one correlated Gaussian blob of four attributes.",
        null="blob",
    ),
    # ---- added later: appended, so that every scenario above keeps its seed (the seed
    # of a run is its scenario's position in this list)
    _table(
        "random_numbers",
        "Three groups in visits and basket value, plus a tenure and an age drawn alike for "
        "every customer: numbers that relate to nothing must not cut the groups.",
        ("Occasional", "Regular", "Bulk buyers"),
        (0.45, 0.35, 0.20),
        (
            Column("visits_per_month", "lognormal", ((1, 0.3), (4, 0.3), (2, 0.3))),
            Column("basket_value", "lognormal", ((25, 0.3), (40, 0.3), (160, 0.3))),
            Column("tenure_months", "normal", ((60, 30),) * 3, digits=0, low=1),
            Column("age", "normal", ((44, 14),) * 3, digits=0, low=18),
        ),
    ),
)

#: Names of all scenarios, in order.
SCENARIOS: tuple[str, ...] = tuple(s.name for s in _SPECS)
_BY_NAME: dict[str, Spec] = {s.name: s for s in _SPECS}


def scenario_spec(name: str) -> Spec:
    """The nominal recipe of a scenario.

    Examples
    --------
    >>> scenario_spec("new_vs_loyal").kind
    'transactions'
    """
    if name not in _BY_NAME:
        raise ValueError(f"Unknown scenario {name!r}. Scenarios: {', '.join(SCENARIOS)}.")
    return _BY_NAME[name]


# ------------------------------------------------------------------ variants


def _jitter_range(rng: np.random.Generator, r: tuple[float, float]) -> tuple[float, float]:
    width = r[1] - r[0]
    j = VARIANT_BOUNDS["range_jitter"] * width
    lo = max(0.0, r[0] + rng.uniform(-j, j))
    hi = max(lo, r[1] + rng.uniform(-j, j))
    return (lo, hi)


def _variant(spec: Spec, rng: np.random.Generator) -> Spec:
    """A randomised variant within :data:`VARIANT_BOUNDS`."""
    n = int(rng.integers(spec.n_range[0], spec.n_range[1] + 1))
    shares = np.array(spec.shares, dtype=float)
    if len(shares):
        low, high = VARIANT_BOUNDS["share_range"]
        shares = shares * np.exp(rng.normal(0, VARIANT_BOUNDS["share_sigma"], len(shares)))
        shares = shares / shares.sum()
        for _ in range(5):
            shares = np.clip(shares, low, high)
            shares = shares / shares.sum()
    noise = float(rng.uniform(*VARIANT_BOUNDS["noise_range"])) if spec.noise > 0 else 0.0
    m = VARIANT_BOUNDS["mean_jitter"]
    behaviours = []
    for b, share in zip(spec.behaviours, shares, strict=False):
        mean_scale = float(rng.uniform(1 - m, 1 + m))
        lo_o, hi_o = b.orders[1], b.orders[2]
        behaviours.append(
            replace(
                b,
                share=float(share),
                recency=_jitter_range(rng, b.recency),
                tenure=None if b.tenure is None else _jitter_range(rng, b.tenure),
                orders=(
                    float(np.clip(b.orders[0] * mean_scale, lo_o, hi_o)),
                    lo_o,
                    hi_o,
                ),
                order_value=b.order_value * float(rng.uniform(1 - m, 1 + m)),
            )
        )
    columns = []
    for col in spec.columns:
        if col.kind in ("lognormal", "poisson"):
            params = tuple((p[0] * float(rng.uniform(1 - m, 1 + m)), *p[1:]) for p in col.params)
        elif col.kind == "normal":
            params = tuple((p[0] + float(rng.uniform(-m, m)) * p[1], p[1]) for p in col.params)
        else:
            params = col.params
        columns.append(replace(col, params=params))
    return replace(
        spec,
        n_customers=n,
        shares=tuple(float(s) for s in shares),
        noise=noise,
        behaviours=tuple(behaviours),
        columns=tuple(columns),
    )


def _group_sizes(n: int, shares: tuple[float, ...], noise: float) -> tuple[list[int], int]:
    """Customers per group (largest remainder) and noise customers."""
    n_noise = int(round(noise * n))
    rest = n - n_noise
    if not shares:
        return [rest], n_noise
    raw = np.array(shares) / sum(shares) * rest
    sizes = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - sizes), kind="stable")[: rest - int(sizes.sum())]:
        sizes[i] += 1
    return sizes.tolist(), n_noise


# ------------------------------------------------------------------ invoice lines


def _behaviour_people(
    rng: np.random.Generator, b: Behaviour, n: int, period: int
) -> dict[str, np.ndarray]:
    recency = rng.uniform(b.recency[0], b.recency[1], n)
    mean, lo, hi = b.orders
    if mean <= lo:
        orders = np.full(n, lo)
    else:
        r = 4.0
        extra = rng.negative_binomial(r, r / (r + (mean - lo)), n)
        orders = np.minimum(lo + extra, hi)
    if b.tenure is not None:
        tenure = rng.uniform(b.tenure[0], b.tenure[1], n)
    else:
        tenure = recency + rng.uniform(b.first_gap[0], b.first_gap[1], n)
    # Several orders need some days between the first and the last.
    short = (orders > 1) & (tenure < recency + 7)
    tenure = np.where(short, recency + rng.uniform(7, 45, n), tenure)
    tenure = np.where(orders == 1, recency, tenure)
    tenure = np.minimum(tenure, period - 1)
    recency = np.minimum(recency, tenure)
    return {
        "recency": recency,
        "tenure": tenure,
        "n_orders": orders.astype(np.int64),
        "value_median": np.full(n, float(b.order_value)),
        "value_sigma": np.full(n, b.value_sigma),
        "pareto": np.full(n, b.pareto or 0.0),
        "lines": np.full(n, b.lines),
        "returns": np.full(n, b.returns),
    }


def _noise_people(rng: np.random.Generator, n: int, period: int) -> dict[str, np.ndarray]:
    """Unstructured customers, spread over the whole range of every behaviour."""
    recency = rng.uniform(0, period - 1, n)
    orders = np.floor(np.exp(rng.uniform(0, np.log(60), n))).astype(np.int64)
    tenure = np.where(orders > 1, recency + rng.uniform(7, period, n), recency)
    tenure = np.minimum(tenure, period - 1)
    return {
        "recency": recency,
        "tenure": tenure,
        "n_orders": orders,
        "value_median": np.exp(rng.uniform(np.log(20), np.log(1500), n)),
        "value_sigma": np.full(n, 0.5),
        "pareto": np.zeros(n),
        "lines": rng.uniform(1.5, 8, n),
        "returns": np.zeros(n),
    }


def _null_people(rng: np.random.Generator, kind: str, n: int, period: int) -> dict[str, np.ndarray]:
    """One population without groups: a latent engagement score drives everything."""
    z = rng.normal(0, 1, n)
    recency = period * (1 / (1 + np.exp(1.2 * z + rng.normal(0, 0.8, n) + 0.5)))
    mean_orders = np.exp(1.2 + 0.8 * z)
    r = 2.0
    orders = 1 + rng.negative_binomial(r, r / (r + mean_orders))
    tenure = np.where(orders > 1, recency + rng.uniform(0.3, 1.0, n) * (period - recency), recency)
    tenure = np.minimum(tenure, period - 1)
    if kind == "money":
        median = 40 * (1 + rng.pareto(1.6, n))
        pareto = np.zeros(n)
    else:
        median = np.exp(np.log(70) + 0.3 * z)
        pareto = np.zeros(n)
    return {
        "recency": recency,
        "tenure": tenure,
        "n_orders": orders.astype(np.int64),
        "value_median": median,
        "value_sigma": np.full(n, 0.6),
        "pareto": pareto,
        "lines": np.full(n, 3.0),
        "returns": np.zeros(n),
    }


def _make_lines(spec: Spec, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series, int]:
    period = spec.period_days
    if spec.null:
        sizes, n_noise = [spec.n_customers], 0
    else:
        sizes, n_noise = _group_sizes(spec.n_customers, spec.shares, spec.noise)
    parts = []
    labels = []
    if spec.null:
        parts.append(_null_people(rng, spec.null, sizes[0], period))
        labels.append(np.zeros(sizes[0], dtype=np.int64))
    else:
        for g, (b, size) in enumerate(zip(spec.behaviours, sizes, strict=True)):
            parts.append(_behaviour_people(rng, b, size, period))
            labels.append(np.full(size, g, dtype=np.int64))
    if n_noise:
        parts.append(_noise_people(rng, n_noise, period))
        labels.append(np.full(n_noise, -1, dtype=np.int64))
    people = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    label = np.concatenate(labels)
    n = len(label)
    # Customer ids in random order, so that groups are not blocks of ids.
    ids = 12346 + rng.permutation(n) * 3 + rng.integers(0, 3, n)

    # ---- orders
    n_orders = people["n_orders"]
    order_cust = np.repeat(np.arange(n), n_orders)
    total = len(order_cust)
    starts = np.cumsum(n_orders) - n_orders
    pos = np.arange(total) - np.repeat(starts, n_orders)
    frac = rng.random(total)
    frac[pos == 0] = 1.0
    frac[pos == np.repeat(n_orders, n_orders) - 1] = 0.0
    rec = people["recency"][order_cust]
    ten = people["tenure"][order_cust]
    days_before = np.floor(rec + frac * (ten - rec)).astype(np.int64)
    end = np.datetime64(spec.end, "s") + np.timedelta64(19 * 3600, "s")
    end_day = np.datetime64(spec.end, "D").astype("datetime64[s]")
    minutes = rng.integers(8 * 60, 19 * 60, total)
    ts = end_day - days_before.astype("timedelta64[D]") + (minutes * 60).astype("timedelta64[s]")
    ts = np.minimum(ts, end)
    order_ix = np.argsort(ts, kind="stable")
    invoice_of_order = np.empty(total, dtype=np.int64)
    invoice_of_order[order_ix] = 536365 + np.arange(total)
    pareto = people["pareto"][order_cust]
    lognormal_value = people["value_median"][order_cust] * np.exp(
        rng.normal(0, 1, total) * people["value_sigma"][order_cust]
    )
    pareto_value = people["value_median"][order_cust] * (
        1 + rng.pareto(np.where(pareto > 0, pareto, 1.0))
    )
    value = np.where(pareto > 0, pareto_value, lognormal_value)

    # ---- lines
    n_lines = 1 + rng.poisson(np.maximum(people["lines"][order_cust] - 1, 0))
    line_order = np.repeat(np.arange(total), n_lines)
    weights = rng.gamma(1.0, 1.0, len(line_order))
    weight_sum = np.bincount(line_order, weights=weights, minlength=total)
    line_value = value[line_order] * weights / weight_sum[line_order]
    popularity = 1 / np.arange(1, N_PRODUCTS + 1) ** 0.8
    product = rng.choice(N_PRODUCTS, len(line_order), p=popularity / popularity.sum())
    catalogue_rng = np.random.default_rng(7)  # the same catalogue in every scenario
    prices = np.round(catalogue_rng.lognormal(1.2, 0.8, N_PRODUCTS), 2) + 0.19
    unit_price = prices[product]
    quantity = np.maximum(1, np.round(line_value / unit_price)).astype(np.int64)

    # ---- returns: a cancellation line for the first line of some orders
    first_line = np.r_[0, np.cumsum(n_lines)[:-1]]
    returned = rng.random(total) < people["returns"][order_cust]
    ret_lines = first_line[returned]
    ret_qty = -np.maximum(1, np.round(quantity[ret_lines] * rng.uniform(0.3, 1, len(ret_lines))))
    ret_ts = np.minimum(
        ts[line_order[ret_lines]] + rng.integers(1, 10, len(ret_lines)).astype("timedelta64[D]"),
        end,
    )

    style = LINE_STYLES[spec.style]
    inv = invoice_of_order[line_order].astype(str)
    invoices = np.concatenate([inv, np.char.add("C", inv[ret_lines])])
    prod_all = np.concatenate([product, product[ret_lines]])
    qty_all = np.concatenate([quantity, ret_qty.astype(np.int64)])
    price_all = np.concatenate([unit_price, unit_price[ret_lines]])
    ts_all = np.concatenate([ts[line_order], ret_ts])
    cust_line = order_cust[line_order]
    cust_all = np.concatenate([cust_line, cust_line[ret_lines]])
    country_of = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)
    codes = np.array(
        [f"{20000 + 7 * p}{'ABC'[p % 3] if p % 4 == 0 else ''}" for p in range(N_PRODUCTS)]
    )
    names = np.array(
        [
            f"{PRODUCT_WORDS[p % len(PRODUCT_WORDS)]} {['RED', 'BLUE', 'WHITE', 'VINTAGE', 'SET OF 3'][p % 5]} {p}"
            for p in range(N_PRODUCTS)
        ]
    )
    order = np.lexsort((prod_all, ts_all))
    data: dict[str, Any] = {}
    for role, col in style.items():
        if role == "customer_id":
            data[col] = ids[cust_all][order]
        elif role == "invoice":
            data[col] = invoices[order]
        elif role == "product":
            data[col] = codes[prod_all][order]
        elif role == "description":
            data[col] = names[prod_all][order]
        elif role == "quantity":
            data[col] = qty_all[order]
        elif role == "price":
            data[col] = price_all[order]
        elif role == "amount":
            data[col] = np.round(qty_all * price_all, 2)[order]
        elif role == "country":
            data[col] = np.array(COUNTRIES)[country_of[cust_all]][order]
        elif role == "date":
            data[col] = _format_dates(ts_all[order], spec.date_format)
    frame = pd.DataFrame(data)
    truth = pd.Series(label, index=pd.Index(ids.astype(str), name="customer_id"), name="group")
    return frame, truth.sort_index(), n_noise


def _format_dates(ts: np.ndarray, style: str) -> Any:
    fmt = DATE_FORMATS[style]
    stamps = ts.astype("datetime64[s]")
    if fmt is None:
        return pd.DatetimeIndex(stamps).as_unit("ns")
    if style == "iso":
        return np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")
    if style == "iso_t":
        return np.datetime_as_string(stamps, unit="s")
    # Format the distinct timestamps only (far fewer than lines).
    uniq, inverse = np.unique(stamps, return_inverse=True)
    return np.asarray(pd.DatetimeIndex(uniq).strftime(fmt))[inverse]


# ------------------------------------------------------------------ customer tables


def _draw_column(
    rng: np.random.Generator, col: Column, group_of: np.ndarray, n_groups: int
) -> np.ndarray:
    n = len(group_of)
    noise = group_of < 0
    # Noise customers take the parameters of a random group per column, widened: they are
    # spread over the whole range, not a group of their own.
    g = np.where(noise, rng.integers(0, n_groups, n), group_of)
    if col.kind == "category":
        levels = sorted({lvl for p in col.params for lvl in p})
        probs = np.array([[p.get(lvl, 0.0) for lvl in levels] for p in col.params])
        probs = probs / probs.sum(axis=1, keepdims=True)
        cum = probs.cumsum(axis=1)[g]
        pick = (rng.random(n)[:, None] > cum).sum(axis=1)
        pick = np.where(noise, rng.integers(0, len(levels), n), pick)
        return np.array(levels, dtype=object)[np.minimum(pick, len(levels) - 1)]
    p = np.array([list(x) for x in col.params], dtype=float)
    if col.kind == "lognormal":
        lo, hi = np.log(p[:, 0].min()), np.log(p[:, 0].max())
        centre = np.where(noise, rng.uniform(lo, hi, n), np.log(p[g, 0]))
        values = np.exp(centre + rng.normal(0, 1, n) * p[g, 1])
    elif col.kind == "normal":
        centre = np.where(noise, rng.uniform(p[:, 0].min(), p[:, 0].max(), n), p[g, 0])
        values = centre + rng.normal(0, 1, n) * p[g, 1]
    elif col.kind == "poisson":
        mean = np.where(
            noise,
            np.exp(rng.uniform(np.log(p[:, 0].min()), np.log(p[:, 0].max()), n)),
            p[g, 0],
        )
        values = rng.poisson(mean).astype(float)
    else:
        raise ValueError(f"Unknown column kind {col.kind!r}")
    if col.low is not None or col.high is not None:
        values = np.clip(values, col.low, col.high)
    values = np.round(values, col.digits)
    return values.astype(np.int64) if col.digits == 0 else values


def _null_table(rng: np.random.Generator, kind: str, n: int) -> dict[str, np.ndarray]:
    if kind == "box":
        return {
            "age": np.round(rng.uniform(18, 80, n)).astype(np.int64),
            "income": np.round(rng.uniform(15000, 150000, n), 2),
            "spend": np.round(rng.uniform(100, 5000, n), 2),
            "visits": np.round(rng.uniform(0, 30, n)).astype(np.int64),
        }
    cov = np.array(
        [[1.0, 0.5, 0.4, 0.2], [0.5, 1.0, 0.6, 0.3], [0.4, 0.6, 1.0, 0.5], [0.2, 0.3, 0.5, 1.0]]
    )
    z = rng.multivariate_normal(np.zeros(4), cov, n)
    return {
        "age": np.round(np.clip(45 + 12 * z[:, 0], 18, None)).astype(np.int64),
        "income": np.round(55000 + 15000 * z[:, 1], 2),
        "spend_score": np.round(50 + 15 * z[:, 2], 1),
        "visits_per_month": np.round(8 + 2.5 * z[:, 3], 1),
    }


def _make_table(spec: Spec, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series, int]:
    if spec.null:
        sizes, n_noise = [spec.n_customers], 0
    else:
        sizes, n_noise = _group_sizes(spec.n_customers, spec.shares, spec.noise)
    label = np.concatenate(
        [np.full(s, g, dtype=np.int64) for g, s in enumerate(sizes)]
        + [np.full(n_noise, -1, dtype=np.int64)]
    )
    n = len(label)
    label = label[rng.permutation(n)]
    ids = np.array([f"C{100000 + i}" for i in range(n)], dtype=object)
    data: dict[str, Any] = {spec.id_column: ids}
    if spec.null:
        data.update(_null_table(rng, spec.null, n))
    for col in spec.columns:
        data[col.name] = _draw_column(rng, col, label, len(sizes))
    for rc in spec.random_columns:
        pick = rng.choice(len(rc.levels), n, p=rc.probs)
        values = np.array(rc.levels, dtype=object)[pick]
        if all(isinstance(v, bool) for v in rc.levels):
            values = values.astype(bool)
        elif all(isinstance(v, int) for v in rc.levels):
            values = values.astype(np.int64)
        data[rc.name] = values
    frame = pd.DataFrame(data)
    truth = pd.Series(label, index=pd.Index(ids.astype(str), name="customer_id"), name="group")
    return frame, truth, n_noise


# ------------------------------------------------------------------ entry point


def make_scenario(name: str, seed: int = 0, *, n_customers: int | None = None) -> Scenario:
    """Generate one scenario.

    Parameters
    ----------
    name : str
        One of :data:`SCENARIOS`.
    seed : int
        0 gives the nominal scenario; any other seed a randomised variant within
        :data:`VARIANT_BOUNDS` (see :data:`HOLDOUT_SEEDS`). The same seed gives the same data.
    n_customers : int, optional
        Override the number of customers.

    Returns
    -------
    Scenario

    Examples
    --------
    >>> s = make_scenario("new_vs_loyal")
    >>> s.kind, s.k_true, sorted(s.truth.unique().tolist())
    ('transactions', 2, [0, 1])
    """
    spec = scenario_spec(name)
    rng = np.random.default_rng([seed, SCENARIOS.index(name)])
    if seed != 0:
        spec = _variant(spec, rng)
    if n_customers is not None:
        spec = replace(spec, n_customers=int(n_customers))
    if spec.kind == "transactions":
        data, truth, n_noise = _make_lines(spec, rng)
    else:
        data, truth, n_noise = _make_table(spec, rng)
    structured = spec.null is None
    shares = list(spec.shares) if structured else [1.0]
    total = sum(shares)
    return Scenario(
        name=spec.name,
        kind=spec.kind,
        data=data,
        truth=truth,
        k_true=len(spec.group_names) if structured else 1,
        structured=structured,
        group_names=list(spec.group_names) if structured else ["Everyone"],
        description=spec.description,
        shares=[s / total for s in shares],
        noise_share=spec.noise,
        seed=seed,
    )


__all__ = [
    "DEV_SEEDS",
    "TUNING_SEEDS",
    "HOLDOUT_SEEDS",
    "SCENARIOS",
    "VARIANT_BOUNDS",
    "Behaviour",
    "Scenario",
    "make_scenario",
    "scenario_spec",
]
