"""Everything the report shows, computed into a plain dict (strings, numbers, lists, dicts).

The template only lays this dict out; it computes nothing. Numbers meant for reading are
formatted here (``"1,555"``, ``"35.9%"``); the inputs of the figures stay numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from custseg.export import jsonable
from custseg.labels import (
    distinct_labels,
    feature_unit,
    format_feature,
    format_value,
    plain_number,
)
from custseg.models.families import families, family_names, find_family, is_density
from custseg.report.details import (
    effect_items,
    naming_rules,
    profile_heatmap,
    rfm_grid,
    silhouette_data,
    typical_values,
)
from custseg.report.eda import exploration_data
from custseg.report.executive import (
    CLARITY,
    compare_section,
    executive_summary,
    flag_columns,
    presentation,
    rule_text,
    value_label,
)
from custseg.report.executive import clarity as segment_clarity
from custseg.report.plots import (
    DENDROGRAM_LEAVES,
    MAP_MAX_POINTS,
    sample_indices,
    segment_color,
)

SECTION_TITLES = {
    "summary": "Executive summary",
    "profiles": "Segment profiles and actions",
    "compare": "Two segments side by side",
    "new_customers": "Next year and new customers",
    "limitations": "What to keep in mind",
    "data": "Data and cleaning",
    "eda": "Exploring the data",
    "k_selection": "How the segments were chosen",
    "map": "Maps",
    "names": "How the segments were named",
}
"""Section id -> heading, in the order the report shows them: the first layer for everyone
(numbered 1, 2, ...), then the appendix (:data:`APPENDIX`, lettered A, B, ...).
``new_customers`` is shown only for invoice lines, ``compare`` only with two segments or more
(see :data:`OPTIONAL_SECTIONS`)."""
APPENDIX = ("data", "eda", "k_selection", "map", "names")
"""Sections of the appendix: the data, the exploration, the method and its metrics."""
OPTIONAL_SECTIONS = ("new_customers", "compare")
"""Sections left out (and the others renumbered) when their data is None."""

SMALL_SEGMENT_SHARE = 0.05
"""Segments below this share of customers are named in the limitations: their medians rest on
few customers and move easily."""

MAP_RANDOM_STATE = 0
"""PCA of the segment map is fitted with this fixed random_state (the map is reproducible)."""

METRIC_EXPLANATIONS = (
    (
        "WCSS (within-cluster sum of squares, also called inertia)",
        "the total squared distance of customers to the centre of their segment. It always "
        "falls as k grows, so the useful reading is the elbow: the k after which adding "
        "segments stops paying off.",
    ),
    (
        "Silhouette",
        "how much closer each customer is to its own segment than to the nearest other "
        "segment, from -1 to 1; higher is better (above 0.5: clearly separated segments; "
        "below 0.25: little natural structure).",
    ),
    (
        "Davies-Bouldin",
        "how similar each segment is to its most similar neighbour (spread within the "
        "segments relative to the distance between their centres); lower is better, 0 is "
        "the best possible.",
    ),
    (
        "Calinski-Harabasz",
        "the spread between segment centres relative to the spread within segments; higher "
        "is better.",
    ),
    (
        "Smallest segment",
        "the share of customers in the smallest segment; a k is eligible only if every "
        "segment reaches the minimum share.",
    ),
    (
        "Mean rank",
        "the average of the k's ranks on the criteria above (1 = best on every one); lower "
        "is better.",
    ),
    (
        "Stability",
        "whether the segments come out the same on somewhat different customers: the "
        "algorithm is refitted on random subsamples and each refit is compared with the full "
        "result by the adjusted Rand index (1: the same grouping, 0: no better than chance); "
        "the table gives the median and the range of the middle half of the repeats; higher "
        "is better.",
    ),
    (
        "BIC (Bayesian information criterion, Gaussian mixture only)",
        "how well the mixture fits the customers, penalised by its number of parameters; "
        "lower is better, and the mixture takes the k with the lowest BIC.",
    ),
    (
        "Noise",
        "the share of customers a density method (DBSCAN, HDBSCAN) leaves in no segment "
        "because they sit in sparse regions; silhouette, Davies-Bouldin and Calinski-Harabasz "
        "leave them out, the comparison of algorithms counts each as a silhouette of 0.",
    ),
)
"""Each metric of the candidate table in one plain sentence: what it measures, which way is
better."""

ROLE_LABELS = {
    "customer_id": "Customer id",
    "invoice": "Invoice number",
    "date": "Date",
    "quantity": "Quantity",
    "price": "Unit price",
    "amount": "Line amount",
    "product": "Product code",
    "description": "Product description",
    "country": "Country",
}

KIND_LABELS = {
    "transactions": "invoice lines (transactions), turned into one row of features per customer",
    "customers": "a customer table (one row per customer)",
}

DELIMITER_LABELS = {
    "comma": "comma (,)",
    "tab": "tab",
    "semicolon": "semicolon (;)",
    "pipe": "pipe (|)",
}

PROFILE_BASE_COLUMNS = (
    "segment",
    "segment_name",
    "n_customers",
    "share",
    "revenue_share",
    "action",
)
MISSING = "–"


# ---------------------------------------------------------------- formatting helpers


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_count(value: Any) -> str:
    """A whole number with thousands separators.

    Examples
    --------
    >>> format_count(541909)
    '541,909'
    """
    return MISSING if _is_missing(value) else f"{int(value):,}"


def format_share(value: Any) -> str:
    """A fraction as a percentage with one decimal.

    Examples
    --------
    >>> format_share(0.358791), format_share(0.0004), format_share(0)
    ('35.9%', '<0.1%', '0.0%')
    """
    if _is_missing(value):
        return MISSING
    pct = 100 * float(value)
    if 0 < abs(pct) < 0.05:
        return "<0.1%" if pct > 0 else ">-0.1%"
    return f"{pct:.1f}%"


def format_number(value: Any, *, grouping: bool = True) -> str:
    """A typical value, rounded for reading: whole numbers stay whole, larger numbers get
    fewer decimals, small ones three significant digits.

    Examples
    --------
    >>> [format_number(v) for v in (2195.1, 360.98, 20.0, 12.345, 1.2345, 0.0024, -3.5)]
    ['2,195', '361', '20', '12.3', '1.23', '0.0024', '-3.50']
    >>> format_number(1973.0, grouping=False)
    '1973'
    """
    if _is_missing(value):
        return MISSING
    if isinstance(value, str):
        return value
    return plain_number(float(value), grouping)


def format_metric(value: Any, digits: int = 3) -> str:
    """A clustering metric with a fixed number of decimals (large values grouped).

    Examples
    --------
    >>> format_metric(0.263252), format_metric(1747.78), format_metric(float("nan"))
    ('0.263', '1,748', '–')
    """
    if _is_missing(value):
        return MISSING
    f = float(value)
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    return f"{f:.{digits}f}"


# ---------------------------------------------------------------- sections


def _source(metrics: dict[str, Any]) -> dict[str, Any]:
    source = metrics.get("source") or {}
    schema = metrics.get("schema") or {}
    kind = metrics.get("kind") or schema.get("kind") or "customers"
    if source.get("format") == "dataframe":
        name = "a DataFrame"
    else:
        name = source.get("name") or "an unnamed source"
    rows: list[dict[str, str]] = [
        {"label": "File", "value": str(name)},
        {"label": "Format", "value": str(source.get("format") or MISSING)},
    ]
    if source.get("sheet"):
        rows.append({"label": "Sheet", "value": str(source["sheet"])})
    rows.append({"label": "SHA-256", "value": str(source.get("sha256") or MISSING)})
    rows.append({"label": "Rows read", "value": format_count(source.get("n_rows"))})
    rows.append({"label": "Columns", "value": format_count(len(source.get("columns") or []))})
    if source.get("encoding"):
        rows.append({"label": "Encoding", "value": str(source["encoding"])})
    if source.get("delimiter"):
        delim = str(source["delimiter"])
        rows.append({"label": "Delimiter", "value": DELIMITER_LABELS.get(delim, delim)})
    rows.append({"label": "Kind of data", "value": KIND_LABELS.get(kind, str(kind))})
    if schema.get("kind_reason"):
        rows.append({"label": "Why this kind", "value": str(schema["kind_reason"])})
    if schema.get("date_format"):
        rows.append({"label": "Date format", "value": str(schema["date_format"])})
    if metrics.get("analysis_date"):
        rows.append({"label": "Analysis date", "value": str(metrics["analysis_date"])})
    return {
        "name": str(name),
        "kind": str(kind),
        "rows": rows,
        "notes": [str(n) for n in source.get("notes") or []],
    }


def _roles(metrics: dict[str, Any]) -> list[dict[str, str]]:
    roles = (metrics.get("schema") or {}).get("roles") or {}
    pre = metrics.get("preprocessing") or {}
    out = [
        {"role": ROLE_LABELS.get(str(role), str(role)), "column": str(column)}
        for role, column in roles.items()
    ]
    if metrics.get("kind") == "customers":
        numeric = [str(c) for c in pre.get("numeric") or []]
        categorical = [str(c) for c in pre.get("categorical") or []]
        if numeric:
            out.append({"role": "Numeric attributes", "column": ", ".join(numeric)})
        if categorical:
            out.append({"role": "Categorical attributes", "column": ", ".join(categorical)})
    for column, why in (pre.get("dropped") or {}).items():
        out.append({"role": "Left out", "column": f"{column}: {why}"})
    return out


def _cleaning(metrics: dict[str, Any]) -> dict[str, Any]:
    cleaning = metrics.get("cleaning") or {}
    rows_in = int(cleaning.get("rows_in") or 0)
    rows_kept = int(cleaning.get("rows_kept") or 0)
    dropped = list(cleaning.get("dropped") or [])
    n_dropped = sum(int(d.get("rows") or 0) for d in dropped)

    def share(n: int) -> str:
        return format_share(n / rows_in) if rows_in else MISSING

    has_revenue = any("revenue" in d for d in dropped)
    table = [
        {
            "reason": str(d.get("description") or d.get("reason")),
            "code": str(d.get("reason") or ""),
            "rows": format_count(d.get("rows")),
            "share": share(int(d.get("rows") or 0)),
            "revenue": format_number(d.get("revenue")) if has_revenue else "",
            "zero": int(d.get("rows") or 0) == 0,
        }
        for d in dropped
    ]
    balanced = rows_in == rows_kept + n_dropped
    check = (
        f"Check: {format_count(rows_in)} rows read = {format_count(rows_kept)} kept + "
        f"{format_count(n_dropped)} dropped."
        if balanced
        else f"Check failed: {format_count(rows_in)} rows read, but {format_count(rows_kept)} "
        f"kept + {format_count(n_dropped)} dropped = {format_count(rows_kept + n_dropped)} "
        f"({format_count(rows_in - rows_kept - n_dropped)} rows unaccounted for)."
    )
    facts: list[str] = []
    if metrics.get("kind") == "customers" and not dropped:
        facts.append(
            "A customer table is used as given: no rows are dropped; missing values are "
            "filled in preprocessing (see the notices below)."
        )
    if cleaning.get("revenue_in") is not None and cleaning.get("revenue_kept") is not None:
        rev_in, rev_kept = float(cleaning["revenue_in"]), float(cleaning["revenue_kept"])
        facts.append(
            f"Revenue of the kept lines: {format_number(rev_kept)} of {format_number(rev_in)} "
            f"in the file ({format_share(rev_kept / rev_in) if rev_in else MISSING})."
        )
    if cleaning.get("customers_in") is not None and cleaning.get("customers_kept") is not None:
        c_in, c_kept = int(cleaning["customers_in"]), int(cleaning["customers_kept"])
        line = f"Customers: {format_count(c_in)} in the data, {format_count(c_kept)} segmented"
        if c_in != c_kept:
            line += f" ({format_count(c_in - c_kept)} have nothing left after cleaning)"
        facts.append(line + ".")
    codes = [str(c) for c in cleaning.get("non_product_codes") or []]
    return {
        "rows_in": format_count(rows_in),
        "rows_kept": format_count(rows_kept),
        "rows_kept_share": share(rows_kept),
        "rows_dropped": format_count(n_dropped),
        "rows_dropped_share": share(n_dropped),
        "dropped": table,
        "has_revenue": has_revenue,
        "balanced": balanced,
        "check": check,
        "facts": facts,
        "non_product_codes": ", ".join(codes),
    }


def family_label(algorithm: Any) -> str:
    """The readable name of a clustering family.

    Examples
    --------
    >>> family_label("gmm"), family_label("kmeans"), family_label("other")
    ('Gaussian mixture', 'k-means', 'other')
    """
    family = find_family(str(algorithm))
    return family.label if family else str(algorithm)


def _in_sentence(algorithm: str) -> str:
    """A family's name inside a sentence ("found by the Gaussian mixture")."""
    family = find_family(algorithm)
    return family.in_sentence() if family else algorithm


