"""The report's first layer: executive summary, labels and units, value for customer tables,
two segments side by side, and the appendix order (issue 14)."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.errors import InputError
from custseg.report import build_report_data, render_report
from custseg.report.executive import CLARITY, compare_rows, trait_text
from custseg.report.summary import APPENDIX, SECTION_TITLES

SNAKE = re.compile(r"\b\w+_\w+\b")  # days_since_last_purchase, Year_Birth
CAMEL = re.compile(r"\b[A-Za-z]*[a-z][A-Z]\w*\b")  # MntWines, AcceptedCmp1, numOrders


def shop_customers(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Three groups of a shop's customers: big spenders who answer campaigns, regular
    middle spenders, and lapsed light spenders; with a random region."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], [n // 6, n // 2, n - n // 6 - n // 2])
    wines = np.choose(group, [900, 300, 30]) * rng.lognormal(0, 0.15, n)
    meat = np.choose(group, [500, 150, 15]) * rng.lognormal(0, 0.15, n)
    return pd.DataFrame(
        {
            "ID": np.arange(1000, 1000 + n),
            "Income": np.choose(group, [85_000, 55_000, 30_000]) * rng.lognormal(0, 0.1, n),
            "Recency": np.choose(group, [10, 40, 90]) + rng.integers(0, 10, n),
            "MntWines": wines.round(),
            "MntMeatProducts": meat.round(),
            "AcceptedCmp1": (rng.random(n) < np.choose(group, [0.8, 0.1, 0.02])).astype(int),
            "Region": rng.choice(["North", "South", "East"], n),
        }
    )


@pytest.fixture(scope="module")
def shop() -> Any:
    return custseg.segment(shop_customers(), seed=0, currency="EUR")


@pytest.fixture(scope="module")
def shop_data(shop: Any) -> dict[str, Any]:
    return build_report_data(shop)


@pytest.fixture(scope="module")
def lines_result() -> Any:
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=0)
    return custseg.segment(lines, seed=0, new_customers=False)


def executive_text(data: dict[str, Any]) -> str:
    ex = data["executive"]
    parts = [*ex["lead"], ex["clarity"]["text"]]
    for card in ex["cards"]:
        parts += [card["name"], card["action"], *(t["text"] for t in card["traits"])]
    return " ".join(parts)


def test_sections_are_two_layers(shop_data: dict[str, Any]) -> None:
    ids = [s["id"] for s in shop_data["sections"]]
    assert ids[0] == "summary"
    main = [s for s in shop_data["sections"] if not s["appendix"]]
    appendix = [s for s in shop_data["sections"] if s["appendix"]]
    # every main section comes before the appendix, which is lettered
    assert ids == [s["id"] for s in main + appendix]
    assert [s["id"] for s in appendix] == [k for k in SECTION_TITLES if k in APPENDIX]
    assert shop_data["titles"]["summary"] == "1. Executive summary"
    assert shop_data["titles"]["k_selection"].startswith(("A.", "B.", "C."))
    assert "compare" in ids and ids.index("compare") < ids.index("data")


def test_the_name_patterns_catch_raw_column_names() -> None:
    for raw in ("days_since_last_purchase", "Year_Birth", "AcceptedCmp1", "MntWines"):
        assert SNAKE.search(raw) or CAMEL.search(raw), raw
    assert not SNAKE.search("Amount spent on wines") and not CAMEL.search("Accepted campaign 1")


def test_executive_summary_speaks_plain_words(shop_data: dict[str, Any]) -> None:
    text = executive_text(shop_data)
    assert not SNAKE.findall(text), SNAKE.findall(text)
    assert not CAMEL.findall(text), CAMEL.findall(text)
    for word in ("silhouette", "Davies", "Calinski", "ARI", "BIC"):
        assert word not in text
    assert shop_data["executive"]["clarity"]["text"] in {t for _, t in CLARITY.values()}


def test_customer_table_gets_a_value_measure(shop: Any, shop_data: dict[str, Any]) -> None:
    value = shop.metrics["value"]
    assert value["columns"] == ["MntWines", "MntMeatProducts"]
    assert value["label"] == "spend"
    shares = shop.profiles["revenue_share"]
    assert shares.sum() == pytest.approx(1.0)
    ex = shop_data["executive"]
    assert ex["has_value"] and ex["value_label"] == "spend"
    # the big spenders (a sixth of the customers, split by campaign response) bring about
    # three times their share of customers in spend
    top = max(ex["chart_rows"], key=lambda r: r["value_share"] / r["customer_share"])
    assert top["value_share"] > 2.5 * top["customer_share"]
    assert top["customer_share"] < 1 / 6
    assert any("of the spend with" in s for s in ex["lead"])
    assert ex["value_composition"] == (
        "Spend is each customer's sum of Amount spent on wines and Amount spent on meat "
        "products (found in the data; --value-col names another)."
    )
    labels = [r["label"] for r in shop_data["profiles"]["rows"]]
    assert "Share of spend" in labels
    assert "Amount spent on wines" in labels and "MntWines" not in labels


def test_units_in_the_profiles(shop_data: dict[str, Any]) -> None:
    rows = {r["label"]: r for r in shop_data["profiles"]["rows"]}
    assert all(c.startswith("€") for c in rows["Amount spent on wines"]["cells"])
    assert all(c.endswith("%") for c in rows["Accepted campaign 1"]["cells"])
    assert rows["Accepted campaign 1"]["note"].startswith("share with yes")
    assert shop_data["presentation"]["currency"] == "€"


def test_value_col_option(shop: Any) -> None:
    frame = shop_customers()
    result = custseg.segment(frame, seed=0, value_col="MntWines", new_customers=False)
    assert result.metrics["value"] == {
        "label": "amount spent on wines",
        "columns": ["MntWines"],
        "source": "value_col",
    }
    with pytest.raises(InputError, match=r"value column 'Spend' \(value_col\)"):
        custseg.segment(frame, seed=0, value_col="Spend")
    with pytest.raises(InputError, match="not numeric"):
        custseg.segment(frame, seed=0, value_col="Region")


def test_table_without_spend_has_no_value() -> None:
    frame = shop_customers().drop(columns=["MntWines", "MntMeatProducts"])
    result = custseg.segment(frame, seed=0)
    assert result.metrics["value"] is None
    data = build_report_data(result)
    assert not data["executive"]["has_value"]
    assert "revenue_share" not in result.profiles


def test_transactions_value_is_revenue(lines_result: Any) -> None:
    data = build_report_data(lines_result)
    assert lines_result.metrics["value"]["label"] == "revenue"
    assert data["executive"]["has_value"]
    text = executive_text(data)
    traits = [t["text"] for c in data["executive"]["cards"] for t in c["traits"]]
    labels = {"Days since last purchase", "Orders", "Revenue", "Average order value",
              "Days since first purchase", "Distinct products bought", "Share of items returned"}  # fmt: skip
    assert traits and all(t.split(":")[0] in labels for t in traits)
    assert not SNAKE.findall(text), SNAKE.findall(text)
    assert not CAMEL.findall(text), CAMEL.findall(text)


def test_currency_from_values_of_the_price_column() -> None:
    lines, _ = custseg.datasets.make_transactions(120, n_segments=2, seed=1)
    price = next(c for c in lines.columns if "price" in c.lower())
    lines[price] = "£" + lines[price].map("{:.2f}".format)
    result = custseg.segment(lines, seed=0, new_customers=False)
    assert result.metrics["presentation"]["currency"] == "£"
    assert result.metrics["presentation"]["currency_source"] == "values"


def test_trait_text_uses_units() -> None:
    pres = {"labels": {}, "currency": "£"}
    item = {
        "feature": "days_since_last_purchase",
        "kind": "numeric",
        "effect": -1.2,
        "segment_median": 11.0,
        "overall_median": 51.0,
    }
    assert trait_text(item, pres) == "Days since last purchase: 11 (all customers: 51)"
    flag = {"feature": "AcceptedCmp5", "kind": "numeric", "effect": 2.0}
    assert trait_text(flag, pres, flag_shares=(0.87, 0.07)) == (
        "Accepted campaign 5: 87% of them (all customers: 7%)"
    )


def test_compare_two_segments(shop: Any, shop_data: dict[str, Any]) -> None:
    cmp = shop_data["compare"]
    assert cmp is not None and cmp["a"] != cmp["b"]
    k = shop.metrics["k"]
    assert len(cmp["pairs"]) == k * (k - 1) // 2
    rows = cmp["rows"]
    gaps = [r["gap"] for r in rows]
    assert gaps == sorted(gaps, reverse=True)
    assert {r["label"] for r in rows} >= {"Amount spent on wines", "Recency", "Region"}
    recency = next(r for r in rows if r["label"] == "Recency")
    if recency["better"]:  # lower recency is better: the side with fewer days is marked
        a, b = (float(recency[x].replace(",", "")) for x in ("a", "b"))
        assert (recency["better"] == "a") == (a < b)


def test_compare_rows_marks_the_better_side() -> None:
    stats = [
        {
            "label": "Revenue",
            "direction": 1,
            "spread": 10.0,
            "values": {0: 50.0, 1: 20.0},
            "texts": {0: "£50", 1: "£20"},
        },
        {
            "label": "Days since last purchase",
            "direction": -1,
            "spread": 10.0,
            "values": {0: 50.0, 1: 20.0},
            "texts": {0: "50", 1: "20"},
        },
        {
            "label": "Region",
            "direction": 0,
            "spread": None,
            "values": {},
            "texts": {0: "North", 1: "North"},
        },
    ]
    rows = {r["label"]: r for r in compare_rows(stats, 0, 1)}
    assert rows["Revenue"]["better"] == "a"
    assert rows["Days since last purchase"]["better"] == "b"
    assert rows["Region"]["better"] == "" and rows["Region"]["gap"] == 0.0


def test_rendered_first_section_is_the_summary(shop: Any) -> None:
    html = render_report(shop)
    first = html.index('<section id="summary">')
    assert first < html.index('<section id="profiles">') < html.index('<section id="data">')
    summary = html[first : html.index("</section>", first)]
    assert "Executive summary" in summary
    assert summary.count('class="seg-card') == shop.metrics["k"]
    assert 'id="figure-value_share"' in summary
    assert 'id="compare-data"' in html
    assert "How clear the segments are" in summary


def test_a_column_missing_for_a_whole_segment_does_not_break_the_report() -> None:
    rng = np.random.default_rng(0)
    n = 600
    group = np.repeat([0, 1, 2], 200)
    frame = pd.DataFrame(
        {
            "ID": range(n),
            "MntWines": np.choose(group, [900, 300, 30]) * rng.lognormal(0, 0.1, n),
            "Recency": np.choose(group, [10, 40, 90]) + rng.integers(0, 10, n),
            # no income known for a whole group: its effect on that group is not a number
            "Income": np.where(group == 2, np.nan, 50_000 * rng.lognormal(0, 0.1, n)),
        }
    )
    result = custseg.segment(frame, seed=0, k=3, new_customers=False)
    effects = [d["effect"] for s in result.metrics["segments"] for d in s["distinguishing"]]
    assert all(np.isfinite(e) for e in effects)  # Income is left out where it cannot differ
    data = build_report_data(result)
    # A result saved by an earlier version may still hold such an effect.
    broken = copy.deepcopy(result.metrics)
    broken["segments"][0]["distinguishing"].insert(
        0,
        {
            "feature": "Income",
            "kind": "numeric",
            "effect": float("nan"),
            "segment_median": float("nan"),
            "overall_median": 50_000.0,
        },
    )
    assert build_report_data(dataclasses.replace(result, metrics=broken))["executive"]
    assert len(data["executive"]["cards"]) == 3
    for card in data["executive"]["cards"]:
        assert all("nan" not in t["text"].lower() for t in card["traits"])


def test_negative_values_count_as_zero_value(shop: Any) -> None:
    frame = shop_customers()
    frame["MntWines"] -= 400  # refunds larger than purchases for many customers
    result = custseg.segment(frame, seed=0, k=3, value_col="MntWines", new_customers=False)
    shares = result.profiles["revenue_share"]
    assert shares.between(0, 1).all() and shares.sum() == pytest.approx(1.0)
    render_report(result)  # the value chart draws shares between 0 and 1
    frame["MntWines"] = -frame["MntWines"].abs() - 1
    with pytest.raises(InputError, match="add up to nothing above 0"):
        custseg.segment(frame, seed=0, value_col="MntWines")
    with pytest.raises(InputError, match="is empty"):
        custseg.segment(frame, seed=0, value_col=[])


def test_two_columns_with_one_label_stay_apart(shop: Any) -> None:
    result = custseg.segment(
        shop_customers(),
        seed=0,
        k=3,
        new_customers=False,
        feature_labels={"MntWines": "Spend", "MntMeatProducts": "Spend", "Ghost": "Nothing"},
    )
    data = build_report_data(result)
    labels = data["heatmap"]["labels"]
    assert len(labels) == len(set(labels))
    assert {"Spend (MntWines)", "Spend (MntMeatProducts)"} <= set(labels)
    rows = [r["label"] for r in data["profiles"]["rows"]]
    assert len(rows) == len(set(rows))
    assert any("Ghost" in w and "--labels" in w for w in result.metrics["warnings"])


def test_mixed_currencies_are_a_warning_not_a_symbol() -> None:
    lines, _ = custseg.datasets.make_transactions(120, n_segments=2, seed=1)
    price = next(c for c in lines.columns if "price" in c.lower())
    symbols = np.where(np.arange(len(lines)) % 2 == 0, "€", "$")
    lines[price] = symbols + lines[price].map("{:.2f}".format)
    result = custseg.segment(lines, seed=0, new_customers=False)
    assert result.metrics["presentation"]["currency"] == ""
    assert any("more than one currency ($, €)" in w for w in result.metrics["warnings"])


def test_rule_text_says_yes_no_only_for_yes_no_columns() -> None:
    from custseg.report.executive import rule_text

    pres = {"labels": {}, "currency": ""}
    kids = [{"feature": "Kidhome", "op": "==", "value": 1}]
    assert rule_text(kids, pres) == "Kids at home = 1"
    flag = [{"feature": "AcceptedCmp1", "op": "==", "value": 1}]
    assert rule_text(flag, pres, {"AcceptedCmp1"}) == "Accepted campaign 1: yes"


def test_k_sensitivity_compares_candidates_with_the_chosen_candidate() -> None:
    """After a refinement metrics' silhouette is the refined segments' (lower here); the
    neighbouring k are compared with the chosen k's own candidate row, as they were scored."""
    from custseg.report.summary import _k_sensitivity

    rows = [
        {"algorithm": "kmeans", "k": 3, "silhouette": 0.50, "recommended": False},
        {"algorithm": "kmeans", "k": 4, "silhouette": 0.60, "recommended": True},
        {"algorithm": "kmeans", "k": 5, "silhouette": 0.52, "recommended": False},
    ]
    metrics = {"algorithm": "kmeans", "k": 4, "silhouette": 0.51, "candidates": rows}
    text = _k_sensitivity(metrics)
    assert "clearly worse" in text and "k = 4" in text
    rows[2]["silhouette"] = 0.59
    text = _k_sensitivity(metrics)
    assert "k = 5 (silhouette 0.59)" in text and "(silhouette 0.60)" in text
    # After a split at a valley metrics' k counts one segment more than the candidate chosen:
    # the neighbours are still those of the chosen candidate.
    metrics["k"] = 5
    text = _k_sensitivity(metrics)
    assert "k = 5 (silhouette 0.59)" in text and "as well as k = 4" in text
    # A neighbour that scores better is said to (a reviewer's report said k = 4 at 0.576
    # scored "clearly worse" than k = 5 at 0.499).
    rows[0]["silhouette"] = 0.70
    text = _k_sensitivity(metrics)
    assert text.startswith("Sensitivity to k: k = 3 (silhouette 0.70) scores better")
    assert "clearly worse" not in text


