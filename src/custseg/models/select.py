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
from sklearn.metrics import adjusted_rand_score

from custseg.errors import InputError
from custseg.evaluate import SILHOUETTE_SAMPLE, SilhouetteSample, cluster_metrics, wcss
from custseg.models._assign import fit_sample
from custseg.models._threads import PARALLEL_FROM, limit
from custseg.models.choose import MIN_CLUSTER_SHARE, choose_k
from custseg.models.families import (
    FitTask,
    Fitted,
    families,
    family_names,
    get_family,
    is_density,
    or_list,
)
from custseg.models.hierarchical import LINKAGES
from custseg.models.structure import (
    VALLEY_RATIO,
    Valley,
    axis_valley_cut,
    hidden_splits,
    neighbour_valley,
    valley_split,
)

K_MIN, K_MAX = 2, 10
"""Numbers of segments tried when k is not fixed."""

STABILITY_REPEATS = 5
"""Subsamples drawn to measure stability. Five made the same choices as ten on the 30 dev
scenarios of the scenario benchmark and on the four shared datasets; stability was a quarter
of the model stage's time on online_retail (selection CPU about 5.2 -> 4.2 s)."""
STABILITY_FRACTION = 0.8
"""Each subsample holds this share of the customers..."""
STABILITY_MAX_SAMPLE = 1_500
"""...but at most this many (stability is then that of clustering 1,500-customer samples)."""
STABILITY_N_INIT = 3
"""Restarts asked of the families in each stability refit (k-means and k-prototypes)."""
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
STABILITY_MARGIN = 0.05
"""A density solution is preferred to k-means for finding groups that are not round only when
k-means at the same k is not more stable by more than this (ARI over subsamples)."""
SAME_PARTITION = 0.8
"""Adjusted Rand index above which two partitions are taken as the same grouping."""
REFERENCE_FAMILY = "kmeans"
"""The centroid family a density solution is compared with at the same k: a density solution
is preferred only where this family cuts across its dense groups."""

CONSENSUS_ARI = 0.95
"""Adjusted Rand index above which HDBSCAN and DBSCAN are taken to agree on the same groups."""

HIDDEN_GROUP_SHARE = 0.02
"""A segment hides two groups when a valley splits it into two parts that each hold at least
this share of all customers (2%: a VIP tail of 2-5% of customers is a group to find; a
handful of customers on the wrong side of a boundary is not)."""
TOP_CUSTOMERS_SHARE = 0.01
"""For invoice lines, a solution whose noise holds any of this top share of customers by
revenue (or a larger share of revenue than of customers) is not recommended: the best
customers would get no segment."""

SELECT_MAX = 10_000
"""Above this many customers families and k are compared on a seeded sample of this size.
A segment's share in the sample is then within about 1 percentage point of its share among
all customers (two standard errors of a 50% share: 2 x sqrt(0.25 / 10,000)), and a group of 2%
of customers still holds about 200 sampled customers, enough for every family to find it. The
cost of the comparison stops growing with the table; only scoring everyone does."""

Progress = Callable[[str], None]


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
    structure: dict[str, Any] = field(default_factory=dict)
    """Whether the customers fall into separated groups: ``clear`` (bool), ``summary`` (the
    plain-words verdict for the report) and the evidence behind it."""
    refined: dict[str, Any] | None = None
    """When the chosen segments' boundaries were fitted to each segment's spread
    (:func:`_refine_boundaries`): ``method``, ``reg_param``, ``rounds``, ``converged``,
    ``moved`` (customers whose segment changed) and ``moved_share``, ``agreement`` (adjusted
    Rand index with the chosen segments), ``silhouette_before`` and ``silhouette`` (on the
    same sample), and ``scores``: silhouette, Davies-Bouldin, Calinski-Harabasz and WCSS of
    the refined segments, measured as the leaderboard measures a candidate (the chosen row
    keeps the scores of the segments as compared); the estimator is then the fitted
    quadratic discriminant."""
    sampling: dict[str, Any] | None = None
    """When the comparison ran on a sample (``max_select``): ``customers``, ``sample``,
    ``share_error`` (how far a segment's share in the sample can be from the full table's)
    and ``second_sample_ari`` (agreement with the chosen family and k fitted on another
    sample)."""

    @property
    def chosen_row(self) -> dict[str, Any]:
        """The leaderboard row recommended."""
        return next(r for r in self.leaderboard if r["recommended"])

    def family_rows(self, family: str | None = None) -> list[dict[str, Any]]:
        """Leaderboard rows of one family (the recommended one by default), in k order."""
        family = family or self.algorithm
        return [r for r in self.leaderboard if r["algorithm"] == family]


# ---------------------------------------------------------------- families


@dataclass
class _Job:
    """Everything the family fits need, so that full fits and stability refits share code."""

    X: np.ndarray
    X_mixed: np.ndarray | None
    categorical: tuple[int, ...]
    params: dict[str, dict[str, Any]]
    caches: dict[str, dict[Any, Any]] = field(default_factory=dict)
    """What each family keeps between its fits (:attr:`FitTask.cache`), e.g. the merge
    trees of the stability subsamples, so that measuring another k of the hierarchical
    family cuts the same trees again instead of rebuilding them."""

    def fit(
        self, family: str, rows: np.ndarray | None, ks: list[int], seed: int, quick: bool
    ) -> dict[int, Fitted]:
        """Fit ``family`` at each k on all rows (or on ``rows``); density families ignore ks."""
        fam = get_family(family)
        X = self.X
        if fam.space == "mixed":
            assert self.X_mixed is not None
            X = self.X_mixed
        task = FitTask(
            X=X if rows is None else X[rows],
            ks=ks,
            seed=seed,
            params=self.params.get(family, {}),
            categorical=self.categorical,
            n_init=STABILITY_N_INIT if quick else None,
            rows=rows,
            cache=self.caches.setdefault(family, {}),
        )
        return fam.model.fit(task)


