"""The segmentation job, stage by stage: read -> schema -> clean -> features -> preprocess ->
select k -> profile and name. :func:`segment` is the public entry point; the CLI and the app
call it and print what it returns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.engines import portable
from custseg.engines.duckdb import DuckDBEngine
from custseg.errors import InputError
from custseg.features.transactions import TRANSACTION_FEATURES
from custseg.labels import (
    detect_currency,
    feature_label,
    load_labels,
    parse_currency,
    value_columns,
)
from custseg.model import SegmentModel
from custseg.prepare import Prepared, Timer, prepare, where
from custseg.schema import Schema

Progress = Callable[[str], None]


NO_NEW_CUSTOMER_MODELS = (
    "the new-customer models (segment from a first purchase, next year's purchases) were not "
    "fitted: they learn from every customer's purchase lines, and the lines stay in the "
    "database or in Spark. Run custseg on an export of the table (CSV or Parquet) to fit them"
)
"""Why a segmentation of a database table has no new-customer models."""

RECENCY_INPUT = "days_since_last_purchase"
"""The model input of invoice lines a chosen segment may be split on at a valley (customers
who still buy and customers who stopped; :func:`custseg.models.select.select_model`)."""

VALUE_COLUMN = "_custseg_value"
"""Temporary column of a customer table's value (the sum of its value columns) in profiling."""


def _user_labels(labels: Mapping[str, str] | str | Path | None) -> dict[str, str]:
    if labels is None:
        return {}
    if isinstance(labels, (str, Path)):
        return load_labels(labels)
    if not isinstance(labels, Mapping):
        raise InputError("labels must be a dict of column -> label, or the path of a file.")
    return {str(k): str(v) for k, v in labels.items() if str(v).strip()}


def _value_measure(
    kind: str,
    feats: pd.DataFrame,
    numeric: list[str],
    dropped: dict[str, str],
    value_col: str | list[str] | None,
) -> tuple[dict[str, Any] | None, pd.Series | None]:
    """What measures a customer's value: the revenue of invoice lines, else the customer
    table's ``value_col`` or its spend-like columns; None when it has none. For a customer
    table, also each customer's value: the sum of those columns, a net amount below 0
    (refunds larger than purchases) counting as 0, so that a share of value is never
    negative and the segments' shares add up to 100%."""
    if kind == "transactions":
        if value_col is not None:
            raise InputError(
                "the value column (--value-col) is for customer tables; invoice "
                "lines measure value by their revenue. Leave the option out."
            )
        return {"label": "revenue", "columns": ["revenue"], "source": "revenue"}, None
    if value_col is not None:
        wanted = [value_col] if isinstance(value_col, str) else list(value_col)
        if not wanted or not all(str(c).strip() for c in wanted):
            raise InputError(
                "the value column (--value-col) is empty; name one or more "
                "columns of amounts, or leave the option out."
            )
        for col in wanted:
            if col not in feats.columns:
                raise InputError(
                    f"the value column '{col}' (--value-col) is not a column of the "
                    "customer table; its columns: "
                    f"{', '.join(map(str, feats.columns[1:]))}."
                )
            if col not in numeric:
                raise InputError(
                    f"the value column '{col}' (--value-col) is not numeric; name "
                    "a column of amounts (spend)."
                )
        label = _lower_first(feature_label(wanted[0])) if len(wanted) == 1 else "spend"
        values = feats[wanted].sum(axis=1).clip(lower=0)
        if not values.sum() > 0:
            raise InputError(
                f"the value column(s) {', '.join(map(repr, wanted))} (--value-col) "
                "add up to nothing above 0 over all customers; name a column of amounts spent."
            )
        return {"label": label, "columns": wanted, "source": "value_col"}, values
    found = [c for c in value_columns(numeric) if c not in dropped]
    if not found:
        return None, None
    values = feats[found].sum(axis=1).clip(lower=0)
    if not values.sum() > 0:
        return None, None  # not amounts spent: a share of value would mean nothing
    return {"label": "spend", "columns": found, "source": "detected"}, values


def _canonical_split(refined: dict[str, Any] | None, mapping: np.ndarray) -> dict[str, Any] | None:
    """``refined`` with its split entries' segments numbered as segments.csv numbers them
    (the estimator's labels go through ``mapping``, as every customer's do)."""
    if not refined or not refined.get("split"):
        return refined
    split = [
        {**e, "segment": int(mapping[e["segment"] + 1]), "new": int(mapping[e["new"] + 1])}
        for e in refined["split"]
    ]
    return {**refined, "split": split}


def _misfit_warnings(naming: list[dict[str, Any]], labels: np.ndarray) -> list[str]:
    """A warning per segment whose name does not fit a fifth or more of its customers
    (:func:`custseg.profile.naming.misfit_warning`)."""
    from custseg.profile.naming import misfit_warning

    return [
        misfit_warning(
            str(entry["segment_name"]), int((labels == entry["segment"]).sum()), entry["misfits"]
        )
        for entry in naming
        if entry.get("misfits")
    ]


