"""Segment names match the numbers: RFM rules on ranks and absolute measures, persona names
for customer tables, and the noise group."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from custseg.profile.naming import (
    AT_RISK_GAPS,
    CHAMPION_MAX_SHARE,
    LARGE_ACCOUNTS_ACTION,
    LARGE_ACCOUNTS_NAME,
    LOST_GAPS,
    NOISE_ACTION,
    NOISE_NAME,
    RFM_NAMING_RULES,
    attribute_words,
    inter_purchase_days,
    matching_rules,
    name_customer_segments,
    name_rfm_segments,
    noise_entry,
    persona_name,
    readable_label,
    rfm_scores,
    typical_gap,
)

# ---------------------------------------------------------------------------------------------
# RFM: the rule table, one row per rule and per absolute guard
# ---------------------------------------------------------------------------------------------

#: A middling segment: 2 orders, 1.5 typical gaps since the last one ("Need attention").
BASE: dict[str, float] = {
    "R": 3,
    "F": 3,
    "M": 3,
    "T": 3,
    "V": 1.0,
    "orders": 2.0,
    "returns": 0.0,
    "share": 0.2,
    "gaps": 1.5,
    "gaps_shop": 1.5,
    "tenure_gaps": 5.0,
    "orders_x": 1.0,
    "spend_x": 1.0,
}
#: The best customers: recent, frequent, spending far more than their share, a fifth of all.
TOP: dict[str, float] = {
    **BASE,
    "R": 5,
    "F": 5,
    "M": 5,
    "V": 3.0,
    "orders": 8.0,
    "orders_x": 4.0,
    "spend_x": 4.0,
    "gaps": 0.5,
    "gaps_shop": 0.3,
}

RULE_TABLE: list[tuple[str, dict[str, float], str]] = [
    ("returns a fifth or more", {"returns": 0.3}, "Frequent returners"),
    ("best on every measure", TOP, "Champions"),
    ("top ranks but 40% of customers", {**TOP, "share": 0.4}, "Loyal customers"),
    ("top ranks, exactly a third", {**TOP, "share": CHAMPION_MAX_SHARE}, "Loyal customers"),
    ("top ranks but only 3 orders", {**TOP, "orders": 3.0, "orders_x": 1.5}, "Loyal customers"),
    ("top ranks, not twice the median orders", {**TOP, "orders_x": 1.5}, "Loyal customers"),
    ("top ranks, beyond the shop's gap", {**TOP, "gaps_shop": 1.5}, "Loyal customers"),
    ("top ranks, revenue only its share", {**TOP, "V": 1.2}, "Loyal customers"),
    (
        "3% of accounts with 80% of revenue, billed monthly like the rest",
        {**TOP, "orders_x": 1.0, "V": 26.8, "share": 0.03},
        "Top customers",
    ),
    (
        "5x their share but 15% of customers",
        {**TOP, "orders_x": 1.0, "V": 5.0, "share": 0.15},
        "Loyal customers",
    ),
    ("frequent, 3 orders, not overdue", {"F": 4, "orders": 3.0}, "Loyal customers"),
    (
        "high spend, at least twice the median",
        {"M": 5, "V": 2.0, "spend_x": 3.0, "gaps": 0.8},
        "Big spenders",
    ),
    ("M5 but spend 1.5x the median", {"M": 5, "V": 2.0, "spend_x": 1.5, "gaps": 0.8}, "Promising"),
    (
        "one order, recent, joined recently",
        {"orders": 1.0, "gaps": 0.5, "gaps_shop": 0.5, "tenure_gaps": 0.5},
        "New customers",
    ),
    ("2 orders, recent, long-standing", {"gaps": 0.8, "tenure_gaps": 5.0}, "Promising"),
    ("3 orders, within their gap", {"orders": 3.0, "gaps": 0.8}, "Regular customers"),
    (
        "one order within the shop's gap, long-standing: never 'Regular'",
        {"orders": 1.0, "gaps": 0.8, "tenure_gaps": 5.0},
        "Promising",
    ),
    ("2 orders, 1.5 gaps", {}, "Need attention"),
    (
        "one order, 1.5 shop gaps, long-standing",
        {"orders": 1.0, "gaps": 1.5, "gaps_shop": 1.5, "tenure_gaps": 5.0},
        "About to sleep",
    ),
    (
        "joined a gap ago, 2 orders 14 days apart: 2.3 of their own gaps silent",
        {"orders": 2.0, "gaps": 2.29, "gaps_shop": 1.13, "tenure_gaps": 1.0},
        "New customers",
    ),
    ("regulars at exactly 2 gaps", {"orders": 3.0, "gaps": AT_RISK_GAPS}, "At risk"),
    ("regulars at 3 gaps", {"orders": 3.0, "gaps": 3.0}, "At risk"),
    ("former champions at 3 gaps", {**TOP, "gaps": 3.0, "gaps_shop": 2.0}, "Can't lose them"),
    (
        "former top ranks at 3 gaps, 40% of customers",
        {**TOP, "gaps": 3.0, "share": 0.4},
        "At risk",
    ),
    ("one order, 3 shop gaps", {"orders": 1.0, "gaps": 3.0}, "Hibernating"),
    ("one order, 4 shop gaps", {"orders": 1.0, "gaps": LOST_GAPS}, "Lost one-time buyers"),
    ("one order, 6 shop gaps", {"orders": 1.0, "gaps": 6.0, "R": 1}, "Lost one-time buyers"),
    ("regulars at 6 gaps", {"orders": 5.0, "gaps": 6.0}, "Lost customers"),
]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [({**BASE, **change}, name) for _, change, name in RULE_TABLE],
    ids=[case for case, _, _ in RULE_TABLE],
)
def test_rule_table(scores: dict[str, float], expected: str) -> None:
    assert matching_rules(scores)[0].name == expected


def test_every_rule_is_in_the_table() -> None:
    assert {r.name for r in RFM_NAMING_RULES} == {name for _, _, name in RULE_TABLE}
    assert len({r.condition for r in RFM_NAMING_RULES}) == len(RFM_NAMING_RULES)


# ---------------------------------------------------------------------------------------------
# RFM: measures from features, and whole segmentations
# ---------------------------------------------------------------------------------------------


def population(*groups: tuple[int, float, float, float, float]) -> tuple[pd.DataFrame, Any]:
    """Customers from (n, days since last purchase, orders, revenue, days since first
    purchase) groups, all alike inside a group (so each median is the group's value); the
    label of each customer is its group's number."""
    rows = [(rec, orders, rev, ten) for n, rec, orders, rev, ten in groups for _ in range(n)]
    features = pd.DataFrame(
        rows,
        columns=["days_since_last_purchase", "n_orders", "revenue", "days_since_first_purchase"],
    )
    labels = np.repeat(np.arange(len(groups)), [g[0] for g in groups])
    return features, labels


def names(features: pd.DataFrame, labels: Any) -> list[str]:
    return [e["segment_name"] for e in name_rfm_segments(features, labels, {})]


def test_inter_purchase_time_and_typical_gap() -> None:
    features, _ = population((3, 10, 4, 100.0, 100), (2, 50, 1, 10.0, 50), (1, 20, 2, 10.0, 40))
    assert np.array_equal(
        inter_purchase_days(features), [30, 30, 30, np.nan, np.nan, 20], equal_nan=True
    )
    assert typical_gap(inter_purchase_days(features)) == 90.0  # 4 repeat customers: too few
    assert typical_gap(np.array([30.0, 30.0, 30.0, 20.0, 40.0])) == 30.0
    assert typical_gap(np.array([1.0, 2.0, 3.0, 2.0, 2.0])) == 7.0  # floor: a week


def test_scores_of_a_segment() -> None:
    # 20 regulars: 5 orders in 280 days, last 40 days ago -> a gap of 60 days; 80 one-timers.
    features, labels = population((20, 40, 5, 1000.0, 280), (80, 100, 1, 50.0, 100))
    s = rfm_scores(features, labels == 0)
    assert (s["gap"], s["shop_gap"], s["gaps"], s["gaps_shop"]) == (60.0, 60.0, 0.67, 0.67)
    assert (s["orders"], s["orders_x"], s["spend_x"], s["share"]) == (5.0, 5.0, 20.0, 0.2)
    assert s["V"] == pytest.approx(1000 / ((20 * 1000 + 80 * 50) / 100), abs=1e-3)
    assert (s["R"], s["F"], s["M"]) == (5, 5, 5)
    one = rfm_scores(features, labels == 1)
    assert (one["gap"], one["gaps"], one["tenure_gaps"]) == (60.0, 1.67, 1.67)


def test_champions_must_be_a_minority() -> None:
    # The same best customers: a fifth of the base are Champions, two fifths are not.
    best = (20, 5, 10, 2000.0, 300)
    assert names(*population(best, (80, 200, 1, 50.0, 200)))[0] == "Champions"
    many = (40, 5, 10, 2000.0, 300)
    assert names(*population(many, (60, 200, 1, 50.0, 200)))[0] == "Loyal customers"


def test_mostly_one_time_buyers_long_ago_are_not_champions() -> None:
    # CDNOW-like: a large segment ranks on top because most customers bought once, but its
    # median customer bought 3 times and last 280 days ago, three times their usual gap.
    lapsed = (43, 280, 3, 80.0, 460)
    named = name_rfm_segments(
        *population(lapsed, (50, 500, 1, 27.0, 500), (7, 150, 9, 400.0, 500)), {}
    )
    assert named[0]["scores"]["gaps"] == 3.11 and named[0]["scores"]["R"] >= 4
    assert [e["segment_name"] for e in named] == [
        "At risk",
        "Lost one-time buyers",
        "Can't lose them",
    ]


def test_recent_one_time_buyers_are_new_not_lost() -> None:
    regulars = (50, 20, 6, 600.0, 270)  # a gap of 50 days
    assert names(*population(regulars, (50, 30, 1, 40.0, 30)))[1] == "New customers"
    assert names(*population(regulars, (50, 150, 1, 40.0, 150)))[1] == "Hibernating"
    assert names(*population(regulars, (50, 300, 1, 40.0, 300)))[1] == "Lost one-time buyers"


def test_regulars_are_measured_against_their_own_gap() -> None:
    # Weekly buyers (5 orders in 148 days: a gap of 30 days) silent for 90 days are at risk,
    # although 90 days is within the shop's typical gap of 120 days.
    weekly = (20, 90, 5, 300.0, 210)
    slow = (80, 60, 3, 300.0, 300)  # a gap of 120 days
    named = name_rfm_segments(*population(weekly, slow), {})
    assert named[0]["scores"]["gaps"] == 3.0 and named[0]["scores"]["gaps_shop"] < 1
    assert [e["segment_name"] for e in named] == ["At risk", "Regular customers"]


def test_can_t_lose_them_needs_the_value_of_champions() -> None:
    former = (20, 120, 5, 3000.0, 280)  # 5 orders, a gap of 40 days, 3 gaps ago
    assert names(*population(former, (80, 30, 1, 50.0, 30)))[0] == "Can't lose them"
    modest = (20, 120, 5, 60.0, 280)
    assert names(*population(modest, (80, 30, 1, 50.0, 30)))[0] == "At risk"


def test_a_taken_name_gets_the_next_rule_or_a_qualifier() -> None:
    features, labels = population(
        (20, 300, 1, 40.0, 300),
        (20, 320, 1, 30.0, 320),
        (20, 340, 1, 20.0, 340),
        (40, 10, 5, 900.0, 250),
    )
    # The qualifier compares with the segment that holds the name (300 days, 40 spent), not
    # with every customer (against whom segment 2 would read "low spend" like segment 0).
    distinct = {2: [{"feature": "revenue", "effect": -0.8}]}
    got = [e["segment_name"] for e in name_rfm_segments(features, labels, distinct)]
    assert got == [
        "Lost one-time buyers",
        "Lost customers",
        "Lost one-time buyers, longer lapsed",
        "Loyal customers",
    ]
    # The other way round: a second segment less lapsed than the first is "more recent".
    features, labels = population((20, 340, 1, 20.0, 340), (20, 300, 1, 20.0, 300))
    got = [e["segment_name"] for e in name_rfm_segments(features, labels, {})]
    assert got == ["Hibernating", "Hibernating, more recent"]


def test_the_record_shows_the_rule_and_the_facts() -> None:
    features, labels = population((20, 5, 10, 2000.0, 300), (80, 200, 1, 50.0, 200))
    entry = name_rfm_segments(features, labels, {})[0]
    champions = next(r for r in RFM_NAMING_RULES if r.name == "Champions")
    assert entry["rule"] == champions.condition and entry["action"] == champions.action
    assert entry["facts"].startswith(
        "median 5 days since last purchase (all: 200) = 0.15 typical gaps of 32.8 days "
        "(shop: 32.8), 10 orders (all: 1), revenue 2,000 (all: 50)"
    )
    assert "20.0% of customers, 4.54x their share of revenue" in entry["facts"]


# ---------------------------------------------------------------------------------------------
# Customer tables: readable labels and persona names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("MntWines", "wine"),
        ("MntMeatProducts", "meat"),
        ("NumWebPurchases", "web purchases"),
        ("NumWebVisitsMonth", "web visits"),
        ("AcceptedCmp5", "campaign 5"),
        ("Kidhome", "young children"),
        ("Teenhome", "teenagers"),
        ("Income", "income"),
        ("Annual Income (k$)", "income"),
        ("Spending Score (1-100)", "spending score"),
        ("Age", "age"),
        ("Year_Birth", "birth year"),
        ("Recency", "recency"),
        ("TenureMonths", "tenure months"),
        ("loyalty_points [pts]", "loyalty points"),
        ("NumGiftCards", "gift cards"),
    ],
)
def test_readable_labels(column: str, label: str) -> None:
    assert readable_label(column) == label


