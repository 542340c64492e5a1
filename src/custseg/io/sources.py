"""Which files a source names: one file, a folder of files, or a glob pattern.

This module only looks at names and the file system (no pandas, no DuckDB), so the command line
can reject a misspelled path before it loads anything heavy. :func:`resolve_files` decides
which files will be read and their format; :mod:`custseg.io.readers` reads them.
"""

from __future__ import annotations

import glob
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from custseg.errors import InputError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
#: Formats users often try, with what to do instead.
UNSUPPORTED = {
    ".xls": "old Excel .xls is not supported: open it in Excel or LibreOffice and save as .xlsx or .csv",
    ".xlsb": "binary Excel .xlsb is not supported: save it as .xlsx or .csv",
    ".ods": "OpenDocument .ods is not supported: save it as .xlsx or .csv",
    ".numbers": "Apple Numbers files are not supported: export the table as .xlsx or .csv",
    ".json": "JSON is not supported: save the table as .csv or .parquet",
    ".jsonl": "JSON lines are not supported: save the table as .csv or .parquet",
    ".ndjson": "JSON lines are not supported: save the table as .csv or .parquet",
    ".xml": "XML is not supported: save the table as .csv or .xlsx",
    ".zip": "zip archives are not read directly: unzip it and pass the file inside",
    ".feather": "Feather/Arrow files are not supported: save the table as .parquet",
    ".sav": "SPSS files are not supported: save the table as .csv",
    ".dta": "Stata files are not supported: save the table as .csv",
}
#: Characters that make a source a glob pattern (when no file has that exact name).
GLOB_CHARACTERS = "*?["
#: Formats a folder or glob may hold: every file must have the same one.
MULTI_FILE_FORMATS = ("csv", "parquet")
#: Files examples in messages show at most this many names.
SHOWN_NAMES = 3


