"""The HTML report: plain data first, then an escaped, self-contained page."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from typing import Any

import markupsafe
import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.report import SECTION_TITLES, build_report_data, render_report
from custseg.report.plots import (
    MAP_MAX_POINTS,
    cut_height,
    dendrogram_figure,
    k_selection_figure,
    plot_text,
    sample_indices,
    segment_map_figure,
    segment_sizes_figure,
)
from custseg.report.render import figure_html, plotly_js
from custseg.report.summary import (
    APPENDIX,
    format_count,
    format_metric,
    format_number,
    format_share,
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ALWAYS = {"sizes", "map", "heatmap", "silhouette", "before", "after"}
"""Figures every report holds (with two or more segments and numeric features)."""


def xss_customers(n: int = 120) -> pd.DataFrame:
    """Two clear segments; a column name and the category values are HTML."""
    rng = np.random.default_rng(0)
    half = n // 2
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            SCRIPT: np.r_[rng.normal(10, 1, half), rng.normal(50, 2, n - half)],
            "spend": np.r_[rng.normal(100, 5, half), rng.normal(10, 2, n - half)],
            "channel": np.where(np.arange(n) < half, IMG, SCRIPT),
        }
    )


@pytest.fixture(scope="module")
def transactions_result() -> Any:
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=0)
    return custseg.segment(lines, seed=0)


@pytest.fixture(scope="module")
def customers_result() -> Any:
    rng = np.random.default_rng(1)
    n = 90
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "age": np.r_[rng.normal(25, 2, 45), rng.normal(60, 3, 45)].round(),
            "income": np.r_[rng.normal(30, 3, 45), rng.normal(80, 5, 45)],
            # Related to the segments (a random region would be left out of the model).
            "region": np.r_[rng.choice(["North", "South"], size=45), np.full(45, "East")],
        }
    )
    return custseg.segment(frame, seed=0)


@pytest.fixture(scope="module")
def xss_result() -> Any:
    return custseg.segment(xss_customers(), seed=0)


@pytest.fixture(scope="module")
def hierarchical_result() -> Any:
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=0)
    return custseg.segment(lines, algorithm="hierarchical", seed=0)


@pytest.fixture(scope="module")
def noise_result() -> Any:
    """HDBSCAN on planted segments: several segments and a few customers left as noise."""
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=0)
    result = custseg.segment(lines, algorithm="hdbscan", seed=0)
    assert (result.segments["segment"] == -1).any()
    return result


def expected_figures(data: dict[str, Any]) -> set[str]:
    """The figures the page should hold for this report data, worked out from the data."""
    eda = data["eda"]
    names = set(ALWAYS)
    names |= {f"effects-{r['segment']}" for r in data["segments"]["rows"] if r["effects"]}
    optional = {
        "k_selection": data["k_selection"]["show_curve"],
        "dendrogram": data["dendrogram"] is not None,
        "correlation": eda["correlation"] is not None,
        "missing": bool(eda["missing"]),
        "categories": bool(eda["categories"]),
        # Transactions only: sales by month, orders per customer, the RFM grid.
        "activity": bool(eda["activity"]),
        "orders": eda["orders"] is not None,
        "rfm_grid": data["rfm_grid"] is not None,
        # The executive summary's share of customers vs share of value, with a value.
        "value_share": data["executive"]["has_value"],
    }
    return names | {name for name, shown in optional.items() if shown}


def expected_sections(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every section and its number (1, 2, ... for the first layer, A, B, ... for the
    appendix), but the new-customer one only for invoice lines with its data and the
    comparison only with two segments or more."""
    optional = {"new_customers": data["new_customers"], "compare": data["compare"]}
    keys = [key for key in SECTION_TITLES if optional.get(key, True) is not None]
    main = [key for key in keys if key not in APPENDIX]
    appendix = [key for key in keys if key in APPENDIX]
    return [(str(i), key) for i, key in enumerate(main, start=1)] + [
        (chr(ord("A") + i), key) for i, key in enumerate(appendix)
    ]


