"""RELIABILITY.md items 27-39 (clustering math, persistence) and 50 (interrupted runs).

Each test is named after its item (``test_rNN_<what>``). Small tables are fitted once per
module; the tests that start ``custseg`` processes and signal them, and those that fit every
family on both kinds of data, are marked slow.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import custseg
from custseg.errors import CustsegWarning, InputError, ModelFileError
from custseg.evaluate import cluster_metrics, identical_within
from custseg.export import remove_stale_temp_folders
from custseg.models.families import REGISTRY, FitTask, get_family
from custseg.persist import load_model, save_model
from custseg.preprocess import (
    ColumnPlan,
    build_preprocessor,
    categorical_as_text,
    check_finite,
)

INTERRUPTED = "error: interrupted; no output was written."


def planted_customers(n: int = 150, seed: int = 1) -> pd.DataFrame:
    """Three planted groups: age and income apart, the third group shops in store."""
    rng = np.random.default_rng(seed)
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
def customers() -> pd.DataFrame:
    return planted_customers()


@pytest.fixture(scope="module")
def trained(customers):
    return custseg.segment(customers, k=3, algorithm="kmeans", seed=0)


@pytest.fixture(scope="module")
def model_file(trained, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.skops"
    save_model(trained.model, path)
    return path


# ---------------------------------------------------------------- clustering math


def _not_reported(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def test_r27_fixed_k_above_distinct_customers_is_a_clear_error():
    four = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(40)],
            "x": [1.0, 2.0, 3.0, 4.0] * 10,
            "y": [1.0, 5.0, 2.0, 7.0] * 10,
        }
    )
    with pytest.raises(
        InputError,
        match=r"has 4 distinguishable customers, fewer than k=5\. Pass a smaller k \(at most 4\)",
    ):
        custseg.segment(four, k=5, algorithm="kmeans")


def test_r27_few_distinct_rows_are_stated_and_ties_are_not_a_perfect_fit():
    three = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(60)],
            "spend": [10.0, 50.0, 90.0] * 20,
            "visits": [1.0, 4.0, 9.0] * 20,
        }
    )
    result = custseg.segment(three, algorithm="kmeans", seed=0)
    assert result.metrics["k"] <= 3
    assert any("only 3 distinct rows of values" in n for n in result.metrics["selection_notes"])
    rows = {r["k"]: r for r in result.metrics["leaderboard"]}
    # At k=3 each segment is one repeated row: silhouette 1 and Davies-Bouldin 0 are not shown.
    assert rows[3]["identical_within"] is True
    assert all(_not_reported(rows[3][m]) for m in ("silhouette", "davies_bouldin"))
    assert rows[2]["identical_within"] is False and 0 < rows[2]["silhouette"] < 1


def test_r27_all_categorical_table_is_not_presented_as_a_perfect_fit():
    rng = np.random.default_rng(0)
    n = 150
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "gender": rng.choice(["W", "M"], n),
            "region": rng.choice(["N", "S", "E", "W"], n),
            "channel": rng.choice(["web", "store"], n),
        }
    )
    result = custseg.segment(table, algorithm="hdbscan", seed=0)
    m = result.metrics
    assert all(_not_reported(m[c]) for c in ("silhouette", "davies_bouldin", "calinski_harabasz"))
    assert m["structure"]["kind"] == "ties"
    assert "distinct combinations of values" in m["structure"]["summary"]
    assert "16 distinct rows" in m["structure"]["summary"]


def test_r27_exact_ties_give_no_metrics():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [3.0, 2.0], [3.0, 2.0]])
    labels = np.array([0, 0, 1, 1])
    assert identical_within(X, labels)
    metrics = cluster_metrics(X, labels)
    assert metrics["identical_within"] is True
    assert np.isnan(metrics["silhouette"]) and np.isnan(metrics["calinski_harabasz"])
    spread = cluster_metrics(X + np.array([[0.1, 0], [0, 0], [0, 0], [0, 0.1]]), labels)
    assert spread["identical_within"] is False and spread["silhouette"] > 0.9


def test_r27_more_columns_than_customers_is_stated():
    rng = np.random.default_rng(2)
    wide = pd.DataFrame(rng.normal(size=(30, 40)), columns=[f"m{j}" for j in range(40)])
    wide.insert(0, "id", [f"c{i}" for i in range(30)])
    result = custseg.segment(wide, k=3, algorithm="kmeans", seed=0)
    assert any(
        "40 model inputs for 30 customers" in w and "more columns than customers" in w
        for w in result.metrics["warnings"]
    )


def test_r28_nothing_left_after_cleaning_says_which_step(tmp_path):
    path = tmp_path / "cancelled.csv"
    path.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "C1,A,-1,2021-01-01 10:00,5.0,1\n"
        "C2,A,-2,2021-01-02 10:00,5.0,2\n"
        "C3,B,-2,2021-01-03 10:00,5.0,3\n"
    )
    with pytest.raises(
        InputError,
        match=r"Nothing left after cleaning: all 3 lines were dropped \(cancellation: 3\)",
    ):
        custseg.segment(path, kind="transactions")


def test_r28_one_customer_k_above_n_and_one_distinct_row():
    with pytest.raises(
        InputError, match=r"gives 1 customer\(s\) after cleaning; segmentation needs at least 3"
    ):
        custseg.segment(pd.DataFrame({"id": ["a"], "x": [1.0], "y": [2.0]}))
    five = pd.DataFrame({"id": list("abcde"), "x": [1.0, 2, 3, 4, 5], "y": [2.0, 1, 4, 3, 5]})
    with pytest.raises(InputError, match=r"fewer than k=9\. Pass a smaller k \(at most 5\)"):
        custseg.segment(five, k=9)
    same = pd.DataFrame({"id": [f"c{i}" for i in range(20)], "x": 1.0, "tier": "gold"})
    with pytest.raises(
        InputError,
        match=r"No column is left to build segments on: 'x' constant \(every value is 1\); "
        r"'tier' constant \(every value is gold\)",
    ):
        custseg.segment(same)


def test_r29_nan_or_inf_never_reaches_a_model(trained, customers):
    with pytest.raises(
        InputError, match=r"Feature 'b' has 2 values that are not finite after preprocessing"
    ):
        check_finite(np.array([[1.0, np.nan], [2.0, np.inf], [3.0, 1.0]]), ["a", "b"])
    holes = trained.model.features_for(customers.head(20))[0]
    holes.loc[holes.index[:5], "Age"] = np.nan
    holes.loc[holes.index[5:9], "Channel"] = None
    X = trained.model.model_inputs(holes)
    assert X.shape[0] == 20 and np.isfinite(X).all()  # medians and "missing" filled in


def test_r30_extreme_magnitudes_stay_finite_after_every_transform():
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame(
        {
            "both_signs": rng.normal(size=n),
            "one_huge": rng.normal(size=n),
            "all_huge": rng.uniform(1e307, 1e308, size=n),
            "normal": rng.normal(size=n),
        }
    )
    frame.loc[3, "both_signs"], frame.loc[4, "both_signs"] = 1e308, -1e308
    frame.loc[5, "one_huge"] = 1e300
    pre = build_preprocessor(ColumnPlan(numeric=list(frame.columns), categorical=[]))
    X = pre.fit_transform(frame)  # warnings are errors here: no overflow on the way
    assert np.isfinite(X).all()
    methods = pre.named_transformers_["numeric"]["skew"].methods_.tolist()
    assert methods == ["signed-log1p", "signed-log1p", "log1p", "none"]
    # The order of customers survives: the largest stays the largest, the smallest the smallest.
    assert X[:, 0].argmax() == 3 and X[:, 0].argmin() == 4 and X[:, 1].argmax() == 5
    # New customers with values beyond training are capped, not turned into inf or NaN.
    beyond = frame.head(2).assign(one_huge=[-1e308, 1e308])
    assert np.isfinite(pre.transform(beyond)).all()
    # A customer table with such values is refused by name and row, before any model.
    table = frame[["both_signs", "normal"]].assign(id=[f"c{i}" for i in range(n)])
    with pytest.raises(
        InputError,
        match=r"column 'both_signs' has 2 value\(s\) beyond \+-1e\+30 \(rows 4, 5\), "
        r"e\.g\. 1e\+308\. No amount or count is that large",
    ):
        custseg.segment(table, k=2, algorithm="kmeans")


def test_r31_constant_columns_dropped_with_a_notice():
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(80)],
            "spend": rng.gamma(2, 50, 80),
            "visits": rng.poisson(5, 80).astype(float),
            "country": "UK",
            "flag": 5,
        }
    )
    result = custseg.segment(table, k=3, algorithm="kmeans", seed=0)
    notices = result.metrics["preprocessing"]["notices"]
    assert "column 'country' left out: constant (every value is UK)" in notices
    assert "column 'flag' left out: constant (every value is 5)" in notices
    assert result.model.numeric == ["spend", "visits"] and result.model.categorical == []


def test_r31_wide_table_does_not_flood_warnings():
    # 300 columns: the profile table, built column by column, made pandas warn "highly
    # fragmented" about 200 times. Warnings are errors in the tests: none may escape.
    rng = np.random.default_rng(4)
    wide = pd.DataFrame(rng.normal(size=(40, 300)), columns=[f"m{j}" for j in range(300)])
    wide.insert(0, "id", [f"c{i}" for i in range(40)])
    result = custseg.segment(wide, k=2, algorithm="kmeans", seed=0)
    assert len(result.profiles) == 2 and result.profiles.shape[1] > 300
    # 300 categorical columns are turned into text at once, not one by one.
    cats = pd.DataFrame({f"c{j}": rng.choice(["a", "b", None], 40) for j in range(300)})
    text = categorical_as_text(cats, list(cats.columns))
    assert text.shape == (40, 300) and text.isna().sum().sum() == cats.isna().sum().sum()


def test_r32_skew_and_a_single_huge_customer(customers):
    rng = np.random.default_rng(5)
    n = 200
    table = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "revenue": rng.lognormal(4, 1.5, n),
            "orders": rng.poisson(3, n).astype(float) + 1,
        }
    )
    table.loc[0, "revenue"] = table["revenue"].max() * 1e6  # one giant account
    result = custseg.segment(table, algorithm="kmeans", seed=0)
    skew = result.model.preprocessor.named_transformers_["numeric"]["skew"]
    assert skew.methods_.tolist()[0] == "log1p"
    X = result.model_inputs
    assert np.abs(X).max() <= 4.0  # capped at +-4 standard deviations
    chosen = next(r for r in result.metrics["leaderboard"] if r["recommended"])
    # The giant does not get a segment of its own, and the smallest segment is reported.
    assert chosen["smallest_share"] >= 0.01
    assert result.profiles["n_customers"].min() > 1


def _three_blobs(n: int = 180, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    numbers = rng.normal(size=(n, 2)) * 0.4 + np.array([[0, 0], [3, 0], [0, 3]])[group]
    # A category code column, for k-prototypes (the mixed space); the others get one-hot.
    code = np.where(rng.random(n) < 0.9, group, rng.integers(0, 3, n)).astype(float)
    onehot = np.eye(3)[code.astype(int)]
    return np.hstack([numbers, onehot]), np.hstack([numbers, code[:, None]])


def _fit_family(name: str, X: np.ndarray, X_mixed: np.ndarray) -> object:
    family = get_family(name)
    task = FitTask(
        X=X_mixed if family.space == "mixed" else X,
        ks=[3],
        seed=0,
        params={},
        categorical=(2,) if family.space == "mixed" else (),
    )
    return next(iter(family.model.fit(task).values())).estimator


@pytest.fixture(scope="module")
def family_fits() -> dict[str, tuple[object, np.ndarray]]:
    X, X_mixed = _three_blobs()
    return {
        f.name: (_fit_family(f.name, X, X_mixed), X_mixed if f.space == "mixed" else X)
        for f in REGISTRY
    }


@pytest.mark.parametrize("family", [f.name for f in REGISTRY])
def test_r33_batch_invariance_of_every_family(family, family_fits):
    estimator, X = family_fits[family]
    whole = np.asarray(estimator.predict(X))
    assert len(set(whole.tolist()) - {-1}) >= 2  # k >= 2, or the check says little
    chunks = np.concatenate([estimator.predict(part) for part in np.array_split(X, 7)])
    rows = np.array([estimator.predict(X[i : i + 1])[0] for i in range(len(X))])
    np.testing.assert_array_equal(whole, chunks)
    np.testing.assert_array_equal(whole, rows)


def test_r33_batch_invariance_customer_table_end_to_end(trained, customers):
    model = trained.model
    whole = model.predict(customers)
    assert whole["segment"].nunique() >= 2
    parts = np.array_split(np.arange(len(customers)), 7)
    chunks = pd.concat([model.predict(customers.iloc[p]) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(whole, chunks)
    features = model.features_for(customers)[0]
    rows = [int(model.assign(features.iloc[[i]])[0]) for i in range(len(features))]
    assert rows == whole["segment"].tolist()
    for i in (0, 77, 149):  # whole predictions of one row, read as a table of one customer
        assert model.predict(customers.iloc[[i]])["segment"].iloc[0] == whole["segment"].iloc[i]


def _transactions(n_customers: int = 120, seed: int = 2) -> pd.DataFrame:
    lines, _truth = custseg.datasets.make_transactions(n_customers, n_segments=3, seed=seed)
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["customers", "transactions"])
@pytest.mark.parametrize("family", [f.name for f in REGISTRY])
def test_r33_batch_invariance_every_family_both_kinds(family, kind, tmp_path):
    fixed = None if get_family(family).is_density else 3
    if kind == "customers":
        data = planted_customers(150)
        result = custseg.segment(data, algorithm=family, k=fixed, seed=0)
        key = "ID"
    else:
        data = _transactions()
        result = custseg.segment(
            data, algorithm=family, k=fixed, seed=0, new_customers=False, kind="transactions"
        )
        key = "CustomerID"
    model = result.model
    whole = model.predict(data)
    assert whole["segment"].nunique() >= 2
    ids = data[key].dropna().astype(str).unique()
    groups = np.array_split(ids, 5)
    chunks = pd.concat(
        [model.predict(data[data[key].astype(str).isin(g)]) for g in groups], ignore_index=True
    )
    pd.testing.assert_frame_equal(
        whole.sort_values("customer_id", ignore_index=True),
        chunks.sort_values("customer_id", ignore_index=True),
    )
    features = model.features_for(data)[0]
    rows = [int(model.assign(features.iloc[[i]])[0]) for i in range(len(features))]
    assert rows == model.assign(features).tolist()
    one = data[data[key].astype(str) == ids[7]]
    assert (
        model.predict(one)["segment"].iloc[0]
        == whole.set_index("customer_id").loc[str(ids[7]), "segment"]
    )
    # Item 39 for every family: the saved model scores the same.
    path = tmp_path / "model.skops"
    save_model(model, path)
    pd.testing.assert_frame_equal(load_model(path).predict(data), whole)


def test_r34_unseen_categories_reordered_and_missing_columns(trained, customers):
    model = trained.model
    shuffled = customers[["Channel", "Income", "ID", "Age"]]
    pd.testing.assert_frame_equal(model.predict(shuffled), model.predict(customers))
    odd = customers.head(5).assign(Channel="phone", Extra="ignored")
    scored = model.predict(odd)
    assert len(scored) == 5 and scored["segment"].between(0, 2).all()
    with pytest.raises(
        InputError, match="has no column 'Income', which the model was trained with"
    ):
        model.predict(customers.drop(columns="Income"))


@pytest.mark.parametrize("family", [f.name for f in REGISTRY])
def test_r35_same_labels_whatever_the_thread_count(family):
    from threadpoolctl import threadpool_limits

    X, X_mixed = _three_blobs(seed=1)
    labels = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            estimator = _fit_family(family, X, X_mixed)
            data = X_mixed if get_family(family).space == "mixed" else X
            labels.append(np.asarray(estimator.predict(data)))
    assert len(set(labels[0].tolist()) - {-1}) >= 2
    np.testing.assert_array_equal(labels[0], labels[1])


@pytest.mark.slow
def test_r35_same_segments_csv_with_one_or_two_threads(tmp_path):
    source = tmp_path / "customers.csv"
    planted_customers(300, seed=6).to_csv(source, index=False)
    outputs = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        out = tmp_path / f"out{threads}"
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from custseg.cli import main; sys.exit(main(sys.argv[1:]))",
                "segment",
                str(source),
                "--out",
                str(out),
                "-q",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append((out / "segments.csv").read_bytes())
    assert outputs[0] == outputs[1]


# ---------------------------------------------------------------- persistence


def _rewrite_schema(source: Path, target: Path, edit) -> None:
    """A copy of a skops file with its schema.json edited (a tampered file)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        schema = json.loads(zin.read("schema.json"))
        edit(schema)
        for name in zin.namelist():
            data = json.dumps(schema) if name == "schema.json" else zin.read(name)
            zout.writestr(name, data)


