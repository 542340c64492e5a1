"""Session helpers and cached calls shared by the app's pages.

Everything a user loads lives in ``st.session_state`` (their source file, options and
result) and in a temporary folder of their own session; nothing is kept in module globals.
Heavy calls are cached by the content hash (sha256) of the file and the options, so reruns and
page switches do not recompute: features and figures in Streamlit's data cache (a copy per
call), segmentation results per session (the run reports its progress while it works, which a
cached call could not replay).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import threading
import warnings
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
    name: str
    digest: str
    size: int
    demo: bool = False


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
    message = " ".join(str(exc).split())
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


@st.cache_data(show_spinner=False, max_entries=8)
def _preview(_path: str, key: str, sheet: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    from custseg.engines.duckdb import DuckDBEngine
    from custseg.io import load_source

    with DuckDBEngine() as engine:
        info = load_source(engine, _path, sheet=sheet)
        frame = engine.sql("SELECT * EXCLUDE (_row) FROM raw ORDER BY _row LIMIT 100").df()
    return frame, {"n_rows": info.n_rows, "format": info.format, "columns": info.columns}


def preview(src: Source) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The first 100 rows of the file as read, and its row count and format."""
    sheet = prep_options().get("sheet")
    return _preview(src.path, _key(src.digest, src.name, sheet), sheet)


@st.cache_data(show_spinner=False, max_entries=8)
def _features(
    _path: str, key: str, opts: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    with captured_warnings() as notes:
        features, details = custseg.build_features(_path, **opts)
    return features, details, notes


def features(src: Source) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Per-customer features, the details of reading and cleaning, and warnings."""
    opts = prep_options()
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
    feats, details, _ = features(src)
    return _exploration(feats, details, _key(src.digest, src.name, prep_options()))


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
            result = custseg.segment(src.path, **prep_options(), **options, progress=progress)
        cache[key] = (result, notes)
        while len(cache) > MAX_RESULTS_PER_SESSION:
            cache.pop(next(iter(cache)))
    result, notes = cache[key]
    st.session_state[RESULT] = {"key": key, "result": result, "notes": notes, "options": options}
    return result, notes


def clear_result() -> None:
    st.session_state.pop(RESULT, None)


def current() -> dict[str, Any] | None:
    """The current result: ``{"key", "result", "notes", "options"}``, or None."""
    value = st.session_state.get(RESULT)
    return value if isinstance(value, dict) else None


def rename(names: dict[int, str]) -> Any:
    """Rename segments of the current result (everywhere: tables, figures, model, files);
    returns the renamed result."""
    entry = current()
    if entry is None:
        return None
    renamed = entry["result"].rename(names)
    key = _key(entry["key"], list(renamed.profiles["segment_name"]))
    st.session_state[RESULT] = {**entry, "key": key, "result": renamed}
    return renamed


@st.cache_data(show_spinner=False, max_entries=8)
def _report(_result: Any, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from custseg.report import build_report_data, report_figures

    with captured_warnings():
        data = build_report_data(_result)
        return data, report_figures(data)


def report(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's plain data and its Plotly figures for a result."""
    return _report(entry["result"], entry["key"])


@st.cache_data(show_spinner=False, max_entries=4)
def _output_files(_result: Any, _folder: str, key: str) -> dict[str, bytes]:
    with captured_warnings():
        target = _result.save(_folder)
    files = {p.name: p.read_bytes() for p in sorted(target.iterdir()) if p.is_file()}
    shutil.rmtree(target, ignore_errors=True)
    return files


def output_files(entry: dict[str, Any]) -> dict[str, bytes]:
    """The output contract's files (segments.csv, segments.xlsx, profiles.csv, report.html,
    model.skops, metrics.json) written by ``result.save``, as bytes."""
    folder = session_dir() / "output" / hashlib.sha256(entry["key"].encode()).hexdigest()[:16]
    return _output_files(entry["result"], str(folder), entry["key"])


def load_model(name: str, data: bytes) -> tuple[Any, str]:
    """A model.skops the user uploaded (loading it never runs code from the file), and the
    key its predictions are cached under (its content hash)."""
    model_src = store_upload(name, data, slot="model")
    return custseg.load_model(model_src.path), f"model:{model_src.digest}"


@st.cache_data(show_spinner=False, max_entries=4)
def _predict(_model: Any, _path: str, key: str) -> tuple[pd.DataFrame, list[str]]:
    with captured_warnings() as notes:
        scored = _model.predict(_path)
    return scored, notes


def predict(model: Any, model_key: str, src: Source) -> tuple[pd.DataFrame, list[str]]:
    """``model.predict`` on an uploaded file, cached by the model's key and the file's hash."""
    return _predict(model, src.path, _key(model_key, src.digest, src.name))


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
