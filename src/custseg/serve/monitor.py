"""Drift watch for the scoring service: the customers it scored lately against the training
customers (:mod:`custseg.drift`), checked as answers accumulate.

A request of one customer says nothing about distributions, so the service keeps the features
and segments of the last :data:`WINDOW` customers it scored and runs
:func:`custseg.drift.check` on them every :data:`CHECK_EVERY` customers (from the check's own
minimum on). A warning the latest check gives that the one before did not is written to
stderr once (``warning: feature 'revenue' moved ...; refit the model``); ``GET /v1/drift``
returns the latest report.

Examples
--------
>>> monitor = DriftMonitor(model)  # doctest: +SKIP
>>> monitor.add(scored.results)  # doctest: +SKIP
>>> monitor.report()["verdict"]  # doctest: +SKIP
'stable'
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Any, TextIO

WINDOW = 10_000
"""Customers the drift watch compares with training: the most recent ones scored. Enough for
PSI over ten bins to be steady (each bin then holds about 1,000 customers), small enough that a
change of the last days shows."""

CHECK_EVERY = 1_000
"""Customers scored between two checks. A check of 10,000 customers costs a few milliseconds;
checking after every request would make single-customer latency pay for it."""


class DriftMonitor:
    """The last :data:`WINDOW` scored customers and the latest drift report on them.

    Parameters
    ----------
    model : SegmentModel
        The served model; its ``drift_reference`` is the training side.
    window, every : int
        :data:`WINDOW` and :data:`CHECK_EVERY`.
    stream : file, optional
        Where new warnings are written (stderr by default).
    """

    def __init__(
        self,
        model: Any,
        *,
        window: int = WINDOW,
        every: int = CHECK_EVERY,
        stream: TextIO | None = None,
    ) -> None:
        from custseg.drift import THRESHOLDS

        self.model = model
        self.every = every
        self.minimum = int(THRESHOLDS["min_customers"])
        self.stream = stream
        self._rows: deque[dict[str, Any]] = deque(maxlen=window)
        self._since = 0
        self._scored = 0
        self._latest: dict[str, Any] | None = None
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def add(self, results: list[dict[str, Any]]) -> None:
        """Remember the customers of one answer (``Scored.results``); check when due."""
        with self._lock:
            for record in results:
                if record.get("segment") is None:
                    continue
                self._rows.append({**record.get("features", {}), "segment": record["segment"]})
                self._since += 1
                self._scored += 1
            due = self._since >= self.every or (
                self._latest is None and len(self._rows) >= self.minimum
            )
            if not due:
                return
            self._since = 0
            rows = list(self._rows)
        self._check(rows)

    def _check(self, rows: list[dict[str, Any]]) -> None:
        import pandas as pd

        from custseg.drift import check

        report = check(self.model, pd.DataFrame(rows))
        latest = {**report.to_dict(), "customers_scored": self._scored, "window": len(rows)}
        fresh = [w for w in report.warnings if w not in self._said]
        with self._lock:
            self._latest = latest
            self._said = set(report.warnings)
        stream = self.stream or sys.stderr
        for message in fresh:
            stream.write(f"warning: {message} (the last {len(rows):,} customers scored)\n")
        stream.flush()

    def report(self) -> dict[str, Any]:
        """The latest drift report (:meth:`custseg.drift.DriftReport.to_dict`), with
        ``customers_scored`` and ``window``; before the first check, why there is none."""
        with self._lock:
            if self._latest is not None:
                return self._latest
            return {
                "verdict": "not_checked",
                "reason": (
                    f"{self._scored:,} customer(s) scored since the service started; drift is "
                    f"checked from {self.minimum:,} on, then every {self.every:,}, on the last "
                    f"{self._rows.maxlen:,}"
                ),
                "customers_scored": self._scored,
                "window": len(self._rows),
            }
