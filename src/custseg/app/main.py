"""The Streamlit script of the custseg app: page setup and navigation (``custseg app``)."""

from __future__ import annotations

import streamlit as st

from custseg.app import _state as S

st.set_page_config(
    page_title="custseg: customer segments",
    page_icon=":material/groups:",
    layout="wide",
    initial_sidebar_state="expanded",
)

if not st.get_option("server.enableXsrfProtection"):
    # custseg app turns it on; only a flag given on purpose turns it off (RELIABILITY.md 43).
    st.sidebar.warning(
        "XSRF protection is off (--server.enableXsrfProtection false): another web site open "
        "in the same browser could send files to this app. Restart it without that flag.",
        icon=":material/shield:",
    )

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:", default=True),
    st.Page("pages/explore.py", title="Explore", icon=":material/bar_chart:"),
    st.Page("pages/segment.py", title="Segment", icon=":material/play_circle:"),
    st.Page("pages/segments.py", title="Segments", icon=":material/groups:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/migration.py", title="Migration", icon=":material/move_down:"),
    st.Page("pages/score.py", title="Score new customers", icon=":material/person_add:"),
    st.Page("pages/download.py", title="Download", icon=":material/download:"),
]

page = st.navigation(PAGES)
try:
    page.run()
except Exception as exc:  # st.stop and st.rerun are BaseExceptions and pass through
    S.show_error(exc)
