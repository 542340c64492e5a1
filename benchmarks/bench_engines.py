"""The engine layer of issue 15, measured: the portable feature stage on DuckDB against the old
hand-written SQL, and the whole prepare stage on DuckDB, PostgreSQL, SQLite and Spark.

Part a, "Feature stage on DuckDB" (``--sizes``, default 1M and 5M generated lines, see
:mod:`_bigdata`): :func:`custseg.prepare.prepare` builds ``clean_lines`` in a
:class:`~custseg.engines.duckdb.DuckDBEngine`; on that one table it times

- ``portable``: today's :func:`custseg.features.transactions.transaction_features` as the
  product runs it (the Ibis definition compiled once per query shape and cached, run through
  the engine, day differences and the rounding of the two ratios in pandas). One cold call
  (compile cache emptied first; the compile is also timed on its own), then warm calls;
- ``hand-written (before)``: the DuckDB SQL custseg had before the portable layer (commit
  a9ce3e0), frozen below as :func:`handwritten_features`, run with ``engine.sql(query,
  params).df()`` and the same dtype fixes.

Rounds are interleaved (the order swapped every round); the table gives medians of
``--repeats`` rounds and the ratio to the hand-written SQL (issue 15's target: within 1.1x),
and a second table the largest relative difference per feature (also for the shapes without
an invoice or a product column, checked but not timed).

Part b, "Engines on the same file" (``--engine-size``, default 1M): the whole prepare stage
(read + clean + features, :func:`custseg.prepare.prepare` with ``summarize=True`` as
:func:`custseg.build_features` runs it, seconds per stage from its ``Timer``) on

- DuckDB reading the Parquet file;
- PostgreSQL, when ``--pg-url`` or ``CUSTSEG_TEST_PG_URL`` names a server (password from
  ``--pg-password``, ``CUSTSEG_TEST_PG_PASSWORD`` or the URL): the file is loaded into a fresh
  schema with ``COPY`` (timed as "load", not custseg's time) and dropped at the end;
- SQLite: the file loaded into a temporary ``.db`` file (likewise timed as "load");
- Spark ``local[2]``, when :mod:`custseg.engines.spark`, PySpark and Java are there: the
  session is started once (its start reported on its own) and reused by every run.

Medians of ``--engine-runs`` (default 3) interleaved runs, and the agreement of each engine with
DuckDB: the same customers, the same rows per cleaning reason, the largest relative difference
per feature. A backend that is not available is skipped with a line that says why. Nothing
goes to the network (PostgreSQL is wherever the URL points; locally, 127.0.0.1).

``--before REV`` adds, for PostgreSQL and SQLite, the same runs with custseg as it was at the
git revision ``REV`` (its ``src`` extracted with ``git archive`` into a temporary folder and run
in a subprocess, on the same loaded tables, interleaved with the others): a before/after under
the same load. Their seconds are measured inside the subprocess (imports left out).

Usage::

    python benchmarks/bench_engines.py [--sizes 1M,5M] [--engine-size 1M] [--repeats 7]
        [--engine-runs 3] [--parts a,b] [--pg-url URL] [--pg-password PW]
        [--spark auto|yes|no] [--before REV]
        [--cache /tmp/custseg-scale] [--quick] [--markdown]

``--quick`` is one 100k-line file for both parts, 3 rounds, one run per engine and no Spark
(its session start alone takes seconds; ``--spark yes`` adds it). Results are in ``docs/engines.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigdata import parse_size, write_retail  # noqa: E402
from _tables import Table  # noqa: E402

from custseg.clean import NON_PRODUCT_CODES  # noqa: E402
from custseg.engines import portable  # noqa: E402
from custseg.engines.duckdb import DuckDBEngine, sql_literal  # noqa: E402
from custseg.features.transactions import TRANSACTION_FEATURES, transaction_features  # noqa: E402
from custseg.prepare import Prepared, Timer, prepare  # noqa: E402

FEATURES = list(TRANSACTION_FEATURES)
STAGES = ("read", "clean", "features")


# --------------------------------------------------------------------- the reference ("before")


def handwritten_features(
    engine: DuckDBEngine,
    analysis_date: dt.date,
    *,
    has_invoice: bool = True,
    has_product: bool = True,
    non_product_codes: list[str] | None = None,
    table: str = "clean_lines",
) -> pd.DataFrame:
    """The hand-written DuckDB feature SQL of commit a9ce3e0
    (``custseg.features.transactions.transaction_features`` before the portable layer),
    frozen here verbatim as the reference."""
    codes = list(NON_PRODUCT_CODES) if non_product_codes is None else list(non_product_codes)
    codes_sql = "[" + ", ".join(sql_literal(c.upper()) for c in codes) + "]::VARCHAR[]"
    order_key = "invoice" if has_invoice else "CAST(ts AS DATE)"
    product_filter = (
        f"AND (product IS NULL OR NOT list_contains({codes_sql}, upper(product)))"
        if has_product
        else ""
    )
    # Orders first (one row per customer and invoice), then customers: counting distinct
    # invoices inside the per-customer aggregate was slower. Distinct products likewise.
    products = (
        f""", products AS (
        SELECT customer_id, count(product) AS n_products
        FROM (SELECT DISTINCT customer_id, product FROM {table} WHERE reason IS NULL)
        GROUP BY customer_id
    )"""
        if has_product
        else ""
    )
    query = f"""
    WITH orders AS (
        SELECT customer_id, {order_key} AS order_key, max(ts) AS last_ts, min(ts) AS first_ts,
            sum(amount) AS revenue, sum(quantity) AS items
        FROM {table} WHERE reason IS NULL GROUP BY customer_id, order_key
    ), sales AS (
        SELECT customer_id,
            max(last_ts)::DATE AS last_day,
            min(first_ts)::DATE AS first_day,
            count(order_key) AS n_orders,
            sum(revenue) AS revenue,
            sum(items) AS items
        FROM orders GROUP BY customer_id
    ){products}, returns AS (
        SELECT customer_id, sum(abs(quantity)) AS returned, sum(abs(amount)) AS returned_value
        FROM {table} WHERE reason = 'cancellation' {product_filter}
        GROUP BY customer_id
    )
    SELECT s.customer_id,
        date_diff('day', s.last_day, ?::DATE) AS days_since_last_purchase,
        s.n_orders,
        CAST(round(greatest(0, s.revenue - coalesce(r.returned_value, 0)), 2) AS DOUBLE) AS revenue,
        CAST(round(greatest(0, s.revenue - coalesce(r.returned_value, 0)) / s.n_orders, 2) AS DOUBLE)
            AS mean_order_value,
        date_diff('day', s.first_day, ?::DATE) AS days_since_first_purchase
        {", p.n_products" if has_product else ""},
        round(least(1.0, coalesce(r.returned, 0) / s.items), 4) AS return_rate
    FROM sales s {"LEFT JOIN products p USING (customer_id)" if has_product else ""}
    LEFT JOIN returns r USING (customer_id)
    ORDER BY s.customer_id
    """
    frame = engine.sql(query, [analysis_date, analysis_date]).df()
    for col in ("days_since_last_purchase", "n_orders", "days_since_first_purchase", "n_products"):
        if col in frame:
            frame[col] = frame[col].astype("int64")
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------- helpers


def max_relative_difference(a: pd.Series, b: pd.Series) -> float:
    """Largest ``|a - b| / max(|b|, 1e-12)``; ``inf`` when missing values differ."""
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return float("inf")
    ok = ~np.isnan(y)
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(x[ok] - y[ok]) / np.maximum(np.abs(y[ok]), 1e-12)))


def compare(got: pd.DataFrame, ref: pd.DataFrame) -> tuple[bool, dict[str, float], int]:
    """Whether both have the same customers, and per feature the largest relative difference
    of ``got`` against ``ref`` on them (``nan``: feature missing in one), and how many values
    differ at all."""
    a = got.assign(customer_id=got["customer_id"].astype(str)).set_index("customer_id")
    b = ref.assign(customer_id=ref["customer_id"].astype(str)).set_index("customer_id")
    same = a.index.sort_values().equals(b.index.sort_values())
    common = b.index.intersection(a.index)
    a, b = a.loc[common], b.loc[common]
    out: dict[str, float] = {}
    differing = 0
    for col in FEATURES:
        if col not in a or col not in b:
            out[col] = float("nan")
            continue
        out[col] = max_relative_difference(a[col], b[col])
        differing += int((a[col].to_numpy(dtype=float) != b[col].to_numpy(dtype=float)).sum())
    return same, out, differing


def differences(got: pd.DataFrame, ref: pd.DataFrame) -> list[str]:
    """Per feature that differs at all: how many customers, and by how much at most."""
    a = got.assign(customer_id=got["customer_id"].astype(str)).set_index("customer_id")
    b = ref.assign(customer_id=ref["customer_id"].astype(str)).set_index("customer_id")
    common = b.index.intersection(a.index)
    out = []
    for col in FEATURES:
        if col in a and col in b:
            x = a.loc[common, col].to_numpy(dtype=float)
            y = b.loc[common, col].to_numpy(dtype=float)
            off = x != y
            if off.any():
                out.append(
                    f"{col}: {int(off.sum()):,} of {len(common):,} customers differ, by at most "
                    f"{np.max(np.abs(x[off] - y[off])):.6g} (e.g. {float(x[off][0])} vs {float(y[off][0])})"
                )
    return out


def fmt_diff(value: float) -> str:
    if value != value:
        return "-"
    return "0" if value == 0 else f"{value:.1e}"


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def data_file(cache: Path, label: str, seed: int) -> Path:
    path = cache / f"retail_{label}_seed{seed}.parquet"
    if not path.exists():
        say(f"generating {label} lines -> {path}")
        write_retail(path, parse_size(label), seed=seed)
    return path


def shape_of(prep: Prepared) -> dict[str, Any]:
    roles = prep.schema.roles
    return {
        "has_invoice": "invoice" in roles,
        "has_product": "product" in roles,
        "non_product_codes": list(prep.cleaning["non_product_codes"]),
    }


# --------------------------------------------------------------------- part a


def part_a(labels: list[str], cache: Path, seed: int, repeats: int, markdown: bool) -> None:
    timing = Table(
        f"Feature stage on DuckDB: seconds, median of {repeats} interleaved warm rounds",
        [
            "lines",
            "customers",
            "hand-written (before)",
            "portable (warm)",
            "ratio",
            "portable cold call (median of 3)",
            "of which compile",
            "cold ratio",
        ],
    )
    agreement = Table(
        "Feature stage on DuckDB: largest relative difference, portable vs hand-written",
        ["lines", "shape", "same customers", *FEATURES, "values differing"],
    )
    for label in labels:
        path = data_file(cache, label, seed)
        say(f"part a, {label}: preparing clean_lines ({load_line()})")
        with DuckDBEngine() as engine:
            prep = prepare(engine, str(path), Timer(None), kind="transactions")
            day = dt.date.fromisoformat(str(prep.analysis_date))
            shape = shape_of(prep)

            def new(
                e: DuckDBEngine = engine, d: dt.date = day, s: dict[str, Any] = shape
            ) -> pd.DataFrame:
                return transaction_features(e, d, **s)

            def old(
                e: DuckDBEngine = engine, d: dt.date = day, s: dict[str, Any] = shape
            ) -> pd.DataFrame:
                return handwritten_features(e, d, **s)

            def compile_only(s: dict[str, Any] = shape) -> str:
                return portable.compiled("duckdb", "customer_features", **s)

            old()  # the table and the file pages warm for both
            # Cold calls, as the first job of a process runs it (Ibis imported already, as the
            # command line does while DuckDB reads), and the compile on its own: medians of 3,
            # the compile cache emptied before each.
            colds, compiles = [], []
            for _ in range(3):
                portable._compiled.cache_clear()
                colds.append(timed(new)[0])
                portable._compiled.cache_clear()
                compiles.append(timed(compile_only)[0])
            cold, compile_s = statistics.median(colds), statistics.median(compiles)
            runs: dict[str, list[float]] = {"new": [], "old": []}
            results: dict[str, pd.DataFrame] = {}
            for r in range(repeats):
                for name in ("new", "old") if r % 2 == 0 else ("old", "new"):
                    seconds, results[name] = timed(new if name == "new" else old)
                    runs[name].append(seconds)
            old_s, new_s = statistics.median(runs["old"]), statistics.median(runs["new"])
            timing.add(
                f"{label} ({prep.cleaning['rows_in']:,})",
                f"{len(results['new']):,}",
                f"{old_s:.3f}",
                f"{new_s:.3f}",
                f"{new_s / old_s:.2f}",
                f"{cold:.3f}",
                f"{compile_s:.3f}",
                f"{cold / old_s:.2f}",
            )
            say(
                f"  hand-written {[round(x, 3) for x in runs['old']]}, "
                f"portable {[round(x, 3) for x in runs['new']]} ({load_line()})"
            )
            # Agreement, the measured shape and the three others (not timed).
            for has_invoice in (True, False):
                for has_product in (True, False):
                    s = {**shape, "has_invoice": has_invoice, "has_product": has_product}
                    if s == shape:
                        got, ref = results["new"], results["old"]
                    else:
                        got = transaction_features(engine, day, **s)
                        ref = handwritten_features(engine, day, **s)
                    same, diffs, differing = compare(got, ref)
                    agreement.add(
                        label,
                        ("invoice" if has_invoice else "no invoice")
                        + (", product" if has_product else ", no product"),
                        "yes" if same else "NO",
                        *(fmt_diff(diffs[c]) for c in FEATURES),
                        f"{differing:,}",
                    )
    timing.print(markdown)
    agreement.print(markdown)


# --------------------------------------------------------------------- part b: backends


class Backend:
    """One engine of part b: ``load`` (once, not custseg's time), ``run`` (timed), ``close``."""

    name = ""
    load_seconds: float | None = None
    start_seconds: float | None = None

    def run(self, path: Path) -> Prepared:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DuckDBFile(Backend):
    name = "DuckDB (Parquet file)"

    def source(self, path: Path) -> tuple[str, dict[str, Any]]:
        """What :func:`custseg.prepare.prepare` reads: the source and its options."""
        return str(path), {}

    def run(self, path: Path) -> Prepared:
        source, options = self.source(path)
        with DuckDBEngine() as engine:
            return self.prepare(engine, source, **options)

    def prepare(self, engine: DuckDBEngine, source: str, **kw: Any) -> Prepared:
        self.timer = Timer(None)
        return prepare(engine, source, self.timer, summarize=True, **kw)


def arrow_lines(path: Path) -> pa.Table:
    """The file's table with dictionary columns as plain text (for COPY and SQLite)."""
    table = pq.read_table(path)
    return pa.table(
        {
            name: col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )


SQL_TYPES = {
    pa.string(): ("text", "TEXT"),
    pa.int64(): ("bigint", "INTEGER"),
    pa.float64(): ("double precision", "REAL"),
    pa.timestamp("ms"): ("timestamp", "TIMESTAMP"),
}


class PostgreSQL(DuckDBFile):
    name = "PostgreSQL"

    def __init__(self, url: str, password: str | None, path: Path) -> None:
        import psycopg
        from psycopg import sql

        self.url, self.password = url, password
        self.schema = f"custseg_bench_{uuid.uuid4().hex[:8]}"
        self.con = psycopg.connect(url, password=password, autocommit=True, connect_timeout=5)
        self.server = self.con.execute("SHOW server_version").fetchone()[0]
        start = time.perf_counter()
        table = arrow_lines(path)
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(SQL_TYPES[t][0]))
            for n, t in zip(table.column_names, table.schema.types, strict=True)
        )
        target = sql.Identifier(self.schema, "orders")
        self.con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        self.con.execute(sql.SQL("CREATE TABLE {} ({})").format(target, columns))
        import pyarrow.csv as pcsv

        with self.con.cursor().copy(
            sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(target)
        ) as copy:
            for batch in table.to_batches(max_chunksize=100_000):
                sink = pa.BufferOutputStream()
                pcsv.write_csv(batch, sink, pcsv.WriteOptions(include_header=False))
                copy.write(sink.getvalue().to_pybytes())
        self.con.execute(sql.SQL("ANALYZE {}").format(target))
        self.load_seconds = time.perf_counter() - start

    def source(self, path: Path) -> tuple[str, dict[str, Any]]:
        return self.url, {"table": f"{self.schema}.orders", "password": self.password}

    def run(self, path: Path) -> Prepared:
        source, options = self.source(path)
        with DuckDBEngine() as engine:
            return self.prepare(engine, source, **options)

    def close(self) -> None:
        from psycopg import sql

        self.con.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.schema)))
        self.con.close()


