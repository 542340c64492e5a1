"""``custseg app`` in a real browser (headless Chromium): upload mall_customers.csv, segment,
see the segments table, no traceback. Skipped without playwright, Chromium, Streamlit or the
shared data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_data_dir
from test_report_browser import CHROMIUM, CHROMIUM_ARGS

pytest.importorskip("streamlit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"custseg app exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"custseg app did not answer at {url} within {timeout:.0f} s")


def wait_idle(page: Any, timeout_ms: int = 300_000) -> None:
    """Wait until Streamlit has finished running the script (its 'running' widget is gone)."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


@pytest.mark.slow
def test_upload_and_segment_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    data = shared_data_dir() / "mall_customers.csv"
    if not data.exists():
        pytest.skip(f"{data} not found (set CUSTSEG_DATA)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from custseg.cli import run; sys.argv[0] = 'custseg'; run()",
            "app",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        wait_until_up(url, server)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url, wait_until="load")
                page.get_by_text("Upload a file", exact=True).wait_for(timeout=60_000)
                page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(data))
                page.get_by_text("Read as customers", exact=False).first.wait_for(timeout=120_000)
                wait_idle(page)
                page.get_by_role("link", name="Segment", exact=True).first.click()
                page.get_by_role("button", name="Segment").click()
                page.get_by_text("Recommendation", exact=True).wait_for(timeout=300_000)
                wait_idle(page)
                page.get_by_role("link", name="Segments", exact=True).first.click()
                table = page.locator('[data-testid="stTable"]').first
                table.wait_for(timeout=120_000)
                wait_idle(page)
                assert "customers" in table.inner_text()
                assert table.locator("tbody tr").count() >= 2
                body = page.inner_text("body")
                assert "Traceback" not in body
                assert "Internal error" not in body
                assert not errors
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