def n_figures(data: dict[str, Any]) -> int:
    """How many figures the page should hold for this report data."""
    return len(expected_figures(data))


def figure_ids(page: str) -> set[str]:
    return set(re.findall(r'<div id="figure-([\w-]+)" class="plotly-graph-div"', page))


def escaped(text: str) -> str:
    return str(markupsafe.escape(text))


def _body(page: str) -> str:
    """The page without the embedded plotly.js bundle (the only script in <head>)."""
    head, body = page.split("</head>", 1)
    return re.sub(r"<script>.*</script>", "", head, flags=re.DOTALL) + body


def _is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


# ---------------------------------------------------------------- the data


@pytest.mark.parametrize(
    "name", ["transactions_result", "customers_result", "hierarchical_result", "noise_result"]
)
def test_report_data_is_plain(name: str, request: pytest.FixtureRequest) -> None:
    data = build_report_data(request.getfixturevalue(name))
    assert _is_plain(data)
    json.dumps(data)
    assert [s["id"] for s in data["sections"]] == [key for _, key in expected_sections(data)]


def test_transactions_data(transactions_result: Any) -> None:
    data = build_report_data(transactions_result)
    metrics = transactions_result.metrics
    assert data["segments"]["has_revenue"]
    assert len([r for r in data["segments"]["rows"] if not r["noise"]]) == metrics["k"]
    assert data["cleaning"]["balanced"]
    cleaning = metrics["cleaning"]
    dropped = sum(d["rows"] for d in cleaning["dropped"])
    assert data["cleaning"]["check"] == (
        f"Check: {cleaning['rows_in']:,} rows read = {cleaning['rows_kept']:,} kept + "
        f"{dropped:,} dropped."
    )
    assert [r["k"] for r in data["k_selection"]["rows"]] == [
        str(c["k"]) for c in metrics["candidates"]
    ]
    chosen = [r for r in data["k_selection"]["rows"] if r["chosen"]]
    assert [r["k"] for r in chosen] == [str(metrics["k"])]
    assert data["reason"] == metrics["selection_reason"]
    # Formulas of every feature, and one profile row per feature plus sizes and the action.
    assert {f["name"] for f in data["profiles"]["features"]} == set(metrics["features"])
    labels = [r["label"] for r in data["profiles"]["rows"]]
    assert labels[:3] == ["Customers", "Share of customers", "Share of revenue"]
    assert labels[-1] == "Recommended action"


def test_customer_table_data(customers_result: Any) -> None:
    data = build_report_data(customers_result)
    assert not data["segments"]["has_revenue"]
    assert data["cleaning"]["dropped"] == []
    assert data["cleaning"]["balanced"]
    assert data["cleaning"]["check"] == "Check: 90 rows read = 90 kept + 0 dropped."
    roles = {r["role"]: r["column"] for r in data["roles"]}
    assert roles["Customer id"] == "customer_id"
    assert roles["Categorical attributes"] == "region"
    region = next(r for r in data["profiles"]["rows"] if r["label"] == "Region")
    assert region["note"] == "most common"
    assert set(region["cells"]) <= {"North", "South", "East"}


def test_cleaning_that_does_not_add_up_is_reported(customers_result: Any) -> None:
    metrics = {**customers_result.metrics}
    metrics["cleaning"] = {**metrics["cleaning"], "rows_in": 95}
    data = build_report_data(dataclasses.replace(customers_result, metrics=metrics))
    assert not data["cleaning"]["balanced"]
    assert "5 rows unaccounted for" in data["cleaning"]["check"]


def test_sampled_silhouette_is_said(customers_result: Any) -> None:
    metrics = {**customers_result.metrics, "silhouette_sampled": True}
    metrics["silhouette_sample_size"] = 50
    data = build_report_data(dataclasses.replace(customers_result, metrics=metrics))
    note = data["k_selection"]["silhouette_note"]
    assert note.startswith("Silhouette was computed on a seeded random sample of 50 of the 90")
    assert note in data["limitations"][2]
    assert note in render_report(dataclasses.replace(customers_result, metrics=metrics))
    assert "no sampling" in build_report_data(customers_result)["k_selection"]["silhouette_note"]


