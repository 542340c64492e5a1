"""Density-based clustering (DBSCAN, HDBSCAN) with noise, bounded on large tables, that can
score new points.

Both label customers in sparse regions as noise (segment ``-1``). New customers are scored
with the rule in :mod:`custseg.models._assign`:

- DBSCAN: the cluster of the nearest *core point*, if it lies within ``eps``; otherwise noise.
  This is DBSCAN's own rule for border points, made deterministic (the nearest core point
  wins when several clusters are within reach).
- HDBSCAN: the cluster of the nearest *clustered* point, if it lies within that point's core
  distance (the distance to its ``min_samples``-th neighbour, the scale HDBSCAN itself uses);
  otherwise noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, HDBSCAN
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted, validate_data

from custseg.models._assign import fit_sample, knee_of_sorted_distances, nearest_reference_labels
from custseg.models.families import FamilyModel, FitTask, Fitted

DENSITY_MAX_FIT = 20_000
"""DBSCAN and HDBSCAN are fitted on at most this many customers (HDBSCAN takes about 10 s at
20,000 on 8 features); the rest are assigned by the scoring rule. The report says so."""
MIN_SAMPLES_PER_FEATURE = 2
"""Default ``min_samples`` is twice the number of features (Sander et al. 1998), at least
``MIN_SAMPLES_FLOOR``."""
MIN_SAMPLES_FLOOR = 10
"""With fewer neighbours the k-distance knee gives a radius so small that two half-moons of
300-400 points split into 5-6 pieces; with 10 they come out whole."""
MIN_SAMPLES_CAP = 20
"""One-hot columns inflate the number of features: on the marketing table (37 model inputs)
2 x 37 = 74 neighbours left no radius with two segments, while 20 gives six."""
EPS_FALLBACK_QUANTILES = (0.9, 0.8, 0.7, 0.6, 0.5)
"""With ``eps_fallback``, when the knee radius joins (almost) everyone into one segment, these
quantiles of the k-distances are tried as smaller radii, largest first..."""
MAX_FALLBACK_NOISE = 0.5
"""...and the first that gives two or more segments with at most this share of noise is kept.
Customer data is often one dense mass with a thinning edge, where the knee radius finds a
single segment; a smaller radius shows the denser cores inside it."""
MIN_CLUSTER_SHARE = 0.01
"""Default HDBSCAN ``min_cluster_size``: 1% of the customers fitted (at least 5), the same
floor under which custseg calls a segment degenerate."""


def default_min_samples(n_features: int) -> int:
    """``2 * n_features``, at least 10 and at most 20."""
    return min(MIN_SAMPLES_CAP, max(MIN_SAMPLES_FLOOR, MIN_SAMPLES_PER_FEATURE * n_features))


class _DensityBase(ClusterMixin, BaseEstimator):
    """Shared scoring: nearest reference point within its radius, else noise."""

    def predict(self, X: Any) -> np.ndarray:
        """Segment of each row by the scoring rule; ``-1`` for noise."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return nearest_reference_labels(X, self.reference_, self.reference_labels_, self.radius_)

    def _finish(
        self, X: np.ndarray, reference: np.ndarray, labels: np.ndarray, radius: Any
    ) -> None:
        self.reference_ = reference
        self.reference_labels_ = labels.astype(np.int64)
        self.radius_ = radius
        self.labels_ = nearest_reference_labels(X, reference, self.reference_labels_, radius)
        self.n_clusters_ = len(np.unique(self.labels_[self.labels_ >= 0]))
        self.noise_share_ = float(np.mean(self.labels_ < 0))


def _n_segments(labels: np.ndarray) -> int:
    return len(np.unique(labels[labels >= 0]))


def _sorted_graph(graph: Any) -> Any:
    """``graph`` (CSR) with each row's entries in increasing distance, sorted in one pass
    (scikit-learn's own sort of a precomputed graph goes row by row in Python)."""
    rows = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    order = np.lexsort((graph.data, rows))
    graph.data, graph.indices = graph.data[order], graph.indices[order]
    return graph


