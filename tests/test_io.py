"""Every way the same invoice lines can arrive gives the same customers and segments.

The variants are made from a slice of the shared ``online_retail.csv`` (its first 8,000 lines,
four trading days), so that each runs in about a second. Each variant goes through the Python
API and the CLI; its segments must equal those of the plain CSV slice, which proves that ids,
numbers and dates were read the same way.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.engines.duckdb import DuckDBEngine
from custseg.io import NA_VALUES, load_source

N_LINES = 8000
ROLES_UCI = {
    "customer_id": "CustomerID",
    "invoice": "InvoiceNo",
    "date": "InvoiceDate",
    "quantity": "Quantity",
    "price": "UnitPrice",
    "product": "StockCode",
    "description": "Description",
    "country": "Country",
}


@pytest.fixture(scope="module")
def retail(data_dir) -> pd.DataFrame:
    """The slice as text, exactly as written in the file (missing ids are empty strings)."""
    return pd.read_csv(
        data_dir / "online_retail.csv", nrows=N_LINES, dtype=str, keep_default_na=False
    )


@pytest.fixture(scope="module")
def baseline(retail, tmp_path_factory):
    path = tmp_path_factory.mktemp("baseline") / "slice.csv"
    retail.to_csv(path, index=False)
    return custseg.segment(path, k=3)


def end_to_end(source, run_cli, tmp_path, *cli_args, **api_kwargs):
    """Segment ``source`` with the API and with the CLI; check they agree; return the result."""
    result = custseg.segment(source, k=3, **api_kwargs)
    out = tmp_path / "out"
    code, _, stderr = run_cli("segment", source, "--out", out, "--k", "3", "-q", *cli_args)
    assert code == 0, stderr
    written = pd.read_csv(out / "segments.csv", dtype={"customer_id": str, "segment_name": str})
    pd.testing.assert_frame_equal(written, result.segments, check_dtype=False)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["source"] == json.loads(json.dumps(result.metrics["source"]))
    return result


def same_customers(result, baseline) -> None:
    pd.testing.assert_frame_equal(result.segments, baseline.segments)
    assert result.metrics["analysis_date"] == baseline.metrics["analysis_date"]
    assert result.metrics["cleaning"]["rows_in"] == N_LINES


def test_baseline_slice(baseline):
    m = baseline.metrics
    assert m["source"]["encoding"] == "UTF-8" and m["source"]["delimiter"] == "comma"
    assert m["schema"]["roles"] == ROLES_UCI and m["kind"] == "transactions"
    assert m["schema"]["date_format"] == "%Y-%m-%d %H:%M:%S"
    # 2010-12-01 .. 2010-12-05: the analysis date is the day after the last line.
    assert m["analysis_date"] == "2010-12-06"
    assert "17850" in set(baseline.segments["customer_id"])
    assert m["n_customers"] == len(baseline.segments) > 100


# ---------------------------------------------------------------- a, b: column names


def test_online_retail_ii_spellings(retail, baseline, run_cli, tmp_path):
    names = {"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}
    path = tmp_path / "online_retail_ii.csv"
    retail.rename(columns=names).to_csv(path, index=False)
    result = end_to_end(path, run_cli, tmp_path)
    assert result.metrics["schema"]["roles"] == {
        role: names.get(col, col) for role, col in ROLES_UCI.items()
    }
    same_customers(result, baseline)


def test_generic_names(retail, baseline, run_cli, tmp_path):
    names = {
        "CustomerID": "customer_id",
        "InvoiceNo": "order_id",
        "InvoiceDate": "order_date",
        "StockCode": "product_id",
        "Description": "description",
        "Quantity": "quantity",
        "UnitPrice": "unit_price",
        "Country": "country",
    }
    path = tmp_path / "orders.csv"
    retail.rename(columns=names)[list(names.values())].to_csv(path, index=False)
    result = end_to_end(path, run_cli, tmp_path)
    assert result.metrics["schema"]["roles"] == {
        "customer_id": "customer_id",
        "invoice": "order_id",
        "date": "order_date",
        "quantity": "quantity",
        "price": "unit_price",
        "product": "product_id",
        "description": "description",
        "country": "country",
    }
    same_customers(result, baseline)


# ---------------------------------------------------------------- c: cp1252


def test_cp1252_copy(retail, baseline, run_cli, tmp_path):
    frame = retail.copy()
    frame.loc[0, "Description"] = "CAFÉ GIFT VOUCHER £40.00"
    path = tmp_path / "kaggle_latin1.csv"
    frame.to_csv(path, index=False, encoding="cp1252")
    assert "£".encode("cp1252") in path.read_bytes()
    with DuckDBEngine() as engine:
        info = load_source(engine, path)
        assert info.encoding == "Windows-1252 (latin-1)"
        text = engine.scalar("SELECT Description FROM raw WHERE _row = 1")
    assert text == "CAFÉ GIFT VOUCHER £40.00"
    result = end_to_end(path, run_cli, tmp_path)
    assert result.metrics["source"]["encoding"] == "Windows-1252 (latin-1)"
    same_customers(result, baseline)


# ---------------------------------------------------------------- d: date spellings


def test_us_dates_are_read_month_first(retail, baseline, run_cli, tmp_path):
    frame = retail.copy()
    stamps = pd.to_datetime(frame["InvoiceDate"])
    frame["InvoiceDate"] = [f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}" for t in stamps]
    assert frame.loc[0, "InvoiceDate"] == "12/1/2010 8:26"
    path = tmp_path / "us_dates.csv"
    frame.to_csv(path, index=False)
    result = end_to_end(path, run_cli, tmp_path)
    m = result.metrics
    assert m["schema"]["date_format"] == "%m/%d/%Y %H:%M"
    # Read day-first, 12/5/2010 would be 12 May and the analysis date 2011-01-13.
    assert m["analysis_date"] == "2010-12-06"
    assert any("read as month-first" in w for w in m["warnings"])
    same_customers(result, baseline)


def test_day_first_dates_with_dashes(retail, baseline, run_cli, tmp_path):
    frame = retail.copy()
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"]).dt.strftime("%d-%m-%Y %H:%M")
    assert frame.loc[0, "InvoiceDate"] == "01-12-2010 08:26"
    path = tmp_path / "eu_dates.csv"
    frame.to_csv(path, index=False)
    result = end_to_end(path, run_cli, tmp_path)
    m = result.metrics
    assert m["schema"]["date_format"] == "%d-%m-%Y %H:%M"
    # Every value reads both ways (no day above 12), so the rule is stated as a warning.
    warning = next(w for w in m["warnings"] if "read either way" in w)
    assert "read as day-first ('%d-%m-%Y %H:%M')" in warning
    assert "--date-format '%m-%d-%Y %H:%M'" in warning
    same_customers(result, baseline)


# ---------------------------------------------------------------- e: Excel


def _excel_value(column: str, value: str):
    """Cells as Excel holds them: numbers, real dates, text."""
    if value == "":
        return None
    if column == "InvoiceDate":
        return dt.datetime.fromisoformat(value)
    if column in ("Quantity", "UnitPrice", "CustomerID"):
        return float(value) if column != "Quantity" else int(value)
    if column in ("InvoiceNo", "StockCode") and value.isdigit():
        return int(value)
    return value


@pytest.fixture(scope="module")
def workbook(retail, data_dir, tmp_path_factory) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    orders = book.active
    orders.title = "Orders"
    orders.append(list(retail.columns))
    for row in retail.itertuples(index=False):
        orders.append([_excel_value(c, v) for c, v in zip(retail.columns, row, strict=True)])
    customers = book.create_sheet("Customers")
    mall = pd.read_csv(data_dir / "mall_customers.csv", dtype=str)
    customers.append(list(mall.columns))
    for row in mall.itertuples(index=False):
        customers.append([row[0], row[1], *(int(v) for v in row[2:])])
    path = tmp_path_factory.mktemp("excel") / "online_retail.xlsx"
    book.save(path)
    return path


def test_excel_reads_the_first_sheet_and_says_so(workbook, baseline, run_cli, tmp_path):
    result = end_to_end(workbook, run_cli, tmp_path)
    src = result.metrics["source"]
    assert src["format"] == "excel" and src["sheet"] == "Orders"
    assert (
        "workbook has 2 sheets (Orders, Customers); read the first, 'Orders' "
        "(pass --sheet to choose another)" in src["notes"]
    )
    # Real Excel dates arrive as timestamps: no text format to guess.
    assert result.metrics["schema"]["date_format"] is None
    same_customers(result, baseline)


def test_excel_sheet_option(workbook, run_cli, tmp_path):
    result = end_to_end(workbook, run_cli, tmp_path, "--sheet", "Customers", sheet="Customers")
    assert result.metrics["source"]["sheet"] == "Customers"
    assert result.metrics["kind"] == "customers" and len(result.segments) == 200
    assert sorted(result.segments["customer_id"])[:2] == ["0001", "0002"]


def test_excel_cells_are_typed(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "S"
    sheet.append(["id", "code", "when", "formula", "", "price"])
    sheet.append([17850, 85123, dt.datetime(2010, 12, 1, 8, 26), "=1+2", None, 2.55])
    sheet.append(["00123", "85123A", 40513.5, "=B2*2", None, 3])
    sheet.append([None, None, None, None, None, None])  # an empty row keeps its number
    sheet.append([12583.0, 71053, dt.date(2010, 12, 2), None, None, None])
    path = tmp_path / "typed.xlsx"
    book.save(path)
    with DuckDBEngine() as engine:
        info = load_source(engine, path)
        types = dict(engine.columns("raw"))
        rows = engine.sql("SELECT * FROM raw ORDER BY _row").fetchall()
    assert info.columns == ["id", "code", "when", "formula", "price"]
    assert types["when"].startswith("TIMESTAMP") and types["price"] == "DOUBLE"
    assert types["formula"] == "VARCHAR"
    assert rows == [
        (1, "17850", "85123", dt.datetime(2010, 12, 1, 8, 26), None, 2.55),
        (2, "00123", "85123A", dt.datetime(2010, 12, 1, 12, 0), None, 3.0),
        (4, "12583", "71053", dt.datetime(2010, 12, 2), None, None),
    ]
    assert any(
        "1 number(s) among its dates were read as Excel date serials" in n for n in info.notes
    )
    assert any("2 formula cell(s) have no stored value" in n for n in info.notes)
    assert any("dropped 1 empty column(s) without a name (column 5)" in n for n in info.notes)


def test_excel_error_names_the_data_row(tmp_path, run_cli):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["CustomerID", "InvoiceDate", "Price"])
    sheet.append([1, dt.datetime(2021, 1, 1), 2.5])
    sheet.append([None, None, None])
    sheet.append([2, dt.datetime(2021, 1, 2), "ten"])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    code, _, stderr = run_cli("segment", path, "--kind", "transactions", "--out", tmp_path / "o")
    assert code == 2
    assert (
        "column 'Price' has 1 value(s) that are not numbers or are out of range (row 3)" in stderr
    )


# ---------------------------------------------------------------- f, g: Parquet, DataFrame


def typed_frame(retail: pd.DataFrame) -> pd.DataFrame:
    frame = retail.copy()
    frame["CustomerID"] = pd.to_numeric(frame["CustomerID"].replace("", np.nan))
    frame["Quantity"] = frame["Quantity"].astype("int64")
    frame["UnitPrice"] = frame["UnitPrice"].astype("float64")
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    return frame


def test_parquet_with_float_ids(retail, baseline, run_cli, tmp_path):
    frame = typed_frame(retail)
    assert frame["CustomerID"].dtype == "float64" and frame.loc[0, "CustomerID"] == 17850.0
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path, index=False)
    result = end_to_end(path, run_cli, tmp_path)
    assert result.metrics["source"]["format"] == "parquet"
    assert "17850" in set(result.segments["customer_id"])
    assert not result.segments["customer_id"].str.contains(r"\.").any()
    same_customers(result, baseline)


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "text"])
def test_dataframe(retail, baseline, typed):
    frame = typed_frame(retail) if typed else retail
    result = custseg.segment(frame, k=3)
    assert result.metrics["source"]["format"] == "dataframe"
    assert result.metrics["schema"]["roles"] == ROLES_UCI
    same_customers(result, baseline)


# ---------------------------------------------------------------- h: delimiters, encodings


def test_semicolons_and_decimal_commas(retail, baseline, run_cli, tmp_path):
    frame = retail.copy()
    frame["UnitPrice"] = frame["UnitPrice"].str.replace(".", ",", regex=False)
    assert frame.loc[0, "UnitPrice"] == "2,55"
    path = tmp_path / "european.csv"
    frame.to_csv(path, index=False, sep=";")
    result = end_to_end(path, run_cli, tmp_path)
    assert result.metrics["source"]["delimiter"] == "semicolon"
    same_customers(result, baseline)


@pytest.mark.parametrize(
    ("name", "options", "encoding", "delimiter"),
    [
        ("bom.csv", {"encoding": "utf-8-sig"}, "UTF-8 with BOM", "comma"),
        ("utf16.csv", {"encoding": "utf-16"}, "UTF-16", "comma"),
        ("orders.csv.gz", {"compression": "gzip"}, "UTF-8", "comma"),
        ("orders.tsv", {"sep": "\t"}, "UTF-8", "tab"),
    ],
)
def test_encodings_compression_and_tabs(
    retail, baseline, run_cli, tmp_path, name, options, encoding, delimiter
):
    path = tmp_path / name
    retail.to_csv(path, index=False, **options)
    result = end_to_end(path, run_cli, tmp_path)
    assert result.metrics["source"]["encoding"] == encoding
    assert result.metrics["source"]["delimiter"] == delimiter
    assert result.metrics["source"]["columns"] == list(retail.columns)
    same_customers(result, baseline)


# ---------------------------------------------------------------- i: customer tables


def test_mall_customers(data_dir, run_cli, tmp_path):
    result = end_to_end(data_dir / "mall_customers.csv", run_cli, tmp_path)
    m = result.metrics
    assert m["kind"] == "customers" and m["schema"]["roles"] == {"customer_id": "CustomerID"}
    assert len(result.segments) == 200
    ids = sorted(result.segments["customer_id"])
    assert ids[0] == "0001" and ids[-1] == "0200"
    mall = pd.read_csv(data_dir / "mall_customers.csv", dtype={"CustomerID": str})
    merged = result.segments.merge(mall, left_on="customer_id", right_on="CustomerID")
    assert (merged["Age_x"] == merged["Age_y"]).all()


def test_marketing_campaign(data_dir, run_cli, tmp_path):
    path = data_dir / "marketing_campaign.tsv"
    result = end_to_end(path, run_cli, tmp_path)
    m = result.metrics
    assert m["source"]["delimiter"] == "tab" and m["kind"] == "customers"
    assert m["schema"]["roles"] == {"customer_id": "ID"} and len(result.segments) == 2240
    plan = result.model.settings["customer_columns"]
    assert plan["dates"]["Dt_Customer"][0] == "%d-%m-%Y"
    source = pd.read_csv(path, sep="\t", dtype={"ID": str})
    joined = result.segments.set_index("customer_id").join(source.set_index("ID").add_suffix("_in"))
    # Day-first: 04-09-2012 is 4 September 2012, counted from the day after the latest date.
    days = pd.to_datetime(joined["Dt_Customer_in"], format="%d-%m-%Y")
    reference = days.max() + pd.Timedelta(days=1)
    assert plan["dates"]["Dt_Customer"][1] == reference.date().isoformat()
    expected = (reference - days).dt.days.astype(float)
    assert (joined["days_since_Dt_Customer"] == expected).all()
    assert (
        joined.loc["5524", "days_since_Dt_Customer"] == (reference - pd.Timestamp(2012, 9, 4)).days
    )
    # Income has gaps: they stay missing in the output, never 0.
    assert joined["Income"].isna().sum() == source["Income"].isna().sum() == 24
    assert (joined["Income"].dropna() == joined["Income_in"].dropna()).all()


# ---------------------------------------------------------------- how DuckDB reads our CSVs


def read_raw(tmp_path: Path, data: str | bytes, name: str = "t.csv"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    with DuckDBEngine() as engine:
        info = load_source(engine, path)
        rows = engine.sql("SELECT * FROM raw ORDER BY _row").fetchall()
    return info, rows


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("id,name,v\r\n00123,a,1\r\n2,b,2\r\n", [(1, "00123", "a", "1"), (2, "2", "b", "2")]),
        (
            'id,name,v\n1,"two\nlines, and a comma",1\n2,"say ""hi""",2\n',
            [(1, "1", "two\nlines, and a comma", "1"), (2, "2", 'say "hi"', "2")],
        ),
        (
            'id,name,v\r\n1,"two\r\nlines",1\r\n2,b,2\r\n',
            [(1, "1", "two\r\nlines", "1"), (2, "2", "b", "2")],
        ),
        ("id,name,v\n1,a,1\n2,b,2\n\n\n", [(1, "1", "a", "1"), (2, "2", "b", "2")]),
        ("id,name,v\n1,a,1\n2,b,2", [(1, "1", "a", "1"), (2, "2", "b", "2")]),
        ("id,name,v\n1,a,1\n\n2,b,2\n", [(1, "1", "a", "1"), (2, "2", "b", "2")]),
        ("id,name,v\n1,a,1\n   \n2,b,2\n", [(1, "1", "a", "1"), (2, "2", "b", "2")]),
        ("id,name,v\r1,a,1\r2,b,2\r", [(1, "1", "a", "1"), (2, "2", "b", "2")]),
        ('id,name,v\n1,5" plate,1\n', [(1, "1", '5" plate', "1")]),
    ],
    ids=[
        "CRLF",
        "quoted line break, comma and quotes",
        "quoted CRLF",
        "trailing empty lines",
        "no final line break",
        "empty line inside",
        "line of blanks inside",
        "bare CR",
        "quote inside an unquoted value",
    ],
)
def test_csv_layouts(tmp_path, data, expected):
    info, rows = read_raw(tmp_path, data)
    assert info.columns == ["id", "name", "v"]
    assert rows == expected


