"""Segment names and recommended actions, from visible rule tables.

Transactions are named in RFM vocabulary. Each segment's median recency, frequency and
monetary value is scored 1-5 by where it falls among all customers (5 = most recent, most
frequent, highest spend), and each name is also checked against the segment's medians and
shares in absolute terms: recency is measured in *typical gaps* (the usual time between two
purchases, :func:`typical_gap`), orders against the overall median, spend against the
segment's share of revenue, and size against :data:`CHAMPION_MAX_SHARE`. The first rule of
:data:`RFM_NAMING_RULES` that matches and whose name is still free names the segment.

Customer tables get a short persona name ("Affluent wine lovers", "Families with teens")
built from readable words for their most distinguishing columns (:data:`COLUMN_WORDS`), and an
action from :data:`CUSTOMER_ACTIONS` followed by what to lead with for that persona.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------------------------
# Transactions: thresholds, each with the reason for its value
# --------------------------------------------------------------------------------------------

RETURNS_FOR_NAME = 0.2
"""A segment whose median customer returns at least this share of the items they bought is
named for it ("returns" in the rules): that behaviour matters more to a campaign than how
recently they bought."""

GAP_FLOOR_DAYS = 7.0
"""Smallest typical gap used, in days. Recency is counted in whole days from one analysis
date; below a week, "several gaps" would be a matter of a few days and of the weekday the
data ends on."""

FALLBACK_GAP_DAYS = 90.0
"""Typical gap used when fewer than :data:`MIN_REPEAT_FOR_GAP` customers bought twice: a
quarter, the usual re-purchase horizon of retail RFM practice."""

MIN_REPEAT_FOR_GAP = 5
"""Repeat customers needed to measure a typical gap (the shop's, or a segment's own). With
fewer, one customer's habit would set the yardstick of the whole segment."""

ACTIVE_GAPS = 1.0
"""A median recency of at most one typical gap means the segment is still inside its usual
buying cycle: with purchases spread like a Poisson process, a still-active customer has
bought within one mean gap 63% of the time, so the median customer has no reason to be
considered lapsing."""

AT_RISK_GAPS = 2.0
"""From two typical gaps without a purchase a segment is overdue ("At risk"): an active
customer stays silent that long only e^-2 = 14% of the time, so when the *median* customer
has, most of the segment is slipping away."""

LOST_GAPS = 4.0
"""From four typical gaps a segment is "Lost": an active customer stays silent that long
less than 2% of the time (e^-4), and win-back campaigns on such customers rarely pay."""

NEW_TENURE_GAPS = 2.0
""""New customers" joined at most two typical gaps ago: too short for a second purchase to be
expected, so a single order is not yet a sign of disinterest, and however long ago their last
purchase (never more than their tenure). Measured against their own gap instead, customers
who joined 54 days ago, half of them with a second order 14 days after the first, read 2.3
gaps silent and were named "At risk" with a win-back action (a reviewer's shop)."""

MISFIT_SHARE = 0.2
"""A segment named as still buying (its median within :data:`AT_RISK_GAPS` of its typical gap)
in which at least this share of customers have been silent for :data:`LOST_GAPS` gaps or
more, or a segment named lost in which this share bought within :data:`AT_RISK_GAPS` gaps,
gets a warning: its name and action do not fit those customers (say 40 dormant wholesale
accounts inside "Champions", too few to be a segment of their own)."""

MISFIT_MIN = 10
"""...and at least this many customers: a handful is an exception, not a group."""

CHAMPION_MAX_SHARE = 1 / 3
"""Champions must be fewer than a third of the customers. Best customers are a minority
(the Pareto pattern: about a fifth of customers bring most of the revenue); a third or more
of the base sharing the top ranks means the ranks are not telling the best apart."""

CHAMPION_MIN_ORDERS = 4.0
"""Champions' median customer placed at least four orders: three repeat purchases are a
habit, one or two may be chance (most shops' overall median is 1-2 orders)."""

CHAMPION_ORDERS_RATIO = 2.0
"""Champions' median number of orders is at least twice the overall median: "well above"
the typical customer, not one order more."""

CHAMPION_VALUE = 1.5
"""Champions bring at least 1.5 times their share of revenue (``V``): a top group whose
revenue share only matches its size is not where the value sits."""

LOYAL_MIN_ORDERS = 3.0
""""Loyal customers" have a median of at least three orders: they came back at least twice."""

BIG_SPEND_RATIO = 2.0
""""Big spenders" spend, at the median, at least twice what the median customer spends: a
rank of M4 alone is only the top 40%, a small step on a skewed distribution."""


TOP_VALUE_RATIO = 5.0
"""A segment that brings at least five times its share of customers in spend (revenue of
invoice lines, spend of a customer table), at least :data:`TOP_MIN_VALUE_SHARE` of all of it,
with at most :data:`TOP_MAX_SHARE` of the customers, is named "Top customers" and managed one
by one: 2% of accounts holding 70% of spend are the business's key accounts, whatever else sets
them apart. Found on a reviewer's exports: such accounts were "Loyal customers" told to enrol
in the loyalty programme (monthly billing, so no more orders than others), and a customer
table's got the main group's "reward loyalty with member pricing"."""
TOP_MAX_SHARE = 0.1
"""...at most a tenth of the customers: a few accounts one can look after personally."""
TOP_MIN_VALUE_SHARE = 0.2
"""...and at least a fifth of all spend: losing them would show in the totals."""
TOP_NAME = "Top customers"


def is_top(share: float, value_ratio: float) -> bool:
    """Whether a segment holding ``share`` of the customers and ``value_ratio`` times that
    share of the value is "Top customers" (:data:`TOP_VALUE_RATIO`, :data:`TOP_MAX_SHARE`,
    :data:`TOP_MIN_VALUE_SHARE`): the one test of the RFM rule and of customer tables.

    Examples
    --------
    >>> is_top(0.02, 36.0), is_top(0.15, 5.0), is_top(0.03, 2.0)
    (True, False, False)
    """
    return (
        value_ratio >= TOP_VALUE_RATIO
        and share <= TOP_MAX_SHARE
        and value_ratio * share >= TOP_MIN_VALUE_SHARE
    )


TOP_ACTION = (
    "Look after them one by one: a named contact, personal offers and regular service "
    "reviews; watch each account and call when one buys less."
)


def inter_purchase_days(features: pd.DataFrame) -> np.ndarray:
    """Each customer's mean days between purchases (NaN for one-time buyers).

    ``(days_since_first_purchase - days_since_last_purchase) / (n_orders - 1)``: the span
    between first and last purchase spread over the intervals between orders.

    Examples
    --------
    >>> f = pd.DataFrame({"days_since_first_purchase": [100, 50], "days_since_last_purchase": [10, 50],
    ...                   "n_orders": [4, 1]})
    >>> inter_purchase_days(f)
    array([30., nan])
    """
    first = features["days_since_first_purchase"].to_numpy(dtype=float)
    last = features["days_since_last_purchase"].to_numpy(dtype=float)
    orders = features["n_orders"].to_numpy(dtype=float)
    repeat = orders >= 2
    out = np.full(len(features), np.nan)
    out[repeat] = (first[repeat] - last[repeat]) / (orders[repeat] - 1)
    return out


