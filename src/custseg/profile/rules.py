"""Short readable membership rules for each segment, with their precision and coverage.

For each segment a shallow one-vs-rest decision tree is grown; every node of the tree, inner
ones included, is a candidate rule: the conditions on the path from the root to it (on the
shared datasets, inner nodes as well as leaves give shorter rules, 2.2 conditions instead of
2.8, with a better F1, 0.90 instead of 0.89). Each candidate's thresholds are rounded to
readable values, repeated conditions on one feature are merged into one interval, and the rule
*as written* is measured again on every customer, so the precision and coverage shown are
exactly true for the text shown. The candidate with the best F1 between
"matches the rule" and "is in the segment", less :data:`CONDITION_COST` per condition, wins,
provided its precision is above :data:`MIN_RULE_PRECISION`; otherwise the segment gets no rule
and an honest note.

Conditions read ``n_orders ≥ 6``, ``20 ≤ Age ≤ 39`` (both ends included), ``Education = PhD``
and ``Education ≠ PhD``; the ``op`` field of each condition is ASCII (``>=``, ``between``,
``==``, ``!=``, ...). Feature names are used as they are, unescaped.

A missing value satisfies only ``!=`` conditions (the pandas and IEEE convention), both when a
rule is measured and in :func:`rule_mask`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from custseg.errors import InputError

MAX_RULE_CONDITIONS = 3
"""Depth of the one-vs-rest trees, so the most conditions a rule can have.

On the 13 segments of the three shared datasets (mall, marketing, online retail with k-means),
depth 2 gives a mean F1 of 0.88 with one rule as loose as 59% precision; depth 3 with
:data:`CONDITION_COST` gives 0.90, every rule at 70% precision or more, and 2.2 conditions per
rule on average (depth 1 leaves 3 segments without any rule). Four conditions stop reading as
one sentence.
"""

MIN_LEAF_SHARE = 0.01
"""Smallest tree leaf, as a share of the customers the tree is fitted on: no rule is built
around a handful of customers."""

MIN_RULE_PRECISION = 0.5
"""A rule is shown only if more than this share of the customers it matches are in the
segment: at 0.5, most customers a rule describes belong to the segment it names."""

MAX_TREE_CUSTOMERS = 20_000
"""The trees are fitted on a seeded sample of at most this many customers (thresholds settle
long before that); precision and coverage are always measured on every customer."""

MAX_CATEGORY_LEVELS = 10
"""Most frequent levels of a categorical column a rule may name; rarer levels (and levels held
by fewer than :data:`MIN_LEAF_SHARE` of customers) are only ever "not" one of those."""

THRESHOLD_DIGITS = 2
"""Significant digits of a rounded threshold, counted on the smaller of the threshold and the
column's standard deviation (so a birth year rounds to the year, not to 2000). Columns that
hold only whole numbers get whole-number thresholds."""

CONDITION_COST = 0.02
"""F1 each condition must earn: a rule's score is its F1 minus this per condition, so a third
condition is written only where it describes the segment clearly better (on the shared data it
drops a third condition from a third of the rules at a cost of 0.004 mean F1)."""

OPERATORS = ("<", "<=", ">", ">=", "==", "!=", "between")
"""Operators a condition may use; ``between`` takes ``[low, high]`` and includes both ends."""


@dataclass(frozen=True)
class _Numeric:
    """What rounding needs to know about one numeric column."""

    name: str
    whole: bool  # only whole numbers
    binary: bool  # only 0 and 1
    spread: float
    low: float
    high: float


@dataclass(frozen=True)
class _Encoded:
    """The tree's input matrix, and what each of its columns means."""

    X: np.ndarray
    columns: list[tuple[str, Any]]  # (feature, None) for numbers, (feature, level) for one-hot
    numeric: dict[str, _Numeric]
    levels: dict[str, list[Any]]  # every non-missing level of each categorical column
    has_missing: dict[str, bool]


def _plain(value: Any) -> Any:
    """A Python scalar for a numpy one, so results are JSON-ready."""
    return value.item() if isinstance(value, np.generic) else value


def _format_number(value: float) -> str:
    """Short text for a threshold: ``1975``, ``52,000``, ``0.012``.

    Examples
    --------
    >>> [_format_number(v) for v in (1975.0, 52000.0, 0.012, 6)]
    ['1975', '52,000', '0.012', '6']
    """
    return format(value, ",.10g" if abs(value) >= 10_000 else ".10g")


