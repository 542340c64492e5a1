"""Saving and loading models with skops, trusting only an explicit list of types.

A pickle can run any code when it is loaded, so custseg never writes or reads one. skops
stores the model as data and refuses, when loading, any type that is not on
:func:`trusted_types` or scikit-learn's own safe list.
"""

from __future__ import annotations

import copy
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

from custseg.errors import CustsegWarning, ModelFileError
from custseg.model import SegmentModel

#: Types a custseg model file may contain beyond skops' default trusted set, besides the
#: clustering families' estimators (each family's ``estimators`` in
#: :data:`custseg.models.families.REGISTRY`; see :func:`trusted_types`).
TRUSTED_TYPES: tuple[str, ...] = (
    "custseg.model.SegmentModel",
    "custseg.preprocess.SkewTransformer",
    "custseg.preprocess.OutlierClipper",
    # Data types of arrays and of the one-hot encoder's output; no code runs when they load.
    "numpy.dtype",
    # The new-customer models (invoice lines): a dataclass of plain data and scikit-learn
    # pipelines; the boosted trees' predictor holds arrays only.
    "custseg.newcustomers.models.NewCustomerModels",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # Boosted trees with categorical inputs keep partial(check_array) in their fitted
    # preprocessing; skops checks the wrapped function on its own (check_array is trusted
    # here, anything else in a partial is still refused).
    "functools.partial",
    "sklearn.utils.validation.check_array",
)


def trusted_types() -> tuple[str, ...]:
    """Every type a custseg model file may contain beyond skops' default trusted set: the
    registered families' estimators and :data:`TRUSTED_TYPES`.

    Examples
    --------
    >>> "custseg.models.density.DBSCANClustering" in trusted_types()
    True
    """
    from custseg.models.families import families

    return (*TRUSTED_TYPES, *(name for family in families() for name in family.estimators))


PICKLE_MAGIC = (b"\x80", b"(", b"c", b"}", b"]")
ZIP_MAGIC = b"PK\x03\x04"
"""A skops file is a zip archive; a file that starts like one but is not a valid archive was
cut short or corrupted."""
REWRITE_HINT = (
    "Pass the model.skops written by custseg segment, or run custseg segment again to write a "
    "new one."
)
SAFE_MODULE_ROOTS = ("builtins", "collections", "custseg", "functools", "numpy", "scipy", "sklearn")
"""Used only to word the error on a file skops cannot list: the types it names outside these
packages (``os.system``) are shown. Loading trusts :func:`trusted_types` alone."""
PER_CUSTOMER_ATTRIBUTES = ("labels_",)
"""Fitted attributes with one entry per customer segmented, left out of the model file: no
``predict`` reads them (results carry the labels), and they would make the file grow with
the customers (4 MB at 1M customers for k-means' ``labels_``, against 0.2 MB for the rest)."""


def _without_per_customer_arrays(estimator: Any) -> Any:
    """A shallow copy of ``estimator`` (and of the estimators it holds, e.g. ``kmeans_``)
    without :data:`PER_CUSTOMER_ATTRIBUTES`; the estimator itself is left as it is."""
    if not hasattr(estimator, "__dict__"):
        return estimator
    nested = {
        name: value
        for name, value in vars(estimator).items()
        if name.endswith("_") and hasattr(value, "predict") and hasattr(value, "__dict__")
    }
    if not nested and not any(hasattr(estimator, a) for a in PER_CUSTOMER_ATTRIBUTES):
        return estimator
    slim = copy.copy(estimator)
    for attr in PER_CUSTOMER_ATTRIBUTES:
        if attr in vars(slim):
            delattr(slim, attr)
    for name, value in nested.items():
        setattr(slim, name, _without_per_customer_arrays(value))
    return slim


