"""Bad input ends with exit code 2 and one line on stderr that says what is wrong and how to fix
it; no traceback and no output folder (RELIABILITY.md, "Input files" and "Schema and types").

Each case writes a small file into ``tmp_path`` and gives the CLI arguments and a regular
expression the message must match.
"""

from __future__ import annotations

import gzip
import io
import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from custseg.errors import InputError
from custseg.io import readers

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
#: Four customers on three days: a valid table that each case spoils in one way.
GOOD_ROWS = [
    "1001,A,Mug,2,2021-01-01 10:00:00,5.00,1,United Kingdom",
    "1001,B,Plate,1,2021-01-01 10:00:00,10.00,1,United Kingdom",
    "1002,A,Mug,4,2021-01-20 09:30:00,5.00,2,France",
    "1003,C,Bowl,10,2021-01-05 12:00:00,1.50,3,France",
    "1004,B,Plate,1,2021-01-30 16:00:00,10.00,4,Germany",
    "1005,D,Jug,3,2021-01-31 08:00:00,7.00,4,Germany",
    "1006,A,Mug,1,2021-01-31 09:00:00,5.00,2,France",
]


def lines_csv(rows: list[str] | None = None, header: str = HEADER) -> str:
    return "\n".join([header, *(GOOD_ROWS if rows is None else rows)]) + "\n"


def replace_field(row: int, column: str, value: str) -> list[str]:
    """GOOD_ROWS with one field replaced (row is 0-based, as in GOOD_ROWS)."""
    i = HEADER.split(",").index(column)
    rows = [r.split(",") for r in GOOD_ROWS]
    rows[row][i] = value
    return [",".join(r) for r in rows]


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def minimal_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


Case = Callable[[Path], list[object]]


def write(name: str, data: str | bytes, *extra: object) -> Case:
    """A case: write ``data`` to ``tmp_path / name`` and pass it with ``extra`` arguments."""

    def make(tmp: Path) -> list[object]:
        path = tmp / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        return [path, *extra]

    return make


def two_sheet_workbook(tmp: Path) -> list[object]:
    rows = [HEADER.split(","), *[r.split(",") for r in GOOD_ROWS]]
    path = minimal_xlsx(tmp / "book.xlsx", {"Orders": rows, "Notes": [["note"], ["x"]]})
    return [path, "--sheet", "Customers"]


