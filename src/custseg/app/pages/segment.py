"""Segment page: options, a run button, progress, the candidates and the recommendation."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from custseg.app import _state as S

st.title("Segment")
st.caption(
    "custseg fits each clustering family for 2 to 10 segments, measures every candidate "
    "(separation, compactness, stability on subsamples, smallest segment) and recommends one. "
    "Pick one family or a fixed number of segments to override it."
)
src = S.need_source()
if src is None:
    st.stop()
st.text(f"Data: {src.name}")

previous: dict[str, Any] = (S.current() or {}).get("options") or {}
previous_params: dict[str, Any] = previous.get("params") or {}
with st.form("segment_options", border=True):
    first, second, third = st.columns(3, gap="large")
    algorithms = list(S.ALGORITHMS)
    algorithm = first.selectbox(
        "Algorithm",
        algorithms,
        index=algorithms.index(previous.get("algorithm", "auto")),
        format_func=lambda name: S.ALGORITHMS[name],
        help="auto compares every family and recommends one; k-means alone is the fastest.",
    )
    k_mode = second.radio(
        "Number of segments",
        ["auto", "fixed"],
        index=0 if previous.get("k") is None else 1,
        format_func={"auto": "choose it (2 to 10)", "fixed": "fixed"}.get,
        horizontal=True,
    )
    k_value = second.number_input(
        "Segments (when fixed)", min_value=2, max_value=30, value=int(previous.get("k") or 4)
    )
    seed = third.number_input(
        "Seed",
        min_value=0,
        value=int(previous.get("seed", 0)),
        help="Same file, options and seed give the same segments.",
    )
    with st.expander("Options of some families"):
        a, b, c, d = st.columns(4)
        linkages = ["default", "ward", "complete", "average", "single"]
        linkage = a.selectbox(
            "Hierarchical linkage",
            linkages,
            index=linkages.index(previous_params.get("linkage") or "default"),
        )
        eps = b.number_input(
            "DBSCAN radius (eps; 0: from the k-distance knee)",
            min_value=0.0,
            value=float(previous_params.get("eps") or 0.0),
            step=0.1,
        )
        min_samples = c.number_input(
            "DBSCAN/HDBSCAN min samples (0: default)",
            min_value=0,
            value=int(previous_params.get("min_samples") or 0),
        )
        min_cluster_size = d.number_input(
            "HDBSCAN smallest segment (0: 1% of customers)",
            min_value=0,
            value=int(previous_params.get("min_cluster_size") or 0),
        )
    submitted = st.form_submit_button("Segment", type="primary", icon=":material/play_arrow:")

options: dict[str, Any] = {
    "algorithm": algorithm,
    "k": int(k_value) if k_mode == "fixed" else None,
    "seed": int(seed),
    "params": {
        "linkage": None if linkage == "default" else linkage,
        "eps": float(eps) or None,
        "min_samples": int(min_samples) or None,
        "min_cluster_size": int(min_cluster_size) or None,
    },
}

if submitted:
    started = time.perf_counter()
    with st.status("Segmenting", expanded=True) as status:
        bar = st.progress(0.0)
        steps: list[str] = []

        def progress(label: str) -> None:
            steps.append(label)
            elapsed = time.perf_counter() - started
            status.update(label=f"{label} ({elapsed:.0f} s)")
            bar.progress(min(0.95, len(steps) / (len(steps) + 4)), text=label)

        ran = S.attempt(S.run_segmentation, src, options, progress)
        seconds = time.perf_counter() - started
        if ran is None:
            S.clear_result()  # the options on screen no longer match any result
            status.update(label="Segmentation failed", state="error", expanded=True)
        else:
            bar.progress(1.0, text="Done")
            status.update(label="Done", state="complete", expanded=False)
    if ran is not None:
        # The first thing to see after a run is the named segments; this page keeps the
        # recommendation and the candidates compared.
        done = f"Segmented in {seconds:.1f} s" if steps else "Remembered from before"
        found = ran[0].metrics
        family = S.ALGORITHM_NAMES.get(str(found.get("algorithm")), found.get("algorithm"))
        S.notify(
            "success",
            f"{done}: {family} with {found.get('k')} segments. Why this choice and the "
            "candidates compared are on the Segment page.",
        )
        for warning in dict.fromkeys([*(found.get("warnings") or []), *ran[1]]):
            S.notify("warning", warning)
        st.switch_page("pages/segments.py")

entry = S.current()
if entry is None:
    st.stop()
result = entry["result"]
metrics = result.metrics
S.show_warnings(
    list(dict.fromkeys([*(metrics.get("warnings") or []), *(entry.get("notes") or [])]))
)
with st.spinner("Preparing the charts"):
    reported = S.attempt(S.report, entry)
if reported is None:
    st.stop()
data, figures = reported

st.subheader("Recommendation")
st.success(S.md(metrics.get("selection_reason") or data["reason"]), icon=":material/recommend:")
for sentence in data["summary"]:
    S.paragraph(sentence)
if metrics.get("family_reason"):
    st.markdown("**Number of segments.** " + S.md(metrics["family_reason"]))
for note in metrics.get("selection_notes") or []:
    st.caption(S.md(note))

if "k_selection" in figures:
    S.chart(figures["k_selection"], key="segment_k_selection")
if "dendrogram" in figures:
    S.chart(figures["dendrogram"], key="segment_dendrogram")

st.subheader("Candidates compared")
COLUMNS = {
    "algorithm": "family",
    "k": "k",
    "silhouette": "silhouette",
    "davies_bouldin": "Davies-Bouldin",
    "calinski_harabasz": "Calinski-Harabasz",
    "stability": "stability",
    "noise_share": "noise",
    "smallest_share": "smallest",
    "seconds": "seconds",
    "excluded": "not recommended because",
}
board = pd.DataFrame([{k: row.get(k) for k in COLUMNS} for row in metrics.get("leaderboard") or []])
NUMBERS = ["silhouette", "davies_bouldin", "calinski_harabasz", "stability", "seconds"]
if not board.empty:
    board.insert(
        0,
        "",
        [
            "chosen" if r.get("recommended") else ("pick" if r.get("family_choice") else "")
            for r in metrics["leaderboard"]
        ],
    )
    board["algorithm"] = board["algorithm"].map(lambda a: S.ALGORITHM_NAMES.get(a, a))
    for number in NUMBERS:
        board[number] = pd.to_numeric(board[number], errors="coerce")
    # Stability is measured for the recommendation and each family's pick only: the others
    # show a dash (a missing number would read "None").
    board["stability"] = [f"{v:.2f}" if pd.notna(v) else "–" for v in board["stability"]]
    for share in ("noise_share", "smallest_share"):
        board[share] = pd.to_numeric(board[share], errors="coerce") * 100
    board["excluded"] = board["excluded"].fillna("")
    board = board.rename(columns=COLUMNS)
    st.dataframe(
        board,
        hide_index=True,
        height=min(600, 38 + 35 * len(board)),
        column_config={
            "": st.column_config.TextColumn("", width=70),
            # Wide enough for the longest family name ("Gaussian mixture") in full.
            "family": st.column_config.TextColumn("family", width=150),
            "k": st.column_config.NumberColumn("k", width=45),
            "silhouette": st.column_config.NumberColumn(format="%.3f"),
            "Davies-Bouldin": st.column_config.NumberColumn(format="%.2f"),
            "Calinski-Harabasz": st.column_config.NumberColumn(format="%.0f"),
            "stability": st.column_config.TextColumn(alignment="right"),
            "noise": st.column_config.NumberColumn(format="%.1f%%"),
            "smallest": st.column_config.NumberColumn(format="%.1f%%"),
            "seconds": st.column_config.NumberColumn(format="%.1f"),
            "not recommended because": st.column_config.TextColumn(width="large"),
        },
    )
    st.caption(
        "chosen: the recommendation; pick: the number of segments each family chose. "
        "Silhouette and Calinski-Harabasz: higher is better; Davies-Bouldin: lower is better; "
        "stability: median adjusted Rand index of refits on subsamples (1 = the same segments)."
    )
with st.expander("What the criteria mean"):
    for item in data["k_selection"].get("explanations") or []:
        st.markdown(f"**{S.md(item['name'])}**: {S.md(item['text'])}")

st.page_link("pages/segments.py", label="Next: the segments", icon=":material/groups:")
