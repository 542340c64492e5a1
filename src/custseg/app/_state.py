"""Session helpers and cached calls shared by the app's pages.

Everything a user loads lives in ``st.session_state`` (their source file, options and
result) and in a temporary folder of their own session; nothing is kept in module globals.
Heavy calls are cached by the content hash (sha256) of the file and the options, so reruns and
page switches do not recompute: features and exploration figures in Streamlit's data cache
(shared by sessions that load the same bytes), segmentation results per session (the run
reports its progress while it works, which a cached call could not replay), and what is built
from a result (report data and figures, output files, customer lists) once per result and
segment names, held in the session without copying (:func:`memo`).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import io
import json
import logging
import re
import shutil
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

import custseg
from custseg.app import APP_MAX_UPLOAD_MB
from custseg.errors import CustsegError, InputError
from custseg.export import write_csv
from custseg.models.families import FAMILY_LABELS
from custseg.report.summary import ROLE_LABELS

LOG = logging.getLogger("custseg.app")
T = TypeVar("T")

# Session-state keys (one place, so pages never misspell them).
DIR = "custseg_dir"
SOURCE = "custseg_source"
PREP = "custseg_prep"
RESULT = "custseg_result"
RESULTS = "custseg_results"
KNOWN_PATHS = "custseg_paths"
BUILT = "custseg_built"
NOTICES = "custseg_notices"

MAX_RESULTS_PER_SESSION = 4
"""Segmentation results kept per session (switching back to earlier options is instant)."""

ALGORITHMS = {"auto": "auto: compare every family and recommend one", **FAMILY_LABELS}
"""The algorithm choices of the Segment page and how they show."""
ALGORITHM_NAMES = FAMILY_LABELS
TRANSACTION_ROLES = ROLE_LABELS
CUSTOMER_ROLES = {"customer_id": ROLE_LABELS["customer_id"]}


@dataclass(frozen=True)
class Source:
    """A file the user gave (or the demo): where it is, its original name and content hash."""

    path: str
    """A file, or a database URL (its password included: never shown; ``name`` is)."""
    name: str
    digest: str
    size: int
    demo: bool = False
    table: str | None = None
    """The table of a database source (or of the Spark catalog)."""
    spark_master: str | None = None
    """Set for a source Apache Spark reads (``engine="spark"``): the master URL."""


# ----------------------------------------------------------------------------- text


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$:=&])")


def md(text: Any) -> str:
    """``text`` with every markdown (and Streamlit directive) character escaped, so that a
    column or segment name from the data shows as written inside ``st.markdown``."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


# ----------------------------------------------------------------------------- errors


def _known_paths() -> dict[str, str]:
    paths: dict[str, str] = st.session_state.setdefault(KNOWN_PATHS, {})
    return paths


def user_message(exc: BaseException) -> str:
    """The error's one-line message, with the app's temporary paths replaced by the names
    the user knows the files by."""
    text = exc.cli_message if isinstance(exc, CustsegError) else str(exc)
    message = " ".join(text.split())
    for path, name in sorted(_known_paths().items(), key=lambda item: -len(item[0])):
        message = message.replace(path, name)
    return message


def show_error(exc: BaseException) -> None:
    """A user mistake shows its message (what was wrong and how to fix it); anything else a
    generic line, never a traceback (the server log has the details)."""
    if isinstance(exc, CustsegError):
        st.error(md(user_message(exc)), icon=":material/error:")
    else:
        LOG.error("internal error in the custseg app", exc_info=exc)
        st.error(
            f"Internal error ({type(exc).__name__}). This is a bug in custseg; please report "
            "it. The app still works: change the options or the file and try again.",
            icon=":material/bug_report:",
        )


def show_warnings(messages: list[str]) -> None:
    for message in messages:
        st.warning(md(message), icon=":material/warning:")


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``fn``; on failure show the error (see :func:`show_error`) and return None."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        show_error(exc)
        return None


