"""What every engine custseg runs the portable layer on provides.

custseg has two kinds of engine:

- the **local engine**, :class:`custseg.engines.duckdb.DuckDBEngine`: files, folders, globs
  and DataFrames are read into an embedded DuckDB, typed with the readers' own detection
  (encodings, delimiters, date formats, decimal commas), cleaned and turned into features there;
- **remote engines** (:class:`RemoteEngine`): a SQL database
  (:class:`custseg.engines.database.DatabaseEngine`) or Apache Spark
  (:class:`custseg.engines.spark.SparkEngine`). The data stays where it is; custseg hands the
  engine Ibis expressions (:mod:`custseg.engines.portable`) and gets back one row per customer
  and the small accounting tables.

Both run the same definitions: :func:`custseg.engines.portable.classify`,
:func:`~custseg.engines.portable.accounting`,
:func:`~custseg.engines.portable.customer_features` and the activity summaries.
:func:`custseg.prepare.prepare` chooses the engine from the source and the ``engine=`` option.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    import pandas as pd

#: Engines the ``engine=`` option (``--engine``) accepts.
ENGINES = ("duckdb", "spark")


class RemoteEngine(Protocol):
    """An engine that runs Ibis expressions where the data lives.

    ``label`` names it in messages (``PostgreSQL``, ``Spark``); ``dialect`` is the SQL dialect
    Ibis compiles to. ``run`` and ``scalar`` execute an expression and turn the engine's own
    errors into :class:`custseg.errors.InputError`; ``materialize`` stores an expression that
    several queries read, where the engine allows it, and returns an expression reading it.
    """

    label: str
    dialect: str

    def run(self, expr: Any) -> pd.DataFrame:
        """The result of an Ibis table expression as pandas."""
        ...

    def scalar(self, expr: Any) -> Any:
        """The value of an Ibis scalar expression."""
        ...

    def materialize(self, expr: Any, name: str) -> Any:
        """``expr`` computed once (a temporary table or a cache), or ``expr`` itself."""
        ...

    def close(self) -> None:
        """Release the connection or session."""
        ...


class Closing:
    """``with engine:`` closes the engine at the end, also on an error."""

    def close(self) -> None:
        """Release what the engine holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
