"""Segments page: named segments, profiles, map, rules and actions; customers of a segment;
renaming."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from custseg.app import _state as S

st.title("Segments")
st.caption(
    "The segments found, with their names, sizes, typical values, a rule that describes "
    "their members and a suggested action. Pick a segment to see its customers; rename any "
    "segment and the new name is used everywhere (charts, downloads, the scoring model)."
)
entry = S.need_result()
if entry is None:
    st.stop()
result = entry["result"]
with st.spinner("Preparing the charts"):
    reported = S.attempt(S.report, entry)
if reported is None:
    st.stop()
data, figures = reported
rows = data["segments"]["rows"]
metrics = result.metrics

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

st.subheader("One segment")
labels = {r["segment"]: S.segment_label(r["segment"], r["name"]) for r in rows}
picked = st.selectbox(
    "Segment", list(labels), format_func=lambda seg: labels[seg], key="segments_pick"
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

for name, title in (("silhouette", "Silhouette"), ("rfm_grid", "Recency and frequency")):
    if name in figures:
        with st.expander(title):
            S.chart(figures[name], key=f"segments_{name}")

st.subheader("Rename segments")
with st.form("rename"):
    grid = st.columns(min(4, max(1, n_segments)))
    new_names: dict[int, str] = {}
    for i, r in enumerate(r for r in rows if not r.get("noise")):
        new_names[int(r["segment"])] = grid[i % len(grid)].text_input(
            f"Segment {r['segment']}", value=str(r["name"]), max_chars=80
        )
    if st.form_submit_button("Apply names", icon=":material/edit:"):
        names_now = {int(r["segment"]): str(r["name"]) for r in rows}
        changed = {seg: name for seg, name in new_names.items() if name != names_now[seg]}
        if changed and S.attempt(S.rename, changed) is not None:
            st.rerun()
