"""How well can the planted groups be found at all, on the model inputs and on alternatives?

The scenario benchmark (``bench_selection.py``) measures custseg's whole choice. This script
asks the question before it: told the planted number of groups, how often does a clustering
recover them (ARI >= 0.9 on the planted customers) on custseg's preprocessed features, and
would another representation of the same customers do better? It is how the representation
was judged; it is not a method (every column is told k).

For each scenario of :mod:`custseg.datasets.scenarios` and seed, the features come from
:func:`custseg.build_features` (the product's reading, cleaning and per-customer features) and
go through one representation at a time:

- ``current``: custseg's preprocessing (:func:`custseg.preprocess.build_preprocessor`: log
  where skewed, standard scaling, cap at +-4 standard deviations, one-hot categories weighted
  by how much they relate to the numbers);
- ``no cap``: the same without the cap;
- ``quantile``: numbers mapped to a normal by their quantiles (scikit-learn's
  ``QuantileTransformer``), then scaled;
- ``rank``: numbers mapped to their percentile ranks, then scaled;
- ``whitened``: ``current`` with the numbers decorrelated and scaled to unit variance by PCA;
- ``correlation weights``: each numeric input weighted by 1 / sqrt(sum of its squared Spearman
  correlations with all numeric inputs), so that four inputs measuring size do not count four
  times;
- ``no derived``: invoice lines without ``mean_order_value`` and ``n_products`` (both follow
  from revenue and orders);
- ``active span``: invoice lines with tenure replaced by the active span (days between the
  first and the last purchase; tenure is recency plus the span), not logged.

On each matrix, at the planted k: k-means with 10 restarts (``kmeans``), k-means started from
the planted groups' centres (``kmeans@truth``), and Gaussian mixtures with full and with
diagonal covariances (3 restarts each); ``best`` is the best of ``kmeans`` and the two mixtures
per scenario. Each cell counts the structured scenario runs with ARI >= 0.9.

With ``--k-rules`` it also asks how k would be chosen on ``current`` and on ``active span``:
k-means (4 restarts) for k 2..10, and k picked by the best silhouette (on at most 3,000
customers), by the elbow of WCSS (the point farthest from the chord), by prediction strength
(Tibshirani and Walther 2005: the largest k whose worst cluster keeps at least 0.9 of its
pairs together when one random half's centres predict the other half; 2 splits), and told the
planted k (the ceiling of any rule). A run counts when k is right and ARI >= 0.9.

Usage::

    python benchmarks/bench_representation.py [--seeds 0 1 2 3] [--only NAME ...] [--k-rules]
                                              [--markdown]

The holdout seeds of the scenario benchmark (:data:`HOLDOUT_SEEDS`) are refused: they are for
judging the product, not for choosing its representation. Results are recorded in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from _tables import Table
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler

import custseg
from custseg.datasets.scenarios import HOLDOUT_SEEDS, SCENARIOS, TUNING_SEEDS, make_scenario
from custseg.evaluate import SILHOUETTE_SAMPLE, knee_point
from custseg.preprocess import CLIP_Z, build_preprocessor, categorical_as_text, plan_columns

SOLVED_ARI = 0.9
DERIVED = ("mean_order_value", "n_products")
RECENCY, TENURE = "days_since_last_purchase", "days_since_first_purchase"
METHODS = ("kmeans", "kmeans@truth", "gmm full", "gmm diag", "best")
K_RANGE = range(2, 11)
K_RULES = ("silhouette", "elbow", "prediction strength", "told the planted k")
K_RULE_REPRESENTATIONS = ("current", "active span")
PS_THRESHOLD = 0.9


class Case:
    """One scenario run's features, as custseg reads them."""

    def __init__(self, name: str, seed: int) -> None:
        scenario = make_scenario(name, seed)
        features, details = custseg.build_features(scenario.data)
        ids = features["customer_id"].astype(str).to_numpy()
        self.structured = scenario.structured
        self.k_true = scenario.k_true
        self.truth = scenario.truth.reindex(ids).to_numpy().astype(np.int64)
        self.features = features
        self.numeric = list(details["numeric"])
        self.categorical = list(details["categorical"])


