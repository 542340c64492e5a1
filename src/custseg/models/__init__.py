"""Clustering estimators (scikit-learn compatible), the choice of k, and the choice between
families (:func:`custseg.models.select.select_model`)."""

from custseg.models.density import DBSCANClustering, HDBSCANClustering
from custseg.models.hierarchical import HierarchicalClustering
from custseg.models.kmeans import AutoKMeans
from custseg.models.kprototypes import KPrototypesClustering

__all__ = [
    "AutoKMeans",
    "DBSCANClustering",
    "HDBSCANClustering",
    "HierarchicalClustering",
    "KPrototypesClustering",
]
