"""Regular billing: every account invoiced about every 30 days. Purchase rates then do not
differ between customers, BG/NBD's Gamma of rates runs to its boundary (r, alpha -> infinity),
and the forecast must still be a number for every customer, about 12 purchases a year for an
account still billed, next to nothing for one that stopped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.newcustomers.checks import MAX_SEGMENT_SHIFT, backtest_forecast
from custseg.newcustomers.forecast import (
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_notes,
    purchase_history,
    shared_rate_log_likelihood,
    simulate_bgnbd,
)
from custseg.newcustomers.wording import backtest_section


def monthly_invoices(n_active: int = 90, n_stopped: int = 30, seed: int = 0) -> pd.DataFrame:
    """Invoices of a SaaS: every account starts in Jan-Apr 2023 and is billed on the first
    days of every month up to 2025-06 (active, fee 30-90) or stops in 2023-2024 (stopped)."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2023-01-01", "2025-06-01", freq="MS")
    rows = []
    for k in range(n_active + n_stopped):
        first = int(rng.integers(0, 4))
        last = len(months) if k < n_active else int(rng.integers(first + 3, len(months) - 7))
        fee = float(rng.choice([30.0, 50.0, 90.0]))
        for m in months[first:last]:
            day = m + pd.Timedelta(days=int(rng.integers(0, 3)))
            rows.append({"customer_id": f"A{k:03d}", "ts": day, "amount": fee})
    frame = pd.DataFrame(rows)
    frame["invoice"] = [f"R{i}" for i in range(len(frame))]
    frame["quantity"] = 1.0
    frame["price"] = frame["amount"]
    return frame


@pytest.fixture(scope="module")
def invoices() -> pd.DataFrame:
    return monthly_invoices()


def test_shared_rate_likelihood_is_the_limit_of_bgnbd() -> None:
    x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 80.0]), np.array([100.0, 100.0])
    rate, a, b = 1 / 30, 0.7, 4.0
    near = bgnbd_log_likelihood((1e7 * rate, 1e7, a, b), x, t_x, T)
    assert shared_rate_log_likelihood((rate, a, b), x, t_x, T) == pytest.approx(near, abs=1e-3)


def test_monthly_billing_fits_one_shared_rate(invoices: pd.DataFrame) -> None:
    history = purchase_history(invoices, pd.Timestamp("2025-07-01"))
    fitted = fit_bgnbd(history["x"], history["t_x"], history["T"])
    assert fitted["purchase_rates"] == "shared"
    assert fitted["r"] is None and fitted["alpha"] is None
    assert 365 * fitted["rate"] == pytest.approx(12.0, rel=0.05)
    notes = fit_notes(fitted, {"q": 3.0})
    assert len(notes) == 1
    assert f"one shared rate of {365 * fitted['rate']:.1f} purchases a year" in notes[0]


def test_huge_r_no_longer_gives_nan() -> None:
    # The degenerate fit the SaaS export ran to: hyp2f1 returns NaN there.
    params = {"r": 10256.26, "alpha": 312744.8, "a": 0.497, "b": 25.42}
    shared = {"purchase_rates": "shared", "rate": 10256.26 / 312744.8, "a": 0.497, "b": 25.42}
    args = (365, [0, 11, 24, 12], [0, 330, 720, 360], [10, 340, 730, 600])
    gamma = bgnbd_expected_purchases(params, *args)
    limit = bgnbd_expected_purchases(shared, *args)
    assert np.isfinite(gamma).all()
    assert gamma == pytest.approx(limit, rel=1e-3)
    # Billed every month up to now: about 11 of 12 months (a small chance of leaving);
    # billed for a year and silent for 240 days (8 missed invoices): almost surely gone.
    assert 10.5 < limit[2] < 12.0 and limit[3] < 0.5


def test_retail_data_keeps_the_gamma_of_rates() -> None:
    x, t_x, T = simulate_bgnbd(2000, r=0.5, alpha=20.0, a=0.8, b=2.5, T=365.0, seed=0)
    fitted = fit_bgnbd(x, t_x, T)
    assert fitted["purchase_rates"] == "gamma"
    assert fitted["likelihood_ratio"] > 100


def test_segment_forecasts_every_account_from_its_history(invoices: pd.DataFrame) -> None:
    result = custseg.segment(invoices, algorithm="kmeans", k=2, seed=0)
    frame = result.segments.set_index("customer_id")
    assert frame[["expected_purchases", "expected_revenue"]].notna().all().all()
    active = frame.index < f"A{90:03d}"
    assert frame.loc[active, "expected_purchases"].between(10.0, 12.5).all()
    assert (frame.loc[~active, "expected_purchases"] < 1.0).all()
    summary = result.metrics["new_customers"]
    assert summary["fitted"]
    assert summary["bgnbd"]["purchase_rates"] == "shared"
    assert any("regular billing" in note for note in summary["notes"])


def test_backtest_is_not_grouped_by_extrapolated_segments(invoices: pd.DataFrame) -> None:
    # Every account started within four months: a year before the end every account was
    # younger, with fewer invoices, than any account today, so the history tree can only
    # extrapolate; the backtest keeps its total and drops the per-segment rows.
    history = purchase_history(invoices, pd.Timestamp("2025-07-01"))
    ids = history.index.astype(str)
    labels = pd.Series((history["T"] - history["t_x"] > 60).astype(np.int64).to_numpy(), ids)
    backtest = backtest_forecast(
        invoices,
        labels,
        ["Billed", "Stopped"],
        pd.Timestamp("2025-07-01"),
        365,
        pd.Timestamp("2023-01-01"),
    )
    assert backtest["done"]
    assert backtest["segment_shift"] > MAX_SEGMENT_SHIFT
    assert backtest["segment_coverage"] < 0.5
    assert backtest["by_segment"] is False and backtest["rows"] == []
    total = backtest["total"]
    assert total["purchases_ratio"] == pytest.approx(1.0, abs=0.2)
    section = backtest_section(backtest)
    assert section is not None
    assert any("not shown per segment" in s for s in section["sentences"])