def _label_warnings(labels: dict[str, str], columns: list[str]) -> list[str]:
    """A warning for labels of columns the data does not have (a typo in the labels file)."""
    unknown = [k for k in labels if k not in columns]
    if not unknown:
        return []
    return [
        f"labels given for {len(unknown)} column(s) the data does not have: "
        f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}; check their spelling "
        "in the labels file (--labels)."
    ]


def _lower_first(label: str) -> str:
    """A label inside a sentence: "Amount spent on wines" -> "amount spent on wines", but
    an acronym stays ("CLV")."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def _currency(chosen: str | None, columns: list[str], schema: Schema) -> dict[str, Any]:
    if chosen is not None:
        return {"currency": chosen, "currency_source": "option"}
    if schema.currency:
        return {"currency": schema.currency, "currency_source": "values"}
    found = detect_currency(
        [*columns, *schema.roles.values()],
        money=[col for role, col in schema.roles.items() if role in ("price", "amount")],
    )
    if found:
        return {"currency": found, "currency_source": "column names"}
    return {"currency": "", "currency_source": None}


def build_features(
    source: str | Path | pd.DataFrame,
    *,
    kind: str = "auto",
    sheet: str | None = None,
    table: str | None = None,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    analysis_date: str | dt.date | None = None,
    non_product_codes: list[str] | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read, clean and turn a source into one row of features per customer, without clustering.

    Takes the same options as :func:`segment`. Returns the feature table and a dict with the
    source, schema, cleaning accounting, analysis date and warnings. With ``engine="spark"``
    and more customers than :data:`custseg.engines.mllib.DRIVER_LIMIT`, the table is a seeded
    sample of them (``details["scale_out"]`` says how many).

    Examples
    --------
    >>> features, info = custseg.build_features(custseg.datasets.demo_path())  # doctest: +SKIP
    >>> features.columns[:4].tolist()  # doctest: +SKIP
    ['customer_id', 'days_since_last_purchase', 'n_orders', 'revenue']
    """
    with DuckDBEngine() as local:
        prep = prepare(
            local,
            source,
            Timer(None),
            kind=kind,
            sheet=sheet,
            table=table,
            columns=columns,
            date_format=date_format,
            analysis_date=analysis_date,
            non_product_codes=non_product_codes,
            summarize=True,
            engine_name=engine,
            spark=_spark_options(engine, spark_master, spark_conf),
        )
    scaled = None
    if prep.scale_out is not None:
        prep.scale_out.close()
        scaled = {"customers": prep.scale_out.n_customers, "sample": prep.scale_out.sample_size}
    details = {
        "source": prep.info.to_dict(),
        "schema": prep.schema.to_dict(),
        "cleaning": prep.cleaning,
        "analysis_date": prep.analysis_date,
        "numeric": prep.numeric,
        "categorical": prep.categorical,
        "warnings": prep.warnings,
        "activity": prep.activity,
        "scale_out": scaled,
    }
    return prep.features, details


def canonical_order(
    features: pd.DataFrame, labels: np.ndarray, kind: str, n_labels: int = 0
) -> np.ndarray:
    """Map estimator labels to canonical segment numbers.

    Transactions: by mean revenue, highest first. Customer tables: by size, largest first.
    Ties keep the estimator's order. Noise (-1) stays -1, and so does an estimator label
    below ``n_labels`` that no training customer received (an empty mixture component).
    """
    clusters = sorted(int(c) for c in np.unique(labels) if c >= 0)
    if kind == "transactions":
        key = {c: -float(features.loc[labels == c, "revenue"].mean()) for c in clusters}
    else:
        key = {c: -float(np.sum(labels == c)) for c in clusters}
    order = sorted(clusters, key=lambda c: (key[c], c))
    # Index 0 holds label -1 (noise), so that mapping[labels + 1] keeps noise as -1.
    mapping = np.full(max(max(clusters) + 2, n_labels + 1), -1, dtype=np.int64)
    for new, old in enumerate(order):
        mapping[old + 1] = new
    return mapping


WARM_UP_MODULES = (
    "scipy.stats",
    "sklearn.cluster",
    "sklearn.mixture",
    "sklearn.neighbors",
    "sklearn.metrics",
    "scipy.cluster.hierarchy",
)
"""The libraries the model stage needs, imported by :func:`_warm_up`. (Adding ``skops.io``,
0.5 s, made the job slower: its import then competes for the GIL with the cleaning's many
small queries.)"""


WARM_UP = False
"""Whether :func:`segment` imports :data:`WARM_UP_MODULES` in a background thread while
DuckDB reads the file. The command line turns it on; it stays off in the web app, in servers
and in the user's own programs, whose other threads may import the same libraries."""


