"""Score page: assign new customers (or invoice lines) to the segments of a model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from custseg.app import _state as S
from custseg.drift import THRESHOLDS
from custseg.report.summary import as_sentence

st.title("Score new customers")
st.caption(
    "Assign new customers to the segments: upload data of the same kind the model was trained "
    "on (invoice lines or a customer table, with the same columns). Use the segmentation of "
    "this session, or a model.skops saved earlier (loading it never runs code from the file)."
)

entry = S.current()
choices = (["This session's segmentation"] if entry is not None else []) + [
    "Upload a saved model (model.skops)"
]
which = st.radio("Model", choices, horizontal=True, key="score_model_choice")
model: Any = None
model_key = ""
if which == "This session's segmentation" and entry is not None:
    model, model_key = entry["result"].model, entry["key"]
    st.text(
        "Segments: " + ", ".join(S.segment_label(i, n) for i, n in enumerate(model.segment_names))
    )
else:
    model_file = st.file_uploader("model.skops", key="score_model_upload")
    if model_file is not None:
        loaded = S.attempt(S.load_model, model_file.name, model_file.getvalue())
        if loaded is not None:
            model, model_key = loaded
if model is None:
    if which != "This session's segmentation":
        st.info("Upload a model.skops written by custseg (the Download page has this one).")
    st.stop()

new_file = st.file_uploader(
    f"New customers or invoice lines (CSV, TSV, Excel, Parquet; up to {S.upload_limit_mb()} MB)",
    key="score_data_upload",
)
if new_file is None:
    st.info("Upload the customers to score.")
    st.stop()
new_src = S.attempt(S.store_upload, new_file.name, new_file.getvalue(), slot="score")
if new_src is None:
    st.stop()

analysis_date = None
if model.kind == "transactions" and model.analysis_date:
    # What custseg predict's --analysis-date does: lines after the model's day need a later one.
    trained_at = dt.date.fromisoformat(model.analysis_date)
    chosen = st.date_input(
        "Analysis date: the day the customers are measured at (the model's own by default; "
        "pick a later day to score lines that came after it)",
        value=trained_at,
        key="score_analysis_date",
    )
    if isinstance(chosen, dt.date) and chosen != trained_at:
        analysis_date = chosen.isoformat()

with st.spinner("Scoring"):
    predicted = S.attempt(S.predict, model, model_key, new_src, analysis_date)
if predicted is None:
    st.stop()
scored, notes, drift = predicted
# The command line's option is the date above on this page.
S.show_warnings(
    [n.replace("pass --analysis-date", "pick a later analysis date above") for n in notes]
)

counts = scored.groupby(["segment", "segment_name"], sort=True).size().reset_index(name="customers")
counts["segment_name"] = counts["segment_name"].map(S.md)  # st.table reads markdown
st.subheader(f"{len(scored):,} customers scored")
st.table(S.segment_colors(counts), hide_index=True)
st.dataframe(scored, hide_index=True, height=320)
stem = new_src.name.split(".")[0] or "scored"
st.download_button(
    "Download the scored table (CSV)",
    scored.to_csv(index=False).encode("utf-8"),
    file_name=f"{stem}-segments.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)

# The drift check of custseg predict (custseg.drift, run with the scoring and cached with
# it): do these customers still look like the ones the model was fitted on?
st.subheader("Have the customers moved since the model was fitted?")
verdicts = {
    "stable": (st.success, "No: no feature and no segment share moved past the thresholds below."),
    "shifted": (st.info, "A little: some features shifted, not enough to refit for."),
    "moved": (st.warning, "Yes: some features or segment shares moved since training (below)."),
}
# Skipped or no reference: the reason is the headline, not repeated as a note.
show, headline = verdicts.get(drift.verdict, (st.info, drift.reason or "Not checked"))
show(S.md(as_sentence(headline)), icon=":material/monitoring:")
for message in drift.warnings:
    st.warning(S.md(as_sentence(message)), icon=":material/warning:")
for note in drift.notes:
    if note != drift.reason:
        st.caption(S.md(as_sentence(note)))
if drift.features or drift.segments:
    moved, shifted = THRESHOLDS["psi_moved"], THRESHOLDS["psi_shifted"]
    st.caption(
        "Population stability index (PSI) of each model feature against training (its deciles; "
        f"category shares for a categorical feature): under {shifted:g} stable, {shifted:g} to "
        f"{moved:g} shifted, above {moved:g} moved. Each segment's share of the customers now "
        f"and in training: moved when it doubled or halved and changed by at least "
        f"{THRESHOLDS['share_min_change'] * 100:g} percentage points."
    )
    left, right = st.columns([2, 3])
    if drift.features:
        features = pd.DataFrame(drift.features)[["feature", "psi", "status"]]
        left.dataframe(
            features.rename(columns={"psi": "PSI"}),
            hide_index=True,
            column_config={"PSI": st.column_config.NumberColumn(format="%.3f")},
        )
    if drift.segments:
        shares = pd.DataFrame(drift.segments)[
            ["segment", "segment_name", "training_share", "share", "status"]
        ]
        shares[["training_share", "share"]] *= 100  # shown as percentages
        right.dataframe(
            shares.rename(columns={"training_share": "% in training", "share": "% now"}),
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(format="%.1f%%")
                for c in ("% in training", "% now")
            },
        )
