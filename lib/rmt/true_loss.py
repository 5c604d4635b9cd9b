"""Paper 1's random-function model of the true loss surface: the Hessian of a stationary Gaussian process.

Model (Baskerville, Granziol & Keating, arXiv:2102.06740 v1-v3; authors' notebook ``gp_test_loss_spectra.ipynb``;
research/paper1.md 4.2-4.4): the loss L(w), w in R^n, is a zero-mean Gaussian process with the stationary kernel

    Cov(L(w), L(w')) = k(u),    u = -|w - w'|^2 / 2.

Differentiating the kernel (Adler & Taylor, *Random Fields and Geometry*, 2007, eq. 5.5.4) gives, with
Delta = w - w',

    Cov(d_i L(w), d_j L(w'))   = k'(u) delta_ij - k''(u) Delta_i Delta_j                        (gradients)
    Cov(H_ij, H_kl)            = k''(0) (delta_ij delta_kl + delta_ik delta_jl + delta_il delta_jk)  (one point)
    Cov(H_ij, L) = -k'(0) delta_ij,   Cov(grad L, L) = Cov(grad L, H) = 0,

so the Hessian at a point is

    H = sqrt(k''(0)) G + sqrt(v) xi I,    G = GOE with off-diagonal variance 1 and diagonal variance 2,

with xi ~ N(0, 1) a common shift of variance v = k''(0) (unconditional) or v = k''(0) - k'(0)^2 / k(0) given the
loss value L(w) = l, which also moves the shift's mean to -k'(0) l / k(0). The authors' notebook uses
v = k'(0)^2 (and k'(0)^2 (1 - 1/k) conditionally), which agrees with the derivation only when k'(0)^2 = k''(0),
e.g. for the unit-variance squared-exponential kernel; :func:`shift_variance` gives both.

Rank degeneracy pads H with a zero block, H (+) 0; outliers add diag(theta_1, ..., theta_r), which for
theta > sigma = sqrt(k''(0) n) pushes an eigenvalue out of the semicircle to theta + sigma^2 / theta (the BBP
transition for Wigner matrices: Peche 2006; Feral & Peche 2007, Commun. Math. Phys. 272, 185, Theorem 1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lib.rmt import checks
from lib.rmt.ensembles import goe
from lib.rmt.laws import fit_semicircle

__all__ = [
    "ModelFit",
    "bbp_outlier_location",
    "bbp_outlier_strength",
    "fit_model",
    "gradient_covariance",
    "model_parameters",
    "outlier_sizes",
    "sample_hessian",
    "sample_spectra",
    "se_gradient_correlation",
    "se_kernel_derivatives",
    "shift_mean",
    "shift_variance",
]

_CONVENTIONS = ("derivation", "notebook")


def _non_negative(value: float, name: str) -> float:
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------------------
# Kernel calculus


def shift_variance(kp: float, kpp: float, k0: float | None = None, convention: str = "derivation") -> float:
    """Variance v of the common shift sqrt(v) xi I of the model Hessian.

    ``convention="derivation"`` (module docstring): v = k''(0), or v = k''(0) - k'(0)^2 / k(0) conditionally on
    the loss value (``k0`` = k(0) given). ``convention="notebook"`` (authors' ``gp_test_loss_spectra``):
    v = k'(0)^2, or k'(0)^2 (1 - 1/k) with ``k0`` = k. A negative conditional variance means the kernel values
    are not those of a valid kernel (Cauchy-Schwarz requires k(0) k''(0) >= k'(0)^2) and raises ``ValueError``.
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    kp, kpp = _non_negative(kp, "kp"), _non_negative(kpp, "kpp")
    if convention == "notebook":
        return kp**2 if k0 is None else kp**2 * (1.0 - 1.0 / checks.positive(k0, "k0"))
    if k0 is None:
        return kpp
    v = kpp - kp**2 / checks.positive(k0, "k0")
    if v < -1e-12 * max(kpp, 1.0):
        raise ValueError(f"k(0) k''(0) < k'(0)^2 ({k0} * {kpp} < {kp}^2): not the derivatives of a valid kernel")
    return max(v, 0.0)


def shift_mean(kp: float, k0: float, loss_value: float) -> float:
    """Mean of the common shift given L(w) = ``loss_value``: E[H_ii | L] = -k'(0) L / k(0) (Gaussian conditioning)."""
    return -_non_negative(kp, "kp") * float(loss_value) / checks.positive(k0, "k0")


def se_kernel_derivatives(u: ArrayLike, variance: float = 1.0, lengthscale: float = 1.0) -> tuple:
    """(k(u), k'(u), k''(u)) of the squared-exponential kernel k(u) = s^2 exp(u / l^2), u = -|Delta|^2 / 2.

    So Cov(L(w), L(w')) = s^2 exp(-|w - w'|^2 / (2 l^2)), k'(u) = k(u) / l^2 and k''(u) = k(u) / l^4.
    """
    variance, lengthscale = checks.positive(variance, "variance"), checks.positive(lengthscale, "lengthscale")
    k = variance * np.exp(np.asarray(u, dtype=float) / lengthscale**2)
    return k, k / lengthscale**2, k / lengthscale**4


def gradient_covariance(delta: ArrayLike, kp_u: float, kpp_u: float) -> np.ndarray:
    """n x n matrix Cov(grad L(w), grad L(w + delta)) = k'(u) I - k''(u) delta delta^T (module docstring).

    ``kp_u`` and ``kpp_u`` are k'(u) and k''(u) at u = -|delta|^2 / 2. The sign of the rank-one term follows
    from d/dw_i d/dw'_j k(-|w - w'|^2 / 2).
    """
    d = np.asarray(delta, dtype=float)
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError(f"delta must be a non-empty finite 1-D vector, got shape {d.shape}")
    return float(kp_u) * np.eye(d.size) - float(kpp_u) * np.outer(d, d)


def se_gradient_correlation(distance: ArrayLike, lengthscale: float, dim: int | None = None) -> np.ndarray:
    """Normalised gradient correlation rho(d) = tr Cov(g(w), g(w')) / tr Var(g(w)) for the SE kernel.

    From :func:`gradient_covariance` with k' = k / l^2, k'' = k / l^4:
    rho(d) = exp(-d^2 / (2 l^2)) (1 - d^2 / (n l^2)); ``dim=None`` is the n -> infinity limit exp(-d^2 / 2 l^2).
    For large n the cosine of two gradients concentrates on rho(d), which is what the networks are compared with.
    """
    lengthscale = checks.positive(lengthscale, "lengthscale")
    d2 = np.asarray(distance, dtype=float) ** 2
    rho = np.exp(-d2 / (2 * lengthscale**2))
    if dim is not None:
        rho = rho * (1.0 - d2 / (checks.size(dim, "dim") * lengthscale**2))
    return rho


# ---------------------------------------------------------------------------------------------------------
# Sampling


def bbp_outlier_location(theta: ArrayLike, sigma: float) -> np.ndarray:
    """Where a rank-one perturbation theta e e^T of a Wigner matrix with semicircle radius 2 sigma puts its eigenvalue.

    lambda = theta + sigma^2 / theta for |theta| > sigma, else the edge sign(theta) 2 sigma
    (Feral & Peche 2007, Theorem 1.1).
    """
    sigma = checks.positive(sigma, "sigma")
    t = np.asarray(theta, dtype=float)
    with np.errstate(divide="ignore"):
        out = np.where(np.abs(t) > sigma, t + sigma**2 / t, np.sign(t) * 2 * sigma)
    return out


def bbp_outlier_strength(location: ArrayLike, sigma: float) -> np.ndarray:
    """Inverse of :func:`bbp_outlier_location`: theta = (x + sign(x) sqrt(x^2 - 4 sigma^2)) / 2 for |x| > 2 sigma.

    ``location`` is measured from the bulk centre; levels inside the bulk give NaN.
    """
    sigma = checks.positive(sigma, "sigma")
    x = np.asarray(location, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(x) > 2 * sigma, (x + np.sign(x) * np.sqrt(x**2 - 4 * sigma**2)) / 2, np.nan)


def outlier_sizes(count: int, scale: float, rng: np.random.Generator | int) -> np.ndarray:
    """The authors' random outlier strengths theta = (1 + g^2) scale, g ~ N(0, 1) (``gp_test_loss_spectra``)."""
    count, scale = _count(count, "count"), checks.positive(scale, "scale")
    return (1.0 + checks.generator(rng).standard_normal(count) ** 2) * scale


def sample_hessian(
    n: int,
    kpp: float,
    shift_var: float,
    rng: np.random.Generator | int,
    *,
    degeneracy: int = 0,
    outliers: ArrayLike = (),
    shift_loc: float = 0.0,
) -> np.ndarray:
    """One (n + degeneracy)-square model Hessian (sqrt(kpp) G + (shift_loc + sqrt(shift_var) xi) I + diag(theta)) (+) 0.

    G is GOE with off-diagonal variance 1 and diagonal variance 2, i.e. sqrt(n) ``lib.rmt.ensembles.goe(n)``;
    ``outliers`` are the strengths theta (placed on the first diagonal entries: G is orthogonally invariant, so
    the position does not matter); ``degeneracy`` zero rows and columns are appended.
    """
    n, degeneracy = checks.size(n, "n"), _count(degeneracy, "degeneracy")
    kpp, shift_var = checks.positive(kpp, "kpp"), _non_negative(shift_var, "shift_var")
    theta = np.asarray(outliers, dtype=float).ravel()
    if theta.size > n or not np.all(np.isfinite(theta)):
        raise ValueError(f"outliers must be at most n = {n} finite strengths, got {theta.size}")
    rng = checks.generator(rng)
    h = np.sqrt(kpp * n) * goe(n, rng)
    h[np.diag_indices(n)] += shift_loc + np.sqrt(shift_var) * rng.standard_normal()
    h[np.arange(theta.size), np.arange(theta.size)] += theta
    if degeneracy:
        h = np.pad(h, (0, degeneracy))
    return h


def sample_spectra(
    n: int,
    m: int,
    kpp: float,
    shift_var: float,
    rng: np.random.Generator | int,
    *,
    degeneracy: int = 0,
    n_outliers: int = 0,
    outlier_scale: float = 5.0,
    shift_loc: float = 0.0,
) -> np.ndarray:
    """Eigenvalues (m x (n + degeneracy), rows sorted) of m independent :func:`sample_hessian` draws.

    Each draw has ``n_outliers`` fresh strengths from :func:`outlier_sizes`. The eigenvalues are those of the
    whole padded matrix from ``numpy.linalg.eigvalsh``, which returns the decoupled zero block as exact zeros
    (spacing ratios then need it removed first). The authors' notebook's ``sample_ratios`` forgot to pass
    ``degeneracy`` and ``outliers`` on; this function always applies them.
    """
    m, n_outliers = checks.size(m, "m"), _count(n_outliers, "n_outliers")
    rng = checks.generator(rng)
    out = np.empty((m, n + _count(degeneracy, "degeneracy")))
    for i in range(m):
        theta = outlier_sizes(n_outliers, outlier_scale, rng) if n_outliers else ()
        h = sample_hessian(n, kpp, shift_var, rng, degeneracy=degeneracy, outliers=theta, shift_loc=shift_loc)
        out[i] = np.linalg.eigvalsh(h)
    return out


# ---------------------------------------------------------------------------------------------------------
# Fitting the model to an observed spectrum


@dataclass(frozen=True)
class ModelFit:
    """Model parameters fitted to observed spectra by :func:`fit_model`.

    ``n``: GOE dimension (levels outside the zero block); ``kpp`` = sigma^2 / n; ``sigma``/``center``: the
    semicircle of the bulk (pooled over spectra, centres per spectrum in ``centers``); ``shift_var``: variance
    of the bulk centres across spectra minus the GOE part 2 kpp / n (NaN for one spectrum);
    ``degeneracy`` / ``n_outliers``: mean counts per spectrum; ``outliers``: the BBP-inverted strengths theta of
    all outliers, measured from their spectrum's centre; ``outlier_levels``: the outlying eigenvalues.
    """

    n: int
    kpp: float
    sigma: float
    center: float
    centers: np.ndarray
    shift_var: float
    degeneracy: float
    n_outliers: float
    outliers: np.ndarray
    outlier_levels: np.ndarray


def _split_bulk(levels: np.ndarray, edge_margin: float, max_iter: int,
                max_outlier_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Peel off levels beyond (1 + edge_margin) 2 sigma of the semicircle fitted to the rest, until stable.

    A step that would declare more than ``max_outlier_fraction`` of the levels outliers is not taken: on a
    bulk that is not a semicircle (a network's, peaked at zero) the peeling would otherwise eat the bulk itself.
    """
    bulk = np.ones(levels.size, dtype=bool)
    for _ in range(max_iter):
        sigma, center = fit_semicircle(levels[bulk])
        new = np.abs(levels - center) <= 2 * sigma * (1 + edge_margin)
        if np.array_equal(new, bulk) or new.sum() < 3 or (~new).sum() > max_outlier_fraction * levels.size:
            break
        bulk = new
    return levels[bulk], levels[~bulk]


def fit_model(
    spectra: ArrayLike,
    *,
    zero_tol: float = 1e-8,
    edge_margin: float = 0.05,
    max_iter: int = 100,
    max_outlier_fraction: float = 0.05,
) -> ModelFit:
    """Fit scale, shift, degeneracy and outliers of the model to observed spectra (one per row, or one 1-D).

    Per spectrum: levels with |lambda| <= zero_tol max|lambda| form the zero block (degeneracy); of the rest,
    a semicircle (mean, variance: ``lib.rmt.laws.fit_semicircle``) is fitted and the levels beyond its edge
    2 sigma (1 + edge_margin) are peeled off as outliers, repeatedly (at most ``max_iter`` times, and never
    beyond ``max_outlier_fraction`` of the levels), and their
    strengths recovered by inverting the BBP map (:func:`bbp_outlier_strength`). Then kpp = sigma^2 / n with
    n the number of non-zero levels. The fit is by moments, so it captures width, centre, zero block and
    outliers but is blind to the bulk's shape, which the chapter compares separately.
    """
    arr = np.asarray(spectra, dtype=float)
    arr = arr[None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[1] < 4 or not np.all(np.isfinite(arr)):
        raise ValueError(f"spectra must be finite, 1-D or 2-D with at least 4 levels each, got shape {arr.shape}")
    zero_tol, edge_margin = _non_negative(zero_tol, "zero_tol"), _non_negative(edge_margin, "edge_margin")
    zeros, bulks, outlier_levels, centers, thetas, counts, dims = [], [], [], [], [], [], []
    for row in arr:
        is_zero = np.abs(row) <= zero_tol * np.max(np.abs(row))
        rest = np.sort(row[~is_zero])
        if rest.size < 4:
            raise ValueError("fewer than 4 levels are left outside the zero block: lower zero_tol")
        bulk, out = _split_bulk(rest, edge_margin, max_iter, max_outlier_fraction)
        zeros.append(is_zero.sum())
        dims.append(rest.size)
        bulks.append(bulk)
        centers.append(bulk.mean())
        outlier_levels.append(out)
        counts.append(out.size)
    # pooled width: bulk variance about each spectrum's own centre
    sigma = float(np.sqrt(np.mean(np.concatenate([b - c for b, c in zip(bulks, centers, strict=True)]) ** 2)))
    for out, c in zip(outlier_levels, centers, strict=True):
        thetas.append(bbp_outlier_strength(out - c, sigma))
    n = int(round(np.mean(dims)))
    kpp = sigma**2 / n
    centers_arr = np.asarray(centers)
    shift_var = float(np.var(centers_arr, ddof=1) - 2 * kpp / n) if centers_arr.size > 1 else float("nan")
    return ModelFit(n, kpp, sigma, float(centers_arr.mean()), centers_arr, shift_var, float(np.mean(zeros)),
                    float(np.mean(counts)), np.concatenate(thetas), np.concatenate(outlier_levels))


def model_parameters(fit: ModelFit) -> dict[str, float]:
    """The fitted parameters as a flat mapping (for tables)."""
    return {"n": fit.n, "kpp": fit.kpp, "sigma": fit.sigma, "center": fit.center, "shift_var": fit.shift_var,
            "degeneracy": fit.degeneracy, "n_outliers": fit.n_outliers,
            "mean_outlier_strength": float(np.mean(fit.outliers)) if fit.outliers.size else float("nan")}

