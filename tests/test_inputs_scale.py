"""Large inputs (issue 13): a folder or glob of files read as one table, DuckDB's memory limit
and spilling, and DataFrames registered without a per-cell loop."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_LINES

import custseg
from custseg.engines.duckdb import (
    DEFAULT_MEMORY_CAP,
    MIN_MEMORY_LIMIT,
    DuckDBEngine,
    engine_settings,
    parse_memory_limit,
    physical_memory,
)
from custseg.errors import InputError
from custseg.io import load_source
from custseg.io.readers import _is_missing, _text_values
from custseg.io.sources import resolve_files

HEADER, *LINES = TINY_LINES.strip().splitlines()


def split_csv(folder: Path, parts: list[list[str]], header: str = HEADER) -> list[Path]:
    """Write the tiny invoice lines as several CSV files, each with the header."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, lines in enumerate(parts):
        path = folder / f"part-{i}.csv"
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def raw_rows(source: object, **kwargs: object) -> tuple[list[tuple[object, ...]], object]:
    with DuckDBEngine() as engine:
        info = load_source(engine, source, **kwargs)  # type: ignore[arg-type]
        return engine.sql("SELECT * FROM raw ORDER BY _row").fetchall(), info


# ---------------------------------------------------------------- folders and globs


def test_folder_of_csv_files_reads_like_one_file(tmp_path):
    single = tmp_path / "all.csv"
    single.write_text(TINY_LINES, encoding="utf-8")
    split_csv(tmp_path / "orders", [LINES[:3], LINES[3:4], LINES[4:]])
    expected, _ = raw_rows(single)
    rows, info = raw_rows(tmp_path / "orders")
    assert rows == expected  # row numbers count across the files, in name order
    assert info.n_rows == len(LINES) and info.n_files == 3
    assert info.path == str(tmp_path / "orders") and info.format == "csv"
    assert "read 3 csv files in name order (part-0.csv, ..., part-2.csv)" in info.notes[0]
    # The digest covers the files' names and contents.
    lines = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
        for p in sorted((tmp_path / "orders").iterdir())
    )
    assert info.sha256 == hashlib.sha256(lines.encode()).hexdigest()


def test_glob_of_parquet_files_matched_by_column_name(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(TINY_LINES), dtype=str)
    (tmp_path / "pq").mkdir()
    frame.iloc[:4].to_parquet(tmp_path / "pq" / "a.parquet")
    # Another column order, and one column missing: matched by name, noted.
    frame.iloc[4:, ::-1].drop(columns="Country").to_parquet(tmp_path / "pq" / "b.parquet")
    (tmp_path / "pq" / "_SUCCESS").write_text("")  # Spark's marker file is skipped
    rows, info = raw_rows(str(tmp_path / "pq" / "*.parquet"))
    assert info.n_files == 2 and info.n_rows == len(LINES) and info.format == "parquet"
    assert [r[0] for r in rows] == list(range(1, len(LINES) + 1))
    assert [r[7] for r in rows] == [None if pd.isna(v) else v for v in frame["CustomerID"]]
    assert any("'Country' is missing from 1 file(s) (e.g. b.parquet)" in n for n in info.notes)


def test_csv_files_with_different_headers_are_matched_by_name(tmp_path):
    folder = tmp_path / "d"
    split_csv(folder, [LINES[:2]])
    cols = HEADER.split(",")
    order = [cols.index(c) for c in reversed(cols)]
    rows = [",".join(line.split(",")[i] for i in order) for line in LINES[2:]]
    (folder / "part-1.csv").write_text(",".join(reversed(cols)) + "\n" + "\n".join(rows) + "\n")
    expected, _ = raw_rows(pd.read_csv(pd.io.common.StringIO(TINY_LINES), dtype=str))
    got, info = raw_rows(folder)
    assert got == expected
    assert any("matched by name" in n for n in info.notes)


def test_row_accounting_counts_lines_of_every_file(tmp_path):
    split_csv(tmp_path / "o", [LINES[:5], LINES[5:]])
    features, details = custseg.build_features(tmp_path / "o")
    _, one = custseg.build_features(pd.read_csv(pd.io.common.StringIO(TINY_LINES), dtype=str))
    assert details["cleaning"]["rows_in"] == len(LINES) == one["cleaning"]["rows_in"]
    assert details["cleaning"]["dropped"] == one["cleaning"]["dropped"]
    assert details["source"]["n_files"] == 2 and details["source"]["path"] == str(tmp_path / "o")


