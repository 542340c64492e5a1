"""Clustering estimators (scikit-learn compatible), the choice of k, and the choice between
families (:func:`custseg.models.select.select_model`).

The estimators are loaded on first use (they import scikit-learn), so that importing a light
module of this package, such as :mod:`custseg.models.families`, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_ESTIMATORS = {
    "AutoKMeans": "custseg.models.kmeans",
    "DBSCANClustering": "custseg.models.density",
    "HDBSCANClustering": "custseg.models.density",
    "HierarchicalClustering": "custseg.models.hierarchical",
    "KPrototypesClustering": "custseg.models.kprototypes",
}

__all__ = sorted(_ESTIMATORS)


def __getattr__(name: str) -> Any:
    if name in _ESTIMATORS:
        return getattr(import_module(_ESTIMATORS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