def as_sentence(text: Any) -> str:
    """A note as a sentence: a capital first letter (unless it starts with a lower-case name
    such as k-means) and a full stop.

    Examples
    --------
    >>> as_sentence("silhouette computed on a sample"), as_sentence("k-prototypes left out.")
    ('Silhouette computed on a sample.', 'k-prototypes left out.')
    """
    text = str(text).strip()
    if not text:
        return text
    if not text.startswith("k-"):
        text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _format_parameters(params: Any) -> str:
    if not isinstance(params, dict):
        return ""
    return ", ".join(
        f"{key}={format_number(value) if isinstance(value, float) else value}"
        for key, value in params.items()
        if value is not None
    )


def _stability_range(row: dict[str, Any]) -> str:
    q1, q3 = row.get("stability_q1"), row.get("stability_q3")
    if _is_missing(q1) or _is_missing(q3):
        return MISSING
    return f"{format_metric(q1, 2)}–{format_metric(q3, 2)}"


def _leaderboard(metrics: dict[str, Any]) -> dict[str, Any]:
    """Every family and k that was fitted, with every criterion, formatted for reading."""
    board = list(metrics.get("leaderboard") or [])
    rows = []
    previous = None
    for r in board:
        algorithm = str(r.get("algorithm") or "")
        k = r.get("k")
        k_requested = r.get("k_requested")
        k_text = format_count(k)
        if k_requested is not None and k is not None and int(k_requested) != int(k):
            k_text += f" (of {int(k_requested)} asked)"
        excluded = r.get("excluded")
        if r.get("recommended"):
            status = "recommended"
        elif r.get("family_choice"):
            status = "this algorithm's pick"
        else:
            status = ""
        rows.append(
            {
                "algorithm": family_label(algorithm),
                "first": algorithm != previous,
                "parameters": _format_parameters(r.get("parameters"))
                if algorithm != previous
                else "",
                "k": k_text,
                "silhouette": format_metric(r.get("silhouette")),
                "davies_bouldin": format_metric(r.get("davies_bouldin")),
                "calinski_harabasz": format_metric(r.get("calinski_harabasz"), 1),
                "inertia": format_metric(r.get("inertia"), 1),
                "bic": format_metric(r.get("bic"), 1),
                "noise_share": format_share(r.get("noise_share")),
                "smallest_share": format_share(r.get("smallest_share")),
                "stability": format_metric(r.get("stability"), 2),
                "stability_range": _stability_range(r),
                "seconds": format_metric(r.get("seconds"), 2),
                "status": status,
                "excluded": str(excluded) if excluded else "",
                "recommended": bool(r.get("recommended")),
                "family_choice": bool(r.get("family_choice")),
            }
        )
        previous = algorithm
    families = list(dict.fromkeys(str(r.get("algorithm") or "") for r in board))
    repeats = [int(r["stability_repeats"]) for r in board if r.get("stability_repeats")]
    reasons = metrics.get("family_reasons") or {}
    chosen = str(metrics.get("algorithm") or "kmeans")
    return {
        "rows": rows,
        "families": [family_label(f) for f in families],
        "has_bic": any(not _is_missing(r.get("bic")) for r in board),
        "has_noise": any(is_density(f) for f in families)
        or any(float(r.get("noise_share") or 0) > 0 for r in board),
        "stability_repeats": max(repeats) if repeats else 0,
        "other_reasons": [
            {"algorithm": family_label(f), "text": str(reasons[f])}
            for f in sorted(reasons, key=_family_order)
            if f != chosen
        ],
    }


