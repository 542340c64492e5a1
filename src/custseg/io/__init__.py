"""Readers for CSV/TSV (encoding and delimiter detected), Excel .xlsx, Parquet and DataFrames,
one file or a folder or glob of files.

:mod:`custseg.io.sources` (which files a source names) loads nothing heavy; the readers, which
need pandas and DuckDB, are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from custseg.io.readers import NA_VALUES, SourceInfo, load_source

_LAZY = {"NA_VALUES", "SourceInfo", "load_source"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'custseg.io' has no attribute {name!r}")
    return getattr(importlib.import_module("custseg.io.readers"), name)


__all__ = ["NA_VALUES", "SourceInfo", "load_source"]
