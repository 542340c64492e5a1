"""``custseg forecast INPUT --calibration-end DATE [--horizon 365D] --out DIR``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    StageProgress,
    make_console,
    parse_columns,
    table,
)
from custseg.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def evaluation_tables(m: dict[str, Any]) -> list[Any]:
    """The printed evaluation: purchases per customer by model, and the classifier."""
    from custseg.report.forecast import MODEL_LABELS

    rows = []
    for group, label in (("new_customers", "new"), ("all_customers", "all")):
        g = m[group]
        for name, scores in g["models"].items():
            rows.append(
                [
                    label,
                    MODEL_LABELS[name],
                    f"{g['n_customers']:,}",
                    _num(scores["mae"], ".3f"),
                    _num(scores["rmse"], ".3f"),
                    _num(scores["predicted_total"], ",.0f"),
                    _num(g["actual_total"], ",.0f"),
                ]
            )
    covered = (
        f"{m['evaluated_days']} days"
        if m["horizon_fully_covered"]
        else f"first {m['evaluated_days']} of {m['horizon_days']} days"
    )
    purchases = table(
        f"Purchases per customer after {m['calibration_end']} ({covered}); new = first "
        f"purchase in the last {m['new_customer_days']} days",
        ["customers", "model", "n", "MAE", "RMSE", "predicted", "actual"],
        rows,
        right={2, 3, 4, 5, 6},
    )
    c = m["classifier"]
    classifier = table(
        f"First-purchase segment of {c['n_customers']:,} new customers "
        f"({c['family']}, trained on {c['n_training_customers']:,})",
        ["model", "accuracy", "macro-F1"],
        [
            ["classifier", _num(c["accuracy"], ".3f"), _num(c["macro_f1"], ".3f")],
            [
                f"majority: {m['segments'][str(c['majority_segment'])]}",
                _num(c["majority_accuracy"], ".3f"),
                _num(c["majority_macro_f1"], ".3f"),
            ],
        ],
        right={1, 2},
    )
    return [purchases, classifier]


def print_evaluation(console: Console, m: dict[str, Any], out: Path) -> None:
    """Counts, warnings, the evaluation tables and where the files went."""
    n = m["counts"]
    console.print(
        f"Read {n['rows_in']:,} lines, kept {n['rows_kept']:,}; {n['customers_in']:,} customers, "
        f"{n['customers_excluded_no_kept_sale']:,} excluded (no kept sale: only returns, "
        f"negative amounts, ...); {n['customers_in_calibration']:,} in the calibration period "
        f"({n['new_customers']:,} new), {n['customers_first_seen_in_horizon']:,} first seen "
        "after it (not forecast).",
        markup=False,
    )
    for w in m["warnings"]:
        console.print(f"warning: {w}", markup=False)
    for t in evaluation_tables(m):
        console.print(t)
    console.print(
        f"Fitted in {m['seconds']['total']:.1f} s. Wrote metrics.json, forecast.csv and "
        f"report.html to {out}",
        markup=False,
    )
    console.print(f"Report: {out / 'report.html'}", markup=False)


def forecast_command(
    input: Annotated[
        str,
        typer.Argument(
            metavar="INPUT", help="Invoice lines (.csv, .tsv, .txt, .gz, .xlsx, .parquet)."
        ),
    ],
    calibration_end: Annotated[
        str,
        typer.Option(
            help="First day of the forecast (YYYY-MM-DD): models learn from the lines before it "
            "and are compared with the lines after it."
        ),
    ],
    horizon: Annotated[
        str, typer.Option(help="Forecast length: 365D, 52W, 12M, 1Y or a number of days.")
    ] = "365D",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "custseg-forecast"
    ),
    classifier: Annotated[
        str, typer.Option(help="First-purchase classifier: logistic or hgb (boosted trees).")
    ] = "logistic",
    seed: Annotated[int, typer.Option(help="Seed of everything random.")] = 0,
    sheet: Sheet = None,
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
    quiet: Quiet = False,
) -> None:
    """Forecast purchases per customer and the segment of new customers; evaluate by time split."""
    from custseg.export import write_csv
    from custseg.newcustomers import evaluate_forecast
    from custseg.report.forecast import render_forecast_report

    console = make_console(quiet)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out '{out}' is a file; pass a folder name such as forecast-out.")
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
    with StageProgress(console) as steps:
        evaluation = evaluate_forecast(
            input,
            calibration_end,
            horizon=horizon,
            seed=seed,
            classifier=classifier.strip().lower(),
            sheet=sheet,
            columns=columns,
            date_format=date_format,
            progress=steps.update,
        )
    report = render_forecast_report(evaluation.metrics, evaluation.forecast)
    out.mkdir(parents=True, exist_ok=True)
    for name, write in (
        ("forecast.csv", lambda p: write_csv(evaluation.forecast, p)),
        (
            "metrics.json",
            lambda p: p.write_text(
                json.dumps(evaluation.metrics, indent=2, default=str, allow_nan=False) + "\n",
                encoding="utf-8",
            ),
        ),
        (
            "report.html",
            lambda p: p.write_text(report, encoding="utf-8"),
        ),
    ):
        target = out / name
        tmp = target.with_name(f".{name}.tmp-{os.getpid()}")
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
    print_evaluation(console, evaluation.metrics, out)