def numeric(feature: str, effect: float) -> dict[str, Any]:
    return {
        "feature": feature,
        "kind": "numeric",
        "effect": effect,
        "segment_median": 1.0,
        "overall_median": 0.0,
    }


def category(feature: str, level: str, share: float, overall: float) -> dict[str, Any]:
    return {
        "feature": feature,
        "kind": "categorical",
        "level": level,
        "effect": 2.5 * (share - overall),
        "segment_share": share,
        "overall_share": overall,
    }


PERSONAS: list[tuple[list[dict[str, Any]], str, str]] = [
    ([numeric("MntWines", 1.4), numeric("Income", 1.1)], "shoppers", "Affluent wine lovers"),
    (
        [
            numeric("Age", -1.3),
            numeric("Annual Income (k$)", -1.0),
            numeric("Spending Score (1-100)", 0.6),
        ],
        "shoppers",
        "Young low-income shoppers",
    ),
    ([numeric("AcceptedCmp5", 2.0), numeric("Response", 1.5)], "shoppers", "Campaign responders"),
    ([numeric("Teenhome", 1.1), numeric("Kidhome", -0.7)], "shoppers", "Families with teens"),
    (
        [numeric("Spending Score (1-100)", 1.5), numeric("Annual Income (k$)", 1.2)],
        "shoppers",
        "Affluent big spenders",
    ),
    (
        [numeric("MntWines", -1.4), numeric("MntMeatProducts", -1.3), numeric("Income", -1.2)],
        "shoppers",
        "Low-income light spenders",
    ),
    ([numeric("NumWebPurchases", 0.9), numeric("Age", -0.2)], "shoppers", "Web shoppers"),
    ([numeric("Age", 0.3)], "customers", "Older customers"),  # no strong trait: the strongest
    ([category("Marital_Status", "Single", 0.9, 0.2)], "customers", "Single customers"),
    ([category("Education", "PhD", 0.96, 0.2)], "customers", "PhD customers"),
    ([category("Complain", "1", 0.9, 0.01)], "customers", "Customers who complained"),
    ([category("Region", "North", 0.4, 0.1)], "customers", "Typical customers"),  # not most
    ([numeric("Balance", 0.9)], "customers", "High-balance customers"),
    ([], "customers", "Typical customers"),
]


