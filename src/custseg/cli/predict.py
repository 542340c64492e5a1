"""``custseg predict MODEL INPUT --out FILE``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from custseg.cli._common import (
    AmountCol,
    CustomerCol,
    DateCol,
    DateFormat,
    InvoiceCol,
    PriceCol,
    ProductCol,
    QuantityCol,
    Quiet,
    Sheet,
    TableName,
    check_source,
    console_err,
    make_console,
    parse_columns,
    table,
)
from custseg.errors import CustsegWarning, InputError, ModelFileError


def predict_command(
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="model.skops written by custseg segment.")
    ],
    input: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="New customers or invoice lines, of the kind the model was trained on: a file, "
            "or a database (postgresql://... or a SQLite file) with --table.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="CSV file to write (default predictions.csv; none with --to)."
        ),
    ] = None,
    sheet: Sheet = None,
    table_name: TableName = None,
    customer_col: CustomerCol = None,
    invoice_col: InvoiceCol = None,
    date_col: DateCol = None,
    quantity_col: QuantityCol = None,
    price_col: PriceCol = None,
    amount_col: AmountCol = None,
    product_col: ProductCol = None,
    date_format: DateFormat = None,
    analysis_date: Annotated[
        str | None,
        typer.Option(
            help="Day (YYYY-MM-DD) transaction features are measured at; default: the model's own."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Also write the scores to a database (postgresql://user@host/db or a SQLite "
            "file), in one transaction, updating customers scored before.",
        ),
    ] = None,
    to_table: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="With --to: the table to write (created if missing; default customer_segments).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Assign new customers to the segments of a saved model."""
    console = make_console(quiet)
    if not Path(model).exists():  # as custseg.load_model says it, before pandas loads
        raise ModelFileError(
            f"Model file '{model}' does not exist. Pass the model.skops written by custseg segment."
        )
    if to is None and to_table is not None:
        raise InputError("--to-table names a table of the --to database; give --to URL too.")
    if out is None and to is None:
        out = Path("predictions.csv")
    if out is not None and out.is_dir():
        raise InputError(f"--out '{out}' is a folder; pass a file name such as predictions.csv.")
    check_source(input, table=table_name)
    columns = parse_columns(
        customer_id=customer_col,
        invoice=invoice_col,
        date=date_col,
        quantity=quantity_col,
        price=price_col,
        amount=amount_col,
        product=product_col,
    )
    # Loaded after the cheap checks: a misspelled path fails before pandas and scikit-learn.
    import custseg
    from custseg.drift import check as check_drift
    from custseg.export import jsonable, write_atomically, write_csv

    fitted = custseg.load_model(model)
    with console.status("Scoring"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CustsegWarning)
        scored = fitted.predict(
            input,
            sheet=sheet,
            table=table_name,
            columns=columns,
            date_format=date_format,
            analysis_date=analysis_date,
        )
    for w in caught:
        console.print(f"warning: {w.message}", markup=False)
    drift = check_drift(fitted, scored)
    for note in drift.notes:
        console.print(note[:1].upper() + note[1:] + ".", markup=False)
    if not quiet:
        for message in drift.warnings:
            console_err(f"warning: {message}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, lambda tmp: write_csv(scored, tmp))
        report = json.dumps(jsonable(drift.to_dict()), indent=2, ensure_ascii=False) + "\n"
        write_atomically(drift_file(out), lambda tmp: tmp.write_text(report, encoding="utf-8"))
    if to is not None:
        from custseg.engines.database import parse_database
        from custseg.engines.writeback import write_scores
        from custseg.io.readers import file_sha256

        actions = dict(enumerate(fitted.actions))
        written = write_scores(
            scored.assign(action=scored["segment"].map(actions)),
            to,
            to_table or "customer_segments",
            model_id=file_sha256(Path(model)),
        )
        target = parse_database(to)
        shown = target.shown if target is not None else to
        console.print(
            f"Wrote {written:,} scores to table {to_table or 'customer_segments'} of {shown}",
            markup=False,
        )
    counts = scored.groupby(["segment", "segment_name"]).size().reset_index(name="n")
    console.print(
        table(
            f"Scored {len(scored):,} customers",
            ["segment", "name", "customers"],
            [[r.segment, r.segment_name, f"{r.n:,}"] for r in counts.itertuples()],
            right={0, 2},
        )
    )
    if out is not None:
        console.print(f"Wrote {out} and {drift_file(out).name}", markup=False)


def drift_file(out: Path) -> Path:
    """The drift report written beside the predictions: ``scored.csv`` -> ``scored.drift.json``.

    Examples
    --------
    >>> drift_file(Path("out/predictions.csv")).as_posix()
    'out/predictions.drift.json'
    """
    return out.with_name(f"{out.stem if out.suffix else out.name}.drift.json")
