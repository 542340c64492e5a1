"""Read, clean and turn a source into one row of features per customer: the first stages of
every job (``segment``, ``predict``, the new-customer data), whatever engine computes them.

:func:`prepare` reads a file, folder, glob or DataFrame into DuckDB, or names a table of a SQL
database (:mod:`custseg.engines.database`), and returns the customer features with the row
accounting (:class:`Prepared`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from custseg.clean import CleaningReport, build_lines, clean_lines
from custseg.engines.base import ENGINES
from custseg.engines.duckdb import DuckDBEngine
from custseg.errors import InputError
from custseg.features.customers import CustomerColumns, customer_features, plan_customer_columns
from custseg.features.transactions import (
    TRANSACTION_FEATURES,
    activity_summary,
    transaction_features,
)
from custseg.io.readers import SourceInfo, load_source
from custseg.schema import (
    Schema,
    add_date_role_from_values,
    describe_roles,
    detect_kind,
    detect_roles,
    prefer_email_id,
)

if TYPE_CHECKING:
    from custseg.engines.base import RemoteEngine
    from custseg.engines.database import DatabaseSource

Progress = Callable[[str], None]

STAGES = {
    "read": "Reading the file",
    "clean": "Cleaning lines",
    "features": "Building customer features",
    "preprocess": "Preprocessing",
    "model": "Comparing algorithms and numbers of segments",
    "profile": "Profiling and naming segments",
    "new_customers": "Fitting the new-customer models",
}


@dataclass
class Prepared:
    """Customer features and what was learned on the way."""

    features: pd.DataFrame
    info: SourceInfo
    schema: Schema
    numeric: list[str]
    categorical: list[str]
    cleaning: dict[str, Any]
    customer_columns: CustomerColumns | None = None
    analysis_date: str | None = None
    warnings: list[str] = field(default_factory=list)
    activity: dict[str, Any] | None = None
    """Kept sales by month and country (transactions, when asked for): the report's EDA."""
    lines: Any = None
    """Kept sale lines (:class:`custseg.newcustomers.data.SaleLines`), when asked for."""
    engine: str = "duckdb"
    """Where the lines were cleaned: ``duckdb`` (they are in the local engine's
    ``clean_lines``), or the label of a remote engine (``PostgreSQL``, ``SQLite``, ``Spark``),
    where they stay."""
    scale_out: Any = None
    """A Spark job with more customers than the driver limit
    (:class:`custseg.engines.mllib.ScaleOut`): ``features`` is then a seeded sample, every
    customer's features stay in Spark, and the Spark session is open until the pipeline closes
    this."""


class Timer:
    """Seconds per stage of a job, reported to ``progress`` as each stage starts."""

    def __init__(self, progress: Progress | None) -> None:
        self.seconds: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.progress is not None:
            self.progress(STAGES.get(name, name))
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


def where(info: SourceInfo) -> str:
    """How messages name the source (:func:`custseg.io.readers.describe_source`)."""
    from custseg.io.readers import describe_source

    return describe_source(info)


def parse_date(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            f"Analysis date {value!r} is not a date. Write it as YYYY-MM-DD, e.g. 2011-12-10."
        ) from None


