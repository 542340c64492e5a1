"""Bundled demo data and a synthetic generator of transactions with planted segments."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from custseg.datasets.synthetic import PLANTED_SEGMENTS, make_transactions

DEMO_FILE = "online_retail_sample.csv.gz"
DEMO_ATTRIBUTION = (
    "Demo data: a slice of 'Online Retail' by Daqing Chen, Sai Liang Sain and Kun Guo (2012), "
    "UCI Machine Learning Repository, doi:10.24432/C5BW33, licensed CC BY 4.0."
)


def demo_path() -> Path:
    """Path of the bundled demo file (invoice lines of 800 UCI Online Retail customers).

    Examples
    --------
    >>> demo_path().name
    'online_retail_sample.csv.gz'
    """
    return Path(str(resources.files("custseg.datasets") / "data" / DEMO_FILE))


__all__ = ["DEMO_ATTRIBUTION", "PLANTED_SEGMENTS", "demo_path", "make_transactions"]