class _Evaluator:
    """Evaluate conditions on a table, caching each column's array and each condition's mask."""

    def __init__(self, features: pd.DataFrame) -> None:
        self.features = features
        self._numbers: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, dict[Any, int]]] = {}
        self._masks: dict[tuple[str, str, Any], np.ndarray] = {}

    def _column(self, feature: str) -> pd.Series:
        if feature not in self.features.columns:
            raise InputError(
                f"A rule condition names the column {feature!r}, which the table does not have. "
                f"Columns: {', '.join(map(str, self.features.columns))}."
            )
        return self.features[feature]

    def _is_number(self, feature: str) -> bool:
        col = self._column(feature)
        return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)

    def _numbers_of(self, feature: str) -> np.ndarray:
        if feature not in self._numbers:
            self._numbers[feature] = self._column(feature).to_numpy(dtype=np.float64)
        return self._numbers[feature]

    def _codes_of(self, feature: str) -> tuple[np.ndarray, dict[Any, int]]:
        if feature not in self._codes:
            column = self._column(feature)
            if not isinstance(column.dtype, pd.StringDtype):
                column = column.astype(object)
            codes, uniques = pd.factorize(column)
            self._codes[feature] = (
                np.asarray(codes),
                {_plain(u): i for i, u in enumerate(uniques)},
            )
        return self._codes[feature]

    def mask(self, condition: dict[str, Any]) -> np.ndarray:
        feature, op, value = condition["feature"], condition["op"], condition["value"]
        if op not in OPERATORS:
            raise InputError(
                f"Unknown operator {op!r} in the condition on {feature!r}. "
                f"Use one of: {', '.join(OPERATORS)}."
            )
        key = (feature, op, tuple(value) if isinstance(value, (list, tuple)) else value)
        if key in self._masks:
            return self._masks[key]
        if op in ("==", "!=") and not (
            self._is_number(feature) and isinstance(value, (int, float, np.number))
        ):
            codes, lookup = self._codes_of(feature)
            code = lookup.get(_plain(value), -2)  # -2: a level no row holds (-1 is missing)
            result = codes == code if op == "==" else codes != code
        else:
            if not self._is_number(feature):
                raise InputError(
                    f"The condition {feature} {op} {value!r} compares numbers, but column "
                    f"{feature!r} holds text. Use '==' or '!=' with a level of it."
                )
            x = self._numbers_of(feature)
            with np.errstate(invalid="ignore"):
                if op == "between":
                    if not isinstance(value, (list, tuple)) or len(value) != 2:
                        raise InputError(
                            f"A 'between' condition on {feature!r} needs [low, high], "
                            f"got {value!r}."
                        )
                    result = (x >= value[0]) & (x <= value[1])
                elif op == "<":
                    result = x < value
                elif op == "<=":
                    result = x <= value
                elif op == ">":
                    result = x > value
                elif op == ">=":
                    result = x >= value
                elif op == "==":
                    result = x == value
                else:
                    result = x != value
        self._masks[key] = result
        return result

    def mask_all(self, conditions: Sequence[dict[str, Any]]) -> np.ndarray:
        result = np.ones(len(self.features), dtype=bool)
        for condition in conditions:
            result = result & self.mask(condition)
        return result


def rule_mask(features: pd.DataFrame, conditions: Sequence[dict[str, Any]]) -> np.ndarray:
    """Which rows satisfy every condition of a rule.

    Parameters
    ----------
    features : pandas.DataFrame
        The table to evaluate on.
    conditions : sequence of dict
        Each with ``feature``, ``op`` (one of :data:`OPERATORS`) and ``value``; ``between``
        takes ``[low, high]`` and includes both ends. No conditions match every row. A missing
        value satisfies only ``!=``.

    Returns
    -------
    numpy.ndarray of bool
        One entry per row of ``features``.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [25, 35, 45, None], "city": ["Paris", "Rome", "Paris", None]})
    >>> rule_mask(df, [{"feature": "age", "op": "between", "value": [30, 50]}])
    array([False,  True,  True, False])
    >>> rule_mask(df, [{"feature": "city", "op": "!=", "value": "Paris"}])
    array([False,  True, False,  True])
    """
    return _Evaluator(features).mask_all(conditions)