def _family_order(family: str) -> int:
    order = family_names()
    return order.index(family) if family in order else len(order)


def _settings(metrics: dict[str, Any], families: list[str]) -> list[str]:
    params = metrics.get("parameters") or {}
    algorithm = str(metrics.get("algorithm") or "kmeans")
    label = family_label(algorithm)
    requested = params.get("requested_algorithm")
    settings = []
    if len(families) > 1:
        settings.append(
            f"{len(families)} clustering algorithms were compared on the same preprocessed "
            f"features and criteria: {', '.join(families)}."
        )
    elif requested and requested != "auto":
        settings.append(
            f"Only {_in_sentence(algorithm)} was fitted, as asked (algorithm={requested})."
        )
    family = find_family(algorithm)
    how = family.method(params) if family else label
    if family is not None and family.is_density:
        shown = {key: params[key] for key in _density_params() if key in params}
        settings.append(
            f"{label} finds the number of segments itself"
            + (f" ({_format_parameters(shown)})" if shown else "")
            + "."
        )
    elif params.get("k_fixed"):
        who = "every algorithm" if len(families) > 1 else how[0].lower() + how[1:]
        settings.append(
            f"k was fixed at {params['k_fixed']} by the user; {who} was fitted with that k only."
        )
    elif params.get("k_min") is not None and params.get("k_max") is not None:
        settings.append(
            f"{as_sentence(how)[:-1]} was fitted for every k from {params['k_min']} to "
            f"{params['k_max']}"
            + (f" ({params['n_init']} starts each)" if params.get("n_init") else "")
            + "."
        )
    min_share = params.get("min_cluster_share")
    if min_share is not None and not is_density(algorithm):
        settings.append(
            f"A k is eligible when every segment holds at least {format_share(min_share)} of "
            "customers."
        )
    return settings


def _density_params() -> list[str]:
    """The parameters of the density families, in alphabetical order."""
    return sorted({p for f in families() if f.is_density for p in f.params})


