"""The report's exploration, segment details, maps and naming data, checked by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_report import customers_result, transactions_result  # noqa: F401  (fixtures)

import custseg
from custseg.report import build_report_data
from custseg.report.details import (
    FREQUENCY_CLASSES,
    RECENCY_CLASSES,
    SILHOUETTE_POINTS,
    rfm_grid,
    silhouette_data,
)
from custseg.report.eda import HISTOGRAM_BINS, MAX_INTEGER_BARS, histogram


def test_histogram_of_whole_numbers_has_one_bar_per_value() -> None:
    assert histogram([0, 0, 1, 3]) == {
        "edges": [-0.5, 0.5, 1.5, 2.5, 3.5],
        "counts": [2, 1, 0, 1],
        "folded": 0,
    }


def test_histogram_of_few_whole_numbers_far_apart_has_equal_bars() -> None:
    # One bar per value from 0 to 10**9 would be a billion bars (and gigabytes of edges).
    far = histogram([0, 10**9, 10**9], clip_tails=False)
    assert far is not None and len(far["counts"]) == HISTOGRAM_BINS
    assert far["counts"][0] == 1 and far["counts"][-1] == 2
    near = histogram([0, MAX_INTEGER_BARS - 1])
    assert near is not None and len(near["counts"]) == MAX_INTEGER_BARS


def test_histogram_folds_the_tails_into_the_edge_bars() -> None:
    values = np.r_[np.linspace(0, 1, 1000), 1_000_000.0]
    hist = histogram(values)
    assert hist is not None
    assert len(hist["counts"]) == HISTOGRAM_BINS and sum(hist["counts"]) == 1001
    assert hist["edges"][-1] < 2  # the giant does not stretch the axis ...
    assert hist["folded"] == 1 + 10 + 9  # ... it is counted in the last bar, with the tails
    assert histogram([np.nan, np.inf]) is None
    many = histogram(np.arange(MAX_INTEGER_BARS + 1))
    assert many is not None and len(many["counts"]) == HISTOGRAM_BINS


def test_transactions_exploration(transactions_result: Any) -> None:  # noqa: F811
    eda = build_report_data(transactions_result)["eda"]
    n = len(transactions_result.segments)
    months = eda["activity"]
    assert months and [m["period"] for m in months] == sorted(m["period"] for m in months)
    assert sum(m["orders"] for m in months) == transactions_result.segments["n_orders"].sum()
    assert sum(eda["orders"]["counts"]) == n
    assert eda["orders"]["values"][-1] == 20 and eda["orders"]["overflow_label"] == "20+"
    names = {h["name"] for h in eda["before"]}
    assert names == set(transactions_result.metrics["features"])
    assert all(sum(h["counts"]) == n for h in eda["before"] + eda["after"])
    assert "log(1 + x)" in eda["after_text"]
    assert eda["missing"] == [] and "No missing values" in eda["missing_text"]
    corr = eda["correlation"]
    matrix = np.array(corr["matrix"], dtype=float)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T)


def test_customer_table_exploration_counts_missing_and_categories() -> None:
    rng = np.random.default_rng(0)
    n = 80
    frame = pd.DataFrame(
        {
            "customer_id": range(n),
            "age": np.r_[rng.normal(25, 2, n // 2), rng.normal(60, 3, n // 2)],
            "income": np.r_[rng.normal(30, 3, n // 2), rng.normal(80, 5, n // 2)],
            "plan": ["gold"] * 50 + ["silver"] * 25 + [None] * 5,
        }
    )
    frame.loc[:6, "income"] = np.nan
    frame.loc[10, "income"] = 10_000.0  # far beyond 4 standard deviations: capped
    result = custseg.segment(frame, algorithm="kmeans", k=2, seed=0)
    eda = build_report_data(result)["eda"]
    assert eda["missing"] == [
        {"column": "income", "missing": 7, "share": 7 / n},
        {"column": "plan", "missing": 5, "share": 5 / n},
    ]
    assert eda["categories"] == [
        {"name": "plan", "levels": ["gold", "silver", "(missing)"], "counts": [50, 25, 5]}
    ]
    assert [o["feature"] for o in eda["outliers"]] == ["income"]
    assert eda["activity"] == [] and eda["orders"] is None


def test_heatmap_holds_each_segments_standardized_means(customers_result: Any) -> None:  # noqa: F811
    data = build_report_data(customers_result)
    heat = data["heatmap"]
    numeric = customers_result.metrics["preprocessing"]["numeric"]
    assert heat["features"] == numeric
    order = [r["segment"] for r in data["segments"]["rows"]]
    X = customers_result.model_inputs[:, : len(numeric)]
    for row, seg in zip(heat["z"], order, strict=True):
        expected = X[customers_result.labels == seg].mean(axis=0)
        np.testing.assert_allclose(row, expected, atol=1e-3)
    # Cell text is the profile's typical value, as the profile table shows it.
    age = next(r for r in data["profiles"]["rows"] if r["label"] == "Age")
    assert [t[numeric.index("age")] for t in heat["text"]] == age["cells"]


def test_every_segment_gets_a_true_membership_rule(customers_result: Any) -> None:  # noqa: F811
    from custseg.profile.rules import rule_mask

    result = customers_result
    for entry in result.metrics["segments"]:
        rule = entry["membership"]
        assert rule["rule"] and rule["precision"] >= 0.9
        mask = rule_mask(result.segments, rule["conditions"])
        inside = result.labels == entry["segment"]
        assert rule["precision"] == pytest.approx(inside[mask].mean())
        assert rule["coverage"] == pytest.approx(mask[inside].mean())
    rows = build_report_data(result)["segments"]["rows"]
    assert all(r["membership"]["rule"] and r["membership"]["precision"].endswith("%") for r in rows)
    assert all(r["effects"] for r in rows)


def test_silhouette_data_is_sorted_and_sampled(customers_result: Any) -> None:  # noqa: F811
    sil = silhouette_data(customers_result)
    assert sil is not None and sil["segments"] == sorted(set(customers_result.labels))
    for values in sil["values"]:
        assert values == sorted(values, reverse=True) and len(values) <= SILHOUETTE_POINTS
    assert sil["average"] == pytest.approx(customers_result.metrics["silhouette"], abs=1e-3)
    assert not sil["sampled"]


def test_rfm_grid_counts_every_customer_once(transactions_result: Any) -> None:  # noqa: F811
    grid = rfm_grid(transactions_result)
    assert grid is not None
    counts = np.array(grid["counts"])
    assert counts.shape == (len(RECENCY_CLASSES), len(FREQUENCY_CLASSES))
    assert counts.sum() == len(transactions_result.segments)
    frame = transactions_result.segments
    one_recent = (frame["n_orders"] == 1) & (frame["days_since_last_purchase"] <= 30)
    assert counts[0, 0] == one_recent.sum()
    for i, row in enumerate(grid["dominant"]):
        for j, seg in enumerate(row):
            assert (seg is None) == (counts[i, j] == 0)


def test_naming_table_marks_the_rules_used(transactions_result: Any) -> None:  # noqa: F811
    data = build_report_data(transactions_result)
    naming = data["naming"]
    used = [r for r in naming["rules"] if r["segments"]]
    assert sum(len(r["segments"].split(", ")) for r in used) == transactions_result.metrics["k"]
    assert naming["words"] == []
    assert all(s["scores"].startswith("R") for s in naming["segments"])


def test_limitations_and_next_steps(customers_result: Any) -> None:  # noqa: F811
    data = build_report_data(customers_result)
    text = " ".join(data["limitations"])
    assert "Sensitivity to k" in text
    assert "stable" in text
    assert any("custseg predict" in s for s in data["next_steps"])


def test_report_size_hardly_grows_with_customers() -> None:
    """Figures carry binned counts and samples, never one value per customer: beyond the
    embedded plotly.js, 3,000 customers add well under 1 MB."""
    from custseg.report.render import plotly_js

    lines, _ = custseg.datasets.make_transactions(3000, n_segments=3, seed=0)
    result = custseg.segment(lines, algorithm="kmeans", k=3, seed=0, new_customers=False)
    page = result.report_html()
    assert len(page.encode()) - len(str(plotly_js()).encode()) < 1_000_000


def test_explore_before_segmenting_matches_the_report() -> None:
    """The app shows the exploration before any clustering: same data as the report's."""
    from custseg.report.eda import exploration_data, explore

    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=2)
    features, details = custseg.build_features(lines)
    before = explore(features, details)
    after = exploration_data(custseg.segment(lines, algorithm="kmeans", k=3, seed=0))
    assert before.keys() == after.keys()
    for key in ("before", "after", "correlation", "missing", "categories", "activity", "orders"):
        assert before[key] == after[key], key