@pytest.mark.parametrize(("items", "noun", "expected"), PERSONAS, ids=[p[2] for p in PERSONAS])
def test_persona_names(items: list[dict[str, Any]], noun: str, expected: str) -> None:
    assert persona_name(items, noun) == expected
    assert len(expected.split()) <= 4


def test_attribute_words_for_the_report() -> None:
    assert attribute_words("Income") == ("affluent", "low-income")
    assert attribute_words("Teenhome") == ("families with teens", "low teenagers")
    assert attribute_words("Balance") == ("high-balance", "low-balance")


MARKETING_COLUMNS = ["Income", "Kidhome", "Teenhome", "MntWines", "MntMeatProducts",
                     "NumDealsPurchases", "AcceptedCmp5"]  # fmt: skip


def test_customer_segments_get_unique_names_and_actions() -> None:
    premium = [numeric("MntWines", 1.5), numeric("Income", 1.2), numeric("MntMeatProducts", 1.0)]
    distinct = {
        0: [numeric("MntWines", -1.4), numeric("MntMeatProducts", -1.3), numeric("Income", -1.2)],
        1: premium,
        2: premium + [numeric("AcceptedCmp5", 0.7)],  # the same persona, plus campaigns
        3: [numeric("NumDealsPurchases", 1.3), numeric("Teenhome", 1.0)],
    }
    named = name_customer_segments(distinct, MARKETING_COLUMNS)
    assert [e["segment_name"] for e in named] == [
        "Low-income light spenders",
        "Affluent wine lovers",
        "Affluent meat lovers",
        "Deal seekers",
    ]
    actions = [e["action"] for e in named]
    assert len(set(actions)) == len(actions)
    assert [e["rule"].split(" (")[0] for e in named] == [
        "price-sensitive",
        "premium",
        "enthusiasts",  # one "VIP treatment" segment only: the second premium one is next
        "deal seekers",
    ]
    assert actions[1].startswith("VIP treatment")
    assert actions[1].endswith("Lead with wine: new vintages, tastings and food pairings.")
    assert actions[2].startswith("Reward loyalty")
    assert actions[2].endswith("Lead with meat: butcher's selections and barbecue bundles.")
    assert actions[3].endswith("Bulk and family packs; back-to-school and teen-oriented ranges.")
    assert named[1]["description"].startswith("Higher wine (median 1 vs 0 overall)")


