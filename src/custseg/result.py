"""The result of a segmentation, and writing it out as the output contract."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.errors import InputError
from custseg.export import write_csv
from custseg.model import SegmentModel

OUTPUT_FILES = ("segments.csv", "profiles.csv", "metrics.json", "model.skops", "report.html")


def library_versions() -> dict[str, str]:
    """Versions of custseg and the libraries that shape its results."""
    out = {"python": platform.python_version()}
    for name in ("custseg", "scikit-learn", "numpy", "pandas", "duckdb", "skops", "plotly"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: numpy scalars and arrays become Python values, NaN and inf None.

    Examples
    --------
    >>> jsonable({"k": np.int64(3), "s": [np.float64("nan"), 0.5]})
    {'k': 3, 's': [None, 0.5]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def check_output_dir(target: Path) -> None:
    """Refuse to replace anything but an earlier custseg output folder (or an empty one)."""
    if target.exists() and not target.is_dir():
        raise InputError(f"Output path '{target}' is a file. Pass a folder name to --out.")
    if target.is_dir():
        others = sorted(p.name for p in target.iterdir() if p.name not in OUTPUT_FILES)
        if others:
            raise InputError(
                f"Output folder '{target}' already holds other files ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}). Choose a new folder, or empty this one."
            )


@dataclass
class SegmentationResult:
    """What :func:`custseg.segment` returns.

    Attributes
    ----------
    segments : pandas.DataFrame
        One row per customer: ``customer_id``, ``segment``, ``segment_name``, features.
    profiles : pandas.DataFrame
        One row per segment: size, share, revenue share, typical values, action.
    metrics : dict
        Everything measured (see the output contract in the user guide).
    model : SegmentModel
        Scores new customers; saved as ``model.skops``.
    """

    segments: pd.DataFrame
    profiles: pd.DataFrame
    metrics: dict[str, Any]
    model: SegmentModel
    model_inputs: np.ndarray
    labels: np.ndarray

    def report_html(self) -> str:
        """The self-contained HTML report."""
        from custseg.report import render_report

        return render_report(self)

    def save(self, directory: str | Path) -> Path:
        """Write the output contract into ``directory``, atomically.

        Files are written into a temporary folder beside ``directory`` and moved into place
        only when all are complete, so an interrupted run never leaves a folder that looks
        finished. An existing ``directory`` is replaced.

        Returns
        -------
        Path
            The output directory.
        """
        import time

        from custseg.persist import save_model

        target = Path(directory).resolve()
        check_output_dir(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        try:
            write_csv(self.segments, tmp / "segments.csv")
            write_csv(self.profiles, tmp / "profiles.csv")
            save_model(self.model, tmp / "model.skops")
            start = time.perf_counter()
            (tmp / "report.html").write_text(self.report_html(), encoding="utf-8")
            self.metrics["seconds"]["report"] = round(time.perf_counter() - start, 3)
            (tmp / "metrics.json").write_text(
                json.dumps(jsonable(self.metrics), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target
