"""``custseg report DIR --pdf``: the report printed by headless Chromium (issue 14).

The printed tests need playwright, pypdf and Chromium at /usr/bin/chromium (.ci/run installs
them) and are skipped without; the error tests run without a browser. One small result (the
bundled demo data, k-means only) is fitted once for the module.
"""

from __future__ import annotations

import doctest
import html
import re
import shutil
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import custseg
from custseg.errors import InputError
from custseg.report import pdf as pdf_module
from custseg.report.pdf import write_pdf

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# Size of a page in PDF points (1/72 inch): A4 is 210 x 297 mm, Letter 8.5 x 11 in.
MEDIA_BOXES = {"a4": (595.0, 842.0), "letter": (612.0, 792.0)}
# The demo report prints on about 20 pages; far more would mean one chart per page or worse.
MAX_PAGES = 60

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output folder of one fit of the demo data (what ``custseg report DIR`` reads)."""
    result = custseg.segment(custseg.datasets.demo_path(), algorithm="kmeans", seed=0)
    return Path(result.save(tmp_path_factory.mktemp("pdf") / "out"))


@pytest.fixture()
def folder(saved: Path, tmp_path: Path) -> Path:
    """A copy of the saved result that a test may write into."""
    return Path(shutil.copytree(saved, tmp_path / "out"))


@pytest.fixture()
def chromium() -> Path:
    pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


def reader(path: Path) -> Any:
    pypdf = pytest.importorskip("pypdf")
    return pypdf.PdfReader(path)


def plain(text: str) -> str:
    """Text with ligatures spelled out and runs of white space made one space."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def heading(page: str, pattern: str) -> str:
    """The text of the first element ``pattern`` matches in the report's HTML."""
    found = re.search(pattern, page, flags=re.DOTALL)
    assert found is not None, pattern
    return plain(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))))


def assert_paper(pages: Any, paper: str) -> None:
    width, height = MEDIA_BOXES[paper]
    for page in pages:
        box = page.mediabox
        assert abs(float(box.width) - width) <= 1 and abs(float(box.height) - height) <= 1


def left_behind(folder: Path) -> list[str]:
    """Files in ``folder`` besides the ones a saved result holds."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".") or p.suffix == ".pdf" or ".tmp" in p.name
    )


def test_report_prints_with_charts_on_a4(folder: Path, chromium: Path) -> None:
    report = folder / "report.html"
    n_pages = write_pdf(report, folder / "report.pdf", browser=chromium)
    document = reader(folder / "report.pdf")
    assert 2 <= n_pages <= MAX_PAGES
    assert n_pages == len(document.pages)
    assert_paper(document.pages, "a4")
    page = report.read_text(encoding="utf-8")
    title = heading(page, r"<h1[^>]*>(.*?)</h1>")
    # Read from the page, not written here: the first section is being renamed.
    first_section = heading(page, r'<section id="summary"[^>]*>.*?<h2[^>]*>(.*?)</h2>')
    first_page = plain(document.pages[0].extract_text())
    assert title in first_page and first_section in first_page
    assert left_behind(folder) == ["report.pdf"]


def test_cli_prints_the_pdf_on_letter(folder: Path, chromium: Path, run_cli: RunCli) -> None:
    target = folder / "print.pdf"
    code, out, err = run_cli(
        "report", folder, "--pdf", "--paper", "letter", "--out", target, "--browser", chromium
    )
    assert (code, err) == (0, "")
    document = reader(target)
    assert f"PDF: {target.resolve()} ({len(document.pages)} pages, Letter," in out
    assert 2 <= len(document.pages) <= MAX_PAGES
    assert_paper(document.pages, "letter")
    # report.html is re-rendered beside it, as without --pdf.
    assert f"Report: {(folder / 'report.html').resolve()}" in out
    assert left_behind(folder) == ["print.pdf"]


def test_cli_without_playwright_is_one_error_line(
    folder: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "playwright", None)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    code, out, err = run_cli("report", folder, "--pdf")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert re.fullmatch(
        r"error: Printing the report to PDF needs the Python package playwright, which is not "
        r"installed \(.*\); install it with pip install \"custseg\[pdf\]\"\.\n",
        err,
    )
    assert left_behind(folder) == []


def test_cli_with_a_missing_browser_is_one_error_line(
    folder: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    pytest.importorskip("playwright.sync_api")
    missing = tmp_path / "no-chromium"
    code, out, err = run_cli("report", folder, "--pdf", "--browser", missing)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: Browser '{missing}' (--browser) does not exist or is not an executable file. "
        "Install Chromium (Debian/Ubuntu: apt-get install chromium), pass the browser's path "
        "with --browser PATH (browser= in Python), or run 'playwright install chromium'."
    ]
    assert left_behind(folder) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pdf", "--paper", "a5"], r"Paper 'a5' is not known; use one of: a4, letter\."),
        (["--pdf", "--out", "x.html"], r"--out 'x\.html' is not a PDF file name"),
        (["--paper", "letter"], r"--paper only applies to the PDF; add --pdf to print one\."),
    ],
    ids=["unknown paper", "html name with --pdf", "paper without --pdf"],
)
def test_cli_pdf_options_are_checked(
    folder: Path, run_cli: RunCli, args: list[str], message: str
) -> None:
    pytest.importorskip("playwright.sync_api")
    code, out, err = run_cli("report", folder, *args)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and re.match(f"error: {message}", err)
    assert left_behind(folder) == []


def test_no_browser_anywhere_says_what_was_searched(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("playwright.sync_api")
    monkeypatch.delenv("CUSTSEG_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    # Playwright's own browsers are looked for here, and there are none.
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-browsers"))
    with pytest.raises(
        InputError,
        match=r"No Chromium found to print the PDF: --browser and \$CUSTSEG_CHROMIUM are not "
        r"set, none of chromium, chromium-browser, google-chrome, google-chrome-stable, chrome "
        r"is on PATH, and Playwright has no browser installed \(.*\)\. Install Chromium",
    ):
        write_pdf(folder / "report.html", folder / "report.pdf")
    assert left_behind(folder) == []


def test_browser_is_found_in_the_documented_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("chrome", "google-chrome", "chromium-browser"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("CUSTSEG_CHROMIUM", raising=False)
    assert pdf_module.find_browser() == str(bin_dir / "chromium-browser")
    monkeypatch.setenv("CUSTSEG_CHROMIUM", str(bin_dir / "chrome"))
    assert pdf_module.find_browser() == str(bin_dir / "chrome")
    assert pdf_module.find_browser(bin_dir / "google-chrome") == str(bin_dir / "google-chrome")
    monkeypatch.setenv("CUSTSEG_CHROMIUM", str(tmp_path / "gone"))
    with pytest.raises(InputError, match=r"Browser '.*gone' \(\$CUSTSEG_CHROMIUM\) does not"):
        pdf_module.find_browser()
    monkeypatch.delenv("CUSTSEG_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pdf_module.find_browser() is None


def test_docstring_examples() -> None:
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    assert doctest.testmod(pdf_module, optionflags=flags).failed == 0
