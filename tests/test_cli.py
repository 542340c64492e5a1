"""The command line writes the output contract, returns what the library computes, and is quiet
when asked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import custseg
from custseg.result import OUTPUT_FILES


@pytest.fixture(scope="module")
def lines_csv(tmp_path_factory):
    lines, _ = custseg.datasets.make_transactions(300, n_segments=3, seed=5)
    path = tmp_path_factory.mktemp("cli") / "orders.csv"
    lines.to_csv(path, index=False)
    return path


def test_segment_writes_the_contract(run_cli, lines_csv, tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("segment", lines_csv, "--out", out, "--seed", "1")
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    segments = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    assert list(segments.columns[:3]) == ["customer_id", "segment", "segment_name"]
    profiles = pd.read_csv(out / "profiles.csv")
    assert list(profiles.columns[:5]) == [
        "segment",
        "segment_name",
        "n_customers",
        "share",
        "revenue_share",
    ]
    assert profiles["n_customers"].sum() == len(segments)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "algorithm",
        "k",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "inertia",
        "candidates",
        "cleaning",
        "seed",
        "versions",
        "seconds",
        "selection_reason",
    ):
        assert key in metrics
    assert metrics["source"]["sha256"] and len(metrics["source"]["sha256"]) == 64
    # Segments are numbered by mean revenue, highest first.
    means = segments.groupby("segment")["revenue"].mean()
    assert list(means) == sorted(means, reverse=True)
    assert "Segments" in stdout and "Recommendation:" in stdout and stderr == ""


def test_cli_writes_what_the_library_returns(run_cli, lines_csv, tmp_path):
    out = tmp_path / "out"
    assert run_cli("segment", lines_csv, "--out", out, "--seed", "2", "--quiet")[0] == 0
    result = custseg.segment(lines_csv, seed=2)
    written = pd.read_csv(out / "segments.csv", dtype={"customer_id": str, "segment_name": str})
    pd.testing.assert_frame_equal(written, result.segments, check_dtype=False)


def test_same_input_and_seed_give_identical_bytes(run_cli, lines_csv, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("segment", lines_csv, "--out", a, "-q")[0] == 0
    assert run_cli("segment", lines_csv, "--out", b, "-q")[0] == 0
    assert (a / "segments.csv").read_bytes() == (b / "segments.csv").read_bytes()
    assert (a / "profiles.csv").read_bytes() == (b / "profiles.csv").read_bytes()


def test_quiet_prints_nothing(run_cli, lines_csv, tmp_path):
    code, stdout, stderr = run_cli("segment", lines_csv, "--out", tmp_path / "o", "--quiet")
    assert (code, stdout, stderr) == (0, "", "")


def test_fixed_k(run_cli, lines_csv, tmp_path):
    out = tmp_path / "o"
    assert run_cli("segment", lines_csv, "--out", out, "--k", "5", "-q")[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["k"] == 5 and len(metrics["candidates"]) == 1


def test_predict_reproduces_training_labels(run_cli, lines_csv, tmp_path):
    out = tmp_path / "o"
    assert run_cli("segment", lines_csv, "--out", out, "-q")[0] == 0
    code, stdout, stderr = run_cli(
        "predict", out / "model.skops", lines_csv, "--out", tmp_path / "p.csv"
    )
    assert code == 0, stderr
    scored = pd.read_csv(tmp_path / "p.csv", dtype={"customer_id": str})
    trained = pd.read_csv(out / "segments.csv", dtype={"customer_id": str})
    pd.testing.assert_frame_equal(scored, trained)
    assert "Scored 300 customers" in stdout


def test_predict_refuses_a_pickle(run_cli, lines_csv, tmp_path):
    import pickle

    bad = tmp_path / "model.skops"
    bad.write_bytes(pickle.dumps([1, 2, 3]))
    code, stdout, stderr = run_cli("predict", bad, lines_csv, "--out", tmp_path / "p.csv")
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1 and "pickle" in stderr
    assert not (tmp_path / "p.csv").exists()


def test_refuses_to_overwrite_a_folder_with_other_files(run_cli, lines_csv, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    code, _, stderr = run_cli("segment", lines_csv, "--out", tmp_path, "-q")
    assert code == 2 and "already holds other files (mine.txt)" in stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_rerun_replaces_an_earlier_output(run_cli, lines_csv, tmp_path):
    out = tmp_path / "o"
    assert run_cli("segment", lines_csv, "--out", out, "-q")[0] == 0
    assert run_cli("segment", lines_csv, "--out", out, "-q", "--k", "2")[0] == 0
    assert json.loads((out / "metrics.json").read_text())["k"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temporary folders left


def test_demo(run_cli, tmp_path):
    out = tmp_path / "demo"
    code, stdout, stderr = run_cli("demo", "--out", out)
    assert code == 0, stderr
    assert "CC BY 4.0" in stdout and str(out / "report.html") in stdout.replace("\n", "")
    assert (out / "report.html").exists()


def test_usage_errors_are_one_line(run_cli):
    code, _, stderr = run_cli("segment")
    assert (
        code == 2
        and stderr.startswith("error: Missing argument 'INPUT'")
        and stderr.count("\n") == 1
    )
    code, _, stderr = run_cli("segment", "x.csv", "--nope")
    assert code == 2 and stderr.startswith("error: No such option") and stderr.count("\n") == 1


def test_predict_quiet_silences_warnings(run_cli, lines_csv, tmp_path):
    out = tmp_path / "o"
    assert run_cli("segment", lines_csv, "--out", out, "-q")[0] == 0
    lines = pd.read_csv(lines_csv, dtype=str)
    only_return = lines.iloc[[0]].assign(InvoiceNo="C999999", Quantity="-1", CustomerID="99999")
    new = tmp_path / "new.csv"
    pd.concat([lines, only_return]).to_csv(new, index=False)
    code, stdout, stderr = run_cli("predict", out / "model.skops", new, "--out", tmp_path / "p.csv")
    assert code == 0 and "warning: 1 customer(s) have no purchase left" in stdout
    code, stdout, stderr = run_cli(
        "predict", out / "model.skops", new, "--out", tmp_path / "p.csv", "-q"
    )
    assert (code, stdout, stderr) == (0, "", "")
