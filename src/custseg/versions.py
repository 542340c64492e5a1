"""The versions custseg records with every result and model (a leaf module: it imports nothing
of custseg, so that every layer may read it)."""

from __future__ import annotations

import platform
from importlib import metadata


def package_version() -> str:
    """custseg's own version (``0+unknown`` when run from a source tree not installed)."""
    try:
        return metadata.version("custseg")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def library_versions() -> dict[str, str]:
    """Versions of custseg and the libraries that shape its results.

    Examples
    --------
    >>> sorted(library_versions())[:3]
    ['custseg', 'duckdb', 'numpy']
    """
    out = {"python": platform.python_version()}
    for name in ("custseg", "scikit-learn", "numpy", "pandas", "duckdb", "skops", "plotly"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
