"""The clustering families custseg compares: one :class:`Family` each, in one registry.

A family is described once, here, by a :class:`Family` entry of :data:`REGISTRY`: its name,
its labels and the words the report uses for it, the parameters it takes, whether it finds its
own number of segments, the estimator types a model file may hold for it, and where its code
lives. The code (fitting, the parameters shown, the few choices of its own) is an object of
the family's module (a :class:`FamilyModel`), imported when a family is first fitted.
Selection (:mod:`custseg.models.select`), the report, the command line and
:mod:`custseg.persist` read the registry; none of them names a family.

Adding a family: write its module (a scikit-learn compatible estimator and a
:class:`FamilyModel` whose ``fit`` returns the fitted candidates) and add one :class:`Family`
line to :data:`REGISTRY` (tests may extend it with ``monkeypatch.setattr``).

This module imports nothing heavy (not even numpy), so that options can be checked before
scikit-learn is loaded (:func:`custseg.segment` loads it while DuckDB reads the file).

Examples
--------
>>> get_family("gmm").label, get_family("dbscan").is_density
('Gaussian mixture', True)
>>> family_names()
('kmeans', 'gmm', 'hierarchical', 'kprototypes', 'hdbscan', 'dbscan')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Fitted:
    """One fitted candidate: the estimator and its labels on every customer (``-1``: noise)."""

    estimator: Any
    labels: np.ndarray


@dataclass
class FitTask:
    """What a family's :meth:`FamilyModel.fit` gets.

    Attributes
    ----------
    X : ndarray
        The customers to fit, in the family's space (:attr:`Family.space`).
    ks : list of int
        Numbers of segments to fit (a density family, which finds its own, ignores them).
    seed : int
        Seed of the fit.
    params : dict
        The family's parameters given by the user (names from :attr:`Family.params`).
    categorical : tuple of int
        Columns of ``X`` that hold category codes (``space="mixed"``).
    n_init : int or None
        Restarts asked for (stability refits ask for fewer); None: the family's own number.
    rows : ndarray or None
        The subsample a stability refit runs on (``X`` holds these rows already); None for
        the fit on every customer.
    cache : dict
        Kept between the fits of this family in one selection (e.g. merge trees of the
        stability subsamples, cut again at another k).
    """

    X: np.ndarray
    ks: list[int]
    seed: int
    params: dict[str, Any]
    categorical: tuple[int, ...] = ()
    n_init: int | None = None
    rows: np.ndarray | None = None
    cache: dict[Any, Any] = field(default_factory=dict)


class FamilyModel:
    """How a family is fitted and compared; each family's module holds one.

    Only :meth:`fit` must be written; the rest has defaults that suit most families.

    Examples
    --------
    >>> class Everyone(FamilyModel):  # one segment per k, for illustration
    ...     def fit(self, task):
    ...         return {}
    >>> Everyone().max_fit is None
    True
    """

    max_fit: int | None = None
    """Customers the family is fitted on at most (the rest are assigned by its rule)."""
    choose_k_by: Literal["criteria", "bic"] = "criteria"
    """How the family picks its k: the k rule over four criteria, or the lowest BIC."""
    cost_label: str = "WCSS"
    """The name of the cost curve the k rule reads (the family's objective)."""

    def fit(self, task: FitTask) -> dict[int, Fitted]:
        """The fitted candidates by k (a density family: one, under the k it found)."""
        raise NotImplementedError

    def parameters(self, estimator: Any) -> dict[str, Any]:
        """The fitted estimator's parameters for the leaderboard."""
        return {}

    def bic(self, estimator: Any, X: np.ndarray) -> float | None:
        """The Bayesian information criterion of the fit, where the family has one."""
        return None

    def notes(self, params: Mapping[str, Any], n_features: int) -> list[str]:
        """Notes for the selection about how the family will be fitted."""
        return []

    def warnings(self, row: Mapping[str, Any]) -> list[str]:
        """Warnings when the family's leaderboard ``row`` is the one recommended."""
        return []

    def no_segments_hint(self, all_noise: bool) -> str:
        """What to try when the family found no segmentation."""
        return "Pass a smaller --min-cluster-size or --min-samples, or use --algorithm kmeans."

    def assign_everyone(
        self, estimator: Any, X: np.ndarray, k: int, seed: int
    ) -> tuple[Any, np.ndarray, str]:
        """The model chosen on a sample applied to every customer ``X``: the estimator, the
        labels, and a note on how (appended to the sampling note)."""
        import numpy as np

        return estimator, np.asarray(estimator.predict(X), dtype=np.int64), ""

    def refit(self, estimator: Any, seed: int, n_init: int) -> Any:
        """An unfitted copy of ``estimator`` for a fit on another sample with ``seed``."""
        from sklearn.base import clone

        again = clone(estimator)
        if hasattr(again, "random_state"):
            again.set_params(random_state=seed)
        return again


@dataclass(frozen=True)
class Family:
    """One clustering family: everything custseg says about it, and where its code lives.

    Attributes
    ----------
    name : str
        The value of ``algorithm=`` and ``--algorithm`` (and of ``metrics.json``).
    label : str
        Its readable name ("Gaussian mixture").
    short_label : str
        Its name in the command line's candidate table ("GMM").
    description : str
        One line for choosers (the app): what a segment is for this family.
    assumption : str
        What it assumes, for the report's limitations.
    implementation : str
        ``"module:attribute"`` of its :class:`FamilyModel`, imported on first use.
    params : tuple of str
        Parameters it accepts (command line ``--linkage`` etc., API ``params=``).
    is_density : bool
        Finds its own number of segments and may leave customers as noise (``-1``).
    space : {"common", "mixed"}
        The matrix it is fitted on: numbers scaled and categories one-hot, or numbers scaled
        and category codes (``X_mixed``).
    needs_categories : bool
        Left out of ``auto`` when there are no categorical attributes.
    no_categories_note, no_categories_warning : str
        Said when it is left out of ``auto`` for that reason, or asked for anyway.
    phrase : str
        Its name inside a sentence ("found by the Gaussian mixture"); the label by default.
    title : str
        Its name at the start of a heading; the label by default.
    method_with : tuple of (str, str), optional
        A parameter and a template naming the method with it ("{label} clustering ({value}
        linkage)"), for the report's settings when the parameter is known.
    assumption_with : tuple of (str, str, str), optional
        A parameter, its usual value and a template of the assumption when another value
        was used.
    estimators : tuple of str
        Types its models are made of that a model file may hold (beyond scikit-learn's own),
        trusted by :func:`custseg.persist.load_model`.
    """

    name: str
    label: str
    short_label: str
    description: str
    assumption: str
    implementation: str
    params: tuple[str, ...] = ()
    is_density: bool = False
    space: Literal["common", "mixed"] = "common"
    needs_categories: bool = False
    no_categories_note: str = ""
    no_categories_warning: str = ""
    phrase: str = ""
    title: str = ""
    method_with: tuple[str, str] | None = None
    assumption_with: tuple[str, str, str] | None = None
    estimators: tuple[str, ...] = ()

    @property
    def model(self) -> FamilyModel:
        """The family's :class:`FamilyModel` (its module is imported on first use)."""
        return _load(self.implementation)

    def in_sentence(self) -> str:
        """Its name inside a sentence."""
        return self.phrase or self.label

    def in_title(self) -> str:
        """Its name at the start of a heading."""
        return self.title or self.label

    def method(self, params: Mapping[str, Any]) -> str:
        """Its name with the parameter that shapes it, where ``params`` gives one.

        Examples
        --------
        >>> get_family("hierarchical").method({"linkage": "ward"})
        'hierarchical clustering (ward linkage)'
        """
        if self.method_with and params.get(self.method_with[0]):
            name, template = self.method_with
            return template.format(label=self.label, value=params[name])
        return self.label

    def assumption_for(self, params: Mapping[str, Any]) -> str:
        """What it assumes with the parameters used."""
        if self.assumption_with:
            name, usual, template = self.assumption_with
            value = params.get(name)
            if value and value != usual:
                return template.format(value=value)
        return self.assumption


@cache
def _load(path: str) -> FamilyModel:
    module, _, attribute = path.partition(":")
    model = getattr(import_module(module), attribute)
    if not isinstance(model, FamilyModel):
        raise TypeError(f"{path} is a {type(model).__name__}, not a FamilyModel.")
    return model


_DENSITY_ESTIMATORS = "custseg.models.density"

#: The families custseg compares, one entry each, in the order preferred when they tie
#: (simplest to explain and to score first).
REGISTRY: tuple[Family, ...] = (
    Family(
        "kmeans",
        "k-means",
        "k-means",
        "k-means: each segment is the customers nearest one centre (round, similar-sized groups)",
        "k-means assumes roughly round segments of similar spread; elongated, nested or very "
        "uneven groups can be split or merged.",
        "custseg.models.kmeans:FAMILY_MODEL",
        estimators=("custseg.models.kmeans.AutoKMeans",),
    ),
    Family(
        "gmm",
        "Gaussian mixture",
        "GMM",
        "Gaussian mixture: segments are overlapping bell-shaped clouds of any orientation; each customer gets a membership probability",
        "A Gaussian mixture assumes bell-shaped (ellipsoid) segments; a customer between two "
        "of them goes to the likelier one, and segments.csv gives how likely "
        "(segment_probability).",
        "custseg.models.gmm:FAMILY_MODEL",
        params=("covariance_type",),
        phrase="the Gaussian mixture",
        method_with=("covariance_type", "A {label} ({value} covariances)"),
    ),
    Family(
        "hierarchical",
        "hierarchical",
        "hier.",
        "hierarchical (agglomerative): customers are merged step by step into a tree, which is cut into segments",
        "Hierarchical clustering merges customers step by step and never undoes a merge; with "
        "Ward linkage it favours, like k-means, round segments of similar spread.",
        "custseg.models.hierarchical:FAMILY_MODEL",
        params=("linkage",),
        phrase="hierarchical clustering",
        title="Hierarchical clustering",
        method_with=("linkage", "{label} clustering ({value} linkage)"),
        assumption_with=(
            "linkage",
            "ward",
            "Hierarchical clustering merges customers step by step and never undoes a merge; "
            "with {value} linkage the segments can be of any shape, and single outlying "
            "customers can form segments of their own.",
        ),
        estimators=("custseg.models.hierarchical.HierarchicalClustering",),
    ),
    Family(
        "kprototypes",
        "k-prototypes",
        "k-proto",
        "k-prototypes: k-means for tables that mix numbers and categories (categories compared as categories)",
        "k-prototypes assumes, like k-means, roughly round segments; categories count by "
        "mismatch, weighed against the numbers by one factor (gamma).",
        "custseg.models.kprototypes:FAMILY_MODEL",
        params=("gamma",),
        space="mixed",
        needs_categories=True,
        no_categories_note="k-prototypes left out: there are no categorical attributes (it "
        "would be k-means)",
        no_categories_warning="k-prototypes was asked for, but there are no categorical "
        "attributes; on numbers alone it minimises the k-means objective (with its own "
        "seeding, so the result can differ slightly from --algorithm kmeans)",
        estimators=("custseg.models.kprototypes.KPrototypesClustering",),
    ),
    Family(
        "hdbscan",
        "HDBSCAN",
        "HDBSCAN",
        "HDBSCAN: segments are dense regions of any shape and density; customers in sparse regions are noise",
        "HDBSCAN finds dense groups of any shape and leaves customers in sparse regions in no "
        "segment (noise); groups that touch without a sparse gap between them are merged.",
        "custseg.models.density:HDBSCAN_MODEL",
        params=("min_cluster_size", "min_samples"),
        is_density=True,
        estimators=(f"{_DENSITY_ESTIMATORS}.HDBSCANClustering",),
    ),
    Family(
        "dbscan",
        "DBSCAN",
        "DBSCAN",
        "DBSCAN: segments are dense regions of any shape at one density; customers in sparse regions are noise",
        "DBSCAN finds dense groups of any shape at one density threshold (eps) and leaves "
        "customers in sparser regions in no segment (noise); groups of different density can "
        "be merged or dissolved.",
        "custseg.models.density:DBSCAN_MODEL",
        params=("eps", "min_samples"),
        is_density=True,
        estimators=(f"{_DENSITY_ESTIMATORS}.DBSCANClustering",),
    ),
)


def families() -> tuple[Family, ...]:
    """Every registered family, in the order preferred when they tie."""
    return REGISTRY


def family_names() -> tuple[str, ...]:
    """The names of the registered families, in registry order."""
    return tuple(f.name for f in REGISTRY)


def find_family(name: Any) -> Family | None:
    """The family called ``name``, or None."""
    return next((f for f in REGISTRY if f.name == name), None)


def get_family(name: str) -> Family:
    """The family called ``name``.

    Raises
    ------
    KeyError
        If no family has that name.
    """
    found = find_family(name)
    if found is None:
        raise KeyError(f"No clustering family {name!r}; registered: {', '.join(family_names())}.")
    return found


def is_density(name: Any) -> bool:
    """Whether ``name`` is a registered family that finds its own number of segments."""
    found = find_family(name)
    return found is not None and found.is_density


def or_list(names: tuple[str, ...] | list[str]) -> str:
    """``"a, b or c"``.

    Examples
    --------
    >>> or_list(["kmeans", "gmm", "dbscan"])
    'kmeans, gmm or dbscan'
    """
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def __getattr__(name: str) -> Any:
    # The tables older code reads, made from the registry when they are read (so that a
    # family added to REGISTRY is seen by them too).
    if name == "FAMILIES":
        return {f.name: f.description for f in REGISTRY}
    if name == "FAMILY_LABELS":
        return {f.name: f.label for f in REGISTRY}
    if name == "FAMILY_PARAMS":
        return {f.name: f.params for f in REGISTRY}
    if name == "DENSITY_FAMILIES":
        return tuple(f.name for f in REGISTRY if f.is_density)
    if name == "ALGORITHMS":
        return ("auto", *family_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
