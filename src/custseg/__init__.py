"""custseg: customer segmentation from a customer table or raw invoice lines.

Examples
--------
>>> import custseg
>>> result = custseg.segment("orders.csv")  # doctest: +SKIP
>>> result.save("out/")  # doctest: +SKIP
>>> custseg.load_model("out/model.skops").predict("new_orders.csv")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import metadata

from custseg import datasets
from custseg.errors import CustsegError, CustsegWarning, InputError, ModelFileError
from custseg.model import SegmentModel
from custseg.persist import load_model, save_model
from custseg.pipeline import build_features, segment
from custseg.result import SegmentationResult, load_result

try:
    __version__ = metadata.version("custseg")
except metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "CustsegError",
    "CustsegWarning",
    "InputError",
    "ModelFileError",
    "SegmentModel",
    "SegmentationResult",
    "__version__",
    "build_features",
    "datasets",
    "load_model",
    "load_result",
    "save_model",
    "segment",
]
