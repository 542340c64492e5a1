"""Print the HTML report to a PDF with headless Chromium.

The report's charts are Plotly figures drawn by JavaScript when the page opens. An HTML-to-PDF
converter without a JavaScript engine (WeasyPrint, for one) would print an empty box in place
of every chart, so the PDF is printed by a real browser: Chromium, driven through the
Playwright Python package (``pip install "custseg[pdf]"``). No browser is ever downloaded; the
one used is the first found in :data:`BROWSER_NAMES` order (see :func:`find_browser`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from custseg.errors import CustsegError, InputError

# Paper sizes offered, with their size in millimetres (Chromium's names for page.pdf).
PAPERS: dict[str, tuple[str, float, float]] = {
    "a4": ("A4", 210.0, 297.0),
    "letter": ("Letter", 215.9, 279.4),
}
# White space around the page content, on every side: room for a printer's unprintable edge
# without wasting paper.
MARGIN_MM = 12.0
# Environment variable naming the browser executable, read when no browser is passed.
BROWSER_ENV = "CUSTSEG_CHROMIUM"
# Executables looked for on PATH, in this order, when neither a browser nor the variable is set.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# How long the report may take to open and draw its charts, and the browser to start: a large
# report (about 30 charts on a year of invoice lines) draws in a few seconds on two cores.
TIMEOUT_MS = 120_000
# Chromium shrinks content wider than the paper to fit, down to 1/1.5 of its size at most (wider
# content is cut off at the right edge); measured with Chromium 156.
MAX_SHRINK = 1.5
# One page object per page in Chromium's PDFs; "/Pages" (the page tree) is not one.
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_HOW_TO_GET_A_BROWSER = (
    "Install Chromium (Debian/Ubuntu: apt-get install chromium), pass the browser's path "
    "with --browser PATH (browser= in Python), or run 'playwright install chromium'."
)


def find_browser(browser: str | os.PathLike[str] | None = None) -> str | None:
    """The Chromium executable to print with, or None to use Playwright's own browser.

    Looks, in this order, at ``browser``, the environment variable ``CUSTSEG_CHROMIUM``, then
    ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable`` and
    ``chrome`` on PATH. A browser that is named (by ``browser`` or the variable) must exist.

    Parameters
    ----------
    browser : str or path, optional
        Path of a Chromium or Chrome executable.

    Returns
    -------
    str or None
        The executable's path; None when none was found, meaning Playwright's own installed
        browser (``playwright install chromium``) is the last one to try.

    Examples
    --------
    >>> find_browser("/no/such/chromium")
    Traceback (most recent call last):
    ...
    custseg.errors.InputError: Browser '/no/such/chromium' (--browser) does not exist or is not an executable file. ...
    """
    named = [(browser, "--browser"), (os.environ.get(BROWSER_ENV) or None, f"${BROWSER_ENV}")]
    for value, origin in named:
        if value is None:
            continue
        path = shutil.which(str(value))
        if path is None:
            raise InputError(
                f"Browser '{value}' ({origin}) does not exist or is not an executable file. "
                f"{_HOW_TO_GET_A_BROWSER}"
            )
        return path
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def _sync_playwright() -> Any:
    """Playwright's ``sync_playwright``, imported only when a PDF is asked for."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise InputError(
            "Printing the report to PDF needs the Python package playwright, which is not "
            f'installed ({exc}); install it with pip install "custseg[pdf]".'
        ) from exc
    return sync_playwright


def check_pdf_engine(*, paper: str = "a4", browser: str | os.PathLike[str] | None = None) -> str:
    """Fail early, before any work, when :func:`write_pdf` could not run; returns the paper key.

    Checks the paper, that playwright is installed and that a named browser exists (whether
    Playwright's own browser is installed is only known when it is started).

    Examples
    --------
    >>> check_pdf_engine(paper="Letter")  # doctest: +SKIP
    'letter'
    """
    key = str(paper).strip().lower()
    if key not in PAPERS:
        raise InputError(f"Paper '{paper}' is not known; use one of: {', '.join(PAPERS)}.")
    _sync_playwright()
    find_browser(browser)
    return key


def count_pages(pdf: bytes) -> int:
    """Pages of a PDF written by Chromium (one ``/Type /Page`` object each).

    Examples
    --------
    >>> count_pages(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type /Page >>")
    2
    """
    return len(_PAGE_OBJECT.findall(pdf))