def typical_gap(gaps: np.ndarray, default: float = FALLBACK_GAP_DAYS) -> float:
    """The typical time between purchases: the median of the repeat customers' gaps.

    ``default`` when fewer than :data:`MIN_REPEAT_FOR_GAP` customers have a gap; never below
    :data:`GAP_FLOOR_DAYS`.

    Examples
    --------
    >>> typical_gap(np.array([20.0, 30.0, 40.0, 50.0, 60.0, np.nan]))
    40.0
    >>> typical_gap(np.array([2.0, np.nan]))
    90.0
    """
    known = gaps[np.isfinite(gaps)]
    if len(known) < MIN_REPEAT_FOR_GAP:
        return float(default)
    return float(max(np.median(known), GAP_FLOOR_DAYS))


@dataclass(frozen=True)
class NamingRule:
    """A name, when it applies (on the scores of :func:`name_rfm_segments`), and the action."""

    name: str
    condition: str
    test: Callable[[dict[str, float]], bool]
    action: str


#: The RFM naming rules, in priority order. Ranks: R = recency score (5 = bought most
#: recently), F = frequency score, M = monetary score, T = tenure score (1 = joined most
#: recently), each 1-5 against all customers. Absolute measures: ``gaps`` = median days since
#: the last purchase / the segment's typical gap (its own when its median customer bought
#: twice or more, else the shop's), ``gaps_shop`` = the same over the shop's typical gap,
#: ``tenure_gaps`` = median days since the first purchase / the shop's typical gap,
#: ``orders`` = median number of orders, ``orders_x`` = that / the overall median, ``spend_x``
#: = median revenue / the overall median, ``V`` = share of revenue / share of customers,
#: ``share`` = share of customers, ``returns`` = median return rate (0 without that feature).
RFM_NAMING_RULES: tuple[NamingRule, ...] = (
    NamingRule(
        "Frequent returners",
        "returns >= 0.2",
        lambda s: s["returns"] >= RETURNS_FOR_NAME,
        "Find out why they return (sizes, quality, descriptions) before sending offers; keep "
        "them out of discount campaigns until then.",
    ),
    NamingRule(
        "Champions",
        "R >= 4 and F >= 4 and M >= 4 and gaps_shop <= 1 and orders >= 4 and orders_x >= 2 "
        "and V >= 1.5 and share < 1/3",
        lambda s: (
            s["R"] >= 4
            and s["F"] >= 4
            and s["M"] >= 4
            and s["gaps_shop"] <= ACTIVE_GAPS
            and s["orders"] >= CHAMPION_MIN_ORDERS
            and s["orders_x"] >= CHAMPION_ORDERS_RATIO
            and s["V"] >= CHAMPION_VALUE
            and s["share"] < CHAMPION_MAX_SHARE
        ),
        "Reward them: early access, loyalty perks; ask for reviews and referrals.",
    ),
    NamingRule(
        "Top customers",
        "V >= 5 and share <= 0.1 and V x share >= 0.2 and gaps < 2",
        lambda s: is_top(s["share"], s["V"]) and s["gaps"] < AT_RISK_GAPS,
        TOP_ACTION,
    ),
    NamingRule(
        "Loyal customers",
        "F >= 4 and orders >= 3 and gaps < 2",
        lambda s: s["F"] >= 4 and s["orders"] >= LOYAL_MIN_ORDERS and s["gaps"] < AT_RISK_GAPS,
        "Upsell higher-value ranges and enrol them in the loyalty programme.",
    ),
    NamingRule(
        "Big spenders",
        "M >= 4 and V >= 1 and spend_x >= 2 and gaps < 2",
        lambda s: (
            s["M"] >= 4
            and s["V"] >= 1
            and s["spend_x"] >= BIG_SPEND_RATIO
            and s["gaps"] < AT_RISK_GAPS
        ),
        "Offer premium lines, bundles and personal service.",
    ),
    NamingRule(
        "New customers",
        "orders <= 2 and tenure_gaps <= 2",
        lambda s: s["orders"] <= 2 and s["tenure_gaps"] <= NEW_TENURE_GAPS,
        "Onboard them: welcome series and an incentive for the second purchase.",
    ),
    NamingRule(
        "Promising",
        "gaps <= 1 and orders <= 2",
        lambda s: s["gaps"] <= ACTIVE_GAPS and s["orders"] <= 2,
        "Build the habit: recommendations and a time-limited offer.",
    ),
    NamingRule(
        "Regular customers",
        "gaps <= 1 and orders >= 2",
        lambda s: s["gaps"] <= ACTIVE_GAPS and s["orders"] >= 2,
        "Keep them engaged with newsletters; test offers to learn what moves them.",
    ),
    NamingRule(
        "Need attention",
        "1 < gaps < 2 and orders >= 2",
        lambda s: ACTIVE_GAPS < s["gaps"] < AT_RISK_GAPS and s["orders"] >= 2,
        "Reactivate with personalised recommendations before they slip away.",
    ),
    NamingRule(
        "About to sleep",
        "1 < gaps < 2",
        lambda s: ACTIVE_GAPS < s["gaps"] < AT_RISK_GAPS,
        "Share bestsellers and a limited-time discount to bring them back.",
    ),
    NamingRule(
        "Can't lose them",
        "2 <= gaps < 4 and F >= 4 and M >= 4 and orders >= 4 and V >= 1.5 and share < 1/3",
        lambda s: (
            AT_RISK_GAPS <= s["gaps"] < LOST_GAPS
            and s["F"] >= 4
            and s["M"] >= 4
            and s["orders"] >= CHAMPION_MIN_ORDERS
            and s["V"] >= CHAMPION_VALUE
            and s["share"] < CHAMPION_MAX_SHARE
        ),
        "Win them back personally: call or write, strong offer, ask what went wrong.",
    ),
    NamingRule(
        "At risk",
        "2 <= gaps < 4 and orders >= 2",
        lambda s: AT_RISK_GAPS <= s["gaps"] < LOST_GAPS and s["orders"] >= 2,
        "Win-back campaign with personalised offers and a short survey.",
    ),
    NamingRule(
        "Hibernating",
        "2 <= gaps < 4",
        lambda s: AT_RISK_GAPS <= s["gaps"] < LOST_GAPS,
        "Low-cost reminders and seasonal offers; do not overspend on them.",
    ),
    NamingRule(
        "Lost one-time buyers",
        "orders <= 1 and gaps >= 4",
        lambda s: s["orders"] <= 1 and s["gaps"] >= LOST_GAPS,
        "Cheap reactivation test; otherwise leave them out of paid campaigns.",
    ),
    NamingRule(
        "Lost customers",
        "gaps >= 4",
        lambda s: s["gaps"] >= LOST_GAPS,
        "One last win-back offer with a survey on why they left; then stop paid contact.",
    ),
)

#: Words for a transactions feature that is high / low in a segment (used to tell apart
#: segments that the rules give the same name).
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "days_since_last_purchase": ("long lapsed", "recent"),
    "n_orders": ("frequent", "infrequent"),
    "revenue": ("high spend", "low spend"),
    "mean_order_value": ("big baskets", "small baskets"),
    "days_since_first_purchase": ("long-standing", "joined later"),
    "n_products": ("wide range", "narrow range"),
    "return_rate": ("many returns", "few returns"),
}


#: Words for how a segment differs from the segment that already holds its name (higher /
#: lower than that segment): "Lost customers, more recent" beside "Lost customers".
COMPARATIVE_WORDS: dict[str, tuple[str, str]] = {
    "days_since_last_purchase": ("longer lapsed", "more recent"),
    "n_orders": ("more frequent", "less frequent"),
    "revenue": ("higher spend", "lower spend"),
    "mean_order_value": ("bigger baskets", "smaller baskets"),
    "days_since_first_purchase": ("longer-standing", "joined later"),
    "n_products": ("wider range", "narrower range"),
    "return_rate": ("more returns", "fewer returns"),
}


