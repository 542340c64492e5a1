"""The Gaussian mixture family: scikit-learn's ``GaussianMixture`` at each k, k by BIC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture

from custseg.models._assign import fit_sample
from custseg.models._threads import PARALLEL_FROM, limit
from custseg.models.families import FamilyModel, FitTask, Fitted

GMM_MAX_FIT = 20_000
"""Gaussian mixtures are fitted on at most this many customers (EM with full covariances
costs about 1 s per k at 20,000); every customer is then scored by the fitted mixture."""
GMM_FULL_MAX_FEATURES = 12
"""Up to this many model inputs a Gaussian mixture has full covariances; beyond, diagonal
ones. A full covariance has d(d+1)/2 parameters per component (630 at 35 inputs, as on the
marketing table, where fitting took 12 s per k against under 1 s diagonal), and BIC then
rejects all but the smallest mixtures."""
GMM_REG_COVAR = 1e-4
"""Added to the covariance diagonals (scikit-learn's default is 1e-6): on standardized
features, binary or clipped columns otherwise give singular components."""
GMM_FIT: dict[str, Any] = {"tol": 1e-2, "init_params": "k-means++"}
"""Mixtures stop at a looser tolerance than scikit-learn's (1e-2 on the mean log-likelihood
per customer) and start from k-means++ seeds: about half the time, and on the 90 scenarios of
the scenario benchmark the same choice in every one."""


def gmm_covariance(params: Mapping[str, Any], n_features: int) -> str:
    """The mixture's covariance type: the user's, else full up to ``GMM_FULL_MAX_FEATURES``
    features and diagonal beyond.

    Examples
    --------
    >>> gmm_covariance({}, 5), gmm_covariance({}, 20), gmm_covariance({"covariance_type": "tied"}, 5)
    ('full', 'diag', 'tied')
    """
    if params.get("covariance_type"):
        return str(params["covariance_type"])
    return "full" if n_features <= GMM_FULL_MAX_FEATURES else "diag"


def _gmm_one(X: np.ndarray, index: np.ndarray, k: int, seed: int, covariance_type: str) -> Fitted:
    with limit(limits=1 if X.shape[0] < PARALLEL_FROM else None, user_api="blas"):
        gmm = GaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            random_state=seed,
            reg_covar=GMM_REG_COVAR,
            **GMM_FIT,
        ).fit(X[index])
        return Fitted(gmm, np.asarray(gmm.predict(X), dtype=np.int64))


class GaussianMixtureFamily(FamilyModel):
    """The Gaussian mixture family of model selection: fitted on a seeded sample of at most
    :data:`GMM_MAX_FIT` customers, every customer scored; k is the lowest BIC."""

    max_fit = GMM_MAX_FIT
    choose_k_by = "bic"

    def fit(self, task: FitTask) -> dict[int, Fitted]:
        X = task.X
        index = fit_sample(X.shape[0], GMM_MAX_FIT, task.seed)
        covariance = gmm_covariance(task.params, X.shape[1])
        return {k: _gmm_one(X, index, k, task.seed, covariance) for k in task.ks}

    def parameters(self, estimator: Any) -> dict[str, Any]:
        return {"covariance_type": estimator.covariance_type}

    def bic(self, estimator: Any, X: np.ndarray) -> float | None:
        return float(estimator.bic(X))

    def notes(self, params: Mapping[str, Any], n_features: int) -> list[str]:
        if params.get("covariance_type") or gmm_covariance(params, n_features) != "diag":
            return []
        return [
            f"Gaussian mixtures use diagonal covariances: {n_features} model inputs are more "
            f"than {GMM_FULL_MAX_FEATURES} for full ones"
        ]


FAMILY_MODEL = GaussianMixtureFamily()
"""The ``gmm`` entry of :data:`custseg.models.families.REGISTRY` points here."""
