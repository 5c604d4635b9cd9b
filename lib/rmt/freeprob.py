"""Limiting spectra of products, free sums and nonlinear maps of random matrices (free probability).

Every density is the continuous part ``rho(x) = -Im G(x + i0) / pi`` of a law whose Stieltjes transform
``G(z) = int rho(t) dt / (z - t)`` solves a polynomial equation; atoms at zero are returned separately by the
``..._atom`` companions, and continuous part + atom integrate to one. Conventions: paper2.md 3.1 and
rmt_reference 6.

* free product of Wisharts with ratios ``q_i`` and the rectangular chain ``X_1 ... X_M``
  (S-transform ``prod_i 1/(1 + q_i w)``; Burda et al., PRE 82, 061114 (2010));
* Fuss-Catalan, the square chain (Penson & Zyczkowski, PRE 83, 061118 (2011));
* Wigner x Wishart ``W^{1/2} H W^{1/2}`` (vanishing-mean S-transform of Rao & Speicher, ECP 12 (2007)),
  which is also the symmetrised Wigner product ``W_1 W_2 W_1``; the anticommutator ``W_1 W_2 + W_2 W_1``
  by linearisation (Belinschi, Mai & Speicher 2017);
* Marchenko-Pastur plus semicircle, the Hessian model of Pennington & Bahri (ICML 2017), and any discrete
  measure plus a semicircle through Pastur's fixed point (Pastur 1972);
* the Pennington-Worah random-feature Gram matrix ``Y Y^T / m``, ``Y = f(W X)`` (NeurIPS 2017);
* the sparse (Erdos-Renyi diluted) Wigner and Wishart ensembles, re-exported from :mod:`lib.rmt.sparse_ensembles`.

Root selection: the equation is solved at ``z = x + i y`` with ``y`` lowered geometrically from far above the
support, where the physical root is known (``G ~ 1/z``), down to ``y = 1e-9`` of the spectral scale (less near
``x = 0``, where densities may diverge), following the root continuously: Newton from the previous root, and the
companion-matrix root closest to it where Newton fails. Continuation along the real axis can jump branches
(paper2.md 3.1). Densities are accurate to about 1e-6 next to square-root edges and far better elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import trapezoid
from scipy.optimize import brentq

from lib.rmt import checks
from lib.rmt.ensembles import goe, wishart
from lib.rmt.sparse_ensembles import (
    sample_percolated_wigner,
    sample_sparse_wigner,
    sample_sparse_wishart,
    sparse_wigner_density,
    sparse_wigner_zero_atom,
    sparse_wishart_density,
    zero_mode_fraction,
)

__all__ = [
    "activation_constants",
    "chain_product_atom",
    "chain_product_density",
    "critical_energy_from_edge",
    "free_sum_mp_semicircle_density",
    "fuss_catalan_density",
    "law_moments",
    "mp_semicircle_left_edge",
    "pennington_bahri_critical_energy",
    "pennington_bahri_index",
    "pennington_worah_atom",
    "pennington_worah_density",
    "sample_chain_product",
    "sample_free_sum_mp_semicircle",
    "sample_fuss_catalan",
    "sample_percolated_wigner",
    "sample_random_feature_gram",
    "sample_sparse_wigner",
    "sample_sparse_wishart",
    "sample_wigner_anticommutator",
    "sample_wigner_product",
    "sample_wigner_wishart",
    "sample_wishart_product",
    "semicircle_convolution_density",
    "sparse_wigner_density",
    "sparse_wigner_zero_atom",
    "sparse_wishart_density",
    "wigner_anticommutator_density",
    "wigner_wishart_atom",
    "wigner_wishart_density",
    "wishart_product_atom",
    "wishart_product_density",
    "zero_mode_fraction",
]

_STEP_RATIO = 1.3  # largest factor by which Im z falls per step, small enough that the tracked root never jumps
_Y_FLOOR = 1e-9  # largest final Im z, relative to the scale of the problem


# --- parameter checks ---------------------------------------------------------------------------------------


def _ratios(ratios: Sequence[float], name: str = "ratios") -> np.ndarray:
    """Check a non-empty sequence of finite, strictly positive numbers."""
    arr = np.atleast_1d(np.asarray(ratios, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must all be finite and > 0, got {arr.tolist()}")
    return arr


def _nonnegative(value: float, name: str) -> float:
    """Check a finite real parameter >= 0."""
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return value


# --- the continuation solver --------------------------------------------------------------------------------


def _polymul(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Product of two polynomials given as lists of coefficient arrays, lowest power first."""
    out = [np.zeros(np.broadcast(a[0], b[0]).shape, dtype=complex) for _ in range(len(a) + len(b) - 1)]
    for i, ai in enumerate(a):
        for j, bj in enumerate(b):
            out[i + j] = out[i + j] + ai * bj
    return out


