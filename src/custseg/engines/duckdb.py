"""The default engine: an embedded, in-memory DuckDB database that spills to disk.

One :class:`DuckDBEngine` serves one job (a ``segment`` or ``predict`` call). It owns a private
connection and a private temporary directory, so two jobs never share tables, and closing it
removes every temporary file.

Memory: DuckDB holds the tables in memory up to ``memory_limit`` and writes what does not fit
to the temporary directory, so inputs larger than the limit are still read. The limit is
:data:`DEFAULT_MEMORY_FRACTION` of the machine's memory, at most :data:`DEFAULT_MEMORY_CAP`,
unless ``--memory-limit`` (or :func:`engine_settings`) says otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import duckdb

from custseg.engines.base import Closing
from custseg.errors import InputError

#: Share of the machine's physical memory DuckDB may use by default. Half leaves room for the
#: customer table in pandas and for scikit-learn, which run in the same process after the
#: features are built (DuckDB's own default, 80%, would leave them too little).
DEFAULT_MEMORY_FRACTION = 0.5
#: Most DuckDB may use by default, however large the machine. A larger limit did not make
#: the job faster and the process's peak is DuckDB's plus Python's: on 100M invoice lines
#: (2 cores, 24 GB) a 4 GB limit took 399 s and 7.0 GB peak RSS, half of memory (12 GB)
#: 539 s and 13.5 GB. At 20M lines DuckDB stays under it (3.6 GB peak RSS, about 64 s,
#: with either limit).
DEFAULT_MEMORY_CAP = 4 * 1000**3
#: Smallest limit accepted: below it DuckDB cannot hold the blocks of one scan of a wide file.
MIN_MEMORY_LIMIT = 128 * 1024**2
#: DuckDB's ``preserve_insertion_order`` stays on (its default). Measured on a 5M-line Parquet
#: file (read into ``raw`` with row numbers, then a per-customer aggregate; 2 cores, limits of
#: 8 GB, 1 GB and 400 MB): peak RSS 953/929 MB with it on and 963/928 MB with it off, wall time
#: within noise. It saves no memory here, and it is what keeps ``_row`` in file order.
PRESERVE_INSERTION_ORDER = True

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|[a-zA-Z]*)\s*$")


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine, or ``None`` where the system does not say."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages * page_size)


def format_bytes(n: float) -> str:
    """Bytes as a user reads them.

    Examples
    --------
    >>> format_bytes(4 * 1024**3), format_bytes(300 * 1024**2)
    ('4.0 GB', '300 MB')
    """
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.0f} MB"


def default_memory_limit() -> int | None:
    """:data:`DEFAULT_MEMORY_FRACTION` of physical memory in bytes, at most
    :data:`DEFAULT_MEMORY_CAP` (``None``: DuckDB decides)."""
    total = physical_memory()
    if total is None:
        return None
    return max(MIN_MEMORY_LIMIT, min(int(total * DEFAULT_MEMORY_FRACTION), DEFAULT_MEMORY_CAP))


def parse_memory_limit(value: str | int) -> int:
    """Bytes from a memory limit such as ``4GB``, ``512MB``, ``2GiB`` or ``60%`` (of memory).

    ``KB``, ``MB``, ``GB`` and ``TB`` count in thousands and ``KiB`` ... ``TiB`` in 1,024s, as in
    DuckDB; a bare ``G`` or ``M`` means GiB or MiB. An int is a number of bytes.

    Raises
    ------
    InputError
        If the value is not a size, is a percentage on a system that does not tell its memory,
        or is below :data:`MIN_MEMORY_LIMIT`.

    Examples
    --------
    >>> parse_memory_limit("4GB"), parse_memory_limit("512 MiB")
    (4000000000, 536870912)
    >>> parse_memory_limit("lots")
    Traceback (most recent call last):
    ...
    custseg.errors.InputError: memory_limit must be a size such as 4GB, 512MB or 50% (of this machine's memory), got 'lots'.
    """
    if isinstance(value, bool):
        raise InputError(f"--memory-limit must be a size such as 4GB, got {value!r}.")
    if isinstance(value, int):
        n_bytes = value
    else:
        match = _SIZE.match(str(value))
        unit = match.group(2).lower() if match else ""
        if match is None or (unit not in _UNITS and unit != "%") or unit == "":
            raise InputError(
                "--memory-limit must be a size such as 4GB, 512MB or 50% (of this machine's "
                f"memory), got {value!r}."
            )
        number = float(match.group(1))
        if unit == "%":
            total = physical_memory()
            if total is None:
                raise InputError(
                    f"--memory-limit {value!r} is a share of memory, but this system does not "
                    "say how much it has. Give a size such as 4GB."
                )
            if not 0 < number <= 100:
                raise InputError(
                    f"--memory-limit {value!r} must be a share between 1% and 100% of memory."
                )
            n_bytes = int(total * number / 100)
        else:
            n_bytes = int(number * _UNITS[unit])
    if n_bytes < MIN_MEMORY_LIMIT:
        raise InputError(
            f"--memory-limit {value!r} is below the smallest limit custseg accepts, "
            f"{format_bytes(MIN_MEMORY_LIMIT)}. Give at least 128MB; 1GB or more for large files."
        )
    return n_bytes


_MEMORY_LIMIT: ContextVar[int | None] = ContextVar("custseg_memory_limit", default=None)


@contextmanager
def engine_settings(*, memory_limit: str | int | None = None) -> Iterator[None]:
    """Settings for every engine created inside the ``with`` block (the command line's
    ``--memory-limit``).

    Examples
    --------
    >>> with engine_settings(memory_limit="1GB"), DuckDBEngine() as engine:
    ...     engine.memory_limit
    1000000000
    """
    token = _MEMORY_LIMIT.set(None if memory_limit is None else parse_memory_limit(memory_limit))
    try:
        yield
    finally:
        _MEMORY_LIMIT.reset(token)


def quote_ident(name: str) -> str:
    """Quote a column or table name for SQL, whatever characters it holds.

    Examples
    --------
    >>> quote_ident('Annual Income (k$)')
    '"Annual Income (k$)"'
    >>> quote_ident('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """Quote a constant string for SQL (used only for values custseg itself chose).

    Examples
    --------
    >>> sql_literal("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def _damaged_file(exc: Exception) -> InputError | None:
    """The error for a file DuckDB could not read part of (a damaged or truncated file), or
    None when ``exc`` is about something else."""
    text = " ".join(str(exc).split())
    found = re.search(r'Failed to read file "([^"]+)"', text)
    if found is None:
        return None
    detail = text[found.end() :].lstrip(": ")[:160]
    return InputError(
        f"File '{found.group(1)}' could not be read to the end ({detail}): it is damaged or "
        "incomplete. Copy or export it again and check that the copy finished."
    )


class DuckDBEngine(Closing):
    """A private DuckDB connection with its own temporary directory.

    Parameters
    ----------
    threads : int or None
        Worker threads for DuckDB; ``None`` uses DuckDB's default (all cores).
    memory_limit : str, int or None
        For example ``"4GB"``, ``"50%"`` or a number of bytes; beyond it DuckDB spills to the
        temporary directory. ``None``: the limit of the enclosing :func:`engine_settings`, else
        :func:`default_memory_limit` (half the machine's memory, at most 4 GB).

    Examples
    --------
    >>> with DuckDBEngine() as engine:
    ...     engine.scalar("SELECT 40 + 2")
    42
    """

    def __init__(
        self, *, threads: int | None = None, memory_limit: str | int | None = None
    ) -> None:
        if memory_limit is not None:
            limit: int | None = parse_memory_limit(memory_limit)
        else:
            limit = _MEMORY_LIMIT.get()
            if limit is None:
                limit = default_memory_limit()
        self.memory_limit = limit
        self.tmpdir = tempfile.mkdtemp(prefix="custseg-")
        self.spill_dir = os.path.join(self.tmpdir, "spill")
        config: dict[str, Any] = {
            "temp_directory": self.spill_dir,
            "preserve_insertion_order": PRESERVE_INSERTION_ORDER,
        }
        if threads is not None:
            config["threads"] = threads
        if limit is not None:
            config["memory_limit"] = f"{limit}B"
        # Never reach the network for extensions: only the built-in ones are used.
        config["autoinstall_known_extensions"] = False
        config["autoload_known_extensions"] = False
        self.con = duckdb.connect(":memory:", config=config)
        # custseg shows its own progress; DuckDB's bar would print into the user's terminal.
        self.con.execute("SET enable_progress_bar = false")

    def sql(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Run a statement with bound parameters and return the cursor.

        Raises
        ------
        InputError
            If DuckDB runs out of memory at its limit, or of disk space for spilling.
        """
        try:
            return self.con.execute(query, params or [])
        except duckdb.OutOfMemoryException as exc:
            raise self._out_of_memory(exc) from None
        except duckdb.IOException as exc:
            damaged = _damaged_file(exc)
            if damaged is not None:
                raise damaged from None
            if "space" not in str(exc).lower():
                raise
            raise self._out_of_disk(exc) from None
        except duckdb.InvalidInputException as exc:
            # Files are read in place (a view over a Parquet file): a damaged page shows up
            # in whichever statement first reads it.
            damaged = _damaged_file(exc)
            if damaged is None:
                raise
            raise damaged from None

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        """Run a query that returns one value."""
        row = self.sql(query, params).fetchone()
        return None if row is None else row[0]

    def _out_of_memory(self, exc: Exception) -> InputError:
        limit = "DuckDB's default" if self.memory_limit is None else format_bytes(self.memory_limit)
        total = physical_memory()
        has = f" (this machine has {format_bytes(total)})" if total else ""
        return InputError(
            f"The data did not fit in the memory limit of {limit}{has} even when spilling to "
            f"disk ({' '.join(str(exc).split())[:160]}). Pass a higher --memory-limit, e.g. "
            "--memory-limit 80%, close other programs, or read fewer files at once."
        )

    def _out_of_disk(self, exc: Exception) -> InputError:
        return InputError(
            f"The disk ran out of space while DuckDB spilled data that did not fit in memory to "
            f"the temporary folder {os.path.dirname(self.spill_dir)} "
            f"({' '.join(str(exc).split())[:160]}). Free space there, or set TMPDIR to a folder "
            "on a disk with more free space, or pass a higher --memory-limit."
        )

    def columns(self, table: str) -> list[tuple[str, str]]:
        """Names and DuckDB types of a table's columns, in order."""
        rows = self.con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
        return [(r[0], r[1]) for r in rows]

    # ------------------------------------------------ the portable layer

    dialect = "duckdb"
    """The SQL dialect of :func:`custseg.engines.portable.compiled` queries for this engine."""

    def run(self, query: str, params: list[Any] | None = None) -> Any:
        """Run a query (for example one of :func:`custseg.engines.portable.compiled`) and
        return the result as a pandas DataFrame."""
        return self.sql(query, params).df()

    def close(self) -> None:
        """Close the connection and delete the temporary directory."""
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