class DBSCANClustering(_DensityBase):
    """DBSCAN with ``eps`` read off the k-distance curve, and a ``predict``.

    Parameters
    ----------
    eps : float or None, default=None
        Neighbourhood radius; ``None`` takes the knee of the sorted distances of each point to
        its ``min_samples``-th neighbour.
    min_samples : int or None, default=None
        Points (itself included) within ``eps`` that make a core point; ``None`` gives
        ``2 * n_features``, at least 10 and at most 20.
    eps_fallback : bool, default=False
        When ``eps`` is chosen and the knee gives fewer than two segments, try the smaller
        radii of ``EPS_FALLBACK_QUANTILES`` (``eps_source_`` then says which was kept).
    max_fit_samples : int or None, default=20000
        Fit on at most this many points (``None``: all).
    random_state : int or None, default=None
        Seed of the sample.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment per point, ``-1`` for noise.
    eps_, min_samples_ : float, int
        The values used.
    eps_source_ : str
        ``"given"``, ``"knee"``, or the k-distance quantile used by the fallback.
    n_clusters_ : int
    noise_share_ : float
    reference_ : ndarray
        Core points; ``reference_labels_`` their segments; ``radius_`` is ``eps_``.
    sampled_ : bool

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> X, y = make_moons(n_samples=300, noise=0.05, random_state=0)
    >>> DBSCANClustering().fit(X).n_clusters_
    2
    """

    def __init__(
        self,
        *,
        eps: float | None = None,
        min_samples: int | None = None,
        eps_fallback: bool = False,
        max_fit_samples: int | None = DENSITY_MAX_FIT,
        random_state: int | None = None,
    ) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.eps_fallback = eps_fallback
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> DBSCANClustering:
        """Fit DBSCAN (on a sample when large) and label every point."""
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if self.eps is not None and not self.eps > 0:
            raise ValueError(f"eps must be a positive distance; got {self.eps!r}.")
        if self.min_samples is not None and not (
            isinstance(self.min_samples, (int, np.integer)) and self.min_samples >= 2
        ):
            raise ValueError(f"min_samples must be a whole number >= 2; got {self.min_samples!r}.")
        index = fit_sample(X.shape[0], self.max_fit_samples, self.random_state)
        Xs = X[index]
        self.sampled_ = len(index) < X.shape[0]
        self.min_samples_ = int(
            min(self.min_samples or default_min_samples(X.shape[1]), len(index))
        )
        self.eps_source_ = "given"
        if self.eps is None:
            nn = NearestNeighbors(n_neighbors=self.min_samples_).fit(Xs)
            kdist = nn.kneighbors(Xs)[0][:, -1]
            eps = knee_of_sorted_distances(kdist)
            # All points identical: any positive radius joins them.
            self.eps_ = eps if eps > 0 else 1e-9
            self.eps_source_ = "knee"
        else:
            self.eps_ = float(self.eps)
        db = DBSCAN(eps=self.eps_, min_samples=self.min_samples_).fit(Xs)
        if self.eps is None and self.eps_fallback and _n_segments(db.labels_) < 2:
            radii = [(q, float(np.quantile(kdist, q))) for q in EPS_FALLBACK_QUANTILES]
            radii = [(q, r) for q, r in radii if 0 < r < self.eps_]
            # The neighbourhoods within the largest radius tried are searched once: DBSCAN at
            # each radius is a filter of them (on the sparse distance graph it gives the same
            # segments as on the points).
            largest = max((r for _, r in radii), default=0.0)
            graph = _sorted_graph(nn.radius_neighbors_graph(Xs, radius=largest, mode="distance"))
            for q, eps in radii:
                trial = DBSCAN(eps=eps, min_samples=self.min_samples_, metric="precomputed")
                trial.fit(graph)
                labels = np.asarray(trial.labels_)
                if _n_segments(labels) >= 2 and np.mean(labels < 0) <= MAX_FALLBACK_NOISE:
                    db, self.eps_ = trial, eps
                    self.eps_source_ = f"{q:.0%} quantile of the k-distances"
                    break
        core = np.asarray(db.core_sample_indices_, dtype=np.int64)
        self._finish(X, Xs[core], np.asarray(db.labels_)[core], self.eps_)
        return self


