"""Spectra as discrete probability measures, their distances and smoothed densities.

A spectrum is a :class:`Measure`: exact eigenvalues with weights ``1/P``, or the nodes and weights of stochastic
Lanczos quadrature (SLQ) averaged over probes (Golub & Meurant 2010, ch. 6; Lin, Saad & Yang 2016). Distances
between measures (Kolmogorov-Smirnov, Wasserstein-1) are exact sums over nodes; the weight near zero and the bulk
away from it are read off directly. NumPy/SciPy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import cumulative_trapezoid
from scipy.stats import wasserstein_distance

from lib.rmt.levels import as_levels

#: zero_fraction's window: |lambda| <= ZERO_REL * max |lambda| (above float64 round-off)
ZERO_REL = 1e-9


class Measure(NamedTuple):
    """A discrete probability measure on the real line: ascending ``nodes`` and ``weights`` summing to 1."""

    nodes: np.ndarray
    weights: np.ndarray


# --- spectra as measures -------------------------------------------------------------------------------------


def _finite_array(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def sorted_measure(nodes: np.ndarray, weights: np.ndarray) -> Measure:
    """The measure with these nodes and weights, nodes sorted and weights renormalised to sum to 1."""
    order = np.argsort(nodes, kind="stable")
    weights = weights[order]
    return Measure(nodes[order], weights / weights.sum())


def spectral_measure(nodes: np.ndarray, weights: np.ndarray | None = None, drop_top: int = 0) -> Measure:
    """The spectral measure of exact eigenvalues (``nodes`` 1-d, ``weights=None``: ``1/P`` each) or of SLQ.

    SLQ gives ``nodes`` and ``weights`` of shape ``(probes, m)``, each row a Gauss quadrature of
    ``q_v^T f(A) q_v``; the estimate of ``(1/P) tr f(A)`` is the average over rows (Lin, Saad & Yang 2016).
    ``drop_top = k`` removes the ``k`` largest nodes of each row and renormalises the row: for exact
    eigenvalues these are the top ``k`` eigenvalues; for SLQ, outliers are the Ritz values that converge first
    (Parlett 1998, ch. 13), one node per outlier eigenvalue, so ``k < m`` removes them once converged.
    """
    x = np.atleast_2d(_finite_array(nodes, "nodes"))
    w = np.full_like(x, 1.0) if weights is None else np.atleast_2d(_finite_array(weights, "weights"))
    if w.shape != x.shape:
        raise ValueError(f"nodes {x.shape} and weights {w.shape} differ in shape")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    if isinstance(drop_top, bool) or not isinstance(drop_top, int | np.integer) or drop_top < 0:
        raise ValueError(f"drop_top must be a non-negative integer, got {drop_top!r}")
    if drop_top >= x.shape[1]:
        raise ValueError(f"drop_top={drop_top} leaves nothing of rows of {x.shape[1]} nodes")
    order = np.argsort(x, axis=1, kind="stable")[:, : x.shape[1] - drop_top]
    x, w = np.take_along_axis(x, order, 1), np.take_along_axis(w, order, 1)
    totals = w.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("a row of weights has no mass left")
    return sorted_measure(x.ravel(), (w / totals).ravel())


def gap_cut(measure: Measure, ratio: float = 0.25, max_mass: float = 0.05) -> float:
    """Lower end of the outliers by a gap rule; ``inf`` when there are none.

    Among the gaps ``g_i = x_{i+1} - x_i`` between consecutive nodes with at most ``max_mass`` of the weight above
    them, take the lowest one that exceeds ``ratio`` times the width ``x_i - x_0`` of the spectrum below it;
    the nodes above it are outliers (paper2.md 2.3: "cut at the largest gap relative to the bulk width").
    """
    if not (0 < ratio and 0 < max_mass < 1):
        raise ValueError(f"need ratio > 0 and 0 < max_mass < 1, got {ratio}, {max_mass}")
    x, w = measure
    above = 1.0 - np.cumsum(w)  # weight above node i
    gaps = np.diff(x)
    width = x[:-1] - x[0]
    hits = np.flatnonzero((above[:-1] <= max_mass) & (gaps > ratio * width) & (width > 0))
    return float(x[hits[0] + 1]) if hits.size else float("inf")


def remove_above(measure: Measure, cut: float) -> Measure:
    """The measure restricted to nodes ``< cut`` and renormalised (outlier removal)."""
    keep = measure.nodes < cut
    if not np.any(keep) or measure.weights[keep].sum() <= 0:
        raise ValueError(f"no mass lies below the cut {cut}")
    return sorted_measure(measure.nodes[keep], measure.weights[keep])


def mean_variance(measure: Measure) -> tuple[float, float]:
    """Mean and variance of a measure."""
    mean = float(measure.weights @ measure.nodes)
    return mean, float(measure.weights @ (measure.nodes - mean) ** 2)


def central_moment(measure: Measure, k: int) -> float:
    """``sum_i w_i (x_i - mean)^k``."""
    mean = float(measure.weights @ measure.nodes)
    return float(measure.weights @ (measure.nodes - mean) ** k)


# --- distances ---------------------------------------------------------------------------------------------


def _cdf_at(measure: Measure, points: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0.0], np.cumsum(measure.weights)])
    return cum[np.searchsorted(measure.nodes, points, side="right")]


def ks_between(a: Measure, b: Measure) -> float:
    """Kolmogorov-Smirnov distance ``sup_x |F_a(x) - F_b(x)|`` between two discrete measures (atoms allowed).

    Both distribution functions are right-continuous steps, so the supremum is attained at a node of one of
    them; it is evaluated exactly there. (:func:`ks_to_cdf` is the unweighted case against a continuous CDF,
    :func:`ks_to_density` a sample
    against a density with an atom.)
    """
    points = np.union1d(a.nodes, b.nodes)
    return float(np.max(np.abs(_cdf_at(a, points) - _cdf_at(b, points))))


def wasserstein1(a: Measure, b: Measure) -> float:
    """Wasserstein-1 distance ``int |F_a(x) - F_b(x)| dx`` between two discrete measures (Villani 2009, 2.2)."""
    return float(wasserstein_distance(a.nodes, b.nodes, a.weights, b.weights))


def zero_tolerance(measure: Measure, rel: float = 1e-3) -> float:
    """The half-width ``rel * max |x|`` of the window in which weight counts as "at zero" (paper2.md 5)."""
    return float(rel * np.max(np.abs(measure.nodes)))


def weight_near_zero(measure: Measure, tol: float) -> float:
    """Weight of the measure in ``|x| <= tol``."""
    return float(measure.weights[np.abs(measure.nodes) <= tol].sum())


def away_from_zero(measure: Measure, tol: float) -> Measure | None:
    """The measure conditioned on ``|x| > tol`` (renormalised): the bulk without the atom; None if no mass."""
    keep = (np.abs(measure.nodes) > tol) & (measure.weights > 0)
    return sorted_measure(measure.nodes[keep], measure.weights[keep]) if np.any(keep) else None


def ks_away_from_zero(a: Measure, b: Measure, tol: float) -> float:
    """KS distance between the bulks of two measures: both conditioned on ``|x| > tol`` (:func:`away_from_zero`),
    so that an atom at zero, which dominates the whole-measure KS, is set aside; nan when either has no bulk."""
    bulk_a, bulk_b = away_from_zero(a, tol), away_from_zero(b, tol)
    return ks_between(bulk_a, bulk_b) if bulk_a is not None and bulk_b is not None else float("nan")


def snap_zeros(measure: Measure, tol: float) -> Measure:
    """The measure with every node in ``|x| <= tol`` moved to exactly 0.

    Numerically zero eigenvalues (round-off of order 1e-15 relative, or an SLQ node near 0) scatter around 0;
    against a law with an atom at 0 they would count as a misfit of half their weight in the KS distance.
    """
    nodes = np.where(np.abs(measure.nodes) <= tol, 0.0, measure.nodes)
    return sorted_measure(nodes, measure.weights)


def ks_to_cdf(samples: ArrayLike, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Kolmogorov-Smirnov distance D_n = sup_x |F_n(x) - F(x)| between the samples' ECDF and ``cdf``.

    ``cdf`` is a vectorised callable. The supremum is attained at the order statistics x_(i):
    D_n = max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n).
    """
    x = as_levels(samples, 1, "the KS distance")
    if x.ndim != 1:
        raise ValueError(f"samples must be 1-D, got shape {x.shape}")
    f = np.asarray(cdf(x), dtype=float)
    if f.shape != x.shape or not np.all(np.isfinite(f)):
        raise ValueError("cdf must return one finite value per sample")
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - f), np.max(f - (i - 1) / x.size)))


