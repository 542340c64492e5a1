"""Clustering estimators (scikit-learn compatible) and the choice of the number of segments."""

from custseg.models.kmeans import AutoKMeans

__all__ = ["AutoKMeans"]