def relative_qualifiers(features: pd.DataFrame, inside: np.ndarray, other: np.ndarray) -> list[str]:
    """How the customers ``inside`` differ from those of ``other`` (the segment that took the
    name first), largest difference first: each :data:`COMPARATIVE_WORDS` feature's median
    percentile rank among all customers, one group's against the other's. Ranks make the
    features comparable (10 days of tenure against a basket of 50 vs 190).

    Examples
    --------
    >>> f = pd.DataFrame({"days_since_last_purchase": [500, 520, 540, 330, 340, 350],
    ...                   "mean_order_value": [50.0, 52.0, 49.0, 190.0, 185.0, 200.0]})
    >>> first = np.array([True, True, True, False, False, False])
    >>> relative_qualifiers(f, ~first, first)
    ['more recent', 'bigger baskets']
    """
    found = []
    for feature, (higher, lower) in COMPARATIVE_WORDS.items():
        if feature not in features:
            continue
        ranks = features[feature].rank(pct=True).to_numpy(dtype=float)
        gap = float(np.median(ranks[inside]) - np.median(ranks[other]))
        if gap != 0.0:
            found.append((abs(gap), higher if gap > 0 else lower))
    return [word for _, word in sorted(found, key=lambda t: -t[0])]


def _score(value: float, population: np.ndarray, higher_is_better: bool = True) -> int:
    """Score 1-5 by the mid-rank percentile of ``value`` in ``population``."""
    pct = float(np.mean(population < value) + 0.5 * np.mean(population == value))
    if not higher_is_better:
        pct = 1.0 - pct
    return int(np.clip(1 + np.floor(5 * pct), 1, 5))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _ratio(value: float, reference: float) -> float:
    if reference > 0:
        return value / reference
    return float("inf") if value > 0 else 1.0


def _unique(base: str, qualifiers: list[str], used: set[str], seg: int) -> str:
    if base not in used:
        return base
    for q in qualifiers:
        candidate = f"{base}, {q}"
        if candidate not in used:
            return candidate
    return f"{base} (segment {seg})"


def rfm_scores(
    features: pd.DataFrame, inside: np.ndarray, shop_gap: float | None = None
) -> dict[str, float]:
    """The ranks and absolute measures the naming rules read, for the customers ``inside``.

    ``features`` holds every customer (the population the ranks compare with); ``shop_gap``
    is the shop's typical gap in days (computed from ``features`` when not given). See
    :data:`RFM_NAMING_RULES` for what each key means; ``gap`` and ``shop_gap`` are in days.

    Examples
    --------
    >>> f = pd.DataFrame({"days_since_last_purchase": [10, 12, 14, 300, 320, 340],
    ...                   "n_orders": [6, 8, 7, 1, 1, 1],
    ...                   "revenue": [900.0, 1200.0, 1000.0, 30.0, 20.0, 25.0],
    ...                   "days_since_first_purchase": [310, 362, 314, 300, 320, 340]})
    >>> s = rfm_scores(f, np.array([True, True, True, False, False, False]), shop_gap=50.0)
    >>> s["R"], s["orders"], s["gaps"], s["gaps_shop"], s["share"]
    (4, 7.0, 0.24, 0.24, 0.5)
    """
    rec = features["days_since_last_purchase"].to_numpy(dtype=float)
    freq = features["n_orders"].to_numpy(dtype=float)
    mon = features["revenue"].to_numpy(dtype=float)
    ten = features["days_since_first_purchase"].to_numpy(dtype=float)
    returns = (
        features["return_rate"].to_numpy(dtype=float)
        if "return_rate" in features
        else np.zeros(len(features))
    )
    gaps = inter_purchase_days(features)
    shop = typical_gap(gaps) if shop_gap is None else float(shop_gap)
    med_rec = float(np.median(rec[inside]))
    med_orders = float(np.median(freq[inside]))
    med_rev = float(np.median(mon[inside]))
    med_ten = float(np.median(ten[inside]))
    # Regulars (median customer bought twice or more) are measured against their own rhythm.
    own = typical_gap(gaps[inside], default=shop) if med_orders >= 2 else shop
    share = float(inside.mean())
    revenue_share = float(mon[inside].sum() / mon.sum()) if mon.sum() > 0 else 0.0
    return {
        "R": _score(med_rec, rec, higher_is_better=False),
        "F": _score(med_orders, freq),
        "M": _score(med_rev, mon),
        "T": _score(med_ten, ten),
        "V": round(revenue_share / share, 3) if share > 0 else 0.0,
        "orders": med_orders,
        "returns": float(np.median(returns[inside])),
        "share": round(share, 4),
        "gap": round(own, 1),
        "shop_gap": round(shop, 1),
        "gaps": round(med_rec / own, 2),
        "gaps_shop": round(med_rec / shop, 2),
        "tenure_gaps": round(med_ten / shop, 2),
        "orders_x": round(_ratio(med_orders, float(np.median(freq))), 2),
        "spend_x": round(_ratio(med_rev, float(np.median(mon))), 2),
    }


def matching_rules(scores: dict[str, float]) -> list[NamingRule]:
    """The rules of :data:`RFM_NAMING_RULES` that ``scores`` (:func:`rfm_scores`) meet, in
    priority order; the first one names the segment unless an earlier segment took it.

    Examples
    --------
    >>> scores = {"R": 1, "F": 1, "M": 1, "T": 3, "V": 0.2, "orders": 1.0, "returns": 0.0,
    ...           "share": 0.4, "gaps": 6.0, "gaps_shop": 6.0, "tenure_gaps": 6.0,
    ...           "orders_x": 1.0, "spend_x": 0.5}
    >>> [r.name for r in matching_rules(scores)]
    ['Lost one-time buyers', 'Lost customers']
    """
    matching = [r for r in RFM_NAMING_RULES if r.test(scores)]
    # The recency rules cover every value of gaps; the last rule is a guard for NaN.
    return matching or [RFM_NAMING_RULES[-1]]


