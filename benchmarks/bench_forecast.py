"""Benchmark fitting the new-customer models (``custseg forecast``), stage by stage.

Runs, ``--repeats`` times each, interleaved so that a burst of load from other users of the
machine hits every job alike:

- **fit**: :func:`custseg.newcustomers.fit_new_customer_models` on the whole file (calibration
  end = the day after the last line): what ``custseg segment`` will add to its model bundle.
- **evaluate**: :func:`custseg.newcustomers.evaluate_forecast` with ``--calibration-end``
  (2011-09-01) and ``--horizon`` (99D): the whole time-split evaluation, per stage of
  ``metrics["seconds"]``.

and prints the median, min and max seconds per stage, and the machine's load average.

Usage::

    python benchmarks/bench_forecast.py [--data PATH] [--repeats 3] [--calibration-end DATE]
                                        [--horizon 99D] [--markdown]

The default data is ``$CUSTSEG_DATA/online_retail.csv``, else ``../shared/data/online_retail.csv``
beside the repository. Results are recorded in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

from custseg.errors import CustsegWarning
from custseg.newcustomers import evaluate_forecast, fit_new_customer_models

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    base = os.environ.get("CUSTSEG_DATA")
    return (Path(base) if base else REPO.parent / "shared" / "data") / "online_retail.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calibration-end", default="2011-09-01")
    parser.add_argument("--horizon", default="99D")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    warnings.simplefilter("ignore", CustsegWarning)
    fit_seconds: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        fit_new_customer_models(args.data)
        fit_seconds.append(time.perf_counter() - start)
        evaluation = evaluate_forecast(args.data, args.calibration_end, horizon=args.horizon)
        for stage, seconds in evaluation.metrics["seconds"].items():
            stages.setdefault(stage, []).append(seconds)
    rows = [("fit_new_customer_models (whole file)", fit_seconds)]
    rows += [(f"evaluate: {stage}", values) for stage, values in stages.items()]
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    title = (
        f"{args.data.name}, {args.repeats} runs, calibration end {args.calibration_end}, "
        f"horizon {args.horizon}, load average {load}"
    )
    if args.markdown:
        print(f"{title}\n\n| job | median s | min s | max s |\n|---|---:|---:|---:|")
        for name, values in rows:
            print(
                f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | "
                f"{max(values):.2f} |"
            )
        return
    print(title)
    width = max(len(name) for name, _ in rows)
    print(f"{'job':<{width}}  {'median':>7}  {'min':>7}  {'max':>7}")
    for name, values in rows:
        print(
            f"{name:<{width}}  {statistics.median(values):7.2f}  {min(values):7.2f}  "
            f"{max(values):7.2f}"
        )


if __name__ == "__main__":
    main()
