"""``custseg compare OLD NEW --out DIR``: where the customers of one segmentation went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custseg.cli._common import Quiet, make_console, table
from custseg.errors import InputError


def compare_command(
    old: Annotated[
        Path,
        typer.Argument(
            metavar="OLD",
            help="The earlier run: an output folder of 'custseg segment' or a CSV of "
            "'custseg predict'.",
        ),
    ],
    new: Annotated[
        Path,
        typer.Argument(metavar="NEW", help="The later run, of the same kind as OLD."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder for the migration files.")
    ] = Path("custseg-migration"),
    match: Annotated[
        str,
        typer.Option(
            help="How segments correspond: auto (by number for the same model, else by "
            "profile), numbers or profiles."
        ),
    ] = "auto",
    quiet: Quiet = False,
) -> None:
    """Compare two segmentations: the migration matrix, a Sankey chart and the customers who
    moved from a valuable segment to an at-risk or lost one (migration.html and CSVs)."""
    for side in (old, new):
        if not Path(side).exists():
            # Checked before pandas and DuckDB load: a misspelled path fails at once.
            raise InputError(
                f"'{side}' does not exist. Pass an output folder of 'custseg segment' or a "
                "CSV written by 'custseg predict'."
            )
    from custseg.migration import check_migration_dir, compare_runs, summary_lines

    console = make_console(quiet)
    check_migration_dir(out.resolve())
    with console.status("Comparing the two runs"):
        migration = compare_runs(old, new, match=match)
    counts = migration.counts
    # Columns by number only, so that the table fits a terminal; the names follow below it.
    heads = [str(c).split(" · ")[0] for c in counts.columns]
    console.print(
        table(
            "Customers from each segment before (rows) to each segment after (columns)",
            ["before \\ after", *heads],
            [[str(i), *(f"{v:,}" for v in row)] for i, row in counts.iterrows()],
            right=set(range(1, counts.shape[1] + 1)),
        )
    )
    console.print("After: " + "; ".join(map(str, counts.columns[:-1])), markup=False)
    for line in summary_lines(migration):
        console.print(line, markup=False)
    with console.status("Writing the files"):
        target = migration.save(out)
    console.print(
        "Wrote matrix.csv, matrix_customers.csv, segment_pairs.csv, movers.csv, customers.csv, "
        f"migration.json and migration.html to {target}",
        markup=False,
    )
