"""Benchmark the whole ``custseg segment`` job on invoice lines, stage by stage.

Prints, in one run of the script (all jobs interleaved, so that a burst of load from other users
of the machine hits every job alike):

1. **The whole job**: ``custseg.segment(path)`` + ``result.save(tmpdir)``, N times: per stage of
   ``result.metrics["seconds"]`` the median, min and max; plus a row "CLI end to end", the wall
   time of ``custseg segment PATH --out TMP -q`` run as a subprocess (Python start-up and imports
   included: what a user waits for).
2. **(a) The feature stage proper**: :func:`custseg.features.transactions.transaction_features`
   on custseg's cleaned table ``clean_lines``, against a hand-written DuckDB query over the same
   table in the same connection, and against pandas ``groupby`` on the same cleaned rows fetched
   as a DataFrame (the fetch is timed separately and is *not* in the pandas time). The engine
   tables are built once with the functions the pipeline uses (``load_source``,
   ``detect_roles``, ``detect_kind``, ``Schema``, ``build_lines``, ``clean_lines``).
3. **(b) File -> customer features**: custseg's read + clean + features (from the stage seconds
   of 1.) against one plain DuckDB query from ``read_csv`` to the per-customer table, and against
   pandas ``read_csv`` + boolean masks + ``groupby``.
4. Checks that all the feature tables agree (same customers, values close), and prints where
   custseg's read + clean + features time goes, one row per SQL statement (timed by wrapping
   :class:`custseg.engines.duckdb.DuckDBEngine` methods in this script; nothing in ``src``
   changes).

Usage::

    python benchmarks/bench_segment.py [--data PATH] [--repeats 3] [--feature-repeats 21]
                                       [--no-cli] [--markdown]

The default data is ``$CUSTSEG_DATA/online_retail.csv``, else ``../shared/data/online_retail.csv``
beside the repository. Results are recorded in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

import custseg
import custseg.io.readers as readers
import custseg.io.sniff as sniff
import custseg.pipeline
from custseg.clean import NON_PRODUCT_CODES
from custseg.engines.duckdb import DuckDBEngine

REPO = Path(__file__).resolve().parents[1]

#: Stages of ``metrics["seconds"]``, in the order they run ('report' is filled in by save).
STAGES = ("read", "clean", "features", "preprocess", "model", "profile", "report", "total")
#: The stages that make up custseg's file -> customer-features path.
FEATURE_PATH = ("read", "clean", "features")
#: Feature columns compared between custseg and the references.
FEATURES = (
    "days_since_last_purchase",
    "n_orders",
    "revenue",
    "mean_order_value",
    "days_since_first_purchase",
    "n_products",
    "return_rate",
)
#: Allowed absolute difference per feature. custseg rounds money to cents and the return rate
#: to 4 decimals, and sums money as exact decimals; the references sum doubles and do not round.
TOLERANCE = {
    "days_since_last_purchase": 0,
    "n_orders": 0,
    "days_since_first_purchase": 0,
    "n_products": 0,
    "revenue": 0.0051,
    "mean_order_value": 0.0051,
    "return_rate": 0.000051,
}
#: Product targets (from the brief): whole job under 10 s on 2 cores; file -> features within
#: 1.2x of the plain DuckDB query.
TARGET_TOTAL_SECONDS = 10.0
TARGET_FEATURE_RATIO = 1.2

#: SQL statement -> short label, first match wins. Unmatched statements show their first words.
STATEMENT_LABELS: tuple[tuple[str, str], ...] = (
    (r"CREATE TABLE raw AS .*read_csv", "read: CREATE TABLE raw FROM read_csv (store_rejects)"),
    (r"CREATE TABLE raw AS", "read: CREATE TABLE raw (other source)"),
    (r"FROM reject_errors", "read: reject_errors check"),
    (r"^SELECT count\(\*\) FROM raw$", "read: count(*) raw"),
    (r"count\(DISTINCT .*\) FROM raw$", "read: detect_kind count(DISTINCT id)"),
    (r"^DESCRIBE", "DESCRIBE (column types)"),
    (r"TEMP TABLE _dates", "clean: dates DISTINCT -> _dates"),
    (r"count\(\*\) FROM _dates", "clean: dates count(*) _dates"),
    (r"try_strptime\(v, .*FROM _dates", "clean: date format detection (all formats)"),
    (r"FROM _dates LIMIT", "clean: date sample value"),
    (
        r"^SELECT count\(\*\) FILTER \(WHERE regexp_matches\(.*\"([^\"]+)\"",
        "clean: uses_decimal_comma {1}",
    ),
    (r"^SELECT (_row|count\(\*\)).* FROM raw WHERE .*try_strptime", "clean: check_parsed dates"),
    (
        r"^SELECT (_row|count\(\*\)).* FROM raw WHERE .*\"([^\"]+)\" IS NOT NULL",
        "clean: check_parsed {2}",
    ),
    (r"TABLE lines AS", "clean: CREATE lines (typed + duplicate window)"),
    (r"max\(ts\) FROM lines", "clean: max(ts) (analysis date)"),
    (r"min\(ts\) FROM lines", "clean: min(ts)"),
    (r"TABLE clean_lines AS", "clean: CREATE clean_lines (reason CASE)"),
    (r"GROUP BY reason", "clean: accounting GROUP BY reason"),
    (r"count\(DISTINCT customer_id\)", "clean: customers in/kept"),
    (r"WITH sales AS", "features: per-customer query"),
)


# ------------------------------------------------------------------------ statement timing


@dataclass
class StatementLog:
    """Seconds per (stage, statement label) for one custseg run."""

    stage: str = "setup"
    seconds: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))

    def add(self, label: str, seconds: float) -> None:
        self.seconds[(self.stage, label)] += seconds


def label_statement(query: str) -> str:
    """A short, stable name for a SQL statement custseg runs."""
    flat = re.sub(r"\s+", " ", query).strip()
    for pattern, label in STATEMENT_LABELS:
        match = re.search(pattern, flat)
        if match:
            for i in range(1, (match.lastindex or 0) + 1):
                label = label.replace(f"{{{i}}}", match.group(i) or "")
            return label
    return "other SQL: " + flat[:50]


@contextlib.contextmanager
def timed_statements(log: StatementLog) -> Iterator[None]:
    """Wrap the engine's SQL entry points and the readers' Python passes over the file."""
    originals: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, label: Callable[..., str]) -> None:
        original = getattr(owner, name)
        originals.append((owner, name, original))

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                log.add(label(*args, **kwargs), time.perf_counter() - start)

        setattr(owner, name, wrapper)

    patch(DuckDBEngine, "sql", lambda self, query, params=None: label_statement(query))
    patch(DuckDBEngine, "scalar", lambda self, query, params=None: label_statement(query))
    patch(DuckDBEngine, "columns", lambda self, table: "DESCRIBE (column types)")
    patch(readers, "file_sha256", lambda *a, **k: "read: sha256 of the file (Python)")
    patch(sniff, "_decodes", lambda *a, **k: "read: encoding check, decode whole file (Python)")
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


# ------------------------------------------------------------------------ the three jobs


def run_custseg(path: Path) -> tuple[dict[str, float], pd.DataFrame, StatementLog]:
    """The whole job: segment + save. Returns stage seconds, the feature table, statement log."""
    log = StatementLog()
    stage_names = {v: k for k, v in custseg.pipeline.STAGES.items()}

    def progress(label: str) -> None:
        log.stage = stage_names.get(label, label)

    with tempfile.TemporaryDirectory(prefix="custseg-bench-") as tmp, timed_statements(log):
        result = custseg.segment(path, progress=progress)
        log.stage = "report"
        result.save(Path(tmp) / "out")
    seconds = {k: float(v) for k, v in result.metrics["seconds"].items()}
    feats = result.segments[["customer_id", *FEATURES]].copy()
    return seconds, feats, log


def _codes_sql() -> str:
    return "[" + ", ".join("'" + c.replace("'", "''") + "'" for c in NON_PRODUCT_CODES) + "]"


def duckdb_reference_sql(path: Path) -> str:
    """One plain DuckDB query: CSV file -> per-customer features (types auto-detected)."""
    src = "'" + str(path).replace("'", "''") + "'"
    return f"""
    WITH lines AS (           -- lines with a customer id, exact duplicates dropped
        SELECT DISTINCT * FROM read_csv({src}, header = true) WHERE CustomerID IS NOT NULL
    ), flagged AS (
        SELECT *,
            starts_with(InvoiceNo, 'C') OR Quantity < 0 AS is_cancellation,
            list_contains({_codes_sql()}, upper(StockCode)) AS is_non_product
        FROM lines
    ), sales AS (
        SELECT CustomerID,
            max(InvoiceDate)::DATE AS last_day,
            min(InvoiceDate)::DATE AS first_day,
            count(DISTINCT InvoiceNo) AS n_orders,
            sum(Quantity * UnitPrice) AS revenue,
            sum(Quantity) AS items,
            count(DISTINCT StockCode) AS n_products
        FROM flagged
        WHERE NOT is_cancellation AND NOT is_non_product AND UnitPrice > 0
        GROUP BY CustomerID
    ), returns AS (
        SELECT CustomerID, sum(abs(Quantity)) AS returned
        FROM flagged WHERE is_cancellation AND NOT is_non_product
        GROUP BY CustomerID
    ), analysis AS (
        SELECT max(InvoiceDate)::DATE + 1 AS day FROM lines
    )
    SELECT CAST(CAST(s.CustomerID AS BIGINT) AS VARCHAR) AS customer_id,
        date_diff('day', s.last_day, a.day) AS days_since_last_purchase,
        s.n_orders,
        s.revenue,
        s.revenue / s.n_orders AS mean_order_value,
        date_diff('day', s.first_day, a.day) AS days_since_first_purchase,
        s.n_products,
        least(1.0, coalesce(r.returned, 0) / s.items) AS return_rate
    FROM sales s CROSS JOIN analysis a LEFT JOIN returns r USING (CustomerID)
    ORDER BY customer_id
    """


def run_duckdb_reference(path: Path) -> tuple[float, pd.DataFrame]:
    """Fresh connection (all cores), one query, result as a DataFrame."""
    start = time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        frame = con.execute(duckdb_reference_sql(path)).df()
    finally:
        con.close()
    return time.perf_counter() - start, frame


def run_pandas_reference(path: Path) -> tuple[float, pd.DataFrame]:
    """The same features with pandas: read_csv, boolean masks, groupby."""
    start = time.perf_counter()
    df = pd.read_csv(
        path,
        dtype={"InvoiceNo": str, "StockCode": str, "Description": str, "Country": str},
        parse_dates=["InvoiceDate"],
    )
    df = df[df["CustomerID"].notna()].drop_duplicates()
    cancellation = df["InvoiceNo"].str.startswith("C") | (df["Quantity"] < 0)
    non_product = df["StockCode"].str.upper().isin(list(NON_PRODUCT_CODES))
    analysis_day = df["InvoiceDate"].max().normalize() + pd.Timedelta(days=1)
    sales = df[~cancellation & ~non_product & (df["UnitPrice"] > 0)].assign(
        amount=lambda d: d["Quantity"] * d["UnitPrice"]
    )
    g = sales.groupby("CustomerID").agg(
        last=("InvoiceDate", "max"),
        first=("InvoiceDate", "min"),
        n_orders=("InvoiceNo", "nunique"),
        revenue=("amount", "sum"),
        items=("Quantity", "sum"),
        n_products=("StockCode", "nunique"),
    )
    returned = (
        df[cancellation & ~non_product]
        .groupby("CustomerID")["Quantity"]
        .apply(lambda q: q.abs().sum())
    )
    out = pd.DataFrame(
        {
            "customer_id": g.index.astype("int64").astype(str),
            "days_since_last_purchase": (analysis_day - g["last"].dt.normalize()).dt.days,
            "n_orders": g["n_orders"],
            "revenue": g["revenue"],
            "mean_order_value": g["revenue"] / g["n_orders"],
            "days_since_first_purchase": (analysis_day - g["first"].dt.normalize()).dt.days,
            "n_products": g["n_products"],
            "return_rate": np.minimum(1.0, returned.reindex(g.index).fillna(0) / g["items"]),
        }
    )
    out = out.sort_values("customer_id").reset_index(drop=True)
    return time.perf_counter() - start, out


# ------------------------------------------------------------------------ comparing tables


def compare(reference: pd.DataFrame, other: pd.DataFrame, name: str) -> list[str]:
    """Differences between two feature tables, as sentences; empty when they agree."""
    problems: list[str] = []
    a = reference.set_index(reference["customer_id"].astype(str))
    b = other.set_index(other["customer_id"].astype(str))
    only_a, only_b = sorted(set(a.index) - set(b.index)), sorted(set(b.index) - set(a.index))
    if only_a or only_b:
        problems.append(
            f"{name}: customers only in custseg: {len(only_a)} {only_a[:5]}; "
            f"only in {name}: {len(only_b)} {only_b[:5]}"
        )
    common = a.index.intersection(b.index)
    for col in FEATURES:
        diff = (a.loc[common, col].astype(float) - b.loc[common, col].astype(float)).abs()
        bad = diff[diff > TOLERANCE[col]]
        if len(bad):
            cid = bad.idxmax()
            problems.append(
                f"{name}: {col} differs for {len(bad)} customers (max |diff| {bad.max():.6g}, "
                f"customer {cid}: custseg {a.loc[cid, col]!r} vs {b.loc[cid, col]!r})"
            )
    return problems


# ------------------------------------------------------------------------ printing


def machine_info() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " + uncommitted changes in src/" if dirty else ""

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cores": f"{usable} usable ({os.cpu_count()} logical), {cpu}",
        "python": f"{platform.python_version()} ({platform.system()} {platform.machine()})",
        "libraries": (
            f"custseg {custseg.__version__}, duckdb {duckdb.__version__}, "
            f"scikit-learn {version('scikit-learn')}, numpy {np.__version__}, "
            f"pandas {pd.__version__}"
        ),
        "source": commit,
    }


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


class Table:
    """A small table printed with rich when it is installed, else as plain or Markdown text."""

    def __init__(self, title: str, columns: list[str]) -> None:
        self.title, self.columns = title, columns
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def print(self, markdown: bool) -> None:
        if markdown:
            print(f"\n**{self.title}**\n")
            print("| " + " | ".join(self.columns) + " |")
            print(
                "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"
            )
            for row in self.rows:
                print("| " + " | ".join(row) + " |")
            return
        try:
            from rich.console import Console
            from rich.table import Table as RichTable
        except ImportError:
            widths = [
                max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)
            ]
            print(f"\n{self.title}")
            for row in [self.columns, *self.rows]:
                print(
                    "  ".join(
                        c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))
                    )
                )
            return
        table = RichTable(title=self.title, title_justify="left", min_width=len(self.title))
        for i, col in enumerate(self.columns):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        Console(width=140).print(table)


def default_data() -> Path:
    env = os.environ.get("CUSTSEG_DATA")
    base = Path(env) if env else REPO.parent / "shared" / "data"
    return base / "online_retail.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="invoice-lines CSV (default: %(default)s -> online_retail.csv)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each job (default 3)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(argv)
    path = (args.data or default_data()).resolve()
    if not path.exists():
        print(
            f"error: data file '{path}' not found. Pass --data PATH or set CUSTSEG_DATA.",
            file=sys.stderr,
        )
        return 2
    if args.repeats < 1:
        print("error: --repeats must be at least 1.", file=sys.stderr)
        return 2

    info = machine_info()
    load_before = os.getloadavg()
    print(
        f"custseg benchmark: {path} ({path.stat().st_size / 1e6:.1f} MB), {args.repeats} run(s) of each job"
    )
    print(
        f"started {dt.datetime.now():%Y-%m-%d %H:%M}, load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
    )

    stage_runs: dict[str, list[float]] = defaultdict(list)
    statement_logs: list[StatementLog] = []
    ref_runs: dict[str, list[float]] = defaultdict(list)
    feats = duck = pand = None
    # Interleave the jobs so that a burst of load from other users hits all of them alike.
    for i in range(args.repeats):
        seconds, feats, log = run_custseg(path)
        for stage in STAGES:
            stage_runs[stage].append(seconds.get(stage, 0.0))
        stage_runs["file -> features"].append(sum(seconds.get(s, 0.0) for s in FEATURE_PATH))
        statement_logs.append(log)
        t_duck, duck = run_duckdb_reference(path)
        t_pandas, pand = run_pandas_reference(path)
        ref_runs["duckdb"].append(t_duck)
        ref_runs["pandas"].append(t_pandas)
        print(
            f"run {i + 1}: custseg total {seconds['total']:.2f} s (file -> features "
            f"{stage_runs['file -> features'][-1]:.2f} s, model {seconds['model']:.2f} s), "
            f"plain DuckDB {t_duck:.2f} s, pandas {t_pandas:.2f} s",
            flush=True,
        )
    assert feats is not None and duck is not None and pand is not None
    load_after = os.getloadavg()

    n = args.repeats
    stages = Table(
        f"custseg segment + save, seconds per stage (median of {n}; min, max)",
        ["stage", "median", "min", "max"],
    )
    for stage in (*STAGES[:-1], "file -> features", "total"):
        med, lo, hi = summary(stage_runs[stage])
        stages.add(stage, f"{med:.3f}", f"{lo:.3f}", f"{hi:.3f}")
    stages.print(args.markdown)

    mine = statistics.median(stage_runs["file -> features"])
    refs = Table(
        f"file -> customer features (median of {n}; min, max)",
        ["job", "median s", "min s", "max s", "custseg / this"],
    )
    refs.add(
        "custseg read + clean + features",
        f"{mine:.3f}",
        *(f"{v:.3f}" for v in summary(stage_runs["file -> features"])[1:]),
        "1.00",
    )
    for name, label in (("duckdb", "plain DuckDB query"), ("pandas", "pandas read_csv + groupby")):
        med, lo, hi = summary(ref_runs[name])
        refs.add(label, f"{med:.3f}", f"{lo:.3f}", f"{hi:.3f}", f"{mine / med:.2f}x")
    refs.print(args.markdown)

    rest = Table(
        f"where custseg's read + clean + features time goes (median of {n} per statement)",
        ["stage: statement", "median s", "share of path"],
    )
    rows = []
    for stage, label in sorted({key for log in statement_logs for key in log.seconds}):
        if stage in FEATURE_PATH:
            med = statistics.median(log.seconds.get((stage, label), 0.0) for log in statement_logs)
            rows.append((med, f"{stage}: {label.split(': ', 1)[-1]}"))
    for med, label in sorted(rows, reverse=True):
        if med >= 0.001:
            rest.add(label, f"{med:.3f}", f"{med / mine:.0%}")
    # Per run: the path's stage seconds minus what its statements took; then the median.
    residual = statistics.median(
        total_path - sum(v for (stage, _), v in log.seconds.items() if stage in FEATURE_PATH)
        for total_path, log in zip(stage_runs["file -> features"], statement_logs, strict=True)
    )
    rest.add(
        "(outside the timed statements: Python, DataFrame conversion)",
        f"{residual:.3f}",
        f"{residual / mine:.0%}",
    )
    rest.print(args.markdown)

    problems = compare(feats, duck, "plain DuckDB") + compare(feats, pand, "pandas")
    print()
    if problems:
        print(f"feature tables DISAGREE ({len(feats)} custseg customers):")
        for p in problems:
            print("  - " + p)
    else:
        print(
            f"feature tables agree: the same {len(feats):,} customers in custseg, plain DuckDB "
            f"and pandas; values within rounding ({', '.join(f'{k} ±{v:g}' for k, v in TOLERANCE.items() if v)}; "
            "counts and days exact)"
        )
    total = statistics.median(stage_runs["total"])
    ratio = mine / statistics.median(ref_runs["duckdb"])
    print(
        f"median total {total:.2f} s (target < {TARGET_TOTAL_SECONDS:.0f} s: "
        f"{'met' if total < TARGET_TOTAL_SECONDS else 'NOT met'}); file -> features "
        f"{ratio:.2f}x the plain DuckDB query (target <= {TARGET_FEATURE_RATIO}x: "
        f"{'met' if ratio <= TARGET_FEATURE_RATIO else 'NOT met'}), "
        f"{mine / statistics.median(ref_runs['pandas']):.2f}x pandas"
    )
    print(f"load average at the end {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    for key, value in info.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
