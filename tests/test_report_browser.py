"""The report in a real browser (headless Chromium): every chart draws, nothing is fetched,
no error is logged and no script from the data runs. Skipped without playwright/chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_report import xss_customers

import custseg

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
    """Plotly figures the report holds (3 to 4: the k curve is left out for one candidate,
    a dendrogram is added for hierarchical clustering)."""
    return path.read_text(encoding="utf-8").count('class="plotly-graph-div"')


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
    page.close()
    return {**seen, "drawn": drawn, "legend": legend}


@pytest.mark.slow
def test_report_opens_offline_and_runs_no_data_script(browser: Any, tmp_path: Path) -> None:
    result = custseg.segment(xss_customers(), seed=0)
    out = result.save(tmp_path / "out")
    seen = open_report(browser, out / "report.html")
    assert seen["errors"] == []
    assert seen["dialogs"] == []
    assert seen["requests"] == [(out / "report.html").as_uri()]
    assert seen["drawn"] == n_figures(out / "report.html") >= 3
    # Segment names built from the HTML column name show as text in the legend.
    assert any("<script>alert" in text for text in seen["legend"])


@pytest.mark.slow
def test_hierarchical_report_draws_its_dendrogram(browser: Any, tmp_path: Path) -> None:
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=0)
    result = custseg.segment(lines, algorithm="hierarchical", seed=0)
    out = result.save(tmp_path / "out")
    seen = open_report(browser, out / "report.html")
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["requests"] == [(out / "report.html").as_uri()]
    assert seen["drawn"] == n_figures(out / "report.html") == 4
