"""Hypothesis fuzzing of the readers, role detection and cleaning (RELIABILITY.md 1-26).

Whatever the bytes, the only exceptions that escape ``custseg.io.load_source``,
``custseg.schema.detect_roles`` and ``custseg.build_features`` are custseg's own
(:class:`custseg.CustsegError`) with a one-line message; the only warnings are custseg's own
(:class:`custseg.CustsegWarning`); and the row accounting balances: rows read = rows kept +
rows dropped per reason, and no data row is lost between the file and the accounting.

Budget (fixed, derandomized, so that CI runs the same examples every time):

- the default run (plain ``pytest``) uses the profile ``custseg-fuzz``: ``FUZZ_EXAMPLES``
  examples per fuzzer (``FUZZ_ROLE_EXAMPLES`` for the pure role detection), about 10 to 20 s
  in all on the shared 2-core machine;
- ``-m "slow or not slow"`` (the README's command and ``.ci/run``) adds the same fuzzers
  with the profile ``custseg-fuzz-slow``: ``FUZZ_SLOW_EXAMPLES`` examples each.

A failing example found by the fuzzer is kept below as an explicit ``@example``; one that
shows a bug in a module this file's owner does not own is marked ``xfail(strict=True)``
with the reason, until the bug is fixed.
"""

from __future__ import annotations

import codecs
import gzip
import io
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import custseg
from custseg.errors import CustsegError, CustsegWarning

FUZZ_EXAMPLES = 25
"""Examples per file fuzzer in the default run (each reads a file: about 0.2 to 0.5 s)."""
FUZZ_ROLE_EXAMPLES = 150
"""Examples of the role-detection fuzzer (pure Python: about 1 ms each)."""
FUZZ_SLOW_EXAMPLES = 200
"""Examples per file fuzzer (and ten times as many for role detection) in the slow run."""

_COMMON: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "print_blob": False,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}
settings.register_profile("custseg-fuzz", max_examples=FUZZ_EXAMPLES, **_COMMON)
settings.register_profile("custseg-fuzz-slow", max_examples=FUZZ_SLOW_EXAMPLES, **_COMMON)
FUZZ = settings.get_profile("custseg-fuzz")
FUZZ_SLOW = settings.get_profile("custseg-fuzz-slow")
FUZZ_ROLES = settings(FUZZ, max_examples=FUZZ_ROLE_EXAMPLES)
FUZZ_ROLES_SLOW = settings(FUZZ, max_examples=10 * FUZZ_SLOW_EXAMPLES)


# ----------------------------------------------------------------------------- checks


def one_line(exc: BaseException) -> str:
    """The error's message, checked to be custseg's own and one non-empty line."""
    assert isinstance(exc, CustsegError), f"{type(exc).__name__} escaped: {exc!r}"
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} with an empty message"
    assert "\n" not in message and "\r" not in message, f"message of several lines: {message!r}"
    assert "Traceback" not in message
    assert exc.cli_message.strip() and "\n" not in exc.cli_message
    return message


