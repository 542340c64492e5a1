"""Is there a valley between two groups of customers? The test behind the choice of k.

Silhouette, Davies-Bouldin and Calinski-Harabasz reward round, similar-sized groups; on real
customer data they often prefer a k that merges a small group into a large neighbour (lapsing
regulars into loyal ones, a 3% VIP tail into the regulars). A marketer needs the opposite
guarantee: no segment hides two groups. custseg checks it directly.

A **hidden split** test asks of one segment: split it in two (2-means), project its customers
on the line joining the two halves' centres, and estimate the density along that line (a
Gaussian kernel density with Silverman's bandwidth, which over-smooths a two-humped sample and
so errs towards "one group"). If the density has two humps with a valley between them that
falls below :data:`VALLEY_RATIO` of the lower hump, and each hump holds enough customers, the
segment holds two groups. A continuum (one hump, or a flat plateau) has no such valley however
it is cut, which is also how custseg tells "no clear segment structure" from real groups.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> two = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(6, 1, (300, 2))])
>>> valley_split(two, min_size=30, seed=0).separated
True
>>> valley_split(rng.normal(0, 1, (600, 2)), min_size=30, seed=0).separated
False
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from custseg.models._threads import limit

VALLEY_RATIO = 0.1
"""Two humps count as two groups when the density in the valley between them is below this
share of the lower hump. For two equal Gaussian groups that takes about 4.6 standard
deviations between their centres (at 2 there is no valley at all, at 3.4 the valley is half
the humps). The bar is high on purpose: mixtures of whole numbers (one order or two, each
order adding a basket to revenue) leave shallow valleys of 0.2-0.3 inside one behavioural
group, and 2-5% of customers scattered over the whole range leave chance dips of 0.1-0.15,
while the groups a marketer acts on (lapsing vs active regulars, a VIP tail, one-time vs
repeat buyers) leave valleys under 0.05 in the generated scenarios and on Online Retail."""
SPLIT_SAMPLE = 2_000
"""A segment is tested on a seeded sample of at most this many customers: the density of a
one-dimensional projection is well estimated from 2,000 points, and the test stays cheap at a
million customers."""
GRID = 256
"""Points at which the density is evaluated along the projection."""


@dataclass(frozen=True)
class Valley:
    """The result of a valley test.

    Attributes
    ----------
    separated : bool
        True when the density has a valley below ``VALLEY_RATIO`` of the lower hump and each
        side holds at least ``min_size`` customers.
    ratio : float
        Density in the valley / density at the lower hump (1.0: no valley).
    sizes : tuple of int
        Customers on each side of the split (in the tested sample).
    """

    separated: bool
    ratio: float
    sizes: tuple[int, int]


def valley_ratio(projection: np.ndarray, left: np.ndarray) -> float:
    """Density in the deepest valley between the two sides of a split, over the lower hump.

    ``projection`` is one number per customer, ``left`` marks the customers of one side. The
    humps are the highest densities on either side of the boundary between the two sides'
    medians; the valley is the lowest density between the humps. Returns 1.0 when there is
    no valley (a single hump, or a constant projection).

    Examples
    --------
    >>> x = np.r_[np.linspace(0, 1, 200), np.linspace(5, 6, 200)]
    >>> round(valley_ratio(x, x < 3), 2) < 0.1
    True
    """
    x = np.asarray(projection, dtype=np.float64)
    spread = float(np.std(x))
    if len(x) < 4 or not _has_spread(x, spread):
        return 1.0
    iqr = float(np.subtract(*np.percentile(x, [75, 25])))
    # Silverman's rule of thumb; with two humps it over-smooths, which only makes the test
    # more conservative.
    scale = min(spread, iqr / 1.349) if iqr > 0 else spread
    bandwidth = 0.9 * scale * len(x) ** -0.2
    grid = np.linspace(x.min() - bandwidth, x.max() + bandwidth, GRID)
    density = _kde(x, grid, bandwidth)
    a, b = float(np.median(x[left])), float(np.median(x[~left]))
    if a > b:
        a, b = b, a
    between = (grid > a) & (grid < b)
    if not between.any():
        return 1.0
    # The valley: the lowest density between the two sides' medians; the humps: the highest
    # density on either side of it.
    i_valley = int(np.flatnonzero(between)[np.argmin(density[between])])
    left_hump = float(density[:i_valley].max()) if i_valley > 0 else 0.0
    right_hump = float(density[i_valley + 1 :].max()) if i_valley + 1 < GRID else 0.0
    lower = min(left_hump, right_hump)
    if lower <= 0.0:
        return 1.0
    return min(1.0, float(density[i_valley]) / lower)


def _has_spread(x: np.ndarray, spread: float) -> bool:
    """Whether values differ by more than rounding error (a density needs a width)."""
    return spread > 1e-9 * (float(np.max(np.abs(x))) + 1.0)


def _kde(x: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``x`` on ``grid`` (binned first: linear in ``len(x)``)."""
    counts, edges = np.histogram(x, bins=GRID * 2, range=(grid[0], grid[-1]))
    centres = (edges[:-1] + edges[1:]) / 2
    z = (grid[:, None] - centres[None, :]) / bandwidth
    return np.asarray(np.exp(-0.5 * z * z) @ counts, dtype=np.float64)


