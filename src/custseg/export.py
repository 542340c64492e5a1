"""Writing tables users open in spreadsheets, safely.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel and LibreOffice (CSV injection). Such cells get a leading apostrophe;
numbers, and text that is just a number such as ``-5``, are left as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralize(value: object) -> object:
    """Prefix formula-like text with an apostrophe.

    Examples
    --------
    >>> neutralize("=HYPERLINK(1)"), neutralize("-5"), neutralize(-5.0), neutralize("abc")
    ("'=HYPERLINK(1)", '-5', -5.0, 'abc')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with formula-like text cells and column names neutralized."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralize)
    out.columns = [str(neutralize(str(c))) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV (UTF-8, comma, no index) with formula-like text neutralized."""
    safe_frame(frame).to_csv(path, index=False, lineterminator="\n")