def test_names_and_strategies_follow_where_the_spend_sits() -> None:
    """A billing export (found on a reviewer's data): 2% of accounts with 73% of spend got the
    main group's strategy, and a third of customers with 78% of spend, who also get the most
    discount, were sent to the promotions list as "Deal seekers"."""
    columns = ["Seats", "Total Charges", "Monthly Charges", "Discount"]
    distinct = {
        0: [numeric("Total Charges", 0.6)],
        1: [numeric("Total Charges", -1.2)],
        2: [numeric("Seats", 3.0), numeric("Total Charges", 2.5)],
    }
    shares = {0: (0.68, 0.263), 1: (0.30, 0.008), 2: (0.02, 0.729)}
    named = name_customer_segments(distinct, columns, shares)
    assert named[2]["segment_name"] == "Top customers"
    assert named[2]["action"].startswith("Look after them one by one")
    assert named[2]["rule"].startswith("top customers (spend 36.4x its share of customers")
    assert not named[0]["action"].startswith("Look after")
    # The same segments without spend shares keep their personas.
    assert name_customer_segments(distinct, columns)[2]["segment_name"] != "Top customers"
    # Five times its share but a third of the customers: valuable, not a handful of accounts.
    assert (
        name_customer_segments(distinct, columns, {**shares, 2: (0.12, 0.73)})[2]["segment_name"]
        != "Top customers"
    )

    deals = {
        0: [numeric("Monthly Charges", -0.9)],
        1: [numeric("Discount", 1.8), numeric("Total Charges", 1.1)],
        2: [numeric("Monthly Charges", 0.9)],
    }
    rich = name_customer_segments(
        deals, columns, {0: (0.4, 0.14), 1: (0.35, 0.78), 2: (0.25, 0.08)}
    )
    assert rich[1]["segment_name"] == "Big-spending deal seekers"
    assert rich[1]["rule"].startswith("enthusiasts")
    assert rich[1]["action"].endswith("rather than deeper discounts.")
    # Deal users who bring no more than their share stay on the promotions list.
    plain = name_customer_segments(
        deals, columns, {0: (0.4, 0.4), 1: (0.35, 0.35), 2: (0.25, 0.25)}
    )
    assert plain[1]["segment_name"] == "Deal seekers"
    assert plain[1]["rule"].startswith("deal seekers")


