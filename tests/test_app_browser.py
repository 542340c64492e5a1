"""``custseg app`` in a real browser (headless Chromium): upload mall_customers.csv, segment,
land on the Segments page, rename a segment, download; no traceback. Skipped without
playwright, Chromium, Streamlit or the shared data.

With ``CUSTSEG_SCREENSHOTS=1`` it saves the Segments page after the run to
``docs/images/app-segments.png`` (the user guide's picture); otherwise it writes nothing
outside its temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import REPO, shared_data_dir

pytest.importorskip("streamlit")

from custseg.app import _browser  # noqa: E402

SCREENSHOT = REPO / "docs" / "images" / "app-segments.png"


@pytest.mark.slow
def test_upload_segment_rename_download_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not _browser.CHROMIUM.exists():
        pytest.skip(f"no Chromium at {_browser.CHROMIUM} (apt-get install chromium)")
    data = shared_data_dir() / "mall_customers.csv"
    if not data.exists():
        pytest.skip(f"{data} not found (set CUSTSEG_DATA)")
    with _browser.served(tmp_path) as url, sync_api.sync_playwright() as p:
        browser = _browser.launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1350})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _browser.open_app(page, url)
            _browser.upload_data(page, data)
            assert "Read as customers" in page.inner_text('[data-testid="stMain"]')

            # A finished run goes straight to the named segments.
            _browser.go_to(page, "Segment")
            _browser.run_segmentation(page)
            main = page.locator('[data-testid="stMain"]')
            assert main.locator("h1").first.inner_text().strip() == "Segments"
            assert "Segmented in" in main.inner_text()
            table = main.locator('[data-testid="stTable"]').first
            assert "customers" in table.inner_text()
            assert table.locator("tbody tr").count() >= 2
            if os.environ.get("CUSTSEG_SCREENSHOTS") == "1":
                page.mouse.move(1279, 1349)  # no hover effect in the picture
                page.screenshot(path=str(SCREENSHOT))

            # Renaming at the top of the page confirms old -> new and shows the new name.
            first_name = table.locator("tbody tr").first.locator("td").nth(1).inner_text()
            main.get_by_label("New name").fill("Big spenders")
            _browser.timed(
                page, main.get_by_role("button", name="Apply").click, ["Segments"], text="→"
            )
            assert f"'{first_name.strip()}' → 'Big spenders'" in main.inner_text()
            assert "Big spenders" in main.locator('[data-testid="stTable"]').first.inner_text()

            _browser.go_to(page, "Download")
            labels = main.locator('[data-testid="stDownloadButton"]').all_inner_texts()
            assert any("segments.csv" in label for label in labels)
            assert any("Big spenders" in label for label in labels)

            body = page.inner_text("body")
            assert "Traceback" not in body
            assert "Internal error" not in body
            assert not errors
        finally:
            browser.close()