def ks_to_density(
    eigenvalues: np.ndarray,
    density: Callable[[np.ndarray], np.ndarray],
    support: tuple[float, float],
    atom: float = 0.0,
    points: int = 4001,
) -> float:
    """Kolmogorov-Smirnov distance ``sup_x |F_n(x) - F(x)|`` between a spectrum and a law with an atom at 0.

    ``F`` is the cumulative trapezoid integral of ``density`` on ``support`` (a grid refined cubically
    towards 0 when the support straddles it, where several of these densities diverge) plus ``atom`` for
    ``x >= 0``. Eigenvalues with ``|lambda| <= 1e-9 max |lambda|`` count as exact zeros, and both one-sided
    limits are compared at every eigenvalue so the atom's jump is handled exactly. For n i.i.d. draws the 99%
    critical value is ``1.63 / sqrt(n)``; eigenvalues are more rigid, so that bound is conservative.
    """
    lo, hi = float(support[0]), float(support[1])
    if not lo < hi:
        raise ValueError(f"support must be (lo, hi) with lo < hi, got {support}")
    eigs = np.asarray(eigenvalues, dtype=float).ravel()
    if eigs.size == 0 or not np.all(np.isfinite(eigs)):
        raise ValueError("eigenvalues must be a non-empty array of finite values")
    u = np.linspace(-1.0, 1.0, points)
    if lo < 0 < hi:
        x = np.unique(np.concatenate([lo * np.abs(u[u < 0]) ** 3, hi * u[u >= 0] ** 3]))
    else:
        x = lo + (hi - lo) * 0.5 * (1.0 - np.cos(0.5 * np.pi * (u + 1.0)))
    cdf = cumulative_trapezoid(density(x), x, initial=0.0)
    eigs = np.sort(np.where(np.abs(eigs) <= 1e-9 * np.max(np.abs(eigs)), 0.0, eigs))
    before = np.interp(eigs, x, cdf) + atom * (eigs > 0)
    after = before + atom * (eigs == 0)
    emp_after = np.searchsorted(eigs, eigs, side="right") / eigs.size
    emp_before = np.searchsorted(eigs, eigs, side="left") / eigs.size
    return float(max(np.max(np.abs(emp_after - after)), np.max(np.abs(emp_before - before))))