def _warm_up() -> threading.Thread | None:
    """Import :data:`WARM_UP_MODULES` in a background thread (when :data:`WARM_UP` is on);
    the caller must ``join`` it before importing anything from scikit-learn or SciPy itself.

    Reading, cleaning and the features run inside DuckDB, which releases the GIL, so the
    other core can load scikit-learn and SciPy meanwhile (about 1.4 s of imports on a slow
    core; online_retail.csv reads and cleans in about 1.3 s). Two threads importing one
    package from different entry points can each end up holding a module the other needs, and
    Python then hands one of them a half-initialised module (an ImportError). So the warm-up
    runs only where custseg owns the process (the command line), and :func:`segment` joins it
    before its own imports. A failure is left to the main thread's own import to report.

    The portable layer's queries come first (:func:`custseg.engines.portable.warm_up`: read
    from the shipped DuckDB SQL, or compiled with Ibis for other shapes), and the thread's
    ``portable_ready`` event is set when they are ready; :func:`custseg.prepare.prepare`
    waits for it before the cleaning, the first stage that runs one.
    """
    if not WARM_UP or all(name in sys.modules for name in WARM_UP_MODULES):
        return None

    ready = threading.Event()

    def load() -> None:
        # The queries first: the cleaning needs them as soon as the file is read.
        try:
            from custseg.clean import NON_PRODUCT_CODES

            portable.warm_up(list(NON_PRODUCT_CODES))
        except Exception:  # reported by the main thread's own import
            return
        finally:
            ready.set()
        for name in WARM_UP_MODULES:
            try:
                import_module(name)
            except Exception:  # reported by the main thread's own import
                return

    thread = threading.Thread(target=load, name="custseg-warm-up", daemon=True)
    thread.portable_ready = ready  # type: ignore[attr-defined]
    thread.start()
    return thread


def _spark_options(
    engine: str,
    master: str | None,
    conf: Mapping[str, str] | None,
    *,
    driver_limit: int | None = None,
    output: str | None = None,
    algorithm: str = "auto",
    seed: int = 0,
) -> dict[str, Any] | None:
    if engine != "spark":
        if master is not None or conf or driver_limit is not None or output is not None:
            raise InputError(
                "--spark-master, --spark-conf, --spark-driver-limit and --spark-output are "
                "for --engine spark."
            )
        return None
    from custseg.engines.mllib import DRIVER_LIMIT

    if driver_limit is not None and (
        not isinstance(driver_limit, (int, np.integer)) or driver_limit < 1
    ):
        raise InputError(
            f"--spark-driver-limit must be a whole number of customers of at least 1, got "
            f"{driver_limit!r}."
        )
    return {
        "master": master or "local[*]",
        "conf": dict(conf or {}),
        "driver_limit": DRIVER_LIMIT if driver_limit is None else int(driver_limit),
        "output": output,
        "algorithm": algorithm,
        "seed": seed,
    }


