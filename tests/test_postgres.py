"""PostgreSQL end to end against a real server: read-only segmentation in the database, scores
written back, errors that never show the password.

`.ci/run` starts a throwaway server and sets CUSTSEG_TEST_PG_URL (without the password) and
CUSTSEG_TEST_PG_PASSWORD; without them these tests are skipped. When the variables are set, a
server that does not answer is a failure, not a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import custseg
from custseg.datasets import demo_path

BASE_URL = os.environ.get("CUSTSEG_TEST_PG_URL")
PASSWORD = os.environ.get("CUSTSEG_TEST_PG_PASSWORD", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not BASE_URL, reason="no PostgreSQL server (set CUSTSEG_TEST_PG_URL; .ci/run does)"
    ),
]

#: Demo lines loaded into the server (as in test_database.py).
N_LINES = 20_000


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(
        netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    ).geturl()


@pytest.fixture(scope="module")
def pg() -> dict[str, str]:
    """A fresh schema holding ``orders`` (demo lines, dates as timestamps) and ``customers``;
    dropped at the end."""
    import psycopg
    from psycopg import sql

    assert BASE_URL is not None
    schema = f"t_{uuid.uuid4().hex[:8]}"
    lines = pd.read_csv(demo_path(), nrows=N_LINES, dtype={"CustomerID": "Int64"})
    lines["InvoiceDate"] = pd.to_datetime(lines["InvoiceDate"])
    customers = pd.DataFrame(
        {
            "customer": [f"c{i:03d}" for i in range(60)],
            "age": np.arange(60) % 40 + 20,
            "spend": np.r_[np.full(30, 100.0), np.full(30, 900.0)] + np.arange(60),
        }
    )
    url = _with_password(BASE_URL, PASSWORD)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        con.execute(
            sql.SQL(
                'CREATE TABLE {}.orders ("InvoiceNo" text, "StockCode" text, "Description" text, '
                '"Quantity" integer, "InvoiceDate" timestamp, "UnitPrice" double precision, '
                '"CustomerID" bigint, "Country" text)'
            ).format(sql.Identifier(schema))
        )
        with con.cursor().copy(
            sql.SQL("COPY {}.orders FROM STDIN").format(sql.Identifier(schema))
        ) as copy:
            for row in lines.itertuples(index=False):
                copy.write_row([None if pd.isna(v) else v for v in row])
        con.execute(
            sql.SQL("CREATE TABLE {}.customers (customer text, age integer, spend real)").format(
                sql.Identifier(schema)
            )
        )
        with con.cursor().copy(
            sql.SQL("COPY {}.customers FROM STDIN").format(sql.Identifier(schema))
        ) as copy:
            for row in customers.itertuples(index=False):
                copy.write_row(list(row))
    try:
        yield {"schema": schema, "url": url}
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same demo lines as a CSV file, for DuckDB."""
    path = tmp_path_factory.mktemp("pgcsv") / "orders.csv"
    pd.read_csv(demo_path(), nrows=N_LINES).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def both(pg: dict[str, str], demo_csv: Path):
    return (
        custseg.build_features(pg["url"], table=f"{pg['schema']}.orders"),
        custseg.build_features(demo_csv),
    )


def _assert_same_as_duckdbs(pg_result, file_result) -> None:
    """The same customers, features, cleaning accounting and activity as DuckDB's."""
    (pg_feats, pg_info), (file_feats, file_info) = pg_result, file_result
    assert pg_feats["customer_id"].tolist() == file_feats["customer_id"].tolist()
    for col in file_feats.columns[1:]:
        diff = (pg_feats[col] - file_feats[col]).abs() / file_feats[col].abs().clip(lower=1)
        assert diff.max() <= 1e-9, col
    pg_clean, file_clean = pg_info["cleaning"], file_info["cleaning"]
    assert [(d["reason"], d["rows"], d["revenue"]) for d in pg_clean["dropped"]] == [
        (d["reason"], d["rows"], d["revenue"]) for d in file_clean["dropped"]
    ]
    for key in ("rows_in", "rows_kept", "revenue_kept", "customers_in", "customers_kept"):
        assert pg_clean[key] == file_clean[key], key
    assert pg_info["activity"] == file_info["activity"]
    assert PASSWORD not in json.dumps(pg_info, default=str)


