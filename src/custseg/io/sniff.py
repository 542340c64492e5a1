"""Find out how a delimited text file is written: compression, encoding, delimiter, header.

Everything here looks at bytes and text only; nothing is parsed into a table.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from custseg.errors import InputError

#: Delimiters custseg tries, in order of preference when several fit equally well.
DELIMITERS = (",", "\t", ";", "|")
SAMPLE_LINES = 200
CHUNK = 1 << 20
#: Longest line custseg reads (characters; DuckDB's ``max_line_size`` is set to the same, in
#: bytes). Real invoice lines are under 1,000 characters; 10 million leaves room for very wide
#: tables and long text, and stops a runaway line (a file without line breaks, a 200 MB cell)
#: before it fills memory.
MAX_LINE_CHARS = 10_000_000
#: Most columns a table may have: Excel's limit (16,384, column XFD). A header wider than this
#: is not a table of customers or invoice lines.
MAX_COLUMNS = 16_384

# Python's csv module refuses fields over 131,072 characters by default; custseg's own limit is
# the line length above, checked with a clear message before any field is split.
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_CHARS))

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
#: Signatures of binary formats that users pass with a text extension, with what to do.
#: Zip archives are told apart further (an .xlsx workbook is a zip) by :func:`_zip_hint`.
BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "it is a Parquet file: rename it to .parquet"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "it is an old Excel .xls workbook (or a password-protected one): open it in Excel or "
        "LibreOffice and save it as .xlsx or .csv",
    ),
    (b"%PDF", "it is a PDF document: export the table as .csv or .xlsx"),
    (b"SQLite format 3\x00", "it is a SQLite database: export the table as .csv or .parquet"),
)


@dataclass(frozen=True)
class TextFormat:
    """How a delimited file is written."""

    encoding: str
    """Python codec name (``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``, ...)."""
    delimiter: str
    compressed: bool
    header: list[str]

    @property
    def encoding_label(self) -> str:
        """The encoding as a user would name it."""
        return {
            "utf-8": "UTF-8",
            "utf-8-sig": "UTF-8 with BOM",
            "utf-16": "UTF-16",
            "utf-32": "UTF-32",
            "utf-16-le": "UTF-16 (little-endian, no BOM)",
            "utf-16-be": "UTF-16 (big-endian, no BOM)",
            "cp1252": "Windows-1252 (latin-1)",
            "latin-1": "ISO-8859-1 (latin-1)",
        }.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        """The delimiter as a user would name it."""
        return {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}.get(
            self.delimiter, repr(self.delimiter)
        )


def open_bytes(path: Path, compressed: bool) -> IO[bytes]:
    """Open a file for binary reading, decompressing gzip on the fly."""
    if compressed:
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")  # noqa: SIM115


def _decodes(path: Path, compressed: bool, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open_bytes(path, compressed) as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    except (EOFError, OSError, zlib.error) as exc:
        if not compressed:
            raise
        raise InputError(
            f"File '{path}' is not a valid gzip-compressed CSV file ({exc}). "
            "Decompress it or export it again."
        ) from None
    return True


def detect_encoding(path: Path, head: bytes, compressed: bool) -> str:
    """Return the codec that reads the whole file.

    A byte-order mark decides first; then UTF-8 if every byte of the file is valid UTF-8;
    then Windows-1252 (a superset of latin-1's printable characters, used by Excel's CSV
    export); then charset-normalizer's best guess; latin-1 as the last resort, since it
    decodes any byte.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # UTF-32's little-endian mark (FF FE 00 00) starts like UTF-16's (FF FE): test it first.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    bom_less = _utf16_without_bom(head)
    if bom_less is not None:
        return bom_less
    if _decodes(path, compressed, "utf-8"):
        return "utf-8"
    if _decodes(path, compressed, "cp1252"):
        return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is not None and _decodes(path, compressed, best.encoding):
        return str(best.encoding)
    return "latin-1"


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the text is mostly ASCII written in UTF-16 without a BOM.

    Such text has a NUL byte in every other position (odd positions for little-endian).
    """
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _zip_hint(path: Path) -> str:
    """Say what a zip archive passed as text probably is."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return "it is a zip archive (a damaged one): unzip it and pass the file inside"
    if "xl/workbook.xml" in names:
        return "it is an Excel workbook: rename it to .xlsx"
    inner = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"it is a zip archive ({inner}): unzip it and pass the file inside"


def sample_lines(path: Path, compressed: bool, encoding: str) -> list[str]:
    """The first :data:`SAMPLE_LINES` lines of a text file.

    Raises
    ------
    InputError
        If one of them is longer than :data:`MAX_LINE_CHARS` (read no further than the limit).
    """
    with open_bytes(path, compressed) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        lines = []
        for number in range(1, SAMPLE_LINES + 1):
            line = text.readline(MAX_LINE_CHARS + 1)
            if not line:
                break
            if len(line) > MAX_LINE_CHARS:
                raise line_too_long(path, number)
            lines.append(line)
    return lines