def segment(
    source: str | Path | pd.DataFrame,
    *,
    kind: str = "auto",
    k: int | None = None,
    algorithm: str = "auto",
    params: dict[str, Any] | None = None,
    seed: int = 0,
    sheet: str | None = None,
    table: str | None = None,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    analysis_date: str | dt.date | None = None,
    non_product_codes: list[str] | None = None,
    new_customers: bool = True,
    progress: Progress | None = None,
    memory_limit: str | int | None = None,
    value_col: str | list[str] | None = None,
    feature_labels: Mapping[str, str] | str | Path | None = None,
    currency: str | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    spark_driver_limit: int | None = None,
    spark_output: str | None = None,
) -> Any:
    """Segment the customers in a file or DataFrame.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        Invoice lines or a customer table: .csv/.tsv/.txt (any common encoding and
        delimiter, optionally .gz), .xlsx, .parquet, a folder or glob of them, a DataFrame,
        or a database: ``postgresql://user@host/db`` or a SQLite file, with ``table``.
    kind : {"auto", "transactions", "customers"}
        What the table holds; detected from its columns by default.
    k : int, optional
        Number of segments; chosen from 2..10 by default.
    algorithm : str
        ``"auto"`` compares every family and recommends one; a family of
        :data:`custseg.models.families.REGISTRY` (kmeans, gmm, hierarchical, kprototypes,
        hdbscan, dbscan) restricts the search to it.
    params : dict, optional
        Algorithm parameters: ``linkage`` (hierarchical), ``eps`` and ``min_samples``
        (DBSCAN), ``min_cluster_size`` and ``min_samples`` (HDBSCAN), ``covariance_type``
        (Gaussian mixture), ``gamma`` (k-prototypes).
    seed : int
        Seed for everything random; the same input, options and seed give the same result.
    sheet : str, optional
        Excel sheet to read (the first by default).
    table : str, optional
        For a database source (a ``postgresql://`` URL or a SQLite file), the table or view
        of invoice lines or customers (``schema.table`` for another schema). The database is
        only read; the lines never leave it (see :mod:`custseg.engines.database`).
    columns : dict, optional
        Role -> column name, overriding detection. Roles: customer_id, invoice, date,
        quantity, price, amount, product, description, country.
    date_format : str, optional
        strptime format of the date column (for example ``"%d/%m/%Y %H:%M"``).
    analysis_date : str or date, optional
        Day the features are measured at; the day after the last transaction by default.
    non_product_codes : list of str, optional
        Stock codes that are not products (see :data:`custseg.clean.NON_PRODUCT_CODES`).
    new_customers : bool
        For invoice lines, also fit the new-customer models (segment from a first purchase,
        purchases and revenue over the next year; see the user guide) and add their columns
        to ``segments``. About 4 s on 4,000 customers.
    progress : callable, optional
        Called with a label at the start of each stage.
    memory_limit : str or int, optional
        Memory DuckDB may use before it spills to a temporary folder: ``"4GB"``, ``"60%"``
        of physical memory, or bytes; half of physical memory, at most 4 GB, by default
        (:data:`custseg.engines.duckdb.DEFAULT_MEMORY_CAP`).
    value_col : str or list of str, optional
        For a customer table, the column(s) that measure a customer's value (spend); their
        sum gives each segment its share of value. By default the spend-like columns
        (``MntWines``, ``total_spend``, ...; see :func:`custseg.labels.value_columns`).
        Invoice lines always use the revenue.
    feature_labels : dict, or path of a CSV / JSON file, optional
        Column or feature name -> the label the report, the app and the exports show for it
        (see :func:`custseg.labels.load_labels`); custseg's own labels otherwise.
    currency : str, optional
        Currency of the amounts: a symbol or ISO code (``"GBP"``, ``"€"``), or ``"none"``;
        detected from the money columns' names and values by default.
    engine : {"duckdb", "spark"}
        Where files are read, cleaned and turned into features: the embedded DuckDB, or
        Apache Spark (``pip install 'custseg[spark]'``; ``source`` may then be any path Spark
        reads, such as ``s3a://...``, or give ``table`` from the Spark catalog). Databases
        always compute in the database.
    spark_master : str, optional
        Spark master URL (``local[*]`` by default); only with ``engine="spark"``.
    spark_conf : dict, optional
        Spark settings (``{"spark.executor.memory": "8g"}``); only with ``engine="spark"``.
    spark_driver_limit : int, optional
        With ``engine="spark"``: above this many customers
        (:data:`custseg.engines.mllib.DRIVER_LIMIT`, 10M, by default) they stay in Spark:
        k is chosen on a sample, Spark MLlib's k-means clusters every customer, and Spark
        writes the segments as Parquet (see :mod:`custseg.engines.mllib`).
    spark_output : str, optional
        Where Spark writes the segments of a job past the driver limit (any path Spark
        writes, e.g. ``s3a://lake/segments/``; it must not exist). By default a local folder,
        moved into the output folder as ``segments.parquet`` by ``save``; give a shared path
        on a cluster.

    Returns
    -------
    SegmentationResult
        ``.segments``, ``.profiles``, ``.metrics``, ``.model``; ``.save(dir)`` writes them.

    Examples
    --------
    >>> import custseg
    >>> result = custseg.segment(custseg.datasets.demo_path(), seed=0)  # doctest: +SKIP
    >>> result.profiles[["segment_name", "n_customers"]]  # doctest: +SKIP
    """
    from custseg.models.families import ALGORITHMS

    if k is not None and (not isinstance(k, (int, np.integer)) or k < 2):
        raise InputError(f"k must be a whole number of segments of at least 2, got {k!r}.")
    if algorithm not in ALGORITHMS:
        raise InputError(
            f"Unknown algorithm {algorithm!r}. Choose one of: {', '.join(ALGORITHMS)}."
        )
    user_labels = _user_labels(feature_labels)
    chosen_currency = parse_currency(currency)
    timer = Timer(progress)
    total_start = time.perf_counter()
    warming = _warm_up()
    with DuckDBEngine(memory_limit=memory_limit) as local:
        prep = prepare(
            local,
            source,
            timer,
            kind=kind,
            sheet=sheet,
            table=table,
            engine_name=engine,
            spark=_spark_options(
                engine,
                spark_master,
                spark_conf,
                driver_limit=spark_driver_limit,
                output=spark_output,
                algorithm=algorithm,
                seed=seed,
            ),
            columns=columns,
            date_format=date_format,
            analysis_date=analysis_date,
            non_product_codes=non_product_codes,
            summarize=True,
            portable_ready=getattr(warming, "portable_ready", None),
        )
        # Loaded after the file is read: _warm_up has been importing the libraries the next
        # stages need in the background while DuckDB worked (joined first: see _warm_up).
        if warming is not None:
            if warming.is_alive() and progress is not None:
                progress("Loading scikit-learn")
            warming.join()
        if prep.schema.kind == "transactions" and new_customers:
            if prep.engine == "duckdb":
                from custseg.newcustomers.data import sale_lines_from_engine

                prep.lines = sale_lines_from_engine(local, prep)
            else:
                prep.warnings.append(NO_NEW_CUSTOMER_MODELS)
    # A Spark job past the driver limit keeps its session open for MLlib until the end, and
    # runs k-means only (custseg.engines.mllib).
    scaled = prep.scale_out is not None
    with contextlib.closing(prep.scale_out) if scaled else contextlib.nullcontext():
        return _segment_prepared(
            prep,
            timer,
            total_start,
            k=k,
            algorithm="kmeans" if scaled else algorithm,
            params=params,
            seed=seed,
            value_col=value_col,
            user_labels=user_labels,
            chosen_currency=chosen_currency,
            columns=columns,
            progress=progress,
            date_format=date_format,
        )


