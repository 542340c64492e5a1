"""Benchmark ``custseg segment`` at scale: 1M to 100M generated invoice lines (issue 13).

For each size in ``--sizes`` the script generates (once, cached in ``--cache``) an
Online-Retail-like Parquet file with planted segments (:mod:`_bigdata`), then runs, each in a
fresh subprocess, in rounds with the order rotated (so that a burst of load from other users of
the machine hits every job alike):

1. ``custseg segment FILE --out TMP -q`` with the default options: wall time, peak RSS and the
   seconds per stage from the output's ``metrics.json``;
2. a hand-written DuckDB query from the Parquet file to recency, frequency and monetary value
   per customer, fetched as a DataFrame (the reference for read + clean + features);
3. a notebook-style pandas + scikit-learn pipeline: ``pd.read_parquet``, ``groupby`` RFM,
   ``log1p``, ``StandardScaler``, ``KMeans`` for k = 2..10 with ``n_init=10``, silhouette on a
   10k sample, the best k kept.

It prints the wall times (medians of ``--repeats`` rounds for sizes up to ``--repeat-max``,
one round above), the ratios custseg / DuckDB query and custseg / pandas notebook, custseg's
stage seconds, and the segment quality: the adjusted Rand index (ARI) of custseg's
``segments.csv`` (and of the notebook's labels) against the planted truth, on the customers
present in both.

Peak RSS is measured two ways: "tree" is the sum of the RSS of the job's process and all its
descendants, sampled from ``/proc`` every 0.2 s (a short peak between samples is missed);
"largest" is the larger of ``ru_maxrss`` from ``wait4`` (the largest single process of the
tree that was reaped, exact) and the largest single process in the samples. The tree sum counts
pages shared between processes (joblib workers) once per process, so it can overstate.
Every job has a ``--timeout`` (its whole process group is killed and the table says
"over N s"). ``--profile 5M,20M`` runs the first custseg job at those sizes under ``py-spy
record --nonblocking`` at 20 samples/s (little overhead; the raw stacks are kept in ``CACHE/profiles/``) and
prints the top entries by cumulative time; without py-spy, one more run of
``custseg.segment(path)`` under cProfile.

Usage::

    python benchmarks/bench_scale.py [--sizes 1M,5M,20M] [--cache DIR] [--repeats 3]
                                     [--repeat-max 5M] [--timeout 900] [--seed 0]
                                     [--jobs custseg,duckdb,pandas] [--profile 5M]
                                     [--profile-top 25] [--markdown]

The machine's load matters: on a shared 2-core machine the seconds are noisy.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bigdata import parse_size, truth_path_of, write_retail  # noqa: E402
from _tables import Table  # noqa: E402

JOBS = ("custseg", "duckdb", "pandas")
STAGES = ("read", "clean", "features", "preprocess", "model", "profile", "new_customers", "total")
#: Seconds between two samples of the process tree's RSS.
RSS_INTERVAL = 0.2
#: py-spy samples per second (low, so that the profiled run is timed as well).
PROFILE_RATE = 20
#: Frames left out of the profile table: the CLI's wrappers, as long as the whole run.
PROFILE_SKIP = re.compile(r"typer/|click/|custseg/cli/__init__|^<module>|runpy|^_run_module")
#: The notebook pipeline's choices (what a data scientist would type).
NOTEBOOK_KS = range(2, 11)
NOTEBOOK_SILHOUETTE_SAMPLE = 10_000
#: Issue 13's targets, printed beside the ratios.
TARGET_VS_PANDAS = 1 / 3
TARGET_FEATURES_VS_DUCKDB = 1.2
TARGET_READ_CLEAN_FEATURES_VS_DUCKDB = 2.0

DUCKDB_QUERY = """
WITH lines AS (
    SELECT CustomerID, InvoiceNo, InvoiceDate, Quantity * UnitPrice AS amount
    FROM read_parquet($path)
    WHERE CustomerID IS NOT NULL AND Quantity > 0 AND UnitPrice > 0
      AND NOT starts_with(InvoiceNo, 'C')
)
SELECT CustomerID AS customer_id,
       date_diff('day', max(InvoiceDate), (SELECT max(InvoiceDate) FROM lines)) AS recency,
       count(DISTINCT InvoiceNo) AS frequency,
       sum(amount) AS monetary
