"""Level statistics of spectra with a null space: paper 1's selection of levels and the short-range statistics
compared with the GOE.

Paper 1 (Baskerville, Granziol & Keating 2022, arXiv:2102.06740) compares the spacing ratios and unfolded
spacings of exact batch-Hessian spectra with the GOE laws, after removing |lambda| <= eps for an absolute eps
(1e-10 or 1e-20). A batch Hessian that is linear in its parameters (softmax regression) and every batch GGN has
rank at most r = b (C - 1) (resp. b C), so most of its P eigenvalues are round-off in the exact null space. This
module

* splits a spectrum into its genuine and null-space populations, by the rank bound or by a cut-off relative to
  max |lambda| (``select_levels``);
* computes per-population statistics: number of levels, <r~> with a block-bootstrap confidence interval, the KS
  distances of r~ to the GOE and Poisson laws, and of unfolded spacings to the exact GOE law, the Wigner surmise and
  Poisson (``level_statistics``);
* computes the proportion of eigenvalues below a cut-off (``proportion_below``, paper 1's justification plot).

NumPy/SciPy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from lib.rmt.ensembles import beta_hermite, poisson_levels
from lib.rmt.levels import as_levels, as_spectra
from lib.rmt.measures import ks_to_cdf
from lib.rmt.spacings import (
    MEAN_MIN_RATIO_PUBLISHED,
    exact_spacing_cdf,
    mean_min_ratio_ci,
    min_ratio_cdf,
    min_ratios,
    poisson_spacing_cdf,
    unfold_leave_one_out,
    unfold_spline,
    wigner_surmise_cdf,
)

#: Large-N GOE <r~> (Atas et al. 2013, Table I) and the exact Poisson value 2 ln 2 - 1.
GOE_MEAN_MIN_RATIO = MEAN_MIN_RATIO_PUBLISHED[1]
POISSON_MEAN_MIN_RATIO = MEAN_MIN_RATIO_PUBLISHED[0]

#: Levels per interior knot of the spline unfolding: n // LEVELS_PER_KNOT knots (at least one) for a spectrum of
#: n levels. Fewer levels per knot absorb the fluctuations being measured: with 20 knots on 144 Poisson levels the
#: unfolded spacing variance is 0.72 instead of 1; with 50 levels per knot it is above 0.9 from n = 64 on.
LEVELS_PER_KNOT = 50

Part = Literal["genuine", "null"]
Unfolding = Literal["pool", "spline"]
Ensemble = Literal["goe", "poisson"]


# --- populations: genuine levels and null-space round-off -------------------------------------------------


def select_levels(
    spectrum: ArrayLike,
    *,
    cutoff: float = 0.0,
    relative: bool = False,
    rank_bound: int | None = None,
    part: Part = "genuine",
) -> np.ndarray:
    """The sorted "genuine" (or, with ``part="null"``, the complementary null-space) eigenvalues of one spectrum.

    Genuine levels are either the ``rank_bound`` levels of largest |lambda| (a matrix of rank <= r has at most r
    non-zero eigenvalues; the other P - r are round-off of size ~ eps_machine max|lambda|), or, without a rank
    bound, those with |lambda| > eps, eps = ``cutoff`` (absolute, paper 1's 1e-10 / 1e-20) or ``cutoff`` x
    max|lambda| when ``relative``.
    """
    levels = as_levels(spectrum, 1, "a level selection")
    if levels.ndim != 1:
        raise ValueError(f"select_levels takes one spectrum, got shape {levels.shape}")
    if part not in ("genuine", "null"):
        raise ValueError(f"part must be 'genuine' or 'null', got {part!r}")
    if not cutoff >= 0:
        raise ValueError(f"cutoff must be non-negative, got {cutoff!r}")
    magnitude = np.abs(levels)
    if rank_bound is not None:
        if isinstance(rank_bound, bool) or not isinstance(rank_bound, int | np.integer) or rank_bound < 0:
            raise ValueError(f"rank_bound must be a non-negative integer, got {rank_bound!r}")
        keep = np.zeros(levels.size, dtype=bool)
        keep[np.argsort(magnitude, kind="stable")[levels.size - min(int(rank_bound), levels.size):]] = True
    else:
        threshold = cutoff * magnitude.max() if relative else cutoff
        keep = magnitude > threshold
    return levels[keep] if part == "genuine" else levels[~keep]


def select_spectra(
    spectra: ArrayLike | Sequence[ArrayLike],
    *,
    cutoff: float = 0.0,
    relative: bool = False,
    rank_bounds: ArrayLike | None = None,
    part: Part = "genuine",
) -> list[np.ndarray]:
    """``select_levels`` applied to each spectrum (rows of a 2-D array), with one rank bound per spectrum."""
    rows = as_spectra(spectra, 1, "a level selection")
    bounds = [None] * len(rows) if rank_bounds is None else [int(b) for b in np.ravel(rank_bounds)]
    if len(bounds) != len(rows):
        raise ValueError(f"got {len(bounds)} rank bounds for {len(rows)} spectra")
    return [select_levels(row, cutoff=cutoff, relative=relative, rank_bound=bound, part=part)
            for row, bound in zip(rows, bounds, strict=True)]


def proportion_below(spectra: ArrayLike | Sequence[ArrayLike], cutoffs: ArrayLike) -> np.ndarray:
    """Fraction of all eigenvalues (pooled over the spectra) with |lambda| < eps, for each eps in ``cutoffs``.

    Paper 1's ``proportion_hessian_evals_below_cutoff`` figure; to be read against the rank-bound fraction 1 - r/P.
    """
    magnitude = np.sort(np.abs(np.concatenate(as_spectra(spectra, 1, "the proportion below a cut-off"))))
    eps = np.asarray(cutoffs, dtype=float)
    if np.any(~np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError("cut-offs must be finite and non-negative")
    return np.searchsorted(magnitude, eps, side="left") / magnitude.size


def global_density_levels(spectra: ArrayLike | Sequence[ArrayLike]) -> np.ndarray:
    """All eigenvalues pooled and divided by 2 sqrt(P), P the length of each spectrum (paper 1's density plots)."""
    return np.concatenate([row / (2 * np.sqrt(row.size)) for row in as_spectra(spectra, 1, "the global density")])


# --- statistics of one population -------------------------------------------------------------------------


@functools.cache
def _tabulated_law(law: str) -> Callable[[np.ndarray], np.ndarray]:
    """The GOE CDF ``law`` ("spacing": the exact Gaudin-Mehta law on [0, 8], "min_ratio": the large-N r~ law on
    [0, 1]) as linear interpolation in a table of 16,001 exact values (interpolation error below 1e-7, the exact
    law's own accuracy): the KS distances of the null draws evaluate it millions of times."""
    if law == "spacing":
        grid = np.linspace(0.0, 8.0, 16_001)
        values = np.asarray(exact_spacing_cdf(grid, 1))
    else:
        grid = np.linspace(0.0, 1.0, 16_001)
        values = np.asarray(min_ratio_cdf(grid, 1, "large_n"))
    return lambda x: np.interp(x, grid, values)



def _distinct(rows: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Rows without repeated levels (exact degeneracies make ratios undefined) and how many were removed."""
    unique = [np.unique(r) for r in rows]
    return unique, sum(r.size - u.size for r, u in zip(rows, unique, strict=True))


def spline_knots(n_levels: int) -> int:
    """Interior knots of the spline unfolding of a spectrum of ``n_levels`` levels: n // LEVELS_PER_KNOT, >= 1."""
    return max(1, int(n_levels) // LEVELS_PER_KNOT)


def unfolded_spacings(
    spectra: ArrayLike | Sequence[ArrayLike], unfolding: Unfolding = "pool", n_knots: int | None = None
) -> np.ndarray:
    """Pooled unfolded spacings: the ensemble staircase of paper 1, each spectrum unfolded against the other
    spectra (leave-one-out, smoothed: ``lib.rmt.unfolding.unfold_leave_one_out``), or, per spectrum, a least-squares
    piecewise-linear spline of the staircase with ``n_knots`` knots at level quantiles
    (``lib.rmt.unfolding.unfold_spline``, degree 1; default ``spline_knots`` of the spectrum's level count) in the
    coordinate u = asinh(lambda / median|lambda|).

    Paper 1 unfolded the first floor(M/3) spectra against the raw staircase of the other p (``unfold_pool``), whose
    spacings are multiples of 1/p: with p = 4 to 8 spectra this comb alone puts the KS distance of GOE spectra at
    0.07 to 0.17; the leave-one-out pool uses every spectrum and has no comb.

    Unfolding is invariant under a smooth increasing change of variable, and Hessian spectra span many decades
    (a spike of near-zero levels and a long tail), which no spline in lambda follows; in u both the spike and the
    tail are spread out. Cubic pieces still overshoot next to isolated outliers (a decreasing fit, hence negative
    spacings), piecewise-linear ones do not in practice."""
    rows = as_spectra(spectra, 3, "unfolding")
    if unfolding == "pool":
        if len(rows) < 2:
            raise ValueError("pool unfolding needs at least 2 spectra (one to unfold, the others for the pool)")
        unfolded = [u for u in unfold_leave_one_out(rows) if u.size >= 2]
    elif unfolding == "spline":
        unfolded = [unfold_spline(np.arcsinh(r / np.median(np.abs(r))),
                                  spline_knots(r.size) if n_knots is None else n_knots, degree=1) for r in rows]
    else:
        raise ValueError(f"unfolding must be 'pool' or 'spline', got {unfolding!r}")
    return np.concatenate([np.diff(u) for u in unfolded])


def interval_miss(lo: float, hi: float, value: float = GOE_MEAN_MIN_RATIO) -> float:
    """How far ``value`` lies outside the interval [lo, hi]: max(lo - value, value - hi, 0) (0 when inside)."""
    return float(max(lo - value, value - hi, 0.0))


def _ratio_statistics(rows: Sequence[np.ndarray], n_boot: int, seed: int) -> dict[str, float]:
    """The r~ part of ``level_statistics`` for rows of distinct sorted levels (at least 3 each)."""
    ratios = np.concatenate([min_ratios(r) for r in rows])
    mean, lo, hi = mean_min_ratio_ci(ratios, n_boot, seed, kind="ratios")
    return {
        "n_ratios": int(ratios.size),
        "mean_min_ratio": mean,
        "ci_lo": lo,
        "ci_hi": hi,
        "ratio_miss": interval_miss(lo, hi),
        "ks_ratio_goe": ks_to_cdf(ratios, _tabulated_law("min_ratio")),
        "ks_ratio_poisson": ks_to_cdf(ratios, lambda r: min_ratio_cdf(r, 0)),
    }


def level_statistics(
    spectra: ArrayLike | Sequence[ArrayLike],
    *,
    unfolding: Unfolding = "pool",
    n_knots: int | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Short-range statistics of an ensemble of spectra (rows, possibly of different lengths), as a flat dict.

    * ``n_spectra``, ``n_levels`` (pooled), ``n_degenerate`` (repeated levels dropped first), ``n_ratios``;
    * ``mean_min_ratio`` <r~>, r~ = min(s_n, s_{n-1}) / max(s_n, s_{n-1}) taken within each spectrum, with a 95 %
      moving-block bootstrap interval ``ci_lo``, ``ci_hi`` (``lib.rmt.spacings.mean_min_ratio_ci``), to be read against
      0.5307 (GOE, Atas et al. 2013) and 0.3863 (Poisson), and ``ratio_miss``, how far 0.5307 lies outside that
      interval (``interval_miss``);
    * ``ks_ratio_goe``, ``ks_ratio_poisson``: KS distances of the pooled r~ to the large-N GOE law 2 (P_W + delta P)
      (Atas et al. 2013, the surmise with their fitted large-N correction, ``ratio_pdf(..., law="large_n")``) and
      to the Poisson law 2 / (1 + r)^2;
    * ``n_spacings``, ``mean_spacing``, ``ks_spacing_goe``, ``ks_spacing_surmise``, ``ks_spacing_poisson``: the
      unfolded spacings (``unfolding``: the leave-one-out pool staircase or a linear spline with ``n_knots`` knots, see
      ``unfolded_spacings``) against the exact N -> infinity GOE law (Gaudin-Mehta), the Wigner surmise
      (pi s / 2) exp(-pi s^2 / 4) and exp(-s); NaN with ``unfold_failed`` = 1 when the spline is not increasing
      on the data.
    """
    rows, n_degenerate = _distinct(as_spectra(spectra, 1, "level statistics"))
    rows = [r for r in rows if r.size >= 3]
    if not rows:
        raise ValueError("level statistics need at least one spectrum with 3 distinct levels")
    out = {
        "n_spectra": len(rows),
        "n_levels": int(sum(r.size for r in rows)),
        "n_degenerate": int(n_degenerate),
    } | _ratio_statistics(rows, n_boot, seed)
    try:
        s = unfolded_spacings(rows, unfolding, n_knots)
        spacing = {
            "n_spacings": int(s.size),
            "mean_spacing": float(s.mean()),
            "ks_spacing_goe": ks_to_cdf(s, _tabulated_law("spacing")),
            "ks_spacing_surmise": ks_to_cdf(s, lambda x: wigner_surmise_cdf(x, 1)),
            "ks_spacing_poisson": ks_to_cdf(s, poisson_spacing_cdf),
            "unfold_failed": 0,
        }
    except ValueError:
        if unfolding != "spline":
            raise
        keys = ("n_spacings", "mean_spacing", "ks_spacing_goe", "ks_spacing_surmise", "ks_spacing_poisson")
        spacing = dict.fromkeys(keys, np.nan) | {"unfold_failed": 1}
    return out | spacing


# --- the same statistics under a null model of the same size ----------------------------------------------


def simulated_statistics(
    sizes: Sequence[int],
    ensemble: Ensemble,
    replicas: int,
    *,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """``replicas`` draws of the statistics of ``level_statistics`` under a null model of the measured size.

    Each draw is one set of spectra with ``sizes[j]`` levels in spectrum j (the levels a selection kept in each
    measured spectrum; a GOE or Poisson spectrum has no null space, so the selection keeps all of them): GOE
    spectra (``ensemble="goe"``; the tridiagonal ``beta_hermite`` at beta = 1, the GOE eigenvalue law) or Poisson
    levels (``poisson_levels``). The draw's statistics are computed by ``level_statistics`` itself, with the same
    moving-block bootstrap (``n_boot``) and the same spline unfolding (``spline_knots`` of each spectrum). Returns
    arrays of ``ratio_miss``, ``mean_min_ratio``, ``ks_ratio_goe``, ``ks_spacing_goe`` (spline unfolding; NaN where
    the spline fails) and ``ks_spacing_goe_pool`` (the leave-one-out pool unfolding of ``unfolded_spacings``; NaN for
    a single spectrum): the inputs of ``lib.book.verdict_rules.calibrate``.
    """
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 3:
        raise ValueError(f"need at least one spectrum of at least 3 levels, got sizes {sizes}")
    if ensemble not in ("goe", "poisson"):
        raise ValueError(f"ensemble must be 'goe' or 'poisson', got {ensemble!r}")
    if isinstance(replicas, bool) or not isinstance(replicas, int | np.integer) or replicas < 1:
        raise ValueError(f"replicas must be a positive integer, got {replicas!r}")
    draw = (lambda n, g: beta_hermite(n, 1, g)) if ensemble == "goe" else poisson_levels
    keys = ("ratio_miss", "mean_min_ratio", "ks_ratio_goe", "ks_spacing_goe")
    out = {k: np.empty(replicas) for k in (*keys, "ks_spacing_goe_pool")}
    rng = np.random.default_rng(seed)
    for i in range(replicas):
        rows = [draw(n, rng) for n in sizes]
        stats = level_statistics(rows, unfolding="spline", n_boot=n_boot, seed=int(rng.integers(2**31)))
        for k in keys:
            out[k][i] = stats[k]
        out["ks_spacing_goe_pool"][i] = (ks_to_cdf(unfolded_spacings(rows, "pool"), _tabulated_law("spacing"))
                                         if len(rows) >= 2 else np.nan)
    return out