class SQLite(DuckDBFile):
    name = "SQLite (.db file)"

    def __init__(self, path: Path) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="custseg-bench-")
        self.db = str(Path(self.dir.name) / "shop.db")
        start = time.perf_counter()
        table = arrow_lines(path)
        names = table.column_names
        declared = ", ".join(
            f'"{n}" {SQL_TYPES[t][1]}' for n, t in zip(names, table.schema.types, strict=True)
        )
        with sqlite3.connect(self.db) as con:
            con.execute(f"CREATE TABLE orders ({declared})")
            marks = ", ".join("?" * len(names))
            for batch in table.to_batches(max_chunksize=100_000):
                cols = []
                for col in batch.columns:
                    if pa.types.is_timestamp(col.type):
                        # As Python's sqlite3 stores datetimes: ISO text.
                        col = col.cast(pa.string())
                    cols.append(col.to_pylist())
                con.executemany(f"INSERT INTO orders VALUES ({marks})", zip(*cols, strict=True))
        self.load_seconds = time.perf_counter() - start

    def source(self, path: Path) -> tuple[str, dict[str, Any]]:
        return self.db, {"table": "orders"}

    def run(self, path: Path) -> Prepared:
        source, options = self.source(path)
        with DuckDBEngine() as engine:
            return self.prepare(engine, source, **options)

    def close(self) -> None:
        self.dir.cleanup()