def write_files(folder: Path, names: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in names.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("files", "pattern", "message"),
    [
        ({}, None, r"Folder '.*d' holds no \.csv, \.tsv, \.txt or \.parquet files\. Put the files"),
        (
            {"README.md": "x"},
            None,
            r"holds no \.csv, .* files \(it holds only README\.md\)",
        ),
        (
            {"a.csv": "id,x\n1,2\n", "b.parquet": "PAR1", "c.parquet": "PAR1"},
            None,
            r"Folder '.*d' holds files of more than one format: 2 parquet \(b\.parquet, "
            r"c\.parquet\); 1 csv \(a\.csv\)\. Every file .* or pass '.*d/\*\.parquet'\.",
        ),
        ({"a.csv": "x"}, "*.parquet", r"Pattern '.*\*\.parquet' matches no file\. Check the"),
        (
            {"a.xlsx": "x", "b.xlsx": "y"},
            None,
            r"holds 2 Excel workbooks \(a\.xlsx, b\.xlsx\); custseg reads a folder or pattern of "
            r"\.csv or \.parquet files only",
        ),
        ({"a.json": "{}", "b.json": "{}"}, None, r"holds \.json files: JSON is not supported"),
        (
            {"a.csv": "id,x\n1,2\n", "b.csv": ""},
            None,
            r"File '.*b\.csv' is empty \(0 bytes\).*Remove it from the folder",
        ),
        (
            {"a.csv": "id,x\n1,2\n", "b.csv": "id;x\n1;2\n"},
            None,
            r"File '.*b\.csv' has only 1 column \('id;x'\) when split at the comma\. Every file "
            r"of a folder or pattern is read like the first one, '.*a\.csv' \(UTF-8, "
            r"comma-separated",
        ),
        (
            {"a.csv": "id,x\n1,2\n", "b.csv": "id,x\n1,2,3\n4,5\n"},
            None,
            r"File '.*b\.csv' has 1 malformed line\(s\) \(line 2\): line 2 has 3 fields instead "
            r"of 2",
        ),
    ],
    ids=[
        "empty folder",
        "no table files",
        "mixed formats",
        "glob matches nothing",
        "several workbooks",
        "json",
        "one empty file",
        "other delimiter",
        "ragged line in the second file",
    ],
)
def test_bad_folders_give_one_clear_error(run_cli, tmp_path, files, pattern, message):
    folder = write_files(tmp_path / "d", files)
    source = str(folder / pattern) if pattern else str(folder)
    with pytest.raises(InputError, match=message):
        raw_rows(source)
    code, out, err = run_cli("segment", source, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_folder_with_one_file_reads_that_file(tmp_path):
    folder = write_files(tmp_path / "d", {"orders.csv": TINY_LINES, "notes.md": "x"})
    files = resolve_files(folder)
    assert files.kind == "file" and files.paths == (folder / "orders.csv",)
    assert files.notes == [
        f"folder '{folder}' also holds 1 file(s) that are not tables, not read: notes.md",
        f"folder '{folder}' holds one file, {folder / 'orders.csv'}",
    ]


# ---------------------------------------------------------------- memory limit


def test_memory_limit_parsing():
    assert parse_memory_limit("4GB") == 4 * 1000**3
    assert parse_memory_limit("1.5 GiB") == int(1.5 * 1024**3)
    assert parse_memory_limit("512m") == 512 * 1024**2
    total = physical_memory()
    assert total is not None and parse_memory_limit("50%") == total // 2
    for bad, message in [
        ("lots", r"memory_limit must be a size such as 4GB, 512MB or 50% .*got 'lots'"),
        ("4", r"must be a size such as 4GB"),
        ("4 parsecs", r"must be a size such as 4GB"),
        ("150%", r"must be a share between 1% and 100% of memory"),
        ("10MB", r"'10MB' is below the smallest limit custseg accepts, 128 MB"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_memory_limit(bad)


def test_engine_memory_limit_default_and_settings():
    with DuckDBEngine() as engine:
        half = physical_memory() // 2  # type: ignore[operator]
        assert engine.memory_limit == min(half, DEFAULT_MEMORY_CAP)
        assert engine.scalar("SELECT current_setting('preserve_insertion_order')") is True
        spill = engine.scalar("SELECT current_setting('temp_directory')")
        assert spill == engine.spill_dir and spill.startswith(engine.tmpdir)
        tmpdir = engine.tmpdir
    assert not Path(tmpdir).exists()  # the spill folder is removed with the engine
    with engine_settings(memory_limit="300MB"), DuckDBEngine() as engine:
        assert engine.memory_limit == 300 * 1000**2
        assert engine.scalar("SELECT current_setting('memory_limit')") == "286.1 MiB"
    with DuckDBEngine(memory_limit="1GiB") as engine:
        assert engine.memory_limit == 1024**3


@pytest.mark.parametrize(
    ("total", "expected"),
    [(64 * 1000**3, 4 * 1000**3), (24 * 1000**3, 4 * 1000**3), (2 * 1000**3, 1000**3)],
)
def test_default_memory_limit_is_half_of_memory_at_most_4gb(monkeypatch, total, expected):
    monkeypatch.setattr(custseg.engines.duckdb, "physical_memory", lambda: total)
    assert custseg.engines.duckdb.default_memory_limit() == expected


def test_out_of_memory_is_an_input_error_naming_the_limit():
    with DuckDBEngine(memory_limit=MIN_MEMORY_LIMIT) as engine:
        engine.sql("SET temp_directory = ''")  # nowhere to spill
        with pytest.raises(
            InputError, match=r"memory limit of 128 MB .*Pass a higher memory_limit"
        ):
            engine.sql("SELECT list(range) FROM range(40000000)")


def test_cli_rejects_a_bad_memory_limit(run_cli, tiny_lines, tmp_path):
    code, out, err = run_cli("segment", tiny_lines, "--memory-limit", "lots", "-o", tmp_path / "o")
    assert code == 2 and out == ""
    assert err == (
        "error: --memory-limit must be a size such as 4GB, 512MB or 50% (of this machine's "
        "memory), got 'lots'.\n"
    )
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- DataFrames


ODD_VALUES = [
    "a", " NA ", None, np.nan, "", "  ", "-", "a", "null\n", "#N/A", "n/a", "None", 1, 1.0, True,
    "1", pd.NA, pd.NaT, dt.date(2020, 1, 2), decimal.Decimal("NaN"), decimal.Decimal("1.50"),
    [1, 2], (3,), b"x", np.float64(2.5), np.int64(3), np.str_("NA"), np.str_("y"), float("inf"),
]  # fmt: skip


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(ODD_VALUES, dtype=object),
        pd.Series(["a", None, " NA", "b", "a"], dtype="str"),
        pd.Series(["a", None, "null", "b"], dtype="string"),
        pd.Series([None, np.nan], dtype=object),
        pd.Series([], dtype=object),
    ],
    ids=["mixed objects", "str", "string", "all missing", "empty"],
)
def test_text_values_match_the_per_cell_rule(column):
    expected = [None if _is_missing(v) else str(v) for v in column]
    got = [None if _is_missing(v) else v for v in _text_values(column)]
    assert got == expected
    assert all(type(v) is str for v in got if v is not None)


def test_dataframe_text_columns_in_raw(tmp_path):
    frame = pd.DataFrame({"id": ["007", " NA ", None, "x"], "v": [1, None, 3, 4], "e": [None] * 4})
    rows, _ = raw_rows(frame.astype({"id": object}))
    assert rows == [(1, "007", 1.0, None), (2, None, None, None), (3, None, 3.0, None),
                    (4, "x", 4.0, None)]  # fmt: skip


def test_python_api_takes_a_memory_limit(tiny_lines):
    with pytest.raises(InputError, match="lots"):
        custseg.segment(tiny_lines, memory_limit="lots", new_customers=False)


def test_damaged_parquet_pages_give_one_error_line(run_cli, tmp_path):
    """Parquet is read in place: a damaged data page is found by a later statement, and must
    still end in one error line naming the file, exit 2 and no output folder."""
    rng = np.random.default_rng(0)
    n = 60_000
    frame = pd.DataFrame(
        {
            "InvoiceNo": rng.integers(1, 20_000, n).astype(str),
            "CustomerID": rng.integers(1, 2_000, n).astype(str),
            "InvoiceDate": pd.Timestamp("2011-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
            "Quantity": rng.integers(1, 10, n),
            "UnitPrice": rng.random(n) * 10,
        }
    )
    good = tmp_path / "good.parquet"
    frame.to_parquet(good, row_group_size=6_000)
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2_000] = bytes(2_000)
    bad = tmp_path / "orders.parquet"
    bad.write_bytes(bytes(data))
    code, out, err = run_cli("segment", bad, "-o", tmp_path / "o", "-q")
    assert code == 2, err
    assert err.startswith(f"error: File '{bad}' could not be read to the end (")
    assert "damaged or incomplete" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_messages_name_a_folder_as_its_files():
    from custseg.io.readers import SourceInfo, describe_source

    folder = SourceInfo("orders", "csv", 10, ["a"], path="orders/", n_files=3)
    assert describe_source(folder) == "The 3 files of 'orders/'"
    one = SourceInfo("o.csv", "csv", 10, ["a"], path="o.csv", n_files=1)
    assert describe_source(one) == "File 'o.csv'"
    assert describe_source(SourceInfo("df", "dataframe", 10, ["a"])) == "The DataFrame"
