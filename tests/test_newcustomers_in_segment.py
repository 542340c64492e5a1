"""The new-customer models inside the product: segment fits them on its own segments,
saves them in model.skops, predict adds their columns, the report shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.newcustomers.models import FORECAST_COLUMNS
from custseg.report import build_report_data


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    frame, _ = custseg.datasets.make_transactions(
        400, n_segments=3, seed=4, first_purchase_signal=True
    )
    return frame


@pytest.fixture(scope="module")
def result(lines: pd.DataFrame) -> Any:
    return custseg.segment(lines, algorithm="kmeans", seed=0)


def test_segments_get_the_forecast_columns(result: Any) -> None:
    frame = result.segments
    assert list(frame.columns[-len(FORECAST_COLUMNS) :]) == list(FORECAST_COLUMNS)
    assert (frame["expected_purchases"] >= 0).all() and (frame["expected_revenue"] >= 0).all()
    # The segment from a first purchase is given to customers who bought on one day only
    # (purchases are counted in days, as BG/NBD does), and it is one of the segments this
    # segmentation found (the classifier learned these segments).
    once = frame["days_since_first_purchase"] == frame["days_since_last_purchase"]
    assert (frame["first_purchase_segment"].notna() == once).all()
    assert set(frame.loc[once, "first_purchase_segment"].astype(int)) <= set(frame["segment"])
    names = dict(zip(result.profiles["segment"], result.profiles["segment_name"], strict=True))
    shown = frame.loc[once, ["first_purchase_segment", "first_purchase_segment_name"]]
    assert all(names[int(s)] == n for s, n in shown.itertuples(index=False))
    probability = frame.loc[once, "first_purchase_segment_probability"]
    assert ((probability > 0) & (probability <= 1)).all()
    summary = result.metrics["new_customers"]
    assert summary["fitted"] and summary["horizon_days"] == 365
    assert summary["classifier"]["oof_accuracy"] > summary["classifier"]["majority_share"]


def test_saved_model_predicts_the_same_forecast(
    run_cli: Any, lines: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "lines.csv"
    lines.to_csv(path, index=False)
    out = tmp_path / "out"
    assert run_cli("segment", path, "--out", out, "--algorithm", "kmeans", "-q")[0] == 0
    code, _, err = run_cli("predict", out / "model.skops", path, "--out", tmp_path / "p.csv", "-q")
    assert (code, err) == (0, "")
    assert (tmp_path / "p.csv").read_bytes() == (out / "segments.csv").read_bytes()
    model = custseg.load_model(out / "model.skops")
    assert model.new_customers is not None


def test_new_customers_can_be_left_out(lines: pd.DataFrame) -> None:
    plain = custseg.segment(lines, algorithm="kmeans", k=3, seed=0, new_customers=False)
    assert not set(FORECAST_COLUMNS) & set(plain.segments.columns)
    assert plain.metrics["new_customers"] is None and plain.model.new_customers is None
    assert build_report_data(plain)["new_customers"] is None


def test_too_short_a_period_gives_no_forecast_and_says_why(tiny_lines: Path) -> None:
    lines = pd.read_csv(tiny_lines)
    more = pd.concat([lines.assign(CustomerID=lines["CustomerID"] + 10 * i) for i in range(3)])
    result = custseg.segment(more, algorithm="kmeans", k=2, seed=0)
    summary = result.metrics["new_customers"]
    assert summary["fitted"] is False and "days" in summary["reason"]
    assert not set(FORECAST_COLUMNS) & set(result.segments.columns)
    section = build_report_data(result)["new_customers"]
    assert section == {"fitted": False, "reason": summary["reason"]}
    assert "No forecast: " in result.report_html()


def test_report_section_adds_up(result: Any) -> None:
    section = build_report_data(result)["new_customers"]
    assert section["fitted"]
    total = result.segments["expected_revenue"].sum()
    assert section["total_revenue"] == f"{total:,.0f}"
    shares = [float(r["revenue_share"].rstrip("%")) for r in section["rows"]]
    assert sum(shares) == pytest.approx(100, abs=0.3)
    assert np.isclose(
        sum(float(r["purchases"].replace(",", "")) for r in section["rows"]),
        result.segments["expected_purchases"].sum(),
        rtol=0.01,
    )


def test_customer_tables_have_no_new_customer_section() -> None:
    frame = pd.DataFrame(
        {"customer_id": range(30), "age": np.arange(30) % 7, "spend": np.arange(30)}
    )
    result = custseg.segment(frame, algorithm="kmeans", k=2, seed=0)
    assert result.metrics["new_customers"] is None
    data = build_report_data(result)
    assert "new_customers" not in [s["id"] for s in data["sections"]]
    main = [s for s in data["sections"] if not s["appendix"]]
    assert main[-1] == {"id": "limitations", "title": "4. What to keep in mind", "appendix": False}


def test_rename_reaches_the_first_purchase_segment(result: Any, lines: pd.DataFrame) -> None:
    renamed = result.rename({0: "VIP"})
    frame = renamed.segments
    zero = frame["first_purchase_segment"] == 0
    assert zero.any() and (frame.loc[zero, "first_purchase_segment_name"] == "VIP").all()
    assert renamed.model.new_customers.segment_names[0] == "VIP"
    assert result.model.new_customers.segment_names[0] != "VIP"
    scored = renamed.model.predict(lines)
    assert (
        scored["first_purchase_segment_name"].tolist()
        == frame["first_purchase_segment_name"].tolist()
    )


def no_signal_lines(
    n_customers: int = 360, seed: int = 7, *, once_from_day: int | None = None
) -> pd.DataFrame:
    """Invoice lines whose first purchase says nothing about the customer: every first order
    is the same product, quantity and hour, on a random day; what follows it (a regular buyer,
    one who stops after a few orders, or nobody) is drawn independently of it. Customers who
    arrive on or after ``once_from_day`` (when given) never come back."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01 10:00")
    rows = []
    invoice = 100000
    for c in range(n_customers):
        day = int(rng.integers(0, 600))
        kind = rng.choice(["regular", "stopper", "once"])
        if once_from_day is not None and day >= once_from_day:
            kind = "once"
        gap, orders = {"regular": (15, 99), "stopper": (25, 4), "once": (0, 1)}[kind]
        for k in range(orders):
            if day >= 730:
                break
            product, qty, price = (
                ("P1", 2, 5.0) if k == 0 else ("P2", int(rng.integers(1, 20)), 3.0)
            )
            when = start + pd.Timedelta(days=day)
            rows.append((str(invoice), product, "GIFT", qty, str(when), price, 10000 + c, "UK"))
            invoice += 1
            day += int(rng.exponential(gap)) + 1
    columns = [
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ]
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture(scope="module")
def no_signal() -> Any:
    return custseg.segment(no_signal_lines(), algorithm="kmeans", k=3, seed=0)


