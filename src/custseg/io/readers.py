"""Readers: put any supported source into the engine as one table named ``raw``.

The ``raw`` table has a 1-based ``_row`` column (the data row number, header excluded) and the
source's columns under their own names. Delimited text is read with every column as text, so
that ids keep their leading zeros and nothing is guessed before :mod:`custseg.schema` looks at
names and values. Every text value spelled as in :data:`NA_VALUES` becomes missing, whatever
the source.

Row numbers and line numbers: error messages say *row N* for the N-th data row (the header is
not counted; Excel rows that are entirely empty keep their number), and *line N* for the N-th
line of a text file as an editor shows it (the header is line 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from custseg.engines.duckdb import DuckDBEngine, quote_ident, sql_literal
from custseg.errors import InputError
from custseg.io.sniff import (
    MAX_LINE_CHARS,
    TextFormat,
    check_width,
    line_numbers,
    sample_lines,
    sniff_text,
    transcode_to_utf8,
)
from custseg.io.sources import (
    EXCEL_SUFFIXES,
    PARQUET_SUFFIXES,
    TEXT_SUFFIXES,
    UNSUPPORTED,
    InputFiles,
    resolve_files,
    suffix_of,
)

#: Text that means "no value", in every source (delimited text, Excel text cells, text columns
#: of Parquet files and DataFrames). Matched exactly (case counts) after trimming spaces, tabs
#: and line breaks, so ``" NA "`` and a cell of blanks are missing too. ``-`` is the usual
#: "nothing" of spreadsheets; ``#N/A`` is Excel's failed lookup.
NA_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "-")
#: Characters trimmed before a value is compared with :data:`NA_VALUES`.
NA_TRIM = " \t\r\n"
NA_PATTERN = (
    "[ \\t\\r\\n]*("
    + "|".join(re.sub(r"([^A-Za-z0-9])", r"\\\1", v) for v in NA_VALUES if v)
    + ")?[ \\t\\r\\n]*"
)

#: Column names custseg uses itself in the ``raw`` table (compared ignoring case, as DuckDB
#: does); a source column with one of these names must be renamed.
RESERVED_COLUMNS = ("_row",)
#: DuckDB's row number of a Parquet file (0-based); a file with a column of that name is copied
#: into a table instead of being read in place.
PARQUET_ROW_COLUMN = "file_row_number"

#: Limits that stop zip and XML bombs in .xlsx files before any XML is parsed. An .xlsx file is
#: a zip archive of XML parts; a bomb declares (or hides) parts that unpack to gigabytes.
#: - Total unpacked size: a full Excel sheet (1,048,576 rows x 20 columns) is about 1 GB of
#:   XML, and the reader holds a sheet's cells in memory, so more is refused.
XLSX_MAX_UNCOMPRESSED = 1024**3
#: - Unpacked / packed size of one part: real sheet XML packs 5-20x (a sheet of 100,000
#:   identical rows packs 16x); deflate cannot exceed about 1,030x, where zero-filled bombs sit.
XLSX_MAX_RATIO = 200
#: - The ratio is judged only for parts that unpack to more than this (tiny parts pack oddly).
XLSX_RATIO_MIN_SIZE = 1024**2
#: - Number of parts: a workbook with many sheets and images has hundreds.
XLSX_MAX_ENTRIES = 10_000
#: XML declarations that genuine workbooks never contain; entity expansion is the XML bomb.
XML_BOMB_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
#: Excel date serials (days since 1899-12-30) converted when they share a column with dates:
#: 1 is 1900-01-01 and 2,958,465 is 9999-12-31.
EXCEL_SERIAL_RANGE = (1.0, 2_958_465.0)
EXCEL_EPOCH = dt.datetime(1899, 12, 30)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A formula cell whose value was never stored: ``<f>..</f>`` (or ``<f .../>``), then at most an
# empty ``<v/>``, then the end of the cell.
_FORMULA_NO_VALUE = re.compile(
    rb"(?:</f>|<f\b[^>]*/>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>",
)


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
    n_files: int | None = None
    """Files read: 1 for a file, more for a folder or glob (``path`` is then the folder or
    pattern, and ``sha256`` the digest of the files' names and digests); ``None`` for a
    DataFrame."""
    table: str | None = None
    """The table of a database source (``path`` is then the database's URL, password
    hidden)."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Rows of the file left out before the table is read as data, by reason
    (:data:`LEFT_OUT_RULES`): the export's totals lines, repeated header lines. They count in
    the row accounting (rows in = kept + dropped)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def describe_source(info: SourceInfo) -> str:
    """How messages name the input: ``File 'x.csv'``, ``The 3 files of 'orders/'``, or
    ``The DataFrame``.

    Examples
    --------
    >>> describe_source(SourceInfo("orders", "csv", 10, ["a"], path="orders/", n_files=3))
    "The 3 files of 'orders/'"
    """
    if info.table is not None:
        return f"Table '{info.table}' of {info.path}"
    if not info.path:
        return "The DataFrame"
    if (info.n_files or 1) > 1:
        return f"The {info.n_files} files of '{info.path}'"
    return f"File '{info.path}'"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- column names


def _blank_name(position: int) -> str:
    """Placeholder for a column without a name (1-based position); dropped when empty."""
    return f"(column {position} without a name)"


def _check_names(columns: list[str], where: str) -> list[str]:
    """Reject duplicate and reserved names; return the names with placeholders for blanks.

    Blank names are not rejected here: a column without a name that holds no value (a trailing
    delimiter on every line, a formatted empty column in Excel) is dropped once read, and one
    that holds values is reported by :func:`_drop_unnamed`.
    """
    names = [str(c).strip() for c in columns]
    reserved = [c for c in names if c.lower() in RESERVED_COLUMNS]
    if reserved:
        raise InputError(
            f"{where} has a column named '{reserved[0]}', a name custseg keeps for row numbers. "
            "Rename that column."
        )
    # DuckDB, like most tools, compares column names ignoring case.
    counts = Counter(c.lower() for c in names if c)
    dups = [c for c in names if c and counts[c.lower()] > 1]
    if dups:
        positions = [i + 1 for i, c in enumerate(names) if c.lower() == dups[0].lower()]
        spellings = [names[p - 1] for p in positions]
        same = " (names are compared ignoring case)" if len(set(spellings)) > 1 else ""
        raise InputError(
            f"{where} has duplicate column names: '{spellings[0]}' appears {len(positions)} "
            f"times (columns {', '.join(map(str, positions))} of {len(names)}){same}. Rename "
            "them so every column name is unique."
        )
    return [c if c else _blank_name(i + 1) for i, c in enumerate(names)]


def _drop_unnamed(engine: DuckDBEngine, names: list[str], where: str, info: SourceInfo) -> None:
    """Drop columns without a name that hold no value; reject those that hold values."""
    blanks = [(i + 1, c) for i, c in enumerate(names) if c == _blank_name(i + 1)]
    dropped = []
    for position, col in blanks:
        q = quote_ident(col)
        row = engine.sql(
            f"SELECT _row, {q} FROM raw WHERE {q} IS NOT NULL ORDER BY _row LIMIT 1"
        ).fetchone()
        if row is not None:
            raise InputError(
                f"{where} has a column without a name (column {position} of {len(names)}) that "
                f"holds values, e.g. {str(row[1])!r} in row {row[0]}. Give every column a header "
                "name; if the first row is a title or a note, remove it so that the column names "
                "come first."
            )
        engine.sql(f"ALTER TABLE raw DROP COLUMN {q}")
        dropped.append(str(position))
    if dropped:
        info.notes.append(
            f"dropped {len(dropped)} empty column(s) without a name (column {', '.join(dropped)})"
        )


#: Code points a value spelled as in :data:`NA_VALUES` can start with (a trimmed character or
#: the first letter of a spelling): other values skip the regular expression.
NA_FIRST_CODES = tuple(sorted({ord(c) for c in NA_TRIM} | {ord(v[0]) for v in NA_VALUES if v}))


def _na_select(name: str) -> str:
    """SQL that turns the spellings of :data:`NA_VALUES` of a text column into NULL."""
    q = quote_ident(name)
    # One full regular-expression match is several times faster than trim() with a character
    # set, and testing the first character first skips it for almost every value (5M lines,
    # 4 text columns: 1.96 -> 1.14 s CPU per scan; a plain scan is 0.72 s).
    codes = ", ".join(str(c) for c in NA_FIRST_CODES)
    return (
        f"CASE WHEN ({q} = '' OR ord({q}) IN ({codes})) "
        f"AND regexp_full_match({q}, {sql_literal(NA_PATTERN)}) THEN NULL ELSE {q} END AS {q}"
    )


# ---------------------------------------------------------------- delimited text


def _describe_reject(error_type: str, message: str, n_columns: int) -> str:
    found = re.search(r"Found:\s*(\d+)", message or "")
    if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS") and found:
        return f"has {found.group(1)} fields instead of {n_columns}"
    size = re.search(r"Actual Size:\s*(\d+)", message or "")
    if size:
        return (
            f"is {int(size.group(1)):,} bytes long, beyond the limit of {MAX_LINE_CHARS:,} for one "
            "line (a huge cell, or a quote that is never closed)"
        )
    text = (message or error_type or "cannot be read").strip().rstrip(".")
    return "cannot be read: " + text[:1].lower() + text[1:]


@dataclass
class _TextFile:
    """One delimited file of a source, as DuckDB reads it."""

    path: Path
    """The file as the user named it (or as the folder or pattern listed it)."""
    target: Path
    """What DuckDB reads: the file itself, or its UTF-8 copy when written in another encoding."""
    compressed: bool
    """Whether ``target`` is gzip-compressed."""
    names: list[str]
    """Column names of its header (placeholders for blanks)."""


def _report_rejects(engine: DuckDBEngine, files: list[_TextFile], fmt: TextFormat) -> None:
    rejects = engine.sql(
        "SELECT s.file_path, e.line, e.line_byte_position, e.error_type, e.csv_line, "
        "e.error_message FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) "
        "ORDER BY e.line"
    ).fetchall()
    # Lines of nothing but blanks are not data; DuckDB skips empty lines itself.
    real = [r for r in rejects if (r[4] or "").strip(NA_TRIM)]
    if not real:
        return
    by_target = {str(f.target): f for f in files}
    per_file: dict[str, list[tuple[Any, ...]]] = {}
    for r in real:
        per_file.setdefault(str(r[0]), []).append(r[1:])
    order = [str(f.target) for f in files]
    first_target = min(per_file, key=lambda t: order.index(t) if t in order else len(order))
    file = by_target.get(first_target, files[0])
    mine = per_file[first_target]
    offsets = [int(r[1]) for r in mine if r[1] is not None]
    at = line_numbers(file.target, file.compressed, offsets)
    by_line: dict[int, tuple[Any, ...]] = {}
    for r in mine:
        line = at[int(r[1])] if r[1] is not None else int(r[0])
        by_line.setdefault(line, r)
    lines = sorted(by_line)
    first = by_line[lines[0]]
    shown = ", ".join(map(str, lines[:5])) + (
        f", ... ({len(lines):,} in all)" if len(lines) > 5 else ""
    )
    content = str(first[3]).strip(NA_TRIM)
    content = content if len(content) <= 60 else content[:57] + "..."
    others = len(per_file) - 1
    more = f" {others} other file(s) have malformed lines too." if others else ""
    n_columns = len(file.names)
    raise InputError(
        f"File '{file.path}' has {len(lines):,} malformed line(s) "
        f"(line{'s' if len(lines) > 1 else ''} {shown}): line {lines[0]} "
        f"{_describe_reject(first[2], first[4], n_columns)} ({content!r}). Every line needs "
        f"{n_columns} {fmt.delimiter_label}-separated fields; fix or remove those lines (a value "
        f"that holds the delimiter or a line break must be in double quotes).{more}"
    )


#: A line among the first (sniffed) lines with this many fields more than the header is
#: reported at once, before DuckDB reads the file: its reader takes time quadratic in the fields
#: of a malformed line (2,000 fields 1 s, 20,000 5.5 s, 150,000 200 s).
RAGGED_FIELDS_AT_ONCE = 1_000


def _refuse_wide_ragged(path: Path, fmt: TextFormat, n_columns: int) -> None:
    """Raise for a line of the sniffed sample with far more fields than the header."""
    reader = csv.reader(sample_lines(path, fmt.compressed, fmt.encoding), delimiter=fmt.delimiter)
    next(reader, None)
    for row in reader:
        if len(row) > n_columns + RAGGED_FIELDS_AT_ONCE:
            line = reader.line_num
            content = fmt.delimiter.join(row[:20])[:57] + "..."
            raise InputError(
                f"File '{path}' has a malformed line (line {line}): line {line} has "
                f"{len(row):,} fields instead of {n_columns} ({content!r}). Every line needs "
                f"{n_columns} {fmt.delimiter_label}-separated fields; fix or remove that line "
                "(a value that holds the delimiter or a line break must be in double quotes), "
                "then run again to check the others."
            )


def _one_column_error(path: Path, fmt: TextFormat) -> InputError:
    lines = [ln for ln in sample_lines(path, fmt.compressed, fmt.encoding)[:20] if ln.strip()]
    best = 1
    for delim in (",", "\t", ";", "|"):
        widths = Counter(len(r) for r in csv.reader(lines[1:], delimiter=delim) if r)
        if widths:
            best = max(best, widths.most_common(1)[0][0])
    header = fmt.header[0] if fmt.header else ""
    header = header if len(header) <= 60 else header[:57] + "..."
    if best > 1:
        return InputError(
            f"File '{path}' has only 1 column: its first line ({header!r}) has 1 field but the "
            f"next lines have {best}. If the first line is a title or a note, remove it so that "
            "the column names come first."
        )
    if re.fullmatch(r"[\w.()-]*", header):
        # A plain column name: a table of one column, not one with an unknown delimiter.
        return InputError(
            f"File '{path}' has only 1 column ({header!r}). custseg needs a customer id and at "
            "least one more column: invoice lines (date, and amount or quantity and price) or "
            "customer attributes to segment on. Add them; if the file has more columns, "
            "separate them with a comma, tab, semicolon or pipe."
        )
    return InputError(
        f"File '{path}' has only 1 column ({header!r}): no comma, tab, semicolon or pipe "
        "separates its fields. custseg needs a customer id and at least one more column; export "
        "the table as CSV with one of those delimiters."
    )


def _utf8_target(engine: DuckDBEngine, path: Path, fmt: TextFormat, index: int) -> Path:
    """The file itself when DuckDB can read it, else a UTF-8 copy in the engine's folder."""
    if fmt.encoding in ("utf-8", "utf-8-sig"):
        return path
    target = Path(engine.tmpdir) / f"source-utf8-{index}.csv"
    try:
        transcode_to_utf8(path, fmt, target)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise InputError(
            f"File '{path}' could not be read as {fmt.encoding_label} text ({exc}). "
            "Export it again, as UTF-8 if you can."
        ) from None
    return target


def _next_file(
    engine: DuckDBEngine, path: Path, first: Path, fmt: TextFormat, index: int
) -> _TextFile:
    """A further file of a folder or pattern, read with the options sniffed on the first."""
    same = (
        f"Every file of a folder or pattern is read like the first one, '{first}' "
        f"({fmt.encoding_label}, {fmt.delimiter_label}-separated, with a header line)"
    )
    if path.stat().st_size == 0:
        raise InputError(
            f"File '{path}' is empty (0 bytes): no header and no data rows. Remove it from the "
            "folder, or export the table again with its header and rows."
        )
    with open(path, "rb") as fh:
        compressed = fh.read(2).startswith(b"\x1f\x8b")
    if compressed != fmt.compressed:
        state = "is" if compressed else "is not"
        raise InputError(
            f"File '{path}' {state} gzip-compressed and '{first}' {'is not' if compressed else 'is'}"
            ". Compress all the files of the folder alike (or none), then try again."
        )
    try:
        lines = [ln for ln in sample_lines(path, compressed, fmt.encoding) if ln.strip()]
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"File '{path}' could not be read as {fmt.encoding_label} text ({exc}). {same}: "
            "export the files alike."
        ) from None
    if not lines:
        raise InputError(
            f"File '{path}' is empty: no header and no data rows (only blank lines). Remove it "
            "from the folder, or export the table again with its header and rows."
        )
    header = [h.strip() for h in next(csv.reader(lines, delimiter=fmt.delimiter))]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0].lstrip("\ufeff").strip()
    check_width(path, header)
    names = _check_names(header, f"File '{path}'")
    if len(names) == 1:
        raise InputError(
            f"File '{path}' has only 1 column ({header[0][:60]!r}) when split at the "
            f"{fmt.delimiter_label}. {same}: export the files alike."
        )
    target = _utf8_target(engine, path, fmt, index)
    return _TextFile(path, target, compressed and target == path, names)


