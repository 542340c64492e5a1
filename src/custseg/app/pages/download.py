"""Download page: the output files of the current segmentation, and each segment's customer
list."""

from __future__ import annotations

import streamlit as st

from custseg.app import _state as S

st.title("Download")
st.caption(
    "The same files as `custseg segment --out DIR` writes, with the names you gave the "
    "segments; and each segment's customers as a list of its own. The files are written once "
    "per segmentation and set of names."
)
entry = S.need_result()
if entry is None:
    st.stop()
with st.spinner("Writing the files"):
    built = S.attempt(S.output_files, entry)
if built is None:
    st.stop()
files, notes = built

FILES = [
    ("segments.csv", "text/csv", "One row per customer: segment, name and features."),
    (
        "segments.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
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
    (
        "segments.parquet",
        "application/vnd.apache.parquet",
        "Every customer's id exactly as in your file, with segment and name: the key to join "
        "back on (written when some ids start like a spreadsheet formula).",
    ),
]


def zip_button(label: str, content: bytes, file_name: str, primary: bool = False) -> None:
    st.download_button(
        label,
        content,
        file_name=file_name,
        mime="application/zip",
        icon=":material/folder_zip:",
        key=f"download_{file_name}",
        on_click="ignore",
        type="primary" if primary else "secondary",
    )


def download_row(label: str, content: bytes, file_name: str, mime: str, what: str) -> None:
    button, text = st.columns([1, 3], vertical_alignment="center")
    button.download_button(
        label,
        content,
        file_name=file_name,
        mime=mime,
        icon=":material/download:",
        key=f"download_{file_name}",
        on_click="ignore",
        width="stretch",
    )
    text.text(f"{what} ({len(content) / 1024:,.0f} KB)")


st.subheader("Output files")
for name, mime, what in FILES:
    if name in files:
        download_row(name, files[name], name, mime, what)
zip_button("All files (.zip)", S.output_zip(entry), "custseg-output.zip", primary=True)
for note in notes:
    st.caption(S.md(note))

st.subheader("Customer lists, one per segment")
st.caption(
    "Each segment's customers with the columns of segments.csv and the segment's suggested "
    "action, ready for a campaign tool. Text that a spreadsheet would read as a formula "
    "(starting with =, +, - or @) starts with an apostrophe, as in every custseg CSV."
)
rows = S.report(entry)[0]["segments"]["rows"]
for row in rows:
    file_name, content = S.segment_list(entry, int(row["segment"]))
    label = S.segment_label(row["segment"], row["name"]) if not row.get("noise") else row["name"]
    # A button's label is markdown: the segment's name is escaped to show as written.
    download_row(S.md(label), content, file_name, "text/csv", f"{row['customers']} customers")
zip_button("All customer lists (.zip)", S.segment_lists_zip(entry), "custseg-segment-lists.zip")

st.subheader("Audiences for a mailing tool")
st.caption(
    "One CSV per segment with the headers mailing tools import: Customer ID, Segment, "
    "Segment Name, Action, and the contact columns you pick (read from your file, joined by "
    "customer id; an email column is written as Email Address, a phone column as Phone "
    "Number). Nothing is added unless you pick it. The same files as "
    "`custseg export OUT_DIR --audiences DIR --contact-cols ...`."
)
result = entry["result"]
src = S.source()
contact_cols: list[str] = []
if src is not None and src.table is None:
    roles = (result.metrics.get("schema") or {}).get("roles") or {}
    columns = [
        c
        for c in (result.metrics.get("source") or {}).get("columns") or []
        if c != roles.get("customer_id")
    ]
    contact_cols = st.multiselect(
        "Contact columns to add",
        columns,
        key="audience_contact_cols",
        help="Email addresses, phone numbers, names, ... Leave empty for ids only.",
    )


def build_audiences() -> bytes:
    from custseg.audiences import audiences_zip, customers_of, read_contacts

    contacts = None
    if contact_cols and src is not None:
        metrics = result.metrics
        contacts, _ = read_contacts(
            src.path,
            contact_cols,
            customer_col=metrics["schema"]["roles"]["customer_id"],
            sheet=(metrics.get("source") or {}).get("sheet"),
        )
    return audiences_zip(customers_of(result), contacts)


audiences = S.attempt(S.memo, f"audiences {contact_cols}", entry["key"], build_audiences)
if audiences is not None:
    zip_button("Audiences (.zip)", audiences, "custseg-audiences.zip")