def test_r36_pickle_and_tampered_files_are_refused(model_file, tmp_path):
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelFileError, match=r"'.*model\.pkl' is a pickle file; custseg refuses"):
        load_model(pkl)
    system = {
        "__class__": "system",
        "__module__": "os",
        "__loader__": "FunctionNode",
        "__id__": 99991,
        "content": {"module_path": "os", "function": "system"},
    }
    crafted = tmp_path / "crafted.skops"
    _rewrite_schema(model_file, crafted, lambda s: s["content"]["content"].update(actions=system))
    with pytest.raises(
        ModelFileError,
        match=r"holds types custseg does not trust \(os\.system\).*nothing in it was loaded",
    ):
        load_model(crafted)
    # A node skops cannot even list (no class name): the message names the module, not
    # "(KeyError)".
    broken = tmp_path / "broken.skops"
    odd = {"__module__": "os", "__loader__": "ObjectNode", "__id__": 99992}
    _rewrite_schema(model_file, broken, lambda s: s["content"]["content"].update(actions=odd))
    with pytest.raises(ModelFileError) as caught:
        load_model(broken)
    message = str(caught.value)
    assert "malformed and names os, which custseg never loads" in message
    assert "KeyError" not in message and "run custseg segment again" in message


def test_r37_corrupt_or_non_model_files(model_file, tmp_path, run_cli, customers):
    noise = tmp_path / "noise.skops"
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(ModelFileError, match=r"noise\.skops' is not a custseg model file\. Pass"):
        load_model(noise)
    truncated = tmp_path / "truncated.skops"
    data = model_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ModelFileError, match=r"truncated\.skops' is a damaged model file: the archive is cut short"
    ):
        load_model(truncated)
    other = tmp_path / "other.skops"
    import skops.io as sio

    sio.dump({"weights": [1, 2, 3]}, other)
    with pytest.raises(ModelFileError, match=r"is a skops file but not a custseg model"):
        load_model(other)
    # On the command line: one error line, exit 2, no output.
    table = tmp_path / "new.csv"
    customers.head(10).to_csv(table, index=False)
    code, out, err = run_cli("predict", truncated, table, "--out", tmp_path / "scored.csv")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "damaged model file" in err and not (tmp_path / "scored.csv").exists()


