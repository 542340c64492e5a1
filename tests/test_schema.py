"""Column roles, the kind of table, and reading text as ids, numbers and dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from custseg.engines.duckdb import DuckDBEngine
from custseg.errors import InputError
from custseg.io import load_source
from custseg.schema import (
    DATE_FORMATS,
    check_parsed,
    column_type,
    date_expr,
    detect_date_format,
    detect_kind,
    detect_roles,
    id_expr,
    normalize_name,
    number_expr,
    uses_decimal_comma,
)


@pytest.fixture()
def engine():
    with DuckDBEngine() as eng:
        yield eng


def load(engine: DuckDBEngine, **columns) -> DuckDBEngine:
    load_source(engine, pd.DataFrame(columns))
    return engine


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("name", "normal"),
    [("Customer ID", "customerid"), ("customer_id", "customerid"), ("UNIT-PRICE", "unitprice")],
)
def test_normalize_name(name, normal):
    assert normalize_name(name) == normal


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            [
                "InvoiceNo",
                "StockCode",
                "Description",
                "Quantity",
                "InvoiceDate",
                "UnitPrice",
                "CustomerID",
                "Country",
            ],
            {
                "customer_id": "CustomerID",
                "invoice": "InvoiceNo",
                "date": "InvoiceDate",
                "quantity": "Quantity",
                "price": "UnitPrice",
                "product": "StockCode",
                "description": "Description",
                "country": "Country",
            },
        ),
        (
            [
                "Invoice",
                "StockCode",
                "Description",
                "Quantity",
                "InvoiceDate",
                "Price",
                "Customer ID",
                "Country",
            ],
            {
                "customer_id": "Customer ID",
                "invoice": "Invoice",
                "date": "InvoiceDate",
                "quantity": "Quantity",
                "price": "Price",
                "product": "StockCode",
                "description": "Description",
                "country": "Country",
            },
        ),
        (
            [
                "customer_id",
                "order_id",
                "order_date",
                "product_id",
                "description",
                "quantity",
                "unit_price",
                "country",
            ],
            {
                "customer_id": "customer_id",
                "invoice": "order_id",
                "date": "order_date",
                "quantity": "quantity",
                "price": "unit_price",
                "product": "product_id",
                "description": "description",
                "country": "country",
            },
        ),
        (["CustomerID", "Genre", "Age", "Annual Income (k$)"], {"customer_id": "CustomerID"}),
        (["ID", "Year_Birth", "Income", "Dt_Customer"], {"customer_id": "ID"}),
    ],
    ids=["uci", "online retail ii", "generic", "mall", "marketing"],
)
def test_detect_roles(columns, expected):
    assert detect_roles(columns) == expected


def test_override_wins_and_frees_the_detected_column():
    roles = detect_roles(["CustomerID", "Account", "Date", "Price"], {"customer_id": "Account"})
    assert roles["customer_id"] == "Account" and roles["date"] == "Date"


def test_override_accepts_another_spelling_of_one_column():
    roles = detect_roles(["Customer ID", "Date", "Price"], {"customer_id": "customer_id"})
    assert roles["customer_id"] == "Customer ID"


def test_override_of_a_missing_column_lists_the_columns():
    with pytest.raises(
        InputError,
        match=r"Column 'Klant' given to columns=\{\"customer_id\": \.\.\.\} is not in the data\. "
        r"Columns found: a, b\.",
    ):
        detect_roles(["a", "b"], {"customer_id": "Klant"})


def test_one_column_for_two_roles_is_refused():
    with pytest.raises(
        InputError,
        match=r"'Total' is given to both columns=\{\"price\": \.\.\.\} and columns=\{\"amount\"",
    ):
        detect_roles(["id", "Total"], {"price": "Total", "amount": "Total"})


# ---------------------------------------------------------------- kind


def test_kind_from_repeating_ids(engine):
    load(engine, cid=["1", "1", "2"], date=["2021-01-01"] * 3, price=["1"] * 3)
    roles = {"customer_id": "cid", "date": "date", "price": "price"}
    kind, reason = detect_kind(engine, roles, ["cid", "date", "price"], "Here")
    assert kind == "transactions" and "3 rows with a customer id for 2 customers" in reason


def test_rows_without_id_do_not_make_a_customer_table_transactions(engine):
    load(engine, cid=["1", None, None, "2"], date=["2021-01-01"] * 4, price=["1"] * 4)
    roles = {"customer_id": "cid", "date": "date", "price": "price"}
    kind, _ = detect_kind(engine, roles, ["cid", "date", "price"], "Here")
    assert kind == "customers"


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["00123", " 17850 ", "17850.0", "A-7", ""], ["00123", "17850", "17850", "A-7", None]),
        ([17850.0, 1e16, 2.5, float("nan")], ["17850", "10000000000000000", "2.5", None]),
        ([17850, 7], ["17850", "7"]),
    ],
    ids=["text", "float", "int"],
)
def test_ids_are_clean_text(engine, values, expected):
    load(engine, cid=values)
    expr = id_expr("cid", column_type(engine, "cid"))
    got = [r[0] for r in engine.sql(f"SELECT {expr} FROM raw ORDER BY _row").fetchall()]
    assert got == expected


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("values", "decimal_comma", "expected"),
    [
        (
            ["2.55", "£1,234.50", "$ 7", "-3", "1,234,567"],
            False,
            [2.55, 1234.5, 7.0, -3.0, 1234567.0],
        ),
        (["2,55", "1.234,50", "1 234,5", "€3", "-0,5"], True, [2.55, 1234.5, 1234.5, 3.0, -0.5]),
        # A separator where thousands are not grouped does not parse: never 100x too large.
        (["2,55", "12,3456"], False, [None, None]),
        (["2.55"], True, [None]),
        (["1\u00a0234,50", "1\u202f000"], True, [1234.5, 1000.0]),
    ],
    ids=["decimal dot", "decimal comma", "comma is not thousands", "dot is not thousands", "nbsp"],
)
def test_number_expr(engine, values, decimal_comma, expected):
    load(engine, v=values)
    expr = number_expr("v", "VARCHAR", decimal_comma)
    got = [r[0] for r in engine.sql(f"SELECT {expr} FROM raw ORDER BY _row").fetchall()]
    assert got == expected


@pytest.mark.parametrize(
    ("values", "delimiter", "expected"),
    [
        (["2,55", "3", "10,00"], "semicolon", True),
        (["2,55", "3"], "comma", True),
        (["1.234,50", "7,5"], "comma", True),
        (["2.55", "1,234.50"], "semicolon", False),
        (["1,234", "5,000"], "comma", False),
        (["1,234", "5,000"], "semicolon", True),
        (["0,500", "1,250"], "tab", True),
        (["2,55", "2.55"], "semicolon", False),
        (["1", "2"], "semicolon", False),
    ],
)
def test_uses_decimal_comma(engine, values, delimiter, expected):
    load(engine, v=values)
    assert uses_decimal_comma(engine, "v", delimiter) is expected


def test_overflow_and_infinity_are_rejected_with_rows(engine):
    load(engine, v=["1.5", "1e400", "2", "Infinity", "-inf", "x"])
    expr = number_expr("v", "VARCHAR")
    with pytest.raises(
        InputError,
        match=r"^Here: column 'v' has 4 value\(s\) that are not numbers or are out of range "
        r"\(rows 2, 4, 5, 6\), e\.g\. '1e400', 'Infinity', '-inf'\. Fix them\.$",
    ):
        check_parsed(engine, "v", expr, "numbers", "Fix them.", "Here")


def test_infinite_float_column_is_rejected(engine):
    load(engine, v=[1.0, float("inf")])
    with pytest.raises(InputError, match=r"out of range \(row 2\)"):
        check_parsed(engine, "v", number_expr("v", "DOUBLE"), "numbers", "Fix.", "Here")


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("values", "fmt", "first", "ambiguous"),
    [
        (
            ["2010-12-01 08:26:00", "2010-12-09 20:01:00"],
            "%Y-%m-%d %H:%M:%S",
            dt.datetime(2010, 12, 1, 8, 26),
            False,
        ),
        (
            ["12/1/2010 8:26", "12/13/2010 9:01"],
            "%m/%d/%Y %H:%M",
            dt.datetime(2010, 12, 1, 8, 26),
            False,
        ),
        (
            ["1/12/2010 8:26", "13/12/2010 9:01"],
            "%d/%m/%Y %H:%M",
            dt.datetime(2010, 12, 1, 8, 26),
            False,
        ),
        (
            ["12/1/2010 8:26", "12/9/2010 9:01"],
            "%m/%d/%Y %H:%M",
            dt.datetime(2010, 12, 1, 8, 26),
            True,
        ),
        (
            ["01-12-2010 08:26", "09-12-2010 09:01"],
            "%d-%m-%Y %H:%M",
            dt.datetime(2010, 12, 1, 8, 26),
            True,
        ),
        (["04-09-2012", "21-08-2013"], "%d-%m-%Y", dt.datetime(2012, 9, 4), False),
        (["2010-12-01T08:26:00Z"], "%Y-%m-%dT%H:%M:%SZ", dt.datetime(2010, 12, 1, 8, 26), False),
        (["01-Dec-2010", "31-Dec-2010"], "%d-%b-%Y", dt.datetime(2010, 12, 1), False),
        (["Dec 1, 2010"], "%b %d, %Y", dt.datetime(2010, 12, 1), False),
    ],
    ids=[
        "iso",
        "us",
        "uk slashes",
        "us ambiguous",
        "dashes ambiguous",
        "marketing",
        "iso Z",
        "d-mon-y",
        "mon d, y",
    ],
)
def test_date_formats(engine, values, fmt, first, ambiguous):
    load(engine, d=values)
    found, warnings = detect_date_format(engine, "d", "Here")
    assert found == fmt and fmt in DATE_FORMATS
    assert bool(warnings) is ambiguous
    if ambiguous:
        assert "read either way" in warnings[0] and "--date-format" in warnings[0]
    got = engine.scalar(f"SELECT {date_expr('d', found)} FROM raw ORDER BY _row LIMIT 1")
    assert got == first


def test_typed_dates_need_no_format(engine):
    load(engine, d=pd.to_datetime(["2010-12-01 08:26"]))
    assert detect_date_format(engine, "d", "Here") == (None, [])


def test_mixed_date_formats_show_rows_and_examples(engine):
    load(engine, d=["2010-12-01", "2010-12-02", "02/12/2010", None, "tomorrow", "2010-12-03"])
    with pytest.raises(
        InputError,
        match=r"^Here: column 'd' has 2 value\(s\) that are not dates written like the others "
        r"\('2010-12-01', format '%Y-%m-%d'\) \(rows 3, 5\), e\.g\. '02/12/2010', 'tomorrow'\. ",
    ):
        detect_date_format(engine, "d", "Here")


def test_no_dates_at_all(engine):
    load(engine, d=["soon", "later"])
    with pytest.raises(InputError, match=r"not dates in any known format, e\.g\. 'later', 'soon'"):
        detect_date_format(engine, "d", "Here")
    assert detect_date_format(engine, "d", "Here", required=False) == ("", [])


def test_ambiguity_warning_is_deterministic(engine):
    load(engine, d=["05-12-2010", "01-12-2010", "03-12-2010"])
    _, warnings = detect_date_format(engine, "d", "Here")
    assert "such as '01-12-2010'" in warnings[0]
