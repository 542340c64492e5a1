"""Write the corpus of broken input files (RELIABILITY.md items 1-26, issue 17).

Small files are committed in ``tests/data/bad/``; this script writes them again
(``python tests/reliability/make_bad_files.py [FOLDER]``; workbooks, zips and gzip files come
out with new timestamps inside, so write to another folder unless a file must change). Large
files (a 2M-column header, a 200 MB
cell, a header of 300,000 columns, an over-long line far into a file) are never committed:
:func:`write_large` writes them into a temporary folder at test time.

Each file is broken in one way; ``tests/reliability/test_r_inputs.py`` holds the message
fragment the command line must print for each.
"""

from __future__ import annotations

import gzip
import io
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
#: Four customers on a few days of 2011: a valid table that each file spoils in one way.
GOOD_ROWS = [
    "1001,A,2,2011-01-01 10:00:00,5.00,1,United Kingdom",
    "1001,F,1,2011-01-01 10:00:00,10.00,1,United Kingdom",
    "1002,A,4,2011-01-20 09:30:00,5.00,2,France",
    "1003,C,10,2011-01-05 12:00:00,1.50,3,France",
    "1004,F,1,2011-01-30 16:00:00,10.00,4,Germany",
    "1005,E,3,2011-01-31 08:00:00,7.00,4,Germany",
    "1006,A,1,2011-01-31 09:00:00,5.00,2,France",
]


def lines_csv(rows: list[str] | None = None, header: str = HEADER) -> str:
    """The table as CSV text (``rows`` replace :data:`GOOD_ROWS`)."""
    return "\n".join([header, *(GOOD_ROWS if rows is None else rows)]) + "\n"


def _with(row: str, column: str, value: str) -> str:
    """One line of :data:`GOOD_ROWS` with the field of ``column`` replaced."""
    fields = row.split(",")
    fields[HEADER.split(",").index(column)] = value
    return ",".join(fields)


def _without(row: str, column: str) -> str:
    """A line of the table (or its header) without the field of ``column``."""
    fields = row.split(",")
    del fields[HEADER.split(",").index(column)]
    return ",".join(fields)


def with_decimal_commas(row: str, delimiter: str = ";") -> str:
    """A line of :data:`GOOD_ROWS` as a European export writes it: ``;`` between fields and a
    decimal comma in the price."""
    fields = row.split(",")
    i = HEADER.split(",").index("UnitPrice")
    fields[i] = fields[i].replace(".", ",")
    return delimiter.join(fields)


def replaced(row: int, column: str, value: str) -> list[str]:
    """:data:`GOOD_ROWS` with one field replaced (``row`` 0-based)."""
    return [_with(r, column, value) if i == row else r for i, r in enumerate(GOOD_ROWS)]


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """A workbook written by openpyxl (formulas are stored without a value)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _good_sheet() -> list[list[object]]:
    return [HEADER.split(","), *[r.split(",") for r in GOOD_ROWS]]


def _with_part(workbook: bytes, name: str, data: bytes) -> bytes:
    """A copy of a workbook's zip with one more part."""
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook)) as src,
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as out,
    ):
        for item in src.infolist():
            out.writestr(item, src.read(item.filename))
        out.writestr(name, data)
    return buf.getvalue()


def _parquet_bytes() -> bytes:
    import pandas as pd

    buf = io.BytesIO()
    pd.DataFrame({"CustomerID": ["1", "2"], "Spend": [1.0, 2.0]}).to_parquet(buf)
    return buf.getvalue()


def _sqlite_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db.sqlite"
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (CustomerID TEXT, Spend REAL)")
        con.commit()
        con.close()
        return path.read_bytes()