def _check_inputs(
    features: pd.DataFrame,
    labels: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    max_conditions: int,
) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(features):
        raise InputError(
            f"labels must hold one segment per row of features: got {labels.shape} labels "
            f"for {len(features):,} rows."
        )
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise InputError(
            f"labels must be whole segment numbers (-1 for noise), got dtype {labels.dtype}."
        )
    missing = [c for c in [*numeric, *categorical] if c not in features.columns]
    if missing:
        raise InputError(
            f"Column {missing[0]!r} is not in the features table. "
            f"Columns: {', '.join(map(str, features.columns))}."
        )
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(features[col]):
            example = features[col].dropna().iloc[0] if features[col].notna().any() else None
            raise InputError(
                f"Numeric column {col!r} holds values that are not numbers (e.g. {example!r}). "
                "Pass it in categorical instead."
            )
    if not numeric and not categorical:
        raise InputError("segment_rules needs at least one numeric or categorical column.")
    if isinstance(max_conditions, bool) or not isinstance(max_conditions, (int, np.integer)):
        raise InputError(f"max_conditions must be a whole number, got {max_conditions!r}.")
    if max_conditions < 1:
        raise InputError(f"max_conditions must be at least 1, got {max_conditions}.")
    return labels.astype(np.int64)


def _encode(
    features: pd.DataFrame, numeric: list[str], categorical: list[str], rows: np.ndarray
) -> _Encoded:
    """Median-imputed numbers and one-hot top levels, as the tree's input, for ``rows`` (the
    customers the trees are fitted on); medians, ranges and levels are those of every row."""
    n = len(features)
    blocks: list[np.ndarray] = []
    columns: list[tuple[str, Any]] = []
    info: dict[str, _Numeric] = {}
    for col in numeric:
        x = features[col].to_numpy(dtype=np.float64)
        finite = x[np.isfinite(x)]
        if not len(finite) or finite.min() == finite.max():
            continue  # nothing to split on
        whole = bool(np.all(finite == np.round(finite)))
        info[col] = _Numeric(
            name=col,
            whole=whole,
            binary=whole and bool(np.all((finite == 0) | (finite == 1))),
            spread=float(finite.std()),
            low=float(finite.min()),
            high=float(finite.max()),
        )
        fit = x[rows]
        blocks.append(np.where(np.isfinite(fit), fit, np.median(finite)))
        columns.append((col, None))
    levels: dict[str, list[Any]] = {}
    has_missing: dict[str, bool] = {}
    for col in categorical:
        column = features[col]
        # Text columns are counted as they are (Arrow strings count fast); other dtypes as
        # Python objects, so that a categorical's unused categories are not levels.
        text = isinstance(column.dtype, pd.StringDtype)
        counts = (column if text else column.astype(object)).value_counts(dropna=True)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        levels[col] = [_plain(level) for level, _ in ranked]
        has_missing[col] = bool(column.isna().any())
        values = column.iloc[rows].astype(object)
        top = [
            level for level, count in ranked[:MAX_CATEGORY_LEVELS] if count >= MIN_LEAF_SHARE * n
        ]
        if len(ranked) == 2 and not has_missing[col]:
            top = top[:1]  # "= A" and "≠ B" are the same split; keep one column
        for level in top:
            blocks.append((values == level).to_numpy(dtype=np.float64))
            columns.append((col, _plain(level)))
    X = np.column_stack(blocks) if blocks else np.empty((len(rows), 0))
    return _Encoded(X=X, columns=columns, numeric=info, levels=levels, has_missing=has_missing)


