"""Segment migration: where the customers of one segmentation went in another.

:func:`compare_runs` reads two custseg outputs (two output folders of ``custseg segment``, or
a CSV written by ``custseg predict`` on either side) and returns a :class:`Migration`: every
customer's old and new segment, the migration matrix (customers and revenue from each old
segment to each new one, with ``new`` customers found only in the new run and ``gone``
customers found only in the old one), how the two runs' segments correspond, and the
customers who moved from a valuable segment to an at-risk or lost one.

When both runs used the same model (the same ``model.skops`` bytes, or a predictions CSV that
uses the other side's segment numbers and names), a segment is its own counterpart. Otherwise
the segments are matched by their profiles: each segment's median of every shared feature as a
percentile among its own run's customers, one-to-one by the Hungarian assignment
(:func:`scipy.optimize.linear_sum_assignment`) on the root-mean-square distance between
those profiles. A pair is a counterpart only when it is the same kind of customer: the same
activity (active, at risk or lost; see :data:`ACTIVITY`) and a profile distance that is not
poor. An old segment without one has its customers counted as moved.

Examples
--------
>>> migration = compare_runs("out-2011-09/", "out-2011-12/")  # doctest: +SKIP
>>> migration.counts  # doctest: +SKIP
>>> migration.movers.head()  # doctest: +SKIP
>>> migration.save("migration/")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from custseg.errors import InputError

NEW = "new"
"""The row label of customers found only in the new run (no old segment)."""
GONE = "gone"
"""The column label of customers found only in the old run (no new segment)."""

VALUABLE, AT_RISK, LOST, OTHER = "valuable", "at risk", "lost", "other"

#: What each RFM segment name of :data:`custseg.profile.naming.RFM_NAMING_RULES` means for
#: migration. Valuable: the three names that need a high frequency or spend and a purchase
#: within two typical gaps. At risk: every name given to a segment that has gone two typical
#: gaps without buying (but fewer than four), and the two "slipping" names under two gaps
#: that are no longer inside their buying cycle. Lost: four typical gaps or more. New,
#: promising, regular customers and frequent returners are "other": active, not yet valuable.
SEGMENT_GROUPS: dict[str, str] = {
    "Champions": VALUABLE,
    "Loyal customers": VALUABLE,
    "Big spenders": VALUABLE,
    "Need attention": AT_RISK,
    "About to sleep": AT_RISK,
    "Can't lose them": AT_RISK,
    "At risk": AT_RISK,
    "Hibernating": AT_RISK,
    "Lost one-time buyers": LOST,
    "Lost customers": LOST,
    "New customers": OTHER,
    "Promising": OTHER,
    "Regular customers": OTHER,
    "Frequent returners": OTHER,
}

ACTIVITY: dict[str, str] = {VALUABLE: "active", OTHER: "active", AT_RISK: AT_RISK, LOST: LOST}
"""What a group says about whether its customers still buy. Segments matched by profile are
counterparts only when their groups have the same activity: an at-risk segment is not the
counterpart of an active one however close their percentile profiles are (a run that added a
quarter of new customers can make its "New customers" the nearest profile of the old run's
"About to sleep"), and counting customers who went from one to the other as "stayed" would
hide exactly the change migration is for. Valuable and other are both active: a segment
that was Loyal customers and is now Regular customers is the same kind of customer, less
valuable, not lapsed."""

VALUABLE_SHARE_RATIO = 1.5
"""A segment whose name custseg's vocabulary does not know (renamed, or a customer table) is
valuable when its share of revenue is at least 1.5 times its share of customers: the same bar
as Champions (:data:`custseg.profile.naming.CHAMPION_VALUE`)."""

MATCH_CLOSE = 0.10
"""Matched segments whose profiles differ by at most 0.10 (10 percentile points per feature,
root mean square) are "close": the same kind of customer in both runs."""
MATCH_FAIR = 0.20
"""Up to 0.20 a match is "fair"; beyond it "poor": the new segment is the nearest there is,
not the same kind of customer. Matched by profile, a poor pair is not a counterpart."""

NOT_PROFILE_COLUMNS = frozenset(
    {
        "customer_id",
        "segment",
        "segment_name",
        "segment_probability",
        "expected_purchases",
        "expected_revenue",
        "first_purchase_segment",
        "first_purchase_segment_name",
        "first_purchase_segment_probability",
    }
)
"""Columns of segments.csv that are not customer features (the forecasts are model outputs,
not what a segment is made of)."""

TRANSACTION_FEATURES = ("days_since_last_purchase", "n_orders", "revenue")
"""A predictions CSV with these columns holds invoice-line features (kind ``transactions``)."""

OUTPUT_FILES = (
    "matrix.csv",
    "matrix_customers.csv",
    "segment_pairs.csv",
    "movers.csv",
    "customers.csv",
    "migration.json",
    "migration.html",
)
"""What :meth:`Migration.save` writes (``custseg compare --out DIR``)."""


@dataclass
class Run:
    """One side of a comparison, as read by :func:`read_run`.

    Attributes
    ----------
    path : Path
        The output folder or predictions CSV.
    kind : str
        ``"transactions"`` or ``"customers"``.
    customers : DataFrame
        ``customer_id``, ``segment``, ``segment_name``, ``value`` (revenue, or the customer
        table's value measure; NaN without one), then the numeric features.
    names, groups : dict
        Segment number -> name; -> ``"valuable"``, ``"at risk"``, ``"lost"`` or ``"other"``.
    model_id : str or None
        sha256 of the folder's ``model.skops`` (None for a predictions CSV).
    value_label : str or None
        What ``value`` measures (``"revenue"``), None when nothing does.
    """

    path: Path
    kind: str
    customers: pd.DataFrame
    names: dict[int, str]
    groups: dict[int, str]
    model_id: str | None
    value_label: str | None
    features: list[str] = field(default_factory=list)
    predictions: bool = False
    currency: str | None = None
    """The symbol amounts are shown with (``"£"``), from metrics.json; None when unknown."""


@dataclass
class Migration:
    """What :func:`compare_runs` returns.

    Attributes
    ----------
    customers : DataFrame
        One row per customer of either run: ``customer_id``, ``old_segment``,
        ``old_segment_name``, ``new_segment``, ``new_segment_name`` (empty numbers and the
        names ``new`` / ``gone`` where a run lacks the customer), ``status`` (``stayed``,
        ``moved``, ``new``, ``gone``), ``old_value`` and ``new_value`` (revenue).
    matrix : DataFrame
        One row per (old, new) pair with customers: the segments, ``customers``,
        ``share_of_old`` (of the old segment's customers), ``old_value`` and ``new_value``.
    counts : DataFrame
        The matrix of customers: one row per old segment plus ``new``, one column per new
        segment plus ``gone`` (labels ``"0 · Champions"``).
    pairs : DataFrame
        One row per old segment: its group, its counterpart in the new run (by number for
        the same model, by profile otherwise; empty when it has none), the profile
        ``distance`` and ``match``, the share of its customers who stayed with the
        counterpart, and ``no_counterpart``: why it has none (empty when it has one).
    movers : DataFrame
        Customers who moved from a valuable segment to an at-risk or lost one, highest old
        value first.
    summary : dict
        Counts, the matching method and how well the segments match (JSON-ready).
    """

    customers: pd.DataFrame
    matrix: pd.DataFrame
    counts: pd.DataFrame
    pairs: pd.DataFrame
    movers: pd.DataFrame
    summary: dict[str, Any]
    segments: pd.DataFrame

    def save(self, directory: str | Path) -> Path:
        """Write the CSVs, ``migration.json`` and ``migration.html`` into ``directory``,
        atomically (a temporary folder beside it, renamed when complete).

        An earlier ``custseg compare`` folder is replaced; a folder with other files is
        refused.

        Examples
        --------
        >>> compare_runs("old/", "new/").save("migration/")  # doctest: +SKIP
        PosixPath('/.../migration')
        """
        from custseg.export import jsonable, write_csv, write_folder_atomically
        from custseg.report.migration import render_migration

        target = Path(directory).resolve()
        check_migration_dir(target)
        target.parent.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            write_csv(self.matrix, tmp / "matrix.csv")
            write_csv(self.counts.reset_index(), tmp / "matrix_customers.csv")
            write_csv(self.pairs, tmp / "segment_pairs.csv")
            write_csv(self.movers, tmp / "movers.csv")
            write_csv(self.customers, tmp / "customers.csv")
            (tmp / "migration.json").write_text(
                json.dumps(jsonable(self.summary), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
            (tmp / "migration.html").write_text(render_migration(self), encoding="utf-8")

        write_folder_atomically(target, write)
        return target


def check_migration_dir(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise InputError(f"Output path '{target}' is a file. Pass a folder name to --out.")
    if target.is_dir():
        others = sorted(p.name for p in target.iterdir() if p.name not in OUTPUT_FILES)
        if others:
            raise InputError(
                f"Output folder '{target}' already holds other files ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}). Choose a new folder, or empty this one."
            )


# ----------------------------------------------------------------------------- reading


_FIX = (
    "Pass an output folder of 'custseg segment' (with segments.csv) or a CSV written by "
    "'custseg predict'."
)


def _read_segments(path: Path) -> pd.DataFrame:
    from custseg.export import unneutralize_column

    try:
        frame = pd.read_csv(
            path,
            dtype={"customer_id": str, "segment_name": str},
            keep_default_na=False,
            na_values=[""],
            low_memory=False,
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"'{path}' is not a readable CSV ({exc}). {_FIX}") from None
    missing = [c for c in ("customer_id", "segment", "segment_name") if c not in frame.columns]
    if missing:
        raise InputError(
            f"'{path}' lacks the column(s) {', '.join(missing)}: it is not a custseg segments "
            f"table. {_FIX}"
        )
    if frame["customer_id"].isna().any():
        rows = (np.flatnonzero(frame["customer_id"].isna().to_numpy())[:3] + 2).tolist()
        raise InputError(f"'{path}' has rows without a customer_id (lines {rows}). {_FIX}")
    segment = pd.to_numeric(frame["segment"], errors="coerce")
    if segment.isna().any() or (segment != segment.round()).any():
        raise InputError(f"'{path}' has segment numbers that are not whole numbers. {_FIX}")
    frame["segment"] = segment.astype(np.int64)
    frame["segment_name"] = unneutralize_column(frame["segment_name"].fillna(""))
    frame["customer_id"] = unneutralize_column(frame["customer_id"])
    duplicated = frame["customer_id"].duplicated()
    if duplicated.any():
        raise InputError(
            f"'{path}' lists customer '{frame['customer_id'][duplicated].iloc[0]}' more than "
            f"once ({int(duplicated.sum())} repeated ids). Each customer must appear once."
        )
    return frame


def _group_by_name(name: str) -> str | None:
    """The group of a custseg RFM name, its qualifiers (", recent", " (segment 3)") ignored."""
    base = name.split(",")[0].split(" (segment")[0].strip()
    return SEGMENT_GROUPS.get(base)


def _groups(
    frame: pd.DataFrame, names: Mapping[int, str], kind: str, metrics: Mapping[str, Any]
) -> dict[int, str]:
    """Each segment's group: the naming rule recorded in metrics.json (which survives a
    renaming), else the name's custseg vocabulary, else the profile rule (valuable when its
    value share is at least :data:`VALUABLE_SHARE_RATIO` times its customer share; at risk
    and lost by the typical-gap rule of custseg's naming for invoice lines)."""
    from custseg.profile.naming import (
        AT_RISK_GAPS,
        LOST_GAPS,
        RFM_NAMING_RULES,
        inter_purchase_days,
        rfm_scores,
        typical_gap,
    )

    by_condition = {rule.condition: rule.name for rule in RFM_NAMING_RULES}
    recorded = {
        int(entry["segment"]): by_condition.get(str(entry.get("rule")))
        for entry in metrics.get("segments") or []
        if isinstance(entry, Mapping) and "segment" in entry
    }
    rfm = kind == "transactions" and all(
        c in frame for c in (*TRANSACTION_FEATURES, "days_since_first_purchase")
    )
    shop_gap = typical_gap(inter_purchase_days(frame)) if rfm else None
    labels = frame["segment"].to_numpy()
    value = frame["value"].to_numpy(dtype=float)
    total = float(np.nansum(value))
    groups: dict[int, str] = {}
    for seg, name in names.items():
        known = recorded.get(seg)
        group = SEGMENT_GROUPS.get(known) if known else _group_by_name(name)
        if group is None and seg >= 0:
            inside = labels == seg
            if rfm:
                scores = rfm_scores(frame, inside, shop_gap=shop_gap)
                if scores["gaps"] >= LOST_GAPS:
                    group = LOST
                elif scores["gaps"] >= AT_RISK_GAPS:
                    group = AT_RISK
            if group is None and total > 0:
                ratio = float(np.nansum(value[inside])) / total / float(inside.mean())
                group = VALUABLE if ratio >= VALUABLE_SHARE_RATIO else None
        groups[seg] = group or OTHER
    return groups


def read_run(path: str | Path) -> Run:
    """Read one side of a comparison: an output folder or a ``custseg predict`` CSV.

    Parameters
    ----------
    path : str or Path
        A folder written by ``custseg segment --out`` (``segments.csv`` is read, and
        ``metrics.json`` and ``model.skops`` when there), or a CSV with ``customer_id``,
        ``segment`` and ``segment_name`` (what ``custseg predict`` writes).

    Returns
    -------
    Run

    Examples
    --------
    >>> run = read_run("out/")  # doctest: +SKIP
    >>> run.kind, run.names  # doctest: +SKIP
    ('transactions', {0: 'Champions', 1: 'Loyal customers', ...})
    """
    from custseg.io.readers import file_sha256
    from custseg.labels import value_columns

    path = Path(path)
    if not path.exists():
        raise InputError(f"'{path}' does not exist. {_FIX}")
    metrics: dict[str, Any] = {}
    model_id = None
    if path.is_dir():
        table = path / "segments.csv"
        if not table.is_file():
            raise InputError(
                f"'{path}' has no segments.csv: it is not a custseg output folder. Pass the "
                f"folder 'custseg segment INPUT --out {path}' writes, or a predictions CSV."
            )
        if (path / "metrics.json").is_file():
            try:
                loaded = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputError(
                    f"'{path / 'metrics.json'}' is not valid JSON ({exc}). Re-run "
                    "'custseg segment', or delete the file to compare by segments.csv alone."
                ) from None
            metrics = loaded if isinstance(loaded, dict) else {}
        if (path / "model.skops").is_file():
            model_id = file_sha256(path / "model.skops")
    else:
        table = path
    frame = _read_segments(table)
    numeric = [
        str(c)
        for c in frame.columns
        if c not in NOT_PROFILE_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])
    ]
    kind = str(metrics.get("kind") or "")
    if kind not in ("transactions", "customers"):
        kind = "transactions" if all(c in numeric for c in TRANSACTION_FEATURES) else "customers"
    value_label: str | None = None
    if kind == "transactions" and "revenue" in numeric:
        value, value_label = frame["revenue"].astype(float), "revenue"
    else:
        measure = metrics.get("value") or {}
        wanted = [c for c in measure.get("columns") or [] if c in numeric]
        if not wanted:
            wanted = value_columns(numeric)
        if wanted:
            value = frame[wanted].astype(float).sum(axis=1).clip(lower=0)
            value_label = str(measure.get("label") or ("spend" if len(wanted) > 1 else wanted[0]))
        else:
            value = pd.Series(np.nan, index=frame.index)
    customers = pd.concat(
        [frame[["customer_id", "segment", "segment_name"]], value.rename("value"), frame[numeric]],
        axis=1,
    )
    first = frame.groupby("segment", sort=True)["segment_name"].first()
    names = {int(seg): str(name) for seg, name in zip(first.index, first, strict=True)}
    return Run(
        path=path,
        kind=kind,
        customers=customers,
        names=names,
        groups=_groups(customers, names, kind, metrics),
        model_id=model_id,
        value_label=value_label,
        features=numeric,
        predictions=not path.is_dir(),
        currency=str((metrics.get("presentation") or {}).get("currency") or "") or None,
    )


