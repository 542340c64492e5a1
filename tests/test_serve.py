"""custseg serve: the endpoints, their errors, the same answers as custseg predict, the
OpenAPI contract, and the command's refusals before the server starts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.export import write_csv
from custseg.io.readers import file_sha256
from custseg.persist import save_model

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from custseg.serve import create_app  # noqa: E402
from custseg.serve.scoring import Scorer, clean_id, parse_day  # noqa: E402

KEY = "k" * 32


@pytest.fixture(scope="module")
def customer_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A customer table (numbers, a category, a date column, one missing age) and the
    model fitted on it."""
    rng = np.random.default_rng(1)
    n = 240
    group = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {
            "ID": [str(1000 + i) for i in range(n)],
            "Age": rng.normal(25 + 15 * group, 3).round(),
            "Income": rng.normal(40 + 20 * group, 4).round(1),
            "Channel": np.where(group == 2, "store", "web"),
            "Joined": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
        }
    )
    frame.loc[3, "Age"] = np.nan
    folder = tmp_path_factory.mktemp("serve_customers")
    csv = folder / "customers.csv"
    frame.to_csv(csv, index=False)
    model = folder / "model.skops"
    save_model(custseg.segment(csv, seed=3, algorithm="gmm", k=3).model, model)
    return csv, model


