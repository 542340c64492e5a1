"""``custseg export OUT_DIR --audiences DIR [--contact-cols email,phone]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custseg.cli._common import CustomerCol, Quiet, Sheet, make_console, table


def export_command(
    out_dir: Annotated[
        Path,
        typer.Argument(metavar="OUT_DIR", help="The output folder of custseg segment."),
    ],
    audiences: Annotated[
        Path,
        typer.Option(
            "--audiences",
            metavar="DIR",
            help="Folder to write one CSV per segment into (customer id, segment, name, action).",
        ),
    ],
    contact_cols: Annotated[
        str | None,
        typer.Option(
            metavar="COLS",
            help="Comma-separated contact columns of the input to add, e.g. email,phone. "
            "Without it no contact data is read or written.",
        ),
    ] = None,
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            metavar="FILE",
            help="File with the contact columns, joined by customer id (default: the file "
            "OUT_DIR was segmented from).",
        ),
    ] = None,
    customer_col: CustomerCol = None,
    sheet: Sheet = None,
    quiet: Quiet = False,
) -> None:
    """Write each segment's customers as a list for a mailing tool."""
    from custseg.audiences import write_audiences

    console = make_console(quiet)
    columns = [c.strip() for c in (contact_cols or "").split(",") if c.strip()]
    written = write_audiences(
        out_dir,
        audiences,
        contact_cols=columns or None,
        input=input,
        customer_col=customer_col,
        sheet=sheet,
    )
    for note in written.notes:
        console.print(f"note: {note}", markup=False)
    console.print(
        table(
            f"Audiences in {written.directory}",
            ["file", "customers"],
            [[name, f"{n:,}"] for name, n in written.files.items()],
            right={1},
        )
    )
