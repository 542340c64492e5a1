"""AutoKMeans: the scikit-learn contract, and the choice of k."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from custseg.evaluate import cluster_metrics, knee_point
from custseg.models import AutoKMeans
from custseg.preprocess import OutlierClipper, SkewTransformer


@parametrize_with_checks(
    [AutoKMeans(random_state=0, k_max=3, n_init=1), SkewTransformer(), OutlierClipper()]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_recovers_separated_blobs(k):
    centers = [[0, 0], [10, 0], [0, 10], [10, 10], [5, 20]][:k]
    X, y = make_blobs(n_samples=600, centers=centers, cluster_std=1.0, random_state=k)
    model = AutoKMeans(random_state=0).fit(X)
    assert model.n_clusters_ == k
    assert model.structure_ == "separated"
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert f"k={k}" in model.reason_


def test_fixed_k_is_not_written_back():
    X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    model = AutoKMeans(n_clusters=4, random_state=0).fit(X)
    assert model.n_clusters is None or model.n_clusters == 4
    assert model.n_clusters_ == 4
    assert model.reason_ == "k=4 was fixed by the user"
    auto = AutoKMeans(random_state=0).fit(X)
    assert auto.n_clusters is None


def test_selection_table_has_every_k_and_criterion():
    X, _ = make_blobs(n_samples=300, centers=4, random_state=1)
    model = AutoKMeans(random_state=0).fit(X)
    assert [r["k"] for r in model.selection_] == list(range(2, 11))
    for row in model.selection_:
        for key in (
            "inertia",
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "smallest_share",
            "eligible",
        ):
            assert key in row
    inertias = [r["inertia"] for r in model.selection_]
    assert inertias == sorted(inertias, reverse=True)


def test_continuum_uses_the_elbow():
    # One elongated Gaussian cloud: no separated clusters; silhouette alone would say k=2.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3)) * np.array([4.0, 1.0, 0.5])
    model = AutoKMeans(random_state=0).fit(X)
    assert model.structure_ == "continuum"
    assert abs(model.n_clusters_ - model.knee_) <= 1
    assert "No number of segments reaches a silhouette of 0.5" in model.reason_


def test_degenerate_solutions_are_not_recommended():
    X, _ = make_blobs(n_samples=500, centers=[[0, 0], [10, 10]], cluster_std=0.5, random_state=0)
    X = np.vstack([X, [[100.0, 100.0]]])  # one far outlier makes k=3 put it alone
    model = AutoKMeans(random_state=0, k_max=4).fit(X)
    shares = np.bincount(model.labels_) / len(X)
    assert shares.min() >= 0.01


def test_same_seed_same_labels():
    X, _ = make_blobs(n_samples=400, centers=4, random_state=3)
    a = AutoKMeans(random_state=7).fit(X).labels_
    b = AutoKMeans(random_state=7).fit(X).labels_
    np.testing.assert_array_equal(a, b)


def test_silhouette_is_sampled_on_large_n():
    X, y = make_blobs(n_samples=3000, centers=3, random_state=0)
    small = cluster_metrics(X, y, sample_size=1000, random_state=0)
    assert small["silhouette_sampled"] and small["silhouette_sample_size"] == 1000
    full = cluster_metrics(X, y, sample_size=10_000)
    assert not full["silhouette_sampled"]
    assert small["silhouette"] == pytest.approx(full["silhouette"], abs=0.03)


def test_knee_point_of_a_clear_elbow():
    assert knee_point([2, 3, 4, 5, 6, 7], [1000, 400, 120, 100, 90, 85]) == 4


def test_few_candidates_do_not_claim_separation():
    # Three distinct points allow only k=2: no elbow, and the reason must not say "separated".
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.2], [0.0, 1.2]])
    model = AutoKMeans(random_state=0).fit(X)
    assert model.structure_ == "few"
    assert "well separated" not in model.reason_ and "too few for an elbow" in model.reason_