def _gzip_truncated() -> bytes:
    data = gzip.compress(lines_csv().encode() * 50)
    return data[: len(data) // 2]


#: name -> the file's bytes (or text, written as UTF-8). Every file is small (under 20 KB).
SMALL: dict[str, Callable[[], bytes | str]] = {
    # Input files (items 1-11)
    "empty.csv": lambda: b"",
    "header_only.csv": lambda: HEADER + "\n",
    "blank_lines.csv": lambda: "  \n\n\t \r\n",
    "zip_named.csv": lambda: zip_bytes({"orders.csv": lines_csv().encode()}),
    "workbook_named.csv": lambda: xlsx_bytes({"Orders": _good_sheet()}),
    "parquet_named.csv": _parquet_bytes,
    "pdf_named.csv": lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    "sqlite_named.csv": _sqlite_bytes,
    "ole_named.csv": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
    "nul_bytes.csv": lambda: lines_csv().encode().replace(b"Germany", b"Ger\x00many"),
    "truncated.csv.gz": _gzip_truncated,
    "old.xls": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
    "csv_named.xls": lambda: lines_csv(),
    "html_named.xls": lambda: (
        "<html><body><table><tr><td>CustomerID</td></tr></table></body></html>"
    ),
    "binary.xlsb": lambda: b"PK\x03\x04" + b"\x00" * 60,
    "lines.jsonl": lambda: '{"CustomerID": 1, "Spend": 2}\n',
    "table.json": lambda: '[{"CustomerID": 1, "Spend": 2}]\n',
    "sheet.ods": lambda: b"PK\x03\x04" + b"\x00" * 60,
    "table.xml": lambda: "<rows><row CustomerID='1'/></rows>\n",
    "orders.dat": lambda: lines_csv(),
    "text_named.xlsx": lambda: lines_csv(),
    "text_named.parquet": lambda: lines_csv(),
    "xml_bomb.xlsx": lambda: _with_part(
        xlsx_bytes({"Orders": _good_sheet()}),
        "xl/bomb.xml",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
    ),
    "zip_bomb.xlsx": lambda: _with_part(
        xlsx_bytes({"Orders": _good_sheet()}), "xl/media/zeros.bin", b"\x00" * (8 << 20)
    ),
    "empty_sheet.xlsx": lambda: xlsx_bytes({"Orders": []}),
    "two_sheets.xlsx": lambda: xlsx_bytes({"Notes": [["note"], ["x"]], "Orders": _good_sheet()}),
    # Delimiters, rows and names (items 3-5)
    "one_column.csv": lambda: "CustomerID\n1\n2\n3\n",
    "title_line.csv": lambda: "Orders exported 2011-12-09\n" + lines_csv(),
    "ragged.csv": lambda: lines_csv([*GOOD_ROWS[:3], GOOD_ROWS[3] + ",EXTRA", *GOOD_ROWS[4:]]),
    "wide_ragged.csv": lambda: lines_csv([*GOOD_ROWS[:2], ",".join(["1"] * 3_000), *GOOD_ROWS[2:]]),
    "unclosed_quote.csv": lambda: lines_csv(replaced(2, "Country", '"France')),
    "duplicate_names.csv": lambda: lines_csv(header=HEADER.replace("Country", "Quantity")),
    "duplicate_names_case.csv": lambda: lines_csv(header=HEADER.replace("Country", "unitprice")),
    "unnamed_column.csv": lambda: lines_csv(header=HEADER.replace("Country", "")),
    "reserved_name.csv": lambda: lines_csv(header=HEADER.replace("Country", "_row")),
    # Schema and types (items 13-20)
    "no_customer_id.csv": lambda: lines_csv(header=HEADER.replace("CustomerID", "Buyer")),
    "no_date.csv": lambda: lines_csv(
        [_without(r, "InvoiceDate") for r in GOOD_ROWS], _without(HEADER, "InvoiceDate")
    ),
    "bad_number.csv": lambda: lines_csv(replaced(2, "UnitPrice", "abc")),
    "overflow.csv": lambda: lines_csv(replaced(1, "Quantity", "1e400")),
    "amount_overflow.csv": lambda: lines_csv(replaced(1, "Quantity", "1e20")),
    "infinity.csv": lambda: lines_csv(replaced(4, "UnitPrice", "Infinity")),
    "decimal_comma_in_dot_file.csv": lambda: lines_csv(replaced(0, "UnitPrice", '"2,55"')),
    "mixed_dates.csv": lambda: lines_csv(
        [
            r.replace("2011-01-05 12:00:00", "05/01/2011 12:00").replace(
                "2011-01-31 08:00:00", "tomorrow"
            )
            for r in GOOD_ROWS
        ]
    ),
    "not_dates.csv": lambda: lines_csv([_with(r, "InvoiceDate", "soon") for r in GOOD_ROWS]),
    "numbers_as_dates.csv": lambda: lines_csv(
        [_with(r, "InvoiceDate", str(i + 2)) for i, r in enumerate(GOOD_ROWS)]
    ),
    "customers_duplicate_ids.csv": lambda: (
        "CustomerID,Age,Income\n0001,19,15\n0002,21,15\n0001,20,16\n0003,23,16\n"
    ),
    "customers_empty_id.csv": lambda: "CustomerID,Age,Income\n0001,19,15\n,21,15\n0003,23,16\n",
    # Values (items 21-26)
    "all_cancelled.csv": lambda: lines_csv(["C" + r for r in GOOD_ROWS]),
    "two_customers.csv": lambda: lines_csv([r for r in GOOD_ROWS if r.split(",")[5] in "12"]),
    "two_customers_all_kept.csv": lambda: lines_csv(
        [r for r in GOOD_ROWS if r.split(",")[5] in "12" and ",F," not in r]
    ),
    "no_customer_ids.csv": lambda: lines_csv([_with(r, "CustomerID", "") for r in GOOD_ROWS]),
    "all_in_future.csv": lambda: lines_csv([r.replace("2011-", "2099-") for r in GOOD_ROWS]),
}

#: Large files: name -> a function that writes it into a folder (kept under a few seconds).
#: Each is over a limit custseg states: 10,000,000 characters a line, 16,384 columns.


def _write_long_header(path: Path) -> None:
    """A header of 2,000,000 columns on one line (18 MB)."""
    with open(path, "w", encoding="ascii") as fh:
        fh.write(",".join(f"c{i:07d}" for i in range(2_000_000)))
        fh.write("\n1,2\n")


def _write_long_cell(path: Path, size: int = 200_000_000) -> None:
    """One cell of ``size`` characters (200 MB by default) on the second line."""
    with open(path, "w", encoding="ascii") as fh:
        fh.write(HEADER + "\n1001,")
        block = "x" * (1 << 20)
        for _ in range(size // len(block)):
            fh.write(block)
        fh.write(",1,2011-01-01 10:00:00,5.00,1,France\n")


def _write_wide_header(path: Path) -> None:
    """A header of 300,000 short columns (2.3 MB, every line under the line limit)."""
    with open(path, "w", encoding="ascii") as fh:
        fh.write(",".join(f"c{i}" for i in range(300_000)) + "\n1,2\n")


def _write_late_long_line(path: Path) -> None:
    """400 good lines, then one of 11,000,000 characters (beyond the sniffed sample)."""
    rows = [
        f"{1000 + i},A,2,2011-01-{1 + i % 28:02d} 10:00:00,5.00,{i % 50},France" for i in range(400)
    ]
    with open(path, "w", encoding="ascii") as fh:
        fh.write(lines_csv(rows))
        fh.write("1005," + "x" * 11_000_000 + ",1,2011-01-01 10:00:00,5.00,1,France\n")


LARGE: dict[str, Callable[[Path], None]] = {
    "long_header.csv": _write_long_header,
    "long_cell.csv": _write_long_cell,
    "wide_header.csv": _write_wide_header,
    "late_long_line.csv": _write_late_long_line,
}


def write_small(folder: Path = BAD) -> list[Path]:
    """Write every small file of the corpus into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SMALL.items():
        data = make()
        path = folder / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8", newline="")
        else:
            path.write_bytes(data)
        written.append(path)
    return written


def write_large(name: str, folder: Path) -> Path:
    """Write one large file of the corpus into ``folder``."""
    path = folder / name
    LARGE[name](path)
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else BAD
    for p in write_small(target):
        print(f"{p.stat().st_size:>10,}  {p}")