def _matrix(
    case: Case,
    numeric: list[str],
    frame: pd.DataFrame,
    swap: Callable[[Pipeline], Pipeline] | None = None,
) -> tuple[np.ndarray, int]:
    """custseg's preprocessing of ``numeric`` (and the categories); ``swap`` turns custseg's
    numeric pipeline into another. Returns the matrix and the number of numeric columns in
    front."""
    plan = plan_columns(frame, numeric, case.categorical)
    data = categorical_as_text(frame, plan.categorical)[plan.numeric + plan.categorical]
    pre = build_preprocessor(plan)
    if swap is not None and plan.numeric:
        name, numeric_pipe, cols = pre.transformers[0]
        pre.transformers[0] = (name, swap(numeric_pipe), cols)
    return np.asarray(pre.fit_transform(data), dtype=np.float64), len(plan.numeric)


def _current(case: Case) -> np.ndarray:
    return _matrix(case, case.numeric, case.features)[0]


def _no_cap(case: Case) -> np.ndarray:
    return _matrix(case, case.numeric, case.features, lambda pipe: pipe[:-1])[0]


def _quantiles(case: Case, distribution: str) -> np.ndarray:
    def swap(pipe: Pipeline) -> Pipeline:
        return Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("map", QuantileTransformer(output_distribution=distribution, random_state=0)),
                ("scale", StandardScaler()),
            ]
        )

    return _matrix(case, case.numeric, case.features, swap)[0]


def _whitened(case: Case) -> np.ndarray:
    X, p = _matrix(case, case.numeric, case.features)
    if p >= 2:
        X[:, :p] = np.clip(
            PCA(whiten=True, random_state=0).fit_transform(X[:, :p]), -CLIP_Z, CLIP_Z
        )
    return X


def _correlation_weights(case: Case) -> np.ndarray:
    X, p = _matrix(case, case.numeric, case.features)
    if p >= 2:
        r = np.nan_to_num(pd.DataFrame(X[:, :p]).corr(method="spearman").to_numpy())
        X[:, :p] *= 1.0 / np.sqrt((r**2).sum(axis=1))
    return X


def _no_derived(case: Case) -> np.ndarray:
    numeric = [c for c in case.numeric if c not in DERIVED]
    return _matrix(case, numeric, case.features)[0]


def _active_span(case: Case) -> np.ndarray:
    if not {RECENCY, TENURE} <= set(case.numeric):
        return _current(case)
    frame = case.features.copy()
    span = (frame[TENURE] - frame[RECENCY]).clip(lower=0).to_numpy(dtype=np.float64)
    numeric = [c for c in case.numeric if c != TENURE]
    X, p = _matrix(case, numeric, frame)
    scaled = np.clip((span - span.mean()) / (span.std() or 1.0), -CLIP_Z, CLIP_Z)
    return np.column_stack([X[:, :p], scaled, X[:, p:]])


REPRESENTATIONS: dict[str, Callable[[Case], np.ndarray]] = {
    "current": _current,
    "no cap": _no_cap,
    "quantile": lambda c: _quantiles(c, "normal"),
    "rank": lambda c: _quantiles(c, "uniform"),
    "whitened": _whitened,
    "correlation weights": _correlation_weights,
    "no derived": _no_derived,
    "active span": _active_span,
}


