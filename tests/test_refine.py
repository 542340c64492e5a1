"""Segment boundaries fitted to each segment's spread (custseg.models.refine, and the step of
select_model that uses it): a tight group beside a wide one, where k-means' halfway boundary
gives the wide group's outer customers to the tight one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from custseg.models.refine import PER_INPUT, refine_partition
from custseg.models.select import REFINED_FAMILIES, select_model


def tight_and_wide(seed: int, n: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """A tight group (spread 0.25) and a wide one (0.8) 2.5 apart, scaled; and the truth."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0.0, 0.25, (n, 2)), rng.normal([2.5, 0.0], 0.8, (n, 2))])
    return (X - X.mean(axis=0)) / X.std(axis=0), np.repeat([0, 1], n)


def test_refinement_gives_the_wide_group_its_customers_back() -> None:
    X, truth = tight_and_wide(0)
    halfway = (X[:, 0] > (X[truth == 0, 0].mean() + X[truth == 1, 0].mean()) / 2).astype(int)
    before = adjusted_rand_score(truth, halfway)
    refined = refine_partition(X, halfway, min_size=30)
    assert refined is not None
    after = adjusted_rand_score(truth, refined.labels)
    assert before < 0.9 < after, (before, after)
    assert refined.moved == int((refined.labels != halfway).sum()) > 0
    # The labels are what the fitted discriminant predicts: new customers are scored alike.
    assert np.array_equal(refined.estimator.predict(X), refined.labels)
    assert refined.agreement == pytest.approx(adjusted_rand_score(halfway, refined.labels))


def test_refinement_is_abandoned_below_its_floors() -> None:
    X, _ = tight_and_wide(0)
    # A segment with fewer than PER_INPUT customers per input keeps the chosen boundaries.
    small = np.zeros(len(X), dtype=int)
    small[: PER_INPUT * X.shape[1] - 1] = 1
    assert refine_partition(X, small, min_size=2) is None
    # A refinement that moves anyone disagrees with the start: required agreement 1 refuses it.
    halfway = (X[:, 0] > 0).astype(int)
    moved = refine_partition(X, halfway, min_size=30)
    assert moved is not None and moved.agreement < 1.0
    assert refine_partition(X, halfway, min_size=30, min_agreement=1.0) is None


def test_auto_refines_a_kmeans_pick_and_not_a_family_asked_for() -> None:
    X, truth = tight_and_wide(1)
    sel = select_model(X, seed=0, k=2)
    assert sel.algorithm in REFINED_FAMILIES and sel.refined is not None
    assert sel.refined["moved"] > 0 and sel.refined["agreement"] >= 0.75
    assert np.array_equal(sel.estimator.predict(X), sel.labels)
    assert any("boundaries were then fitted" in note for note in sel.notes)
    asked = select_model(X, seed=0, k=2, algorithm="kmeans")
    assert asked.refined is None
    assert adjusted_rand_score(truth, sel.labels) > adjusted_rand_score(truth, asked.labels) + 0.05


def test_refined_model_saves_loads_and_scores_the_same(tmp_path: Path) -> None:
    import custseg

    X, _ = tight_and_wide(1)
    ids = [f"c{i}" for i in range(len(X))]
    frame = pd.DataFrame({"customer_id": ids, "score_a": X[:, 0] + 10, "score_b": X[:, 1] + 10})
    result = custseg.segment(frame, k=2, seed=0)
    assert result.metrics["refined"] is not None and result.metrics["refined"]["moved"] > 0
    assert result.segments["segment_probability"].between(0.5, 1.0).all()
    result.save(tmp_path / "out")
    model = custseg.load_model(tmp_path / "out" / "model.skops")
    scored = model.predict(frame)
    assert scored["segment"].tolist() == result.segments["segment"].tolist()


@pytest.mark.parametrize("sampled", [False, True])
def test_refinement_step_on_a_kmeans_selection(sampled: bool) -> None:
    """The step itself, on a k-means selection (asked for by name, so never refined by
    select_model): with a sample, the discriminant is fitted on the sample's rows and then
    scores every customer."""
    from custseg.models._assign import fit_sample
    from custseg.models.select import _refine_boundaries

    X, truth = tight_and_wide(3, n=1000)
    max_select = 600 if sampled else None
    sel = select_model(X, seed=0, k=2, algorithm="kmeans", max_select=max_select)
    assert sel.refined is None and (sel.sampling is not None) == sampled
    before = adjusted_rand_score(truth, sel.labels)
    index = fit_sample(len(X), max_select, 0) if sampled else None
    _refine_boundaries(sel, X, index, 3000, 0)
    assert sel.refined is not None and sel.refined["converged"]
    assert np.array_equal(sel.estimator.predict(X), sel.labels)
    assert sel.refined["moved"] == int(sel.refined["moved_share"] * len(X) + 0.5) > 0
    assert adjusted_rand_score(truth, sel.labels) > before + 0.05


