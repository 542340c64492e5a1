"""The result of a segmentation, and writing it out as the output contract."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.errors import InputError
from custseg.export import (
    EXACT_IDS_FILE,
    jsonable,
    neutralized_ids_note,
    write_csv,
    write_exact_ids,
    write_folder_atomically,
    write_xlsx,
)
from custseg.model import SegmentModel

OUTPUT_FILES = (
    "segments.csv",
    "profiles.csv",
    "segments.xlsx",
    "metrics.json",
    "model.skops",
    "report.html",
)

SCALE_OUT_FILES = ("segments_sample.csv", "segments.parquet")
"""What a Spark job past the driver limit writes instead of ``segments.csv``: the sampled
customers the names and charts come from, and (when Spark wrote locally) every customer's
segment as a Parquet folder (:mod:`custseg.engines.mllib`)."""


XLSX_MAX_CUSTOMERS = 20_000
"""Most customers listed on the Customers sheet of ``segments.xlsx``; above it the sheet holds
a note instead, and ``segments.csv`` (always complete) is the customer list. openpyxl wrote
about 100,000 cells a second: 46,000 customers took 9 s of a 20 s job on 1M invoice lines
(20,000 customers, CDNOW's size, some 3 s; about half that with xlsxwriter, used since) and
make a workbook of tens of MB that a spreadsheet opens slowly, while 1M customers would take
minutes. A cut list
(the first N customers) was rejected: it looks complete, and a sum or a search on it is wrong
without a warning."""


def customers_sheet_note(n_customers: int) -> str | None:
    """The note that replaces the Customers sheet when it would be too long, else None.

    Examples
    --------
    >>> customers_sheet_note(1_000_000)
    'The Customers sheet of segments.xlsx lists no customers: 1,000,000 are more than the 20,000 the workbook holds. segments.csv has every customer.'
    >>> customers_sheet_note(10) is None
    True
    """
    if n_customers <= XLSX_MAX_CUSTOMERS:
        return None
    return (
        f"The Customers sheet of segments.xlsx lists no customers: {n_customers:,} are more "
        f"than the {XLSX_MAX_CUSTOMERS:,} the workbook holds. segments.csv has every customer."
    )


def check_output_dir(target: Path) -> None:
    """Refuse to replace anything but an earlier custseg output folder (or an empty one)."""
    if target.exists() and not target.is_dir():
        raise InputError(f"Output path '{target}' is a file. Pass a folder name to --out.")
    if target.is_dir():
        others = sorted(
            p.name for p in target.iterdir() if p.name not in OUTPUT_FILES + SCALE_OUT_FILES
        )
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

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables of ``segments.xlsx``, one per kind: the segments with their names,
        rules and actions; the profiles; every customer (above :data:`XLSX_MAX_CUSTOMERS`, a
        note saying that ``segments.csv`` has them); the cleaning accounting; every candidate
        compared; the column roles; each feature with its readable label, unit, which side is
        better and how it is computed.
        """
        overview = pd.DataFrame(
            [
                {
                    "segment": entry.get("segment"),
                    "segment_name": entry.get("segment_name"),
                    "n_customers": entry.get("n_customers"),
                    "share": entry.get("share"),
                    "revenue_share": entry.get("revenue_share"),
                    "description": entry.get("description"),
                    "membership_rule": (entry.get("membership") or {}).get("rule"),
                    "rule_precision": (entry.get("membership") or {}).get("precision"),
                    "rule_coverage": (entry.get("membership") or {}).get("coverage"),
                    "name_rule": entry.get("rule"),
                    "name_facts": entry.get("facts"),
                    "action": entry.get("action"),
                }
                for entry in self.metrics.get("segments") or []
            ]
        ).dropna(axis=1, how="all")
        cleaning = self.metrics.get("cleaning") or {}
        accounting = pd.DataFrame(
            [
                {"step": "rows read", "rows": cleaning.get("rows_in")},
                *(
                    {
                        "step": f"dropped: {d.get('description') or d.get('reason')}",
                        "rows": d.get("rows"),
                        "revenue": d.get("revenue"),
                    }
                    for d in cleaning.get("dropped") or []
                ),
                {"step": "rows kept", "rows": cleaning.get("rows_kept")},
            ]
        )
        board = pd.DataFrame(
            [
                {k: v for k, v in row.items() if not isinstance(v, (dict, list))}
                for row in self.metrics.get("leaderboard") or []
            ]
        )
        roles = (self.metrics.get("schema") or {}).get("roles") or {}
        columns = pd.DataFrame({"role": list(roles), "column": list(roles.values())})
        note = customers_sheet_note(len(self.segments))
        from custseg.labels import feature_direction, feature_label, feature_unit

        shown = (self.metrics.get("presentation") or {}).get("labels") or {}
        better = {1: "higher", -1: "lower", 0: ""}
        features = pd.DataFrame(
            [
                {
                    "column": name,
                    "label": feature_label(name, shown),
                    "unit": feature_unit(name),
                    "better_when": better[feature_direction(name)],
                    "how_computed": formula,
                }
                for name, formula in (self.metrics.get("features") or {}).items()
            ],
            columns=["column", "label", "unit", "better_when", "how_computed"],
        )
        return {
            "Segments": overview,
            "Profiles": self.profiles,
            "Customers": self.segments if note is None else pd.DataFrame({"note": [note]}),
            "Cleaning": accounting,
            "Candidates": board,
            "Columns": columns,
            "Features": features,
        }

    def rename(self, names: dict[int, str]) -> SegmentationResult:
        """A copy with some segments renamed, everywhere: segments, profiles, metrics, the
        model (so that ``predict`` uses the new names) and hence the report.

        Parameters
        ----------
        names : dict of int to str
            Segment number -> new name. Names must be unique and not empty.

        Examples
        --------
        >>> result.rename({0: "VIP"}).profiles["segment_name"].iloc[0]  # doctest: +SKIP
        'VIP'
        """
        import copy

        current = {
            int(s): str(n)
            for s, n in zip(self.profiles["segment"], self.profiles["segment_name"], strict=True)
        }
        for seg, name in names.items():
            if int(seg) not in current or int(seg) < 0:
                raise InputError(
                    f"There is no segment {seg} to rename. Segments: "
                    f"{', '.join(str(s) for s in sorted(current) if s >= 0)}."
                )
            if not str(name).strip():
                raise InputError(f"The new name of segment {seg} is empty. Give it a name.")
        wanted = {**current, **{int(s): " ".join(str(n).split()) for s, n in names.items()}}
        taken = [n for n in wanted.values() if list(wanted.values()).count(n) > 1]
        if taken:
            raise InputError(
                f"Two segments would be called '{taken[0]}'. Give each segment its own name."
            )
        segments = self.segments.copy()
        segments["segment_name"] = segments["segment"].map(wanted).astype(object)
        if "first_purchase_segment" in segments:
            segments["first_purchase_segment_name"] = (
                segments["first_purchase_segment"]
                .map(lambda s: wanted.get(int(s)) if pd.notna(s) else None)
                .astype(object)
            )
        profiles = self.profiles.copy()
        profiles["segment_name"] = profiles["segment"].map(wanted).astype(object)
        metrics = copy.deepcopy(self.metrics)
        for entry in metrics.get("segments") or []:
            entry["segment_name"] = wanted.get(int(entry["segment"]), entry["segment_name"])
        model = copy.copy(self.model)
        model.segment_names = [wanted[i] for i in range(len(self.model.segment_names))]
        if model.new_customers is not None:
            model.new_customers = dataclasses.replace(
                model.new_customers, segment_names=list(model.segment_names)
            )
        return dataclasses.replace(
            self, segments=segments, profiles=profiles, metrics=metrics, model=model
        )

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

        def write(tmp: Path) -> None:
            scale_out = self.metrics.get("scale_out")
            ids_note = None
            if scale_out is None:
                write_csv(self.segments, tmp / "segments.csv")
                ids_note = neutralized_ids_note(self.segments)
                if ids_note is not None:  # the ids as in the source, to join back on
                    write_exact_ids(self.segments, tmp / EXACT_IDS_FILE)
            else:
                write_csv(self.segments, tmp / "segments_sample.csv")
                parquet = scale_out.get("parquet")
                if scale_out.get("moved_into_output") and parquet and Path(parquet).is_dir():
                    shutil.move(parquet, tmp / "segments.parquet")
                    shutil.rmtree(Path(parquet).parent, ignore_errors=True)
                    scale_out["parquet"] = str(target / "segments.parquet")
            write_csv(self.profiles, tmp / "profiles.csv")
            note = customers_sheet_note(len(self.segments))
            if scale_out is not None:
                note = (
                    f"segments_sample.csv (and the Customers sheet, up to "
                    f"{XLSX_MAX_CUSTOMERS:,}) list the {len(self.segments):,} sampled customers; "
                    f"every customer's segment is in {scale_out.get('parquet')} (Parquet, "
                    "written by Spark)."
                )
            self.metrics["export_notes"] = [
                *([note] if note else []),
                *([ids_note] if ids_note else []),
                *write_xlsx(self.tables(), tmp / "segments.xlsx"),
            ]
            save_model(self.model, tmp / "model.skops")
            start = time.perf_counter()
            (tmp / "report.html").write_text(self.report_html(), encoding="utf-8")
            self.metrics["seconds"]["report"] = round(time.perf_counter() - start, 3)
            (tmp / "metrics.json").write_text(
                json.dumps(jsonable(self.metrics), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )

        write_folder_atomically(target, write)
        return target


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV written by custseg, read back with text kept as text ("NA" is a category)."""
    from custseg.export import unneutralize_column

    frame = pd.read_csv(
        path, dtype={"customer_id": str}, keep_default_na=False, na_values=[""], low_memory=False
    )
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = unneutralize_column(frame[col])
    return frame


def load_result(directory: str | Path) -> SegmentationResult:
    """Read a saved segmentation back from its output folder, without refitting.

    The customers' model inputs are recomputed with the saved preprocessing (the same
    transformation, so the same numbers); everything else is read as written.

    Parameters
    ----------
    directory : str or Path
        A folder written by :meth:`SegmentationResult.save` (``custseg segment --out``).

    Returns
    -------
    SegmentationResult

    Examples
    --------
    >>> result = custseg.load_result("out/")  # doctest: +SKIP
    >>> (Path("out") / "report.html").write_text(result.report_html())  # doctest: +SKIP
    """
    from custseg.persist import load_model

    folder = Path(directory)
    if not folder.is_dir():
        raise InputError(
            f"'{folder}' is not a folder. Pass the output folder of 'custseg segment' "
            "(the one with segments.csv, metrics.json and model.skops)."
        )
    listed = "segments.csv"
    if not (folder / listed).is_file() and (folder / "segments_sample.csv").is_file():
        listed = "segments_sample.csv"  # a Spark job past the driver limit
    needed = (listed, "profiles.csv", "metrics.json", "model.skops")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise InputError(
            f"'{folder}' lacks {', '.join(missing)}: it is not a complete custseg output folder. "
            "Run 'custseg segment INPUT --out FOLDER' to make one."
        )
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"'{folder / 'metrics.json'}' is not valid JSON ({exc}). Re-run 'custseg segment'."
        ) from None
    model = load_model(folder / "model.skops")
    segments = _read_table(folder / listed)
    profiles = _read_table(folder / "profiles.csv")
    features = segments.drop(
        columns=["segment", "segment_name", "segment_probability"], errors="ignore"
    )
    absent = [c for c in model.numeric + model.categorical if c not in features]
    if absent or "segment" not in segments:
        raise InputError(
            f"'{folder / 'segments.csv'}' lacks the column '{(absent or ['segment'])[0]}' the "
            "model needs; the folder was edited or mixes two runs. Re-run 'custseg segment'."
        )
    labels = segments["segment"].to_numpy(dtype=np.int64)
    return SegmentationResult(
        segments=segments,
        profiles=profiles,
        metrics=metrics,
        model=model,
        model_inputs=model.model_inputs(features),
        labels=labels,
    )
