"""Find out how a delimited text file is written: compression, encoding, delimiter, header.

Everything here looks at bytes and text only; nothing is parsed into a table.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from custseg.errors import InputError

#: Delimiters custseg tries, in order of preference when several fit equally well.
DELIMITERS = (",", "\t", ";", "|")
SAMPLE_LINES = 200
CHUNK = 1 << 20

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"


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
    return gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115


def _decodes(path: Path, compressed: bool, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open_bytes(path, compressed) as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, EOFError, OSError):
        return False
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
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, compressed, "utf-8"):
        return "utf-8"
    if _decodes(path, compressed, "cp1252"):
        return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is not None and _decodes(path, compressed, best.encoding):
        return str(best.encoding)
    return "latin-1"


def _sample_lines(path: Path, compressed: bool, encoding: str) -> list[str]:
    with open_bytes(path, compressed) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        lines = []
        for _ in range(SAMPLE_LINES):
            line = text.readline()
            if not line:
                break
            lines.append(line)
    return lines


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
        magic = fh.read(4)
    compressed = magic.startswith(GZIP_MAGIC)
    if magic.startswith(ZIP_MAGIC):
        raise InputError(
            f"File '{path}' is not a valid CSV file: it is a zip archive. "
            "Unzip it and pass the CSV inside, or save the data as .csv, .xlsx or .parquet."
        )
    try:
        with open_bytes(path, compressed) as fh:
            head = fh.read(CHUNK)
    except (OSError, EOFError) as exc:
        raise InputError(
            f"File '{path}' is not a valid gzip-compressed CSV file ({exc}). "
            "Decompress it or export it again."
        ) from None
    if not head.strip():
        raise InputError(f"File '{path}' is empty: no header and no data rows.")
    is_utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not is_utf16 and b"\x00" in head[:8192]:
        raise InputError(
            f"File '{path}' is not a valid CSV file: it holds binary data. "
            "Export the table as CSV (text), .xlsx or .parquet."
        )
    encoding = detect_encoding(path, head, compressed)
    lines = _sample_lines(path, compressed, encoding)
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise InputError(f"File '{path}' is empty: no header and no data rows.")
    delimiter = detect_delimiter(lines, path)
    header = next(csv.reader(lines[:1], delimiter=delimiter))
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0].lstrip("\ufeff")
    return TextFormat(encoding=encoding, delimiter=delimiter, compressed=compressed, header=header)


def transcode_to_utf8(path: Path, fmt: TextFormat, target: Path) -> None:
    """Write a UTF-8 copy of a text file in another encoding, streaming (bounded memory)."""
    with open_bytes(path, fmt.compressed) as raw, open(target, "w", encoding="utf-8") as out:
        text = io.TextIOWrapper(raw, encoding=fmt.encoding, newline="")
        while chunk := text.read(CHUNK):
            out.write(chunk)
