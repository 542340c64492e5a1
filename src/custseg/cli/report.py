"""``custseg report DIR``: render the report of a saved result again, without refitting."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from custseg.cli._common import Currency, Labels, Quiet, make_console
from custseg.errors import InputError


def report_command(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Output folder of 'custseg segment' (with metrics.json)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write; default: DIR/report.html. With --pdf: the PDF file "
            "(default: DIR/report.pdf), and report.html is written to DIR.",
        ),
    ] = None,
    pdf: Annotated[
        bool,
        typer.Option(
            "--pdf",
            help="Also print the report to a PDF with headless Chromium (needs "
            'pip install "custseg[pdf]" and a Chromium or Chrome browser).',
        ),
    ] = False,
    paper: Annotated[
        str | None, typer.Option(help="Paper size of the PDF: a4 (default) or letter.")
    ] = None,
    browser: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Chromium or Chrome executable for --pdf (default: $CUSTSEG_CHROMIUM, then "
            "chromium, chromium-browser, google-chrome, google-chrome-stable or chrome on PATH, "
            "then Playwright's own browser).",
        ),
    ] = None,
    labels: Labels = None,
    currency: Currency = None,
    quiet: Quiet = False,
) -> None:
    """Render report.html (and segments.xlsx) again from a saved result, without refitting.

    Use it after upgrading custseg, after renaming segments in profiles.csv and
    segments.csv, or to give the columns readable labels (--labels) or the amounts their
    currency (--currency), both kept in DIR/metrics.json. With --pdf it also prints the
    report to report.pdf, charts included.
    """
    if not folder.is_dir():
        # Checked before pandas and scikit-learn load: a misspelled path fails at once.
        raise InputError(
            f"'{folder}' is not a folder. Pass the output folder of 'custseg segment' "
            "(the one with segments.csv, metrics.json and model.skops)."
        )
    import custseg
    from custseg.export import write_xlsx

    console = make_console(quiet)
    pdf_target = None
    if pdf:
        from custseg.report.pdf import PAPERS, check_pdf_engine, write_pdf

        pdf_target = out if out is not None else folder / "report.pdf"
        if pdf_target.is_dir() or pdf_target.suffix.lower() != ".pdf":
            raise InputError(
                f"--out '{pdf_target}' is not a PDF file name; with --pdf, --out names the PDF "
                "(report.html goes to DIR). Pass a file name such as report.pdf."
            )
        paper = check_pdf_engine(paper=paper or "a4", browser=browser)
        out = None
    elif paper is not None or browser is not None:
        option = "--paper" if paper is not None else "--browser"
        raise InputError(f"{option} only applies to the PDF; add --pdf to print one.")
    target = out if out is not None else folder / "report.html"
    if target.is_dir():
        raise InputError(f"--out '{target}' is a folder; pass a file name such as report.html.")
    from custseg.labels import load_labels, parse_currency

    new_labels = None if labels is None else load_labels(labels)
    new_currency = parse_currency(currency)
    with console.status("Reading the saved result"):
        result = custseg.load_result(folder)
    if new_labels is not None or new_currency is not None:
        shown = dict(result.metrics.get("presentation") or {})
        if new_labels is not None:
            shown["labels"] = new_labels
        if new_currency is not None:
            shown.update(currency=new_currency, currency_source="option")
        result.metrics["presentation"] = shown
    with console.status("Rendering the report"):
        html = result.report_html()
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        if new_labels is not None or new_currency is not None:
            _save_metrics(folder, result.metrics)  # the next renderings keep them
        if out is None:
            xlsx = folder / "segments.xlsx"
            tmp = xlsx.with_name(f".{xlsx.name}.tmp-{os.getpid()}.xlsx")
            try:
                write_xlsx(result.tables(), tmp)
                os.replace(tmp, xlsx)
            finally:
                tmp.unlink(missing_ok=True)
    console.print(f"Report: {target.resolve()} ({target.stat().st_size / 1e6:.1f} MB)")
    if out is None:
        console.print(f"Tables: {(folder / 'segments.xlsx').resolve()}")
    if pdf_target is not None and paper is not None:
        with console.status("Printing the PDF with Chromium"):
            pages = write_pdf(target, pdf_target, paper=paper, browser=browser)
        console.print(
            f"PDF: {pdf_target.resolve()} ({pages} pages, {PAPERS[paper][0]}, "
            f"{pdf_target.stat().st_size / 1e6:.1f} MB)"
        )


def _save_metrics(folder: Path, metrics: dict[str, Any]) -> None:
    """Write metrics.json again (atomically) with the new labels or currency."""
    import json

    from custseg.export import jsonable

    path = folder / "metrics.json"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(
            json.dumps(jsonable(metrics), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
