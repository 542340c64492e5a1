"""Preprocessing: which columns to use, and a scikit-learn pipeline that makes them comparable.

:func:`plan_columns` drops what cannot help (constant columns, id-like or mostly-missing
columns) and says why. :func:`build_preprocessor` returns a ``ColumnTransformer``:

- numbers: median imputation -> :class:`SkewTransformer` (log1p or Yeo-Johnson on skewed
  columns) -> standard scaling -> :class:`OutlierClipper` (caps extreme z-scores);
- categories: constant imputation (``"missing"``) -> one-hot encoding with at most
  ``MAX_CATEGORIES`` levels per column (rarer ones are grouped as infrequent).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import yeojohnson
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from custseg.errors import InputError

#: Thresholds, each with its reason.
SKEW_THRESHOLD = 1.0
"""|skewness| above which a numeric column is transformed (a common rule of thumb)."""
CLIP_Z = 4.0
"""Standardized values are capped at +-4: single huge customers stay at the edge of a segment
instead of getting a segment of their own."""
HUGE_MAGNITUDE = 1e100
"""Values beyond +-1e100 (no amount or count is that large; 1e308 is the float limit) make the
squares of scaling overflow: such a column is logged (``log1p``, or ``signed-log1p`` with
negative values) whatever its skew, and so is a Yeo-Johnson result that large."""
MAX_CATEGORIES = 8
"""One-hot columns per categorical feature; rarer levels become one 'infrequent' column."""
ID_LIKE_SHARE = 0.5
"""A text column with more distinct values than this share of rows is an identifier."""
MAX_MISSING_SHARE = 0.9
"""Columns missing in more than this share of rows carry too little to cluster on."""
ETA2_RELATED = 0.01
"""A categorical attribute whose levels explain less than this share of the variance of
every numeric attribute (correlation ratio eta squared on ranks; 0.01 is Cohen's "small"
effect) is unrelated to the customers' behaviour: it is left out of the clustering, so that a
random region or flag cannot split every segment in three. The bar is raised to
``RELATED_NOISE_FACTOR * (levels - 1) / n`` on small tables, where chance alone gives eta
squared about ``(levels - 1) / n``."""
RELATED_NOISE_FACTOR = 4.0
"""See :data:`ETA2_RELATED`."""
DEPENDENCE_BINS = 10
"""A numeric attribute is related to another when the deciles of one explain part of the
other's variance (eta squared on ranks, as for categories): deciles see any dependence, not
only a straight line (income and spending score in the mall-customers data correlate at 0.01
but their deciles explain 16% of each other)."""
DEPENDENCE_SAMPLE = 5_000
"""How numeric attributes relate is measured on a seeded sample of at most this many
customers (chance alone gives eta squared about 9 / 5,000 there)."""
DEPENDENCE_MIN_CUSTOMERS = 500
"""Below this many customers no numeric attribute is left out as unrelated: chance alone
gives deciles eta squared of about 9 / n, so on 200 customers a real but loose relation
(income and spending score in the mall-customers data, 0.16) cannot be told from none."""
DEPENDENCE_MAX_COLUMNS = 60
"""Above this many numeric attributes the test is not run (its cost grows with the square)."""
HIDDEN_GROUP_SHARE_FOR_COLUMNS = 0.02
"""A column has groups of its own when its values part at a valley (:data:`OWN_GROUPS_RATIO`)
with at least this share of customers on each side (the valley test's smallest hidden
group)."""
OWN_GROUPS_RATIO = 0.5
"""The valley a column's own density must dip to, as a share of the lower hump, for the column
to have groups of its own. Looser than the valley test's 0.1: it only has to tell a column
with humps (two groups 5 standard deviations apart dip to 0.2) from one without (a uniform or
a skewed column stays above 0.9)."""
ETA2_FULL_WEIGHT = 0.14
"""A categorical attribute at least this related (Cohen's "large" effect) weighs fully in the
distance; a less related one is down-weighted by sqrt(eta squared / 0.14), so that its
one-hot columns, which separate customers perfectly, do not outweigh what it goes with."""


class SkewTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Reduce skew column by column: ``log1p`` for skewed non-negative columns, Yeo-Johnson
    for skewed columns with negative values (``signed-log1p``, sign(x) log(1 + |x|), where
    Yeo-Johnson overflows on extreme magnitudes such as 1e308), nothing for the rest.

    Parameters
    ----------
    threshold : float, default=1.0
        Absolute skewness above which a column is transformed.

    Attributes
    ----------
    methods_ : ndarray of str
        ``"log1p"``, ``"yeo-johnson"``, ``"signed-log1p"`` or ``"none"`` per column.
    lambdas_ : ndarray of float
        Yeo-Johnson lambda per column (NaN where unused).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0], [1000.0]])
    >>> SkewTransformer().fit(X).methods_.tolist()
    ['log1p']
    """

    def __init__(self, *, threshold: float = SKEW_THRESHOLD) -> None:
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> SkewTransformer:
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=True)
        n_features = X.shape[1]
        self.methods_ = np.array(["none"] * n_features, dtype=object)
        self.lambdas_ = np.full(n_features, np.nan)
        for j in range(n_features):
            col = X[:, j]
            # Skewness does not depend on scale: measured on col / max|col|, so that values
            # near 1e308 do not overflow.
            scale = float(np.max(np.abs(col)))
            if scale == 0 or col.min() == col.max():
                continue
            unit = col / scale
            centred = unit - unit.mean()
            skew = float(np.mean(centred**3) / (np.mean(centred**2) ** 1.5))
            if scale > HUGE_MAGNITUDE:  # any later square would overflow: logged, skewed or not
                self.methods_[j] = "log1p" if col.min() >= 0 else "signed-log1p"
                continue
            if abs(skew) <= self.threshold:
                continue
            if col.min() >= 0 and skew > 0:
                self.methods_[j] = "log1p"
                continue
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    transformed, lmbda = yeojohnson(col)
            except (ValueError, FloatingPointError, OverflowError):
                transformed, lmbda = col, np.nan
            if np.isfinite(lmbda) and np.max(np.abs(transformed)) <= HUGE_MAGNITUDE:
                self.methods_[j] = "yeo-johnson"
                self.lambdas_[j] = float(lmbda)
            else:  # extreme magnitudes: Yeo-Johnson overflows, the signed logarithm does not
                self.methods_[j] = "signed-log1p"
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, copy=True, ensure_all_finite=True)
        for j, method in enumerate(self.methods_):
            if method == "log1p":
                X[:, j] = np.log1p(np.clip(X[:, j], 0, None))
            elif method == "yeo-johnson":
                with np.errstate(over="ignore"):  # inf is capped by OutlierClipper
                    X[:, j] = yeojohnson(X[:, j], lmbda=self.lambdas_[j])
            elif method == "signed-log1p":
                X[:, j] = np.sign(X[:, j]) * np.log1p(np.abs(X[:, j]))
        return X


class OutlierClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Cap values at ``+-limit`` (meant for standardized data) and check that all are finite.

    Parameters
    ----------
    limit : float, default=4.0
        The cap.

    Attributes
    ----------
    n_clipped_ : int
        How many training values were capped.

    Examples
    --------
    >>> OutlierClipper(limit=2.0).fit_transform([[1.0], [-5.0], [3.0]]).ravel().tolist()
    [1.0, -2.0, 2.0]
    """

    def __init__(self, *, limit: float = CLIP_Z) -> None:
        self.limit = limit

    def fit(self, X: Any, y: Any = None) -> OutlierClipper:
        X = validate_data(self, X, dtype=np.float64)
        self.n_clipped_ = int(np.sum(np.abs(X) > self.limit))
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.clip(X, -self.limit, self.limit)


@dataclass
class ColumnPlan:
    """Which feature columns are used, and what was left out and why."""

    numeric: list[str]
    categorical: list[str]
    notices: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    """Weight of each categorical attribute's one-hot columns (1.0 when absent)."""


RELEVANCE_SAMPLE = 100_000
"""Above this many customers, how strongly each category relates to the numbers is measured on
a seeded sample of this size."""


def numeric_ranks(frame: pd.DataFrame, numeric: list[str]) -> np.ndarray:
    """Percentile ranks of the numeric columns (missing values at the column's median rank),
    as one matrix: what :func:`category_relevance` relates categories to."""
    if not numeric:
        return np.zeros((len(frame), 0))
    ranks = frame[numeric].apply(pd.to_numeric, errors="coerce").rank(pct=True)
    return ranks.fillna(ranks.median()).to_numpy(dtype=np.float64)


