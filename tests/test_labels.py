"""Readable labels, units, directions and currencies (custseg.labels)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from custseg.errors import InputError
from custseg.labels import (
    detect_currency,
    feature_direction,
    feature_label,
    feature_unit,
    format_value,
    load_labels,
    parse_currency,
    readable_column,
    value_columns,
)


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("days_since_last_purchase", "Days since last purchase"),
        ("return_rate", "Share of items returned"),
        ("MntWines", "Amount spent on wines"),
        ("MntGoldProds", "Amount spent on gold products"),
        ("NumWebVisitsMonth", "Web visits per month"),
        ("NumDealsPurchases", "Purchases with a discount"),
        ("AcceptedCmp3", "Accepted campaign 3"),
        ("Teenhome", "Teenagers at home"),
        ("Year_Birth", "Year of birth"),
        ("Marital_Status", "Marital status"),
        ("days_since_Dt_Customer", "Days as a customer"),
        ("days_since_signup_date", "Days since signup date"),
        ("Annual Income (k$)", "Annual income (k$)"),
        ("Spending Score (1-100)", "Spending score (1-100)"),
        ("customerLifetimeValue", "Customer lifetime value"),
        ("VIP_flag", "VIP flag"),
        ("n_returns", "Number of returns"),
        ("no_of_orders", "Number of orders"),
        ("total_revenue_gbp", "Total revenue (GBP)"),
    ],
)
def test_readable_labels(column: str, label: str) -> None:
    assert feature_label(column) == label


def test_no_label_is_snake_case_or_camel_case() -> None:
    for column in ("total_spend_eur", "NumStorePurchases", "avgBasketValue", "n_returns"):
        label = readable_column(column)
        assert "_" not in label
        words = re.sub(r"\(.*?\)", "", label)  # a unit in brackets keeps its case (EUR)
        assert label[0].isupper() and not any(c.isupper() for c in words[1:].replace("ID", ""))


def test_user_labels_come_first() -> None:
    assert feature_label("MntWines", {"MntWines": "Wine spend"}) == "Wine spend"
    assert feature_label("n_orders", {"MntWines": "Wine spend"}) == "Orders"


@pytest.mark.parametrize(
    ("column", "unit", "direction"),
    [
        ("revenue", "money", 1),
        ("days_since_last_purchase", "days", -1),
        ("return_rate", "share", -1),
        ("n_orders", "count", 1),
        ("MntWines", "money", 1),
        ("Income", "money", 0),
        ("Recency", "days", -1),
        ("Complain", "number", -1),
        ("Kidhome", "count", 0),
        ("NumWebPurchases", "count", 1),
        ("Spending Score (1-100)", "number", 0),
        ("Age", "number", 0),
        ("churn_rate", "share", -1),
        ("churn_probability", "share", -1),
        ("unsubscribed", "number", -1),
        ("is_subscribed", "number", 1),
        ("days_since_last_order", "days", -1),
        ("n_returns", "count", -1),
        ("avg_session_duration", "number", 0),
        ("time_spent_minutes", "number", 0),
        ("discount_pct", "percent", 0),
        ("registration_year", "year", 0),
        ("avg_order_value", "money", 1),
        ("AOV", "money", 1),
        ("account_age_days", "days", 0),
        ("Country", "number", 0),
        ("NumDealsPurchases", "count", 0),
    ],
)
def test_units_and_directions(column: str, unit: str, direction: int) -> None:
    assert feature_unit(column) == unit
    assert feature_direction(column) == direction


@pytest.mark.parametrize(
    ("value", "unit", "currency", "text"),
    [
        (2951.4, "money", "£", "£2,951"),
        (71.0, "money", "£", "£71"),
        (12.345, "money", "€", "€12.35"),
        (-40.0, "money", "$", "-$40"),
        (0.0033, "share", "", "0.3%"),
        (0.0001, "share", "", "<0.1%"),
        (19.0, "number", "", "19"),
        (37.5, "days", "", "38"),
        (2.5, "count", "", "2.50"),
        (None, "money", "£", "–"),
        (-0.004, "money", "$", "$0"),
        (12.5, "percent", "", "12.5%"),
        (1973.0, "year", "", "1973"),
        (float("nan"), "share", "", "–"),
    ],
)
def test_format_value(value: float | None, unit: str, currency: str, text: str) -> None:
    assert format_value(value, unit, currency=currency) == text


def test_value_columns_are_spend_not_income_or_scores() -> None:
    columns = ["Income", "MntWines", "MntFruits", "Spending Score (1-100)", "Recency", "price"]
    assert value_columns(columns) == ["MntWines", "MntFruits"]
    # refunds, discounts, averages, maxima and other money are not part of the total
    others = ["refund_amount", "discount_amount", "avg_spend_per_order", "max_order_amount",
              "loan_amount", "time_spent_minutes", "num_sales_calls"]  # fmt: skip
    assert value_columns(["total_spend", *others]) == ["total_spend"]
    assert value_columns(["spend_30d", "spend_12m", "lifetime_spend"]) == ["lifetime_spend"]
    assert value_columns(["spend_30d", "web_sales", "store_sales"]) == ["web_sales", "store_sales"]


def test_distinct_labels_name_the_column_when_two_read_alike() -> None:
    from custseg.labels import distinct_labels

    assert distinct_labels(["num_orders", "NumOrders"]) == [
        "Number of orders (num_orders)",
        "Number of orders (NumOrders)",
    ]
    assert distinct_labels(["a", "b"], {"a": "Spend", "b": "Spend"}) == ["Spend (a)", "Spend (b)"]


def test_currency_detection() -> None:
    assert detect_currency(["Annual Income (k$)"]) == "$"
    assert detect_currency(["order_amount_eur", "customer"]) == "€"
    assert detect_currency(["Price", "Quantity"]) is None
    assert detect_currency(["price_usd", "cost_eur"]) is None  # two currencies: say nothing
    assert detect_currency(["Europe_share"]) is None  # "eur" inside a word is not a currency


def test_no_currency_before_a_column_with_its_unit_in_brackets() -> None:
    from custseg.labels import column_currency

    assert column_currency("Annual Income (k$)", "$") == ""
    assert column_currency("Price (EUR)", "€") == ""
    assert column_currency("Spending Score (1-100)", "$") == "$"
    assert column_currency("revenue", "£") == "£"


def test_currency_option() -> None:
    assert parse_currency("GBP") == "£"
    assert parse_currency("€") == "€"
    assert parse_currency("none") == ""
    assert parse_currency("kr") == "kr "
    with pytest.raises(InputError, match=r"currency 'dollars and cents' \(currency\)"):
        parse_currency("dollars and cents")


def test_labels_file_with_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("column;label\nMntWines;Wine spend, all channels\n")
    assert load_labels(path) == {"MntWines": "Wine spend, all channels"}


def test_labels_file_csv_and_json(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text('column,label\nMntWines,Wine spend\nRecency,"Days since last order, any"\n')
    assert load_labels(csv) == {"MntWines": "Wine spend", "Recency": "Days since last order, any"}
    js = tmp_path / "labels.json"
    js.write_text('{"n_orders": "Invoices"}')
    assert load_labels(js) == {"n_orders": "Invoices"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("MntWines,Wine,extra\n", r"line 1, has 3 fields"),
        ('{"a": 1}', "one JSON object of column -> label"),
        ('{"a": ', "not valid JSON"),
    ],
)
def test_bad_labels_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / ("labels.json" if content.startswith("{") else "labels.csv")
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_labels(path)
    with pytest.raises(InputError, match="cannot read the labels file"):
        load_labels(tmp_path / "missing.csv")


# ---------------------------------------------------------------- the command line


def shop_csv(folder: Path) -> Path:
    """A small customer table with spend columns, as a CSV."""
    rng = np.random.default_rng(0)
    n = 90
    group = np.repeat([0, 1, 2], 30)
    frame = pd.DataFrame(
        {
            "CustomerID": np.arange(n),
            "MntWines": np.choose(group, [900, 200, 20]) * rng.lognormal(0, 0.1, n),
            "MntFruits": np.choose(group, [80, 40, 5]) * rng.lognormal(0, 0.1, n),
            "Recency": np.choose(group, [5, 40, 90]) + rng.integers(0, 5, n),
        }
    ).round(0)
    path = folder / "shop.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_labels_currency_and_value_col(run_cli: Any, tmp_path: Path) -> None:
    data = shop_csv(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text("column,label\nMntWines,Wine spend\n")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "segment", data, "--out", out, "--labels", labels, "--currency", "EUR",
        "--value-col", "MntWines", "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["presentation"]["labels"] == {"MntWines": "Wine spend"}
    assert metrics["presentation"]["currency"] == "€"
    assert metrics["value"]["columns"] == ["MntWines"]
    page = (out / "report.html").read_text()
    assert "Wine spend: €" in page
    # Re-rendered with other labels and currency: kept for the next renderings.
    labels.write_text('{"MntWines": "Wines"}')
    code, _, stderr = run_cli("report", out, "--labels", labels, "--currency", "GBP", "--quiet")
    assert code == 0, stderr
    assert "Wines: £" in (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text())["presentation"]["currency"] == "£"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "missing.csv"], "cannot read the labels file"),
        (["--currency", "dollars and cents"], "--currency"),
        (["--value-col", "Spend"], "--value-col"),
    ],
)
def test_cli_bad_presentation_options(
    run_cli: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    data = shop_csv(tmp_path)
    out = tmp_path / "out"
    code, _, stderr = run_cli("segment", data, "--out", out, *args, "--quiet")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert "Traceback" not in stderr
    assert not out.exists()