_SINK = threading.local()
"""The list collecting custseg's warnings in this thread (each session runs in its own)."""


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    sink = getattr(_SINK, "messages", None)
    if sink is not None and issubclass(category, custseg.CustsegWarning):
        sink.append(" ".join(str(message).split()))
    else:
        _show_warning.original(message, category, *args, **kwargs)  # type: ignore[attr-defined]


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect custseg's warnings (its notes for the user) raised inside, in this thread only.

    ``warnings.catch_warnings`` changes process-wide state, so with two sessions at once one
    could collect the other's warnings (which quote its data). Instead custseg's warnings are
    always shown, through a hook that hands each to the list of the thread that raised it;
    other warnings go where they went before.
    """
    warnings.filterwarnings("always", category=custseg.CustsegWarning)
    if warnings.showwarning is not _show_warning:
        _show_warning.original = warnings.showwarning  # type: ignore[attr-defined]
        warnings.showwarning = _show_warning
    outer = getattr(_SINK, "messages", None)
    messages: list[str] = []
    _SINK.messages = messages
    try:
        yield messages
    finally:
        _SINK.messages = outer


# ----------------------------------------------------------------------------- files


def session_dir() -> Path:
    """This session's own temporary folder (uploads and output files)."""
    folder = st.session_state.get(DIR)
    if folder is None or not Path(folder).is_dir():
        folder = tempfile.mkdtemp(prefix="custseg-app-")
        st.session_state[DIR] = folder
    return Path(folder)


def upload_limit_mb() -> int:
    """The smaller of the app's limit and Streamlit's ``server.maxUploadSize``."""
    try:
        server = int(st.get_option("server.maxUploadSize"))
    except Exception:
        server = APP_MAX_UPLOAD_MB
    return min(APP_MAX_UPLOAD_MB, server)


def store_upload(name: str, data: bytes, slot: str = "data") -> Source:
    """Write uploaded bytes into the session's folder under their original name (readers
    tell the format by the suffix); refuse files above the upload limit."""
    limit = upload_limit_mb()
    clean_name = Path(str(name).replace("\\", "/")).name or "upload"
    if len(data) > limit * 1024 * 1024:
        raise InputError(
            f"File '{clean_name}' is {len(data) / 1024 / 1024:,.1f} MB, more than the app's "
            f"limit of {limit} MB. Segment it with the command line (custseg segment FILE), "
            "or ask whoever runs the app to raise the limit."
        )
    digest = hashlib.sha256(data).hexdigest()
    folder = session_dir() / slot / digest[:16]
    if folder.parent.is_dir():  # keep only the latest file of each kind on disk
        for old in folder.parent.iterdir():
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / clean_name
    if not path.exists():
        path.write_bytes(data)
    _known_paths()[str(path)] = clean_name
    return Source(str(path), clean_name, digest, len(data))


@st.cache_data(show_spinner=False, max_entries=4)
def _file_digest(path: str, mtime: float) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def database_source(url: str, table: str, password: str = "") -> Source:
    """A PostgreSQL table as the session's source. Only ``postgresql://`` URLs: the app never
    opens a file of the server by path (SQLite files are uploaded). The password, typed in its
    own field or in the URL, stays in ``path`` and is never shown."""
    from urllib.parse import urlsplit

    from custseg.engines.database import parse_database

    url, table = url.strip(), table.strip()
    db = parse_database(url)
    if db is None or db.backend != "postgres":
        raise InputError(
            f"{url!r} is not a PostgreSQL URL. Write it as postgresql://user@host:5432/dbname "
            "(SQLite files: upload them)."
        )
    if not table:
        raise InputError("Name the table or view to read (schema.table for another schema).")
    if password and urlsplit(url).password is None:
        parts = urlsplit(url)
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[-1]
        from urllib.parse import quote

        url = parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}").geturl()
    digest = hashlib.sha256(f"{url}\n{table}".encode()).hexdigest()
    return Source(url, f"{table} of {db.shown}", digest, 0, table=table)


def spark_allowed() -> bool:
    """Whether the Data page offers Apache Spark: PySpark is installed and the app is not
    served to other machines (Spark reads any path of the server, which an upload never
    does)."""
    import importlib.util

    try:
        address = st.get_option("server.address")
    except Exception:
        address = None
    local = str(address or "").strip() in ("", "localhost", "127.0.0.1", "::1")
    return local and importlib.util.find_spec("pyspark") is not None