class Spark(DuckDBFile):
    name = "Spark local[2]"
    SETTINGS: dict[str, Any] = {"master": "local[2]", "conf": {}}

    def __init__(self) -> None:
        from custseg.engines.spark import SparkEngine

        # Started once and kept: every run reuses the running session (as in a notebook).
        self.start_seconds, self.session = timed(lambda: SparkEngine(**self.SETTINGS))
        import pyspark

        self.version = pyspark.__version__

    def run(self, path: Path) -> Prepared:
        with DuckDBEngine() as engine:
            return self.prepare(engine, str(path), engine_name="spark", spark=self.SETTINGS)

    def close(self) -> None:
        self.session.close()


#: What a "before" run executes in its subprocess (custseg of the old revision first on the
#: path): the prepare stage timed inside, its results pickled for the agreement table.
BEFORE_SCRIPT = """
import json, pickle, sys, time, warnings
warnings.simplefilter("ignore")
from custseg.engines.duckdb import DuckDBEngine
from custseg.prepare import Timer, prepare
args = json.loads(sys.argv[1])
timer = Timer(None)
start = time.perf_counter()
with DuckDBEngine() as engine:
    prepared = prepare(engine, args["source"], timer, summarize=True, **args["options"])
wall = time.perf_counter() - start
with open(args["out"], "wb") as handle:
    pickle.dump({"features": prepared.features, "cleaning": prepared.cleaning,
                 "seconds": timer.seconds, "wall": wall}, handle)
"""