def _segment_prepared(
    prep: Prepared,
    timer: Timer,
    total_start: float,
    *,
    k: int | None,
    algorithm: str,
    params: dict[str, Any] | None,
    seed: int,
    value_col: str | list[str] | None,
    user_labels: dict[str, str],
    chosen_currency: Any,
    columns: dict[str, str] | None,
    progress: Progress | None,
    date_format: str | None = None,
) -> Any:
    """The stages after :func:`custseg.prepare.prepare`: model inputs, the choice, names, the
    new-customer models and the result."""
    _require_customers(prep)
    with timer.stage("preprocess"):
        inputs = _model_inputs(prep, algorithm, seed)
    # Checked before the model: a misspelled value column should not cost the whole fit.
    value, customer_value = _value_measure(
        prep.schema.kind, prep.features, prep.numeric, inputs.colplan.dropped, value_col
    )
    with timer.stage("model"):
        selection = _choose(
            prep, inputs, algorithm=algorithm, k=k, seed=seed, params=params, progress=progress
        )
    if prep.scale_out is not None:
        with timer.stage("mllib"):
            _cluster_in_spark(prep, inputs, selection, seed)
    with timer.stage("profile"):
        named = _name_segments(prep, inputs, selection, customer_value, seed)
    if prep.scale_out is not None:
        with timer.stage("write_parquet"):
            prep.scale_out.write(
                selection.estimator.predict,
                named.mapping,
                named.names,
                "revenue" if prep.schema.kind == "transactions" else None,
            )
    new_models = None
    new_summary: dict[str, Any] | None = None
    if prep.lines is not None:
        from custseg.newcustomers.models import fit_for_segmentation

        with timer.stage("new_customers"):
            new_models, new_summary = fit_for_segmentation(
                prep.lines,
                pd.Series(named.labels, index=prep.features["customer_id"].astype(str).to_numpy()),
                named.names,
                str(prep.analysis_date),
                seed=seed,
                progress=progress,
            )
    return _result(
        prep,
        inputs,
        selection,
        named,
        new_models,
        new_summary,
        requested={
            "k": k,
            "algorithm": algorithm,
            "params": params,
            "seed": seed,
            "columns": columns,
            "date_format": date_format,
        },
        value=value,
        presentation={
            "labels": user_labels,
            **_currency(chosen_currency, named.feature_columns, prep.schema),
        },
        timer=timer,
        started=total_start,
    )


@dataclass
class _ModelInputs:
    """The preprocessing stage's output: what the model stage reads."""

    colplan: Any
    preprocessor: Any
    X: np.ndarray
    names: list[str]
    X_valley: np.ndarray | None
    """The numbers only, dequantized and not capped, for the valley test."""
    X_mixed: np.ndarray | None
    mixed_preprocessor: Any
    frame: pd.DataFrame


@dataclass
class _Named:
    """The profiling stage's output: canonical labels, names, actions and profiles."""

    mapping: np.ndarray
    labels: np.ndarray
    naming: list[dict[str, Any]]
    names: list[str]
    actions: list[str]
    noise_named: bool
    profiles: pd.DataFrame
    feature_columns: list[str]


FEW_CUSTOMERS = 100
"""Below this many customers the segments are reported with a warning: the checks behind the
choice (stability over subsamples, valleys of low density, how categories relate to the
numbers) have too few customers to tell a group from chance."""


def _require_customers(prep: Prepared) -> None:
    n = len(prep.features)
    if 3 <= n < FEW_CUSTOMERS:
        prep.warnings.append(
            f"only {n} customers: segments of so few describe these customers rather than "
            "groups that will hold for the next ones, and the checks behind the choice "
            "(stability, valleys, how categories relate) have little to go on; use them as a "
            f"sketch, or segment {FEW_CUSTOMERS} customers or more"
        )
    if n >= 3:
        return
    dropped = ""
    fix = "Add more customers' rows, or check --customer-col."
    if prep.schema.kind == "transactions":
        kept = prep.cleaning["rows_kept"]
        steps = ", ".join(
            f"{d['reason']} {d['rows']:,}" for d in prep.cleaning["dropped"] if d["rows"]
        )
        dropped = (
            f" (lines dropped: {steps}; {kept:,} kept)"
            if steps
            else f" (all {kept:,} lines kept, none dropped)"
        )
        fix = "Add more customers' lines, or check --customer-col."
    raise InputError(
        f"{where(prep.info)} gives {n} customer(s) after cleaning; segmentation needs at "
        f"least 3{dropped}. {fix}"
    )


