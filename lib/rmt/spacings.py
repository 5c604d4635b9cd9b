"""Short-range level statistics: spacings, spacing ratios, their reference laws, and goodness-of-fit tools.

This is the entry point of the level statistics: it also makes the exact spacing laws (``lib.rmt.gap_probability``),
the unfolding methods (``lib.rmt.unfolding``) and the long-range statistics (``lib.rmt.rigidity``) importable from here.

Spacings s_n = E_{n+1} - E_n need unfolded levels (unit mean spacing); ratios r_n = s_n / s_{n-1} and
r~_n = min(r_n, 1/r_n) (Oganesyan & Huse 2007, PRB 75, 155111; Atas, Bogomolny, Giraud & Roux 2013,
PRL 110, 084101) do not, because the local density cancels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gamma, gammainc

from lib.rmt.gap_probability import exact_spacing_cdf, exact_spacing_pdf, gap_probability
from lib.rmt.levels import as_levels, check_beta
from lib.rmt.rigidity import (
    goe_number_variance,
    goe_spectral_rigidity,
    gse_number_variance,
    gse_spectral_rigidity,
    gue_number_variance,
    gue_spectral_rigidity,
    number_variance,
    poisson_number_variance,
    poisson_spectral_rigidity,
    spectral_rigidity,
)
from lib.rmt.unfolding import unfold_leave_one_out, unfold_polynomial, unfold_pool, unfold_spline

__all__ = [
    "MEAN_MIN_RATIO_PUBLISHED",
    "MEAN_MIN_RATIO_SOURCE",
    "MEAN_MIN_RATIO_UNCERTAINTY",
    "SPACING_VARIANCE_PUBLISHED",
    "SPACING_VARIANCE_SOURCE",
    "exact_spacing_cdf",
    "exact_spacing_pdf",
    "gap_probability",
    "goe_number_variance",
    "goe_spectral_rigidity",
    "gse_number_variance",
    "gse_spectral_rigidity",
    "gue_number_variance",
    "gue_spectral_rigidity",
    "mean_min_ratio",
    "mean_min_ratio_ci",
    "min_ratio_cdf",
    "min_ratio_pdf",
    "min_ratios",
    "number_variance",
    "poisson_number_variance",
    "poisson_spacing_cdf",
    "poisson_spacing_pdf",
    "poisson_spectral_rigidity",
    "ratio_cdf",
    "RatioLaw",
    "ratio_pdf",
    "spacing_ratios",
    "spacings",
    "spectral_rigidity",
    "unfold_polynomial",
    "unfold_leave_one_out",
    "unfold_pool",
    "unfold_spline",
    "wigner_surmise_cdf",
    "wigner_surmise_pdf",
]

# ----------------------------------------------------------------------------------------------------------
# Published reference values (tests and chapters compare with these, never with the code's own output).

#: <r~> of large-N spectra (Atas et al. 2013, Table I, numerics); key = beta, 0 = Poisson (exact 2 ln 2 - 1).
MEAN_MIN_RATIO_PUBLISHED: dict[int, float] = {0: 2 * np.log(2) - 1, 1: 0.5307, 2: 0.5996, 4: 0.6744}
#: Quoted precision of the Atas et al. Table I values.
MEAN_MIN_RATIO_UNCERTAINTY = 1e-4
MEAN_MIN_RATIO_SOURCE = "Atas, Bogomolny, Giraud & Roux, PRL 110, 084101 (2013), Table I"

#: Variance of the exact (N -> infinity) nearest-neighbour spacing law, as commonly quoted to 3 digits.
SPACING_VARIANCE_PUBLISHED: dict[int, float] = {1: 0.286, 2: 0.180, 4: 0.104}
SPACING_VARIANCE_SOURCE = "Mehta, Random Matrices (2004); Brody et al., Rev. Mod. Phys. 53, 385 (1981)"

_SURMISE_BETAS = (1, 2, 4)
_RATIO_BETAS = (0, 1, 2, 4)
#: Normalisations Z_beta of the ratio surmise (Atas et al. 2013, eq. (5)).
_RATIO_Z = {1: 8 / 27, 2: 4 * np.pi / (81 * np.sqrt(3)), 4: 4 * np.pi / (729 * np.sqrt(3))}
_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(48)  # ratio CDF quadrature, exact to 1e-15
#: Fitted amplitudes C_beta of the large-N correction delta P(r) to the ratio surmise (Atas et al. 2013, below
#: its surmise, delta P_fit); with them <r~> of P_W + delta P is 0.5307, 0.5997, 0.6745: Table I to 1e-4.
_RATIO_CORRECTION_C = {1: 0.233378, 2: 0.578846, 4: 3.60123}
RatioLaw = Literal["surmise", "large_n"]


# ----------------------------------------------------------------------------------------------------------
# Empirical statistics


def spacings(levels: ArrayLike) -> np.ndarray:
    """Nearest-neighbour spacings s_n = E_{n+1} - E_n of the sorted levels (along the last axis).

    Meaningful as a distribution only after unfolding to unit mean spacing (``unfold_*``).
    """
    return np.diff(as_levels(levels, 2, "spacings"), axis=-1)


def _nonzero_spacings(levels: ArrayLike) -> np.ndarray:
    s = np.diff(as_levels(levels, 3, "spacing ratios"), axis=-1)
    if np.any(s == 0):
        raise ValueError(
            "levels contain exact degeneracies (zero spacings), which make ratios undefined; remove them "
            "(e.g. symmetry sectors, Kramers pairs, or a null space below a cut-off) first"
        )
    return s


def spacing_ratios(levels: ArrayLike) -> np.ndarray:
    """Ratios r_n = s_n / s_{n-1} of consecutive spacings (Atas et al. 2013), in (0, inf).

    Works on raw levels: no unfolding needed. One spectrum (1-D) or one per row (2-D).
    """
    s = _nonzero_spacings(levels)
    return s[..., 1:] / s[..., :-1]


def min_ratios(levels: ArrayLike) -> np.ndarray:
    """r~_n = min(r_n, 1/r_n) = min(s_n, s_{n-1}) / max(s_n, s_{n-1}) in [0, 1] (Oganesyan & Huse 2007)."""
    s = _nonzero_spacings(levels)
    a, b = s[..., 1:], s[..., :-1]
    return np.minimum(a, b) / np.maximum(a, b)


# ----------------------------------------------------------------------------------------------------------
# Reference laws: spacings


def _result(values: np.ndarray) -> np.ndarray | float:
    """A float for scalar input, the array otherwise (the laws below are vectorised over their argument)."""
    values = np.asarray(values, dtype=float)
    return float(values) if values.ndim == 0 else values


def _surmise_constants(beta: int) -> tuple[float, float]:
    """(a_beta, b_beta) of P(s) = a s^beta exp(-b s^2), fixed by unit norm and unit mean."""
    ratio = gamma((beta + 2) / 2) / gamma((beta + 1) / 2)
    return 2 * gamma((beta + 2) / 2) ** (beta + 1) / gamma((beta + 1) / 2) ** (beta + 2), ratio**2


def wigner_surmise_pdf(s: ArrayLike, beta: float) -> np.ndarray | float:
    """Wigner surmise P_beta(s) = a_beta s^beta exp(-b_beta s^2), unit mean, for beta = 1, 2, 4.

    b_beta = [Gamma((beta+2)/2) / Gamma((beta+1)/2)]^2, a_beta = 2 Gamma((beta+2)/2)^(beta+1) /
    Gamma((beta+1)/2)^(beta+2); e.g. P_1(s) = (pi/2) s exp(-pi s^2/4) (Mehta 2004; Guhr et al. 1998).
    Exact for 2x2 matrices; within 0.017 of the N -> infinity law (``exact_spacing_pdf``).
    """
    a, b = _surmise_constants(check_beta(beta, _SURMISE_BETAS))
    s = np.asarray(s, dtype=float)
    return _result(np.where(s >= 0, a * np.abs(s) ** beta * np.exp(-b * s**2), 0.0))


def wigner_surmise_cdf(s: ArrayLike, beta: float) -> np.ndarray | float:
    """CDF of the Wigner surmise: F_beta(s) = P((beta+1)/2, b_beta s^2), P the regularised lower gamma function."""
    _, b = _surmise_constants(check_beta(beta, _SURMISE_BETAS))
    s = np.asarray(s, dtype=float)
    return _result(np.where(s >= 0, gammainc((beta + 1) / 2, b * s**2), 0.0))


def poisson_spacing_pdf(s: ArrayLike) -> np.ndarray | float:
    """Spacing density exp(-s) of uncorrelated (Poisson) levels with unit mean spacing."""
    s = np.asarray(s, dtype=float)
    return _result(np.where(s >= 0, np.exp(-np.abs(s)), 0.0))


def poisson_spacing_cdf(s: ArrayLike) -> np.ndarray | float:
    """Spacing distribution function 1 - exp(-s) of Poisson levels."""
    s = np.asarray(s, dtype=float)
    return _result(np.where(s >= 0, -np.expm1(-np.abs(s)), 0.0))


# ----------------------------------------------------------------------------------------------------------
# Reference laws: spacing ratios


def _correction_shape(r: np.ndarray, beta: int) -> np.ndarray:
    """x^-beta - c_beta x^-(beta+1), x = r + 1/r, with c_beta fixing int_0^inf dr (1 + r)^-2 (...) = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = r + 1.0 / r
        shape = x ** (-beta) - _correction_c(beta) * x ** (-beta - 1.0)
    return np.where(r > 0, shape, 0.0)


