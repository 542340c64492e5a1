"""Buy-till-you-die forecasts: BG/NBD for the number of purchases, Gamma-Gamma for their value.

Both models are written here from their closed-form likelihoods and fitted with
:func:`scipy.optimize.minimize`, so they need nothing beyond SciPy and fit in well under a
second on tens of thousands of customers (see ``docs/new-customers.md`` for why no BTYD
library is used). Fitted parameters are plain dicts of floats, which is all a saved model
needs to keep.

Time is measured in days. A *purchase* is a day with at least one kept sale line; the first
purchase day starts the customer's clock and is not a repeat purchase.

References
----------
Fader, Hardie and Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2). Fader, Hardie and Lee (2005), "RFM and CLV: using
iso-value curves for customer base analysis", Journal of Marketing Research 42(4) (Gamma-Gamma).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp1f1, hyp2f1

from custseg.newcustomers.purchases import (
    CustomerPurchases,
    as_purchases,
    day_number,
    day_timestamps,
)

#: Where the BG/NBD search starts (r, alpha, a, b); alpha in days. Any positive start works for
#: the closed-form likelihood; these are the order of magnitude seen on retail data.
BGNBD_START: tuple[float, float, float, float] = (0.5, 30.0, 0.8, 2.5)
#: Gamma-Gamma start (p, q, gamma).
GAMMA_GAMMA_START: tuple[float, float, float] = (2.0, 3.0, 100.0)
#: Small ridge penalty on the log-parameters: keeps the search finite on degenerate data (for
#: example nobody repeats) while moving estimates on real data by far less than their error.
PENALTY = 1e-4
#: Most customers a model of the new-customer stage is fitted on; beyond it, a seeded random
#: sample of this many is fitted on and every customer is still scored. BG/NBD's parameters
#: have standard errors that shrink as 1/sqrt(n): at 20,000 customers they are about a
#: percent, far below what separates one shop from another, while fitting on a million
#: takes fifty times as long. The classifiers and the history tree have more rows than their
#: few parameters need well before that (the first-purchase classifier has its own, smaller
#: bound: :data:`custseg.newcustomers.models.MAX_CLASSIFIER_CUSTOMERS`).
MAX_FIT_CUSTOMERS = 20_000
#: BG/NBD's Gamma distribution of purchase rates is at its boundary, and is replaced by its
#: limit, one rate shared by every customer (r and alpha growing together without end, r /
#: alpha fixed), when that limit fits at least as well: the likelihood-ratio statistic of the
#: Gamma against it is below this, the optimiser's precision rather than a significance
#: level (a fit that gains anything real from spreading the rates gains more; Online Retail:
#: 9,181). Regular billing (every account invoiced monthly) is such data: the Gamma fit ran
#: to r = 1.0e4, alpha = 3.1e5, stopped only by :data:`PENALTY`, where ``hyp2f1`` gives NaN
#: and the forecast was blank; its statistic is 0. A 2.71 cut (a 5% test) would also
#: replace the Gamma on small samples that merely cannot show a spread; that is not done.
SHARED_RATE_TOLERANCE = 0.01


def sample_positions(n: int, limit: int = MAX_FIT_CUSTOMERS, *, seed: int = 0) -> np.ndarray:
    """Sorted positions of a seeded random sample of ``limit`` of ``n`` rows (all of them
    when ``n <= limit``).

    Examples
    --------
    >>> sample_positions(4).tolist(), len(sample_positions(10, 3)), sample_positions(10, 3)[0] >= 0
    ([0, 1, 2, 3], 3, np.True_)
    """
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def fit_history(history: pd.DataFrame, *, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """BG/NBD and Gamma-Gamma fitted on the purchase history of :func:`purchase_history`
    (on a seeded sample of :data:`MAX_FIT_CUSTOMERS` customers when there are more).

    Examples
    --------
    >>> bg, gg = fit_history(purchase_history(sales, end))  # doctest: +SKIP
    """
    part = history.iloc[sample_positions(len(history), seed=seed)]
    return (
        fit_bgnbd(part["x"], part["t_x"], part["T"]),
        fit_gamma_gamma(part["x"], part["repeat_value"]),
    )


def bgnbd_log_likelihood(
    params: tuple[float, float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD (Fader, Hardie and Lee 2005, eq. 6).

    Parameters
    ----------
    params : (r, alpha, a, b)
        Purchase rates are Gamma(r, alpha); the drop-out chance after each purchase is Beta(a, b).
    x, t_x, T : arrays
        Repeat purchases, time of the last purchase and age, all since the first purchase.

    Examples
    --------
    >>> ll = bgnbd_log_likelihood((0.243, 4.414, 0.793, 2.426), np.array([2.0]),
    ...                           np.array([30.43]), np.array([38.86]))
    >>> round(float(ll[0]), 4)
    -9.4586
    """
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(a3, -np.inf)
    a4[repeat] = (
        np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def bgnbd_log_likelihood_gradient(
    params: tuple[float, float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weight: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Summed BG/NBD log-likelihood (each customer counted ``weight`` times) and its gradient
    in ``(r, alpha, a, b)``, from the derivatives of :func:`bgnbd_log_likelihood`.

    Examples
    --------
    >>> ll, grad = bgnbd_log_likelihood_gradient((0.243, 4.414, 0.793, 2.426), np.array([2.0]),
    ...                                           np.array([30.43]), np.array([38.86]))
    >>> round(ll, 4), grad.shape
    (-9.4586, (4,))
    """
    r, alpha, a, b = params
    w = np.ones_like(x) if weight is None else weight
    repeat = x > 0
    log_at = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    a3 = -(r + x) * log_at
    a4 = np.full_like(a3, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * log_atx[repeat]
    tail = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - tail)
    w4 = np.exp(a4 - tail)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b) + tail
    psi_abx = digamma(a + b + x)
    psi_ab = digamma(a + b)
    b_x1 = np.where(repeat, b + x - 1, 1.0)
    grad = np.array(
        [
            np.dot(w, digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_atx),
            np.dot(w, r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))),
            np.dot(w, psi_ab - psi_abx + w4 / a),
            np.dot(w, digamma(b + x) - psi_abx - digamma(b) + psi_ab - w4 / b_x1),
        ]
    )
    return float(np.dot(w, ll)), grad


def _fit_positive(
    objective: Any, start: tuple[float, ...], n: int, gradient: Any = None
) -> tuple[np.ndarray, float, bool]:
    """Maximise ``objective`` over positive parameters: L-BFGS-B on their logarithms (with
    the analytic ``gradient`` when given: a function returning the objective and its
    gradient), with Nelder-Mead as the fallback when it does not converge."""
    dims = len(start)

    def penalty(log_params: np.ndarray) -> float:
        return float(PENALTY * np.sum(log_params**2) / dims)

    def loss(log_params: np.ndarray) -> float:
        value = objective(np.exp(log_params))
        if not np.isfinite(value):
            return 1e300
        return float(-value / n + penalty(log_params))

    def loss_and_grad(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        value, grad = gradient(params)
        if not np.isfinite(value) or not np.isfinite(grad).all():
            return 1e300, np.zeros(dims)
        return (
            float(-value / n + penalty(log_params)),
            -grad * params / n + 2 * PENALTY * log_params / dims,
        )

    x0 = np.log(np.asarray(start, dtype=np.float64))
    if gradient is not None:
        fast = minimize(loss_and_grad, x0, jac=True, method="L-BFGS-B")
    else:
        fast = minimize(loss, x0, method="L-BFGS-B")
    chosen = fast
    if not (fast.success and fast.fun < 1e299):
        best = minimize(
            loss,
            x0,
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10},
        )
        refined = minimize(loss, best.x, method="L-BFGS-B")
        chosen = refined if refined.fun <= best.fun else best
        if fast.fun < chosen.fun:
            chosen = fast
    return np.exp(chosen.x), float(objective(np.exp(chosen.x))), bool(chosen.success)


def fit_bgnbd(x: Any, t_x: Any, T: Any) -> dict[str, Any]:
    """Maximum-likelihood BG/NBD parameters.

    When purchase rates do not differ between customers (:data:`SHARED_RATE_TOLERANCE`),
    the Gamma distribution of rates is at its boundary and is replaced by its limit, one
    rate shared by all: ``purchase_rates`` is then
    ``"shared"``, ``r`` and ``alpha`` are None (they are not identified: any pair with the
    same ratio and r large enough fits as well) and ``rate`` is the shared rate.

    Parameters
    ----------
    x, t_x, T : array-like
        Per customer: repeat purchases, days from the first to the last purchase, days from
        the first purchase to the end of the calibration period.

    Returns
    -------
    dict
        ``r``, ``alpha``, ``a``, ``b``, ``rate`` (mean purchases per day, r / alpha),
        ``purchase_rates`` (``"gamma"`` or ``"shared"``), ``likelihood_ratio`` (Gamma rates
        against one shared rate), ``log_likelihood``, ``n_customers``, ``converged``.

    Examples
    --------
    >>> x, t_x, T = simulate_bgnbd(2000, r=0.5, alpha=20.0, a=0.8, b=2.5, T=365.0, seed=0)
    >>> params = fit_bgnbd(x, t_x, T)
    >>> round(params["r"], 1), params["n_customers"], params["purchase_rates"]
    (0.5, 2000, 'gamma')
    >>> monthly = fit_bgnbd([11.0] * 50, [330.0] * 50, [350.0] * 50)
    >>> monthly["purchase_rates"], monthly["r"], round(365 * monthly["rate"], 1)
    ('shared', None, 11.5)
    """
    xs, txs, Ts = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    # Customers with the same (x, t_x, T) add the same term: each distinct one is counted once,
    # weighted by how many share it (whole days make most histories repeat at scale).
    rows, weight = np.unique(np.column_stack([xs, txs, Ts]), axis=0, return_counts=True)
    ux, utx, uT = rows.T if len(rows) else (xs, txs, Ts)
    w = weight.astype(np.float64)
    n = max(len(xs), 1)
    values, ll, ok = _fit_positive(
        lambda p: float(np.dot(w, bgnbd_log_likelihood(tuple(p), ux, utx, uT))),
        BGNBD_START,
        n,
        gradient=lambda p: bgnbd_log_likelihood_gradient(tuple(p), ux, utx, uT, w),
    )
    r, alpha, a, b = (float(v) for v in values)
    # The nested one-rate model, started at the pooled rate and the Beta found above.
    pooled = (float(np.dot(w, ux)) + 1.0) / (float(np.dot(w, uT)) + 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # The search may try rates that underflow to 0: those points are refused as infinite.
        shared, shared_ll, shared_ok = _fit_positive(
            lambda p: float(np.dot(w, shared_rate_log_likelihood(tuple(p), ux, utx, uT))),
            (pooled, a, b),
            n,
        )
    ratio = max(2.0 * (ll - shared_ll), 0.0) if np.isfinite(shared_ll) else np.inf
    if ratio < SHARED_RATE_TOLERANCE:
        rate, a, b = (float(v) for v in shared)
        return {
            "r": None,
            "alpha": None,
            "a": a,
            "b": b,
            "rate": rate,
            "purchase_rates": "shared",
            "likelihood_ratio": float(ratio),
            "log_likelihood": shared_ll,
            "n_customers": len(xs),
            "converged": shared_ok,
        }
    return {
        "r": r,
        "alpha": alpha,
        "a": a,
        "b": b,
        "rate": r / alpha,
        "purchase_rates": "gamma",
        "likelihood_ratio": float(ratio),
        "log_likelihood": ll,
        "n_customers": len(xs),
        "converged": ok,
    }


def shared_rate_log_likelihood(
    params: tuple[float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD's limit where every customer buys at the
    same Poisson ``rate`` (the Gamma of rates with r and alpha going to infinity, r / alpha =
    ``rate``); the drop-out chance after each purchase is still Beta(a, b).

    Examples
    --------
    >>> x, t_x, T = np.array([2.0]), np.array([30.43]), np.array([38.86])
    >>> limit = shared_rate_log_likelihood((0.05, 0.793, 2.426), x, t_x, T)
    >>> near = bgnbd_log_likelihood((5e4, 1e6, 0.793, 2.426), x, t_x, T)
    >>> bool(abs(limit[0] - near[0]) < 1e-3)
    True
    """
    rate, a, b = params
    a3 = -rate * T
    repeat = x > 0
    a4 = np.full_like(a3, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - rate * t_x[repeat]
    ll = x * np.log(rate) + betaln(a, b + x) - betaln(a, b) + np.logaddexp(a3, a4)
    return np.asarray(ll, dtype=np.float64)


def bgnbd_expected_purchases(
    params: dict[str, Any], t: float, x: Any, t_x: Any, T: Any
) -> np.ndarray:
    """Expected purchases in the next ``t`` days of each customer, given their history
    (Fader, Hardie and Lee 2005, eq. 10; with one shared purchase rate, its limit).

    Examples
    --------
    >>> p = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW, weeks
    >>> round(float(bgnbd_expected_purchases(p, 39, [2], [30.43], [38.86])[0]), 3)
    1.226
    >>> shared = {"purchase_rates": "shared", "rate": 1 / 30, "a": 0.5, "b": 25.0}
    >>> round(float(bgnbd_expected_purchases(shared, 365, [11], [330], [335])[0]), 2)
    11.1
    """
    xs, txs, Ts = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    if t <= 0:
        return np.zeros_like(xs)
    if params.get("purchase_rates") == "shared":
        return _shared_rate_expected_purchases(params, t, xs, txs, Ts)
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    z = t / (alpha + Ts + t)
    hyp = hyp2f1(r + xs, b + xs, a + b + xs - 1, z)
    numer = (a + b + xs - 1) / (a - 1) * (1 - ((alpha + Ts) / (alpha + Ts + t)) ** (r + xs) * hyp)
    alive_odds = np.where(
        xs > 0,
        a / np.maximum(b + xs - 1, 1e-12) * ((alpha + Ts) / (alpha + txs)) ** (r + xs),
        0.0,
    )
    expected = np.maximum(numer / (1 + alive_odds), 0.0)
    broken = ~np.isfinite(expected)
    if broken.any():
        # hyp2f1 gives NaN for very large r (from about 1e4); there the Gamma of rates is a
        # spike at r / alpha, and the one-rate limit agrees to O(1 / r).
        limit = {"rate": r / alpha, "a": a, "b": b}
        expected[broken] = _shared_rate_expected_purchases(
            limit, t, xs[broken], txs[broken], Ts[broken]
        )
    return np.asarray(expected, dtype=np.float64)


def _shared_rate_expected_purchases(
    params: dict[str, Any], t: float, xs: np.ndarray, txs: np.ndarray, Ts: np.ndarray
) -> np.ndarray:
    """Eq. 10 of Fader, Hardie and Lee (2005) in the limit of one purchase rate ``rate``:
    (1 - (T/(T+t))^(r+x) 2F1(r+x, b+x; c; t/(alpha+T+t))) tends to
    1 - exp(-rate t) 1F1(b+x; c; rate t) = 1 - 1F1(a-1; c; -rate t) (Kummer), with
    c = a + b + x - 1; the odds of having left tend to a / (b+x-1) exp(rate (T - t_x))."""
    rate, a, b = float(params["rate"]), float(params["a"]), float(params["b"])
    c = a + b + xs - 1
    numer = c / (a - 1) * (1 - hyp1f1(a - 1, c, -rate * t))
    log_odds = np.log(a) - np.log(np.maximum(b + xs - 1, 1e-12)) + rate * (Ts - txs)
    alive = np.where(xs > 0, expit(-log_odds), 1.0)
    return np.asarray(np.maximum(numer * alive, 0.0), dtype=np.float64)


def simulate_bgnbd(
    n: int, *, r: float, alpha: float, a: float, b: float, T: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``(x, t_x, T)`` for ``n`` customers observed for ``T`` days from the BG/NBD
    process: Poisson purchases at a Gamma(r, alpha) rate, and after each purchase a
    Beta(a, b) chance of leaving for good.

    Examples
    --------
    >>> x, t_x, T = simulate_bgnbd(3, r=1.0, alpha=10.0, a=1.0, b=3.0, T=100.0, seed=1)
    >>> bool((t_x <= T).all())
    True
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.exponential(1.0 / lam[i])
            if now > T:
                break
            x[i] += 1
            t_x[i] = now
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, float(T))


def fit_gamma_gamma(x: Any, mean_value: Any) -> dict[str, float]:
    """Gamma-Gamma parameters of the value of a purchase, from customers with repeats.

    Parameters
    ----------
    x : array-like
        Repeat purchases (customers with 0 are ignored).
    mean_value : array-like
        Mean value of those repeat purchases.

    Returns
    -------
    dict
        ``p``, ``q``, ``gamma``, ``n_customers``, ``population_mean`` (the expected value of
        a purchase of a customer nothing is known about) and ``converged``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> nu = rng.gamma(6.0, 1 / 50.0, size=3000)  # q=6, gamma=50
    >>> x = rng.integers(1, 8, size=3000)
    >>> m = rng.gamma(3.0 * x, 1 / (nu * x))     # p=3
    >>> round(fit_gamma_gamma(x, m)["population_mean"])  # p * gamma / (q - 1) = 30
    30
    """
    xs, ms = (np.asarray(v, dtype=np.float64) for v in (x, mean_value))
    keep = (xs > 0) & (ms > 0) & np.isfinite(ms)
    xs, ms = xs[keep], ms[keep]
    if len(xs) < 3:
        mean = float(ms.mean()) if len(ms) else 0.0
        return {
            "p": 1.0,
            "q": 2.0,
            "gamma": mean,
            "n_customers": int(len(xs)),
            "population_mean": mean,
            "converged": False,
        }
    scale = float(np.median(ms))  # fit on values of order 1, so the optimiser's start is good

    def ll(params: np.ndarray) -> float:
        p, q, g = params
        mm = ms / scale
        return float(
            np.sum(
                gammaln(p * xs + q)
                - gammaln(p * xs)
                - gammaln(q)
                + q * np.log(g)
                + (p * xs - 1) * np.log(mm)
                + p * xs * np.log(xs)
                - (p * xs + q) * np.log(g + mm * xs)
            )
        )

    values, loglik, ok = _fit_positive(ll, (2.0, 3.0, 1.0), len(xs))
    p, q, g = (float(v) for v in values)
    g *= scale
    population = p * g / (q - 1) if q > 1 else float(ms.mean())
    return {
        "p": p,
        "q": q,
        "gamma": g,
        "n_customers": int(len(xs)),
        "population_mean": float(population),
        "log_likelihood": loglik,
        "converged": ok,
    }


def gamma_gamma_expected_value(params: dict[str, float], x: Any, mean_value: Any) -> np.ndarray:
    """Expected value of a future purchase of each customer: a weighted mean of their own
    mean value and the population's (Fader, Hardie and Lee 2005, RFM and CLV, eq. 5).

    Examples
    --------
    >>> gg = {"p": 6.25, "q": 3.74, "gamma": 15.44, "population_mean": 35.22}
    >>> round(float(gamma_gamma_expected_value(gg, [2], [30.0])[0]), 2)
    30.94
    """
    p, q = params["p"], params["q"]
    xs, ms = (np.asarray(v, dtype=np.float64) for v in (x, mean_value))
    if q <= 1:
        return np.where(xs > 0, ms, params["population_mean"])
    weight = p * xs / (p * xs + q - 1)
    own = np.where(xs > 0, ms, 0.0)
    return np.asarray((1 - weight) * params["population_mean"] + weight * own, dtype=np.float64)


def _purchase_days(
    sales: pd.DataFrame | CustomerPurchases, start_day: int | None, stop_day: int
) -> tuple[CustomerPurchases, np.ndarray, np.ndarray]:
    """The purchases, the positions of their purchase days in ``[start_day, stop_day)``, and
    where each customer's run of those days starts (days are sorted by customer)."""
    p = as_purchases(sales)
    keep = p.day < stop_day
    if start_day is not None:
        keep &= p.day >= start_day
    rows = np.flatnonzero(keep)
    codes = p.customer[rows]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(rows) else rows
    return p, rows, starts


def fit_notes(bgnbd: dict[str, Any], gamma_gamma: dict[str, Any]) -> list[str]:
    """Sentences for ``metrics.json`` notes when a fit sits at a boundary of its model: one
    purchase rate shared by every customer (BG/NBD), or purchase values too spread for a
    population mean (Gamma-Gamma, q <= 1).

    Examples
    --------
    >>> bg = {"purchase_rates": "shared", "rate": 1 / 30, "likelihood_ratio": 0.0}
    >>> fit_notes(bg, {"q": 3.0})[0][:60]
    'the purchase rates do not differ between customers (as with '
    >>> fit_notes({"purchase_rates": "gamma"}, {"q": 3.0})
    []
    """
    notes = []
    if bgnbd.get("purchase_rates") == "shared":
        notes.append(
            "the purchase rates do not differ between customers (as with regular billing): "
            "BG/NBD's spread of rates fits no better than one rate for all (likelihood ratio "
            f"{bgnbd['likelihood_ratio']:.2f}), so every "
            f"customer is forecast at one shared rate of {365 * bgnbd['rate']:.1f} purchases "
            "a year, weighed by their chance of having left"
        )
    q = gamma_gamma.get("q")
    if q is not None and q <= 1:
        notes.append(
            f"Gamma-Gamma: purchase values differ so much between customers (q = {q:.2f}, "
            "at most 1) that their population has no mean; each customer's expected purchase "
            "value is their own mean value, not shrunk towards the others'"
        )
    return notes


def purchase_history(sales: pd.DataFrame | CustomerPurchases, end: pd.Timestamp) -> pd.DataFrame:
    """Per customer, the BTYD summary of the sale lines dated before ``end``.

    Parameters
    ----------
    sales : pandas.DataFrame or CustomerPurchases
        Kept sale lines with ``customer_id``, ``ts`` and ``amount``, or their summary.
    end : pandas.Timestamp
        First day after the period (exclusive). The last day observed is ``end - 1 day``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``n_purchases`` (purchase days), ``x`` (repeat purchases),
        ``t_x`` and ``T`` (days from the first purchase to the last one and to the last day
        observed), ``first_day``, ``revenue``, ``first_value`` (value of the first purchase
        day) and ``repeat_value`` (mean value of the repeat purchase days, 0 without repeats).

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "a", "a"], "amount": [5.0, 7.0, 9.0],
    ...     "ts": pd.to_datetime(["2021-01-01 09:00", "2021-01-01 17:00", "2021-01-11 00:00"])})
    >>> h = purchase_history(s, pd.Timestamp("2021-01-31"))
    >>> h.loc["a", ["n_purchases", "x", "t_x", "T", "first_value", "repeat_value"]].tolist()
    [2.0, 1.0, 10.0, 29.0, 12.0, 9.0]
    """
    end_day = day_number(end)
    p, rows, starts = _purchase_days(sales, None, end_day)
    day, amount = p.day[rows], p.amount[rows]
    ends = np.r_[starts[1:], len(rows)].astype(np.int64)
    n = (ends - starts).astype(np.float64)
    first = day[starts].astype(np.int64)
    last = day[ends - 1].astype(np.int64) if len(rows) else first
    revenue = np.add.reduceat(amount, starts) if len(rows) else np.zeros(0)
    first_value = amount[starts]
    x = n - 1
    out = pd.DataFrame(
        {
            "n_purchases": n,
            "x": x,
            "t_x": (last - first).astype(np.float64),
            "T": (end_day - 1 - first).astype(np.float64),
            "first_day": day_timestamps(first),
            "revenue": revenue.astype(np.float64),
            "first_value": first_value.astype(np.float64),
            "repeat_value": np.divide(revenue - first_value, x, out=np.zeros(len(x)), where=x > 0),
        },
        index=pd.Index(p.ids[p.customer[rows][starts]], name="customer_id", dtype=object),
    )
    return out


def history_codes(sales: CustomerPurchases, end: pd.Timestamp) -> np.ndarray:
    """Customer codes (positions in ``sales.ids``) of the rows of
    :func:`purchase_history` at ``end``, in its order.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "b"], "amount": [5.0, 7.0],
    ...     "ts": pd.to_datetime(["2021-01-05", "2021-01-01"])})
    >>> history_codes(as_purchases(s), pd.Timestamp("2021-01-02")).tolist()
    [1]
    """
    p, rows, starts = _purchase_days(sales, None, day_number(end))
    return p.customer[rows][starts].astype(np.int64)


def outcome_by_code(
    sales: CustomerPurchases, start: pd.Timestamp, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`horizon_outcome` as two arrays over every customer code (0 for customers without
    a purchase in the period): purchase days and revenue.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "b"], "amount": [5.0, 7.0],
    ...     "ts": pd.to_datetime(["2021-01-05", "2021-01-01"])})
    >>> [a.tolist() for a in outcome_by_code(as_purchases(s), pd.Timestamp("2021-01-02"), 7)]
    [[1.0, 0.0], [5.0, 0.0]]
    """
    start_day = day_number(start)
    p, rows, starts = _purchase_days(sales, start_day, start_day + int(days))
    codes = p.customer[rows].astype(np.int64)
    n = len(p.ids)
    return (
        np.bincount(codes, minlength=n).astype(np.float64),
        np.bincount(codes, weights=p.amount[rows], minlength=n).astype(np.float64),
    )


def horizon_outcome(
    sales: pd.DataFrame | CustomerPurchases, start: pd.Timestamp, days: int
) -> pd.DataFrame:
    """Purchase days and revenue of each customer in ``[start, start + days)``.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [5.0, 7.0, 1.0],
    ...     "ts": pd.to_datetime(["2021-02-01", "2021-02-01", "2021-03-15"])})
    >>> horizon_outcome(s, pd.Timestamp("2021-02-01"), 28).to_dict("index")
    {'a': {'purchases': 1.0, 'revenue': 12.0}}
    """
    start_day = day_number(start)
    p, rows, starts = _purchase_days(sales, start_day, start_day + int(days))
    ends = np.r_[starts[1:], len(rows)].astype(np.int64)
    return pd.DataFrame(
        {
            "purchases": (ends - starts).astype(np.float64),
            "revenue": (
                np.add.reduceat(p.amount[rows], starts) if len(rows) else np.zeros(0)
            ).astype(np.float64),
        },
        index=pd.Index(p.ids[p.customer[rows][starts]], name="customer_id", dtype=object),
    )
