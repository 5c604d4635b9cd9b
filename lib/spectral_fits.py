"""Fits of random-matrix laws to network curvature spectra, and distances between spectral measures.

Paper 2 (Granziol 2020, arXiv:2006.07721) asks whether the Hessian follows the Wigner semicircle and the
Gauss-Newton matrix (GGN) the Marchenko-Pastur law, and proposes products of Wigner/Wishart matrices and
percolated (sparse) ensembles instead. Its fitting protocol is not published; this module implements the one of
paper2.md 2.3:

* a spectrum is a discrete probability :class:`Measure`: exact eigenvalues with weights ``1/P``, or the nodes
  and weights of stochastic Lanczos quadrature (SLQ) averaged over probes (Golub & Meurant 2010, ch. 6);
* outliers are removed by dropping the top ``k`` nodes (``k = 0, 10, C``; Papyan 2019, Sagun et al. 2017) or by
  a gap rule (:func:`gap_cut`);
* every law is discretised on a fine grid (cells of its continuous part, plus its atoms), so that data and
  model are both discrete measures: Kolmogorov-Smirnov and Wasserstein-1 distances and the weight near zero
  are then exact sums (up to the grid);
* a :class:`Family` is fitted by moment matching (closed forms below) or by least squares between the
  Gaussian-smoothed data density and the equally smoothed law (``int (rho_data - rho_law)^2 dx``).

Families: semicircle and Wigner x Wishart, sparse (percolated) Wigner and the free sum MP + semicircle for
Hessians; Marchenko-Pastur and the Wishart chain product with widths from the network for GGNs.

Layer: analysis on top of the networks layer. The computations are NumPy/SciPy, but the Gaussian smoothing is
:func:`lib.lanczos.gaussian_density` (imported, not copied), so importing this module imports torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from scipy.stats import wasserstein_distance

from lib import freeprob
from lib.lanczos import gaussian_density
from lib.laws import marchenko_pastur_atom, marchenko_pastur_cdf, marchenko_pastur_edges, semicircle_cdf

_CELLS = 600  # cells of a discretised law: KS error <= the largest cell mass, W1 error <= half a cell
_GRID = 400  # points of the grid on which smoothed densities are compared
#: mean degrees c at which the sparse Wigner law is tabulated (population dynamics is costly)
SPARSE_DEGREES = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0)


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


def _sorted_measure(nodes: np.ndarray, weights: np.ndarray) -> Measure:
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
    return _sorted_measure(x.ravel(), (w / totals).ravel())


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
    return _sorted_measure(measure.nodes[keep], measure.weights[keep])


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


def ks_distance(a: Measure, b: Measure) -> float:
    """Kolmogorov-Smirnov distance ``sup_x |F_a(x) - F_b(x)|`` between two discrete measures (atoms allowed).

    Both distribution functions are right-continuous steps, so the supremum is attained at a node of one of
    them; it is evaluated exactly there. (:func:`lib.spacings.ks_distance` is the unweighted case against a
    continuous CDF.)
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
    return _sorted_measure(measure.nodes[keep], measure.weights[keep]) if np.any(keep) else None


def snap_zeros(measure: Measure, tol: float) -> Measure:
    """The measure with every node in ``|x| <= tol`` moved to exactly 0.

    Numerically zero eigenvalues (round-off of order 1e-15 relative, or an SLQ node near 0) scatter around 0;
    against a law with an atom at 0 they would count as a misfit of half their weight in the KS distance.
    """
    nodes = np.where(np.abs(measure.nodes) <= tol, 0.0, measure.nodes)
    return _sorted_measure(nodes, measure.weights)


# --- laws as discretised measures ----------------------------------------------------------------------------


def law_from_cdf(cdf: Callable[[np.ndarray], np.ndarray], lo: float, hi: float,
                 atoms: Sequence[tuple[float, float]] = (), cells: int = _CELLS) -> Measure:
    """Discretise a law: the continuous part's mass ``cdf(b) - cdf(a)`` on each of ``cells`` cells of [lo, hi],
    placed at the cell's midpoint, plus ``atoms`` as ``(location, mass)``; ``cdf`` is that of the continuous
    part alone (from 0 to ``1 - sum(masses)``)."""
    edges = np.linspace(lo, hi, cells + 1)
    mass = np.clip(np.diff(cdf(edges)), 0.0, None)
    return _assemble(0.5 * (edges[1:] + edges[:-1]), mass, atoms)