# ----------------------------------------------------------------------------- matching


def segment_profiles(run: Run, features: list[str]) -> pd.DataFrame:
    """Each segment's median of ``features`` as a percentile (0-1, mid-rank) among all of the
    run's customers: unit-free, and comparable between runs whose values drifted.

    Examples
    --------
    >>> c = pd.DataFrame({"segment": [0, 0, 1, 1], "x": [1.0, 2.0, 3.0, 4.0]})
    >>> run = Run(Path("."), "customers", c, {0: "a", 1: "b"}, {}, None, None)
    >>> segment_profiles(run, ["x"]).round(3).to_dict("list")
    {'x': [0.25, 0.75]}
    """
    frame = run.customers
    out = {}
    for col in features:
        values = frame[col].to_numpy(dtype=float)
        known = np.sort(values[np.isfinite(values)])
        medians = frame.groupby("segment", sort=True)[col].median()
        if len(known) == 0:
            out[col] = pd.Series(0.5, index=medians.index)
            continue
        below = np.searchsorted(known, medians.to_numpy(), side="left")
        upto = np.searchsorted(known, medians.to_numpy(), side="right")
        out[col] = pd.Series((below + upto) / 2 / len(known), index=medians.index)
    profiles = pd.DataFrame(out)
    return profiles[profiles.index >= 0].fillna(0.5)


