"""Every clustering family: the scikit-learn contract, scoring new customers, the automatic
choice between families, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import custseg
from custseg.errors import InputError
from custseg.models import (
    DBSCANClustering,
    HDBSCANClustering,
    HierarchicalClustering,
    KPrototypesClustering,
)
from custseg.models._assign import knee_of_sorted_distances, nearest_reference_labels
from custseg.models.families import FAMILIES
from custseg.models.select import select_model

ALGORITHMS = list(FAMILIES)


# Gaussian mixtures are scikit-learn's own GaussianMixture (checked upstream); custseg's own
# estimators are checked here. Every check applies: none is skipped. KPrototypesClustering is
# checked without and with a categorical column (the check data's floats act as categories).
@parametrize_with_checks(
    [
        HierarchicalClustering(),
        DBSCANClustering(),
        HDBSCANClustering(),
        KPrototypesClustering(random_state=0),
        KPrototypesClustering(categorical=(0,), random_state=0),
    ]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def planted_customers(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer table with three planted segments in two numbers and one category."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    centres = np.array([[20.0, 200.0], [60.0, 900.0], [100.0, 300.0]])
    values = centres[truth] + rng.normal(0, [6.0, 60.0], size=(n, 2))
    channel = np.array(["web", "store", "phone"])[truth]
    flip = rng.random(n) < 0.1
    channel[flip] = rng.choice(["web", "store", "phone"], flip.sum())
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "income": values[:, 0],
            "spend": values[:, 1],
            "channel": channel,
        }
    )
    return frame, truth


def moons_customers(
    n: int = 600, n_noise: int = 30, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Two interleaved half-moons plus uniform noise, as a customer table (truth -1: noise)."""
    X, y = make_moons(n_samples=n, noise=0.06, random_state=seed)
    rng = np.random.default_rng(seed)
    noise = rng.uniform([-1.5, -1.0], [2.5, 1.5], size=(n_noise, 2))
    X = np.vstack([X, noise]) * [30.0, 20.0] + [50.0, 40.0]
    truth = np.r_[y, np.full(n_noise, -1)]
    frame = pd.DataFrame(
        {"customer_id": np.arange(len(X)).astype(str), "visits": X[:, 0], "basket": X[:, 1]}
    )
    return frame, truth


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_segments_and_scores_new_customers(algorithm, tmp_path):
    frame, truth = planted_customers()
    result = custseg.segment(frame, kind="customers", algorithm=algorithm, seed=0)
    m = result.metrics
    assert m["algorithm"] == algorithm
    assert {r["algorithm"] for r in m["leaderboard"]} == {algorithm}
    segments = result.segments
    assert len(segments) == len(frame)
    # The model round trip reproduces the training labels exactly, whatever the batch.
    result.save(tmp_path / "out")
    model = custseg.load_model(tmp_path / "out" / "model.skops")
    scored = model.predict(frame)
    np.testing.assert_array_equal(scored["segment"], segments["segment"])
    chunks = pd.concat([model.predict(frame.iloc[i : i + 70]) for i in range(0, len(frame), 70)])
    np.testing.assert_array_equal(chunks["segment"], segments["segment"])
    one = model.predict(frame.iloc[[5]])
    assert one["segment"].iloc[0] == segments["segment"].iloc[5]
    if algorithm == "gmm":
        p = segments["segment_probability"]
        assert p.between(0, 1).all() and p.mean() > 0.5
        np.testing.assert_allclose(scored["segment_probability"], p)
    else:
        assert "segment_probability" not in segments
    if algorithm in ("kmeans", "hierarchical", "kprototypes"):
        # Planted segments are found by the centroid families. (BIC lets a mixture model the
        # one-hot category columns with extra components, so GMM is checked at a fixed k.)
        assert adjusted_rand_score(truth, segments["segment"]) >= 0.9
    if algorithm == "gmm":
        fixed = custseg.segment(frame, kind="customers", algorithm="gmm", k=3, seed=0)
        assert adjusted_rand_score(truth, fixed.segments["segment"]) >= 0.9


def test_auto_recovers_planted_customer_segments():
    frame, truth = planted_customers(seed=1)
    result = custseg.segment(frame, kind="customers", seed=0)
    m = result.metrics
    assert m["k"] == 3
    assert adjusted_rand_score(truth, result.segments["segment"]) >= 0.9
    assert {r["algorithm"] for r in m["leaderboard"]} == set(FAMILIES)
    chosen = [r for r in m["leaderboard"] if r["recommended"]]
    assert len(chosen) == 1 and chosen[0]["algorithm"] == m["algorithm"]
    assert m["selection_reason"].startswith(custseg.models.families.FAMILY_LABELS[m["algorithm"]])
    for row in m["leaderboard"]:
        for key in ("silhouette", "davies_bouldin", "calinski_harabasz", "noise_share"):
            assert key in row
        # Stability is measured where the choice looks: the recommended row, and each
        # centroid family's pick (a density pick only where it could win, on valleys).
        density = row["algorithm"] in custseg.models.families.DENSITY_FAMILIES
        if row["recommended"] or (row["family_choice"] and not density):
            assert row["stability_repeats"] == custseg.models.select.STABILITY_REPEATS
        if not row["stability_repeats"]:
            assert row["stability"] is None
        assert 0 <= row["smallest_share"] <= row["largest_share"] <= 1
    assert all(r["bic"] is not None for r in m["leaderboard"] if r["algorithm"] == "gmm")


