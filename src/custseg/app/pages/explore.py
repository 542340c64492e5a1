"""Explore page: the report's exploration charts, before segmenting."""

from __future__ import annotations

import streamlit as st

from custseg.app import _state as S

st.title("Explore")
st.caption(
    "The customers before segmenting: the same charts as the report's exploration section. "
    "Look for odd values, skewed features and strongly related ones."
)
src = S.need_source()
if src is None:
    st.stop()
with st.spinner("Summarizing the customers"):
    explored = S.attempt(S.exploration, src)
if explored is None:
    st.stop()
eda, figures = explored
st.text(f"{src.name}: {eda['n_customers_text']} customers")

ACTIVITY_TEXT = (
    "Revenue of the kept invoice lines per month, with the number of customers who bought that "
    "month. A first or last month that looks low may just be cut short by the data."
)
SECTIONS = [
    ("activity", "Sales over time", ACTIVITY_TEXT),
    ("orders", "Orders per customer", eda.get("orders_text")),
    ("categories", eda.get("categories_title") or "Categories", None),
    (
        "before",
        "Distribution of each feature",
        f"In the data's original units. {eda.get('folded_text') or ''}",
    ),
    ("after", "The features as the model sees them", eda.get("after_text")),
    ("correlation", "Correlations", eda.get("correlation_text")),
    ("missing", "Missing values", eda.get("missing_text")),
]
for name, title, text in SECTIONS:
    if name not in figures:
        continue
    st.subheader(title)
    if text:
        S.paragraph(text)
    S.chart(figures[name], key=f"explore_{name}")
if "missing" not in figures and eda.get("missing_text"):
    st.subheader("Missing values")
    S.paragraph(eda["missing_text"])
st.subheader("Outliers")
S.paragraph(eda.get("outliers_text", ""))
if eda.get("outliers"):
    st.dataframe(eda["outliers"], hide_index=True)

st.page_link("pages/segment.py", label="Next: segment the customers", icon=":material/play_circle:")
