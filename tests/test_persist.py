"""Model files: skops only, explicit trusted types, round trips give identical predictions."""

from __future__ import annotations

import copy
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

import custseg
from custseg.errors import CustsegWarning, ModelFileError


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    group = rng.integers(0, 3, n)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "income": rng.normal(30 + 30 * group, 5),
            "spend": rng.normal(80 - 25 * group, 6),
            "region": np.where(group == 0, "north", np.where(group == 1, "south", "east")),
        }
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory, customers):
    out = tmp_path_factory.mktemp("model") / "out"
    result = custseg.segment(customers, seed=0)
    result.save(out)
    return result, out / "model.skops"


def with_settings(model: custseg.SegmentModel, **settings: object) -> custseg.SegmentModel:
    """A copy of a model with some settings replaced."""
    changed = copy.copy(model)
    changed.settings = {**model.settings, **settings}
    return changed


def test_round_trip_gives_identical_predictions(saved, customers):
    result, path = saved
    model = custseg.load_model(path)
    again = model.predict(customers)
    pd.testing.assert_frame_equal(again, result.segments)


def test_pickle_is_refused(tmp_path, saved):
    result, _ = saved
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelFileError, match="pickle file; custseg refuses pickles"):
        custseg.load_model(path)


def test_random_bytes_are_not_a_model(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"hello, not a model")
    with pytest.raises(ModelFileError, match="not a custseg model file"):
        custseg.load_model(path)


def test_other_zip_is_not_a_model(tmp_path):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="not a custseg model file"):
        custseg.load_model(path)


def test_untrusted_types_are_refused(tmp_path, saved):
    from fractions import Fraction

    result, _ = saved
    tampered = with_settings(result.model, x=Fraction(1, 3))
    path = tmp_path / "model.skops"
    sio.dump(tampered, path)
    with pytest.raises(ModelFileError, match="does not trust .*fractions.Fraction"):
        custseg.load_model(path)


def test_other_skops_object_is_not_a_model(tmp_path):
    path = tmp_path / "model.skops"
    sio.dump({"a": 1}, path)
    with pytest.raises(ModelFileError, match="not a custseg model"):
        custseg.load_model(path)


def test_version_mismatch_warns(tmp_path, saved):
    result, _ = saved
    versions = {**result.model.settings["versions"], "scikit-learn": "0.1.0"}
    model_old = with_settings(result.model, versions=versions)
    path = tmp_path / "model.skops"
    custseg.save_model(model_old, path)
    with pytest.warns(CustsegWarning, match=r"saved with scikit-learn 0\.1\.0"):
        custseg.load_model(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        custseg.load_model(tmp_path / "nope.skops")


def test_model_file_does_not_grow_with_the_customers(tmp_path, customers):
    from custseg.persist import save_model

    many = pd.concat(
        [customers.assign(customer_id=customers["customer_id"] + f"-{i}") for i in range(10)],
        ignore_index=True,
    )
    sizes = []
    for table in (customers, many):
        result = custseg.segment(table, algorithm="kmeans", k=3, seed=0)
        path = tmp_path / f"{len(table)}.skops"
        save_model(result.model, path)
        sizes.append(path.stat().st_size)
        loaded = custseg.load_model(path)
        assert not hasattr(loaded.estimator, "labels_")
        assert len(result.model.estimator.labels_) == len(table)  # the fitted model keeps them
        pd.testing.assert_frame_equal(loaded.predict(table), result.segments)
    # 3,000 labels would add 12 kB; what is left grows with nothing but digits.
    assert abs(sizes[1] - sizes[0]) < 2_000, sizes