def match_segments(
    old: pd.DataFrame,
    new: pd.DataFrame,
    old_groups: Mapping[int, str] | None = None,
    new_groups: Mapping[int, str] | None = None,
) -> tuple[dict[int, int], pd.DataFrame]:
    """Match old segments to new ones one-to-one, by the least total profile distance, and
    keep the pairs that are the same kind of customer.

    A pair is a counterpart only when both segments have the same :data:`ACTIVITY` and their
    distance is at most :data:`MATCH_FAIR`. The Hungarian assignment runs on the distances
    plus a penalty larger than any sum of distances for every other pair, so it keeps as many
    counterparts as there can be, and among those ways the least total distance.

    Parameters
    ----------
    old, new : DataFrame
        :func:`segment_profiles` of each run (segments as index, the same columns).
    old_groups, new_groups : mapping, optional
        Segment -> group (``"valuable"``, ``"at risk"``, ``"lost"``, ``"other"``); without
        them only the distance decides.

    Returns
    -------
    dict, DataFrame
        Old segment -> its new counterpart (segments left over when the runs have different
        numbers of segments, or whose nearest free segment is another kind or poor, have
        none), and the distance matrix (root mean square over the features, 0 = identical
        profiles, 1 = opposite ends of every feature).

    Examples
    --------
    >>> old = pd.DataFrame({"x": [0.9, 0.1]}, index=[0, 1])
    >>> new = pd.DataFrame({"x": [0.2, 0.8]}, index=[0, 1])
    >>> match_segments(old, new)[0]
    {0: 1, 1: 0}
    >>> match_segments(old, new, {0: "valuable", 1: "at risk"}, {0: "other", 1: "valuable"})[0]
    {0: 1}
    """
    from scipy.optimize import linear_sum_assignment

    a, b = old.to_numpy(dtype=float), new.to_numpy(dtype=float)
    distance = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).mean(axis=2))
    barred = distance > MATCH_FAIR
    if old_groups is not None and new_groups is not None:
        old_kind = np.array([_activity(old_groups, s) for s in old.index], dtype=object)
        new_kind = np.array([_activity(new_groups, s) for s in new.index], dtype=object)
        barred |= old_kind[:, None] != new_kind[None, :]
    penalty = 1.0 + min(distance.shape)  # more than any sum of distances (each at most 1)
    rows, cols = linear_sum_assignment(distance + penalty * barred)
    pairs = {
        int(old.index[r]): int(new.index[c])
        for r, c in zip(rows, cols, strict=True)
        if not barred[r, c]
    }
    return pairs, pd.DataFrame(distance, index=old.index, columns=new.index)


