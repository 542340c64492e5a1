"""SQLite as a source: the lines stay in the database, the answers equal the file's.

PostgreSQL has the same tests against a real server in test_postgres.py (run by .ci/run).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_FEATURES, TINY_LINES

import custseg
from custseg.datasets import demo_path
from custseg.engines.database import parse_database, redact_url
from custseg.errors import InputError

#: Lines of the demo file copied into the test database: enough customers for every cleaning
#: rule and feature, small enough to keep the test fast.
N_LINES = 20_000


def _sqlite(path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    with sqlite3.connect(path) as con:
        for name, frame in frames.items():
            frame.to_sql(name, con, index=False)
    con.close()
    return path


@pytest.fixture(scope="module")
def demo_lines() -> pd.DataFrame:
    return pd.read_csv(demo_path(), nrows=N_LINES, dtype={"CustomerID": "Int64"})


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, demo_lines: pd.DataFrame) -> Path:
    """A SQLite shop: ``orders`` (demo invoice lines) and ``customers`` (one row each)."""
    customers = pd.DataFrame(
        {
            "customer": [f"c{i:03d}" for i in range(60)],
            "age": np.arange(60) % 40 + 20,
            "spend": np.r_[np.full(30, 100.0), np.full(30, 900.0)] + np.arange(60),
            "region": ["north", "south", "east"] * 20,
        }
    )
    path = tmp_path_factory.mktemp("db") / "shop.db"
    return _sqlite(path, {"orders": demo_lines, "customers": customers})


@pytest.fixture(scope="module")
def both(shop: Path, demo_lines: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    """Features of the same lines read from the database and from a CSV file."""
    csv = tmp_path_factory.mktemp("csv") / "orders.csv"
    demo_lines.to_csv(csv, index=False)
    return custseg.build_features(shop, table="orders"), custseg.build_features(csv)


def test_database_features_equal_the_files(both) -> None:
    (db_feats, db_info), (file_feats, file_info) = both
    assert db_feats["customer_id"].tolist() == file_feats["customer_id"].tolist()
    assert list(db_feats.columns) == list(file_feats.columns)
    for col in file_feats.columns[1:]:
        # SQLite sums money as doubles; the net revenue is rounded to 4 decimals before the
        # ratios, which puts it back on the exact value.
        diff = (db_feats[col] - file_feats[col]).abs() / file_feats[col].abs().clip(lower=1)
        assert diff.max() <= 1e-9, col


def test_database_cleaning_accounting_equals_the_files(both) -> None:
    (_, db_info), (_, file_info) = both
    db, file = db_info["cleaning"], file_info["cleaning"]
    for key in ("rows_in", "rows_kept", "customers_in", "customers_kept", "analysis_date"):
        assert db[key] == file[key], key
    assert [(d["reason"], d["rows"]) for d in db["dropped"]] == [
        (d["reason"], d["rows"]) for d in file["dropped"]
    ]
    assert db["rows_in"] == N_LINES
    assert db_info["activity"]["by_month"] == file_info["activity"]["by_month"]
    assert db_info["source"]["table"] == "orders"
    assert db_info["source"]["format"] == "sqlite"


def test_database_is_only_read(shop: Path) -> None:
    before = hashlib.sha256(shop.read_bytes()).hexdigest()
    custseg.build_features(shop, table="orders")
    with sqlite3.connect(shop) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    con.close()
    assert hashlib.sha256(shop.read_bytes()).hexdigest() == before
    assert sorted(tables) == ["customers", "orders"]


def test_sqlite_stores_lines_in_typed_temporary_tables(shop: Path) -> None:
    import ibis

    from custseg.engines.database import DatabaseEngine

    db = parse_database(shop)
    assert db is not None
    with DatabaseEngine(db) as engine:
        raw = engine.table("orders")
        expr = raw.filter(raw.Quantity < 0).mutate(ts=raw.InvoiceDate.cast("timestamp"))
        stored = engine.materialize(expr, "custseg_probe")
        assert engine.materialized == ["custseg_probe"]
        assert stored.schema() == expr.schema()
        # Declared types: the timestamps are read as they are, not parsed again per query.
        assert "STRFTIME" not in str(ibis.to_sql(stored.select("ts"), dialect="sqlite"))
        assert engine.scalar(stored.count()) == engine.scalar(expr.count()) > 0
        temp = engine.con.con.execute("SELECT name FROM sqlite_temp_master").fetchall()
        assert temp == [("custseg_probe",)]


def test_customer_table_from_a_database(shop: Path) -> None:
    result = custseg.segment(shop, table="customers", k=2, algorithm="kmeans", seed=0)
    assert result.metrics["kind"] == "customers"
    assert len(result.segments) == 60
    assert result.metrics["source"]["table"] == "customers"
    # The two planted spend levels are the two segments.
    spend = result.segments.groupby("segment")["spend"].median().sort_values()
    assert spend.iloc[0] < 200 < 800 < spend.iloc[1]


def test_cli_segments_and_predicts_a_database_table(shop: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(
        "segment",
        shop,
        "--table",
        "orders",
        "--out",
        out,
        "--k",
        "3",
        "--algorithm",
        "kmeans",
        "--quiet",
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["source"]["table"] == "orders"
    assert metrics["new_customers"] is None
    assert any("the lines stay in the database" in w for w in metrics["warnings"])
    code, _, err = run_cli(
        "predict",
        out / "model.skops",
        shop,
        "--table",
        "orders",
        "--out",
        tmp_path / "p.csv",
        "--quiet",
    )
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "p.csv", dtype={"customer_id": str})
    segments = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    assert scored["segment"].tolist() == segments["segment"].tolist()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("order", r"has no table or view named 'order'\. Did you mean 'orders'"),
        ("orders; DROP TABLE orders", r"no table or view named 'orders; DROP TABLE orders'"),
        ("nothing_like_it", r"Tables there: customers, orders\."),
    ],
)
def test_unknown_table_is_named_with_the_tables_there(
    shop: Path, tmp_path: Path, run_cli, table: str, message: str
) -> None:
    code, out, err = run_cli("segment", shop, "--table", table, "--out", tmp_path / "o")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists()
    with sqlite3.connect(shop) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == N_LINES
    con.close()


def test_database_needs_a_table_and_a_file_does_not_take_one(shop: Path, tiny_lines: Path) -> None:
    with pytest.raises(InputError, match=r"needs a table: pass table NAME"):
        custseg.build_features(shop)
    with pytest.raises(InputError, match=r"table 'orders' names a table of a database"):
        custseg.build_features(tiny_lines, table="orders")


def test_not_a_sqlite_file_and_missing_file(tmp_path: Path) -> None:
    fake = tmp_path / "shop.db"
    fake.write_text("not a database")
    with pytest.raises(InputError, match=r"is not a SQLite database"):
        custseg.build_features(fake, table="orders")
    with pytest.raises(InputError, match=r"SQLite file '.*missing\.db' does not exist"):
        custseg.build_features(tmp_path / "missing.db", table="orders")


def test_text_dates_that_are_not_iso_are_reported(tmp_path: Path) -> None:
    lines = pd.read_csv(pd.io.common.StringIO(TINY_LINES))
    lines["InvoiceDate"] = pd.to_datetime(lines["InvoiceDate"]).dt.strftime("%d/%m/%Y %H:%M")
    path = _sqlite(tmp_path / "t.db", {"lines": lines})
    with pytest.raises(
        InputError, match=r"column 'InvoiceDate' has 10 values that are not ISO dates.*e\.g\."
    ):
        custseg.build_features(path, table="lines")


def test_tiny_lines_from_sqlite_match_the_hand_worked_features(tmp_path: Path) -> None:
    lines = pd.read_csv(pd.io.common.StringIO(TINY_LINES), dtype={"CustomerID": "Int64"})
    path = _sqlite(tmp_path / "t.db", {"lines": lines})
    feats, info = custseg.build_features(path, table="lines")
    pd.testing.assert_frame_equal(feats, pd.DataFrame(TINY_FEATURES), check_dtype=False)
    dropped = {d["reason"]: d["rows"] for d in info["cleaning"]["dropped"]}
    assert dropped["exact_duplicate"] == 1
    assert dropped["missing_customer_id"] == 1
    assert dropped["non_product_code"] == 1
    assert dropped["non_positive_price"] == 1


def test_redacted_urls_hide_the_password() -> None:
    db = parse_database("postgresql://ana:s3cr%40t@db:5433/shop?sslmode=require")
    assert db is not None and db.backend == "postgres"
    assert "s3cr" not in db.shown and "s3cr" not in repr(db)
    assert redact_url("postgres://ana@db/shop") == "postgres://ana@db/shop"
    assert parse_database("sqlite:///data/shop.sqlite").path == "data/shop.sqlite"
    assert parse_database("s3://bucket/orders.parquet") is None