def law_from_density(density: Callable[[np.ndarray], np.ndarray], lo: float, hi: float,
                     atoms: Sequence[tuple[float, float]] = (), cells: int = _CELLS,
                     refine: tuple[float, float] | None = None) -> Measure:
    """Discretise a law given the density of its continuous part by the midpoint rule on ``cells`` cells of
    [lo, hi]; the continuous mass is rescaled to ``1 - sum(atom masses)`` (which removes the quadrature error
    of integrable edge singularities). [lo, hi] need only contain the support: a first pass on a coarse grid
    finds where the density is positive and the cells are laid over that range (one coarse step wider).
    ``refine = (center, half_width)`` adds ``cells // 2`` cells on that window, for a narrow peak (a smeared
    atom) that uniform cells would step over."""
    extra = np.linspace(refine[0] - refine[1], refine[0] + refine[1], cells // 2 + 1) if refine else np.empty(0)
    coarse = np.union1d(np.linspace(lo, hi, cells // 4 + 1), extra[(extra > lo) & (extra < hi)])
    inside = np.flatnonzero(np.asarray(density(coarse), dtype=float) > 0)
    if inside.size:
        lo = max(lo, coarse[max(inside[0] - 1, 0)])
        hi = min(hi, coarse[min(inside[-1] + 1, coarse.size - 1)])
    edges = np.union1d(np.linspace(lo, hi, cells + 1), extra[(extra > lo) & (extra < hi)])
    mid = 0.5 * (edges[1:] + edges[:-1])
    mass = np.clip(np.asarray(density(mid), dtype=float), 0.0, None) * np.diff(edges)
    return _assemble(mid, mass, atoms)


def _assemble(mid: np.ndarray, mass: np.ndarray, atoms: Sequence[tuple[float, float]]) -> Measure:
    atom_mass = float(sum(m for _, m in atoms))
    if mass.sum() > 0:
        mass = mass * (1.0 - atom_mass) / mass.sum()
    nodes = np.concatenate([mid, [loc for loc, _ in atoms]])
    weights = np.concatenate([mass, [m for _, m in atoms]])
    keep = weights > 0
    return _sorted_measure(nodes[keep], weights[keep])


def semicircle_law(sigma: float, center: float = 0.0, cells: int = _CELLS) -> Measure:
    """Semicircle of variance ``sigma^2`` centred at ``center`` (:func:`lib.laws.semicircle_cdf`)."""
    return law_from_cdf(lambda t: semicircle_cdf(t, sigma, center), center - 2 * sigma, center + 2 * sigma,
                        cells=cells)


def marchenko_pastur_law(q: float, sigma: float, cells: int = _CELLS) -> Measure:
    """Marchenko-Pastur law of ratio ``q`` and mean ``sigma^2`` with its atom ``(1 - 1/q)^+`` at zero."""
    lo, hi = marchenko_pastur_edges(q, sigma)
    atom = marchenko_pastur_atom(q)
    return law_from_cdf(lambda t: marchenko_pastur_cdf(t, q, sigma) - atom * (t >= 0), lo, hi,
                        [(0.0, atom)] if atom > 0 else (), cells)


def chain_product_law(widths: Sequence[int], scale: float = 1.0, cells: int = _CELLS) -> Measure:
    """``scale`` times the spectrum of ``Y Y^T``, ``Y = X_1 ... X_M`` with widths ``N_0, ..., N_M``
    (:func:`lib.freeprob.chain_product_density`; unit mean), atom ``1 - min N_i / N_0`` at zero."""
    q = np.asarray(widths, dtype=float)[0] / np.asarray(widths, dtype=float)[1:]
    hi = scale * float(np.prod(1.0 + np.sqrt(q)) ** 2)  # the support lies inside [0, prod (1 + sqrt q_i)^2]
    atom = freeprob.chain_product_atom(widths)
    return law_from_density(lambda t: freeprob.chain_product_density(t / scale, widths) / scale, 0.0, hi,
                            [(0.0, atom)] if atom > 0 else (), cells)


def wigner_wishart_law(sigma: float, q: float, cells: int = _CELLS) -> Measure:
    """``W^{1/2} H W^{1/2}``: semicircle ``H`` of variance ``sigma^2`` times unit-mean MP(q)
    (:func:`lib.freeprob.wigner_wishart_density`), atom ``(1 - 1/q)^+`` at zero."""
    edge = sigma * (1.0 + np.sqrt(q)) ** 2 * 1.6  # beyond the support edge (2 sigma at q = 0)
    atom = freeprob.wigner_wishart_atom(q)
    # for q > 1 the continuous part peaks sharply at 0 (paper2.md 3.3 item 4): finer cells there
    return law_from_density(lambda t: freeprob.wigner_wishart_density(t, q, sigma), -edge, edge,
                            [(0.0, atom)] if atom > 0 else (), cells, refine=(0.0, 0.05 * edge))


def free_sum_law(scale: float, phi: float, s2: float, cells: int = _CELLS) -> Measure:
    """``scale`` times MP(phi) (unit mean) plus a free semicircle of variance ``s2``: the Hessian model of
    Pennington & Bahri (2017) (:func:`lib.freeprob.free_sum_mp_semicircle_density`). No atom."""
    lo = min(0.0, (1.0 - np.sqrt(phi)) ** 2) - 2.0 * np.sqrt(s2)
    hi = (1.0 + np.sqrt(phi)) ** 2 + 2.0 * np.sqrt(s2)
    # for phi > 1 the MP atom, smeared by the semicircle, is a peak of width ~ sqrt(s2) at 0: finer cells there
    return law_from_density(lambda t: freeprob.free_sum_mp_semicircle_density(t / scale, phi, s2) / scale,
                            scale * lo, scale * hi, cells=cells, refine=(0.0, 4.0 * scale * np.sqrt(s2)))


@lru_cache(maxsize=64)
def _sparse_wigner_table(c: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit-scale sparse Wigner density of mean degree c on a fixed grid (population dynamics), and its atom."""
    u = np.linspace(-6.0, 6.0, 301)
    rho = np.asarray(freeprob.sparse_wigner_density(u, c, eps=2e-2, population=1000, sweeps=40, rng=0))
    return u, rho, freeprob.sparse_wigner_zero_atom(c)


def sparse_wigner_law(scale: float, c: float, cells: int = _CELLS) -> Measure:
    """``scale`` times the sparse (percolated, mean degree ``c``) Wigner matrix of unit variance: cavity density
    (:func:`lib.freeprob.sparse_wigner_density`, smoothed at 0.02) plus the atom of Bauer & Golinelli (2001)
    (:func:`lib.freeprob.sparse_wigner_zero_atom`), tabulated once per ``c``."""
    u, rho, atom = _sparse_wigner_table(float(c))
    return law_from_density(lambda t: np.interp(t / scale, u, rho) / scale, scale * u[0], scale * u[-1],
                            [(0.0, atom)] if atom > 0 else (), cells)


# --- families and fits --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A parametric law: ``law(*params)`` the discretised measure, ``moments(data)`` the moment-matching
    parameters, ``params`` their names. All parameters are positive except those named in ``signed``."""

    name: str
    params: tuple[str, ...]
    law: Callable[..., Measure]
    moments: Callable[[Measure], tuple[float, ...]]
    signed: tuple[str, ...] = ()
    ladders: tuple[tuple[str, tuple[float, ...]], ...] = ()


def _semicircle_moments(m: Measure) -> tuple[float, float]:
    # variance sigma^2, mean c (rmt_reference 1.2); lib.laws.fit_semicircle for weighted measures
    mean, var = mean_variance(m)
    return float(np.sqrt(var)), mean


def _marchenko_pastur_moments(m: Measure) -> tuple[float, float]:
    # mean sigma^2 and variance q sigma^4 (rmt_reference 2); lib.laws.fit_marchenko_pastur, weighted
    mean, var = mean_variance(m)
    if mean <= 0:
        raise ValueError(f"a Marchenko-Pastur fit needs a positive mean, got {mean}")
    return var / mean**2, float(np.sqrt(mean))


def _wigner_wishart_moments(m: Measure) -> tuple[float, float]:
    # symmetric law about 0: m2 = sigma^2, m4 = 2 (1 + q) sigma^4 (two non-crossing pairings, Kreweras
    # complements phi(W)^2 phi(W^2) with phi(W^2) = 1 + q); q floored at 1e-3 when the kurtosis is below 2
    m2 = float(m.weights @ m.nodes**2)
    m4 = float(m.weights @ m.nodes**4)
    return float(np.sqrt(m2)), max(1e-3, m4 / (2.0 * m2**2) - 1.0)


def _sparse_wigner_moments(m: Measure) -> tuple[float, float]:
    # s H with H sparse Wigner (Poisson(c) degrees, J^2 ~ chi^2_1 / c): m2 = s^2, m4 = s^4 (2 + 3/c)
    m2 = float(m.weights @ m.nodes**2)
    excess = float(m.weights @ m.nodes**4) / m2**2 - 2.0
    return float(np.sqrt(m2)), float(np.clip(3.0 / max(excess, 1e-9), 0.5, 50.0))


def _free_sum_moments(m: Measure) -> tuple[float, float, float]:
    # free cumulants add: kappa_1 = a, kappa_2 = a^2 (phi + s2), kappa_3 = a^3 phi^2 (MP(phi): kappa_n = phi^{n-1})
    a, var = mean_variance(m)
    if a <= 0:
        raise ValueError(f"the MP + semicircle fit needs a positive mean, got {a}")
    phi = float(np.sqrt(max(central_moment(m, 3), 0.0) / a**3))
    phi = max(phi, 1e-3)
    return a, phi, max(var / a**2 - phi, 1e-4)


def semicircle_family() -> Family:
    """Wigner semicircle, parameters ``(sigma, center)`` (variance sigma^2)."""
    return Family("semicircle", ("sigma", "center"), semicircle_law, _semicircle_moments, signed=("center",))


def marchenko_pastur_family() -> Family:
    """Marchenko-Pastur, parameters ``(q, sigma)``: ratio and ``sigma^2`` = mean; atom ``(1 - 1/q)^+``."""
    return Family("Marchenko-Pastur", ("q", "sigma"), marchenko_pastur_law, _marchenko_pastur_moments)


def wigner_wishart_family() -> Family:
    """Product Wigner x Wishart ``W^{1/2} H W^{1/2}``, parameters ``(sigma, q)`` (paper2.md 3.3 item 4)."""
    return Family("Wigner x Wishart", ("sigma", "q"), wigner_wishart_law, _wigner_wishart_moments)


def sparse_wigner_family() -> Family:
    """Percolated (sparse) Wigner, parameters ``(scale, c)``: mean degree c (paper2.md 3.4)."""
    return Family("percolated Wigner", ("scale", "c"), sparse_wigner_law, _sparse_wigner_moments,
                  ladders=(("c", SPARSE_DEGREES),))


def free_sum_family() -> Family:
    """MP + semicircle free sum (Pennington & Bahri 2017), parameters ``(scale, phi, s2)``."""
    return Family("MP + semicircle", ("scale", "phi", "s2"), free_sum_law, _free_sum_moments)


def chain_product_family(widths: Sequence[int]) -> Family:
    """Wishart chain product with the given widths ``N_0, ..., N_M`` (from the network), parameter ``scale``
    matched to the mean (the chain law has unit mean; paper2.md 3.3 item 2)."""
    widths = tuple(int(n) for n in widths)
    freeprob.chain_product_atom(widths)  # validates
    label = "x".join(str(n) for n in widths)
    return Family(f"Wishart chain {label}", ("scale",), lambda s: chain_product_law(widths, s),
                  lambda m: (max(mean_variance(m)[0], 1e-12),))


@dataclass(frozen=True)
class Fit:
    """A fitted law with its goodness of fit: KS and W1 distances to the data, the KS distance of the bulk
    (both measures conditioned on ``|x| > zero_tol``: the shape without the atom; nan if either has no bulk),
    and the weight near zero (in ``|x| <= zero_tol``) predicted by the law and observed in the data."""

    family: str
    method: str
    params: dict[str, float]
    law: Measure
    ks: float
    w1: float
    ks_bulk: float
    zero_predicted: float
    zero_observed: float
    zero_tol: float


def smoothed_density(measure: Measure, grid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed density of a measure on ``grid`` (:func:`lib.lanczos.gaussian_density`)."""
    return gaussian_density(measure.nodes, measure.weights, grid, sigma)


def default_grid(data: Measure, points: int = _GRID) -> tuple[np.ndarray, float]:
    """A grid over the data's range (padded by 10 %) and a kernel width of 1 % of that range."""
    lo, hi = float(data.nodes[0]), float(data.nodes[-1])
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, points), 0.01 * (hi - lo + 2 * pad) / 1.2


def _snap(family: Family, params: Sequence[float]) -> list[float]:
    """Parameters with every discrete one moved to the nearest value of its ladder (in log scale)."""
    ladders = dict(family.ladders)
    return [min(ladders[n], key=lambda v, p=p: abs(np.log(v / p))) if n in ladders else float(p)
            for n, p in zip(family.params, params, strict=True)]


def _to_free(family: Family, name: str, value: float) -> float:
    return value if name in family.signed else float(np.log(value))


def _from_free(family: Family, name: str, value: float) -> float:
    return float(value if name in family.signed else np.exp(value))


def _least_squares(family: Family, data: Measure, start: list[float], grid: np.ndarray, sigma: float,
                   max_iter: int) -> list[float]:
    """Nelder-Mead on the continuous parameters (log scale where positive), for each rung of the ladders."""
    target = smoothed_density(data, grid, sigma)
    ladders = dict(family.ladders)
    free = [i for i, n in enumerate(family.params) if n not in ladders]

    def loss(params: list[float]) -> float:
        try:
            model = smoothed_density(family.law(*params), grid, sigma)
        except (ValueError, FloatingPointError, ZeroDivisionError):
            return float("inf")
        return float(np.sum((model - target) ** 2))

    best, best_loss = start, np.inf
    for rungs in itertools.product(*(ladders[n] for n in family.params if n in ladders)):
        params = list(start)
        for (i, _), v in zip(((i, n) for i, n in enumerate(family.params) if n in ladders), rungs, strict=True):
            params[i] = v

        def objective(z: np.ndarray, params: list[float] = params) -> float:
            trial = list(params)
            for i, v in zip(free, z, strict=True):
                trial[i] = _from_free(family, family.params[i], v)
            return loss(trial)

        z0 = np.array([_to_free(family, family.params[i], params[i]) for i in free])
        res = minimize(objective, z0, method="Nelder-Mead",
                       options={"maxiter": max_iter, "xatol": 1e-3, "fatol": 1e-12})
        if res.fun < best_loss:
            best_loss = res.fun
            best = list(params)
            for i, v in zip(free, res.x, strict=True):
                best[i] = _from_free(family, family.params[i], v)
    return best


def fit_law(family: Family, data: Measure, method: str = "moments", *, grid: np.ndarray | None = None,
            sigma: float | None = None, zero_rel: float = 1e-3, zero_tol: float | None = None,
            max_iter: int = 120) -> Fit:
    """Fit ``family`` to ``data`` by ``"moments"`` (closed-form moment matching) or ``"lsq"``.

    ``lsq`` minimises ``sum_grid (rho_data(x) - rho_law(x))^2`` with both densities Gaussian-smoothed at width
    ``sigma`` on ``grid`` (defaults: :func:`default_grid`), by Nelder-Mead in log-parameters started from the
    moment fit, for every rung of a discrete parameter's ladder. Discrete parameters of the moment fit are
    moved to the nearest rung. The weight near zero is counted in ``|x| <= tol``, ``tol = zero_tol`` if given
    (e.g. ``1e-3 lambda_max`` of the spectrum before outliers were removed), else ``zero_rel * max |x_data|``;
    the distances are taken with the data's nodes in that window moved to 0 (:func:`snap_zeros`).
    """
    if method not in ("moments", "lsq"):
        raise ValueError(f"method must be 'moments' or 'lsq', got {method!r}")
    params = _snap(family, family.moments(data))
    if method == "lsq":
        default, width = default_grid(data)
        grid = default if grid is None else np.asarray(grid, dtype=float)
        params = _least_squares(family, data, params, grid, width if sigma is None else float(sigma), max_iter)
    law = family.law(*params)
    tol = zero_tolerance(data, zero_rel) if zero_tol is None else float(zero_tol)
    if not tol >= 0:
        raise ValueError(f"zero_tol must be >= 0, got {zero_tol}")
    snapped = snap_zeros(data, tol)
    bulk_data, bulk_law = away_from_zero(data, tol), away_from_zero(law, tol)
    ks_bulk = ks_distance(bulk_data, bulk_law) if bulk_data is not None and bulk_law is not None else float("nan")
    return Fit(family.name, method, dict(zip(family.params, params, strict=True)), law, ks_distance(snapped, law),
               wasserstein1(snapped, law), ks_bulk, weight_near_zero(law, tol), weight_near_zero(data, tol), tol)
