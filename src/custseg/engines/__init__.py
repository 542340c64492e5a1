"""Compute engines. Only this package (and :mod:`custseg.io`) talks to DuckDB directly."""

from custseg.engines.duckdb import DuckDBEngine, quote_ident, sql_literal

__all__ = ["DuckDBEngine", "quote_ident", "sql_literal"]