FROM lines
GROUP BY CustomerID
"""


# ------------------------------------------------------------------ running one job


@dataclass
class Run:
    """One job in one subprocess."""

    wall: float
    timed_out: bool
    returncode: int
    peak_tree_mb: float
    largest_mb: float
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)


def _tree_rss_mb(root: int) -> tuple[float, float]:
    """Sum and largest of the RSS of ``root`` and its descendants (MB), from /proc."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/statm", "rb") as f:
                resident = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        pid = int(entry.name)
        parent[pid], rss[pid] = int(fields[1]), resident * page
    children = collections.defaultdict(list)
    for pid, ppid in parent.items():
        children[ppid].append(pid)
    total, largest, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        largest = max(largest, rss.get(pid, 0))
        todo.extend(children.get(pid, ()))
    return total / 2**20, largest / 2**20


def run_job(cmd: list[str], timeout: float, *, stop_signal: int = signal.SIGKILL) -> Run:
    """Run ``cmd`` in its own process group; kill the group after ``timeout`` seconds.

    ``stop_signal`` is sent to the group first on a timeout (SIGINT lets ``py-spy`` write its
    samples), then SIGKILL after 30 s.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        peak, largest, timed_out, status, usage = 0.0, 0.0, False, 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree, one = _tree_rss_mb(proc.pid)
            peak, largest = max(peak, tree), max(largest, one)
            if time.perf_counter() - started > timeout and not timed_out:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, stop_signal)
                deadline = time.perf_counter() + (30 if stop_signal != signal.SIGKILL else 0)
                while time.perf_counter() < deadline:
                    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                    if pid:
                        break
                    time.sleep(0.2)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                if not pid:
                    _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(RSS_INTERVAL)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stray workers of a finished job
        out.seek(0)
        err.seek(0)
        return Run(
            wall=wall,
            timed_out=timed_out,
            returncode=proc.returncode,
            peak_tree_mb=peak,
            # ru_maxrss misses a grandchild that was killed, not reaped (a timeout under py-spy)
            largest_mb=max(largest, (usage.ru_maxrss / 1024) if usage else 0.0),
            stdout=out.read(),
            stderr=err.read(),
        )


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    return {}


def _custseg_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("custseg")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "custseg"]


# ------------------------------------------------------------------ the jobs


def run_custseg(path: Path, truth: Any, timeout: float, profile: Path | None = None) -> Run:
    """``custseg segment PATH --out TMP -q``; stage seconds, k and ARI against the truth.

    With ``profile``, the job runs under ``py-spy record`` (raw stacks written there).
    """
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    with tempfile.TemporaryDirectory(prefix="custseg-scale-out-") as tmp:
        out = Path(tmp) / "out"
        cmd = [*_custseg_cmd(), "segment", str(path), "--out", str(out), "-q"]
        if profile is None:
            run = run_job(cmd, timeout)
        else:
            spy = ["py-spy", "record", "--format", "raw", "--rate", str(PROFILE_RATE)]
            spy += ["--subprocesses", "--nonblocking", "-o", str(profile), "--"]
            run = run_job([*spy, *cmd], timeout, stop_signal=signal.SIGINT)
        metrics_path = out / "metrics.json"
        if run.returncode == 0 and metrics_path.exists():
            metrics = json.loads(metrics_path.read_text())
            run.extra["seconds"] = metrics.get("seconds", {})
            run.extra["k"] = metrics.get("k")
            run.extra["algorithm"] = metrics.get("algorithm")
            seg = pd.read_csv(out / "segments.csv", usecols=["customer_id", "segment"])
            both = seg.merge(truth, on="customer_id", suffixes=("", "_true"))
            run.extra["ari"] = adjusted_rand_score(both["segment_true"], both["segment"])
            run.extra["customers"] = len(seg)
    return run


def run_duckdb(path: Path, timeout: float) -> Run:
    run = run_job([sys.executable, __file__, "_duckdb", str(path)], timeout)
    run.extra.update(_last_json(run.stdout))
    return run


def run_pandas(path: Path, truth: Any, timeout: float) -> Run:
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    with tempfile.TemporaryDirectory(prefix="custseg-scale-nb-") as tmp:
        labels = Path(tmp) / "labels.parquet"
        run = run_job([sys.executable, __file__, "_pandas", str(path), str(labels)], timeout)
        run.extra.update(_last_json(run.stdout))
        if run.returncode == 0 and labels.exists():
            seg = pd.read_parquet(labels)
            both = seg.merge(truth, on="customer_id", suffixes=("", "_true"))
            run.extra["ari"] = adjusted_rand_score(both["segment_true"], both["segment"])
    return run


def duckdb_job(path: str) -> None:
    """Subprocess body: the hand-written DuckDB query, timed from connect to DataFrame."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    frame = con.execute(DUCKDB_QUERY, {"path": path}).df()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "customers": len(frame)}))