def write_pdf(
    html_path: str | os.PathLike[str],
    pdf_path: str | os.PathLike[str],
    *,
    paper: str = "a4",
    browser: str | os.PathLike[str] | None = None,
) -> int:
    """Print an HTML report to a PDF with headless Chromium; returns the number of pages.

    The page is opened from its file, every Plotly chart is awaited, print media is emulated
    (the report's print stylesheet applies) and each chart is resized to the paper before
    printing, with backgrounds, 12 mm margins and no browser header or footer. Chromium, not
    WeasyPrint, prints it because the charts are drawn by JavaScript, which WeasyPrint does
    not run (it would print empty chart boxes). The file is written atomically.

    Parameters
    ----------
    html_path : str or path
        The report, e.g. ``out/report.html`` written by ``result.save("out")``.
    pdf_path : str or path
        The PDF to write; replaced if it exists.
    paper : {"a4", "letter"}, default "a4"
        Page size.
    browser : str or path, optional
        Chromium or Chrome executable; by default :func:`find_browser` looks at
        ``$CUSTSEG_CHROMIUM``, then on PATH, then Playwright's own browser is tried.

    Returns
    -------
    int
        Number of pages written.

    Raises
    ------
    InputError
        When playwright is not installed, no browser is found, the paper is unknown or the
        HTML file does not exist.

    Examples
    --------
    >>> import custseg
    >>> result = custseg.segment(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> out = result.save("out")  # doctest: +SKIP
    >>> write_pdf(out / "report.html", out / "report.pdf", paper="letter")  # doctest: +SKIP
    12
    """
    key = check_pdf_engine(paper=paper, browser=browser)
    source = Path(html_path)
    if not source.is_file():
        raise InputError(f"Report '{source}' does not exist. Run 'custseg report DIR' first.")
    pdf = _print(source.resolve().as_uri(), key, find_browser(browser))
    target = Path(pdf_path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(pdf)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return count_pages(pdf)


def _print(url: str, paper: str, executable: str | None) -> bytes:
    """The PDF bytes of the page at ``url``, printed by the browser ``executable``."""
    sync_playwright = _sync_playwright()
    from playwright.sync_api import Error as PlaywrightError

    name, width_mm, _ = PAPERS[paper]
    # Lay the page out as wide as the paper's printable width (CSS pixels are 1/96 inch), so
    # that charts resized to their container fit the paper instead of being cut off.
    width_px = round((width_mm - 2 * MARGIN_MM) / 25.4 * 96)
    with sync_playwright() as p:
        try:
            # Playwright's own switches already turn off background networking, updates and
            # first-run screens. No sandbox: it needs user namespaces, which containers often
            # lack, and the page is the report custseg wrote.
            launched = p.chromium.launch(
                executable_path=executable,
                headless=True,
                chromium_sandbox=False,
                timeout=TIMEOUT_MS,
            )
        except PlaywrightError as exc:
            raise InputError(_no_browser(executable, exc)) from exc
        try:
            page = launched.new_page(viewport={"width": width_px, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            # "networkidle" alone can return while a large file:// page is still being parsed,
            # with most charts not yet in the document: wait for "load" first.
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            page.wait_for_function(
                "document.readyState === 'complete' && [...document.querySelectorAll("
                "'.plotly-graph-div')].every(el => el.classList.contains('js-plotly-plot') "
                "&& el.querySelector('svg.main-svg'))"
            )
            page.emulate_media(media="print")
            # Chromium shrinks a page whose content is wider than the paper (a wide table) to
            # fit; lay it out that wide so that the charts shrink with it and still span the
            # page, instead of being drawn at the paper's width and then shrunk.
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width_px:
                wide = min(wide, int(MAX_SHRINK * width_px))
                page.set_viewport_size({"width": wide, "height": 1000})
                # Let the resize event reach the charts before resizing them below: a resize
                # that comes later cancels the one awaited there.
                page.evaluate(
                    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
                )
            # The report resizes its charts on "beforeprint", but Plotly redraws them 100 ms
            # later, after Chromium has laid out the pages: resize them now, under the print
            # stylesheet, and wait until they are redrawn.
            page.evaluate(
                "ms => Promise.race([Promise.all([...document.querySelectorAll('.js-plotly-plot')]"
                ".map(el => Plotly.Plots.resize(el))), new Promise((_, reject) => setTimeout("
                "() => reject(new Error('the charts were not redrawn in time')), ms))])",
                TIMEOUT_MS,
            )
            margin = f"{MARGIN_MM:g}mm"
            pdf: bytes = page.pdf(
                format=name,
                print_background=True,
                display_header_footer=False,
                margin={"top": margin, "right": margin, "bottom": margin, "left": margin},
            )
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CustsegError(f"Chromium could not print the report {url}: {first}") from exc
        finally:
            launched.close()
    return pdf


def _no_browser(executable: str | None, exc: Exception) -> str:
    """The message for a browser that could not be started, with what was searched."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if executable is not None:
        return f"Could not start the browser '{executable}' ({first}). {_HOW_TO_GET_A_BROWSER}"
    searched = ", ".join(BROWSER_NAMES)
    return (
        f"No Chromium found to print the PDF: --browser and ${BROWSER_ENV} are not set, none "
        f"of {searched} is on PATH, and Playwright has no browser installed ({first}). "
        f"{_HOW_TO_GET_A_BROWSER}"
    )