def scores(X: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """ARI of each method at the planted k, on the planted customers."""
    keep = truth >= 0
    Xp, tp = X[keep], truth[keep]
    groups = np.unique(tp)
    k = len(groups)
    centres = np.vstack([Xp[tp == g].mean(axis=0) for g in groups])
    out = {
        "kmeans": adjusted_rand_score(tp, KMeans(k, n_init=10, random_state=0).fit(Xp).labels_),
        "kmeans@truth": adjusted_rand_score(tp, KMeans(k, init=centres, n_init=1).fit(Xp).labels_),
    }
    for kind in ("full", "diag"):
        gm = GaussianMixture(k, covariance_type=kind, n_init=3, reg_covar=1e-3, random_state=0)
        out[f"gmm {kind}"] = adjusted_rand_score(tp, gm.fit(Xp).predict(Xp))
    out["best"] = max(out["kmeans"], out["gmm full"], out["gmm diag"])
    return {m: float(v) for m, v in out.items()}


def prediction_strength(X: np.ndarray, k: int, rng: np.random.Generator, splits: int = 2) -> float:
    """Tibshirani and Walther's prediction strength of k-means at ``k``: the worst cluster's
    share of pairs that the other half's centres also put together, averaged over splits."""
    values = []
    for _ in range(splits):
        order = rng.permutation(len(X))
        train, test = order[: len(X) // 2], order[len(X) // 2 :]
        centres = KMeans(k, n_init=3, random_state=0).fit(X[train])
        labels = KMeans(k, n_init=3, random_state=0).fit(X[test]).labels_
        predicted = centres.predict(X[test])
        worst = 1.0
        for c in range(k):
            members = predicted[labels == c]
            n = len(members)
            if n >= 2:
                counts = np.bincount(members, minlength=k)
                worst = min(worst, float((counts * (counts - 1)).sum() / (n * (n - 1))))
        values.append(worst)
    return float(np.mean(values))


def k_rules(X: np.ndarray, truth: np.ndarray, k_true: int) -> dict[str, tuple[int, float]]:
    """Each rule's k and the ARI of k-means at that k, on the planted customers."""
    rng = np.random.default_rng(0)
    keep = truth >= 0
    sample = rng.choice(len(X), min(SILHOUETTE_SAMPLE, len(X)), replace=False)
    fits = {k: KMeans(k, n_init=4, random_state=0).fit(X) for k in K_RANGE}
    ks = list(K_RANGE)
    sil = [silhouette_score(X[sample], fits[k].labels_[sample]) for k in ks]
    strong = [k for k in ks if prediction_strength(X, k, rng) >= PS_THRESHOLD]
    chosen = {
        "silhouette": ks[int(np.argmax(sil))],
        "elbow": knee_point(ks, [fits[k].inertia_ for k in ks]),
        "prediction strength": max(strong, default=ks[0]),
        "told the planted k": k_true,
    }
    return {
        rule: (k, float(adjusted_rand_score(truth[keep], fits[k].labels_[keep])))
        for rule, k in chosen.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(TUNING_SEEDS))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these scenarios only")
    parser.add_argument("--k-rules", action="store_true", help="also compare rules for k")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(argv)
    held = sorted(set(args.seeds) & set(HOLDOUT_SEEDS))
    if held:
        print(
            f"error: seed(s) {held} are the scenario benchmark's holdout seeds, kept for judging "
            "the product; pass other --seeds (the default is 0 1 2 3)",
            file=sys.stderr,
        )
        return 2
    names = args.only or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(
            f"error: unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}", file=sys.stderr
        )
        return 2
    warnings.simplefilter("ignore")
    wall = time.perf_counter()
    rows = []
    picks: list[dict[str, object]] = []
    for seed in args.seeds:
        for name in names:
            case = Case(name, seed)
            if not case.structured:
                continue
            for rep, make in REPRESENTATIONS.items():
                X = make(case)
                if args.k_rules and rep in K_RULE_REPRESENTATIONS:
                    for rule, (k, ari) in k_rules(X, case.truth, case.k_true).items():
                        picks.append(
                            {
                                "representation": rep,
                                "rule": rule,
                                "k": k,
                                "ari": ari,
                                "k_true": case.k_true,
                            }
                        )
                rows.append(
                    {
                        "scenario": name,
                        "seed": seed,
                        "representation": rep,
                        **scores(X, case.truth),
                    }
                )
            print(f"{name} seed {seed} done", file=sys.stderr)
    frame = pd.DataFrame(rows)
    runs = frame.groupby(["scenario", "seed"]).ngroups
    summary = Table(
        f"Structured runs recovered at the planted k (ARI >= {SOLVED_ARI}), of {runs}; "
        f"seeds {' '.join(map(str, args.seeds))}",
        ["representation", *METHODS],
    )
    for rep in REPRESENTATIONS:
        part = frame[frame["representation"] == rep]
        summary.add(rep, *[int((part[m] >= SOLVED_ARI).sum()) for m in METHODS])
    summary.print(args.markdown)
    if picks:
        chosen = pd.DataFrame(picks)
        solved = (chosen["k"] == chosen["k_true"]) & (chosen["ari"] >= SOLVED_ARI)
        rules = Table(
            f"Choosing k with k-means: runs with k right and ARI >= {SOLVED_ARI}, of {runs}",
            ["representation", *K_RULES],
        )
        for rep in K_RULE_REPRESENTATIONS:
            mine = chosen["representation"] == rep
            rules.add(rep, *[int((solved & mine & (chosen["rule"] == r)).sum()) for r in K_RULES])
        rules.print(args.markdown)
    detail = Table(
        "k-means (10 restarts) at the planted k: ARI per run",
        ["scenario", "seed", *REPRESENTATIONS],
    )
    pivot = frame.pivot_table(index=["scenario", "seed"], columns="representation", values="kmeans")
    for (name, seed), row in pivot.iterrows():
        detail.add(name, seed, *[f"{row[r]:.2f}" for r in REPRESENTATIONS])
    detail.print(args.markdown)
    print()
    print(
        f"{runs} structured runs in {time.perf_counter() - wall:.0f} s; custseg "
        f"{custseg.__version__}; python {platform.python_version()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
