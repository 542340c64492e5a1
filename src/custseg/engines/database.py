"""SQL databases as sources: PostgreSQL (a ``postgresql://`` URL) and SQLite files.

The invoice lines never leave the database: the cleaning rules and the customer features of
:mod:`custseg.engines.portable` are compiled to the database's SQL and run there, and only one
row per customer (and the small cleaning and activity tables) comes back. A customer table is
one row per customer already, so it is read as it is and typed like a file.

Safety:

- **Read-only.** PostgreSQL sessions are opened with ``default_transaction_read_only=on`` and
  SQLite files with ``mode=ro``; custseg never creates, changes or drops anything in the
  database's tables, views or schemas while it reads (writing scores back is
  :func:`custseg.engines.writeback.write_scores`, a separate, explicit step). The one thing it
  creates is a session-private temporary table of the classified lines
  (:meth:`DatabaseEngine.materialize`): in PostgreSQL, in one explicitly READ WRITE transaction
  of a single statement, in the session's own temporary schema, dropped by the server when
  custseg disconnects (without the ``TEMP`` privilege the lines are computed again in each
  query instead); in SQLite, in the connection's separate temporary database.
- **No SQL from the user.** The table name is looked up in the database's catalogue before
  anything is read, and Ibis quotes every identifier and writes every value as a typed,
  escaped literal (Ibis has no bound parameters; none of these values is ever pasted as text).
- **The password is never shown.** It comes from the URL, the ``PGPASSWORD`` variable (libpq
  reads it), ``~/.pgpass`` or a prompt, and every place custseg names the database (messages,
  ``metrics.json``, the report) uses :func:`redact_url`.

Examples
--------
>>> parse_database("postgresql://ana:secret@db.example.com:5433/shop").shown
'postgresql://ana:***@db.example.com:5433/shop'
>>> parse_database("orders.csv") is None
True
"""

from __future__ import annotations

import contextlib
import difflib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from custseg.engines.base import Closing
from custseg.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: URL schemes read as databases, with the backend that reads them.
DATABASE_SCHEMES: dict[str, str] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
}
#: File suffixes read as SQLite databases (a table must then be named with ``--table``).
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
#: Seconds to wait for a PostgreSQL server before saying it cannot be reached.
CONNECT_TIMEOUT = 10
#: Memory for each sort and hash of custseg's PostgreSQL session (``work_mem``), when the
#: server's own setting is lower (PostgreSQL's default is 4MB). The customer features group
#: about a million lines by customer and invoice, then by customer and product: with 4MB those
#: hash tables spill to disk (3.1 s at 1M lines), with 64MB they do not (2.1 s). It is a
#: setting of custseg's own session only, and a few such tables run at a time.
POSTGRES_WORK_MEM_MB = 64
#: SQLSTATEs of PostgreSQL's refusal to create a temporary table: no ``TEMP`` privilege
#: (42501), a read-only server (25006) or a standby, which may not even start a READ WRITE
#: transaction (0A000). custseg then computes the classified lines in every query instead.
TEMP_REFUSED = frozenset({"42501", "25006", "0A000"})


