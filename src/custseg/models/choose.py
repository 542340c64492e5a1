"""The rule that picks k from a curve of candidate solutions of one family.

Every family with a number of clusters (k-means, hierarchical, k-prototypes) is fitted at each
k in a range and scored (WCSS, silhouette, Davies-Bouldin, Calinski-Harabasz, smallest
segment). :func:`choose_k` turns those rows into one k and a sentence that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from custseg.evaluate import knee_point

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
MIN_CLUSTER_SHARE = 0.01
"""A solution whose smallest segment holds fewer customers than this share is degenerate and
not recommended (unless k was fixed by the user)."""


def _rank(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Average ranks (1 = best), ties sharing the mean rank; NaN ranks last."""
    values = np.where(np.isnan(values), -np.inf if higher_is_better else np.inf, values)
    return np.asarray(rankdata(-values if higher_is_better else values, method="average"))


@dataclass
class KChoice:
    """The k chosen from one family's curve, and why.

    ``structure`` is ``"separated"`` (best silhouette >= 0.5), ``"continuum"``, ``"few"`` (too
    few candidate k for an elbow) or ``"fixed"`` (one k given by the user).
    """

    k: int
    structure: str
    knee: int | None
    reason: str
    elbow_anchor: int | None = None


def choose_k(
    rows: list[dict[str, Any]],
    *,
    min_cluster_share: float = MIN_CLUSTER_SHARE,
    cost_label: str = "WCSS",
) -> KChoice:
    """Choose k from rows with ``k``, ``inertia``, ``silhouette``, ``davies_bouldin``,
    ``calinski_harabasz`` and ``smallest_share``.

    Solutions whose smallest cluster holds fewer than ``min_cluster_share`` of the points are
    not recommended. Then:

    - if the best silhouette reaches :data:`STRONG_SILHOUETTE`, the data has separated
      clusters: each criterion votes for its best k, the k with most votes wins, and ties go
      to the better silhouette;
    - otherwise the clusters are parts of a continuum, where silhouette, Davies-Bouldin and
      Calinski-Harabasz all drift towards k=2; the elbow of the cost curve sets k, unless a k
      within :data:`ELBOW_WINDOW` of it is better on both silhouette and Davies-Bouldin.

    Ties go to the smaller k. The rows are annotated in place with ``mean_rank``,
    ``eligible``, ``in_window`` and (when votes are cast) ``votes``.

    Examples
    --------
    >>> rows = [
    ...     {"k": k, "inertia": w, "silhouette": s, "davies_bouldin": d,
    ...      "calinski_harabasz": c, "smallest_share": 0.2}
    ...     for k, w, s, d, c in [(2, 900, 0.55, 0.7, 500), (3, 300, 0.71, 0.4, 900),
    ...                            (4, 250, 0.52, 0.8, 700), (5, 220, 0.45, 0.9, 650)]
    ... ]
    >>> choose_k(rows).k
    3
    """
    if len(rows) == 1:
        row = rows[0]
        row.update(mean_rank=1.0, eligible=True, in_window=True)
        return KChoice(int(row["k"]), "fixed", None, f"k={row['k']} was fixed by the user")
    ks = np.array([r["k"] for r in rows])
    knee = knee_point(list(ks), [r["inertia"] for r in rows]) if len(rows) >= 3 else None
    ranks = {
        "silhouette": _rank(np.array([r["silhouette"] for r in rows], dtype=float), True),
        "davies_bouldin": _rank(np.array([r["davies_bouldin"] for r in rows], dtype=float), False),
        "calinski_harabasz": _rank(
            np.array([r["calinski_harabasz"] for r in rows], dtype=float), True
        ),
    }
    if knee is not None:
        ranks["elbow"] = _rank(np.abs(ks - knee).astype(float), False)
    mean_rank = np.mean(np.vstack(list(ranks.values())), axis=0)
    eligible = np.array([r["smallest_share"] >= min_cluster_share for r in rows])
    if not eligible.any():
        eligible[:] = True
    best_sil = float(np.nanmax([r["silhouette"] for r in rows]))
    if knee is None:
        structure = "few"
    else:
        structure = "separated" if best_sil >= STRONG_SILHOUETTE else "continuum"
    window = eligible.copy()
    if structure == "continuum":
        mean_rank = np.mean(
            np.vstack([ranks[c] for c in ("silhouette", "davies_bouldin", "calinski_harabasz")]),
            axis=0,
        )
        near = np.abs(ks - knee) <= ELBOW_WINDOW
        if (window & near).any():
            window &= near
    for r, m, e, w in zip(rows, mean_rank, eligible, window, strict=True):
        r["mean_rank"] = round(float(m), 3)
        r["eligible"] = bool(e)
        r["in_window"] = bool(w)
    anchor_k = None
    if structure in ("separated", "few"):
        votes = np.zeros(len(rows))
        for crit in ranks.values():
            votes[min(np.flatnonzero(eligible), key=lambda i: (crit[i], ks[i]))] += 1
        sil = ranks["silhouette"]
        for r, v in zip(rows, votes, strict=True):
            r["votes"] = int(v)
        best = min(
            (int(i) for i in np.flatnonzero(window)), key=lambda i: (-votes[i], sil[i], ks[i])
        )
    else:
        assert knee is not None
        best, anchor = _continuum_best(ranks, window, mean_rank, ks, knee)
        anchor_k = int(ks[anchor])
    reason = _explain(
        rows, ranks, best, eligible, best_sil, structure, knee, anchor_k,
        min_cluster_share, cost_label,
    )  # fmt: skip
    return KChoice(int(ks[best]), structure, knee, reason, anchor_k)


