"""Shop exports as platforms write them (found on a reviewer's Shopify-style orders export):
customers known by e-mail, dates with a time-zone offset, line items beside an order total
that is written on each order's first line only, and the column roles a model keeps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.schema import detect_roles

SHOPIFY_COLUMNS = [
    "Name", "Email", "Financial Status", "Currency", "Subtotal", "Shipping", "Total", "Created at",
    "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku", "Billing Country",
]  # fmt: skip


def shopify_orders(n_customers: int = 150, seed: int = 0) -> pd.DataFrame:
    """Orders of two kinds of customers (frequent small baskets, rare big ones), one row per
    line item; the order's totals only on its first line, as Shopify exports them."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows: list[dict[str, Any]] = []
    number = 1000
    for c in range(n_customers):
        frequent = c % 2 == 0
        for _ in range(int(rng.integers(6, 10)) if frequent else int(rng.integers(1, 3))):
            number += 1
            day = start + pd.Timedelta(
                days=int(rng.integers(0, 360)), hours=int(rng.integers(8, 23))
            )
            offset = "-0500" if c % 3 == 0 else "+0200"
            lines = [
                (int(rng.integers(1, 3)), round(float(rng.uniform(5, 15) if frequent else rng.uniform(80, 200)), 2))
                for _ in range(int(rng.integers(1, 4)))
            ]  # fmt: skip
            total = round(sum(q * p for q, p in lines) + 4.9, 2)
            for i, (q, p) in enumerate(lines):
                first = i == 0
                rows.append(
                    {
                        "Name": f"#{number}",
                        "Email": f"customer{c}@example.com",
                        "Financial Status": "paid" if first else "",
                        "Currency": "EUR" if first else "",
                        "Subtotal": round(total - 4.9, 2) if first else "",
                        "Shipping": 4.9 if first else "",
                        "Total": total if first else "",
                        "Created at": day.strftime("%Y-%m-%d %H:%M:%S ") + offset,
                        "Lineitem quantity": q,
                        "Lineitem name": f"Item {i}",
                        "Lineitem price": p,
                        "Lineitem sku": f"SKU-{i}",
                        "Billing Country": "DE",
                    }
                )
    return pd.DataFrame(rows, columns=SHOPIFY_COLUMNS)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Any]:
    orders = shopify_orders()
    path = tmp_path_factory.mktemp("shop") / "orders_export.csv"
    orders.to_csv(path, index=False)
    return orders, path, custseg.segment(path, new_customers=False)


def test_a_price_given_means_no_amount_is_looked_for() -> None:
    columns = ["Email", "Total", "Lineitem price", "Lineitem quantity", "Created at"]
    assert "amount" not in detect_roles(columns, {"price": "Lineitem price"})
    assert "price" not in detect_roles(columns, {"amount": "Total"})
    # A model's roles decide where the data has their columns; the user's still win.
    model = {"customer_id": "Email", "price": "Lineitem price", "date": "Created at"}
    assert "amount" not in detect_roles(columns, None, model)
    assert detect_roles(columns, {"amount": "Total"}, model)["amount"] == "Total"
    # Without an id column, the e-mail address is the customer id.
    assert detect_roles(columns)["customer_id"] == "Email"


def test_a_shopify_export_reads_without_options(shop: tuple[pd.DataFrame, Path, Any]) -> None:
    orders, _, result = shop
    roles = result.metrics["schema"]["roles"]
    assert roles["customer_id"] == "Email" and roles["date"] == "Created at"
    assert roles["price"] == "Lineitem price" and "amount" not in roles
    cleaning = result.metrics["cleaning"]
    assert cleaning["rows_kept"] == len(orders)  # no line lost to the blank order totals
    expected = float((orders["Lineitem quantity"] * orders["Lineitem price"]).sum())
    assert cleaning["revenue_kept"] == pytest.approx(expected, rel=1e-9)
    notes = " ".join(result.metrics["source"]["notes"])
    assert "column 'Total' is not used as the line amount: it is blank on" in notes
    assert result.metrics["presentation"]["currency"] == "€"  # from the Currency column
    # The time as written, not moved to UTC: an order at 22:00 -05:00 stays on its own day.
    first = pd.to_datetime(orders["Created at"].str[:19])
    last_day = first.groupby(orders["Email"]).max()
    days = result.segments.set_index("customer_id")["days_since_last_purchase"]
    analysis = pd.Timestamp(result.metrics["analysis_date"])
    assert (days.sort_index() == (analysis - last_day.dt.normalize()).dt.days.sort_index()).all()
    assert result.metrics["k"] >= 2