class Before(Backend):
    """``backend``'s runs with custseg of an older revision (``src``), in a subprocess."""

    def __init__(self, backend: DuckDBFile, revision: str, src: Path) -> None:
        self.backend, self.src = backend, src
        self.name = f"{backend.name}, before ({revision})"
        self.load_seconds = backend.load_seconds

    def run(self, path: Path) -> Prepared:
        source, options = self.backend.source(path)
        env = {**os.environ, "PYTHONPATH": str(self.src)}
        password = options.pop("password", None)
        if password:
            env["PGPASSWORD"] = password  # read by libpq, never on the command line
        with tempfile.TemporaryDirectory(prefix="custseg-before-") as folder:
            out = Path(folder) / "result.pickle"
            arguments = json.dumps({"source": source, "options": options, "out": str(out)})
            subprocess.run([sys.executable, "-c", BEFORE_SCRIPT, arguments], env=env, check=True)
            with open(out, "rb") as handle:
                result = pickle.load(handle)  # written just now by our own script
        self.timer = SimpleNamespace(seconds=result["seconds"])
        self.wall = result["wall"]
        return SimpleNamespace(features=result["features"], cleaning=result["cleaning"])  # type: ignore[return-value]


def extract_revision(revision: str, into: Path) -> Path:
    """``src`` of the git revision ``revision`` of this repository, written below ``into``."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", revision, "src"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def spark_missing() -> str | None:
    """Why Spark cannot run here, or ``None``."""
    try:
        import custseg.engines.spark as spark
    except Exception as exc:  # being written: any failure means not available
        return f"custseg.engines.spark does not import ({type(exc).__name__}: {exc})"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install 'custseg[spark]')"
    try:
        spark.check_java(17)
    except Exception as exc:
        return f"no usable Java ({exc})"
    return None


def part_b(
    label: str,
    cache: Path,
    seed: int,
    runs: int,
    pg_url: str | None,
    pg_password: str | None,
    spark: str,
    markdown: bool,
    before: str | None = None,
) -> None:
    path = data_file(cache, label, seed)
    backends: list[Backend] = [DuckDBFile()]
    skipped: list[str] = []

    def add(name: str, make: Callable[[], Backend]) -> None:
        say(f"part b: setting up {name} ({load_line()})")
        try:
            backends.append(make())
        except Exception as exc:
            skipped.append(f"{name}: skipped ({type(exc).__name__}: {' '.join(str(exc).split())})")

    if pg_url:
        add("PostgreSQL", lambda: PostgreSQL(pg_url, pg_password, path))
    else:
        skipped.append(
            "PostgreSQL: skipped (no server: pass --pg-url or set CUSTSEG_TEST_PG_URL and "
            "CUSTSEG_TEST_PG_PASSWORD)"
        )
    add("SQLite", lambda: SQLite(path))
    why = (
        spark_missing() if spark != "no" else "left out: --spark no, or --quick without --spark yes"
    )
    if why is None:
        add("Spark", Spark)
    else:
        skipped.append(f"Spark: skipped ({why})")
    for line in skipped:
        print(line, flush=True)
    old_tree = tempfile.TemporaryDirectory(prefix="custseg-before-src-")
    if before is not None:
        src = extract_revision(before, Path(old_tree.name))
        backends += [
            Before(b, before, src) for b in backends if isinstance(b, (PostgreSQL, SQLite))
        ]

    walls: dict[str, list[float]] = {b.name: [] for b in backends}
    stages: dict[str, dict[str, list[float]]] = {b.name: {s: [] for s in STAGES} for b in backends}
    results: dict[str, Prepared] = {}
    failed: dict[str, str] = {}
    try:
        for r in range(runs):
            order = backends[r % len(backends) :] + backends[: r % len(backends)]
            for backend in order:
                if backend.name in failed:
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        seconds, results[backend.name] = timed(lambda b=backend: b.run(path))
                except Exception as exc:
                    failed[backend.name] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                    continue
                # A "before" run is timed inside its subprocess (its imports left out).
                seconds = getattr(backend, "wall", seconds)
                walls[backend.name].append(seconds)
                for stage in STAGES:
                    stages[backend.name][stage].append(backend.timer.seconds.get(stage, 0.0))
                say(f"  run {r + 1}: {backend.name} {seconds:.2f} s ({load_line()})")
    finally:
        old_tree.cleanup()
        for backend in backends:
            try:
                backend.close()
            except Exception as exc:  # report, and go on closing the others
                say(f"closing {backend.name}: {exc}")
    for name, why in failed.items():
        print(f"{name}: FAILED ({why[:300]})", flush=True)

    ok = [b for b in backends if walls[b.name]]
    base = statistics.median(walls[backends[0].name]) if walls[backends[0].name] else None
    timing = Table(
        f"Engines on the same {label}-line file: prepare stage (read + clean + features), "
        f"median seconds of {runs} interleaved runs",
        ["engine", "runs", "load (not custseg)", "session start", *STAGES, "total", "vs DuckDB"],
    )
    for b in ok:
        total = statistics.median(walls[b.name])
        timing.add(
            b.name,
            len(walls[b.name]),
            "-" if b.load_seconds is None else f"{b.load_seconds:.2f}",
            "-" if b.start_seconds is None else f"{b.start_seconds:.2f}",
            *(f"{statistics.median(stages[b.name][s]):.2f}" for s in STAGES),
            f"{total:.2f}",
            f"{total / base:.1f}x" if base else "-",
        )
    timing.print(markdown)

    ref = results.get(backends[0].name)
    if ref is None:
        return
    agreement = Table(
        f"Engines on the same {label}-line file: agreement with DuckDB",
        [
            "engine",
            "customers",
            "same customers",
            "rows per cleaning reason",
            *FEATURES,
            "values differing",
        ],
    )

    def reasons(p: Prepared) -> dict[str, int]:
        out = {d["reason"]: d["rows"] for d in p.cleaning["dropped"]}
        return {**out, "kept": p.cleaning["rows_kept"], "in": p.cleaning["rows_in"]}

    for b in ok[1:]:
        got = results[b.name]
        same, diffs, differing = compare(got.features, ref.features)
        mine, theirs = reasons(got), reasons(ref)
        off = [f"{k} {mine.get(k)} vs {v}" for k, v in theirs.items() if mine.get(k) != v]
        agreement.add(
            b.name,
            f"{len(got.features):,}",
            "yes" if same else "NO",
            "same" if not off else "; ".join(off),
            *(fmt_diff(diffs[c]) for c in FEATURES),
            f"{differing:,}",
        )
    agreement.print(markdown)
    for b in ok[1:]:
        for line in differences(results[b.name].features, ref.features):
            print(f"{b.name} vs DuckDB, {line}")
    print(
        f"\nDuckDB: {ref.cleaning['rows_in']:,} lines in, {ref.cleaning['rows_kept']:,} kept, "
        f"{len(ref.features):,} customers; rows dropped per reason: "
        + ", ".join(f"{d['reason']} {d['rows']:,}" for d in ref.cleaning["dropped"] if d["rows"])
    )


# --------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,5M", help="part a file sizes, e.g. 1M,5M")
    parser.add_argument("--engine-size", default="1M", help="part b file size")
    parser.add_argument("--parts", default="a,b", help="which parts to run: a, b or a,b")
    parser.add_argument("--repeats", type=int, default=7, help="part a rounds")
    parser.add_argument("--engine-runs", type=int, default=3, help="part b runs per engine")
    parser.add_argument("--pg-url", default=os.environ.get("CUSTSEG_TEST_PG_URL"))
    parser.add_argument("--pg-password", default=os.environ.get("CUSTSEG_TEST_PG_PASSWORD"))
    parser.add_argument(
        "--spark",
        choices=["auto", "yes", "no"],
        default="auto",
        help="Spark in part b: auto = when available, except with --quick",
    )
    parser.add_argument(
        "--before",
        default=None,
        metavar="REV",
        help="part b: also run PostgreSQL and SQLite with custseg as at this git revision",
    )
    parser.add_argument("--cache", default="/tmp/custseg-scale", help="folder of the files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100k lines, 3 rounds")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    labels = ["0.1M"] if args.quick else args.sizes.split(",")
    engine_label = "0.1M" if args.quick else args.engine_size
    repeats = 3 if args.quick else args.repeats
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    parts = {p.strip() for p in args.parts.split(",")}

    import duckdb
    import ibis

    print(
        f"custseg engines benchmark: Python {platform.python_version()}, DuckDB "
        f"{duckdb.__version__}, Ibis {ibis.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} cores, {load_line()}",
        flush=True,
    )
    # What the command line does in a background thread while DuckDB reads the file.
    seconds, _ = timed(lambda: portable.warm_up(list(NON_PRODUCT_CODES)))
    print(f"portable.warm_up() (compile the usual query shapes for DuckDB): {seconds:.2f} s")
    if "a" in parts:
        part_a(labels, cache, args.seed, repeats, args.markdown)
    if "b" in parts:
        part_b(
            engine_label,
            cache,
            args.seed,
            max(1, args.engine_runs if not args.quick else 1),
            args.pg_url,
            args.pg_password,
            "no" if args.quick and args.spark == "auto" else args.spark,
            args.markdown,
            args.before,
        )
    print(f"\n{load_line()} at the end", flush=True)


if __name__ == "__main__":
    main()