def test_identical_segments_are_told_apart_by_number() -> None:
    same = [numeric("Age", 1.0)]
    named = name_customer_segments({0: same, 1: same}, ["Age"])
    assert [e["segment_name"] for e in named] == ["Older customers", "Older customers (segment 1)"]
    assert named[0]["action"] != named[1]["action"]
    assert named[0]["rule"].startswith("tailored (no spend-like columns")


# ---------------------------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------------------------


def test_noise_of_very_large_accounts_is_named_for_them() -> None:
    features = pd.DataFrame(
        {"revenue": [10.0, 12.0, 11.0, 9.0, 8.0, 10.0, 11.0, 9.0, 500.0, 700.0]}
    )
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1])
    entry = noise_entry(2, [], features=features, labels=labels)
    assert entry["segment_name"] == LARGE_ACCOUNTS_NAME == "Outliers: very large accounts"
    assert entry["action"] == LARGE_ACCOUNTS_ACTION
    assert entry["scores"] == {"V": 4.688}
    assert entry["facts"] == "20.0% of customers, 4.69x their share of revenue"


def test_noise_is_named_after_a_large_trait() -> None:
    returns = [numeric("return_rate", 1.2), numeric("revenue", 0.1)]
    features = pd.DataFrame({"revenue": [10.0, 10.0, 10.0, 10.0]})
    entry = noise_entry(1, returns, features=features, labels=np.array([0, 0, 0, -1]))
    assert entry["segment_name"] == "Outliers: many returns"
    assert entry["action"].startswith("In no segment, but they share one clear trait")
    wine = noise_entry(5, [numeric("MntWines", 1.0)])
    assert wine["segment_name"] == "Outliers: wine lovers"
    assert wine["action"].endswith("Lead with wine: new vintages, tastings and food pairings.")


