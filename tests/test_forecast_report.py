"""report.html of ``custseg forecast``: plain data that matches metrics.json, every section,
self-contained, escaped, and drawn in a real browser."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import test_report_browser
from test_forecast import cdnow_shaped
from test_report import IMG, SCRIPT, _body
from test_report_browser import n_figures, open_report

from custseg.cli import main
from custseg.report.forecast import (
    SECTION_TITLES,
    calibration_data,
    confusion_data,
    forecast_report_data,
    render_forecast_report,
)
from custseg.report.render import plotly_js

#: An HTML file name: the title must show it as text.
XSS_NAME = f"{SCRIPT.split('</')[0]}{IMG}"
"""``<script>alert(1)<img src=x onerror=alert(1)>`` (a file name cannot hold ``/``)."""


def xss_lines() -> pd.DataFrame:
    """CDNOW-shaped lines (the forecast tests' generator) with products whose descriptions name
    four kinds of goods, one of them HTML, and HTML countries."""
    lines = cdnow_shaped(n_customers=400, seed=3)
    kinds = ["GARDEN PLANTER", "PAPER NAPKIN", "KITCHEN STORAGE", f"{IMG} {SCRIPT}"]
    product = np.arange(len(lines)) % 24
    lines["description"] = [f"{kinds[p % 4]} {p}" for p in product]
    lines["country"] = np.where(np.arange(len(lines)) % 2 == 0, SCRIPT, IMG)
    return lines


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``custseg forecast`` run once on an HTML-named file; its output folder."""
    folder = tmp_path_factory.mktemp("fc")
    source = folder / f"{XSS_NAME}.csv"
    xss_lines().to_csv(source, index=False)
    out = folder / "out"
    args = ["forecast", str(source), "--calibration-end", "1997-10-01", "--horizon", "26W"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def metrics(written: Path) -> dict[str, Any]:
    return json.loads((written / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def table(written: Path) -> pd.DataFrame:
    return pd.read_csv(written / "forecast.csv", dtype={"customer_id": str})


@pytest.fixture(scope="module")
def page(written: Path) -> str:
    return (written / "report.html").read_text(encoding="utf-8")


def test_cli_writes_what_the_library_renders(written: Path, metrics, table, page, capsys):
    assert sorted(p.name for p in written.iterdir()) == [
        "forecast.csv",
        "metrics.json",
        "report.html",
    ]
    # The page is the library's rendering of the metrics and table written beside it.
    assert page == render_forecast_report(metrics, table)
    assert metrics["input_file"] == f"{XSS_NAME}.csv"


def test_cli_prints_the_report_path(tmp_path: Path, run_cli):
    source = tmp_path / "orders.csv"
    cdnow_shaped(n_customers=300, seed=4).to_csv(source, index=False)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "forecast", source, "--calibration-end", "1997-10-01", "--horizon", "12W", "--out", out
    )
    assert code == 0, stderr
    assert f"Report: {out / 'report.html'}" in stdout.replace("\n", "")
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_data_is_plain(metrics, table):
    data = forecast_report_data(metrics, table)
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_numbers_match_metrics(metrics, table):
    data = forecast_report_data(metrics, table)
    for group, shown in zip(("new_customers", "all_customers"), data["evaluation"], strict=True):
        g = metrics[group]
        assert shown["n_customers"] == f"{g['n_customers']:,}"
        assert shown["actual_total"] == f"{g['actual_total']:,.0f}"
        for scores, row in zip(g["models"].values(), shown["rows"], strict=True):
            assert row["mae"] == f"{scores['mae']:.3f}"
            assert row["rmse"] == f"{scores['rmse']:.3f}"
            assert row["predicted_total"] == f"{scores['predicted_total']:,.0f}"
    c = metrics["classifier"]
    rows = data["classifier"]["rows"]
    assert [r["accuracy"] for r in rows] == [
        f"{c['accuracy']:.3f}",
        f"{c['majority_accuracy']:.3f}",
    ]
    assert [r["macro_f1"] for r in rows] == [
        f"{c['macro_f1']:.3f}",
        f"{c['majority_macro_f1']:.3f}",
    ]
    assert [s["recall"] for s in data["classifier"]["per_segment"]] == [
        f"{s['recall']:.3f}" for s in c["per_segment"]
    ]
    counts = {r["label"]: r["value"] for r in data["counts"]}
    assert counts["… new"] == f"{metrics['counts']['new_customers']:,}"
    assert counts["Excluded: no kept sale"] == "1"  # 99998 has only a return
    assert [r["seconds"] for r in data["settings"]["seconds"]] == [
        f"{v:.1f}" for v in metrics["seconds"].values()
    ]
    # The totals figure draws the metrics' numbers, not recomputed ones.
    totals = data["figures"]["totals"]
    assert totals[0]["actual"] == metrics["new_customers"]["actual_total"]
    assert [m["predicted"] for m in totals[1]["models"]] == [
        s["predicted_total"] for s in metrics["all_customers"]["models"].values()
    ]


def test_classifier_metrics_hold_precision_and_recall_per_segment(metrics, table):
    c = metrics["classifier"]
    per = c["per_segment"]
    assert sum(s["support"] for s in per) == c["n_customers"]
    assert sum(s["predicted"] for s in per) == c["n_customers"]
    confusion = confusion_data(metrics, table)
    assert confusion is not None
    counts = np.array(confusion["counts"])
    assert counts.sum() == c["n_customers"]
    assert np.trace(counts) / counts.sum() == pytest.approx(c["accuracy"], abs=1e-4)
    for s in per:
        i = confusion["segments"].index(s["segment"])
        assert counts[i].sum() == s["support"] and counts[:, i].sum() == s["predicted"]


def test_product_categories_have_words_and_sizes(metrics):
    cats = metrics["product_categories"]
    assert cats["source"] == "description"
    assert len(cats["top_words"]) == len(cats["names"]) == len(cats["n_products"])
    # A category is named after its two top words.
    assert [" ".join(w[:2]) for w in cats["top_words"]] == [n.rstrip("'") for n in cats["names"]]
    assert sum(cats["n_products"]) == 24


def test_calibration_bins_by_hand():
    # Five new customers forecast 0.1 by custseg, five established 1.5, one 5.0 (a group too
    # small to draw); BG/NBD forecasts 0.3 for everyone.
    t = pd.DataFrame(
        {
            "is_new": [True] * 5 + [False] * 6,
            "predicted_purchases_evaluated": [0.1] * 5 + [1.5] * 5 + [5.0],
            "bgnbd_purchases_evaluated": [0.3] * 11,
            "actual_purchases": [0, 0, 0, 1, 1] + [2] * 5 + [6],
        }
    )
    new, everyone = calibration_data(t)
    custseg, bgnbd = new["models"]
    assert custseg == {
        "name": "custseg",
        "label": "custseg",
        "labels": ["under 0.25"],
        "n": [5],
        "predicted": [0.1],
        "actual": [0.4],
    }
    assert bgnbd["labels"] == ["0.25–0.5"] and bgnbd["actual"] == [0.4]
    assert everyone["models"][0]["labels"] == ["under 0.25", "1–2"]
    assert everyone["models"][0]["actual"] == [0.4, 2.0]
    assert everyone["models"][1]["n"] == [11]
    assert everyone["models"][1]["actual"] == [1.6364]  # 18 purchases / 11 customers


def _scores(*rows: tuple[float, float, float]) -> dict[str, Any]:
    """Scores of custseg, BG/NBD and the cohort mean: (MAE, RMSE, predicted total) each."""
    names = ("custseg", "bgnbd", "cohort_mean")
    keys = ("mae", "rmse", "predicted_total")
    return {n: dict(zip(keys, r, strict=True)) for n, r in zip(names, rows, strict=True)}


def _with(metrics: dict[str, Any], **changes: Any) -> dict[str, Any]:
    m = copy.deepcopy(metrics)
    for path, value in changes.items():
        *keys, last = path.split("__")
        target = m
        for k in keys:
            target = target[k]
        target[last] = value
    return m


def test_best_cells_by_hand(metrics, table):
    m = _with(
        metrics,
        new_customers__actual_total=100.0,
        new_customers__models=_scores((0.9, 1.5, 90.0), (0.95, 1.4, 80.0), (0.9004, 1.6, 111.0)),
    )
    rows = forecast_report_data(m, table)["evaluation"][0]["rows"]
    # Lowest MAE (a tie as shown: 0.900 and 0.900), lowest RMSE, total closest to 100.
    assert [r["best"] for r in rows] == [["mae", "predicted_total"], ["rmse"], ["mae"]]


def test_summary_says_where_custseg_does_not_win(metrics, table):
    m = _with(
        metrics,
        new_customers__models=_scores((1.1, 1.5, 90.0), (1.0, 1.4, 80.0), (1.2, 1.6, 85.0)),
        new_customers__actual_total=100.0,
        classifier__accuracy=0.3,
        classifier__majority_accuracy=0.5,
        classifier__macro_f1=0.1,
        classifier__majority_macro_f1=0.2,
        horizon_fully_covered=False,
        horizon_days=365,
        covariate_model__fitted=False,
    )
    text = " ".join(forecast_report_data(m, table)["summary"])
    assert (
        "custseg's MAE is 1.100 purchases per customer, 10.0% higher than BG/NBD's (1.000) "
        "and 8.3% lower than the cohort mean's (1.200). custseg does not beat BG/NBD here."
    ) in text
    assert "every model predicted too few" in text
    assert "it does not beat that baseline" in text
    assert "accuracy is below the majority class's: 0.300 against 0.500" in text
    assert "new customers got plain BG/NBD" in text
    assert f"covers only {m['evaluated_days']} of the 365 days" in text
    assert (
        f"of which the data covers only the first {m['evaluated_days']}"
        in (forecast_report_data(m, table)["subtitle"])
    )


def test_summary_when_custseg_wins(metrics, table):
    m = _with(
        metrics,
        new_customers__models=_scores((0.9, 1.5, 90.0), (1.0, 1.4, 80.0), (1.2, 1.6, 85.0)),
    )
    text = forecast_report_data(m, table)["summary"][1]
    assert text == (
        "New customers: custseg's MAE is 0.900 purchases per customer, 10.0% lower than "
        "BG/NBD's (1.000) and 25.0% lower than the cohort mean's (1.200): it beats both "
        "baselines. Its RMSE (1.500), which weighs large misses more, is worse than BG/NBD's "
        "(1.400): it misses the customers who buy far more than usual by more."
    )


def test_page_has_every_section(page, metrics):
    for key, title in SECTION_TITLES.items():
        assert f'<section id="{key}">' in page
        assert f"{title}</h2>" in page
    for figure in ("calibration", "totals", "confusion"):
        assert f'id="figure-{figure}"' in page
    for word in ("MAE", "RMSE", "Predicted total", "Macro-F1", "Precision", "Recall"):
        assert f">{word}</th>" in page
    assert "Seconds per stage" in page and "Top words" in page
    assert f"{metrics['bgnbd']['alpha']:,.4g}" in page
    assert 'class="num best"' in page


def test_page_is_self_contained(page):
    rest = _body(page)
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref\s*=", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(|@font-face", rest, re.IGNORECASE)
    assert "http://" not in rest and "https://" not in rest
    assert page.count(str(plotly_js())[:200]) == 1


def test_html_from_the_data_is_escaped(page, metrics, table):
    # The HTML file name reached the title, as text.
    assert "<title>Forecast evaluation: &lt;script&gt;alert(1)&lt;img src=x" in page
    # Segment and category names and warnings from the data, as HTML.
    m = _with(
        metrics,
        segments={k: f"{SCRIPT} {v}" for k, v in metrics["segments"].items()},
        warnings=[IMG],
    )
    m["product_categories"]["names"][0] = IMG
    m["product_categories"]["top_words"][0] = [SCRIPT, IMG]
    html = render_forecast_report(m, table)
    for text in (page, html):
        assert SCRIPT not in text and IMG not in text
        assert "<img" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    body = html.split("</head>", 1)[1]
    # Only the figures' scripts and the page's own print script.
    assert len(re.findall(r"<script", body, re.IGNORECASE)) == 3 + 1
    # In the confusion matrix the names are escaped for plotly, which reads HTML tags.
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt; " in html


def test_without_product_columns_or_segments(metrics, table):
    m = _with(
        metrics,
        product_categories={"source": None, "names": []},
        classifier={**metrics["classifier"], "per_segment": []},
    )
    t = table.drop(columns=["predicted_segment", "segment_at_evaluation_end"])
    data = forecast_report_data(m, t)
    assert data["figures"]["confusion"] is None and data["settings"]["categories"] == []
    html = render_forecast_report(m, t)
    assert 'id="figure-confusion"' not in html
    assert "no product codes or descriptions" in html


# ---------------------------------------------------------------- in a browser

#: The module-scoped headless Chromium of the segmentation report's browser tests.
browser = test_report_browser.browser


@pytest.mark.slow
def test_report_draws_offline_in_a_browser(browser: Any, written: Path):
    path = written / "report.html"
    assert n_figures(path) == 3
    seen = open_report(browser, path)
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["requests"] == [path.as_uri()]
    assert [s["h2"] for s in seen["sections"]] == [
        f"{i}. {t}" for i, t in enumerate(SECTION_TITLES.values(), start=1)
    ]
    assert all(s["height"] > 100 for s in seen["sections"])
    assert seen["drawn"] == 3 and seen["empty"] == [] and seen["images"] == 0


def test_docstring_examples():
    import doctest

    import custseg.report.forecast as module

    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    assert doctest.testmod(module, optionflags=flags).failed == 0


def test_no_new_customers(metrics, table):
    none = {"mae": None, "rmse": None, "predicted_total": 0.0}
    m = _with(
        metrics,
        new_customers={
            "n_customers": 0,
            "actual_total": 0.0,
            "models": {"custseg": none, "bgnbd": none, "cohort_mean": none},
        },
        classifier={
            **metrics["classifier"],
            **dict.fromkeys(("accuracy", "macro_f1", "majority_accuracy", "majority_macro_f1")),
            "n_customers": 0,
            "per_segment": [],
        },
    )
    data = forecast_report_data(m, table[~table["is_new"]])
    assert (
        data["summary"][1] == "New customers: none in the calibration period, nothing to compare."
    )
    assert "could not be scored" in " ".join(data["summary"])
    assert data["evaluation"][0]["rows"][0]["mae"] == "–"
    assert data["figures"]["confusion"] is None
    assert "<h2>" in render_forecast_report(m, table[~table["is_new"]])


def test_report_states_the_classifier_verdict(metrics, table, page):
    check = metrics["classifier"]["check"]
    assert metrics["classifier"]["used"] is check["used"]
    data = forecast_report_data(metrics, table)
    verdict = data["classifier"]["verdict"]
    opening = "predicts" if check["used"] else "does not predict"
    assert verdict.startswith(f"The first purchase {opening} the segment here.")
    assert "by the same rule" in verdict and verdict in data["summary"]
    assert 'class="verdict"' in page
    # A check that failed reads as such, whatever this evaluation found.
    failed = {**check, "used": False, "method": "time split", "cut_date": "1997-06-01"}
    m = _with(metrics, classifier={**metrics["classifier"], "check": failed, "used": False})
    text = forecast_report_data(m, table)["classifier"]["verdict"]
    assert text.startswith("The first purchase does not predict the segment here.")
    assert "the most common segment" in text
