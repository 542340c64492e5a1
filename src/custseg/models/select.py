"""Compare clustering families and numbers of segments on the same footing, and pick one.

:func:`select_model` fits every candidate (family x k), scores each in the same space with
the same criteria, measures its stability over subsamples, lets each family choose its own k,
then recommends one family's solution with the reasons in words. The whole table is kept as a
leaderboard for ``metrics.json``, the report and the command line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from custseg.errors import InputError
from custseg.evaluate import SILHOUETTE_SAMPLE, SilhouetteSample, cluster_metrics, wcss
from custseg.models._assign import fit_sample
from custseg.models.choose import MIN_CLUSTER_SHARE, choose_k
from custseg.models.density import DENSITY_MAX_FIT, DBSCANClustering, HDBSCANClustering
from custseg.models.hierarchical import (
    HIERARCHICAL_MAX_FIT,
    LINKAGES,
    HierarchicalClustering,
    build_tree,
    nearest_fitted,
)
from custseg.models.kprototypes import KPROTOTYPES_MAX_FIT, KPrototypesClustering

#: The families custseg compares, in the order preferred when they tie (simplest to explain
#: and to score first), with a plain description for the report.
FAMILIES: dict[str, str] = {
    "kmeans": "k-means: each segment is the customers nearest one centre (round, similar-sized groups)",
    "gmm": "Gaussian mixture: segments are overlapping bell-shaped clouds of any orientation; each customer gets a membership probability",
    "hierarchical": "hierarchical (agglomerative): customers are merged step by step into a tree, which is cut into segments",
    "kprototypes": "k-prototypes: k-means for tables that mix numbers and categories (categories compared as categories)",
    "hdbscan": "HDBSCAN: segments are dense regions of any shape and density; customers in sparse regions are noise",
    "dbscan": "DBSCAN: segments are dense regions of any shape at one density; customers in sparse regions are noise",
}
FAMILY_LABELS: dict[str, str] = {
    "kmeans": "k-means",
    "gmm": "Gaussian mixture",
    "hierarchical": "hierarchical",
    "kprototypes": "k-prototypes",
    "hdbscan": "HDBSCAN",
    "dbscan": "DBSCAN",
}
ALGORITHMS = ("auto", *FAMILIES)
DENSITY_FAMILIES = ("dbscan", "hdbscan")

#: Parameters each family accepts (command line ``--linkage`` etc., API ``params=``).
FAMILY_PARAMS: dict[str, tuple[str, ...]] = {
    "kmeans": (),
    "gmm": ("covariance_type",),
    "hierarchical": ("linkage",),
    "kprototypes": ("gamma",),
    "hdbscan": ("min_cluster_size", "min_samples"),
    "dbscan": ("eps", "min_samples"),
}

K_MIN, K_MAX = 2, 10
"""Numbers of segments tried when k is not fixed."""
KMEANS_N_INIT = 10
"""k-means restarts per k (the best is kept); stability refits use ``STABILITY_N_INIT``."""
GMM_MAX_FIT = 20_000
"""Gaussian mixtures are fitted on at most this many customers (EM with full covariances
costs about 1 s per k at 20,000); every customer is then scored by the fitted mixture."""
GMM_FULL_MAX_FEATURES = 12
"""Up to this many model inputs a Gaussian mixture has full covariances; beyond, diagonal
ones. A full covariance has d(d+1)/2 parameters per component (630 at 35 inputs, as on the
marketing table, where fitting took 12 s per k against under 1 s diagonal), and BIC then
rejects all but the smallest mixtures."""
GMM_REG_COVAR = 1e-4
"""Added to the covariance diagonals (scikit-learn's default is 1e-6): on standardized
features, binary or clipped columns otherwise give singular components."""
GMM_QUICK: dict[str, Any] = {"tol": 1e-2, "init_params": "k-means++"}
"""Stability refits of a mixture stop at a looser tolerance and start from k-means++ seeds
(about half the time); the partition, which is all stability compares, barely moves."""
PARALLEL_FROM = 50_000
"""Below this many points k-means runs on one thread (faster, and immune to busy cores)."""

STABILITY_REPEATS = 10
"""Subsamples drawn to measure stability."""
STABILITY_FRACTION = 0.8
"""Each subsample holds this share of the customers..."""
STABILITY_MAX_SAMPLE = 1_500
"""...but at most this many (stability is then that of clustering 1,500-customer samples)."""
STABILITY_N_INIT = 3
"""k-means and k-prototypes restarts in each stability refit."""
STABILITY_JOBS = -1
"""Stability refits run in this many processes (joblib; -1: one per core)..."""
PARALLEL_STABILITY_FROM = 1_000
"""...from this many customers on (below, starting processes costs more than it saves)."""

MAX_NOISE_SHARE = 0.2
"""A solution that leaves more than this share of customers as noise is not recommended: a
fifth of the customers without a segment is not a segmentation to act on."""
MAX_SEGMENT_SHARE = 0.9
"""A solution whose largest segment holds more than this share is one giant segment."""
MIN_STABILITY = 0.6
"""Median adjusted Rand index between subsample and full clusterings below which a solution
is called unstable and not recommended (0.6: a little more than half the pairs agree beyond
chance; Hennig 2007 calls Jaccard < 0.5 'dissolved')."""
DENSITY_STABLE = 0.8
"""A density solution this stable that covers all but ``MAX_NOISE_SHARE`` of the customers,
and that k-means at the same k does not reproduce (ARI below ``SAME_PARTITION``), has found
dense groups that are not round: it is preferred, because silhouette, Davies-Bouldin and
Calinski-Harabasz all reward round groups."""
SAME_PARTITION = 0.8
"""Adjusted Rand index above which two partitions are taken as the same grouping."""

FAMILY_MAX_FIT: dict[str, int] = {
    "gmm": GMM_MAX_FIT,
    "hierarchical": HIERARCHICAL_MAX_FIT,
    "kprototypes": KPROTOTYPES_MAX_FIT,
    "hdbscan": DENSITY_MAX_FIT,
    "dbscan": DENSITY_MAX_FIT,
}
"""Customers each family is fitted on at most (k-means uses every customer)."""

Progress = Callable[[str], None]


@dataclass
class Fitted:
    """One fitted candidate: the estimator and its labels on every customer."""

    estimator: Any
    labels: np.ndarray


@dataclass
class Selection:
    """What :func:`select_model` returns.

    Attributes
    ----------
    algorithm : str
        The family recommended.
    estimator : fitted estimator with ``predict``
    space : {"common", "mixed"}
        Which preprocessed matrix the estimator takes (``"mixed"``: numbers and category
        codes, for k-prototypes).
    labels : ndarray
        Estimator labels of every customer (``-1``: noise).
    k : int
        Segments found (noise not counted).
    leaderboard : list of dict
        One row per family and k with every criterion.
    reason : str
        The recommendation in words.
    family_reasons : dict
        Why each family chose its k.
    notes : list of str
        Sampling used, families left out and why.
    """

    algorithm: str
    estimator: Any
    space: str
    labels: np.ndarray
    k: int
    leaderboard: list[dict[str, Any]]
    reason: str
    family_reasons: dict[str, str]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def chosen_row(self) -> dict[str, Any]:
        """The leaderboard row recommended."""
        return next(r for r in self.leaderboard if r["recommended"])

    def family_rows(self, family: str | None = None) -> list[dict[str, Any]]:
        """Leaderboard rows of one family (the recommended one by default), in k order."""
        family = family or self.algorithm
        return [r for r in self.leaderboard if r["algorithm"] == family]


# ---------------------------------------------------------------- families


def _each_k(
    fit_one: Callable[[int], Fitted], ks: list[int], n: int, spread: bool
) -> dict[int, Fitted]:
    """``{k: fit_one(k)}``; with ``spread``, the k are fitted in parallel processes when the
    table is mid-sized (large tables already use every core inside each fit)."""
    if spread and len(ks) > 1 and PARALLEL_STABILITY_FROM <= n < PARALLEL_FROM:
        from joblib import Parallel, delayed

        fitted = Parallel(n_jobs=STABILITY_JOBS)(delayed(fit_one)(k) for k in ks)
        return dict(zip(ks, fitted, strict=True))
    return {k: fit_one(k) for k in ks}


def _kmeans_one(X: np.ndarray, k: int, seed: int, n_init: int) -> Fitted:
    threads = 1 if X.shape[0] < PARALLEL_FROM else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X)
    return Fitted(km, np.asarray(km.labels_, dtype=np.int64))


def _fit_kmeans(
    X: np.ndarray, ks: list[int], seed: int, n_init: int, spread: bool = False
) -> dict[int, Fitted]:
    return _each_k(lambda k: _kmeans_one(X, k, seed, n_init), ks, X.shape[0], spread)


def _gmm_one(
    X: np.ndarray, index: np.ndarray, k: int, seed: int, covariance_type: str, quick: bool
) -> Fitted:
    with threadpool_limits(limits=1 if X.shape[0] < PARALLEL_FROM else None, user_api="blas"):
        gmm = GaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            random_state=seed,
            reg_covar=GMM_REG_COVAR,
            **(GMM_QUICK if quick else {}),
        ).fit(X[index])
        return Fitted(gmm, np.asarray(gmm.predict(X), dtype=np.int64))


def _fit_gmm(
    X: np.ndarray,
    ks: list[int],
    seed: int,
    covariance_type: str,
    max_fit: int | None,
    quick: bool = False,
) -> dict[int, Fitted]:
    index = fit_sample(X.shape[0], max_fit, seed)
    return _each_k(
        lambda k: _gmm_one(X, index, k, seed, covariance_type, quick), ks, X.shape[0], not quick
    )


def _fit_hierarchical(
    X: np.ndarray, ks: list[int], seed: int, linkage: str, max_fit: int | None
) -> dict[int, Fitted]:
    index = fit_sample(X.shape[0], max_fit, seed)
    tree = build_tree(X[index], linkage)
    nearest = nearest_fitted(X, X[index])  # the same for every cut of the tree
    out = {}
    for k in ks:
        est = HierarchicalClustering(
            n_clusters=k, linkage=linkage, max_fit_samples=max_fit, random_state=seed
        )
        est.n_features_in_ = X.shape[1]
        est._fit_tree(X, index, tree, nearest)
        out[k] = Fitted(est, est.labels_)
    return out


def _fit_kprototypes(
    X: np.ndarray,
    ks: list[int],
    seed: int,
    categorical: tuple[int, ...],
    gamma: float | None,
    n_init: int,
    max_fit: int | None,
    spread: bool = False,
) -> dict[int, Fitted]:
    def one(k: int) -> Fitted:
        est = KPrototypesClustering(
            n_clusters=k,
            categorical=categorical,
            gamma=gamma,
            n_init=n_init,
            max_fit_samples=max_fit,
            random_state=seed,
        ).fit(X)
        return Fitted(est, est.labels_)

    return _each_k(one, ks, X.shape[0], spread)


def _fit_density(
    family: str, X: np.ndarray, seed: int, params: dict[str, Any], max_fit: int | None
) -> Fitted:
    est: DBSCANClustering | HDBSCANClustering
    if family == "dbscan":
        est = DBSCANClustering(
            eps=params.get("eps"),
            min_samples=params.get("min_samples"),
            eps_fallback=True,
            max_fit_samples=max_fit,
            random_state=seed,
        )
    else:
        est = HDBSCANClustering(
            min_cluster_size=params.get("min_cluster_size"),
            min_samples=params.get("min_samples"),
            max_fit_samples=max_fit,
            random_state=seed,
        )
    est.fit(X)
    return Fitted(est, est.labels_)


def gmm_covariance(params: dict[str, Any], n_features: int) -> str:
    """The mixture's covariance type: the user's, else full up to ``GMM_FULL_MAX_FEATURES``
    features and diagonal beyond."""
    if params.get("covariance_type"):
        return str(params["covariance_type"])
    return "full" if n_features <= GMM_FULL_MAX_FEATURES else "diag"


@dataclass
class _Job:
    """Everything the family fits need, so that full fits and stability refits share code."""

    X: np.ndarray
    X_mixed: np.ndarray | None
    categorical: tuple[int, ...]
    params: dict[str, dict[str, Any]]

    def fit(
        self, family: str, rows: np.ndarray | None, ks: list[int], seed: int, quick: bool
    ) -> dict[int, Fitted]:
        """Fit ``family`` at each k on all rows (or on ``rows``); density families ignore ks."""
        X = self.X if rows is None else self.X[rows]
        p = self.params.get(family, {})
        if family == "kmeans":
            return _fit_kmeans(
                X, ks, seed, STABILITY_N_INIT if quick else KMEANS_N_INIT, spread=not quick
            )
        if family == "gmm":
            return _fit_gmm(X, ks, seed, gmm_covariance(p, X.shape[1]), GMM_MAX_FIT, quick)
        if family == "hierarchical":
            return _fit_hierarchical(X, ks, seed, p.get("linkage", "ward"), HIERARCHICAL_MAX_FIT)
        if family == "kprototypes":
            assert self.X_mixed is not None
            Xm = self.X_mixed if rows is None else self.X_mixed[rows]
            n_init = STABILITY_N_INIT if quick else 4
            return _fit_kprototypes(
                Xm,
                ks,
                seed,
                self.categorical,
                p.get("gamma"),
                n_init,
                KPROTOTYPES_MAX_FIT,
                spread=not quick,
            )
        fitted = _fit_density(family, X, seed, p, DENSITY_MAX_FIT)
        return {int(fitted.estimator.n_clusters_): fitted}


def _refit_labels(
    job: _Job, family: str, rows: np.ndarray, ks: list[int], seed: int
) -> dict[int, np.ndarray]:
    """Labels of a refit on ``rows``: per k, or (density) one solution under key -1."""
    if family in DENSITY_FAMILIES:
        only = next(iter(job.fit(family, rows, ks, seed, quick=True).values()))
        return {-1: only.labels}
    usable = [k for k in ks if k <= len(np.unique(job.X[rows], axis=0))]
    return {k: f.labels for k, f in job.fit(family, rows, usable, seed, quick=True).items()}


def stability_scores(
    job: _Job,
    family: str,
    full: dict[int, Fitted],
    seed: int,
    repeats: int = STABILITY_REPEATS,
) -> dict[int, list[float]]:
    """Adjusted Rand index between each full solution and refits on subsamples.

    Each repeat draws a subsample (``STABILITY_FRACTION`` of the customers, at most
    ``STABILITY_MAX_SAMPLE``) without replacement, refits the family with the same settings
    and another seed, and compares the refit's labels with the full solution's labels on the
    same customers (noise counted as one more group). Density families re-derive their
    parameters on the subsample, as they would on new data. Repeats run in parallel on every
    core (``STABILITY_JOBS``); each has its own seed, so the result does not depend on the
    number of cores.
    """
    from joblib import Parallel, delayed

    n = job.X.shape[0]
    m = max(2, min(int(STABILITY_FRACTION * n), STABILITY_MAX_SAMPLE))
    rng = np.random.RandomState(seed)
    ks = sorted(full)
    samples = [np.sort(rng.choice(n, size=m, replace=False)) for _ in range(repeats)]
    n_jobs = STABILITY_JOBS if n >= PARALLEL_STABILITY_FROM else 1
    refits = Parallel(n_jobs=n_jobs)(
        delayed(_refit_labels)(job, family, rows, ks, seed + 1 + r)
        for r, rows in enumerate(samples)
    )
    scores: dict[int, list[float]] = {k: [] for k in ks}
    for rows, refit in zip(samples, refits, strict=True):
        for k in ks:
            labels = refit.get(-1) if family in DENSITY_FAMILIES else refit.get(k)
            if labels is not None:
                scores[k].append(float(adjusted_rand_score(full[k].labels[rows], labels)))
    return scores


# ---------------------------------------------------------------- scoring


def _score_row(
    family: str,
    k_requested: int | None,
    fitted: Fitted,
    X: np.ndarray,
    silhouette: SilhouetteSample,
    seed: int,
) -> dict[str, Any]:
    labels = fitted.labels
    n = len(labels)
    clustered = labels[labels >= 0]
    sizes = np.bincount(clustered) if len(clustered) else np.zeros(0, dtype=int)
    sizes = sizes[sizes > 0]
    noise = float(np.mean(labels < 0))
    row: dict[str, Any] = {
        "algorithm": family,
        "k": int(len(sizes)),
        "k_requested": k_requested,
        "parameters": _parameters(fitted.estimator),
        "noise_share": noise,
        "smallest_share": float(sizes.min() / n) if len(sizes) else 0.0,
        "largest_share": float(sizes.max() / n) if len(sizes) else 0.0,
        "inertia": wcss(X, labels) if len(sizes) else None,
        "bic": float(fitted.estimator.bic(X)) if family == "gmm" else None,
    }
    row.update(cluster_metrics(X, labels, random_state=seed, silhouette_sample=silhouette))
    sil = row["silhouette"]
    # Mean silhouette over every customer, noise counted as 0 (a noise customer fits nowhere):
    # it lets density methods, which leave hard customers out, compete fairly.
    row["silhouette_all"] = None if sil is None or math.isnan(sil) else sil * (1.0 - noise)
    return row


def _parameters(est: Any) -> dict[str, Any]:
    if isinstance(est, KMeans):
        return {"n_init": est.n_init}
    if isinstance(est, GaussianMixture):
        return {"covariance_type": est.covariance_type}
    if isinstance(est, HierarchicalClustering):
        return {"linkage": est.linkage, "fitted_on": len(est.fit_points_)}
    if isinstance(est, DBSCANClustering):
        return {
            "eps": round(est.eps_, 4),
            "min_samples": est.min_samples_,
            "eps_source": est.eps_source_,
        }
    if isinstance(est, HDBSCANClustering):
        return {"min_cluster_size": est.min_cluster_size_, "min_samples": est.min_samples_}
    if isinstance(est, KPrototypesClustering):
        return {"gamma": round(est.gamma_, 4), "n_categorical": len(est.categorical)}
    return {}


def _degenerate(row: dict[str, Any], k_fixed: bool) -> str | None:
    """Why a solution is never recommended, or None."""
    if row["k"] < 2:
        if row["noise_share"] >= 1.0:
            return "every customer is noise"
        return "found a single segment"
    if row["noise_share"] > MAX_NOISE_SHARE:
        return f"{row['noise_share']:.0%} of customers left as noise"
    if row["largest_share"] > MAX_SEGMENT_SHARE:
        return f"one segment holds {row['largest_share']:.0%} of customers"
    if not k_fixed and row["smallest_share"] < MIN_CLUSTER_SHARE:
        return f"a segment holds under {MIN_CLUSTER_SHARE:.0%} of customers"
    stab = row.get("stability")
    if stab is not None and stab < MIN_STABILITY:
        return f"unstable (ARI {stab:.2f} over subsamples, under {MIN_STABILITY})"
    return None


def _copies_attribute(labels: np.ndarray, attributes: dict[str, np.ndarray] | None) -> str | None:
    """Why a solution is only a split by one categorical column, or None."""
    for name, codes in (attributes or {}).items():
        if len(np.unique(labels)) > 1 and adjusted_rand_score(codes, labels) >= SAME_PARTITION:
            return f"its segments only split customers by '{name}'"
    return None


def _family_pick(
    family: str, rows: list[dict[str, Any]], k_fixed: bool
) -> tuple[dict[str, Any], str]:
    """The row a family recommends, and why."""
    label = FAMILY_LABELS[family]
    if len(rows) == 1:
        row = rows[0]
        if family in DENSITY_FAMILIES:
            why = f"{label} found {row['k']} segment(s)"
            if row["noise_share"]:
                why += f" and left {row['noise_share']:.0%} of customers as noise"
            return row, why + f" ({_fmt_params(row['parameters'])})."
        return row, f"k={row['k']} was fixed by the user."
    if family == "gmm":
        ok = [r for r in rows if r["smallest_share"] >= MIN_CLUSTER_SHARE] or rows
        best = min(ok, key=lambda r: (r["bic"], r["k"]))
        edge = (
            f" BIC is still falling at k={best['k']}, the largest k tried: a mixture with more "
            "components may fit better, but more segments would be hard to act on."
            if best["k"] == max(r["k"] for r in rows) and len(rows) > 2
            else ""
        )
        text = (
            f"BIC (lower is better: fit penalised by the number of parameters) is lowest at "
            f"k={best['k']} ({best['bic']:,.0f})"
            + (
                f" among k where every segment holds at least {MIN_CLUSTER_SHARE:.0%}"
                if len(ok) < len(rows)
                else ""
            )
            + "."
        )
        return best, text + edge
    cost = "k-prototypes cost" if family == "kprototypes" else "WCSS"
    curve = [dict(r) for r in rows]
    for r in curve:
        if r["inertia"] is None:
            r["inertia"] = float("nan")
    choice = choose_k(curve, cost_label=cost)
    for r, c in zip(rows, curve, strict=True):
        for key in ("mean_rank", "eligible", "in_window", "votes"):
            if key in c:
                r[key] = c[key]
    r0 = next(r for r in rows if r["k"] == choice.k)
    r0["elbow_k"] = choice.knee
    return r0, choice.reason


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _describe(row: dict[str, Any]) -> str:
    label = FAMILY_LABELS[row["algorithm"]]
    if row["algorithm"] in DENSITY_FAMILIES:
        return f"{label} ({row['k']} segment{'' if row['k'] == 1 else 's'})"
    return f"{label} with {row['k']} segments"


# ---------------------------------------------------------------- selection


def select_model(
    X: np.ndarray,
    *,
    X_mixed: np.ndarray | None = None,
    categorical: tuple[int, ...] = (),
    algorithm: str = "auto",
    k: int | None = None,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    attributes: dict[str, np.ndarray] | None = None,
    silhouette_sample_size: int = SILHOUETTE_SAMPLE,
    progress: Progress | None = None,
) -> Selection:
    """Fit the candidate families and numbers of segments, score them and recommend one.

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
        Preprocessed features (numbers scaled, categories one-hot): every candidate is scored
        here, so all are compared in the same space.
    X_mixed : ndarray, optional
        Numbers scaled and category codes, for k-prototypes; ``categorical`` indexes the
        category columns. Without category columns k-prototypes is not a candidate in
        ``auto``.
    algorithm : {"auto", "kmeans", "gmm", "hierarchical", "kprototypes", "hdbscan", "dbscan"}
        ``auto`` compares every family; a family name restricts the search to it.
    k : int, optional
        Fix the number of segments (density families, which find their own, are then left
        out of ``auto``).
    seed : int
        Seed of every fit, sample and subsample.
    params : dict, optional
        Family parameters by name: ``linkage``, ``eps``, ``min_samples``,
        ``min_cluster_size``, ``covariance_type``, ``gamma``.
    attributes : dict, optional
        Categorical attributes (name -> codes per customer). A solution whose segments only
        reproduce one of them (ARI >= ``SAME_PARTITION``) is not recommended: the user needs
        no clustering to split customers by one column.
    progress : callable, optional
        Called with a label as each family starts.

    Returns
    -------
    Selection

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=400, centers=3, cluster_std=0.6, random_state=0)
    >>> sel = select_model(X, seed=0)  # doctest: +SKIP
    >>> sel.k  # doctest: +SKIP
    3
    """
    # BLAS threads spin-wait on small matrices: with another process on the machine one
    # 5x5 triangular solve took 8 ms on two threads against 0.05 ms on one (Gaussian
    # mixtures make thousands). Below PARALLEL_FROM customers BLAS runs on one thread, and
    # the stability refits use the cores instead.
    blas_threads = 1 if X.shape[0] < PARALLEL_FROM else None
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return _select_model(
            X,
            X_mixed=X_mixed,
            categorical=categorical,
            algorithm=algorithm,
            k=k,
            seed=seed,
            params=params,
            attributes=attributes,
            silhouette_sample_size=silhouette_sample_size,
            progress=progress,
        )


def _select_model(
    X: np.ndarray,
    *,
    X_mixed: np.ndarray | None,
    categorical: tuple[int, ...],
    algorithm: str,
    k: int | None,
    seed: int,
    params: dict[str, Any] | None,
    attributes: dict[str, np.ndarray] | None,
    silhouette_sample_size: int,
    progress: Progress | None,
) -> Selection:
    if algorithm not in ALGORITHMS:
        raise InputError(
            f"Unknown algorithm {algorithm!r}. Choose one of: {', '.join(ALGORITHMS)}."
        )
    params = dict(params or {})
    family_params = _split_params(params, algorithm)
    has_categories = X_mixed is not None and len(categorical) > 0
    n = X.shape[0]
    n_distinct = len(np.unique(X, axis=0))
    notes: list[str] = []
    warns: list[str] = []
    if algorithm == "auto":
        families = list(FAMILIES)
        if not has_categories:
            families.remove("kprototypes")
            notes.append(
                "k-prototypes left out: there are no categorical attributes (it would be k-means)"
            )
        if k is not None:
            for fam in DENSITY_FAMILIES:
                families.remove(fam)
            notes.append(
                f"DBSCAN and HDBSCAN left out: they find their own number of segments, and k={k} was fixed"
            )
    else:
        families = [algorithm]
        if algorithm in DENSITY_FAMILIES and k is not None:
            raise InputError(
                f"--k does not apply to {FAMILY_LABELS[algorithm]}, which finds the number of "
                f"segments itself. Drop --k, or use kmeans, gmm, hierarchical or kprototypes."
            )
        if algorithm == "kprototypes" and not has_categories:
            warns.append(
                "k-prototypes was asked for, but there are no categorical attributes; on numbers "
                "alone it minimises the k-means objective (with its own seeding, so the result "
                "can differ slightly from --algorithm kmeans)"
            )
    if algorithm == "kprototypes" and X_mixed is None:
        X_mixed, categorical = X, ()
    if k is not None:
        ks = [k]
    else:
        top = min(K_MAX, n_distinct, n - 1)
        ks = list(range(K_MIN, top + 1)) or [max(1, min(K_MIN, n_distinct))]
    job = _Job(X=X, X_mixed=X_mixed, categorical=tuple(categorical), params=family_params)
    silhouette = SilhouetteSample(X, silhouette_sample_size, seed)
    if (
        "gmm" in families
        and gmm_covariance(family_params["gmm"], X.shape[1]) == "diag"
        and not family_params["gmm"].get("covariance_type")
    ):
        notes.append(
            f"Gaussian mixtures use diagonal covariances: {X.shape[1]} model inputs are more "
            f"than {GMM_FULL_MAX_FEATURES} for full ones"
        )
    if silhouette.sampled:
        notes.append(
            f"silhouette computed on a seeded sample of {silhouette_sample_size:,} of the "
            f"{n:,} customers (its cost grows with n^2); the other criteria use every customer"
        )
    leaderboard: list[dict[str, Any]] = []
    fits: dict[tuple[str, int], Fitted] = {}
    picks: dict[str, dict[str, Any]] = {}
    reasons: dict[str, str] = {}
    for family in families:
        if progress is not None:
            progress(f"Fitting {FAMILY_LABELS[family]}")
        start = time.perf_counter()
        full = job.fit(family, None, ks, seed, quick=False)
        fit_seconds = (time.perf_counter() - start) / max(1, len(full))
        rows = []
        for k_, fitted in sorted(full.items()):
            t0 = time.perf_counter()
            row = _score_row(
                family, k_ if family not in DENSITY_FAMILIES else None, fitted, X, silhouette, seed
            )
            row["seconds"] = fit_seconds + time.perf_counter() - t0
            rows.append(row)
            fits[(family, k_)] = fitted
        if progress is not None:
            progress(f"Measuring the stability of {FAMILY_LABELS[family]}")
        t0 = time.perf_counter()
        stab = stability_scores(job, family, full, seed)
        per_row = (time.perf_counter() - t0) / max(1, len(rows))
        for row, k_ in zip(rows, sorted(full), strict=True):
            values = stab.get(k_) or []
            row["stability"] = float(np.median(values)) if values else None
            row["stability_q1"] = float(np.percentile(values, 25)) if values else None
            row["stability_q3"] = float(np.percentile(values, 75)) if values else None
            row["stability_repeats"] = len(values)
            row["seconds"] = round(row["seconds"] + per_row, 3)
            row["excluded"] = _degenerate(row, k is not None) or _copies_attribute(
                full[k_].labels, attributes
            )
            row["family_choice"] = False
            row["recommended"] = False
        pick, reasons[family] = _family_pick(family, rows, k is not None)
        pick["family_choice"] = True
        picks[family] = pick
        leaderboard.extend(rows)
        if n > FAMILY_MAX_FIT.get(family, n):
            notes.append(
                f"{FAMILY_LABELS[family]} fitted on a seeded sample of {FAMILY_MAX_FIT[family]:,} "
                f"of the {n:,} customers; the rest were assigned by its scoring rule"
            )
    chosen, reason = _recommend(picks, fits, leaderboard, k is not None, algorithm)
    chosen["recommended"] = True
    key = chosen["k_requested"] if chosen["k_requested"] is not None else chosen["k"]
    fitted = fits[(chosen["algorithm"], key)]
    if chosen["k"] < 2:
        raise InputError(
            f"{FAMILY_LABELS[chosen['algorithm']]} found no segmentation: "
            f"{_degenerate(chosen, True)} ({_fmt_params(chosen['parameters'])}). "
            + _density_hint(chosen["algorithm"], chosen["noise_share"] >= 1.0)
        )
    if chosen["algorithm"] == "dbscan" and chosen["parameters"].get("eps_source", "").endswith(
        "k-distances"
    ):
        warns.append(
            "DBSCAN's radius at the knee of the k-distance curve put (almost) every customer in "
            f"one segment; eps={chosen['parameters']['eps']} (the "
            f"{chosen['parameters']['eps_source']}) was used instead. Pass --eps to choose it"
        )
    if chosen.get("excluded"):
        warns.append(
            f"the result is weak: {chosen['excluded']}; "
            + (
                "it was the only family asked for"
                if algorithm != "auto"
                else "no candidate passed every check"
            )
        )
    return Selection(
        algorithm=chosen["algorithm"],
        estimator=fitted.estimator,
        space="mixed" if chosen["algorithm"] == "kprototypes" else "common",
        labels=fitted.labels,
        k=int(chosen["k"]),
        leaderboard=leaderboard,
        reason=reason,
        family_reasons=reasons,
        notes=notes,
        warnings=warns,
    )


def _density_hint(family: str, all_noise: bool) -> str:
    """How to get segments out of a density method that found none."""
    if family == "dbscan":
        radius = "a larger --eps" if all_noise else "a smaller --eps"
        return f"Pass {radius} or a smaller --min-samples, or use --algorithm hdbscan or kmeans."
    return "Pass a smaller --min-cluster-size or --min-samples, or use --algorithm kmeans."


def _split_params(params: dict[str, Any], algorithm: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {f: {} for f in FAMILIES}
    for name, value in params.items():
        if value is None:
            continue
        owners = [f for f, names in FAMILY_PARAMS.items() if name in names]
        if not owners:
            known = sorted({p for names in FAMILY_PARAMS.values() for p in names})
            raise InputError(f"Unknown algorithm parameter {name!r}. Known: {', '.join(known)}.")
        if algorithm != "auto" and algorithm not in owners:
            raise InputError(
                f"Parameter {name!r} does not apply to {algorithm}; it is for "
                f"{' and '.join(owners)}."
            )
        for f in owners:
            out[f][name] = value
    linkage = out["hierarchical"].get("linkage")
    if linkage is not None and linkage not in LINKAGES:
        raise InputError(f"--linkage must be one of {', '.join(LINKAGES)}; got {linkage!r}.")
    cov = out["gmm"].get("covariance_type")
    if cov is not None and cov not in ("full", "tied", "diag", "spherical"):
        raise InputError(f"covariance_type must be full, tied, diag or spherical; got {cov!r}.")
    for name in ("eps", "gamma"):
        for f in FAMILIES:
            v = out[f].get(name)
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise InputError(f"--{name} must be a positive number; got {v!r}.")
    for name in ("min_samples", "min_cluster_size"):
        for f in FAMILIES:
            v = out[f].get(name)
            if v is not None and not (isinstance(v, int) and v >= 2):
                raise InputError(
                    f"--{name.replace('_', '-')} must be a whole number of at least 2; got {v!r}."
                )
    return out


def _rank_key(row: dict[str, Any]) -> tuple[float, float, float]:
    sil = row.get("silhouette_all")
    db = row.get("davies_bouldin")
    stab = row.get("stability")
    return (
        -(sil if sil is not None and not math.isnan(sil) else -1.0),
        db if db is not None and not math.isnan(db) else math.inf,
        -(stab if stab is not None else 0.0),
    )


def _recommend(
    picks: dict[str, dict[str, Any]],
    fits: dict[tuple[str, int], Fitted],
    leaderboard: list[dict[str, Any]],
    k_fixed: bool,
    algorithm: str,
) -> tuple[dict[str, Any], str]:
    """The family pick to recommend, and the reason in words."""
    order = list(FAMILIES)
    eligible = [f for f in order if f in picks and not picks[f]["excluded"]]
    rejected = [f for f in order if f in picks and picks[f]["excluded"]]
    if algorithm != "auto":
        row = picks[algorithm]
        return row, " ".join(p for p in (_sentence(row, []), _family_reason_note(row)) if p)
    if not eligible:
        # Nothing passes every check: the least bad centroid family, said plainly.
        pool = [f for f in order if f in picks and f not in DENSITY_FAMILIES] or list(picks)
        best = min(pool, key=lambda f: _rank_key(picks[f]))
        row = picks[best]
        return row, (
            _sentence(row, [])
            + f" No candidate passed every check; this is the best of them ({row['excluded']})."
            + _rejections(picks, rejected, best)
        )
    # Density families that found a few stable, well-covered groups which k-means at the same
    # k cannot reproduce, while silhouette still prefers k-means: the groups are not round.
    centroid_k = min((picks[f]["k"] for f in eligible if f not in DENSITY_FAMILIES), default=None)
    for fam in ("hdbscan", "dbscan"):
        if fam not in eligible:
            continue
        row = picks[fam]
        km = fits.get(("kmeans", row["k"]))
        km_row = next(
            (r for r in leaderboard if r["algorithm"] == "kmeans" and r["k_requested"] == row["k"]),
            None,
        )
        if (
            km is None
            or km_row is None
            or (row.get("stability") or 0) < DENSITY_STABLE
            or (centroid_k is not None and row["k"] > centroid_k)
            or (km_row.get("silhouette_all") or -1) <= (row.get("silhouette_all") or -1)
        ):
            continue
        labels = fits[(fam, row["k"])].labels
        inside = labels >= 0
        agreement = float(adjusted_rand_score(labels[inside], km.labels[inside]))
        row["ari_vs_kmeans"] = agreement
        if agreement < SAME_PARTITION:
            text = (
                f"{_describe(row)}: it found {row['k']} dense groups covering "
                f"{1 - row['noise_share']:.0%} of customers, stable at ARI "
                f"{row['stability']:.2f} over {row['stability_repeats']} subsamples; k-means with "
                f"{row['k']} segments cuts across them (ARI {agreement:.2f} against them), so "
                "the groups are not round. Silhouette and Davies-Bouldin reward round groups, so "
                f"they favour k-means here (silhouette {_f(km_row.get('silhouette'))} vs "
                f"{_f(row.get('silhouette'))}) and are not the right judge."
            )
            return row, text + _rejections(picks, rejected, fam)
    mean_rank = _mean_ranks(picks, eligible)
    ranked = sorted(eligible, key=lambda f: (mean_rank[f], order.index(f)))
    best = ranked[0]
    row = picks[best]
    others = [picks[f] for f in ranked[1:]]
    return row, _sentence(row, others) + _rejections(picks, rejected, best)


def _mean_ranks(picks: dict[str, dict[str, Any]], eligible: list[str]) -> dict[str, float]:
    """Mean rank of each eligible family over the criteria of :func:`_rank_key`."""
    from scipy.stats import rankdata

    keys = np.array([_rank_key(picks[f]) for f in eligible], dtype=float)
    ranks = np.vstack([rankdata(keys[:, j]) for j in range(keys.shape[1])]).mean(axis=0)
    return {f: float(r) for f, r in zip(eligible, ranks, strict=True)}


def _f(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _sentence(row: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """'k-means with 5 segments: best silhouette and Davies-Bouldin, stable at ARI 0.94 ...'"""
    wins = []
    if others:
        sil = row.get("silhouette_all") or -1
        if all(sil >= (o.get("silhouette_all") or -1) for o in others):
            wins.append("silhouette")
        db = row.get("davies_bouldin")
        if db is not None and all(
            db <= (o.get("davies_bouldin") if o.get("davies_bouldin") is not None else math.inf)
            for o in others
        ):
            wins.append("Davies-Bouldin")
        st = row.get("stability") or 0
        if all(st >= (o.get("stability") or 0) for o in others):
            wins.append("stability")
    text = _describe(row) + ": "
    facts = []
    if wins:
        facts.append("best " + " and ".join(wins) + " of the families that passed every check")
    elif others:
        facts.append("best balance of silhouette, Davies-Bouldin and stability")
    facts.append(
        f"silhouette {_f(row.get('silhouette'))}, Davies-Bouldin {_f(row.get('davies_bouldin'))}"
    )
    if row.get("stability") is not None:
        steady = "stable" if row["stability"] >= MIN_STABILITY else "unstable"
        facts.append(
            f"{steady} at ARI {row['stability']:.2f} over {row['stability_repeats']} subsamples"
        )
    if row["noise_share"]:
        facts.append(f"{row['noise_share']:.0%} of customers left as noise")
    text += "; ".join(facts) + "."
    if others:
        text += " Also passed every check:"
    for o in others:
        text += (
            f" {_describe(o)}: silhouette {_f(o.get('silhouette'))}, Davies-Bouldin "
            f"{_f(o.get('davies_bouldin'))}, stability {_f(o.get('stability'))}"
            + (f", {o['noise_share']:.0%} noise" if o["noise_share"] else "")
            + "."
        )
    return text


def _family_reason_note(row: dict[str, Any]) -> str:
    """The reason a result would not be recommended, unless the sentence already says it."""
    why = row.get("excluded")
    if not why or "noise" in why or why.startswith("unstable"):
        return ""
    return f"Note: {why}."


def _rejections(picks: dict[str, dict[str, Any]], rejected: list[str], best: str) -> str:
    parts = [
        f"{_describe(picks[f])} not recommended: {picks[f]['excluded']}"
        for f in rejected
        if f != best
    ]
    return (" " + "; ".join(parts) + ".") if parts else ""