def test_a_segment_that_returns_much_is_named_for_it() -> None:
    """Returns matter more to a campaign than recency: such a segment is named for them."""
    from custseg.profile.naming import RETURNS_FOR_NAME, name_rfm_segments

    n = 60
    features = pd.DataFrame(
        {
            "days_since_last_purchase": np.r_[np.full(30, 10), np.full(30, 200)],
            "n_orders": np.r_[np.full(30, 8), np.full(30, 2)],
            "revenue": np.r_[np.full(30, 3000.0), np.full(30, 300.0)],
            "days_since_first_purchase": np.full(n, 300),
            "return_rate": np.r_[np.zeros(30), np.full(30, RETURNS_FOR_NAME + 0.1)],
        }
    )
    labels = np.r_[np.zeros(30, dtype=int), np.ones(30, dtype=int)]
    named = name_rfm_segments(features, labels, {})
    # Half of the customers cannot be Champions (CHAMPION_MAX_SHARE): the best are Loyal.
    assert [e["segment_name"] for e in named] == ["Loyal customers", "Frequent returners"]
    assert named[1]["scores"]["returns"] == pytest.approx(0.3)
    # Without a return rate column, nobody is a frequent returner.
    plain = name_rfm_segments(features.drop(columns="return_rate"), labels, {})
    assert plain[1]["segment_name"] != "Frequent returners"