def _union_names(files: list[_TextFile], info: SourceInfo) -> list[str]:
    """Columns of files whose headers differ, read by name; notes what each file lacks."""
    for f in files:
        blank = [i + 1 for i, c in enumerate(f.names) if c == _blank_name(i + 1)]
        if blank:
            raise InputError(
                f"File '{f.path}' has a column without a name (column {blank[0]} of "
                f"{len(f.names)}), and the files' headers differ, so columns are matched by "
                "name. Give every column a header name."
            )
    names: list[str] = []
    seen: set[str] = set()
    for f in files:
        for c in f.names:
            if c.lower() not in seen:
                seen.add(c.lower())
                names.append(c)
    lacking: Counter[str] = Counter()
    example: dict[str, Path] = {}
    for f in files:
        have = {c.lower() for c in f.names}
        for c in names:
            if c.lower() not in have:
                lacking[c] += 1
                example.setdefault(c, f.path)
    if lacking:
        parts = [
            f"'{c}' is missing from {n} file(s) (e.g. {example[c].name})"
            for c, n in lacking.most_common(3)
        ]
        info.notes.append(
            "the files' headers differ; columns were matched by name, and a column a file lacks "
            "is empty for its rows: " + "; ".join(parts)
        )
    elif files:
        info.notes.append("the files' columns come in different orders; matched by name")
    return names


