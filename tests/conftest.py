"""Shared fixtures: the shared datasets, a CLI runner, tiny hand-checkable tables."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared datasets: $CUSTSEG_DATA, else ../shared/data beside the repository."""
    env = os.environ.get("CUSTSEG_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "online_retail.csv").exists():
        pytest.skip(f"shared datasets not found in {path} (set CUSTSEG_DATA)")
    return path


@pytest.fixture()
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the custseg CLI in-process; returns (exit code, stdout, stderr)."""
    from custseg.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


TINY_LINES = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1001,85123A,Mug,2,2021-01-01 10:00:00,5.00,1,United Kingdom
1001,71053,Plate,1,2021-01-01 10:00:00,10.00,1,United Kingdom
1002,85123A,Mug,4,2021-01-20 09:30:00,5.00,1,United Kingdom
1003,84406B,Bowl,10,2021-01-05 12:00:00,1.50,2,France
C1004,85123A,Mug,-1,2021-01-25 12:00:00,5.00,1,United Kingdom
1005,POST,POSTAGE,1,2021-01-25 12:00:00,18.00,2,France
1006,71053,Plate,1,2021-01-30 16:00:00,10.00,3,Germany
1006,71053,Plate,1,2021-01-30 16:00:00,10.00,3,Germany
1007,85123A,Mug,1,2021-01-30 17:00:00,5.00,,United Kingdom
1008,22423,Jug,3,2021-01-31 08:00:00,0.00,3,Germany
"""
"""Ten invoice lines whose cleaning and features are worked out by hand (TINY_FEATURES)."""

TINY_FEATURES = {
    "customer_id": ["1", "2", "3"],
    # 2021-02-01 minus the last purchase: Jan 20, Jan 5, Jan 30.
    "days_since_last_purchase": [12, 27, 2],
    "n_orders": [2, 1, 1],
    # Customer 1 bought 40 and returned one mug worth 5.
    "revenue": [35.0, 15.0, 10.0],
    "mean_order_value": [17.5, 15.0, 10.0],
    # 2021-02-01 minus the first purchase: Jan 1, Jan 5, Jan 30.
    "days_since_first_purchase": [31, 27, 2],
    "n_products": [2, 1, 1],
    # Customer 1 returned 1 mug of the 7 items bought.
    "return_rate": [round(1 / 7, 4), 0.0, 0.0],
}
"""The features of TINY_LINES, worked out by hand (the comments say how)."""


@pytest.fixture()
def tiny_lines(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_LINES, encoding="utf-8")
    return path