def _activity(groups: Mapping[int, str], segment: Any) -> str:
    """The :data:`ACTIVITY` of a segment's group (active when its group is unknown)."""
    return ACTIVITY.get(groups.get(int(segment), OTHER), "active")


def match_quality(distance: float) -> str:
    """``"close"``, ``"fair"`` or ``"poor"`` (see :data:`MATCH_CLOSE`, :data:`MATCH_FAIR`).

    Examples
    --------
    >>> match_quality(0.05), match_quality(0.15), match_quality(0.4)
    ('close', 'fair', 'poor')
    """
    if distance <= MATCH_CLOSE:
        return "close"
    return "fair" if distance <= MATCH_FAIR else "poor"


def _same_model(old: Run, new: Run) -> tuple[bool, str]:
    """Whether both sides number their segments alike, and why we think so."""
    if old.model_id is not None and new.model_id is not None:
        if old.model_id == new.model_id:
            return True, "both folders hold the same model.skops (same sha256)"
        return False, "the two folders hold different models (their model.skops differ)"
    if old.predictions or new.predictions:
        same = all(old.names.get(s) == n for s, n in new.names.items()) or all(
            new.names.get(s) == n for s, n in old.names.items()
        )
        if same:
            return True, "the predictions use the other side's segment numbers and names"
        return False, "the two sides number or name their segments differently"
    return False, "the folders hold no model.skops to compare"