def test_large_map_is_sampled_and_says_so(customers_result: Any) -> None:
    n = MAP_MAX_POINTS + 700
    rng = np.random.default_rng(0)
    big = dataclasses.replace(
        customers_result,
        model_inputs=rng.normal(size=(n, 3)),
        labels=rng.integers(0, customers_result.metrics["k"], size=n),
    )
    data = build_report_data(big)
    assert data["map"]["sampled"]
    assert len(data["map"]["x"]) == data["map"]["n_shown"] == MAP_MAX_POINTS
    assert data["map"]["note"].startswith(
        f"The map shows a seeded random sample of {MAP_MAX_POINTS:,} of the {n:,} customers"
    )
    assert any(data["map"]["note"] in item for item in data["limitations"])
    assert build_report_data(big)["map"] == data["map"]


def test_small_segments_are_named(customers_result: Any) -> None:
    profiles = customers_result.profiles.copy()
    profiles.loc[profiles.index[-1], "share"] = 0.03
    data = build_report_data(dataclasses.replace(customers_result, profiles=profiles))
    name = profiles["segment_name"].iloc[-1]
    assert any("(3.0%)" in item and name in item for item in data["limitations"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2195.1, "2,195"), (360.98, "361"), (20.0, "20"), (12.345, "12.3"), (0.0024, "0.0024")],
)
def test_format_number(value: float, expected: str) -> None:
    assert format_number(value) == expected


def test_formats() -> None:
    assert format_number(1973.0, grouping=False) == "1973"
    assert format_number(float("nan")) == "–"
    assert format_count(541909) == "541,909"
    assert (format_share(0.358791), format_share(0.0004), format_share(None)) == (
        "35.9%",
        "<0.1%",
        "–",
    )
    assert (format_metric(0.263252), format_metric(1747.78)) == ("0.263", "1,748")


# ---------------------------------------------------------------- the page


