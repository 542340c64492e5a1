"""Benchmark drawing the web app's pages in a browser, after a segmentation of the demo data.

Starts ``custseg app`` (``streamlit run``, headless) on a free port, opens it in headless
Chromium (Playwright, ``/usr/bin/chromium``), chooses *Use the demo data*, runs the
segmentation (``--algorithm``, default auto), then visits every page ``--repeats`` times
through the sidebar, in the sidebar's order, and prints per page the median seconds, the
first visit's and the slowest; and, for the Download page, its first visit straight after the
run (when its files may still be being written) against the later ones. A visit's time runs
from the click on the page's link until the script run has finished, Streamlit's running
indicator is gone, the page's title shows and every chart is drawn (see
``custseg.app._browser.timed``).

Usage::

    python benchmarks/bench_app.py [--repeats 3] [--algorithm auto] [--data FILE] [--markdown]

``--data`` uploads a file instead (such as the shared ``online_retail.csv``, with
``--algorithm kmeans``); the pages' limit of 2 s is for the demo data.

Results are recorded in ``docs/app.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _tables import Table

from custseg.app import _browser
from custseg.models.families import FAMILY_LABELS

PROBLEMS = (
    '[data-testid="stAlertContentError"], [data-testid="stException"], '
    '[data-testid="stAlertContentInfo"]:has-text("first")'
)
"""An error, or a hint to load data or segment first (the session lost its result)."""


def _problems(page: Any) -> list[str]:
    return [text.strip() for text in page.locator(PROBLEMS).all_inner_texts()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="visits of every page")
    parser.add_argument(
        "--algorithm", default="auto", choices=["auto", *FAMILY_LABELS], help="what to run"
    )
    parser.add_argument("--data", type=Path, help="a file to upload instead of the demo data")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {link: [] for link in _browser.PAGE_TITLES}
    errors: set[str] = set()
    with (
        tempfile.TemporaryDirectory(prefix="bench-app-") as folder,
        _browser.served(Path(folder)) as url,
        sync_playwright() as p,
    ):
        browser = _browser.launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(600_000)
        _browser.open_app(page, url)
        if args.data is None:
            read = _browser.use_demo_data(page)
        else:
            read = _browser.upload_data(page, args.data)
        _browser.go_to(page, "Segment")
        if args.algorithm != "auto":
            _browser.choose_algorithm(page, FAMILY_LABELS.get(args.algorithm, args.algorithm))
        run = _browser.run_segmentation(page)
        landed = page.locator('[data-testid="stMain"] h1').first.inner_text().strip()
        # The worst case of the Download page: straight after the run, its files perhaps
        # still being written.
        download_first = _browser.go_to(page, "Download")
        errors.update(f"Download: {text}" for text in _problems(page))
        sidebar = page.locator('[data-testid="stSidebar"]')
        for link in list(times):  # an older app, for a comparison, may lack a page
            if not sidebar.get_by_role("link", name=link, exact=True).count():
                del times[link]
        for _ in range(args.repeats):
            for link in times:
                times[link].append(_browser.go_to(page, link))
                errors.update(f"{link}: {text}" for text in _problems(page))
        browser.close()

    data = "the demo data" if args.data is None else args.data.name
    table = Table(
        f"Seconds to draw each page after a segmentation of {data} ({args.repeats} "
        f"visits each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
        ["page", "median", "first visit", "slowest"],
    )
    for link, seconds in times.items():
        table.add(
            link,
            f"{statistics.median(seconds):.2f}",
            f"{seconds[0]:.2f}",
            f"{max(seconds):.2f}",
        )
    table.print(args.markdown)
    print(
        f"\nDownload: first visit straight after the run {download_first:.2f} s, later visits "
        f"{statistics.median(times['Download']):.2f} s (median)."
        f"\nData read in {read:.1f} s; segmentation ({args.algorithm}) {run:.1f} s from "
        f"the click until the page '{landed}' was drawn. {time.strftime('%Y-%m-%d %H:%M')}"
    )
    for error in sorted(errors):
        print(f"error shown on {error}")


if __name__ == "__main__":
    main()
