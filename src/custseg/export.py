"""Writing tables users open in spreadsheets, safely.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel and LibreOffice (CSV injection). Such cells get a leading apostrophe;
numbers, and text that is just a number such as ``-5``, are left as they are. Text that
already starts with apostrophes before such a character gets one more, so that the change is
undone exactly (:func:`unneutralize`): ``custseg.load_result`` reads back the ids as written
in the source, and :func:`write_exact_ids` keeps them for joins when some were changed.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NEUTRALIZED = re.compile(r"^'+[=+\-@\t\r]")
"""Text :func:`neutralize` wrote: one or more apostrophes, then a formula character."""


def neutralize(value: object) -> object:
    """Prefix formula-like text with an apostrophe.

    Text made of apostrophes then a formula character (``'=x``, a value that already looks
    neutralized) gets one more apostrophe too, so that :func:`unneutralize` gives back
    every value exactly.

    Examples
    --------
    >>> neutralize("=HYPERLINK(1)"), neutralize("-5"), neutralize(-5.0), neutralize("abc")
    ("'=HYPERLINK(1)", '-5', -5.0, 'abc')
    >>> neutralize("'=x"), neutralize("'quoted")
    ("''=x", "'quoted")
    """
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        return value if _NUMBER.match(value) else "'" + value
    if value.startswith("'") and _NEUTRALIZED.match(value):
        return "'" + value
    return value


def unneutralize(value: object) -> object:
    """Undo :func:`neutralize` on text read back from a custseg CSV (exactly: the
    ``unneutralize(neutralize(text)) == text`` for every text).

    Examples
    --------
    >>> unneutralize("'=HYPERLINK(1)"), unneutralize("'quoted"), unneutralize(-5.0)
    ('=HYPERLINK(1)', "'quoted", -5.0)
    >>> unneutralize("''=x")
    "'=x"
    """
    if isinstance(value, str) and value.startswith("'") and _NEUTRALIZED.match(value):
        return value[1:]
    return value


def _map_text(column: pd.Series, starts: str | tuple[str, ...], func: Any) -> pd.Series:
    """``column.map(func)`` for a ``func`` that changes only text starting with ``starts``:
    the cells that do are found vectorised and only they are passed to ``func`` (the column
    itself is returned when none changes)."""
    if not (column.dtype == object or pd.api.types.is_string_dtype(column)):
        return column
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.map(func)  # maps the categories only
    try:
        candidates = np.asarray(column.str.startswith(starts, na=False), dtype=bool)
    except (AttributeError, TypeError):  # no text (all missing or numbers), or bytes
        return column.map(func)
    where = np.flatnonzero(candidates)
    before = column.iloc[where].tolist()
    after = [func(v) for v in before]
    if all(a is b for a, b in zip(after, before, strict=True)):
        return column
    out = column.copy()
    out.iloc[where] = after
    return out


def neutralize_column(column: pd.Series) -> pd.Series:
    """``column`` with :func:`neutralize` applied to every cell, computed only where a cell
    starts like a formula (the column itself is returned when no cell changes).

    Examples
    --------
    >>> neutralize_column(pd.Series(["=1+1", "-5", "ok", None])).tolist()[:3]
    ["'=1+1", '-5', 'ok']
    """
    return _map_text(column, (*FORMULA_START, "'"), neutralize)


def unneutralize_column(column: pd.Series) -> pd.Series:
    """``column`` with :func:`unneutralize` applied to every cell, computed only where a
    cell starts with an apostrophe.

    Examples
    --------
    >>> unneutralize_column(pd.Series(["'=1+1", "'quoted", "-5", None])).tolist()[:3]
    ['=1+1', "'quoted", '-5']
    """
    return _map_text(column, "'", unneutralize)


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with formula-like text cells and column names neutralized.

    Examples
    --------
    >>> safe_frame(pd.DataFrame({"=a": ["@x", "-5"]})).to_dict("list")
    {"'=a": ["'@x", '-5']}
    """
    out = frame.copy(deep=False)
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        safe = neutralize_column(column)
        if safe is not column:
            out.isetitem(i, safe.array)
    out.columns = [str(neutralize(str(c))) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV (UTF-8, comma, no index) with formula-like text neutralized and a
    carriage return inside a cell written as a line feed (see :func:`one_line_end`).

    pandas writes it: DuckDB's ``COPY`` and ``pyarrow.csv`` are faster but write different
    bytes for some cells (a lone ``#``, a carriage return, booleans, missing values). Whole
    numbers stored as floats (an age of 19.0, read from a column with a missing value) are
    written as whole numbers (``19``).
    """
    one_line_end(safe_frame(whole_numbers(frame))).to_csv(path, index=False, lineterminator="\n")


def _no_carriage_return(value: object) -> object:
    if isinstance(value, str) and "\r" in value:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def one_line_end(frame: pd.DataFrame) -> pd.DataFrame:
    r"""``frame`` with a carriage return inside a text cell (or a column name) written as a
    line feed.

    Python's CSV writer, with ``\n`` line ends, quotes a cell holding ``\n`` but not one
    holding a lone ``\r``; a spreadsheet breaks the row there, and what follows the ``\r``
    starts a new row, where ``\r=cmd|...`` would run as a formula despite the apostrophe
    in front of the cell. A line feed is quoted, so the cell stays one cell.

    Examples
    --------
    >>> one_line_end(pd.DataFrame({"a": ["x\ry", "ok", 3]}))["a"].tolist()
    ['x\ny', 'ok', 3]
    """
    out = frame
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if not (column.dtype == object or pd.api.types.is_string_dtype(column)):
            continue
        try:
            found = np.asarray(column.str.contains("\r", regex=False, na=False), dtype=bool)
        except (AttributeError, TypeError):  # no text in it
            continue
        if not found.any():
            continue
        if out is frame:
            out = frame.copy(deep=False)
        fixed = column.copy()
        where = np.flatnonzero(found)
        fixed.iloc[where] = [_no_carriage_return(v) for v in column.iloc[where].tolist()]
        out.isetitem(i, fixed.array)
    if any("\r" in str(c) for c in frame.columns):
        if out is frame:
            out = frame.copy(deep=False)
        out.columns = [_no_carriage_return(str(c)) for c in frame.columns]
    return out


EXACT_IDS_FILE = "segments.parquet"
"""The file beside ``segments.csv`` with every customer's id exactly as in the source, written
when some id had to be neutralized (:func:`write_exact_ids`)."""


def neutralized_ids(segments: pd.DataFrame) -> pd.Series:
    """The customer ids (as in the source) that :func:`write_csv` writes with an apostrophe.

    Examples
    --------
    >>> neutralized_ids(pd.DataFrame({"customer_id": ["@SUM(1)", "7", "-5", "=x"]})).tolist()
    ['@SUM(1)', '=x']
    """
    if "customer_id" not in segments:
        return pd.Series([], dtype=object)
    ids = segments["customer_id"]
    safe = neutralize_column(ids)
    if safe is ids:
        return ids.iloc[:0]
    differs = safe.astype(object).to_numpy() != ids.astype(object).to_numpy()
    return ids[differs & ids.notna().to_numpy()]


def neutralized_ids_note(
    segments: pd.DataFrame, exact_file: str | None = EXACT_IDS_FILE
) -> str | None:
    """The note said when some customer ids start like a spreadsheet formula, with the count,
    or None when none does. ``exact_file`` is the file that keeps them as they are.

    Examples
    --------
    >>> print(neutralized_ids_note(pd.DataFrame({"customer_id": ["@SUM(1)", "7"]})))
    1 customer id starts like a spreadsheet formula (e.g. '@SUM(1)'): segments.csv and segments.xlsx write it with a leading apostrophe ("'@SUM(1)") so that a spreadsheet does not run it. segments.parquet has every customer's id exactly as in your file, to join back on; or drop that one apostrophe (custseg.load_result does).
    """
    changed = neutralized_ids(segments)
    if not len(changed):
        return None
    example = str(changed.iloc[0])
    if len(example) > 40:
        example = example[:40] + "..."
    one = len(changed) == 1
    count = "1 customer id starts" if one else f"{len(changed):,} customer ids start"
    it = "it" if one else "them"
    keep = (
        f"{exact_file} has every customer's id exactly as in your file, to join back on; or "
        if exact_file
        else ""
    )
    return (
        f"{count} like a spreadsheet formula (e.g. {example!r}): segments.csv and "
        f"segments.xlsx write {it} with a leading apostrophe ({str(neutralize(example))!r}) "
        f"so that a spreadsheet does not run {it}. {keep}drop that one apostrophe "
        "(custseg.load_result does)."
    )


def write_exact_ids(segments: pd.DataFrame, path: Path) -> None:
    """Write ``customer_id`` (exactly as in the source, as text), ``segment`` and
    ``segment_name`` of every customer as Parquet: the join key back to the CRM when
    :func:`write_csv` had to neutralize some ids (spreadsheets do not open Parquet, so nothing
    in it can run as a formula).

    Examples
    --------
    >>> write_exact_ids(result.segments, Path("out/segments.parquet"))  # doctest: +SKIP
    """
    columns = [c for c in ("customer_id", "segment", "segment_name") if c in segments]
    table = segments[columns].copy()
    table["customer_id"] = table["customer_id"].astype("string")
    if "segment_name" in table:
        table["segment_name"] = table["segment_name"].astype("string")
    table.to_parquet(path, index=False)


def whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with float columns that hold only whole numbers (and missing values) as
    nullable integers, so that they print as ``19``, not ``19.0``.

    Examples
    --------
    >>> whole_numbers(pd.DataFrame({"age": [19.0, None], "x": [0.5, 1.0]})).dtypes.tolist()
    [Int64Dtype(), dtype('float64')]
    """
    out = frame
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if column.dtype.kind != "f":
            continue
        values = column.to_numpy()
        finite = values[~np.isnan(values)]
        if not len(finite) or np.any(finite != np.round(finite)) or np.abs(finite).max() >= 2**53:
            continue
        if out is frame:
            out = frame.copy(deep=False)
        out.isetitem(i, column.astype("Int64").array)
    return out


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary name beside ``path``, then rename it to ``path``, so that
    an interrupted write never leaves a file that looks complete.

    Examples
    --------
    >>> write_atomically(Path("p.json"), lambda tmp: tmp.write_text("{}"))  # doctest: +SKIP
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


STALE_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.(?:tmp|old)-(?P<pid>\d+)(?:-.*)?")
"""Temporary folders an output writer (:meth:`SegmentationResult.save`,
:func:`write_folder_atomically`) leaves beside its target when its process is killed: ``.OUT.tmp-<pid>-<random>`` (being written) and ``.OUT.old-<pid>`` (the earlier
output, during the swap)."""


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or cannot tell: keep it
        return True
    return True


def remove_stale_temp_folders(target: Path) -> list[Path]:
    """Remove the temporary folders of ``target`` that an earlier, killed run left behind
    (hidden ``.NAME.tmp-<pid>-*`` and ``.NAME.old-<pid>``), when their process is gone.
    Folders of a run that is still going, and every other file, are left alone.

    Returns
    -------
    list of Path
        The folders removed.

    Examples
    --------
    >>> remove_stale_temp_folders(Path("out"))  # doctest: +SKIP
    []
    """
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed

    for path in target.parent.iterdir():
        match = STALE_TEMP_NAME.fullmatch(path.name)
        if (
            match is None
            or match["target"] != target.name
            or not path.is_dir()
            or path.is_symlink()
            or _process_alive(int(match["pid"]))
        ):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def write_folder_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a new temporary folder beside ``target``, then put that folder in
    ``target``'s place (an existing ``target`` is replaced), so that an interrupted or failed
    write never leaves a folder that looks complete. The folder gets the usual permissions
    (``mkdtemp`` makes it private).

    Examples
    --------
    >>> write_folder_atomically(Path("aud"), lambda tmp: (tmp / "a.csv").write_text("x"))  # doctest: +SKIP
    """
    import tempfile

    remove_stale_temp_folders(target)
    # The pid in the name lets a later run tell a folder left by a killed run from one that
    # another run is still writing.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        write(tmp)
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


EXCEL_MAX_ROWS = 1_048_576
"""Rows in one Excel sheet, header included; a longer table is cut there and the cut said."""


def _cell(value: object) -> object:
    """A cell value as what it is: numbers as numbers, text neutralized, missing values as
    empty cells (None)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if value is pd.NaT or value is pd.NA:
        return None
    return neutralize(str(value))


def _cells(column: pd.Series) -> list[object]:
    """:func:`_cell` of every value of ``column``, vectorised for the common dtypes."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return list(column.tolist())
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = column.to_numpy()
        out: list[object] = list(values.astype(np.float64).tolist())
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = None
        return out
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan:
        out = neutralize_column(column).tolist()
        for i in np.flatnonzero(column.isna().to_numpy()).tolist():
            out[i] = None
        return out
    return [_cell(v) for v in column.tolist()]


XLSX_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
"""xlsxwriter options: each row goes to the file once written (memory stays flat however long
the table), and text cells are text, never read as a formula, a link or a number."""


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> list[str]:
    """Write one sheet per table into an Excel workbook, with formula-like text neutralized.

    Numbers stay numbers (a real ``-5`` is a number cell, never text); text cells that
    Excel would read as a formula get a leading apostrophe, as in :func:`write_csv`. A table
    longer than an Excel sheet is cut at :data:`EXCEL_MAX_ROWS` rows. The header row is
    bold and frozen; columns are as wide as their first 200 values (at most 60 characters).

    xlsxwriter writes it, each cell with the method of its type: the tables of a run on
    UCI Online Retail (4,334 customers) take 0.32 s of CPU, against 0.65 s with openpyxl's
    write-only mode; 21,670 customers, 1.6 s against 2.9 s.

    Parameters
    ----------
    sheets : dict of str to DataFrame
        Sheet name (at most 31 characters) -> table.
    path : Path
        The ``.xlsx`` file to write.

    Returns
    -------
    list of str
        One note per table that had to be cut (empty when none was).

    Examples
    --------
    >>> write_xlsx({"Profiles": pd.DataFrame({"a": [-5, 2]})}, Path("t.xlsx"))  # doctest: +SKIP
    []
    """
    import xlsxwriter

    notes = []
    with xlsxwriter.Workbook(str(path), XLSX_OPTIONS) as workbook:
        bold = workbook.add_format({"bold": True})
        for name, frame in sheets.items():
            sheet = workbook.add_worksheet(name[:31])
            sheet.freeze_panes(1, 0)
            for i, column in enumerate(frame.columns):
                text = [str(column), *map(str, frame[column].head(200).tolist())]
                sheet.set_column(i, i, min(max(len(t) for t in text) + 2, 60))
                sheet.write_string(0, i, str(neutralize(str(column))), bold)
            rows = frame
            if len(frame) > EXCEL_MAX_ROWS - 1:
                rows = frame.iloc[: EXCEL_MAX_ROWS - 1]
                notes.append(
                    f"Sheet '{name}' holds the first {EXCEL_MAX_ROWS - 1:,} of {len(frame):,} "
                    "rows (the Excel limit); the CSV has them all."
                )
            _write_rows(sheet, [_cells(rows.iloc[:, i]) for i in range(rows.shape[1])])
    return notes


def _write_rows(sheet: Any, columns: list[list[object]]) -> None:
    """Write the columns of :func:`_cells` row by row below the header (the order
    ``constant_memory`` needs), each cell with the method of its type; None stays empty."""
    number, text, boolean = sheet.write_number, sheet.write_string, sheet.write_boolean
    for row, record in enumerate(zip(*columns, strict=True), start=1):
        for col, value in enumerate(record):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                text(row, col, value)
            elif kind is bool:
                boolean(row, col, value)
            else:
                number(row, col, value)


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