def category_relevance(
    frame: pd.DataFrame, numeric: list[str], column: str, ranks: np.ndarray | None = None
) -> float:
    """Largest correlation ratio (eta squared) of a categorical column with any numeric one.

    Computed on the numeric columns' ranks, so skewed money columns do not let one extreme
    customer decide. Returns 1.0 when there is no numeric column to relate to. ``ranks``
    (:func:`numeric_ranks` of ``frame`` and ``numeric``) saves ranking them again for every
    categorical column: all numeric columns are compared at once, which keeps a table of
    hundreds of columns quick.

    Examples
    --------
    >>> df = pd.DataFrame({"spend": [1, 2, 3, 10, 11, 12], "tier": list("aaabbb"),
    ...                    "region": list("xyzxyz")})
    >>> category_relevance(df, ["spend"], "tier"), category_relevance(df, ["spend"], "region")
    (0.771429, 0.228571)
    """
    if not numeric:
        return 1.0
    R = numeric_ranks(frame, numeric) if ranks is None else ranks
    best = float(np.max(eta_squared(_level_codes(frame[column]), R), initial=0.0))
    return round(min(1.0, best), 6)


def _level_codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a column's levels, missing values as one level of their own."""
    levels = values.astype(object).where(values.notna(), "missing").astype(str)
    return pd.factorize(levels.to_numpy())[0]