def _refit_labels(
    job: _Job, family: str, rows: np.ndarray, ks: list[int], seed: int
) -> dict[int, np.ndarray]:
    """Labels of a refit on ``rows``: per k, or (density) one solution under key -1."""
    if is_density(family):
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
    parameters on the subsample, as they would on new data. Each repeat has its own seed.
    The refits run one after the other: each takes milliseconds on its 1,500 customers, less
    than handing it to a worker process.
    """
    n = job.X.shape[0]
    m = max(2, min(int(STABILITY_FRACTION * n), STABILITY_MAX_SAMPLE))
    rng = np.random.RandomState(seed)
    ks = sorted(full)
    samples = [np.sort(rng.choice(n, size=m, replace=False)) for _ in range(repeats)]
    refits = [_refit_labels(job, family, rows, ks, seed + 1 + r) for r, rows in enumerate(samples)]
    scores: dict[int, list[float]] = {k: [] for k in ks}
    for rows, refit in zip(samples, refits, strict=True):
        for k in ks:
            labels = refit.get(-1) if is_density(family) else refit.get(k)
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
    model = get_family(family).model
    row: dict[str, Any] = {
        "algorithm": family,
        "k": int(len(sizes)),
        "k_requested": k_requested,
        "parameters": model.parameters(fitted.estimator),
        "noise_share": noise,
        "smallest_share": float(sizes.min() / n) if len(sizes) else 0.0,
        "largest_share": float(sizes.max() / n) if len(sizes) else 0.0,
        "inertia": wcss(X, labels) if len(sizes) else None,
        "bic": model.bic(fitted.estimator, X),
    }
    row.update(cluster_metrics(X, labels, random_state=seed, silhouette_sample=silhouette))
    sil = row["silhouette"]
    # Mean silhouette over every customer, noise counted as 0 (a noise customer fits nowhere):
    # it lets density methods, which leave hard customers out, compete fairly.
    row["silhouette_all"] = None if sil is None or math.isnan(sil) else sil * (1.0 - noise)
    return row


def _degenerate(
    row: dict[str, Any], k_fixed: bool, apart: Callable[[], bool] | None = None
) -> str | None:
    """Why a solution is never recommended, or None.

    ``apart`` says whether the solution's segments are each parted from their neighbours by
    a valley: a small group that clearly stands apart (a 5% VIP tail) may leave the rest as
    one segment of over 90%."""
    if row["k"] < 2:
        if row["noise_share"] >= 1.0:
            return "every customer is noise"
        return "found a single segment"
    if row["noise_share"] > MAX_NOISE_SHARE:
        return f"{row['noise_share']:.0%} of customers left as noise"
    if row["largest_share"] > MAX_SEGMENT_SHARE and not (apart is not None and apart()):
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


@dataclass
class _Valleys:
    """What the valley test needs: the (dequantized) model inputs, the smallest hidden group,
    and whether the whole customer base splits at a valley at all."""

    X: np.ndarray
    min_size: int
    seed: int
    whole: Valley
    separated: bool = False
    """Whether the customers split into groups at a valley: the whole base cut in two, or
    two neighbouring segments of one of the first family's solutions."""
    pair_ratio: float = 1.0
    """The deepest valley found between two neighbouring segments."""
    tested: dict[bytes, Valley] = field(default_factory=dict)
    """The valley test of each segment already tested, by its members."""
    worsts: dict[bytes, float] = field(default_factory=dict)
    """The shallowest neighbour valley of each solution already measured, by its labels."""

    def __post_init__(self) -> None:
        self.separated = self.whole.separated

    def worst(self, labels: np.ndarray) -> float:
        """The shallowest valley between a segment and its nearest neighbour (1.0: none)."""
        key = labels.tobytes()
        if key not in self.worsts:
            self.worsts[key] = neighbour_valley(
                self.X, labels, min_size=self.min_size, seed=self.seed, worst=True
            )
        return self.worsts[key]

    def numbers_apart(self, labels: np.ndarray) -> bool:
        """Whether every segment is parted from its nearest neighbour by a valley."""
        return self.worst(labels) < VALLEY_RATIO

    def look_for_groups(self, solutions: list[np.ndarray]) -> None:
        """Check neighbouring segments of ``solutions`` for a valley between them (once)."""
        if self.separated:
            return
        for labels in solutions:
            ratio = neighbour_valley(self.X, labels, min_size=self.min_size, seed=self.seed)
            self.pair_ratio = min(self.pair_ratio, ratio)
            if ratio < VALLEY_RATIO:
                self.separated = True
                return

    def count(self, row: dict[str, Any], labels: np.ndarray) -> int:
        """Segments of ``labels`` that hide two groups, stored in ``row``."""
        if "hidden_splits" not in row:
            tests = hidden_splits(
                self.X, labels, min_size=self.min_size, seed=self.seed, cache=self.tested
            )
            hidden = {c: v for c, v in tests.items() if v.separated}
            row["hidden_splits"] = len(hidden)
            row["valley_ratio"] = round(min((v.ratio for v in tests.values()), default=1.0), 3)
        return int(row["hidden_splits"])


def _smallest_clean_k(
    family: str,
    rows: list[dict[str, Any]],
    fits: dict[tuple[str, int], Fitted],
    valleys: _Valleys,
    measure: Callable[[list[dict[str, Any]]], None] | None = None,
) -> dict[str, Any] | None:
    """The smallest k among ``rows`` whose segments hide no two groups and that passes every
    check (stability measured on the way); None when every k leaves a valley inside a
    segment."""
    for row in sorted(rows, key=lambda r: r["k_requested"]):
        if row["excluded"]:
            continue
        if valleys.count(row, fits[(family, row["k_requested"])].labels) == 0:
            if measure is not None:
                measure([row])
                if row["excluded"]:
                    continue
            return row
    return None


def _family_pick(
    family: str,
    rows: list[dict[str, Any]],
    k_fixed: bool,
    fits: dict[tuple[str, int], Fitted] | None = None,
    valleys: _Valleys | None = None,
    measure: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[dict[str, Any], str]:
    """The row a family recommends, and why.

    The family's own rule chooses k first (:func:`_usual_pick`). Then, when the customers
    split into groups at valleys of low density at all, k is raised to the smallest k from
    there on at which no segment hides two groups: geometry may cut a continuum, but it may
    not merge a small group into a large one.
    """
    usual, reason = _usual_pick(family, rows)
    if (
        valleys is None
        or fits is None
        or not valleys.separated
        or len(rows) < 2
        or is_density(family)
    ):
        return usual, reason
    later = [r for r in rows if r["k_requested"] >= usual["k_requested"]]
    clean = _smallest_clean_k(family, later, fits, valleys, measure)
    if clean is None:
        hidden = valleys.count(usual, fits[(family, usual["k_requested"])].labels)
        if hidden:
            reason += (
                f" At every k from {usual['k']} on, some segment still holds two groups "
                "separated by a valley (too small, unstable or merged by this family)."
            )
        return usual, reason
    if clean is usual:
        return usual, reason + " No segment hides two groups (checked by a valley test)."
    if usual["excluded"]:
        return clean, (
            f"The usual criteria point to k={usual['k']} ({_lower_first(reason)}) But that "
            f"solution is not usable ({usual['excluded']}); k={clean['k']} is the smallest "
            "number of segments from there on that passes every check and at which no segment "
            "hides two groups."
        )
    valleys.count(usual, fits[(family, usual["k_requested"])].labels)
    return clean, (
        f"The usual criteria point to k={usual['k']} ({_lower_first(reason)}) "
        f"But at k={usual['k']}, {usual['hidden_splits']} segment(s) hold two groups "
        f"separated by a valley of low density (density at the cut "
        f"{usual['valley_ratio']:.0%} of the lower hump), which a marketer would need apart; "
        f"k={clean['k']} is the smallest number of segments from there on at which no segment "
        "hides two groups."
    )


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] + "."


