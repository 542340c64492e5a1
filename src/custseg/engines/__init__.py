"""Compute engines. Only this package (and :mod:`custseg.io`) talks to DuckDB, databases and
Spark directly.

The submodules are imported on first use, so that :mod:`custseg.engines.database`'s light
helpers (naming a database in a source) load without DuckDB.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DuckDBEngine", "quote_ident", "sql_literal"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from custseg.engines import duckdb

        return getattr(duckdb, name)
    raise AttributeError(f"module 'custseg.engines' has no attribute {name!r}")
