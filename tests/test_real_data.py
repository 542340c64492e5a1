"""End to end on the shared real datasets, the way a user runs it: ``custseg segment`` and
``custseg predict`` through the command line, checking the written output contract.

Each dataset is segmented once per module (lazily, so ``-k mall`` runs only the mall job).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markupsafe
import pandas as pd
import pytest

from custseg.cli import main
from custseg.errors import CustsegWarning
from custseg.models.families import FAMILIES, FAMILY_LABELS
from custseg.models.select import STABILITY_REPEATS
from custseg.result import OUTPUT_FILES

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Expected:
    file: str
    kind: str
    n_customers: int
    rows_in: int


DATASETS = {
    "online_retail": Expected("online_retail.csv", "transactions", 4_334, 541_909),
    "mall": Expected("mall_customers.csv", "customers", 200, 200),
    "marketing": Expected("marketing_campaign.tsv", "customers", 2_240, 2_240),
}
NAMES = list(DATASETS)


@dataclass
class Run:
    name: str
    source: Path
    out: Path
    code: int
    caught: list[str]

    @property
    def expected(self) -> Expected:
        return DATASETS[self.name]

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads((self.out / "metrics.json").read_text(encoding="utf-8"))

    def segments(self) -> pd.DataFrame:
        return pd.read_csv(self.out / "segments.csv", dtype={"customer_id": str})

    def profiles(self) -> pd.DataFrame:
        return pd.read_csv(self.out / "profiles.csv")


def _cli(*args: str | Path) -> tuple[int, list[str]]:
    """Run the CLI in-process; returns the exit code and the custseg warnings it gave (raised,
    or printed as ``warning: ...`` lines)."""
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        code = main([str(a) for a in args])
    raised = [str(w.message) for w in caught if issubclass(w.category, CustsegWarning)]
    shown = [
        ln.removeprefix("warning: ")
        for ln in printed.getvalue().splitlines()
        if ln.startswith("warning: ")
    ]
    return code, raised + shown


@pytest.fixture(scope="module")
def segment_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """``segment_run(name)``: the one ``custseg segment`` run of a dataset in this module."""
    cache: dict[str, Run] = {}

    def get(name: str) -> Run:
        if name not in cache:
            source = data_dir / DATASETS[name].file
            out = tmp_path_factory.mktemp(f"real_{name}") / "out"
            # Not --quiet: the printing of real results is exercised too (pytest captures it).
            code, caught = _cli("segment", source, "--out", out)
            cache[name] = Run(name, source, out, code, caught)
        run = cache[name]
        assert run.code == 0, f"custseg segment {run.source} exited {run.code}"
        return run

    return get


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", NAMES)
def test_segment_writes_the_five_files(segment_run: Callable[[str], Run], name: str) -> None:
    run = segment_run(name)
    assert sorted(p.name for p in run.out.iterdir()) == sorted(OUTPUT_FILES)
    for f in OUTPUT_FILES:
        assert (run.out / f).stat().st_size > 0, f


@pytest.mark.parametrize("name", NAMES)
def test_metrics_kind_size_and_k(segment_run: Callable[[str], Run], name: str) -> None:
    run = segment_run(name)
    m = run.metrics
    assert m["kind"] == run.expected.kind
    assert m["n_customers"] == run.expected.n_customers
    assert m["algorithm"] in FAMILIES
    assert isinstance(m["k"], int) and 2 <= m["k"] <= 10
    reason = m["selection_reason"]
    assert isinstance(reason, str) and reason.strip()
    # The recommendation names the family and its number of segments, and says why.
    assert reason.startswith(FAMILY_LABELS[m["algorithm"]]) and f"{m['k']} segments" in reason
    assert "stab" in reason and "silhouette" in reason
    # Every family was compared (k-prototypes only on tables with categories), on one board.
    families = {r["algorithm"] for r in m["leaderboard"]}
    assert families >= {"kmeans", "gmm", "hierarchical", "hdbscan", "dbscan"}
    assert sum(r["recommended"] for r in m["leaderboard"]) == 1
    # Stability is measured where the choice looks: every family's pick at least.
    # Each centroid family's pick is measured; a density pick only where it could win.
    assert all(
        r["stability_repeats"] == STABILITY_REPEATS
        for r in m["leaderboard"]
        if (r["family_choice"] and r["algorithm"] not in ("hdbscan", "dbscan")) or r["recommended"]
    )
    assert all(r["stability"] is None for r in m["leaderboard"] if not r["stability_repeats"])


@pytest.mark.parametrize("name", NAMES)
def test_cleaning_accounts_for_every_row(segment_run: Callable[[str], Run], name: str) -> None:
    cleaning = segment_run(name).metrics["cleaning"]
    assert cleaning["rows_in"] == DATASETS[name].rows_in
    dropped = sum(d["rows"] for d in cleaning["dropped"])
    assert cleaning["rows_in"] == cleaning["rows_kept"] + dropped
    assert cleaning["customers_kept"] == DATASETS[name].n_customers


@pytest.mark.parametrize("name", NAMES)
def test_candidates_cover_k_2_to_10_with_finite_scores(
    segment_run: Callable[[str], Run], name: str
) -> None:
    m = segment_run(name).metrics
    candidates = m["candidates"]
    assert m["algorithm"] not in ("dbscan", "hdbscan")
    assert [c["k_requested"] for c in candidates] == list(range(2, 11))
    for c in candidates:
        for key in ("silhouette", "davies_bouldin", "calinski_harabasz", "inertia"):
            value = c[key]
            # NaN/inf would be written as null by the JSON writer.
            assert isinstance(value, (int, float)) and math.isfinite(value), (c["k"], key, value)
        assert -1 <= c["silhouette"] <= 1
        assert c["davies_bouldin"] >= 0 and c["calinski_harabasz"] > 0
    chosen = next(c for c in candidates if c["recommended"])
    assert m["silhouette"] == pytest.approx(chosen["silhouette"])


@pytest.mark.parametrize("name", NAMES)
def test_segments_csv_one_row_per_customer(segment_run: Callable[[str], Run], name: str) -> None:
    run = segment_run(name)
    k = run.metrics["k"]
    seg = run.segments()
    assert list(seg.columns[:3]) == ["customer_id", "segment", "segment_name"]
    assert len(seg) == run.expected.n_customers
    ids = seg["customer_id"]
    assert ids.notna().all() and ids.is_unique
    assert not ids.str.endswith(".0").any(), ids[ids.str.endswith(".0")].head().tolist()
    # Segment numbers are 0..k-1, every one used.
    assert sorted(seg["segment"].unique()) == list(range(k))
    # One name per segment number, names unique and non-empty.
    names = seg.groupby("segment")["segment_name"].unique()
    assert all(len(v) == 1 for v in names), names
    flat = [v[0] for v in names]
    assert all(isinstance(n, str) and n.strip() for n in flat), flat
    assert len(set(flat)) == k, flat


@pytest.mark.parametrize("name", NAMES)
def test_profiles_add_up(segment_run: Callable[[str], Run], name: str) -> None:
    run = segment_run(name)
    m = run.metrics
    prof = run.profiles()
    seg = run.segments()
    assert list(prof["segment"]) == list(range(m["k"]))
    assert prof["n_customers"].sum() == m["n_customers"] == len(seg)
    assert prof["share"].sum() == pytest.approx(1.0, abs=1e-9)
    # Profiles agree with segments.csv on sizes and names.
    sizes = seg["segment"].value_counts().sort_index()
    assert list(prof["n_customers"]) == list(sizes)
    names = seg.drop_duplicates("segment").set_index("segment")["segment_name"].sort_index()
    assert list(prof["segment_name"]) == list(names)
    # Each segment comes with a recommended action, in profiles.csv and metrics.json.
    assert prof["action"].map(lambda a: isinstance(a, str) and bool(a.strip())).all()
    assert [s["segment_name"] for s in m["segments"]] == list(prof["segment_name"])
    assert all(s["action"].strip() for s in m["segments"])


@pytest.mark.parametrize("name", NAMES)
def test_report_is_self_contained(segment_run: Callable[[str], Run], name: str) -> None:
    run = segment_run(name)
    report = run.out / "report.html"
    assert report.stat().st_size < 10 * 1024 * 1024
    text = report.read_text(encoding="utf-8")
    assert "<script src=" not in text.lower()
    assert not re.search(r"<link[^>]+href=[\"']?https?:", text, re.IGNORECASE)
    for name_ in run.profiles()["segment_name"]:
        variants = {
            html.escape(name_),
            html.escape(name_, quote=False),
            str(markupsafe.escape(name_)),
        }
        assert any(v in text for v in variants), name_


@pytest.mark.parametrize("name", NAMES)
def test_predict_on_the_training_file_reproduces_segments(
    segment_run: Callable[[str], Run], name: str, tmp_path: Path
) -> None:
    run = segment_run(name)
    scored = tmp_path / "p.csv"
    code, caught = _cli("predict", run.out / "model.skops", run.source, "--out", scored)
    assert code == 0
    if name == "online_retail":
        assert any("38 customer(s) have no purchase left" in w for w in caught), caught
    else:
        assert caught == []
    expected = pd.read_csv(run.out / "segments.csv", dtype=str, keep_default_na=False)
    got = pd.read_csv(scored, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, expected)
    assert scored.read_bytes() == (run.out / "segments.csv").read_bytes()


# --------------------------------------------------------------------------- per dataset


def test_online_retail_cleaning_and_dates(segment_run: Callable[[str], Run]) -> None:
    run = segment_run("online_retail")
    m = run.metrics
    assert m["analysis_date"] == "2011-12-10"
    cleaning = m["cleaning"]
    assert cleaning["analysis_date"] == "2011-12-10"
    dropped = {d["reason"]: d for d in cleaning["dropped"]}
    assert dropped["missing_customer_id"]["rows"] == 135_080
    # Per-reason revenue adds up too.
    assert cleaning["revenue_in"] == pytest.approx(
        cleaning["revenue_kept"] + sum(d["revenue"] for d in cleaning["dropped"]), abs=0.01
    )
    # 4,372 distinct ids in the file; those with no sale left get no segment, and a warning.
    assert cleaning["customers_in"] == 4_372
    gone = cleaning["customers_in"] - cleaning["customers_kept"]
    assert gone == 38
    assert any(f"{gone} customer(s)" in w for w in m["warnings"])


def test_online_retail_ids_and_revenue_order(segment_run: Callable[[str], Run]) -> None:
    run = segment_run("online_retail")
    seg = run.segments()
    # CustomerID is written as a float (17850.0) in the file; ids come out as text.
    assert seg["customer_id"].str.fullmatch(r"\d{5}").all()
    assert "12346" in set(seg["customer_id"]) and "17850" in set(seg["customer_id"])
    means = seg.groupby("segment")["revenue"].mean()
    assert list(means) == sorted(means, reverse=True)
    # Segment revenue is the sales kept by cleaning, net of returns.
    kept = run.metrics["cleaning"]["revenue_kept"]
    assert 0.9 * kept < seg["revenue"].sum() <= kept + 0.5
    # 12346 bought 74,215 mugs and returned them all the same day: no revenue, not a Champion.
    first = seg.set_index("customer_id").loc["12346"]
    assert first["revenue"] == 0 and first["return_rate"] == 1
    assert first["segment_name"] != "Champions"
    prof = run.profiles()
    assert prof["revenue_share"].sum() == pytest.approx(1.0, abs=1e-9)
    assert list(prof["revenue_share"]) == sorted(prof["revenue_share"], reverse=True)


def test_mall_ids_keep_leading_zeros(segment_run: Callable[[str], Run]) -> None:
    seg = segment_run("mall").segments()
    assert seg["customer_id"].iloc[0] == "0001"
    assert set(seg["customer_id"]) == {f"{i:04d}" for i in range(1, 201)}


def test_mall_same_seed_gives_identical_bytes(
    segment_run: Callable[[str], Run], run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    first = segment_run("mall")
    again = tmp_path / "again"
    code, _, stderr = run_cli("segment", first.source, "--out", again, "--seed", "0", "-q")
    assert code == 0, stderr
    for f in ("segments.csv", "profiles.csv"):
        assert (again / f).read_bytes() == (first.out / f).read_bytes(), f


def test_marketing_constant_columns_are_dropped(segment_run: Callable[[str], Run]) -> None:
    m = segment_run("marketing").metrics
    dropped = m["preprocessing"]["dropped"]
    for col in ("Z_CostContact", "Z_Revenue"):
        assert col in dropped, dropped
        assert "constant" in dropped[col]
        assert col not in m["preprocessing"]["numeric"]
        assert not any(col in name for name in m["preprocessing"]["model_inputs"])
    # The day-first Dt_Customer column becomes a date feature, not text.
    assert "days_since_Dt_Customer" in m["preprocessing"]["numeric"]
