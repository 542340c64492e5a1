"""Cleaning and features on a ten-line table worked out by hand (see conftest.TINY_LINES)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import TINY_FEATURES

import custseg
from custseg.features.transactions import TRANSACTION_FEATURES


@pytest.fixture()
def tiny(tiny_lines):
    return custseg.build_features(tiny_lines)


def test_cleaning_accounting_by_hand(tiny):
    _, details = tiny
    cleaning = details["cleaning"]
    dropped = {d["reason"]: d["rows"] for d in cleaning["dropped"]}
    assert cleaning["rows_in"] == 10
    assert cleaning["rows_kept"] == 5
    assert dropped == {
        "missing_customer_id": 1,  # line 9
        "missing_value": 0,
        "exact_duplicate": 1,  # line 8 repeats line 7
        "cancellation": 1,  # C1004
        "adjustment": 0,
        "non_product_code": 1,  # POST
        "non_positive_price": 1,  # price 0.00
        "zero_quantity": 0,
        "after_analysis_date": 0,
    }
    assert cleaning["rows_in"] == cleaning["rows_kept"] + sum(dropped.values())
    # The last dated line of a known customer is 2021-01-31 08:00, so the analysis date is the day after.
    assert details["analysis_date"] == "2021-02-01"
    assert cleaning["revenue_kept"] == pytest.approx(10 + 10 + 20 + 15 + 10)
    revenue = {d["reason"]: d["revenue"] for d in cleaning["dropped"]}
    assert revenue["non_product_code"] == pytest.approx(18.0)
    assert revenue["cancellation"] == pytest.approx(-5.0)


def test_features_by_hand(tiny):
    features, _ = tiny
    expected = pd.DataFrame(TINY_FEATURES)
    pd.testing.assert_frame_equal(features, expected, check_dtype=False)
    assert list(features.columns[1:]) == list(TRANSACTION_FEATURES)


def test_analysis_date_option_drops_later_lines(tiny_lines):
    features, details = custseg.build_features(tiny_lines, analysis_date="2021-01-21")
    dropped = {d["reason"]: d["rows"] for d in details["cleaning"]["dropped"]}
    # Lines of Jan 25 (cancellation, postage) keep their own reason; Jan 30/31 are too late.
    assert dropped["after_analysis_date"] == 1
    assert details["analysis_date"] == "2021-01-21"
    row = features.set_index("customer_id").loc["1"]
    assert row["days_since_last_purchase"] == 1
    assert "3" not in set(features["customer_id"])
    assert any("analysis date" in w for w in details["warnings"])


def test_non_product_codes_override(tiny_lines):
    features, details = custseg.build_features(tiny_lines, non_product_codes=[])
    dropped = {d["reason"]: d["rows"] for d in details["cleaning"]["dropped"]}
    assert dropped["non_product_code"] == 0
    assert features.set_index("customer_id").loc["2", "revenue"] == pytest.approx(33.0)


def test_orders_are_days_without_invoice_column(tmp_path):
    # The CDNOW shape: customer, date, number of items, amount.
    path = tmp_path / "cdnow.csv"
    path.write_text(
        "customer,date,items,amount\n"
        "1,1997-01-01,2,29.33\n1,1997-01-01,1,10.00\n1,1997-01-18,2,29.73\n"
        "2,1997-01-02,1,11.77\n3,1997-01-03,5,63.34\n3,1997-03-02,1,9.99\n",
        encoding="utf-8",
    )
    features, details = custseg.build_features(path)
    assert details["schema"]["roles"] == {
        "customer_id": "customer",
        "date": "date",
        "quantity": "items",
        "amount": "amount",
    }
    f = features.set_index("customer_id")
    assert f.loc["1", "n_orders"] == 2  # two distinct days
    assert f.loc["1", "revenue"] == pytest.approx(69.06)
    assert f.loc["3", "days_since_last_purchase"] == 1
    assert "n_products" not in features


def test_roles_from_value_and_name_patterns(tmp_path):
    # No column is named like an alias: the id is found by its name pattern, the date by its values.
    path = tmp_path / "odd.csv"
    path.write_text(
        "client_ref,bought_on,qty,unit_price\n"
        "a,2021-01-01,1,2.5\na,2021-02-01,2,2.5\nb,2021-01-05,1,3.0\n",
        encoding="utf-8",
    )
    features, details = custseg.build_features(path)
    assert details["schema"]["roles"] == {
        "customer_id": "client_ref",
        "quantity": "qty",
        "price": "unit_price",
        "date": "bought_on",
    }
    assert features.set_index("customer_id").loc["a", "n_orders"] == 2
