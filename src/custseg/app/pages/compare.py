"""Compare page: two segments side by side, with the features on which they differ most."""

from __future__ import annotations

import streamlit as st

from custseg.app import _state as S
from custseg.app._compare import (
    COMPARE_MIN_DIFFERENCE,
    comparison,
    comparison_actions,
    default_pair,
)

st.title("Compare segments")
st.caption(
    "Two segments side by side: their size, share of customers and of revenue, and the "
    "typical value of each feature. The features on which they differ most are highlighted: "
    "the difference is in standard deviations of all customers, so features in different "
    "units compare. The first pair shown is the two closest segments, the easiest to confuse."
)
entry, data, _ = S.result_and_report("Preparing the comparison")
segments = [int(c["segment"]) for c in data["profiles"]["columns"]]
names = {int(c["segment"]): str(c["name"]) for c in data["profiles"]["columns"]}
if len(segments) < 2:
    st.info("There is only one segment: nothing to compare.")
    st.stop()

a_default, b_default = default_pair(data)
labels = {seg: S.segment_label(seg, names[seg]) for seg in segments}
left, right = st.columns(2)
first = S.segment_picker("Segment A", segments, labels, "compare_a", entry, a_default, left)
second = S.segment_picker("Segment B", segments, labels, "compare_b", entry, b_default, right)
if first == second:
    st.info("Pick two different segments.")
    st.stop()

table, differ = comparison(data, first, second)
a_label, b_label = labels[first], labels[second]
if differ:
    words = [
        f"{row['feature']} ({row['a']} against {row['b']}, {row['difference']:.1f} sd"
        + (f", {row['better']} better)" if row["better"] else ")")
        for row in differ
    ]
    S.paragraph(f"{a_label} and {b_label} differ most in: " + "; ".join(words) + ".")
else:
    S.paragraph(
        f"{a_label} and {b_label} differ by less than {COMPARE_MIN_DIFFERENCE} standard "
        "deviations on every feature."
    )
highlighted = {row["feature"] for row in differ}
shown = table.rename(columns={"a": a_label, "b": b_label})
# As text: a difference not measured (sizes and shares) is blank, not "None".
shown["difference"] = [f"{v:.2f}" if v == v else "" for v in shown["difference"]]
st.dataframe(
    shown.style.apply(
        lambda row: (
            ["background-color: #fff3c4; font-weight: 600" if row["feature"] in highlighted else ""]
            * len(row)
        ),
        axis=1,
    ),
    hide_index=True,
    height=38 + 35 * len(shown),
    column_config={
        "feature": st.column_config.TextColumn("feature", width="medium"),
        "note": st.column_config.TextColumn("typical value", width=110),
        a_label: st.column_config.TextColumn(f"A: {a_label}"),
        b_label: st.column_config.TextColumn(f"B: {b_label}"),
        "overall": st.column_config.TextColumn("all customers"),
        "difference": st.column_config.TextColumn(
            "difference (sd)",
            alignment="right",
            help="How far apart the two segments' typical values are, in standard deviations "
            "of all customers (a category: 0.5 when its most common value differs).",
        ),
        "better": st.column_config.TextColumn(
            "better", width="small", help="Which side is better, where higher or lower is."
        ),
    },
    key="compare_table",
)
actions = comparison_actions(data, first, second)
if any(actions):
    st.markdown("**Suggested actions**")
    a_col, b_col = st.columns(2)
    for col, label, action in ((a_col, a_label, actions[0]), (b_col, b_label, actions[1])):
        with col:
            st.markdown(f"**{S.md(label)}**")
            S.paragraph(action or "-")
