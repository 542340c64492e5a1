"""Drive the app in a real browser: a server on a free port and page timing.

Shared by ``tests/test_app_browser.py`` and ``benchmarks/bench_app.py``; it needs Playwright
only for the functions that take a ``page`` (a ``playwright.sync_api.Page``), and imports it
nowhere itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
"""The browser the tests and the benchmark drive (Debian's ``apt-get install chromium``)."""


def launch(playwright: Any) -> Any:
    """Headless :data:`CHROMIUM` started by ``playwright`` (what ``sync_playwright()``
    yields). No sandbox, as :mod:`custseg.report.pdf` prints: it needs user namespaces, which
    containers often lack; Playwright's own switches already turn off background networking,
    updates and first-run screens."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False
    )


PAGE_TITLES = {
    "Data": "Customer segments",
    "Explore": "Explore",
    "Segment": "Segment",
    "Segments": "Segments",
    "Compare": "Compare segments",
    "Score new customers": "Score new customers",
    "Download": "Download",
}
"""Each page's link in the sidebar and the title it shows."""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"custseg app exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"custseg app did not answer at {url} within {timeout:.0f} s")


@contextmanager
def served(folder: Path, timeout: float = 120) -> Iterator[str]:
    """Run ``custseg app`` on a free port of 127.0.0.1 (working directory, home and server
    log in ``folder``) and yield its URL; the server is stopped on the way out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (folder / "server.log").open("wb") as log:
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
            cwd=folder,
            env={**os.environ, "HOME": str(folder)},
        )
        try:
            _wait_until_up(url, server, timeout)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


_COUNT_RUNS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!window.custsegRuns) {
    window.custsegRuns = {n: 0};
    new MutationObserver(() => {
      if (app.getAttribute('data-test-script-state') === 'running') window.custsegRuns.n++;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  }
  return window.custsegRuns.n;
}"""
"""Count the script runs the page sees (Streamlit marks its root element while one runs)."""

_TITLE = """() => {
  const title = document.querySelector('[data-testid="stMain"] h1');
  return title ? title.textContent.trim() : '';
}"""

_DRAWN = """([before, titleBefore, titles, text]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  const title = main.querySelector('h1');
  const shown = title ? title.textContent.trim() : '';
  if (!titles.includes(shown)) return false;
  const changed = window.custsegRuns.n > before || shown !== titleBefore;
  if (!changed && !(text && main.innerText.includes(text))) return false;
  if (main.querySelector('[data-testid="stSkeleton"]')) return false;
  for (const chart of main.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return true;
}"""
"""True once the script run the click started has finished (a run was seen, the title
changed, or ``text`` shows), the running indicator is gone, the page shows one of ``titles``
and every chart is drawn. A fast run can start and end between two frames, so seeing the
root element marked as running is not required."""

_STATE = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return {
    runs: window.custsegRuns.n,
    state: document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state'),
    running: !!document.querySelector('[data-testid="stStatusWidget"]'),
    titles: [...main.querySelectorAll('h1')].map(h => h.textContent.trim()),
    skeletons: main.querySelectorAll('[data-testid="stSkeleton"]').length,
    charts: [...main.querySelectorAll('[data-testid="stPlotlyChart"]')].map(
      c => !!c.querySelector('.main-svg')),
  };
}"""
"""What :data:`_DRAWN` looks at, for the message of a page that was not drawn."""


def timed(
    page: Any,
    action: Any,
    titles: list[str],
    timeout_ms: float = 300_000,
    text: str | None = None,
) -> float:
    """Seconds from ``action()`` (a click that starts a script run) until the page is drawn:
    the run has finished, Streamlit's running indicator is gone, the main area shows one of
    ``titles`` (and ``text``, when the title stays the same) and every Plotly chart in it is
    drawn."""
    before = page.evaluate(_COUNT_RUNS)
    title_before = page.evaluate(_TITLE)
    started = time.perf_counter()
    action()
    try:
        page.wait_for_function(
            _DRAWN, arg=[before, title_before, titles, text], polling="raf", timeout=timeout_ms
        )
    except Exception as exc:
        raise RuntimeError(
            f"The page was not drawn with a title in {titles} within {timeout_ms / 1000:.0f} s; "
            f"runs before the click {before}, now: {page.evaluate(_STATE)}"
        ) from exc
    return time.perf_counter() - started


def go_to(page: Any, link: str, timeout_ms: float = 300_000) -> float:
    """Open a page through its sidebar link (the session keeps its data); returns the seconds
    until it is drawn (see :func:`timed`)."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    target = sidebar.get_by_role("link", name=link, exact=True)
    return timed(page, target.click, [PAGE_TITLES[link]], timeout_ms)


def open_app(page: Any, url: str, timeout_ms: float = 120_000) -> None:
    """Load the app in ``page`` and wait until its first page is drawn."""
    page.goto(url, wait_until="load")
    page.get_by_text("Upload a file", exact=True).wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout_ms,
    )
    page.evaluate(_COUNT_RUNS)


def use_demo_data(page: Any, timeout_ms: float = 300_000) -> float:
    """Choose *Use the demo data* on the Data page; returns the seconds until it is drawn."""
    return timed(
        page,
        page.get_by_role("radiogroup").get_by_text("Use the demo data", exact=True).click,
        [PAGE_TITLES["Data"]],
        timeout_ms,
        text="Preview",
    )


def upload_data(page: Any, path: Path, timeout_ms: float = 600_000) -> float:
    """Upload ``path`` on the Data page; returns the seconds until it is read and drawn."""
    dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    return timed(
        page,
        lambda: dropzone.set_input_files(str(path)),
        [PAGE_TITLES["Data"]],
        timeout_ms,
        text="Read as",
    )


def choose_algorithm(page: Any, label: str) -> None:
    """Pick the algorithm shown as ``label`` (such as ``k-means``) on the Segment page."""
    page.get_by_role("combobox", name="Algorithm").click()
    page.get_by_role("option", name=label, exact=True).click()


def run_segmentation(page: Any, timeout_ms: float = 600_000) -> float:
    """Press *Segment* on the Segment page; returns the seconds until the result is drawn
    (on the Segments page, where a finished run goes)."""
    button = page.get_by_role("button", name="Segment", exact=True)
    titles = [PAGE_TITLES["Segment"], PAGE_TITLES["Segments"]]
    return timed(page, button.click, titles, timeout_ms, text="Candidates compared")
