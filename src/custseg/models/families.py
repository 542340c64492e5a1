"""The clustering families custseg compares: names, labels and parameters.

This module imports nothing heavy, so that options can be checked before scikit-learn is
loaded (:func:`custseg.segment` loads it while DuckDB reads the file).
"""

from __future__ import annotations

#: The families custseg compares, in the order preferred when they tie (simplest to explain
#: and to score first), with a plain description for the report.
FAMILIES: dict[str, str] = {
    "kmeans": "k-means: each segment is the customers nearest one centre (round, similar-sized groups)",
    "gmm": "Gaussian mixture: segments are overlapping bell-shaped clouds of any orientation; each customer gets a membership probability",
    "hierarchical": "hierarchical (agglomerative): customers are merged step by step into a tree, which is cut into segments",
    "kprototypes": "k-prototypes: k-means for tables that mix numbers and categories (categories compared as categories)",
    "hdbscan": "HDBSCAN: segments are dense regions of any shape and density; customers in sparse regions are noise",
    "dbscan": "DBSCAN: segments are dense regions of any shape at one density; customers in sparse regions are noise",
}
FAMILY_LABELS: dict[str, str] = {
    "kmeans": "k-means",
    "gmm": "Gaussian mixture",
    "hierarchical": "hierarchical",
    "kprototypes": "k-prototypes",
    "hdbscan": "HDBSCAN",
    "dbscan": "DBSCAN",
}
ALGORITHMS = ("auto", *FAMILIES)
DENSITY_FAMILIES = ("dbscan", "hdbscan")

#: Parameters each family accepts (command line ``--linkage`` etc., API ``params=``).
FAMILY_PARAMS: dict[str, tuple[str, ...]] = {
    "kmeans": (),
    "gmm": ("covariance_type",),
    "hierarchical": ("linkage",),
    "kprototypes": ("gamma",),
    "hdbscan": ("min_cluster_size", "min_samples"),
    "dbscan": ("eps", "min_samples"),
}