def _usual_pick(family: str, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The row a family's own rule recommends (choose_k, BIC, or the one solution), and why."""
    fam = get_family(family)
    label = fam.label
    if len(rows) == 1:
        row = rows[0]
        if fam.is_density:
            why = f"{label} found {row['k']} segment(s)"
            if row["noise_share"]:
                why += f" and left {row['noise_share']:.0%} of customers as noise"
            return row, why + f" ({_fmt_params(row['parameters'])})."
        return row, f"k={row['k']} was fixed by the user."
    if fam.model.choose_k_by == "bic":
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
    cost = fam.model.cost_label
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
    fam = get_family(row["algorithm"])
    label = fam.label
    if fam.is_density:
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
    X_valley: np.ndarray | None = None,
    value: np.ndarray | None = None,
    progress: Progress | None = None,
    max_select: int | None = SELECT_MAX,
    recency_column: int | None = None,
) -> Selection:
    """Fit the candidate families and numbers of segments, score them and recommend one.

    In ``auto``, a k-means recommendation on numeric inputs then has its boundaries fitted to
    each segment's own spread (:mod:`custseg.models.refine`; ``Selection.refined`` says how
    many customers moved, None when the refinement was not kept).

    Parameters
    ----------
    X : ndarray of shape (n_customers, n_features)
        Preprocessed features (numbers scaled, categories one-hot): every candidate is scored
        here, so all are compared in the same space.
    X_mixed : ndarray, optional
        Numbers scaled and category codes, for k-prototypes; ``categorical`` indexes the
        category columns. Without category columns k-prototypes is not a candidate in
        ``auto``.
    algorithm : str
        ``auto`` compares every family of :data:`custseg.models.families.REGISTRY`
        (``kmeans``, ``gmm``, ``hierarchical``, ``kprototypes``, ``hdbscan``, ``dbscan``); a
        family name restricts the search to it.
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
    X_valley : ndarray, optional
        The numeric model inputs with whole-number columns dequantized
        (:func:`custseg.preprocess.dequantize`), for the valley test that asks whether a
        segment hides two groups; ``X`` by default.
    value : ndarray, optional
        Revenue per customer (invoice lines): a density solution whose noise holds the top
        customers or more than its share of revenue is not recommended.
    progress : callable, optional
        Called with a label as each family starts.
    max_select : int or None
        Above this many customers the comparison runs on a seeded sample of this size and
        the chosen model then assigns every customer (k-means is refined on all of them);
        ``Selection.sampling`` says how much another sample would change the segments.
        ``None`` compares on every customer.
    recency_column : int, optional
        The column of ``X`` (and ``X_valley``) that measures recency (invoice lines: days
        since the last purchase). A chosen k-means segment whose recency parts at a valley
        into customers who still buy and customers who stopped is split there (see
        :func:`_split_lapsed`), unless ``k`` is fixed.

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
    # BLAS and OpenMP threads spin-wait on small matrices: with another process on the
    # machine one 5x5 triangular solve took 8 ms on two threads against 0.05 ms on one
    # (Gaussian mixtures make thousands), and a Gaussian mixture's k-means start took 10x
    # longer. Below PARALLEL_FROM customers every native library runs on one thread.
    # Large tables: the whole comparison runs on a seeded sample, whose size fixes how far a
    # segment's share can be from the full table's; the chosen model then scores everyone.
    n = X.shape[0]
    index = fit_sample(n, max_select, seed)
    sampled = len(index) < n

    def rows(a: np.ndarray | None) -> np.ndarray | None:
        return a[index] if sampled and a is not None else a

    with limit(limits=1 if len(index) < PARALLEL_FROM else None):
        sel = _select_model(
            X[index] if sampled else X,
            X_mixed=rows(X_mixed),
            categorical=categorical,
            algorithm=algorithm,
            k=k,
            seed=seed,
            params=params,
            attributes=None
            if attributes is None
            else {name: codes[index] if sampled else codes for name, codes in attributes.items()},
            silhouette_sample_size=silhouette_sample_size,
            X_valley=rows(X_valley),
            value=rows(value),
            progress=progress,
        )
    if sampled:
        if progress is not None:
            progress(f"Scoring all {n:,} customers")
        sel = _score_everyone(sel, X, X_mixed, index, seed, silhouette_sample_size)
    if algorithm == "auto" and not len(categorical):
        _refine_boundaries(
            sel,
            X,
            index if sampled else None,
            silhouette_sample_size,
            seed,
            X_valley=X_valley,
            # A number of segments the user fixed is kept.
            recency_column=recency_column if k is None else None,
        )
    return sel


REFINED_FAMILIES = ("kmeans",)
"""Families whose boundaries :func:`_refine_boundaries` moves: k-means cuts halfway between
segment centres. Mixtures already follow each segment's spread, density methods follow the
density, k-prototypes' category codes are not numbers a covariance can describe, and the
hierarchical tree is kept as drawn (the report shows its cut; on the scenario benchmark its
refined picks changed no result)."""


def _refine_boundaries(
    sel: Selection,
    X: np.ndarray,
    index: np.ndarray | None,
    silhouette_sample_size: int,
    seed: int,
    X_valley: np.ndarray | None = None,
    recency_column: int | None = None,
) -> None:
    """Fit the chosen k-means segments' boundaries to each segment's own spread
    (:func:`custseg.models.refine.refine_partition`), on the rows the choice was made on,
    then score every customer with the refined model. Only in ``auto`` on numeric model
    inputs: one-hot category columns have no Gaussian spread (on the benchmark's customer
    tables with categories the refinement cut across the categories that carry the groups),
    and a family the user asked for is given as that family draws it.

    A chosen segment whose recency parts at a valley into customers who still buy and
    customers who stopped is first split there (:func:`_split_lapsed`): k-means cuts along
    the largest spread, and a group that differs in recency only (subscribers who stopped,
    beside those who still buy) can stay merged at every k."""
    from custseg.models.refine import REG_PARAM, refine_partition

    # The chosen row's silhouette is on the sample SilhouetteSample(X, size, seed) draws here
    # too; it is not reported when each segment is one repeated row (nothing to move).
    before = sel.chosen_row.get("silhouette")
    if (
        sel.algorithm not in REFINED_FAMILIES
        or (sel.labels < 0).any()
        or before is None
        or not math.isfinite(before)
    ):
        return
    rows = X if index is None else X[index]
    start = sel.labels if index is None else sel.labels[index]
    min_size = max(2, math.ceil(HIDDEN_GROUP_SHARE * len(rows)))
    Xv = X if X_valley is None or X_valley.shape != X.shape else X_valley
    Xv_rows = Xv if index is None else Xv[index]
    split = (
        _split_lapsed(Xv_rows[:, recency_column], start, min_size)
        if recency_column is not None
        else None
    )
    refined = None
    if split is not None:
        refined = refine_partition(rows, split.labels, min_size=min_size)
        if refined is None:
            split = None
    if split is None:
        refined = refine_partition(rows, start, min_size=min_size)
        if refined is None or refined.moved == 0:
            return
    assert refined is not None
    labels = refined.labels if index is None else np.asarray(refined.estimator.predict(X))
    moved = int((labels != sel.labels).sum())
    sel.estimator = refined.estimator
    sel.labels = labels.astype(np.int64)
    # The final segments scored as the chosen row was (on every customer: a sampled choice's
    # row is scored again on all of them): the leaderboard keeps the candidates as compared,
    # metrics.json's headline scores describe the segments the customers are given.
    scores = cluster_metrics(
        X,
        sel.labels,
        random_state=seed,
        silhouette_sample=SilhouetteSample(X, silhouette_sample_size, seed),
    )
    sel.refined = {
        "method": "quadratic discriminant, classification EM",
        "reg_param": REG_PARAM,
        "rounds": refined.rounds,
        "converged": refined.converged,
        "moved": moved,
        "moved_share": round(moved / len(X), 4),
        "agreement": round(refined.agreement, 4),
        "silhouette_before": round(float(before), 4),
        "silhouette": round(float(scores["silhouette"]), 4),
        "scores": {
            "silhouette": scores["silhouette"],
            "davies_bouldin": scores["davies_bouldin"],
            "calinski_harabasz": scores["calinski_harabasz"],
            "inertia": wcss(X, sel.labels),
        },
        "split": None,
    }
    if split is not None:
        _record_split(sel, split, Xv_rows, refined.labels, min_size, seed)
    label = get_family(sel.algorithm).label
    sel.notes.append(
        f"the {label} segments' boundaries were then fitted to each "
        f"segment's own spread (a regularised quadratic discriminant, "
        + (
            f"refitted until no customer moved: {refined.rounds} rounds"
            if refined.converged
            else f"refitted {refined.rounds} times, the most allowed"
        )
        + f"); {moved:,} customers ({moved / len(X):.1%}) "
        + (
            "changed segment, the number of segments is the same"
            if split is None
            else "are in another segment than the k-means pick gave them, the split included"
        )
        + f" (silhouette {sel.refined['silhouette_before']:.2f} -> "
        f"{sel.refined['silhouette']:.2f}; "
        + ("" if split is None else "one segment more, and ")
        + "it rewards round segments of equal spread)"
    )


@dataclass
class _Split:
    """Chosen segments split at a valley in recency: the new partition, and one entry per
    split segment (``segment``, ``new``, ``ratio``)."""

    labels: np.ndarray
    entries: list[dict[str, Any]]


def _split_lapsed(recency: np.ndarray, labels: np.ndarray, min_size: int) -> _Split | None:
    """Split every segment of ``labels`` whose ``recency`` (one model input, dequantized)
    parts at a valley below :data:`~custseg.models.structure.VALLEY_RATIO` with at least
    ``min_size`` customers each side: the less recent side becomes a new segment. None when
    no segment does.

    A valley in recency inside one segment means customers who buy alike but some of whom
    stopped: the group a marketer must win back (the first failure of issue 12 is a lapsing
    group merged with loyal regulars)."""
    new = labels.copy()
    entries: list[dict[str, Any]] = []
    k = int(labels.max()) + 1
    for segment in np.unique(labels):
        members = np.flatnonzero(labels == segment)
        ratio, _, cut = axis_valley_cut(recency[members], min_size)
        if cut is None or ratio >= VALLEY_RATIO:
            continue
        lapsed = recency[members] > cut
        if min(int(lapsed.sum()), int((~lapsed).sum())) < min_size:
            continue
        new[members[lapsed]] = k
        entries.append({"segment": int(segment), "new": k, "ratio": round(float(ratio), 4)})
        k += 1
    return _Split(new, entries) if entries else None


def _record_split(
    sel: Selection,
    split: _Split,
    Xv: np.ndarray,
    labels: np.ndarray,
    min_size: int,
    seed: int,
) -> None:
    """Say what a split did (reason, notes, ``refined["split"]``) and judge the structure of
    the split segments (``labels``, on the rows ``Xv`` of the choice) again: on every input,
    with the evidence the choice already gathered on the whole base."""
    label = get_family(sel.algorithm).label
    k_before = sel.k
    sel.k = int(len(np.unique(sel.labels)))
    assert sel.refined is not None
    sel.refined["split"] = split.entries
    sel.reason += (
        f" Then {len(split.entries)} of its segments held customers who stopped buying "
        "beside customers who still buy (a valley in days since the last purchase) and "
        f"{'was' if len(split.entries) == 1 else 'were'} split in two: {sel.k} segments."
    )
    for entry in split.entries:
        # Counted over every customer (the split was found on the rows of the choice).
        entry["sizes"] = (
            int((sel.labels == entry["segment"]).sum()),
            int((sel.labels == entry["new"]).sum()),
        )
        sel.notes.append(
            f"a {label} segment held customers who still buy and customers who stopped: "
            "their days since the last purchase part at a valley of low density (the density "
            f"there is {entry['ratio']:.1%} of the lower hump), which the {label} pick kept "
            f"together; it was split in two at the valley ({entry['sizes'][0]:,} more recent "
            f"and {entry['sizes'][1]:,} less recent customers), so there are {sel.k} segments "
            f"instead of {k_before}"
        )
    before = sel.structure
    whole = Valley(True, float(before.get("whole_valley_ratio", 1.0)), (0, 0))
    valleys = _Valleys(Xv, min_size, seed, whole)
    valleys.separated = True
    valleys.pair_ratio = min(
        [float(e["ratio"]) for e in split.entries]
        + [float(before.get("neighbour_valley_ratio", 1.0))]
    )
    # The pick's stability was measured on its own segments, not on the split ones.
    row = {
        **{
            k_: v for k_, v in sel.chosen_row.items() if k_ not in ("hidden_splits", "valley_ratio")
        },
        "k": sel.k,
        "stability": None,
    }
    sel.structure = {
        **_structure(row, labels, sel.leaderboard, valleys),
        "split_at_valley": len(split.entries),
    }


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
    X_valley: np.ndarray | None,
    value: np.ndarray | None,
    progress: Progress | None,
) -> Selection:
    names = family_names()
    if algorithm != "auto" and algorithm not in names:
        raise InputError(
            f"Unknown algorithm {algorithm!r}. Choose one of: {', '.join(('auto', *names))}."
        )
    params = dict(params or {})
    family_params = _split_params(params, algorithm)
    has_categories = X_mixed is not None and len(categorical) > 0
    n = X.shape[0]
    n_distinct = len(np.unique(X, axis=0))
    notes: list[str] = []
    warns: list[str] = []
    if algorithm == "auto":
        candidates = list(families())
        if not has_categories:
            for fam in [f for f in candidates if f.needs_categories]:
                candidates.remove(fam)
                notes.append(fam.no_categories_note)
        density = [f for f in candidates if f.is_density]
        if k is not None and density:
            candidates = [f for f in candidates if not f.is_density]
            notes.append(
                f"{' and '.join(sorted(f.label for f in density))} left out: they find their own number of segments, and k={k} was fixed"
            )
    else:
        asked = get_family(algorithm)
        candidates = [asked]
        if asked.is_density and k is not None:
            others = [f.name for f in families() if not f.is_density]
            raise InputError(
                f"--k does not apply to {asked.label}, which finds the number of "
                f"segments itself. Drop --k, or use {or_list(others)}."
            )
        if asked.needs_categories and not has_categories:
            warns.append(asked.no_categories_warning)
        if asked.space == "mixed" and X_mixed is None:
            X_mixed, categorical = X, ()
    candidate_names = [f.name for f in candidates]
    if k is not None:
        ks = [k]
    else:
        top = min(K_MAX, n_distinct, n - 1)
        ks = list(range(K_MIN, top + 1)) or [max(1, min(K_MIN, n_distinct))]
    job = _Job(X=X, X_mixed=X_mixed, categorical=tuple(categorical), params=family_params)
    silhouette = SilhouetteSample(X, silhouette_sample_size, seed)
    Xv = X if X_valley is None else X_valley
    min_size = max(2, math.ceil(HIDDEN_GROUP_SHARE * n))
    valleys = _Valleys(Xv, min_size, seed, valley_split(Xv, min_size=min_size, seed=seed))
    if X.shape[1] >= n:
        warns.append(
            f"there are {X.shape[1]:,} model inputs for {n:,} customers: with more columns than "
            "customers every customer is about as far from every other, and no segmentation "
            "can be trusted; keep the few columns that matter, or segment more customers"
        )
    if n_distinct <= K_MAX:
        notes.append(
            f"the {n:,} customers have only {n_distinct} distinct rows of values (after "
            f"preprocessing), so at most {n_distinct} segments can be told apart; a solution "
            "whose segments each hold identical customers is the distinct combinations "
            "themselves, and its silhouette, Davies-Bouldin and Calinski-Harabasz are not "
            "reported (on exact ties they would read as a perfect fit)"
        )
    for fam in candidates:
        notes.extend(fam.model.notes(family_params[fam.name], X.shape[1]))
    if silhouette.sampled:
        notes.append(
            f"silhouette computed on a seeded sample of {silhouette_sample_size:,} of the "
            f"{n:,} customers (its cost grows with n^2); the other criteria use every customer"
        )
    leaderboard: list[dict[str, Any]] = []
    fits: dict[tuple[str, int], Fitted] = {}
    picks: dict[str, dict[str, Any]] = {}
    reasons: dict[str, str] = {}
    measures: dict[str, Callable[[list[dict[str, Any]]], None]] = {}
    looked = False

    def fit_family(family: str) -> tuple[dict[int, Fitted], float]:
        start = time.perf_counter()
        full = job.fit(family, None, ks, seed, quick=False)
        return full, (time.perf_counter() - start) / max(1, len(full))

    if progress is not None:
        progress("Fitting " + ", ".join(f.label for f in candidates))
    fitted_families = {family: fit_family(family) for family in candidate_names}
    for family in candidate_names:
        full, fit_seconds = fitted_families[family]
        rows = []
        for k_, fitted in sorted(full.items()):
            t0 = time.perf_counter()
            row = _score_row(
                family, None if is_density(family) else k_, fitted, X, silhouette, seed
            )
            row["seconds"] = fit_seconds + time.perf_counter() - t0
            rows.append(row)
            fits[(family, k_)] = fitted
        for row, k_ in zip(rows, sorted(full), strict=True):
            row.update(stability=None, stability_q1=None, stability_q3=None, stability_repeats=0)
            row["seconds"] = round(row["seconds"], 3)
            copies = _copies_attribute(full[k_].labels, attributes)
            if copies and X_valley is not None and valleys.numbers_apart(full[k_].labels):
                # The segments follow a category, but the numbers part them too: groups.
                copies = None
            row["excluded"] = (
                _degenerate(row, k is not None, _apart(valleys, full[k_].labels, X_valley))
                or copies
            )
            row["family_choice"] = False
            row["recommended"] = False
        if not looked:
            valleys.look_for_groups([full[k_].labels for k_ in sorted(full)])
            looked = True

        def measure(batch: list[dict[str, Any]], family: str = family, full=full) -> None:
            """Stability of the rows in ``batch`` not yet measured (refits cost the most, so
            only the solutions the choice looks at are measured)."""
            todo = [r for r in batch if not r["stability_repeats"]]
            if not todo:
                return
            if progress is not None:
                progress(f"Measuring the stability of {get_family(family).label}")
            t0 = time.perf_counter()
            keys = [r["k_requested"] if r["k_requested"] is not None else r["k"] for r in todo]
            stab = stability_scores(job, family, {k_: full[k_] for k_ in keys}, seed)
            per_row = (time.perf_counter() - t0) / len(todo)
            for r, k_ in zip(todo, keys, strict=True):
                values = stab.get(k_) or []
                r["stability"] = float(np.median(values)) if values else None
                r["stability_q1"] = float(np.percentile(values, 25)) if values else None
                r["stability_q3"] = float(np.percentile(values, 75)) if values else None
                r["stability_repeats"] = len(values)
                r["seconds"] = round(r["seconds"] + per_row, 3)
                r["excluded"] = r["excluded"] or _degenerate(
                    r, k is not None, _apart(valleys, full[k_].labels, X_valley)
                )

        pick, reasons[family] = _family_pick(
            family, rows, k is not None, fits, valleys, measure=measure
        )
        measures[family] = measure
        if not is_density(family) or algorithm != "auto":
            # In auto a density pick can win only where its boundaries are valleys; its
            # stability is measured there, when that is known (_recommend).
            measure([pick])
        if value is not None and is_density(family) and algorithm == "auto":
            why = _noise_holds_value(full[next(iter(full))].labels, value)
            if why is not None and pick["k"] >= 2:
                # The best customers may not be left without a segment: every noise customer
                # goes to the segment of the nearest reference point instead.
                key_ = pick["k"]
                absorbed = _absorb_noise(fits[(family, key_)], X)
                fits[(family, key_)] = absorbed
                row = _score_row(family, None, absorbed, X, silhouette, seed)
                keep = ("stability", "stability_q1", "stability_q3", "stability_repeats")
                row.update({k_: pick[k_] for k_ in (*keep, "seconds")})
                row["parameters"] = {**row["parameters"], "noise_assigned": True}
                row["excluded"] = _degenerate(row, k is not None)
                row["family_choice"] = row["recommended"] = False
                rows[rows.index(pick)] = row
                pick = row
                reasons[family] += (
                    f" Its noise would leave the best customers without a segment ({why}), so "
                    "each noise customer is assigned to the segment of the nearest core point."
                )
        key_ = pick["k_requested"] if pick["k_requested"] is not None else pick["k"]
        valleys.count(pick, fits[(family, key_)].labels)
        pick["family_choice"] = True
        picks[family] = pick
        leaderboard.extend(rows)
        max_fit = get_family(family).model.max_fit
        if max_fit is not None and n > max_fit:
            notes.append(
                f"{get_family(family).label} fitted on a seeded sample of {max_fit:,} "
                f"of the {n:,} customers; the rest were assigned by its scoring rule"
            )
    chosen, reason = _recommend(
        picks,
        fits,
        leaderboard,
        k is not None,
        algorithm,
        valleys.separated,
        valleys,
        measures,
        value,
    )
    chosen["recommended"] = True
    key = chosen["k_requested"] if chosen["k_requested"] is not None else chosen["k"]
    fitted = fits[(chosen["algorithm"], key)]
    winner = get_family(chosen["algorithm"])
    if chosen["k"] < 2:
        raise InputError(
            f"{winner.label} found no segmentation: "
            f"{_degenerate(chosen, True)} ({_fmt_params(chosen['parameters'])}). "
            + winner.model.no_segments_hint(chosen["noise_share"] >= 1.0)
        )
    warns.extend(winner.model.warnings(chosen))
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
        space=winner.space,
        labels=fitted.labels,
        k=int(chosen["k"]),
        leaderboard=leaderboard,
        reason=reason,
        family_reasons=reasons,
        notes=notes,
        warnings=warns,
        structure=_structure(chosen, fitted.labels, leaderboard, valleys, n_distinct),
    )


def _score_everyone(
    sel: Selection,
    X: np.ndarray,
    X_mixed: np.ndarray | None,
    index: np.ndarray,
    seed: int,
    silhouette_sample_size: int,
) -> Selection:
    """The selection made on the sample ``index``, applied to every customer.

    k-means is refined on every customer from the sample's centres (Lloyd iterations until
    they settle); the other families score everyone with their rule. The chosen leaderboard
    row is re-scored on every customer, and a second fit of the chosen family and k on
    another seeded sample tells how much the sample could change the segments.
    """
    n, m = X.shape[0], len(index)
    data = X_mixed if sel.space == "mixed" and X_mixed is not None else X
    with limit(limits=None):
        est, labels, how = get_family(sel.algorithm).model.assign_everyone(
            sel.estimator, data, sel.k, seed
        )
        # Another sample, the same family and k: how far the segments depend on the sample.
        other = fit_sample(n, m, seed + 1)
        again = _refit_chosen(sel, data, other, seed)
    agreement = (
        float(adjusted_rand_score(labels, np.asarray(again.predict(data))))
        if again is not None
        else None
    )
    chosen = sel.chosen_row
    row = _score_row(
        sel.algorithm,
        chosen["k_requested"],
        Fitted(est, labels),
        X,
        SilhouetteSample(X, silhouette_sample_size, seed),
        seed,
    )
    for key in (
        "noise_share",
        "smallest_share",
        "largest_share",
        "inertia",
        "bic",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "silhouette_sampled",
        "silhouette_sample_size",
        "silhouette_all",
    ):
        chosen[f"{key}_sample"] = chosen.get(key)
        chosen[key] = row[key]
    chosen["k"] = int(len(np.unique(labels[labels >= 0])))
    share_error = 2 * math.sqrt(0.25 / m)
    sel.sampling = {
        "customers": int(n),
        "sample": int(m),
        "share_error": round(share_error, 4),
        "second_sample_ari": None if agreement is None else round(agreement, 4),
    }
    sel.notes.insert(
        0,
        f"families and numbers of segments compared on a seeded sample of {m:,} of the {n:,} "
        f"customers (a segment's share there is within about {share_error:.1%} of its share "
        "among all customers); the chosen model then assigned every customer"
        + how
        + (
            f". Fitted on another sample, it puts customers in the same segments at ARI "
            f"{agreement:.2f}"
            if agreement is not None
            else ""
        ),
    )
    sel.estimator, sel.labels = est, labels
    return sel


def _refit_chosen(sel: Selection, data: np.ndarray, rows: np.ndarray, seed: int) -> Any:
    """The chosen family at the chosen k fitted on ``rows`` (None for density families,
    whose k is not a setting)."""
    fam = get_family(sel.algorithm)
    if fam.is_density:
        return None
    return fam.model.refit(sel.estimator, seed + 1, STABILITY_N_INIT).fit(data[rows])


def _apart(
    valleys: _Valleys, labels: np.ndarray, X_valley: np.ndarray | None
) -> Callable[[], bool] | None:
    """A lazy check that every segment is parted from its neighbour by a valley."""
    if X_valley is None:
        return None
    return lambda: valleys.numbers_apart(labels)


def _absorb_noise(fitted: Fitted, X: np.ndarray) -> Fitted:
    """A density solution without noise: every customer takes the segment of the nearest
    reference point, whatever the distance (the scoring rule with an infinite radius, so new
    customers are scored the same way)."""
    from copy import deepcopy

    from custseg.models._assign import nearest_reference_labels

    est = deepcopy(fitted.estimator)
    est.radius_ = np.inf
    est.labels_ = nearest_reference_labels(X, est.reference_, est.reference_labels_, np.inf)
    est.noise_share_ = 0.0
    return Fitted(est, np.asarray(est.labels_, dtype=np.int64))


def _noise_holds_value(labels: np.ndarray, value: np.ndarray) -> str | None:
    """Why a solution's noise must not be recommended as is (invoice lines), or None.

    Noise that holds a larger share of revenue than of customers, or any of the top
    :data:`TOP_CUSTOMERS_SHARE` customers by revenue, would leave the most valuable
    customers without a segment.
    """
    noise = labels < 0
    if not noise.any():
        return None
    total = float(np.sum(value))
    revenue_share = float(value[noise].sum()) / total if total > 0 else 0.0
    customer_share = float(noise.mean())
    top = max(1, int(math.ceil(TOP_CUSTOMERS_SHARE * len(value))))
    threshold = np.partition(value, len(value) - top)[len(value) - top]
    top_in_noise = int(np.sum(noise & (value >= threshold)))
    if top_in_noise:
        return (
            f"its noise holds {top_in_noise} of the top {TOP_CUSTOMERS_SHARE:.0%} customers by "
            f"revenue ({revenue_share:.0%} of revenue, {customer_share:.0%} of customers)"
        )
    if revenue_share > customer_share:
        return (
            f"its noise holds {revenue_share:.0%} of revenue but {customer_share:.0%} of customers"
        )
    return None


def _structure(
    chosen: dict[str, Any],
    labels: np.ndarray,
    leaderboard: list[dict[str, Any]],
    valleys: _Valleys,
    n_distinct: int | None = None,
) -> dict[str, Any]:
    """Does the recommended solution describe separated groups? The verdict and its evidence.

    ``separated``: every segment is parted from its nearest neighbour by a valley and none
    hides two groups; ``partial``: some segments are parted by valleys, others are cuts of a
    continuum (or a segment still hides two groups); ``continuum``: no valley anywhere.
    """
    # Solutions that leave customers as noise are left out (unless every one does): their
    # silhouette is measured on the customers they keep, which flatters them (DBSCAN keeping
    # the dense core of a continuum reads 0.32 where every solution of all customers stays
    # under 0.30).
    scored = [
        r for r in leaderboard
        if r.get("silhouette") is not None and not math.isnan(r["silhouette"])
    ]  # fmt: skip
    best_sil = max(
        (r["silhouette"] for r in [r for r in scored if not r.get("noise_share")] or scored),
        default=float("nan"),
    )
    hidden = valleys.count(chosen, labels)
    evidence = {
        "whole_valley_ratio": round(valleys.whole.ratio, 3),
        "neighbour_valley_ratio": round(valleys.pair_ratio, 3),
        "valley_threshold": VALLEY_RATIO,
        "hidden_splits": hidden,
        "best_silhouette": None if math.isnan(best_sil) else round(best_sil, 3),
        "stability": chosen.get("stability"),
    }
    k = chosen["k"]
    if chosen.get("identical_within"):
        summary = (
            f"No structure to measure: each of the {k} segments holds customers with identical "
            "values"
            + (f" (the customers have {n_distinct} distinct rows of values)" if n_distinct else "")
            + ", so the segments are the distinct combinations of values present, not groups "
            "found by distance. Silhouette, Davies-Bouldin and Calinski-Harabasz are not "
            "reported: on exact ties they would read as a perfect fit."
        )
        return {"clear": False, "kind": "ties", "summary": summary, **evidence}
    if not valleys.separated:
        summary = (
            "No clear segment structure: the customers form one continuous cloud rather than "
            "separated groups (no valley of low density between any two neighbouring segments "
            "of any solution tried; the deepest dip leaves "
            f"{min(valleys.whole.ratio, valleys.pair_ratio):.0%} of the density around it; best "
            f"silhouette {_f(best_sil)}). The {k} segments are useful cuts of that continuum for "
            "targeting, not discovered groups: customers near a boundary could as well be on "
            "the other side."
        )
        return {"clear": False, "kind": "continuum", "summary": summary, **evidence}
    apart = k >= 2 and valleys.numbers_apart(labels)
    if hidden or not apart:
        summary = (
            "Partly clear structure: some customers fall into groups separated by valleys of "
            "low density, but "
            + (
                f"{hidden} segment(s) still hold two groups"
                if hidden
                else "other segment boundaries cut through a continuum (customers on either "
                "side of such a boundary differ by degree, not in kind)"
            )
            + ". Read those segments as a useful simplification."
        )
        return {"clear": False, "kind": "partial", "summary": summary, **evidence}
    stab = chosen.get("stability")
    summary = (
        f"Clear segment structure: the customers fall into {k} groups, each parted from its "
        "nearest neighbour by a valley of low density, and no segment hides two groups"
        + (f"; the segments are stable (ARI {stab:.2f} over subsamples)" if stab else "")
        + "."
    )
    return {"clear": True, "kind": "separated", "summary": summary, **evidence}


def _split_params(params: dict[str, Any], algorithm: str) -> dict[str, dict[str, Any]]:
    names = family_names()
    out: dict[str, dict[str, Any]] = {f: {} for f in names}
    for name, value in params.items():
        if value is None:
            continue
        owners = [f.name for f in families() if name in f.params]
        if not owners:
            known = sorted({p for f in families() for p in f.params})
            raise InputError(f"Unknown algorithm parameter {name!r}. Known: {', '.join(known)}.")
        if algorithm != "auto" and algorithm not in owners:
            raise InputError(
                f"Parameter {name!r} does not apply to {algorithm}; it is for "
                f"{' and '.join(owners)}."
            )
        for f in owners:
            out[f][name] = value
    linkage = _given(out, "linkage")
    if linkage is not None and linkage not in LINKAGES:
        raise InputError(f"--linkage must be one of {', '.join(LINKAGES)}; got {linkage!r}.")
    cov = _given(out, "covariance_type")
    if cov is not None and cov not in ("full", "tied", "diag", "spherical"):
        raise InputError(f"covariance_type must be full, tied, diag or spherical; got {cov!r}.")
    for name in ("eps", "gamma"):
        for f in names:
            v = out[f].get(name)
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise InputError(f"--{name} must be a positive number; got {v!r}.")
    for name in ("min_samples", "min_cluster_size"):
        for f in names:
            v = out[f].get(name)
            if v is not None and not (isinstance(v, int) and v >= 2):
                raise InputError(
                    f"--{name.replace('_', '-')} must be a whole number of at least 2; got {v!r}."
                )
    return out


def _given(params: dict[str, dict[str, Any]], name: str) -> Any:
    """The value given for parameter ``name`` (every family that takes it has it), or None."""
    return next((p[name] for p in params.values() if p.get(name) is not None), None)


def _rank_key(row: dict[str, Any]) -> tuple[float, float, float]:
    """Silhouette (all customers), Davies-Bouldin and stability, rounded to two decimals:
    differences below 0.01 are noise of the sample and the seeds, and tie (the simpler
    family then goes first)."""
    sil = row.get("silhouette_all")
    db = row.get("davies_bouldin")
    stab = row.get("stability")
    return (
        -round(sil if sil is not None and not math.isnan(sil) else -1.0, 2),
        round(db, 2) if db is not None and not math.isnan(db) else math.inf,
        -round(stab if stab is not None else 0.0, 2),
    )


def _recommend(
    picks: dict[str, dict[str, Any]],
    fits: dict[tuple[str, int], Fitted],
    leaderboard: list[dict[str, Any]],
    k_fixed: bool,
    algorithm: str,
    separated: bool = False,
    valleys: _Valleys | None = None,
    measures: dict[str, Callable[[list[dict[str, Any]]], None]] | None = None,
    value: np.ndarray | None = None,
) -> tuple[dict[str, Any], str]:
    """The family pick to recommend, and the reason in words.

    When the customers fall into separated groups, the families whose segments hide no two
    groups go first; the others stay in the leaderboard with that reason. ``measures`` holds
    each family's stability measurement, for the picks whose stability was left until it
    could decide (density families).
    """
    measures = measures or {}

    def measured(fam: str, *rows: dict[str, Any]) -> None:
        if fam in measures:
            measures[fam](list(rows))

    order = list(family_names())
    density_order = [f for f in order if is_density(f)]
    if not any(not is_density(f) and not picks[f]["excluded"] for f in picks):
        # No centroid family is usable: the density picks compete, with their stability.
        for fam in density_order:
            if fam in picks:
                measured(fam, picks[fam])
    eligible = [f for f in order if f in picks and not picks[f]["excluded"]]
    if separated and algorithm == "auto":
        clean = [f for f in eligible if picks[f].get("hidden_splits") == 0]
        if clean:
            for f in eligible:
                if f not in clean:
                    picks[f]["excluded"] = (
                        f"{picks[f]['hidden_splits']} of its segments hide two groups "
                        "separated by a valley"
                    )
            eligible = clean
    rejected = [f for f in order if f in picks and picks[f]["excluded"]]
    if algorithm != "auto":
        row = picks[algorithm]
        return row, " ".join(p for p in (_sentence(row, []), _family_reason_note(row)) if p)
    if not eligible:
        # Nothing passes every check: the least bad centroid family, said plainly.
        pool = [f for f in order if f in picks and not is_density(f)] or list(picks)
        best = min(pool, key=lambda f: _rank_key(picks[f]))
        row = picks[best]
        return row, (
            _sentence(row, [])
            + f" No candidate passed every check; this is the best of them ({row['excluded']})."
            + _rejections(picks, rejected, best)
        )
    # Density families that found a few stable, well-covered groups which k-means at the same
    # k cannot reproduce, while silhouette still prefers k-means: the groups are not round.
    centroid_k = min((picks[f]["k"] for f in eligible if not is_density(f)), default=None)
    # Dense groups of any shape are only believed where the customers do split at valleys;
    # in a continuum a density method's "groups" are fluctuations of one cloud.
    for fam in density_order if separated else ():
        if fam not in eligible:
            continue
        row = picks[fam]
        km = fits.get((REFERENCE_FAMILY, row["k"]))
        km_row = next(
            (
                r
                for r in leaderboard
                if r["algorithm"] == REFERENCE_FAMILY and r["k_requested"] == row["k"]
            ),
            None,
        )
        if (
            km is None
            or km_row is None
            or (centroid_k is not None and row["k"] > centroid_k)
            or (km_row.get("silhouette_all") or -1) <= (row.get("silhouette_all") or -1)
        ):
            continue
        labels = fits[(fam, row["k"])].labels
        if valleys is not None and not (
            valleys.worst(labels) < VALLEY_RATIO <= valleys.worst(km.labels)
        ):
            # Believed only when every boundary of the density method runs through a valley
            # and some boundary of k-means does not (it cuts across a dense group).
            continue
        measured(fam, row)
        measured(REFERENCE_FAMILY, km_row)
        if row["excluded"] or (row.get("stability") or 0) < DENSITY_STABLE:
            continue
        if (km_row.get("stability") or 0.0) > (row.get("stability") or 0.0) + STABILITY_MARGIN:
            # k-means at the same k is clearly more stable: its segments are the sturdier
            # description, whatever their shape.
            continue
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
    # DBSCAN and HDBSCAN win above when they find groups the centroid families cannot;
    # otherwise the centroid families compete (a density method's few big "groups" on a
    # continuum would otherwise win on Davies-Bouldin).
    centroid = [f for f in eligible if not is_density(f)]
    density = [f for f in eligible if is_density(f)] if centroid else []
    if centroid:
        eligible = centroid
    mean_rank = _mean_ranks(picks, eligible)
    ranked = sorted(eligible, key=lambda f: (mean_rank[f], order.index(f)))
    best = ranked[0]
    row = picks[best]
    if algorithm == "auto" and density and separated and valleys is not None:
        agreed = _density_consensus(picks, fits, row, valleys, measured, value)
        if agreed is not None:
            fam, text = agreed
            return picks[fam], text + _rejections(picks, rejected, fam)
    others = [picks[f] for f in ranked[1:]]
    text = _sentence(row, others)
    if density:
        text += (
            " "
            + " and ".join(_describe(picks[f]) for f in density)
            + " also passed the checks, but a density method is preferred only when every "
            "boundary of its segments runs through a valley of low density and k-means at the "
            "same number of segments cuts across a dense group; not the case here"
            + (
                " (so its stability was not measured)."
                if any(not picks[f]["stability_repeats"] for f in density)
                else "."
            )
        )
    return row, text + _rejections(picks, rejected, best)


def _density_consensus(
    picks: dict[str, dict[str, Any]],
    fits: dict[tuple[str, int], Fitted],
    best: dict[str, Any],
    valleys: _Valleys,
    measured: Callable[..., None],
    value: np.ndarray | None = None,
) -> tuple[str, str] | None:
    """Both density families found the same groups, fewer than the best centroid pick, and
    those groups hide no valley: the two agree on something the centroid families cut up.
    Not when that would merge a high-value segment of the centroid pick (invoice lines)."""
    pair = [f for f in family_names() if is_density(f)][:2]
    if len(pair) < 2:
        return None
    first, second = pair
    h, d = picks.get(first), picks.get(second)
    if h is None or d is None or h["excluded"] or d["excluded"]:
        return None
    if not (2 <= h["k"] == d["k"] < best["k"]):
        return None
    lh = fits[(first, h["k"])].labels
    ld = fits[(second, d["k"])].labels
    both = (lh >= 0) & (ld >= 0)
    if both.mean() < 1 - MAX_NOISE_SHARE:
        return None
    agreement = float(adjusted_rand_score(lh[both], ld[both]))
    if agreement < CONSENSUS_ARI:
        return None
    km = fits.get((REFERENCE_FAMILY, h["k"]))
    if km is not None and adjusted_rand_score(km.labels[both], lh[both]) >= SAME_PARTITION:
        return None  # k-means at that k finds the same groups: nothing the centroids miss
    key = best["k_requested"] if best["k_requested"] is not None else best["k"]
    best_labels = fits[(best["algorithm"], key)].labels
    for fam, other in picks.items():
        if is_density(fam) or fam == best["algorithm"] or other["excluded"]:
            continue
        if other["k"] == best["k"]:
            okey = other["k_requested"] if other["k_requested"] is not None else other["k"]
            if adjusted_rand_score(best_labels, fits[(fam, okey)].labels) >= SAME_PARTITION:
                return None  # two centroid families agree on the best pick's segments
    if value is not None and _merges_valuable(best_labels, lh, value):
        return None
    for fam, row, labels in ((first, h, lh), (second, d, ld)):
        if valleys.count(row, labels):
            return None
        measured(fam, row)
        if row["excluded"] or (row.get("stability") or 0) < DENSITY_STABLE:
            return None
    fam = min((first, second), key=lambda f: _rank_key(picks[f]))
    row = picks[fam]
    row["ari_vs_other_density"] = round(agreement, 3)
    return fam, (
        f"{_describe(row)}: {get_family(first).label} and {get_family(second).label}, two "
        "density methods with different rules, "
        f"found the same {row['k']} groups (ARI {agreement:.2f} between them), stable at ARI "
        f"{row['stability']:.2f} over {row['stability_repeats']} subsamples, and no segment "
        f"hides two groups; {_describe(best)} cuts them into more pieces, which silhouette "
        "and Davies-Bouldin reward when groups are not round."
    )


VALUE_CONCENTRATION = 3.0
"""A segment whose share of revenue is at least this multiple of its share of customers is a
high-value group (a VIP tail): a solution that merges it into a larger segment loses it."""


def _merges_valuable(labels: np.ndarray, other: np.ndarray, value: np.ndarray) -> bool:
    """Whether some high-value segment of ``labels`` is no more than a minority of the
    ``other`` segment that holds most of it."""
    total = float(np.clip(value, 0, None).sum())
    if total <= 0:
        return False
    n = len(labels)
    for seg in np.unique(labels[labels >= 0]):
        inside = labels == seg
        share = inside.sum() / n
        if float(np.clip(value[inside], 0, None).sum()) / total < VALUE_CONCENTRATION * share:
            continue
        host = np.bincount(other[inside] + 1).argmax() - 1
        if (other == host).sum() > 2 * inside.sum():
            return True
    return False


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