def line_too_long(path: Path, number: int | None = None) -> InputError:
    """The error for a line beyond :data:`MAX_LINE_CHARS` (``number`` 1-based, when known)."""
    which = f"line {number:,}" if number is not None else "a line"
    return InputError(
        f"File '{path}': {which} is longer than {MAX_LINE_CHARS:,} characters, the limit for "
        "one line. The file may lack line breaks, hold a huge cell or have far too many columns "
        f"(at most {MAX_COLUMNS:,}); export the table again as CSV with one line per row, or as "
        ".parquet."
    )


def check_width(path: Path, header: list[str]) -> None:
    """Refuse a header with more than :data:`MAX_COLUMNS` columns."""
    if len(header) > MAX_COLUMNS:
        raise InputError(
            f"File '{path}' has {len(header):,} columns, beyond the limit of {MAX_COLUMNS:,} "
            "(Excel's). Keep the customer id, the invoice-line columns and the attributes to "
            "segment on, and export the table again."
        )


def detect_delimiter(lines: list[str], path: Path) -> str:
    """Pick the delimiter that splits the sample into the most, consistent columns."""
    best: tuple[int, int, int] | None = None
    best_delim = ","
    for rank, delim in enumerate(DELIMITERS):
        widths = [len(row) for row in csv.reader(lines, delimiter=delim) if row]
        if not widths:
            continue
        header_width = widths[0]
        consistent = sum(1 for w in widths if w == header_width)
        score = (consistent if header_width > 1 else 0, header_width, -rank)
        if best is None or score > best:
            best, best_delim = score, delim
    return best_delim


def sniff_text(path: Path) -> TextFormat:
    """Detect compression, encoding, delimiter and header of a delimited text file.

    Raises
    ------
    InputError
        If the file is empty, binary, or an archive rather than text.
    """
    with open(path, "rb") as fh:
        magic = fh.read(16)
    compressed = magic.startswith(GZIP_MAGIC)
    if magic.startswith(ZIP_MAGIC):
        raise InputError(
            f"File '{path}' is not a valid CSV file: {_zip_hint(path)}. "
            "custseg reads .csv, .tsv, .txt (optionally .gz), .xlsx and .parquet."
        )
    for signature, hint in BINARY_SIGNATURES:
        if magic.startswith(signature):
            raise InputError(f"File '{path}' is not a valid CSV file: {hint}.")
    try:
        with open_bytes(path, compressed) as fh:
            head = fh.read(CHUNK)
    except (OSError, EOFError) as exc:
        raise InputError(
            f"File '{path}' is not a valid gzip-compressed CSV file ({exc}). "
            "Decompress it or export it again."
        ) from None
    if not head.strip():
        raise InputError(
            f"File '{path}' is empty: no header and no data rows. Export the table again with "
            "its header and rows."
        )
    wide = head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
    ) or _utf16_without_bom(head)
    if not wide and b"\x00" in head[:8192]:
        raise InputError(
            f"File '{path}' is not a valid CSV file: it holds binary data (NUL bytes). "
            "Export the table as CSV (text), .xlsx or .parquet."
        )
    encoding = detect_encoding(path, head, compressed)
    lines = sample_lines(path, compressed, encoding)
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise InputError(
            f"File '{path}' is empty: no header and no data rows (only blank lines). Export the "
            "table again with its header and rows."
        )
    delimiter = detect_delimiter(lines, path)
    # The first record, which may span lines when a quoted name holds a line break.
    header = next(csv.reader(lines, delimiter=delimiter))
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0].lstrip("\ufeff").strip()
    check_width(path, header)
    return TextFormat(encoding=encoding, delimiter=delimiter, compressed=compressed, header=header)


def transcode_to_utf8(path: Path, fmt: TextFormat, target: Path) -> None:
    """Write a UTF-8 copy of a text file in another encoding, streaming (bounded memory)."""
    with open_bytes(path, fmt.compressed) as raw, open(target, "w", encoding="utf-8") as out:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, newline="")
        while chunk := text.read(CHUNK):
            out.write(chunk)


def line_numbers(path: Path, compressed: bool, offsets: list[int]) -> dict[int, int]:
    """1-based line number in the file of each byte offset, counting line breaks before it.

    DuckDB reports malformed records by record number and byte offset; a record with a quoted
    line break spans several lines, so the line an editor shows comes from the offset.
    Files with bare carriage returns as line ends count those instead.
    """
    wanted = sorted(set(offsets))
    result: dict[int, int] = {}
    if not wanted:
        return result
    newline = b"\n"
    seen = 0
    count = 0
    with open_bytes(path, compressed) as fh:
        first = True
        i = 0
        while i < len(wanted) and (chunk := fh.read(CHUNK)):
            if first and b"\n" not in chunk and b"\r" in chunk:
                newline = b"\r"
            first = False
            while i < len(wanted) and wanted[i] < seen + len(chunk):
                result[wanted[i]] = count + chunk.count(newline, 0, wanted[i] - seen) + 1
                i += 1
            count += chunk.count(newline)
            seen += len(chunk)
    for off in wanted[len(result) :]:
        result[off] = count + 1
    return result