@pytest.mark.parametrize("spelling", [*NA_VALUES, " NA ", "\tnull", "   "])
def test_na_spellings_become_missing(tmp_path, spelling):
    _, rows = read_raw(tmp_path, f'id,name,v\n1,"{spelling}",{spelling}\n2,x,NaN\n')
    assert rows == [(1, "1", None, None), (2, "2", "x", None)]


def test_values_are_text_as_written(tmp_path):
    _, rows = read_raw(tmp_path, "id,v\n00123,007.50\n0,1e3\nna,None\n")
    # Only the spellings of NA_VALUES are missing (case counts): 'na' is a value.
    assert rows == [(1, "00123", "007.50"), (2, "0", "1e3"), (3, "na", None)]


def test_utf16_without_bom(tmp_path):
    info, rows = read_raw(tmp_path, "id,name\n1,café\n".encode("utf-16-le"))
    assert info.encoding == "UTF-16 (little-endian, no BOM)"
    assert rows == [(1, "1", "café")]


def test_gzip_of_cp1252(tmp_path):
    info, rows = read_raw(
        tmp_path, gzip.compress("id,name\n1,£5 café\n".encode("cp1252")), "t.csv.gz"
    )
    assert info.encoding == "Windows-1252 (latin-1)"
    assert rows == [(1, "1", "£5 café")]


