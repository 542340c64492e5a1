"""custseg: customer segmentation from a customer table or raw invoice lines.

The public names are imported on first use (module ``__getattr__``), so that ``import custseg``
and the command line start without loading pandas, scikit-learn or DuckDB.

Examples
--------
>>> import custseg
>>> result = custseg.segment("orders.csv")  # doctest: +SKIP
>>> result.save("out/")  # doctest: +SKIP
>>> custseg.load_model("out/model.skops").predict("new_orders.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from custseg.errors import CustsegError, CustsegWarning, InputError, ModelFileError

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from custseg import datasets, drift
    from custseg.migration import compare_runs
    from custseg.model import SegmentModel
    from custseg.persist import load_model, save_model
    from custseg.pipeline import build_features, segment
    from custseg.result import SegmentationResult, load_result

    __version__: str

#: Public name -> module that defines it; imported on first access.
_LAZY = {
    "SegmentModel": "custseg.model",
    "SegmentationResult": "custseg.result",
    "build_features": "custseg.pipeline",
    "compare_runs": "custseg.migration",
    "datasets": "custseg.datasets",
    "drift": "custseg.drift",
    "load_model": "custseg.persist",
    "load_result": "custseg.result",
    "save_model": "custseg.persist",
    "segment": "custseg.pipeline",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from custseg.versions import package_version  # about 50 ms: read only when asked for

        globals()[name] = version = package_version()
        return version
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'custseg' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"custseg.{name}" else getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})


__all__ = [
    "CustsegError",
    "CustsegWarning",
    "InputError",
    "ModelFileError",
    "SegmentModel",
    "SegmentationResult",
    "__version__",
    "build_features",
    "compare_runs",
    "datasets",
    "drift",
    "load_model",
    "load_result",
    "save_model",
    "segment",
]