# ----------------------------------------------------------------------------- compare


def label(segment: Any, name: Any) -> str:
    """A segment's label in tables: ``"0 · Champions"``; ``new`` and ``gone`` as they are.

    Examples
    --------
    >>> label(0, "Champions"), label(None, "gone")
    ('0 · Champions', 'gone')
    """
    if segment is None or segment is pd.NA or segment != segment:
        return str(name)
    return f"{int(segment)} · {name}"


def compare_runs(old: str | Path | Run, new: str | Path | Run, *, match: str = "auto") -> Migration:
    """Compare two segmentations of (partly) the same customers.

    Parameters
    ----------
    old, new : str, Path or Run
        Output folders of ``custseg segment`` or CSVs of ``custseg predict`` (or
        :func:`read_run` of them). ``old`` is the earlier one.
    match : {"auto", "numbers", "profiles"}
        How a segment's counterpart is found: ``numbers`` (the same number: the same model),
        ``profiles`` (Hungarian assignment on the profile distances of the shared features),
        ``auto`` (numbers when both sides used the same model, else profiles).

    Returns
    -------
    Migration

    Raises
    ------
    InputError
        A side is missing or not a custseg output, the two hold different kinds of data
        (invoice lines and a customer table), they have no customer in common, or their
        segments must be matched by profile and they share no numeric feature.

    Examples
    --------
    >>> m = compare_runs("out-2011-09/", "out-2011-12/")  # doctest: +SKIP
    >>> m.summary["moved"], len(m.movers)  # doctest: +SKIP
    (1234, 56)
    """
    if match not in ("auto", "numbers", "profiles"):
        raise InputError(f"--match '{match}' is not known; use auto, numbers or profiles.")
    old_run = old if isinstance(old, Run) else read_run(old)
    new_run = new if isinstance(new, Run) else read_run(new)
    if old_run.kind != new_run.kind:
        raise InputError(
            f"'{old_run.path}' segments {_kind_text(old_run.kind)} but '{new_run.path}' "
            f"segments {_kind_text(new_run.kind)}: compare two runs on the same kind of data "
            "(run 'custseg segment' with the same --kind on both)."
        )
    a = old_run.customers.set_index("customer_id")
    b = new_run.customers.set_index("customer_id")
    common = a.index.intersection(b.index, sort=False)
    if len(common) == 0:
        raise InputError(
            f"'{old_run.path}' and '{new_run.path}' have no customer in common "
            f"(e.g. '{a.index[0]}' and '{b.index[0]}'): compare two runs on the same "
            "customers, with the same customer id column (--customer-col)."
        )

    same, same_reason = _same_model(old_run, new_run)
    method = ("numbers" if same else "profiles") if match == "auto" else match
    shared = [c for c in old_run.features if c in new_run.features]
    old_profiles = segment_profiles(old_run, shared) if shared else None
    new_profiles = segment_profiles(new_run, shared) if shared else None
    distance: pd.DataFrame | None = None
    pairs_by_profile: dict[int, int] = {}
    if (
        old_profiles is not None
        and new_profiles is not None
        and len(old_profiles)
        and len(new_profiles)
    ):
        pairs_by_profile, distance = match_segments(
            old_profiles, new_profiles, old_run.groups, new_run.groups
        )
    if method == "profiles":
        if distance is None:
            raise InputError(
                f"'{old_run.path}' and '{new_run.path}' share no numeric feature to match "
                "their segments by; pass --match numbers if they use the same segment numbers."
            )
        counterpart = pairs_by_profile
    else:
        counterpart = {s: s for s in old_run.names if s in new_run.names and s >= 0}

    customers = _customer_table(a, b, counterpart)
    matrix = _matrix(customers, old_run, new_run)
    counts = _counts(matrix, old_run, new_run, counterpart)
    pairs = _pairs(customers, old_run, new_run, counterpart, distance, method)
    valuable = [s for s, g in old_run.groups.items() if g == VALUABLE]
    slipping = [s for s, g in new_run.groups.items() if g in (AT_RISK, LOST)]
    movers = customers[
        customers["old_segment"].isin(valuable) & customers["new_segment"].isin(slipping)
    ].sort_values(["old_value", "customer_id"], ascending=[False, True], kind="stable")
    movers = movers.drop(columns=["status"]).reset_index(drop=True)
    segments = pd.concat(
        [_segment_rows("old", old_run, customers), _segment_rows("new", new_run, customers)],
        ignore_index=True,
    )
    summary = _summary(
        old_run, new_run, customers, movers, pairs, method, same, same_reason, shared, match
    )
    return Migration(
        customers=customers,
        matrix=matrix,
        counts=counts,
        pairs=pairs,
        movers=movers,
        summary=summary,
        segments=segments,
    )