def test_an_amount_asked_for_is_used_and_its_blanks_are_warned_about(
    shop: tuple[pd.DataFrame, Path, Any],
) -> None:
    orders, path, _ = shop
    result = custseg.segment(path, columns={"amount": "Total"}, new_customers=False)
    blank = int((orders["Total"] == "").sum())
    dropped = {d["reason"]: d["rows"] for d in result.metrics["cleaning"]["dropped"]}
    assert dropped["missing_value"] == blank
    assert any(
        w.startswith(f"{blank:,} line(s)") and "no date, quantity, price/amount" in w
        for w in result.metrics["warnings"]
    )


def uci_like(n_customers: int = 60, seed: int = 0, discount_share: float = 0.0) -> pd.DataFrame:
    """Invoice lines with a quantity, a unit price and a line amount that is right: the
    quantity times the price, less a 10% discount on some lines (on 90% of the lines of
    every fifth customer)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        for i in range(int(rng.integers(3, 12))):
            q, p = int(rng.integers(1, 6)), round(float(rng.uniform(2, 40)), 2)
            discounted = rng.random() < (0.9 if c % 5 == 0 else discount_share)
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
            rows.append(
                {
                    "Invoice": f"{c}-{i}",
                    "CustomerID": 12000 + c,
                    "InvoiceDate": day.strftime("%Y-%m-%d"),
                    "Pieces": q,
                    "UnitPrice": p,
                    "Amount": round(q * p * (0.9 if discounted else 1.0), 2),
                }
            )
    return pd.DataFrame(rows)


def test_a_right_amount_column_is_kept_whatever_the_quantity(tmp_path: Path) -> None:
    """An amount column filled on every line is the line amount, even where it differs from
    quantity x price (discounts) and when the quantity column is not recognised ('Pieces')."""
    lines = uci_like(discount_share=0.6)
    path = tmp_path / "uci_pieces.csv"
    lines.to_csv(path, index=False)
    _, details = custseg.build_features(path)
    assert details["schema"]["roles"]["amount"] == "Amount"
    assert details["cleaning"]["revenue_kept"] == pytest.approx(lines["Amount"].sum())


def test_scoring_one_customer_gives_what_the_whole_file_gives(tmp_path: Path) -> None:
    """The model's roles stand at scoring: a customer whose lines are mostly discounted is
    scored on the same amounts alone as in the whole file."""
    lines = uci_like(120, seed=1, discount_share=0.3).rename(columns={"Pieces": "Quantity"})
    path = tmp_path / "uci.csv"
    lines.to_csv(path, index=False)
    result = custseg.segment(path, new_customers=False)
    assert result.metrics["schema"]["roles"]["amount"] == "Amount"
    whole = result.model.predict(path).set_index("customer_id")
    for c in (12000, 12005, 12010):  # 90% of their lines discounted
        alone = result.model.predict(lines[lines["CustomerID"] == c]).set_index("customer_id")
        assert alone.loc[str(c), "revenue"] == pytest.approx(whole.loc[str(c), "revenue"])
        assert alone.loc[str(c), "segment"] == whole.loc[str(c), "segment"]


def test_a_date_format_given_at_training_is_used_at_scoring(tmp_path: Path) -> None:
    orders = shopify_orders(120, seed=1)
    orders["Created at"] = pd.to_datetime(orders["Created at"].str[:19]).dt.strftime("%Y.%m.%d")
    path = tmp_path / "dotted.csv"
    orders.to_csv(path, index=False)
    with pytest.raises(custseg.InputError, match="not dates in any known format"):
        custseg.segment(path, new_customers=False)
    result = custseg.segment(path, date_format="%Y.%m.%d", new_customers=False)
    scored = result.model.predict(path)  # no date format passed again
    assert scored["segment"].tolist() == result.segments["segment"].tolist()
    # A new file with dates written another way is read as usual.
    iso = tmp_path / "iso.csv"
    orders.assign(**{"Created at": orders["Created at"].str.replace(".", "-")}).to_csv(
        iso, index=False
    )
    assert result.model.predict(iso)["segment"].tolist() == scored["segment"].tolist()


def test_a_german_invoice_export_reads_without_options(tmp_path: Path) -> None:
    """Monthly invoices as a German billing system writes them: `;`, decimal commas,
    dd.mm.yyyy, German column names and the currency in the amount's name."""
    rng = np.random.default_rng(2)
    rows = []
    for c in range(120):
        fee = 49.0 if c % 3 else 1250.5
        for month in range(int(rng.integers(3, 13))):
            day = pd.Timestamp("2024-01-02") + pd.DateOffset(months=month)
            rows.append(
                {
                    "Rechnungsnr": f"RE-{len(rows)}",
                    "Kundennummer": f"ACC-{c:04d}",
                    "Rechnungsdatum": day.strftime("%d.%m.%Y"),
                    "Betrag (EUR)": f"{fee:,.2f}".replace(",", "X")
                    .replace(".", ",")
                    .replace("X", "."),
                }
            )
    path = tmp_path / "rechnungen.csv"
    pd.DataFrame(rows).to_csv(path, sep=";", index=False)
    result = custseg.segment(path, new_customers=False)
    assert result.metrics["schema"]["roles"] == {
        "customer_id": "Kundennummer",
        "invoice": "Rechnungsnr",
        "date": "Rechnungsdatum",
        "amount": "Betrag (EUR)",
    }
    assert result.metrics["presentation"]["currency"] == "€"
    fees = [1250.5 if r["Betrag (EUR)"].startswith("1.") else 49.0 for r in rows]
    assert result.metrics["cleaning"]["revenue_kept"] == pytest.approx(sum(fees))
    assert not any("quantity" in w for w in result.metrics["warnings"])