def guarded(call: Callable[[], Any]) -> tuple[Any, str | None]:
    """``call()``'s result and None, or None and its one-line error message; any warning
    other than custseg's own fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out, message = call(), None
        except Exception as exc:  # checked: custseg's own, one line
            out, message = None, one_line(exc)
    foreign = [w for w in caught if not issubclass(w.category, CustsegWarning)]
    assert not foreign, [f"{w.category.__name__}: {w.message}" for w in foreign]
    return out, message


def balances(cleaning: dict[str, Any], n_rows: int | None = None) -> None:
    """rows read = rows kept + rows dropped per reason, every count >= 0, and (when given)
    rows read = the data rows of the file."""
    dropped = cleaning["dropped"]
    assert all(d["rows"] >= 0 for d in dropped), dropped
    assert cleaning["rows_kept"] >= 0
    assert cleaning["rows_in"] == cleaning["rows_kept"] + sum(d["rows"] for d in dropped), cleaning
    if n_rows is not None:
        assert cleaning["rows_in"] == n_rows, (cleaning["rows_in"], n_rows)


# ----------------------------------------------------------------------------- cells

NA_SPELLINGS = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "-", " NA "]
EXTREME_NUMBERS = [
    "1e400",
    "-1e400",
    "Infinity",
    "-inf",
    "NaN",
    "1e308",
    "-0",
    "0",
    "4.9e-324",
    "99999999999999999999999",
    "1,234.50",
    "1.234,50",
    "£2.55",
    "$-3",
    "2,55",
    "12 345",
    "0x1F",
    "+7",
    "1_000",
]
DATES = [
    "2011-12-09 12:50:00",
    "12/01/2010 08:26",
    "01-12-2010",
    "2010-12-01",
    "9/12/2011",
    "45000.5",
    "45000",
    "2099-01-01",
    "1899-12-30",
    "0000-00-00",
    "2011-02-30",
    "tomorrow",
    "2011-12-09T12:50:00Z",
    "1323435000",
]
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=["Cs"],  # lone surrogates cannot be encoded
        blacklist_characters=["\x00"],
    ),
    max_size=12,
)
QUIRKY = ["=SUM(1)", "@x", "<script>", '"', '""', "'", ",", ";", "\t", "\n", "\r\n", "\\", "£€ÿ"]
hostile_cell = st.one_of(
    st.sampled_from(NA_SPELLINGS),
    st.sampled_from(EXTREME_NUMBERS),
    st.sampled_from(DATES),
    st.sampled_from(QUIRKY),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    TEXT,
)
plain_cell = st.one_of(
    st.integers(min_value=0, max_value=99999).map(str),
    st.decimals(min_value=-1000, max_value=1000, places=2).map(str),
    st.sampled_from(["United Kingdom", "France", "mug", "WHITE HANGING HEART", "2011-12-09"]),
)
cell = st.one_of(plain_cell, plain_cell, plain_cell, hostile_cell)
"""Mostly plain values (numbers, words, dates), one in four hostile, so that most files get
past the first bad value and the later stages are fuzzed too."""
header_name = st.one_of(
    st.sampled_from(
        [
            "CustomerID",
            "Customer ID",
            " customer_id ",
            "InvoiceNo",
            "Invoice",
            "InvoiceDate",
            "Quantity",
            "UnitPrice",
            "Price",
            "Amount",
            "StockCode",
            "Description",
            "Country",
            "id",
            "",
            "_row",
            "file_row_number",
            "Income (k$)",
        ]
    ),
    TEXT,
)
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-32"]
DELIMITERS = [",", ";", "\t", "|", " "]
SUFFIXES = [".csv", ".tsv", ".txt", ".csv.gz", ".csv"]


def quote(value: str, delimiter: str) -> str:
    """A CSV field: quoted when it holds the delimiter, a quote or a line break (or, one time
    in ten by the caller's choice, not quoted at all: that is fuzzed too)."""
    if any(c in value for c in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


SANE_HEADERS = [
    ["CustomerID", "InvoiceNo", "InvoiceDate", "Quantity", "UnitPrice"],
    ["Customer ID", "Invoice", "Price", "Quantity", "InvoiceDate", "Country"],
    ["id", "income", "age", "group"],
    ["customer_id", "Amount", "date"],
]


@st.composite
def text_files(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
    """A delimited text file as bytes, with a suffix, and its number of data rows when the
    file is well formed (rectangular, quoted where it must be; else None): any encoding,
    delimiter, header and rows (ragged, unquoted, very long fields and lines, NA spellings,
    extreme numbers, mixed and serial dates), or random bytes."""
    suffix = draw(st.sampled_from(SUFFIXES))
    if draw(st.integers(0, 9)) == 0:  # bytes that are no text at all
        return suffix, draw(st.binary(max_size=300)), None
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", *DELIMITERS]))
    raw_quotes = draw(st.integers(0, 9)) == 0
    if draw(st.integers(0, 2)) == 0:
        header = draw(st.lists(header_name, min_size=1, max_size=8))
    else:
        header = list(draw(st.sampled_from(SANE_HEADERS)))
    width = len(header)
    ragged = draw(st.integers(0, 4)) == 0
    row = (
        st.lists(cell, max_size=width + 2)
        if ragged
        else st.lists(cell, min_size=width, max_size=width)
    )
    rows = draw(st.lists(row, max_size=12))
    long = draw(st.sampled_from([0, 0, 0, 0, 0, 140_000, 300_000]))
    if long and rows:
        where = draw(st.integers(0, len(rows) - 1))
        if draw(st.booleans()):  # one very long field
            rows[where] = [*rows[where][:1], "x" * long, *rows[where][2:]][:width]
        else:  # a long line of many columns (a ragged row: see WIDE_RAGGED_ROW)
            rows[where] = ["1"] * 2_000
            ragged = True

    def line(cells: list[str]) -> str:
        return delimiter.join(c if raw_quotes else quote(c, delimiter) for c in cells)

    newline = draw(st.sampled_from(["\n", "\r\n", "\n", "\r"]))
    text = newline.join(line(r) for r in [header, *rows])
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    if suffix.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    well_formed = not (ragged or raw_quotes) and width > 1
    return suffix, data, len(rows) if well_formed else None


def read(suffix: str, data: bytes) -> tuple[Any, str | None]:
    from custseg.engines.duckdb import DuckDBEngine
    from custseg.io import load_source

    with tempfile.TemporaryDirectory(prefix="custseg-fuzz-") as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)

        def call() -> Any:
            with DuckDBEngine() as engine:
                info = load_source(engine, path)
                assert info.n_rows >= 1  # an empty table is an error, never a success
                assert int(engine.scalar("SELECT count(*) FROM raw")) == info.n_rows
                return info

        return guarded(call)


def check_read(suffix: str, data: bytes, n_rows: int | None = None) -> None:
    info, message = read(suffix, data)
    if message is not None:
        assert "This is a bug" not in message, message
        return
    assert info.columns, "a table without columns was read"
    assert info.encoding, "the encoding used is not said"
    if n_rows is not None:  # a well-formed file: every data row is read, none skipped
        assert info.n_rows == n_rows, (info.n_rows, n_rows)


@FUZZ
@given(text_files())
@example((".csv", b"a,b\n" + b"x" * 140_000 + b",1\n", 1))  # the sniffer's 131,072 limit
@example((".csv", codecs.BOM_UTF16_LE + "id,x\n1,2\n".encode("utf-16-le"), 1))
@example((".csv", b"id;x\n1;2,5\n2;1e400\n", 2))
def test_fuzz_readers(case: tuple[str, bytes, int | None]) -> None:
    check_read(*case)


@pytest.mark.slow
@FUZZ_SLOW
@given(text_files())
def test_fuzz_readers_slow(case: tuple[str, bytes, int | None]) -> None:
    check_read(*case)


# ----------------------------------------------------------------------------- tables


value = st.one_of(
    st.none(),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(min_value=__import__("datetime").datetime(1900, 1, 1)),
    st.sampled_from(NA_SPELLINGS + EXTREME_NUMBERS + DATES + QUIRKY),
    TEXT,
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, dict[str, list[Any]]]:
    """A table of mixed columns (numbers, text, dates, booleans, missing values), and how it
    reaches custseg: a DataFrame, an Excel workbook or a Parquet file."""
    names = draw(st.lists(header_name, min_size=1, max_size=5, unique=True))
    n = draw(st.integers(min_value=0, max_value=8))
    columns = {name: draw(st.lists(value, min_size=n, max_size=n)) for name in names}
    return draw(st.sampled_from(["frame", "xlsx", "parquet"])), columns


def check_table(how: str, columns: dict[str, list[Any]]) -> None:
    import pandas as pd

    from custseg.engines.duckdb import DuckDBEngine
    from custseg.io import load_source

    frame = pd.DataFrame(columns)
    with tempfile.TemporaryDirectory(prefix="custseg-fuzz-") as folder:
        source: Any = frame
        if how == "xlsx":
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as ILLEGAL

            def cell(v: Any) -> Any:  # openpyxl writes no control characters
                return v if v is None or isinstance(v, (int, float)) else ILLEGAL.sub("", str(v))

            source = Path(folder) / "fuzz.xlsx"
            frame = frame.map(cell).set_axis([cell(c) for c in frame.columns], axis=1)
            frame.to_excel(source, index=False, engine="openpyxl")
        elif how == "parquet":
            source = Path(folder) / "fuzz.parquet"
            frame.astype("string").to_parquet(source, index=False)

        expected = len(frame)
        if how == "xlsx":  # a row of empty (or blank) cells is no row of a sheet
            blank = frame.map(lambda v: isinstance(v, str) and not v.strip(" \t\r\n"))
            expected = int((frame.notna() & ~blank).any(axis=1).sum())

        def call() -> Any:
            with DuckDBEngine() as engine:
                info = load_source(engine, source)
                assert int(engine.scalar("SELECT count(*) FROM raw")) == info.n_rows == expected
                return info

        guarded(call)


@FUZZ
@given(tables())
def test_fuzz_dataframes_workbooks_and_parquet(case: tuple[str, dict[str, list[Any]]]) -> None:
    check_table(*case)


@pytest.mark.slow
@FUZZ_SLOW
@given(tables())
def test_fuzz_dataframes_workbooks_and_parquet_slow(
    case: tuple[str, dict[str, list[Any]]],
) -> None:
    check_table(*case)


# ----------------------------------------------------------------------------- role detection


def check_roles(columns: list[str], overrides: dict[str, str]) -> None:
    from custseg.schema import ROLE_ALIASES, detect_roles

    roles, message = guarded(lambda: detect_roles(columns, overrides))
    if message is not None:
        return
    assert set(roles) <= set(ROLE_ALIASES), roles
    assert all(col in columns for col in roles.values()), (roles, columns)
    assert len(set(roles.values())) == len(roles), f"a column has two roles: {roles}"
    for role, col in overrides.items():
        if col:  # an override is honoured (under the column's exact spelling)
            assert role in roles, (role, roles)


@st.composite
def role_cases(draw: st.DrawFn) -> tuple[list[str], dict[str, str]]:
    from custseg.schema import ROLE_ALIASES

    columns = draw(st.lists(header_name, max_size=10))
    roles = [*ROLE_ALIASES, "nonsense"]
    overrides = draw(
        st.dictionaries(
            st.sampled_from(roles),
            st.sampled_from(columns) | header_name if columns else header_name,
            max_size=3,
        )
    )
    return columns, overrides


@FUZZ_ROLES
@given(role_cases())
def test_fuzz_role_detection(case: tuple[list[str], dict[str, str]]) -> None:
    check_roles(*case)


@pytest.mark.slow
@FUZZ_ROLES_SLOW
@given(role_cases())
def test_fuzz_role_detection_slow(case: tuple[list[str], dict[str, str]]) -> None:
    check_roles(*case)


# ----------------------------------------------------------------------------- cleaning

INVOICE_COLUMNS = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country".split(",")  # noqa: SIM905
)
invoice = st.sampled_from(["536365", "536366", "536367", "536368", "C536367", "A563185"])
stock = st.sampled_from(["85123A", "71053", "22423", "84406B", "POST", "M", "BANK CHARGES"])
quantity = st.integers(min_value=-3, max_value=12).map(str)
price = st.one_of(
    st.sampled_from(["2.55", "0", "-11062.06", "0.001"]),
    st.decimals(min_value=0, max_value=1000, places=2).map(str),
)
customer = st.sampled_from(["17850", "017850", "12346", "12347", "@SUM(1)", "=1+1", "13047"])
country = st.sampled_from(["United Kingdom", "France", "EIRE", "<img src=x onerror=alert(1)>"])
ODD = {
    "InvoiceNo": st.sampled_from(["X1", "", "NA", "536365.0", "=1"]),
    "StockCode": st.sampled_from(["AMAZONFEE", "D", "", "null"]),
    "Description": st.sampled_from(["", "<script>x</script>", "=cmd", "a\nb", '"q"']),
    "Quantity": st.sampled_from(
        ["0", "1e400", "NA", "", "3.5", "999999999", "-0", "Infinity", "99999999999999999999"]
    ),
    "UnitPrice": st.sampled_from(["1,234.50", "£2.55", "NA", "1e400", "-", "nan", "2,55", "1e308"]),
    "CustomerID": st.sampled_from(["17850.0", " 12347 ", *NA_SPELLINGS]),
    "Country": st.sampled_from(["", "NA", "£€"]),
}
"""Odd values of each column, drawn for about one field in twenty."""


@st.composite
def invoice_files(draw: st.DrawFn) -> tuple[bytes, int, str]:
    """Invoice lines as CSV bytes (every field quoted where it must be), the number of data
    rows, and the date style: one format for the file, with now and then a serial, a future
    or a mixed date."""
    style = draw(
        st.sampled_from(
            [
                "%Y-%m-%d %H:%M:%S",
                "%m/%d/%Y %H:%M",
                "%d/%m/%Y %H:%M",
                "%d-%m-%Y",
                "%Y-%m-%d",
                "serial",
            ]
        )
    )
    day = st.integers(min_value=0, max_value=400)
    n = draw(st.integers(min_value=1, max_value=30))
    rows = []
    for _ in range(n):
        offset = draw(day)
        if style == "serial":
            date = f"{40513 + offset + draw(st.sampled_from([0, 0.5, 0.25]))}"
        else:
            import datetime as dt

            when = dt.datetime(2010, 12, 1, 8, 26) + dt.timedelta(days=offset)
            date = when.strftime(style)
        if draw(st.integers(0, 19)) == 0:
            date = draw(st.sampled_from(DATES + NA_SPELLINGS))
        common = {
            "InvoiceNo": invoice,
            "StockCode": stock,
            "Description": st.just("WHITE HANGING HEART"),
            "Quantity": quantity,
            "InvoiceDate": st.just(date),
            "UnitPrice": price,
            "CustomerID": customer,
            "Country": country,
        }
        rows.append(
            [
                draw(ODD[name] if name in ODD and draw(st.integers(0, 19)) == 0 else common[name])
                for name in INVOICE_COLUMNS
            ]
        )
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    text = "\n".join(
        delimiter.join(quote(c, delimiter) for c in r) for r in [INVOICE_COLUMNS, *rows]
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(encoding, errors="replace") + b"\n" * (encoding != "utf-16"), n, style


def check_cleaning(data: bytes, n_rows: int, kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix="custseg-fuzz-") as folder:
        path = Path(folder) / "lines.csv"
        path.write_bytes(data)
        out, message = guarded(lambda: custseg.build_features(path, kind=kind))
    if message is not None:
        assert "This is a bug" not in message, message
        return
    features, details = out
    balances(details["cleaning"], n_rows)
    assert features["customer_id"].is_unique
    numeric = features.select_dtypes("number")
    finite = numeric.apply(lambda c: c.dropna().abs().lt(float("inf")).all())
    assert finite.all(), numeric.describe()
    assert len(features) <= details["cleaning"]["customers_in"] or kind == "customers"


@FUZZ
@given(invoice_files(), st.sampled_from(["auto", "transactions"]))
def test_fuzz_cleaning_accounting(case: tuple[bytes, int, str], kind: str) -> None:
    data, n_rows, _ = case
    check_cleaning(data, n_rows, kind)


@pytest.mark.slow
@FUZZ_SLOW
@given(invoice_files(), st.sampled_from(["auto", "transactions"]))
def test_fuzz_cleaning_accounting_slow(case: tuple[bytes, int, str], kind: str) -> None:
    data, n_rows, _ = case
    check_cleaning(data, n_rows, kind)


# ----------------------------------------------------------------------------- findings
# Failing examples the fuzzers found in modules owned by others (issue 17), kept as explicit
# tests: the fixed ones guard against their return; the others are strict expected failures,
# so that the fix makes them fail until the mark goes.

LINE_BREAK_IN_NAME = (["\n"], {"customer_id": "CustomerID"})
"""A column named by a line break alone (a quoted header cell ``"\\n"``)."""


def test_fuzz_role_detection_name_with_a_line_break() -> None:
    check_roles(*LINE_BREAK_IN_NAME)


WIDE_RAGGED_ROW = 30_000
"""Fields on the one ragged line of :func:`test_fuzz_wide_ragged_row_is_reported_quickly`."""


@pytest.mark.slow
def test_fuzz_wide_ragged_row_is_reported_quickly() -> None:
    import time

    data = b"a,b\n1,2\n" + b",".join([b"1"] * WIDE_RAGGED_ROW) + b"\n"
    start = time.process_time()
    _, message = read(".csv", data)
    seconds = time.process_time() - start
    assert message is not None and "line 3" in message
    assert seconds < 5, f"{seconds:.1f} s of CPU to report one ragged line"


LINE_AMOUNT_OVERFLOW = [
    ("99999999999999999999", "2.55"),
    ("100000000000000", "2.55"),
    ("2", "1e308"),
    ("1e15", "1"),
]
"""Quantity and unit price of a line whose amount (from 1e14 up) does not fit the line
amount's DECIMAL(18, 4)."""


@pytest.mark.parametrize(("quantity", "unit_price"), LINE_AMOUNT_OVERFLOW)
def test_fuzz_line_amount_overflow(quantity: str, unit_price: str) -> None:
    header = ",".join(INVOICE_COLUMNS)
    data = (
        f"{header}\n536365,85123A,X,{quantity},2010-12-01 08:26:00,{unit_price},17850,UK\n"
        "536366,85123A,X,2,2010-12-02 08:26:00,2.55,17851,UK\n"
    ).encode()
    check_cleaning(data, 2, "transactions")
    with pytest.raises(custseg.InputError, match=r"\(row 1\)"):
        custseg.build_features(pd.read_csv(io.BytesIO(data), dtype=str), kind="transactions")


UTF32_READ_AS_UTF16 = "id,x\n1,\U0001d800\n".encode("utf-32")
"""A UTF-32 file (its byte-order mark starts like UTF-16's) with a character beyond U+FFFF."""


def test_fuzz_utf32_file() -> None:
    check_read(".csv", UTF32_READ_AS_UTF16, 1)
    info, _ = read(".csv", UTF32_READ_AS_UTF16)
    assert "32" in info.encoding, info.encoding


NO_INVOICE_NUMBER = (
    b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    b",85123A,,1,2011-12-09 12:50:00,2.55,17850,\n"
    b"536365,85123A,,2,2011-12-09 12:50:00,2.55,17851,\n"
)
"""A customer whose only line has no invoice number (the fuzzer's find, shrunk by hand), and
one whose line has one."""


def test_fuzz_line_without_an_invoice_number() -> None:
    check_cleaning(NO_INVOICE_NUMBER, 2, "transactions")
    with tempfile.TemporaryDirectory(prefix="custseg-fuzz-") as folder:
        path = Path(folder) / "lines.csv"
        path.write_bytes(NO_INVOICE_NUMBER)
        features, details = custseg.build_features(path, kind="transactions")
    missing = next(d for d in details["cleaning"]["dropped"] if d["reason"] == "missing_value")
    assert missing["rows"] == 1
    assert features["customer_id"].tolist() == ["17851"]


def test_fuzz_excel_row_of_error_cells_is_counted() -> None:
    from openpyxl import Workbook

    from custseg.engines.duckdb import DuckDBEngine
    from custseg.io import load_source

    book = Workbook()
    for row in [("id", "x"), ("1", 0), (None, "#N/A")]:
        book.active.append(row)
    with tempfile.TemporaryDirectory(prefix="custseg-fuzz-") as folder:
        path = Path(folder) / "errors.xlsx"
        book.save(path)
        assert book.active["B3"].data_type == "e"  # an error cell, as Excel writes #N/A
        with DuckDBEngine() as engine:
            info = load_source(engine, path)
    said = any("#N/A" in note or "error" in note for note in info.notes)
    assert info.n_rows == 2 or said, (info.n_rows, info.notes)