def axis_valley(x: np.ndarray, min_size: float) -> tuple[float, tuple[int, int]]:
    """The deepest valley of one column's density that leaves ``min_size`` values on each
    side: (density at the valley / lower of the highest humps either side, side sizes).

    Examples
    --------
    >>> x = np.r_[np.linspace(0, 1, 100), np.linspace(5, 6, 100)]
    >>> ratio, sizes = axis_valley(x, 10)
    >>> ratio < 0.1, sizes
    (True, (100, 100))
    """
    ratio, sizes, _ = axis_valley_cut(x, min_size)
    return ratio, sizes


def axis_valley_cut(x: np.ndarray, min_size: float) -> tuple[float, tuple[int, int], float | None]:
    """:func:`axis_valley`, and the value at the bottom of the valley (None: no valley):
    values above it are on the second side.

    Examples
    --------
    >>> x = np.r_[np.linspace(0, 1, 100), np.linspace(5, 6, 100)]
    >>> ratio, sizes, cut = axis_valley_cut(x, 10)
    >>> 1 < cut < 5, int((x > cut).sum())
    (True, 100)
    """
    x = np.asarray(x, dtype=np.float64)
    # A blank (missing) value is not a customer's position on this column.
    x = np.sort(x[np.isfinite(x)])
    spread = float(np.std(x)) if len(x) else 0.0
    if len(x) < 4 or not _has_spread(x, spread):
        return 1.0, (len(x), 0), None
    iqr = float(x[(3 * len(x)) // 4] - x[len(x) // 4])
    scale = min(spread, iqr / 1.349) if iqr > 0 else spread
    bandwidth = 0.9 * scale * len(x) ** -0.2
    grid = np.linspace(x[0] - bandwidth, x[-1] + bandwidth, GRID)
    density = _kde(x, grid, bandwidth)
    left_max = np.maximum.accumulate(density)
    right_max = np.maximum.accumulate(density[::-1])[::-1]
    lower = np.minimum(left_max, right_max)
    left_n = np.searchsorted(x, grid)
    ok = (left_n >= min_size) & (len(x) - left_n >= min_size) & (lower > 0)
    if not ok.any():
        return 1.0, (len(x), 0), None
    ratio = np.where(ok, density / np.where(lower > 0, lower, 1.0), np.inf)
    i = int(np.argmin(ratio))
    return (
        float(min(1.0, ratio[i])),
        (int(left_n[i]), int(len(x) - left_n[i])),
        float(grid[i]),
    )


def fill_missing(X: np.ndarray) -> np.ndarray:
    """``X`` with each missing value (NaN) replaced by its column's median within ``X`` (0,
    the scaled mean of every customer, for a column blank for all of ``X``).

    The valley test is handed blanks as NaN and fills them inside the group it tests: filled
    with the median of every customer instead, the blanks of a group that lies away from that
    median pile up at one value far from the group, and that spike would read as a second
    group parted by a valley.

    Examples
    --------
    >>> fill_missing(np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]])).tolist()
    [[1.0, 5.0], [3.0, 4.0], [5.0, 6.0]]
    """
    missing = np.isnan(X)
    if not missing.any():
        return X
    medians = np.zeros(X.shape[1])
    for j in np.flatnonzero((~missing).any(axis=0)):
        medians[j] = float(np.median(X[~missing[:, j], j]))
    return np.where(missing, medians[None, :], X)


def valley_split(X: np.ndarray, *, min_size: int, seed: int = 0) -> Valley:
    """Does this group of customers hold two groups?

    Two kinds of cut are tried: the 2-means split (projected on the line joining the two
    halves' centres, :func:`valley_ratio`), and each input column on its own
    (:func:`axis_valley`): a group apart on one measure only (lapsing regulars, who differ
    from loyal ones in recency alone) is easily missed by 2-means, which splits along the
    direction of largest spread.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
        The group's customers in the model's space.
    min_size : int
        Customers each side must hold (in ``X``) to count as a group.
    seed : int
        Seed of the sample and of 2-means.
    """
    n = X.shape[0]
    if n < max(2 * min_size, 8):
        return Valley(False, 1.0, (n, 0))
    rng = np.random.RandomState(seed)
    scale = 1.0
    if n > SPLIT_SAMPLE:
        X = X[rng.choice(n, size=SPLIT_SAMPLE, replace=False)]
        scale = SPLIT_SAMPLE / n
    observed = X
    X = fill_missing(X)
    if len(np.unique(X, axis=0)) < 2:
        return Valley(False, 1.0, (len(X), 0))
    with limit(limits=1, user_api="openmp"):
        km = KMeans(n_clusters=2, n_init=2, random_state=seed).fit(X)
    left = km.labels_ == 0
    sizes = (int(left.sum()), int((~left).sum()))
    direction = km.cluster_centers_[1] - km.cluster_centers_[0]
    norm = float(np.linalg.norm(direction))
    if norm == 0.0:
        return Valley(False, 1.0, sizes)
    ratio = valley_ratio(X @ (direction / norm), left)
    big_enough = min(sizes) >= min_size * scale
    best = Valley(bool(ratio < VALLEY_RATIO and big_enough), ratio, sizes)
    for j in range(X.shape[1]):
        axis_ratio, axis_sizes = axis_valley(observed[:, j], min_size * scale)
        if axis_ratio < best.ratio or (axis_ratio < VALLEY_RATIO and not best.separated):
            best = Valley(bool(axis_ratio < VALLEY_RATIO), axis_ratio, axis_sizes)
    return best


def pair_valley(X: np.ndarray, labels: np.ndarray, a: int, b: int, seed: int = 0) -> float:
    """Valley ratio between two existing segments ``a`` and ``b`` along their centres' line."""
    rng = np.random.RandomState(seed)
    rows = np.flatnonzero((labels == a) | (labels == b))
    if len(rows) > SPLIT_SAMPLE:
        rows = np.sort(rng.choice(rows, size=SPLIT_SAMPLE, replace=False))
    part, lab = X[rows], labels[rows]
    if np.isnan(part).any():
        part = part.copy()
        for side in (a, b):
            part[lab == side] = fill_missing(part[lab == side])
    ca, cb = part[lab == a].mean(axis=0), part[lab == b].mean(axis=0)
    direction = cb - ca
    norm = float(np.linalg.norm(direction))
    if norm == 0.0:
        return 1.0
    return valley_ratio(part @ (direction / norm), lab == a)


def neighbour_valley(
    X: np.ndarray, labels: np.ndarray, *, min_size: int, seed: int = 0, worst: bool = False
) -> float:
    """The deepest valley between a segment and its nearest neighbour (by centres), over
    every segment holding at least ``min_size`` customers; 1.0 when there is none. With
    ``worst``, the shallowest of those valleys instead (below the threshold only when every
    segment is parted from its neighbour)."""
    clusters = [int(c) for c in np.unique(labels[labels >= 0]) if np.sum(labels == c) >= min_size]
    if len(clusters) < 2:
        return 1.0
    centres = np.vstack([fill_missing(X[labels == c]).mean(axis=0) for c in clusters])
    dist = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    np.fill_diagonal(dist, np.inf)
    pairs = {
        tuple(sorted((clusters[i], clusters[int(np.argmin(dist[i]))])))
        for i in range(len(clusters))
    }
    ratios = [pair_valley(X, labels, a, b, seed) for a, b in pairs]
    return max(ratios) if worst else min(ratios)


def hidden_splits(
    X: np.ndarray,
    labels: np.ndarray,
    *,
    min_size: int,
    seed: int = 0,
    cache: dict[bytes, Valley] | None = None,
) -> dict[int, Valley]:
    """The valley test of every segment of a solution (noise, -1, left out).

    ``cache`` keeps each segment's result by its members, so that a segment found again
    (another cut of the same tree, another family, another k) is not tested twice.
    """
    out = {}
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        key = members.tobytes()
        if cache is not None and key in cache:
            out[int(c)] = cache[key]
            continue
        out[int(c)] = valley_split(X[members], min_size=min_size, seed=seed)
        if cache is not None:
            cache[key] = out[int(c)]
    return out
