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

Spectra, their distances and smoothing are :mod:`lib.rmt.measures`; NumPy/SciPy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import minimize

from lib.rmt import freeprob
from lib.rmt.laws import marchenko_pastur_atom, marchenko_pastur_cdf, marchenko_pastur_edges, semicircle_cdf
from lib.rmt.measures import (
    Measure,
    central_moment,
    gap_cut,
    ks_away_from_zero,
    ks_between,
    mean_variance,
    remove_above,
    smoothed_density,
    snap_zeros,
    sorted_measure,
    spectral_measure,
    wasserstein1,
    weight_near_zero,
    zero_tolerance,
)

_CELLS = 600  # cells of a discretised law: KS error <= the largest cell mass, W1 error <= half a cell
_GRID = 400  # points of the grid on which smoothed densities are compared
#: mean degrees c at which the sparse Wigner law is tabulated (population dynamics is costly); below c ~ 0.05 the
#: atom (> 0.95) leaves a continuous part too thin for the population of 1,000 (see :func:`sparse_wigner_law`)
SPARSE_DEGREES = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0)


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
    return sorted_measure(nodes[keep], weights[keep])


def semicircle_law(sigma: float, center: float = 0.0, cells: int = _CELLS) -> Measure:
    """Semicircle of variance ``sigma^2`` centred at ``center`` (:func:`lib.rmt.laws.semicircle_cdf`)."""
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
    (:func:`lib.rmt.freeprob.chain_product_density`; unit mean), atom ``1 - min N_i / N_0`` at zero."""
    q = np.asarray(widths, dtype=float)[0] / np.asarray(widths, dtype=float)[1:]
    hi = scale * float(np.prod(1.0 + np.sqrt(q)) ** 2)  # the support lies inside [0, prod (1 + sqrt q_i)^2]
    atom = freeprob.chain_product_atom(widths)
    return law_from_density(lambda t: freeprob.chain_product_density(t / scale, widths) / scale, 0.0, hi,
                            [(0.0, atom)] if atom > 0 else (), cells)


def wigner_wishart_law(sigma: float, q: float, cells: int = _CELLS) -> Measure:
    """``W^{1/2} H W^{1/2}``: semicircle ``H`` of variance ``sigma^2`` times unit-mean MP(q)
    (:func:`lib.rmt.freeprob.wigner_wishart_density`), atom ``(1 - 1/q)^+`` at zero."""
    edge = sigma * (1.0 + np.sqrt(q)) ** 2 * 1.6  # beyond the support edge (2 sigma at q = 0)
    atom = freeprob.wigner_wishart_atom(q)
    # for q > 1 the continuous part peaks sharply at 0 (paper2.md 3.3 item 4): finer cells there
    return law_from_density(lambda t: freeprob.wigner_wishart_density(t, q, sigma), -edge, edge,
                            [(0.0, atom)] if atom > 0 else (), cells, refine=(0.0, 0.05 * edge))


def free_sum_law(scale: float, phi: float, s2: float, cells: int = _CELLS) -> Measure:
    """``scale`` times MP(phi) (unit mean) plus a free semicircle of variance ``s2``: the Hessian model of
    Pennington & Bahri (2017) (:func:`lib.rmt.freeprob.free_sum_mp_semicircle_density`). No atom."""
    lo = min(0.0, (1.0 - np.sqrt(phi)) ** 2) - 2.0 * np.sqrt(s2)
    hi = (1.0 + np.sqrt(phi)) ** 2 + 2.0 * np.sqrt(s2)
    # for phi > 1 the MP atom, smeared by the semicircle, is a peak of width ~ sqrt(s2) at 0: finer cells there
    return law_from_density(lambda t: freeprob.free_sum_mp_semicircle_density(t / scale, phi, s2) / scale,
                            scale * lo, scale * hi, cells=cells, refine=(0.0, 4.0 * scale * np.sqrt(s2)))


@lru_cache(maxsize=64)
def _sparse_wigner_table(c: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit-scale sparse Wigner density of mean degree c on a grid (population dynamics), and its atom. Below
    c = 1 the weights ``J ~ N(0, 1/c)`` of the isolated edges that make up most of the continuous part reach
    ``|x| ~ 4 / sqrt(c)``: the grid spans ``6 / sqrt(min(c, 1))`` on each side so that no mass is cut off."""
    half = 6.0 / np.sqrt(min(c, 1.0))
    u = np.linspace(-half, half, 301 if c >= 1.0 else 601)
    rho = np.asarray(freeprob.sparse_wigner_density(u, c, eps=2e-2, population=1000, sweeps=40, rng=0))
    return u, rho, freeprob.sparse_wigner_zero_atom(c)


def sparse_wigner_law(scale: float, c: float, cells: int = _CELLS) -> Measure:
    """``scale`` times the sparse (percolated, mean degree ``c``) Wigner matrix of unit variance: cavity density
    (:func:`lib.rmt.freeprob.sparse_wigner_density`, smoothed at 0.02) plus the atom of Bauer & Golinelli (2001)
    (:func:`lib.rmt.freeprob.sparse_wigner_zero_atom`), tabulated once per ``c``. The continuous mass of the
    table is rescaled to ``1 - atom``; tests/test_spectral_fits.py checks that the raw table holds that mass to a
    few per cent down to c = 0.05, the smallest degree of :data:`SPARSE_DEGREES`."""
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
    # variance sigma^2, mean c (rmt_reference 1.2); lib.rmt.laws.fit_semicircle for weighted measures
    mean, var = mean_variance(m)
    return float(np.sqrt(var)), mean