def _read_text(
    engine: DuckDBEngine, paths: list[Path], info: SourceInfo, where_all: str | None = None
) -> None:
    """Read one delimited file, or several (``where_all`` names them) with the options sniffed
    on the first."""
    path = paths[0]
    fmt = sniff_text(path)
    info.encoding = fmt.encoding_label
    info.delimiter = fmt.delimiter_label
    where = f"File '{path}'"
    names = _check_names(fmt.header, where)
    if len(names) == 1:
        raise _one_column_error(path, fmt)
    _refuse_wide_ragged(path, fmt, len(names))
    target = _utf8_target(engine, path, fmt, 0)
    files = [_TextFile(path, target, fmt.compressed and target == path, names)]
    files += [_next_file(engine, p, path, fmt, i) for i, p in enumerate(paths[1:], start=1)]
    nulls = "[" + ", ".join(sql_literal(v) for v in NA_VALUES) + "]"
    if len(files) == 1:
        targets = sql_literal(str(target))
    else:
        targets = "[" + ", ".join(sql_literal(str(f.target)) for f in files) + "]"
    # Every target has the same compression: checked in _next_file, and UTF-8 copies are plain.
    options = (
        f"header=true, delim={sql_literal(fmt.delimiter)}, quote='\"', escape='\"', "
        f"nullstr={nulls}, compression={sql_literal('gzip' if files[0].compressed else 'none')}, "
        f"store_rejects=true, ignore_errors=true, max_line_size={MAX_LINE_CHARS}"
    )
    if all(f.names == names for f in files):
        columns = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in names) + "}"
        query = (
            f"SELECT * FROM read_csv({targets}, columns={columns}, auto_detect=false, {options})"
        )
        order = ""
    else:
        # Headers differ: each file is read with its own header, and the files are stacked
        # by column name, in file order (DuckDB's union_by_name cannot report bad lines).
        names = _union_names(files, info)
        scans = []
        for i, f in enumerate(files):
            columns = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in f.names) + "}"
            scans.append(
                f"SELECT {i} AS _file, row_number() OVER () AS _line, * FROM read_csv("
                f"{sql_literal(str(f.target))}, columns={columns}, auto_detect=false, "
                f"{options})"
            )
        query = " UNION ALL BY NAME ".join(f"({q})" for q in scans)
        order = "ORDER BY _file, _line"
    selects = ", ".join(_na_select(c) for c in names)
    try:
        engine.sql(
            f"CREATE TABLE raw AS SELECT row_number() OVER ({order}) AS _row, {selects} "
            f"FROM ({query})" + (" ORDER BY _row" if order else "")
        )
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        what = where_all or f"File '{path}'"
        raise InputError(
            f"{what} could not be read as {fmt.delimiter_label}-separated text: {first}. "
            "Check that it is a CSV export of a table."
        ) from None
    _report_rejects(engine, files, fmt)
    _drop_unnamed(engine, names, where, info)


