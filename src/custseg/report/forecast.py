"""``report.html`` of ``custseg forecast``: the time-split evaluation, for an analyst to show.

Compute, then render. :func:`forecast_report_data` turns the metrics of
:func:`~custseg.newcustomers.evaluate_forecast` (``metrics.json``) and its one-row-per-customer
table (``forecast.csv``) into plain data: formatted strings for the page, lists of numbers for
the figures. The figure functions below take that data and return Plotly figures;
:func:`render_forecast_report` puts both into ``report/templates/forecast.html.j2``
(autoescaped; plotly.js embedded once, nothing fetched).

Examples
--------
>>> ev = evaluate_forecast("orders.csv", "2011-09-01", horizon="99D")  # doctest: +SKIP
>>> html = render_forecast_report(ev.metrics, ev.forecast)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from custseg.newcustomers.checks import MIN_MACRO_F1_GAIN, accuracy_margin, beats_majority
from custseg.newcustomers.wording import classifier_verdict
from custseg.report.plots import _style, plot_text, segment_label
from custseg.report.render import _environment, figure_html, plotly_js

#: How the three forecasts are named on the page, in the order of the tables.
MODEL_LABELS = {"custseg": "custseg", "bgnbd": "BG/NBD", "cohort_mean": "cohort mean"}
POSSESSIVE = {"bgnbd": "BG/NBD's", "cohort_mean": "the cohort mean's"}
#: The two groups of customers the evaluation scores.
GROUP_LABELS = {"new_customers": "New customers", "all_customers": "All customers"}
#: Bar and line colours: custseg in the report's accent blue, the baselines in contrasting hues,
#: what happened in dark grey.
MODEL_COLORS = {
    "custseg": "#2f5d8a",
    "bgnbd": "#F58518",
    "cohort_mean": "#72B7B2",
    "actual": "#3b3b3b",
}
#: BG/NBD dashed with open markers: for established customers it is custseg's forecast too,
#: so on the calibration chart the two lines overlap and the solid one must show through.
LINE_DASH = {"bgnbd": "dash"}
MARKER_SYMBOL = {"bgnbd": "circle-open"}
#: Groups of the calibration chart, by a model's predicted purchases over the evaluated days
#: (lower bound inclusive). Most customers are predicted less than one purchase in a few
#: months, so the bins are finest there; "4 or more" holds the few heavy buyers.
CALIBRATION_BINS: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.25, "under 0.25"),
    (0.25, 0.5, "0.25–0.5"),
    (0.5, 1.0, "0.5–1"),
    (1.0, 2.0, "1–2"),
    (2.0, 4.0, "2–4"),
    (4.0, math.inf, "4 or more"),
)
#: Groups of fewer customers are left off the calibration chart: the mean of one or two
#: customers is noise, and a line drawn to it looks like a trend.
MIN_GROUP_CUSTOMERS = 5
#: Models drawn on the calibration chart (the cohort mean predicts one number per group).
CALIBRATION_MODELS = ("custseg", "bgnbd")
#: Section ids and headings, in page order.
SECTION_TITLES = {
    "summary": "Summary",
    "evaluation": "Purchases: forecast against what happened",
    "classifier": "Segment predicted from the first purchase",
    "customers": "Customers counted",
    "notes": "Notes and warnings",
    "settings": "Model settings",
    "reading": "How to read this",
}
#: Labels of the stages timed in ``metrics["seconds"]`` (other keys are shown as they are).
STAGE_LABELS = {
    "read": "reading and cleaning the lines",
    "segment": "segmenting the calibration period",
    "first_purchase": "product categories and first purchases",
    "classifier": "first-purchase classifier",
    "bgnbd": "BG/NBD and Gamma-Gamma",
    "covariates": "new-customer covariate model",
    "evaluate": "comparing with what happened",
    "total": "total",
}
#: What each fitted parameter means (time is counted in days).
PARAMETER_MEANINGS = {
    "bgnbd": {
        "r": "shape of the Gamma distribution of purchase rates",
        "alpha": "scale of that Gamma distribution (days); mean rate = r / alpha per day",
        "a": "first shape of the Beta distribution of the chance to leave after a purchase",
        "b": "second shape of that Beta distribution; mean chance = a / (a + b)",
        "rate": "mean purchase rate per day (r / alpha); with one rate shared by every "
        "customer (r and alpha then blank), that rate",
    },
    "gamma_gamma": {
        "p": "shape of the value of one purchase",
        "q": "shape of the Gamma distribution of customers' value scales",
        "gamma": "scale of that Gamma distribution",
        "population_mean": "mean value of a purchase over customers",
    },
}
#: Panel titles one point above the figures' text (``plots.FIGURE_FONT``, 13 px).
SUBPLOT_TITLE_SIZE = 14


def _num(value: Any, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def _count(value: Any) -> str:
    return _num(value, ",.0f")


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _best(values: Sequence[float | None], *, key: Any = None, digits: int = 3) -> set[int]:
    """Rows holding the best value of a column (lowest ``key``), ties as shown all best."""
    shown = [None if v is None else round(key(v) if key else v, digits) for v in values]
    known = [v for v in shown if v is not None]
    return {i for i, v in enumerate(shown) if known and v == min(known)}


def _covered(m: Mapping[str, Any]) -> str:
    if m["horizon_fully_covered"]:
        return f"horizon {m['horizon_days']} days, all covered by the data"
    return (
        f"horizon {m['horizon_days']} days, of which the data covers only the first "
        f"{m['evaluated_days']} ({_percent(m['evaluated_days'], m['horizon_days'])})"
    )


def evaluation_table(m: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of the evaluation table: per group, per model, MAE, RMSE and totals as text, and
    which cells are the best of their group (lowest MAE and RMSE, total closest to actual)."""
    groups = []
    for group, title in GROUP_LABELS.items():
        g = m[group]
        names = list(g["models"])
        scores = [g["models"][n] for n in names]
        best = {
            "mae": _best([s["mae"] for s in scores]),
            "rmse": _best([s["rmse"] for s in scores]),
            "predicted_total": _best(
                [s["predicted_total"] for s in scores],
                key=lambda v: abs(v - g["actual_total"]),
                digits=0,
            ),
        }
        groups.append(
            {
                "label": title,
                "n_customers": _count(g["n_customers"]),
                "actual_total": _count(g["actual_total"]),
                "rows": [
                    {
                        "model": MODEL_LABELS.get(name, name),
                        "mae": _num(s["mae"]),
                        "rmse": _num(s["rmse"]),
                        "predicted_total": _count(s["predicted_total"]),
                        "best": [col for col in best if i in best[col]],
                    }
                    for i, (name, s) in enumerate(zip(names, scores, strict=True))
                ],
            }
        )
    return groups