def test_r38_model_from_other_versions_warns_naming_both(trained, tmp_path):
    import sklearn

    from custseg.versions import library_versions

    old = trained.model
    saved = {
        **old.settings,
        "versions": {**library_versions(), "custseg": "0.0.1", "scikit-learn": "1.0.2"},
    }
    model = type(old)(**{**old.__dict__, "settings": saved})
    path = tmp_path / "old.skops"
    save_model(model, path)
    with pytest.warns(CustsegWarning) as caught:
        load_model(path)
    messages = [str(w.message) for w in caught]
    assert any(
        "saved with custseg 0.0.1 and is loaded with " + library_versions()["custseg"] in m
        for m in messages
    )
    assert any(
        f"saved with scikit-learn 1.0.2 and is loaded with {sklearn.__version__}" in m
        and "Refit the model" in m
        for m in messages
    )


def test_r39_save_load_round_trip_gives_identical_predictions(trained, model_file, customers):
    loaded = load_model(model_file)
    pd.testing.assert_frame_equal(loaded.predict(customers), trained.model.predict(customers))
    pd.testing.assert_frame_equal(loaded.predict(customers), trained.segments)


# ---------------------------------------------------------------- interrupted runs


def test_r50_interrupt_inside_a_query_is_an_interrupt(monkeypatch, run_cli, customers, tmp_path):
    # DuckDB turns Ctrl-C during a query into RuntimeError("Query interrupted"); Typer
    # turns a KeyboardInterrupt into a silent exit 130; a reader may wrap DuckDB's error in
    # its own. All are "interrupted".
    source = tmp_path / "customers.csv"
    customers.to_csv(source, index=False)

    def unreadable() -> InputError:  # a reader's "cannot read" made from DuckDB's interrupt
        try:
            raise RuntimeError("Query interrupted")
        except RuntimeError:
            try:
                raise InputError("File 'x.csv' could not be read: INTERRUPT") from None
            except InputError as exc:
                return exc

    for raised in (RuntimeError("Query interrupted"), KeyboardInterrupt(), unreadable()):

        def stopped(*args, exc=raised, **kwargs):
            raise exc

        monkeypatch.setattr(custseg, "segment", stopped)
        code, out, err = run_cli("segment", source, "--out", tmp_path / "out")
        assert (code, err) == (130, INTERRUPTED + "\n")
        assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv"]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_r50_next_save_removes_temp_folders_of_killed_runs(trained, tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".out.tmp-{dead}-k1ll3d"
    stale.mkdir()
    (stale / "segments.csv").write_text("customer_id,segment\n")
    swapped = tmp_path / f".out.old-{dead}"
    swapped.mkdir()
    running = tmp_path / f".out.tmp-{os.getpid()}-busy"  # a run that is still going
    running.mkdir()
    other = tmp_path / f".report.tmp-{dead}-x"  # another target's: not ours to remove
    other.mkdir()
    trained.save(tmp_path / "out")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["out", running.name, other.name])
    assert (tmp_path / "out" / "model.skops").exists()
    assert remove_stale_temp_folders(tmp_path / "out") == []


