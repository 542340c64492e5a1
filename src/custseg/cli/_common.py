"""Printing helpers shared by the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def console_err(message: str) -> None:
    """One plain line on stderr (no markup, no wrapping)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def make_console(quiet: bool) -> Console:
    """Console for normal output; silent when ``quiet``."""
    from rich.console import Console

    return Console(quiet=quiet, highlight=False, soft_wrap=True)


class StageProgress:
    """The steps of a long job, one line each with its elapsed time.

    ``update(label)`` marks the current step done (a tick, its time frozen) and starts a line
    for ``label``. In a terminal the lines stay after the job, so the user sees where the time
    went; in a pipe or a log, and with ``--quiet``, nothing is printed.

    Examples
    --------
    >>> with StageProgress(make_console(quiet=True)) as steps:
    ...     steps.update("Reading the file")
    ...     steps.update("Cleaning lines")
    """

    def __init__(self, console: Console) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn

        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            TextColumn("{task.elapsed:.1f} s", justify="right"),
            console=console,
        )
        # In a pipe, a log or with --quiet nothing is drawn: not even the blank line that
        # Rich's live display leaves when it stops.
        self._live = console.is_terminal and not console.quiet
        self._task: Any = None
        self._label = ""

    def __enter__(self) -> StageProgress:
        if self._live:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done()
        if self._live:
            self._progress.stop()

    def update(self, label: str) -> None:
        """Finish the current step and start ``label`` (the same label again continues it)."""
        if self._task is not None and self._label == label:
            return
        self._done()
        self._label = label
        self._task = self._progress.add_task(label, total=1)

    def _done(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=1)
            self._progress.stop_task(self._task)  # freezes its elapsed time
            self._task = None


def table(
    title: str, columns: list[str], rows: list[list[Any]], right: set[int] | None = None
) -> Table:
    """A Rich table with plain-text cells (user strings are never read as markup)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if right and i in right else "left")
    for row in rows:
        t.add_row(*[Text(str(v)) for v in row])
    return t


def parse_columns(**flags: str | None) -> dict[str, str]:
    """Role overrides from ``--customer-col`` style flags."""
    return {role: value for role, value in flags.items() if value}


# Options shared by the commands, declared once.
Sheet = Annotated[str | None, typer.Option(help="Excel sheet to read (the first by default).")]
CustomerCol = Annotated[str | None, typer.Option(help="Column with the customer id.")]
InvoiceCol = Annotated[str | None, typer.Option(help="Column with the invoice / order id.")]
DateCol = Annotated[str | None, typer.Option(help="Column with the order date.")]
QuantityCol = Annotated[str | None, typer.Option(help="Column with the quantity.")]
PriceCol = Annotated[str | None, typer.Option(help="Column with the unit price.")]
AmountCol = Annotated[str | None, typer.Option(help="Column with the line amount.")]
ProductCol = Annotated[str | None, typer.Option(help="Column with the product code.")]
DateFormat = Annotated[
    str | None, typer.Option(help="How dates are written, e.g. '%d/%m/%Y %H:%M'.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
Labels = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        metavar="FILE",
        help="CSV (column,label) or JSON file of readable labels for columns and features.",
    ),
]
Currency = Annotated[
    str | None,
    typer.Option(help="Currency of the amounts: GBP, EUR, USD, a symbol, or none."),
]
MemoryLimit = Annotated[
    str | None,
    typer.Option(
        help="Memory DuckDB may use before it spills to a temporary folder, e.g. 4GB or 60% "
        "(default: 50% of this machine's memory, at most 4GB)."
    ),
]
