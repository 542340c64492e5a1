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
TableName = Annotated[
    str | None,
    typer.Option(
        "--table",
        metavar="NAME",
        help="For a database INPUT (postgresql://user@host/db or a SQLite file): the table or "
        "view to read (schema.table for another schema). The database is only read.",
    ),
]

Engine = Annotated[
    str,
    typer.Option(
        help="Where files are read, cleaned and turned into features: duckdb (embedded, the "
        "default) or spark (pip install 'custseg[spark]'; reads any path Spark reads, or "
        "--table from the Spark catalog)."
    ),
]
SparkMaster = Annotated[
    str | None,
    typer.Option(help="With --engine spark: the master URL (default local[*])."),
]
SparkConf = Annotated[
    list[str] | None,
    typer.Option(
        metavar="KEY=VALUE",
        help="With --engine spark: a Spark setting, e.g. spark.executor.memory=8g (repeatable).",
    ),
]
SparkDriverLimit = Annotated[
    int | None,
    typer.Option(
        metavar="N",
        help="With --engine spark: above N customers (default 10,000,000) they stay in Spark: "
        "k is chosen on a sample, Spark MLlib's k-means clusters them all and Spark writes "
        "the segments as Parquet.",
    ),
]
SparkOutput = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="With --engine spark, past the driver limit: where Spark writes every "
        "customer's segment as Parquet (any path Spark writes, e.g. s3a://...; default "
        "segments.parquet in --out).",
    ),
]


def parse_spark_conf(items: list[str] | None) -> dict[str, str]:
    """``--spark-conf key=value`` options as a dict.

    Examples
    --------
    >>> parse_spark_conf(["spark.executor.memory=8g", "spark.sql.shuffle.partitions = 64"])
    {'spark.executor.memory': '8g', 'spark.sql.shuffle.partitions': '64'}
    """
    from custseg.errors import InputError

    conf: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"--spark-conf {item!r} is not KEY=VALUE. Write it as, e.g., "
                "--spark-conf spark.executor.memory=8g."
            )
        conf[key.strip()] = value.strip()
    return conf


def check_source(source: str | None, engine: str = "duckdb", table: str | None = None) -> str:
    """The INPUT argument, checked before anything heavy is loaded: a misspelled path fails
    at once; for a PostgreSQL URL with no password anywhere (URL, PGPASSWORD, ~/.pgpass) the
    password is asked for when a person is at the terminal, and handed to libpq through
    ``PGPASSWORD`` (this process only). With ``--engine spark`` Spark reads the path itself
    (it may be ``s3a://...``), and INPUT may be left out for a catalog ``--table``."""
    import os

    from custseg.engines.database import parse_database
    from custseg.errors import InputError

    if engine == "spark":
        if source is None and table is None:
            raise InputError(
                "Missing argument 'INPUT': with --engine spark, give the files to read or a "
                "table of the Spark catalog with --table."
            )
        return source or ""
    if source is None:
        raise InputError(
            "Missing argument 'INPUT': the file, folder, glob or database (with --table) to read."
        )
    db = parse_database(source)
    if db is None:
        from custseg.io.sources import resolve_files

        resolve_files(source)
        return source
    if db.backend != "postgres" or not sys.stdin.isatty():
        return source
    from urllib.parse import urlsplit

    has_pgpass = Path(os.environ.get("PGPASSFILE", Path.home() / ".pgpass")).exists()
    if urlsplit(db.url).password is None and "PGPASSWORD" not in os.environ and not has_pgpass:
        import getpass

        os.environ["PGPASSWORD"] = getpass.getpass(f"Password for {db.shown}: ")
    return source


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
