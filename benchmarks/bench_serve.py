"""Benchmark ``custseg serve``: latency of one customer and throughput of batches, over HTTP.

Fits two small models (a customer table of ``--customers`` rows with numbers, a category and a
date column; invoice lines of 400 synthetic customers, with the new-customer models), starts
``custseg serve MODEL`` for each in a subprocess on a free localhost port (uvicorn, one
worker), waits for ``/healthz``, then with one keep-alive HTTP client (the standard library's
``http.client``, so that the client costs little):

- **one customer, customer-table model**: ``--requests`` requests of one row each (every
  request another customer), after 20 warm-up requests; p50 and p99 of the round trip;
- **one customer, invoice-line model**: the same with one customer's invoice lines per
  request (``--requests / 5`` requests: each goes through DuckDB);
- **batches of 1,000 customers**: ``--batches`` requests of 1,000 customer rows; customers
  per second over the whole loop (round trips included).

Each loop also stops after ``--seconds`` seconds, whichever comes first. The whole is run
``--runs`` times and the table shows the medians over the runs (and the spread, min-max).

Usage::

    python benchmarks/bench_serve.py [--runs 3] [--requests 500] [--batches 20] [--markdown]

Results are recorded in ``docs/benchmarks.md`` (section *Serving*).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _tables import Table

import custseg
from custseg.persist import save_model


def customer_table(n: int, seed: int = 1) -> pd.DataFrame:
    """A customer table with three planted groups: numbers, a category and a date column."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "CustomerID": [str(100_000 + i) for i in range(n)],
            "Age": rng.normal(25 + 15 * group, 3).round(),
            "Income": rng.normal(40 + 20 * group, 4).round(1),
            "Visits": rng.poisson(3 + 4 * group),
            "Channel": np.where(group == 2, "store", "web"),
            "Joined": (
                pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
            ).strftime("%Y-%m-%d"),
        }
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(model: Path, log: Path) -> Iterator[tuple[int, int]]:
    """``custseg serve MODEL`` on a free port; yields the port and the server's process id
    once /healthz answers."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "import sys; from custseg.cli import main; sys.exit(main(sys.argv[1:]))",
        "serve",
        str(model),
        "--port",
        str(port),
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"custseg serve exited ({process.returncode}); see {log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"custseg serve did not answer in 120 s; see {log}")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post(conn: http.client.HTTPConnection, body: bytes) -> float:
    """One POST /v1/score; returns its round-trip seconds (raises on an answer not 200)."""
    start = time.perf_counter()
    conn.request("POST", "/v1/score", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise SystemExit(f"POST /v1/score answered {response.status}: {payload[:300]!r}")
    return elapsed


def latencies(port: int, bodies: list[bytes], n: int, seconds: float) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies[:20]:  # warm-up
        post(conn, body)
    times: list[float] = []
    stop = time.monotonic() + seconds
    while len(times) < n and time.monotonic() < stop:
        times.append(post(conn, bodies[len(times) % len(bodies)]))
    conn.close()
    return times


def throughput(port: int, bodies: list[bytes], per_body: int, n: int, seconds: float) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    post(conn, bodies[0])  # warm-up
    done = 0
    start = time.perf_counter()
    stop = time.monotonic() + seconds
    while done < n and time.monotonic() < stop:
        post(conn, bodies[done % len(bodies)])
        done += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return done * per_body / elapsed


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500, help="one-customer requests per run")
    parser.add_argument("--batches", type=int, default=20, help="1,000-customer requests per run")
    parser.add_argument("--seconds", type=float, default=60, help="time limit of each loop")
    parser.add_argument("--customers", type=int, default=5000, help="rows of the customer table")
    parser.add_argument(
        "--customer-table-only", action="store_true", help="skip the invoice-line model"
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        table = customer_table(args.customers)
        table.to_csv(folder / "customers.csv", index=False)
        save_model(custseg.segment(folder / "customers.csv", seed=0).model, folder / "c.skops")
        lines, _ = custseg.datasets.make_transactions(400, n_segments=3, seed=2)
        if not args.customer_table_only:
            lines.to_csv(folder / "lines.csv", index=False)
            save_model(custseg.segment(folder / "lines.csv", seed=0).model, folder / "t.skops")

        rows = _records(table)
        one = [json.dumps({"customers": [row]}).encode() for row in rows[:1000]]
        batches = [
            json.dumps({"customers": rows[i : i + 1000]}).encode()
            for i in range(0, len(rows) - 999, 1000)
        ]
        by_customer = [
            json.dumps({"lines": _records(group)}).encode()
            for _, group in lines.groupby("CustomerID", sort=False)
        ]
        n_lines = statistics.median(len(g) for _, g in lines.groupby("CustomerID"))

        results: dict[str, list[float]] = {
            k: [] for k in ("c50", "c99", "ccpu", "t50", "t99", "throughput")
        }
        with server(folder / "c.skops", folder / "c.log") as (port, pid):
            for _ in range(args.runs):
                cpu = cpu_seconds(pid)
                times = latencies(port, one, args.requests, args.seconds)
                # The server's own CPU per request (warm-up included): what one request
                # costs whatever else the machine runs.
                results["ccpu"].append((cpu_seconds(pid) - cpu) * 1000 / (len(times) + 20))
                results["c50"].append(percentile(times, 50))
                results["c99"].append(percentile(times, 99))
                results["throughput"].append(
                    throughput(port, batches, 1000, args.batches, args.seconds)
                )
        if not args.customer_table_only:
            with server(folder / "t.skops", folder / "t.log") as (port, _):
                for _ in range(args.runs):
                    times = latencies(port, by_customer, max(args.requests // 5, 20), args.seconds)
                    results["t50"].append(percentile(times, 50))
                    results["t99"].append(percentile(times, 99))

    def cell(key: str, fmt: str) -> str:
        values = results[key]
        if not values:
            return "not run"
        return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"

    out = Table(
        f"custseg serve, {args.runs} runs, median (min-max); {os.cpu_count()} cores",
        ["measure", "value", "target"],
    )
    out.add("one customer, customer table: p50 ms", cell("c50", ".1f"), "")
    out.add("one customer, customer table: p99 ms", cell("c99", ".1f"), "<= 25")
    out.add("one customer, customer table: server CPU ms per request", cell("ccpu", ".1f"), "")
    out.add(
        f"one customer, invoice lines (median {n_lines:.0f} lines): p50 ms", cell("t50", ".0f"), ""
    )
    out.add(
        f"one customer, invoice lines (median {n_lines:.0f} lines): p99 ms", cell("t99", ".0f"), ""
    )
    out.add("batches of 1,000 customers: customers/s", cell("throughput", ",.0f"), ">= 5,000")
    out.print(args.markdown)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