def _correction_c(beta: int) -> float:
    """c_beta of the large-N correction: the ratio of int_0^1 (1 + r)^-2 x^-beta dr to the same with x^-(beta+1)
    (x = r + 1/r; the integrands are symmetric under r -> 1/r, so [0, 1] gives half of each), e.g. c_2 =
    4 (4 - pi) / (3 pi - 8)."""
    t = 0.5 * (_GAUSS_NODES + 1)
    x = t + 1 / t
    return float(np.sum(_GAUSS_WEIGHTS * x ** (-beta) / (1 + t) ** 2)
                 / np.sum(_GAUSS_WEIGHTS * x ** (-beta - 1.0) / (1 + t) ** 2))


def ratio_pdf(r: ArrayLike, beta: float, law: RatioLaw = "surmise") -> np.ndarray | float:
    """Density of r = s_n / s_{n-1}: the Atas et al. (2013, eq. (5)) surmise, or Poisson for beta = 0.

    P_W(r) = (r + r^2)^beta / [Z_beta (1 + r + r^2)^(1 + 3 beta / 2)], Z_1 = 8/27, Z_2 = 4 pi / (81 sqrt 3),
    Z_4 = 4 pi / (729 sqrt 3); Poisson (exact): P(r) = 1 / (1 + r)^2. Both satisfy P(r) = P(1/r) / r^2.

    ``law="large_n"`` adds Atas et al.'s fitted large-N correction delta P_fit,
    delta P(r) = C_beta / (1 + r)^2 [(r + 1/r)^-beta - c_beta (r + 1/r)^-(beta+1)], C_1 = 0.233378,
    C_2 = 0.578846, C_4 = 3.60123 and c_beta set by int delta P = 0; the surmise is the law of 3 x 3 matrices
    (<r~> = 0.5359 for the GOE), the corrected law that of large matrices (<r~> = 0.5307, their Table I).
    """
    beta = check_beta(beta, _RATIO_BETAS)
    if law not in ("surmise", "large_n"):
        raise ValueError(f"law must be 'surmise' or 'large_n', got {law!r}")
    r = np.asarray(r, dtype=float)
    rp = np.abs(r)
    if beta == 0:
        value = 1.0 / (1.0 + rp) ** 2
    else:
        value = (rp + rp**2) ** beta / (_RATIO_Z[beta] * (1 + rp + rp**2) ** (1 + 1.5 * beta))
        if law == "large_n":
            value = value + _RATIO_CORRECTION_C[beta] / (1 + rp) ** 2 * _correction_shape(rp, beta)
    return _result(np.where(r >= 0, value, 0.0))