def test_trailing_delimiter_column_is_dropped_with_a_note(tmp_path):
    info, rows = read_raw(tmp_path, "id,name,\n1,a,\n2,b,\n")
    assert info.columns == ["id", "name"] and rows == [(1, "1", "a"), (2, "2", "b")]
    assert info.notes == ["dropped 1 empty column(s) without a name (column 3)"]


def test_header_names_are_trimmed_and_bom_removed(tmp_path):
    info, _ = read_raw(tmp_path, "\ufeff Customer ID , Amount \n1,2\n".encode())
    assert info.columns == ["Customer ID", "Amount"] and info.encoding == "UTF-8 with BOM"


def test_dataframe_rows_and_missing_values():
    frame = pd.DataFrame(
        {"id": ["007", None, "9"], "x": [1.5, np.nan, 2.0], "t": ["NA", pd.NA, " a "]},
        index=[10, 5, 7],
    )
    with DuckDBEngine() as engine:
        info = load_source(engine, frame)
        rows = engine.sql("SELECT * FROM raw ORDER BY _row").fetchall()
    assert info.n_rows == 3 and info.columns == ["id", "x", "t"]
    assert rows == [(1, "007", 1.5, None), (2, None, None, None), (3, "9", 2.0, " a ")]


def test_parquet_text_columns_follow_the_na_table(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"id": ["1", "2"], "name": ["N/A", "x"]}).to_parquet(path)
    with DuckDBEngine() as engine:
        load_source(engine, path)
        assert engine.sql("SELECT * FROM raw ORDER BY _row").fetchall() == [
            (1, "1", None),
            (2, "2", "x"),
        ]