def test_totals_lines_below_the_table_are_left_out_with_a_note(tmp_path: Path) -> None:
    """An export with its totals below the table: read as data, 'Total' was a line without a
    customer id holding 99.9% of the revenue and 'Total customers: 300' a customer."""
    orders = shopify_orders(120, seed=3)[
        ["Email", "Created at", "Lineitem quantity", "Lineitem price"]
    ]
    text = orders.to_csv(index=False)
    total = (orders["Lineitem quantity"] * orders["Lineitem price"]).sum()
    text += (
        f",,,\nTotal,,{orders['Lineitem quantity'].sum()},{total:.2f}\nTotal customers: 120,,,\n"
    )
    path = tmp_path / "with_totals.csv"
    path.write_text(text)
    features, details = custseg.build_features(path)
    assert len(features) == 120
    # The totals lines (and the empty one above them) count in the row accounting.
    assert details["cleaning"]["rows_in"] == len(orders) + 3
    dropped = {d["reason"]: d["rows"] for d in details["cleaning"]["dropped"]}
    assert dropped["summary_row"] == 3
    assert details["cleaning"]["revenue_kept"] == pytest.approx(total)
    notes = " ".join(details["source"]["notes"])
    assert "3 row(s) at the end of the table left out as the export's totals" in notes
    assert "'Total', 'Total customers: 120'" in notes
    # A last row of data whose first value starts with a totals word is data.
    kept = tmp_path / "last_is_data.csv"
    kept.write_text(orders.to_csv(index=False) + "Total Care Ltd,2024-05-01 10:00:00 +0100,1,9.5\n")
    assert len(custseg.build_features(kept)[0]) == 121