@pytest.mark.parametrize(
    "name", ["transactions_result", "customers_result", "hierarchical_result", "noise_result"]
)
def test_report_has_every_section(name: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(name)
    page = render_report(result)
    assert page.startswith("<!DOCTYPE html>")
    data = build_report_data(result)
    sections = expected_sections(data)
    for number, key in sections:
        assert f"<h2>{number}. {SECTION_TITLES[key]}</h2>" in page
    assert sections[0] == ("1", "summary")
    # the first layer comes first, the appendix after it, in the order of SECTION_TITLES
    positions = [page.index(f"<h2>{n}. {SECTION_TITLES[k]}</h2>") for n, k in sections]
    assert positions == sorted(positions)
    assert figure_ids(page) == expected_figures(data)
    assert page.count('class="plotly-graph-div"') == n_figures(data)
    kind = result.metrics["kind"]
    transactions = {"activity", "orders", "rfm_grid"}
    assert (transactions <= figure_ids(page)) == (kind == "transactions")


def test_transactions_report_shows_revenue_and_cleaning(transactions_result: Any) -> None:
    page = render_report(transactions_result)
    assert "Share of revenue" in page
    assert "✓ Check:" in page
    for drop in transactions_result.metrics["cleaning"]["dropped"]:
        assert drop["description"].replace("'", "&#39;") in page


def test_report_is_self_contained(transactions_result: Any) -> None:
    page = render_report(transactions_result)
    rest = _body(page)
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref\s*=", page, re.IGNORECASE)
    assert not re.search(r"<img[^>]*\ssrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(|@font-face", rest, re.IGNORECASE)
    assert "http://" not in rest and "https://" not in rest
    assert "mathjax" not in rest.lower()
    assert '"displaylogo": false' in page
    # plotly.js is embedded exactly once.
    assert page.count(str(plotly_js())[:200]) == 1
    assert len(page.encode()) < 10_000_000


def test_report_is_deterministic(customers_result: Any) -> None:
    assert render_report(customers_result) == render_report(customers_result)


def test_save_writes_the_report(customers_result: Any, tmp_path: Any) -> None:
    out = customers_result.save(tmp_path / "out")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page == render_report(customers_result)


def test_fixed_k_report() -> None:
    lines, _ = custseg.datasets.make_transactions(120, n_segments=3, seed=1)
    result = custseg.segment(lines, k=3, seed=0)
    data = build_report_data(result)
    assert len(data["k_selection"]["rows"]) == 1
    assert data["k_selection"]["elbow_k"] is None
    assert "k was fixed at 3 by the user" in render_report(result)


# ---------------------------------------------------------------- algorithms, tree and noise


def _table(page: str, css_class: str) -> str:
    match = re.search(rf'<table class="{css_class}">(.*?)</table>', page, re.DOTALL)
    assert match, f"no {css_class} table"
    return match.group(1)


def test_leaderboard_has_one_row_per_entry(transactions_result: Any) -> None:
    metrics = transactions_result.metrics
    board = metrics["leaderboard"]
    assert len({r["algorithm"] for r in board}) > 1
    data = build_report_data(transactions_result)
    ks = data["k_selection"]
    rows = ks["leaderboard"]["rows"]
    assert len(rows) == len(board)
    assert [r["recommended"] for r in rows] == [bool(r["recommended"]) for r in board]
    assert sum(r["status"] == "recommended" for r in rows) == 1
    assert sum(r["family_choice"] for r in rows) == len({r["algorithm"] for r in board})
    assert ks["leaderboard"]["has_bic"]  # the Gaussian mixture was compared
    page = render_report(transactions_result)
    body = _table(page, "leaderboard").split("<tbody>", 1)[1]
    assert body.count("<tr") == len(board)
    assert body.count('class="chosen') == 1
    for row in board:
        if row["excluded"]:
            assert escaped(row["excluded"]) in body
    # The recommendation, how the chosen family chose its k, and the new metrics in words.
    assert escaped(metrics["selection_reason"].strip()) in page
    assert escaped(metrics["family_reason"]) in page
    names = [m["name"] for m in ks["explanations"]]
    assert "Stability" in names and any(n.startswith("BIC") for n in names)
    assert "k-means was fitted for every k from 2 to 10" in " ".join(ks["settings"])


def test_settings_and_titles_name_the_chosen_family(hierarchical_result: Any) -> None:
    data = build_report_data(hierarchical_result)
    ks = data["k_selection"]
    settings = " ".join(ks["settings"])
    assert "Hierarchical clustering (ward linkage) was fitted for every k from 2 to 10" in settings
    assert "k-means" not in settings
    assert ks["family_heading"] == "Hierarchical clustering: every candidate k"
    assert "found by hierarchical clustering" in data["summary"][0]
    assert not data["limitations"][0].startswith("k-means")
    fig = k_selection_figure(
        ks["plot_rows"], ks["chosen_k"], ks["elbow_k"], algorithm_label=ks["algorithm_title"]
    )
    assert fig.layout.title.text.startswith("Hierarchical clustering:")


def test_selection_notes_are_shown(customers_result: Any) -> None:
    note = (
        "Gaussian mixture fitted on a seeded sample of 20,000 of the 50,000 customers; "
        "the rest were assigned by its scoring rule"
    )
    metrics = {**customers_result.metrics, "selection_notes": [note]}
    result = dataclasses.replace(customers_result, metrics=metrics)
    data = build_report_data(result)
    assert data["k_selection"]["notes"] == [note + "."]
    assert data["k_selection"]["sample_notes"] == [note + "."]
    assert note in data["limitations"][2]
    page = render_report(result)
    assert re.search(
        r'<div class="note warn">\s*<ul class="tight notes"><li>' + re.escape(note), page
    )


def test_dendrogram_for_hierarchical_only(
    hierarchical_result: Any, transactions_result: Any
) -> None:
    estimator = hierarchical_result.model.estimator
    data = build_report_data(hierarchical_result)
    tree = data["dendrogram"]
    assert tree is not None
    assert len(tree["linkage"]) == len(estimator.tree_) == tree["n_fit"] - 1
    assert sorted(set(tree["point_segments"])) == list(range(hierarchical_result.metrics["k"]))
    assert not tree["sampled"]
    assert tree["note"] == "The tree was built on all 300 customers."
    page = render_report(hierarchical_result)
    assert 'id="figure-dendrogram"' in page
    assert "The merge tree (dendrogram)" in page
    assert build_report_data(transactions_result)["dendrogram"] is None
    other = render_report(transactions_result)
    assert "figure-dendrogram" not in other and "The merge tree" not in other


def test_sampled_tree_is_said(hierarchical_result: Any) -> None:
    model = copy.copy(hierarchical_result.model)
    model.estimator = copy.copy(model.estimator)
    model.estimator.sampled_ = True
    metrics = {**hierarchical_result.metrics, "n_customers": 9_000}
    result = dataclasses.replace(hierarchical_result, model=model, metrics=metrics)
    data = build_report_data(result)
    note = data["dendrogram"]["note"]
    assert note.startswith("The tree was built on a seeded random sample of 300 of the 9,000")
    assert note in data["limitations"][2]
    assert note in render_report(result)


def test_density_result_with_noise(noise_result: Any) -> None:
    metrics = noise_result.metrics
    k = metrics["k"]
    assert -1 in set(noise_result.profiles["segment"])
    data = build_report_data(noise_result)
    rows = data["segments"]["rows"]
    assert [r["segment"] for r in rows] == [*range(k), -1]
    assert rows[-1]["noise"] and rows[-1]["name"] == "Outliers: very large accounts"
    assert not rows[-1]["small"]
    assert [c["segment"] for c in data["profiles"]["columns"]] == [*range(k), -1]
    assert all(len(r["cells"]) == k + 1 for r in data["profiles"]["rows"])
    assert "belong to no segment" in " ".join(data["summary"])
    assert any("segment -1, Outliers: very large accounts" in item for item in data["limitations"])
    assert not any("-1 · Noise (" in item for item in data["limitations"])
    ks = data["k_selection"]
    assert not ks["show_curve"] and not ks["show_candidates"]
    assert ks["leaderboard"]["has_noise"]
    page = render_report(noise_result)
    assert '<tr class="noise">' in page
    assert figure_ids(page) == expected_figures(data)
    assert "k_selection" not in figure_ids(page)
    assert escaped(metrics["family_reason"]) in page


# ---------------------------------------------------------------- escaping


def test_customer_strings_are_escaped(xss_result: Any) -> None:
    page = render_report(xss_result)
    # The strings really reached the report (column name, category, segment names).
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert SCRIPT not in page
    assert IMG not in page
    assert "<img" not in page.lower()
    body = page.split("</head>", 1)[1]
    # Only the figures' own scripts: a name cannot open or close a script element.
    # (plus the page's own script that fits the figures to the paper when printing and
    # picks two segments to compare, and the comparison's JSON data).
    figures = n_figures(build_report_data(xss_result)) + 2
    assert len(re.findall(r"<script", body, re.IGNORECASE)) == figures
    assert len(re.findall(r"</script", body, re.IGNORECASE)) == figures
    assert 'window.addEventListener("beforeprint", fit);' in body


def test_figure_json_cannot_close_its_script() -> None:
    name = "</script><script>alert(2)</script>"
    fig = segment_map_figure(np.zeros((2, 2)), np.array([0, 1]), [name, IMG])
    snippet = str(figure_html(fig, "figure-test"))
    assert snippet.lower().count("</script") == 1
    assert snippet.lower().count("<script") == 1
    assert "<img" not in snippet.lower()
    # plotly shows the escaped name literally (it decodes &lt; but reads no tags).
    assert plot_text(name) in json.dumps([t.name for t in fig.data])


def test_plotly_bundle_cannot_close_its_script() -> None:
    assert "</script" not in str(plotly_js()).lower()


# ---------------------------------------------------------------- the figures


def test_k_selection_figure_marks_chosen_and_elbow() -> None:
    rows = [
        {"k": k, "inertia": 100 / k, "silhouette": 0.3, "davies_bouldin": 1.0} for k in (2, 3, 4, 5)
    ]
    fig = k_selection_figure(rows, chosen_k=3, elbow_k=4)
    names = [t.name for t in fig.data]
    assert "chosen k = 3" in names
    assert "elbow of WCSS at k = 4" in names
    elbow = next(t for t in fig.data if t.name == "elbow of WCSS at k = 4")
    assert list(elbow.x) == [4] and list(elbow.y) == [25.0]
    # A missing metric is drawn as a gap, not an error.
    ch = [t for t in fig.data if t.xaxis == "x4" and t.mode == "lines+markers"][0]
    assert list(ch.y) == [None] * 4


def test_segment_map_samples_deterministically() -> None:
    n = MAP_MAX_POINTS + 10
    coords = np.random.default_rng(0).normal(size=(n, 2))
    labels = np.arange(n) % 3
    fig = segment_map_figure(coords, labels, {0: "A", 1: "B", 2: "C"}, seed=4)
    assert sum(len(t.x) for t in fig.data) == MAP_MAX_POINTS
    assert np.array_equal(sample_indices(n, seed=4), sample_indices(n, seed=4))
    assert [t.name for t in fig.data] == ["0 · A", "1 · B", "2 · C"]


def test_segment_sizes_figure() -> None:
    rows = [
        {"segment": 0, "segment_name": "A", "share": 0.25, "revenue_share": 0.75},
        {"segment": 1, "segment_name": "B", "share": 0.75, "revenue_share": 0.25},
    ]
    fig = segment_sizes_figure(pd.DataFrame(rows))
    assert [list(t.x) for t in fig.data] == [[25.0, 75.0], [75.0, 25.0]]
    only_customers = segment_sizes_figure([{k: r[k] for k in list(r)[:3]} for r in rows])
    assert [t.name for t in only_customers.data] == ["share of customers"]
    spend = segment_sizes_figure(rows, value_label="spend")
    assert [t.name for t in spend.data] == ["share of customers", "share of spend"]


def test_k_selection_figure_shows_bic_for_a_mixture() -> None:
    rows = [
        {"k": k, "inertia": 100 / k, "bic": b, "silhouette": 0.3, "davies_bouldin": 1.0}
        for k, b in ((2, 50.0), (3, 10.0), (4, 30.0))
    ]
    fig = k_selection_figure(rows, chosen_k=3, elbow_k=None, algorithm_label="Gaussian mixture")
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "BIC (lower is better)"
    assert fig.layout.title.text.startswith("Gaussian mixture:")
    chosen = next(t for t in fig.data if t.name == "chosen k = 3")
    assert list(chosen.y) == [10.0]


def test_dendrogram_figure() -> None:
    tree = [[0, 1, 1.0, 2], [2, 3, 2.0, 2], [4, 5, 6.0, 4]]
    assert cut_height(tree, 2) == 4.0
    assert cut_height(tree, 1) is None and cut_height(tree, 9) is None
    fig = dendrogram_figure(
        tree, k=2, point_segments=[0, 0, 1, 1], names={0: "A", 1: SCRIPT}, linkage_label="ward"
    )
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["0 · A", f"1 · {plot_text(SCRIPT)}", "above the cut", "cut into 2 segments"]
    cut = next(t for t in fig.data if t.name == "cut into 2 segments")
    assert list(cut.y) == [4.0, 4.0]
    assert "ward" in fig.layout.yaxis.title.text
    # Without segments or k: one grey tree, no cut.
    plain = dendrogram_figure(np.asarray(tree))
    assert [t.mode for t in plain.data] == ["lines", "markers"]
    # Large trees are truncated to 30 leaves.
    from scipy.cluster.hierarchy import linkage

    big = linkage(np.random.default_rng(0).normal(size=(200, 2)), "ward")
    assert len(dendrogram_figure(big, k=3).data[-2].x) == 30