def _model_inputs(prep: Prepared, algorithm: str, seed: int) -> _ModelInputs:
    """Stage "preprocess": the column plan and the matrices the model stage reads."""
    from custseg.models.families import get_family
    from custseg.preprocess import (
        build_preprocessor,
        categorical_as_text,
        check_finite,
        dequantize,
        plan_columns,
        transform_names,
    )

    feats = prep.features
    colplan = plan_columns(
        feats,
        prep.numeric,
        prep.categorical,
        unrelated_numbers=prep.schema.kind == "customers",
    )
    frame = categorical_as_text(feats, colplan.categorical)[colplan.numeric + colplan.categorical]
    preprocessor = build_preprocessor(colplan)
    X = np.asarray(preprocessor.fit_transform(frame), dtype=np.float64)
    names = transform_names(preprocessor)
    check_finite(X, names)
    # The valley test reads the numbers only (dequantized, not capped): one-hot categories
    # always leave gaps between their levels, and values capped at +-4 standard deviations
    # pile up at the cap; neither says anything about groups.
    X_valley = None
    if colplan.numeric:
        numeric_steps = preprocessor.named_transformers_["numeric"][:-1]
        X_valley = np.asarray(
            numeric_steps.transform(dequantize(frame, colplan.numeric, seed)[colplan.numeric]),
            dtype=np.float64,
        )
        # Blanks stay blank (NaN) for the test, which fills them inside each group it tests
        # (structure.fill_missing): filled with every customer's median, a group's blanks
        # pile up far from the group and read as a second group.
        X_valley[frame[colplan.numeric].isna().to_numpy()] = np.nan
    mixed_preprocessor = None
    X_mixed = None
    if colplan.categorical and (algorithm == "auto" or get_family(algorithm).space == "mixed"):
        mixed_preprocessor = build_preprocessor(colplan, categories="codes")
        X_mixed = np.asarray(mixed_preprocessor.fit_transform(frame), dtype=np.float64)
    return _ModelInputs(
        colplan, preprocessor, X, names, X_valley, X_mixed, mixed_preprocessor, frame
    )


def _choose(
    prep: Prepared,
    inputs: _ModelInputs,
    *,
    algorithm: str,
    k: int | None,
    seed: int,
    params: dict[str, Any] | None,
    progress: Progress | None,
) -> Any:
    """Stage "model": compare the families and numbers of segments, recommend one."""
    from custseg.models.select import select_model

    colplan, X = inputs.colplan, inputs.X
    n_distinct = len(np.unique(X, axis=0)) if k is not None else len(X)
    if k is not None and k > n_distinct:
        raise InputError(
            f"{where(prep.info)} has {n_distinct} distinguishable customers, fewer than k={k}. "
            f"Pass a smaller --k (at most {n_distinct})."
        )
    selection = select_model(
        X,
        X_mixed=inputs.X_mixed,
        categorical=tuple(
            range(len(colplan.numeric), len(colplan.numeric) + len(colplan.categorical))
        ),
        algorithm=algorithm,
        k=k,
        seed=seed,
        params=params,
        attributes={
            c: pd.factorize(inputs.frame[c].fillna("missing"))[0] for c in colplan.categorical
        },
        X_valley=inputs.X_valley,
        value=(
            prep.features["revenue"].to_numpy(dtype=np.float64)
            if prep.schema.kind == "transactions"
            else None
        ),
        progress=progress,
        recency_column=(
            list(inputs.names).index(RECENCY_INPUT) if RECENCY_INPUT in inputs.names else None
        ),
    )
    if selection.space == "mixed" and inputs.mixed_preprocessor is not None:
        inputs.preprocessor = inputs.mixed_preprocessor
    # The model stage's own copies of every customer's values, let go before the
    # new-customer models, the job's peak: at 100M lines (4.6M customers) the copy of the
    # features and the unclipped matrix are 0.3 GB each.
    inputs.frame = inputs.frame.iloc[:0]
    inputs.X_valley = None
    inputs.X_mixed = None
    return selection


def _cluster_in_spark(prep: Prepared, inputs: _ModelInputs, selection: Any, seed: int) -> None:
    """Stage "mllib" of a job past the driver limit: Spark MLlib's k-means on every customer,
    started from the centres chosen on the sample; the model takes MLlib's centres (Spark
    assigns every customer with the model's own ``predict``), and the sample's labels are the
    centres' too."""
    estimator = selection.estimator
    inner = getattr(estimator, "kmeans_", estimator)
    centres = prep.scale_out.fit(
        inputs.preprocessor,
        prep.features,
        inputs.colplan.numeric,
        inputs.colplan.categorical,
        np.asarray(inner.cluster_centers_, dtype=np.float64),
        seed,
    )
    inner.cluster_centers_ = centres
    estimator.cluster_centers_ = centres
    labels = np.asarray(inner.predict(inputs.X), dtype=np.int64)
    inner.labels_ = labels
    estimator.labels_ = labels
    selection.labels = labels