@dataclass(frozen=True)
class DatabaseSource:
    """A database named on the command line or in :func:`custseg.segment`."""

    backend: str
    """``postgres`` or ``sqlite``."""
    url: str = field(repr=False)
    """As given, password included: never printed."""
    shown: str
    """The URL with its password replaced by ``***``: what messages and outputs show."""
    path: str | None = None
    """The SQLite file."""

    @property
    def label(self) -> str:
        """``PostgreSQL`` or ``SQLite``."""
        return {"postgres": "PostgreSQL", "sqlite": "SQLite"}[self.backend]


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (and nothing else changed).

    Examples
    --------
    >>> redact_url("postgresql://ana:p%40ss@host/shop?sslmode=require")
    'postgresql://ana:***@host/shop?sslmode=require'
    >>> redact_url("postgresql://host/shop")
    'postgresql://host/shop'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def parse_database(source: Any) -> DatabaseSource | None:
    """The database a source names, or ``None`` for a file, folder, glob or DataFrame.

    ``postgresql://`` and ``postgres://`` URLs are PostgreSQL; ``sqlite:///path`` URLs and
    files ending in ``.sqlite``, ``.sqlite3`` or ``.db`` are SQLite.
    """
    if not isinstance(source, (str, Path)):
        return None
    text = str(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in DATABASE_SCHEMES:
        backend = DATABASE_SCHEMES[scheme]
        if backend == "sqlite":
            path = unquote(urlsplit(text).path)
            # sqlite:///relative.db and sqlite:////absolute.db, as in SQLAlchemy
            path = path[1:] if path.startswith("/") and not path.startswith("//") else path[1:]
            return DatabaseSource("sqlite", text, text, path=path or None)
        return DatabaseSource(backend, text, redact_url(text))
    if "://" in text:
        return None
    if text.lower().endswith(SQLITE_SUFFIXES):
        return DatabaseSource("sqlite", text, text, path=text)
    return None


def clean_message(exc: BaseException, db: DatabaseSource, password: str | None) -> str:
    """The database's own words, on one line, without the password."""
    text = " ".join(str(exc).split())
    for secret in {password, urlsplit(db.url).password} - {None, ""}:
        text = text.replace(str(secret), "***")
    return text[:200]


def postgres_arguments(db: DatabaseSource, password: str | None = None) -> dict[str, Any]:
    """psycopg's connection arguments from a ``postgresql://`` URL: host, port, user, the
    password (the URL's, else ``password``; libpq then reads ``PGPASSWORD`` and ``~/.pgpass``),
    ``dbname``, a connect timeout (:data:`CONNECT_TIMEOUT` unless the URL gives one) and the
    URL's other options; missing ones left out.

    Examples
    --------
    >>> args = postgres_arguments(parse_database("postgresql://ana:s%40t@db:5433/shop?sslmode=require"))
    >>> args["password"], args["dbname"], args["connect_timeout"], args["sslmode"]
    ('s@t', 'shop', 10, 'require')
    """
    parts = urlsplit(db.url)
    options = dict(parse_qsl(parts.query))
    arguments: dict[str, Any] = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else password,
        "dbname": unquote(parts.path.lstrip("/")) or None,
        "connect_timeout": int(options.pop("connect_timeout", CONNECT_TIMEOUT)),
        **options,
    }
    return {k: v for k, v in arguments.items() if v is not None}


