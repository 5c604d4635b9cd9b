"""The best loss as a function of the training budget: saturating-curve fits, confidence intervals, AIC.

Paper 1 (Baskerville, Granziol & Keating, arXiv:2102.06740 v1-v3; authors' notebook
``Exponential Hardness of True Loss``) fits the best validation loss (and error) of ResNet-50 / ImageNet runs
of budget T, plotted against the epoch t at which that best value occurred, with

    y(t) = a + b exp(c t)          (c < 0: exponential approach to the asymptote a),

using ``scipy.optimize.curve_fit`` from p0 = (0.9, 0.1, -0.1). The alternative here is the power law

    y(t) = a + b t^c               (c < 0: algebraic approach to a),

and the two are compared by the Akaike information criterion for Gaussian residuals (Akaike 1974;
Burnham & Anderson 2002, eq. 2.13 and the small-sample AICc, eq. 2.14).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

__all__ = [
    "CurveFit",
    "aic",
    "aicc_difference_null",
    "best_per_run",
    "exponential_saturation",
    "fit_exponential",
    "fit_power_law",
    "halving_summary",
    "power_law",
]

_MAXFEV = 10_000  # as in the authors' notebook
_MAX_EXPONENT = -1e-3  # power-law exponents closer to 0 are a logarithm in disguise


def exponential_saturation(t: ArrayLike, a: float, b: float, c: float) -> np.ndarray:
    """y(t) = a + b exp(c t), paper 1's budget law (authors' notebook, ``curve_fit`` model)."""
    return a + b * np.exp(c * np.asarray(t, dtype=float))


def power_law(t: ArrayLike, a: float, b: float, c: float) -> np.ndarray:
    """y(t) = a + b t^c (t > 0), the algebraic alternative to :func:`exponential_saturation`."""
    return a + b * np.asarray(t, dtype=float) ** c


@dataclass(frozen=True)
class CurveFit:
    """A least-squares fit of a three-parameter curve y = f(t; a, b, c).

    ``stderr`` are the square roots of the diagonal of ``curve_fit``'s covariance (residual variance scaled,
    ``absolute_sigma=False``); ``ci_low`` / ``ci_high`` are ``params -/+ t_{n-3}((1+level)/2) stderr``.
    """

    model: str
    params: np.ndarray
    covariance: np.ndarray
    stderr: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rss: float
    n: int
    aic: float
    aicc: float

    def predict(self, t: ArrayLike) -> np.ndarray:
        """The fitted curve at ``t``."""
        return _MODELS[self.model](t, *self.params)


_MODELS: dict[str, Callable[..., np.ndarray]] = {"exponential": exponential_saturation, "power": power_law}


def aic(rss: float, n: int, k: int) -> tuple[float, float]:
    """(AIC, AICc) of a least-squares fit with Gaussian errors of unknown variance.

    AIC = n log(RSS / n) + 2K and AICc = AIC + 2K (K + 1) / (n - K - 1) with K = k + 1 (the k curve parameters
    plus the noise variance), Burnham & Anderson (2002), eqs. 2.13-2.14. Lower is better; a difference above
    about 2 is meaningful.
    """
    if n <= k + 2:
        raise ValueError(f"AICc needs more points than parameters + 2, got n = {n} for k = {k}")
    if not rss > 0:
        raise ValueError(f"rss must be positive, got {rss}")
    big_k = k + 1
    value = n * np.log(rss / n) + 2 * big_k
    return float(value), float(value + 2 * big_k * (big_k + 1) / (n - big_k - 1))


def _points(t: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t_arr, y_arr = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    if t_arr.ndim != 1 or t_arr.shape != y_arr.shape:
        raise ValueError(f"t and y must be 1-D arrays of equal length, got shapes {t_arr.shape} and {y_arr.shape}")
    if t_arr.size < 6:  # AICc of 3 curve parameters + the noise variance needs n > 5
        raise ValueError(f"a three-parameter fit with an AICc needs at least 6 points, got {t_arr.size}")
    if not (np.all(np.isfinite(t_arr)) and np.all(np.isfinite(y_arr))):
        raise ValueError("t and y must be finite")
    return t_arr, y_arr


def _fit(model: str, t: np.ndarray, y: np.ndarray, p0: Sequence[float], level: float,
         bounds: tuple = (-np.inf, np.inf)) -> CurveFit:
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    params, cov = optimize.curve_fit(_MODELS[model], t, y, p0=tuple(p0), maxfev=_MAXFEV, bounds=bounds)
    rss = float(np.sum((y - _MODELS[model](t, *params)) ** 2))
    stderr = np.sqrt(np.diag(cov))
    half = stats.t.ppf((1 + level) / 2, df=t.size - 3) * stderr
    value, value_c = aic(rss, t.size, 3)
    return CurveFit(model, params, cov, stderr, params - half, params + half, rss, t.size, value, value_c)


def fit_exponential(
    t: ArrayLike, y: ArrayLike, p0: Sequence[float] | None = None, level: float = 0.95
) -> CurveFit:
    """Least-squares fit of y = a + b exp(c t) (paper 1's budget law) with ``level`` confidence intervals.

    ``p0`` defaults to (min y, max y - min y, -1 / (mean t)): asymptote, excess, inverse time scale; the authors
    used (0.9, 0.1, -0.1) for the loss and (0.2, 0.1, -0.1) for the error.
    """
    t_arr, y_arr = _points(t, y)
    if p0 is None:
        p0 = (y_arr.min(), np.ptp(y_arr) or 1.0, -1.0 / max(np.mean(np.abs(t_arr)), 1e-12))
    return _fit("exponential", t_arr, y_arr, p0, level)


def fit_power_law(t: ArrayLike, y: ArrayLike, p0: Sequence[float] | None = None, level: float = 0.95) -> CurveFit:
    """Least-squares fit of y = a + b t^c (t > 0), c <= -1e-3, with ``level`` confidence intervals.

    The exponent is kept negative (an approach to the asymptote a): as c -> 0 the law degenerates into
    a + b + b c log t with a and b running off to infinity. ``p0`` defaults to
    (min y - (max y - min y), (max y - min y) t_min, -1).
    """
    t_arr, y_arr = _points(t, y)
    if np.any(t_arr <= 0):
        raise ValueError("the power law needs t > 0")
    if p0 is None:
        spread = np.ptp(y_arr) or 1.0
        p0 = (y_arr.min() - spread, 2 * spread * t_arr.min(), -1.0)
    return _fit("power", t_arr, y_arr, p0, level, bounds=([-np.inf, -np.inf, -np.inf], [np.inf, np.inf, _MAX_EXPONENT]))


def best_per_run(curves: Sequence[ArrayLike], mode: str = "min") -> tuple[np.ndarray, np.ndarray]:
    """(index of the best value, best value) of each curve, as the authors' notebook takes them.

    ``mode`` "min" for losses and errors, "max" for accuracies; the index is 0-based along the curve (for a
    per-epoch validation log starting at epoch 1, index i is epoch i + 1).
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    idx, best = [], []
    for curve in curves:
        arr = np.asarray(curve, dtype=float)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError("each curve must be a non-empty 1-D array of finite values")
        i = int(np.argmin(arr) if mode == "min" else np.argmax(arr))
        idx.append(i)
        best.append(arr[i])
    return np.asarray(idx), np.asarray(best)


def halving_summary(exponential: CurveFit, power: CurveFit) -> dict[str, float]:
    """What each fitted law says one more step of progress costs, and which law the data favour.

    Under y = a + b exp(c t) the gap y - a halves every ln 2 / |c| epochs and shrinks 100-fold in ln 100 / |c|;
    under y = a + b t^c it halves each time the budget grows by the factor 2^(1/|c|). "Delta AICc (exp - power)"
    is AICc(exponential) - AICc(power law): positive favours the power law.
    """
    return {"exp: epochs per halving": np.log(2) / abs(exponential.params[2]),
            "exp: epochs for a 100x smaller gap": np.log(100) / abs(exponential.params[2]),
            "power: budget factor per halving": 2 ** (1 / abs(power.params[2])),
            "Delta AICc (exp - power)": exponential.aicc - power.aicc}


def aicc_difference_null(
    t: ArrayLike, exponential: CurveFit, power: CurveFit, replicas: int, seed: int
) -> dict[str, np.ndarray]:
    """Simulated Delta AICc = AICc(exponential) - AICc(power law) at the points ``t`` (a parametric bootstrap).

    Null: y = the fitted exponential at ``t`` plus independent Gaussian noise of its residual variance
    RSS / (n - 3); alternative: the same from the fitted power law. Each replica refits both laws (starting from
    the fitted parameters) and records the difference; replicas where a fit fails to converge are dropped and
    counted. Returns ``null``, ``alternative`` and ``failed`` (failed replicas of each, in that order).
    """
    t_arr = np.asarray(t, dtype=float)
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    failed = []
    for kind, fit in (("null", exponential), ("alternative", power)):
        noise = np.sqrt(fit.rss / (fit.n - 3))
        values = []
        for _ in range(int(replicas)):
            y = fit.predict(t_arr) + noise * rng.standard_normal(t_arr.size)
            try:
                values.append(fit_exponential(t_arr, y, p0=exponential.params).aicc
                              - fit_power_law(t_arr, y, p0=power.params).aicc)
            except (RuntimeError, ValueError):  # no convergence, or a degenerate residual
                continue
        out[kind] = np.asarray(values)
        failed.append(int(replicas) - len(values))
    out["failed"] = np.asarray(failed)
    return out