def prepare(
    engine: DuckDBEngine,
    source: str | Path | pd.DataFrame,
    timer: Timer,
    *,
    kind: str = "auto",
    sheet: str | None = None,
    table: str | None = None,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    analysis_date: str | dt.date | None = None,
    non_product_codes: list[str] | None = None,
    customer_plan: CustomerColumns | None = None,
    model_roles: dict[str, str] | None = None,
    preferred_date_format: str | None = None,
    summarize: bool = False,
    portable_ready: threading.Event | None = None,
    password: str | None = None,
    engine_name: str = "duckdb",
    spark: dict[str, Any] | None = None,
) -> Prepared:
    """Read a source and build one row of features per customer, with the row accounting.

    Files, folders, globs and DataFrames are read into ``engine`` (DuckDB). A database (a
    ``postgresql://`` URL or a SQLite file, with ``table``) is read where it is: the cleaning
    and the features of invoice lines run in the database (:mod:`custseg.engines.database`);
    a customer table, one row per customer already, is copied into ``engine`` and typed like
    a file. With ``engine_name="spark"`` files, folders, globs and catalog tables are read by
    Apache Spark and cleaned there (:mod:`custseg.engines.spark`; ``spark`` holds ``master``
    and ``conf``). ``model_roles`` (a model's column roles, at scoring) are used where the
    data has their columns (:func:`custseg.schema.detect_roles`), and
    ``preferred_date_format`` (the format a model was given) reads text dates it reads
    entirely, detection the others. The other options are :func:`custseg.segment`'s.

    Raises
    ------
    InputError
        For anything wrong with the source or the options, in one sentence that says how to
        fix it.
    """
    from custseg.engines.database import parse_database

    if not isinstance(source, (str, Path, pd.DataFrame)):
        raise InputError(
            f"Cannot read a {type(source).__name__}: pass a file path, a database URL or a "
            "pandas DataFrame."
        )
    options: dict[str, Any] = {
        "kind": kind,
        "columns": columns,
        "analysis_date": analysis_date,
        "non_product_codes": non_product_codes,
        "customer_plan": customer_plan,
        "model_roles": model_roles,
        "summarize": summarize,
    }
    if engine_name not in ENGINES:
        raise InputError(f"Unknown engine {engine_name!r}. Choose one of: {', '.join(ENGINES)}.")
    if engine_name == "spark":
        if isinstance(source, pd.DataFrame):
            raise InputError(
                "engine='spark' reads files, folders, globs and Spark tables, not a pandas "
                "DataFrame. Pass a path or table=, or leave engine= out."
            )
        if date_format is not None:
            raise InputError(
                "--date-format is not available with --engine spark: Spark reads ISO dates "
                "(2011-12-09 12:50) from text and real dates from Parquet. Convert the dates, "
                "or run without --engine spark."
            )
        from custseg.engines.spark import SparkEngine

        settings = dict(spark or {})
        scale = {
            key: settings.pop(key, None) for key in ("driver_limit", "output", "seed", "algorithm")
        }
        remote = SparkEngine(**settings)
        try:
            with timer.stage("read"):
                raw, info = remote.read(None if table is not None else str(source), table=table)
            prepared = prepare_remote(engine, remote, raw, info, timer, scale=scale, **options)
        except BaseException:
            remote.close()
            raise
        if prepared.scale_out is None:
            remote.close()
        return prepared
    db = parse_database(source)
    if db is not None:
        return _prepare_database(
            engine,
            db,
            timer,
            table=table,
            date_format=date_format,
            password=password,
            **options,
        )
    if table is not None:
        raise InputError(
            f"--table {table!r} names a table of a database, but {source!s} is not one. Pass a "
            "postgresql:// URL or a SQLite file with --table, or leave --table out for a file."
        )
    with timer.stage("read"):
        info = load_source(engine, source, sheet=sheet)
        roles = detect_roles(info.columns, columns, model_roles)
        # The roles the user (or, at scoring, the model) gave: they stand as given.
        given = {*(columns or {}), *(model_roles or {})}
        if (why := prefer_email_id(engine, roles, info.columns, given)) is not None:
            info.notes.append(why)
        place = where(info)
        if kind != "customers":
            add_date_role_from_values(engine, roles, info.columns, place)
        _require_id(roles, info, place)
        kind, reason = detect_kind(engine, roles, info.columns, place, kind)
    if kind == "transactions":
        schema = Schema(kind=kind, roles=roles, kind_reason=reason)
        if portable_ready is not None:
            portable_ready.wait()
        with timer.stage("clean"):
            warns = build_lines(
                engine,
                schema,
                info,
                date_format,
                explicit=given,
                preferred_format=preferred_date_format,
            )
            report: CleaningReport = clean_lines(
                engine,
                analysis_date=parse_date(analysis_date),
                non_product_codes=non_product_codes,
                has_invoice="invoice" in roles,
            )
        with timer.stage("features"):
            feats = transaction_features(
                engine,
                dt.date.fromisoformat(report.analysis_date),
                has_invoice="invoice" in roles,
                has_product="product" in roles,
                non_product_codes=report.non_product_codes,
            )
            activity = (
                activity_summary(engine, has_invoice="invoice" in roles) if summarize else None
            )
        return _transactions(feats, info, schema, report, warns, activity)
    return _customers(engine, info, roles, reason, place, timer, customer_plan)


def _require_id(roles: dict[str, str], info: SourceInfo, place: str) -> None:
    if "customer_id" not in roles:
        raise InputError(
            f"{place} has no customer id column. Columns found: {', '.join(info.columns)}; "
            f"roles detected: {describe_roles(roles)}. Name the id column with --customer-col."
            + "".join(f" Note: {note}." for note in info.notes)
        )