def _marchenko_pastur_moments(m: Measure) -> tuple[float, float]:
    # mean sigma^2 and variance q sigma^4 (rmt_reference 2); lib.rmt.laws.fit_marchenko_pastur, weighted
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
    return float(np.sqrt(m2)), float(np.clip(3.0 / max(excess, 1e-9), min(SPARSE_DEGREES), 50.0))


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
    return Fit(family.name, method, dict(zip(family.params, params, strict=True)), law, ks_between(snapped, law),
               wasserstein1(snapped, law), ks_away_from_zero(data, law, tol), weight_near_zero(law, tol),
               weight_near_zero(data, tol), tol)


# --- the fitting protocol: outlier variants of a spectrum and the fit table ----------------------------------


def outlier_variants(nodes: np.ndarray, weights: np.ndarray | None, num_classes: int,
                     top_k: Sequence[int] = (0, 10), gap_ratio: float = 0.25) -> dict[str, Measure]:
    """The spectrum with its outliers removed in each way of paper2.md 2.3, keyed ``"k=<k>"`` and ``"gap"``.

    ``k`` runs over ``{0} | top_k | {C}``; a ``k`` is kept when it removes fewer than half the nodes of a probe
    (``k < m // 2``, with ``m`` Lanczos steps or P eigenvalues), so that the bulk is left; ``k = 0`` is always
    there. ``weights=None`` means exact eigenvalues. The gap rule is :func:`lib.rmt.measures.gap_cut`.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    bad = [k for k in top_k if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0]
    if bad:
        raise ValueError(f"top_k must hold non-negative integers, got {list(top_k)!r}")
    m = int(np.shape(np.atleast_2d(nodes))[-1])
    ks = [k for k in sorted({0, *(int(k) for k in top_k), int(num_classes)}) if k == 0 or k < m // 2]
    out = {f"k={k}": spectral_measure(nodes, weights, drop_top=k) for k in ks}
    full = out["k=0"]
    out["gap"] = remove_above(full, gap_cut(full, ratio=gap_ratio))
    return out


def reference_variant(variants: Mapping[str, Measure], num_classes: int) -> str:
    """The variant the least-squares fits and the figures use: ``k = C`` when present, else the largest ``k``
    present (short Lanczos runs cannot drop C nodes)."""
    if f"k={num_classes}" in variants:
        return f"k={num_classes}"
    ks = [int(key[2:]) for key in variants if key.startswith("k=")]
    if not ks:
        raise ValueError(f"no top-k variant among {list(variants)}")
    return f"k={max(ks)}"


def fit_rows(label: str, variants: Mapping[str, Measure], families: Sequence[Family],
             lsq_variants: Sequence[str] = (), *, zero_tol: float | None = None, max_iter: int = 60,
             log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """One row per (outlier variant, family, method): moment fits everywhere, least squares on ``lsq_variants``.

    Columns: spectrum, outliers, family, method, params, KS, W1, KS bulk, zero pred., zero obs., fit (the
    :class:`lib.rmt.law_fits.Fit`). The weight "at zero" is counted in ``|lambda| <= zero_tol``, by default
    ``1e-3 lambda_max`` of the ``k=0`` variant (the whole spectrum). A family that cannot fit (a positive law
    against a negative mean) is reported through ``log`` and skipped.
    """
    tol = zero_tolerance(variants["k=0"]) if zero_tol is None else float(zero_tol)
    rows = []
    for variant, measure in variants.items():
        for fam in families:
            for method in ("moments", "lsq") if variant in lsq_variants else ("moments",):
                try:
                    f = fit_law(fam, measure, method, max_iter=max_iter, zero_tol=tol)
                except ValueError as exc:
                    if log is not None:
                        log(f"{label}, {variant}: no {fam.name} fit ({exc})")
                    continue
                rows.append({"spectrum": label, "outliers": variant, "family": f.family, "method": method,
                             "params": ", ".join(f"{k}={v:.3g}" for k, v in f.params.items()), "KS": f.ks,
                             "W1": f.w1, "KS bulk": f.ks_bulk, "zero pred.": f.zero_predicted,
                             "zero obs.": f.zero_observed, "fit": f})
    return rows


def best_value(rows: Sequence[Mapping[str, Any]], spectrum: str, families: Sequence[str],
               column: str = "KS", outliers: str | None = None) -> float:
    """The smallest ``column`` over the fit rows of ``spectrum`` whose family name starts with one of
    ``families`` (any method; any outlier variant, or only ``outliers`` when given); nan when there is none."""
    values = [float(r[column]) for r in rows if r["spectrum"] == spectrum
              and str(r["family"]).startswith(tuple(families)) and np.isfinite(r[column])
              and (outliers is None or r["outliers"] == outliers)]
    return min(values) if values else float("nan")