def _chosen_candidate(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The candidate row recommended: its ``k`` and scores are the pick's as compared
    (metrics' ``k`` counts the segments given, which a split at a valley in recency makes one
    more, and its scores describe the segments after any refinement)."""
    return next((r for r in metrics.get("candidates") or [] if r.get("recommended")), None)


def _candidates(metrics: dict[str, Any]) -> dict[str, Any]:
    candidates = list(metrics.get("candidates") or [])
    row = _chosen_candidate(metrics)
    chosen = row["k"] if row is not None else metrics.get("k")
    elbow = metrics.get("elbow_k")
    algorithm = str(metrics.get("algorithm") or "kmeans")
    label = family_label(algorithm)
    has_votes = any("votes" in c for c in candidates)
    has_rank = any("mean_rank" in c for c in candidates)
    has_bic = any(not _is_missing(c.get("bic")) for c in candidates)
    rows = []
    for c in candidates:
        k = int(c["k"])
        marks = []
        if k == chosen:
            marks.append("chosen")
        if elbow is not None and k == elbow:
            marks.append("elbow")
        rows.append(
            {
                "k": str(k),
                "marks": ", ".join(marks),
                "chosen": k == chosen,
                "inertia": format_metric(c.get("inertia"), 1),
                "bic": format_metric(c.get("bic"), 1) if has_bic else "",
                "silhouette": format_metric(c.get("silhouette")),
                "davies_bouldin": format_metric(c.get("davies_bouldin")),
                "calinski_harabasz": format_metric(c.get("calinski_harabasz"), 1),
                "smallest_share": format_share(c.get("smallest_share")),
                "mean_rank": format_metric(c.get("mean_rank"), 2),
                "votes": format_count(c.get("votes")) if has_votes else "",
                "eligible": "yes" if c.get("eligible", True) else "no",
                "in_window": "yes" if c.get("in_window", True) else "no",
            }
        )
    plot_rows = [
        {
            key: jsonable(c.get(key))
            for key in ("k", "inertia", "bic", "silhouette", "davies_bouldin", "calinski_harabasz")
        }
        for c in candidates
    ]
    n = int(metrics.get("n_customers") or 0)
    sampled = bool(metrics.get("silhouette_sampled")) or any(
        c.get("silhouette_sampled") for c in candidates
    )
    size = metrics.get("silhouette_sample_size") or next(
        (c.get("silhouette_sample_size") for c in candidates if c.get("silhouette_sample_size")),
        None,
    )
    if sampled:
        silhouette_note = (
            f"Silhouette was computed on a seeded random sample of {format_count(size)} of the "
            f"{format_count(n)} customers (its cost grows with the square of the number of "
            "customers); WCSS, Davies-Bouldin and Calinski-Harabasz use every customer."
        )
    else:
        silhouette_note = f"Every metric uses all {format_count(n)} customers (no sampling)."
    board = _leaderboard(metrics)
    notes = [str(n_) for n_ in metrics.get("selection_notes") or []]
    # The silhouette sample is said by silhouette_note already.
    shown_notes = [
        as_sentence(n_) for n_ in notes if not (sampled and n_.lower().startswith("silhouette"))
    ]
    sample_notes = [
        as_sentence(n_)
        for n_ in notes
        if "sample" in n_.lower() and not n_.lower().startswith("silhouette")
    ]
    families = board["families"] or [label]
    family = find_family(algorithm)
    title = family.in_title() if family else label
    phrase = _in_sentence(algorithm)
    density = is_density(algorithm)
    if density:
        family_heading = f"{title}: the segments it found"
        family_reason_label = f"What {phrase} found:"
    else:
        family_heading = f"{title}: every candidate k"
        family_reason_label = f"Why {phrase} chose k = {chosen}:"
    return {
        "algorithm": algorithm,
        "algorithm_label": label,
        "algorithm_title": title,
        "family_heading": family_heading,
        "family_reason_label": family_reason_label,
        # One candidate (a density method, or k fixed) leaves no curve to read.
        "show_curve": len(candidates) > 1,
        "show_candidates": not density,
        "chosen_k": jsonable(chosen),
        "elbow_k": jsonable(elbow),
        "reason": str(metrics.get("selection_reason") or "").strip(),
        "family_reason": str(metrics.get("family_reason") or "").strip(),
        "rows": rows,
        "has_votes": has_votes,
        "has_rank": has_rank,
        "has_bic": has_bic,
        "plot_rows": plot_rows,
        "silhouette_sampled": sampled,
        "silhouette_note": silhouette_note,
        "explanations": [
            {"name": a, "text": b}
            for a, b in METRIC_EXPLANATIONS
            if (board["has_bic"] or not a.startswith("BIC"))
            and (board["has_noise"] or a != "Noise")
            and (has_rank or a != "Mean rank")
        ],
        "settings": _settings(metrics, families),
        "leaderboard": board,
        "notes": shown_notes,
        "sample_notes": sample_notes,
        "has_sample_notes": bool(sample_notes),
    }


def _dendrogram(result: Any, names: dict[int, str]) -> dict[str, Any] | None:
    """The merge tree of a hierarchical result, as plain data (None for other algorithms)."""
    metrics = result.metrics
    if str(metrics.get("algorithm") or "") != "hierarchical":
        return None
    model = getattr(result, "model", None)
    estimator = getattr(model, "estimator", None)
    tree = getattr(estimator, "tree_", None)
    if tree is None:
        return None
    tree = np.asarray(tree, dtype=float)
    n_fit = len(tree) + 1
    fit_labels = getattr(estimator, "fit_labels_", None)
    label_map = getattr(model, "label_map", None)
    point_segments = None
    if fit_labels is not None and label_map is not None and len(fit_labels) == n_fit:
        point_segments = [int(v) for v in np.asarray(label_map)[np.asarray(fit_labels) + 1]]
    n = int(metrics.get("n_customers") or len(result.segments))
    sampled = bool(getattr(estimator, "sampled_", False))
    linkage_method = str(getattr(estimator, "linkage", "") or "")
    k = int(metrics.get("k") or 0)
    text = (
        "The tree shows how the customers were merged step by step, from single customers at "
        "the bottom to one group at the top; the higher a merge, the more different the two "
        f"groups it joins. The dashed line cuts it into the {k} segments. "
        + (
            f"Only its last {DENDROGRAM_LEAVES} groups are drawn; the number under each is how "
            "many customers it holds."
            if n_fit > DENDROGRAM_LEAVES
            else "Each leaf at the bottom is one customer."
        )
    )
    if sampled:
        note = (
            f"The tree was built on a seeded random sample of {format_count(n_fit)} of the "
            f"{format_count(n)} customers (its time and memory grow with the square of the "
            "number of customers); every other customer joined the segment of the nearest "
            "sampled customer."
        )
    else:
        note = f"The tree was built on all {format_count(n_fit)} customers."
    return {
        "linkage": jsonable(tree.tolist()),
        "linkage_method": linkage_method,
        "k": k,
        "point_segments": point_segments,
        "names": names,
        "sampled": sampled,
        "n_fit": n_fit,
        "text": text,
        "note": note,
    }


def ordered_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """The profiles with segments 0, 1, ... first and noise (-1), if any, last.

    Examples
    --------
    >>> ordered_profiles(pd.DataFrame({"segment": [-1, 1, 0]}))["segment"].tolist()
    [0, 1, -1]
    """
    order = sorted(range(len(profiles)), key=lambda i: _segment_key(profiles["segment"].iloc[i]))
    return profiles.iloc[order].reset_index(drop=True)


def _segment_key(segment: Any) -> tuple[bool, int]:
    seg = int(segment)
    return (seg < 0, seg)


def _segments(result: Any) -> dict[str, Any]:
    metrics = result.metrics
    pres = presentation(metrics)
    # The yes/no (0/1) columns, found once for every part of the report that shows them as
    # shares of "yes".
    flags = flag_columns(result.segments, [str(c) for c in metrics.get("features") or {}])
    profiles = ordered_profiles(result.profiles)
    naming = {int(d["segment"]): d for d in metrics.get("segments") or []}
    has_revenue = "revenue_share" in profiles and bool(profiles["revenue_share"].notna().any())
    rows = []
    for rec in profiles.to_dict("records"):
        seg = int(rec["segment"])
        info = naming.get(seg, {})
        rows.append(
            {
                "segment": seg,
                "noise": seg < 0,
                "color": segment_color(seg),
                "name": str(rec.get("segment_name") or info.get("segment_name") or ""),
                "customers": format_count(rec.get("n_customers")),
                "share": format_share(rec.get("share")),
                "revenue_share": format_share(rec.get("revenue_share")) if has_revenue else "",
                "action": str(rec.get("action") or info.get("action") or ""),
                "facts": str(info.get("facts") or ""),
                "rule": str(info.get("rule") or ""),
                "description": str(info.get("description") or ""),
                "membership": _membership(info.get("membership"), pres, flags),
                "effects": effect_items(info.get("distinguishing") or [], pres),
                "small": seg >= 0
                and jsonable(rec.get("share")) is not None
                and float(rec["share"]) < SMALL_SEGMENT_SHARE,
            }
        )
    plot_rows = [
        {
            "segment": int(rec["segment"]),
            "segment_name": str(rec.get("segment_name") or ""),
            "share": jsonable(rec.get("share")),
            **({"revenue_share": jsonable(rec.get("revenue_share"))} if has_revenue else {}),
        }
        for rec in profiles.to_dict("records")
    ]
    noise = next((r for r in rows if r["noise"]), None)
    noise_share = next(
        (jsonable(rec.get("share")) for rec in profiles.to_dict("records") if rec["segment"] < 0),
        None,
    )
    return {
        "rows": rows,
        "has_revenue": has_revenue,
        "plot_rows": plot_rows,
        "flag_columns": sorted(flags),
        "has_noise": noise is not None,
        "noise_customers": noise["customers"] if noise else "",
        "noise_share": noise["share"] if noise else "",
        "noise_share_value": noise_share,
        "n_segments": sum(1 for r in rows if not r["noise"]),
    }


def _format_typical(column: str, value: Any, currency: str = "") -> str:
    return MISSING if _is_missing(value) else format_feature(column, value, currency)


def _membership(
    rule: Any, pres: dict[str, Any] | None = None, flags: set[str] | None = None
) -> dict[str, Any]:
    """A segment's membership rule, formatted (empty strings when there is none), in labels
    and units when its conditions are known."""
    rule = rule if isinstance(rule, dict) else {}
    text = str(rule.get("rule") or "")
    conditions = rule.get("conditions")
    if text and pres is not None and isinstance(conditions, list) and conditions:
        text = rule_text(conditions, pres, flags or set())
    return {
        "rule": text,
        "precision": format_share(rule.get("precision")) if text else "",
        "coverage": format_share(rule.get("coverage")) if text else "",
        "matching": format_count(rule.get("n_matching")) if text else "",
        "note": str(rule.get("note") or ""),
    }


def _profiles(result: Any, flag_columns_of: list[str]) -> dict[str, Any]:
    metrics = result.metrics
    pres = presentation(metrics)
    profiles = ordered_profiles(result.profiles)
    customers: pd.DataFrame = result.segments
    pre = metrics.get("preprocessing") or {}
    formulas = metrics.get("features") or {}
    dropped = pre.get("dropped") or {}
    categorical = set(pre.get("categorical") or [])
    features = [c for c in profiles.columns if c not in PROFILE_BASE_COLUMNS]
    has_revenue = "revenue_share" in profiles and bool(profiles["revenue_share"].notna().any())
    value = value_label(metrics) or "value"
    columns = [
        {"segment": int(s), "name": str(n), "color": segment_color(int(s))}
        for s, n in zip(profiles["segment"], profiles["segment_name"], strict=True)
    ]
    rows: list[dict[str, Any]] = [
        {
            "label": "Customers",
            "note": "",
            "cells": [format_count(v) for v in profiles["n_customers"]],
            "overall": format_count(len(customers)),
        },
        {
            "label": "Share of customers",
            "note": "",
            "cells": [format_share(v) for v in profiles["share"]],
            "overall": format_share(1.0),
        },
    ]
    if has_revenue:
        rows.append(
            {
                "label": f"Share of {value}",
                "note": "",
                "cells": [format_share(v) for v in profiles["revenue_share"]],
                "overall": format_share(1.0),
            }
        )
    labels = customers["segment"].astype(int)
    order = [int(s) for s in profiles["segment"]]
    flags = set(flag_columns_of)
    row_labels = dict(
        zip(map(str, features), distinct_labels(features, pres["labels"]), strict=True)
    )
    feature_rows = []
    for col in features:
        values = profiles[col]
        is_text = col in categorical or not pd.api.types.is_numeric_dtype(values)
        unit = feature_unit(col)
        column = customers.get(col)
        flag = not is_text and col in flags
        if is_text:
            shown = [MISSING if _is_missing(v) else str(v) for v in values]
            overall_values = column.dropna() if column is not None else pd.Series([])
            overall = str(overall_values.mode().iloc[0]) if len(overall_values) else MISSING
            note = "most common"
        elif flag:
            assert column is not None
            shares = column.astype(float).groupby(labels).mean()
            shown = [format_share(shares.get(s)) for s in order]
            overall = format_share(column.astype(float).mean())
            note = "share with yes (1)"
        else:
            shown = [_format_typical(col, v, pres["currency"]) for v in values]
            median = pd.to_numeric(column, errors="coerce").median() if column is not None else None
            overall = _format_typical(col, median, pres["currency"])
            note = "median"
        if col in dropped:
            note += "; not used by the model"
        label = row_labels[str(col)]
        rows.append({"label": label, "note": note, "cells": shown, "overall": overall})
        feature_rows.append(
            {
                "name": str(col),
                "label": label,
                "formula": str(formulas.get(col, "from the data")),
                "type": "category" if is_text else ("yes/no" if flag else unit),
                "used": f"no: {dropped[col]}" if col in dropped else "yes",
            }
        )
    rows.append(
        {
            "label": "Recommended action",
            "note": "",
            "cells": [str(v) for v in profiles.get("action", pd.Series([""] * len(profiles)))],
            "overall": "",
            "text": True,
        }
    )
    for row in rows:
        row.setdefault("text", False)
    return {"columns": columns, "rows": rows, "features": feature_rows}


def _map(result: Any) -> dict[str, Any]:
    X = np.asarray(result.model_inputs, dtype=float)
    labels = np.asarray(result.labels, dtype=int)
    seed = int(result.metrics.get("seed") or 0)
    n, n_features = X.shape
    n_components = min(2, n_features, n)
    pca = PCA(n_components=n_components, random_state=MAP_RANDOM_STATE).fit(X)
    coords = pca.transform(X)
    if n_components < 2:
        coords = np.column_stack([coords, np.zeros((n, 2 - n_components))])
    explained = [float(v) for v in pca.explained_variance_ratio_] + [0.0] * (2 - n_components)
    keep = sample_indices(n, MAP_MAX_POINTS, seed)
    names = {
        int(s): str(nm)
        for s, nm in zip(result.profiles["segment"], result.profiles["segment_name"], strict=True)
    }
    sampled = len(keep) < n
    if sampled:
        note = (
            f"The map shows a seeded random sample of {format_count(len(keep))} of the "
            f"{format_count(n)} customers, so that it stays readable and the report small."
        )
    else:
        note = f"The map shows all {format_count(n)} customers."
    total = sum(explained)
    return {
        "x": [round(float(v), 4) for v in coords[keep, 0]],
        "y": [round(float(v), 4) for v in coords[keep, 1]],
        "labels": [int(v) for v in labels[keep]],
        "names": names,
        "axis_titles": [
            f"first principal component ({format_share(explained[0])} of the variance)",
            f"second principal component ({format_share(explained[1])} of the variance)",
        ],
        "explained": format_share(total),
        "n_inputs": int(n_features),
        "sampled": sampled,
        "n_shown": int(len(keep)),
        "note": note,
        "seed": seed,
    }


def _summary(result: Any, source: dict[str, Any], segments: dict[str, Any]) -> list[str]:
    metrics = result.metrics
    n = int(metrics.get("n_customers") or len(result.segments))
    k = int(metrics.get("k") or len(result.profiles))
    kind = source["kind"]
    algorithm = str(metrics.get("algorithm") or "kmeans")
    method = _in_sentence(algorithm)
    sentences = [
        f"This report splits {format_count(n)} customers from {source['name']} into {k} "
        f"segments, found by {method}."
    ]
    structure = metrics.get("structure") or {}
    if structure.get("summary"):
        # Whether the segments are discovered groups or cuts of a continuum comes first: it
        # decides how far the reader can trust the boundaries.
        sentences.append(str(structure["summary"]))
    if segments["has_noise"]:
        noise = next(r for r in segments["rows"] if r["noise"])
        sentences.append(
            f"{segments['noise_customers']} customers ({segments['noise_share']}) sit in sparse "
            "regions and belong to no segment"
            + (
                f" (they bring {noise['revenue_share']} of the revenue)"
                if segments["has_revenue"]
                else ""
            )
            + f"; they are shown as -1 · {noise['name']}."
        )
    if kind == "transactions":
        n_features = len(metrics.get("features") or {})
        sentences.append(
            "The input holds invoice lines (transactions); after cleaning, each customer was "
            f"described by {n_features} features such as recency, frequency and revenue, "
            "computed from their purchases."
        )
    else:
        n_features = len((metrics.get("preprocessing") or {}).get("numeric") or []) + len(
            (metrics.get("preprocessing") or {}).get("categorical") or []
        )
        sentences.append(
            f"The input is a customer table (one row per customer); {n_features} of its columns "
            "were used to form the segments."
        )
    profiles = result.profiles[result.profiles["segment"] >= 0]
    if not len(profiles):
        return sentences
    top = profiles.sort_values("share", ascending=False, kind="stable").iloc[0]
    sentences.append(
        f"The largest segment is {top['segment']} · {top['segment_name']} with "
        f"{format_share(top['share'])} of customers."
    )
    if "revenue_share" in profiles and profiles["revenue_share"].notna().any():
        rich = profiles.sort_values("revenue_share", ascending=False, kind="stable").iloc[0]
        sentences.append(
            f"Segment {rich['segment']} · {rich['segment_name']} brings "
            f"{format_share(rich['revenue_share'])} of the revenue with "
            f"{format_share(rich['share'])} of the customers."
        )
    return sentences


def _limitations(
    result: Any,
    segments: dict[str, Any],
    k_sel: dict[str, Any],
    seg_map: dict[str, Any],
    dendrogram: dict[str, Any] | None,
) -> list[str]:
    metrics = result.metrics
    sil = metrics.get("silhouette")
    kind = (metrics.get("structure") or {}).get("kind")
    items = []
    if _is_missing(sil):
        clarity = ""
    elif kind in CLARITY:
        # The valley test's verdict, as the summary box words it, with the silhouette as a
        # number: a silhouette of 0.57 beside segments that still hide two groups is not
        # "clearly separated".
        clarity = f" Here the silhouette is {float(sil):.2f}. " + segment_clarity(metrics)["text"]
    elif float(sil) >= 0.5:
        clarity = f" Here the silhouette is {float(sil):.2f}: the segments are clearly separated."
    elif float(sil) >= 0.25:
        clarity = (
            f" Here the silhouette is {float(sil):.2f}: the segments are real but overlap; "
            "customers near a border could sit in either."
        )
    else:
        clarity = (
            f" Here the silhouette is {float(sil):.2f}: the customers form a continuum, and the "
            "segments are a useful cut of it rather than natural groups."
        )
    algorithm = str(metrics.get("algorithm") or "kmeans")
    family = find_family(algorithm)
    assumption = family.assumption_for(metrics.get("parameters") or {}) if family else ""
    items.append((assumption + clarity).strip())
    if source_kind(metrics) == "transactions":
        items.append(
            "Features come only from the invoice lines given: purchases within the period of "
            "the file, without margins, marketing contacts, channels or demographics. A customer "
            "who also buys elsewhere looks less loyal than they are."
        )
    else:
        items.append(
            "Features come only from the columns of the customer table given; what is not in "
            "the table (purchases, contacts, margins) cannot shape the segments."
        )
    sampling = list(k_sel["sample_notes"])
    if dendrogram is not None and dendrogram["sampled"]:
        # The tree's own note says the same as the selection's, in more detail.
        prefix = family_label("hierarchical") + " "
        sampling = [n for n in sampling if not n.lower().startswith(prefix)]
        sampling.insert(0, dendrogram["note"])
    if k_sel["silhouette_sampled"]:
        sampling.append(k_sel["silhouette_note"])
    if seg_map["sampled"]:
        sampling.append(seg_map["note"])
    items.append(
        " ".join(sampling)
        if sampling
        else "No sampling was used: every algorithm was fitted on all customers and every "
        "metric covers all of them (only stability, by design, refits on subsamples)."
    )
    small = [r for r in segments["rows"] if r["small"]]
    if small:
        listed = "; ".join(f"{r['segment']} · {r['name']} ({r['share']})" for r in small)
        items.append(
            f"Segments under {format_share(SMALL_SEGMENT_SHARE)} of customers: {listed}. "
            "Their medians rest on few customers; check them before acting on them."
        )
    else:
        items.append(
            f"Every segment holds at least {format_share(SMALL_SEGMENT_SHARE)} of customers."
        )
    if segments["has_noise"]:
        noise_name = next(r["name"] for r in segments["rows"] if r["noise"])
        items.append(
            f"{segments['noise_customers']} customers ({segments['noise_share']}) are in no "
            f"segment (segment -1, {noise_name}): the density method found them in sparse "
            "regions. They are not customers to discard but a group of their own that no dense "
            "group claims; their column of the profiles shows what sets them apart."
        )
    items.append(
        f"The map is a 2D projection that keeps {seg_map['explained']} of the variance of the "
        "model inputs; segments that overlap on it can still be apart in other directions."
    )
    items.append(
        "Segment names and actions are rule-based suggestions drawn from the profiles, not "
        "results of tested campaigns."
    )
    stability = metrics.get("stability")
    if not _is_missing(stability):
        value = round(float(stability), 2)  # judged as printed
        if value >= STABLE_ARI:
            items.append(
                f"The segments are stable: refitted on subsamples they come back alike "
                f"(median adjusted Rand index {value:.2f}; 1 = identical)."
            )
        else:
            items.append(
                f"The segments are only moderately stable (median adjusted Rand index "
                f"{value:.2f} over subsample refits; 1 = identical): borders move between "
                "runs, so treat customers near a border with care and check the segments "
                "again on next month's data."
            )
    sensitivity = _k_sensitivity(metrics)
    if sensitivity:
        items.append(sensitivity)
    items.extend(as_sentence(note) for note in metrics.get("export_notes") or [])
    return items


STABLE_ARI = 0.8
"""Median subsample ARI from which the report calls the segments stable (below it, they are
"moderately stable"; selection already refuses anything under 0.6)."""
CLOSE_SILHOUETTE = 0.02
"""Neighbouring k whose silhouette is within this of the chosen k's are said to score about
as well: the number of segments is then a judgement call."""


def _k_sensitivity(metrics: dict[str, Any]) -> str:
    """How much the choice of k matters: neighbouring k that score about as well."""
    algorithm = metrics.get("algorithm")
    chosen = _chosen_candidate(metrics)
    k = chosen["k"] if chosen is not None else metrics.get("k")
    sil = metrics.get("silhouette")
    rows = [
        r
        for r in metrics.get("candidates") or []
        if r.get("algorithm") == algorithm and not _is_missing(r.get("silhouette"))
    ]
    if len(rows) < 2 or sil is None or _is_missing(sil) or k is None:
        return ""
    # Candidates against candidates: the chosen row's silhouette, not the refined segments'.
    sil = float(chosen["silhouette"] if chosen is not None and chosen in rows else sil)
    neighbours = [r for r in rows if abs(int(r["k"]) - int(k)) == 1]
    close = [r for r in neighbours if abs(float(r["silhouette"]) - sil) <= CLOSE_SILHOUETTE]
    better = [r for r in neighbours if float(r["silhouette"]) > sil + CLOSE_SILHOUETTE]
    if better:
        listed = " and ".join(
            f"k = {r['k']} (silhouette {float(r['silhouette']):.2f})" for r in better
        )
        return (
            f"Sensitivity to k: {listed} {'score' if len(better) > 1 else 'scores'} better on "
            f"silhouette than k = {k} ({sil:.2f}); k = {k} was chosen for the reasons given "
            "under how the segments were chosen (silhouette rewards round segments of equal "
            "spread, and misses groups hidden inside one). Re-run with --k to see the "
            "neighbouring solution if it suits the business better."
        )
    if not close:
        return (
            f"Sensitivity to k: the neighbouring numbers of segments score clearly worse on "
            f"silhouette than k = {k}."
        )
    listed = " and ".join(f"k = {r['k']} (silhouette {float(r['silhouette']):.2f})" for r in close)
    verb = "score" if len(close) > 1 else "scores"
    return (
        f"Sensitivity to k: {listed} {verb} about as well as k = {k} (silhouette "
        f"{sil:.2f}); the number of segments is partly a judgement call. Re-run with "
        "--k to see the neighbouring solution if it suits the business better."
    )


def _silhouette(result: Any, names: dict[int, str]) -> dict[str, Any] | None:
    sil = silhouette_data(result)
    if sil is None:
        return None
    text = (
        "Each band is one segment, as thick as it has customers; each line in it is one "
        "customer, from the best fitting (top) to the worst (bottom). A silhouette near 1 means the customer is much closer to its own segment "
        "than to the next one; near 0, on the border; below 0, closer to another segment. "
        f"The dashed line is the average ({sil['average']:.2f})."
    )
    worst = max(range(len(sil["segments"])), key=lambda i: sil["negative"][i])
    if sil["negative"][worst] > 0:
        seg = sil["segments"][worst]
        text += (
            f" Segment {seg} · {names.get(seg, '')} has the most customers below 0 "
            f"({format_share(sil['negative'][worst])}): its border is the least clear."
        )
    if sil["sampled"]:
        text += f" Computed on a seeded sample of {format_count(sil['n'])} customers."
    return {**sil, "text": text}


def exploration_section(eda: dict[str, Any]) -> dict[str, Any]:
    """The exploration data (:func:`~custseg.report.eda.exploration_data` or
    :func:`~custseg.report.eda.explore`) with the sentences that go with its figures."""
    n = int(eda["n_customers"])
    texts: dict[str, Any] = {}
    orders = eda["orders"]
    if orders is not None:
        texts["orders_text"] = (
            f"How many orders each customer placed in the period of the data; "
            f"{format_share(orders['one_order_share'])} bought only once."
        )
    kind = eda["kind"]
    texts["categories_title"] = (
        "Where the customers are" if kind == "transactions" else "Categorical attributes"
    )
    texts["folded_text"] = (
        f"Each histogram spans the 1st to 99th percentile; the {format_count(eda['folded'])} "
        "most extreme values are counted in the first and last bars."
        if eda["folded"]
        else ""
    )
    transformed = eda["transformed"]
    texts["after_text"] = (
        "Before clustering, each numeric feature is "
        + (f"transformed to reduce skew ({'; '.join(transformed)}), " if transformed else "")
        + "standardized (0 = the average customer, 1 = one standard deviation) and capped at "
        f"±{format_number(eda['clip_limit'])}, so that no single feature or customer dominates "
        "the distances."
    )
    corr = eda["correlation"]
    if corr is not None:
        strong = corr["strong"]
        text = (
            "Spearman rank correlation between the numeric features (1: they rise together; "
            "-1: one falls as the other rises). "
        )
        if strong:
            text += (
                f"Strongly related pairs (|r| ≥ 0.7): {', '.join(strong)}"
                + (
                    f", and {corr['n_strong'] - len(strong)} more"
                    if corr["n_strong"] > len(strong)
                    else ""
                )
                + ". Such pairs say much the same thing and together weigh more in the segments."
            )
        else:
            text += "No pair is strongly related (|r| ≥ 0.7)."
        if corr["cut"]:
            text += " Only the first 25 numeric features are shown."
        texts["correlation_text"] = text
    missing = eda["missing"]
    if missing:
        texts["missing_text"] = (
            f"{len(missing)} feature(s) have missing values. Before clustering, a missing number "
            "is replaced by the column's median and a missing category counts as its own level "
            "'missing'; the profiles use only the values present."
        )
    elif kind == "transactions":
        texts["missing_text"] = (
            "No missing values in the customer features: every customer has at least one kept "
            "purchase. Invoice lines with missing values were dropped in cleaning (above)."
        )
    else:
        texts["missing_text"] = "No missing values in the columns used."
    outliers = eda["outliers"]
    if outliers:
        total = sum(o["customers"] for o in outliers)
        texts["outliers_text"] = (
            f"Values more than ±{format_number(eda['clip_limit'])} standard deviations from the "
            f"average (after the skew transformation) are capped there, so that a few extreme "
            f"customers do not pull a segment to themselves: {format_count(total)} value(s) "
            "were capped. The customers stay in the analysis and keep their true values in "
            "the profiles."
        )
    else:
        texts["outliers_text"] = (
            f"No value lies beyond ±{format_number(eda['clip_limit'])} standard deviations "
            "after the skew transformation: nothing was capped."
            if eda["clip_limit"] is not None
            else "No numeric feature."
        )
    eda["outliers"] = [
        {**o, "customers": format_count(o["customers"]), "share": format_share(o["share"])}
        for o in outliers
    ]
    eda["n_customers_text"] = format_count(n)
    return {**eda, **texts}


def _new_customers(result: Any, names: dict[int, str]) -> dict[str, Any] | None:
    """The new-customer section: next year's forecast per segment, the first-purchase
    classifier and how well both did on the data (invoice lines only)."""
    summary = result.metrics.get("new_customers")
    if not summary:
        return None
    if not summary.get("fitted"):
        return {"fitted": False, "reason": str(summary.get("reason") or "")}
    frame = result.segments
    horizon = int(summary.get("horizon_days") or 365)
    currency = presentation(result.metrics)["currency"]

    def money(value: Any) -> str:
        return format_value(value, "money", currency=currency)

    rows = []
    total_revenue = float(pd.to_numeric(frame["expected_revenue"], errors="coerce").sum())
    for seg in sorted(frame["segment"].unique(), key=lambda s: (s < 0, s)):
        part = frame[frame["segment"] == seg]
        purchases = pd.to_numeric(part["expected_purchases"], errors="coerce")
        revenue = pd.to_numeric(part["expected_revenue"], errors="coerce")
        rows.append(
            {
                "segment": int(seg),
                "name": names.get(int(seg), ""),
                "color": segment_color(int(seg)),
                "customers": format_count(len(part)),
                "purchases": format_number(purchases.sum()),
                "purchases_each": f"{purchases.mean():.2f}",
                "revenue": money(revenue.sum()),
                "revenue_each": money(revenue.mean()),
                "revenue_share": format_share(revenue.sum() / total_revenue)
                if total_revenue
                else MISSING,
            }
        )
    single = frame["first_purchase_segment"].notna()
    predicted = frame.loc[single, "first_purchase_segment"].astype(int).to_numpy()
    agree = (
        float(np.mean(predicted == frame.loc[single, "segment"].to_numpy()))
        if single.any()
        else None
    )
    clf = summary.get("classifier") or {}
    accuracy, majority = clf.get("oof_accuracy"), clf.get("majority_share")
    facts = []
    from custseg.newcustomers.wording import (
        backtest_section,
        backtest_verdict,
        classifier_verdict,
    )

    off = backtest_verdict(summary.get("backtest"))
    if off is not None:
        facts.append(off)

    check = clf.get("check")
    used = bool(clf.get("used", True))
    if check is not None:
        facts.append(classifier_verdict(check, names))
    elif accuracy is not None and majority is not None:
        verdict = "better than" if accuracy > majority else "no better than"
        facts.append(
            f"From the first purchase alone, the classifier names the right segment for "
            f"{format_share(accuracy)} of the customers it learned from (cross-validated, "
            f"{format_count(clf.get('n_training'))} customers known for over "
            f"{summary.get('new_customer_days')} days), {verdict} always guessing the largest "
            f"segment ({format_share(majority)}). A first purchase says little about a "
            "customer's future: treat the predicted segment as a first guess to refine."
        )
    validation = summary.get("covariate_validation") or {}
    if summary.get("covariate_model") and validation:
        facts.append(
            "For new customers, the purchase forecast uses what their first purchase shows "
            "(basket, products, price level, timing, country). On earlier cohorts it was off "
            f"by {validation['model_mae']:.2f} purchases per customer on average "
            f"(cross-validated), against {validation['bgnbd_mae']:.2f} for the plain BG/NBD "
            "model, which predicts the same for every new customer."
        )
    elif validation:
        facts.append(
            "On earlier cohorts, the first-purchase covariate model did not beat plain "
            f"BG/NBD (MAE {validation['model_mae']:.2f} vs {validation['bgnbd_mae']:.2f}), so "
            "new customers get BG/NBD's forecast."
        )
    bg = summary.get("bgnbd") or {}
    gg = summary.get("gamma_gamma") or {}
    return {
        "fitted": True,
        "horizon": format_count(horizon),
        "rows": rows,
        "total_purchases": format_number(
            pd.to_numeric(frame["expected_purchases"], errors="coerce").sum()
        ),
        "total_revenue": money(total_revenue),
        "single": format_count(int(single.sum())),
        "agree": format_share(agree) if agree is not None else MISSING,
        "classifier_used": used,
        "prior_segment": names.get(int(clf.get("majority_segment") or 0), ""),
        "backtest": backtest_section(summary.get("backtest"), currency),
        "facts": facts,
        "bgnbd": ", ".join(
            f"{k} = {float(bg[k]):.4g}" for k in ("r", "alpha", "a", "b") if bg.get(k) is not None
        )
        + (
            f" (one purchase rate shared by every customer: {float(bg['rate']):.4g} a day)"
            if bg.get("purchase_rates") == "shared"
            else ""
        ),
        "gamma_gamma": ", ".join(
            f"{k} = {float(gg[k]):.4g}" for k in ("p", "q", "gamma") if k in gg
        ),
        "categories": ", ".join(str(c) for c in summary.get("product_categories") or []),
        "categories_from_codes": summary.get("product_categories_source") == "product",
        "n_categories": len(summary.get("product_categories") or []),
        "notes": [as_sentence(n) for n in summary.get("notes") or []],
    }


def _next_steps(result: Any, segments: dict[str, Any]) -> list[str]:
    """Suggested improvements, from what this result lacks."""
    metrics = result.metrics
    steps = []
    if source_kind(metrics) == "transactions":
        steps.append(
            "Add what the invoice lines do not hold: margins, marketing contacts and "
            "responses, channels, demographics. A customer table with these columns can be "
            "segmented too."
        )
    else:
        steps.append(
            "Add behaviour the table does not hold, such as purchase history: invoice lines "
            "give recency, frequency and revenue per customer."
        )
    steps.append(
        "Score new and returning customers every month with 'custseg predict' and track "
        "how many move between segments; movement towards the lapsed segments is an early "
        "warning."
    )
    steps.append(
        "Test each recommended action on part of its segment, with a control group that "
        "gets nothing, before rolling it out."
    )
    if any(r["small"] for r in segments["rows"]):
        steps.append("Watch the small segments: merge them with a neighbour if they stay small.")
    if segments["has_noise"]:
        steps.append(
            "Look at the customers in no segment (-1): if they are errors, fix the data; if "
            "they are a niche, a fixed-k method (k-means) will place them."
        )
    sil = metrics.get("silhouette")
    if not _is_missing(sil) and float(sil) < 0.25:
        steps.append(
            "The segments overlap (low silhouette): fewer, more meaningful features often "
            "give clearer segments than many weak ones."
        )
    return steps


def source_kind(metrics: dict[str, Any]) -> str:
    """``"transactions"`` or ``"customers"``: what the segmented table held."""
    return str(metrics.get("kind") or (metrics.get("schema") or {}).get("kind") or "customers")


def build_report_data(result: Any) -> dict[str, Any]:
    """Compute everything the report shows, as a plain dict.

    Parameters
    ----------
    result : SegmentationResult
        What :func:`custseg.segment` returned.

    Returns
    -------
    dict
        Strings, numbers, lists and dicts only: ``title``, ``sections``, ``summary``,
        ``segments``, ``source``, ``roles``, ``cleaning``, ``warnings``, ``notices``,
        ``k_selection`` (with the ``leaderboard`` of every algorithm and k), ``dendrogram``
        (None unless the algorithm is hierarchical), ``profiles``, ``map``, ``limitations``,
        ``versions``. Figure inputs stay numbers (``k_selection.plot_rows``,
        ``segments.plot_rows``, ``map.x``, ``dendrogram.linkage`` ...).

    Examples
    --------
    >>> import custseg
    >>> result = custseg.segment(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> build_report_data(result)["sections"][0]  # doctest: +SKIP
    {'id': 'summary', 'title': '1. Summary'}
    """
    metrics = result.metrics
    source = _source(metrics)
    segments = _segments(result)
    k_sel = _candidates(metrics)
    seg_map = _map(result)
    order = [r["segment"] for r in segments["rows"]]
    currency = presentation(metrics)["currency"]
    formatted = typical_values(
        ordered_profiles(result.profiles),
        lambda column, value: _format_typical(column, value, currency),
    )
    dendrogram = _dendrogram(result, seg_map["names"])
    pre = metrics.get("preprocessing") or {}
    versions = metrics.get("versions") or {}
    new_customers = _new_customers(result, seg_map["names"])
    compare = compare_section(result, segments)
    executive = executive_summary(result, segments)
    # Each segment described by its defining traits in labels and units (the naming's own
    # description speaks in column names).
    for row, card in zip(segments["rows"], executive["cards"], strict=True):
        if card["traits"]:
            row["description"] = "; ".join(t["text"] for t in card["traits"]) + "."
    optional = {"new_customers": new_customers, "compare": compare}
    shown = [key for key in SECTION_TITLES if optional.get(key, True) is not None]
    main = [key for key in shown if key not in APPENDIX]
    appendix = [key for key in shown if key in APPENDIX]
    titles = {key: f"{i}. {SECTION_TITLES[key]}" for i, key in enumerate(main, start=1)}
    titles.update(
        {key: f"{chr(ord('A') + i)}. {SECTION_TITLES[key]}" for i, key in enumerate(appendix)}
    )
    return {
        "title": f"Customer segments of {source['name']}",
        "subtitle": " · ".join(
            part
            for part in (
                f"{format_count(metrics.get('n_customers'))} customers",
                f"{metrics.get('k')} segments",
                f"analysis date {metrics['analysis_date']}" if metrics.get("analysis_date") else "",
                f"seed {metrics.get('seed')}",
                f"custseg {versions['custseg']}" if versions.get("custseg") else "",
            )
            if part
        ),
        "sections": [
            {"id": key, "title": title, "appendix": key in APPENDIX}
            for key, title in titles.items()
        ],
        "titles": titles,
        "executive": executive,
        "compare": compare,
        "presentation": presentation(metrics),
        "value_label": value_label(metrics) or "value",
        "summary": _summary(result, source, segments),
        "reason": k_sel["reason"],
        "segments": segments,
        "source": source,
        "roles": _roles(metrics),
        "cleaning": _cleaning(metrics),
        "warnings": [str(w) for w in metrics.get("warnings") or []],
        "notices": [str(n) for n in pre.get("notices") or []],
        "k_selection": k_sel,
        "dendrogram": dendrogram,
        "profiles": _profiles(result, segments["flag_columns"]),
        "map": seg_map,
        "eda": exploration_section(exploration_data(result)),
        "heatmap": profile_heatmap(result, formatted, order),
        "silhouette": _silhouette(result, seg_map["names"]),
        "rfm_grid": rfm_grid(result),
        "naming": naming_rules(metrics, seg_map["names"]),
        "limitations": _limitations(result, segments, k_sel, seg_map, dendrogram),
        "next_steps": _next_steps(result, segments),
        "new_customers": new_customers,
        "versions": [{"name": str(k), "version": str(v)} for k, v in versions.items()],
    }