@pytest.fixture(scope="module")
def lines_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Invoice lines of 400 customers and the model (with new-customer models) fitted on
    them."""
    lines, _ = custseg.datasets.make_transactions(400, n_segments=3, seed=2)
    folder = tmp_path_factory.mktemp("serve_lines")
    csv = folder / "lines.csv"
    lines.to_csv(csv, index=False)
    result = custseg.segment(csv, seed=0, algorithm="kmeans", k=3)
    assert result.model.new_customers is not None
    model = folder / "model.skops"
    save_model(result.model, model)
    return csv, model


@pytest.fixture(scope="module")
def client(customer_files: tuple[Path, Path]) -> TestClient:
    return TestClient(create_app(customer_files[1], max_batch=300))


@pytest.fixture(scope="module")
def lines_client(lines_files: tuple[Path, Path]) -> TestClient:
    return TestClient(create_app(lines_files[1]))


def _rows_from_csv(path: Path, numbers: tuple[str, ...]) -> list[dict[str, object]]:
    """The rows of a CSV as a JSON client sends them: numbers as numbers, blanks as null."""
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = []
    for record in text.to_dict("records"):
        row: dict[str, object] = {}
        for key, value in record.items():
            if value == "":
                row[key] = None
            elif key in numbers:
                row[key] = json.loads(value)
            else:
                row[key] = value
        rows.append(row)
    return rows


def _answer_as_table(results: list[dict[str, object]], columns: list[str]) -> pd.DataFrame:
    flat = [
        {**{k: v for k, v in r.items() if k not in ("features", "action")}, **r["features"]}  # type: ignore[dict-item]
        for r in results
    ]
    return pd.DataFrame(flat)[columns]


def _same_csv(expected: pd.DataFrame, got: pd.DataFrame, tmp_path: Path) -> None:
    """Both tables written the way custseg predict writes them are the same bytes."""
    write_csv(expected, tmp_path / "expected.csv")
    write_csv(got, tmp_path / "got.csv")
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "expected.csv").read_bytes()


# ---------------------------------------------------------------- same answers as predict


def test_customer_answers_equal_custseg_predict(customer_files, client, run_cli, tmp_path):
    csv, model = customer_files
    code, _, err = run_cli("predict", model, csv, "--out", tmp_path / "scored.csv", "-q")
    assert code == 0, err
    expected = pd.read_csv(tmp_path / "scored.csv", dtype=str, keep_default_na=False)
    rows = _rows_from_csv(csv, ("Age", "Income"))
    response = client.post("/v1/score", json={"customers": rows})
    assert response.status_code == 200, response.text
    got = _answer_as_table(response.json()["results"], list(expected.columns))
    write_csv(got, tmp_path / "got.csv")
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "scored.csv").read_bytes()
    fitted = custseg.load_model(model)
    first = response.json()["results"][0]
    assert first["action"] == fitted.actions[first["segment"]]
    assert 0 < first["segment_probability"] <= 1  # a Gaussian mixture's membership
    assert response.json()["results"][3]["features"]["Age"] is None  # missing stays missing


def test_one_customer_alone_gets_its_batch_answer(customer_files, client):
    rows = _rows_from_csv(customer_files[0], ("Age", "Income"))
    batch = client.post("/v1/score", json={"customers": rows[:40]}).json()["results"]
    for i in (0, 3, 17, 39):
        alone = client.post("/v1/score", json={"customers": [rows[i]]}).json()["results"]
        assert alone == [batch[i]]


def test_invoice_line_answers_equal_custseg_predict(lines_files, lines_client, run_cli, tmp_path):
    csv, model = lines_files
    lines = pd.read_csv(csv, dtype=str)
    subset = lines[lines["CustomerID"].isin(lines["CustomerID"].unique()[::13])]
    subset.to_csv(tmp_path / "subset.csv", index=False)
    code, _, err = run_cli("predict", model, tmp_path / "subset.csv", "--out", tmp_path / "p.csv")
    assert code == 0, err
    expected = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    assert "first_purchase_segment_probability" in expected.columns
    rows = _rows_from_csv(tmp_path / "subset.csv", ("Quantity", "UnitPrice"))
    response = lines_client.post("/v1/score", json={"lines": rows})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    got = _answer_as_table(results, list(expected.columns))
    write_csv(got, tmp_path / "got.csv")
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "p.csv").read_bytes()
    # Customers with one purchase day get the first-purchase segment, with its name.
    firsts = [r for r in results if r["first_purchase_segment"] is not None]
    assert firsts and all(
        r["features"]["days_since_first_purchase"] == r["features"]["days_since_last_purchase"]
        for r in firsts
    )
    fitted = custseg.load_model(model)
    assert all(
        r["first_purchase_segment_name"] == fitted.segment_names[r["first_purchase_segment"]]
        for r in firsts
    )


def test_invoice_lines_after_the_analysis_date_are_reported(lines_client):
    line = {
        "CustomerID": "x1",
        "InvoiceNo": "9",
        "InvoiceDate": "2030-01-01T10:00:00",
        "Quantity": 1,
        "UnitPrice": 2.5,
    }
    response = lines_client.post("/v1/score", json={"lines": [line]})
    assert response.status_code == 422
    assert "after_analysis_date" in response.json()["detail"][0]["msg"]
    # The invoice number is required (orders are counted by it).
    line = {**line, "InvoiceDate": "2023-12-01", "InvoiceNo": None}
    response = lines_client.post("/v1/score", json={"lines": [line]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "lines", 0, "InvoiceNo"]


# ---------------------------------------------------------------- endpoints


def test_healthz_and_model_info(customer_files, client):
    _, model = customer_files
    assert client.get("/healthz").json() == {"status": "ok", "model_sha256": file_sha256(model)}
    info = client.get("/v1/model").json()
    fitted = custseg.load_model(model)
    assert info["kind"] == "customers"
    assert info["model_sha256"] == file_sha256(model)
    assert info["input_fields"] == ["ID", "Age", "Income", "Channel", "Joined"]
    assert [f["name"] for f in info["features"]] == fitted.feature_columns
    assert [s["name"] for s in info["segments"]] == fitted.segment_names
    assert [s["action"] for s in info["segments"]] == fitted.actions
    assert info["date_reference_days"] == {"Joined": "2020-08-28"}
    assert info["versions"]["custseg"] == info["trained_with"]["custseg"]
    assert info["max_batch"] == 300


def test_lines_model_info(lines_files, lines_client):
    info = lines_client.get("/v1/model").json()
    assert info["kind"] == "transactions" and info["new_customers"] is True
    assert info["analysis_date"] == custseg.load_model(lines_files[1]).analysis_date
    assert "InvoiceDate" in info["input_fields"]


def test_openapi_documents_the_model_columns(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    customer = schemas["Customer"]
    assert customer["required"] == ["ID", "Age", "Income", "Channel", "Joined"]
    assert schemas["ScoreRequest"]["properties"]["customers"]["maxItems"] == 300


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"Age": None, "Income": "lots"}, "Income", "valid number"),
        ({"Joined": "tomorrow"}, "Joined", "'tomorrow' is not a date"),
        ({"ID": "  "}, "ID", "customer id 'ID' is empty"),
    ],
)
def test_bad_values_are_422_naming_the_field(client, change, field, message):
    row = {"ID": "1", "Age": 30, "Income": 50, "Channel": "web", "Joined": "2020-03-01", **change}
    response = client.post("/v1/score", json={"customers": [row]})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "customers", 0, field]
    assert message in detail["msg"]


def test_missing_field_and_repeated_id_are_named(client):
    row = {"ID": "1", "Age": 30, "Income": 50, "Channel": "web", "Joined": None}
    missing = client.post(
        "/v1/score", json={"customers": [{k: v for k, v in row.items() if k != "Age"}]}
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "customers", 0, "Age"]
    twice = client.post("/v1/score", json={"customers": [row, {**row, "ID": "1.0"}]})
    assert twice.status_code == 422
    assert "rows 0 and 1 have the same customer id '1'" in twice.json()["detail"][0]["msg"]


def test_not_json_and_infinite_numbers_are_422(client):
    assert (
        client.post(
            "/v1/score", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    row = '{"customers": [{"ID": "1", "Age": Infinity, "Income": 1, "Channel": null, "Joined": null}]}'
    response = client.post("/v1/score", content=row, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "customers", 0, "Age"]


def test_batch_over_the_limit_is_422(client):
    rows = [
        {"ID": str(i), "Age": 30, "Income": 50, "Channel": "web", "Joined": None}
        for i in range(301)
    ]
    response = client.post("/v1/score", json={"customers": rows})
    assert response.status_code == 422
    assert "at most 300 items" in response.json()["detail"][0]["msg"]


def test_body_over_the_limit_is_413(customer_files):
    small = TestClient(create_app(customer_files[1], max_body_mb=0.01))
    rows = [
        {"ID": str(i), "Age": 30, "Income": 50, "Channel": "web", "Joined": None}
        for i in range(400)
    ]
    response = small.post("/v1/score", json={"customers": rows})
    assert response.status_code == 413
    assert "over the limit of 10,485 bytes" in response.json()["detail"]
    # Without Content-Length (chunked), the body is counted as it arrives.
    chunks = (
        json.dumps({"customers": rows}).encode()[i : i + 4096] for i in range(0, 40_000, 4096)
    )
    assert small.post("/v1/score", content=chunks).status_code == 413


def test_api_key(customer_files):
    keyed = TestClient(create_app(customer_files[1], api_key=KEY))
    assert keyed.get("/v1/model").status_code == 401
    assert keyed.get("/openapi.json").status_code == 401
    wrong = keyed.get("/v1/model", headers={"X-API-Key": KEY[:-1] + "x"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert keyed.get("/v1/model", headers={"X-API-Key": KEY}).status_code == 200
    schema = keyed.get("/openapi.json", headers={"X-API-Key": KEY}).json()
    assert schema["components"]["securitySchemes"]["APIKey"]["name"] == "X-API-Key"
    assert schema["security"] == [{"APIKey": []}]
    assert schema["paths"]["/healthz"]["get"]["security"] == []
    assert keyed.get("/healthz").status_code == 200  # health checks carry no secret
    row = {"ID": "1", "Age": 30, "Income": 50, "Channel": "web", "Joined": None}
    assert keyed.post("/v1/score", json={"customers": [row]}).status_code == 401


def test_scoring_helpers():
    assert clean_id(" 17850.0 ") == "17850" and clean_id("007") == "007" and clean_id(" ") is None
    assert str(parse_day("2024-03-01T23:59:00+05:00", "%d/%m/%Y")) == "2024-03-01"
    with pytest.raises(ValueError, match="not an ISO 8601 date"):
        parse_day("01/03/2024", None)


def test_scorer_input_columns(lines_files):
    scorer = Scorer(custseg.load_model(lines_files[1]))
    assert scorer.input_columns()[0] == "CustomerID"


# ---------------------------------------------------------------- the command


def test_serve_refuses_an_open_host_without_a_key(customer_files, run_cli):
    code, out, err = run_cli("serve", customer_files[1], "--host", "0.0.0.0")
    assert code == 2
    assert err.startswith("error: --host 0.0.0.0 lets other machines reach the service")
    assert "--api-key-env" in err and len(err.strip().splitlines()) == 1


def test_serve_refuses_an_unset_or_short_key(customer_files, run_cli, monkeypatch):
    monkeypatch.delenv("CUSTSEG_TEST_KEY", raising=False)
    code, _, err = run_cli("serve", customer_files[1], "--api-key-env", "CUSTSEG_TEST_KEY")
    assert code == 2 and "CUSTSEG_TEST_KEY is unset or empty" in err
    monkeypatch.setenv("CUSTSEG_TEST_KEY", "short")
    code, _, err = run_cli(
        "serve", customer_files[1], "--host", "::", "--api-key-env", "CUSTSEG_TEST_KEY"
    )
    assert code == 2 and "at least 16" in err


def test_serve_refuses_a_bad_model_before_starting(tmp_path, run_cli):
    code, _, err = run_cli("serve", tmp_path / "nope.skops")
    assert code == 2 and err.startswith("error: Model file") and "does not exist" in err
    (tmp_path / "bad.skops").write_bytes(b"\x80\x04not a model")
    code, _, err = run_cli("serve", tmp_path / "bad.skops")
    assert code == 2 and "is a pickle file" in err


def test_serve_starts_uvicorn_with_the_app(customer_files, run_cli, monkeypatch):
    import uvicorn

    started: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    monkeypatch.setattr("gc.freeze", lambda: None)  # leave the test process's collector be
    code, _, err = run_cli("serve", customer_files[1], "--port", "8123", "--max-batch", "7")
    assert code == 0, err
    assert (started["host"], started["port"]) == ("127.0.0.1", 8123)
    client = TestClient(started["app"])
    assert client.get("/v1/model").json()["max_batch"] == 7
    # Off loopback with a key: it starts, and the key is required.
    monkeypatch.setenv("CUSTSEG_TEST_KEY", KEY)
    code, _, err = run_cli(
        "serve", customer_files[1], "--host", "0.0.0.0", "--api-key-env", "CUSTSEG_TEST_KEY"
    )
    assert code == 0, err
    assert started["host"] == "0.0.0.0"
    keyed = TestClient(started["app"])
    assert keyed.get("/v1/model").status_code == 401
    assert keyed.get("/v1/model", headers={"X-API-Key": KEY}).status_code == 200


def test_missing_fastapi_gives_the_install_hint(customer_files, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)
    code, _, err = run_cli("serve", customer_files[1])
    assert code == 2
    assert 'pip install "custseg[serve]"' in err


# ---------------------------------------------------------------- the OpenAPI contract


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_openapi_contract(customer_files, mode):
    """Every endpoint of /openapi.json, with requests generated from it (valid ones, then
    invalid ones): never a 500."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(customer_files[1], max_batch=50)
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("GET", "/healthz"),
        ("GET", "/v1/model"),
        ("POST", "/v1/score"),
    }
    for operation in operations:
        if mode == "negative" and operation.method.upper() != "POST":
            continue  # GET endpoints take no input to get wrong

        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call_and_validate(checks=[not_a_server_error])
            assert response.status_code < 500

        check()


