"""The valley test behind the choice of k, and the rules that keep the choice honest: no
segment hides two groups, the best customers are never noise, a random category changes
nothing, and a continuum is called a continuum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import custseg
from custseg.models.select import _noise_holds_value, select_model
from custseg.models.structure import (
    VALLEY_RATIO,
    hidden_splits,
    neighbour_valley,
    valley_ratio,
    valley_split,
)
from custseg.preprocess import category_relevance, dequantize, plan_columns


def test_valley_ratio_two_humps_one_hump_and_a_plateau():
    rng = np.random.default_rng(0)
    two = np.r_[rng.normal(0, 1, 500), rng.normal(8, 1, 500)]
    assert valley_ratio(two, two < 4) < VALLEY_RATIO
    one = rng.normal(0, 1, 1000)
    assert valley_ratio(one, one < 0) > 0.9
    flat = rng.uniform(0, 1, 1000)
    assert valley_ratio(flat, flat < 0.5) > 0.6
    assert valley_ratio(np.zeros(10), np.arange(10) < 5) == 1.0


def test_valley_split_needs_two_groups_big_enough():
    rng = np.random.default_rng(1)
    big = rng.normal(0, 1, (970, 3))
    small = rng.normal(8, 1, (30, 3))
    X = np.vstack([big, small])
    assert valley_split(X, min_size=20, seed=0).separated
    assert not valley_split(X, min_size=50, seed=0).separated  # 30 customers: too few
    assert not valley_split(big, min_size=20, seed=0).separated


def test_a_merged_segment_is_found_and_neighbours_with_a_gap_are_seen():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(c, 0.5, (200, 2)) for c in ((0, 0), (5, 0), (0, 5))])
    merged = np.r_[np.zeros(200), np.zeros(200), np.ones(200)].astype(int)
    tests = hidden_splits(X, merged, min_size=20)
    assert tests[0].separated and not tests[1].separated
    assert neighbour_valley(X, merged, min_size=20) < VALLEY_RATIO
    blob = rng.normal(0, 1, (600, 2))
    halves = (blob[:, 0] > 0).astype(int)
    assert neighbour_valley(blob, halves, min_size=20) > VALLEY_RATIO


def test_dequantize_removes_the_gap_between_one_and_two_orders():
    counts = pd.DataFrame({"n_orders": np.r_[np.ones(500), np.full(500, 2.0)]})
    logged = np.log1p(counts["n_orders"].to_numpy())
    assert valley_ratio(logged, logged < 1) < 0.05  # whole numbers: two spikes
    spread = np.log1p(dequantize(counts, ["n_orders"], seed=0)["n_orders"].to_numpy())
    assert valley_ratio(spread, spread < np.log1p(1.5)) > VALLEY_RATIO
    assert (dequantize(counts, ["n_orders"])["n_orders"] >= 0).all()


def test_noise_holding_the_best_customers_is_refused():
    value = np.r_[np.full(95, 10.0), np.full(5, 1000.0)]
    labels = np.zeros(100, dtype=int)
    assert _noise_holds_value(labels, value) is None
    labels[-1] = -1  # one VIP in the noise
    assert "top 1% customers" in _noise_holds_value(labels, value)
    labels = np.zeros(100, dtype=int)
    labels[:10] = -1  # cheap customers as noise: fine
    assert _noise_holds_value(labels, value) is None


def test_a_vip_tail_is_never_noise():
    rng = np.random.default_rng(3)
    regular = rng.normal(0, 0.6, (960, 2))
    vip = rng.normal(4, 1.5, (40, 2))  # sparse: density methods leave much of it as noise
    X = np.vstack([regular, vip])
    value = np.r_[rng.lognormal(3, 0.3, 960), rng.lognormal(8, 0.5, 40)]
    sel = select_model(X, seed=0, value=value)
    vip_labels = sel.labels[960:]
    assert (vip_labels >= 0).all()
    for row in sel.leaderboard:
        if row["algorithm"] in ("dbscan", "hdbscan") and row["noise_share"] > 0:
            labels_noise = row.get("excluded") or ""
            assert row["recommended"] is False or "noise" not in labels_noise


def test_structure_is_reported_clear_for_groups_and_not_for_a_blob():
    rng = np.random.default_rng(4)
    groups = np.vstack([rng.normal(c, 0.4, (150, 2)) for c in ((0, 0), (4, 0), (0, 4))])
    sel = select_model(groups, seed=0)
    assert sel.k == 3 and sel.structure["clear"] is True
    blob = rng.normal(0, 1, (450, 2))
    sel = select_model(blob, seed=0)
    assert sel.structure["clear"] is False
    assert sel.structure["summary"].startswith("No clear segment structure")


def test_a_group_merged_by_silhouette_is_kept_apart():
    """Two close groups beside a far one: silhouette prefers merging the close pair (k=2);
    the valley between them keeps them apart (k=3)."""
    rng = np.random.default_rng(5)
    X = np.vstack(
        [
            rng.normal((0, 0), 0.35, (300, 2)),
            rng.normal((2.6, 0), 0.35, (300, 2)),
            rng.normal((14, 0), 0.35, (300, 2)),
        ]
    )
    truth = np.repeat([0, 1, 2], 300)
    sel = select_model(X, seed=0, algorithm="kmeans")
    rows = {r["k"]: r for r in sel.leaderboard}
    assert rows[2]["silhouette"] > rows[3]["silhouette"]  # geometry alone would merge
    assert sel.k == 3
    assert adjusted_rand_score(truth, sel.labels) > 0.95


def _tier_and_region(seed: int, n: int) -> pd.DataFrame:
    """Spend in two groups, a tier that follows them and a region that does not."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "spend": np.where(group == 0, 10.0, 50.0) + rng.normal(0, 2, n),
            "tier": np.where(group == 0, "basic", "gold"),
            "region": rng.choice(["N", "S", "W"], n),
        }
    )