def _scale_out_summary(prep: Prepared, profiles: pd.DataFrame) -> dict[str, Any]:
    """metrics.json's ``scale_out``; sets the profiles' sizes to every customer's counts."""
    scale_out = prep.scale_out
    counts = scale_out.counts
    total = sum(c["customers"] for c in counts.values()) or 1
    sizes = profiles["segment"].map(lambda s: counts.get(int(s), {}).get("customers", 0))
    profiles["n_customers"] = sizes.astype("int64")
    profiles["share"] = profiles["n_customers"] / total
    if "revenue_share" in profiles and all("revenue" in c for c in counts.values()):
        revenue = sum(c["revenue"] for c in counts.values())
        profiles["revenue_share"] = profiles["segment"].map(
            lambda s: counts.get(int(s), {}).get("revenue", 0.0) / revenue if revenue else 0.0
        )
    return {
        "customers": scale_out.n_customers,
        "sample": scale_out.sample_size,
        "driver_limit": scale_out.driver_limit,
        "parquet": scale_out.written,
        "moved_into_output": scale_out.output is None,
        "counts": {str(s): c for s, c in sorted(counts.items())},
        "note": (
            f"{scale_out.n_customers:,} customers, more than the driver limit: k was chosen on "
            f"a seeded sample of {scale_out.sample_size:,} of them, Spark MLlib's k-means "
            "clustered every customer at that k, and Spark wrote every customer's segment as "
            "Parquet. Segment sizes and shares count every customer; names, typical values and "
            "the report's charts come from the sample."
        ),
    }


def _name_segments(
    prep: Prepared,
    inputs: _ModelInputs,
    selection: Any,
    customer_value: Any,
    seed: int,
) -> _Named:
    """Stage "profile": canonical segment numbers, what sets each apart, names, actions,
    membership rules and profiles."""
    from custseg.audiences import is_contact_column
    from custseg.profile import (
        distinguishing_features,
        name_customer_segments,
        name_rfm_segments,
        noise_entry,
        segment_profiles,
        summarize_distinguishing,
    )
    from custseg.profile.rules import segment_rules

    feats, colplan, kind = prep.features, inputs.colplan, prep.schema.kind
    mapping = canonical_order(
        feats,
        selection.labels,
        kind,
        n_labels=int(getattr(selection.estimator, "n_components", 0)),
    )
    labels = mapping[selection.labels + 1]
    distinct = distinguishing_features(feats, labels, colplan.numeric, colplan.categorical)
    noise_distinct = distinct.pop(-1, None)
    member = labels >= 0
    if kind == "transactions":
        naming = name_rfm_segments(feats, labels, distinct)
    else:
        shares = None
        total = float(customer_value.sum()) if customer_value is not None else 0.0
        if customer_value is not None and total > 0:
            values = customer_value.to_numpy(dtype=np.float64)
            shares = {
                int(seg): (
                    float(np.mean(labels == seg)),
                    float(values[labels == seg].sum()) / total,
                )
                for seg in distinct
            }
        naming = name_customer_segments(distinct, colplan.numeric, shares)
    names = [d["segment_name"] for d in naming]
    actions = [d["action"] for d in naming]
    if noise_distinct is not None:
        naming.append(
            noise_entry(
                int((~member).sum()),
                noise_distinct,
                features=feats,
                labels=labels,
                revenue_col="revenue" if kind == "transactions" else None,
            )
        )
    rules = segment_rules(feats, labels, colplan.numeric, colplan.categorical, seed=seed)
    for entry in naming:
        items = noise_distinct if entry["segment"] < 0 else distinct.get(entry["segment"])
        entry["distinguishing"] = summarize_distinguishing(items or [])
        if entry["segment"] >= 0:
            entry["membership"] = rules.get(entry["segment"])
    revenue_col = "revenue" if kind == "transactions" else None
    profile_input = feats
    if customer_value is not None:
        revenue_col = VALUE_COLUMN
        profile_input = feats.assign(**{VALUE_COLUMN: customer_value})
    profiles = segment_profiles(
        profile_input,
        labels,
        prep.numeric,  # typical values of every feature, used by the model or not
        colplan.categorical,
        revenue_col,
    )
    by_segment = {d["segment"]: d for d in naming}
    profiles.insert(
        1, "segment_name", [by_segment[int(s)]["segment_name"] for s in profiles["segment"]]
    )
    profiles["action"] = [by_segment[int(s)]["action"] for s in profiles["segment"]]
    return _Named(
        mapping=mapping,
        labels=labels,
        naming=naming,
        names=names,
        actions=actions,
        noise_named=noise_distinct is not None,
        profiles=profiles,
        # Every column but contact data the model does not use (id-like text, names, e-mails,
        # phone numbers, addresses): the output folder, shared with its report, carries none
        # (custseg export reads it from the source file on request).
        feature_columns=[
            c
            for c in feats.columns
            if c != "customer_id"
            and (
                c in colplan.numeric
                or c in colplan.categorical
                or not (colplan.dropped.get(c, "").startswith("id-like") or is_contact_column(c))
            )
        ],
    )


