"""Writing scores back to a database, where a CRM reads them (``custseg predict ... --to URL
--to-table NAME``).

One call writes every scored customer in **one transaction**: the rows are copied into a
temporary table and merged into the target with ``INSERT ... ON CONFLICT (customer_id) DO
UPDATE`` (an upsert by customer id), so a reader sees either all of the new scores or none,
and a customer scored again is updated, not duplicated. Each row carries the model's id (the
sha256 of the model file) and the time it was scored. The target table is created when it does
not exist; an existing table must have the same columns and a unique ``customer_id``.

Values are always bound (COPY for PostgreSQL, ``executemany`` placeholders for SQLite) and the
table name is quoted as an identifier: nothing the data or the user gives is pasted into SQL.

Examples
--------
>>> import os, tempfile, pandas as pd
>>> path = os.path.join(tempfile.mkdtemp(), "crm.db")
>>> scores = pd.DataFrame({"customer_id": ["a", "b"], "segment": [0, 1],
...                        "segment_name": ["Champions", "At risk"]})
>>> write_scores(scores, path, "customer_segments", model_id="abc")
2
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from custseg.engines.database import (
    DatabaseSource,
    clean_message,
    parse_database,
    postgres_arguments,
)
from custseg.errors import InputError

#: The columns written, in order, with their SQL types (PostgreSQL, SQLite).
SCORE_COLUMNS: dict[str, tuple[str, str]] = {
    "customer_id": ("TEXT PRIMARY KEY", "TEXT PRIMARY KEY"),
    "segment": ("INTEGER NOT NULL", "INTEGER NOT NULL"),
    "segment_name": ("TEXT NOT NULL", "TEXT NOT NULL"),
    "action": ("TEXT", "TEXT"),
    "segment_probability": ("DOUBLE PRECISION", "REAL"),
    "model_id": ("TEXT NOT NULL", "TEXT NOT NULL"),
    "scored_at": ("TIMESTAMPTZ NOT NULL", "TEXT NOT NULL"),
}


def _split_name(name: str) -> tuple[str | None, str]:
    schema, _, table = name.strip().rpartition(".")
    if not table:
        raise InputError(
            f"--to-table {name!r} is not a table name. Give one such as customer_segments or "
            "crm.customer_segments."
        )
    return schema or None, table


def _rows(scored: pd.DataFrame, model_id: str, at: dt.datetime) -> list[tuple[Any, ...]]:
    if "customer_id" not in scored or scored["customer_id"].isna().any():
        raise InputError("Every scored row needs a customer id to be written back.")
    if scored["customer_id"].astype(str).duplicated().any():
        dup = scored.loc[scored["customer_id"].astype(str).duplicated(), "customer_id"].iloc[0]
        raise InputError(
            f"Customer id {dup!r} is scored twice; each customer is written once. Score one "
            "row per customer."
        )

    def value(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return None
        return v.item() if hasattr(v, "item") else v

    columns = [c for c in SCORE_COLUMNS if c not in ("model_id", "scored_at")]
    frame = scored.reindex(columns=columns)
    frame["customer_id"] = frame["customer_id"].astype(str)
    return [
        (*(value(v) for v in row), model_id, at) for row in frame.itertuples(index=False, name=None)
    ]


def write_scores(
    scored: pd.DataFrame,
    url: str,
    table: str,
    *,
    model_id: str,
    password: str | None = None,
) -> int:
    """Upsert scores into ``table`` of the database at ``url`` in one transaction.

    Parameters
    ----------
    scored : pandas.DataFrame
        What :meth:`custseg.SegmentModel.predict` returns: ``customer_id``, ``segment``,
        ``segment_name``, and ``action`` / ``segment_probability`` where present.
    url : str
        ``postgresql://user@host/db`` or a SQLite file.
    table : str
        Target table (``schema.table`` in PostgreSQL); created when missing.
    model_id : str
        Identifies the model (the command line uses the model file's sha256).
    password : str, optional
        When neither the URL, ``PGPASSWORD`` nor ``~/.pgpass`` gives one.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    InputError
        If the target is not a database, cannot be reached or written, or holds a table of
        that name with other columns.
    """
    db = parse_database(url)
    if db is None:
        raise InputError(
            f"--to {url!r} is not a database. Give postgresql://user@host/db or a SQLite file "
            "(.sqlite, .sqlite3, .db)."
        )
    schema, name = _split_name(table)
    rows = _rows(scored, model_id, dt.datetime.now(dt.UTC).replace(microsecond=0))
    if db.backend == "sqlite":
        if schema is not None:
            raise InputError(f"SQLite has no schemas: give --to-table {name!r} without one.")
        return _write_sqlite(db, name, rows)
    return _write_postgres(db, schema, name, rows, password)


def _check_columns(found: list[str], shown: str, table: str) -> None:
    if found and found != list(SCORE_COLUMNS):
        raise InputError(
            f"Table '{table}' of {shown} already exists with other columns "
            f"({', '.join(found)}). Write to a new table with --to-table, or give it the columns "
            f"{', '.join(SCORE_COLUMNS)} and a unique customer_id."
        )


def _write_sqlite(db: DatabaseSource, name: str, rows: list[tuple[Any, ...]]) -> int:
    import sqlite3

    path = db.path or ""
    try:
        con = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise InputError(f"Cannot open SQLite file '{path}' for writing ({exc}).") from None
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        with con:  # one transaction: committed at the end, rolled back on any error
            found = [r[1] for r in con.execute(f"PRAGMA table_info({quoted})")]
            _check_columns(found, path, name)
            if not found:
                columns = ", ".join(f"{c} {types[1]}" for c, types in SCORE_COLUMNS.items())
                con.execute(f"CREATE TABLE {quoted} ({columns})")
            names = ", ".join(SCORE_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS if c != "customer_id")
            con.executemany(
                f"INSERT INTO {quoted} ({names}) VALUES ({', '.join('?' * len(SCORE_COLUMNS))}) "
                f"ON CONFLICT (customer_id) DO UPDATE SET {updates}",
                [(*r[:-1], r[-1].isoformat()) for r in rows],
            )
    except sqlite3.Error as exc:
        raise InputError(
            f"Could not write the scores to table '{name}' of SQLite file '{path}' ({exc}); "
            "nothing was written."
        ) from None
    finally:
        con.close()
    return len(rows)


def _write_postgres(
    db: DatabaseSource,
    schema: str | None,
    name: str,
    rows: list[tuple[Any, ...]],
    password: str | None,
) -> int:
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        raise InputError(
            "Writing to PostgreSQL needs the driver: pip install 'custseg[db]'."
        ) from None
    arguments = postgres_arguments(db, password)
    secret = arguments.get("password")
    target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    shown = f"'{schema + '.' if schema else ''}{name}' of {db.shown}"
    try:
        con = psycopg.connect(**arguments)
    except psycopg.Error as exc:
        raise InputError(
            f"Could not connect to PostgreSQL at {db.shown} to write the scores "
            f"({clean_message(exc, db, secret)}). Check the URL, the password and the server."
        ) from None
    try:
        with con.transaction(), con.cursor() as cur:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND table_schema = coalesce(%s, current_schema()) ORDER BY ordinal_position",
                (name, schema),
            )
            found = [r[0] for r in cur.fetchall()]
            _check_columns(found, db.shown, name)
            if not found:
                cur.execute(
                    sql.SQL("CREATE TABLE {} ({})").format(
                        target,
                        sql.SQL(", ").join(
                            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[0]))
                            for c, types in SCORE_COLUMNS.items()
                        ),
                    )
                )
            cur.execute(
                sql.SQL("CREATE TEMP TABLE custseg_scores (LIKE {}) ON COMMIT DROP").format(target)
            )
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in SCORE_COLUMNS)
            with cur.copy(sql.SQL("COPY custseg_scores ({}) FROM STDIN").format(columns)) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} ({}) SELECT {} FROM custseg_scores "
                    "ON CONFLICT (customer_id) DO UPDATE SET {}"
                ).format(
                    target,
                    columns,
                    columns,
                    sql.SQL(", ").join(
                        sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                        for c in SCORE_COLUMNS
                        if c != "customer_id"
                    ),
                )
            )
    except InputError:
        raise
    except psycopg.Error as exc:
        raise InputError(
            f"Could not write the scores to table {shown} "
            f"({clean_message(exc, db, secret)}); nothing was written. Check that the user may "
            "create and write that table, and that its customer_id is unique."
        ) from None
    finally:
        con.close()
    return len(rows)