def _mae_sentence(label: str, models: Mapping[str, Any]) -> str:
    own = models["custseg"]["mae"]
    if own is None:
        return f"{label}: none in the calibration period, nothing to compare."
    parts, losses = [], []
    for name in ("bgnbd", "cohort_mean"):
        other = models[name]["mae"]
        if other is None:
            continue
        base = f"{POSSESSIVE[name]} ({other:.3f})"
        if round(own, 3) == round(other, 3):
            parts.append(f"the same as {base}")
            losses.append(MODEL_LABELS[name])
        elif own < other:
            parts.append(f"{100 * (other - own) / other:.1f}% lower than {base}")
        else:
            parts.append(f"{100 * (own - other) / other:.1f}% higher than {base}")
            losses.append(MODEL_LABELS[name])
    text = f"{label}: custseg's MAE is {own:.3f} purchases per customer, " + " and ".join(parts)
    if losses:
        return text + f". custseg does not beat {' or '.join(losses)} here."
    text += ": it beats both baselines."
    worse = [
        f"{POSSESSIVE[n]} ({models[n]['rmse']:.3f})"
        for n in ("bgnbd", "cohort_mean")
        if models[n]["rmse"] is not None
        and models["custseg"]["rmse"] is not None
        and round(models["custseg"]["rmse"], 3) > round(models[n]["rmse"], 3)
    ]
    if worse:
        text += (
            f" Its RMSE ({models['custseg']['rmse']:.3f}), which weighs large misses more, is "
            f"worse than {' and '.join(worse)}: it misses the customers who buy far more than "
            "usual by more."
        )
    return text


