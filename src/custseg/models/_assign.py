"""Shared pieces of the clusterers that have no native ``predict``: fitting on a sample, and
the out-of-sample rule "segment of the nearest reference point, or noise beyond its radius".

Hierarchical clustering, DBSCAN and HDBSCAN label only the points they were fitted on. custseg
scores every other customer (the rest of a large table, or a new customer) with one rule:

    find the nearest reference point (a fitted customer, or a core point); if the distance is
    within that point's radius, take its segment; otherwise the customer is noise (-1).

The training labels are computed with the same rule, so scoring the training table gives them
back exactly and scoring does not depend on the batch (each row is scored alone).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KDTree
from sklearn.utils import check_random_state


def fit_sample(n_samples: int, max_samples: int | None, random_state: object) -> np.ndarray:
    """Sorted indices of the rows to fit on: all of them, or a seeded sample of ``max_samples``.

    Examples
    --------
    >>> fit_sample(5, None, 0).tolist()
    [0, 1, 2, 3, 4]
    >>> len(fit_sample(1000, 100, 0))
    100
    """
    if max_samples is None or n_samples <= max_samples:
        return np.arange(n_samples)
    rng = check_random_state(random_state)
    return np.sort(rng.choice(n_samples, size=max_samples, replace=False))


def nearest_reference_labels(
    X: np.ndarray,
    reference: np.ndarray,
    reference_labels: np.ndarray,
    radius: float | np.ndarray = np.inf,
) -> np.ndarray:
    """Label of the nearest reference point, or -1 where it is farther than its radius.

    Distances are exact Euclidean distances from a k-d tree, so a row's label depends on
    that row alone.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    reference : ndarray of shape (n_reference, n_features)
    reference_labels : ndarray of int, shape (n_reference,)
    radius : float or ndarray of shape (n_reference,)
        Largest distance at which a reference point passes on its label.

    Examples
    --------
    >>> ref = np.array([[0.0], [10.0]])
    >>> nearest_reference_labels(np.array([[1.0], [9.0], [50.0]]), ref, np.array([0, 1]), 5.0)
    array([ 0,  1, -1])
    """
    out = np.full(X.shape[0], -1, dtype=np.int64)
    if len(reference) == 0 or X.shape[0] == 0:
        return out
    dist, ind = KDTree(reference).query(X, k=1)
    dist, ind = dist[:, 0], ind[:, 0]
    limit = radius[ind] if isinstance(radius, np.ndarray) else radius
    inside = dist <= limit
    out[inside] = reference_labels[ind[inside]]
    return out


def knee_of_sorted_distances(distances: np.ndarray) -> float:
    """The knee of an increasing k-distance curve: the value farthest below the chord that
    joins its ends (Kneedle, Satopaa et al. 2011), used as DBSCAN's ``eps``.

    Examples
    --------
    >>> d = np.array([1.0, 1.0, 1.1, 1.1, 1.2, 1.2, 1.3, 5.0, 9.0])
    >>> knee_of_sorted_distances(d)
    1.3
    """
    y = np.sort(np.asarray(distances, dtype=float))
    if len(y) < 3 or np.ptp(y) == 0:
        return float(y[-1]) if len(y) else 0.0
    x = np.linspace(0.0, 1.0, len(y))
    yn = (y - y[0]) / np.ptp(y)
    return float(y[int(np.argmax(x - yn))])
