"""The default engine: an embedded, in-memory DuckDB database that spills to disk.

One :class:`DuckDBEngine` serves one job (a ``segment`` or ``predict`` call). It owns a private
connection and a private temporary directory, so two jobs never share tables, and closing it
removes every temporary file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from types import TracebackType
from typing import Any

import duckdb


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


class DuckDBEngine:
    """A private DuckDB connection with its own temporary directory.

    Parameters
    ----------
    threads : int or None
        Worker threads for DuckDB; ``None`` uses DuckDB's default (all cores).
    memory_limit : str or None
        For example ``"4GB"``; beyond it DuckDB spills to the temporary directory.

    Examples
    --------
    >>> with DuckDBEngine() as engine:
    ...     engine.scalar("SELECT 40 + 2")
    42
    """

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.tmpdir = tempfile.mkdtemp(prefix="custseg-")
        config: dict[str, Any] = {"temp_directory": os.path.join(self.tmpdir, "spill")}
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        # Never reach the network for extensions: only the built-in ones are used.
        config["autoinstall_known_extensions"] = False
        config["autoload_known_extensions"] = False
        self.con = duckdb.connect(":memory:", config=config)
        # custseg shows its own progress; DuckDB's bar would print into the user's terminal.
        self.con.execute("SET enable_progress_bar = false")

    def sql(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Run a statement with bound parameters and return the cursor."""
        return self.con.execute(query, params or [])

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        """Run a query that returns one value."""
        row = self.con.execute(query, params or []).fetchone()
        return None if row is None else row[0]

    def columns(self, table: str) -> list[tuple[str, str]]:
        """Names and DuckDB types of a table's columns, in order."""
        rows = self.con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
        return [(r[0], r[1]) for r in rows]

    def close(self) -> None:
        """Close the connection and delete the temporary directory."""
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