def _result(
    prep: Prepared,
    inputs: _ModelInputs,
    selection: Any,
    named: _Named,
    new_models: Any,
    new_summary: dict[str, Any] | None,
    *,
    requested: dict[str, Any],
    value: dict[str, Any] | None,
    presentation: dict[str, Any],
    timer: Timer,
    started: float,
) -> Any:
    """The model, the segments table and metrics.json, assembled from the stages."""
    from custseg.models.choose import MIN_CLUSTER_SHARE
    from custseg.result import SegmentationResult
    from custseg.versions import library_versions

    feats, colplan, estimator = prep.features, inputs.colplan, selection.estimator
    k, params, columns = requested["k"], requested["params"], requested["columns"]
    settings: dict[str, Any] = {
        "roles": prep.schema.roles,
        "column_overrides": {k_: v for k_, v in (columns or {}).items() if v},
        "date_format_given": requested.get("date_format"),
        "analysis_date": prep.analysis_date,
        "non_product_codes": prep.cleaning.get("non_product_codes"),
        "customer_columns": prep.customer_columns.to_dict() if prep.customer_columns else None,
        "versions": library_versions(),
        "algorithm": selection.algorithm,
    }
    model = SegmentModel(
        kind=prep.schema.kind,
        preprocessor=inputs.preprocessor,
        estimator=estimator,
        label_map=named.mapping,
        segment_names=named.names,
        actions=named.actions,
        numeric=colplan.numeric,
        categorical=colplan.categorical,
        feature_columns=named.feature_columns,
        settings=settings,
        new_customers=new_models,
    )
    if named.noise_named:
        model.noise_name = str(named.naming[-1]["segment_name"])
    from custseg.drift import reference

    model.drift_reference = reference(feats, colplan.numeric, colplan.categorical, named.labels)
    probability = None
    if hasattr(estimator, "predict_proba"):
        probability = np.asarray(estimator.predict_proba(inputs.X), dtype=np.float64).max(axis=1)
    forecast = (
        new_models.predict_sales(prep.lines.sales, str(prep.analysis_date))
        if new_models is not None
        else None
    )
    segments = model.label_frame(feats, named.labels, probability, forecast)
    best = selection.chosen_row
    family_rows = selection.family_rows()
    metrics: dict[str, Any] = {
        "kind": prep.schema.kind,
        "algorithm": selection.algorithm,
        "parameters": {
            **best["parameters"],
            "k_fixed": k,
            "k_min": min(r["k_requested"] or r["k"] for r in family_rows),
            "k_max": max(r["k_requested"] or r["k"] for r in family_rows),
            "min_cluster_share": MIN_CLUSTER_SHARE,
            "requested_algorithm": requested["algorithm"],
            "requested_parameters": {k_: v for k_, v in (params or {}).items() if v is not None},
        },
        "k": int(selection.k),
        # The segments customers are given: refined boundaries are scored after the move.
        **{
            name: (selection.refined["scores"] if selection.refined else best)[name]
            for name in ("silhouette", "davies_bouldin", "calinski_harabasz", "inertia")
        },
        "bic": best["bic"],
        "noise_share": best["noise_share"],
        # A split changed the segments the pick's stability was measured on.
        "stability": None if (selection.refined or {}).get("split") else best["stability"],
        "silhouette_sampled": best["silhouette_sampled"],
        "silhouette_sample_size": best["silhouette_sample_size"],
        "selection_reason": selection.reason,
        "family_reason": selection.family_reasons.get(selection.algorithm),
        "family_reasons": selection.family_reasons,
        "selection_notes": selection.notes,
        "structure": selection.structure,
        "selection_sample": selection.sampling,
        "refined": _canonical_split(selection.refined, named.mapping),
        "elbow_k": best.get("elbow_k"),
        "candidates": family_rows,
        "leaderboard": selection.leaderboard,
        "n_customers": len(feats),
        "seed": requested["seed"],
        "source": prep.info.to_dict(),
        "schema": prep.schema.to_dict(),
        "analysis_date": prep.analysis_date,
        "cleaning": prep.cleaning,
        "activity": prep.activity,
        "features": {
            c: TRANSACTION_FEATURES.get(c, "from the customer table") for c in named.feature_columns
        },
        "preprocessing": {
            "numeric": colplan.numeric,
            "categorical": colplan.categorical,
            "dropped": colplan.dropped,
            "notices": colplan.notices,
            "model_inputs": inputs.names,
        },
        "segments": named.naming,
        "value": value,
        "presentation": presentation,
        "new_customers": new_summary,
        "warnings": [
            *prep.warnings,
            *selection.warnings,
            *_label_warnings(presentation["labels"], named.feature_columns),
            *_misfit_warnings(named.naming, named.labels),
        ],
        "versions": settings["versions"],
        "seconds": {**timer.seconds, "total": round(time.perf_counter() - started, 3)},
    }
    if prep.scale_out is not None:
        metrics["scale_out"] = _scale_out_summary(prep, named.profiles)
        metrics["n_customers"] = prep.scale_out.n_customers
        metrics["selection_notes"] = [*metrics["selection_notes"], metrics["scale_out"]["note"]]
    return SegmentationResult(
        segments=segments,
        profiles=named.profiles,
        metrics=metrics,
        model=model,
        model_inputs=inputs.X,
        labels=named.labels,
    )