def test_r50_audience_and_migration_folders_clean_up_after_killed_runs(tmp_path):
    # custseg export --audiences and custseg compare write through write_folder_atomically:
    # the same pid-named temporary folders, and the same clean-up of a killed run's.
    from custseg.export import write_folder_atomically

    dead = _dead_pid()
    stale = tmp_path / f".aud.tmp-{dead}-k1ll3d"
    stale.mkdir()
    seen: list[str] = []

    def write(folder):
        seen.append(folder.name)
        (folder / "segment-0.csv").write_text("Customer ID\n1\n")

    write_folder_atomically(tmp_path / "aud", write)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aud"]
    assert seen[0].startswith(f".aud.tmp-{os.getpid()}-")
    assert (tmp_path / "aud" / "segment-0.csv").exists()


# A `custseg segment` process whose stages announce themselves on stderr ("@stage NAME"),
# so that the test can signal it while that stage runs. Only the announcements are added:
# the command, its signals and its clean-up are the real ones.
RUNNER = textwrap.dedent(
    """
    import signal, sys
    stage, argv = sys.argv[1], sys.argv[2:]
    # As at a terminal, whatever the test runner was started under (a background job
    # inherits Ctrl-C ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def announce():
        sys.stderr.write(f"@stage {stage}\\n")
        sys.stderr.flush()

    if stage == "read":
        import custseg.engines.duckdb as engine
        plain = engine.DuckDBEngine.sql
        def sql(self, query, *a, **k):
            if query.lstrip().startswith("CREATE TABLE raw"):
                announce()
            return plain(self, query, *a, **k)
        engine.DuckDBEngine.sql = sql
    elif stage == "model":
        import custseg.models.select as select
        plain_select = select.select_model
        def select_model(*a, **k):
            announce()
            return plain_select(*a, **k)
        select.select_model = select_model
    else:  # "write": inside save, the temporary folder half written; wait for the signal
        import custseg.persist as persist
        plain_save = persist.save_model
        def save_model(*a, **k):
            plain_save(*a, **k)
            announce()
            sys.stdin.readline()
        persist.save_model = save_model
    from custseg.cli import main
    sys.exit(main(argv))
    """
)


