"""Long-range level statistics of unfolded spectra: number variance Sigma^2(L) and spectral rigidity Delta_3(L).

Definitions (Mehta 2004, ch. 16; Guhr, Mueller-Groeling & Weidenmueller 1998, Phys. Rep. 299, 189, sec. 3.2):

    Sigma^2(L) = < (n(E, L) - L)^2 >_E,      n(E, L) = #{levels in [E, E + L]},
    Delta_3(L) = < min_{A, B} (1/L) int_E^{E+L} (N(e) - A e - B)^2 de >_E,

for levels unfolded to unit mean spacing; with the theory curves of the Gaussian ensembles and Poisson levels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import sici

from lib.rmt.levels import as_spectra

_CHUNK = 2_000_000  # array elements handled at once, to bound memory on long spectra


def _as_lengths(L: ArrayLike, allow_zero: bool = False) -> tuple[np.ndarray, bool]:
    """Interval lengths as a flat float array (and whether the input was a scalar); ValueError if invalid."""
    arr = np.asarray(L, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("interval lengths L must be finite")
    if np.any(arr < 0) or (not allow_zero and np.any(arr == 0)):
        raise ValueError(f"interval lengths L must be {'>= 0' if allow_zero else '> 0'}, got min {arr.min()}")
    return arr.ravel(), arr.ndim == 0


def _shaped(values: np.ndarray, L: ArrayLike, scalar: bool) -> np.ndarray | float:
    return float(values[0]) if scalar else values.reshape(np.shape(L))


def _check_range(x: np.ndarray, lengths: np.ndarray) -> None:
    if lengths.max() >= x[-1] - x[0]:
        raise ValueError(
            f"L = {lengths.max():g} does not fit in the unfolded range [{x[0]:g}, {x[-1]:g}] of a spectrum"
        )


def _number_variance_one(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sigma^2(L) of one sorted spectrum, averaged EXACTLY over window starts E in [x_0, x_last - L].

    n(E, L) is piecewise constant in E with breaks at the levels x_i and at x_i - L, so the average is a finite
    sum over the pieces between consecutive breaks.
    """
    out = np.empty(lengths.size)
    rows = max(1, _CHUNK // (2 * x.size + 2))
    for start in range(0, lengths.size, rows):
        ell = lengths[start : start + rows, None]
        lo, hi = x[0], x[-1] - ell
        breaks = np.concatenate((np.broadcast_to(x, (ell.shape[0], x.size)), x - ell, np.full_like(ell, lo)), 1)
        breaks = np.sort(np.clip(breaks, lo, hi), axis=1)
        width = np.diff(breaks, axis=1)
        mid = 0.5 * (breaks[:, 1:] + breaks[:, :-1])
        count = np.searchsorted(x, mid + ell, side="right") - np.searchsorted(x, mid, side="right")
        out[start : start + rows] = np.sum(width * (count - ell) ** 2, axis=1) / (hi[:, 0] - lo)
    return out


def number_variance(unfolded: ArrayLike | Sequence[ArrayLike], L: ArrayLike) -> np.ndarray | float:
    """Sigma^2(L) = <(n(E, L) - L)^2> of unfolded levels, vectorised over an array of L.

    The average over E is exact (not sampled) over all window positions inside the spectrum; for several
    spectra (rows of a 2-D array, or a ragged sequence) it is the mean of the per-spectrum values. The
    levels must be unfolded to unit mean spacing first (``lib.rmt.unfolding``).
    """
    lengths, scalar = _as_lengths(L)
    spectra = as_spectra(unfolded, 2, "the number variance")
    for x in spectra:
        _check_range(x, lengths)
    values = np.mean([_number_variance_one(x, lengths) for x in spectra], axis=0)
    return _shaped(values, L, scalar)


def _rigidity_windows(x: np.ndarray, starts: np.ndarray, ell: float) -> np.ndarray:
    """Delta_3 of the windows [a, a + L] by the exact least-squares formula (Bohigas & Giannoni 1984).

    With the n levels of a window shifted to its centre, e_k (k = 1..n, sorted),
        Delta_3 = n^2/16 - (sum e)^2/L^2 + 3n (sum e^2)/(2 L^2) - 3 (sum e^2)^2/L^4 + (1/L) sum (n - 2k + 1) e_k,
    which is min_{A,B} (1/L) int (N - A e - B)^2 de evaluated in closed form.
    """
    lo = np.searchsorted(x, starts, side="left")
    n = np.searchsorted(x, starts + ell, side="right") - lo
    k = np.arange(max(int(n.max()), 1))
    inside = k[None, :] < n[:, None]
    e = np.where(inside, x[np.minimum(lo[:, None] + k[None, :], x.size - 1)] - (starts[:, None] + ell / 2), 0.0)
    s1 = e.sum(axis=1)
    s2 = (e**2).sum(axis=1)
    linear = ((n[:, None] - 2 * (k[None, :] + 1) + 1) * e).sum(axis=1)
    return n**2 / 16 - s1**2 / ell**2 + 1.5 * n * s2 / ell**2 - 3 * s2**2 / ell**4 + linear / ell


def spectral_rigidity(
    unfolded: ArrayLike | Sequence[ArrayLike], L: ArrayLike, windows_per_length: float = 4.0
) -> np.ndarray | float:
    """Dyson-Mehta Delta_3(L) of unfolded levels, vectorised over an array of L.

    Each window's minimum over the line A e + B is the exact closed form of ``_rigidity_windows``; the average
    over E uses window starts spaced L / ``windows_per_length`` apart over the spectrum (overlapping windows).
    Several spectra are averaged with equal weights.
    """
    lengths, scalar = _as_lengths(L)
    if not windows_per_length > 0:
        raise ValueError(f"windows_per_length must be > 0, got {windows_per_length}")
    spectra = as_spectra(unfolded, 2, "the spectral rigidity")
    for x in spectra:
        _check_range(x, lengths)
    values = np.zeros(lengths.size)
    for x in spectra:
        for i, ell in enumerate(lengths):
            n_starts = int(np.ceil(windows_per_length * (x[-1] - x[0] - ell) / ell)) + 1
            starts = np.linspace(x[0], x[-1] - ell, n_starts)
            per_chunk = max(1, _CHUNK // int(ell + 10 * np.sqrt(ell) + 10))
            parts = [_rigidity_windows(x, starts[j : j + per_chunk], ell) for j in range(0, n_starts, per_chunk)]
            values[i] += np.concatenate(parts).mean() / len(spectra)
    return _shaped(values, L, scalar)


def poisson_number_variance(L: ArrayLike) -> np.ndarray | float:
    """Sigma^2(L) = L for uncorrelated (Poisson) levels."""
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(lengths.copy(), L, scalar)


def gue_number_variance(L: ArrayLike) -> np.ndarray | float:
    """Exact GUE Sigma^2(L) (Mehta 2004, ch. 16):

    Sigma^2(L) = [ln(2 pi L) + gamma + 1 - cos(2 pi L) - Ci(2 pi L)] / pi^2 + L [1 - (2/pi) Si(2 pi L)].
    """
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(_gue_sigma2(lengths), L, scalar)


def _gue_sigma2(lengths: np.ndarray) -> np.ndarray:
    x = 2 * np.pi * np.where(lengths > 0, lengths, 1.0)
    si, ci = sici(x)
    value = (np.log(x) + np.euler_gamma + 1 - np.cos(x) - ci) / np.pi**2 + lengths * (1 - 2 / np.pi * si)
    return np.where(lengths > 0, value, 0.0)


def _goe_sigma2(lengths: np.ndarray) -> np.ndarray:
    si_half = sici(np.pi * lengths)[0]
    return 2 * _gue_sigma2(lengths) + si_half**2 / np.pi**2 - si_half / np.pi


def _gse_sigma2(lengths: np.ndarray) -> np.ndarray:
    si = sici(2 * np.pi * lengths)[0]
    return 0.5 * _gue_sigma2(2 * lengths) + si**2 / (4 * np.pi**2)


def goe_number_variance(L: ArrayLike) -> np.ndarray | float:
    """Exact GOE Sigma^2(L) = 2 Sigma^2_GUE(L) + Si(pi L)^2 / pi^2 - Si(pi L) / pi (Mehta 2004, ch. 16).

    Equals L - 2 int_0^L (L - r) Y_2(r) dr with the GOE cluster function Y_2 = s^2 + s'(r) int_r^inf s,
    s(r) = sin(pi r)/(pi r). Large L: (2/pi^2)[ln(2 pi L) + gamma + 1 - pi^2/8].
    """
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(_goe_sigma2(lengths), L, scalar)


def gse_number_variance(L: ArrayLike) -> np.ndarray | float:
    """Exact GSE Sigma^2(L) = Sigma^2_GUE(2L)/2 + Si(2 pi L)^2 / (4 pi^2) (Mehta 2004, ch. 16).

    Equals the integral of the GSE cluster function Y_2 = s(2r)^2 - (d/dr s(2r)) int_0^r s(2t) dt.
    """
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(_gse_sigma2(lengths), L, scalar)


def _pandey_rigidity(sigma2: Callable[[np.ndarray], np.ndarray], lengths: np.ndarray) -> np.ndarray:
    """Delta_3(L) = (2/L^4) int_0^L (L^3 - 2 L^2 r + r^3) Sigma^2(r) dr (Pandey 1979; Mehta 2004, ch. 16).

    Composite 16-point Gauss-Legendre on panels of width <= 1/2, which resolves the unit-period oscillations
    of Sigma^2 to machine precision.
    """
    nodes, weights = np.polynomial.legendre.leggauss(16)
    out = np.zeros(lengths.size)
    for i, ell in enumerate(lengths):
        if ell == 0:
            continue
        edges = np.linspace(0.0, ell, int(np.ceil(2 * ell)) + 1)
        half = 0.5 * np.diff(edges)[:, None]
        r = (edges[:-1, None] + half * (nodes[None, :] + 1)).ravel()
        w = (half * weights[None, :]).ravel()
        out[i] = 2 / ell**4 * np.sum(w * (ell**3 - 2 * ell**2 * r + r**3) * sigma2(r))
    return out


def poisson_spectral_rigidity(L: ArrayLike) -> np.ndarray | float:
    """Delta_3(L) = L / 15 for Poisson levels."""
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(lengths / 15, L, scalar)


def goe_spectral_rigidity(L: ArrayLike) -> np.ndarray | float:
    """Exact GOE Delta_3(L) through the Pandey integral of ``goe_number_variance``.

    Large L: [ln(2 pi L) + gamma - 5/4 - pi^2/8] / pi^2 (Mehta 2004, ch. 16).
    """
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(_pandey_rigidity(_goe_sigma2, lengths), L, scalar)


def gue_spectral_rigidity(L: ArrayLike) -> np.ndarray | float:
    """Exact GUE Delta_3(L) through the Pandey integral of ``gue_number_variance``.

    Large L: [ln(2 pi L) + gamma - 5/4] / (2 pi^2) (Mehta 2004, ch. 16).
    """
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(_pandey_rigidity(_gue_sigma2, lengths), L, scalar)


def gse_spectral_rigidity(L: ArrayLike) -> np.ndarray | float:
    """Exact GSE Delta_3(L) through the Pandey integral of ``gse_number_variance``.

    Large L: [ln(4 pi L) + gamma - 5/4 + pi^2/8] / (4 pi^2) (Mehta 2004, ch. 16).
    """
    lengths, scalar = _as_lengths(L, allow_zero=True)
    return _shaped(_pandey_rigidity(_gse_sigma2, lengths), L, scalar)
