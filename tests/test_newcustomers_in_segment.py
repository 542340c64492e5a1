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
    assert data["sections"][-1] == {"id": "limitations", "title": "8. Limitations and next steps"}


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