# ---------------------------------------------------------------- Excel


def _size(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024**2 else f"{n / 1024**2:,.0f} MB"


def _refuse_xlsx(path: Path, what: str) -> InputError:
    return InputError(
        f"File '{path}' was refused: {what}. This protects against zip and XML bombs; if the "
        "workbook is genuine, save the sheet as .csv and pass that file."
    )


def _check_xlsx(path: Path, info: SourceInfo | None = None) -> None:
    """Refuse files that are not .xlsx workbooks, and zip or XML bombs, before parsing.

    The sizes a zip declares are checked first; then every part is unpacked as a stream (and
    thrown away) to check the real sizes, the CRC and that no XML declares entities. Formula
    cells without a stored value are counted on the way and noted in ``info``.
    """
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(OLE_MAGIC):
        raise InputError(
            f"File '{path}' is not a valid .xlsx workbook: it is an old .xls workbook or a "
            "password-protected one. Open it in Excel or LibreOffice and save it as .xlsx "
            "(without a password) or .csv."
        )
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"File '{path}' is not a valid .xlsx workbook (an .xlsx file is a zip archive, this "
            "one is not). If it is an old .xls file or a CSV renamed to .xlsx, save it as .xlsx "
            "or .csv from Excel or LibreOffice."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > XLSX_MAX_ENTRIES:
                raise _refuse_xlsx(
                    path, f"it holds {len(infos):,} parts, beyond the limit of {XLSX_MAX_ENTRIES:,}"
                )
            declared = sum(i.file_size for i in infos)
            if declared > XLSX_MAX_UNCOMPRESSED:
                raise _refuse_xlsx(
                    path,
                    f"it unpacks to {_size(declared)}, beyond the limit of "
                    f"{_size(XLSX_MAX_UNCOMPRESSED)}",
                )
            for i in infos:
                ratio = i.file_size / max(1, i.compress_size)
                if i.file_size > XLSX_RATIO_MIN_SIZE and ratio > XLSX_MAX_RATIO:
                    raise _refuse_xlsx(
                        path,
                        f"its part '{i.filename}' unpacks to {_size(i.file_size)}, "
                        f"{ratio:,.0f} times its packed size, beyond the limit of "
                        f"{XLSX_MAX_RATIO}x",
                    )
            if "xl/workbook.xml" not in zf.namelist():
                raise InputError(
                    f"File '{path}' is not a valid .xlsx workbook: it is a zip archive without "
                    "a workbook inside. Unzip it, or save the table from Excel as .xlsx or .csv."
                )
            no_value = _scan_parts(path, zf, infos)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
        raise InputError(
            f"File '{path}' is not a valid .xlsx workbook: the archive is damaged ({exc}). "
            "Save it again from Excel or LibreOffice, or export the sheet as .csv."
        ) from None
    if no_value and info is not None:
        info.notes.append(
            f"{no_value:,} formula cell(s) have no stored value and are read as empty: open the "
            "workbook in Excel or LibreOffice and save it to store their values"
        )


def _scan_parts(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> int:
    """Unpack every part as a stream; check sizes and markers; count value-less formulas."""
    total = 0
    no_value = 0
    overlap = 256
    for i in infos:
        is_sheet = i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
        tail = b""
        size = 0
        # ZipExtFile stops at the declared size and checks the CRC: a part that hides its real
        # size fails here with BadZipFile.
        with zf.open(i) as part:
            while chunk := part.read(1 << 20):
                size += len(chunk)
                total += len(chunk)
                if total > XLSX_MAX_UNCOMPRESSED:
                    raise _refuse_xlsx(
                        path,
                        f"it unpacks to more than the limit of {_size(XLSX_MAX_UNCOMPRESSED)}",
                    )
                window = tail + chunk
                if i.filename.endswith((".xml", ".rels", ".vml")) and any(
                    m in window for m in XML_BOMB_MARKERS
                ):
                    raise _refuse_xlsx(
                        path,
                        f"its part '{i.filename}' declares XML entities (<!DOCTYPE or <!ENTITY>), "
                        "which genuine workbooks never do",
                    )
                if is_sheet:
                    no_value += sum(
                        1 for m in _FORMULA_NO_VALUE.finditer(window) if m.end() > len(tail)
                    )
                tail = window[-overlap:]
    return no_value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cell_text(v: Any) -> str | None:
    """One Excel cell as text: whole numbers without ``.0``, dates in ISO format."""
    if v is None or v == "":
        return None
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e18:
            return str(int(v))
        return repr(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    return str(v)


def _column_from_cells(values: list[Any], name: str, notes: list[str]) -> pd.Series:
    """Turn one Excel column into a typed Series: numbers, timestamps, or text.

    A column of real Excel dates becomes timestamps. Numbers among dates are Excel date
    serials whose cell lost its date format; they are converted (1900 date system) and noted.
    Anything else mixed is text, with whole numbers written without ``.0``.
    """
    present = [v for v in values if v is not None and v != ""]
    if present and all(_is_number(v) for v in present):
        return pd.Series([None if v in (None, "") else float(v) for v in values], dtype="float64")
    has_dates = any(isinstance(v, dt.date) for v in present)
    if (
        has_dates
        and all(isinstance(v, dt.date) or _is_number(v) for v in present)
        and all(
            EXCEL_SERIAL_RANGE[0] <= v <= EXCEL_SERIAL_RANGE[1] for v in present if _is_number(v)
        )
    ):
        n_serials = sum(1 for v in present if _is_number(v))
        if n_serials:
            notes.append(
                f"column '{name}': {n_serials:,} number(s) among its dates were read as Excel "
                "date serials (days since 1899-12-30)"
            )
        stamps = [
            None
            if v in (None, "")
            else (
                EXCEL_EPOCH + dt.timedelta(days=float(v))
                if _is_number(v)
                else (v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day))
            )
            for v in values
        ]
        return pd.Series(stamps, dtype="datetime64[us]")
    return pd.Series([_cell_text(v) for v in values], dtype="object")


def _read_excel(engine: DuckDBEngine, path: Path, info: SourceInfo, sheet: str | None) -> None:
    _check_xlsx(path, info)
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
    except Exception as exc:  # calamine raises its own error types
        raise InputError(
            f"File '{path}' is not a valid .xlsx workbook ({' '.join(str(exc).split())[:200]}). "
            "Save it again from Excel or LibreOffice, or export the sheet as .csv."
        ) from None
    if not names:
        raise InputError(f"File '{path}' has no sheets. Save a workbook with the table in it.")
    if sheet is None:
        sheet = names[0]
        if len(names) > 1:
            info.notes.append(
                f"workbook has {len(names)} sheets ({', '.join(names)}); read the first, "
                f"'{sheet}' (pass --sheet to choose another)"
            )
    elif sheet not in names:
        raise InputError(
            f"File '{path}' has no sheet '{sheet}'. Sheets: {', '.join(names)}. Pass one of them "
            "to --sheet."
        )
    info.sheet = sheet
    where = f"Sheet '{sheet}' of '{path}'"
    try:
        rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=True)
    except Exception as exc:  # calamine raises its own error types
        raise InputError(
            f"{where} could not be read ({' '.join(str(exc).split())[:200]}). Save the workbook "
            "again from Excel or LibreOffice, or export the sheet as .csv."
        ) from None
    if not rows or not any(_cell_text(v) for v in rows[0]):
        others = [n for n in names if n != sheet]
        hint = f" Other sheets: {', '.join(others)}; pass one to --sheet." if others else ""
        raise InputError(f"{where} is empty: no header and no data rows.{hint}")
    header = _check_names([_cell_text(h) or "" for h in rows[0]], where)
    width = len(header)
    body: list[tuple[int, list[Any]]] = []
    blank: list[int] = []
    for number, row in enumerate(rows[1:], start=1):
        cells = [row[i] if i < len(row) else None for i in range(width)]
        if any(v is not None and v != "" for v in cells):
            body.append((number, cells))
        else:
            blank.append(number + 1)  # the sheet's own row number (the header is row 1)
    notes: list[str] = []
    if blank:
        # Said, not silent: the reader cannot tell an empty cell from one holding an Excel
        # error (#N/A, #DIV/0!), which it reads as empty too.
        shown = ", ".join(str(n) for n in blank[:5]) + (", ..." if len(blank) > 5 else "")
        notes.append(
            f"{where}: {len(blank):,} row(s) with no value were skipped (sheet rows {shown}); "
            "cells holding an Excel error such as #N/A or #DIV/0! read as empty, so check "
            "those rows if they should hold data."
        )
    columns: dict[str, Any] = {"_row": pd.Series([n for n, _ in body], dtype="int64")}
    for i, name in enumerate(header):
        columns[name] = _column_from_cells([cells[i] for _, cells in body], name, notes)
    info.notes.extend(notes)
    _register_frame(engine, pd.DataFrame(columns))
    _drop_unnamed(engine, header, where, info)


# ---------------------------------------------------------------- DataFrames and Parquet


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip(NA_TRIM) in NA_VALUES
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # list-like cells
        return False


def _text_values(column: pd.Series) -> pd.Series | np.ndarray:
    """A text column with ``str(v)`` for each value and missing values where
    :func:`_is_missing` says so.

    Vectorised. A pandas string column keeps its dtype (DuckDB reads it faster than Python
    objects); its spellings of :data:`NA_VALUES` are masked in one pass. An object column
    becomes an object array: missing values are found by ``pandas.isna`` on the whole column,
    and the text values are factorized so that each distinct spelling is trimmed and compared
    with :data:`NA_VALUES` once (a column of invoice numbers or countries has few). Only values
    that are neither text nor missing (numbers, dates, lists) go through ``str()`` one by one.
    """
    if isinstance(column.dtype, pd.StringDtype):
        spelled = column.str.strip(NA_TRIM).isin(NA_VALUES)
        return column.mask(spelled.to_numpy(dtype=bool, na_value=False))
    values = column.to_numpy(dtype=object)
    n = len(values)
    out = np.full(n, None, dtype=object)
    missing = np.asarray(pd.isna(values), dtype=bool)
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        is_text = ~missing
    else:
        is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=n)
        other = ~is_text & ~missing
        if other.any():
            out[other] = [str(v) for v in values[other]]
    if is_text.any():
        codes, uniques = pd.factorize(values[is_text])
        spelled_na = pd.Series(uniques, dtype=object).str.strip(NA_TRIM).isin(NA_VALUES)
        texts = np.array([str(v) for v in uniques] + [None], dtype=object)
        texts[:-1][spelled_na.to_numpy()] = None
        out[is_text] = texts[codes]  # code -1 (none here) would take the final None
    return out