def classifier_verdict_sentence(m: Mapping[str, Any]) -> str | None:
    """The product's verdict on the classifier (the check made when fitting, the one that
    decides what ``custseg segment`` and ``custseg predict`` write), and whether this
    evaluation's own scores pass the same rule."""
    c = m["classifier"]
    check = c.get("check")
    if check is None:
        return None
    names = {int(k): v for k, v in m["segments"].items()}
    text = classifier_verdict(check, names)
    if c.get("accuracy") is None:
        return text
    passes = beats_majority(c)
    agrees = passes == bool(check["used"])
    return text + (
        " This evaluation on the new customers "
        + ("agrees" if agrees else "disagrees")
        + ": by the same rule the classifier "
        + ("beats" if passes else "does not beat")
        + " the majority answer here "
        f"(accuracy {c['accuracy']:.3f} against {c['majority_accuracy']:.3f} + a margin of "
        f"{accuracy_margin(c['majority_accuracy'], c['n_customers']):.3f}; macro-F1 "
        f"{c['macro_f1']:.3f} against {c['majority_macro_f1']:.3f} + {MIN_MACRO_F1_GAIN:.2f})."
    )


def _classifier_sentence(m: Mapping[str, Any]) -> str:
    c = m["classifier"]
    if c["accuracy"] is None:
        return (
            "No new customer had a segment at the end of the evaluated days, so the "
            "first-purchase classifier could not be scored."
        )
    majority = m["segments"].get(str(c["majority_segment"]), str(c["majority_segment"]))
    f1_wins = c["macro_f1"] > c["majority_macro_f1"]
    acc_wins = c["accuracy"] > c["majority_accuracy"]
    text = (
        f"The segment predicted from the first purchase, scored on {c['n_customers']:,} new "
        f"customers, has a macro-F1 of {c['macro_f1']:.3f} against {c['majority_macro_f1']:.3f} "
        f"for always predicting the most common segment ({majority}): "
        + ("better." if f1_wins else "it does not beat that baseline.")
    )
    if acc_wins:
        return text + (
            f" Its accuracy is higher too: {c['accuracy']:.3f} against "
            f"{c['majority_accuracy']:.3f}."
        )
    return text + (
        f" Its accuracy is below the majority class's: {c['accuracy']:.3f} against "
        f"{c['majority_accuracy']:.3f}; always guessing {majority} is right more often"
        + (
            ", while the classifier is better at telling the smaller segments apart "
            "(macro-F1 weighs every segment equally)."
            if f1_wins
            else "."
        )
    )


def _totals_sentence(m: Mapping[str, Any]) -> str:
    g = m["new_customers"]
    predicted = {n: s["predicted_total"] for n, s in g["models"].items()}
    actual = g["actual_total"]
    text = (
        f"Over the {m['evaluated_days']} evaluated days the new customers made "
        f"{actual:,.0f} purchases; custseg predicted {predicted['custseg']:,.0f}, BG/NBD "
        f"{predicted['bgnbd']:,.0f} and the cohort mean {predicted['cohort_mean']:,.0f}"
    )
    if actual and all(v < actual for v in predicted.values()):
        return text + ": every model predicted too few."
    if actual and all(v > actual for v in predicted.values()):
        return text + ": every model predicted too many."
    return text + "."


def summary_sentences(m: Mapping[str, Any]) -> list[str]:
    """The summary in words: who is new, who wins on MAE and by how much, the classifier
    against the majority class, the totals, and whether the new-customer model was used."""
    n = m["counts"]
    out = [
        f"New customers are the {n['new_customers']:,} customers whose first purchase is in "
        f"the {m['new_customer_days']} days before {m['calibration_end']}; the other "
        f"{n['established_customers']:,} customers of the calibration period are established. "
        f"{n['customers_first_seen_in_horizon']:,} customers first seen after the calibration "
        "end are not forecast (nothing was known about them).",
        _mae_sentence("New customers", m["new_customers"]["models"]),
        _mae_sentence("All customers", m["all_customers"]["models"]),
    ]
    if not m["covariate_model"]["fitted"]:
        out.append(
            "custseg's new-customer model was not used: new customers got plain BG/NBD, so "
            "custseg and BG/NBD make the same forecast for them (see the notes)."
        )
    out.append(_totals_sentence(m))
    out.append(_classifier_sentence(m))
    verdict = classifier_verdict_sentence(m)
    if verdict:
        out.append(verdict)
    if not m["horizon_fully_covered"]:
        out.append(
            f"The data covers only {m['evaluated_days']} of the {m['horizon_days']} days of "
            "the horizon: every number here compares those days."
        )
    return out


