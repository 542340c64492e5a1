"""Download page: the output files of the current segmentation."""

from __future__ import annotations

import io
import zipfile

import streamlit as st

from custseg.app import _state as S

st.title("Download")
st.caption(
    "The same files as `custseg segment --out DIR` writes, with the names you gave the segments."
)
entry = S.need_result()
if entry is None:
    st.stop()
with st.spinner("Writing the files"):
    files = S.attempt(S.output_files, entry)
if files is None:
    st.stop()

FILES = [
    ("segments.csv", "text/csv", "One row per customer: segment, name and features."),
    (
        "segments.xlsx",
        None,
        "Excel workbook: segments with rules and actions, profiles, "
        "customers, cleaning, candidates, columns.",
    ),
    ("profiles.csv", "text/csv", "One row per segment: size, share, typical values, action."),
    ("report.html", "text/html", "The report: self-contained, opens offline in any browser."),
    (
        "model.skops",
        "application/octet-stream",
        "The scoring model, for the Score page or custseg predict.",
    ),
    ("metrics.json", "application/json", "Everything measured: candidates, metrics, cleaning."),
]
for name, mime, what in FILES:
    if name not in files:
        continue
    button, text = st.columns([1, 3], vertical_alignment="center")
    button.download_button(
        name,
        files[name],
        file_name=name,
        mime=mime or "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:",
        key=f"download_{name}",
        on_click="ignore",
        width="stretch",
    )
    text.text(f"{what} ({len(files[name]) / 1024:,.0f} KB)")
archive = io.BytesIO()
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
    for name, content in files.items():
        bundle.writestr(name, content)
st.download_button(
    "All files (.zip)",
    archive.getvalue(),
    file_name="custseg-output.zip",
    mime="application/zip",
    icon=":material/folder_zip:",
    key="download_zip",
    on_click="ignore",
    type="primary",
)
for note in entry["result"].metrics.get("export_notes") or []:
    st.caption(S.md(note))