def pandas_job(path: str, labels_path: str) -> None:
    """Subprocess body: the notebook-style pandas + scikit-learn pipeline."""
    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    df = pd.read_parquet(
        path, columns=["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    )
    read = time.perf_counter() - started
    df = df.dropna(subset=["CustomerID"])
    df = df[(df["Quantity"] > 0) & (df["UnitPrice"] > 0) & ~df["InvoiceNo"].str.startswith("C")]
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    snapshot = df["InvoiceDate"].max()
    rfm = df.groupby("CustomerID").agg(
        last=("InvoiceDate", "max"), frequency=("InvoiceNo", "nunique"), monetary=("amount", "sum")
    )
    rfm["recency"] = (snapshot - rfm["last"]).dt.days
    X = StandardScaler().fit_transform(np.log1p(rfm[["recency", "frequency", "monetary"]]))
    features = time.perf_counter() - started
    best: tuple[float, int, Any] = (-2.0, 0, None)
    for k in NOTEBOOK_KS:
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(X)
        score = silhouette_score(
            X, labels, sample_size=min(NOTEBOOK_SILHOUETTE_SAMPLE, len(X)), random_state=0
        )
        if score > best[0]:
            best = (score, k, labels)
    seconds = time.perf_counter() - started
    pd.DataFrame({"customer_id": rfm.index.astype("int64"), "segment": best[2]}).to_parquet(
        labels_path
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read_seconds": read,
                "features_seconds": features,
                "k": best[1],
                "silhouette": best[0],
            }
        )
    )


# ------------------------------------------------------------------ profile


