"""Exceptions that carry a message meant for the user.

Every mistake a user can make (a missing file, a column that is not there, dates that cannot
be read, ...) raises :class:`InputError` with one sentence that says what was wrong, shows the
offending value and says how to fix it. The command line prints it as ``error: <message>`` and
exits with code 2; the Python API lets it propagate.
"""

from __future__ import annotations

import re

#: What each command-line flag that messages name is called in the Python API. Messages are
#: written once, with the flags; ``str(error)`` names the Python option instead, and the
#: command line and the app print :attr:`CustsegError.cli_message` (the flags).
PYTHON_OPTIONS: dict[str, str] = {
    **{
        f"--{role.replace('_', '-')}-col": f'columns={{"{role}": ...}}'
        for role in (
            "invoice",
            "date",
            "quantity",
            "price",
            "amount",
            "product",
            "description",
            "country",
        )
    },
    "--customer-col": 'columns={"customer_id": ...}',
    "--date-format": "date_format",
    "--analysis-date": "analysis_date",
    "--non-product-codes": "non_product_codes",
    "--value-col": "value_col",
    "--labels": "feature_labels",
    "--currency": "currency",
    "--memory-limit": "memory_limit",
    "--kind": "kind",
    "--k": "k",
    "--algorithm": "algorithm",
    "--seed": "seed",
    "--sheet": "sheet",
    "--table": "table",
    "--engine": "engine",
    "--spark-master": "spark_master",
    "--spark-conf": "spark_conf",
    "--spark-driver-limit": "spark_driver_limit",
    "--spark-output": "spark_output",
    "--linkage": 'params={"linkage": ...}',
    "--eps": 'params={"eps": ...}',
    "--min-samples": 'params={"min_samples": ...}',
    "--min-cluster-size": 'params={"min_cluster_size": ...}',
}
_FLAG = re.compile(r"(?<![\w-])--[a-z](?:[a-z-]*[a-z])?\b")


def python_options(message: str) -> str:
    """A message with the command line's flags replaced by the Python API's options.

    Examples
    --------
    >>> python_options("No customer id column. Name it with --customer-col.")
    'No customer id column. Name it with columns={"customer_id": ...}.'
    >>> python_options("Pass a higher --memory-limit, e.g. --memory-limit 80%; --out stays.")
    'Pass a higher memory_limit, e.g. memory_limit 80%; --out stays.'
    """
    return _FLAG.sub(lambda m: PYTHON_OPTIONS.get(m.group(0), m.group(0)), message)


class CustsegError(Exception):
    """Base class of every error custseg raises on purpose.

    The message is written with the command line's flags (``--customer-col``); ``str()``
    names the Python API's options instead (``columns={"customer_id": ...}``), and
    :attr:`cli_message` keeps the flags for the command line and the app.
    """

    @property
    def cli_message(self) -> str:
        """The message as the command line prints it, naming its flags."""
        return super().__str__()

    def __str__(self) -> str:
        return python_options(super().__str__())


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