# --- densities --------------------------------------------------------------------------------------------


def _check_smoothing(
    nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nodes, weights, grid = np.atleast_2d(nodes), np.atleast_2d(weights), np.asarray(grid, dtype=float)
    if nodes.shape != weights.shape:
        raise ValueError(f"nodes {nodes.shape} and weights {weights.shape} differ in shape")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite width, got {sigma}")
    return nodes, weights, grid


def gaussian_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """rho(x) = (1/n_v) sum_v sum_i w_vi exp(-(x - theta_vi)^2 / 2 sigma^2) / sqrt(2 pi) sigma on ``grid``.

    Integrates to 1 over the real line (Lin, Saad & Yang 2016, eq. 3.14); the width ``sigma`` is explicit.
    """
    nodes, weights, grid = _check_smoothing(nodes, weights, grid, sigma)
    z = (grid[:, None] - nodes.reshape(-1)[None, :]) / sigma
    kernel = np.exp(-0.5 * z**2) / (np.sqrt(2 * np.pi) * sigma)
    return kernel @ weights.reshape(-1) / nodes.shape[0]


def log_abs_density(
    nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float, floor: float = 1e-30
) -> np.ndarray:
    """Density of t = log10|lambda| on ``grid``: Gaussian bumps at log10 max(|theta_vi|, floor) (Papyan 2020).

    Shows heavy-tailed and near-null parts of a Hessian spectrum; integrates to 1 over t.
    """
    if not floor > 0:
        raise ValueError(f"floor must be positive, got {floor}")
    nodes, weights, grid = _check_smoothing(nodes, weights, grid, sigma)
    return gaussian_density(np.log10(np.maximum(np.abs(nodes), floor)), weights, grid, sigma)


def smoothed_density(measure: Measure, grid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed density of a measure on ``grid`` (:func:`gaussian_density`)."""
    return gaussian_density(measure.nodes, measure.weights, grid, sigma)


def zero_fraction(eigs: np.ndarray, rel: float = ZERO_REL) -> float:
    """Fraction of eigenvalues with ``|lambda| <= rel * max |lambda|``: the weight near zero."""
    eigs = np.asarray(eigs, dtype=float)
    if eigs.size == 0:
        raise ValueError("no eigenvalues")
    return float(np.mean(np.abs(eigs) <= rel * np.max(np.abs(eigs))))