def _register_frame(engine: DuckDBEngine, frame: pd.DataFrame) -> None:
    """Create ``raw`` from a frame; text columns become str (NA spellings missing).

    The frame may carry its own ``_row`` column (Excel row numbers); otherwise rows are
    numbered 1..n in frame order.
    """
    frame = frame.copy()
    if "_row" not in frame.columns:
        frame.insert(0, "_row", np.arange(1, len(frame) + 1, dtype="int64"))
    for col in frame.columns:
        dtype = frame[col].dtype
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            values = _text_values(frame[col])
            frame[col] = (
                values
                if isinstance(values, pd.Series)
                else pd.Series(values, index=frame.index, dtype=object)
            )
    engine.con.register("source_frame", frame)
    try:
        engine.sql("CREATE TABLE raw AS SELECT * FROM source_frame ORDER BY _row")
    finally:
        engine.con.unregister("source_frame")
    # A column with no value at all arrives without a type; it is empty text.
    for name, typ in engine.columns("raw"):
        if typ.strip('"') == "NULL":
            engine.sql(f"ALTER TABLE raw ALTER {quote_ident(name)} TYPE VARCHAR")


def _read_frame(engine: DuckDBEngine, source: pd.DataFrame, info: SourceInfo) -> None:
    where = "The DataFrame"
    names = _check_names([str(c) for c in source.columns], where)
    frame = source.copy()
    frame.columns = pd.Index(names)
    _register_frame(engine, frame.reset_index(drop=True))
    _drop_unnamed(engine, names, where, info)