def name_rfm_segments(
    features: pd.DataFrame, labels: np.ndarray, distinguishing: dict[int, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Name transaction segments in RFM vocabulary, checked against their medians and shares.

    Ranks compare each segment with every customer, noise (label -1) included; noise itself
    gets no RFM name (:func:`noise_entry`). The shop's typical gap between purchases is the
    median over all repeat customers. Returns one dict per segment (in label order) with
    ``segment``, ``segment_name``, ``description``, ``action``, ``rule`` (the condition that
    matched, as written in :data:`RFM_NAMING_RULES`), ``scores`` (:func:`rfm_scores`) and
    ``facts`` (the profile numbers that justify the name).

    Examples
    --------
    >>> f = pd.DataFrame({"days_since_last_purchase": [10, 12, 14, 30, 9, 300, 320, 340, 330],
    ...                   "n_orders": [6, 8, 7, 5, 6, 1, 1, 1, 1],
    ...                   "revenue": [900.0, 1200.0, 1000.0, 800.0, 950.0, 30.0, 20.0, 25.0, 40.0],
    ...                   "days_since_first_purchase": [310, 362, 314, 330, 300, 300, 320, 340, 330]})
    >>> labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    >>> [e["segment_name"] for e in name_rfm_segments(f, labels, {})]
    ['Loyal customers', 'Lost one-time buyers']
    """
    rec = features["days_since_last_purchase"].to_numpy(dtype=float)
    freq = features["n_orders"].to_numpy(dtype=float)
    mon = features["revenue"].to_numpy(dtype=float)
    shop = typical_gap(inter_purchase_days(features))
    all_rec, all_orders, all_rev = (float(np.median(v)) for v in (rec, freq, mon))
    used: set[str] = set()
    holders: dict[str, np.ndarray] = {}  # a rule's name -> the segment that took it first
    out = []
    for seg in sorted(np.unique(labels)):
        if seg < 0:  # noise: named separately (noise_entry); still part of the population
            continue
        inside = labels == seg
        scores = rfm_scores(features, inside, shop_gap=shop)
        matching = matching_rules(scores)
        rule = next((r for r in matching if r.name not in used), matching[0])
        if rule.name in holders:
            # Told apart from the segment holding the name, not from every customer: a
            # "long lapsed" second "Lost customers" was less lapsed than the first.
            qualifiers = relative_qualifiers(features, inside, holders[rule.name])
        else:
            qualifiers = []
            holders[rule.name] = inside
        name = _unique(rule.name, qualifiers, used, int(seg))
        used.add(name)
        med_rec = float(np.median(rec[inside]))
        med_orders = float(scores["orders"])
        med_rev = float(np.median(mon[inside]))
        facts = (
            f"median {_fmt(med_rec)} days since last purchase (all: {_fmt(all_rec)}) = "
            f"{_fmt(scores['gaps'])} typical gaps of {_fmt(scores['gap'])} days "
            f"(shop: {_fmt(scores['shop_gap'])}), "
            f"{_fmt(med_orders)} orders (all: {_fmt(all_orders)}), "
            f"revenue {_fmt(med_rev)} (all: {_fmt(all_rev)}); "
            f"{scores['share']:.1%} of customers, {scores['V']:.2f}x their share of revenue; "
            f"scores R{scores['R']} F{scores['F']} M{scores['M']}"
        )
        description = (
            f"Typically {_fmt(med_orders)} order{'s' if med_orders != 1 else ''}, "
            f"the last {_fmt(med_rec)} days ago, {_fmt(med_rev)} spent in all"
            f" (all customers: {_fmt(all_orders)}, {_fmt(all_rec)} days, {_fmt(all_rev)})."
        )
        out.append(
            {
                "segment": int(seg),
                "segment_name": name,
                "description": description,
                "action": rule.action,
                "rule": rule.condition,
                "scores": scores,
                "facts": facts,
                "misfits": _misfits(rec[inside], scores),
            }
        )
    return out


def _misfits(recency: np.ndarray, scores: dict[str, float]) -> dict[str, Any] | None:
    """Customers whose recency contradicts their segment's name (:data:`MISFIT_SHARE`):
    ``kind`` ``"stopped"`` (silent for :data:`LOST_GAPS` typical gaps or more, in a segment
    named as buying) or ``"buying"`` (bought within :data:`AT_RISK_GAPS` gaps, in a segment
    named lost), with their number, share and the day limit. None when few enough.

    Examples
    --------
    >>> scores = {"gaps": 0.5, "gap": 30.0}
    >>> _misfits(np.r_[np.full(60, 10.0), np.full(40, 342.0)], scores)
    {'kind': 'stopped', 'customers': 40, 'share': 0.4, 'days': 120, 'median_days': 342}
    """
    gap = float(scores["gap"])
    if not np.isfinite(gap) or gap <= 0 or not len(recency):
        return None
    if scores["gaps"] < AT_RISK_GAPS:
        kind, days = "stopped", LOST_GAPS * gap
        odd = recency >= days
    elif scores["gaps"] >= LOST_GAPS:
        kind, days = "buying", AT_RISK_GAPS * gap
        odd = recency < days
    else:
        return None
    n = int(odd.sum())
    if n < MISFIT_MIN or n / len(recency) < MISFIT_SHARE:
        return None
    return {
        "kind": kind,
        "customers": n,
        "share": round(n / len(recency), 3),
        "days": round(days),
        "median_days": round(float(np.median(recency[odd]))),
    }


def misfit_facts(misfits: dict[str, Any], size: int | None = None) -> str:
    """What :func:`_misfits` found, in words (the warning's and the report card's).

    Examples
    --------
    >>> misfit_facts({"kind": "stopped", "customers": 40, "share": 0.4, "days": 120,
    ...               "median_days": 342}, 100)
    '40 of its 100 customers (40%) have not bought for 120 days or more (4 typical gaps; median 342 days)'
    """
    n, days = misfits["customers"], misfits["days"]
    of = f"{n:,} of its {size:,} customers" if size is not None else f"{n:,} of its customers"
    if misfits["kind"] == "stopped":
        what = f"have not bought for {days:,} days or more ({LOST_GAPS:g} typical gaps"
    else:
        what = f"bought within the last {days:,} days ({AT_RISK_GAPS:g} typical gaps"
    return f"{of} ({misfits['share']:.0%}) {what}; median {misfits['median_days']:,} days)"


def misfit_warning(name: str, size: int, misfits: dict[str, Any]) -> str:
    """The warning for :func:`_misfits`.

    Examples
    --------
    >>> misfit_warning("Champions", 100, {"kind": "stopped", "customers": 40, "share": 0.4,
    ...                    "days": 120, "median_days": 342})  # doctest: +NORMALIZE_WHITESPACE
    'segment "Champions": 40 of its 100 customers (40%) have not bought for 120 days or more
    (4 typical gaps; median 342 days): its name and action do not fit them; look at them
    apart (segments.csv, days_since_last_purchase >= 120) before acting on the segment.'
    """
    sign = ">=" if misfits["kind"] == "stopped" else "<"
    return (
        f'segment "{name}": {misfit_facts(misfits, size)}: its name and action do not fit '
        f"them; look at them apart (segments.csv, days_since_last_purchase {sign} "
        f"{misfits['days']}) before acting on the segment."
    )


# --------------------------------------------------------------------------------------------
# Customer tables: readable labels and persona words
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnWords:
    """Readable words for a customer-table column, matched on its normalized name.

    ``pattern`` is searched in the column name reduced to lower-case letters and digits;
    ``label`` is how the column reads ("{0}" is the pattern's first group); ``high`` / ``low``
    are the persona words when the segment is high / low on it, as ``(role, words)`` with role
    ``"adj"`` (comes before the noun: "affluent") or ``"noun"`` (who they are: "wine
    lovers"), or None when being high / low does not describe a persona (few customers have
    complained, so "no complaints" says nothing). ``high_action`` / ``low_action`` say what to
    lead with for such a segment; they are empty for income, spend and deal columns, whose
    signal already chooses the strategy of :data:`CUSTOMER_ACTIONS`.
    """

    pattern: str
    label: str
    high: tuple[str, str] | None
    low: tuple[str, str] | None
    high_action: str = ""
    low_action: str = ""


def _adj(words: str) -> tuple[str, str]:
    return ("adj", words)


def _noun(words: str) -> tuple[str, str]:
    return ("noun", words)


_YOUNG = "Reach them on mobile and social channels; trend-led ranges."
_OLD = "Clear, service-led communication; classic ranges and loyalty rewards."
_RESPONDERS = "Put them first in the next campaigns: they answer offers."

#: Column-name patterns -> readable label, persona words (high, low) and what to lead with
#: (high, low); first match wins. Spend per product family reads "<family> lovers", purchase
#: channels "<channel> shoppers". Income, spend and deal columns have no lead: their signal
#: already chooses the strategy of :data:`CUSTOMER_ACTIONS`.
# fmt: off
COLUMN_WORDS: tuple[ColumnWords, ...] = (
    ColumnWords(r"yearbirth|birthyear", "birth year", _adj("young"), _adj("older"), _YOUNG, _OLD),
    ColumnWords(r"^age$|^age[^n]", "age", _adj("older"), _adj("young"), _OLD, _YOUNG),
    ColumnWords(r"income|salary|wealth", "income", _adj("affluent"), _adj("low-income")),
    ColumnWords(r"spendingscore", "spending score", _noun("big spenders"), _noun("cautious spenders")),
    ColumnWords(r"kidhome|kids|child", "young children", _noun("families with kids"), None, "Family packs, children's ranges and school-holiday timing."),
    ColumnWords(r"teenhome|teen", "teenagers", _noun("families with teens"), None, "Bulk and family packs; back-to-school and teen-oriented ranges."),
    ColumnWords(r"^recency$|dayssincelast|lastpurchase", "recency", _adj("lapsed"), _adj("recently active"), "Win them back: a reminder with a personal offer before they forget the shop.", "Strike while they are engaged: follow-up offers within days."),
    ColumnWords(r"webvisits", "web visits", _noun("frequent web visitors"), None, "Convert browsing into buying: abandoned-basket reminders and web-only offers."),
    ColumnWords(r"deals|discount|coupon|promo|voucher", "deal purchases", _noun("deal seekers"), None),
    ColumnWords(r"webpurchases|online", "web purchases", _noun("web shoppers"), None, "Use e-mail and the web shop: personalised recommendations online."),
    ColumnWords(r"catalog", "catalog purchases", _noun("catalog shoppers"), None, "Keep them in the catalogue mailings; feature curated selections."),
    ColumnWords(r"storepurchases|instore", "store purchases", _noun("store shoppers"), None, "In-store events and offers redeemable at the till."),
    ColumnWords(r"acceptedcmp(\d+)", "campaign {0}", _noun("campaign responders"), None, _RESPONDERS),
    ColumnWords(r"^response$", "last campaign", _noun("campaign responders"), None, _RESPONDERS),
    ColumnWords(r"complain", "complaints", _noun("customers who complained"), None, "Service first: follow up on the complaint before any offer."),
    ColumnWords(r"wine", "wine", _noun("wine lovers"), None, "Lead with wine: new vintages, tastings and food pairings."),
    ColumnWords(r"meat", "meat", _noun("meat lovers"), None, "Lead with meat: butcher's selections and barbecue bundles."),
    ColumnWords(r"fish", "fish", _noun("fish lovers"), None, "Lead with fish and seafood: fresh-catch offers and recipes."),
    ColumnWords(r"fruit", "fruit", _noun("fruit lovers"), None, "Lead with fresh produce: seasonal fruit boxes."),
    ColumnWords(r"sweet", "sweets", _noun("sweets lovers"), None, "Lead with treats: sweets and dessert bundles."),
    ColumnWords(r"gold", "gold products", _noun("gold buyers"), None, "Lead with premium and gold products; gift occasions."),
    ColumnWords(r"spend|amount|revenue|sales|monetary", "spend", _noun("big spenders"), _noun("light spenders")),
)
# fmt: on

GENERIC_PREFIXES: tuple[tuple[str, str], ...] = (("mnt ", ""), ("num ", ""), ("n ", ""))
"""Prefixes dropped from a column without an entry in :data:`COLUMN_WORDS` (``Mnt`` =
amount spent, ``Num`` = number of)."""

MAX_NAME_WORDS = 4
"""A persona name has at most this many words: short enough to say in a meeting."""


def _normalize(column: str) -> str:
    return re.sub(r"[^0-9a-z]", "", column.lower())


def _column_words(column: str) -> tuple[ColumnWords | None, re.Match[str] | None]:
    norm = _normalize(column)
    for entry in COLUMN_WORDS:
        match = re.search(entry.pattern, norm)
        if match:
            return entry, match
    return None, None


def readable_label(column: str) -> str:
    """How a column reads in a name or a sentence.

    From :data:`COLUMN_WORDS` when the name matches one of its patterns; otherwise the name
    split at CamelCase and underscores, units in brackets dropped, lower case.

    Examples
    --------
    >>> readable_label("MntWines"), readable_label("AcceptedCmp5"), readable_label("Kidhome")
    ('wine', 'campaign 5', 'young children')
    >>> readable_label("Annual Income (k$)"), readable_label("Spending Score (1-100)")
    ('income', 'spending score')
    >>> readable_label("NumWebPurchases"), readable_label("Tenure_Months (m)")
    ('web purchases', 'tenure months')
    >>> readable_label("Spend (EUR)"), readable_label("spend_pet"), readable_label("Annual spend")
    ('spend', 'spend pet', 'annual spend')
    """
    entry, match = _column_words(column)
    unbracketed = re.sub(r"\(.*?\)|\[.*?\]", "", column)
    # A spend column is "spend" only when that is all its name says: fourteen columns
    # spend_pet, spend_garden, ... all read "spend" in the profiles otherwise.
    if (
        entry is not None
        and match is not None
        and not (entry.label == "spend" and _normalize(unbracketed) != match.group(0))
    ):
        return entry.label.format(*match.groups())
    label = unbracketed
    label = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", label).replace("_", " ")
    label = re.sub(r"\s+", " ", label).strip().lower()
    for prefix, replacement in GENERIC_PREFIXES:
        if label.startswith(prefix):
            label = replacement + label[len(prefix) :]
    return label or column


SPEND_WORDS = frozenset(
    {"spend", "spending", "spent", "amount", "total", "annual", "revenue", "sales"}
)
"""Words of a spend column's name that say it is spend; what is left names what was bought."""


def _spend_family(column: str) -> str | None:
    """What a spend column's name says was bought (``spend_pet`` -> "pet"), if anything.

    Examples
    --------
    >>> _spend_family("spend_pet"), _spend_family("Annual spend"), _spend_family("spend_12m")
    ('pet', None, None)
    """
    entry, _ = _column_words(column)
    if entry is None or entry.label != "spend":
        return None
    words = [w for w in readable_label(column).split() if w not in SPEND_WORDS and w.isalpha()]
    return " ".join(words) or None


def _persona_word(column: str, high: bool) -> tuple[str, str] | None:
    entry, _ = _column_words(column)
    family = _spend_family(column)
    if family is not None:
        # Spend on one product family: "pet buyers" when high; low says nothing by itself.
        return _noun(f"{family} buyers") if high else None
    if entry is not None:
        return entry.high if high else entry.low
    label = readable_label(column)
    level = "high" if high else "low"
    return _adj(f"{level}-{label}" if " " not in label else f"{level} {label}")


def _trait_action(column: str, high: bool) -> str:
    entry, _ = _column_words(column)
    if entry is not None:  # "" when being high / low there calls for nothing in particular
        return entry.high_action if high else entry.low_action
    return f"Build the offer around their {'high' if high else 'low'} {readable_label(column)}."


def attribute_words(column: str) -> tuple[str, str]:
    """Words for a customer attribute being high / low, as a persona name uses them.

    Examples
    --------
    >>> attribute_words("Annual Income (k$)")
    ('affluent', 'low-income')
    >>> attribute_words("MntWines")
    ('wine lovers', 'low wine')
    """
    label = readable_label(column)
    words = []
    for high in (True, False):
        word = _persona_word(column, high)
        words.append(word[1] if word else f"{'high' if high else 'low'} {label}")
    return words[0], words[1]


EFFECT_FOR_NAME = 0.5
"""Smallest effect size (standardized mean difference) worth naming a segment after: a
"medium" effect in Cohen's terms. When no attribute reaches it, the strongest one names it."""

CATEGORY_SHARE_FOR_NAME = 0.5
"""A category level enters a persona name only when most of the segment (over half) has it,
besides being over-represented (effect at least :data:`EFFECT_FOR_NAME`)."""

#: Spend-like and means-like columns drive the customer-table action.
VALUE_PATTERN = r"spend|mnt|amount|purchase|revenue|sales|score|monetary|value|orders|charge"
DEAL_PATTERN = r"deal|discount|coupon|promo|voucher"
CAPACITY_PATTERN = r"income|salary|wealth"

#: Actions for customer-table segments, in priority order: (label, condition on the value
#: signal V, capacity signal C and deal signal D, action). V, C and D are average effect sizes
#: of the segment on spend-like (deal columns excluded), income-like and deal-like columns.
#: The segment's action is this strategy followed by what to lead with for its strongest
#: trait (``high_action`` / ``low_action`` of :data:`COLUMN_WORDS`), so that two segments with
#: the same strategy still get different actions.
CUSTOMER_ACTIONS: tuple[tuple[str, str, Callable[[float, float, float], bool], str], ...] = (
    (
        "deal seekers",
        "D >= 0.5",
        lambda v, c, d: d >= 0.5,
        "Reach them through promotions and bundles timed to their buying cycle; keep full-price "
        "buyers out of these offers.",
    ),
    (
        "premium",
        "V >= 0.5 and C >= 0.3",
        lambda v, c, d: v >= 0.5 and c >= 0.3,
        "VIP treatment: early access to premium ranges, protect them with loyalty perks.",
    ),
    (
        "enthusiasts",
        "V >= 0.5",
        lambda v, c, d: v >= 0.5,
        "Reward loyalty with member pricing and bundles that protect margin.",
    ),
    (
        "untapped",
        "V <= -0.5 and C >= 0.3",
        lambda v, c, d: v <= -0.5 and c >= 0.3,
        "They can afford more: personalised upsell and trials of premium products.",
    ),
    (
        "price-sensitive",
        "V <= -0.5",
        lambda v, c, d: v <= -0.5,
        "Value bundles and discounts through low-cost channels.",
    ),
    (
        "mainstream",
        "otherwise",
        lambda v, c, d: True,
        "Regular newsletters; A/B-test offers to find what moves this group.",
    ),
)
CATCH_ALL = "mainstream"
"""The strategy for a segment no other row of :data:`CUSTOMER_ACTIONS` fits; never given to a
segment that fits a specific one because that one is taken."""
LIGHT_SPENDERS = _noun("light spenders")
"""Persona noun of a segment low on a spend-like column that has no word of its own for
"low" (a product family, a purchase channel): it spends little."""

TAILORED_ACTION = "Tailor messages to what sets them apart; measure the response before scaling up."
"""Strategy for a table without spend-like or deal-like columns (label "tailored")."""

VALUABLE_DEALS_LEAD = (
    "They use discounts: reward them with loyalty pricing rather than deeper discounts."
)
"""Lead of a segment that brings at least :data:`CHAMPION_VALUE` times its share of customers
in spend and is high on deal columns: its strategy is a value one (it is not sent to the
promotions list), and the lead says how to treat its taste for deals."""


def _is_flag(item: dict[str, Any]) -> bool:
    # Levels such as "1", "yes" or "True" mean nothing without their column's name.
    return str(item["level"]).strip().lower() in {"0", "1", "yes", "no", "true", "false", "y", "n"}


def _is_true(level: Any) -> bool:
    return str(level).strip().lower() in {"1", "yes", "true", "y"}


ACRONYMS = frozenset(
    {"sms", "mms", "vip", "b2b", "b2c", "uk", "us", "usa", "eu", "uae", "tv", "pos", "diy"}
)
"""Category levels written in capitals in a name whatever their case in the data ("sms" ->
"SMS customers", not "Sms customers")."""


def _level_word(level: Any) -> str:
    """How a category level reads in a name.

    Examples
    --------
    >>> _level_word("Single"), _level_word("PhD"), _level_word("sms"), _level_word("b2b")
    ('single', 'PhD', 'SMS', 'B2B')
    """
    text = str(level).strip()
    if text.lower() in ACRONYMS:
        return text.upper()
    # Keep acronyms and mixed case ("PhD", "UK"); lower-case ordinary words ("Single").
    return text if any(ch.isupper() for ch in text[1:]) else text.lower()


def _item_word(item: dict[str, Any], light: bool = True) -> tuple[str, str] | None:
    """The persona word of one distinguishing item, or None when it describes no persona
    (nor "light spenders" for a segment known to spend its share or more: ``light`` False)."""
    if item["kind"] == "numeric":
        high = item["effect"] > 0
        word = _persona_word(item["feature"], high)
        if word is None and not high and re.search(VALUE_PATTERN, _normalize(item["feature"])):
            # Low on a product family or a channel: spends little, unless its share of spend
            # says otherwise (low on most families, high on two).
            return LIGHT_SPENDERS if light else None
        if word == LIGHT_SPENDERS and not light:
            return None
        return word
    if item["segment_share"] < CATEGORY_SHARE_FOR_NAME or item["effect"] <= 0:
        return None
    if _is_flag(item):
        return _persona_word(item["feature"], _is_true(item["level"]))
    return _adj(_level_word(item["level"]))


def _item_action(item: dict[str, Any]) -> str:
    if item["kind"] == "numeric":
        return _trait_action(item["feature"], item["effect"] > 0)
    if _is_flag(item):
        return _trait_action(item["feature"], _is_true(item["level"]))
    return f"Speak to them as {_level_word(item['level'])} customers: " + (
        f"{readable_label(item['feature'])} shapes what they buy."
    )


def _compose(adjectives: list[str], noun: str) -> str:
    words = [*adjectives, noun]
    while len(adjectives) > 0 and len(" ".join(words).split()) > MAX_NAME_WORDS:
        adjectives = adjectives[:-1]
        words = [*adjectives, noun]
    name = " ".join(words)
    return name[:1].upper() + name[1:]


def persona_name(items: list[dict[str, Any]], noun: str = "customers") -> str:
    """A short persona name from a segment's distinguishing items (strongest first).

    Up to two adjectives ("affluent", "young") and one noun ("wine lovers", "families with
    teens") from :data:`COLUMN_WORDS`, at most :data:`MAX_NAME_WORDS` words; ``noun`` when no
    item gives one. Only items with an effect of at least :data:`EFFECT_FOR_NAME` count (the
    strongest one when none does).

    Examples
    --------
    >>> persona_name([{"feature": "MntWines", "kind": "numeric", "effect": 1.4},
    ...               {"feature": "Income", "kind": "numeric", "effect": 1.1}], "shoppers")
    'Affluent wine lovers'
    >>> persona_name([{"feature": "Age", "kind": "numeric", "effect": -1.3},
    ...               {"feature": "Annual Income (k$)", "kind": "numeric", "effect": -1.0}],
    ...              "shoppers")
    'Young low-income shoppers'
    """
    return _persona_candidates(items, noun)[0]


def _strong(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in items if abs(d["effect"]) >= EFFECT_FOR_NAME] or items[:1]


def _persona_candidates(items: list[dict[str, Any]], noun: str, light: bool = True) -> list[str]:
    """Persona names for a segment, the preferred one first, then ones that swap in a weaker
    trait (used when an earlier segment already took the preferred one); ``light`` as in
    :func:`_item_word`."""
    strong_ids = {id(d) for d in _strong(items)}
    words: list[tuple[str, str]] = []
    strong: list[tuple[str, str]] = []
    for item in items:
        word = _item_word(item, light)
        if word is None or word in words:
            continue
        words.append(word)
        if id(item) in strong_ids:
            strong.append(word)
    if not words:
        return [_compose([], "typical " + noun)]
    strong = strong or words[:1]
    # The preferred name: the two strongest words that fit together (at most one noun).
    chosen: list[tuple[str, str]] = []
    for word in strong:
        if len(chosen) < 2 and not (word[0] == "noun" and any(r == "noun" for r, _ in chosen)):
            chosen.append(word)
    first_noun = next((w for r, w in chosen if r == "noun"), noun)
    first_adjs = [w for r, w in chosen if r == "adj"]
    candidates = [_compose(first_adjs, first_noun)]
    # Alternatives: each other noun, then each other adjective, in order of strength.
    candidates += [_compose(first_adjs, w) for r, w in words if r == "noun" and w != first_noun]
    candidates += [
        _compose([*first_adjs, w][-2:], first_noun)
        for r, w in words
        if r == "adj" and w not in first_adjs
    ]
    return list(dict.fromkeys(candidates))


def _spends_big(name: str) -> str:
    """A persona name of a segment that brings more than its share of spend, said so when its
    noun is "deal seekers" (which alone reads as bargain hunters).

    Examples
    --------
    >>> _spends_big("Deal seekers"), _spends_big("Young deal seekers")
    ('Big-spending deal seekers', 'Young big-spending deal seekers')
    >>> _spends_big("Affluent big spenders")
    'Affluent big spenders'
    """
    if not name.lower().endswith("deal seekers"):
        return name
    head = name[: -len("deal seekers")]
    return _compose([head.strip().lower()] if head.strip() else [], "big-spending deal seekers")


def _fact(item: dict[str, Any]) -> str:
    if item["kind"] == "numeric":
        return (
            f"{item['feature']}: median {_fmt(item['segment_median'])} vs "
            f"{_fmt(item['overall_median'])} overall"
        )
    return (
        f"{item['feature']}: {item['segment_share']:.0%} {item['level']} vs "
        f"{item['overall_share']:.0%} overall"
    )


def describe_segment(items: list[dict[str, Any]], n: int = 3) -> str:
    """A one-line description of a segment from its most distinguishing features.

    Examples
    --------
    >>> describe_segment([{"feature": "Income", "kind": "numeric", "effect": 1.2,
    ...                    "segment_median": 79000.0, "overall_median": 51000.0}])
    'Higher income (median 79,000 vs 51,000 overall).'
    """
    parts = []
    for item in items[:n]:
        if item["kind"] == "numeric":
            parts.append(
                f"{'higher' if item['effect'] > 0 else 'lower'} {readable_label(item['feature'])}"
                f" (median {_fmt(item['segment_median'])} vs {_fmt(item['overall_median'])} "
                "overall)"
            )
        else:
            parts.append(
                f"{item['segment_share']:.0%} {item['feature']} = {item['level']} "
                f"({item['overall_share']:.0%} overall)"
            )
    if not parts:
        return "Close to the average customer on every feature."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def name_customer_segments(
    distinguishing: dict[int, list[dict[str, Any]]],
    numeric: list[str],
    value_shares: dict[int, tuple[float, float]] | None = None,
) -> list[dict[str, Any]]:
    """Name customer-table segments with a short persona and a distinct action.

    The name is :func:`persona_name` of the segment's distinguishing items; a name already
    taken by an earlier segment is replaced by one that swaps in a weaker trait, then
    qualified with the segment number. The action is the strategy of the first matching row
    of :data:`CUSTOMER_ACTIONS` that no segment with a stronger value signal took (the first
    matching specific one when all are taken: never the catch-all), followed by what to lead
    with for the segment's strongest trait that no earlier segment with the same strategy led
    with.

    ``value_shares`` (segment -> share of customers, share of spend) checks the names and
    strategies against where the spend sits: a few customers with most of it are "Top
    customers" (:data:`TOP_VALUE_RATIO`), and a segment bringing :data:`CHAMPION_VALUE` times
    its share in spend is not sent to the promotions list because it also uses discounts (its
    name says it spends big: "Big-spending deal seekers").

    Examples
    --------
    >>> distinct = {
    ...     0: [{"feature": "MntWines", "kind": "numeric", "effect": 1.5,
    ...          "segment_median": 800.0, "overall_median": 170.0},
    ...         {"feature": "Income", "kind": "numeric", "effect": 1.2,
    ...          "segment_median": 75000.0, "overall_median": 51000.0}],
    ...     1: [{"feature": "Teenhome", "kind": "numeric", "effect": 1.1,
    ...          "segment_median": 1.0, "overall_median": 0.0}]}
    >>> [e["segment_name"] for e in name_customer_segments(distinct, ["MntWines", "Income",
    ...                                                              "Teenhome"])]
    ['Affluent wine lovers', 'Families with teens']
    """
    used: set[str] = set()
    used_actions: set[str] = set()
    used_leads: set[str] = set()

    def matching(pattern: str) -> list[str]:
        return [c for c in numeric if re.search(pattern, _normalize(c))]

    deal_cols = matching(DEAL_PATTERN)
    value_cols = [c for c in matching(VALUE_PATTERN) if c not in deal_cols]
    capacity_cols = matching(CAPACITY_PATTERN)
    noun = "shoppers" if value_cols or deal_cols else "customers"

    def signal(items: list[dict[str, Any]], cols: list[str]) -> float:
        effects = {d["feature"]: d["effect"] for d in items if d["kind"] == "numeric"}
        return float(np.mean([effects.get(c, 0.0) for c in cols])) if cols else 0.0

    signals = {
        seg: (
            signal(items, value_cols),
            signal(items, capacity_cols),
            signal(items, deal_cols),
        )
        for seg, items in distinguishing.items()
    }
    shares = value_shares or {}
    ratio = {seg: spend / share if share > 0 else 0.0 for seg, (share, spend) in shares.items()}
    top = {seg for seg, (share, _) in shares.items() if is_top(share, ratio[seg])}
    valuable = {seg for seg, r in ratio.items() if r >= CHAMPION_VALUE}
    # One segment per strategy where the signals allow it: the segment with the strongest
    # value signal takes the first strategy it matches, the next ones the first matching
    # strategy not taken yet (two "VIP treatment" segments would tell the marketer nothing).
    strategies: dict[int, tuple[str, str, str]] = {}
    taken: set[str] = set()
    for seg in sorted(signals, key=lambda s_: (-signals[s_][0], s_)):
        v, c, deal = signals[seg]
        if seg in valuable:
            # Its share of spend says it is worth more than most, whatever its columns' effects.
            v = max(v, 0.5)
        if seg in top:
            cond = f"spend {ratio[seg]:.1f}x its share of customers"
            strategies[seg] = ("top customers", cond, TOP_ACTION)
            continue
        if not (value_cols or deal_cols):
            strategies[seg] = ("tailored", "no spend-like columns", TAILORED_ACTION)
            continue
        matching_ = [
            a
            for a in CUSTOMER_ACTIONS
            if a[2](v, c, deal) and not (a[0] == "deal seekers" and seg in valuable)
        ]
        specific = [a for a in matching_ if a[0] != CATCH_ALL] or matching_
        label, cond, _, strategy = next((a for a in specific if a[0] not in taken), specific[0])
        taken.add(label)
        strategies[seg] = (label, cond, strategy)
    out = []
    for seg, items in sorted(distinguishing.items()):
        strong = _strong(items)
        candidates = _persona_candidates(items, noun, light=ratio.get(seg, 0.0) < 1.0)
        if seg in valuable:
            candidates = [_spends_big(c) for c in candidates]
        if seg in top:
            candidates = [TOP_NAME, *(f"{TOP_NAME} ({c[:1].lower()}{c[1:]})" for c in candidates)]
        name = next((c for c in candidates if c not in used), None)
        if name is None:
            name = f"{candidates[0]} (segment {seg})"
        used.add(name)
        v, c, deal = signals[seg]
        label, cond, strategy = strategies[seg]
        # The strategy alone when nothing strong calls for a lead and no earlier segment has
        # it; otherwise the first lead (strong traits first) that makes the action new.
        leads = [a for a in dict.fromkeys(_item_action(d) for d in strong) if a]
        weak_leads = [a for a in dict.fromkeys(_item_action(d) for d in items) if a]
        # A lead no other segment has first: two segments told the same lead read alike.
        leads = [a for a in leads if a not in used_leads] + [a for a in leads if a in used_leads]
        if seg in valuable and deal >= 0.5 and seg not in top:
            leads.insert(0, VALUABLE_DEALS_LEAD)
        options = [f"{strategy} {lead}" for lead in leads]
        if not leads:
            options.append(strategy)
        options += [f"{strategy} {lead}" for lead in weak_leads]
        action = next(
            (a for a in options if a not in used_actions),
            f"{strategy} Start from what sets them apart: {describe_segment(strong)}",
        )
        used_actions.add(action)
        used_leads.update(lead for lead in leads + weak_leads if action.endswith(lead))
        facts = "; ".join(_fact(d) for d in strong[:3])
        out.append(
            {
                "segment": int(seg),
                "segment_name": name,
                "description": describe_segment(strong),
                "action": action,
                "rule": f"{label} ({cond}; V={v:+.2f}, C={c:+.2f}, D={deal:+.2f})",
                "scores": {},
                "facts": facts,
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Noise (segment -1 of DBSCAN and HDBSCAN)
# --------------------------------------------------------------------------------------------

NOISE_NAME = "Noise"
"""Name of segment -1 when nothing sets it clearly apart: customers a density method
(DBSCAN, HDBSCAN) placed in no segment."""
NOISE_ACTION = (
    "No segment fits them: review these customers one by one (unusual behaviour, data errors "
    "or niches too small to be a segment) before including them in a campaign."
)
LARGE_ACCOUNTS_VALUE = 2.0
"""Noise whose share of revenue is at least twice its share of customers (``V``) is named
"Outliers: very large accounts": they are not odd data but the accounts worth most, and a
density method leaves them out only because so few customers spend like them."""
LARGE_ACCOUNTS_NAME = "Outliers: very large accounts"
LARGE_ACCOUNTS_ACTION = (
    "Manage them as key accounts: a named contact, personal offers and volume terms; watch "
    "each account's orders and call when one slows down. Check the largest for data errors "
    "(test or wholesale accounts) first."
)
NOISE_EFFECT_FOR_NAME = 0.8
"""Noise is named after its strongest trait ("Outliers: many returns", "Outliers: affluent")
when that trait has at least a "large" effect (Cohen's 0.8): noise is scattered by nature, so
a medium difference from the others would name it after chance."""


def noise_entry(
    n_customers: int,
    distinguishing: list[dict[str, Any]],
    *,
    features: pd.DataFrame | None = None,
    labels: np.ndarray | None = None,
    revenue_col: str | None = "revenue",
) -> dict[str, Any]:
    """The naming record of the noise group (segment -1), with what sets it apart.

    Parameters
    ----------
    n_customers : int
        Customers in the noise group.
    distinguishing : list of dict
        Its items of :func:`custseg.profile.profiles.distinguishing_features`.
    features : pandas.DataFrame, optional
        Every customer's features (the table the segments were found on).
    labels : numpy.ndarray, optional
        Every customer's segment, -1 for noise (same order as ``features``).
    revenue_col : str or None
        Column of ``features`` with each customer's revenue; with ``features`` and ``labels``
        it gives the noise's share of revenue (``V`` = revenue share / customer share), and
        noise with ``V >= LARGE_ACCOUNTS_VALUE`` is "Outliers: very large accounts".

    Otherwise the noise is "Outliers: <its strongest trait>" when that trait's effect is at
    least :data:`NOISE_EFFECT_FOR_NAME`, else :data:`NOISE_NAME`.

    Examples
    --------
    >>> f = pd.DataFrame({"revenue": [10.0, 12.0, 11.0, 9.0, 500.0]})
    >>> noise_entry(1, [], features=f, labels=np.array([0, 0, 0, 0, -1]))["segment_name"]
    'Outliers: very large accounts'
    >>> noise_entry(1, [])["segment_name"]
    'Noise'
    """
    facts = "; ".join(_fact(d) for d in distinguishing[:3])
    description = describe_segment(distinguishing)
    name, action = NOISE_NAME, NOISE_ACTION
    rule = f"left in no segment by the density method ({n_customers:,} customers)"
    value = None
    if (
        features is not None
        and labels is not None
        and revenue_col is not None
        and revenue_col in features
    ):
        revenue = features[revenue_col].to_numpy(dtype=float)
        noise = np.asarray(labels) < 0
        if noise.any() and revenue.sum() > 0:
            value = float(revenue[noise].sum() / revenue.sum() / noise.mean())
            facts = f"{noise.mean():.1%} of customers, {value:.2f}x their share of revenue" + (
                f"; {facts}" if facts else ""
            )
    strongest = next((d for d in distinguishing if abs(d["effect"]) >= NOISE_EFFECT_FOR_NAME), None)
    if value is not None and value >= LARGE_ACCOUNTS_VALUE:
        name, action = LARGE_ACCOUNTS_NAME, LARGE_ACCOUNTS_ACTION
        rule += f"; V >= {LARGE_ACCOUNTS_VALUE:g} (V={value:.2f})"
    elif strongest is not None:
        high = strongest["effect"] > 0
        if strongest["feature"] in FEATURE_WORDS:
            word = FEATURE_WORDS[strongest["feature"]][0 if high else 1]
        elif strongest["kind"] == "numeric":
            word = attribute_words(strongest["feature"])[0 if high else 1]
        else:
            word = f"mostly {strongest['level']}"
        name = f"Outliers: {word}"
        lead = _item_action(strongest) if strongest["feature"] not in FEATURE_WORDS else ""
        action = (
            "In no segment, but they share one clear trait: check a few for data errors, then "
            "treat them as a niche. "
            + (lead or f"Build the offer around what sets them apart ({word}).")
        )
        rule += f"; strongest trait {strongest['feature']} (effect {strongest['effect']:+.2f})"
    return {
        "segment": -1,
        "segment_name": name,
        "description": "In no segment; " + description[0].lower() + description[1:],
        "action": action,
        "rule": rule,
        "scores": {} if value is None else {"V": round(value, 3)},
        "facts": facts,
    }
