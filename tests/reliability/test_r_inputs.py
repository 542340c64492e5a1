"""RELIABILITY.md items 1-26 (input files, schema and types, values): one test per item,
``test_rNN_<what>``, and the corpus of broken files run through the command line
(``test_r_corpus[name]``).

The corpus lives in ``tests/data/bad/`` (written by ``make_bad_files.py``); its large files are
written into a temporary folder at test time. For every file the command line must exit with
code 2 and print exactly one line, starting ``error:``, that matches the file's entry in
:data:`CORPUS`; no traceback, no output folder, nothing new in the output's parent folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import re
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

import custseg
from custseg import clean
from custseg.engines.duckdb import DuckDBEngine
from custseg.errors import InputError
from custseg.io.readers import NA_VALUES, load_source
from custseg.io.sniff import MAX_COLUMNS, MAX_LINE_CHARS
from custseg.schema import EXCEL_SERIAL, detect_date_format, detect_roles

HERE = Path(__file__).resolve().parent
BAD = HERE.parent / "data" / "bad"
DOCS = HERE.parents[1] / "docs"


def _load_maker():
    """``make_bad_files.py`` beside this file (no package: tests/reliability has no
    ``__init__``)."""
    spec = importlib.util.spec_from_file_location(
        "_r_inputs_make_bad_files", HERE / "make_bad_files.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make = _load_maker()
HEADER = make.HEADER

#: Corpus file -> (extra command-line arguments, what the one ``error:`` line must match).
#: Every message names the file, the column, the rows or lines, or the limit, and says what to
#: do. ``LARGE`` files are written at test time.
CORPUS: dict[str, tuple[list[str], str]] = {
    # 1. empty files
    "empty.csv": ([], r"empty\.csv' is empty \(0 bytes\): no header and no data rows\. Export"),
    "header_only.csv": ([], r"header_only\.csv' has a header but no data rows\. Export"),
    "blank_lines.csv": ([], r"blank_lines\.csv' is empty: no header and no data rows"),
    # 7. not the format the name claims
    "zip_named.csv": (
        [],
        r"zip_named\.csv' is not a valid CSV file: it is a zip archive "
        r"\(orders\.csv\): unzip it",
    ),
    "workbook_named.csv": (
        [],
        r"not a valid CSV file: it is an Excel workbook: rename it to "
        r"\.xlsx",
    ),
    "parquet_named.csv": ([], r"not a valid CSV file: it is a Parquet file: rename it"),
    "pdf_named.csv": ([], r"not a valid CSV file: it is a PDF document: export the table"),
    "sqlite_named.csv": ([], r"not a valid CSV file: it is a SQLite database: export"),
    "ole_named.csv": ([], r"not a valid CSV file: it is an old Excel \.xls workbook .*save it"),
    "nul_bytes.csv": ([], r"not a valid CSV file: it holds binary data \(NUL bytes\)\. Export"),
    "truncated.csv.gz": (
        [],
        r"truncated\.csv\.gz' is not a valid gzip-compressed CSV file .*"
        r"Decompress it or export it again",
    ),
    "text_named.xlsx": ([], r"text_named\.xlsx' is not a valid \.xlsx workbook .*save it as"),
    "text_named.parquet": ([], r"text_named\.parquet' is not a valid Parquet file .*Export it"),
    # 8. Excel sheets
    "two_sheets.xlsx": (
        ["--sheet", "Customers"],
        r"has no sheet 'Customers'\. Sheets: Notes, "
        r"Orders\. Pass one of them to --sheet",
    ),
    "empty_sheet.xlsx": ([], r"Sheet 'Orders' of '.*empty_sheet\.xlsx' is empty: no header"),
    # 10. zip and XML bombs
    "xml_bomb.xlsx": (
        [],
        r"xml_bomb\.xlsx' was refused: its part 'xl/bomb\.xml' declares XML "
        r"entities.*save the sheet as \.csv",
    ),
    "zip_bomb.xlsx": (
        [],
        r"zip_bomb\.xlsx' was refused: its part 'xl/media/zeros\.bin' unpacks "
        r"to 8 MB, 1,\d{3} times its packed size, beyond the limit of 200x",
    ),
    # 11. unsupported formats
    "old.xls": ([], r"old\.xls': old Excel \.xls is not supported: .*save as \.xlsx or \.csv"),
    "csv_named.xls": (
        [],
        r"csv_named\.xls' is named \.xls but holds plain text, not an Excel "
        r"workbook: rename it to \.csv",
    ),
    "html_named.xls": ([], r"html_named\.xls' is named \.xls but holds a web page or XML table"),
    "binary.xlsb": ([], r"binary Excel \.xlsb is not supported: save it as \.xlsx or \.csv"),
    "lines.jsonl": ([], r"JSON lines are not supported: save the table as \.csv or \.parquet"),
    "table.json": ([], r"table\.json': JSON is not supported: save the table as \.csv"),
    "sheet.ods": ([], r"OpenDocument \.ods is not supported: save it as \.xlsx or \.csv"),
    "table.xml": ([], r"table\.xml': XML is not supported: save the table as \.csv or \.xlsx"),
    "orders.dat": (
        [],
        r"orders\.dat' has an unsupported extension '\.dat'\. custseg reads "
        r"\.csv",
    ),
    # 3. delimiters
    "one_column.csv": (
        [],
        r"one_column\.csv' has only 1 column \('CustomerID'\)\. custseg needs a customer id "
        r"and at least one more column",
    ),
    "title_line.csv": (
        [],
        r"has only 1 column: its first line \('Orders exported 2011-12-09'\) "
        r"has 1 field but the next lines have 7\. If the first line is a title",
    ),
    # 4. ragged rows
    "ragged.csv": (
        [],
        r"ragged\.csv' has 1 malformed line\(s\) \(line 5\): line 5 has 8 fields "
        r"instead of 7 .*fix or remove those lines",
    ),
    "wide_ragged.csv": (
        [],
        r"wide_ragged\.csv' has a malformed line \(line 4\): line 4 has 3,000 fields instead "
        r"of 7 .*fix or remove that line",
    ),
    "unclosed_quote.csv": (
        [],
        r"has 1 malformed line\(s\) \(line 4\): line 4 cannot be read: "
        r"value with unterminated quote",
    ),
    # 5. duplicate or blank names
    "duplicate_names.csv": (
        [],
        r"duplicate column names: 'Quantity' appears 2 times "
        r"\(columns 3, 7 of 7\)\. Rename them",
    ),
    "duplicate_names_case.csv": (
        [],
        r"'UnitPrice' appears 2 times \(columns 5, 7 of 7\) "
        r"\(names are compared ignoring case\)",
    ),
    "unnamed_column.csv": (
        [],
        r"has a column without a name \(column 7 of 7\) that holds "
        r"values, e.g\. 'United Kingdom' in row 1\. Give every column",
    ),
    "reserved_name.csv": (
        [],
        r"has a column named '_row', a name custseg keeps for row "
        r"numbers\. Rename that column",
    ),
    # 13. required columns missing
    "no_customer_id.csv": (
        [],
        r"has no customer id column\. Columns found: InvoiceNo, .*Buyer"
        r".*; roles detected: invoice='InvoiceNo'.*--customer-col",
    ),
    "no_date.csv": (
        ["--kind", "transactions"],
        r"no_date\.csv' has no column for date\. "
        r"Columns found: InvoiceNo, .*roles detected: .*--date-col",
    ),
    # 16, 17, 19. values that are not numbers or dates
    "bad_number.csv": (
        [],
        r"column 'UnitPrice' has 1 value\(s\) that are not numbers or are "
        r"out of range \(row 3\), e.g\. 'abc'\. Fix them",
    ),
    "decimal_comma_in_dot_file.csv": (
        [],
        r"column 'UnitPrice' has 1 value\(s\) that are not "
        r"numbers .*\(row 1\), e\.g\. '2,55'",
    ),
    "overflow.csv": (
        [],
        r"column 'Quantity' has 1 value\(s\) that are not numbers or are out "
        r"of range \(row 2\), e\.g\. '1e400'",
    ),
    "amount_overflow.csv": (
        [],
        r"amount_overflow\.csv': 1 line\(s\) have an amount of 1e14 or more \(row 2\), e\.g\. "
        r"Quantity '1e20' x UnitPrice '10\.00': custseg keeps line amounts exactly, below 1e14\. "
        r"Fix those values",
    ),
    "infinity.csv": (
        [],
        r"column 'UnitPrice' has 1 value\(s\) .* out of range \(row 5\), "
        r"e\.g\. 'Infinity'",
    ),
    "mixed_dates.csv": (
        [],
        r"column 'InvoiceDate' has 2 value\(s\) that are not dates written "
        r"like the others .*\(rows 4, 6\), e\.g\. '05/01/2011 12:00', "
        r"'tomorrow'\. Write every date the same way",
    ),
    "not_dates.csv": (
        [],
        r"column 'InvoiceDate' has values that are not dates in any known "
        r"format, e\.g\. 'soon'\. Pass --date-col",
    ),
    "numbers_as_dates.csv": (
        [],
        r"column 'InvoiceDate' holds numbers, not dates, e\.g\. '2', "
        r"'3', '4'\. Excel date serials .* are read as dates",
    ),
    # customer tables
    "customers_duplicate_ids.csv": (
        [],
        r"customer id '0001' in column 'CustomerID' appears "
        r"more than once \(rows 1, 3\).*--kind transactions",
    ),
    "customers_empty_id.csv": (
        [],
        r"column 'CustomerID' has 1 empty customer id\(s\) "
        r"\(row 2\)\. Give every row an id",
    ),
    "no_customer_ids.csv": (
        [],
        r"column 'CustomerID' has 7 empty customer id\(s\) "
        r"\(rows 1, 2, 3, 4, 5, \.\.\. \(7 in all\)\)",
    ),
    # 22, 25, 28. nothing left after cleaning
    "all_cancelled.csv": (
        [],
        r"Nothing left after cleaning: all 7 lines were dropped "
        r"\(cancellation: 7\)\. Most were cancellation: check the invoice "
        r"and quantity columns \(--invoice-col, --quantity-col\)",
    ),
    "two_customers.csv": (
        [],
        r"two_customers\.csv' gives 2 customer\(s\) after cleaning; "
        r"segmentation needs at least 3",
    ),
    "two_customers_all_kept.csv": (
        [],
        r"two_customers_all_kept\.csv' gives 2 customer\(s\) after cleaning; segmentation "
        r"needs at least 3",
    ),
    "all_in_future.csv": (
        [],
        r"Every line with a customer id is dated in the future .*"
        r"e\.g\. 2099-01-01\. Check the date column and its format",
    ),
    # Large files, written at test time: the limits of one line and of the columns.
    "long_header.csv": (
        [],
        rf"long_header\.csv': line 1 is longer than "
        rf"{MAX_LINE_CHARS:,} characters, the limit for one line",
    ),
    "long_cell.csv": (
        [],
        rf"long_cell\.csv': line 2 is longer than {MAX_LINE_CHARS:,} "
        r"characters, the limit for one line.*export the table again",
    ),
    "wide_header.csv": (
        [],
        rf"wide_header\.csv' has 300,000 columns, beyond the limit of "
        rf"{MAX_COLUMNS:,}",
    ),
    "late_long_line.csv": (
        [],
        rf"has 1 malformed line\(s\) \(line 402\): line 402 is "
        rf"11,000,0\d\d bytes long, beyond the limit of {MAX_LINE_CHARS:,} "
        r"for one line",
    ),
}
#: Large files that take more than a second or two (a 200 MB cell): marked slow.
SLOW = {"long_cell.csv"}


def test_corpus_is_complete() -> None:
    """Every committed file has an entry, every entry a file, and there are at least 40."""
    committed = {p.name for p in BAD.iterdir()}
    assert committed == set(make.SMALL)
    assert set(CORPUS) == set(make.SMALL) | set(make.LARGE)
    assert len(CORPUS) >= 40
    assert max(p.stat().st_size for p in BAD.iterdir()) < 20_000


def run_segment(run_cli, path: Path, out: Path, *extra: str) -> tuple[int, str, str, list[str]]:
    """Run ``custseg segment`` and return (code, stdout, stderr, lines of stderr)."""
    code, stdout, stderr = run_cli("segment", path, "--out", out, "--quiet", *extra)
    return code, stdout, stderr, stderr.splitlines()


def assert_one_clear_error(run_cli, path: Path, tmp_path: Path, extra: list[str], match: str):
    """Exit 2, one ``error:`` line matching ``match``, no traceback, nothing written."""
    parent = tmp_path / "outputs"
    parent.mkdir(parents=True)
    before = sorted(p.name for p in parent.iterdir())
    out = parent / "out"
    code, stdout, stderr, lines = run_segment(run_cli, path, out, *extra)
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stderr
    assert not out.exists()
    assert sorted(p.name for p in parent.iterdir()) == before
    return lines[0]


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CORPUS],
)
def test_r_corpus(name: str, run_cli, tmp_path: Path) -> None:
    extra, match = CORPUS[name]
    path = make.write_large(name, tmp_path) if name in make.LARGE else BAD / name
    assert_one_clear_error(run_cli, path, tmp_path, extra, match)


# ---------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def loaded(source: Path | pd.DataFrame, **kw):
    """``load_source`` into a fresh engine: (info, rows of ``raw`` ordered by row)."""
    with DuckDBEngine() as engine:
        info = load_source(engine, source, **kw)
        frame = engine.sql("SELECT * FROM raw ORDER BY _row").df()
    return info, frame


def corpus_error(run_cli, tmp_path: Path, name: str) -> str:
    extra, match = CORPUS[name]
    return assert_one_clear_error(run_cli, BAD / name, tmp_path, extra, match)


def cleaning_of(path: Path, **kw) -> tuple[pd.DataFrame, dict]:
    feats, details = custseg.build_features(path, **kw)
    return feats, details


def dropped(details: dict) -> dict[str, int]:
    return {d["reason"]: d["rows"] for d in details["cleaning"]["dropped"] if d["rows"]}


# ---------------------------------------------------------------- input files (1-12)


def test_r01_empty_and_header_only(run_cli, tmp_path: Path) -> None:
    assert "no data rows" in corpus_error(run_cli, tmp_path / "a", "empty.csv")
    assert "no data rows" in corpus_error(run_cli, tmp_path / "b", "header_only.csv")


@pytest.mark.parametrize(
    ("encoding", "label"),
    [
        ("utf-8", "UTF-8"),
        ("utf-8-sig", "UTF-8 with BOM"),
        ("cp1252", "Windows-1252 (latin-1)"),
        ("utf-16", "UTF-16"),
        ("utf-32", "UTF-32"),
    ],
)
def test_r02_encodings(tmp_path: Path, encoding: str, label: str) -> None:
    text = make.lines_csv([r.replace("France", "Fran£e €") for r in make.GOOD_ROWS])
    info, raw = loaded(write(tmp_path, "enc.csv", text, encoding))
    assert info.encoding == label
    assert list(raw.columns[1:]) == HEADER.split(",")
    assert raw["Country"].tolist()[2] == "Fran£e €"


def test_r03_semicolons_tabs_and_decimal_commas(tmp_path: Path) -> None:
    semi = make.lines_csv(
        [make.with_decimal_commas(r) for r in make.GOOD_ROWS], header=HEADER.replace(",", ";")
    )
    feats, details = cleaning_of(write(tmp_path, "semi.csv", semi))
    assert details["source"]["delimiter"] == "semicolon"
    # Customer 3 bought 10 at 1,50.
    assert feats.set_index("customer_id").loc["3", "revenue"] == 15.0
    tab = make.lines_csv([r.replace(",", "\t") for r in make.GOOD_ROWS], HEADER.replace(",", "\t"))
    info, _ = loaded(write(tmp_path, "tab.tsv", tab))
    assert info.delimiter == "tab" and len(info.columns) == 7
    with pytest.raises(InputError, match=r"has only 1 column \('CustomerID'\)"):
        loaded(BAD / "one_column.csv")


def test_r04_ragged_rows_give_line_numbers(run_cli, tmp_path: Path) -> None:
    line = corpus_error(run_cli, tmp_path / "a", "ragged.csv")
    assert "(line 5)" in line and "EXTRA" in line
    # A line of thousands of fields among the first lines is reported before DuckDB reads
    # the file (its reader is slow on such lines).
    line = corpus_error(run_cli, tmp_path / "b", "wide_ragged.csv")
    assert "(line 4): line 4 has 3,000 fields instead of 7" in line


def test_r05_duplicate_and_blank_names(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"duplicate column names: 'Quantity' appears 2 times"):
        loaded(BAD / "duplicate_names.csv")
    with pytest.raises(InputError, match=r"column without a name \(column 7 of 7\)"):
        loaded(BAD / "unnamed_column.csv")
    # A blank name over an empty column (a trailing delimiter) is dropped with a note.
    info, raw = loaded(
        write(
            tmp_path, "trail.csv", make.lines_csv([r + "," for r in make.GOOD_ROWS], HEADER + ",")
        )
    )
    assert "(column 8 without a name)" not in raw.columns
    assert any("dropped 1 empty column(s) without a name (column 8)" in n for n in info.notes)


def test_r06_aliases_and_odd_headers_are_mapped(tmp_path: Path) -> None:
    roles = detect_roles(
        ["  invoice ", "STOCK CODE", "qty", "Invoice_Date", "Price", "Customer ID", "country"]
    )
    assert roles == {
        "customer_id": "Customer ID",
        "invoice": "  invoice ",
        "date": "Invoice_Date",
        "quantity": "qty",
        "price": "Price",
        "product": "STOCK CODE",
        "country": "country",
    }
    header = "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID,Country"
    _, details = cleaning_of(write(tmp_path, "aliases.csv", make.lines_csv(header=header)))
    assert details["schema"]["roles"]["customer_id"] == "Customer ID"
    assert details["schema"]["roles"]["invoice"] == "Invoice"


def test_r07_wrong_extension_or_content(run_cli, tmp_path: Path) -> None:
    for i, name in enumerate(
        (
            "zip_named.csv",
            "workbook_named.csv",
            "nul_bytes.csv",
            "text_named.xlsx",
            "text_named.parquet",
        )
    ):
        assert "not a valid" in corpus_error(run_cli, tmp_path / str(i), name)


def test_r08_excel_sheets_listed_and_chosen(run_cli, tmp_path: Path) -> None:
    info, raw = loaded(BAD / "two_sheets.xlsx")
    assert info.sheet == "Notes"
    assert any(
        "workbook has 2 sheets (Notes, Orders); read the first, 'Notes' (pass --sheet" in n
        for n in info.notes
    )
    info, raw = loaded(BAD / "two_sheets.xlsx", sheet="Orders")
    assert info.sheet == "Orders" and len(raw) == len(make.GOOD_ROWS)
    assert "Sheets: Notes, Orders" in corpus_error(run_cli, tmp_path, "two_sheets.xlsx")


def test_r09_excel_serials_and_formulas(tmp_path: Path) -> None:
    # A workbook: one date cell lost its format (a serial), one formula was never calculated.
    sheet = [
        ["CustomerID", "InvoiceDate", "UnitPrice"],
        ["1", dt.datetime(2011, 1, 1, 10), 5.0],
        ["2", 40563.5, "=1+1"],
    ]
    path = tmp_path / "book.xlsx"
    path.write_bytes(make.xlsx_bytes({"Orders": sheet}))
    info, raw = loaded(path)
    assert raw["InvoiceDate"].tolist() == [
        pd.Timestamp(2011, 1, 1, 10),
        pd.Timestamp(2011, 1, 20, 12),
    ]
    assert any("serial" in n for n in info.notes), info.notes
    assert any("formula" in n and "1" in n for n in info.notes), info.notes
    # A CSV: serials (45000.5 style) among text dates are dates too, with a warning.
    rows = make.GOOD_ROWS.copy()
    rows[3] = rows[3].replace("2011-01-05 12:00:00", "40548.5")
    feats, details = cleaning_of(write(tmp_path, "serial.csv", make.lines_csv(rows)))
    assert details["schema"]["date_format"] == "%Y-%m-%d %H:%M:%S or Excel serial"
    note = "1 Excel date serial(s) (days since 1899-12-30, first at row 4: '40548.5' is 2011-01-05"
    assert any(note in w for w in details["warnings"]), details["warnings"]
    # Customer 3's only purchase is that line: 2011-02-01 minus 2011-01-05 is 27 days.
    assert feats.set_index("customer_id").loc["3", "days_since_last_purchase"] == 27
    # --date-format cannot describe serials; they are read all the same.
    _, given = cleaning_of(tmp_path / "serial.csv", date_format="%Y-%m-%d %H:%M:%S")
    assert given["schema"]["date_format"] == "%Y-%m-%d %H:%M:%S or Excel serial"
    assert any(note in w for w in given["warnings"])
    # Only serials: read as dates when the column is the table's date column.
    with DuckDBEngine() as engine:
        engine.sql("CREATE TABLE raw AS SELECT 1 AS _row, '45000.5' AS d")
        fmt, warnings = detect_date_format(engine, "d", "File 'x'")
        assert fmt == EXCEL_SERIAL
        assert "'45000.5' is 2023-03-15 12:00" in warnings[0]


def test_r10_zip_and_xml_bombs_refused(run_cli, tmp_path: Path) -> None:
    assert "limit of 200x" in corpus_error(run_cli, tmp_path / "a", "zip_bomb.xlsx")
    assert "declares XML entities" in corpus_error(run_cli, tmp_path / "b", "xml_bomb.xlsx")


def test_r11_unsupported_formats(run_cli, tmp_path: Path) -> None:
    for i, name in enumerate(("old.xls", "binary.xlsb", "lines.jsonl", "sheet.ods")):
        line = corpus_error(run_cli, tmp_path / str(i), name)
        assert "not supported" in line and "save" in line


@pytest.mark.slow  # about 2.5 s: the database path loads Ibis
def test_r12_sql_sources_read_only_and_bound(run_cli, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE orders (" + ", ".join(f'"{c}" TEXT' for c in HEADER.split(",")) + ")")
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", [r.split(",") for r in make.GOOD_ROWS]
    )
    con.commit()
    con.close()
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    feats, details = custseg.build_features(db, table="orders")
    assert details["cleaning"]["rows_in"] == len(make.GOOD_ROWS) and len(feats) == 4
    out = tmp_path / "out"
    code, _, err = run_cli("segment", db, "--table", "orders; DROP TABLE orders", "--out", out)
    assert code == 2 and "no table or view named 'orders; DROP TABLE orders'" in err
    # Nothing was written to the database: not the features, not the injection.
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


# ---------------------------------------------------------------- schema and types (13-20)


def test_r13_required_column_missing_lists_columns(run_cli, tmp_path: Path) -> None:
    line = corpus_error(run_cli, tmp_path / "a", "no_customer_id.csv")
    assert "Columns found: InvoiceNo, StockCode" in line and "roles detected:" in line
    line = corpus_error(run_cli, tmp_path / "b", "no_date.csv")
    assert "Columns found:" in line and "--date-col" in line
    # A name holding a line break is shown escaped: the message stays one line.
    with pytest.raises(InputError, match=r"Columns found: Customer\\nID, x\.$") as caught:
        detect_roles(["Customer\nID", "x"], {"customer_id": "Client"})
    assert "\n" not in str(caught.value)


def test_r14_ids_stay_text(tmp_path: Path) -> None:
    rows = [
        r.replace(",1,United", ",00123,United").replace(",3,France", ",17850.0,France")
        for r in make.GOOD_ROWS
    ]
    feats, _ = cleaning_of(write(tmp_path, "ids.csv", make.lines_csv(rows)))
    assert sorted(feats["customer_id"]) == ["00123", "17850", "2", "4"]
    # Float ids of a DataFrame (as Excel and Parquet give them) are written as whole numbers.
    frame = pd.read_csv(write(tmp_path, "f.csv", make.lines_csv()))
    frame["CustomerID"] = frame["CustomerID"].astype(float) * 17850.0
    feats, _ = custseg.build_features(frame)
    assert sorted(feats["customer_id"]) == ["17850", "35700", "53550", "71400"]


def test_r15_day_month_rule_and_plausible_range(tmp_path: Path) -> None:
    with DuckDBEngine() as engine:
        engine.sql(
            "CREATE TABLE raw AS SELECT * FROM (VALUES (1, '01-12-2010'), "
            "(2, '02-11-2010')) t(_row, d)"
        )
        fmt, warnings = detect_date_format(engine, "d", "File 'x'")
    assert fmt == "%d-%m-%Y"
    assert "read as day-first ('%d-%m-%Y'). Pass --date-format '%m-%d-%Y'" in warnings[0]
    _, notes = clean.settle_analysis_date(pd.Timestamp(1900, 1, 1), pd.Timestamp(2150, 1, 1), None)
    assert any("implausibly early (earliest 1900-01-01)" in n for n in notes)
    assert any("implausibly late (latest 2150-01-01)" in n for n in notes)


def test_r16_mixed_date_formats(run_cli, tmp_path: Path) -> None:
    line = corpus_error(run_cli, tmp_path, "mixed_dates.csv")
    assert "e.g. '05/01/2011 12:00', 'tomorrow'" in line


def test_r17_thousands_separators(tmp_path: Path) -> None:
    rows = make.GOOD_ROWS.copy()
    rows[3] = rows[3].replace("1.50", '"£1,234.50"')
    rows[4] = rows[4].replace("10.00", "$ 10")
    feats, details = cleaning_of(write(tmp_path, "money.csv", make.lines_csv(rows)))
    revenue = feats.set_index("customer_id")["revenue"]
    assert revenue["3"] == 12345.0
    assert details["schema"]["currency"] is None or details["schema"]["currency"] in "£$"
    rows = [make.with_decimal_commas(r) for r in make.GOOD_ROWS]
    rows[3] = rows[3].replace("1,50", "1.234,50 €")
    semi = make.lines_csv(rows, header=HEADER.replace(",", ";"))
    feats, _ = cleaning_of(write(tmp_path, "eu.csv", semi))
    assert feats.set_index("customer_id").loc["3", "revenue"] == 12345.0
    # A comma that cannot group thousands is not guessed at: the value is reported.
    with pytest.raises(
        InputError,
        match=r"not numbers or are out of range \(row 4\), e\.g\. "
        r"'1,23,4'",
    ):
        cleaning_of(
            write(
                tmp_path,
                "odd.csv",
                make.lines_csv([r.replace("1.50", '"1,23,4"') for r in make.GOOD_ROWS]),
            )
        )


def test_r18_na_spellings_one_table(tmp_path: Path) -> None:
    spellings = [v for v in NA_VALUES if v]
    rows = [f"{i},{v}" for i, v in enumerate(spellings, start=1)] + [f"{len(spellings) + 1},x"]
    _, raw = loaded(write(tmp_path, "na.csv", "CustomerID,Country\n" + "\n".join(rows) + "\n"))
    assert raw["Country"].isna().sum() == len(spellings)
    assert raw["Country"].tolist()[-1] == "x"
    # The same spellings in a DataFrame, padded with blanks.
    _, raw = loaded(pd.DataFrame({"id": ["1", "2"], "c": [" NA ", "null"]}))
    assert raw["c"].isna().all()
    # The documented table lists every spelling.
    doc = (DOCS / "reading-data.md").read_text(encoding="utf-8")
    assert all(f"`{v}`" in doc for v in spellings)


def test_r19_overflow_rejected_with_rows(run_cli, tmp_path: Path) -> None:
    assert "(row 2), e.g. '1e400'" in corpus_error(run_cli, tmp_path / "a", "overflow.csv")
    assert "(row 5), e.g. 'Infinity'" in corpus_error(run_cli, tmp_path / "b", "infinity.csv")
    # A line amount beyond what custseg adds up exactly (DECIMAL(18, 4)) is named too.
    line = corpus_error(run_cli, tmp_path / "c", "amount_overflow.csv")
    assert "(row 2), e.g. Quantity '1e20' x UnitPrice '10.00'" in line


def test_r20_mixed_text_and_numbers_are_text(tmp_path: Path) -> None:
    rows = [f"{i},{20 + i},{t}" for i, t in enumerate(["1", "A", "2", "B", "3", "C"], start=1)]
    path = write(tmp_path, "people.csv", "CustomerID,Age,Tier\n" + "\n".join(rows) + "\n")
    feats, details = custseg.build_features(path)
    assert details["schema"]["kind"] == "customers"
    assert feats["Tier"].tolist() == ["1", "A", "2", "B", "3", "C"]
    assert feats["Age"].tolist() == [21.0, 22.0, 23.0, 24.0, 25.0, 26.0]


# ---------------------------------------------------------------- values (21-26)

#: Lines with one of each problem, on top of GOOD_ROWS (customer 5 only has problems).
PROBLEMS = [
    "1007,A,1,2011-01-10 10:00:00,5.00,,France",  # no customer id: revenue 5
    "C1008,A,-1,2011-01-11 10:00:00,5.00,1,United Kingdom",  # cancellation
    "1009,A,-2,2011-01-11 10:00:00,5.00,2,France",  # negative quantity: cancellation
    "A1010,B,1,2011-01-12 10:00:00,30.00,4,Germany",  # adjustment
    "1011,POST,1,2011-01-12 10:00:00,18.00,3,France",  # postage
    "1012,D,1,2011-01-12 10:00:00,2.00,3,France",  # discount code
    "1013,A,1,2011-01-13 10:00:00,0.00,2,France",  # zero price
    "1014,A,1,2011-01-13 10:00:00,-4.00,2,France",  # negative price
    "1015,A,0,2011-01-13 10:00:00,5.00,4,Germany",  # zero quantity
    "1002,A,4,2011-01-20 09:30:00,5.00,2,France",  # exact copy of a line
    "1016,A,1,2099-06-01 10:00:00,5.00,5,France",  # dated in the future
]


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict]:
    path = tmp_path_factory.mktemp("problems") / "problems.csv"
    path.write_text(make.lines_csv([*make.GOOD_ROWS, *PROBLEMS]), encoding="utf-8")
    feats, details = custseg.build_features(path)
    return path, feats, details


def test_r21_missing_customer_id_counted_with_revenue(problems) -> None:
    _, feats, details = problems
    rule = next(d for d in details["cleaning"]["dropped"] if d["reason"] == "missing_customer_id")
    assert (rule["rows"], rule["revenue"]) == (1, 5.0)
    # 1 of 18 lines; 5 of the 152 of revenue in the file.
    assert details["cleaning"]["revenue_in"] == 152.0
    (warning,) = [w for w in details["warnings"] if "no customer id" in w]
    assert warning.startswith(
        "1 line(s) (5.6% of the lines) have no customer id and are left "
        "out: they hold 5.00, 3.3% of the revenue"
    )
    assert set(feats["customer_id"]) == {"1", "2", "3", "4"}


def test_r22_cancellations_adjustments_and_prices(problems) -> None:
    path, _, details = problems
    counts = dropped(details)
    assert counts["cancellation"] == 3  # C invoice, negative quantity, negative price
    assert counts["adjustment"] == 1
    assert counts["non_positive_price"] == 1
    assert counts["zero_quantity"] == 1
    (warning,) = [w for w in details["warnings"] if "negative price" in w]
    assert (
        f"File '{path}': column 'UnitPrice' has 1 negative price(s) (row 15), e.g. '-4.00'"
        in warning
    )
    assert "Write refunds with a negative quantity or a 'C' invoice" in warning


def test_r23_non_product_codes_configurable(problems, tmp_path: Path) -> None:
    _, _, details = problems
    assert dropped(details)["non_product_code"] == 2  # POST and D
    assert details["cleaning"]["non_product_codes"] == list(clean.NON_PRODUCT_CODES)
    path = write(tmp_path, "codes.csv", make.lines_csv([*make.GOOD_ROWS, *PROBLEMS[4:6]]))
    _, mine = cleaning_of(path, non_product_codes=["post"])
    assert dropped(mine).get("non_product_code") == 1
    assert mine["cleaning"]["non_product_codes"] == ["post"]


def test_r24_exact_duplicates_dropped_and_counted(problems) -> None:
    assert dropped(problems[2])["exact_duplicate"] == 1


def test_r25_dates_after_the_analysis_date(problems, tmp_path: Path) -> None:
    _, feats, details = problems
    # The 2099 line neither sets the analysis date nor counts as a sale.
    assert details["analysis_date"] == "2011-02-01"
    assert dropped(details)["after_analysis_date"] == 1
    (warning,) = [w for w in details["warnings"] if "in the future" in w]
    assert "1 line(s) are dated in the future" in warning and "up to 2099-06-01" in warning
    assert "5" not in set(feats["customer_id"])
    # A date given by the user drops the lines on or after it, with a warning.
    _, early = cleaning_of(write(tmp_path, "t.csv", make.lines_csv()), analysis_date="2011-01-21")
    assert dropped(early) == {"after_analysis_date": 3}
    assert any(
        "3 lines dated on or after the analysis date 2011-01-21 were dropped" in w
        for w in early["warnings"]
    )


def test_r25_future_is_relative_to_the_day_of_the_run(monkeypatch, tmp_path: Path) -> None:
    # Run on 2011-01-20: the lines of the 30th and 31st are in the future.
    monkeypatch.setattr(clean, "today", lambda: dt.date(2011, 1, 20))
    _, details = cleaning_of(write(tmp_path, "t.csv", make.lines_csv()))
    assert details["analysis_date"] == "2011-01-21"
    assert dropped(details) == {"after_analysis_date": 3}
    assert any(
        "3 line(s) are dated in the future, after 2011-01-21 (tomorrow)" in w
        for w in details["warnings"]
    )


def test_r26_rows_in_equal_kept_plus_dropped(problems, run_cli, tmp_path: Path) -> None:
    _, _, details = problems
    c = details["cleaning"]
    assert c["rows_in"] == len(make.GOOD_ROWS) + len(PROBLEMS)
    assert c["rows_in"] == c["rows_kept"] + sum(d["rows"] for d in c["dropped"])
    assert [d["reason"] for d in c["dropped"]] == [r for r, _ in clean.CLEANING_RULES]


@pytest.mark.slow
def test_r26_accounting_shown_and_in_metrics(problems, run_cli, tmp_path: Path) -> None:
    path, _, _ = problems
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("segment", path, "--out", out, "--k", "2")
    assert code == 0, stderr
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    c = metrics["cleaning"]
    assert c["rows_in"] == c["rows_kept"] + sum(d["rows"] for d in c["dropped"])
    assert re.search(r"rows in\s*│\s*18\b", stdout), stdout
    assert re.search(rf"kept\s*│\s*{c['rows_kept']}\b", stdout), stdout
    # The mapping of roles is shown too (item 6).
    assert re.search(r"customer_id\s*│\s*CustomerID", stdout)


def test_r25_engines_that_only_know_the_latest_date_warn() -> None:
    # A database or Spark engine reports only the latest date: the future one is said.
    day, notes = clean.settle_analysis_date(
        pd.Timestamp(2011, 1, 1), pd.Timestamp(2099, 1, 1), None
    )
    assert day == dt.date(2099, 1, 2)
    assert any("the latest line is dated in the future (2099-01-01)" in n for n in notes)


def test_r26_nothing_dropped_reads_sensibly(run_cli, tmp_path: Path) -> None:
    line = corpus_error(run_cli, tmp_path, "two_customers_all_kept.csv")
    assert "lines dropped: ;" not in line
    assert re.search(r"\(all \d+ lines kept, none dropped\)\. Add more customers' lines", line)