def _ratio_cdf_below_one(r: np.ndarray, beta: int, law: RatioLaw) -> np.ndarray:
    """int_0^r P(t) dt for 0 <= r <= 1, by 48-point Gauss-Legendre (the integrand is analytic on [0, 1])."""
    t = 0.5 * r[..., None] * (_GAUSS_NODES + 1)
    return 0.5 * r * np.sum(_GAUSS_WEIGHTS * ratio_pdf(t, beta, law), axis=-1)


def ratio_cdf(r: ArrayLike, beta: float, law: RatioLaw = "surmise") -> np.ndarray | float:
    """Distribution function of r for the ratio surmise (beta = 1, 2, 4; ``law="large_n"`` with the large-N
    correction of ``ratio_pdf``) or Poisson (beta = 0, F = r / (1 + r)).

    Uses the symmetry P(r) dr = P(1/r) d(1/r), i.e. F(r) = 1 - F(1/r), so only [0, 1] is integrated.
    """
    beta = check_beta(beta, _RATIO_BETAS)
    r = np.asarray(r, dtype=float)
    rp = np.maximum(r, 0.0)
    if beta == 0:
        return _result(1 - 1 / (1 + rp))
    with np.errstate(divide="ignore"):
        folded = np.where(rp <= 1, rp, 1 / rp)
    below = _ratio_cdf_below_one(folded, beta, law)
    return _result(np.where(rp <= 1, below, 1 - below))


def min_ratio_pdf(r: ArrayLike, beta: float, law: RatioLaw = "surmise") -> np.ndarray | float:
    """Density of r~ = min(r, 1/r) on [0, 1]: 2 P(r~) with P the ``ratio_pdf`` (Atas et al. 2013)."""
    r = np.asarray(r, dtype=float)
    return _result(np.where((r >= 0) & (r <= 1), 2 * ratio_pdf(np.clip(r, 0, 1), beta, law), 0.0))