@contextlib.contextmanager
def _quiet_ibis() -> Iterator[None]:
    """Ibis 12 reads pandas' ``future.infer_string`` option, which pandas 3 deprecates: a
    warning about Ibis's internals that says nothing to the user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*future.infer_string", category=Warning)
        yield


class DatabaseEngine(Closing):
    """A read-only connection to a PostgreSQL database or a SQLite file, through Ibis.

    Parameters
    ----------
    db : DatabaseSource
        What :func:`parse_database` made of the source.
    password : str, optional
        Used when the URL has none (the command line prompts for it when the server asks).

    Examples
    --------
    >>> import sqlite3, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "shop.db")
    >>> with sqlite3.connect(path) as con:
    ...     _ = con.execute("CREATE TABLE orders (customer TEXT, total REAL)")
    >>> with DatabaseEngine(parse_database(path)) as engine:
    ...     engine.table("orders").columns
    ('customer', 'total')
    """

    def __init__(self, db: DatabaseSource, *, password: str | None = None) -> None:
        try:
            import ibis  # noqa: F401
        except ImportError:  # pragma: no cover - ibis is a dependency
            raise InputError("Reading a database needs Ibis: pip install 'custseg[db]'.") from None
        self.db = db
        self.label = db.label
        self.dialect = "postgres" if db.backend == "postgres" else "sqlite"
        self._password = password
        self.materialized: list[str] = []
        """Temporary tables :meth:`materialize` made in this session (the fast path)."""
        self.not_materialized: str | None = None
        """Why PostgreSQL refused the temporary table (the database's words), when it did."""
        self.con = self._connect_postgres() if db.backend == "postgres" else self._open_sqlite()

    # ------------------------------------------------------------------ connecting

    def _open_sqlite(self) -> Any:
        import sqlite3

        import ibis

        path = self.db.path or ""
        if not os.path.isfile(path):
            raise InputError(
                f"SQLite file '{path}' does not exist. Check the path (a SQLite source is a "
                ".sqlite/.sqlite3/.db file or a sqlite:///path URL)."
            )
        with open(path, "rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise InputError(
                    f"File '{path}' is not a SQLite database (its first bytes are not SQLite's). "
                    "Pass the database file, or export the table as .csv or .parquet."
                )
        uri = "file:" + Path(path).resolve().as_posix() + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        return ibis.sqlite.from_connection(con)

    def _connect_postgres(self) -> Any:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise InputError(
                "Reading PostgreSQL needs the driver: pip install 'custseg[db]' "
                "(psycopg and Ibis's PostgreSQL backend)."
            ) from None
        import ibis

        arguments = postgres_arguments(self.db, self._password)
        # Every statement of the session is read-only: the server refuses any write.
        arguments["options"] = "-c default_transaction_read_only=on"
        try:
            con = ibis.postgres.connect(database=arguments.pop("dbname", None), **arguments)
        except Exception as exc:
            raise self._connect_error(exc, arguments.get("password")) from None
        with contextlib.suppress(Exception):  # a server that refuses: its default stays
            _raise_work_mem(con.con, POSTGRES_WORK_MEM_MB)
        return con

    def _connect_error(self, exc: BaseException, password: str | None) -> InputError:
        text = clean_message(exc, self.db, password)
        low = text.lower()
        shown = self.db.shown
        if "password authentication failed" in low:
            return InputError(
                f"PostgreSQL at {shown} refused the password ({text}). Check the user and "
                "password: give the password in the URL, in the PGPASSWORD variable or at the "
                "prompt."
            )
        if "no password supplied" in low or "password is required" in low:
            return InputError(
                f"PostgreSQL at {shown} asks for a password and none was given. Set the "
                "PGPASSWORD variable, add it to ~/.pgpass, or run custseg in a terminal to be "
                "asked for it."
            )
        if "does not exist" in low and "database" in low:
            return InputError(
                f"PostgreSQL at {shown}: {text}. Check the database name at the end of the URL."
            )
        return InputError(
            f"Could not connect to PostgreSQL at {shown} ({text}). Check the host and port, "
            "that the server is running and that this machine may connect to it."
        )

    # ------------------------------------------------------------------ reading

    def table(self, name: str) -> Any:
        """The Ibis table ``name`` (``schema.table`` for another PostgreSQL schema), after
        checking that the catalogue holds it.

        Raises
        ------
        InputError
            If no such table or view exists; the message lists the tables there are.
        """
        schema, _, table = name.rpartition(".")
        database = schema or None
        try:
            names = self.con.list_tables(database=database)
        except Exception as exc:
            raise InputError(
                f"{self.db.label} at {self.db.shown} has no schema '{schema}' "
                f"({clean_message(exc, self.db, self._password)}). Name the table as "
                "schema.table or just table."
            ) from None
        if table not in names:
            close = difflib.get_close_matches(table, names, n=3)
            hint = (
                f" Did you mean {', '.join(repr(c) for c in close)}?"
                if close
                else f" Tables there: {', '.join(sorted(names)[:10]) or 'none'}"
                + (" ..." if len(names) > 10 else "")
                + "."
            )
            raise InputError(
                f"{self.db.label} at {self.db.shown} has no table or view named {name!r}."
                + hint
                + " Pass the table with --table."
            )
        return self.con.table(table, database=database)

    @contextlib.contextmanager
    def _query(self) -> Iterator[None]:
        """Run a query: Ibis's warnings about itself silenced, the database's errors turned
        into one line without the password."""
        try:
            with _quiet_ibis():
                yield
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                f"{self.db.label} at {self.db.shown} could not run custseg's query "
                f"({clean_message(exc, self.db, self._password)}). Check that the user may "
                "read the table."
            ) from None

    def run(self, expr: Any) -> pd.DataFrame:
        """Run an Ibis expression in the database and return the result as pandas."""
        with self._query():
            return self.con.to_pandas(expr)

    def materialize(self, expr: Any, name: str) -> Any:
        """``expr`` stored once in a session-private temporary table, so that the queries built
        on it read the stored rows instead of each computing it again from the table (at 1M
        lines, PostgreSQL's prepare stage went from 36.7 s to 8.4 s); an Ibis table over
        it. The table ``name`` lives only as long as the connection, and only this session
        sees it:

        - **SQLite**: in the connection's separate temporary database (the file stays
          untouched; it is opened read-only);
        - **PostgreSQL**: created in one explicitly ``READ WRITE`` transaction of a single
          ``CREATE TEMPORARY TABLE ... AS SELECT`` (and ``ANALYZE`` of it), in the session's
          own temporary schema; every other statement stays read-only, and the server drops
          the table when custseg disconnects. A role without the ``TEMP`` privilege on the
          database, or a server that takes no writes (a standby), refuses it: ``expr`` is then
          returned as it is and each query computes it, as before (:attr:`not_materialized`
          says why).
        """
        import ibis

        with self._query():
            sql = str(ibis.to_sql(expr, dialect=self.dialect))
            if self.db.backend == "sqlite":
                schema: str | None = self._sqlite_temp_table(name, sql, expr.schema())
            else:
                schema = self._postgres_temp_table(name, sql)
            if schema is None:
                return expr
            self.materialized.append(name)
            stored = self.con.table(name, database=schema)
            # Give back the types the table cannot name: PostgreSQL's timestamps name their
            # precision (a relabelling), SQLite has no decimal (a no-op cast).
            differ = {c: t for c, t in expr.schema().items() if stored.schema()[c] != t}
            return stored.cast(differ) if differ else stored

    def _sqlite_temp_table(self, name: str, sql: str, schema: Any) -> str:
        """Create the temporary table ``name`` from ``sql``, in the connection's temporary
        database (the file is opened read-only); returns ``temp``. Its columns are declared
        with the types of ``schema``: a ``CREATE TABLE ... AS`` would leave the timestamps
        untyped, and reading them back as timestamps cost a date parse per line per query."""
        from ibis.backends.sql.datatypes import SQLiteType

        def declared(dtype: Any) -> str:
            return "BOOLEAN" if dtype.is_boolean() else SQLiteType.from_ibis(dtype).sql("sqlite")

        columns = ", ".join(f'"{c}" {declared(t)}' for c, t in schema.items())
        con = self.con.con
        con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
        con.execute(f'CREATE TEMP TABLE "{name}" ({columns})')
        con.execute(f'INSERT INTO temp."{name}" {sql}')
        con.commit()
        return "temp"

    def _postgres_temp_table(self, name: str, sql: str) -> str | None:
        """Create the temporary table ``name`` from ``sql``; its schema (``pg_temp_N``), or
        ``None`` when PostgreSQL refuses temporary tables to this session."""
        import psycopg
        from psycopg import sql as pgsql

        table = pgsql.Identifier("pg_temp", name)
        con = self.con.con
        try:
            with con.transaction(), con.cursor() as cursor:
                # The session's default stays read-only; this one transaction may write, and
                # all it writes is a table in the session's own temporary schema.
                cursor.execute("SET TRANSACTION READ WRITE")
                cursor.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(table))
                cursor.execute(
                    pgsql.SQL("CREATE TEMPORARY TABLE {} AS ").format(pgsql.Identifier(name))
                    + pgsql.SQL(sql)  # Ibis's SQL of our expressions, its values escaped
                )
                # Statistics for the planner: without them it guesses 200 customers.
                cursor.execute(pgsql.SQL("ANALYZE {}").format(table))
                row = cursor.execute(
                    "SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()"
                ).fetchone()
        except psycopg.Error as exc:
            if exc.sqlstate not in TEMP_REFUSED:
                raise
            self.not_materialized = clean_message(exc, self.db, self._password)
            return None
        return str(row[0]) if row else "pg_temp"

    def scalar(self, expr: Any) -> Any:
        """Run an Ibis scalar expression and return its value."""
        with self._query():
            return self.con.execute(expr)

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):  # already closed or broken: nothing to release
            self.con.disconnect()


def _raise_work_mem(con: Any, megabytes: int) -> None:
    """Set ``work_mem`` of the psycopg session ``con`` to ``megabytes`` when it is lower (a
    server or role configured with more keeps its own)."""
    row = con.execute("SELECT pg_size_bytes(current_setting('work_mem'))").fetchone()
    if row is not None and int(row[0]) < megabytes * 1024 * 1024:
        con.execute(f"SET work_mem = '{int(megabytes)}MB'")


def check_table_name(name: str | None, db: DatabaseSource) -> str:
    """The ``--table`` name, required for a database source.

    Raises
    ------
    InputError
        If it is missing or empty.
    """
    if name is None or not str(name).strip():
        raise InputError(f"{db.label} source {db.shown} needs a table: pass --table NAME.")
    return str(name).strip()
