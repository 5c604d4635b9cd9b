"""Limiting spectral laws of random matrices, and moment-matching fits of them to a spectrum.

* Wigner semicircle (Wigner 1958; rmt_reference 1.2): the limit of Wigner matrices with off-diagonal variance
  ``sigma^2 / N``, supported on ``[center - 2 sigma, center + 2 sigma]``;
* Marchenko-Pastur law (Marchenko & Pastur 1967; rmt_reference 2): the limit of ``Y = X X^T / n`` for ``X``
  m x n with i.i.d. entries of variance ``sigma^2``, ratio ``q = m / n`` (rows over columns of ``X``). For
  ``q > 1`` it has an atom of mass ``1 - 1/q`` at zero (the ``m - n`` zero eigenvalues).

Densities are vectorised, finite everywhere and zero outside the support; a scalar ``x`` gives a float.
"""

from __future__ import annotations

import numpy as np

from lib.rmt import checks


def _eigenvalues(eigs: np.ndarray, min_count: int) -> np.ndarray:
    """Validate a spectrum: real, finite, one-dimensional after flattening, at least ``min_count`` values."""
    arr = np.asarray(eigs)
    if np.iscomplexobj(arr):
        raise ValueError("eigenvalues must be real, got complex values")
    arr = arr.astype(float).ravel()
    if arr.size < min_count:
        raise ValueError(f"need at least {min_count} eigenvalues, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("eigenvalues must be finite (found NaN or inf)")
    return arr


# --- semicircle ---------------------------------------------------------------------------------------------


def semicircle_pdf(x: float | np.ndarray, sigma: float = 1.0, center: float = 0.0) -> float | np.ndarray:
    """Wigner semicircle density ``rho(x) = sqrt(4 sigma^2 - (x - c)^2) / (2 pi sigma^2)`` (Wigner 1958).

    Supported on ``|x - c| <= 2 sigma``, zero outside. Its moments about ``c`` are ``m_{2k} = C_k sigma^{2k}``
    (Catalan numbers), so its variance is ``sigma^2`` (rmt_reference 1.2).
    """
    sigma = checks.positive(sigma, "sigma")
    center = checks.real_finite(center, "center")
    u = np.clip((checks.points(x) - center) / sigma, -2.0, 2.0)  # clipped: zero density, and no sqrt of negatives
    return checks.shaped(np.sqrt(4.0 - u * u) / (2.0 * np.pi * sigma))


def semicircle_cdf(x: float | np.ndarray, sigma: float = 1.0, center: float = 0.0) -> float | np.ndarray:
    """Semicircle distribution function ``F(x) = 1/2 + u sqrt(4 - u^2) / (4 pi) + arcsin(u / 2) / pi``.

    Here ``u = (x - c) / sigma`` clipped to [-2, 2] (rmt_reference 1.2); ``F`` is 0 below the support and
    1 above it.
    """
    sigma = checks.positive(sigma, "sigma")
    center = checks.real_finite(center, "center")
    u = np.clip((checks.points(x) - center) / sigma, -2.0, 2.0)
    cdf = 0.5 + u * np.sqrt(4.0 - u * u) / (4.0 * np.pi) + np.arcsin(u / 2.0) / np.pi
    return checks.shaped(np.clip(cdf, 0.0, 1.0))


def fit_semicircle(eigs: np.ndarray) -> tuple[float, float]:
    """Moment-matching fit of a semicircle to a spectrum; returns ``(sigma, center)``.

    The semicircle of scale ``sigma`` centred at ``c`` has mean ``c`` and variance ``sigma^2``
    (``m_2 = C_1 sigma^2``), so ``c = mean(eigs)`` and ``sigma = std(eigs)`` (population standard deviation).
    Needs >= 2 distinct values.
    """
    arr = _eigenvalues(eigs, 2)
    sigma = float(np.std(arr))
    if sigma <= 0:
        raise ValueError("eigenvalues are all equal: the semicircle scale is undefined")
    return sigma, float(np.mean(arr))


# --- Marchenko-Pastur ---------------------------------------------------------------------------------------


def marchenko_pastur_atom(q: float) -> float:
    """Mass of the Marchenko-Pastur atom at zero, ``max(0, 1 - 1/q)`` (rmt_reference 2)."""
    q = checks.positive(q, "q")
    return max(0.0, 1.0 - 1.0 / q)


def marchenko_pastur_edges(q: float, sigma: float = 1.0) -> tuple[float, float]:
    """Edges of the continuous part, ``lambda_-+ = sigma^2 (1 -+ sqrt q)^2`` (rmt_reference 2)."""
    q = checks.positive(q, "q")
    sigma = checks.positive(sigma, "sigma")
    return sigma**2 * (1.0 - np.sqrt(q)) ** 2, sigma**2 * (1.0 + np.sqrt(q)) ** 2


def marchenko_pastur_pdf(x: float | np.ndarray, q: float, sigma: float = 1.0) -> float | np.ndarray:
    """Continuous part of the Marchenko-Pastur density (the atom is not included).

    ``rho(x) = sqrt((lambda_+ - x)(x - lambda_-)) / (2 pi sigma^2 q x)`` on ``[lambda_-, lambda_+]``,
    zero elsewhere (rmt_reference 2). It integrates to ``min(1, 1/q)``; the missing mass is
    :func:`marchenko_pastur_atom`. At ``q = 1`` it diverges like ``x^{-1/2}`` at 0; the value at exactly
    ``x = 0`` is returned as 0.
    """
    lo, hi = marchenko_pastur_edges(q, sigma)
    xs = checks.points(x)
    inside = (xs > lo) & (xs < hi) & (xs > 0)
    xi = np.where(inside, xs, 0.5 * (lo + hi))  # a safe point where the formula is not used
    dens = np.sqrt((hi - xi) * (xi - lo)) / (2.0 * np.pi * sigma**2 * q * xi)
    return checks.shaped(np.where(inside, dens, 0.0))


def marchenko_pastur_cdf(x: float | np.ndarray, q: float, sigma: float = 1.0) -> float | np.ndarray:
    """Distribution function of the full Marchenko-Pastur law, atom included: a proper CDF rising from 0 to 1.

    ``F(x) = a 1[x >= 0] + I(x) / (2 pi sigma^2 q)`` with ``a`` the atom and ``I(x)`` the integral of
    ``sqrt((b - t)(t - l)) / t`` from the lower edge ``l`` to ``x``. Substituting ``t = m + r sin(theta)``
    (``m = (l + b)/2``, ``r = (b - l)/2``, ``m^2 - r^2 = l b``) gives the closed form
    ``I = [m theta + r cos(theta) - 2 sqrt(l b) arctan((m tan(theta/2) + r) / sqrt(l b))]`` between
    ``-pi/2`` and ``theta(x) = arcsin((x - m) / r)``; the total is
    ``pi (sqrt b - sqrt l)^2 / 2 = 2 pi sigma^2 q min(1, 1/q)``.
    """
    lo, hi = marchenko_pastur_edges(q, sigma)
    xs = checks.points(x)
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    geo = np.sqrt(lo * hi)

    def antiderivative(theta: np.ndarray) -> np.ndarray:
        # arctan2 keeps the q = 1 case (geo = 0, where the term vanishes) free of 0/0
        arctan_term = np.arctan2(mid * np.tan(theta / 2.0) + half, geo)
        return mid * theta + half * np.cos(theta) - 2.0 * geo * arctan_term

    theta = np.arcsin(np.clip((xs - mid) / half, -1.0, 1.0))
    continuous = (antiderivative(theta) - antiderivative(np.array(-np.pi / 2))) / (2.0 * np.pi * sigma**2 * q)
    cdf = marchenko_pastur_atom(q) * (xs >= 0) + np.clip(continuous, 0.0, None)
    return checks.shaped(np.clip(cdf, 0.0, 1.0))


def fit_marchenko_pastur(eigs: np.ndarray) -> tuple[float, float]:
    """Moment-matching fit of a Marchenko-Pastur law to a spectrum; returns ``(q, sigma)``.

    The MP law (atom included) has mean ``sigma^2`` and variance ``sigma^4 q`` (rmt_reference 2), so
    ``sigma = sqrt(mean(eigs))`` and ``q = var(eigs) / mean(eigs)^2``.

    Zeros: the moments are those of the whole law, so pass the whole spectrum of the m x m matrix
    ``X X^T / n``, its ``m - n`` (numerically) zero eigenvalues included; they carry the atom. If the zeros
    have been dropped, the remaining ``n`` values are the spectrum of ``X^T X / n``, an MP law with ratio
    ``1/q`` and scale ``sigma^2 q``, and that is what the fit returns.
    """
    arr = _eigenvalues(eigs, 2)
    mean = float(np.mean(arr))
    if mean <= 0:
        raise ValueError(f"mean eigenvalue must be > 0 for a Marchenko-Pastur fit, got {mean}")
    variance = float(np.var(arr))
    if variance <= 0:
        raise ValueError("eigenvalues are all equal: the Marchenko-Pastur ratio is undefined")
    return variance / mean**2, float(np.sqrt(mean))