def test_sha256_of_the_file(tmp_path):
    import hashlib

    data = b"id,v\n1,2\n"
    info, _ = read_raw(tmp_path, data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_xlsx_checks_accept_a_real_workbook(workbook):
    from custseg.io.readers import _check_xlsx

    _check_xlsx(workbook)
    with zipfile.ZipFile(workbook) as zf:
        assert "xl/workbook.xml" in zf.namelist()


@pytest.mark.parametrize(
    ("name", "encode"),
    [("t.csv.gz", lambda s: gzip.compress(s.encode())), ("t.csv", lambda s: s.encode("utf-16"))],
    ids=["gzip", "utf-16 (transcoded)"],
)
def test_malformed_line_numbers_count_lines_of_the_file(tmp_path, name, encode):
    # Record 1 spans lines 2-3; the short record 5000 is on line 5002.
    data = 'id,name,v\n1,"a\nb",1\n' + "".join(f"{i},x,{i}\n" for i in range(2, 5000))
    path = tmp_path / name
    path.write_bytes(encode(data + "5000,short\n"))
    with DuckDBEngine() as engine, pytest.raises(custseg.InputError) as err:
        load_source(engine, path)
    assert "has 1 malformed line(s) (line 5002): line 5002 has 2 fields instead of 3" in str(
        err.value
    )


def test_leading_zeros_survive_end_to_end(tmp_path, run_cli):
    rows = ["CustomerID,InvoiceNo,InvoiceDate,Quantity,UnitPrice"]
    for i, (cid, day, qty) in enumerate(
        [("00123", 1, 1), ("00123", 5, 2), ("00124", 2, 9), ("00125", 3, 3), ("00126", 9, 4)]
    ):
        rows.append(f"{cid},{1000 + i},2021-01-{day:02d} 10:00:00,{qty},2.50")
    path = tmp_path / "zeros.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = end_to_end(path, run_cli, tmp_path)
    assert sorted(result.segments["customer_id"]) == ["00123", "00124", "00125", "00126"]
    written = (tmp_path / "out" / "segments.csv").read_text(encoding="utf-8")
    assert "\n00123," in written