def _kind_text(kind: str) -> str:
    return "invoice lines" if kind == "transactions" else "a customer table"


def _customer_table(a: pd.DataFrame, b: pd.DataFrame, counterpart: dict[int, int]) -> pd.DataFrame:
    old = a[["segment", "segment_name", "value"]].add_prefix("old_")
    new = b[["segment", "segment_name", "value"]].add_prefix("new_")
    joined = old.join(new, how="outer", sort=False)
    # Old customers first in the old file's order, then the new-only ones in theirs.
    order = list(a.index) + [c for c in b.index if c not in a.index]
    joined = joined.loc[order]
    joined.index.name = "customer_id"
    in_old = joined["old_segment"].notna().to_numpy()
    in_new = joined["new_segment"].notna().to_numpy()
    expected = joined["old_segment"].map(counterpart)
    stayed = (expected == joined["new_segment"]).to_numpy() & in_old & in_new
    joined["status"] = np.select([~in_old, ~in_new, stayed], [NEW, GONE, "stayed"], default="moved")
    joined["old_segment_name"] = joined["old_segment_name"].fillna(NEW)
    joined["new_segment_name"] = joined["new_segment_name"].fillna(GONE)
    for col in ("old_segment", "new_segment"):
        joined[col] = joined[col].astype("Int64")
    columns = [
        "old_segment",
        "old_segment_name",
        "new_segment",
        "new_segment_name",
        "status",
        "old_value",
        "new_value",
    ]
    return joined[columns].reset_index()


