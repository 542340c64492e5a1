"""Apache Spark as an engine (local mode): the same customers, accounting, features and segments
as DuckDB, the CLI end to end, and one clear error for each way Spark can be missing or wrong.

One Spark session serves the whole module. Without PySpark or Java 17 the module is skipped,
unless CUSTSEG_REQUIRE_SPARK=1 (set by .ci/run), where it fails instead.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import custseg
from custseg.datasets import demo_path
from custseg.engines.duckdb import DuckDBEngine
from custseg.errors import InputError
from custseg.prepare import Prepared, Timer, prepare

pytestmark = pytest.mark.slow

#: Lines of the demo file used: every cleaning rule and feature, about 400 customers.
N_LINES = 20_000
MASTER = "local[2]"


def _why_no_spark() -> str | None:
    try:
        import pyspark
    except ImportError:
        return "PySpark is not installed (pip install 'custseg[spark]')"
    from custseg.engines.spark import MIN_JAVA, check_java

    try:
        check_java(MIN_JAVA.get(int(pyspark.__version__.split(".")[0]), 17))
    except InputError as exc:
        return str(exc)
    return None


_MISSING = _why_no_spark()
if _MISSING is not None:
    if os.environ.get("CUSTSEG_REQUIRE_SPARK") == "1":
        pytest.fail(f"CUSTSEG_REQUIRE_SPARK=1 but Spark cannot run: {_MISSING}", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)

from custseg.engines.spark import (  # noqa: E402  (after the skip: needs nothing of PySpark)
    SparkEngine,
    _start_failure,
    check_java,
    check_master,
    clean_message,
)


@pytest.fixture(scope="module")
def spark() -> Any:
    """The module's one session, started by custseg itself with the JVM's start-up output
    caught: whatever reaches file descriptor 2 during the start is kept for a test."""
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            started = time.perf_counter()
            engine = SparkEngine(master=MASTER)
            engine.start_seconds = time.perf_counter() - started
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        engine.start_output = caught.read().decode(errors="replace")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first demo lines as Parquet (real timestamps) and as CSV (ISO text)."""
    lines = pd.read_csv(demo_path(), nrows=N_LINES, dtype={"CustomerID": "Int64"})
    folder = tmp_path_factory.mktemp("spark_demo")
    lines.to_csv(folder / "orders.csv", index=False)
    lines["InvoiceDate"] = pd.to_datetime(lines["InvoiceDate"])
    lines.to_parquet(folder / "orders.parquet", index=False)
    return {"parquet": folder / "orders.parquet", "csv": folder / "orders.csv"}


def _prepare_spark(path: Path) -> Prepared:
    """What custseg.build_features does, with engine_name="spark"."""
    with DuckDBEngine() as engine:
        return prepare(
            engine,
            path,
            Timer(None),
            summarize=True,
            engine_name="spark",
            spark={"master": MASTER, "conf": {}},
        )


@pytest.fixture(scope="module")
def agreement(spark: SparkEngine, demo_files: dict[str, Path]) -> dict[str, Any]:
    return {
        fmt: (_prepare_spark(path), custseg.build_features(path))
        for fmt, path in demo_files.items()
    }


# ---------------------------------------------------------------- the session


def test_session_starts_quietly_and_is_reused_not_stopped(spark: SparkEngine) -> None:
    assert spark.created
    assert spark.start_output == "", spark.start_output[-500:]
    session = spark.session
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert session.conf.get("spark.sql.shuffle.partitions") == "8"
    assert session.conf.get("spark.ui.enabled") == "false"
    session.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    try:
        with SparkEngine(master="spark://ignored-when-a-session-runs:7077") as notebook:
            assert not notebook.created
            assert notebook.session is session
            assert session.conf.get("spark.sql.session.timeZone") == "UTC"
            view = notebook.materialize(notebook._view(session.range(5), "t"), "m")
            assert notebook.scalar(view.count()) == 5
            assert notebook._cached[0].is_cached
            views = list(notebook._views)
            frame = notebook._cached[0]
        # Left running, with its time zone given back and custseg's views and caches gone.
        assert session.range(3).count() == 3
        assert session.conf.get("spark.sql.session.timeZone") == "Europe/Paris"
        assert not any(session.catalog.tableExists(v) for v in views)
        assert not frame.is_cached
    finally:
        session.conf.set("spark.sql.session.timeZone", "UTC")


