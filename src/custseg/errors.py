"""Exceptions that carry a message meant for the user.

Every mistake a user can make (a missing file, a column that is not there, dates that cannot
be read, ...) raises :class:`InputError` with one sentence that says what was wrong, shows the
offending value and says how to fix it. The command line prints it as ``error: <message>`` and
exits with code 2; the Python API lets it propagate.
"""

from __future__ import annotations


class CustsegError(Exception):
    """Base class of every error custseg raises on purpose."""


class InputError(CustsegError, ValueError):
    """Bad input or options: the message says what was wrong and how to fix it.

    Examples
    --------
    >>> raise InputError("File 'x.csv' is empty: no data rows. Export the table with its rows.")
    Traceback (most recent call last):
    ...
    custseg.errors.InputError: File 'x.csv' is empty: no data rows. Export the table with its rows.
    """


class ModelFileError(CustsegError, ValueError):
    """A model file that is not a custseg model, was tampered with, or is unsafe to load."""


def show_rows(rows: list[int], limit: int = 5, total: int | None = None) -> str:
    """Format row numbers for a message: ``rows 17, 230, 4411`` or ``rows 1, 2, 3, ... (12 in all)``.

    Examples
    --------
    >>> show_rows([3])
    'row 3'
    >>> show_rows([1, 2, 3, 4, 5, 6, 7])
    'rows 1, 2, 3, 4, 5, ... (7 in all)'
    """
    total = len(rows) if total is None else total
    if total == 1:
        return f"row {rows[0]}"
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f", ... ({total:,} in all)" if total > limit else ""
    return f"rows {shown}{more}"


class CustsegWarning(UserWarning):
    """Something the user should know about (a guess custseg made, data it set aside)."""