def classifier_section(m: Mapping[str, Any]) -> dict[str, Any]:
    """The classifier against the majority class, and per-segment precision and recall."""
    c = m["classifier"]
    names = m["segments"]
    majority = names.get(str(c["majority_segment"]), str(c["majority_segment"]))
    scores: list[tuple[str, float | None, float | None]] = [
        (f"classifier ({c['family']})", c["accuracy"], c["macro_f1"]),
        (f"always {majority} (the majority class)", c["majority_accuracy"], c["majority_macro_f1"]),
    ]
    best = {  # higher is better: the lowest of the negated scores
        "accuracy": _best([None if s[1] is None else -s[1] for s in scores]),
        "macro_f1": _best([None if s[2] is None else -s[2] for s in scores]),
    }
    return {
        "verdict": classifier_verdict_sentence(m),
        "n_customers": _count(c["n_customers"]),
        "n_training_customers": _count(c["n_training_customers"]),
        "cross_validated_accuracy": _num(c.get("cross_validated_accuracy")),
        "label": c["label"],
        "rows": [
            {
                "model": label,
                "accuracy": _num(acc),
                "macro_f1": _num(f1),
                "best": [col for col in best if i in best[col]],
            }
            for i, (label, acc, f1) in enumerate(scores)
        ],
        "per_segment": [
            {
                "segment": str(s["segment"]),
                "name": names.get(str(s["segment"]), ""),
                "support": _count(s["support"]),
                "predicted": _count(s["predicted"]),
                "precision": _num(s["precision"]),
                "recall": _num(s["recall"]),
                "f1": _num(s["f1"]),
            }
            for s in c.get("per_segment", [])
        ],
    }


def counts_rows(m: Mapping[str, Any]) -> list[dict[str, str]]:
    """Lines and customers counted, with why customers were left out."""
    n = m["counts"]
    c = m["classifier"]
    days = m["new_customer_days"]
    rows = (
        ("Lines read", n["rows_in"], ""),
        ("Lines kept (sales)", n["rows_kept"], ""),
        ("Customers in the data", n["customers_in"], ""),
        (
            "Excluded: no kept sale",
            n["customers_excluded_no_kept_sale"],
            "only returns, negative amounts, non-product or zero-price lines",
        ),
        (
            "Customers in the calibration period",
            n["customers_in_calibration"],
            f"bought before {m['calibration_end']}; each one is forecast",
        ),
        ("… new", n["new_customers"], f"first purchase in the last {days} days"),
        ("… established", n["established_customers"], ""),
        (
            "First seen after the calibration end",
            n["customers_first_seen_in_horizon"],
            "not forecast: nothing was known about them at the calibration end",
        ),
        (
            "New customers the classifier is scored on",
            c["n_customers"],
            "new customers with a segment at the end of the evaluated days",
        ),
        (
            "Customers the classifier learned from",
            c["n_training_customers"],
            f"customers for more than {days} days",
        ),
    )
    return [{"label": label, "value": _count(v), "note": note} for label, v, note in rows]


def dropped_rows(m: Mapping[str, Any]) -> list[dict[str, str]]:
    """Lines dropped by cleaning, one row per reason that dropped any."""
    return [
        {"reason": d["description"], "rows": _count(d["rows"])}
        for d in m.get("cleaning", {}).get("dropped", [])
        if d["rows"]
    ]


def notes(m: Mapping[str, Any]) -> list[str]:
    """What a reader must know to quote the numbers (the warnings come separately)."""
    out = []
    cov = m["covariate_model"]
    val = cov.get("validation") or {}
    if not cov["fitted"]:
        out.append(
            "New customers got plain BG/NBD: the covariate model was not used (too short a "
            "training window or too few earlier new customers, or it did not beat BG/NBD on "
            "earlier cohorts)."
        )
    elif val.get("model_mae") is not None:
        out.append(
            f"The new-customer model beat BG/NBD on earlier cohorts before it was used: MAE "
            f"{val['model_mae']:.3f} against {val['bgnbd_mae']:.3f} in a {val['folds']}-fold "
            "cross-validation grouped by customer."
        )
    c = m["classifier"]
    if c["n_customers"] < m["counts"]["new_customers"]:
        out.append(
            f"The classifier is scored on {c['n_customers']:,} of the "
            f"{m['counts']['new_customers']:,} new customers: the others had no segment at the "
            "end of the evaluated days."
        )
    return out


def _parameters(params: Mapping[str, Any], meanings: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"name": k, "value": _num(params[k], ",.4g"), "meaning": text}
        for k, text in meanings.items()
        if k in params
    ]


