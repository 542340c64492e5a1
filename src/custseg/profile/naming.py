"""Segment names and recommended actions, from visible rule tables.

Transactions are named in RFM vocabulary. Each segment's median recency, frequency and
monetary value is scored 1-5 by where it falls among all customers (5 = most recent, most
frequent, highest spend), and the first rule of :data:`RFM_NAMING_RULES` that matches and whose
name is still free names it. Customer tables are named after their most distinguishing
attributes (:data:`ATTRIBUTE_WORDS`), with an action from :data:`CUSTOMER_ACTIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

RETURNS_FOR_NAME = 0.2
"""A segment whose median customer returns at least this share of the items they bought is
named for it ("returns" in the rules): that behaviour matters more to a campaign than how
recently they bought."""


@dataclass(frozen=True)
class NamingRule:
    """A name, when it applies (on R, F, M scores 1-5 and T, the tenure score), and the action."""

    name: str
    condition: str
    test: Callable[[dict[str, float]], bool]
    action: str


#: The RFM naming rules, in priority order. R = recency score (5 = bought most recently),
#: F = frequency score, M = monetary score, T = tenure score (1 = joined most recently),
#: V = the segment's share of revenue / its share of customers (1 = it spends like the
#: average customer; a skewed segment can have a high median and still bring less than its
#: share, and is then no "big spender"), ``orders`` = the segment's median number of orders,
#: ``returns`` = its median return rate (0 without that feature).
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
        "R >= 4 and F >= 4 and M >= 4",
        lambda s: s["R"] >= 4 and s["F"] >= 4 and s["M"] >= 4,
        "Reward them: early access, loyalty perks; ask for reviews and referrals.",
    ),
    NamingRule(
        "Loyal customers",
        "R >= 3 and F >= 4",
        lambda s: s["R"] >= 3 and s["F"] >= 4,
        "Upsell higher-value ranges and enrol them in the loyalty programme.",
    ),
    NamingRule(
        "Big spenders",
        "R >= 3 and M >= 4 and V >= 1",
        lambda s: s["R"] >= 3 and s["M"] >= 4 and s["V"] >= 1,
        "Offer premium lines, bundles and personal service.",
    ),
    NamingRule(
        "New customers",
        "R >= 3 and T <= 2 and orders <= 2",
        lambda s: s["R"] >= 3 and s["T"] <= 2 and s["orders"] <= 2,
        "Onboard them: welcome series and an incentive for the second purchase.",
    ),
    NamingRule(
        "Promising",
        "R >= 4 and F <= 3",
        lambda s: s["R"] >= 4 and s["F"] <= 3,
        "Build the habit: recommendations and a time-limited offer.",
    ),
    NamingRule(
        "Need attention",
        "R = 3 and F >= 3",
        lambda s: s["R"] == 3 and s["F"] >= 3,
        "Reactivate with personalised recommendations before they slip away.",
    ),
    NamingRule(
        "About to sleep",
        "R = 3 and F <= 2",
        lambda s: s["R"] == 3 and s["F"] <= 2,
        "Share bestsellers and a limited-time discount to bring them back.",
    ),
    NamingRule(
        "Can't lose them",
        "R <= 2 and F >= 4 and M >= 4",
        lambda s: s["R"] <= 2 and s["F"] >= 4 and s["M"] >= 4,
        "Win them back personally: call or write, strong offer, ask what went wrong.",
    ),
    NamingRule(
        "At risk",
        "R <= 2 and F >= 3",
        lambda s: s["R"] <= 2 and s["F"] >= 3,
        "Win-back campaign with personalised offers and a short survey.",
    ),
    NamingRule(
        "Lost one-time buyers",
        "R <= 2 and orders = 1",
        lambda s: s["R"] <= 2 and s["orders"] <= 1,
        "Cheap reactivation test; otherwise leave them out of paid campaigns.",
    ),
    NamingRule(
        "Hibernating",
        "R <= 2",
        lambda s: s["R"] <= 2,
        "Low-cost reminders and seasonal offers; do not overspend on them.",
    ),
    NamingRule(
        "Regular customers",
        "any",
        lambda s: True,
        "Keep them engaged with newsletters; test offers to learn what moves them.",
    ),
)

#: Words for a transactions feature that is high / low in a segment (used to tell apart
#: segments that the rules give the same name).
FEATURE_WORDS: dict[str, tuple[str, str]] = {
    "days_since_last_purchase": ("long lapsed", "recent"),
    "n_orders": ("frequent", "infrequent"),
    "revenue": ("high spend", "low spend"),
    "mean_order_value": ("big baskets", "small baskets"),
    "days_since_first_purchase": ("long-standing", "recently joined"),
    "n_products": ("wide range", "narrow range"),
    "return_rate": ("many returns", "few returns"),
}

#: Words for customer-table attributes, matched on the normalized column name (letters and
#: digits only, lower case): pattern -> (word when high, word when low). The first match wins;
#: other columns read "high <name>" / "low <name>".
ATTRIBUTE_WORDS: tuple[tuple[str, tuple[str, str]], ...] = (
    (r"yearbirth|birthyear", ("younger", "older")),
    (r"^age$|^age[^n]", ("older", "younger")),
    (r"income|salary", ("high income", "low income")),
    (r"spendingscore", ("high spending score", "low spending score")),
    (r"kid|child", ("more children at home", "fewer children at home")),
    (r"teen", ("more teenagers at home", "fewer teenagers at home")),
    (r"^recency$", ("lapsed", "recently active")),
    (r"webvisits", ("frequent web visitors", "rare web visitors")),
    (r"deals", ("deal seekers", "few deals")),
    (r"complain", ("complained", "no complaints")),
    (r"response|acceptedcmp", ("campaign responders", "campaign non-responders")),
)
EFFECT_FOR_NAME = 0.5
"""Smallest effect size (standardized mean difference) worth naming a segment after: a
"medium" effect in Cohen's terms. When no attribute reaches it, the strongest one names it."""