def _matrix(customers: pd.DataFrame, old: Run, new: Run) -> pd.DataFrame:
    keys = ["old_segment", "old_segment_name", "new_segment", "new_segment_name"]
    grouped = customers.groupby(keys, dropna=False, sort=False).agg(
        customers=("customer_id", "size"),
        old_value=("old_value", lambda v: v.sum(min_count=1)),
        new_value=("new_value", lambda v: v.sum(min_count=1)),
    )
    matrix = grouped.reset_index()
    matrix[["old_value", "new_value"]] = matrix[["old_value", "new_value"]].round(2)  # money
    matrix["_o"] = matrix["old_segment"].fillna(10**9)
    matrix["_n"] = matrix["new_segment"].fillna(10**9)
    matrix = matrix.sort_values(["_o", "_n"], kind="stable").drop(columns=["_o", "_n"])
    size = customers.groupby("old_segment", dropna=False)["customer_id"].size()
    matrix.insert(
        5,
        "share_of_old",
        [
            round(n / size[s], 4) if s is not pd.NA else np.nan
            for s, n in zip(matrix["old_segment"], matrix["customers"], strict=True)
        ],
    )
    return matrix.reset_index(drop=True)


def _counts(matrix: pd.DataFrame, old: Run, new: Run, counterpart: dict[int, int]) -> pd.DataFrame:
    rows = [label(s, n) for s, n in old.names.items()] + [NEW]
    matched = [counterpart[s] for s in old.names if s in counterpart]
    order = matched + [s for s in new.names if s not in matched]
    columns = [label(s, new.names[s]) for s in order] + [GONE]
    counts = pd.DataFrame(0, index=pd.Index(rows, name="old \\ new"), columns=columns)
    for r in matrix.to_dict("records"):
        row = label(r["old_segment"], r["old_segment_name"])  # "new" when missing
        col = label(r["new_segment"], r["new_segment_name"])  # "gone" when missing
        counts.at[row, col] = int(r["customers"])
    counts.loc[NEW, GONE] = 0
    return counts


def _pairs(
    customers: pd.DataFrame,
    old: Run,
    new: Run,
    counterpart: dict[int, int],
    distance: pd.DataFrame | None,
    method: str,
) -> pd.DataFrame:
    by_profile = None if method == "numbers" else distance
    both = customers[(customers["status"] == "stayed") | (customers["status"] == "moved")]
    rows = []
    for seg, name in old.names.items():
        mine = both[both["old_segment"] == seg]
        match = counterpart.get(seg)
        d = (
            float(cast(float, distance.at[seg, match]))
            if distance is not None
            and match is not None
            and seg in distance.index
            and match in distance.columns
            else np.nan
        )
        rows.append(
            {
                "old_segment": seg,
                "old_segment_name": name,
                "old_group": old.groups[seg],
                "new_segment": match,
                "new_segment_name": new.names.get(match, "") if match is not None else "",
                "new_group": new.groups.get(match, "") if match is not None else "",
                "distance": round(d, 4) if d == d else np.nan,
                "match": match_quality(d) if d == d else "",
                "customers_in_both": len(mine),
                "stayed_share": round(float((mine["status"] == "stayed").mean()), 4)
                if len(mine)
                else np.nan,
                "no_counterpart": ""
                if match is not None
                else _why_alone(seg, old, new, by_profile),
            }
        )
    pairs = pd.DataFrame(rows)
    pairs["new_segment"] = pairs["new_segment"].astype("Int64")
    return pairs


def _why_alone(seg: int, old: Run, new: Run, distance: pd.DataFrame | None) -> str:
    """Why old segment ``seg`` has no counterpart, in a few words for the pairs table."""
    if seg < 0:
        return "noise has no counterpart"
    if distance is None or seg not in distance.index or not len(distance.columns):
        return f"the new run has no segment {seg}"
    row = distance.loc[seg].to_numpy(dtype=float)
    nearest = int(distance.columns[int(np.argmin(row))])
    d = float(row.min())
    near = f"nearest profile {label(nearest, new.names.get(nearest, ''))} ({d:.3f})"
    old_kind, new_kind = _activity(old.groups, seg), _activity(new.groups, nearest)
    if old_kind != new_kind:
        return f"{near} is {new_kind}, this segment {old_kind}: not the same kind"
    if d > MATCH_FAIR:
        return f"{near} is poor: no new segment is this kind of customer"
    return f"{near} is the counterpart of another old segment"


def _segment_rows(side: str, run: Run, customers: pd.DataFrame) -> pd.DataFrame:
    frame = run.customers
    rows = []
    for seg, name in run.names.items():
        inside = frame["segment"] == seg
        rows.append(
            {
                "run": side,
                "segment": seg,
                "segment_name": name,
                "group": run.groups[seg],
                "customers": int(inside.sum()),
                "value": float(frame.loc[inside, "value"].sum(min_count=1)),
            }
        )
    return pd.DataFrame(rows)


