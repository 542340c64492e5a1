"""The report in a real browser (headless Chromium): every chart draws, nothing is fetched,
no error is logged and no script from the data runs. Skipped without playwright/chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_report import IMG, SCRIPT, xss_customers

import custseg
from custseg.report import SECTION_TITLES
from custseg.report.summary import APPENDIX

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def n_figures(path: Path) -> int:
    """Plotly figures the report holds (their number depends on the data)."""
    return path.read_text(encoding="utf-8").count('class="plotly-graph-div"')


def xss_lines(folder: Path) -> Path:
    """Invoice lines whose file name, descriptions, countries and ids are HTML."""
    lines, _ = custseg.datasets.make_transactions(200, n_segments=3, seed=1)
    lines["Description"] = IMG
    lines["Country"] = [SCRIPT if i % 3 else IMG for i in range(len(lines))]
    lines["CustomerID"] = lines["CustomerID"].astype(str) + "<b>"
    path = folder / f"{IMG}.csv"
    lines.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def open_report(browser: Any, path: Path) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen: dict[str, list[str]] = {"errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))

    def dialog(d: Any) -> None:
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_figures(path)}",
        timeout=15_000,
    )
    drawn = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')]"
        ".filter(el => el.querySelector('svg.main-svg')).length"
    )
    legend = page.evaluate(
        "[...document.querySelectorAll('#figure-map .legendtext')].map(el => el.textContent)"
    )
    # Every section is laid out with a visible heading and some height; every figure has
    # drawn something (an SVG with a size) rather than an empty box.
    sections = page.evaluate(
        "[...document.querySelectorAll('section')].map(s => ({id: s.id, "
        "h2: s.querySelector('h2').textContent, height: s.getBoundingClientRect().height}))"
    )
    empty = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')].filter(el => "
        "el.getBoundingClientRect().height < 50).map(el => el.id)"
    )
    images = page.evaluate("document.querySelectorAll('img').length")
    page.close()
    return {
        **seen,
        "drawn": drawn,
        "legend": legend,
        "sections": sections,
        "empty": empty,
        "images": images,
    }


def check_page(seen: dict[str, Any], path: Path) -> None:
    """No error, no dialog, no request but the page itself, all sections and figures."""
    assert seen["errors"] == []
    assert seen["dialogs"] == []
    assert seen["requests"] == [path.as_uri()]
    ids = [s["id"] for s in seen["sections"]]
    assert ids == [k for k in SECTION_TITLES if k in ids]
    assert set(SECTION_TITLES) - set(ids) <= {"new_customers", "compare"}
    main = [k for k in ids if k not in APPENDIX]
    appendix = [k for k in ids if k in APPENDIX]
    assert [s["h2"] for s in seen["sections"]] == [
        f"{i}. {SECTION_TITLES[k]}" for i, k in enumerate(main, start=1)
    ] + [f"{chr(ord('A') + i)}. {SECTION_TITLES[k]}" for i, k in enumerate(appendix)]
    assert all(s["height"] > 100 for s in seen["sections"])
    assert seen["drawn"] == n_figures(path)
    assert seen["empty"] == []
    assert seen["images"] == 0


@pytest.mark.slow
def test_report_opens_offline_and_runs_no_data_script(browser: Any, tmp_path: Path) -> None:
    result = custseg.segment(xss_customers(), seed=0)
    out = result.save(tmp_path / "out")
    seen = open_report(browser, out / "report.html")
    check_page(seen, out / "report.html")
    assert seen["drawn"] >= 10
    # Segment names built from the HTML column name show as text in the legend.
    assert any("<script>alert" in text for text in seen["legend"])


@pytest.mark.slow
def test_transactions_with_html_in_every_field(browser: Any, tmp_path: Path) -> None:
    result = custseg.segment(xss_lines(tmp_path), algorithm="kmeans", seed=0)
    out = result.save(tmp_path / "out")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in page  # the file name, as text
    seen = open_report(browser, out / "report.html")
    check_page(seen, out / "report.html")
    assert "new_customers" in [s["id"] for s in seen["sections"]]
    # Sales by month, orders per customer, countries and the RFM grid drew too.
    assert {"figure-activity", "figure-orders", "figure-categories", "figure-rfm_grid"} <= set(
        re.findall(r'id="(figure-[\w-]+)"', page)
    )


@pytest.mark.slow
def test_hierarchical_report_draws_its_dendrogram(browser: Any, tmp_path: Path) -> None:
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=0)
    result = custseg.segment(lines, algorithm="hierarchical", seed=0)
    out = result.save(tmp_path / "out")
    seen = open_report(browser, out / "report.html")
    check_page(seen, out / "report.html")
    assert 'id="figure-dendrogram"' in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_executive_summary_and_compare_picker(browser: Any, tmp_path: Path) -> None:
    """The first screen is the executive summary in plain words; picking two other segments
    redraws the comparison."""
    lines, _ = custseg.datasets.make_transactions(400, n_segments=4, seed=3)
    result = custseg.segment(lines, seed=0, k=4, new_customers=False, currency="GBP")
    out = result.save(tmp_path / "out")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").as_uri(), wait_until="load")
    summary = page.locator("section#summary")
    assert summary.locator("h2").inner_text() == "1. Executive summary"
    assert summary.locator(".seg-card").count() == 4
    text = summary.inner_text()
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text), text  # no snake_case feature name
    assert "£" in text and "How clear the segments are" in text
    for word in ("silhouette", "Davies", "ARI"):
        assert word not in text
    # The summary starts in the first screen.
    assert summary.bounding_box()["y"] < 400
    table = page.locator("#compare-table")
    before = table.inner_text()
    first = page.locator("#compare-a").input_value()
    second = page.locator("#compare-b").input_value()
    others = [s for s in ("0", "1", "2", "3") if s not in (first, second)]
    page.select_option("#compare-a", others[0])
    page.select_option("#compare-b", others[1])
    after = table.inner_text()
    assert after != before
    names = dict(
        zip(result.profiles["segment"].astype(str), result.profiles["segment_name"], strict=True)
    )
    assert names[others[0]] in page.locator("#compare-head-a").inner_text()
    assert names[others[1]] in page.locator("#compare-head-b").inner_text()
    # The same segment on both sides: the other side takes the one this side left (a swap),
    # and the better-side marks follow their values.
    page.select_option("#compare-a", others[1])
    assert page.locator("#compare-b").input_value() == others[0]
    assert names[others[0]] in page.locator("#compare-head-b").inner_text()
    swapped = [
        [cell.inner_text() for cell in row.locator("td").all()]
        for row in table.locator("tbody tr").all()
    ]
    page.select_option("#compare-a", others[0])
    straight = [
        [cell.inner_text() for cell in row.locator("td").all()]
        for row in table.locator("tbody tr").all()
    ]
    assert swapped == [row[::-1] for row in straight]
    assert any("▲" in cell for row in straight for cell in row)
    assert errors == []
    page.close()