def test_postgres_features_and_accounting_equal_duckdbs(both) -> None:
    _assert_same_as_duckdbs(*both)


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> list:
    """The DatabaseEngines whose ``materialize`` a job calls, to see which path it took."""
    from custseg.engines.database import DatabaseEngine

    seen: list[DatabaseEngine] = []
    materialize = DatabaseEngine.materialize

    def spy(self: DatabaseEngine, expr, name: str):
        seen.append(self)
        return materialize(self, expr, name)

    monkeypatch.setattr(DatabaseEngine, "materialize", spy)
    return seen


def test_postgres_stores_the_classified_lines_once(pg, both, engines) -> None:
    result = custseg.build_features(pg["url"], table=f"{pg['schema']}.orders")
    (engine,) = engines
    assert engine.materialized == ["custseg_clean_lines"]
    assert engine.not_materialized is None
    _assert_same_as_duckdbs(result, both[1])


def test_the_temporary_table_is_private_and_the_session_stays_read_only(pg) -> None:
    import psycopg

    from custseg.engines.database import DatabaseEngine, parse_database

    db = parse_database(pg["url"])
    assert db is not None
    with DatabaseEngine(db) as engine:
        raw = engine.table(f"{pg['schema']}.orders")
        stored = engine.materialize(raw.filter(raw.Quantity < 0), "custseg_probe")
        assert engine.materialized == ["custseg_probe"]
        con = engine.con.con
        n = con.execute(f'SELECT count(*) FROM "{pg["schema"]}".orders WHERE "Quantity" < 0')
        assert int(engine.scalar(stored.count())) == n.fetchone()[0] > 0
        (schema,) = con.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'custseg_probe'"
        ).fetchone()
        assert schema.startswith("pg_temp_")  # the session's own temporary schema
        assert con.execute("SHOW transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            con.execute(f'CREATE TABLE "{pg["schema"]}".custseg_probe (a integer)')
        # Another session may not read it (a superuser is told "temporary tables of other
        # sessions", anyone else "permission denied for schema pg_temp_N").
        refused = (psycopg.errors.InsufficientPrivilege, psycopg.errors.FeatureNotSupported)
        with psycopg.connect(pg["url"]) as other, pytest.raises(refused):
            other.execute(f'SELECT count(*) FROM "{schema}".custseg_probe')


@pytest.fixture
def no_temp_privilege(pg: dict[str, str]):
    """The test role without the TEMP privilege on the database (taken from PUBLIC and from
    the role itself, as the owner may), given back at the end."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg["url"], autocommit=True) as con:
        row = con.execute(
            "SELECT current_database(), current_user, "
            "has_database_privilege('public', current_database(), 'TEMPORARY')"
        ).fetchone()
        assert row is not None
        database, user, public_had = row
        db, role = sql.Identifier(database), sql.Identifier(user)
        con.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC, {}").format(db, role))
        try:
            allowed = con.execute(
                "SELECT has_database_privilege(current_database(), 'TEMPORARY')"
            ).fetchone()
            if allowed != (False,):
                pytest.skip(f"cannot take TEMP away from {user} (a superuser, or not the owner)")
            yield
        finally:
            con.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(db, role))
            if public_had:
                con.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO PUBLIC").format(db))


def test_postgres_without_temp_privilege_computes_the_lines_in_each_query(
    pg, both, engines, no_temp_privilege
) -> None:
    result = custseg.build_features(pg["url"], table=f"{pg['schema']}.orders")
    (engine,) = engines
    assert engine.materialized == []
    assert "permission denied to create temporary tables" in (engine.not_materialized or "")
    _assert_same_as_duckdbs(result, both[1])


def test_postgres_segments_at_fixed_k_equal_duckdbs(pg: dict[str, str], demo_csv: Path) -> None:
    result = custseg.segment(
        pg["url"], table=f"{pg['schema']}.orders", k=4, algorithm="kmeans", seed=0
    )
    from_file = custseg.segment(demo_csv, k=4, algorithm="kmeans", seed=0, new_customers=False)
    assert adjusted_rand_score(from_file.segments["segment"], result.segments["segment"]) >= 0.99
    assert result.metrics["source"]["format"] == "postgresql"
    assert PASSWORD not in json.dumps(result.metrics, default=str)


def test_cli_segments_writes_back_and_never_prints_the_password(
    pg: dict[str, str], tmp_path: Path, run_cli
) -> None:
    import psycopg

    out = tmp_path / "out"
    table = f"{pg['schema']}.orders"
    code, stdout, stderr = run_cli(
        "segment", pg["url"], "--table", table, "--out", out, "--k", "3", "--algorithm", "kmeans"
    )
    assert code == 0, stderr
    for text in (stdout, stderr, *(p.read_text(errors="ignore") for p in out.iterdir())):
        assert PASSWORD not in text
    assert "***" in stdout
    target = f"{pg['schema']}.customer_segments"
    for _ in range(2):  # the second run updates the same rows
        code, stdout, stderr = run_cli(
            "predict",
            out / "model.skops",
            pg["url"],
            "--table",
            table,
            "--to",
            pg["url"],
            "--to-table",
            target,
            "--quiet",
        )
        assert code == 0, stderr
        assert PASSWORD not in stdout + stderr
    segments = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    with psycopg.connect(pg["url"]) as con:
        rows = con.execute(
            f'SELECT customer_id, segment, model_id, action FROM "{pg["schema"]}".customer_segments'
        ).fetchall()
    assert len(rows) == len(segments)
    written = dict((r[0], r[1]) for r in rows)
    assert [written[c] for c in segments["customer_id"]] == segments["segment"].tolist()
    assert {r[2] for r in rows} == {hashlib.sha256((out / "model.skops").read_bytes()).hexdigest()}
    assert all(r[3] for r in rows)
    assert not (tmp_path / "predictions.csv").exists()


def test_database_is_only_read(pg: dict[str, str]) -> None:
    import psycopg

    custseg.build_features(pg["url"], table=f"{pg['schema']}.orders")
    with psycopg.connect(pg["url"]) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (pg["schema"],),
        ).fetchall()
        n = con.execute(f'SELECT count(*) FROM "{pg["schema"]}".orders').fetchone()
    assert {t[0] for t in tables} <= {"orders", "customers", "customer_segments"}
    assert n is not None and n[0] == N_LINES


def test_customer_table_from_postgres(pg: dict[str, str]) -> None:
    result = custseg.segment(
        pg["url"], table=f"{pg['schema']}.customers", k=2, algorithm="kmeans", seed=0
    )
    assert result.metrics["kind"] == "customers" and len(result.segments) == 60


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("sql in the table name", r"has no table or view named 'orders; DROP TABLE orders'"),
        ("missing table", r"has no table or view named 'nope'"),
        ("wrong password", r"refused the password"),
        ("unreachable host", r"Could not connect to PostgreSQL at .*Check the host and port"),
    ],
)
def test_postgres_errors_are_one_line_without_the_password(
    pg: dict[str, str],
    tmp_path: Path,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    message: str,
) -> None:
    assert BASE_URL is not None
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url, table = pg["url"], f"{pg['schema']}.orders"
    if case == "sql in the table name":
        table = f"{pg['schema']}.orders; DROP TABLE orders"
        message = message.replace("orders;", f"{pg['schema']}.orders;")
    elif case == "missing table":
        table = f"{pg['schema']}.nope"
        message = message.replace("'nope'", f"'{pg['schema']}.nope'")
    elif case == "wrong password":
        url = _with_password(BASE_URL, "not-" + PASSWORD)
    else:
        parts = urlsplit(url)
        url = parts._replace(
            netloc=f"{parts.username}:{PASSWORD}@127.0.0.1:{_closed_port()}"
        ).geturl()
    code, stdout, stderr = run_cli("segment", url, "--table", table, "--out", tmp_path / "o")
    assert code == 2, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert re.search(message, stderr), stderr
    assert PASSWORD not in stdout + stderr
    assert not (tmp_path / "o").exists()


def test_app_reads_a_postgresql_table_and_hides_the_password(pg: dict[str, str]) -> None:
    from streamlit.testing.v1 import AppTest

    from custseg.app import main_script

    assert BASE_URL is not None
    at = AppTest.from_file(str(main_script()), default_timeout=240)
    at.run()
    at.radio(key="data_choice").set_value("Read a PostgreSQL table").run()
    at.text_input(key="data_db_url").set_value(BASE_URL)  # no password in it
    at.text_input(key="data_db_table").set_value(f"{pg['schema']}.orders")
    at.text_input(key="data_db_password").set_value(PASSWORD)
    next(b for b in at.button if b.label == "Read the table").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Read as transactions" in at.success[0].value
    shown = "\n".join(
        str(e.value) for kind in ("text", "markdown", "success", "caption") for e in at.get(kind)
    )
    assert f"{pg['schema']}.orders of postgresql://" in shown
    assert PASSWORD not in shown