def test_a_first_purchase_with_a_signal_is_used(result: Any) -> None:
    clf = result.metrics["new_customers"]["classifier"]
    check = clf["check"]
    assert clf["used"] is True and check["used"] is True
    assert check["method"] == "time split" and check["n_test"] >= 30
    assert check["accuracy"] >= check["majority_accuracy"] + check["accuracy_margin"]
    assert check["macro_f1"] >= check["majority_macro_f1"] + 0.1
    assert result.model.new_customers.classifier_used
    section = build_report_data(result)["new_customers"]
    assert section["facts"][0].startswith("The first purchase predicts the segment here.")


def test_a_first_purchase_without_a_signal_is_not_used(no_signal: Any) -> None:
    summary = no_signal.metrics["new_customers"]
    clf = summary["classifier"]
    check = clf["check"]
    assert clf["used"] is False and check["used"] is False
    assert check["method"] == "time split"
    assert set(check) >= {"accuracy", "majority_accuracy", "macro_f1", "reason"}
    assert "accuracy" in check["reason"] or "macro-F1" in check["reason"]
    # The columns give the prior: the most common segment, with its share as the probability,
    # the same for every one-time buyer.
    frame = no_signal.segments
    once = frame["first_purchase_segment"].notna()
    assert once.any()
    shares = no_signal.model.new_customers.settings["segment_shares"]
    majority = int(np.argmax(shares))
    assert (frame.loc[once, "first_purchase_segment"] == majority).all()
    assert (
        frame.loc[once, "first_purchase_segment_name"] == no_signal.model.segment_names[majority]
    ).all()
    assert (frame.loc[once, "first_purchase_segment_probability"] == round(max(shares), 4)).all()
    html = no_signal.report_html()
    assert "The first purchase does not predict the segment here." in html
    assert "not a prediction" in html
    assert not no_signal.model.new_customers.classifier_used
    # Scoring the training lines again writes the same columns.
    scored = no_signal.model.predict(no_signal_lines())
    pd.testing.assert_series_equal(
        scored["first_purchase_segment_probability"], frame["first_purchase_segment_probability"]
    )