def _account_left_out(cleaning: dict[str, Any], info: SourceInfo) -> dict[str, Any]:
    """``cleaning`` with the rows left out while reading (totals lines, repeated headers)
    counted in: rows in = kept + dropped per reason holds for the file as written. Their
    revenue is not counted (a totals line would double it)."""
    from custseg.io.readers import LEFT_OUT_RULES

    if not info.left_out:
        return cleaning
    left = [
        {"reason": r, "description": LEFT_OUT_RULES[r], "rows": n, "revenue": 0.0}
        for r, n in info.left_out.items()
    ]
    return {
        **cleaning,
        "rows_in": cleaning["rows_in"] + sum(info.left_out.values()),
        "dropped": [*left, *cleaning.get("dropped", [])],
    }


def _transactions(
    feats: pd.DataFrame,
    info: SourceInfo,
    schema: Schema,
    report: CleaningReport,
    warns: list[str],
    activity: dict[str, Any] | None,
) -> Prepared:
    numeric = [c for c in TRANSACTION_FEATURES if c in feats.columns]
    gone = report.customers_in - report.customers_kept
    if gone:
        warns.append(
            f"{gone:,} customer(s) have no purchase left after cleaning and get no "
            "segment (their lines were all returns, adjustments, non-product lines, "
            "zero-price lines or dated after the analysis date)"
        )
    return Prepared(
        features=feats,
        info=info,
        schema=schema,
        numeric=numeric,
        categorical=[],
        cleaning=_account_left_out(report.to_dict(), info),
        analysis_date=report.analysis_date,
        warnings=[*warns, *report.warnings],
        activity=activity,
    )


def _customers(
    engine: DuckDBEngine,
    info: SourceInfo,
    roles: dict[str, str],
    reason: str,
    place: str,
    timer: Timer,
    customer_plan: CustomerColumns | None,
) -> Prepared:
    schema = Schema(
        kind="customers", roles={"customer_id": roles["customer_id"]}, kind_reason=reason
    )
    with timer.stage("features"):
        plan_warnings: list[str] = []
        if customer_plan is None:
            plan, plan_warnings = plan_customer_columns(
                engine, roles["customer_id"], place, info.delimiter
            )
        else:
            plan = customer_plan.present([c for c, _ in engine.columns("raw")])
        feats, read_warnings = customer_features(engine, plan, place)
    schema.currency = plan.currency
    cleaning = {
        "rows_in": info.n_rows,
        "rows_kept": len(feats),
        "dropped": [],
        "customers_in": len(feats),
        "customers_kept": len(feats),
    }
    return Prepared(
        features=feats,
        info=info,
        schema=schema,
        numeric=[plan.feature_name(c) for c in [*plan.numeric, *plan.dates]],
        categorical=list(plan.categorical),
        cleaning=_account_left_out(cleaning, info),
        customer_columns=plan,
        warnings=[*plan_warnings, *read_warnings],
    )


def _prepare_database(
    engine: DuckDBEngine,
    db: DatabaseSource,
    timer: Timer,
    *,
    table: str | None,
    date_format: str | None,
    password: str | None,
    **options: Any,
) -> Prepared:
    """:func:`prepare` for a table of a SQL database (:func:`prepare_remote` does the work)."""
    from custseg.engines.database import DatabaseEngine, check_table_name

    name = check_table_name(table, db)
    if date_format is not None:
        raise InputError(
            f"--date-format is for dates written as text in files; {db.label} tables keep "
            "dates as dates. Leave it out (text dates in a database must be ISO, 2011-12-09)."
        )
    with DatabaseEngine(db, password=password) as remote:
        with timer.stage("read"):
            raw = remote.table(name)
            info = SourceInfo(
                name=name,
                format=db.backend if db.backend == "sqlite" else "postgresql",
                n_rows=int(remote.scalar(raw.count())),
                columns=list(raw.columns),
                path=db.shown,
                table=name,
            )
        return prepare_remote(engine, remote, raw, info, timer, **options)