#: Spend-like and means-like columns drive the customer-table action.
VALUE_PATTERN = r"spend|mnt|amount|purchase|revenue|sales|score|monetary|value|orders"
DEAL_PATTERN = r"deal|discount|coupon|promo|voucher"
CAPACITY_PATTERN = r"income|salary|wealth"

#: Actions for customer-table segments, in priority order: (label, condition on the value
#: signal V, capacity signal C and deal signal D, action). V, C and D are average effect sizes
#: of the segment on spend-like (deal columns excluded), income-like and deal-like columns.
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


def _score(value: float, population: np.ndarray, higher_is_better: bool = True) -> int:
    """Score 1-5 by the mid-rank percentile of ``value`` in ``population``."""
    pct = float(np.mean(population < value) + 0.5 * np.mean(population == value))
    if not higher_is_better:
        pct = 1.0 - pct
    return int(np.clip(1 + np.floor(5 * pct), 1, 5))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _unique(base: str, qualifiers: list[str], used: set[str], seg: int) -> str:
    if base not in used:
        return base
    for q in qualifiers:
        candidate = f"{base}, {q}"
        if candidate not in used:
            return candidate
    return f"{base} (segment {seg})"


def name_rfm_segments(
    features: pd.DataFrame, labels: np.ndarray, distinguishing: dict[int, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Name transaction segments in RFM vocabulary.

    Scores compare each segment with every customer, noise (label -1) included; noise itself
    gets no RFM name. Returns one dict per segment (in label order) with ``segment``, ``segment_name``,
    ``action``, ``rule`` (the condition that matched), ``scores`` and ``facts`` (the profile
    numbers that justify the name).
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
    used: set[str] = set()
    out = []
    for seg in sorted(np.unique(labels)):
        if seg < 0:  # noise: named separately (noise_entry); still part of the population
            continue
        inside = labels == seg
        med = {
            "recency": float(np.median(rec[inside])),
            "orders": float(np.median(freq[inside])),
            "revenue": float(np.median(mon[inside])),
            "tenure": float(np.median(ten[inside])),
        }
        scores = {
            "R": _score(med["recency"], rec, higher_is_better=False),
            "F": _score(med["orders"], freq),
            "M": _score(med["revenue"], mon),
            "T": _score(med["tenure"], ten),
            "V": round(float(mon[inside].mean() / mon.mean()), 3) if mon.mean() > 0 else 0.0,
            "orders": med["orders"],
            "returns": float(np.median(returns[inside])),
        }
        matching = [r for r in RFM_NAMING_RULES if r.test(scores)]
        rule = next((r for r in matching if r.name not in used), matching[0])
        qualifiers = [
            FEATURE_WORDS[d["feature"]][0 if d["effect"] > 0 else 1]
            for d in distinguishing.get(int(seg), [])
            if d["feature"] in FEATURE_WORDS
        ]
        name = _unique(rule.name, qualifiers, used, int(seg))
        used.add(name)
        facts = (
            f"median {_fmt(med['recency'])} days since last purchase (all: {_fmt(float(np.median(rec)))}), "
            f"{_fmt(med['orders'])} orders (all: {_fmt(float(np.median(freq)))}), "
            f"revenue {_fmt(med['revenue'])} (all: {_fmt(float(np.median(mon)))}); "
            f"scores R{scores['R']} F{scores['F']} M{scores['M']}"
        )
        description = (
            f"Typically {_fmt(med['orders'])} order{'s' if med['orders'] != 1 else ''}, "
            f"the last {_fmt(med['recency'])} days ago, {_fmt(med['revenue'])} spent in all"
            f" (all customers: {_fmt(float(np.median(freq)))}, "
            f"{_fmt(float(np.median(rec)))} days, {_fmt(float(np.median(mon)))})."
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
            }
        )
    return out


def attribute_words(column: str) -> tuple[str, str]:
    """Words for a customer attribute being high / low.

    Examples
    --------
    >>> attribute_words("Annual Income (k$)")
    ('high income', 'low income')
    >>> attribute_words("MntWines")
    ('high spend on wines', 'low spend on wines')
    """
    norm = re.sub(r"[^0-9a-z]", "", column.lower())
    for pattern, words in ATTRIBUTE_WORDS:
        if re.search(pattern, norm):
            return words
    label = re.sub(r"\(.*?\)", "", column)
    label = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label).replace("_", " ")
    label = re.sub(r"\s+", " ", label).strip().lower()
    label = re.sub(r"^mnt ", "spend on ", label)
    label = re.sub(r"^num ", "number of ", label)
    return f"high {label}", f"low {label}"