def test_category_relevance_and_unrelated_columns_left_out():
    frame = _tier_and_region(6, 600)
    assert category_relevance(frame, ["spend"], "tier") > 0.7
    assert category_relevance(frame, ["spend"], "region") < 0.01
    plan = plan_columns(frame, ["spend"], ["tier", "region"])
    assert plan.categorical == ["tier"]
    assert "unrelated" in plan.dropped["region"]
    assert category_relevance(frame, [], "region") == 1.0


def test_relevance_measured_on_a_sample_of_a_large_table(monkeypatch):
    import custseg.preprocess as pre

    frame = _tier_and_region(8, 3_000)
    monkeypatch.setattr(pre, "RELEVANCE_SAMPLE", 500)
    plan = plan_columns(frame, ["spend"], ["tier", "region"])
    assert plan.categorical == ["tier"]
    assert "unrelated" in plan.dropped["region"]


def test_categorical_as_text_turns_levels_into_text_and_keeps_missing():
    from custseg.preprocess import categorical_as_text

    frame = pd.DataFrame({"a": [1, 2.5, None, "x", np.nan, pd.NA, 1]}, dtype=object)
    out = categorical_as_text(frame, ["a"])["a"]
    assert out.iloc[[0, 1, 3, 6]].tolist() == ["1", "2.5", "x", "1"]
    assert out.iloc[[2, 4, 5]].isna().all()


@pytest.fixture(scope="module")
def two_groups_table():
    rng = np.random.default_rng(7)
    n = 600
    group = rng.integers(0, 2, n)
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "income": np.where(group == 0, rng.lognormal(10, 0.2, n), rng.lognormal(11.5, 0.2, n)),
            "spend": np.where(group == 0, rng.lognormal(5, 0.3, n), rng.lognormal(7, 0.3, n)),
            "region": rng.choice(["North", "South", "West"], n),
        }
    )
    return table, group