@pytest.mark.parametrize(
    ("kind", "says", "never"),
    [
        ("partial", "shade into each other", "clearly separated"),
        ("separated", "clearly separated", "shade into"),
        ("continuum", "form one continuous range", "clearly separated"),
    ],
)
def test_clarity_follows_the_structure_verdict(kind: str, says: str, never: str) -> None:
    """'What to keep in mind' says what the summary box says: a silhouette of 0.57 beside
    segments that still hold two groups is not called clearly separated."""
    from types import SimpleNamespace

    from custseg.report.summary import _limitations

    metrics = {"silhouette": 0.57, "algorithm": "kmeans", "kind": "transactions",
               "structure": {"kind": kind}}  # fmt: skip
    result = SimpleNamespace(metrics=metrics)
    k_sel = {"sample_notes": [], "silhouette_sampled": False}
    seg_map = {"sampled": False, "explained": "80%"}
    items = _limitations(result, {"rows": [], "has_noise": False}, k_sel, seg_map, None)
    assert "silhouette is 0.57" in items[0] and says in items[0] and never not in items[0]


def test_clear_segments_with_a_misfit_minority_say_so() -> None:
    from custseg.report.executive import clarity

    misfits = {"kind": "stopped", "customers": 40, "share": 0.4, "days": 39, "median_days": 342}
    metrics: dict[str, Any] = {
        "structure": {"kind": "separated"},
        "segments": [{"segment_name": "Champions", "misfits": misfits}, {"segment_name": "Lost"}],
    }
    text = clarity(metrics)["text"]
    assert "Champions holds a minority its name does not fit" in text
    assert "fit nearly all" not in text
    metrics["segments"][0]["misfits"] = None
    assert clarity(metrics)["text"] == CLARITY["separated"][1]