def _start(stage: str, argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, stage, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_stage(proc: subprocess.Popen[str], stage: str) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.strip() == f"@stage {stage}":
            return
    raise AssertionError(f"the run ended before the {stage} stage (exit {proc.wait()})")


@pytest.fixture(scope="module")
def large_lines(tmp_path_factory) -> Path:
    """About 300,000 invoice lines (13 MB): DuckDB takes about a second to read them."""
    rng = np.random.default_rng(0)
    n = 300_000
    days = np.datetime64("2011-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "InvoiceNo": rng.integers(1, 60_000, n),
            "StockCode": [f"P{c}" for c in rng.integers(0, 500, n)],
            "Quantity": rng.integers(1, 10, n),
            "InvoiceDate": pd.to_datetime(days).strftime("%Y-%m-%d 10:00"),
            "UnitPrice": (rng.integers(50, 2_000, n) / 100).round(2),
            "CustomerID": rng.integers(1, 3_000, n),
        }
    )
    path = tmp_path_factory.mktemp("large") / "lines.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["read", "model", "write"])
def test_r50_sigint_at_each_stage_exits_130_and_leaves_nothing(stage, large_lines, tmp_path):
    if stage == "read":
        source = large_lines
    else:
        source = tmp_path / "customers.csv"
        planted_customers(600 if stage == "model" else 150).to_csv(source, index=False)
    out = tmp_path / "out"
    extra = ["--k", "3", "--algorithm", "kmeans"] if stage == "write" else []
    proc = _start(stage, ["segment", str(source), "--out", str(out), *extra])
    _wait_for_stage(proc, stage)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]


@pytest.mark.slow
def test_r50_sigkill_while_writing_leaves_nothing_complete_and_next_run_cleans(trained, tmp_path):
    source = tmp_path / "customers.csv"
    planted_customers(150).to_csv(source, index=False)
    out = tmp_path / "out"
    proc = _start(
        "write", ["segment", str(source), "--out", str(out), "--k", "3", "--algorithm", "kmeans"]
    )
    _wait_for_stage(proc, "write")
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # nothing that looks complete
    (leftover,) = [p for p in tmp_path.iterdir() if p.name.startswith(f".out.tmp-{proc.pid}-")]
    assert (leftover / "model.skops").exists() and not (leftover / "metrics.json").exists()
    trained.save(out)  # the next run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv", "out"]
