"""Benchmark custseg's automatic choice of segments on scenarios with known truth.

For every scenario of :mod:`custseg.datasets.scenarios` (invoice lines and customer tables with
planted groups, and null scenarios without any), the script runs
``custseg.segment(df, seed=0, new_customers=False)`` on the DataFrame and records:

- the chosen family and k (``metrics["algorithm"]``, ``metrics["k"]``);
- the adjusted Rand index against the truth, on the planted customers only (the truth's
  unstructured customers are left out; a customer custseg marks as noise, segment -1, counts
  as a label of its own);
- groups recovered: a planted group g counts when some recommended segment has more than half
  of its members from g (so g is its largest group); shown as ``4/5``;
- whether custseg said the structure is clear (``metrics["structure"]["clear"]``; "n/r" when
  the key is missing);
- the seconds of the whole ``segment`` call.

A structured scenario is **solved** when k equals the planted k and ARI >= 0.9; a null
scenario when custseg reports that the structure is not clear.

Three baselines run in the same process on the very matrix custseg clustered
(``result.model_inputs``), so that only the choice differs:

- ``kmeans+silhouette``: k-means (n_init=10) for k in 2..10, the best silhouette (on a sample
  of 5,000 when larger);
- ``kmeans+elbow``: the same fits, k at the knee of the WCSS curve: with k and WCSS both scaled
  to [0, 1], the point farthest below the straight line (chord) joining the first and the last
  point (:func:`custseg.evaluate.knee_point`, the elbow custseg's own k rule uses);
- ``gmm+bic``: a full-covariance Gaussian mixture with the lowest BIC over k in 2..10.

A baseline always finds structure, so it fails every null scenario.

Four ceilings, which are told the truth and so are not methods, say what is attainable on the
same matrix (structured scenarios only):

- ``kmeans@truth``: k-means at the planted k, started from the planted groups' centres: the
  best a centroid method can do when it is given k and the groups;
- ``gmm@truth``: a full-covariance Gaussian mixture at the planted k, started from the planted
  groups' weights, centres and covariances, then fitted by EM: the same for a mixture;
- ``best@truth``: the better of the two per scenario, as if a method always knew k and which
  of the two families to trust;
- ``separable``: a quadratic discriminant (each group its own Gaussian, as a mixture would
  fit it) trained on the planted labels, scored by 5-fold cross-validation: how far the planted
  groups can be told apart at all on these features.

A scenario that raises an error is reported as such (with the error) and the others still run;
the script then exits with status 1.

Usage::

    python benchmarks/bench_selection.py [--set dev|tuning|holdout|all] [--only NAME ...] [--quick]
                                         [--n-customers N] [--jobs 1] [--markdown]

``--set dev`` (the default) runs the nominal scenarios (:data:`DEV_SEEDS`); ``tuning`` those
and three randomised variants (:data:`TUNING_SEEDS`), free to tune on; ``holdout`` the
randomised variants of :data:`HOLDOUT_SEEDS`, which are for judging only; ``all`` is dev and
holdout, the set the recorded tables use. Progress goes to
stderr. Results are recorded in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _tables import Table
from sklearn.cluster import KMeans
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import cross_val_predict

import custseg
from custseg.datasets.scenarios import (
    DEV_SEEDS,
    HOLDOUT_SEEDS,
    SCENARIOS,
    TUNING_SEEDS,
    Scenario,
    make_scenario,
)
from custseg.evaluate import knee_point

REPO = Path(__file__).resolve().parents[1]

#: k searched by the baselines (custseg's own default range).
K_RANGE = range(2, 11)
#: ARI at or above which a scenario with the right k counts as solved.
SOLVED_ARI = 0.9
#: Silhouette is computed on a sample of this many customers when there are more.
SILHOUETTE_SAMPLE = 5000
#: ``--quick``: a handful of scenarios covering each kind of case.
QUICK = (
    "active_vs_lapsing",
    "vip_tail",
    "cdnow_one_off",
    "random_region",
    "null_rfm_continuum",
    "null_uniform_box",
)
METHODS = ("custseg", "kmeans+silhouette", "kmeans+elbow", "gmm+bic")
CEILINGS = ("kmeans@truth", "gmm@truth", "best@truth", "separable")
#: Regularisation of the discriminant's covariances (one-hot columns are constant in a group).
QDA_REG = 0.05
#: Regularisation of the mixture ceiling's covariances (for the same reason).
GMM_REG = 1e-3


@dataclass
class Outcome:
    """One method on one scenario."""

    scenario: str
    seed: int
    method: str
    kind: str
    k_true: int
    structured: bool
    k: int
    family: str
    ari: float
    recovered: int
    structure: str  # "clear", "weak" or "n/r"
    seconds: float
    noise_share: float = 0.0
    ceilings: dict[str, float] | None = None
    error: str = ""

    @property
    def solved(self) -> bool:
        if self.error:
            return False
        if self.structured:
            return self.k == self.k_true and self.ari >= SOLVED_ARI
        return self.structure == "weak"


# ------------------------------------------------------------------ scoring


def planted_scores(truth: np.ndarray, labels: np.ndarray, k_true: int) -> tuple[float, int]:
    """ARI on planted customers (truth >= 0) and the number of planted groups recovered.

    ``labels`` -1 (noise) is a label of its own for the ARI and is never a recommended segment
    for "groups recovered".

    Examples
    --------
    >>> planted_scores(np.array([0, 0, 1, 1, -1]), np.array([5, 5, 7, 7, 7]), 2)
    (1.0, 2)
    """
    keep = truth >= 0
    ari = float(adjusted_rand_score(truth[keep], labels[keep])) if keep.any() else float("nan")
    recovered = set()
    for s in np.unique(labels):
        if s < 0:
            continue
        members = truth[labels == s]
        groups, counts = np.unique(members, return_counts=True)
        best = int(np.argmax(counts))
        if groups[best] >= 0 and counts[best] > len(members) / 2:
            recovered.add(int(groups[best]))
    return ari, len(recovered)


def baselines(X: np.ndarray, seed: int = 0) -> dict[str, tuple[int, np.ndarray, float]]:
    """The three baselines on one matrix: method -> (k, labels, seconds)."""
    rng = np.random.default_rng(seed)
    sample = (
        rng.choice(len(X), SILHOUETTE_SAMPLE, replace=False)
        if len(X) > SILHOUETTE_SAMPLE
        else np.arange(len(X))
    )
    out: dict[str, tuple[int, np.ndarray, float]] = {}
    start = time.perf_counter()
    fits: dict[int, np.ndarray] = {}
    wcss: list[float] = []
    sil: list[float] = []
    for k in K_RANGE:
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X)
        fits[k] = km.labels_
        wcss.append(float(km.inertia_))
        labels = km.labels_[sample]
        sil.append(
            float(silhouette_score(X[sample], labels)) if len(np.unique(labels)) > 1 else -1.0
        )
    kmeans_seconds = time.perf_counter() - start
    ks = list(K_RANGE)
    k_sil = ks[int(np.argmax(sil))]
    k_elbow = knee_point(ks, wcss)
    out["kmeans+silhouette"] = (k_sil, fits[k_sil], kmeans_seconds)
    out["kmeans+elbow"] = (k_elbow, fits[k_elbow], kmeans_seconds)
    start = time.perf_counter()
    best: tuple[float, int, np.ndarray] | None = None
    for k in K_RANGE:
        try:
            gm = GaussianMixture(
                n_components=k, covariance_type="full", random_state=seed, reg_covar=1e-5
            ).fit(X)
        except (ValueError, np.linalg.LinAlgError):
            continue
        bic = float(gm.bic(X))
        if best is None or bic < best[0]:
            best = (bic, k, gm.predict(X))
    gmm_seconds = time.perf_counter() - start
    if best is None:
        out["gmm+bic"] = (0, np.full(len(X), -1), gmm_seconds)
    else:
        out["gmm+bic"] = (best[1], best[2], gmm_seconds)
    return out


def ceilings(X: np.ndarray, truth: np.ndarray, seed: int = 0) -> dict[str, float]:
    """ARI of the ceilings on the planted customers (``truth >= 0``) of one matrix."""
    keep = truth >= 0
    Xp, tp = X[keep], truth[keep]
    groups = np.unique(tp)
    centres = np.vstack([Xp[tp == g].mean(axis=0) for g in groups])
    km = KMeans(n_clusters=len(groups), init=centres, n_init=1, random_state=seed).fit(Xp)
    kmeans_ari = float(adjusted_rand_score(tp, km.labels_))
    eye = GMM_REG * np.eye(X.shape[1])
    precisions = np.stack(
        [np.linalg.pinv(np.atleast_2d(np.cov(Xp[tp == g].T)) + eye) for g in groups]
    )
    weights = np.array([(tp == g).mean() for g in groups])
    gmm = GaussianMixture(
        n_components=len(groups),
        covariance_type="full",
        reg_covar=GMM_REG,
        weights_init=weights,
        means_init=centres,
        precisions_init=precisions,
        max_iter=300,
        random_state=seed,
    ).fit(Xp)
    gmm_ari = float(adjusted_rand_score(tp, gmm.predict(Xp)))
    folds = int(min(5, np.bincount(np.searchsorted(groups, tp)).min()))
    separable = float("nan")
    if folds >= 2:
        qda = QuadraticDiscriminantAnalysis(reg_param=QDA_REG)
        predicted = cross_val_predict(qda, Xp, tp, cv=folds)
        separable = float(adjusted_rand_score(tp, predicted))
    return {
        "kmeans@truth": kmeans_ari,
        "gmm@truth": gmm_ari,
        "best@truth": max(kmeans_ari, gmm_ari),
        "separable": separable,
    }


def structure_flag(metrics: dict[str, Any]) -> str:
    """``clear``, ``weak`` or ``n/r`` (custseg did not report it)."""
    structure = metrics.get("structure")
    if not isinstance(structure, dict) or "clear" not in structure:
        return "n/r"
    return "clear" if structure["clear"] else "weak"


# ------------------------------------------------------------------ one scenario


def run_one(name: str, seed: int, n_customers: int | None) -> list[Outcome]:
    """Generate a scenario, run custseg and the baselines; one outcome per method."""
    warnings.simplefilter("ignore")
    scenario: Scenario = make_scenario(name, seed, n_customers=n_customers)
    start = time.perf_counter()
    result = custseg.segment(scenario.data, seed=0, new_customers=False)
    seconds = time.perf_counter() - start
    segments = result.segments
    ids = segments["customer_id"].astype(str).to_numpy()
    truth = scenario.truth.reindex(ids).to_numpy()
    if np.isnan(truth.astype(float)).any():
        raise RuntimeError(f"{name}: custseg returned customers that are not in the truth")
    truth = truth.astype(np.int64)
    if len(ids) != len(scenario.truth):
        print(
            f"  note: {name} seed {seed}: custseg kept {len(ids):,} of "
            f"{len(scenario.truth):,} customers",
            file=sys.stderr,
        )
    labels = segments["segment"].to_numpy().astype(np.int64)
    base: dict[str, Any] = dict(
        scenario=name,
        seed=seed,
        kind=scenario.kind,
        k_true=scenario.k_true,
        structured=scenario.structured,
    )
    ari, recovered = planted_scores(truth, labels, scenario.k_true)
    metrics = result.metrics
    X = np.asarray(result.model_inputs, dtype=np.float64)
    outcomes = [
        Outcome(
            **base,
            method="custseg",
            k=int(metrics["k"]),
            family=str(metrics["algorithm"]),
            ari=ari,
            recovered=recovered,
            structure=structure_flag(metrics),
            seconds=seconds,
            noise_share=float(np.mean(labels < 0)),
            ceilings=ceilings(X, truth) if scenario.structured else None,
        )
    ]
    for method, (k, blabels, bsec) in baselines(X).items():
        ari, recovered = planted_scores(truth, blabels, scenario.k_true)
        outcomes.append(
            Outcome(
                **base,
                method=method,
                k=k,
                family=method.split("+")[0],
                ari=ari,
                recovered=recovered,
                structure="clear",
                seconds=bsec,
            )
        )
    return outcomes


def run_safely(name: str, seed: int, n_customers: int | None) -> list[Outcome]:
    """:func:`run_one`, or one failed outcome per method carrying the error."""
    try:
        return run_one(name, seed, n_customers)
    except Exception as exc:  # a benchmark reports a scenario's failure and goes on
        scenario = make_scenario(name, seed, n_customers=n_customers)
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return [
            Outcome(
                scenario=name,
                seed=seed,
                method=method,
                kind=scenario.kind,
                k_true=scenario.k_true,
                structured=scenario.structured,
                k=0,
                family="error",
                ari=float("nan"),
                recovered=0,
                structure="n/r",
                seconds=0.0,
                error=why,
            )
            for method in METHODS
        ]


# ------------------------------------------------------------------ printing


def method_table(method: str, outcomes: list[Outcome], show_seed: bool) -> Table:
    columns = ["scenario", "kind", "k true", "k", "family", "ARI", "groups", "structure"]
    if method == "custseg":
        columns.append("noise")
    columns += ["seconds", "solved"]
    table = Table(f"{method}", columns)
    for o in outcomes:
        label = f"{o.scenario} (seed {o.seed})" if show_seed else o.scenario
        cells: list[object] = [
            label,
            "lines" if o.kind == "transactions" else "table",
            o.k_true if o.structured else "none",
            o.k,
            o.family,
            f"{o.ari:.2f}" if o.structured else "",
            f"{o.recovered}/{o.k_true}" if o.structured else "",
            o.structure,
        ]
        if method == "custseg":
            cells.append(f"{o.noise_share:.1%}" if o.noise_share else "")
        cells += [f"{o.seconds:.1f}", "yes" if o.solved else "no"]
        table.add(*cells)
    return table


def summary_table(by_method: dict[str, list[Outcome]]) -> Table:
    table = Table(
        "summary",
        [
            "method",
            f"structured solved (k right, ARI >= {SOLVED_ARI})",
            "mean ARI",
            "k right",
            "groups recovered",
            "null recognised",
        ],
    )
    for method, outcomes in by_method.items():
        s = [o for o in outcomes if o.structured]
        nulls = [o for o in outcomes if not o.structured]
        table.add(
            method,
            f"{sum(o.solved for o in s)}/{len(s)}",
            f"{np.mean([o.ari for o in s]):.3f}" if s else "",
            f"{sum(o.k == o.k_true for o in s)}/{len(s)}",
            f"{sum(o.recovered for o in s)}/{sum(o.k_true for o in s)}",
            f"{sum(o.solved for o in nulls)}/{len(nulls)}",
        )
    return table


def ceiling_table(outcomes: list[Outcome], show_seed: bool) -> Table:
    """custseg beside the ceilings, on the structured scenarios, with a total row."""
    table = Table(
        f"ceilings (told the truth; ARI >= {SOLVED_ARI} counts)",
        ["scenario", "custseg solved", "custseg ARI", *CEILINGS],
    )
    rows = [o for o in outcomes if o.structured and o.ceilings]
    for o in rows:
        assert o.ceilings is not None
        label = f"{o.scenario} (seed {o.seed})" if show_seed else o.scenario
        table.add(
            label,
            "yes" if o.solved else "no",
            f"{o.ari:.2f}",
            *(f"{o.ceilings[c]:.2f}" for c in CEILINGS),
        )
    table.add(
        "total",
        f"{sum(o.solved for o in rows)}/{len(rows)}",
        "",
        *(
            f"{sum((o.ceilings or {})[c] >= SOLVED_ARI for o in rows)}/{len(rows)}"
            for c in CEILINGS
        ),
    )
    return table


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out.stdout.strip() + (" (src has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def jobs_for(args: argparse.Namespace) -> list[tuple[str, int]]:
    names: Iterable[str] = args.only or (QUICK if args.quick else SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"error: unknown scenario(s) {', '.join(unknown)}; known: {SCENARIOS}")
    seeds = {
        "dev": DEV_SEEDS,
        "tuning": TUNING_SEEDS,
        "holdout": HOLDOUT_SEEDS,
        "all": DEV_SEEDS + HOLDOUT_SEEDS,
    }[args.set]
    return [(n, s) for s in seeds for n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("dev", "tuning", "holdout", "all"), default="dev")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these scenarios only")
    parser.add_argument("--quick", action="store_true", help=f"run {', '.join(QUICK)}")
    parser.add_argument("--n-customers", type=int, default=None, help="override the sizes")
    parser.add_argument("--jobs", type=int, default=1, help="scenarios run in parallel")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(argv)
    jobs = jobs_for(args)
    started = dt.datetime.now()
    wall = time.perf_counter()
    results: dict[tuple[str, int], list[Outcome]] = {}

    def done(key: tuple[str, int], outcomes: list[Outcome], i: int) -> None:
        results[key] = outcomes
        c = outcomes[0]
        print(
            f"[{i}/{len(jobs)}] {key[0]} seed {key[1]}: custseg {c.family} k={c.k} "
            f"(true {c.k_true if c.structured else 'none'}) ARI {c.ari:.2f} "
            f"structure {c.structure}, {c.seconds:.1f} s"
            + (f" ERROR {c.error}" if c.error else ""),
            file=sys.stderr,
        )

    if args.jobs > 1:
        pool = ProcessPoolExecutor(max_workers=args.jobs)
        futures = {pool.submit(run_safely, n, s, args.n_customers): (n, s) for n, s in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            done(futures[future], future.result(), i)
        # Do not wait here: custseg's own joblib workers keep a process alive while idle.
        pool.shutdown(wait=False)
    else:
        for i, (n, s) in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {n} seed {s} ...", file=sys.stderr)
            done((n, s), run_safely(n, s, args.n_customers), i)
    seconds = time.perf_counter() - wall
    ordered = [o for key in jobs for o in results[key]]
    by_method = {m: [o for o in ordered if o.method == m] for m in METHODS}
    show_seed = len({s for _, s in jobs}) > 1
    for method in METHODS:
        method_table(method, by_method[method], show_seed).print(args.markdown)
    summary_table(by_method).print(args.markdown)
    ceiling_table(by_method["custseg"], show_seed).print(args.markdown)
    errors = [o for o in by_method["custseg"] if o.error]
    for o in errors:
        print(f"error: {o.scenario} seed {o.seed}: {o.error}")
    frame = pd.DataFrame([o.__dict__ for o in ordered])
    custseg_seconds = frame.loc[frame["method"] == "custseg", "seconds"].sum()
    print()
    print(
        f"set {args.set}: {len(jobs)} scenario runs in {seconds:.0f} s wall "
        f"(custseg.segment {custseg_seconds:.0f} s in total; --jobs {args.jobs})"
    )
    print(
        f"started {started:%Y-%m-%d %H:%M}; commit {commit()}; custseg {custseg.__version__}; "
        f"python {platform.python_version()}; {os.cpu_count()} CPUs"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