def spark_source(path: str, table: str, master: str) -> Source:
    """Files, a folder or glob (any path Spark reads), or a Spark catalog table, read by
    Apache Spark with ``master``."""
    path, table, master = path.strip(), table.strip(), master.strip() or "local[*]"
    if bool(path) == bool(table):
        raise InputError(
            "Give either a path (a Parquet or CSV file, folder or glob) or a table of the "
            "Spark catalog, not both and not neither."
        )
    digest = hashlib.sha256(f"spark\n{path}\n{table}\n{master}".encode()).hexdigest()
    name = f"{table or path} (Spark, {master})"
    return Source(path, name, digest, 0, table=table or None, spark_master=master)


def demo_source() -> Source:
    """The bundled demo file (invoice lines of 800 Online Retail customers)."""
    path = custseg.datasets.demo_path()
    stat = path.stat()
    return Source(str(path), path.name, _file_digest(str(path), stat.st_mtime), stat.st_size, True)


def source() -> Source | None:
    value = st.session_state.get(SOURCE)
    return value if isinstance(value, Source) else None


def set_source(new: Source | None) -> None:
    """Use ``new``; a different file starts afresh (options, result)."""
    old = source()
    if old == new:
        return
    st.session_state[SOURCE] = new
    st.session_state[PREP] = {}
    clear_result()


def prep_options() -> dict[str, Any]:
    """How the file is read: ``kind``, ``columns`` overrides, ``sheet``, ``date_format``."""
    opts: dict[str, Any] = st.session_state.setdefault(PREP, {})
    return opts


def set_prep_options(opts: dict[str, Any]) -> None:
    clean = {k: v for k, v in opts.items() if v not in (None, "", {}, "auto")}
    if clean != prep_options():
        st.session_state[PREP] = clean
        clear_result()


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


# ----------------------------------------------------------------------------- cached calls


def memo(name: str, key: str, build: Callable[[], T]) -> T:
    """What ``build()`` returns, kept in this session under ``name`` for ``key`` only.

    A rerun or a page switch with the same key gets the very same object back (no copy, unlike
    Streamlit's data cache, which unpickles figures on every call); another key (another file,
    result or set of segment names) builds afresh and replaces it. Callers never change what
    they get. A build that fails keeps nothing.
    """
    store: dict[str, tuple[str, Any]] = st.session_state.setdefault(BUILT, {})
    held = store.get(name)
    if held is not None and held[0] == key:
        return held[1]
    value = build()
    store[name] = (key, value)
    return value