def _summary(
    old: Run,
    new: Run,
    customers: pd.DataFrame,
    movers: pd.DataFrame,
    pairs: pd.DataFrame,
    method: str,
    same: bool,
    same_reason: str,
    shared: list[str],
    match: str,
) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score

    status = customers["status"].value_counts()
    both = customers[customers["status"].isin(["stayed", "moved"])]
    n_both = len(both)
    ari = float(adjusted_rand_score(both["old_segment"].to_numpy(), both["new_segment"].to_numpy()))
    matched = pairs.dropna(subset=["distance"])
    mean_distance = (
        float(np.average(matched["distance"], weights=matched["customers_in_both"].clip(lower=1)))
        if len(matched)
        else None
    )
    stayed = int(status.get("stayed", 0))
    return {
        "old": str(old.path),
        "new": str(new.path),
        "kind": old.kind,
        "value_label": old.value_label or new.value_label,
        "currency": old.currency or new.currency,
        "same_model": same,
        "same_model_reason": same_reason,
        "matching": method,
        "matching_requested": match,
        "matching_features": shared,
        "mean_match_distance": None if mean_distance is None else round(mean_distance, 4),
        "without_counterpart": [
            int(x) for x in pairs.loc[pairs["new_segment"].isna(), "old_segment"] if x >= 0
        ],
        "match_quality": None if mean_distance is None else match_quality(mean_distance),
        "adjusted_rand_index": round(ari, 4),
        "customers_old": int(old.customers.shape[0]),
        "customers_new": int(new.customers.shape[0]),
        "customers_in_both": n_both,
        "stayed": stayed,
        "moved": int(status.get("moved", 0)),
        "new_customers": int(status.get(NEW, 0)),
        "gone_customers": int(status.get(GONE, 0)),
        "stayed_share": round(stayed / n_both, 4) if n_both else None,
        "movers": len(movers),
        "movers_old_value": round(float(movers["old_value"].sum()), 2),
        "movers_new_value": round(float(movers["new_value"].sum()), 2),
        "valuable_old_segments": [s for s, g in old.groups.items() if g == VALUABLE],
        "at_risk_or_lost_new_segments": [s for s, g in new.groups.items() if g in (AT_RISK, LOST)],
        "old_model": old.model_id,
        "new_model": new.model_id,
    }


def summary_lines(migration: Migration) -> list[str]:
    """The comparison in a few sentences (the command line prints them, the page shows them).

    Examples
    --------
    >>> summary_lines(compare_runs("old/", "new/"))[0]  # doctest: +SKIP
    '3,314 customers in both runs: 2,001 (60.4%) stayed in their segment, 1,313 moved; ...'
    """
    s = migration.summary
    lines = [
        f"{s['customers_in_both']:,} customers in both runs: {s['stayed']:,} "
        f"({(s['stayed_share'] or 0):.1%}) stayed in their segment (or its counterpart), "
        f"{s['moved']:,} moved; {s['new_customers']:,} new customers, "
        f"{s['gone_customers']:,} gone.",
    ]
    if s["matching"] == "numbers":
        lines.append(
            f"Segments compared by number: {s['same_model_reason']}"
            + ("." if s["same_model"] else " (--match numbers).")
        )
    else:
        how = (
            "no old segment has a counterpart"
            if s["mean_match_distance"] is None
            else f"mean distance {s['mean_match_distance']:.3f} ({s['match_quality']}; "
            f"0 = identical profiles, close up to {MATCH_CLOSE}, fair up to {MATCH_FAIR})"
        )
        lines.append(
            f"Segments matched by profile, as {s['same_model_reason']}: {how} on "
            f"{len(s['matching_features'])} shared features."
        )
        alone = len(s["without_counterpart"])
        segments = len(migration.pairs[migration.pairs["old_segment"] >= 0])
        if alone:
            lines.append(
                f"{alone} of the {segments} old segments {'has' if alone == 1 else 'have'} no "
                "counterpart (no free new segment is the same kind of customer within a fair "
                "profile distance; the reasons are below): their customers count as moved."
            )
        for r in migration.pairs.itertuples():
            if r.new_segment is pd.NA:
                lines.append(
                    f"  {label(r.old_segment, r.old_segment_name)} -> no counterpart "
                    f"({r.no_counterpart})"
                )
            else:
                lines.append(
                    f"  {label(r.old_segment, r.old_segment_name)} -> "
                    f"{label(r.new_segment, r.new_segment_name)} (distance {r.distance:.3f}, "
                    f"{r.match})"
                )
    lines.append(
        f"Agreement of the two segmentations on the customers in both: adjusted Rand index "
        f"{s['adjusted_rand_index']:.2f} (1 = the same grouping, 0 = chance)."
    )
    value = s["value_label"]
    money = f"{s.get('currency') or ''}{s['movers_old_value']:,.0f}".strip()
    worth = f", {money} of {value} in the old run" if value else ""
    lines.append(
        f"{s['movers']:,} customer{'' if s['movers'] == 1 else 's'} moved from a valuable "
        "segment to an at-risk or lost "
        f"one{worth}."
    )
    return lines
