"""Readers: put any supported source into the engine as one table named ``raw``.

The ``raw`` table has a 1-based ``_row`` column (the data row number, header excluded) and the
source's columns under their own names. Delimited text is read with every column as text, so
that ids keep their leading zeros and nothing is guessed before :mod:`custseg.schema` looks at
names and values.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from custseg.engines.duckdb import DuckDBEngine, quote_ident, sql_literal
from custseg.errors import InputError
from custseg.io.sniff import sniff_text, transcode_to_utf8

#: Text that means "no value" in delimited files, matched exactly after trimming.
NA_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "-")

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
#: Formats users often try, with what to do instead.
UNSUPPORTED = {
    ".xls": "old Excel .xls is not supported: open it in Excel or LibreOffice and save as .xlsx or .csv",
    ".xlsb": "binary Excel .xlsb is not supported: save it as .xlsx or .csv",
    ".ods": "OpenDocument .ods is not supported: save it as .xlsx or .csv",
    ".json": "JSON is not supported: save the table as .csv or .parquet",
    ".jsonl": "JSON lines are not supported: save the table as .csv or .parquet",
    ".zip": "zip archives are not read directly: unzip it and pass the file inside",
}
#: Limits that stop zip bombs in .xlsx files before any XML is parsed.
XLSX_MAX_UNCOMPRESSED = 2 * 1024**3
XLSX_MAX_RATIO = 200


@dataclass
class SourceInfo:
    """What was read, for the user and for ``metrics.json``."""

    name: str
    format: str
    n_rows: int
    columns: list[str]
    path: str | None = None
    sha256: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_names(columns: list[str], where: str) -> None:
    blanks = [i + 1 for i, c in enumerate(columns) if not str(c).strip()]
    if blanks:
        raise InputError(
            f"{where} has a column without a name (column {blanks[0]} of {len(columns)}). "
            "Give every column a header name."
        )
    counts = Counter(str(c).strip().lower() for c in columns)
    dups = [c for c in columns if counts[str(c).strip().lower()] > 1]
    if dups:
        positions = [
            i + 1
            for i, c in enumerate(columns)
            if str(c).strip().lower() == str(dups[0]).strip().lower()
        ]
        raise InputError(
            f"{where} has duplicate column names: '{dups[0]}' appears {len(positions)} times "
            f"(columns {', '.join(map(str, positions))}). Rename them so every column name is unique."
        )


def _read_text(engine: DuckDBEngine, path: Path, info: SourceInfo) -> None:
    fmt = sniff_text(path)
    info.encoding = fmt.encoding_label
    info.delimiter = fmt.delimiter_label
    _check_names(fmt.header, f"File '{path}'")
    if len(fmt.header) == 1:
        info.notes.append(
            "only 1 column found: if the file uses another delimiter, check how it was exported"
        )
    target = path
    if fmt.encoding not in ("utf-8", "utf-8-sig"):
        target = Path(engine.tmpdir) / "source-utf8.csv"
        transcode_to_utf8(path, fmt, target)
    compression = "gzip" if (fmt.compressed and target == path) else "none"
    columns = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in fmt.header) + "}"
    nulls = "[" + ", ".join(sql_literal(v) for v in NA_VALUES) + "]"
    query = (
        f"SELECT * FROM read_csv({sql_literal(str(target))}, columns={columns}, header=true, "
        f"delim={sql_literal(fmt.delimiter)}, quote='\"', escape='\"', auto_detect=false, "
        f"nullstr={nulls}, compression={sql_literal(compression)}, "
        "store_rejects=true, ignore_errors=true, max_line_size=10000000)"
    )
    try:
        engine.sql(f"CREATE TABLE raw AS SELECT row_number() OVER () AS _row, * FROM ({query})")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"File '{path}' could not be read as delimited text: {first}") from None
    rejects = engine.sql(
        "SELECT line, error_type, error_message FROM reject_errors ORDER BY line"
    ).fetchall()
    if rejects:
        lines = sorted({int(r[0]) for r in rejects})
        shown = ", ".join(map(str, lines[:5])) + (
            f", ... ({len(lines)} in all)" if len(lines) > 5 else ""
        )
        raise InputError(
            f"File '{path}' has {len(lines)} malformed line(s) (line {shown}): "
            f"{rejects[0][2].strip()} at line {rejects[0][0]}. Every line needs "
            f"{len(fmt.header)} {info.delimiter}-separated fields; fix or remove those lines."
        )


def _check_xlsx(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"File '{path}' is not a valid .xlsx workbook. If it is an old .xls file, "
            "save it as .xlsx or .csv."
        )
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
    if total > XLSX_MAX_UNCOMPRESSED or total / packed > XLSX_MAX_RATIO:
        raise InputError(
            f"File '{path}' was refused: it unpacks to {total / 1e6:,.0f} MB "
            f"({total / packed:,.0f} times its size), beyond the limits of "
            f"{XLSX_MAX_UNCOMPRESSED / 1e9:.0f} GB and {XLSX_MAX_RATIO}x. Export the sheet as CSV."
        )


def _column_from_cells(values: list[Any]) -> pd.Series:
    """Turn one Excel column into a typed Series: numbers, timestamps, or text."""
    present = [v for v in values if v is not None and v != ""]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series([None if v in (None, "") else float(v) for v in values], dtype="float64")
    text = [
        None
        if v in (None, "")
        else (
            v.isoformat(sep=" ") if hasattr(v, "isoformat") and not isinstance(v, str) else str(v)
        )
        for v in values
    ]
    return pd.Series(text, dtype="object")


def _read_excel(engine: DuckDBEngine, path: Path, info: SourceInfo, sheet: str | None) -> None:
    _check_xlsx(path)
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types
        raise InputError(f"File '{path}' is not a valid .xlsx workbook ({exc}).") from None
    names = list(book.sheet_names)
    if sheet is None:
        if not names:
            raise InputError(f"File '{path}' has no sheets.")
        sheet = names[0]
        if len(names) > 1:
            info.notes.append(
                f"workbook has {len(names)} sheets ({', '.join(names)}); read '{sheet}' "
                "(pass --sheet to choose another)"
            )
    elif sheet not in names:
        raise InputError(
            f"File '{path}' has no sheet '{sheet}'. Sheets: {', '.join(names)}. Pass one of them to --sheet."
        )
    info.sheet = sheet
    rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=True)
    if not rows:
        raise InputError(f"Sheet '{sheet}' of '{path}' is empty: no header and no data rows.")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    _check_names(header, f"Sheet '{sheet}' of '{path}'")
    body = rows[1:]
    frame = pd.DataFrame(
        {
            name: _column_from_cells([r[i] if i < len(r) else None for r in body])
            for i, name in enumerate(header)
        }
    )
    _register_frame(engine, frame)


def _register_frame(engine: DuckDBEngine, frame: pd.DataFrame) -> None:
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object or str(frame[col].dtype) in ("string", "str"):
            frame[col] = (
                frame[col]
                .map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
                .astype(object)
            )
    engine.con.register("source_frame", frame)
    try:
        engine.sql("CREATE TABLE raw AS SELECT row_number() OVER () AS _row, * FROM source_frame")
    finally:
        engine.con.unregister("source_frame")


def _read_parquet(engine: DuckDBEngine, path: Path, info: SourceInfo) -> None:
    try:
        engine.sql(
            "CREATE TABLE raw AS SELECT row_number() OVER () AS _row, * "
            f"FROM read_parquet({sql_literal(str(path))})"
        )
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"File '{path}' is not a valid Parquet file ({first}).") from None


def load_source(
    engine: DuckDBEngine, source: str | Path | pd.DataFrame, *, sheet: str | None = None
) -> SourceInfo:
    """Read a file or DataFrame into the engine's ``raw`` table.

    Parameters
    ----------
    engine : DuckDBEngine
        The job's engine; receives the ``raw`` table.
    source : str, Path or pandas.DataFrame
        A .csv/.tsv/.txt (optionally gzip-compressed), .xlsx, or .parquet file, or a DataFrame.
    sheet : str, optional
        Excel sheet to read; the first sheet by default.

    Returns
    -------
    SourceInfo
        Format, encoding, delimiter, row count, columns and the file's sha256.

    Raises
    ------
    InputError
        If the file is missing, empty, malformed or of an unsupported format.
    """
    if isinstance(source, pd.DataFrame):
        info = SourceInfo(name="DataFrame", format="dataframe", n_rows=0, columns=[])
        _check_names([str(c) for c in source.columns], "The DataFrame")
        _register_frame(engine, source.rename(columns=str))
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"File '{path}' does not exist. Check the path and try again.")
        if path.is_dir():
            raise InputError(
                f"'{path}' is a folder, not a file. Pass a .csv, .xlsx or .parquet file."
            )
        if path.stat().st_size == 0:
            raise InputError(f"File '{path}' is empty: no header and no data rows.")
        suffixes = [s.lower() for s in path.suffixes]
        suffix = (
            suffixes[-2]
            if suffixes[-1:] == [".gz"] and len(suffixes) > 1
            else (suffixes[-1] if suffixes else "")
        )
        info = SourceInfo(name=path.name, format="", n_rows=0, columns=[], path=str(path))
        info.sha256 = file_sha256(path)
        if suffix in UNSUPPORTED:
            raise InputError(f"File '{path}': {UNSUPPORTED[suffix]}.")
        if suffix in EXCEL_SUFFIXES:
            info.format = "excel"
            _read_excel(engine, path, info, sheet)
        elif suffix in PARQUET_SUFFIXES:
            info.format = "parquet"
            _read_parquet(engine, path, info)
        elif suffix in TEXT_SUFFIXES or suffix == "":
            info.format = "csv"
            _read_text(engine, path, info)
        else:
            raise InputError(
                f"File '{path}' has an unsupported extension '{suffix}'. "
                "custseg reads .csv, .tsv, .txt (optionally .gz), .xlsx and .parquet."
            )
    info.columns = [name for name, _ in engine.columns("raw") if name != "_row"]
    info.n_rows = int(engine.scalar("SELECT count(*) FROM raw"))
    if info.n_rows == 0:
        raise InputError(
            f"{'File ' + repr(info.path) if info.path else 'The DataFrame'} has a header but no data rows."
        )
    return info


__all__ = ["NA_VALUES", "SourceInfo", "load_source", "quote_ident"]
