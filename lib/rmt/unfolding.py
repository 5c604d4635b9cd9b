"""Unfolding: map levels E_i to epsilon_i = Nbar(E_i), the smooth counting function, so the mean spacing is 1.

Three estimates of Nbar (Guhr, Mueller-Groeling & Weidenmueller 1998, Phys. Rep. 299, 189):

* ``unfold_pool``: the ensemble staircase of paper 1 (Baskerville, Granziol & Keating, "Appearance of random
  matrix theory in deep learning", notebooks adapted from ``unfoldr``): Nbar(lambda) = #{pool < lambda} / p
  counted over p other spectra of the same ensemble; no fit, no smoothing. Its unfolded spacings are multiples
  of 1/p, a comb that dominates their KS distance when p is a handful of spectra.
* ``unfold_leave_one_out``: the same ensemble staircase with every spectrum unfolded against all the OTHER
  spectra, smoothed by linear interpolation between pool knots a few mean spacings apart: no 1/p comb, no
  spectrum unfolded by its own levels.
* ``unfold_polynomial``: a least-squares polynomial fit of one spectrum's staircase.
* ``unfold_spline``: a least-squares cubic spline fit of the staircase with knots at level quantiles.

The fits carry the usual pitfalls (Gomez, Molina, Relano & Retamosa 2002, PRE 66, 036209; Abuelenin 2018,
arXiv:1803.00392): too few degrees of freedom leave secular trends (inflated Sigma^2 and Delta_3 at large L),
too many absorb genuine fluctuations (spurious rigidity), and a fit that is not increasing on the data
produces negative spacings (raised as ``ValueError`` here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.polynomial import Polynomial
from numpy.typing import ArrayLike
from scipy.interpolate import make_lsq_spline

from lib.rmt.levels import as_levels, as_spectra


def unfold_pool(
    spectra_to_unfold: ArrayLike | Sequence[ArrayLike], pool_spectra: ArrayLike | Sequence[ArrayLike]
) -> np.ndarray | list[np.ndarray]:
    """Unfolded LEVELS Nbar(lambda_j) of each spectrum, with the pooled ensemble staircase of paper 1.

    Nbar(lambda) = #{pi in Pool : pi < lambda} / p (strict inequality), where the pool is the concatenation of
    the p ``pool_spectra`` (paper 1's notebooks use p = M - floor(M/3) of M batch spectra and unfold the other
    floor(M/3)). Nbar is the expected number of levels below lambda per spectrum, so unfolded spacings
    ``np.diff`` of each returned row have mean about 1; paper 1 pools those spacings into one histogram.

    ``spectra_to_unfold``: one spectrum (1-D), several (2-D, one per row) or a ragged sequence of 1-D arrays;
    the result has the same layout (levels sorted within each spectrum). The pool spectra must come from
    the same ensemble and should be disjoint from the unfolded ones, as in paper 1.
    """
    pool_rows = as_spectra(pool_spectra, 1, "the unfolding pool")
    pool = np.sort(np.concatenate(pool_rows))
    n_pool = len(pool_rows)

    def unfold_one(levels: np.ndarray) -> np.ndarray:
        return np.searchsorted(pool, levels, side="left") / n_pool  # side="left": #{pool < lambda}

    if not isinstance(spectra_to_unfold, list | tuple) or np.ndim(spectra_to_unfold[0]) == 0:
        return unfold_one(as_levels(spectra_to_unfold, 1, "unfolding"))
    return [unfold_one(row) for row in as_spectra(spectra_to_unfold, 1, "unfolding")]


#: Mean level spacings (of one spectrum) between the knots of ``unfold_leave_one_out``'s smoothed pool staircase:
#: on GOE spectra (5 x 64 to 4 x 300 levels) 5 brings the KS distance of the unfolded spacings to the exact GOE
#: law to that of the per-spectrum spline and below the i.i.d. 95 % critical value, where interpolating through
#: every pool level (1) leaves it up to 2 times larger (the pool's own local fluctuations).
POOL_KNOT_SPACINGS = 5


def unfold_leave_one_out(
    spectra: Sequence[ArrayLike], knot_spacings: int = POOL_KNOT_SPACINGS
) -> list[np.ndarray]:
    """Unfolded levels of each spectrum against the smoothed pooled staircase of the other spectra.

    For spectrum k the pool is the concatenation of the other p = M - 1 spectra, sorted, pi_1 < ... < pi_n, with the
    staircase Nbar(pi_j) = (j - 1/2) / p (the mean number of levels below pi_j per spectrum, as in ``unfold_pool``).
    Nbar is interpolated linearly between every (``knot_spacings`` p)-th pool level (and the last), so the unfolded
    levels are continuous (no multiples of 1/p) and the pool's own local fluctuations are averaged over
    ``knot_spacings`` mean spacings. Levels outside the range of the pool are dropped (the staircase is not known
    there). Returns one array of unfolded levels per spectrum, sorted (Guhr et al. 1998 on ensemble unfolding).
    """
    rows = as_spectra(spectra, 1, "leave-one-out unfolding")
    if len(rows) < 2:
        raise ValueError("leave-one-out unfolding needs at least 2 spectra")
    if isinstance(knot_spacings, bool) or not isinstance(knot_spacings, int | np.integer) or knot_spacings < 1:
        raise ValueError(f"knot_spacings must be a positive integer, got {knot_spacings!r}")
    p = len(rows) - 1
    out = []
    for k, levels in enumerate(rows):
        pool = np.sort(np.concatenate([r for j, r in enumerate(rows) if j != k]))
        knots = np.unique(np.r_[np.arange(0, pool.size, int(knot_spacings) * p), pool.size - 1])
        x, staircase = pool[knots], (knots + 0.5) / p
        inside = np.sort(levels[(levels >= x[0]) & (levels <= x[-1])])
        out.append(np.interp(inside, x, staircase))
    return out


def _staircase(levels: ArrayLike, min_count: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted 1-D levels E_i and the staircase N(E_i) = i - 1/2 (mid-step, i = 1..n) that the fits target."""
    x = as_levels(levels, min_count, what)
    if x.ndim != 1:
        raise ValueError(f"{what} fits one spectrum; got an array of shape {x.shape}")
    if x[-1] == x[0]:
        raise ValueError("all levels are equal; there is no staircase to fit")
    return x, np.arange(1, x.size + 1) - 0.5