def test_kprototypes_uses_categories_as_categories():
    frame, _ = planted_customers()
    result = custseg.segment(frame, kind="customers", algorithm="kprototypes", seed=0)
    est = result.model.estimator
    assert isinstance(est, KPrototypesClustering)
    assert est.categorical == (2,) and est.modes_.shape == (3, 1)
    # The model's preprocessor gives one code column for 'channel', not one-hot dummies.
    assert list(result.model.preprocessor.get_feature_names_out()) == ["income", "spend", "channel"]


def test_density_methods_recover_half_moons():
    frame, truth = moons_customers()
    signal = truth >= 0
    for algorithm in ("dbscan", "hdbscan"):
        result = custseg.segment(frame, kind="customers", algorithm=algorithm, seed=0)
        labels = result.segments["segment"].to_numpy()
        assert result.metrics["k"] == 2
        assert adjusted_rand_score(truth[signal], labels[signal]) >= 0.9
        # Noise keeps segment -1, is named and counted.
        noise = result.profiles.set_index("segment").loc[-1]
        assert noise["segment_name"] == "Noise" and noise["n_customers"] == (labels == -1).sum()
        assert (labels[~signal] == -1).mean() > 0.5


def test_auto_does_not_prefer_kmeans_on_half_moons_without_saying_why():
    frame, truth = moons_customers()
    result = custseg.segment(frame, kind="customers", seed=0)
    m = result.metrics
    reason = m["selection_reason"]
    if m["algorithm"] in ("dbscan", "hdbscan"):
        signal = truth >= 0
        labels = result.segments["segment"].to_numpy()
        assert adjusted_rand_score(truth[signal], labels[signal]) >= 0.9
        assert "not round" in reason and "silhouette" in reason
    else:  # pragma: no cover - the rule above is what the product does today
        assert "DBSCAN" in reason or "HDBSCAN" in reason


def test_select_model_on_blobs_and_a_fixed_k():
    X, y = make_blobs(n_samples=400, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    sel = select_model(X, seed=0)
    assert sel.k == 3 and adjusted_rand_score(y, sel.labels) > 0.95
    fixed = select_model(X, k=4, seed=0)
    assert fixed.k == 4
    assert {r["algorithm"] for r in fixed.leaderboard} == {"kmeans", "gmm", "hierarchical"}
    assert any("DBSCAN and HDBSCAN left out" in n for n in fixed.notes)


def test_degenerate_solutions_are_never_recommended():
    # One tight blob and a scatter of outliers: HDBSCAN calls most points noise or finds one
    # segment; whatever is recommended has no segment under 1% and no giant segment.
    X, _ = make_blobs(n_samples=500, centers=[[0, 0], [6, 6]], cluster_std=1.0, random_state=3)
    X = np.vstack([X, [[60.0, 60.0]]])
    sel = select_model(X, seed=0)
    row = sel.chosen_row
    assert row["excluded"] is None
    assert row["smallest_share"] >= 0.01 and row["largest_share"] <= 0.9
    assert row["noise_share"] <= 0.2


def test_segments_that_copy_one_category_are_not_recommended():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(300).astype(str),
            "age": rng.normal(40, 12, 300),
            "spend": rng.normal(500, 150, 300),
            "gender": rng.choice(["F", "M"], 300),
        }
    )
    result = custseg.segment(frame, kind="customers", seed=0)
    rows = result.metrics["leaderboard"]
    copies = [
        r for r in rows if r["excluded"] and "only split customers by 'gender'" in r["excluded"]
    ]
    chosen = next(r for r in rows if r["recommended"])
    assert copies and chosen not in copies


def test_hierarchical_is_bounded_on_large_n_and_says_so():
    X, y = make_blobs(n_samples=1200, centers=3, cluster_std=0.7, random_state=1)
    model = HierarchicalClustering(n_clusters=3, max_fit_samples=300, random_state=0).fit(X)
    assert model.sampled_ and len(model.fit_points_) == 300
    assert adjusted_rand_score(y, model.labels_) > 0.95
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    linkage = HierarchicalClustering(n_clusters=3, linkage="average").fit(X)
    assert adjusted_rand_score(y, linkage.labels_) > 0.9
    with pytest.raises(ValueError, match="linkage must be one of ward, complete, average, single"):
        HierarchicalClustering(linkage="median").fit(X)