def _node_paths(tree: DecisionTreeClassifier) -> list[list[tuple[int, float, bool]]]:
    """The path (column, threshold, went right) from the root to every node but the root."""
    t = tree.tree_
    paths: list[list[tuple[int, float, bool]]] = []
    stack: list[tuple[int, list[tuple[int, float, bool]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if path:
            paths.append(path)
        left, right = t.children_left[node], t.children_right[node]
        if left != -1:
            step = (int(t.feature[node]), float(t.threshold[node]))
            stack.append((right, [*path, (*step, True)]))
            stack.append((left, [*path, (*step, False)]))
    return paths


def _readable(threshold: float, info: _Numeric, digits: int, lower: bool) -> float:
    """A readable bound near a tree threshold (see :data:`THRESHOLD_DIGITS`).

    ``lower`` is the bound of ``x > threshold`` (written ``x ≥ bound``), else of
    ``x <= threshold`` (written ``x ≤ bound``). Whole-number columns whose step would be below 1
    keep the tree's split exactly: ``x > 5.5`` is ``x ≥ 6`` and ``x <= 5.5`` is ``x ≤ 5``.
    """
    scale = min(abs(threshold), info.spread) or info.spread
    exponent = math.floor(math.log10(scale)) - (digits - 1)
    if info.whole and exponent <= 0:
        return float(math.floor(threshold) + 1 if lower else math.floor(threshold))
    step = 10.0**exponent
    return float(round(round(threshold / step) * step, max(0, -exponent)))


def _number(value: float, info: _Numeric) -> int | float:
    return int(value) if info.whole else value


def _numeric_condition(
    info: _Numeric, above: float | None, upto: float | None
) -> list[dict[str, Any]] | None:
    """Conditions for ``above < x <= upto`` (tree thresholds), rounded; None if empty."""
    f = info.name
    if info.binary:
        allowed = [
            v for v in (0, 1) if (above is None or v > above) and (upto is None or v <= upto)
        ]
        if len(allowed) != 1:
            return [] if allowed else None
        return [{"feature": f, "op": "==", "value": allowed[0], "text": f"{f} = {allowed[0]}"}]
    low = high = None
    for digits in range(THRESHOLD_DIGITS, THRESHOLD_DIGITS + 3):
        low = None if above is None else _readable(above, info, digits, lower=True)
        high = None if upto is None else _readable(upto, info, digits, lower=False)
        if low is None or high is None or low < high:
            break
        if info.whole and low == high == math.floor(upto or 0) == math.floor(above or 0) + 1:
            break  # the interval holds one whole number: "x = 3"
        # Rounding closed the interval: try one more digit.
    if low is not None and low <= info.low:
        low = None  # every customer is above it
    if high is not None and high >= info.high:
        high = None
    if low is not None and high is not None:
        if low > high:
            return None
        if low == high:
            v = _number(low, info)
            return [{"feature": f, "op": "==", "value": v, "text": f"{f} = {_format_number(v)}"}]
        lo, hi = _number(low, info), _number(high, info)
        text = f"{_format_number(lo)} ≤ {f} ≤ {_format_number(hi)}"
        return [{"feature": f, "op": "between", "value": [lo, hi], "text": text}]
    if low is not None:
        v = _number(low, info)
        return [{"feature": f, "op": ">=", "value": v, "text": f"{f} ≥ {_format_number(v)}"}]
    if high is not None:
        v = _number(high, info)
        return [{"feature": f, "op": "<=", "value": v, "text": f"{f} ≤ {_format_number(v)}"}]
    return []


def _conditions(
    path: list[tuple[int, float, bool]], encoded: _Encoded
) -> list[dict[str, Any]] | None:
    """Readable, merged conditions for a tree path, in the order the tree asked them."""
    order: list[str] = []
    above: dict[str, float] = {}
    upto: dict[str, float] = {}
    equal: dict[str, Any] = {}
    not_equal: dict[str, list[Any]] = {}
    for column, threshold, right in path:
        feature, level = encoded.columns[column]
        if feature not in order:
            order.append(feature)
        if level is None:
            if right:
                above[feature] = max(above.get(feature, -math.inf), threshold)
            else:
                upto[feature] = min(upto.get(feature, math.inf), threshold)
        elif right:
            equal[feature] = level
        else:
            not_equal.setdefault(feature, []).append(level)
    out: list[dict[str, Any]] = []
    for f in order:
        if f in encoded.numeric:
            conds = _numeric_condition(encoded.numeric[f], above.get(f), upto.get(f))
            if conds is None:
                return None
            out.extend(conds)
            continue
        if f not in equal:
            left = [lv for lv in encoded.levels[f] if lv not in not_equal[f]]
            if len(left) == 1 and not encoded.has_missing[f]:
                equal[f] = left[0]
        if f in equal:
            out.append({"feature": f, "op": "==", "value": equal[f], "text": f"{f} = {equal[f]}"})
        else:
            out.extend(
                {"feature": f, "op": "!=", "value": lv, "text": f"{f} ≠ {lv}"}
                for lv in not_equal[f]
            )
    return out


def _score(precision: float, coverage: float) -> float:
    """How well a rule describes a segment: F1 of (matches the rule) vs (is in the segment)."""
    return 2 * precision * coverage / (precision + coverage)


def _no_rule(n_segment: int, note: str) -> dict[str, Any]:
    return {
        "rule": "",
        "conditions": [],
        "precision": None,
        "coverage": None,
        "n_matching": 0,
        "n_segment": n_segment,
        "note": note,
    }


def segment_rules(
    features: pd.DataFrame,
    labels: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    *,
    max_conditions: int = MAX_RULE_CONDITIONS,
    seed: int = 0,
) -> dict[int, dict[str, Any]]:
    """A short readable rule per segment, with its exact precision and coverage.

    For each segment a one-vs-rest decision tree of depth ``max_conditions`` is fitted
    (balanced class weights, leaves of at least :data:`MIN_LEAF_SHARE` of the customers, on at
    most :data:`MAX_TREE_CUSTOMERS` customers). Missing numbers are replaced by the column
    median for the tree only; categorical columns enter as one indicator per frequent level
    (:data:`MAX_CATEGORY_LEVELS`). Every node's path is turned into merged conditions with
    rounded thresholds (:data:`THRESHOLD_DIGITS`), measured again on all customers with
    :func:`rule_mask`, and the rule with the best F1 less :data:`CONDITION_COST` per condition
    whose precision is above :data:`MIN_RULE_PRECISION` is kept (ties: fewer conditions).

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer, in original units. Numeric columns may hold NaN; categorical
        columns hold text (or other labels) and may hold NaN.
    labels : numpy.ndarray of int
        Segment of each row; -1 is noise, which gets no rule but counts as "not in the
        segment" when the other segments' rules are measured.
    numeric, categorical : list of str
        Columns the rules may use.
    max_conditions : int
        Depth of the trees, so the most conditions of a rule.
    seed : int
        Seed of the sample and the trees; the same input and seed give the same rules.

    Returns
    -------
    dict
        Segment number -> ``{"rule": str, "conditions": [{"feature", "op", "value",
        "text"}], "precision": float | None, "coverage": float | None, "n_matching": int,
        "n_segment": int, "note": str}``. ``precision`` is the share of matching customers who
        are in the segment, ``coverage`` the share of the segment that matches. When no rule
        is precise enough, ``rule`` is ``""``, ``precision`` and ``coverage`` are
        None and ``note`` says why; otherwise ``note`` is ``""``.

    Examples
    --------
    >>> df = pd.DataFrame({"n_orders": [1, 2, 5, 6, 7, 9], "city": ["A", "B", "A", "B", "A", "B"]})
    >>> rules = segment_rules(df, np.array([0, 0, 0, 1, 1, 1]), ["n_orders"], ["city"])
    >>> rules[1]["rule"], rules[1]["precision"], rules[1]["coverage"]
    ('n_orders ≥ 6', 1.0, 1.0)
    >>> rules[1]["conditions"]
    [{'feature': 'n_orders', 'op': '>=', 'value': 6, 'text': 'n_orders ≥ 6'}]
    """
    labels = _check_inputs(features, labels, numeric, categorical, max_conditions)
    n = len(features)
    rows = np.arange(n)
    if n > MAX_TREE_CUSTOMERS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, size=MAX_TREE_CUSTOMERS, replace=False))
    encoded = _encode(
        features, list(dict.fromkeys(numeric)), list(dict.fromkeys(categorical)), rows
    )
    evaluator = _Evaluator(features)
    X_fit = encoded.X
    min_leaf = max(1, math.ceil(MIN_LEAF_SHARE * len(rows)))
    result: dict[int, dict[str, Any]] = {}
    for segment in sorted(int(s) for s in np.unique(labels) if s >= 0):
        inside = labels == segment
        n_segment = int(inside.sum())
        y_fit = inside[rows]
        if y_fit.all() or not y_fit.any() or X_fit.shape[1] == 0:
            what = "every customer is in this segment" if y_fit.all() else "too few customers"
            result[segment] = _no_rule(n_segment, f"no rule describes this segment ({what}).")
            continue
        tree = DecisionTreeClassifier(
            max_depth=int(max_conditions),
            class_weight="balanced",
            min_samples_leaf=min_leaf,
            random_state=seed,
        ).fit(X_fit, y_fit)
        best: tuple[float, int, dict[str, Any]] | None = None
        best_precision = 0.0
        seen: set[str] = set()
        for path in _node_paths(tree):
            conditions = _conditions(path, encoded)
            if not conditions:
                continue
            rule = " and ".join(c["text"] for c in conditions)
            if rule in seen:
                continue
            seen.add(rule)
            matching = evaluator.mask_all(conditions)
            n_matching = int(matching.sum())
            hits = int((matching & inside).sum())
            if not hits:
                continue
            precision, coverage = hits / n_matching, hits / n_segment
            best_precision = max(best_precision, precision)
            if precision <= MIN_RULE_PRECISION:
                continue
            score = _score(precision, coverage) - CONDITION_COST * len(conditions)
            if best is None or (score, -len(conditions)) > (best[0], best[1]):
                best = (
                    score,
                    -len(conditions),
                    {
                        "rule": rule,
                        "conditions": conditions,
                        "precision": precision,
                        "coverage": coverage,
                        "n_matching": n_matching,
                        "n_segment": n_segment,
                        "note": "",
                    },
                )
        if best is None:
            result[segment] = _no_rule(
                n_segment,
                "no short rule describes this segment well "
                f"(best: precision {best_precision:.0%}).",
            )
        else:
            result[segment] = best[2]
    return result