def test_noise_without_a_clear_trait_stays_noise() -> None:
    entry = noise_entry(7, [numeric("Age", 0.6)])
    assert (entry["segment_name"], entry["action"]) == (NOISE_NAME, NOISE_ACTION)
    assert entry["rule"] == "left in no segment by the density method (7 customers)"
    assert entry["scores"] == {}


def test_a_valuable_segment_never_falls_back_to_the_catch_all_strategy() -> None:
    affluent = [numeric("MntWines", 1.4), numeric("Income", 1.1)]
    distinct = {
        0: affluent,
        1: [numeric("MntWines", 1.3), numeric("Income", 1.0)],
        2: [numeric("MntWines", 1.2), numeric("Income", 0.9)],
        3: [numeric("MntWines", -1.3), numeric("Income", -1.0)],
    }
    named = name_customer_segments(distinct, MARKETING_COLUMNS)
    strategies = [e["rule"].split(" (")[0] for e in named]
    assert strategies[:2] == ["premium", "enthusiasts"]
    assert strategies[2] != "mainstream"  # both specific ones taken: reuse, never "otherwise"
    assert strategies[3] == "price-sensitive"


def test_a_name_that_does_not_fit_a_fifth_of_its_customers_is_flagged() -> None:
    """40 dormant wholesale accounts (silent for about a year) inside a segment of 100 big
    accounts that still buy every ten days: too few to be a segment of their own, so the
    segment keeps its name, and the misfit is reported."""
    from custseg.profile.naming import MISFIT_SHARE, misfit_warning, name_rfm_segments

    rng = np.random.default_rng(0)
    big_recency = np.r_[rng.uniform(1, 12, 60), rng.uniform(300, 380, 40)]
    small_recency = rng.uniform(1, 60, 900)
    features = pd.DataFrame(
        {
            "days_since_last_purchase": np.r_[big_recency, small_recency],
            "n_orders": np.r_[np.full(100, 40.0), rng.integers(2, 5, 900).astype(float)],
            "revenue": np.r_[np.full(100, 20000.0), np.full(900, 60.0)],
            "days_since_first_purchase": np.r_[np.full(100, 700.0), rng.uniform(60, 700, 900)],
        }
    )
    labels = np.repeat([0, 1], [100, 900])
    entries = name_rfm_segments(features, labels, {})
    big, small = entries
    assert big["scores"]["gaps"] < 2 and small["misfits"] is None
    assert big["misfits"] is not None and big["misfits"]["kind"] == "stopped"
    assert big["misfits"]["customers"] == 40 and big["misfits"]["share"] >= MISFIT_SHARE
    assert big["misfits"]["median_days"] > 300
    text = misfit_warning(big["segment_name"], 100, big["misfits"])
    assert "40 of its 100 customers" in text and "do not fit them" in text
    # One-time buyers named lost, a quarter of whom bought in the last week: flagged the
    # other way; a tenth would not be.
    for recent, expected in ((250, "buying"), (100, None)):
        lost = features.assign(
            days_since_last_purchase=np.r_[
                np.full(recent, 5.0), rng.uniform(400, 600, 1000 - recent)
            ],
            n_orders=1.0,
        )
        (entry,) = name_rfm_segments(lost, np.zeros(1000, int), {})
        assert entry["scores"]["gaps"] >= 4
        assert (entry["misfits"] or {}).get("kind") == expected