def test_settings_a_running_session_cannot_take_are_refused(spark: SparkEngine) -> None:
    with pytest.raises(
        InputError, match=r"spark\.executor\.memory cannot be changed in the running"
    ):
        SparkEngine(conf={"spark.executor.memory": "8g"})


# ---------------------------------------------------------------- agreement with DuckDB


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_spark_features_equal_duckdb(agreement: dict[str, Any], fmt: str) -> None:
    prep, (feats, _) = agreement[fmt]
    assert prep.engine == "Spark"
    assert prep.features["customer_id"].tolist() == feats["customer_id"].tolist()
    assert list(prep.features.columns) == list(feats.columns)
    assert len(feats) > 300
    for col in feats.columns[1:]:
        diff = (prep.features[col] - feats[col]).abs() / feats[col].abs().clip(lower=1)
        assert diff.max() <= 1e-9, col


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_spark_cleaning_and_activity_equal_duckdb(agreement: dict[str, Any], fmt: str) -> None:
    prep, (_, info) = agreement[fmt]
    spark_cleaning, duck = prep.cleaning, info["cleaning"]
    for key in ("rows_in", "rows_kept", "customers_in", "customers_kept", "analysis_date"):
        assert spark_cleaning[key] == duck[key], key
    assert [(d["reason"], d["rows"]) for d in spark_cleaning["dropped"]] == [
        (d["reason"], d["rows"]) for d in duck["dropped"]
    ]
    dropped = {d["reason"]: d["rows"] for d in spark_cleaning["dropped"]}
    assert dropped["exact_duplicate"] > 0 and dropped["cancellation"] > 0
    assert spark_cleaning["rows_in"] == N_LINES
    assert prep.activity == info["activity"]
    assert prep.info.format == fmt
    assert prep.info.n_rows == N_LINES
    assert prep.info.n_files == 1


def test_same_segments_at_fixed_k(demo_files: dict[str, Path], spark: SparkEngine) -> None:
    options: dict[str, Any] = {"k": 3, "algorithm": "kmeans", "seed": 0, "new_customers": False}
    on_spark = custseg.segment(
        demo_files["parquet"], engine="spark", spark_master=MASTER, **options
    )
    on_duckdb = custseg.segment(demo_files["parquet"], **options)
    assert on_spark.segments["customer_id"].tolist() == on_duckdb.segments["customer_id"].tolist()
    ari = adjusted_rand_score(on_duckdb.segments["segment"], on_spark.segments["segment"])
    assert ari >= 0.99
    assert on_spark.metrics["cleaning"] == on_duckdb.metrics["cleaning"]


# ---------------------------------------------------------------- the command line


def test_cli_segments_with_spark_and_predicts_with_duckdb(
    demo_files: dict[str, Path], spark: SparkEngine, tmp_path: Path, run_cli
) -> None:
    parquet, out = demo_files["parquet"], tmp_path / "out"
    code, _, err = run_cli(
        "segment",
        parquet,
        "--engine",
        "spark",
        "--spark-master",
        MASTER,
        "--k",
        "3",
        "--algorithm",
        "kmeans",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["source"]["format"] == "parquet"
    assert metrics["cleaning"]["rows_in"] == N_LINES
    assert metrics["new_customers"] is None
    code, _, err = run_cli(
        "predict", out / "model.skops", parquet, "--out", tmp_path / "p.csv", "--quiet"
    )
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "p.csv", dtype={"customer_id": str})
    segments = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    assert scored["customer_id"].tolist() == segments["customer_id"].tolist()
    assert scored["segment"].tolist() == segments["segment"].tolist()


# ---------------------------------------------------------------- past the driver limit

#: Planted customers of the scaled-out job, its driver limit and its sample.
SCALE_CUSTOMERS, SCALE_LIMIT, SCALE_SAMPLE = 800, 200, 300