def _parquet_columns_note(engine: DuckDBEngine, targets: str, paths: list[Path]) -> str | None:
    """Say which columns some of the files lack (they are empty for those files' rows)."""
    rows = engine.sql(
        f"SELECT file_name, name FROM parquet_schema({targets}) WHERE num_children IS NULL"
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for file_name, name in rows:
        columns.setdefault(str(file_name), set()).add(str(name))
    every = set().union(*columns.values()) if columns else set()
    lacking: Counter[str] = Counter()
    example: dict[str, str] = {}
    for file_name in [str(p) for p in paths]:
        for name in sorted(every - columns.get(file_name, every)):
            lacking[name] += 1
            example.setdefault(name, Path(file_name).name)
    if not lacking:
        return None
    parts = [
        f"'{c}' is missing from {n} file(s) (e.g. {example[c]})" for c, n in lacking.most_common(3)
    ]
    return (
        "the files' columns differ; columns were matched by name, and a column a file lacks is "
        "empty for its rows: " + "; ".join(parts)
    )


def _read_parquet(
    engine: DuckDBEngine, paths: list[Path], info: SourceInfo, where_all: str | None = None
) -> None:
    """Read one Parquet file, or several (``where_all`` names them) matched by column name."""
    where = where_all or f"File '{paths[0]}'"
    if len(paths) == 1:
        relation = f"read_parquet({sql_literal(str(paths[0]))})"
    else:
        targets = "[" + ", ".join(sql_literal(str(p)) for p in paths) + "]"
        relation = f"read_parquet({targets}, union_by_name=true)"
    invalid = (
        "is not a valid Parquet file" if len(paths) == 1 else "could not be read as Parquet files"
    )
    try:
        described = engine.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        if len(paths) > 1:
            note = _parquet_columns_note(engine, targets, paths)
            if note:
                info.notes.append(note)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            f"{where} {invalid} ({first}). Export it again, or save the table as .csv."
        ) from None
    names = [str(r[0]) for r in described]
    if _check_names(names, where) != names:
        raise InputError(f"{where} has a column without a name. Give every column a name.")
    selects = ", ".join(
        _na_select(name) if typ == "VARCHAR" else quote_ident(name) for name, typ, *_ in described
    )
    try:
        if len(paths) == 1 and PARQUET_ROW_COLUMN not in {n.lower() for n in names}:
            # One file stays where it is: ``raw`` is a view that reads it (with its row numbers)
            # each time, so it is never copied into memory. At 5M lines the copy took 3.2 s and
            # most of the memory; DuckDB reads only the columns a query needs.
            engine.sql(
                f"CREATE VIEW raw AS SELECT {PARQUET_ROW_COLUMN} + 1 AS _row, {selects} "
                f"FROM read_parquet({sql_literal(str(paths[0]))}, file_row_number=true)"
            )
        else:
            engine.sql(
                f"CREATE TABLE raw AS SELECT row_number() OVER () AS _row, {selects} "
                f"FROM {relation}"
            )
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            f"{where} {invalid} ({first}). Export it again, or save the table as .csv."
        ) from None


