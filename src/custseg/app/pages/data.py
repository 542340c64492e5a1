"""Data page: pick a file (or the demo), see it, check how custseg reads it, fix the roles."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from custseg.app import _state as S
from custseg.engines.database import SQLITE_SUFFIXES

st.title("Customer segments")
st.caption(
    "Upload invoice lines (one row per product bought) or a customer table (one row per "
    "customer), check how custseg reads them, then explore and segment. Everything runs on "
    "this server; the file stays in your session."
)

# Streamlit forgets a widget's value when another page is shown, so the choice is drawn from
# the session's source: coming back to this page keeps the demo data (and its result).
chosen = S.source()
CHOICES = ["Upload a file", "Use the demo data", "Read a PostgreSQL table"]
SPARK = "Read with Apache Spark"
if S.spark_allowed():
    CHOICES.append(SPARK)
choice = st.radio(
    "Data",
    CHOICES,
    index=(
        1
        if chosen is not None and chosen.demo
        else 3
        if chosen is not None and chosen.spark_master is not None and SPARK in CHOICES
        else 2
        if chosen is not None and chosen.table is not None
        else 0
    ),
    horizontal=True,
    key="data_choice",
    help="The demo data: invoice lines of 800 customers of a UK online shop (UCI Online "
    "Retail). A PostgreSQL table is read where it is: only one row per customer leaves the "
    "database, which is never written to. Apache Spark (when PySpark is installed and the "
    "app runs on this computer only) reads files, folders and catalog tables where they are.",
)
if choice == "Use the demo data":
    S.set_source(S.demo_source())
elif choice == "Read a PostgreSQL table":
    with st.form("data_database"):
        url = st.text_input(
            "Database URL",
            placeholder="postgresql://user@host:5432/dbname",
            key="data_db_url",
        )
        table_name = st.text_input(
            "Table or view", placeholder="orders or schema.orders", key="data_db_table"
        )
        secret = st.text_input(
            "Password (if the URL has none)", type="password", key="data_db_password"
        )
        read = st.form_submit_button("Read the table")
    if read:
        db_source = S.attempt(S.database_source, url, table_name, secret)
        if db_source is not None:
            S.set_source(db_source)
    src_now = S.source()
    if src_now is not None and (src_now.table is None or src_now.spark_master is not None):
        S.set_source(None)
elif choice == SPARK:
    with st.form("data_spark"):
        spark_path = st.text_input(
            "Parquet or CSV: a file, folder or glob (any path Spark reads)",
            placeholder="/data/orders/*.parquet or s3a://bucket/orders/",
            key="data_spark_path",
        )
        spark_table = st.text_input(
            "or a table of the Spark catalog", placeholder="db.orders", key="data_spark_table"
        )
        master = st.text_input("Spark master", value="local[*]", key="data_spark_master")
        read = st.form_submit_button("Read with Spark")
    if read:
        spark_src = S.attempt(S.spark_source, spark_path, spark_table, master)
        if spark_src is not None:
            S.set_source(spark_src)
    src_now = S.source()
    if src_now is not None and src_now.spark_master is None:
        S.set_source(None)
else:
    uploaded = st.file_uploader(
        f"CSV, TSV, Excel (.xlsx), Parquet or SQLite file, up to {S.upload_limit_mb()} MB",
        key="data_upload",
        help="Invoice lines need a customer id, a date and a price or amount; a customer table "
        "needs a customer id and some attributes. Gzipped CSV (.csv.gz) works too.",
    )
    if uploaded is None:
        src = S.source()
        if src is not None and (src.demo or src.table is not None or src.spark_master):
            S.set_source(None)
    else:
        stored = S.attempt(S.store_upload, uploaded.name, uploaded.getvalue())
        S.set_source(stored)

src = S.source()
if src is None:
    st.info(
        "Upload a file, choose **Use the demo data** to try the app, or read a PostgreSQL table."
    )
    st.stop()

if src.table is None and src.spark_master is None and src.name.lower().endswith(SQLITE_SUFFIXES):
    opts_now = S.prep_options()
    sqlite_table = st.text_input(
        "Table or view of the SQLite file",
        value=opts_now.get("table") or "",
        key=f"data_sqlite_table_{src.digest[:12]}",
    ).strip()
    if sqlite_table != (opts_now.get("table") or ""):
        S.set_prep_options({**opts_now, "table": sqlite_table})
    if not sqlite_table:
        st.info("Name the table of the SQLite file to read.")
        st.stop()

opts = dict(S.prep_options())
with st.spinner("Reading the file"):
    preview = S.attempt(S.preview, src)
if preview is None:
    st.stop()
frame, info = preview
columns: list[str] = [str(c) for c in info["columns"]]

st.subheader("Preview")
st.text(f"{src.name}: {info['n_rows']:,} rows, {len(columns)} columns, format {info['format']}")
st.dataframe(frame, height=260, hide_index=True)

st.subheader("How custseg reads it")
left, right = st.columns([1, 2], gap="large")
with left:
    kinds = ["auto", "transactions", "customers"]
    kind = st.radio(
        "Kind of data",
        kinds,
        index=kinds.index(opts.get("kind", "auto")),
        format_func={
            "auto": "detect",
            "transactions": "invoice lines (transactions)",
            "customers": "customer table",
        }.get,
        key=f"data_kind_{src.digest[:12]}",
    )
    sheet = opts.get("sheet")
    if src.name.lower().endswith((".xlsx", ".xlsm")):
        sheet = S.optional_text(
            "Excel sheet", sheet, "the first sheet", f"data_sheet_{src.digest[:12]}"
        )
    # Drawn below once the kind is known (customer tables have no dates to read).
    typed = (
        st.session_state.get(f"data_date_format_{src.digest[:12]}", opts.get("date_format")) or ""
    )
    date_format = None if kind == "customers" else (str(typed).strip() or None)
S.set_prep_options({**opts, "kind": kind, "sheet": sheet, "date_format": date_format})

with st.spinner("Reading, cleaning and building customer features"):
    built = S.attempt(S.features, src)
details: dict[str, Any] | None = built[1] if built is not None else None
detected: dict[str, str] = (details or {}).get("schema", {}).get("roles", {})
detected_kind = (details or {}).get("schema", {}).get("kind", kind)

with left:
    if detected_kind != "customers":
        S.optional_text(
            "Date format (only if dates are read wrongly)",
            date_format,
            "detected, e.g. %d/%m/%Y %H:%M",
            f"data_date_format_{src.digest[:12]}",
        )
with right:
    roles = S.CUSTOMER_ROLES if detected_kind == "customers" else S.TRANSACTION_ROLES
    st.markdown("**Column roles** (detected; change any that is wrong)")
    overrides: dict[str, str] = dict(opts.get("columns") or {})
    grid = st.columns(3)
    for i, (role, label) in enumerate(roles.items()):
        current = overrides.get(role) or detected.get(role)
        choices = columns if current in columns else ["(none)", *columns]
        picked = grid[i % 3].selectbox(
            label,
            choices,
            index=choices.index(current) if current in choices else 0,
            key=f"data_role_{role}_{src.digest[:12]}",
        )
        if picked != "(none)" and picked != detected.get(role):
            overrides[role] = picked
        elif picked == detected.get(role):
            overrides.pop(role, None)
if overrides != (opts.get("columns") or {}):
    S.set_prep_options({**S.prep_options(), "columns": overrides})
    st.rerun()

if built is None or details is None:
    st.stop()
feats, details, notes = built
schema = details["schema"]
st.success(
    f"Read as {schema['kind']}: {S.md(schema.get('kind_reason', ''))}. "
    f"{len(feats):,} customers with {len(details['numeric'])} numeric and "
    f"{len(details['categorical'])} categorical features.",
    icon=":material/check_circle:",
)
if schema["kind"] == "customers":
    st.text(
        f"Numeric attributes used: {', '.join(details['numeric']) or 'none'}\n"
        f"Categorical attributes used: {', '.join(details['categorical']) or 'none'}"
    )
S.show_warnings(list(dict.fromkeys([*(details.get("warnings") or []), *notes])))

cleaning = details["cleaning"]
st.subheader("Cleaning")
rows = [{"step": "rows read", "rows": cleaning["rows_in"], "revenue": cleaning.get("revenue_in")}]
for d in cleaning.get("dropped") or []:
    if d.get("rows"):
        rows.append(
            {
                "step": f"dropped: {d.get('description') or d['reason']}",
                "rows": d["rows"],
                "revenue": d.get("revenue"),
            }
        )
rows.append(
    {"step": "rows kept", "rows": cleaning["rows_kept"], "revenue": cleaning.get("revenue_kept")}
)
table = pd.DataFrame(rows)
if table["revenue"].isna().all():
    table = table.drop(columns="revenue")
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "step": st.column_config.TextColumn("step", width="large"),
        "rows": st.column_config.NumberColumn("rows", format="localized"),
        "revenue": st.column_config.NumberColumn("revenue", format="localized"),
    },
)
if cleaning.get("non_product_codes"):
    st.caption(
        "Stock codes that are not products: " + S.md(", ".join(cleaning["non_product_codes"]))
    )
if "customers_in" in cleaning:
    st.text(
        f"Customers: {cleaning['customers_in']:,} in the file, {cleaning['customers_kept']:,} "
        "with data left after cleaning."
    )

with st.expander("Customer features (one row per customer)"):
    st.dataframe(feats.head(500), height=300)

st.page_link("pages/explore.py", label="Next: explore the customers", icon=":material/bar_chart:")
st.page_link("pages/segment.py", label="Or segment them now", icon=":material/play_circle:")
