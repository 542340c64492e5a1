"""K-means that chooses its own number of clusters from several criteria."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted, validate_data

from custseg.evaluate import SILHOUETTE_SAMPLE, SilhouetteSample, cluster_metrics
from custseg.models._threads import PARALLEL_FROM, limit
from custseg.models.choose import MIN_CLUSTER_SHARE, choose_k
from custseg.models.families import FamilyModel, FitTask, Fitted

KMEANS_N_INIT = 4
"""k-means restarts per k in model selection (the best is kept); stability refits ask for
fewer. From k-means++ seeds, 4 restarts made the same choices as 10 on the scenario
benchmark's dev set and on the shared datasets, in 40% of the time."""


class AutoKMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means with the number of clusters chosen from k_min..k_max, or fixed.

    Every k in the range is fitted and scored on the elbow of WCSS, silhouette,
    Davies-Bouldin and Calinski-Harabasz. Solutions whose smallest cluster holds fewer than
    ``min_cluster_share`` of the points are not recommended. Then:

    - if the best silhouette reaches ``STRONG_SILHOUETTE`` (0.5), the data has separated
      clusters: each criterion votes for its best k, the k with most votes wins, and ties go
      to the better silhouette;
    - otherwise the clusters are parts of a continuum, where silhouette, Davies-Bouldin and
      Calinski-Harabasz all drift towards k=2; the elbow of WCSS sets k, unless a k within
      one of it is better on both silhouette and Davies-Bouldin.

    Ties go to the smaller k.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Fix the number of clusters; ``None`` chooses it.
    k_min, k_max : int, default=2, 10
        Range of k tried when choosing.
    n_init : int, default=10
        K-means restarts per k (the best is kept).
    min_cluster_share : float, default=0.01
        Smallest acceptable cluster, as a share of points.
    silhouette_sample_size : int, default=3000
        Above this many points the silhouette is computed on a sample.
    random_state : int or None, default=None
        Seed for k-means and the silhouette sample.

    Attributes
    ----------
    n_clusters_ : int
        The chosen number of clusters.
    labels_ : ndarray of shape (n_samples,)
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    inertia_ : float
        WCSS of the chosen solution.
    selection_ : list of dict
        One row per k tried: ``k``, ``inertia``, ``silhouette``, ``davies_bouldin``,
        ``calinski_harabasz``, ``smallest_share``, ``mean_rank``, ``eligible``, ``in_window``,
        ``seconds``.
    structure_ : {"separated", "continuum", "few", "fixed"}
        Whether the data showed separated clusters (best silhouette >= 0.5), a continuum,
        too few candidate k for an elbow, or k was fixed by the user.
    knee_ : int or None
        Knee of the WCSS curve.
    reason_ : str
        Why ``n_clusters_`` was chosen, in words.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.5, random_state=0)
    >>> AutoKMeans(random_state=0).fit(X).n_clusters_
    4
    """

    def __init__(
        self,
        *,
        n_clusters: int | None = None,
        k_min: int = 2,
        k_max: int = 10,
        n_init: int = 10,
        min_cluster_share: float = MIN_CLUSTER_SHARE,
        silhouette_sample_size: int = SILHOUETTE_SAMPLE,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_min = k_min
        self.k_max = k_max
        self.n_init = n_init
        self.min_cluster_share = min_cluster_share
        self.silhouette_sample_size = silhouette_sample_size
        self.random_state = random_state

    def _candidate_ks(self, n_samples: int, n_distinct: int) -> list[int]:
        if self.n_clusters is not None:
            if not 1 <= self.n_clusters <= n_distinct:
                raise ValueError(
                    f"n_clusters={self.n_clusters} needs at least that many distinct points; "
                    f"got {n_distinct} distinct of {n_samples}."
                )
            return [int(self.n_clusters)]
        top = min(self.k_max, n_distinct, n_samples - 1)
        ks = list(range(self.k_min, top + 1))
        return ks or [max(1, min(self.k_min, n_distinct))]

    def fit(self, X: Any, y: Any = None) -> AutoKMeans:
        """Fit k-means for each candidate k and keep the recommended one."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n = X.shape[0]
        n_distinct = len(np.unique(X, axis=0))
        ks = self._candidate_ks(n, n_distinct)
        seed = 0 if self.random_state is None else self.random_state
        rows: list[dict[str, Any]] = []
        fits: dict[int, KMeans] = {}
        start = time.perf_counter()
        silhouette = SilhouetteSample(X, self.silhouette_sample_size, seed) if len(ks) > 1 else None
        # On small data one thread is faster than several, and it cannot stall when the machine's
        # cores are busy (OpenMP threads wait for each other); large data gets every core.
        threads = 1 if n < PARALLEL_FROM else None
        for k in ks:
            with limit(limits=threads, user_api="openmp"):
                km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(X)
            fits[k] = km
            sizes = np.bincount(km.labels_, minlength=k)
            row: dict[str, Any] = {"k": k, "inertia": float(km.inertia_)}
            row.update(
                cluster_metrics(
                    X,
                    km.labels_,
                    random_state=seed,
                    sample_size=self.silhouette_sample_size,
                    silhouette_sample=silhouette,
                )
            )
            row["smallest_share"] = float(sizes.min() / n)
            row["seconds"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            rows.append(row)
        choice = choose_k(rows, min_cluster_share=self.min_cluster_share)
        self.knee_ = choice.knee
        self.structure_ = choice.structure
        self.reason_ = choice.reason
        chosen = choice.k
        self.selection_ = rows
        self.kmeans_ = fits[chosen]
        self.n_clusters_ = chosen
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.inertia_ = float(self.kmeans_.inertia_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Nearest centre of the chosen solution for each row."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.asarray(self.kmeans_.predict(X))

    def transform(self, X: Any) -> np.ndarray:
        """Distances to each centre."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return np.asarray(self.kmeans_.transform(X))


def _kmeans_one(X: np.ndarray, k: int, seed: int, n_init: int) -> Fitted:
    threads = 1 if X.shape[0] < PARALLEL_FROM else None
    with limit(limits=threads, user_api="openmp"):
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X)
    return Fitted(km, np.asarray(km.labels_, dtype=np.int64))


class KMeansFamily(FamilyModel):
    """The k-means family of model selection: scikit-learn's ``KMeans`` at each k, fitted on
    every customer; on a sample, refined on every customer from the sample's centres."""

    def fit(self, task: FitTask) -> dict[int, Fitted]:
        n_init = task.n_init or KMEANS_N_INIT
        return {k: _kmeans_one(task.X, k, task.seed, n_init) for k in task.ks}

    def parameters(self, estimator: Any) -> dict[str, Any]:
        return {"n_init": estimator.n_init}

    def assign_everyone(
        self, estimator: Any, X: np.ndarray, k: int, seed: int
    ) -> tuple[Any, np.ndarray, str]:
        # Lloyd iterations on every customer from the sample's centres, until they settle.
        est = KMeans(n_clusters=k, init=estimator.cluster_centers_, n_init=1, random_state=seed)
        est.fit(X)
        return est, np.asarray(est.labels_, dtype=np.int64), ", k-means refined on all of them"

    def refit(self, estimator: Any, seed: int, n_init: int) -> Any:
        again = super().refit(estimator, seed, n_init)
        again.set_params(init="k-means++", n_init=n_init)
        return again


FAMILY_MODEL = KMeansFamily()
"""The k-means entry of :data:`custseg.models.families.REGISTRY` points here."""