# ---------------------------------------------------------------- entry point


def files_sha256(paths: list[Path], base: Path | None) -> str:
    """One digest for several files: SHA-256 of the lines ``<sha256>  <name>`` in read order
    (like ``sha256sum``'s output), so renaming, adding or changing any file changes it."""
    digest = hashlib.sha256()
    for p in paths:
        name = p.name
        if base is not None and p.is_relative_to(base):
            name = p.relative_to(base).as_posix()
        digest.update(f"{file_sha256(p)}  {name}\n".encode())
    return digest.hexdigest()


def _refuse_xls(path: Path) -> None:
    """Say what a ``.xls`` file holds when it is not an old Excel workbook: many systems
    export text or an HTML table under that name."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return
    if not head or head.startswith(b"\xd0\xcf\x11\xe0"):
        return
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype", b"<table", b"<?xml", b"<meta", b"<head", b"<body")):
        raise InputError(
            f"File '{path}' is named .xls but holds a web page or XML table, not an Excel "
            "workbook: open it in Excel or LibreOffice and save it as .xlsx or .csv."
        )
    if b"\x00" not in head:
        raise InputError(
            f"File '{path}' is named .xls but holds plain text, not an Excel workbook: rename "
            "it to .csv (or .tsv when its columns are separated by tabs)."
        )


def _read_file(engine: DuckDBEngine, path: Path, info: SourceInfo, sheet: str | None) -> None:
    suffix = suffix_of(path)
    if suffix == ".xls":
        _refuse_xls(path)
    if suffix in UNSUPPORTED:
        raise InputError(f"File '{path}': {UNSUPPORTED[suffix]}.")
    if suffix not in TEXT_SUFFIXES | EXCEL_SUFFIXES | PARQUET_SUFFIXES | {""}:
        raise InputError(
            f"File '{path}' has an unsupported extension '{suffix}'. "
            "custseg reads .csv, .tsv, .txt (optionally .gz), .xlsx and .parquet."
        )
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        raise InputError(
            f"--sheet applies to Excel workbooks only, and '{path}' is not one. Leave out --sheet."
        )
    if path.stat().st_size == 0:
        raise InputError(
            f"File '{path}' is empty (0 bytes): no header and no data rows. Export the "
            "table again with its header and rows."
        )
    info.sha256 = file_sha256(path)
    if suffix in EXCEL_SUFFIXES:
        info.format = "excel"
        _read_excel(engine, path, info, sheet)
    elif suffix in PARQUET_SUFFIXES:
        info.format = "parquet"
        _read_parquet(engine, [path], info)
    else:
        info.format = "csv"
        _read_text(engine, [path], info)


def _read_files(
    engine: DuckDBEngine, files: InputFiles, info: SourceInfo, sheet: str | None
) -> None:
    """Several files of one format (CSV or Parquet) as one table, rows numbered in file order."""
    if sheet is not None:
        raise InputError(
            f"--sheet applies to Excel workbooks only, and {files.where} holds "
            f"{files.format} files. Leave out --sheet."
        )
    paths = list(files.paths)
    base = Path(files.given) if files.kind == "folder" else None
    info.sha256 = files_sha256(paths, base)
    info.notes.append(
        f"read {len(paths):,} {files.format} files in name order ({paths[0].name}, ..., "
        f"{paths[-1].name}); rows are numbered across them"
    )
    if files.format == "parquet":
        info.format = "parquet"
        _read_parquet(engine, paths, info, files.where)
    else:
        info.format = "csv"
        _read_text(engine, paths, info, files.where)


def load_source(
    engine: DuckDBEngine, source: str | Path | pd.DataFrame, *, sheet: str | None = None
) -> SourceInfo:
    """Read a file, a folder or glob of files, or a DataFrame into the engine's ``raw`` table.

    Parameters
    ----------
    engine : DuckDBEngine
        The job's engine; receives the ``raw`` table.
    source : str, Path or pandas.DataFrame
        A .csv/.tsv/.txt (optionally gzip-compressed), .xlsx, or .parquet file; a folder or a
        glob pattern (``data/*.parquet``) of CSV or Parquet files of one format, read as one
        table (see :func:`custseg.io.sources.resolve_files`); or a DataFrame.
    sheet : str, optional
        Excel sheet to read; the first sheet by default.

    Returns
    -------
    SourceInfo
        Format, encoding, delimiter, row count, columns, notes, number of files and sha256.

    Raises
    ------
    InputError
        If the file is missing, empty, malformed or of an unsupported format, or the files of
        a folder or pattern are none or of several formats.

    Examples
    --------
    >>> import pandas as pd
    >>> with DuckDBEngine() as engine:
    ...     info = load_source(engine, pd.DataFrame({"id": ["007", "NA"], "x": [1.5, 2.0]}))
    ...     engine.sql("SELECT * FROM raw ORDER BY _row").fetchall()
    [(1, '007', 1.5), (2, None, 2.0)]
    """
    if isinstance(source, pd.DataFrame):
        if sheet is not None:
            raise InputError("--sheet applies to Excel workbooks only; a DataFrame has no sheets.")
        info = SourceInfo(name="DataFrame", format="dataframe", n_rows=0, columns=[])
        _read_frame(engine, source, info)
        where = "The DataFrame"
    else:
        files = resolve_files(source)
        path = files.paths[0]
        if files.kind == "file":
            info = SourceInfo(name=path.name, format="", n_rows=0, columns=[], path=str(path))
            where = f"File '{path}'"
        else:
            name = Path(files.given).name or files.given
            info = SourceInfo(name=name, format="", n_rows=0, columns=[], path=files.given)
            where = files.where
        info.n_files = len(files.paths)
        info.notes.extend(files.notes)
        try:
            if files.kind == "file":
                _read_file(engine, path, info, sheet)
            else:
                _read_files(engine, files, info, sheet)
        except OSError as exc:
            failed = exc.filename or path
            raise InputError(
                f"File '{failed}' could not be read ({exc.strerror or exc}). Check that it exists "
                "and that you may read it."
            ) from None
    info.columns = [name for name, _ in engine.columns("raw") if name != "_row"]
    _drop_repeated_headers(engine, info)
    _drop_summary_rows(engine, info)
    info.n_rows = int(engine.scalar("SELECT count(*) FROM raw"))
    if info.n_rows == 0:
        if info.sheet:
            where = f"Sheet '{info.sheet}' of '{info.path}'"
        raise InputError(
            f"{where} has a header but no data rows. Export the table again with its rows."
        )
    return info


def _drop_repeated_headers(engine: DuckDBEngine, info: SourceInfo) -> None:
    """Leave out rows that repeat the header (exports joined with each file's header line),
    with a note: a row in which at least half of the columns, and two or more, hold their own
    column's name. Read as data, the repeated header was a date that does not parse."""
    names = [c for c, t in engine.columns("raw") if c != "_row" and t == "VARCHAR"]
    if len(names) < 2:
        return
    hits = " + ".join(
        f"CAST(coalesce(lower(trim({quote_ident(c)})) = {sql_literal(c.strip().lower())}, "
        "false) AS INTEGER)"
        for c in names
    )
    need = max(2, (len(info.columns) + 1) // 2)
    rows = [
        int(r[0])
        for r in engine.sql(f"SELECT _row FROM raw WHERE {hits} >= {need} ORDER BY _row").fetchall()
    ]
    if not rows:
        return
    shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
    _leave_out(
        engine,
        info,
        "repeated_header",
        rows,
        f"{len(rows):,} row(s) repeat the header and were left out (rows {shown}; files joined "
        "with their header lines?)",
    )


def _leave_out(
    engine: DuckDBEngine, info: SourceInfo, reason: str, rows: list[int], note: str
) -> None:
    """Delete ``rows`` of ``raw``, count them under ``reason`` (:data:`LEFT_OUT_RULES`) for
    the row accounting, and say so."""
    engine.sql(f"DELETE FROM raw WHERE _row IN ({', '.join(map(str, rows))})")
    info.left_out[reason] = len(rows)
    info.notes.append(note)


#: Rows left out while reading, with the description the row accounting shows.
LEFT_OUT_RULES: dict[str, str] = {
    "summary_row": "a totals line of the export below the table ('Total', 'Summe')",
    "repeated_header": "a repeat of the header line (files joined with their headers)",
}

SUMMARY_WORDS = re.compile(
    r"^\s*(grand\s*total|sub\s*total|totals?|sum|summe|gesamt|gesamtsumme|insgesamt|totaux?)"
    r"\s*(\(.*\))?\s*(:.*|[^\w:]*)$|^\s*(grand\s*total|totals?|summe|gesamt)\b[\w\s]{0,30}:",
    re.IGNORECASE,
)
"""A cell that labels a totals line of an export: the label alone ("Total", "Grand total",
"TOTAL:", "Summe (EUR)"), or the label and a few words before a colon ("Total customers:
300"). "Total Fitness Ltd" or "Sum Wing Co" are names, not labels."""
SUMMARY_TAIL = 5
"""Rows at the end of a table looked at for totals lines."""


def _drop_summary_rows(engine: DuckDBEngine, info: SourceInfo) -> None:
    """Leave out the totals lines an export writes below its table, with a note.

    Only rows at the end (the last :data:`SUMMARY_TAIL`, empty ones included) are looked at,
    and a row counts as a totals line when its first value, or a value of a row at most half
    filled (a sale or a customer fills most cells), is a label of :data:`SUMMARY_WORDS`.
    Read as data, ``Total,,,,10899,228341.32`` was a line without a customer id holding
    99.9% of the revenue, and ``Total customers: 300`` a customer.
    """
    columns = [(c, t) for c, t in engine.columns("raw") if c != "_row"]
    if not any(t == "VARCHAR" for _, t in columns):
        return
    cells = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c, _ in columns)
    tail = engine.sql(f"SELECT _row, {cells} FROM raw ORDER BY _row DESC LIMIT {SUMMARY_TAIL}")
    found: list[tuple[int, str]] = []
    rows: list[int] = []
    for row_number, *values in tail.fetchall():
        filled = [str(v).strip() for v in values if v is not None and str(v).strip()]
        sparse = len(filled) <= len(columns) / 2
        label = next(
            (v for i, v in enumerate(filled) if (i == 0 or sparse) and SUMMARY_WORDS.match(v)),
            None,
        )
        if filled and label is None:
            break  # a row of data: the totals, if any, are below it
        rows.append(int(row_number))
        if label is not None:
            found.append((int(row_number), label))
    if not found:
        return
    shown = ", ".join(f"'{label[:40]}'" for _, label in reversed(found))
    _leave_out(
        engine,
        info,
        "summary_row",
        rows,
        f"{len(rows):,} row(s) at the end of the table left out as the export's totals, not "
        f"data (rows {', '.join(str(r) for r in sorted(rows))}: {shown})",
    )


__all__ = ["NA_VALUES", "SourceInfo", "load_source", "quote_ident"]