def settings_section(m: Mapping[str, Any]) -> dict[str, Any]:
    """Fitted parameters, product categories, classifier and covariate model, as text."""
    bg, gg = m["bgnbd"], m["gamma_gamma"]
    cats = m["product_categories"]
    words = cats.get("top_words") or []
    sizes = cats.get("n_products") or []
    cov = m["covariate_model"]
    source = {"description": "product descriptions", "product": "product codes"}
    return {
        "bgnbd": _parameters(bg, PARAMETER_MEANINGS["bgnbd"]),
        "bgnbd_fit": (
            f"Fitted on {bg.get('n_customers', 0):,} customers, time in days; "
            + ("converged." if bg.get("converged") else "the optimiser did not converge.")
        ),
        "gamma_gamma": _parameters(gg, PARAMETER_MEANINGS["gamma_gamma"]),
        "gamma_gamma_fit": (
            f"Fitted on {gg.get('n_customers', 0):,} customers; "
            + ("converged." if gg.get("converged") else "the optimiser did not converge.")
        ),
        "categories_source": source.get(cats["source"] or "", ""),
        "categories": [
            {
                "name": name,
                "words": ", ".join(words[i]) if i < len(words) else "",
                "products": _count(sizes[i]) if i < len(sizes) else "–",
            }
            for i, name in enumerate(cats["names"])
        ],
        "covariate": [
            {"label": "used for new customers", "value": "yes" if cov["fitted"] else "no"},
            {
                "label": "training window",
                "value": "–"
                if cov["training_window_days"] is None
                else f"{cov['training_window_days']} days",
            },
            {"label": "training rows", "value": _count(cov["n_training_rows"])},
            {"label": "covariates", "value": ", ".join(cov["covariates"]) or "–"},
        ],
        "classifier": [
            {"label": "family", "value": m["classifier"]["family"]},
            {
                "label": "training customers",
                "value": _count(m["classifier"]["n_training_customers"]),
            },
            {
                "label": "cross-validated accuracy on them",
                "value": _num(m["classifier"].get("cross_validated_accuracy")),
            },
            {
                "label": "segments",
                "value": ", ".join(f"{k} · {v}" for k, v in m["segments"].items()),
            },
        ],
        "seconds": [
            {"stage": STAGE_LABELS.get(k, k), "seconds": _num(v, ".1f")}
            for k, v in m["seconds"].items()
        ],
    }


def how_to_read(m: Mapping[str, Any]) -> list[str]:
    """What the measures and baselines mean, in plain words."""
    days = m["evaluated_days"]
    f = m["forecasters"]
    return [
        f"A purchase is {m['purchase_definition']}. Each customer's forecast of purchases over "
        f"the {days} evaluated days after {m['calibration_end']} is compared with the purchases "
        "they made.",
        "MAE (mean absolute error) is the average miss per customer, in purchases: an MAE of "
        "0.9 means a forecast off by 0.9 purchases per customer on average. RMSE (root mean "
        "squared error) squares each miss before averaging, so it weighs the few customers "
        "who buy far more than expected much more. Lower is better for both; the best of each "
        "column is highlighted.",
        "Predicted and actual totals add the purchases over the group. A model can get the "
        "total right with a poor MAE, by averaging large misses in both directions.",
        f"custseg: {f['custseg']}. BG/NBD: {f['bgnbd']} (the standard buy-till-you-die "
        f"model). Cohort mean: {f['cohort_mean']}.",
        "The calibration chart groups customers by a model's forecast and shows, for each "
        "group, the mean forecast against the mean of what happened: points on the diagonal "
        "are right on average; points above it mean the model predicted too few purchases.",
        "The classifier predicts, from the first purchase only, the segment a new customer "
        "grows into. Accuracy is the share predicted right; macro-F1 averages the F1 of each "
        "segment, so small segments count as much as large ones. The baseline always predicts "
        "the most common segment among the customers the classifier learned from.",
    ]


def _bins(predicted: np.ndarray, actual: np.ndarray) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"labels": [], "n": [], "predicted": [], "actual": []}
    for low, high, label in CALIBRATION_BINS:
        inside = (predicted >= low) & (predicted < high)
        if inside.sum() >= MIN_GROUP_CUSTOMERS:
            out["labels"].append(label)
            out["n"].append(int(inside.sum()))
            out["predicted"].append(round(float(predicted[inside].mean()), 4))
            out["actual"].append(round(float(actual[inside].mean()), 4))
    return out


