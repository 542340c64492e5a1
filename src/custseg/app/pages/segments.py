"""Segments page: renaming at the top; named segments, profiles, map, rules and actions; the
customers of a segment and their list to download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from custseg.app import _state as S

st.title("Segments")
st.caption(
    "The segments found, with their names, sizes, typical values, a rule that describes "
    "their members and a suggested action. Rename any segment and the new name is used "
    "everywhere (charts, downloads, the scoring model); pick a segment to see and download "
    "its customers."
)
S.show_notices()
entry, data, figures = S.result_and_report()
result = entry["result"]
rows = data["segments"]["rows"]
metrics = result.metrics
labels = {r["segment"]: S.segment_label(r["segment"], r["name"]) for r in rows}


def apply_rename(pick_key: str) -> None:
    """The form's callback: runs before the page is drawn again, so the page shows the new
    name (and the confirmation) at once."""
    name = str(st.session_state.get("rename_name") or "")
    segment = int(st.session_state[pick_key])
    S.remember_pick("rename_pick", segment)  # the picker, drawn anew, stays on it
    if S.rename_with_notice(segment, name):
        st.session_state["rename_name"] = ""  # a failed name stays, to be corrected


with st.form("rename", border=True):
    pick, name, apply = st.columns([2, 3, 1], vertical_alignment="bottom")
    S.segment_picker(
        "Rename segment",
        [r["segment"] for r in rows if not r.get("noise")],
        labels,
        "rename_pick",
        entry,
        where=pick,
    )
    name.text_input(
        "New name", max_chars=80, placeholder="e.g. Loyal big spenders", key="rename_name"
    )
    apply.form_submit_button(
        "Apply",
        icon=":material/edit:",
        on_click=apply_rename,
        args=(S.picker_key("rename_pick", entry),),
        width="stretch",
    )

n_segments = sum(1 for r in rows if not r.get("noise"))
cols = st.columns(4)
cols[0].metric("Customers", f"{len(result.segments):,}")
cols[1].metric("Segments", n_segments)
algorithm = str(metrics.get("algorithm"))
cols[2].metric("Algorithm", S.ALGORITHM_NAMES.get(algorithm, algorithm))
silhouette = metrics.get("silhouette")
cols[3].metric("Silhouette", "-" if silhouette is None else f"{silhouette:.2f}")

has_revenue = any(r.get("revenue_share") for r in rows)
overview = pd.DataFrame(
    {
        "segment": [r["segment"] for r in rows],
        "name": [S.md(r["name"]) for r in rows],
        "customers": [S.md(r["customers"]) for r in rows],
        "share": [S.md(r["share"]) for r in rows],
        **(
            {"revenue share": [S.md(r.get("revenue_share") or "") for r in rows]}
            if has_revenue
            else {}
        ),
        "description": [S.md(r.get("description") or "") for r in rows],
    }
)
st.table(S.segment_colors(overview), hide_index=True)

st.subheader("Rules and actions")
st.caption(
    "A simple rule that picks out most of each segment's customers (precision: share of the "
    "customers it matches that are in the segment; coverage: share of the segment it matches), "
    "and what to do with them."
)
rules = pd.DataFrame(
    {
        "segment": [r["segment"] for r in rows],
        "name": [S.md(r["name"]) for r in rows],
        "rule": [S.md((r.get("membership") or {}).get("rule") or "") for r in rows],
        "precision": [S.md((r.get("membership") or {}).get("precision") or "") for r in rows],
        "coverage": [S.md((r.get("membership") or {}).get("coverage") or "") for r in rows],
        "action": [S.md(r.get("action") or "") for r in rows],
    }
)
st.table(S.segment_colors(rules), hide_index=True)

left, right = st.columns(2, gap="medium")
with left:
    st.subheader("Sizes")
    S.chart(figures["sizes"], key="segments_sizes")
with right:
    st.subheader("Map")
    st.caption("Each customer placed by the two directions that spread them most.")
    S.chart(figures["map"], key="segments_map")
if "heatmap" in figures:
    st.subheader("Profiles")
    st.caption(
        "How each segment differs from the average customer, feature by feature "
        "(standard deviations; the numbers are typical values in the data's units)."
    )
    S.chart(figures["heatmap"], key="segments_heatmap")
st.page_link(
    "pages/compare.py", label="Compare two segments side by side", icon=":material/compare_arrows:"
)

st.subheader("One segment")
pick, download = st.columns([3, 1], vertical_alignment="bottom")
picked = S.segment_picker("Segment", list(labels), labels, "segments_pick", entry, where=pick)
listed = S.attempt(S.segment_list, entry, picked)
if listed is not None:
    file_name, content = listed
    download.download_button(
        "Customer list (CSV)",
        content,
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        key="segments_list_download",
        on_click="ignore",
        width="stretch",
        help=f"{file_name}: this segment's customers, with the columns of segments.csv and "
        "the segment's suggested action.",
    )
row = next(r for r in rows if r["segment"] == picked)
info, chart = st.columns([2, 3], gap="large")
with info:
    facts = [f"{row['customers']} customers ({row['share']})"]
    if row.get("revenue_share"):
        facts.append(f"{row['revenue_share']} of revenue")
    st.markdown(f"**{S.md(row['name'])}**: " + S.md(", ".join(facts)))
    if row.get("description"):
        S.paragraph(row["description"])
    membership = row.get("membership") or {}
    if membership.get("rule"):
        st.markdown("**Rule**")
        st.code(membership["rule"], language=None, wrap_lines=True)
        st.caption(
            S.md(
                f"{membership.get('precision')} of the customers it matches are in the segment; "
                f"it covers {membership.get('coverage')} of the segment."
            )
        )
    if row.get("action"):
        st.markdown("**Suggested action**")
        S.paragraph(row["action"])
with chart:
    if f"effects-{picked}" in figures:
        st.markdown("**What sets it apart**")
        S.chart(figures[f"effects-{picked}"], key=f"segments_effects_{picked}")
members = result.segments[result.segments["segment"] == picked]
st.markdown(f"**Its {len(members):,} customers**")
st.dataframe(members, hide_index=True, height=300, key="segments_members")

for figure, title in (("silhouette", "Silhouette"), ("rfm_grid", "Recency and frequency")):
    if figure in figures:
        with st.expander(title):
            S.chart(figures[figure], key=f"segments_{figure}")

# The output files of these names are written in the background while this page is read.
S.prepare_files(entry)
