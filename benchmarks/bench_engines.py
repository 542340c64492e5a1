"""Design spike for issue 15: one portable definition of the customer features, measured.

Compares, on DuckDB and on the same ``clean_lines`` table that custseg builds (``_prepare``
on a generated Online-Retail-like Parquet file, see :mod:`_bigdata`):

1. ``handwritten``: today's :func:`custseg.features.transactions.transaction_features` (the
   hand-written DuckDB SQL, fetched as a DataFrame and typed);
2. ``ibis execute``: the same features written once as Ibis expressions
   (:func:`ibis_features`), run with ``expr.execute()`` through an Ibis DuckDB backend that
   wraps the engine's own connection;
3. ``ibis SQL``: the SQL Ibis compiles for DuckDB, run through the engine like today's query
   (so the SQL itself is compared, without Ibis's execution path).

Runs are interleaved (round after round, the order rotated each round) and the table shows
the median of ``--repeats`` rounds, the ratio to ``handwritten`` and the largest relative
difference of any feature against ``handwritten`` (also for the data shapes without an invoice
or a product column, checked but not timed). It also checks that the Ibis expression
compiles for the ``postgres`` and ``pyspark`` SQL dialects (nothing is run there), measures
``import ibis`` (``python -X importtime``), and transpiles today's feature query and the
cleaning statement with SQLGlot from DuckDB to PostgreSQL and Spark SQL, listing what does not
survive. ``--show-sql`` prints the generated and transpiled SQL, ``--explain`` prints DuckDB's
``EXPLAIN ANALYZE`` of both queries at the largest size.

Ibis and SQLGlot are not custseg dependencies; install them to run this::

    /work/venv/bin/pip install "ibis-framework[duckdb]"    # brings sqlglot

Usage::

    python benchmarks/bench_engines.py [--sizes 1M,5M] [--cache /tmp/custseg-scale]
                                       [--repeats 5] [--quick] [--show-sql] [--explain]
                                       [--markdown]

``--quick`` is one 100k-line file and 3 rounds. Results are recorded in ``docs/engines.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigdata import parse_size, write_retail  # noqa: E402
from _tables import Table  # noqa: E402

from custseg.clean import NON_PRODUCT_CODES  # noqa: E402
from custseg.engines.duckdb import DuckDBEngine  # noqa: E402
from custseg.features.transactions import TRANSACTION_FEATURES, transaction_features  # noqa: E402
from custseg.pipeline import _prepare, _Timer  # noqa: E402

INSTALL_HINT = (
    "This benchmark needs Ibis and SQLGlot, which custseg does not depend on. Install them with: "
    '/work/venv/bin/pip install "ibis-framework[duckdb]"'
)

#: DuckDB constructs in today's SQL whose fate under SQLGlot transpilation is reported.
CONSTRUCTS: dict[str, str] = {
    "date_diff": r"date_diff\(",
    "x::DATE casts": r"::DATE",
    "list_contains([...])": r"list_contains\(",
    "starts_with": r"starts_with\(",
    "SELECT * EXCLUDE": r"EXCLUDE\s*\(",
    "count(*) FILTER (WHERE)": r"FILTER\s*\(",
    "greatest/least": r"greatest\(|least\(",
    "CREATE OR REPLACE TABLE": r"CREATE OR REPLACE TABLE",
}

#: Single DuckDB constructs (today's or likely in the portable layer), transpiled one by one.
SNIPPETS: dict[str, str] = {
    "date_diff with ? parameter": "SELECT date_diff('day', d, ?::DATE) FROM t",
    "date_diff with literal": "SELECT date_diff('day', d, DATE '2011-12-10') FROM t",
    "starts_with": "SELECT starts_with(upper(inv), 'C') FROM t",
    "list_contains": "SELECT list_contains(['POST', 'DOT']::VARCHAR[], upper(p)) FROM t",
    "SELECT * EXCLUDE": "SELECT * EXCLUDE (_hash), false AS dup FROM t",
    "aggregate FILTER": "SELECT max(ts) FILTER (WHERE c IS NOT NULL) FROM t",
    "QUALIFY": "SELECT a FROM t QUALIFY row_number() OVER (PARTITION BY a ORDER BY b) = 1",
    "regexp_matches": "SELECT regexp_matches(a, '^C') FROM t",
    "GROUP BY ALL": "SELECT a, sum(b) FROM t GROUP BY ALL",
    "first(x ORDER BY)": "SELECT first(c ORDER BY n DESC, c) FROM t",
    "strftime": "SELECT strftime(m, '%Y-%m') FROM t",
    "hash(columns)": "SELECT hash(a, b) FROM t",
}


def ibis_features(
    lines: Any,
    analysis_date: dt.date,
    *,
    non_product_codes: list[str],
    has_invoice: bool = True,
    has_product: bool = True,
) -> Any:
    """:data:`TRANSACTION_FEATURES` as one Ibis expression over the ``clean_lines`` table.

    Mirrors the hand-written SQL step by step: orders (customer x invoice, or purchase day),
    then customers; returns from cancellation lines of real products; distinct products.
    """
    import ibis
    from ibis import _

    codes = [c.upper() for c in non_product_codes]
    day = ibis.date(analysis_date)
    kept = lines.filter(lines.reason.isnull())
    order_key = kept.invoice if has_invoice else kept.ts.date()
    orders = kept.group_by(customer_id=kept.customer_id, order_key=order_key).aggregate(
        last_ts=_.ts.max(), first_ts=_.ts.min(), revenue=_.amount.sum(), items=_.quantity.sum()
    )
    sales = orders.group_by("customer_id").aggregate(
        last_day=_.last_ts.max().date(),
        first_day=_.first_ts.min().date(),
        n_orders=_.order_key.count(),
        revenue=_.revenue.sum(),
        items=_.items.sum(),
    )
    cancelled = lines.filter(lines.reason == "cancellation")
    if has_product:
        cancelled = cancelled.filter(
            cancelled.product.isnull() | ~cancelled.product.upper().isin(codes)
        )
    returns = cancelled.group_by("customer_id").aggregate(
        returned=_.quantity.abs().sum(), returned_value=_.amount.abs().sum()
    )
    s = sales.left_join(returns, "customer_id")
    net = ibis.greatest(0, s.revenue - s.returned_value.coalesce(0))
    cols = {
        "customer_id": s.customer_id,
        "days_since_last_purchase": day.delta(s.last_day, unit="day"),
        "n_orders": s.n_orders,
        "revenue": net.round(2).cast("float64"),
        "mean_order_value": (net / s.n_orders).round(2).cast("float64"),
        "days_since_first_purchase": day.delta(s.first_day, unit="day"),
        "return_rate": ibis.least(1.0, s.returned.coalesce(0) / s.items).round(4),
    }
    out = s.select(**cols)
    if has_product:
        products = (
            kept.select("customer_id", "product")
            .distinct()
            .group_by("customer_id")
            .aggregate(n_products=_.product.count())
        )
        names = [c for c in TRANSACTION_FEATURES if c in cols or c == "n_products"]
        out = out.left_join(products, "customer_id").select("customer_id", *names)
    return out.order_by("customer_id")


def max_relative_difference(a: pd.Series, b: pd.Series) -> float:
    """Largest ``|a - b| / max(|b|, 1e-12)``; ``inf`` when missing values differ."""
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return float("inf")
    ok = ~np.isnan(y)
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(x[ok] - y[ok]) / np.maximum(np.abs(y[ok]), 1e-12)))


def compare(got: pd.DataFrame, ref: pd.DataFrame) -> dict[str, float]:
    """Per feature, the largest relative difference of ``got`` against ``ref``."""
    if list(got["customer_id"].astype(str)) != list(ref["customer_id"].astype(str)):
        return {c: float("inf") for c in ref.columns if c != "customer_id"}
    return {
        c: max_relative_difference(got[c], ref[c]) if c in got else float("inf")
        for c in ref.columns
        if c != "customer_id"
    }


def ibis_import_seconds() -> float:
    """Cumulative seconds of ``import ibis`` in a fresh interpreter (``-X importtime``)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ibis"],
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in run.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == "ibis":
            total = int(parts[1])
    return total / 1e6


logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its warnings are in the table


def _transpile(sql: str, target: str) -> tuple[str, str]:
    """``(output, problem)``: SQLGlot's Spark/PostgreSQL text, or why it could not make it
    (a parse error, or a construct SQLGlot knows the target lacks)."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    try:
        out = sqlglot.transpile(
            sql, read="duckdb", write=target, unsupported_level=ErrorLevel.RAISE, pretty=True
        )[0]
    except sqlglot.errors.ParseError as exc:
        return "", "does not parse: " + " ".join(str(exc).split())[:70]
    except sqlglot.errors.UnsupportedError as exc:
        out = sqlglot.transpile(sql, read="duckdb", write=target, pretty=True)[0]
        return out, "unsupported: " + " ".join(str(exc).split())[:70]
    return out, ""


def sqlglot_report(
    queries: dict[str, tuple[str, list[Any] | None]], show: bool
) -> tuple[Table, Table]:
    """Transpile today's statements and single constructs to PostgreSQL and Spark SQL."""
    statements = Table(
        "SQLGlot: today's statements, DuckDB -> target",
        ["statement", "target", "problem", "DuckDB text left as it was"],
    )
    for name, (sql, params) in queries.items():
        variants = {name + " (as run, ? parameters)": sql}
        literal = sql
        for value in params or []:
            # The parameters are dates; written as literals the statement parses.
            literal = re.sub(r"\?::(DATE|TIMESTAMP)", rf"\1 '{value}'", literal, count=1)
        variants[name + " (dates as literals)"] = literal
        for label, text in variants.items():
            for target in ("postgres", "spark"):
                out, problem = _transpile(text, target)
                left = [
                    c
                    for c, pattern in CONSTRUCTS.items()
                    if out and re.search(pattern, text, re.I) and re.search(pattern, out, re.I)
                ]
                statements.add(label, target, problem or "-", ", ".join(left) or "-")
                if show and out:
                    print(f"\n-- SQLGlot: {label} -> {target}\n{out}")
    snippets = Table(
        "SQLGlot: single DuckDB constructs -> target",
        ["construct", "postgres", "spark"],
    )
    for name, sql in SNIPPETS.items():
        cells = []
        for target in ("postgres", "spark"):
            out, problem = _transpile(sql, target)
            cells.append(problem or " ".join(out.split()).removeprefix("SELECT ")[:70])
        snippets.add(name, *cells)
    return statements, snippets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,5M", help="generated file sizes, e.g. 1M,5M")
    parser.add_argument("--cache", default="/tmp/custseg-scale", help="folder of the files")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one 100k-line file, 3 rounds")
    parser.add_argument("--show-sql", action="store_true", help="print generated SQL")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE both queries")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    try:
        import ibis
        import sqlglot
    except ImportError:
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2) from None
    labels = ["0.1M"] if args.quick else args.sizes.split(",")
    repeats = 3 if args.quick else args.repeats
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(
        f"ibis {ibis.__version__}, sqlglot {sqlglot.__version__}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )

    approaches = ["handwritten", "ibis execute", "ibis SQL"]
    timing = Table(
        f"Customer features on DuckDB: median seconds of {repeats} interleaved rounds",
        ["approach", *(f"{label} s" for label in labels), *(f"{label} ratio" for label in labels)],
    )
    agreement = Table(
        "Largest relative difference against handwritten, per feature (all sizes)",
        ["approach", *[c for c in TRANSACTION_FEATURES]],
    )
    medians: dict[str, dict[str, float]] = {a: {} for a in approaches}
    worst: dict[str, dict[str, float]] = {a: {} for a in approaches[1:]}
    captured: dict[str, tuple[str, list[Any] | None]] = {}
    for label in labels:
        path = cache / f"retail_{label}_seed{args.seed}.parquet"
        if not path.exists():
            print(f"generating {label} lines -> {path}", file=sys.stderr, flush=True)
            write_retail(path, parse_size(label), seed=args.seed)
        with DuckDBEngine() as engine:
            # Record the statements custseg runs, to transpile the real ones with SQLGlot.
            plain_sql = engine.sql
            seen: list[tuple[str, list[Any] | None]] = []

            def recording(
                query: str,
                params: list[Any] | None = None,
                seen: list[Any] = seen,
                run: Any = plain_sql,
            ) -> Any:
                seen.append((query, params))
                return run(query, params)

            engine.sql = recording  # type: ignore[method-assign]
            prep = _prepare(engine, str(path), _Timer(None), kind="transactions")
            engine.sql = plain_sql  # type: ignore[method-assign]
            for query, _params in seen:
                if "WITH orders AS" in query:
                    captured["features"] = (query, _params)
                    features_sql, features_params = query, _params
                elif "CREATE OR REPLACE TABLE clean_lines" in query:
                    captured["clean_lines"] = (query, _params)
            day = dt.date.fromisoformat(prep.analysis_date)
            codes = list(NON_PRODUCT_CODES)
            con = ibis.duckdb.from_connection(engine.con)
            expr = ibis_features(con.table("clean_lines"), day, non_product_codes=codes)
            ibis_sql = ibis.to_sql(expr, dialect="duckdb")
            runs: dict[str, Any] = {
                "handwritten": lambda e=engine, d=day: transaction_features(e, d),
                "ibis execute": expr.execute,
                "ibis SQL": lambda e=engine, q=str(ibis_sql): e.sql(q).df(),
            }
            seconds: dict[str, list[float]] = {a: [] for a in approaches}
            results: dict[str, pd.DataFrame] = {}
            for r in range(repeats):
                order = approaches[r % 3 :] + approaches[: r % 3]
                for name in order:
                    start = time.perf_counter()
                    results[name] = runs[name]()
                    seconds[name].append(time.perf_counter() - start)
            for name in approaches:
                medians[name][label] = statistics.median(seconds[name])
            for name in approaches[1:]:
                for col, diff in compare(results[name], results["handwritten"]).items():
                    worst[name][col] = max(worst[name].get(col, 0.0), diff)
            # The other column shapes (no invoice column, no product column): agreement only.
            for has_invoice, has_product in ((True, False), (False, True), (False, False)):
                shape = "ibis execute" + (" no invoice" if not has_invoice else "")
                shape += " no product" if not has_product else ""
                ref = transaction_features(
                    engine, day, has_invoice=has_invoice, has_product=has_product
                )
                got = ibis_features(
                    con.table("clean_lines"),
                    day,
                    non_product_codes=codes,
                    has_invoice=has_invoice,
                    has_product=has_product,
                ).execute()
                for col, diff in compare(got, ref).items():
                    worst.setdefault(shape, {})
                    worst[shape][col] = max(worst[shape].get(col, 0.0), diff)
            if args.explain and label == labels[-1]:
                for name, sql, params in (
                    ("handwritten", features_sql, features_params),
                    ("ibis", str(ibis_sql), None),
                ):
                    plan = engine.sql("EXPLAIN ANALYZE " + sql, params).fetchall()
                    print(f"\n-- EXPLAIN ANALYZE {name} ({label})\n{plan[0][1]}")
            print(
                f"{label}: {len(results['handwritten']):,} customers; "
                + ", ".join(f"{a} {medians[a][label]:.3f} s" for a in approaches),
                flush=True,
            )
    for name in approaches:
        timing.add(
            name,
            *(f"{medians[name][label]:.3f}" for label in labels),
            *(f"{medians[name][label] / medians['handwritten'][label]:.2f}" for label in labels),
        )
    for name in worst:
        agreement.add(
            name,
            *(f"{worst[name][c]:.1e}" if c in worst[name] else "-" for c in TRANSACTION_FEATURES),
        )

    dialects = Table(
        "The Ibis expression compiled for other backends' SQL (not run)",
        ["dialect", "compiles", "characters"],
    )
    if ibis.options.pyspark is None:
        # The pyspark compiler reads options that the pyspark backend registers when pyspark
        # is installed; they are registered by hand here to compile without pyspark.
        from ibis.config import Config

        class PySparkOptions(Config):
            treat_nan_as_null: bool = False

        ibis.options.pyspark = PySparkOptions()
    for dialect in ("duckdb", "postgres", "pyspark", "databricks"):
        try:
            text = str(ibis.to_sql(expr, dialect=dialect))
            dialects.add(dialect, "yes", f"{len(text):,}")
            if args.show_sql:
                print(f"\n-- Ibis -> {dialect}\n{text}")
        except Exception as exc:  # a compiler gap is a result here, not a crash
            dialects.add(dialect, f"no: {type(exc).__name__}: {str(exc)[:60]}", "")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    timing.print(args.markdown)
    agreement.print(args.markdown)
    dialects.print(args.markdown)
    for table in sqlglot_report(captured, args.show_sql):
        table.print(args.markdown)
    print(f"\nimport ibis: {ibis_import_seconds():.2f} s cumulative (python -X importtime)")


if __name__ == "__main__":
    main()
