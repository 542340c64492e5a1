"""The first layer of the report: an executive summary a manager reads in two minutes, and
two segments side by side.

Everything here speaks in readable labels and units (:mod:`custseg.labels`): no column names,
no metric values. The method, the candidates and the metrics are in the report's appendix.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import pandas as pd

from custseg.labels import (
    distinct_labels,
    feature_direction,
    feature_label,
    format_feature,
)
from custseg.report.plots import segment_color

#: How clear the segments are, in plain words, by the kind of structure the choice measured
#: (:func:`custseg.models.select` ``structure["kind"]``).
CLARITY = {
    "separated": (
        "clear",
        "The segments are clearly separated: each is a distinct group of customers, so its "
        "profile and action fit nearly all of its members.",
    ),
    "partial": (
        "partial",
        "The segments are partly separated: some are distinct groups, others shade into each "
        "other. Treat the boundaries between neighbouring segments as soft.",
    ),
    "continuum": (
        "soft",
        "The segments overlap: the customers form one continuous range rather than separate "
        "groups, and the segments are useful cuts of it for targeting. Treat the boundaries "
        "as soft: a customer near one could as well be in the next segment.",
    ),
}

#: Most defining traits shown on a segment's card.
CARD_TRAITS = 3


def presentation(metrics: dict[str, Any]) -> dict[str, Any]:
    """The labels and currency of a result (empty for results saved before they existed)."""
    pres = metrics.get("presentation") or {}
    return {
        "labels": dict(pres.get("labels") or {}),
        "currency": str(pres.get("currency") or ""),
        "currency_source": pres.get("currency_source"),
    }


def value_label(metrics: dict[str, Any]) -> str | None:
    """What the value measure is called ("revenue", "spend"), or None without one."""
    value = metrics.get("value")
    if isinstance(value, dict):
        return str(value.get("label") or "value")
    if metrics.get("kind") == "transactions":
        return "revenue"
    return None


def clarity(metrics: dict[str, Any]) -> dict[str, str]:
    """How clear the segments are, as a short tag and a plain sentence."""
    kind = str((metrics.get("structure") or {}).get("kind") or "")
    if kind not in CLARITY:
        stability = metrics.get("stability")
        if isinstance(stability, (int, float)) and stability >= 0.8:
            return {"kind": "partial", "text": CLARITY["partial"][1]}
        return {"kind": "soft", "text": CLARITY["continuum"][1]}
    tag, text = CLARITY[kind]
    misfit = [
        str(entry.get("segment_name"))
        for entry in metrics.get("segments") or []
        if isinstance(entry, dict) and entry.get("misfits")
    ]
    if misfit and kind == "separated":
        # The segments are apart, yet a minority inside one contradicts its name.
        text = (
            "The segments are clearly separated: each is a distinct group of customers. But "
            f"{' and '.join(misfit)} {'holds' if len(misfit) == 1 else 'hold'} a minority "
            "its name does not fit (see the card)."
        )
    return {"kind": tag, "text": text}


def flag_columns(frame: pd.DataFrame, columns: list[str]) -> set[str]:
    """The yes/no columns among ``columns``: numeric, every value present 0 or 1.

    Examples
    --------
    >>> sorted(flag_columns(pd.DataFrame({"a": [0, 1, None], "b": [0, 2, 1]}), ["a", "b"]))
    ['a']
    """
    flags = set()
    for col in columns:
        if col not in frame or not pd.api.types.is_numeric_dtype(frame[col]):
            continue
        values = frame[col].to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(values)
        if present.any() and bool(np.all((values == 0) | (values == 1) | ~present)):
            flags.add(col)
    return flags


def trait_text(
    item: dict[str, Any],
    pres: dict[str, Any],
    *,
    flag_shares: tuple[float, float] | None = None,
) -> str:
    """One defining trait in words: "Orders: 8 (all customers: 2)".

    ``flag_shares`` (segment, everyone) replaces the medians of a yes/no column by the share
    of customers with "yes", which says more than a median of 0 or 1.

    Examples
    --------
    >>> trait_text({"feature": "revenue", "kind": "numeric", "effect": 1.5,
    ...             "segment_median": 2950.9, "overall_median": 646.8},
    ...            {"labels": {}, "currency": "£"})
    'Revenue: £2,951 (all customers: £647)'
    """
    label = feature_label(item["feature"], pres["labels"])
    if item.get("kind") != "numeric":
        return (
            f"{label}: {item['segment_share']:.0%} {item['level']} "
            f"(all customers: {item['overall_share']:.0%})"
        )
    if flag_shares is not None:
        seg, everyone = flag_shares
        return f"{label}: {seg:.0%} of them (all customers: {everyone:.0%})"
    seg_text = format_feature(item["feature"], item.get("segment_median"), pres["currency"])
    all_text = format_feature(item["feature"], item.get("overall_median"), pres["currency"])
    return f"{label}: {seg_text} (all customers: {all_text})"


def rule_text(
    conditions: list[dict[str, Any]], pres: dict[str, Any], flags: AbstractSet[str] = frozenset()
) -> str:
    """A membership rule in labels and units: ``Orders ≥ 5 and Days since last purchase ≤
    69``; a yes/no column (in ``flags``) reads "yes" or "no".

    Examples
    --------
    >>> rule_text([{"feature": "revenue", "op": ">=", "value": 380},
    ...            {"feature": "AcceptedCmp5", "op": "==", "value": 0}],
    ...           {"labels": {}, "currency": "£"}, flags={"AcceptedCmp5"})
    'Revenue ≥ £380 and Accepted campaign 5: no'
    >>> rule_text([{"feature": "Kidhome", "op": "==", "value": 1}], {"labels": {}, "currency": ""})
    'Kids at home = 1'
    """
    parts = []
    for cond in conditions:
        feature, op, value = str(cond["feature"]), cond["op"], cond["value"]
        label = feature_label(feature, pres["labels"])

        def fmt(v: Any, feature: str = feature) -> str:
            return format_feature(feature, v, pres["currency"])

        if op == "==" and feature in flags and not isinstance(value, str) and value in (0, 1):
            parts.append(f"{label}: {'yes' if value == 1 else 'no'}")
        elif op == "between":
            lo, hi = value
            parts.append(f"{fmt(lo)} ≤ {label} ≤ {fmt(hi)}")
        else:
            symbol = {">=": "≥", "<=": "≤", "==": "=", "!=": "≠"}.get(op, op)
            parts.append(f"{label} {symbol} {fmt(value)}")
    return " and ".join(parts)


def _traits(
    info: dict[str, Any],
    customers: pd.DataFrame,
    labels: np.ndarray,
    pres: dict[str, Any],
    flags: set[str],
) -> list[dict[str, Any]]:
    seg = int(info["segment"])
    member = labels == seg
    out: list[dict[str, Any]] = []
    for item in info.get("distinguishing") or []:
        if len(out) == CARD_TRAITS:
            break
        feature = str(item["feature"])
        if not math.isfinite(float(item.get("effect") or 0.0)):
            continue  # a feature missing for the whole segment says nothing about it
        if (
            item.get("kind") == "numeric"
            and feature not in flags
            and format_feature(feature, item.get("segment_median"), pres["currency"])
            == format_feature(feature, item.get("overall_median"), pres["currency"])
        ):
            # "25 (all customers: 25)": the segment differs in the mean, not in the
            # typical customer, and the card would show no difference.
            continue
        shares = None
        if feature in flags:
            column = pd.to_numeric(customers[feature], errors="coerce").to_numpy(dtype=float)
            shares = (float(np.nanmean(column[member])), float(np.nanmean(column)))
        effect = float(item.get("effect") or 0.0)
        direction = feature_direction(feature) if item.get("kind") == "numeric" else 0
        out.append(
            {
                "text": trait_text(item, pres, flag_shares=shares),
                # +1 when this trait is good news for the business, -1 when bad, 0 neither
                "tone": int(np.sign(effect) * direction),
            }
        )
    return out


def executive_summary(result: Any, segments: dict[str, Any]) -> dict[str, Any]:
    """The executive summary: a lead, how clear the segments are, one card per segment and
    the rows of the share-of-customers vs share-of-value chart."""
    metrics = result.metrics
    pres = presentation(metrics)
    value = value_label(metrics)
    has_value = bool(segments.get("has_revenue")) and value is not None
    naming = {int(d["segment"]): d for d in metrics.get("segments") or []}
    profiles = result.profiles.set_index(result.profiles["segment"].astype(int))
    customers: pd.DataFrame = result.segments
    labels = customers["segment"].to_numpy(dtype=int)
    flags = set(segments["flag_columns"])
    cards = []
    chart_rows = []
    for row in segments["rows"]:
        seg = int(row["segment"])
        info = naming.get(seg, {"segment": seg})
        share = float(profiles.at[seg, "share"]) if seg in profiles.index else math.nan
        value_share = (
            float(profiles.at[seg, "revenue_share"])
            if has_value and seg in profiles.index and "revenue_share" in profiles
            else None
        )
        cards.append(
            {
                "segment": seg,
                "name": row["name"],
                "color": row["color"],
                "noise": row["noise"],
                "customers": row["customers"],
                "share": row["share"],
                "value_share": row.get("revenue_share") if has_value else "",
                "traits": _traits({**info, "segment": seg}, customers, labels, pres, flags),
                "action": row["action"],
                "misfit": _misfit_line(info.get("misfits")),
            }
        )
        chart_rows.append(
            {
                "segment": seg,
                "name": row["name"],
                "customer_share": None if math.isnan(share) else share,
                "value_share": value_share,
            }
        )
    n = int(metrics.get("n_customers") or len(customers))
    k = segments["n_segments"]
    source = metrics.get("source") or {}
    origin = "the table" if source.get("format") == "dataframe" else source.get("name")
    lead = [f"{n:,} customers from {origin or 'the data'} fall into {k} segments."]
    if has_value:
        # The segment worth most per customer (of those big enough to act on) says where
        # the value sits in one sentence.
        worth = [
            c
            for c in chart_rows
            if c["segment"] >= 0 and c["value_share"] is not None and c["customer_share"]
        ]
        big = [c for c in worth if (c["customer_share"] or 0) >= 0.02] or worth
        top = max(big, key=lambda c: (c["value_share"] or 0) / c["customer_share"], default=None)
        if top is not None:
            lead.append(
                f"{top['name']} bring {top['value_share']:.0%} of the {value} with "
                f"{top['customer_share']:.0%} of the customers."
            )
    noise = next((c for c in cards if c["noise"]), None)
    if noise is not None:
        lead.append(
            f"{noise['customers']} customers ({noise['share']}) fit no segment; they are "
            f"shown as {noise['name']}."
        )
    currency_note = ""
    if value is not None and not pres["currency"] and pres["currency_source"] != "option":
        currency_note = (
            "Amounts are in the data's own currency (none was found in the data; "
            "--currency sets one)."
        )
    composition = ""
    measure = metrics.get("value")
    if has_value and isinstance(measure, dict) and measure.get("source") != "revenue":
        parts = distinct_labels(measure.get("columns") or [], pres["labels"])
        composition = (
            f"{(value or 'value').capitalize()} is each customer's "
            + (f"sum of {', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else parts[0])
            + (
                " (found in the data; --value-col names another)."
                if measure.get("source") == "detected"
                else "."
            )
        )
    return {
        "lead": lead,
        "value_composition": composition,
        "clarity": clarity(metrics),
        "cards": cards,
        "chart_rows": chart_rows,
        "value_label": value,
        "has_value": has_value,
        "currency_note": currency_note,
    }


def _centres(result: Any, segs: list[int]) -> np.ndarray:
    X = np.asarray(result.model_inputs, dtype=float)
    labels = np.asarray(result.labels, dtype=int)
    return np.vstack([X[labels == s].mean(axis=0) for s in segs])


def closest_pair(result: Any) -> tuple[int, int] | None:
    """The two segments whose centres are closest in the model's space: the pair a reader
    is most likely to confuse, compared side by side by default."""
    labels = np.asarray(result.labels, dtype=int)
    segs = sorted(int(s) for s in np.unique(labels) if s >= 0)
    if len(segs) < 2:
        return None
    centres = _centres(result, segs)
    best: tuple[float, int, int] | None = None
    for i in range(len(segs)):
        for j in range(i + 1, len(segs)):
            d = float(np.linalg.norm(centres[i] - centres[j]))
            if best is None or d < best[0]:
                best = (d, segs[i], segs[j])
    assert best is not None
    return best[1], best[2]


def _segment_stats(result: Any, segs: list[int], flags: set[str]) -> list[dict[str, Any]]:
    """Per feature: its label, unit, direction and each segment's typical value (median;
    share of "yes" for a yes/no column; most common value for a category)."""
    metrics = result.metrics
    pres = presentation(metrics)
    customers: pd.DataFrame = result.segments
    labels = customers["segment"].astype(int)
    pre = metrics.get("preprocessing") or {}
    numeric = [c for c in pre.get("numeric") or [] if c in customers]
    categorical = [c for c in pre.get("categorical") or [] if c in customers]
    names = dict(
        zip(
            numeric + categorical,
            distinct_labels(numeric + categorical, pres["labels"]),
            strict=True,
        )
    )
    stats = []
    for col in numeric:
        values = pd.to_numeric(customers[col], errors="coerce")
        groups = values.groupby(labels)
        flag = col in flags
        typical = groups.mean() if flag else groups.median()
        if flag:
            p = float(values.mean())
            spread = math.sqrt(max(p * (1 - p), 1e-9))
        else:
            spread = float(values.std(ddof=0)) or 1.0
        stats.append(
            {
                "label": names[col],
                "direction": feature_direction(col),
                "spread": spread if math.isfinite(spread) and spread > 0 else 1.0,
                "values": {s: float(typical.get(s, math.nan)) for s in segs},
                "texts": {
                    s: (
                        f"{typical.get(s, math.nan):.0%}"
                        if flag
                        else format_feature(col, typical.get(s), pres["currency"])
                    )
                    for s in segs
                },
            }
        )
    for col in categorical:
        modes = (
            customers[col]
            .groupby(labels)
            .agg(lambda v: str(v.mode().iloc[0]) if v.notna().any() else "–")
        )
        stats.append(
            {
                "label": names[col],
                "direction": 0,
                "spread": None,
                "values": {},
                "texts": {s: str(modes.get(s, "–")) for s in segs},
            }
        )
    return stats


def compare_rows(stats: list[dict[str, Any]], a: int, b: int) -> list[dict[str, Any]]:
    """Every feature of segments ``a`` and ``b`` side by side, ordered by how much the two
    differ (difference of their typical values in standard deviations of all customers;
    a category by whether its most common value differs), with which side is better where
    the feature has a direction ("a", "b" or "")."""
    rows = []
    for st in stats:
        ta, tb = st["texts"][a], st["texts"][b]
        if st["spread"] is None:
            gap = 0.0 if ta == tb else 0.5
        else:
            gap = (st["values"][a] - st["values"][b]) / st["spread"]
            gap = gap if math.isfinite(gap) else 0.0
        better = ""
        if st["direction"] and abs(gap) >= 0.2:
            better = "a" if gap * st["direction"] > 0 else "b"
        rows.append(
            {"label": st["label"], "a": ta, "b": tb, "gap": round(abs(gap), 2), "better": better}
        )
    rows.sort(key=lambda r: -r["gap"])
    return rows


def compare_section(result: Any, segments: dict[str, Any]) -> dict[str, Any] | None:
    """The report's side-by-side comparison: the two closest segments in a static table
    (what print shows), and the data for the page's own picker of any two segments."""
    pair = closest_pair(result)
    if pair is None:
        return None
    names = {int(r["segment"]): r["name"] for r in segments["rows"]}
    by_segment = {int(r["segment"]): r for r in segments["rows"]}
    segs = sorted(s for s in names if s >= 0)
    a, b = pair
    stats = _segment_stats(result, segs, set(segments["flag_columns"]))
    table = {f"{i}-{j}": compare_rows(stats, i, j) for i in segs for j in segs if i < j}
    return {
        "a": a,
        "b": b,
        "segments": [
            {
                "segment": s,
                "name": names[s],
                "color": segment_color(s),
                "customers": by_segment[s]["customers"],
                "share": by_segment[s]["share"],
                "value_share": by_segment[s].get("revenue_share") or "",
                "action": by_segment[s]["action"],
            }
            for s in segs
        ],
        "rows": table[f"{a}-{b}"],
        "pairs": table,
    }


def _misfit_line(misfits: dict[str, Any] | None) -> str:
    """The card's line for customers the segment's name does not fit (naming's ``misfits``).

    Examples
    --------
    >>> _misfit_line({"kind": "stopped", "customers": 40, "share": 0.4, "days": 39,
    ...               "median_days": 342})
    'But 40 of its customers (40%) have not bought for 39 days or more (4 typical gaps; median 342 days): the action does not fit them.'
    """
    from custseg.profile.naming import misfit_facts

    return f"But {misfit_facts(misfits)}: the action does not fit them." if misfits else ""
