"""``custseg predict MODEL INPUT --out FILE``."""

from __future__ import annotations

import os
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
    make_console,
    parse_columns,
    table,
)
from custseg.errors import CustsegWarning, InputError


def predict_command(
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="model.skops written by custseg segment.")
    ],
    input: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="New customers or invoice lines, of the kind the model was trained on.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")] = Path(
        "predictions.csv"
    ),
    sheet: Sheet = None,
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
    quiet: Quiet = False,
) -> None:
    """Assign new customers to the segments of a saved model."""
    import custseg
    from custseg.export import write_csv

    console = make_console(quiet)
    if out.is_dir():
        raise InputError(f"--out '{out}' is a folder; pass a file name such as predictions.csv.")
    columns = parse_columns(
        customer_id=customer_col,
        invoice=invoice_col,
        date=date_col,
        quantity=quantity_col,
        price=price_col,
        amount=amount_col,
        product=product_col,
    )
    fitted = custseg.load_model(model)
    with console.status("Scoring"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CustsegWarning)
        scored = fitted.predict(
            input,
            sheet=sheet,
            columns=columns,
            date_format=date_format,
            analysis_date=analysis_date,
        )
    for w in caught:
        console.print(f"warning: {w.message}", markup=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        write_csv(scored, tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    counts = scored.groupby(["segment", "segment_name"]).size().reset_index(name="n")
    console.print(
        table(
            f"Scored {len(scored):,} customers",
            ["segment", "name", "customers"],
            [[r.segment, r.segment_name, f"{r.n:,}"] for r in counts.itertuples()],
            right={0, 2},
        )
    )
    console.print(f"Wrote {out}", markup=False)