def min_ratio_cdf(r: ArrayLike, beta: float, law: RatioLaw = "surmise") -> np.ndarray | float:
    """Distribution function of r~ on [0, 1]: 2 F(r~) with F the ``ratio_cdf``."""
    r = np.asarray(r, dtype=float)
    return _result(2 * ratio_cdf(np.clip(r, 0, 1), beta, law))


def mean_min_ratio(beta: float) -> float:
    """<r~> of the surmise in closed form (Atas et al. 2013): 4 - 2 sqrt 3 (beta = 1), 2 sqrt 3 / pi - 1/2
    (beta = 2), 32 sqrt 3 / (15 pi) - 1/2 (beta = 4); Poisson (beta = 0): 2 ln 2 - 1.

    These surmise values exceed the large-N values (``MEAN_MIN_RATIO_PUBLISHED``) by 0.002 to 0.005.
    """
    beta = check_beta(beta, _RATIO_BETAS)
    return {
        0: 2 * np.log(2) - 1,
        1: 4 - 2 * np.sqrt(3),
        2: 2 * np.sqrt(3) / np.pi - 0.5,
        4: 32 * np.sqrt(3) / (15 * np.pi) - 0.5,
    }[beta]


# ----------------------------------------------------------------------------------------------------------
# Goodness of fit and uncertainty


def _as_min_ratios(values: ArrayLike, kind: str) -> np.ndarray:
    """r~ from levels or from r~ values, following the rule documented in ``mean_min_ratio_ci``."""
    if kind not in ("auto", "levels", "ratios"):
        raise ValueError(f"kind must be 'auto', 'levels' or 'ratios', got {kind!r}")
    arr = as_levels(values, 1, "the mean ratio")  # checks only; sorted copy unused for ratios
    raw = np.asarray(values, dtype=float)
    looks_like_ratios = raw.ndim == 1 and np.all((raw >= 0) & (raw <= 1)) and np.any(np.diff(raw) < 0)
    if kind == "ratios" or (kind == "auto" and looks_like_ratios):
        if not np.all((raw >= 0) & (raw <= 1)):
            raise ValueError("min ratios r~ must lie in [0, 1]")
        return raw.ravel()
    if arr.shape[-1] < 3:
        raise ValueError(f"the mean ratio needs at least 3 levels per spectrum, got {arr.shape[-1]}")
    return min_ratios(arr).ravel()


def mean_min_ratio_ci(
    levels_or_ratios: ArrayLike,
    n_boot: int,
    rng: np.random.Generator | int,
    level: float = 0.95,
    *,
    kind: str = "auto",
    block: int | None = None,
) -> tuple[float, float, float]:
    """<r~> and a percentile bootstrap confidence interval: returns (mean, lo, hi).

    Neighbouring ratios share a spacing and are correlated, so an i.i.d. bootstrap would understate the error;
    this is a circular moving-block bootstrap (Kuensch 1989; Politis & Romano 1992) resampling blocks of
    ``block`` consecutive r~ (default round(n^(1/3)), at least 2).

    Input: levels (one spectrum 1-D, or one per row; ratios are taken within each spectrum and concatenated)
    or r~ values in their original order. ``kind="auto"`` treats a 1-D array as r~ values when all entries
    lie in [0, 1] and it is not sorted ascending, as levels otherwise; pass ``kind="levels"`` or
    ``kind="ratios"`` to decide explicitly.
    """
    ratios = _as_min_ratios(levels_or_ratios, kind)
    n = ratios.size
    if n < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 ratios, got {n}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 10:
        raise ValueError(f"n_boot must be an integer >= 10, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    b = max(2, round(n ** (1 / 3))) if block is None else block
    if isinstance(b, bool) or not isinstance(b, int | np.integer) or not 1 <= b <= n:
        raise ValueError(f"block must be an integer in 1..{n}, got {block!r}")
    rng = np.random.default_rng(rng)
    # sums of the n circular blocks of length b, then each replicate draws ceil(n / b) block starts
    csum = np.concatenate(([0.0], np.cumsum(np.concatenate((ratios, ratios[: b - 1])))))
    block_sums = csum[b : b + n] - csum[:n]
    n_blocks = -(-n // b)
    means = np.empty(n_boot)
    per_chunk = max(1, 4_000_000 // n_blocks)
    for start in range(0, n_boot, per_chunk):
        draws = rng.integers(0, n, size=(min(per_chunk, n_boot - start), n_blocks))
        means[start : start + draws.shape[0]] = block_sums[draws].sum(axis=1) / (n_blocks * b)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(ratios.mean()), float(lo), float(hi)