class HDBSCANClustering(_DensityBase):
    """scikit-learn's HDBSCAN with segment-sized defaults, and a ``predict``.

    Parameters
    ----------
    min_cluster_size : int or None, default=None
        Smallest group called a segment; ``None`` gives 1% of the points fitted (at least 5).
    min_samples : int or None, default=None
        Neighbours that set a point's core distance; ``None`` uses ``min_cluster_size``.
    max_fit_samples : int or None, default=20000
        Fit on at most this many points (``None``: all).
    random_state : int or None, default=None
        Seed of the sample.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment per point, ``-1`` for noise.
    min_cluster_size_, min_samples_ : int
    n_clusters_ : int
    noise_share_ : float
    reference_ : ndarray
        Clustered fitted points; ``reference_labels_`` their segments; ``radius_`` their core
        distances.
    sampled_ : bool

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
    >>> HDBSCANClustering().fit(X).n_clusters_
    3
    """

    def __init__(
        self,
        *,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        max_fit_samples: int | None = DENSITY_MAX_FIT,
        random_state: int | None = None,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> HDBSCANClustering:
        """Fit HDBSCAN (on a sample when large) and label every point."""
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        for name in ("min_cluster_size", "min_samples"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, np.integer)) and value >= 2):
                raise ValueError(f"{name} must be a whole number >= 2; got {value!r}.")
        index = fit_sample(X.shape[0], self.max_fit_samples, self.random_state)
        Xs = X[index]
        n = len(index)
        self.sampled_ = n < X.shape[0]
        size = self.min_cluster_size or max(5, math.ceil(MIN_CLUSTER_SHARE * n))
        self.min_cluster_size_ = int(min(max(size, 2), n))
        self.min_samples_ = int(min(self.min_samples or self.min_cluster_size_, n))
        hdb = HDBSCAN(
            min_cluster_size=self.min_cluster_size_,
            min_samples=self.min_samples_,
            copy=True,
        ).fit(Xs)
        labels = np.asarray(hdb.labels_, dtype=np.int64)
        clustered = labels >= 0
        core = NearestNeighbors(n_neighbors=self.min_samples_).fit(Xs).kneighbors(Xs)[0][:, -1]
        self._finish(X, Xs[clustered], labels[clustered], core[clustered])
        return self


class _DensityFamily(FamilyModel):
    """A density family of model selection: one fit, on a seeded sample of at most
    :data:`DENSITY_MAX_FIT` customers, that finds its own number of segments."""

    max_fit = DENSITY_MAX_FIT

    def estimator(self, params: dict[str, Any], seed: int) -> _DensityBase:
        raise NotImplementedError

    def fit(self, task: FitTask) -> dict[int, Fitted]:
        est = self.estimator(task.params, task.seed).fit(task.X)
        return {int(est.n_clusters_): Fitted(est, est.labels_)}


class DBSCANFamily(_DensityFamily):
    """DBSCAN in model selection: eps from the knee of the k-distances unless given, with the
    quantile fallback when the knee puts (almost) everyone in one segment."""

    def estimator(self, params: dict[str, Any], seed: int) -> _DensityBase:
        return DBSCANClustering(
            eps=params.get("eps"),
            min_samples=params.get("min_samples"),
            eps_fallback=True,
            max_fit_samples=DENSITY_MAX_FIT,
            random_state=seed,
        )

    def parameters(self, estimator: Any) -> dict[str, Any]:
        return {
            "eps": round(estimator.eps_, 4),
            "min_samples": estimator.min_samples_,
            "eps_source": estimator.eps_source_,
        }

    def warnings(self, row: Mapping[str, Any]) -> list[str]:
        params = row["parameters"]
        if not params.get("eps_source", "").endswith("k-distances"):
            return []
        return [
            "DBSCAN's radius at the knee of the k-distance curve put (almost) every customer in "
            f"one segment; eps={params['eps']} (the {params['eps_source']}) was used instead. "
            "Pass --eps to choose it"
        ]

    def no_segments_hint(self, all_noise: bool) -> str:
        radius = "a larger --eps" if all_noise else "a smaller --eps"
        return f"Pass {radius} or a smaller --min-samples, or use --algorithm hdbscan or kmeans."


class HDBSCANFamily(_DensityFamily):
    """HDBSCAN in model selection: the smallest segment 1% of customers unless given."""

    def estimator(self, params: dict[str, Any], seed: int) -> _DensityBase:
        return HDBSCANClustering(
            min_cluster_size=params.get("min_cluster_size"),
            min_samples=params.get("min_samples"),
            max_fit_samples=DENSITY_MAX_FIT,
            random_state=seed,
        )

    def parameters(self, estimator: Any) -> dict[str, Any]:
        return {
            "min_cluster_size": estimator.min_cluster_size_,
            "min_samples": estimator.min_samples_,
        }


DBSCAN_MODEL = DBSCANFamily()
"""The ``dbscan`` entry of :data:`custseg.models.families.REGISTRY` points here."""
HDBSCAN_MODEL = HDBSCANFamily()
"""The ``hdbscan`` entry of :data:`custseg.models.families.REGISTRY` points here."""