def test_fast_inputs_equal_the_model_path(customer_files):
    """The in-memory path gives the numbers of SegmentModel.model_inputs, bit for bit."""
    from custseg.serve.scoring import FastInputs

    model = custseg.load_model(customer_files[1])
    scorer = Scorer(model)
    assert isinstance(scorer.fast_model.model_inputs, FastInputs)
    rows = _rows_from_csv(customer_files[0], ("Age", "Income"))
    frame = scorer.customer_features(rows)
    assert frame["Age"].isna().sum() == 1  # the imputers run
    assert np.array_equal(scorer.fast_model.model_inputs(frame), model.model_inputs(frame))
    complete = frame.dropna().reset_index(drop=True)  # nothing to impute: they are skipped
    assert np.array_equal(scorer.fast_model.model_inputs(complete), model.model_inputs(complete))


# ---------------------------------------------------------------- drift


def test_drift_is_watched_over_the_last_customers_scored(customer_files):
    import io

    from custseg.serve.monitor import DriftMonitor

    csv, model_path = customer_files
    rows = _rows_from_csv(csv, ("Age", "Income"))
    fresh = TestClient(create_app(model_path, max_batch=300))
    before = fresh.get("/v1/drift").json()
    assert before["verdict"] == "not_checked" and before["customers_scored"] == 0
    assert fresh.post("/v1/score", json={"customers": rows}).status_code == 200
    same = fresh.get("/v1/drift").json()
    assert same["verdict"] == "stable", same
    assert same["customers_scored"] == same["window"] == len(rows)

    # Incomes three times the training ones: one warning naming the feature, said once.
    shifted = [{**r, "Income": r["Income"] * 3 if r["Income"] else None} for r in rows]
    answers = fresh.post("/v1/score", json={"customers": shifted}).json()["results"]
    said = io.StringIO()
    monitor = DriftMonitor(custseg.load_model(model_path), every=100, stream=said)
    monitor.add(answers)
    monitor.add(answers)
    assert monitor.report()["verdict"] == "moved"
    lines = said.getvalue().splitlines()
    assert len([line for line in lines if "feature 'Income' moved" in line]) == 1, lines
    assert all(line.startswith("warning: ") and "refit" in line for line in lines)


@pytest.mark.slow
def test_load_benchmark_runs_bounded() -> None:
    """benchmarks/bench_serve.py on a small budget: it starts the server, loops until its
    request or time limit and prints the latency and throughput table (the figures are
    recorded in docs/benchmarks.md from full runs; here only that the loop works and stops)."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_serve.py"
    done = subprocess.run(
        [sys.executable, str(script), "--runs", "1", "--requests", "40", "--batches", "2"]
        + ["--seconds", "10", "--customers", "2000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "customer table: p99 ms" in done.stdout
    rate = next(line for line in done.stdout.splitlines() if "customers/s" in line)
    assert float(rate.split("│")[2].split()[0].replace(",", "")) > 0