def test_backtest_compares_forecast_and_actual_per_segment(result: Any) -> None:
    backtest = result.metrics["new_customers"]["backtest"]
    assert backtest["done"] and backtest["days"] >= 28
    rows = backtest["rows"]
    assert rows and {r["segment"] for r in rows} <= set(result.segments["segment"])
    assert sum(r["customers"] for r in rows) == backtest["total"]["customers"]
    for key in ("forecast_purchases_total", "actual_purchases_total", "actual_revenue_total"):
        assert sum(r[key] for r in rows) == pytest.approx(backtest["total"][key], abs=0.1)
    total = backtest["total"]
    assert total["purchases_ratio"] == pytest.approx(
        total["forecast_purchases_total"] / total["actual_purchases_total"], abs=1e-3
    )
    section = build_report_data(result)["new_customers"]["backtest"]
    assert len(section["rows"]) == len(rows)
    assert any(s.startswith("Last period, the forecast for ") for s in section["sentences"])
    html = result.report_html()
    assert "Checked against history" in html and "forecast / made" in html
    assert "backtest" in result.metrics["new_customers"]["seconds"]


def test_newcomers_who_never_return_give_plain_bgnbd_and_say_so() -> None:
    # The earlier cohorts the covariate model learns from made no purchase in their windows:
    # a Poisson model has nothing to learn (and could not be fitted); BG/NBD serves them.
    lines = no_signal_lines(once_from_day=450)
    result = custseg.segment(lines, algorithm="kmeans", k=3, seed=0)
    summary = result.metrics["new_customers"]
    assert summary["fitted"] is True
    assert summary["covariate_model"] is False
    assert any("made only 0 purchases in them" in note for note in summary["notes"])
    assert result.segments["expected_purchases"].notna().all()


def test_trust_section_without_one_time_buyers_and_after_a_poor_backtest(result: Any) -> None:
    """No customer bought only once (no numpy warning, no "for – of them"), and the forecast
    of revenue was far above what happened last period: "How far to trust it" says so."""
    import copy
    import dataclasses

    metrics = copy.deepcopy(result.metrics)
    metrics["new_customers"]["backtest"]["total"]["revenue_ratio"] = 1.69
    repeat_only = dataclasses.replace(
        result,
        segments=result.segments.assign(first_purchase_segment=np.nan),
        metrics=metrics,
    )
    section = build_report_data(repeat_only)["new_customers"]
    assert section["single"] == "0"
    assert any(
        f.startswith("Last period the forecast of revenue was 1.69 times what the customers")
        and f.endswith("read the revenue forecast as an upper bound.")
        for f in section["facts"]
    )
    html = repeat_only.report_html()
    assert "No customer has bought only once" in html and "for – of them" not in html
    plain = build_report_data(result)["new_customers"]
    assert not any(f.startswith("Last period the forecast of revenue") for f in plain["facts"]) or (
        not 0.8 <= result.metrics["new_customers"]["backtest"]["total"]["revenue_ratio"] <= 1.25
    )


def test_product_groups_from_codes_are_not_called_descriptions(result: Any) -> None:
    import copy
    import dataclasses

    metrics = copy.deepcopy(result.metrics)
    metrics["new_customers"]["product_categories"] = ["23 24", "10 p10"]
    metrics["new_customers"]["product_categories_source"] = "product"
    html = dataclasses.replace(result, metrics=metrics).report_html()
    assert "told apart by 2 groups of similar product codes" in html
    assert "23 24" not in html
    # The fixture's lines have product descriptions.
    assert result.metrics["new_customers"]["product_categories_source"] == "description"