def prepare_remote(
    engine: DuckDBEngine,
    remote: RemoteEngine,
    raw: Any,
    info: SourceInfo,
    timer: Timer,
    *,
    kind: str,
    columns: dict[str, str] | None,
    analysis_date: str | dt.date | None,
    non_product_codes: list[str] | None,
    customer_plan: CustomerColumns | None,
    summarize: bool,
    model_roles: dict[str, str] | None = None,
    scale: dict[str, Any] | None = None,
) -> Prepared:
    """:func:`prepare` for a table a remote engine holds (:class:`RemoteEngine`: a database or
    Spark): invoice lines are typed, cleaned and turned into features by the engine, with the
    portable definitions; only one row per customer comes back. A customer table (one row per
    customer already) is copied into ``engine`` and typed like a file.

    ``raw`` is the Ibis table of the source, ``info`` what is known of it (its ``n_rows`` and
    ``columns`` filled in). ``scale`` (Spark only: ``driver_limit``, ``output``, ``seed``)
    says when and how a job scales out (:mod:`custseg.engines.mllib`): with more customers
    than ``driver_limit`` only a seeded sample of them comes back, and ``scale_out`` of the
    result holds the rest.
    """
    from custseg.clean import NON_PRODUCT_CODES, cleaning_report, settle_analysis_date
    from custseg.engines import portable
    from custseg.engines.remote import date_columns, repeat_counts, typed_lines
    from custseg.features.transactions import activity_from_frames, features_from_frame

    with timer.stage("read"):
        place = where(info)
        roles = detect_roles(info.columns, columns, model_roles)
        if kind != "customers" and "date" not in roles and {"price", "amount"} & set(roles):
            found = [c for c in date_columns(raw) if c not in roles.values()]
            if len(found) == 1:
                roles["date"] = found[0]
        _require_id(roles, info, place)
        kind, reason = detect_kind(
            engine,
            roles,
            info.columns,
            place,
            kind,
            id_counts=lambda: repeat_counts(remote, raw, roles["customer_id"]),
        )
        if kind != "transactions":
            # One row per customer: the table itself is what leaves the engine.
            load_source(engine, remote.run(raw), sheet=None)
            info.n_rows = int(engine.scalar("SELECT count(*) FROM raw"))
    if kind != "transactions":
        prepared = _customers(engine, info, roles, reason, place, timer, customer_plan)
        prepared.engine = remote.label
        return prepared
    schema = Schema(kind=kind, roles=roles, kind_reason=reason)
    codes = list(NON_PRODUCT_CODES) if non_product_codes is None else list(non_product_codes)
    has_invoice = "invoice" in roles
    has_product = "product" in roles
    with timer.stage("clean"):
        lines, duplicate, warns = typed_lines(remote, raw, roles, place)
        first, last = remote.run(portable.date_range(lines.drop(duplicate))).iloc[0]
        day, date_warnings = settle_analysis_date(first, last, parse_date(analysis_date))
        clean = remote.materialize(
            portable.classify(
                lines,
                analysis_date=day,
                non_product_codes=codes,
                has_invoice=has_invoice,
                duplicate=duplicate,
            ),
            "custseg_clean_lines",
        )
        report = cleaning_report(
            remote.run(portable.accounting(clean)),
            remote.run(portable.customer_counts(clean)),
            analysis_date=day,
            non_product_codes=codes,
            warnings=date_warnings,
        )
    with timer.stage("features"):
        features_expr = portable.customer_features(
            clean, non_product_codes=codes, has_invoice=has_invoice, has_product=has_product
        )
        scale_out = None
        limit = (scale or {}).get("driver_limit")
        if limit is not None and report.customers_kept > limit:
            from custseg.engines import mllib

            mllib.check_scale_out_options(
                (scale or {}).get("algorithm") or "auto", report.customers_kept, limit
            )
            spark: Any = remote  # a SparkEngine: scale is given for Spark only
            if (scale or {}).get("output"):
                spark.check_new_path((scale or {})["output"])
            scale_out = mllib.ScaleOut(
                remote=remote,
                features=spark.frame(features_expr),
                n_customers=report.customers_kept,
                analysis_date=day,
                output=(scale or {}).get("output"),
                driver_limit=limit,
            )
            raw_features = scale_out.sample(mllib.SCALE_OUT_SAMPLE, (scale or {}).get("seed") or 0)
        else:
            raw_features = remote.run(features_expr)
        feats = features_from_frame(raw_features, day)
        activity = None
        if summarize:
            countries = None
            if "country" in roles:
                countries = remote.run(portable.activity_by_country(clean))
                countries = countries[countries["country"] != "unknown"]
            activity = activity_from_frames(
                remote.run(portable.activity_by_month(clean, has_invoice=has_invoice)),
                countries if countries is not None and len(countries) else None,
            )
    prepared = _transactions(feats, info, schema, report, warns, activity)
    prepared.engine = remote.label
    prepared.scale_out = scale_out
    return prepared
