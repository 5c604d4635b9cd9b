"""Binned gradient correlations and the fit of the true-loss model's length-scale to them.

Paper 1's true-loss model (Baskerville, Granziol & Keating, arXiv:2102.06740) predicts that the cosine of two
full-data loss gradients at distance d decays as rho(d) = exp(-d^2 / (2 l^2)) (1 - d^2 / (P l^2)) for a
squared-exponential kernel of length-scale l in P dimensions (:func:`lib.rmt.true_loss.se_gradient_correlation`).
The functions here average measured cosines over distance bins and fit l by least squares. NumPy/SciPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from lib.rmt.true_loss import se_gradient_correlation


@dataclass(frozen=True)
class BinnedCorrelation:
    """Mean correlation per distance bin with its standard error of the mean (NaN for bins with < 2 values)."""

    centers: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    counts: np.ndarray


def binned_correlation(distances: ArrayLike, correlations: ArrayLike, bins: ArrayLike) -> BinnedCorrelation:
    """Average ``correlations`` in distance ``bins`` (edges); centre = mean distance in the bin."""
    d, c, edges = (np.asarray(a, dtype=float).ravel() for a in (distances, correlations, bins))
    if d.shape != c.shape:
        raise ValueError(f"distances and correlations differ in size: {d.size} and {c.size}")
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two increasing edges")
    which = np.digitize(d, edges) - 1
    k = edges.size - 1
    centers, mean, sem, counts = (np.full(k, np.nan) for _ in range(4))
    for b in range(k):
        sel = which == b
        counts[b] = sel.sum()
        if counts[b]:
            centers[b], mean[b] = d[sel].mean(), c[sel].mean()
        if counts[b] > 1:
            sem[b] = c[sel].std(ddof=1) / np.sqrt(counts[b])
    return BinnedCorrelation(centers, mean, sem, counts.astype(int))


@dataclass(frozen=True)
class LengthscaleFit:
    """Least-squares length-scale l of rho(d) = exp(-d^2 / 2 l^2) (1 - d^2 / (P l^2)), with its standard error."""

    lengthscale: float
    stderr: float
    rss: float
    n: int


def fit_lengthscale(
    distances: ArrayLike, correlations: ArrayLike, sem: ArrayLike | None = None, dim: int | None = None
) -> LengthscaleFit:
    """Fit the squared-exponential length-scale to measured correlations
    (``lib.rmt.true_loss.se_gradient_correlation``).

    ``sem`` (per point) weights the least squares and makes the standard error absolute; ``dim`` is P for the
    finite-dimension factor (None: the large-P limit).
    """
    d, c = np.asarray(distances, dtype=float).ravel(), np.asarray(correlations, dtype=float).ravel()
    keep = np.isfinite(d) & np.isfinite(c)
    sigma = None
    if sem is not None:
        sigma = np.asarray(sem, dtype=float).ravel()
        keep &= np.isfinite(sigma) & (sigma > 0)
        sigma = sigma[keep]
    d, c = d[keep], c[keep]
    if d.size < 2:
        raise ValueError(f"a length-scale fit needs at least 2 finite points, got {d.size}")
    below = d[c < np.exp(-0.5)]
    start = float(below.min()) if below.size else float(d.max())

    def model(x: np.ndarray, ell: float) -> np.ndarray:
        return se_gradient_correlation(x, abs(ell), dim)

    (ell,), cov = optimize.curve_fit(model, d, c, p0=(start,), sigma=sigma, absolute_sigma=sem is not None)
    rss = float(np.sum((c - model(d, ell)) ** 2))
    return LengthscaleFit(abs(float(ell)), float(np.sqrt(cov[0, 0])), rss, int(d.size))


def shape_chi2(distances: ArrayLike, mean: ArrayLike, sem: ArrayLike, dim: int | None = None) -> float:
    """Reduced chi^2 of the squared-exponential shape: the length-scale fitted by :func:`fit_lengthscale` (weighted
    by ``sem``), then sum((mean - rho(d; l, P)) / sem)^2 / (n_d - 1)."""
    d, m, s = (np.asarray(a, dtype=float) for a in (distances, mean, sem))
    fit = fit_lengthscale(d, m, s, dim=dim)
    return float(np.sum(((m - se_gradient_correlation(d, fit.lengthscale, dim)) / s) ** 2) / (d.size - 1))


def shape_chi2_null(
    distances: ArrayLike, sem: ArrayLike, lengthscale: float, dim: int | None, replicas: int, seed: int
) -> dict[str, np.ndarray]:
    """Simulated :func:`shape_chi2` for mean cosines with independent Gaussian errors of the measured ``sem``
    about the squared-exponential shape of ``lengthscale`` (null) and about an exponential decay exp(-d / l) of
    the same l (alternative: a heavier tail than the Gaussian). Returns ``null`` and ``alternative``."""
    d, s = np.asarray(distances, dtype=float), np.asarray(sem, dtype=float)
    rng = np.random.default_rng(seed)
    shapes = {"null": se_gradient_correlation(d, lengthscale, dim), "alternative": np.exp(-d / lengthscale)}
    return {kind: np.array([shape_chi2(d, curve + s * rng.standard_normal(d.size), s, dim) for _ in range(replicas)])
            for kind, curve in shapes.items()}