def test_headline_scores_describe_the_refined_segments() -> None:
    """metrics.json's silhouette and friends are the refined segments' scores; the leaderboard
    row keeps the k-means candidate as it was compared."""
    import custseg
    from custseg.evaluate import cluster_metrics, wcss

    X, _ = tight_and_wide(1)
    frame = pd.DataFrame({"customer_id": range(len(X)), "a": X[:, 0] + 10, "b": X[:, 1] + 10})
    result = custseg.segment(frame, k=2, seed=0)
    metrics = result.metrics
    refined = metrics["refined"]
    assert refined is not None
    chosen = next(r for r in metrics["leaderboard"] if r["recommended"])
    assert chosen["silhouette"] == pytest.approx(refined["silhouette_before"], abs=1e-4)
    for name in ("silhouette", "davies_bouldin", "calinski_harabasz", "inertia"):
        assert metrics[name] == refined["scores"][name]
    assert metrics["silhouette"] == pytest.approx(refined["silhouette"], abs=1e-4)
    assert metrics["silhouette"] != pytest.approx(chosen["silhouette"], abs=1e-4)
    # The scores are those of the labels customers get, measured on the model inputs.
    labels = result.segments["segment"].to_numpy()
    expected = cluster_metrics(result.model_inputs, labels, random_state=0)
    assert metrics["davies_bouldin"] == pytest.approx(expected["davies_bouldin"])
    assert metrics["calinski_harabasz"] == pytest.approx(expected["calinski_harabasz"])
    assert metrics["inertia"] == pytest.approx(wcss(result.model_inputs, labels))


def subscriptions(seed: int, n: int = 2000) -> tuple[pd.DataFrame, pd.Series]:
    """Invoice lines of a subscription shop: subscribers who buy every 28-32 days, the same
    kind of subscribers who stopped 90-155 days before the end, and one-off trial buyers; and
    the truth per customer."""
    rng = np.random.default_rng(seed)
    prices = np.round(rng.lognormal(1.0, 0.6, 10), 2)
    start, end = pd.Timestamp("2025-01-01"), pd.Timestamp("2026-06-30")
    group = rng.choice(["active", "stopped", "trial"], size=n, p=[0.40, 0.25, 0.35])
    rows, invoice = [], 0
    for i, kind in enumerate(group):
        if kind == "trial":
            days = [start + pd.Timedelta(days=int(rng.integers(0, (end - start).days + 1)))]
            most = 1
        else:
            day = start + pd.Timedelta(days=int(rng.integers(0, 150)))
            stop = end if kind == "active" else end - pd.Timedelta(days=int(rng.integers(90, 155)))
            days = []
            while day <= stop:
                days.append(day)
                day = day + pd.Timedelta(days=int(rng.integers(28, 33)))
            most = 2
        for day in days:
            invoice += 1
            ts = day + pd.Timedelta(hours=int(rng.integers(8, 20)))
            for p in rng.choice(10, size=int(rng.integers(1, most + 1)), replace=False):
                rows.append((f"T{invoice}", ts, f"c{i}", f"P{p}", 1, float(prices[p])))
    columns = ["InvoiceNo", "InvoiceDate", "CustomerID", "StockCode", "Quantity", "UnitPrice"]
    return pd.DataFrame(rows, columns=columns), pd.Series(group, index=[f"c{i}" for i in range(n)])


def test_subscribers_who_stopped_are_split_from_those_who_still_buy() -> None:
    """k-means' pick (2 segments, by the silhouette votes; the valley test cannot raise k,
    since at every k some segment holds two groups on other inputs) keeps the subscribers who
    stopped with those who still buy (the same baskets, the same rhythm, only recency
    differs); their days since the last purchase part at a valley, so that segment is split
    there and the stopped ones are named as lost or at risk, not loyal."""
    import custseg

    lines, truth = subscriptions(1)
    result = custseg.segment(lines, seed=0)
    metrics = result.metrics
    chosen = next(r for r in metrics["leaderboard"] if r["recommended"])
    assert chosen["algorithm"] == "kmeans" and chosen["k"] == 2  # what k-means drew
    split = metrics["refined"]["split"]
    assert split is not None and len(split) == 1 and metrics["k"] == 3
    assert split[0]["ratio"] < 0.1 and sum(split[0]["sizes"]) > 0.6 * len(truth)
    segments = result.segments.set_index(result.segments["customer_id"].astype(str))
    planted = truth.reindex(segments.index)
    assert adjusted_rand_score(planted, segments["segment"]) > 0.95
    stopped = segments.loc[planted == "stopped", "segment_name"].value_counts()
    assert stopped.index[0].startswith(("Lost", "At risk")), stopped
    active = segments.loc[planted == "active", "segment_name"].value_counts()
    assert not active.index[0].startswith(("Lost", "At risk")), active
    assert any("customers who stopped" in note for note in metrics["selection_notes"])
    assert metrics["structure"]["split_at_valley"] == 1
    # The split is numbered as segments.csv numbers segments; the pick's stability is not
    # claimed for the split segments.
    new = segments["segment"] == split[0]["new"]
    assert (planted[new] == "stopped").mean() > 0.95 and new.sum() == split[0]["sizes"][1]
    assert metrics["stability"] is None and metrics["structure"]["stability"] is None
    # The saved model scores customers as the segmentation did.
    features = result.segments.drop(columns=["segment", "segment_name"], errors="ignore")
    assert np.array_equal(result.model.assign(features), result.segments["segment"].to_numpy())


def test_a_fixed_number_of_segments_is_not_split() -> None:
    import custseg

    lines, _ = subscriptions(1)
    result = custseg.segment(lines, seed=0, k=2)
    assert result.metrics["k"] == 2
    assert result.metrics["refined"] is None or result.metrics["refined"]["split"] is None


def test_headline_scores_of_a_sampled_refinement_cover_every_customer() -> None:
    from custseg.evaluate import cluster_metrics, wcss

    X, _ = tight_and_wide(3, n=1000)
    sel = select_model(X, seed=0, k=2, max_select=600)
    assert sel.sampling is not None and sel.refined is not None
    scores = sel.refined["scores"]
    assert scores["inertia"] == pytest.approx(wcss(X, sel.labels))
    expected = cluster_metrics(X, sel.labels, random_state=0)
    assert scores["calinski_harabasz"] == pytest.approx(expected["calinski_harabasz"])