@st.cache_data(show_spinner=False, max_entries=8)
def _preview(
    _path: str, key: str, sheet: str | None, table: str | None, spark_master: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from custseg.engines.database import DatabaseEngine, parse_database

    if spark_master is not None:
        from custseg.engines.spark import SparkEngine

        with SparkEngine(master=spark_master) as spark:
            raw, info = spark.read(_path or None, table=table)
            frame = spark.run(raw.limit(100))
        return frame, {"n_rows": info.n_rows, "format": info.format, "columns": info.columns}
    db = parse_database(_path) if table is not None else None
    if db is not None and table is not None:
        with DatabaseEngine(db) as remote:
            raw = remote.table(table)
            frame = remote.run(raw.limit(100))
            n_rows = int(remote.scalar(raw.count()))
        label = "postgresql" if db.backend == "postgres" else db.backend
        return frame, {"n_rows": n_rows, "format": label, "columns": list(raw.columns)}
    from custseg.engines.duckdb import DuckDBEngine
    from custseg.io import load_source

    with DuckDBEngine() as engine:
        info = load_source(engine, _path, sheet=sheet)
        frame = engine.sql("SELECT * EXCLUDE (_row) FROM raw ORDER BY _row LIMIT 100").df()
    return frame, {"n_rows": info.n_rows, "format": info.format, "columns": info.columns}


def preview(src: Source) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The first 100 rows of the file (or database table) as read, its row count and format."""
    sheet = prep_options().get("sheet")
    table = src.table or prep_options().get("table")
    return _preview(
        src.path, _key(src.digest, src.name, sheet, table), sheet, table, src.spark_master
    )


@st.cache_data(show_spinner=False, max_entries=8)
def _features(
    _path: str, key: str, opts: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    with captured_warnings() as notes:
        features, details = custseg.build_features(_path, **opts)
    return features, details, notes


def read_options(src: Source) -> dict[str, Any]:
    """The reading options of :func:`prep_options`, with the table of a database source."""
    opts = dict(prep_options())
    if src.table is not None:
        opts["table"] = src.table
    if src.spark_master is not None:
        opts["engine"] = "spark"
        opts["spark_master"] = src.spark_master
    return opts


def features(src: Source) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Per-customer features, the details of reading and cleaning, and warnings."""
    opts = read_options(src)
    return _features(src.path, _key(src.digest, src.name, opts), opts)


@st.cache_data(show_spinner=False, max_entries=8)
def _exploration(
    _features: pd.DataFrame, _details: dict[str, Any], key: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    from custseg.report.eda import explore
    from custseg.report.render import exploration_figures
    from custseg.report.summary import exploration_section

    with captured_warnings():
        section = exploration_section(explore(_features, _details))
        return section, exploration_figures(section)


def exploration(src: Source) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's exploration section (its sentences) and figures, before segmenting."""
    key = _key(src.digest, src.name, prep_options())

    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        feats, details, _ = features(src)
        return _exploration(feats, details, key)

    return memo("exploration", key, build)


def segment_key(src: Source, options: dict[str, Any]) -> str:
    return _key(src.digest, src.name, prep_options(), options)


def run_segmentation(
    src: Source, options: dict[str, Any], progress: Callable[[str], None]
) -> tuple[Any, list[str]]:
    """``custseg.segment`` on the current file with the current reading options, remembered
    per session by content hash and options; makes the result the current one."""
    key = segment_key(src, options)
    cache: dict[str, tuple[Any, list[str]]] = st.session_state.setdefault(RESULTS, {})
    if key not in cache:
        with captured_warnings() as notes:
            result = custseg.segment(src.path, **read_options(src), **options, progress=progress)
        cache[key] = (result, notes)
        while len(cache) > MAX_RESULTS_PER_SESSION:
            cache.pop(next(iter(cache)))
    result, notes = cache[key]
    st.session_state[RESULT] = {"key": key, "result": result, "notes": notes, "options": options}
    return result, notes


def clear_result() -> None:
    st.session_state.pop(RESULT, None)


def current() -> dict[str, Any] | None:
    """The current result: ``{"key", "result", "notes", "options"}`` (and ``"base"``, the
    key of the run, once renamed), or None."""
    value = st.session_state.get(RESULT)
    return value if isinstance(value, dict) else None


def rename(names: dict[int, str]) -> Any:
    """Rename segments of the current result (everywhere: tables, figures, model, files);
    returns the renamed result."""
    entry = current()
    if entry is None:
        return None
    renamed = entry["result"].rename(names)
    base = entry.get("base", entry["key"])  # the key of the run, before any renaming
    key = _key(base, list(renamed.profiles["segment_name"]))
    st.session_state[RESULT] = {**entry, "base": base, "key": key, "result": renamed}
    return renamed


def segment_names(result: Any) -> dict[int, str]:
    """Segment number -> name, from the result's profiles."""
    profiles = result.profiles
    return {
        int(s): str(n) for s, n in zip(profiles["segment"], profiles["segment_name"], strict=True)
    }


def rename_with_notice(segment: int, name: str) -> bool:
    """Rename one segment of the current result and leave the confirmation (old -> new) or
    the error for the page to show (see :func:`notify`); meant for a button's callback,
    which runs before the page is drawn again. True unless the rename failed."""
    entry = current()
    if entry is None:
        return False
    old = segment_names(entry["result"]).get(segment, "")
    try:
        renamed = rename({segment: name})
    except Exception as exc:
        notify("error", exc)
        return False
    new = segment_names(renamed)[segment]
    if new == old:
        notify("info", f"Segment {segment} is already called '{old}'; nothing changed.")
        return True
    notify(
        "success",
        f"Renamed segment {segment}: '{old}' → '{new}'. The new name is used everywhere: "
        "tables, charts, downloads and the scoring model.",
    )
    notify("toast", f"Renamed '{old}' → '{new}'")
    return True


def report(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's plain data and its Plotly figures for a result (built once per result
    and names; callers copy a figure before changing it)."""
    from custseg.report import build_report_data, report_figures

    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        with captured_warnings():
            data = build_report_data(entry["result"])
            return data, report_figures(data)

    return memo("report", entry["key"], build)


FILES_HEAD_START_S = 1.5
"""Seconds a build of the output files started ahead (:func:`prepare_files`) waits before it
writes: the page that started it is still being sent and drawn, and the build, in the same
Python process, would slow it down (the demo's Segments page reached the browser 1.5 to 2.5 s
later with the build started at once). The Download page, if opened sooner, starts it at
once."""


class OutputBuild:
    """The output files of one result, written by ``result.save`` in a thread of their own.

    The Segments page starts one for its result and names (see :func:`prepare_files`), which
    writes after :data:`FILES_HEAD_START_S`, so that the Download page usually finds the
    files written; the Download page starts one without waiting if there is none. It saves a
    copy of the result with its own ``metrics`` (``save`` adds the export notes to them), so
    that the page's thread never reads a dict the build is writing.
    """

    def __init__(self, result: Any, folder: Path, delay: float = 0.0) -> None:
        self.result = dataclasses.replace(result, metrics=copy.deepcopy(result.metrics))
        self.folder = folder
        self.files: dict[str, bytes] = {}
        self.error: BaseException | None = None
        self._go = threading.Event()
        self._delay = delay
        self.thread = threading.Thread(target=self._run, name="custseg-app-files", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self._go.wait(self._delay)
        try:
            with captured_warnings():
                target = self.result.save(self.folder)
            self.files = {p.name: p.read_bytes() for p in sorted(target.iterdir()) if p.is_file()}
            shutil.rmtree(target, ignore_errors=True)
        except BaseException as exc:  # handed to the page that waits for the files
            self.error = exc

    @property
    def ready(self) -> bool:
        return not self.thread.is_alive()

    def wait(self) -> dict[str, bytes]:
        """The files (name -> bytes) once written (starting at once if the build was still
        waiting); the build's error if it failed."""
        self._go.set()
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.files

    @property
    def notes(self) -> list[str]:
        """Notes ``save`` made about the files (an Excel sheet cut at its row limit)."""
        return [str(n) for n in self.result.metrics.get("export_notes") or []]


def _output_build(entry: dict[str, Any], delay: float = 0.0) -> OutputBuild:
    store: dict[str, tuple[str, Any]] = st.session_state.setdefault(BUILT, {})
    held = store.get("files")
    if held is not None and held[1].ready and held[1].error is not None:
        del store["files"]  # a build that failed is tried again, not its error shown forever
    folder = session_dir() / "output" / hashlib.sha256(entry["key"].encode()).hexdigest()[:16]
    return memo("files", entry["key"], lambda: OutputBuild(entry["result"], folder, delay))


def prepare_files(entry: dict[str, Any]) -> None:
    """Start writing the output files of ``entry`` in the background (after
    :data:`FILES_HEAD_START_S`), unless they are written or being written already, or the
    files of an earlier result or names are still being written (the Download page then
    starts them): renaming segment after segment starts no pile of builds."""
    store: dict[str, tuple[str, Any]] = st.session_state.setdefault(BUILT, {})
    held = store.get("files")
    if held is None or held[0] == entry["key"] or held[1].ready:
        _output_build(entry, FILES_HEAD_START_S)


def output_files(entry: dict[str, Any]) -> tuple[dict[str, bytes], list[str]]:
    """The output contract's files (segments.csv, segments.xlsx, profiles.csv, report.html,
    model.skops, metrics.json) written by ``result.save``, as bytes, and the notes about
    them; written once per result and names."""
    build = _output_build(entry)
    return build.wait(), build.notes


def output_zip(entry: dict[str, Any]) -> bytes:
    """Every output file in one zip (built once per result and names)."""
    files, _ = output_files(entry)
    return memo("files_zip", entry["key"], lambda: zipped(files))


def zipped(files: dict[str, bytes]) -> bytes:
    """``files`` (name -> bytes) in one zip archive."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return archive.getvalue()


def _customer_table(result: Any) -> pd.DataFrame:
    """``result.segments`` (the rows and columns of segments.csv) with each segment's
    suggested action after its name."""
    profiles = result.profiles
    if "action" in profiles:
        actions = dict(zip(profiles["segment"], profiles["action"], strict=True))
    else:
        actions = {d.get("segment"): d.get("action") for d in result.metrics.get("segments") or []}
    table = result.segments.copy(deep=False)
    if "action" not in table:
        where = list(table.columns).index("segment_name") + 1 if "segment_name" in table else 2
        table.insert(where, "action", table["segment"].map(actions).astype(object))
    return table


def list_file_name(segment: int, name: Any) -> str:
    """``segment-0-Best-buyers.csv``: the file name of a segment's customer list, with only
    letters, digits and dashes from its name.

    Examples
    --------
    >>> list_file_name(0, "Best *buyers*!"), list_file_name(-1, "")
    ('segment-0-Best-buyers.csv', 'no-segment.csv')
    """
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(name)).strip("-")[:40].strip("-")
    stem = "no-segment" if segment < 0 else f"segment-{segment}"
    return f"{stem}-{slug}.csv" if slug and segment >= 0 else f"{stem}.csv"


def _customer_records(entry: dict[str, Any]) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The customer table (see :func:`_customer_table`) written once by custseg's CSV writer
    and read back: its header and its records by segment (as written: "0", "-1")."""

    def build() -> tuple[list[str], dict[str, list[list[str]]]]:
        table = _customer_table(entry["result"])
        folder = session_dir() / "lists"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "customers.csv"
        write_csv(table, path)
        with path.open(newline="", encoding="utf-8") as f:
            header, *records = list(csv.reader(f))
        path.unlink()
        where = list(table.columns).index("segment")
        by_segment: dict[str, list[list[str]]] = {}
        for record in records:
            by_segment.setdefault(record[where], []).append(record)
        return header, by_segment

    return memo("customer records", entry["key"], build)


def segment_list(entry: dict[str, Any], segment: int) -> tuple[str, bytes]:
    """One segment's customers as CSV and its file name; built once per result, names and
    segment.

    The columns are those of segments.csv with the segment's action after its name. The
    whole table is written once by :func:`custseg.export.write_csv` (so text a spreadsheet
    would read as a formula is neutralized, and every number is written as in segments.csv,
    whatever the segment) and cut into segments by Python's CSV writer, the one pandas
    writes with (same quoting, ``\\n`` line ends).
    """

    def build() -> tuple[str, bytes]:
        header, by_segment = _customer_records(entry)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(by_segment.get(str(segment), []))
        name = segment_names(entry["result"]).get(segment, "")
        return list_file_name(segment, name), text.getvalue().encode("utf-8")

    return memo(f"list {segment}", entry["key"], build)


def segment_lists_zip(entry: dict[str, Any]) -> bytes:
    """Every segment's customer list (see :func:`segment_list`) in one zip."""

    def build() -> bytes:
        segments = [int(s) for s in entry["result"].profiles["segment"]]
        return zipped(dict(segment_list(entry, s) for s in sorted(segments, key=_noise_last)))

    return memo("lists_zip", entry["key"], build)


def _noise_last(segment: int) -> tuple[bool, int]:
    return (segment < 0, segment)


def notify(kind: str, message: str | BaseException) -> None:
    """A message for the next page drawn, such as the confirmation of a rename (``kind``:
    success, info, warning, toast; or error, with the exception, shown by
    :func:`show_error`)."""
    st.session_state.setdefault(NOTICES, []).append((kind, message))


def show_notices() -> None:
    """Show, once, the messages left by :func:`notify` (escaped: they quote names)."""
    for kind, message in st.session_state.pop(NOTICES, []):
        if isinstance(message, BaseException):
            show_error(message)
        elif kind == "toast":
            st.toast(md(message), icon=":material/check_circle:")
        elif kind == "warning":
            st.warning(md(message), icon=":material/warning:")
        elif kind == "info":
            st.info(md(message), icon=":material/info:")
        else:
            st.success(md(message), icon=":material/check_circle:")


def load_model(name: str, data: bytes) -> tuple[Any, str]:
    """A model.skops the user uploaded (loading it never runs code from the file), and the
    key its predictions are cached under (its content hash)."""
    model_src = store_upload(name, data, slot="model")
    return custseg.load_model(model_src.path), f"model:{model_src.digest}"


@st.cache_data(show_spinner=False, max_entries=4)
def _predict(
    _model: Any, _path: str, key: str, analysis_date: str | None = None
) -> tuple[pd.DataFrame, list[str], Any]:
    from custseg.drift import check

    with captured_warnings() as notes:
        scored = _model.predict(_path, analysis_date=analysis_date)
    return scored, notes, check(_model, scored)


def predict(
    model: Any, model_key: str, src: Source, analysis_date: str | None = None
) -> tuple[pd.DataFrame, list[str], Any]:
    """``model.predict`` on an uploaded file and the drift check of its customers
    (:func:`custseg.drift.check`, what ``custseg predict`` runs), cached by the model's key,
    the file's hash and the analysis date (invoice lines: the day features are measured at,
    the model's own by default): the scored table, the warnings, the drift report."""
    return _predict(
        model, src.path, _key(model_key, src.digest, src.name, analysis_date), analysis_date
    )


def need_source() -> Source | None:
    """The current file, or a hint to pick one first."""
    src = source()
    if src is None:
        st.info("Pick a file on the **Data** page first (or use the demo data).")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/upload_file:")
    return src


def need_result() -> dict[str, Any] | None:
    """The current result, or a hint to segment first."""
    entry = current()
    if entry is None:
        st.info("Run a segmentation on the **Segment** page first.")
        st.page_link("pages/segment.py", label="Go to Segment", icon=":material/play_circle:")
    return entry


def result_and_report(spinner: str = "Preparing the charts") -> tuple[dict[str, Any], Any, Any]:
    """The current result and its report's data and figures, or the page stops (with a hint
    to segment first, or the error)."""
    entry = need_result()
    if entry is None:
        st.stop()
    with st.spinner(spinner):
        reported = attempt(report, entry)
    if reported is None:
        st.stop()
    return entry, *reported


def segment_picker(
    label: str,
    segments: list[int],
    labels: dict[int, str],
    name: str,
    entry: dict[str, Any],
    default: int | None = None,
    where: Any = st,
) -> int:
    """A select box of segments (shown by ``labels``) that follows renames and remembers its
    pick.

    A select box keeps showing the label an option had when it was picked, so after a
    rename it would show the old name: its key holds the current names (a rename makes a new
    select box), and it starts on the segment last picked in it (``default`` at first). Its
    key is ``picker_key(name, entry)``.
    """
    last = st.session_state.get(f"{name}_last", default)
    picked = where.selectbox(
        label,
        segments,
        index=segments.index(last) if last in segments else 0,
        format_func=lambda seg: labels[seg],
        key=picker_key(name, entry),
    )
    remember_pick(name, int(picked))
    return int(picked)


def remember_pick(name: str, segment: int) -> None:
    """Make :func:`segment_picker` ``name`` start on ``segment`` when it is drawn anew."""
    st.session_state[f"{name}_last"] = segment


def picker_key(name: str, entry: dict[str, Any]) -> str:
    """The key of :func:`segment_picker` ``name`` for the result and names of ``entry``."""
    return f"{name}_{hashlib.sha256(entry['key'].encode()).hexdigest()[:12]}"


def segment_label(segment: int, name: Any) -> str:
    """``0 · Champions`` (plain text, for select boxes)."""
    return f"{segment} · {name}"


def segment_colors(frame: pd.DataFrame, column: str = "segment") -> Any:
    """``frame`` styled with each segment number on its colour from the report."""
    from custseg.report.plots import segment_color

    def colour(value: Any) -> str:
        try:
            return f"background-color: {segment_color(int(value))}; color: white"
        except (TypeError, ValueError):
            return ""

    return frame.style.map(colour, subset=[column])


def optional_text(label: str, value: str | None, placeholder: str, key: str) -> str | None:
    """A text box whose blank means 'not given'."""
    text = st.text_input(label, value=value or "", placeholder=placeholder, key=key)
    return text.strip() or None


def chart(figure: Any, key: str) -> None:
    """A figure of the report, as wide as its column."""
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False}, key=key)


def paragraph(text: Any) -> None:
    """A sentence built from the data (column names, segment names) shown as plain text."""
    st.markdown(md(text))