def test_a_random_category_does_not_change_the_segments(two_groups_table):
    table, group = two_groups_table
    with_region = custseg.segment(table, seed=0, algorithm="kmeans")
    without = custseg.segment(table.drop(columns="region"), seed=0, algorithm="kmeans")
    assert with_region.metrics["k"] == without.metrics["k"] == 2
    assert adjusted_rand_score(with_region.labels, without.labels) >= 0.9
    assert adjusted_rand_score(group, with_region.labels) >= 0.9
    assert with_region.metrics["structure"]["clear"] is True
    assert "region" in with_region.metrics["preprocessing"]["dropped"]


@pytest.fixture(scope="module")
def lapsing_result():
    from custseg.datasets.scenarios import make_scenario

    scenario = make_scenario("active_vs_lapsing", seed=0, n_customers=1500)
    result = custseg.segment(scenario.data, seed=0, new_customers=False)
    return scenario, result


def test_lapsing_regulars_inside_active_ones_are_their_own_segment(lapsing_result):
    """The issue's case: VIPs, loyal regulars, first-timers, lapsing regulars (last purchase
    200-260 days ago) and one-off buyers; geometry alone merged the lapsing regulars into the
    loyal ones."""
    scenario, result = lapsing_result
    found = result.segments.set_index(result.segments["customer_id"].astype(str))["segment"]
    truth = scenario.truth.loc[found.index]
    lapsing = scenario.group_names.index(
        next(g for g in scenario.group_names if "laps" in g.lower())
    )
    members = found[truth == lapsing]
    home = int(members.mode().iloc[0])
    assert (members == home).mean() >= 0.9  # the lapsing regulars stay together...
    assert (truth[found == home] == lapsing).mean() >= 0.9  # ...in a segment of their own
    assert result.metrics["k"] == scenario.k_true
    # (Recent first-timers and the most recent one-off buyers touch: no gap between them.)
    assert adjusted_rand_score(truth[truth >= 0], found[truth >= 0]) >= 0.75
    recency = result.profiles.set_index("segment").loc[home, "days_since_last_purchase"]
    assert recency >= 150


def test_density_noise_holding_top_customers_is_assigned_to_segments():
    rng = np.random.default_rng(8)
    X = np.vstack(
        [
            rng.normal((0, 0), 0.3, (500, 2)),
            rng.normal((4, 0), 0.3, (500, 2)),
            rng.uniform(-2, 6, (20, 2)),  # sparse customers, the richest among them
        ]
    )
    value = np.r_[rng.lognormal(3, 0.3, 1000), rng.lognormal(9, 0.3, 20)]
    plain = select_model(X, seed=0, algorithm="hdbscan", value=value)
    assert (plain.labels < 0).any()  # asked for by name, HDBSCAN keeps its noise
    sel = select_model(X, seed=0, value=value)
    (row,) = [r for r in sel.leaderboard if r["algorithm"] == "hdbscan"]
    assert row["parameters"]["noise_assigned"] is True and row["noise_share"] == 0
    assert "assigned to the segment of the nearest core point" in sel.family_reasons["hdbscan"]
    assert (sel.labels >= 0).all()


def test_values_equal_up_to_rounding_have_no_valley():
    x = np.r_[np.full(100, 0.1 + 0.2), np.full(100, 0.3)]  # differ in the last bit
    assert valley_ratio(x, np.arange(200) < 100) == 1.0
    assert not valley_split(np.c_[x, x], min_size=10).separated


def test_two_density_methods_agreeing_beat_centroids_that_cut_groups_up():
    """classic_rfm_4: four planted RFM groups that are not round. k-means' criteria prefer 6
    pieces; HDBSCAN and DBSCAN both find the same 4 groups, hiding no valley, and no second
    centroid family backs the 6 pieces."""
    from custseg.datasets.scenarios import make_scenario

    scenario = make_scenario("classic_rfm_4", 0)
    result = custseg.segment(scenario.data, seed=0, new_customers=False)
    m = result.metrics
    assert m["algorithm"] in ("hdbscan", "dbscan") and m["k"] == 4
    assert "two density methods" in m["selection_reason"]
    seg = result.segments
    truth = scenario.truth.reindex(seg["customer_id"].astype(str)).to_numpy()
    assert adjusted_rand_score(truth, seg["segment"]) > 0.95
