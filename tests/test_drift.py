"""Drift: scored customers compared with the training customers (PSI per feature, segment
shares), in Python and in ``custseg predict``."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.drift import NO_REFERENCE, THRESHOLDS, check, psi, reference
from custseg.persist import load_model, save_model


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 400
    group = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "ID": [str(1000 + i) for i in range(n)],
            "Age": rng.normal(25 + 15 * group, 3).round(),
            "Income": rng.normal(40 + 20 * group, 4).round(1),
            "Channel": np.where(group == 2, "store", "web"),
        }
    )


@pytest.fixture(scope="module")
def trained(customers):
    return custseg.segment(customers, seed=3, k=3, algorithm="kmeans")


@pytest.fixture(scope="module")
def model_file(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.skops"
    save_model(trained.model, path)
    return path


def test_psi_by_hand():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    # (0.9 - 0.5) ln(0.9 / 0.5) + (0.1 - 0.5) ln(0.1 / 0.5)
    expected = 0.4 * math.log(1.8) - 0.4 * math.log(0.2)
    assert psi([0.9, 0.1], [0.5, 0.5]) == pytest.approx(expected)
    # An empty bin is floored, not infinite.
    assert math.isfinite(psi([1.0, 0.0], [0.5, 0.5]))


def test_reference_is_deciles_categories_and_segment_shares():
    features = pd.DataFrame(
        {"x": np.arange(100, dtype=float), "c": ["a"] * 70 + ["b"] * 20 + [None] * 10}
    )
    labels = np.array([0] * 25 + [1] * 75)
    ref = reference(features, ["x"], ["c"], labels)
    x = ref["numeric"]["x"]
    assert len(x["edges"]) == 9 and x["shares"] == pytest.approx([0.1] * 10 + [0.0])
    assert ref["categorical"]["c"] == {
        "categories": ["a", "b", "(missing)"],
        "shares": pytest.approx([0.7, 0.2, 0.1, 0.0]),
    }
    assert ref["segments"] == {"segment": [0, 1], "shares": [0.25, 0.75]}
    # Plain data only: what persist's trusted list lets through, and what JSON holds.
    json.dumps(ref)


def test_training_data_gives_no_drift(trained, customers):
    report = check(trained.model, trained.model.predict(customers))
    assert report.verdict == "stable" and report.warnings == []
    assert [f["feature"] for f in report.features] == ["Age", "Income", "Channel"]
    assert all(f["psi"] == 0.0 for f in report.features)
    assert all(s["share"] == s["training_share"] for s in report.segments)


def test_prices_times_three_warn_naming_the_feature(trained, customers):
    report = check(
        trained.model, trained.model.predict(customers.assign(Income=customers.Income * 3))
    )
    assert report.verdict == "moved"
    moved = [f["feature"] for f in report.features if f["status"] == "moved"]
    assert moved == ["Income"]
    assert any(
        m.startswith("feature 'Income' moved (PSI ") and m.endswith("refit the model")
        for m in report.warnings
    )


def test_segment_share_doubling_warns(trained, customers):
    model = trained.model
    scored = model.predict(customers)
    smallest = int(scored["segment"].value_counts().idxmin())
    own = customers[scored["segment"] == smallest]
    others = customers[scored["segment"] != smallest]
    # The smallest segment (about 30% in training) makes up two thirds of this batch.
    batch = pd.concat([own, others.head(len(own) // 2)])
    assert len(batch) >= THRESHOLDS["min_customers"]
    report = check(model, model.predict(batch))
    entry = next(s for s in report.segments if s["segment"] == smallest)
    assert entry["status"] == "moved" and entry["ratio"] >= THRESHOLDS["share_ratio"]
    assert any(
        m.startswith(f"segment {smallest} '") and "x its training share" in m
        for m in report.warnings
    )


def test_labels_can_be_passed_apart_from_the_features(trained, customers):
    model = trained.model
    features, _ = model.features_for(customers)
    labels, _ = model.assign_with_probability(features)
    assert (
        check(model, features, labels).to_dict() == check(model, model.predict(customers)).to_dict()
    )
    # A feature left out is said, not silently skipped.
    partial = check(model, features.drop(columns="Age"), labels)
    assert [f["feature"] for f in partial.features] == ["Income", "Channel"]
    assert partial.notes == ["feature 'Age' is not in the scored table; its drift is not checked"]


def test_small_batches_are_skipped_with_a_reason(trained, customers):
    report = check(trained.model, trained.model.predict(customers.head(99).assign(Income=1e6)))
    assert report.verdict == "skipped" and report.warnings == [] and report.features == []
    assert "99 customer(s) scored, fewer than the 100" in report.reason


def test_old_model_has_no_reference(trained, customers, tmp_path):
    old = copy.copy(trained.model)
    old.drift_reference = None
    save_model(old, tmp_path / "old.skops")
    loaded = load_model(tmp_path / "old.skops")
    report = check(loaded, loaded.predict(customers))
    assert report.verdict == "no_reference" and report.warnings == []
    assert report.notes == [NO_REFERENCE]


def test_reference_survives_save_and_load(trained, model_file):
    assert load_model(model_file).drift_reference == trained.model.drift_reference


def test_predict_cli_writes_the_drift_json(run_cli, model_file, customers, tmp_path):
    same = tmp_path / "same.csv"
    customers.to_csv(same, index=False)
    code, stdout, stderr = run_cli("predict", model_file, same, "--out", tmp_path / "p.csv")
    assert code == 0 and "warning" not in stderr, stderr
    written = json.loads((tmp_path / "p.drift.json").read_text())
    assert written["verdict"] == "stable" and written["thresholds"]["psi_moved"] == 0.25
    assert {f["feature"]: f["psi"] for f in written["features"]} == {
        "Age": 0.0,
        "Income": 0.0,
        "Channel": 0.0,
    }
    assert "p.drift.json" in stdout

    shifted = tmp_path / "shifted.csv"
    customers.assign(Income=customers.Income * 3).to_csv(shifted, index=False)
    code, stdout, stderr = run_cli("predict", model_file, shifted, "--out", tmp_path / "s.csv")
    assert code == 0
    assert "warning: feature 'Income' moved (PSI " in stderr
    assert json.loads((tmp_path / "s.drift.json").read_text())["verdict"] == "moved"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_predict_cli_old_model_says_so_once(run_cli, trained, customers, tmp_path):
    old = copy.copy(trained.model)
    old.drift_reference = None
    save_model(old, tmp_path / "old.skops")
    data = tmp_path / "c.csv"
    customers.to_csv(data, index=False)
    code, stdout, stderr = run_cli(
        "predict", tmp_path / "old.skops", data, "--out", tmp_path / "p.csv"
    )
    assert code == 0 and stderr == ""
    assert " ".join(stdout.split()).count("no training reference for drift checks") == 1
    assert json.loads((tmp_path / "p.drift.json").read_text())["verdict"] == "no_reference"


def test_recency_plus_200_days_warns(tmp_path):
    lines, _ = custseg.datasets.make_transactions(150, n_segments=3, seed=2)
    result = custseg.segment(lines, seed=0, k=3, algorithm="kmeans", new_customers=False)
    assert check(result.model, result.model.predict(lines)).warnings == []
    earlier = lines.assign(
        InvoiceDate=(pd.to_datetime(lines["InvoiceDate"]) - pd.Timedelta(days=200)).astype(str)
    )
    report = check(result.model, result.model.predict(earlier))
    assert any(m.startswith("feature 'days_since_last_purchase' moved") for m in report.warnings)
