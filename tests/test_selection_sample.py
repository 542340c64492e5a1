"""Model selection on a sample for large tables (``select_model(max_select=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from custseg.models.select import select_model

CENTERS = [[0, 0, 0, 0], [4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 4, 4]]


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=4_000, centers=CENTERS, cluster_std=0.8, random_state=3)
    return X, y


@pytest.fixture(scope="module")
def sampled(blobs):
    X, _ = blobs
    return select_model(X, algorithm="kmeans", seed=0, max_select=1_000)


def test_sampled_selection_labels_every_customer_and_finds_the_groups(blobs, sampled):
    X, y = blobs
    assert sampled.labels.shape == (len(X),)
    assert sampled.k == 4
    assert adjusted_rand_score(y, sampled.labels) > 0.95
    # The k-means model is refined on every customer: its labels are its own predictions.
    assert (sampled.estimator.predict(X) == sampled.labels).all()


def test_sampled_selection_agrees_with_the_full_comparison(blobs, sampled):
    X, _ = blobs
    full = select_model(X, algorithm="kmeans", seed=0, max_select=None)
    assert full.sampling is None
    assert full.k == sampled.k
    assert adjusted_rand_score(full.labels, sampled.labels) > 0.98


def test_sampled_selection_says_what_was_sampled(sampled):
    info = sampled.sampling
    assert info["customers"] == 4_000 and info["sample"] == 1_000
    assert info["share_error"] == pytest.approx(2 * (0.25 / 1_000) ** 0.5, abs=1e-4)
    assert 0.9 < info["second_sample_ari"] <= 1.0
    assert "seeded sample of 1,000 of the 4,000 customers" in sampled.notes[0]
    chosen = sampled.chosen_row
    # The chosen row is re-scored on every customer; the sample's values are kept beside.
    assert chosen["silhouette_sample"] is not None
    assert chosen["largest_share"] == pytest.approx(np.bincount(sampled.labels).max() / 4_000)


def test_sampled_selection_with_a_density_family_scores_everyone(blobs):
    X, _ = blobs
    sel = select_model(X, algorithm="hdbscan", seed=0, max_select=800)
    assert sel.labels.shape == (len(X),)
    assert sel.sampling["second_sample_ari"] is None
    assert (sel.estimator.predict(X) == sel.labels).all()