def eta_squared(codes: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The share of each column's variance explained by the groups ``codes`` (the correlation
    ratio eta squared, one per column of ``ranks``; 0 for a constant column, whose ranks vary
    by rounding only).

    Examples
    --------
    >>> eta_squared(np.array([0, 0, 1, 1]), np.array([[1.0, 1.0], [2.0, 4.0], [3.0, 1.0], [4.0, 4.0]]))
    array([0.8, 0. ])
    """
    counts = np.bincount(codes).astype(np.float64)
    centred = ranks - ranks.mean(axis=0)
    sums = np.zeros((len(counts), ranks.shape[1]))
    np.add.at(sums, codes, centred)
    between = ((sums**2) / np.maximum(counts, 1.0)[:, None]).sum(axis=0) / len(ranks)
    total = (centred**2).mean(axis=0)
    usable = total > 1e-12
    return np.where(usable, between / np.where(usable, total, 1.0), 0.0)


def numeric_dependence(ranks: np.ndarray, bins: int = DEPENDENCE_BINS) -> np.ndarray:
    """How strongly each column relates to any other: the largest share of a column's rank
    variance explained by another column's deciles, or of another's explained by its
    deciles (eta squared, 0 to 1; 0 for a constant column).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000)
    >>> frame = pd.DataFrame({"x": x, "x2": x**2 + rng.normal(0, 0.1, 2000),
    ...                       "noise": rng.uniform(size=2000)})
    >>> [round(float(v), 2) for v in numeric_dependence(numeric_ranks(frame, list(frame)))]
    [0.91, 0.91, 0.01]
    """
    m, p = ranks.shape
    out = np.zeros(p)
    if m < 2 or p < 2:
        return out
    ranks = np.nan_to_num(ranks, nan=0.5)
    codes = np.clip((ranks * bins).astype(np.int64), 0, bins - 1)
    # [j, i]: the share of column j's variance explained by column i's deciles
    explained = np.column_stack([eta_squared(codes[:, i], ranks) for i in range(p)])
    np.fill_diagonal(explained, 0.0)
    return np.maximum(explained.max(axis=1), explained.max(axis=0)).clip(0.0, 1.0)


def _has_groups(values: pd.Series, min_size: float) -> bool:
    """Whether a numeric column's own values part at a valley of low density (whole numbers
    spread over their unit first, as for the valley test)."""
    from custseg.models.structure import axis_valley

    column = pd.to_numeric(values, errors="coerce").rename("x").to_frame()
    x = dequantize(column, ["x"])["x"].to_numpy(dtype=np.float64)
    return axis_valley(x, min_size)[0] < OWN_GROUPS_RATIO


def _unrelated_numbers(
    rel: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> dict[str, tuple[float, float]]:
    """The numeric columns (of three or more values) that relate to no other attribute and
    have no groups of their own, with their strongest relation and the bar it missed; none
    when no column relates to another or has groups of its own (nothing to prefer), or when
    fewer than two numeric columns would be left."""
    if (
        len(numeric) < 2
        or len(numeric) > DEPENDENCE_MAX_COLUMNS
        or len(rel) < DEPENDENCE_MIN_CUSTOMERS
    ):
        return {}
    sample = rel if len(rel) <= DEPENDENCE_SAMPLE else rel.sample(DEPENDENCE_SAMPLE, random_state=0)
    m = len(sample)
    ranks = numeric_ranks(sample, numeric)
    dependence = numeric_dependence(ranks)
    floor = max(ETA2_RELATED, RELATED_NOISE_FACTOR * (DEPENDENCE_BINS - 1) / max(m, 1))
    if floor >= 1:
        return {}
    strongest = {c: float(dependence[j]) for j, c in enumerate(numeric)}
    explained_by_levels = np.zeros(len(numeric), dtype=bool)
    for cat in categorical:
        codes = _level_codes(sample[cat])
        levels = int(codes.max(initial=0)) + 1
        if levels < 2:
            continue
        bar = max(ETA2_RELATED, RELATED_NOISE_FACTOR * (levels - 1) / max(m, 1))
        explained_by_levels |= eta_squared(codes, ranks) >= bar
    min_size = HIDDEN_GROUP_SHARE_FOR_COLUMNS * m
    related = {
        c
        for j, c in enumerate(numeric)
        if strongest[c] >= floor or explained_by_levels[j] or _has_groups(sample[c], min_size)
    }
    unrelated = {c: (strongest[c], floor) for c in numeric if c not in related}
    # Nothing to prefer when no column relates to another or has groups; and a single number
    # left beside the categories would leave little but the categories to segment on.
    if not related or len(numeric) - len(unrelated) < 2:
        return {}
    return unrelated


def _too_few(customers: int, levels: str) -> str:
    """Why a category is left out when there are too few customers to relate it to the
    numbers (by chance alone, its levels would seem to explain them)."""
    return (
        f"too few customers ({customers:,}) to tell whether {levels} relate to the numeric "
        "attributes (by chance alone they would seem to)"
    )


def plan_columns(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    unrelated_numbers: bool = False,
) -> ColumnPlan:
    """Keep the columns worth clustering on; every column left out gets a reason.

    With ``unrelated_numbers`` (a customer table's own columns), numeric columns that relate
    to no other attribute and have no groups of their own are left out too; the features
    custseg builds from invoice lines are measured together by design and are all kept.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 5.0]})
    >>> plan_columns(df, ["a", "b"], []).dropped
    {'b': 'constant (every value is 5)'}
    """
    plan = ColumnPlan(numeric=[], categorical=[])
    n = len(frame)
    blanks: dict[str, float] = {}  # numeric column -> share missing
    for col in [*numeric, *categorical]:
        values = frame[col]
        missing = float(values.isna().mean()) if n else 0.0
        distinct = values.nunique(dropna=True)
        if missing > MAX_MISSING_SHARE:
            plan.dropped[col] = f"missing in {missing:.0%} of rows"
        elif distinct <= 1:
            shown = values.dropna().iloc[0] if distinct == 1 else "missing"
            if isinstance(shown, float) and shown.is_integer():
                shown = int(shown)
            plan.dropped[col] = f"constant (every value is {shown})"
        elif col in categorical and distinct > max(MAX_CATEGORIES, ID_LIKE_SHARE * n):
            plan.dropped[col] = f"id-like text ({distinct:,} distinct values in {n:,} rows)"
        elif col in categorical:
            plan.categorical.append(col)
        else:
            plan.numeric.append(col)
            if missing > 0:
                blanks[col] = missing
    # How strongly a category relates to the numbers is estimated on a seeded sample of a
    # large table (eta squared from 100,000 customers is within about 0.003 of the full value).
    rel = frame if n <= RELEVANCE_SAMPLE else frame.sample(RELEVANCE_SAMPLE, random_state=0)
    m = len(rel)
    # Two-valued numeric columns (0/1, yes/no flags) are categories in disguise: standardized
    # they separate customers as perfectly as one-hot columns, so the same test applies.
    n_values = {c: frame[c].nunique(dropna=True) for c in plan.numeric}
    rel_ranks = numeric_ranks(rel, [c for c in plan.numeric if n_values[c] > 2])
    position = {c: i for i, c in enumerate(c for c in plan.numeric if n_values[c] > 2)}
    for col in [c for c in plan.numeric if n_values[c] == 2]:
        others = [c for c in plan.numeric if c != col and n_values[c] > 2]
        eta2 = category_relevance(rel, others, col, rel_ranks[:, [position[c] for c in others]])
        floor = max(ETA2_RELATED, RELATED_NOISE_FACTOR / max(m, 1))
        if others and eta2 < floor:
            plan.numeric.remove(col)
            plan.dropped[col] = (
                _too_few(m, "its two values")
                if floor >= 1
                else f"a flag unrelated to the other numeric attributes (its two values explain "
                f"at most {eta2:.1%} of any of them, under {floor:.1%}): a split by it alone "
                "would not be a behavioural segment"
            )
    many = [c for c in plan.numeric if n_values[c] > 2]
    # Flags (two values) count as categories here: recency may relate to nothing but
    # whether the customer answered the last campaign.
    levelled = [*plan.categorical, *(c for c in plan.numeric if n_values[c] == 2)]
    unrelated = _unrelated_numbers(rel, many, levelled) if unrelated_numbers else {}
    for col, (strongest, floor) in unrelated.items():
        plan.numeric.remove(col)
        plan.dropped[col] = (
            f"unrelated to the other attributes and without groups of its own (it and any "
            f"other attribute explain at most {strongest:.1%} of each other, under "
            f"{floor:.1%}; its values form one range with no valley): a split by it alone "
            "would not be a behavioural segment"
        )
    numeric_now = numeric_ranks(rel, plan.numeric)
    for col in list(plan.categorical):
        eta2 = category_relevance(rel, plan.numeric, col, numeric_now)
        levels = int(rel[col].nunique(dropna=False))
        floor = max(ETA2_RELATED, RELATED_NOISE_FACTOR * (levels - 1) / max(m, 1))
        if plan.numeric and eta2 < floor:
            plan.categorical.remove(col)
            plan.dropped[col] = (
                _too_few(m, f"its {levels} levels")
                if floor >= 1
                else f"unrelated to the numeric attributes (its levels explain at most "
                f"{eta2:.1%} of any of them, under {floor:.1%}): a split by it alone would not "
                "be a behavioural segment"
            )
            continue
        if eta2 < ETA2_FULL_WEIGHT:
            plan.weights[col] = round(float(np.sqrt(eta2 / ETA2_FULL_WEIGHT)), 4)
        distinct = int(frame[col].nunique(dropna=True))
        if distinct > MAX_CATEGORIES:
            plan.notices.append(
                f"'{col}' has {distinct} categories; the {MAX_CATEGORIES - 1} most common are "
                "kept and the rest grouped as 'infrequent'"
            )
    # Said only of the numbers kept: a column left out needs no note on its blanks.
    plan.notices[:0] = [
        f"'{col}' is missing in {share:.1%} of rows; filled with the median"
        for col, share in blanks.items()
        if col in plan.numeric
    ]
    for col, why in plan.dropped.items():
        plan.notices.append(f"column '{col}' left out: {why}")
    if not plan.numeric and not plan.categorical:
        raise InputError(
            "No column is left to build segments on: "
            + "; ".join(f"'{c}' {w}" for c, w in plan.dropped.items())
            + ". Provide numeric or categorical attributes that vary between customers."
        )
    if not plan.numeric and len(plan.categorical) == 1:
        (only,) = plan.categorical
        left = "; ".join(f"'{c}' {w}" for c, w in plan.dropped.items())
        raise InputError(
            f"Only one column is left to build segments on: '{only}', a category"
            + (f" (left out: {left})" if left else "")
            + ". Its segments would be its levels, which a count by that column shows without "
            "clustering. Add numeric attributes (spend, visits, age, ...) or more categories "
            "that describe the customers."
        )
    return plan


def build_preprocessor(plan: ColumnPlan, categories: str = "onehot") -> ColumnTransformer:
    """The preprocessing ``ColumnTransformer`` for a :class:`ColumnPlan`.

    ``categories="onehot"`` gives one 0/1 column per level (for every distance-based method);
    ``"codes"`` gives one column of integer codes per categorical feature, for k-prototypes,
    which compares categories by equality. Unseen levels get code -1 (they match no
    prototype). Numeric columns come first in both.

    Examples
    --------
    >>> plan = ColumnPlan(numeric=["revenue"], categorical=["country"])
    >>> build_preprocessor(plan).transformers[0][0]
    'numeric'
    """
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("skew", SkewTransformer()),
            ("scale", StandardScaler()),
            ("clip", OutlierClipper()),
        ]
    )
    encoder: Any
    if categories == "codes":
        encoder = (
            "codes",
            OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, max_categories=MAX_CATEGORIES
            ),
        )
    else:
        encoder = (
            "onehot",
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=MAX_CATEGORIES,
                sparse_output=False,
            ),
        )
    categorical = Pipeline(
        [("impute", SimpleImputer(strategy="constant", fill_value="missing")), encoder]
    )
    transformers: list[tuple[str, Any, list[str]]] = []
    if plan.numeric:
        transformers.append(("numeric", numeric, plan.numeric))
    weights: dict[str, float] | None = None
    if plan.categorical and categories == "onehot" and plan.weights:
        # One transformer per down-weighted attribute, scaled by ColumnTransformer's own
        # transformer_weights; the fully weighted ones stay together.
        full = [c for c in plan.categorical if c not in plan.weights]
        if full:
            transformers.append(("categorical", categorical, full))
        weights = {}
        for col in plan.categorical:
            if col in plan.weights:
                transformers.append((f"categorical:{col}", clone(categorical), [col]))
                weights[f"categorical:{col}"] = plan.weights[col]
    elif plan.categorical:
        transformers.append(("categorical", categorical, plan.categorical))
    return ColumnTransformer(
        transformers,
        remainder="drop",
        verbose_feature_names_out=False,
        transformer_weights=weights,
    )


def check_finite(X: np.ndarray, names: list[str]) -> None:
    """Refuse NaN or infinite values before they reach a model, naming the column."""
    bad = ~np.isfinite(X)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        raise InputError(
            f"Feature '{names[j]}' has {int(bad[:, j].sum())} values that are not finite after "
            "preprocessing (extreme magnitudes?). Remove or fix the extreme values in that column."
        )


def transform_names(preprocessor: ColumnTransformer) -> list[str]:
    """Output column names of a fitted preprocessor."""
    return [str(n) for n in preprocessor.get_feature_names_out()]


def dequantize(frame: pd.DataFrame, numeric: list[str], seed: int = 0) -> pd.DataFrame:
    """Whole-number columns (counts, days, 0/1 flags) spread by a uniform +-0.5, for the
    valley test only.

    Counts are measured in steps: 1 and 2 orders are far apart once logged, and 0/1 flags
    are two spikes, so a density along them shows valleys that are an artefact of counting,
    not two groups of customers. Spreading each value over its half-unit neighbourhood (the
    standard dequantization of count data) removes those valleys and keeps every real gap
    wider than one unit. Non-negative columns stay non-negative.

    Examples
    --------
    >>> df = pd.DataFrame({"n_orders": [1, 2, 3], "share": [0.5, 0.25, 0.75]})
    >>> out = dequantize(df, ["n_orders", "share"])
    >>> bool((out["n_orders"] - df["n_orders"]).abs().max() <= 0.5), out["share"].tolist()
    (True, [0.5, 0.25, 0.75])
    """
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for col in numeric:
        values = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        if len(finite) == 0 or not np.all(np.mod(finite, 1.0) == 0):
            continue
        spread = values + rng.uniform(-0.5, 0.5, size=len(values))
        if finite.min() >= 0:
            spread = np.clip(spread, 0.0, None)
        out[col] = spread
    return out


def categorical_as_text(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categorical columns as plain object text (numbers mixed in are read as text)."""
    texts = {}
    for col in categorical:
        values = frame[col]
        # Each distinct value is turned into text once (a million customers hold a few levels);
        # missing values (code -1) take the last entry, NaN.
        codes, levels = pd.factorize(values, use_na_sentinel=True)
        text = np.array([str(v) for v in levels] + [np.nan], dtype=object)
        texts[col] = pd.Series(text[codes], index=values.index, dtype=object)
    # Replaced all at once: column by column, a table of hundreds of categories fragments
    # into one block per column (pandas' "highly fragmented" PerformanceWarning).
    return frame.assign(**texts) if texts else frame.copy()
