"""The scenario generator of the selection benchmark: determinism, sizes, truth, kinds, shares."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from custseg.datasets.scenarios import (
    DEV_SEEDS,
    HOLDOUT_SEEDS,
    LINE_STYLES,
    SCENARIOS,
    VARIANT_BOUNDS,
    make_scenario,
    scenario_spec,
)

#: Small sizes keep the whole file fast; the shares are checked to within one customer.
N = 400


def _customer_ids(s) -> pd.Series:
    if s.kind == "customers":
        return s.data.iloc[:, 0].astype(str)
    col = LINE_STYLES[scenario_spec(s.name).style]["customer_id"]
    return s.data[col].astype(str)


def test_registry_covers_the_issue() -> None:
    specs = [scenario_spec(n) for n in SCENARIOS]
    structured = [s for s in specs if s.null is None]
    nulls = [s for s in specs if s.null is not None]
    assert len(structured) >= 24
    assert len(nulls) >= 4
    ks = {len(s.group_names) for s in structured}
    assert min(ks) == 2 and max(ks) == 8
    assert {s.kind for s in structured} == {"transactions", "customers"}
    assert {s.kind for s in nulls} == {"transactions", "customers"}
    shares = [x for s in structured for x in s.shares]
    assert min(shares) == pytest.approx(0.03)
    assert max(s.noise for s in specs) == pytest.approx(0.05)
    assert {s.style for s in specs if s.kind == "transactions"} == set(LINE_STYLES)
    assert not set(DEV_SEEDS) & set(HOLDOUT_SEEDS)


def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown scenario 'nope'\. Scenarios: active_vs_lapsing"):
        make_scenario("nope")


@pytest.mark.parametrize("name", SCENARIOS)
def test_truth_sizes_and_shares(name: str) -> None:
    s = make_scenario(name, n_customers=N)
    spec = scenario_spec(name)
    assert s.kind == spec.kind
    assert s.name == name
    ids = _customer_ids(s)
    assert set(ids) == set(s.truth.index)
    assert len(s.truth) == N
    assert s.truth.index.is_unique
    if s.kind == "customers":
        assert ids.is_unique
    else:
        assert ids.nunique() < len(s.data)  # several lines per customer
    n_noise = int((s.truth == -1).sum())
    assert n_noise == round(spec.noise * N)
    if not s.structured:
        assert s.k_true == 1 and (s.truth == 0).all()
        return
    assert s.k_true == len(s.group_names) == len(spec.shares)
    planted = s.truth[s.truth >= 0]
    counts = planted.value_counts().reindex(range(s.k_true), fill_value=0)
    expected = np.array(spec.shares) / sum(spec.shares) * (N - n_noise)
    # Largest-remainder rounding: every group within one customer of its share.
    assert np.all(np.abs(counts.to_numpy() - expected) < 1)
    assert s.shares == pytest.approx(list(np.array(spec.shares) / sum(spec.shares)))


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = make_scenario("classic_rfm_4", n_customers=N)
    b = make_scenario("classic_rfm_4", n_customers=N)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_series_equal(a.truth, b.truth)
    c = make_scenario("classic_rfm_4", seed=HOLDOUT_SEEDS[0], n_customers=N)
    assert not a.data.equals(c.data)


@pytest.mark.parametrize("seed", HOLDOUT_SEEDS)
def test_holdout_variants_stay_within_bounds(seed: int) -> None:
    for name in ("classic_rfm_4", "mixed_4", "heavy_tail_5"):
        spec = scenario_spec(name)
        s = make_scenario(name, seed=seed)
        assert spec.n_range[0] <= len(s.truth) <= spec.n_range[1]
        low, high = VARIANT_BOUNDS["share_range"]
        assert all(low - 1e-9 <= x <= high + 1e-9 for x in s.shares)
        assert sum(s.shares) == pytest.approx(1.0)
        noise = float((s.truth == -1).mean())
        if spec.noise:
            lo, hi = VARIANT_BOUNDS["noise_range"]
            assert lo - 1 / len(s.truth) <= noise <= hi + 1 / len(s.truth)
        else:
            assert noise == 0


def test_lines_have_every_role_and_a_fixed_end() -> None:
    s = make_scenario("active_vs_lapsing", n_customers=N)
    assert list(s.data.columns) == list(LINE_STYLES["uci"].values())
    dates = pd.to_datetime(s.data["InvoiceDate"])
    assert dates.max().date().isoformat() == "2023-12-31"
    assert (s.data["Quantity"] > 0).all() and (s.data["UnitPrice"] > 0).all()
    # The lapsing regulars last bought 200-260 days before the end.
    lapsing = s.group_names.index("Lapsing regulars")
    ids = s.truth.index[s.truth == lapsing]
    last = dates.groupby(s.data["CustomerID"].astype(str)).max()[ids]
    days = (pd.Timestamp("2023-12-31") - last.dt.normalize()).dt.days
    assert days.between(200, 260).all()


def test_vip_tail_holds_most_of_the_revenue() -> None:
    s = make_scenario("vip_tail", n_customers=1000)
    d = s.data
    revenue = (d["Quantity"] * d["Price"]).groupby(d["Customer ID"].astype(str)).sum()
    vip = s.truth.index[s.truth == s.group_names.index("VIPs")]
    assert 0.02 <= len(vip) / len(s.truth) <= 0.05
    assert revenue[vip].sum() / revenue.sum() > 0.5


def test_one_off_buyers_buy_once() -> None:
    s = make_scenario("cdnow_one_off", n_customers=N)
    orders = s.data.groupby(s.data["CustomerID"].astype(str))["InvoiceNo"].nunique()
    one_off = s.truth.index[s.truth == s.group_names.index("One-off buyers")]
    assert (orders[one_off] == 1).all()
    assert (orders == 1).mean() > 0.5


def test_returns_are_cancellation_lines() -> None:
    s = make_scenario("frequent_returners", n_customers=N)
    cancelled = s.data["InvoiceNo"].str.startswith("C")
    assert cancelled.any()
    assert (s.data.loc[cancelled, "Quantity"] < 0).all()


def test_random_region_is_unrelated_to_the_groups() -> None:
    s = make_scenario("random_region")
    assert s.k_true == 2
    region = s.data.set_index("customer_id")["region"]
    table = pd.crosstab(s.truth, region.reindex(s.truth.index), normalize="index")
    assert set(region.unique()) == {"North", "South", "West"}
    assert np.abs(table.to_numpy() - 1 / 3).max() < 0.06


def test_generation_is_fast() -> None:
    start = time.perf_counter()
    s = make_scenario("active_vs_lapsing")
    seconds = time.perf_counter() - start
    assert len(s.truth) == 3000
    assert 10 <= len(s.data) / len(s.truth) <= 40
    assert seconds < 3
