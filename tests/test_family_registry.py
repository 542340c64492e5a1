"""A clustering family is one module plus one entry in the registry (issue 15).

A toy family (bands of the first feature), defined here as a module of its own and added to
``custseg.models.families.REGISTRY`` with ``monkeypatch``, is fitted and reported by
selection, named by the report and the command line, and trusted by the model loader,
without any other file knowing it."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import numpy as np
import pytest

from custseg.errors import InputError
from custseg.models import families
from custseg.models.families import Family, FamilyModel, FitTask, Fitted
from custseg.models.select import select_model


class Bands:
    """Segment ``i`` holds the customers whose first feature is in the i-th band."""

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = edges

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.edges, X[:, 0], side="right").astype(np.int64)


class BandsFamily(FamilyModel):
    def fit(self, task: FitTask) -> dict[int, Fitted]:
        width = task.params.get("band_width")
        out = {}
        for k in task.ks:
            lo, hi = task.X[:, 0].min(), task.X[:, 0].max()
            step = width if width is not None else (hi - lo) / k
            est = Bands(lo + step * np.arange(1, k))
            out[k] = Fitted(est, est.predict(task.X))
        return out

    def parameters(self, estimator: Any) -> dict[str, Any]:
        return {"bands": len(estimator.edges) + 1}


TOY = Family(
    "bands",
    "equal bands",
    "bands",
    "equal bands: customers cut into bands of the first feature",
    "Equal bands look at the first feature only.",
    "custseg_toy_family:MODEL",
    params=("band_width",),
    estimators=("custseg_toy_family.Bands",),
)


@pytest.fixture
def toy_registered(monkeypatch):
    module = types.ModuleType("custseg_toy_family")
    module.Bands = Bands  # type: ignore[attr-defined]
    module.MODEL = BandsFamily()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "custseg_toy_family", module)
    monkeypatch.setattr(families, "REGISTRY", (*families.REGISTRY, TOY))


def two_groups() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(0, 0.3, (60, 2)), rng.normal(4, 0.3, (60, 2))]


def test_a_registered_family_is_selected_and_reported_by_name(toy_registered):
    sel = select_model(two_groups(), algorithm="bands", seed=0)
    assert sel.algorithm == "bands"
    assert {row["algorithm"] for row in sel.leaderboard} == {"bands"}
    assert sel.k == 2
    assert sel.reason.startswith("equal bands with 2 segments")
    assert sel.chosen_row["parameters"] == {"bands": 2}
    assert sel.chosen_row["stability_repeats"] > 0


def test_a_registered_family_takes_its_parameters(toy_registered):
    # Bands 100 wide put everyone in one band: the parameter reached the family's fit.
    with pytest.raises(InputError, match=r"^equal bands found no segmentation: found a single"):
        select_model(two_groups(), algorithm="bands", k=2, params={"band_width": 100.0})
    with pytest.raises(InputError, match=r"Parameter 'band_width' does not apply to kmeans"):
        select_model(two_groups(), algorithm="kmeans", params={"band_width": 1.0})


def test_the_report_cli_and_loader_read_the_registry(toy_registered):
    from custseg.cli.segment import short_label
    from custseg.persist import trusted_types
    from custseg.report.summary import family_label

    assert families.ALGORITHMS[-1] == "bands"
    assert family_label("bands") == "equal bands"
    assert short_label("bands") == "bands"
    assert "custseg_toy_family.Bands" in trusted_types()


def test_unknown_family_lists_the_registered_ones(toy_registered):
    with pytest.raises(InputError, match=r"Choose one of: auto, kmeans, .*, dbscan, bands\."):
        select_model(two_groups(), algorithm="band")


def test_every_registered_family_points_at_its_model():
    for family in families.families():
        assert isinstance(family.model, FamilyModel), family.name
    assert families.get_family("kprototypes").space == "mixed"
    with pytest.raises(KeyError, match=r"No clustering family 'nope'; registered: kmeans, gmm"):
        families.get_family("nope")


def test_the_registry_loads_nothing_heavy():
    code = (
        "import sys, custseg.models.families as f\n"
        "assert f.ALGORITHMS[0] == 'auto' and f.family_names()\n"
        "print([m for m in ('numpy', 'sklearn', 'scipy') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
