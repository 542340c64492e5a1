"""K-means that chooses its own number of clusters from several criteria."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from custseg.evaluate import SILHOUETTE_SAMPLE, SilhouetteSample, cluster_metrics, knee_point

#: Criteria combined to choose k, each with the direction that is better.
K_CRITERIA: dict[str, str] = {
    "elbow": "distance of k from the knee of the within-cluster sum of squares (WCSS) curve; nearer is better",
    "silhouette": "how much closer customers are to their own segment than to the next one; higher is better",
    "davies_bouldin": "average similarity of each segment to its most similar one; lower is better",
    "calinski_harabasz": "between-segment spread over within-segment spread; higher is better",
}
STRONG_SILHOUETTE = 0.5
"""Best silhouette at or above which the data is taken to have real, separated clusters
(Kaufman and Rousseeuw: 0.51-0.70 "reasonable", above 0.70 "strong" structure)."""
ELBOW_WINDOW = 1
"""With weaker structure the elbow of WCSS sets the scale and the other criteria choose among
k within this distance of it."""
PARALLEL_FROM = 50_000
"""Below this many points k-means runs on one thread."""
MIN_CLUSTER_SHARE = 0.01
"""A solution whose smallest segment holds fewer customers than this share is degenerate and
not recommended (unless k was fixed by the user)."""


def _rank(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Average ranks (1 = best), ties sharing the mean rank."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(-values if higher_is_better else values, method="average"))


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
    silhouette_sample_size : int, default=5000
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
            with threadpool_limits(limits=threads, user_api="openmp"):
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
        self.knee_ = knee_point(ks, [r["inertia"] for r in rows]) if len(ks) >= 3 else None
        chosen = self._choose(rows)
        self.selection_ = rows
        self.kmeans_ = fits[chosen]
        self.n_clusters_ = chosen
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.inertia_ = float(self.kmeans_.inertia_)
        return self

    def _choose(self, rows: list[dict[str, Any]]) -> int:
        if len(rows) == 1:
            row = rows[0]
            row.update(mean_rank=1.0, eligible=True, in_window=True)
            self.structure_ = "fixed"
            self.reason_ = f"k={row['k']} was fixed by the user"
            return int(row["k"])
        ks = np.array([r["k"] for r in rows])
        ranks = {
            "silhouette": _rank(np.array([r["silhouette"] for r in rows]), True),
            "davies_bouldin": _rank(np.array([r["davies_bouldin"] for r in rows]), False),
            "calinski_harabasz": _rank(np.array([r["calinski_harabasz"] for r in rows]), True),
        }
        if self.knee_ is not None:
            ranks["elbow"] = _rank(np.abs(ks - self.knee_).astype(float), False)
        mean_rank = np.mean(np.vstack(list(ranks.values())), axis=0)
        eligible = np.array([r["smallest_share"] >= self.min_cluster_share for r in rows])
        if not eligible.any():
            eligible[:] = True
        best_sil = float(np.nanmax([r["silhouette"] for r in rows]))
        if self.knee_ is None:
            self.structure_ = "few"  # too few candidate k for an elbow
        else:
            self.structure_ = "separated" if best_sil >= STRONG_SILHOUETTE else "continuum"
        window = eligible.copy()
        if self.structure_ == "continuum":
            mean_rank = np.mean(
                np.vstack(
                    [ranks[c] for c in ("silhouette", "davies_bouldin", "calinski_harabasz")]
                ),
                axis=0,
            )
            near = np.abs(ks - self.knee_) <= ELBOW_WINDOW
            if (window & near).any():
                window &= near
        for r, m, e, w in zip(rows, mean_rank, eligible, window, strict=True):
            r["mean_rank"] = round(float(m), 3)
            r["eligible"] = bool(e)
            r["in_window"] = bool(w)
        if self.structure_ in ("separated", "few"):
            votes = np.zeros(len(rows))
            for crit in ranks.values():
                votes[min(np.flatnonzero(eligible), key=lambda i: (crit[i], ks[i]))] += 1
            sil = ranks["silhouette"]
            for r, v in zip(rows, votes, strict=True):
                r["votes"] = int(v)
            order = sorted(
                (int(i) for i in np.flatnonzero(window)), key=lambda i: (-votes[i], sil[i], ks[i])
            )
        else:
            order = self._continuum_order(rows, ranks, window, mean_rank, ks)
        best = int(order[0])
        self.reason_ = self._explain(rows, ranks, best, eligible, best_sil)
        return int(ks[best])

    def _continuum_order(
        self,
        rows: list[dict[str, Any]],
        ranks: dict[str, np.ndarray],
        window: np.ndarray,
        mean_rank: np.ndarray,
        ks: np.ndarray,
    ) -> list[int]:
        """Candidates in order of preference when the data is a continuum.

        The elbow (or the eligible k nearest to it) comes first, unless a k within
        ``ELBOW_WINDOW`` of it beats it on both silhouette and Davies-Bouldin: those two do not
        simply shrink as k grows, so a neighbour that wins on both is a genuinely better cut.
        """
        candidates = np.flatnonzero(window)
        anchor = int(min(candidates, key=lambda i: (abs(ks[i] - (self.knee_ or ks[i])), ks[i])))
        sil, db = ranks["silhouette"], ranks["davies_bouldin"]
        better = [
            int(i)
            for i in candidates
            if i != anchor and sil[i] < sil[anchor] and db[i] < db[anchor]
        ]
        self.elbow_anchor_ = int(ks[anchor])
        first = min(better, key=lambda i: (mean_rank[i], ks[i])) if better else anchor
        rest = sorted(
            (int(i) for i in candidates if i != first), key=lambda i: (mean_rank[i], ks[i])
        )
        return [first, *rest]

    def _explain(
        self,
        rows: list[dict[str, Any]],
        ranks: dict[str, np.ndarray],
        best: int,
        eligible: np.ndarray,
        best_sil: float,
    ) -> str:
        k = rows[best]["k"]
        parts = []
        if self.knee_ is not None:
            parts.append(f"the elbow of WCSS is at k={self.knee_}")
        for name, label, fmt in (
            ("silhouette", "silhouette", "{:.2f}"),
            ("davies_bouldin", "Davies-Bouldin", "{:.2f}"),
            ("calinski_harabasz", "Calinski-Harabasz", "{:,.0f}"),
        ):
            top = int(np.argmin(ranks[name]))
            value = fmt.format(rows[top][name])
            if top == best:
                parts.append(f"best {label} ({value})")
            else:
                parts.append(
                    f"{label} best at k={rows[top]['k']} ({value}; {fmt.format(rows[best][name])} here)"
                )
        text = f"k={k}: " + "; ".join(parts) + ". "
        if self.structure_ == "few":
            text += (
                f"Only k={rows[0]['k']}..{rows[-1]['k']} could be tried with this few distinct "
                f"customers, too few for an elbow, so each criterion votes for its best k: k={k} "
                f"has {rows[best]['votes']} of {len(ranks)} votes"
            )
        elif self.structure_ == "separated":
            text += (
                f"The segments are well separated (best silhouette {best_sil:.2f} >= {STRONG_SILHOUETTE}), "
                f"so each criterion votes for its best k: k={k} has {rows[best]['votes']} of "
                f"{len(ranks)} votes"
            )
        else:
            anchor = self.elbow_anchor_
            text += (
                f"The customers form a continuum rather than separated groups (best silhouette "
                f"{best_sil:.2f} < {STRONG_SILHOUETTE}), where these indices do not single out one "
                f"number of segments; so the elbow of WCSS sets the number"
            )
            if k == anchor:
                text += (
                    f" (k={k}), and no k within {ELBOW_WINDOW} of it is better on both "
                    "silhouette and Davies-Bouldin"
                )
            else:
                text += (
                    f" (k={anchor}), and k={k} next to it is better on both silhouette and "
                    "Davies-Bouldin"
                )
        excluded = [r["k"] for r, e in zip(rows, eligible, strict=True) if not e]
        if excluded:
            text += (
                f"; k={', '.join(map(str, excluded))} not considered because a segment held under "
                f"{self.min_cluster_share:.0%} of customers"
            )
        return text + "."

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