def _collapse(raw: str) -> dict[str, tuple[float, float]]:
    """py-spy raw (collapsed) stacks -> {function: (inclusive samples, self samples)}."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for stack, count in re.findall(r"(.*) (\d+)$", raw, flags=re.MULTILINE):
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith("process ")]
        if not frames:
            continue
        n = int(count)
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    return {f: (inclusive[f], own[f]) for f in inclusive}


def print_profile(raw: Path, run: Run, top: int, markdown: bool, label: str) -> None:
    """The top entries of a py-spy raw profile by cumulative (inclusive) samples."""
    if not raw.exists():
        print(f"py-spy wrote no profile (exit {run.returncode}): {run.stderr[-500:]}")
        return
    stats = _collapse(raw.read_text())
    total = sum(own for _, own in stats.values())
    how = f"stopped at {run.wall:.0f} s" if run.timed_out else f"{run.wall:.0f} s wall"
    table = Table(
        f"Profile, {label}: py-spy at {PROFILE_RATE}/s over all processes and threads "
        f"({total / PROFILE_RATE:.0f} s of samples, run {how}); top {top} by cumulative time, "
        "CLI wrappers left out",
        ["function (file)", "cumulative s", "share", "self s"],
    )
    rows = sorted(stats.items(), key=lambda kv: -kv[1][0])
    for f, (inc, own) in [kv for kv in rows if not PROFILE_SKIP.search(kv[0])][:top]:
        table.add(f, f"{inc / PROFILE_RATE:.1f}", f"{inc / total:.0%}", f"{own / PROFILE_RATE:.1f}")
    table.print(markdown, width=200)
    table = Table(f"Profile, {label}: top 15 by self time", ["function (file)", "self s", "share"])
    for f, (_, own) in sorted(stats.items(), key=lambda kv: -kv[1][1])[:15]:
        table.add(f, f"{own / PROFILE_RATE:.1f}", f"{own / total:.0%}")
    table.print(markdown, width=200)


def cprofile_custseg(path: Path, timeout: float, top: int, markdown: bool, label: str) -> None:
    """Without py-spy: cProfile of ``custseg.segment(path)`` in a subprocess (one more run)."""
    import pstats

    with tempfile.TemporaryDirectory(prefix="custseg-scale-prof-") as tmp:
        prof = Path(tmp) / "profile.pstats"
        code = "import cProfile, custseg, sys; cProfile.run('custseg.segment(sys.argv[1])', sys.argv[2])"
        run = run_job([sys.executable, "-c", code, str(path), str(prof)], timeout)
        if run.timed_out or not prof.exists():
            print(f"cProfile run over {timeout:.0f} s or failed: no profile")
            return
        stats = pstats.Stats(str(prof))
        table = Table(
            f"Profile, {label}: cProfile of custseg.segment, top {top} by cumulative time",
            ["function (file:line)", "cumulative s", "own s", "calls"],
        )
        rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][3])[:top]  # type: ignore[attr-defined]
        for (file, line, name), (_, calls, own, cum, _) in rows:
            table.add(f"{name} ({file}:{line})", f"{cum:.1f}", f"{own:.1f}", calls)
        table.print(markdown, width=200)


# ------------------------------------------------------------------ tables


def _size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n / 1e6:g}M"


def _median_wall(runs: list[Run], timeout: float) -> str:
    if not runs:
        return ""
    if any(r.timed_out for r in runs):
        return f"over {timeout:.0f} s"
    if any(r.returncode != 0 for r in runs):
        return f"failed (exit {runs[0].returncode})"
    return f"{statistics.median(r.wall for r in runs):.1f}"


def _median_extra(runs: list[Run], key: str) -> float | None:
    values = [r.extra[key] for r in runs if key in r.extra and r.extra[key] is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None, target: float | None = None) -> str:
    if a is None or b is None or b <= 0:
        return ""
    text = f"{a / b:.2f}"
    if target is not None:
        text += " ✓" if a / b <= target else " ✗"
    return text


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_duckdb"]:
        duckdb_job(argv[1])
        return
    if argv[:1] == ["_pandas"]:
        pandas_job(argv[1], argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,5M,20M", help="invoice lines, e.g. 1M,5M,20M,100M")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "custseg-scale"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeat-max", default="5M", help="sizes above this run once (default 5M)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per job")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", default=",".join(JOBS), help="custseg,duckdb,pandas")
    parser.add_argument(
        "--profile",
        default="",
        help="sizes whose first custseg run is profiled with py-spy, e.g. 5M,20M",
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    jobs = [j for j in args.jobs.split(",") if j]
    unknown = sorted(set(jobs) - set(JOBS))
    if unknown:
        parser.error(f"unknown job(s) {unknown}; choose from {', '.join(JOBS)}")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    profile_dir = cache / "profiles"
    profile_dir.mkdir(exist_ok=True)

    import pandas as pd

    data_table = Table(
        "Data (generated, cached)",
        ["size", "lines", "customers", "file MB", "generated in s", "file"],
    )
    time_table = Table(
        f"Wall time (s, median of the runs; fresh process each) and peak RSS (MB, max of the runs); "
        f"timeout {args.timeout:.0f} s",
        [
            "size",
            "job",
            "wall s",
            "min-max s",
            "work s",
            "peak RSS tree",
            "largest process",
            "runs",
        ],
    )
    ratio_table = Table(
        "Ratios (same rounds; ✓/✗ against issue 13's target)",
        [
            "size",
            "custseg wall / DuckDB query",
            "read+clean+features / DuckDB query (<= 2)",
            "features / DuckDB query (<= 1.2)",
            "custseg wall / pandas notebook wall (<= 0.33)",
        ],
    )
    stage_table = Table(
        "custseg stage seconds (metrics.json 'seconds', median of the runs)",
        ["size", *STAGES, "report"],
    )
    quality_table = Table(
        "Segment quality against the planted truth (ARI on customers present in both)",
        [
            "size",
            "customers",
            "custseg k",
            "custseg algorithm",
            "custseg ARI",
            "notebook k",
            "notebook ARI",
        ],
    )
    for n in sizes:
        label = _size_label(n)
        path = cache / f"retail_{label}_seed{args.seed}.parquet"
        if not path.exists() or not truth_path_of(path).exists():
            print(f"generating {label} lines -> {path}", file=sys.stderr, flush=True)
            write_retail(path, n, seed=args.seed)
        meta = json.loads(path.with_suffix(".json").read_text())
        data_table.add(
            label,
            f"{meta['lines']:,}",
            f"{meta['customers']:,}",
            f"{path.stat().st_size / 2**20:.0f}",
            meta["seconds"],
            path,
        )
        truth = pd.read_parquet(truth_path_of(path), columns=["customer_id", "segment"])
        profiled = n in {parse_size(s) for s in args.profile.split(",") if s}
        spy = profiled and shutil.which("py-spy") is not None
        rounds = args.repeats if n <= parse_size(args.repeat_max) else 1
        runs: dict[str, list[Run]] = {j: [] for j in jobs}
        for r in range(rounds):
            order = jobs[r % len(jobs) :] + jobs[: r % len(jobs)]
            for job in order:
                if any(x.timed_out for x in runs[job]):
                    continue  # once over the timeout, not again
                print(f"{label} round {r + 1}/{rounds}: {job}", file=sys.stderr, flush=True)
                if job == "custseg":
                    raw = profile_dir / f"pyspy_{label}.txt" if spy and r == 0 else None
                    run = run_custseg(path, truth, args.timeout, raw)
                    if raw is not None:
                        print_profile(raw, run, args.profile_top, args.markdown, f"{label} lines")
                elif job == "duckdb":
                    run = run_duckdb(path, args.timeout)
                else:
                    run = run_pandas(path, truth, args.timeout)
                if run.returncode != 0 and not run.timed_out:
                    print(f"  {job} failed: {run.stderr.strip()[-800:]}", file=sys.stderr)
                print(
                    f"  {run.wall:.1f} s, peak tree {run.peak_tree_mb:.0f} MB"
                    + (" (timed out)" if run.timed_out else ""),
                    file=sys.stderr,
                    flush=True,
                )
                runs[job].append(run)
        names = {
            "custseg": "custseg segment (CLI, default)",
            "duckdb": "DuckDB query",
            "pandas": "pandas + sklearn notebook",
        }
        for job in jobs:
            rs = runs[job]
            ok = [r for r in rs if not r.timed_out and r.returncode == 0]
            if job == "custseg":  # custseg's own 'total' stage seconds
                totals = [r.extra["seconds"].get("total") for r in ok if r.extra.get("seconds")]
                work = statistics.median(totals) if totals else None
            else:
                work = _median_extra(ok, "seconds")
            time_table.add(
                label,
                names[job],
                _median_wall(rs, args.timeout),
                f"{min(r.wall for r in ok):.1f}-{max(r.wall for r in ok):.1f}" if ok else "",
                _fmt(work),
                f"{max(r.peak_tree_mb for r in rs):.0f}"
                + (" (at kill)" if any(r.timed_out for r in rs) else ""),
                f"{max(r.largest_mb for r in rs):.0f}",
                f"{len(rs)}" + (" (1st under py-spy)" if job == "custseg" and spy else ""),
            )
        cs = [r for r in runs.get("custseg", []) if not r.timed_out and r.extra.get("seconds")]
        stage = {
            s: (statistics.median(r.extra["seconds"].get(s, 0.0) for r in cs) if cs else None)
            for s in (*STAGES, "report")
        }
        if "custseg" in jobs:
            stage_table.add(
                label,
                *(
                    _fmt(stage[s]) if cs else _median_wall(runs["custseg"], args.timeout)
                    for s in (*STAGES, "report")
                ),
            )
        cs_wall = statistics.median(r.wall for r in cs) if cs else None
        duck = [r for r in runs.get("duckdb", []) if not r.timed_out and r.returncode == 0]
        duck_s = _median_extra(duck, "seconds")
        nb = [r for r in runs.get("pandas", []) if not r.timed_out and r.returncode == 0]
        nb_wall = statistics.median(r.wall for r in nb) if nb else None
        rcf = sum(stage[s] or 0.0 for s in ("read", "clean", "features")) if cs else None
        over = f"over {args.timeout:.0f} s"
        ratio_table.add(
            label,
            _ratio(cs_wall, duck_s) if cs else over,
            _ratio(rcf, duck_s, TARGET_READ_CLEAN_FEATURES_VS_DUCKDB) if cs else over,
            _ratio(stage["features"], duck_s, TARGET_FEATURES_VS_DUCKDB) if cs else over,
            _ratio(cs_wall, nb_wall, TARGET_VS_PANDAS) if cs and nb else (over if not cs else ""),
        )
        quality_table.add(
            label,
            f"{meta['customers']:,}",
            _fmt(_median_extra(cs, "k"), ".0f"),
            cs[0].extra.get("algorithm", "") if cs else "",
            _fmt(_median_extra(cs, "ari"), ".3f"),
            _fmt(_median_extra(nb, "k"), ".0f"),
            _fmt(_median_extra(nb, "ari"), ".3f"),
        )
        if profiled and not spy and "custseg" in jobs:
            print(f"{label}: py-spy not installed; one more run under cProfile", file=sys.stderr)
            cprofile_custseg(path, args.timeout, args.profile_top, args.markdown, f"{label} lines")
    for table in (data_table, time_table, stage_table, ratio_table, quality_table):
        table.print(args.markdown, width=200)
    code = subprocess.run(
        [sys.executable, "-c", "import custseg; print(custseg.__file__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"\ncustseg imported from {code} (PYTHONPATH={os.environ.get('PYTHONPATH', '')!r}).")
    print(
        f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; "
        "other work shares the machine, so the seconds are noisy."
    )


if __name__ == "__main__":
    main()