@pytest.fixture(scope="module")
def scaled_out(spark: SparkEngine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``custseg segment --engine spark`` on 800 customers of 4 planted segments with a driver
    limit of 200: k chosen on a sample of 300, MLlib's k-means on all 800."""
    from custseg.cli import main
    from custseg.datasets.synthetic import make_transactions
    from custseg.engines import mllib

    lines, truth = make_transactions(SCALE_CUSTOMERS, n_segments=4, seed=3)
    lines["InvoiceDate"] = pd.to_datetime(lines["InvoiceDate"])
    folder = tmp_path_factory.mktemp("scale_out")
    lines.to_parquet(folder / "lines.parquet", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mllib, "SCALE_OUT_SAMPLE", SCALE_SAMPLE)
        code = main(
            [
                "segment",
                str(folder / "lines.parquet"),
                "--engine",
                "spark",
                "--spark-master",
                MASTER,
                "--spark-driver-limit",
                str(SCALE_LIMIT),
                "--out",
                str(folder / "out"),
                "--quiet",
            ]
        )
    assert code == 0
    return {"lines": folder / "lines.parquet", "out": folder / "out", "truth": truth}


def test_past_the_driver_limit_mllib_clusters_every_customer(scaled_out: dict[str, Any]) -> None:
    out = scaled_out["out"]
    every = pd.read_parquet(out / "segments.parquet")
    assert sorted(every["customer_id"]) == sorted(scaled_out["truth"].index)
    assert adjusted_rand_score(scaled_out["truth"][every["customer_id"]], every["segment"]) >= 0.95
    assert not (out / "segments.csv").exists()
    assert len(pd.read_csv(out / "segments_sample.csv")) == SCALE_SAMPLE
    metrics = json.loads((out / "metrics.json").read_text())
    scale = metrics["scale_out"]
    assert (scale["customers"], scale["sample"], scale["driver_limit"]) == (800, 300, 200)
    assert metrics["algorithm"] == "kmeans" and metrics["k"] == 4
    assert any("300 sampled customers" in note for note in metrics["export_notes"])
    assert sum(c["customers"] for c in scale["counts"].values()) == SCALE_CUSTOMERS
    profiles = pd.read_csv(out / "profiles.csv")
    assert profiles["n_customers"].sum() == SCALE_CUSTOMERS
    assert profiles["n_customers"].tolist() == [
        scale["counts"][str(s)]["customers"] for s in profiles["segment"]
    ]
    assert len(custseg.load_result(out).segments) == SCALE_SAMPLE


def test_the_model_of_a_scaled_out_job_predicts_the_segments_spark_wrote(
    scaled_out: dict[str, Any],
) -> None:
    every = pd.read_parquet(scaled_out["out"] / "segments.parquet").set_index("customer_id")
    scored = custseg.load_model(scaled_out["out"] / "model.skops").predict(scaled_out["lines"])
    assert len(scored) == SCALE_CUSTOMERS
    assert (scored.set_index("customer_id")["segment"] == every["segment"]).all()
    assert (scored.set_index("customer_id")["segment_name"] == every["segment_name"]).all()


def test_past_the_driver_limit_other_families_and_taken_paths_are_refused(
    scaled_out: dict[str, Any],
) -> None:
    options: dict[str, Any] = {
        "engine": "spark",
        "spark_master": MASTER,
        "spark_driver_limit": SCALE_LIMIT,
        "new_customers": False,
    }
    with pytest.raises(InputError, match=r"800 customers, more than spark_driver_limit .*kmeans"):
        custseg.segment(scaled_out["lines"], algorithm="gmm", **options)
    with pytest.raises(InputError, match="already exists.*spark_output path that does not exist"):
        custseg.segment(scaled_out["lines"], spark_output=str(scaled_out["out"]), **options)
    with pytest.raises(InputError, match="spark_driver_limit .* are for engine"):
        custseg.segment(scaled_out["lines"], spark_driver_limit=5)


# ---------------------------------------------------------------- the app


def test_app_reads_with_spark(demo_files: dict[str, Path], spark: SparkEngine) -> None:
    from streamlit.testing.v1 import AppTest

    from custseg.app import main_script

    at = AppTest.from_file(str(main_script()), default_timeout=240)
    at.run()
    at.radio(key="data_choice").set_value("Read with Apache Spark").run()
    at.text_input(key="data_spark_path").set_value(str(demo_files["parquet"]))
    at.text_input(key="data_spark_master").set_value(MASTER)
    next(b for b in at.button if b.label == "Read with Spark").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Read as transactions" in at.success[0].value
    shown = "\n".join(str(e.value) for e in at.text)
    assert f"(Spark, {MASTER}): {N_LINES:,} rows" in shown
    # Both a path and a table: one clear message, the page stays usable.
    at.text_input(key="data_spark_table").set_value("db.orders")
    next(b for b in at.button if b.label == "Read with Spark").click().run()
    assert at.error and "either a path" in at.error[0].value


# ---------------------------------------------------------------- reading


def test_catalog_table_is_read(demo_files: dict[str, Path], spark: SparkEngine) -> None:
    spark.session.read.parquet(str(demo_files["parquet"])).createOrReplaceTempView("orders_view")
    try:
        table, info = spark.read(None, table="orders_view")
        assert (info.format, info.table, info.n_rows) == ("spark table", "orders_view", N_LINES)
        assert "CustomerID" in table.columns
    finally:
        spark.session.catalog.dropTempView("orders_view")


def test_csv_ids_keep_their_leading_zeros_and_folders_are_read(
    spark: SparkEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "part-1.csv").write_text("id,total\n007,1.5\n", encoding="utf-8")
    (folder / "part-2.csv").write_text("id,total\n010,2\n", encoding="utf-8")
    (folder / "_SUCCESS").write_text("")
    table, info = spark.read(str(folder))
    assert (info.format, info.n_files, info.n_rows) == ("csv", 2, 2)
    assert sorted(spark.run(table)["id"].tolist()) == ["007", "010"]


def test_ragged_csv_rows_are_reported(spark: SparkEngine, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n", encoding="utf-8")
    table, _ = spark.read(str(path))
    with pytest.raises(InputError, match=r"Malformed CSV record: 4,5.*every row of the file"):
        spark.run(table)


@pytest.mark.parametrize(
    ("files", "target", "message"),
    [
        ({}, "missing.parquet", r"'.*missing\.parquet' does not exist \(Spark found no file"),
        ({"notes.md": "x"}, "", r"holds no Parquet or CSV files \(e\.g\. 'notes\.md'\)"),
        (
            {"a.csv": "x\n1\n", "README.md": "x"},
            "",
            r"mixes data files with 1 other file\(s\), e\.g\. 'README\.md'",
        ),
        ({"a.csv": "x\n1\n", "b.tsv": "x\n1\n"}, "", r"mixes formats"),
        ({"empty.csv": "x,y\n"}, "empty.csv", r"File '.*empty\.csv' has no data rows"),
    ],
)
def test_paths_spark_cannot_read_are_named(
    spark: SparkEngine, tmp_path: Path, files: dict[str, str], target: str, message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        spark.read(str(tmp_path / target))


# ---------------------------------------------------------------- errors on the command line


def _one_error_line(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert pattern in err, err


def test_cli_without_pyspark(
    demo_files: dict[str, Path], tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark raises ImportError
    code, _, err = run_cli(
        "segment", demo_files["parquet"], "--engine", "spark", "--out", tmp_path / "o"
    )
    _one_error_line(code, err, "Spark needs PySpark: pip install 'custseg[spark]'.")
    assert not (tmp_path / "o").exists()


def test_cli_missing_path_and_tables(
    demo_files: dict[str, Path], spark: SparkEngine, tmp_path: Path, run_cli
) -> None:
    spark.session.read.parquet(str(demo_files["parquet"])).createOrReplaceTempView("orders")
    try:
        spark_args = ("--engine", "spark", "--spark-master", MASTER, "--out", tmp_path / "o")
        code, _, err = run_cli("segment", tmp_path / "nope.parquet", *spark_args)
        _one_error_line(code, err, "nope.parquet' does not exist")
        code, _, err = run_cli("segment", "--table", "order", *spark_args)
        _one_error_line(code, err, "no table or view named 'order'. Did you mean 'orders'?")
        code, _, err = run_cli("segment", "--table", "orders; DROP TABLE orders", *spark_args)
        _one_error_line(code, err, "'orders; DROP TABLE orders' is not a Spark table name")
        code, _, err = run_cli("segment", "--table", "shop.orders", *spark_args)
        _one_error_line(code, err, "has no database 'shop'")
        assert spark.session.catalog.tableExists("orders")
        assert not (tmp_path / "o").exists()
    finally:
        spark.session.catalog.dropTempView("orders")


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command in a fresh Python, where no Spark session runs yet."""
    script = "import sys; from custseg.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_cli_without_java(demo_files: dict[str, Path], tmp_path: Path) -> None:
    env = {**os.environ, "JAVA_HOME": "/nonexistent", "PATH": str(tmp_path)}
    done = _cli(["segment", str(demo_files["parquet"]), "--engine", "spark"], env)
    _one_error_line(done.returncode, done.stderr, "JAVA_HOME is '/nonexistent', which has no")
    assert "apt-get install openjdk-17-jre-headless" in done.stderr


def test_cli_unreachable_master_fails_fast(demo_files: dict[str, Path]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    done = _cli(
        [
            "segment",
            str(demo_files["parquet"]),
            "--engine",
            "spark",
            "--spark-master",
            f"spark://127.0.0.1:{port}",
        ],
        dict(os.environ),
    )
    assert time.perf_counter() - started < 30  # Spark itself gives up after 79 s
    _one_error_line(
        done.returncode, done.stderr, f"Spark master spark://127.0.0.1:{port} cannot be reached"
    )
    assert "--spark-master 'local[*]'" in done.stderr


# ---------------------------------------------------------------- the checks themselves


def test_java_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match=r"needs Java 17 or newer and none was found\. Install"):
        check_java(17)
    old = tmp_path / "java"
    old.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    old.chmod(0o755)
    with pytest.raises(InputError, match=r"is Java 11\. Install Java 17 \(e\.g\. apt-get"):
        check_java(17)
    assert check_java(11) == str(old)


def test_master_check_is_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(InputError, match=r"cannot be reached \(127\.0\.0\.1:\d+: "):
            check_master(f"spark://127.0.0.1:{port}")
        assert time.perf_counter() - started < 5
        probe.listen()
        check_master(f"spark://127.0.0.1:{port}")  # listening now: no error
        check_master(f"spark://127.0.0.1:1,127.0.0.1:{port}")  # one of two masters is enough
    check_master("local[2]")  # not a standalone master: nothing to check


def test_spark_messages_are_one_line_with_the_cause() -> None:
    class JavaError(Exception):
        def __init__(self, text: str, cause: JavaError | None = None) -> None:
            super().__init__(text)
            self.cause = cause

        def getCause(self) -> JavaError | None:  # noqa: N802  (Java's name)
            return self.cause

        def getMessage(self) -> str:  # noqa: N802
            return str(self)

    root = JavaError("[MALFORMED_CSV_RECORD] Malformed CSV record: 4,5 SQLSTATE: KD000")
    error = RuntimeError(
        "An error occurred while calling o57.collectToPython.\n: org.apache.spark.SparkException"
        ": [FAILED_READ_FILE.NO_HINT] Encountered error while reading file x.csv.  SQLSTATE: "
        "KD001\n\tat org.apache.spark.sql.errors.QueryExecutionErrors$.cannotReadFilesError"
    )
    error.java_exception = JavaError("top", JavaError("middle", root))  # type: ignore[attr-defined]
    assert clean_message(error) == (
        "org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while "
        "reading file x.csv.; [MALFORMED_CSV_RECORD] Malformed CSV record: 4,5"
    )


def test_a_failed_start_shows_the_line_that_says_why(tmp_path: Path) -> None:
    log = tmp_path / "spark.log"
    log.write_text(
        "WARNING: Using incubator modules: jdk.incubator.vector\n"
        "Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties\n"
        "26/12/03 19:17:45 ERROR SparkContext: Error initializing SparkContext.\n"
        "org.apache.spark.SparkException: Could not parse Master URL: 'local[abc]'\n"
        "\tat org.apache.spark.SparkContext$.createTaskScheduler(SparkContext.scala:3300)\n"
        "26/12/03 19:17:45 WARN MetricsSystem: Stopping a MetricsSystem that is not running\n",
        encoding="utf-8",
    )
    assert _start_failure(str(log)) == (
        "org.apache.spark.SparkException: Could not parse Master URL: 'local[abc]'"
    )
    assert _start_failure(str(tmp_path / "missing.log")) == ""