def test_dbscan_eps_from_the_knee_and_noise_rule():
    X, y = make_moons(n_samples=400, noise=0.05, random_state=0)
    model = DBSCANClustering().fit(X)
    assert model.n_clusters_ == 2 and model.eps_ > 0
    assert adjusted_rand_score(y, model.labels_) > 0.95
    far = model.predict(np.array([[10.0, 10.0]]))
    assert far.tolist() == [-1]
    assert knee_of_sorted_distances(np.r_[np.ones(50), [5.0, 9.0]]) == 1.0


def test_dbscan_falls_back_to_a_smaller_radius_when_asked_by_name():
    # Two touching blobs: the knee radius joins them; a smaller quantile radius parts them.
    X, y = make_blobs(
        n_samples=[500, 500], centers=[[0, 0], [2.5, 0]], cluster_std=0.8, random_state=0
    )
    knee = DBSCANClustering().fit(X)
    assert knee.n_clusters_ == 1 and knee.eps_source_ == "knee"
    fallback = DBSCANClustering(eps_fallback=True).fit(X)
    assert fallback.n_clusters_ == 2 and fallback.eps_ < knee.eps_
    assert fallback.eps_source_ == "70% quantile of the k-distances"
    assert fallback.noise_share_ <= 0.5
    np.testing.assert_array_equal(fallback.predict(X), fallback.labels_)
    frame = pd.DataFrame({"customer_id": np.arange(1000).astype(str), "a": X[:, 0], "b": X[:, 1]})
    result = custseg.segment(frame, kind="customers", algorithm="dbscan", seed=0)
    assert result.metrics["k"] >= 2
    assert any("was used instead. Pass --eps to choose it" in w for w in result.metrics["warnings"])


def test_nearest_reference_rule_is_per_row():
    ref = np.array([[0.0, 0.0], [4.0, 0.0]])
    labels = np.array([0, 1])
    X = np.array([[1.0, 0.0], [3.5, 0.0], [20.0, 0.0]])
    out = nearest_reference_labels(X, ref, labels, np.array([2.0, 1.0]))
    assert out.tolist() == [0, 1, -1]
    assert [
        nearest_reference_labels(X[[i]], ref, labels, np.array([2.0, 1.0]))[0] for i in range(3)
    ] == out.tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "kmedoids"}, "Unknown algorithm 'kmedoids'. Choose one of: auto, kmeans"),
        ({"algorithm": "dbscan", "k": 3}, "k does not apply to DBSCAN"),
        (
            {"algorithm": "kmeans", "params": {"eps": 0.5}},
            "Parameter 'eps' does not apply to kmeans",
        ),
        ({"params": {"depth": 3}}, "Unknown algorithm parameter 'depth'"),
        (
            {"params": {"linkage": "median"}},
            r'params=\{"linkage": \.\.\.\} must be one of ward, complete',
        ),
        ({"params": {"eps": -1.0}}, r'params=\{"eps": \.\.\.\} must be a positive number'),
        (
            {"params": {"min_samples": 1}},
            r'params=\{"min_samples": \.\.\.\} must be a whole number of at least 2',
        ),
        (
            {"algorithm": "dbscan", "params": {"eps": 1e-6}},
            r'DBSCAN found no segmentation: every customer is noise .* Pass a larger params=\{"eps"',
        ),
    ],
)
def test_bad_algorithm_options(kwargs, message):
    frame, _ = planted_customers(120)
    with pytest.raises(InputError, match=message):
        custseg.segment(frame, kind="customers", seed=0, **kwargs)


def test_single_category_table_and_too_few_customers_for_k():
    frame, _ = planted_customers(40)
    with pytest.raises(InputError, match="fewer than k=50"):
        custseg.segment(frame, kind="customers", k=50, algorithm="hierarchical")
    result = custseg.segment(
        frame[["customer_id", "income", "spend"]], kind="customers", algorithm="kprototypes"
    )
    assert any("no categorical attributes" in w for w in result.metrics["warnings"])
    assert result.metrics["algorithm"] == "kprototypes"


def test_cli_algorithm_options(tmp_path, run_cli):
    frame, _ = planted_customers(150)
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    code, out, err = run_cli(
        "segment",
        path,
        "--out",
        tmp_path / "o",
        "--algorithm",
        "hierarchical",
        "--linkage",
        "average",
    )
    assert code == 0, err
    assert "Candidates compared on 150 customers" in out and "hierarchical" in out
    assert "Recommendation: hierarchical with 3 segments" in out
    code, out, err = run_cli(
        "segment", path, "--out", tmp_path / "o2", "--algorithm", "dbscan", "--k", "3"
    )
    assert code == 2 and err.startswith("error: --k does not apply to DBSCAN")
