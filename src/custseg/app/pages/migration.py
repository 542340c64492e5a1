"""Migration page: where the customers of one segmentation went in a later one
(``custseg compare`` in the browser)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import streamlit as st

from custseg.app import _state as S
from custseg.migration import compare_runs, summary_lines
from custseg.report.migration import migration_data, sankey_figure

# Session key of the last comparison: (key, migration, files). A comment, not a docstring:
# Streamlit writes a page's bare strings on the page.
STATE = "custseg_migration"
LOOPBACK = {"", "localhost", "127.0.0.1", "::1"}
FILES = [
    (
        "migration.html",
        "text/html",
        "The page: summary, Sankey chart, matrix, movers; opens offline.",
    ),
    (
        "movers.csv",
        "text/csv",
        "Customers who moved from a valuable segment to an at-risk or lost one.",
    ),
    ("matrix.csv", "text/csv", "Customers and revenue from each old segment to each new one."),
    ("matrix_customers.csv", "text/csv", "The matrix of customers, old segments by new ones."),
    (
        "segment_pairs.csv",
        "text/csv",
        "Each old segment's counterpart, profile distance, stayed share.",
    ),
    ("customers.csv", "text/csv", "Every customer's old and new segment and status."),
    ("migration.json", "application/json", "The summary figures."),
]

st.title("Segment migration")
st.caption(
    "Compare two segmentations of the same customers, for example last quarter's and this "
    "quarter's: how many customers moved from each segment to each other one, which segments "
    "correspond, and who moved from a valuable segment to an at-risk or lost one. Give two "
    "segments.csv files (from custseg segment, or the CSV of custseg predict or the Score "
    "page), or two output folders on the computer that runs the app."
)


def folders_allowed() -> bool:
    """Server folders are read only when the app is not explicitly served to other machines."""
    try:
        address = st.get_option("server.address")
    except Exception:
        address = None
    return str(address or "").strip() in LOOPBACK


modes = ["Upload two segments.csv files"]
if folders_allowed():
    modes.append("Output folders on this computer")
mode = st.radio("Runs", modes, horizontal=True, key="migration_mode")
match = st.radio(
    "Match segments",
    ["auto", "numbers", "profiles"],
    horizontal=True,
    key="migration_match",
    help="auto: by number when both runs used the same model, else by profile (the Hungarian "
    "assignment on the segments' profiles of the shared features).",
)

old_path: str | None = None
new_path: str | None = None
key_parts: list[Any] = [match]
if mode.startswith("Upload"):
    left, right = st.columns(2)
    old_file = left.file_uploader("Before: segments.csv", type=["csv"], key="migration_old")
    new_file = right.file_uploader("After: segments.csv", type=["csv"], key="migration_new")
    if old_file is None or new_file is None:
        st.info("Upload the segments.csv of both runs (the earlier one first).")
        st.stop()
    old_src = S.attempt(S.store_upload, old_file.name, old_file.getvalue(), slot="migration_old")
    new_src = S.attempt(S.store_upload, new_file.name, new_file.getvalue(), slot="migration_new")
    if old_src is None or new_src is None:
        st.stop()
    old_path, new_path = old_src.path, new_src.path
    key_parts += [old_src.digest, new_src.digest]
else:
    left, right = st.columns(2)
    old_text = left.text_input("Before: output folder", key="migration_old_dir").strip()
    new_text = right.text_input("After: output folder", key="migration_new_dir").strip()
    if not old_text or not new_text:
        st.info("Type the paths of both output folders (written by custseg segment --out).")
        st.stop()
    old_path, new_path = old_text, new_text
    for folder in (old_text, new_text):
        for name in ("segments.csv", "model.skops", "metrics.json"):
            path = Path(folder) / name
            key_parts.append((str(path), path.stat().st_mtime_ns if path.is_file() else None))

key = hashlib.sha256(repr(key_parts).encode("utf-8")).hexdigest()[:16]
held = st.session_state.get(STATE)
if held is None or held[0] != key:
    with st.spinner("Comparing the two runs"):
        migration = S.attempt(compare_runs, old_path, new_path, match=match)
        if migration is None:
            st.stop()
        target = S.attempt(migration.save, S.session_dir() / "migration" / key)
        if target is None:
            st.stop()
        files = {name: (target / name).read_bytes() for name, _, _ in FILES}
    held = (key, migration, files)
    st.session_state[STATE] = held
_, migration, files = held

for line in summary_lines(migration):
    S.paragraph(line)
data = migration_data(migration)
st.subheader("From each segment to the next")
sankey = data["sankey"]
S.chart(
    sankey_figure(sankey["flows"], sankey["old_nodes"], sankey["new_nodes"]), "migration_sankey"
)
st.subheader("Migration matrix")
st.caption("Customers from each segment before (rows) to each segment after (columns).")
st.dataframe(migration.counts, width="stretch")
st.subheader("How the segments correspond")
st.dataframe(migration.pairs, hide_index=True, width="stretch")
st.subheader(f"From valuable to at risk or lost ({len(migration.movers):,})")
if len(migration.movers):
    st.dataframe(migration.movers, hide_index=True, width="stretch", height=320)

st.subheader("Downloads")
for name, mime, what in FILES:
    button, text = st.columns([1, 3], vertical_alignment="center")
    button.download_button(
        name,
        files[name],
        file_name=name,
        mime=mime,
        icon=":material/download:",
        key=f"migration_download_{name}",
        on_click="ignore",
        width="stretch",
    )
    text.text(f"{what} ({len(files[name]) / 1024:,.0f} KB)")
st.download_button(
    "All files (.zip)",
    S.zipped(files),
    file_name="custseg-migration.zip",
    mime="application/zip",
    icon=":material/folder_zip:",
    key="migration_download_zip",
    on_click="ignore",
    type="primary",
)