ALL_SHARE = 0.95
"""A category held by at least this share of a segment is named without "mostly"."""


def _describe(item: dict[str, Any]) -> str:
    if item["kind"] == "categorical":
        if item["segment_share"] >= ALL_SHARE:
            return f"{item['feature']} {item['level']}" if _is_flag(item) else str(item["level"])
        return f"mostly {item['level']}"
    high, low = attribute_words(item["feature"])
    return high if item["effect"] > 0 else low


def _is_flag(item: dict[str, Any]) -> bool:
    # Levels such as "1", "yes" or "True" mean nothing without their column's name.
    return str(item["level"]).strip().lower() in {"0", "1", "yes", "no", "true", "false", "y", "n"}


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
    'Higher Income (median 79,000 vs 51,000 overall).'
    """
    parts = []
    for item in items[:n]:
        if item["kind"] == "numeric":
            parts.append(
                f"{'higher' if item['effect'] > 0 else 'lower'} {item['feature']} (median "
                f"{_fmt(item['segment_median'])} vs {_fmt(item['overall_median'])} overall)"
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
    distinguishing: dict[int, list[dict[str, Any]]], numeric: list[str]
) -> list[dict[str, Any]]:
    """Name customer-table segments after their two most distinguishing attributes."""
    used: set[str] = set()

    def matching(pattern: str) -> list[str]:
        return [c for c in numeric if re.search(pattern, re.sub(r"[^0-9a-z]", "", c.lower()))]

    deal_cols = matching(DEAL_PATTERN)
    value_cols = [c for c in matching(VALUE_PATTERN) if c not in deal_cols]
    capacity_cols = matching(CAPACITY_PATTERN)
    out = []
    for seg, items in sorted(distinguishing.items()):
        strong = [d for d in items if abs(d["effect"]) >= EFFECT_FOR_NAME] or items[:1]
        words = []
        for d in strong:
            w = _describe(d)
            if w not in words:
                words.append(w)
        name = ", ".join(words[:2]) if words else "Typical customers"
        name = name[:1].upper() + name[1:]
        name = _unique(name, words[2:], used, seg)
        used.add(name)
        effects = {d["feature"]: d["effect"] for d in items if d["kind"] == "numeric"}
        v = float(np.mean([effects.get(c, 0.0) for c in value_cols])) if value_cols else 0.0
        c = float(np.mean([effects.get(c, 0.0) for c in capacity_cols])) if capacity_cols else 0.0
        deal = float(np.mean([effects.get(c, 0.0) for c in deal_cols])) if deal_cols else 0.0
        if value_cols or deal_cols:
            label, cond, _, action = next(a for a in CUSTOMER_ACTIONS if a[2](v, c, deal))
        else:
            label, cond = "tailored", "no spend-like columns"
            action = (
                "Tailor messages to what sets them apart; measure the response before scaling up."
            )
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


NOISE_NAME = "Noise"
"""Name of segment -1: customers a density method (DBSCAN, HDBSCAN) placed in no segment."""
NOISE_ACTION = (
    "No segment fits them: review these customers one by one (unusual behaviour, data errors "
    "or niches too small to be a segment) before including them in a campaign."
)


def noise_entry(n_customers: int, distinguishing: list[dict[str, Any]]) -> dict[str, Any]:
    """The naming record of the noise group (segment -1), with what sets it apart."""
    facts = "; ".join(_fact(d) for d in distinguishing[:3])
    description = describe_segment(distinguishing)
    return {
        "segment": -1,
        "segment_name": NOISE_NAME,
        "description": "In no segment; " + description[0].lower() + description[1:],
        "action": NOISE_ACTION,
        "rule": f"left in no segment by the density method ({n_customers:,} customers)",
        "scores": {},
        "facts": facts,
    }