def test_the_command_line_counts_the_rows_left_out(
    run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    orders = shopify_orders(120, seed=7)[
        ["Email", "Created at", "Lineitem quantity", "Lineitem price"]
    ]
    path = tmp_path / "orders.csv"
    path.write_text(orders.to_csv(index=False) + "Total,,99,1234.5\n")
    code, out, _ = run_cli("segment", path, "--out", tmp_path / "out", "--k", "3")
    assert code == 0
    assert f"{len(orders):,} rows of data and 1 left out (see the note)" in out
    assert "summary_row" in out


def test_a_repeated_id_names_its_own_rows(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,age,income\na,30,100\nb,40,200\nc,50,300\na,31,110\nb,41,210\n")
    with pytest.raises(custseg.InputError) as caught:
        custseg.build_features(path, kind="customers")
    assert "customer id 'a' in column 'id' appears more than once (rows 1, 4)" in str(caught.value)
    assert "(and 1 other id(s) repeat)" in str(caught.value)


def test_rows_repeating_the_header_are_left_out_with_a_note(tmp_path: Path) -> None:
    """Two exports joined with both header lines: the second header was a date that does not
    parse (error: ... e.g. 'Created at')."""
    orders = shopify_orders(120, seed=4)[
        ["Email", "Created at", "Lineitem quantity", "Lineitem price"]
    ]
    half = len(orders) // 2
    text = orders.iloc[:half].to_csv(index=False) + orders.iloc[half:].to_csv(index=False)
    path = tmp_path / "joined.csv"
    path.write_text(text)
    features, details = custseg.build_features(path)
    assert len(features) == 120 and details["cleaning"]["rows_in"] == len(orders) + 1
    assert f"1 row(s) repeat the header and were left out (rows {half + 1};" in " ".join(
        details["source"]["notes"]
    )


def test_lines_in_several_currencies_are_warned_about(tmp_path: Path) -> None:
    orders = shopify_orders(120, seed=5)
    orders.loc[orders.index % 7 == 0, "Currency"] = "USD"
    path = tmp_path / "two_currencies.csv"
    orders.to_csv(path, index=False)
    _, details = custseg.build_features(path)
    assert any(
        w.startswith("column 'Currency' names more than one currency (EUR, USD)")
        for w in details["warnings"]
    )


def test_a_column_named_for_the_role_beats_one_with_a_unit_in_brackets() -> None:
    roles = detect_roles(["Customer (name)", "Customer No", "Order Date", "Amount"])
    assert roles["customer_id"] == "Customer No"
    roles = detect_roles(["Customer No", "Order Date", "Amount (tax)", "Line total"])
    assert roles["amount"] == "Line total"
    assert detect_roles(["Kundennr", "Datum", "Betrag (EUR)"])["amount"] == "Betrag (EUR)"


def test_a_german_customer_table_is_not_read_as_invoice_lines(tmp_path: Path) -> None:
    """'Kunde' holding surnames that repeat is not a customer id."""
    path = tmp_path / "kunden.csv"
    names = ["Müller", "Schmidt", "Meyer"]
    rows = [f"{i};{names[i % 3]};DE;2024-0{1 + i % 9}-01;{i * 10}" for i in range(60)]
    path.write_text("Nr.;Kunde;Land;Datum;Umsatz\n" + "\n".join(rows) + "\n")
    with pytest.raises(custseg.InputError, match="no customer id column"):
        custseg.build_features(path)


def test_an_order_id_column_does_not_hide_the_email(tmp_path: Path) -> None:
    """Shopify's export has an 'Id' (the order's, on its first line only)."""
    orders = shopify_orders(120, seed=6)
    first = orders["Name"] != orders["Name"].shift()
    orders["Id"] = np.where(first, orders["Name"].str[1:], "")
    path = tmp_path / "with_id.csv"
    orders.to_csv(path, index=False)
    features, details = custseg.build_features(path)
    assert details["schema"]["roles"]["customer_id"] == "Email" and len(features) == 120
    assert any("told apart by 'Email', not 'Id'" in n for n in details["source"]["notes"])


def test_a_last_row_named_like_a_total_is_data(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    rows = [f"C{i},{20 + i % 50},{1000 + i * 7}" for i in range(199)]
    path.write_text("id,age,spend\n" + "\n".join(rows) + "\nTotal Fitness Ltd,41,5000\n")
    features, details = custseg.build_features(path)
    assert len(features) == 200 and "Total Fitness Ltd" in set(features["customer_id"])
    assert details["cleaning"]["rows_in"] == 200
