"""``custseg segment INPUT --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from custseg.cli._common import (
    AmountCol,
    Currency,
    CustomerCol,
    DateCol,
    DateFormat,
    Engine,
    InvoiceCol,
    Labels,
    MemoryLimit,
    PriceCol,
    ProductCol,
    QuantityCol,
    Quiet,
    Sheet,
    SparkConf,
    SparkDriverLimit,
    SparkMaster,
    SparkOutput,
    StageProgress,
    TableName,
    check_source,
    make_console,
    parse_columns,
    parse_spark_conf,
    table,
)
from custseg.errors import InputError
from custseg.models.families import family_names, find_family, or_list

if TYPE_CHECKING:
    from rich.console import Console


def _fmt_money(value: float) -> str:
    return f"{value:,.0f}"


def print_result(console: Console, result: Any, out: Path | None) -> None:
    """Print what a segmentation found: source, roles, cleaning, k choice and segments."""
    m = result.metrics
    src = m["source"]
    where = src.get("path") or src["name"]
    left_out = sum((src.get("left_out") or {}).values())
    counted = f"{src['n_rows']:,} rows" + (
        f" of data and {left_out:,} left out (see the note)" if left_out else ""
    )
    details = [counted, f"format {src['format']}"]
    if (src.get("n_files") or 1) > 1:
        details.insert(0, f"{src['n_files']:,} files")
    if src.get("encoding"):
        details += [f"encoding {src['encoding']}", f"{src['delimiter']}-separated"]
    if src.get("sheet"):
        details.append(f"sheet '{src['sheet']}'")
    console.print(f"Read {where}: " + ", ".join(details), markup=False)
    for note in src.get("notes", []):
        console.print(f"note: {note}", markup=False)
    schema = m["schema"]
    console.print(f"Kind: {schema['kind']} ({schema['kind_reason']})", markup=False)
    console.print(
        table("Column roles", ["role", "column"], [[r, c] for r, c in schema["roles"].items()])
    )
    if schema.get("date_format"):
        console.print(f"Dates read with format {schema['date_format']}", markup=False)
    if m["kind"] == "customers":
        pre = m["preprocessing"]
        console.print(
            f"Attributes used: {len(pre['numeric'])} numeric ({', '.join(pre['numeric'])})"
            + (
                f"; {len(pre['categorical'])} categorical ({', '.join(pre['categorical'])})"
                if pre["categorical"]
                else ""
            ),
            markup=False,
        )
    cleaning = m["cleaning"]
    if m["kind"] == "transactions":
        rows = [
            [d["reason"], f"{d['rows']:,}", _fmt_money(d["revenue"])]
            for d in cleaning["dropped"]
            if d["rows"]
        ]
        rows.append(["kept", f"{cleaning['rows_kept']:,}", _fmt_money(cleaning["revenue_kept"])])
        rows.append(["rows in", f"{cleaning['rows_in']:,}", _fmt_money(cleaning["revenue_in"])])
        console.print(
            table(
                f"Cleaning (analysis date {m['analysis_date']})",
                ["lines", "rows", "revenue"],
                rows,
                right={1, 2},
            )
        )
    for w in m["warnings"]:
        console.print(f"warning: {w}", markup=False)
    for n in m["preprocessing"]["notices"]:
        console.print(f"note: {n}", markup=False)
    console.print(leaderboard_table(m))
    console.print(
        "pick: the k each family chose; out: that choice is not recommended (why: below); "
        "chosen: the recommendation. silh./DB/CH: silhouette, Davies-Bouldin, "
        "Calinski-Harabasz; stab.: median adjusted Rand index of refits on subsamples "
        "(1 = the same segments).",
        markup=False,
    )
    for note in m.get("selection_notes") or []:
        console.print(f"note: {note}", markup=False)
    if m.get("family_reason"):
        console.print(f"Number of segments: {m['family_reason']}", markup=False)
    console.print(f"Recommendation: {m['selection_reason']}", markup=False)
    if (m.get("structure") or {}).get("summary"):
        console.print(f"Structure: {m['structure']['summary']}", markup=False)
    prof = result.profiles
    cols = ["segment", "name", "customers", "share"]
    has_rev = "revenue_share" in prof and bool(prof["revenue_share"].notna().any())
    if has_rev:
        value = (m.get("value") or {}).get("label") or "revenue"
        cols.append(f"{value} share")
    rows = []
    for _, p in prof.iterrows():
        row = [p["segment"], p["segment_name"], f"{p['n_customers']:,}", f"{p['share']:.1%}"]
        if has_rev:
            row.append(f"{p['revenue_share']:.1%}")
        rows.append(row)
    console.print(table("Segments", cols, rows, right={0, 2, 3, 4} if has_rev else {0, 2, 3}))
    console.print("Recommended actions:")
    for _, p in prof.iterrows():
        console.print(f"  {p['segment']} {p['segment_name']}: {p['action']}", markup=False)
    scale_out = result.metrics.get("scale_out")
    if scale_out is not None:
        console.print(f"note: {scale_out['note']}", markup=False)
    if out is not None:
        from custseg.result import OUTPUT_FILES

        files = list(OUTPUT_FILES)
        if scale_out is not None:
            files[0] = "segments_sample.csv"
            if scale_out.get("moved_into_output"):
                files.insert(1, "segments.parquet")
        console.print(f"Wrote {', '.join(files[:-1])} and {files[-1]} to {out}", markup=False)
        if scale_out is not None and not scale_out.get("moved_into_output"):
            console.print(
                f"Every customer's segment: {scale_out['parquet']} (Parquet, written by Spark)",
                markup=False,
            )
        console.print(f"Report: {out / 'report.html'}", markup=False)
        for note in result.metrics.get("export_notes") or []:
            console.print(f"note: {note}", markup=False)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def short_label(algorithm: str) -> str:
    """A family's name in the candidate table (its registry entry's ``short_label``)."""
    family = find_family(algorithm)
    return family.short_label if family else algorithm


def leaderboard_table(m: dict[str, Any]) -> Any:
    """The candidates compared: one row per algorithm and k, with the criteria that fit an
    80-column terminal (WCSS and BIC are in metrics.json and the report)."""
    rows = []
    for r in m["leaderboard"]:
        if r.get("recommended"):
            mark = "chosen"
        elif r.get("family_choice"):
            mark = "out" if r.get("excluded") else "pick"
        else:
            mark = ""
        rows.append(
            [
                short_label(r["algorithm"]),
                r["k"],
                _fmt(r.get("silhouette"), ".3f"),
                _fmt(r.get("davies_bouldin"), ".2f"),
                _fmt(r.get("calinski_harabasz"), ",.0f"),
                _fmt(r.get("noise_share"), ".0%"),
                _fmt(r.get("smallest_share"), ".1%"),
                _fmt(r.get("stability"), ".2f"),
                _fmt(r.get("seconds"), ".1f"),
                mark,
            ]
        )
    sampled = (
        f"; silhouette on a sample of {m['silhouette_sample_size']:,}"
        if m.get("silhouette_sampled")
        else ""
    )
    n_repeats = max((r.get("stability_repeats") or 0 for r in m["leaderboard"]), default=0)
    return table(
        f"Candidates compared on {m['n_customers']:,} customers (stability: median ARI over "
        f"{n_repeats} subsamples{sampled})",
        ["family", "k", "silh.", "DB", "CH", "noise", "smallest", "stab.", "sec", ""],
        rows,
        right=set(range(1, 9)),
    )


def parse_k(value: str) -> int | None:
    """``auto`` or a whole number of at least 2."""
    if value.strip().lower() == "auto":
        return None
    try:
        k = int(value)
    except ValueError:
        raise InputError(
            f"--k must be 'auto' or a whole number such as 4, got {value!r}."
        ) from None
    if k < 2:
        raise InputError(f"--k must be at least 2, got {k}.")
    return k


def segment_command(
    input: Annotated[
        str | None,
        typer.Argument(
            metavar="INPUT",
            help="Invoice lines or a customer table (.csv, .tsv, .txt, .gz, .xlsx, .parquet), "
            "a folder or quoted glob ('data/*.parquet') of CSV or Parquet files, or a database "
            "(postgresql://user@host/db or a SQLite file) with --table.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "custseg-output"
    ),
    kind: Annotated[str, typer.Option(help="auto, transactions or customers.")] = "auto",
    k: Annotated[
        str, typer.Option("--k", help="Number of segments, or 'auto' (chosen from 2..10).")
    ] = "auto",
    algorithm: Annotated[
        str,
        typer.Option(
            help=f"auto (compare every family and recommend one), {or_list(family_names())}."
        ),
    ] = "auto",
    linkage: Annotated[
        str | None, typer.Option(help="Hierarchical linkage: ward, complete, average or single.")
    ] = None,
    eps: Annotated[
        float | None, typer.Option(help="DBSCAN radius (default: knee of the k-distance curve).")
    ] = None,
    min_samples: Annotated[
        int | None, typer.Option(help="DBSCAN/HDBSCAN neighbours that make a core point.")
    ] = None,
    min_cluster_size: Annotated[
        int | None, typer.Option(help="HDBSCAN smallest segment (default: 1% of customers).")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed: same input, options and seed give the same segments.")
    ] = 0,
    sheet: Sheet = None,
    table_name: TableName = None,
    customer_col: CustomerCol = None,
    invoice_col: InvoiceCol = None,
    date_col: DateCol = None,
    quantity_col: QuantityCol = None,
    price_col: PriceCol = None,
    amount_col: AmountCol = None,
    product_col: ProductCol = None,
    description_col: Annotated[
        str | None, typer.Option(help="Column with the product description.")
    ] = None,
    country_col: Annotated[str | None, typer.Option(help="Column with the country.")] = None,
    date_format: DateFormat = None,
    analysis_date: Annotated[
        str | None,
        typer.Option(
            help="Day features are measured at (YYYY-MM-DD); default: day after the last transaction."
        ),
    ] = None,
    non_product_codes: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated stock codes that are not products (replaces the default list)."
        ),
    ] = None,
    value_col: Annotated[
        str | None,
        typer.Option(
            help="Customer tables: comma-separated column(s) measuring a customer's value "
            "(spend); default: the spend-like columns."
        ),
    ] = None,
    labels: Labels = None,
    currency: Currency = None,
    memory_limit: MemoryLimit = None,
    engine: Engine = "duckdb",
    spark_master: SparkMaster = None,
    spark_conf: SparkConf = None,
    spark_driver_limit: SparkDriverLimit = None,
    spark_output: SparkOutput = None,
    quiet: Quiet = False,
) -> None:
    """Find, name and explain customer segments; write the report and a scoring model."""
    import custseg

    # A misspelled path fails here, before pandas, scikit-learn and DuckDB are loaded.
    source = check_source(input, engine, table_name)
    spark_settings = parse_spark_conf(spark_conf)
    from custseg.engines.duckdb import engine_settings, parse_memory_limit

    limit = None if memory_limit is None else parse_memory_limit(memory_limit)
    console = make_console(quiet)
    columns = parse_columns(
        customer_id=customer_col,
        invoice=invoice_col,
        date=date_col,
        quantity=quantity_col,
        price=price_col,
        amount=amount_col,
        product=product_col,
        description=description_col,
        country=country_col,
    )
    codes = (
        None
        if non_product_codes is None
        else [c.strip() for c in non_product_codes.split(",") if c.strip()]
    )
    from custseg.labels import load_labels, parse_currency

    # Checked before the file is read: a typo here should not cost the whole run.
    user_labels = None if labels is None else load_labels(labels)
    parse_currency(currency)
    value_cols = (
        None if value_col is None else [c.strip() for c in value_col.split(",") if c.strip()]
    )
    from custseg.result import check_output_dir

    check_output_dir(out.resolve())
    import custseg.pipeline

    custseg.pipeline.WARM_UP = True  # this process is ours: load scikit-learn while DuckDB reads
    with engine_settings(memory_limit=limit), StageProgress(console) as steps:
        result = custseg.segment(
            source,
            kind=kind,
            k=parse_k(k),
            algorithm=algorithm.strip().lower(),
            params={
                "linkage": linkage,
                "eps": eps,
                "min_samples": min_samples,
                "min_cluster_size": min_cluster_size,
            },
            seed=seed,
            sheet=sheet,
            table=table_name,
            columns=columns,
            date_format=date_format,
            analysis_date=analysis_date,
            non_product_codes=codes,
            progress=steps.update,
            value_col=value_cols,
            feature_labels=user_labels,
            currency=currency,
            engine=engine,
            spark_master=spark_master,
            spark_conf=spark_settings or None,
            spark_driver_limit=spark_driver_limit,
            spark_output=spark_output,
        )
        steps.update("Writing the report and the model")
        target = result.save(out)
    print_result(console, result, target)