def _continuum_best(
    ranks: dict[str, np.ndarray],
    window: np.ndarray,
    mean_rank: np.ndarray,
    ks: np.ndarray,
    knee: int,
) -> tuple[int, int]:
    """The preferred candidate when the data is a continuum, and the elbow anchor.

    The elbow (or the eligible k nearest to it) wins, unless a k within ``ELBOW_WINDOW`` of it
    beats it on both silhouette and Davies-Bouldin: those two do not simply shrink as k grows,
    so a neighbour that wins on both is a genuinely better cut.
    """
    candidates = np.flatnonzero(window)
    anchor = int(min(candidates, key=lambda i: (abs(ks[i] - knee), ks[i])))
    sil, db = ranks["silhouette"], ranks["davies_bouldin"]
    better = [
        int(i) for i in candidates if i != anchor and sil[i] < sil[anchor] and db[i] < db[anchor]
    ]
    first = min(better, key=lambda i: (mean_rank[i], ks[i])) if better else anchor
    return first, anchor


def _explain(
    rows: list[dict[str, Any]],
    ranks: dict[str, np.ndarray],
    best: int,
    eligible: np.ndarray,
    best_sil: float,
    structure: str,
    knee: int | None,
    anchor: int | None,
    min_cluster_share: float,
    cost_label: str,
) -> str:
    k = rows[best]["k"]
    parts = []
    if knee is not None:
        parts.append(f"the elbow of {cost_label} is at k={knee}")
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
    if structure == "few":
        text += (
            f"Only k={rows[0]['k']}..{rows[-1]['k']} could be tried with this few distinct "
            f"customers, too few for an elbow, so each criterion votes for its best k: k={k} "
            f"has {rows[best]['votes']} of {len(ranks)} votes"
        )
    elif structure == "separated":
        text += (
            f"The segments are well separated (best silhouette {best_sil:.2f} >= {STRONG_SILHOUETTE}), "
            f"so each criterion votes for its best k: k={k} has {rows[best]['votes']} of "
            f"{len(ranks)} votes"
        )
    else:
        text += (
            f"No number of segments reaches a silhouette of {STRONG_SILHOUETTE} (best "
            f"{best_sil:.2f}): the segments overlap, and these indices do not single out one "
            f"number of segments; so the elbow of {cost_label} sets the number"
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
            f"{min_cluster_share:.0%} of customers"
        )
    return text + "."