def _coefficient_array(coefficients: list[np.ndarray]) -> np.ndarray:
    """Stack ``[c_0, ..., c_d]`` into an ``(n, d + 1)`` array, dropping leading powers that vanish identically
    (special parameter values lower the degree, e.g. a linear activation)."""
    c = np.stack(np.broadcast_arrays(*coefficients), axis=-1).astype(complex)
    while c.shape[-1] > 2 and np.all(c[..., -1] == 0):
        c = c[..., :-1]
    return c


def _closest_root(c: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Root of each polynomial (rows of c, lowest power first) closest to ``previous``, by companion matrices."""
    d = c.shape[-1] - 1
    comp = np.zeros(c.shape[:-1] + (d, d), dtype=complex)
    comp[..., 1:, :-1] = np.eye(d - 1)
    comp[..., :, -1] = -c[..., :-1] / c[..., -1:]
    roots = np.linalg.eigvals(comp)
    pick = np.argmin(np.abs(roots - previous[..., None]), axis=-1)
    return np.take_along_axis(roots, pick[..., None], axis=-1)[..., 0]


def _newton(c: np.ndarray, u: np.ndarray, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A few Newton steps on each polynomial from ``u``; returns the root and the size of the last step."""
    step = np.zeros_like(u)
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            p, dp = c[..., -1], np.zeros_like(u)
            for k in range(c.shape[-1] - 2, -1, -1):
                dp = dp * u + p
                p = p * u + c[..., k]
            step = p / dp
            u = u - step
    return u, np.abs(step)


def _track_root(
    coefficients: Callable[[np.ndarray], list[np.ndarray]],
    x: np.ndarray,
    start: Callable[[np.ndarray], np.ndarray],
    scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Follow the physical root of ``sum_k c_k(z) u^k = 0`` from ``z = x + i Y`` down to ``z = x + i 0^+``.

    ``coefficients(z)`` returns ``[c_0, ..., c_d]`` (arrays over z); ``start(z)`` is the large-|z| asymptote
    of the physical root. ``Im z`` falls geometrically by at most ``_STEP_RATIO`` per step; at each step Newton's
    method restarts from the previous root, and where it does not converge the root closest to the previous one
    is taken from the companion matrix (paper2.md 3.1). Returns the root and the final ``z``.
    """
    top = 50.0 * (scale + np.max(np.abs(x), initial=0.0))
    # final Im z: 1e-9 of the scale, but far below |x| near 0 where densities may diverge like |x|^{-a};
    # not below 1e-12, where recovering G from w = zG - 1 would lose all precision
    floor = np.clip(1e-6 * np.abs(x), 1e-12 * scale, _Y_FLOOR * scale)
    steps = int(np.ceil(np.log(top / floor.min(initial=top)) / np.log(_STEP_RATIO))) + 2
    ys = top * (floor / top) ** np.linspace(0.0, 1.0, steps)[:, None]
    z = x + 1j * ys[0]
    root = start(z)
    for y in ys:
        z = x + 1j * y
        c = _coefficient_array(coefficients(z))
        new, last = _newton(c, root)
        bad = ~np.isfinite(new) | (last > 1e-9 * (1.0 + np.abs(new)))
        if np.any(bad):
            new[bad] = _closest_root(c[bad], root[bad])
        root = new
    return root, z


def _continuous_density(g: np.ndarray, z: np.ndarray, atom: float) -> np.ndarray:
    """``-Im(G(z) - atom / z) / pi``: the density with the atom at zero's Lorentzian removed, clipped at 0.

    With an atom, ``G - atom / z`` cancels catastrophically for ``|x| < 1e-10``; 0 is returned there.
    """
    rho = np.clip(-(g - atom / z).imag / np.pi, 0.0, None)
    return np.where((atom > 0) & (np.abs(z.real) < 1e-10), 0.0, rho)


# --- products of Wishart matrices -----------------------------------------------------------------------------


def _wishart_product_g(x: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stieltjes transform of the free product of unit-mean MP(q_i) on ``x + i0``.

    ``z w = (1 + w) prod_i (1 + q_i w)`` with ``w = z G - 1`` (paper2.md 3.3 item 1).
    """

    def coefficients(z: np.ndarray) -> list[np.ndarray]:
        poly: list[np.ndarray] = [np.ones_like(z), np.ones_like(z)]
        for qi in q:
            poly = _polymul(poly, [np.ones_like(z), qi * np.ones_like(z)])
        poly[1] = poly[1] - z
        return poly

    w, z = _track_root(coefficients, x, lambda z: 1.0 / z, scale=float(np.prod(1.0 + np.sqrt(q)) ** 2))
    return (1.0 + w) / z, z


def wishart_product_atom(ratios: Sequence[float]) -> float:
    """Atom at zero of the free product of Wisharts: ``max_i (1 - 1/q_i)^+`` (Belinschi 2003; paper2.md 3.3)."""
    q = _ratios(ratios)
    return float(max(0.0, np.max(1.0 - 1.0 / q)))


def wishart_product_density(x: float | np.ndarray, ratios: Sequence[float]) -> float | np.ndarray:
    """Continuous density of the free product ``W_1 boxtimes ... boxtimes W_M`` of unit-mean Wisharts.

    ``W_i = X_i X_i^T / T_i`` with ``q_i = N / T_i``; ``S(w) = prod_i 1/(1 + q_i w)``, hence
    ``z w = (1 + w) prod_i (1 + q_i w)``, ``w = z G - 1`` (Burda et al. 2010; paper2.md 3.3 item 1).
    ``M = 1`` is Marchenko-Pastur. The atom is :func:`wishart_product_atom`.
    """
    q = _ratios(ratios)
    xs = checks.points(x)
    g, z = _wishart_product_g(xs.ravel(), q)
    return checks.shaped(_continuous_density(g, z, wishart_product_atom(q)).reshape(xs.shape))


def chain_product_atom(widths: Sequence[int]) -> float:
    """Atom at zero of ``Y Y^T`` for the chain ``Y = X_1 ... X_M``: ``1 - min_i N_i / N_0`` (rank argument)."""
    n = _ratios(widths, "widths")
    if n.size < 2:
        raise ValueError("widths must list N_0, N_1, ..., N_M with M >= 1")
    return float(1.0 - n.min() / n[0])


def chain_product_density(x: float | np.ndarray, widths: Sequence[int]) -> float | np.ndarray:
    """Continuous density of ``Y Y^T``, ``Y = X_1 X_2 ... X_M``, ``X_i`` of size ``N_{i-1} x N_i``, var ``1/N_i``.

    ``z w = (1 + w) prod_i (1 + (N_0/N_i) w)`` (Burda et al. 2010; rmt_reference 6.1), i.e. the free Wishart
    product with ratios ``q_i = N_0 / N_i``. The atom is :func:`chain_product_atom`.
    """
    n = _ratios(widths, "widths")
    if n.size < 2:
        raise ValueError("widths must list N_0, N_1, ..., N_M with M >= 1")
    return wishart_product_density(x, n[0] / n[1:])


def fuss_catalan_density(x: float | np.ndarray, m: int) -> float | np.ndarray:
    """Fuss-Catalan density ``pi_m``: squared singular values of a product of m square Ginibre matrices.

    ``z w = (1 + w)^{m + 1}``; support ``(0, (m+1)^{m+1} / m^m]``; moments ``binom((m+1)k, k) / (mk + 1)``
    (Penson & Zyczkowski, PRE 83, 061118 (2011); rmt_reference 6.1). No atom.
    """
    m = checks.size(m, "m")
    return wishart_product_density(x, np.ones(m))


# --- Wigner x Wishart -------------------------------------------------------------------------------------------


def wigner_wishart_atom(q: float) -> float:
    """Atom at zero of ``W^{1/2} H W^{1/2}``: ``(1 - 1/q)^+``, the kernel of the Wishart factor."""
    return float(max(0.0, 1.0 - 1.0 / checks.positive(q, "q")))


def wigner_wishart_density(x: float | np.ndarray, q: float, sigma: float = 1.0) -> float | np.ndarray:
    """Continuous density of ``W^{1/2} H W^{1/2}``, H semicircle of variance ``sigma^2``, W unit-mean MP(q).

    ``S(w) = 1 / (sigma sqrt(w) (1 + q w))`` gives ``z^2 w = sigma^2 (1 + w)^2 (1 + q w)^2``, ``w = zG - 1``
    (Rao & Speicher 2007; paper2.md 3.3 item 4). Symmetric, ``m_2 = sigma^2``; atom :func:`wigner_wishart_atom`.
    """
    q = checks.positive(q, "q")
    s2 = checks.positive(sigma, "sigma") ** 2
    xs = checks.points(x)

    def coefficients(z: np.ndarray) -> list[np.ndarray]:
        one = np.ones_like(z)
        poly = _polymul(_polymul([one, one], [one, one]), _polymul([one, q * one], [one, q * one]))
        poly = [s2 * c for c in poly]
        poly[1] = poly[1] - z**2
        return poly

    scale = np.sqrt(s2) * (1.0 + np.sqrt(q)) ** 2
    # At z -> 0 the physical root meets w = -1, a double root of the polynomial, and root tracking loses it. The
    # density is even, finite at 0 for q < 1 and divergent for q >= 1, so |x| below 1e-6 of the scale is evaluated
    # at 1e-6 of the scale (the limit for q < 1, a large finite value for q >= 1).
    tiny = 1e-6 * scale
    xs_eval = np.where(np.abs(xs) < tiny, np.where(xs < 0, -tiny, tiny), xs)
    w, z = _track_root(coefficients, xs_eval.ravel(), lambda z: s2 / z**2, scale=scale)
    rho = _continuous_density((1.0 + w) / z, z, wigner_wishart_atom(q))
    return checks.shaped(rho.reshape(xs.shape))


def sample_wigner_product(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of the symmetrised product ``W_1 W_2 W_1`` of two independent n x n GOE matrices.

    ``W_1^2`` is MP(1) of unit mean and ``W_1 W_2 W_1`` has the spectrum of ``(W_1^2)^{1/2} W_2 (W_1^2)^{1/2}``,
    so its limit is :func:`wigner_wishart_density` with ``q = 1`` (paper2.md 3.3 item 4).
    """
    n = checks.size(n, "n")
    gen = checks.generator(rng)
    w1 = goe(n, gen)
    return np.linalg.eigvalsh(w1 @ goe(n, gen) @ w1)


def wigner_anticommutator_density(
    x: float | np.ndarray, sigma1: float = 1.0, sigma2: float = 1.0
) -> float | np.ndarray:
    """Density of the anticommutator ``W_1 W_2 + W_2 W_1`` of free semicircles of variances sigma1^2, sigma2^2.

    Linearisation ``L = b_0 + b_1 s_1 + b_2 s_2`` (``b_0 = -(E_23 + E_32)``, ``b_1 = E_12 + E_21``,
    ``b_2 = E_13 + E_31``) and the operator-valued semicircle equation ``W = (diag(z, 0, 0) - b_0 - eta(W))^{-1}``,
    ``eta(B) = sigma1^2 b_1 B b_1 + sigma2^2 b_2 B b_2`` (Belinschi, Mai & Speicher, J. reine angew. Math. 732
    (2017); rmt_reference 6.2). The symmetry ``(s_1, s_2) -> (-s_1, -s_2)`` forces ``W_12 = W_13 = 0``; the
    remaining 2 x 2 block inverts in closed form and ``g = W_11`` solves the cubic
    ``v z g^3 + v g^2 - z g + 1 = 0``, ``v = sigma1^2 sigma2^2``. Hence ``rho(0) = 1 / (pi sqrt v)``. No atom.
    """
    v = (checks.positive(sigma1, "sigma1") * checks.positive(sigma2, "sigma2")) ** 2
    xs = checks.points(x)

    def coefficients(z: np.ndarray) -> list[np.ndarray]:
        one = np.ones_like(z)
        return [one, -z, v * one, v * z]

    g, z = _track_root(coefficients, xs.ravel(), lambda z: 1.0 / z, scale=4.0 * np.sqrt(v))
    return checks.shaped(_continuous_density(g, z, 0.0).reshape(xs.shape))


def sample_wigner_anticommutator(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``W_1 W_2 + W_2 W_1`` for two independent n x n GOE matrices (unit semicircles)."""
    n = checks.size(n, "n")
    gen = checks.generator(rng)
    w1, w2 = goe(n, gen), goe(n, gen)
    return np.linalg.eigvalsh(w1 @ w2 + w2 @ w1)


# --- free sums with a semicircle --------------------------------------------------------------------------------


def _mp_semicircle_g(x: np.ndarray, phi: float, s2: float) -> tuple[np.ndarray, np.ndarray]:
    """Root of ``-phi s2 G^3 + (s2 + phi z) G^2 + (1 - phi - z) G + 1 = 0`` (rmt_reference 6.3)."""

    def coefficients(z: np.ndarray) -> list[np.ndarray]:
        one = np.ones_like(z)
        return [one, (1.0 - phi) - z, s2 + phi * z, -phi * s2 * one]

    return _track_root(coefficients, x, lambda z: 1.0 / z, scale=(1.0 + np.sqrt(phi)) ** 2 + 2.0 * np.sqrt(s2))


def free_sum_mp_semicircle_density(x: float | np.ndarray, phi: float, s2: float) -> float | np.ndarray:
    """Density of ``MP(phi) boxplus SC(s2)``: unit-mean Marchenko-Pastur plus a semicircle of variance s2.

    ``G^{-1}(g) = 1/g + 1/(1 - phi g) + s2 g`` (R-transforms add), a cubic in G (Pennington & Bahri, ICML
    2017; rmt_reference 6.3). With ``s2 > 0`` there is no atom (a free sum with a semicircle has none).
    """
    phi = checks.positive(phi, "phi")
    s2 = checks.positive(s2, "s2")
    xs = checks.points(x)
    g, z = _mp_semicircle_g(xs.ravel(), phi, s2)
    return checks.shaped(_continuous_density(g, z, 0.0).reshape(xs.shape))


def _mp_semicircle_z(g: np.ndarray | float, phi: float, s2: float) -> np.ndarray | float:
    """The inverse Stieltjes transform ``z(g) = 1/g + 1/(1 - phi g) + s2 g`` of ``MP(phi) boxplus SC(s2)``."""
    return 1.0 / g + 1.0 / (1.0 - phi * g) + s2 * g


def mp_semicircle_left_edge(phi: float, s2: float) -> float:
    """Left edge of the support of ``MP(phi) boxplus SC(s2)``.

    As x rises from -inf, the real G(x) falls from 0^- until ``z'(g) = 0``; the edge is ``z(g*)`` at the
    negative critical point closest to 0, a root of ``-(1 - phi g)^2 + phi g^2 + s2 g^2 (1 - phi g)^2 = 0``.
    """
    phi = checks.positive(phi, "phi")
    s2 = checks.positive(s2, "s2")
    # (1 - phi g)^2 (s2 g^2 - 1) + phi g^2, lowest power first
    poly = np.polynomial.polynomial.polymul([1.0, -phi], [1.0, -phi])
    poly = np.polynomial.polynomial.polymul(poly, [-1.0, 0.0, s2])
    poly = np.polynomial.polynomial.polyadd(poly, [0.0, 0.0, phi])
    roots = np.polynomial.polynomial.polyroots(poly)
    negative = roots[(np.abs(roots.imag) < 1e-9) & (roots.real < 0)].real
    return float(_mp_semicircle_z(negative.max(), phi, s2))


def pennington_bahri_critical_energy(phi: float) -> float:
    """``eps_c(phi) = (1 - 20 phi - 8 phi^2 + (1 + 8 phi)^{3/2}) / 16`` for ``0 < phi <= 1``.

    The energy at which the left edge of ``MP(phi) boxplus SC(2 eps)`` reaches zero, so that negative Hessian
    eigenvalues appear for ``eps > eps_c`` (Pennington & Bahri, ICML 2017; rmt_reference 8.2).
    """
    phi = checks.positive(phi, "phi")
    if phi > 1:
        raise ValueError(f"eps_c is defined for phi <= 1 (for phi > 1 the index is > 0 at every eps), got {phi}")
    return (1.0 - 20.0 * phi - 8.0 * phi**2 + (1.0 + 8.0 * phi) ** 1.5) / 16.0


def critical_energy_from_edge(phi: float) -> float:
    """The energy eps at which the left edge of ``MP(phi) boxplus SC(2 eps)`` reaches 0, found numerically.

    Brent's method on :func:`mp_semicircle_left_edge`; an independent check of
    :func:`pennington_bahri_critical_energy` (Pennington & Bahri 2017).
    """
    phi = checks.positive(phi, "phi")
    if phi >= 1:
        raise ValueError(f"the left edge is below 0 for every eps > 0 when phi >= 1, got phi={phi}")
    return 0.5 * brentq(lambda s2: mp_semicircle_left_edge(phi, s2), 1e-12, 1.0, xtol=1e-15)


def pennington_bahri_index(eps: float, phi: float, nodes: int = 200) -> float:
    """Index ``alpha(eps, phi) = int_{-inf}^0 rho(x) dx`` of the Hessian model ``MP(phi) boxplus SC(2 eps)``.

    The fraction of negative eigenvalues (Pennington & Bahri 2017, eq. for alpha; rmt_reference 8.2). Near the
    critical energy it grows like ``|eps - eps_c|^{3/2}``. Computed by Gauss-Legendre quadrature in
    ``x = edge + (0 - edge) t^2``, which removes the square-root edge.
    """
    eps = checks.positive(eps, "eps")
    phi = checks.positive(phi, "phi")
    edge = mp_semicircle_left_edge(phi, 2.0 * eps)
    if edge >= 0:
        return 0.0
    t, wt = np.polynomial.legendre.leggauss(nodes)
    t = 0.5 * (t + 1.0)
    xs = edge - edge * t**2
    rho = free_sum_mp_semicircle_density(xs, phi, 2.0 * eps)
    return float(np.sum(0.5 * wt * rho * (-edge) * 2.0 * t))


def semicircle_convolution_density(
    x: float | np.ndarray, a: np.ndarray, s2: float, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Density of ``mu_A boxplus SC(s2)`` for a discrete ``mu_A = sum_i w_i delta_{a_i}`` (e.g. a spectrum).

    Pastur's equation ``G(z) = sum_i w_i / (z - s2 G(z) - a_i)`` (Pastur 1972; rmt_reference 6.3), solved by
    damped fixed-point iteration while ``Im z`` is lowered from far above the support to ``1e-6``.
    """
    s2 = checks.positive(s2, "s2")
    a = np.asarray(a, dtype=float).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError("a must be a non-empty array of finite values")
    w = np.full(a.size, 1.0 / a.size) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != a.shape or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError("weights must be non-negative, one per point of a, and sum to 1")
    xs = checks.points(x)
    flat = xs.ravel()
    scale = np.max(np.abs(a)) + 2.0 * np.sqrt(s2)
    g = 1.0 / (flat + 50j * scale)
    for y in np.geomspace(50.0 * scale, 1e-6 * scale, 60):
        z = flat + 1j * y
        for _ in range(200):
            new = 0.5 * g + 0.5 * ((w / (z[:, None] - s2 * g[:, None] - a)).sum(axis=1))
            done = np.max(np.abs(new - g)) < 1e-12
            g = new
            if done:
                break
    return checks.shaped(np.clip(-g.imag / np.pi, 0.0, None).reshape(xs.shape))


# --- Pennington-Worah nonlinear random features -----------------------------------------------------------------


def _gaussian_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid nodes and weights for ``E h(Z)``, ``Z ~ N(0, 1)``, on [-12, 12] with step 1e-3.

    Spectrally accurate for smooth h and ``O(1e-6)`` for kinks such as ReLU, where Gauss-Hermite is not.
    """
    t = np.linspace(-12.0, 12.0, 24001)
    return t, np.exp(-0.5 * t**2) * (t[1] - t[0]) / np.sqrt(2.0 * np.pi)


def activation_constants(
    f: Callable[[np.ndarray], np.ndarray], sigma_w: float = 1.0, sigma_x: float = 1.0
) -> tuple[float, float]:
    """Pennington-Worah constants of the centred activation ``f - E f``: ``(eta, zeta)``.

    ``eta = Var f(s Z)`` and ``zeta = (s E f'(s Z))^2 = (E[Z f(s Z)])^2`` (Stein's lemma, so f need not be
    differentiable), ``s = sigma_w sigma_x``, ``Z ~ N(0, 1)`` (Pennington & Worah 2017, eq. 6; rmt_reference
    8.1). Raises ValueError where they are undefined (f not finite) or degenerate (``eta = 0``).
    """
    s = checks.positive(sigma_w, "sigma_w") * checks.positive(sigma_x, "sigma_x")
    t, wt = _gaussian_nodes()
    with np.errstate(all="ignore"):
        values = np.asarray(f(s * t), dtype=float)
    if values.shape != t.shape or not np.all(np.isfinite(values)):
        raise ValueError("activation is not finite on [-12 s, 12 s]: its Gaussian constants are undefined")
    mean = np.sum(wt * values)
    eta = float(np.sum(wt * (values - mean) ** 2))
    zeta = float(np.sum(wt * t * values) ** 2)
    if eta <= 1e-14:
        raise ValueError(f"activation constants degenerate: eta = Var f = {eta} (a constant activation)")
    return eta, min(zeta, eta)  # zeta <= eta by Cauchy-Schwarz; the min only removes quadrature round-off


def _pw_parameters(phi: float, psi: float, eta: float, zeta: float) -> tuple[float, float, float, float]:
    """Check the Pennington-Worah parameters: ratios > 0, ``eta > 0`` and ``0 <= zeta <= eta``."""
    phi = checks.positive(phi, "phi")
    psi = checks.positive(psi, "psi")
    eta = checks.positive(eta, "eta")
    zeta = _nonnegative(zeta, "zeta")
    if zeta > eta * (1.0 + 1e-9):
        raise ValueError(f"zeta must not exceed eta (Cauchy-Schwarz), got eta={eta}, zeta={zeta}")
    # within quadrature round-off of eta the activation is linear: snap, so that the exact degree drop and
    # the linear rank (atom) are used
    return phi, psi, eta, eta if zeta >= eta * (1.0 - 1e-9) else zeta


def pennington_worah_atom(phi: float, psi: float, eta: float, zeta: float) -> float:
    """Atom at zero of ``M = Y Y^T / m`` (``n_1 x n_1``): one minus its rank fraction.

    ``rank Y = min(n_1, m)`` for a nonlinear f (``zeta < eta``) and ``min(n_0, n_1, m)`` for a linear one
    (``zeta = eta`` to a relative 1e-9, ``Y = sqrt(zeta) W X``); with ``n_0 / n_1 = psi`` and
    ``m / n_1 = psi / phi``.
    """
    phi, psi, eta, zeta = _pw_parameters(phi, psi, eta, zeta)
    fractions = [1.0, psi / phi] + ([psi] if zeta == eta else [])
    return float(1.0 - min(fractions))


def pennington_worah_density(
    x: float | np.ndarray, phi: float, psi: float, eta: float, zeta: float
) -> float | np.ndarray:
    """Continuous density of the Gram matrix ``M = Y Y^T / m``, ``Y = f(W X)`` (``n_1 x n_1``).

    ``W`` is ``n_1 x n_0`` with entries ``N(0, sigma_w^2 / n_0)``, ``X`` is ``n_0 x m`` with ``N(0, sigma_x^2)``,
    ``phi = n_0 / m``, ``psi = n_0 / n_1``, and ``eta, zeta`` from :func:`activation_constants`.
    ``G(z) = (psi / z) P(1 / (z psi)) + (1 - psi) / z`` with
    ``P = 1 + (eta - zeta) t P_phi P_psi + P_phi P_psi t zeta / (1 - P_phi P_psi t zeta)``,
    ``P_phi = 1 + (P - 1) phi``, ``P_psi = 1 + (P - 1) psi`` (Pennington & Worah 2017, eq. 10; rmt_reference
    8.1): a quartic in P. ``zeta = 0`` is Marchenko-Pastur of ratio ``phi/psi`` and scale eta; ``zeta = eta``
    is the chain ``(n_1, n_0, m)`` scaled by zeta. The atom is :func:`pennington_worah_atom`.
    """
    phi, psi, eta, zeta = _pw_parameters(phi, psi, eta, zeta)
    xs = checks.points(x)

    def coefficients(z: np.ndarray) -> list[np.ndarray]:
        one = np.ones_like(z)
        t = 1.0 / (z * psi)
        a = [c * t for c in _polymul([(1.0 - phi) * one, phi * one], [(1.0 - psi) * one, psi * one])]
        # (P - 1 - (eta - zeta) A)(1 - zeta A) - zeta A = 0, with A = t P_phi P_psi quadratic in P
        first = [-one - (eta - zeta) * a[0], one - (eta - zeta) * a[1], -(eta - zeta) * a[2]]
        second = [one - zeta * a[0], -zeta * a[1], -zeta * a[2]]
        poly = _polymul(first, second)
        return [poly[k] - zeta * (a[k] if k < 3 else 0.0) for k in range(len(poly))]

    lam = max(1.0, 1.0 / psi, phi / psi)
    scale = eta * (1.0 + np.sqrt(lam)) ** 2 * (1.0 + np.sqrt(psi)) ** 2
    p, z = _track_root(coefficients, xs.ravel(), lambda z: np.ones_like(z), scale=scale)
    g = psi / z * p + (1.0 - psi) / z
    rho = _continuous_density(g, z, pennington_worah_atom(phi, psi, eta, zeta))
    return checks.shaped(rho.reshape(xs.shape))


# --- samplers (eigenvalues) --------------------------------------------------------------------------------------


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (negative round-off clipped)."""
    vals, vecs = np.linalg.eigh(a)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def sample_wishart_product(n: int, ratios: Sequence[float], rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``S_M``, ``S_1 = W_1``, ``S_k = S_{k-1}^{1/2} W_k S_{k-1}^{1/2}``, ``W_k`` n x n Wisharts.

    Each ``W_k = X X^T / T_k`` with ``T_k = round(n / q_k)``; ``S_M`` has the spectrum of ``W_1 ... W_M`` in
    law because every ``W_k`` is orthogonally invariant (free multiplicative convolution, paper2.md 3.3).
    """
    n = checks.size(n, "n")
    q = _ratios(ratios)
    gen = checks.generator(rng)
    s = wishart(n, max(1, round(n / q[0])), gen)
    for qk in q[1:]:
        root = _sqrt_psd(s)
        s = root @ wishart(n, max(1, round(n / qk)), gen) @ root
    return np.linalg.eigvalsh(s)


def sample_chain_product(widths: Sequence[int], rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``Y Y^T`` for ``Y = X_1 ... X_M``, ``X_i`` of size ``N_{i-1} x N_i`` with var ``1/N_i``."""
    sizes = [checks.size(int(w), "width") for w in widths]
    if len(sizes) < 2:
        raise ValueError("widths must list N_0, N_1, ..., N_M with M >= 1")
    gen = checks.generator(rng)
    y = np.eye(sizes[0])
    for rows, cols in zip(sizes[:-1], sizes[1:], strict=True):
        y = y @ (gen.standard_normal((rows, cols)) / np.sqrt(cols))
    return np.linalg.eigvalsh(y @ y.T)


def sample_fuss_catalan(n: int, m: int, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``Y Y^T`` for a product ``Y`` of m square ``n x n`` Ginibre matrices (variance 1/n)."""
    return sample_chain_product([checks.size(n, "n")] * (checks.size(m, "m") + 1), rng)


def sample_wigner_wishart(n: int, q: float, rng: np.random.Generator | int, sigma: float = 1.0) -> np.ndarray:
    """Eigenvalues of ``W^{1/2} H W^{1/2}``: H = sigma x GOE (semicircle of variance sigma^2), W = Wishart(n, n/q).

    For ``q > 1`` the non-zero eigenvalues are those of ``L^T H L`` (``L = X / sqrt(T)``, T x T), padded with
    ``n - T`` exact zeros; otherwise the symmetric square root of W is used.
    """
    n = checks.size(n, "n")
    q = checks.positive(q, "q")
    sigma = checks.positive(sigma, "sigma")
    gen = checks.generator(rng)
    t = max(1, round(n / q))
    h = sigma * goe(n, gen)
    if t < n:
        ell = gen.standard_normal((n, t)) / np.sqrt(t)
        return np.sort(np.concatenate([np.linalg.eigvalsh(ell.T @ h @ ell), np.zeros(n - t)]))
    root = _sqrt_psd(wishart(n, t, gen))
    return np.linalg.eigvalsh(root @ h @ root)


def sample_free_sum_mp_semicircle(n: int, phi: float, s2: float, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``W + sqrt(s2) H``: W = Wishart(n, n/phi) of unit mean, H a GOE (Pennington & Bahri)."""
    n = checks.size(n, "n")
    phi = checks.positive(phi, "phi")
    s2 = _nonnegative(s2, "s2")
    gen = checks.generator(rng)
    return np.linalg.eigvalsh(wishart(n, max(1, round(n / phi)), gen) + np.sqrt(s2) * goe(n, gen))


def sample_random_feature_gram(
    n0: int,
    n1: int,
    m: int,
    f: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator | int,
    sigma_w: float = 1.0,
    sigma_x: float = 1.0,
) -> np.ndarray:
    """Eigenvalues of ``M = Y Y^T / m`` (n1 x n1), ``Y = f(W X) - E f``, the Pennington-Worah setup.

    ``W`` is ``n1 x n0`` with ``N(0, sigma_w^2 / n0)`` entries and ``X`` is ``n0 x m`` with ``N(0, sigma_x^2)``;
    f is centred by its Gaussian mean, as Pennington & Worah require.
    """
    n0, n1, m = checks.size(n0, "n0"), checks.size(n1, "n1"), checks.size(m, "m")
    s = checks.positive(sigma_w, "sigma_w") * checks.positive(sigma_x, "sigma_x")
    gen = checks.generator(rng)
    t, wt = _gaussian_nodes()
    mean = float(np.sum(wt * f(s * t)))
    w = gen.standard_normal((n1, n0)) * (sigma_w / np.sqrt(n0))
    x = gen.standard_normal((n0, m)) * sigma_x
    y = f(w @ x) - mean
    return np.linalg.eigvalsh(y @ y.T / m)


# --- moments of a law -------------------------------------------------------------------------------------------


def law_moments(density: Callable[[np.ndarray], np.ndarray], support: tuple[float, float], atom: float = 0.0,
                points: int = 8001) -> dict[str, float]:
    """Total mass, mean and second moment of the law ``atom delta_0 + density`` on ``support``.

    ``mass = atom + int rho``, ``mean = int x rho``, ``m2 = int x^2 rho`` (the atom at 0 adds nothing to either
    moment), by the trapezoid rule on a grid refined cubically towards 0 when the support straddles it, where
    several of these densities diverge (integrably, e.g. ``x^{-2/3}`` for Fuss-Catalan). A law is normalised
    when ``mass`` is 1; the continuous part's mass is ``mass - atom``.
    """
    lo, hi = float(support[0]), float(support[1])
    if not lo < hi:
        raise ValueError(f"support must be (lo, hi) with lo < hi, got {support}")
    u = np.linspace(-1.0, 1.0, checks.size(points, "points"))
    if lo < 0 < hi:
        x = np.unique(np.concatenate([lo * np.abs(u[u < 0]) ** 3, hi * u[u >= 0] ** 3]))
    else:
        x = np.linspace(lo, hi, u.size)
    rho = np.asarray(density(x), dtype=float)
    rho = np.where(np.isfinite(rho), rho, 0.0)  # a divergence evaluated exactly at 0 carries no mass
    return {"mass": float(atom + trapezoid(rho, x)), "mean": float(trapezoid(x * rho, x)),
            "m2": float(trapezoid(x * x * rho, x))}