def _check_increasing(unfolded: np.ndarray, levels: np.ndarray, what: str) -> np.ndarray:
    """Raise ``ValueError`` if the fitted staircase decreases between two distinct sorted levels."""
    step = np.diff(unfolded)
    bad = (step < 0) & (np.diff(levels) > 0)
    if np.any(bad):
        where = levels[1:][bad][0]
        raise ValueError(
            f"{what} is not increasing on the data (first decrease near E = {where:.6g}); "
            "negative spacings would follow: lower the degree / number of knots or trim outliers"
        )
    return unfolded


def unfold_polynomial(levels: ArrayLike, degree: int) -> np.ndarray:
    """Unfolded levels Nbar(E_i) from a least-squares polynomial fit of degree ``degree`` to the staircase.

    Fits N(E_i) = i - 1/2 (sorted E_i) in the scaled domain of ``numpy.polynomial.Polynomial.fit`` (which keeps
    high degrees well conditioned) and returns the fit at the sorted levels (Guhr et al. 1998).
    Raises ``ValueError`` if the fit decreases anywhere on the data (negative spacings).
    """
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree!r}")
    x, staircase = _staircase(levels, int(degree) + 2, f"a degree-{degree} polynomial unfolding")
    fit = Polynomial.fit(x, staircase, int(degree))
    return _check_increasing(fit(x), x, f"the degree-{degree} polynomial fit of the staircase")


def unfold_spline(levels: ArrayLike, n_knots: int = 10, degree: int = 3) -> np.ndarray:
    """Unfolded levels Nbar(E_i) from a least-squares B-spline fit of the staircase N(E_i) = i - 1/2.

    ``n_knots`` interior knots sit at equally spaced quantiles of the levels (equal numbers of levels between
    knots), so each piece sees the same amount of data; fewer knots smooth more. The spline is the
    ``scipy.interpolate.make_lsq_spline`` least-squares fit of order ``degree``. Raises ``ValueError`` if the
    fit decreases anywhere on the data.
    """
    if isinstance(n_knots, bool) or not isinstance(n_knots, int | np.integer) or n_knots < 0:
        raise ValueError(f"n_knots must be a non-negative integer, got {n_knots!r}")
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or not 1 <= degree <= 5:
        raise ValueError(f"degree must be an integer in 1..5, got {degree!r}")
    x, staircase = _staircase(levels, 2 * (n_knots + degree + 1), f"a spline unfolding with {n_knots} knots")
    interior = np.quantile(x, np.linspace(0.0, 1.0, n_knots + 2)[1:-1])
    if np.any(np.diff(np.concatenate(([x[0]], interior, [x[-1]]))) <= 0):
        raise ValueError("spline knots coincide (too many repeated levels for this many knots)")
    knots = np.concatenate((np.full(degree + 1, x[0]), interior, np.full(degree + 1, x[-1])))
    spline = make_lsq_spline(x, staircase, knots, k=int(degree))
    return _check_increasing(spline(x), x, f"the {n_knots}-knot spline fit of the staircase")