def calibration_data(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per group, per model of :data:`CALIBRATION_MODELS`: customers binned by the model's
    forecast (:data:`CALIBRATION_BINS`), with the mean forecast and mean actual of each bin
    that holds at least :data:`MIN_GROUP_CUSTOMERS` customers."""
    columns = {"custseg": "predicted_purchases_evaluated", "bgnbd": "bgnbd_purchases_evaluated"}
    new = table["is_new"].astype(bool).to_numpy()
    groups = []
    for group, keep in (("new_customers", new), ("all_customers", np.ones_like(new))):
        part = table[keep]
        actual = part["actual_purchases"].to_numpy(dtype=np.float64)
        groups.append(
            {
                "label": GROUP_LABELS[group],
                "models": [
                    {
                        "name": name,
                        "label": MODEL_LABELS[name],
                        **_bins(part[columns[name]].to_numpy(dtype=np.float64), actual),
                    }
                    for name in CALIBRATION_MODELS
                ],
            }
        )
    return groups


def totals_data(m: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per group, actual purchases and each model's predicted total."""
    return [
        {
            "label": title,
            "actual": m[group]["actual_total"],
            "models": [
                {"name": n, "label": MODEL_LABELS.get(n, n), "predicted": s["predicted_total"]}
                for n, s in m[group]["models"].items()
            ],
        }
        for group, title in GROUP_LABELS.items()
    ]


def confusion_data(m: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any] | None:
    """New customers by segment at the end of the evaluated days (rows) and segment predicted
    from the first purchase (columns); ``None`` when no new customer has both."""
    if "predicted_segment" not in table or "segment_at_evaluation_end" not in table:
        return None
    pairs = pd.DataFrame(
        {
            "actual": pd.to_numeric(table["segment_at_evaluation_end"], errors="coerce"),
            "predicted": pd.to_numeric(table["predicted_segment"], errors="coerce"),
        }
    )[table["is_new"].astype(bool).to_numpy()].dropna()
    if pairs.empty:
        return None
    pairs = pairs.astype(np.int64)
    segments = sorted(set(pairs["actual"]) | set(pairs["predicted"]))
    counts = (
        pd.crosstab(pairs["actual"], pairs["predicted"])
        .reindex(index=segments, columns=segments, fill_value=0)
        .astype(int)
    )
    return {
        "segments": [int(s) for s in segments],
        "names": [str(m["segments"].get(str(s), s)) for s in segments],
        "counts": counts.to_numpy().tolist(),
    }


def forecast_report_data(metrics: Mapping[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Plain data of the forecast report: formatted text for the page, numbers for the figures.

    Nothing here is HTML: the template escapes every string, the figures pass segment names
    through :func:`~custseg.report.plots.plot_text`. The result is JSON-serialisable.

    Parameters
    ----------
    metrics : dict
        ``metrics.json`` of ``custseg forecast`` (:attr:`ForecastEvaluation.metrics`).
    table : pandas.DataFrame
        ``forecast.csv``, one row per customer (:attr:`ForecastEvaluation.forecast`).

    Returns
    -------
    dict
        ``title``, ``subtitle``, ``sections``, ``summary``, ``evaluation``, ``classifier``,
        ``counts``, ``dropped``, ``warnings``, ``notes``, ``settings``, ``how_to_read``, ``figures``
        (``calibration``, ``totals``, ``confusion`` or ``None``) and ``version``.

    Examples
    --------
    >>> ev = evaluate_forecast("orders.csv", "2011-09-01", horizon="99D")  # doctest: +SKIP
    >>> forecast_report_data(ev.metrics, ev.forecast)["evaluation"][0]["rows"][0]["mae"]
    ... # doctest: +SKIP
    '0.961'
    """
    from custseg.versions import package_version

    m = metrics
    name = m.get("input_file")
    titles = {
        key: f"{i}. {title}" for i, (key, title) in enumerate(SECTION_TITLES.items(), start=1)
    }
    return {
        "title": f"Forecast evaluation: {name}" if name else "Forecast evaluation",
        "subtitle": (
            f"Calibration end {m['calibration_end']} · {_covered(m)} · data from "
            f"{m['data_first_day']} to {m['data_last_day']}"
        ),
        "sections": [{"id": key, "title": title} for key, title in titles.items()],
        "titles": titles,
        "summary": summary_sentences(m),
        "evaluation": evaluation_table(m),
        "evaluated": (
            f"Purchases per customer over the {m['evaluated_days']} days from "
            f"{m['calibration_end']}"
            + ("" if m["horizon_fully_covered"] else f" (of a {m['horizon_days']}-day horizon)")
        ),
        "revenue": [
            {
                "label": GROUP_LABELS[g],
                "predicted": _count(r["predicted_total"]),
                "actual": _count(r["actual_total"]),
            }
            for g, r in m["revenue"].items()
        ],
        "classifier": classifier_section(m),
        "counts": counts_rows(m),
        "dropped": dropped_rows(m),
        "warnings": [str(w) for w in m["warnings"]],
        "notes": notes(m),
        "settings": settings_section(m),
        "how_to_read": how_to_read(m),
        "calibration_min_customers": MIN_GROUP_CUSTOMERS,
        "figures": {
            "calibration": calibration_data(table),
            "totals": totals_data(m),
            "confusion": confusion_data(m, table),
        },
        "version": package_version(),
    }


def _marker_sizes(counts: Sequence[int]) -> list[float]:
    """Marker area grows with a group's customers, so a group of one does not look like many."""
    top = max([1, *counts])
    return [round(5 + 13 * math.sqrt(n / top), 1) for n in counts]


def _group_panels(groups: Sequence[Mapping[str, Any]]) -> go.Figure:
    """One panel per group of customers, side by side, titled with the group."""
    return make_subplots(
        rows=1,
        cols=len(groups),
        subplot_titles=[plot_text(g["label"]) for g in groups],
        horizontal_spacing=0.1,
    )


def forecast_calibration_figure(groups: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Mean actual against mean predicted purchases, customers binned by each model's forecast,
    one panel per group, with the diagonal where a forecast is right on average.

    Parameters
    ----------
    groups : sequence of dict
        :func:`calibration_data`: ``label`` and ``models``, each with ``name``, ``label``,
        ``labels`` (bin), ``n``, ``predicted`` and ``actual``.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> g = [{"label": "All customers", "models": [{"name": "custseg", "label": "custseg",
    ...       "labels": ["0.5–1"], "n": [3], "predicted": [0.7], "actual": [0.5]}]}]
    >>> len(forecast_calibration_figure(g).data)
    2
    """
    fig = _group_panels(groups)
    for col, group in enumerate(groups, start=1):
        top = max([0.5, *(v for mdl in group["models"] for v in mdl["predicted"] + mdl["actual"])])
        fig.add_trace(
            go.Scatter(
                x=[0, top * 1.05],
                y=[0, top * 1.05],
                mode="lines",
                line=dict(color="#9aa5b1", dash="dash", width=1),
                name="right on average",
                hoverinfo="skip",
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        for mdl in group["models"]:
            fig.add_trace(
                go.Scatter(
                    x=mdl["predicted"],
                    y=mdl["actual"],
                    mode="lines+markers",
                    name=plot_text(mdl["label"]),
                    legendgroup=mdl["name"],
                    showlegend=col == 1,
                    line=dict(
                        color=MODEL_COLORS.get(mdl["name"], "#888"),
                        width=2,
                        dash=LINE_DASH.get(mdl["name"], "solid"),
                    ),
                    marker=dict(
                        size=_marker_sizes(mdl["n"]),
                        symbol=MARKER_SYMBOL.get(mdl["name"], "circle"),
                    ),
                    customdata=list(zip(mdl["labels"], mdl["n"], strict=True)),
                    hovertemplate=(
                        f"{plot_text(mdl['label'])}, forecast %{{customdata[0]}}<br>"
                        "%{customdata[1]:,} customers<br>mean forecast %{x:.2f}<br>"
                        "mean actual %{y:.2f}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="mean forecast (purchases)", rangemode="tozero", row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="mean actual (purchases)", row=1, col=1)
    _style(fig, 420)
    fig.update_layout(margin=dict(t=90), legend=dict(y=1.12))
    fig.update_annotations(font=dict(size=SUBPLOT_TITLE_SIZE))
    return fig


def forecast_totals_figure(groups: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Total purchases that happened and each model's predicted total, one panel per group.

    Parameters
    ----------
    groups : sequence of dict
        :func:`totals_data`: ``label``, ``actual`` and ``models`` with ``name``, ``label`` and
        ``predicted``.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> g = [{"label": "New customers", "actual": 10.0,
    ...       "models": [{"name": "custseg", "label": "custseg", "predicted": 8.0}]}]
    >>> list(forecast_totals_figure(g).data[0].x)
    ['actual', 'custseg']
    """
    fig = _group_panels(groups)
    for col, group in enumerate(groups, start=1):
        names = ["actual", *(mdl["name"] for mdl in group["models"])]
        labels = ["actual", *(plot_text(mdl["label"]) for mdl in group["models"])]
        values = [group["actual"], *(mdl["predicted"] for mdl in group["models"])]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                marker_color=[MODEL_COLORS.get(n, "#888") for n in names],
                text=[f"{v:,.0f}" for v in values],
                textposition="outside",
                cliponaxis=False,
                showlegend=False,
                hovertemplate="%{x}: %{y:,.0f} purchases<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_yaxes(range=[0, max([1.0, *values]) * 1.15], row=1, col=col)
    fig.update_yaxes(title_text="purchases", row=1, col=1)
    _style(fig, 340)
    fig.update_annotations(font=dict(size=SUBPLOT_TITLE_SIZE))
    return fig


def segment_confusion_figure(
    segments: Sequence[int], names: Sequence[Any], counts: Sequence[Sequence[int]]
) -> go.Figure:
    """New customers by segment they grew into (rows) and segment predicted from their first
    purchase (columns): colour is the share of the row, the number is customers.

    Parameters
    ----------
    segments : sequence of int
        Segment numbers, in the order of rows and columns.
    names : sequence
        Segment names (escaped here for plotly).
    counts : sequence of sequence of int
        ``counts[i][j]``: customers in segment ``segments[i]`` predicted ``segments[j]``.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> fig = segment_confusion_figure([0, 1], ["<b>A</b>", "B"], [[3, 1], [0, 2]])
    >>> list(fig.data[0].y)
    ['0 · &lt;b&gt;A&lt;/b&gt;', '1 · B']
    """
    labels = [segment_label(s, n) for s, n in zip(segments, names, strict=True)]
    matrix = np.asarray(counts, dtype=np.float64).reshape(len(labels), len(labels))
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    fig = go.Figure(
        go.Heatmap(
            z=share.round(4).tolist(),
            x=labels,
            y=labels,
            text=matrix.astype(int).tolist(),
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar=dict(title=dict(text="share of row"), tickformat=".0%"),
            hovertemplate=(
                "grew into %{y}<br>predicted %{x}<br>%{text} customers "
                "(%{z:.0%} of the row)<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title_text="segment predicted from the first purchase", side="bottom")
    fig.update_yaxes(title_text="segment grown into", autorange="reversed")
    _style(fig, 120 + 60 * len(labels))
    fig.update_layout(margin=dict(l=180, b=120))
    return fig


def forecast_figures(data: Mapping[str, Any]) -> dict[str, go.Figure]:
    """The report's figures from :func:`forecast_report_data`: ``calibration``, ``totals`` and,
    when new customers have both segments, ``confusion``."""
    fig = data["figures"]
    figures = {
        "calibration": forecast_calibration_figure(fig["calibration"]),
        "totals": forecast_totals_figure(fig["totals"]),
    }
    if fig["confusion"] is not None:
        c = fig["confusion"]
        figures["confusion"] = segment_confusion_figure(c["segments"], c["names"], c["counts"])
    return figures


#: The page's template in ``custseg/report/templates``.
TEMPLATE = "forecast.html.j2"


def render_forecast_data(data: Mapping[str, Any]) -> str:
    """Render the dict of :func:`forecast_report_data` into one self-contained HTML page."""
    figures = {name: figure_html(f, f"figure-{name}") for name, f in forecast_figures(data).items()}
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(data=data, figures=figures, plotly_js=plotly_js())
    )


def render_forecast_report(metrics: Mapping[str, Any], table: pd.DataFrame) -> str:
    """``report.html`` of ``custseg forecast``: the evaluation's metrics and forecast table as
    one self-contained, autoescaped HTML page (plotly.js embedded, nothing fetched).

    Parameters
    ----------
    metrics : dict
        ``metrics.json`` (:attr:`ForecastEvaluation.metrics`).
    table : pandas.DataFrame
        ``forecast.csv`` (:attr:`ForecastEvaluation.forecast`).

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> ev = evaluate_forecast("orders.csv", "2011-09-01", horizon="99D")  # doctest: +SKIP
    >>> Path("report.html").write_text(render_forecast_report(ev.metrics, ev.forecast))
    ... # doctest: +SKIP
    """
    return render_forecast_data(forecast_report_data(metrics, table))