def save_model(model: SegmentModel, path: str | Path) -> None:
    """Write ``model`` to ``path`` with skops (atomically: temporary name, then rename).

    Per-customer fitted arrays (:data:`PER_CUSTOMER_ATTRIBUTES`) are left out, so the file's
    size does not grow with the number of customers.

    Examples
    --------
    >>> save_model(result.model, "out/model.skops")  # doctest: +SKIP
    """
    import skops.io as sio

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    slim = copy.copy(model)
    slim.estimator = _without_per_customer_arrays(model.estimator)
    try:
        sio.dump(slim, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_model(path: str | Path) -> SegmentModel:
    """Load a model saved by custseg, refusing pickles and unknown types.

    Parameters
    ----------
    path : str or Path
        A ``model.skops`` file written by ``custseg segment``.

    Returns
    -------
    SegmentModel

    Raises
    ------
    ModelFileError
        If the file is missing, a pickle, not a custseg model, or holds untrusted types.

    Examples
    --------
    >>> model = custseg.load_model("out/model.skops")  # doctest: +SKIP
    >>> model.predict("new_customers.csv")  # doctest: +SKIP
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"Model file '{path}' does not exist. Pass the model.skops written by custseg segment."
        )
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not zipfile.is_zipfile(path):
        if head[:1] in PICKLE_MAGIC:
            raise ModelFileError(
                f"'{path}' is a pickle file; custseg refuses pickles because loading one can run "
                "arbitrary code. Save the model again with custseg segment (it writes .skops)."
            )
        if head == ZIP_MAGIC:
            raise ModelFileError(
                f"'{path}' is a damaged model file: the archive is cut short or corrupted (an "
                f"incomplete copy or download?). {REWRITE_HINT}"
            )
        raise ModelFileError(f"'{path}' is not a custseg model file. {REWRITE_HINT}")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception:  # skops raises KeyError, TypeError, ... for a malformed list of types
        named = _foreign_names(path)
        raise ModelFileError(
            f"'{path}' is not a custseg model file: its list of contents is malformed"
            + (f" and names {', '.join(named[:3])}, which custseg never loads" if named else "")
            + f"; it was damaged or altered, and nothing in it was loaded. {REWRITE_HINT}"
        ) from None
    unknown = sorted(set(untrusted) - set(trusted_types()))
    if unknown:
        raise ModelFileError(
            f"'{path}' holds types custseg does not trust ({', '.join(unknown[:3])}); it was "
            "not written by custseg or was altered, and nothing in it was loaded. Refit the "
            "model with custseg segment."
        )
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(
            f"'{path}' is a damaged model file and cannot be loaded "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}). {REWRITE_HINT}"
        ) from None
    if not isinstance(model, SegmentModel):
        raise ModelFileError(f"'{path}' is a skops file but not a custseg model.")
    _check_versions(model, path)
    return model


def _foreign_names(path: Path) -> list[str]:
    """The ``module.name`` types a skops file's schema names outside
    :data:`SAFE_MODULE_ROOTS` (read as JSON, nothing loaded); empty when it cannot be read."""
    import json

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except Exception:
        return []
    found: set[str] = set()
    todo: list[Any] = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            module = node.get("__module__")
            if isinstance(module, str) and module.split(".")[0] not in SAFE_MODULE_ROOTS:
                cls = node.get("__class__")
                found.add(f"{module}.{cls}" if isinstance(cls, str) else module)
            content = node.get("content")
            if isinstance(content, dict) and isinstance(content.get("module_path"), str):
                root = content["module_path"].split(".")[0]
                if root not in SAFE_MODULE_ROOTS:
                    function = content.get("function")
                    found.add(".".join(str(p) for p in (content["module_path"], function) if p))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return sorted(found)


def _check_versions(model: SegmentModel, path: Path) -> None:
    from custseg.versions import library_versions

    saved = model.settings.get("versions", {})
    now = library_versions()
    for lib in ("custseg", "scikit-learn"):
        if saved.get(lib) and saved.get(lib) != now.get(lib):
            warnings.warn(
                f"'{path}' was saved with {lib} {saved[lib]} and is loaded with {now[lib]}; "
                "scores may differ. Refit the model to be sure.",
                CustsegWarning,
                stacklevel=3,
            )