def test_a_taken_name_never_falls_to_a_rule_that_contradicts_the_numbers() -> None:
    """Recent one-time buyers whose names were taken used to become "Regular customers" (a
    reviewer's Shopify export: median 1 order, 0.1% of revenue); the rules now hold only where
    their words do, so the next match is still about recent one-time buyers."""
    recent_once = {**BASE, "orders": 1.0, "gaps": 0.6, "gaps_shop": 0.6, "tenure_gaps": 0.6}
    names = [r.name for r in matching_rules(recent_once)]
    assert names == ["New customers", "Promising"]
    active_regulars = {**BASE, "orders": 3.0, "gaps": 0.5}
    assert "Need attention" not in [r.name for r in matching_rules(active_regulars)]
    assert "At risk" not in [r.name for r in matching_rules(active_regulars)]


def test_a_segment_that_spends_its_share_is_not_light_spenders() -> None:
    """A loyalty table (a reviewer's): low on most product families, high on pet and garden,
    13.5% of spend from 11.8% of members, named "Light spenders"."""
    columns = ["spend_wine", "spend_dairy", "spend_pet", "spend_garden"]
    items = [numeric("spend_wine", -0.9), numeric("spend_dairy", -0.8), numeric("spend_pet", 0.6)]
    distinct = {0: items, 1: [numeric("spend_wine", 0.7)]}
    light = name_customer_segments(distinct, columns, {0: (0.118, 0.05), 1: (0.882, 0.95)})
    assert light[0]["segment_name"] == "Light spenders"
    fair = name_customer_segments(distinct, columns, {0: (0.118, 0.135), 1: (0.882, 0.865)})
    assert "light spenders" not in fair[0]["segment_name"].lower()
    assert readable_label("spend_pet") == "spend pet" != readable_label("spend_garden")