def suffix_of(path: Path) -> str:
    """The suffix that says the format: ``.csv`` for ``orders.csv.gz``, lower case.

    Examples
    --------
    >>> suffix_of(Path("Orders.CSV.gz")), suffix_of(Path("x.parquet")), suffix_of(Path("README"))
    ('.csv', '.parquet', '')
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"] and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def format_of(path: Path) -> str | None:
    """``csv``, ``excel`` or ``parquet`` for a supported suffix, else ``None``."""
    suffix = suffix_of(path)
    if suffix in TEXT_SUFFIXES:
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    return None


@dataclass(frozen=True)
class InputFiles:
    """The files a source names, in the order they are read (sorted by path)."""

    given: str
    """The source as the user wrote it."""
    kind: str
    """``file``, ``folder`` or ``glob``."""
    paths: tuple[Path, ...]
    format: str | None
    """``csv``, ``excel`` or ``parquet``; ``None`` for one file of unknown extension."""
    notes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """How messages name the source: ``File 'x.csv'``, ``Folder 'd/'``, ``Files 'd/*.csv'``."""
        if self.kind == "folder":
            return f"Folder '{self.given}'"
        if self.kind == "glob":
            return f"Files '{self.given}'"
        return f"File '{self.paths[0]}'"


def _names(paths: list[Path], base: Path | None) -> str:
    def name(p: Path) -> str:
        if base is not None:
            try:
                return str(p.relative_to(base))
            except ValueError:
                pass
        return p.name

    shown = ", ".join(name(p) for p in paths[:SHOWN_NAMES])
    return shown + (", ..." if len(paths) > SHOWN_NAMES else "")


def _category(path: Path) -> str | None:
    """The format of a data file, its unsupported suffix, or ``None`` for files that are not
    tables (README.md, checksums)."""
    fmt = format_of(path)
    if fmt is not None:
        return fmt
    suffix = suffix_of(path)
    return suffix if suffix in UNSUPPORTED else None


def _choose(given: str, kind: str, found: list[Path], base: Path | None) -> InputFiles:
    what = f"Folder '{given}'" if kind == "folder" else f"Pattern '{given}'"
    data = [p for p in found if _category(p) is not None]
    others = [p for p in found if _category(p) is None]
    if not data:
        holds = f" (it holds only {_names(others, base)})" if others else ""
        if kind == "folder":
            raise InputError(
                f"{what} holds no .csv, .tsv, .txt or .parquet files{holds}. Put the files to "
                "read directly in it (subfolders are not searched; pass a pattern such as "
                f"'{Path(given) / '**' / '*.parquet'}' for those), or pass one file."
            )
        raise InputError(
            f"{what} matches no .csv, .tsv, .txt or .parquet file{holds}. Check the folder and "
            "the pattern, and quote the pattern so the shell passes it unchanged, e.g. "
            '"data/orders/*.parquet".'
        )
    by_category: dict[str, list[Path]] = {}
    for p in data:
        by_category.setdefault(str(_category(p)), []).append(p)
    if len(by_category) > 1:
        counts = Counter({c: len(ps) for c, ps in by_category.items()})
        parts = [f"{n} {c} ({_names(by_category[c], base)})" for c, n in counts.most_common()]
        top = counts.most_common(1)[0][0]
        suffix = suffix_of(by_category[top][0]) or ".csv"
        pattern = (
            f"'{Path(given) / f'*{suffix}'}'"
            if kind == "folder"
            else f"a pattern that ends in '*{suffix}'"
        )
        raise InputError(
            f"{what} holds files of more than one format: {'; '.join(parts)}. Every file of a "
            f"folder or pattern must have the same format: move the others out, or pass "
            f"{pattern}."
        )
    category = next(iter(by_category))
    if category in UNSUPPORTED:
        raise InputError(f"{what} holds {category} files: {UNSUPPORTED[category]}.")
    if category == "excel" and len(data) > 1:
        raise InputError(
            f"{what} holds {len(data)} Excel workbooks ({_names(data, base)}); custseg reads a "
            "folder or pattern of .csv or .parquet files only. Pass one workbook at a time, or "
            "save the sheets as .csv files in one folder."
        )
    notes = []
    if others:
        notes.append(
            f"{what.lower()} also holds {len(others)} file(s) that are not tables, not read: "
            f"{_names(others, base)}"
        )
    if len(data) == 1:
        kind_of_match = "holds" if kind == "folder" else "matches"
        notes.append(f"{what.lower()} {kind_of_match} one file, {data[0]}")
        return InputFiles(given, "file", (data[0],), category, notes)
    return InputFiles(given, kind, tuple(data), category, notes)


def _visible(path: Path, base: Path) -> bool:
    """False for hidden files and the bookkeeping files of Spark and Hadoop (``_SUCCESS``)."""
    parts = path.relative_to(base).parts if path.is_relative_to(base) else (path.name,)
    return not any(part.startswith((".", "_")) for part in parts)


def resolve_files(source: str | Path) -> InputFiles:
    """The files a path, folder or glob pattern names, checked before anything is read.

    A folder means the files directly in it; a pattern (``*``, ``?``, ``[...]``, and ``**`` for
    any depth of subfolders) the files it matches. Hidden files and names starting with ``_``
    (``_SUCCESS``) are skipped; files that are not tables (``README.md``) are skipped with a
    note. All the others must have one format, CSV or Parquet.

    Parameters
    ----------
    source : str or Path
        A file, a folder, or a glob pattern.

    Returns
    -------
    InputFiles
        The files, sorted by path, their format and notes for the user.

    Raises
    ------
    InputError
        If the file does not exist, the folder holds no table files, the pattern matches none,
        or the files have more than one format.

    Examples
    --------
    >>> resolve_files("no/such/file.csv")
    Traceback (most recent call last):
    ...
    custseg.errors.InputError: File 'no/such/file.csv' does not exist. Check the path and try again.
    """
    given = str(source)
    path = Path(source)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and _visible(p, path))
        return _choose(given, "folder", found, path)
    if path.exists() or not any(c in given for c in GLOB_CHARACTERS):
        if not path.exists():
            raise InputError(f"File '{path}' does not exist. Check the path and try again.")
        return InputFiles(given, "file", (path,), format_of(path))
    matches = [Path(p) for p in glob.glob(given, recursive=True)]
    parts = Path(given).parts
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in GLOB_CHARACTERS))
    base = Path(*parts[:fixed]) if fixed else Path(".")
    found = sorted(p for p in matches if p.is_file() and _visible(p, base))
    if not found:
        raise InputError(
            f"Pattern '{given}' matches no file. Check the folder and the pattern, and quote the "
            'pattern so the shell passes it unchanged, e.g. "data/orders/*.parquet".'
        )
    return _choose(given, "glob", found, base)


__all__ = [
    "EXCEL_SUFFIXES",
    "PARQUET_SUFFIXES",
    "TEXT_SUFFIXES",
    "UNSUPPORTED",
    "InputFiles",
    "format_of",
    "resolve_files",
    "suffix_of",
]
