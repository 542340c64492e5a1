"""``custseg report DIR``: render the report of a saved result again, without refitting."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from custseg.cli._common import Quiet, make_console
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
        typer.Option("--out", "-o", help="HTML file to write; default: DIR/report.html."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Render report.html (and segments.xlsx) again from a saved result, without refitting.

    Use it after upgrading custseg, or after renaming segments in profiles.csv and
    segments.csv.
    """
    import custseg
    from custseg.export import write_xlsx

    console = make_console(quiet)
    target = out if out is not None else folder / "report.html"
    if target.is_dir():
        raise InputError(f"--out '{target}' is a folder; pass a file name such as report.html.")
    with console.status("Reading the saved result"):
        result = custseg.load_result(folder)
    with console.status("Rendering the report"):
        html = result.report_html()
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
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