CASES: dict[str, tuple[Case, str]] = {
    "missing file": (
        lambda tmp: [tmp / "nope.csv"],
        r"File '.*nope\.csv' does not exist\. Check the path",
    ),
    "empty folder": (
        lambda tmp: [tmp],
        r"Folder '.*' holds no \.csv, \.tsv, \.txt or \.parquet files\. Put the files to read",
    ),
    "empty file": (
        write("empty.csv", b""),
        r"empty\.csv' is empty \(0 bytes\): no header and no data rows",
    ),
    "header only": (
        write("header.csv", HEADER + "\n"),
        r"header\.csv' has a header but no data rows\. Export the table again",
    ),
    "header only, CRLF": (
        write("header.csv", HEADER + "\r\n"),
        r"has a header but no data rows",
    ),
    "whitespace only": (
        write("blank.csv", "  \n\n\t \r\n"),
        r"blank\.csv' is empty: no header and no data rows",
    ),
    "zip named .csv": (
        write("orders.csv", zip_bytes({"orders.csv": lines_csv().encode()})),
        r"orders\.csv' is not a valid CSV file: it is a zip archive \(orders\.csv\): unzip it",
    ),
    "xlsx named .csv": (
        write("orders.csv", zip_bytes({"xl/workbook.xml": b"<workbook/>"})),
        r"is not a valid CSV file: it is an Excel workbook: rename it to \.xlsx",
    ),
    "parquet named .csv": (
        write("orders.csv", b"PAR1" + b"\x00" * 64 + b"PAR1"),
        r"is not a valid CSV file: it is a Parquet file: rename it to \.parquet",
    ),
    "binary named .csv": (
        write("orders.csv", b"id,name\n" + bytes(range(256)) * 4),
        r"orders\.csv' is not a valid CSV file: it holds binary data \(NUL bytes\)\. Export",
    ),
    "truncated gzip": (
        write("orders.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 6),
        r"orders\.csv\.gz' is not a valid gzip-compressed CSV file .*Decompress it",
    ),
    "gzip cut short": (
        write("orders.csv.gz", gzip.compress(lines_csv().encode() * 20)[:-30]),
        r"orders\.csv\.gz' is not a valid gzip-compressed CSV file \(Compressed file ended",
    ),
    "xls": (
        write("orders.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100),
        r"orders\.xls': old Excel \.xls is not supported: .*save as \.xlsx or \.csv",
    ),
    "json": (write("orders.json", "[]"), r"JSON is not supported: save the table as \.csv"),
    "json lines": (write("orders.jsonl", "{}\n"), r"JSON lines are not supported: save"),
    "xlsb": (write("orders.xlsb", b"PK\x03\x04"), r"\.xlsb is not supported: save it as \.xlsx"),
    "unknown extension": (
        write("orders.dat", lines_csv()),
        r"unsupported extension '\.dat'\. custseg reads \.csv, \.tsv, \.txt",
    ),
    "fake xlsx (a CSV)": (
        write("orders.xlsx", lines_csv()),
        r"orders\.xlsx' is not a valid \.xlsx workbook \(an \.xlsx file is a zip archive",
    ),
    "fake xlsx (an old .xls or encrypted)": (
        write("orders.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100),
        r"not a valid \.xlsx workbook: it is an old \.xls workbook or a password-protected one",
    ),
    "xlsx zip without a workbook": (
        write("orders.xlsx", zip_bytes({"data.csv": b"a,b\n1,2\n"})),
        r"not a valid \.xlsx workbook: it is a zip archive without a workbook inside",
    ),
    "xlsx zip bomb": (
        # 50 MB of zeros packs about 1,000 times: refused from the sizes the zip declares.
        write(
            "bomb.xlsx",
            zip_bytes(
                {"xl/workbook.xml": b"<w/>", "xl/worksheets/sheet1.xml": bytes(50 * 1024**2)}
            ),
        ),
        r"bomb\.xlsx' was refused: its part 'xl/worksheets/sheet1\.xml' unpacks to 50 MB, "
        r"[\d,]+ times its packed size, beyond the limit of 200x\. .*save the sheet as \.csv",
    ),
    "xlsx XML bomb": (
        write(
            "bomb.xlsx",
            zip_bytes(
                {
                    "xl/workbook.xml": b"<w/>",
                    "xl/sharedStrings.xml": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">'
                    b'<!ENTITY b "&a;&a;&a;&a;">]><sst>&b;</sst>',
                }
            ),
        ),
        r"was refused: its part 'xl/sharedStrings\.xml' declares XML entities",
    ),
    "unknown sheet": (
        two_sheet_workbook,
        r"book\.xlsx' has no sheet 'Customers'\. Sheets: Orders, Notes\. Pass one of them to --sheet",
    ),
    "--sheet on a CSV": (
        write("orders.csv", lines_csv(), "--sheet", "Orders"),
        r"--sheet applies to Excel workbooks only, and '.*orders\.csv' is not one",
    ),
    "not parquet": (
        write("orders.parquet", lines_csv()),
        r"orders\.parquet' is not a valid Parquet file .*save the table as \.csv",
    ),
    "ragged rows": (
        write(
            "ragged.csv",
            lines_csv(
                [
                    GOOD_ROWS[0],
                    GOOD_ROWS[1] + ",extra",
                    GOOD_ROWS[2],
                    "1003,C,Bowl,10",
                    *GOOD_ROWS[3:],
                ]
            ),
        ),
        r"ragged\.csv' has 2 malformed line\(s\) \(lines 3, 5\): line 3 has 9 fields instead of 8 "
        r"\('1001,B,Plate.*'\)\. Every line needs 8 comma-separated fields; fix or remove",
    ),
    "ragged row after a quoted line break": (
        # The record with a line break spans lines 2-3, so the short record is on line 5.
        write(
            "ragged.csv",
            lines_csv(
                [
                    '1001,A,"Mug,\nlarge",2,2021-01-01 10:00:00,5.00,1,United Kingdom',
                    GOOD_ROWS[1],
                    "1003,C,Bowl",
                    *GOOD_ROWS[3:],
                ]
            ),
        ),
        r"has 1 malformed line\(s\) \(line 5\): line 5 has 3 fields instead of 8",
    ),
    "unterminated quote": (
        write("quote.csv", lines_csv(['1001,A,"Mug,2,2021-01-01 10:00:00,5.00,1,UK'])),
        r"quote\.csv' has 1 malformed line\(s\) \(line 2\): line 2 cannot be read: value with "
        r"unterminated quote",
    ),
    "title line above the header": (
        write("title.csv", "Sales report 2021\n" + lines_csv()),
        r"title\.csv' has only 1 column: its first line \('Sales report 2021'\) has 1 field but "
        r"the next lines have 8\. If the first line is a title or a note, remove it",
    ),
    "one column (unknown delimiter)": (
        write("caret.csv", "CustomerID^Amount\n1^2.5\n2^3.0\n"),
        r"caret\.csv' has only 1 column \('CustomerID\^Amount'\): no comma, tab, semicolon or "
        r"pipe separates its fields",
    ),
    "duplicate column names": (
        write("dup.csv", lines_csv(header=HEADER.replace("Country", "Quantity"))),
        r"dup\.csv' has duplicate column names: 'Quantity' appears 2 times \(columns 4, 8 of "
        r"8\)\. Rename them",
    ),
    "duplicate column names that differ in case": (
        write("dup.csv", lines_csv(header=HEADER.replace("Country", "quantity"))),
        r"'Quantity' appears 2 times \(columns 4, 8 of 8\) \(names are compared ignoring case\)",
    ),
    "blank column name with values": (
        write("blank.csv", lines_csv(header=HEADER.replace(",Country", ","))),
        r"blank\.csv' has a column without a name \(column 8 of 8\) that holds values, e\.g\. "
        r"'United Kingdom' in row 1\. Give every column a header name",
    ),
    "reserved column name": (
        write("row.csv", lines_csv(header=HEADER.replace("Country", "_ROW"))),
        r"row\.csv' has a column named '_ROW', a name custseg keeps for row numbers\. Rename",
    ),
    "no customer id column": (
        write("noid.csv", lines_csv(header=HEADER.replace("CustomerID", "Buyer Name"))),
        r"noid\.csv' has no customer id column\. Columns found: InvoiceNo, .*Buyer Name, "
        r"Country; roles detected: invoice='InvoiceNo', date='InvoiceDate'.*--customer-col",
    ),
    "unparseable dates": (
        write("dates.csv", lines_csv(replace_field(2, "InvoiceDate", "tomorrow"))),
        r"dates\.csv': column 'InvoiceDate' has 1 value\(s\) that are not dates written like "
        r"the others \('2021-01-01 10:00:00', format '%Y-%m-%d %H:%M:%S'\) \(row 3\), e\.g\. "
        r"'tomorrow'\..*--date-format",
    ),
    "no dates at all": (
        write(
            "dates.csv",
            lines_csv(
                [",".join([*r.split(",")[:4], "soon", *r.split(",")[5:]]) for r in GOOD_ROWS]
            ),
        ),
        r"column 'InvoiceDate' has values that are not dates in any known format, e\.g\. 'soon'",
    ),
    "mixed date formats": (
        write(
            "mixed.csv",
            lines_csv(
                [
                    *GOOD_ROWS[:3],
                    "1003,C,Bowl,10,05/01/2021 12:00,1.50,3,France",
                    "1004,B,Plate,1,30/01/2021 16:00,10.00,4,Germany",
                    *GOOD_ROWS[5:],
                ]
            ),
        ),
        r"column 'InvoiceDate' has 2 value\(s\) that are not dates written like the others "
        r"\('2021-01-01 10:00:00', .*\) \(rows 4, 5\), e\.g\. '05/01/2021 12:00', "
        r"'30/01/2021 16:00'\. Write every date the same way, or pass --date-format",
    ),
    "number that does not parse": (
        write("num.csv", lines_csv(replace_field(1, "UnitPrice", "ten"))),
        r"num\.csv': column 'UnitPrice' has 1 value\(s\) that are not numbers or are out of "
        r"range \(row 2\), e\.g\. 'ten'\. Fix them, or pass --price-col",
    ),
    "decimal comma among decimal dots": (
        write("num.csv", lines_csv(replace_field(1, "UnitPrice", '"10,50"'))),
        r"column 'UnitPrice' has 1 value\(s\) that are not numbers .* \(row 2\), e\.g\. '10,50'",
    ),
    "overflow 1e400": (
        write("big.csv", lines_csv(replace_field(3, "UnitPrice", "1e400"))),
        r"column 'UnitPrice' has 1 value\(s\) that are not numbers or are out of range \(row "
        r"4\), e\.g\. '1e400'",
    ),
    "Infinity": (
        write("inf.csv", lines_csv(replace_field(0, "Quantity", "Infinity"))),
        r"column 'Quantity' has 1 value\(s\) that are not numbers or are out of range \(row "
        r"1\), e\.g\. 'Infinity'\. Fix them, or pass --quantity-col",
    ),
    "single customer": (
        write("one.csv", lines_csv([",".join([*r.split(",")[:6], "7", "UK"]) for r in GOOD_ROWS])),
        r"one\.csv' gives 1 customer\(s\) after cleaning; segmentation needs at least 3",
    ),
    "fewer customers than --k": (
        write("few.csv", lines_csv(GOOD_ROWS[:4]), "--k", "5"),
        r"few\.csv' has 3 distinguishable customers, fewer than k=5\. Pass a smaller --k "
        r"\(at most 3\)",
    ),
    "--k 1": (write("orders.csv", lines_csv(), "--k", "1"), r"--k must be at least 2, got 1\."),
    "--k abc": (
        write("orders.csv", lines_csv(), "--k", "abc"),
        r"--k must be 'auto' or a whole number such as 4, got 'abc'\.",
    ),
    "nonexistent --customer-col": (
        write("orders.csv", lines_csv(), "--customer-col", "Klant"),
        r"Column 'Klant' given to --customer-col is not in the data\. Columns found: InvoiceNo, "
        r"StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country\.",
    ),
    "one column for two roles": (
        write("orders.csv", lines_csv(), "--price-col", "UnitPrice", "--amount-col", "unitprice"),
        r"Column 'UnitPrice' is given to both --price-col and --amount-col\. Give each role",
    ),
    "customer table with duplicate ids": (
        write(
            "people.csv", "CustomerID,Age,Income\n0001,19,15\n0002,21,15\n0001,20,16\n0003,23,16\n"
        ),
        r"people\.csv': customer id '0001' in column 'CustomerID' appears more than once "
        r"\(rows 1, 3\), but a customer table has one row per customer",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_gives_one_clear_line(case, run_cli, tmp_path):
    make, match = CASES[case]
    args = make(tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("segment", *args, "--out", out, "--quiet")
    lines = stderr.splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in stderr + stdout
    assert not out.exists()
    # Nothing else appears beside the input either (no temporary output folder).
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_kind_transactions_on_a_customer_table_lists_what_is_missing(run_cli, data_dir, tmp_path):
    out = tmp_path / "out"
    code, _, stderr = run_cli(
        "segment", data_dir / "mall_customers.csv", "--kind", "transactions", "--out", out
    )
    assert code == 2 and not out.exists()
    assert len(stderr.splitlines()) == 1
    assert re.match(
        r"error: File '.*mall_customers\.csv' has no column for date, price or amount\. Columns "
        r"found: CustomerID, Genre, Age, Annual Income \(k\$\), Spending Score \(1-100\); roles "
        r"detected: customer_id='CustomerID'\. Name the columns with --date-col, --price-col or "
        r"--amount-col\.",
        stderr,
    ), stderr


# ---------------------------------------------------------------- zip bomb limits, unit level


def _forge_declared_size(data: bytes, size: int) -> bytes:
    """Make the only entry of a zip declare ``size`` unpacked bytes (local and central header)."""
    buf = bytearray(data)
    local = buf.index(b"PK\x03\x04")
    central = buf.index(b"PK\x01\x02")
    struct.pack_into("<I", buf, local + 22, size)
    struct.pack_into("<I", buf, central + 24, size)
    return bytes(buf)


def test_xlsx_whose_zip_hides_the_real_size_is_refused(tmp_path):
    # 5 MB of zeros declared as 100 bytes: the ratio looks harmless; unpacking finds the lie.
    data = zip_bytes({"xl/worksheets/sheet1.xml": bytes(5 * 1024**2), "xl/workbook.xml": b"<w/>"})
    path = tmp_path / "forged.xlsx"
    path.write_bytes(_forge_declared_size(data, 100))
    with pytest.raises(
        InputError, match=r"forged\.xlsx' is not a valid \.xlsx workbook: the archive is damaged"
    ):
        readers._check_xlsx(path)


def test_xlsx_total_size_limit(tmp_path, monkeypatch):
    # Random bytes do not pack, so only the total size can refuse this workbook.
    import random

    blob = random.Random(0).randbytes(300_000)
    path = tmp_path / "big.xlsx"
    path.write_bytes(zip_bytes({"xl/workbook.xml": b"<w/>", "xl/media/image1.bin": blob}))
    readers._check_xlsx(path)  # well within the real limit
    monkeypatch.setattr(readers, "XLSX_MAX_UNCOMPRESSED", 200_000)
    with pytest.raises(
        InputError,
        match=r"big\.xlsx' was refused: it unpacks to 293 KB, beyond the limit of 195 KB",
    ):
        readers._check_xlsx(path)


def test_xlsx_ratio_limit_applies_to_large_parts_only(tmp_path):
    # A small part may pack very well (1 MB of zeros packs ~1,000x) and is accepted ...
    small = tmp_path / "small.xlsx"
    small.write_bytes(zip_bytes({"xl/workbook.xml": b"<w/>", "xl/styles.xml": bytes(1024**2)}))
    readers._check_xlsx(small)
    # ... just above the size where the ratio is judged, the same packing is refused.
    large = tmp_path / "large.xlsx"
    large.write_bytes(
        zip_bytes(
            {"xl/workbook.xml": b"<w/>", "xl/styles.xml": bytes(readers.XLSX_RATIO_MIN_SIZE + 1)}
        )
    )
    with pytest.raises(InputError, match=r"beyond the limit of 200x"):
        readers._check_xlsx(large)


def test_xlsx_entry_count_limit(tmp_path, monkeypatch):
    path = tmp_path / "many.xlsx"
    path.write_bytes(zip_bytes({f"xl/part{i}.xml": b"<p/>" for i in range(20)}))
    monkeypatch.setattr(readers, "XLSX_MAX_ENTRIES", 10)
    with pytest.raises(InputError, match=r"it holds 20 parts, beyond the limit of 10"):
        readers._check_xlsx(path)
