"""Complexity of the spherical p-spin glass, and the same Kac-Rice formula with another Hessian law.

* Auffinger, Ben Arous & Cerny (ABC), "Random matrices and complexity of spin glasses", CPAM 66, 165 (2013),
  arXiv:1003.1129: :func:`complexity` (index-k and total complexity) and the layered thresholds
  ``E_0 > E_1 > ... > E_inf`` of :func:`thresholds` (rmt_reference 9, paper2.md 4.1).
* paper2.md 4.2: the same variational formula with the semicircle replaced by any limiting Hessian density
  (a :class:`HessianLaw`), :func:`general_complexity` / :func:`general_thresholds`. This is a heuristic: the
  p-spin Hessian *is* a shifted GOE, so changing its law means positing a different model.

Units ("GOE units"): a critical point at energy ``H = N u`` has a Hessian proportional to ``M - t I`` with
``M`` a GOE whose semicircle fills ``[-sqrt 2, sqrt 2]`` and ``t = c_p u``, ``c_p = sqrt(p / (2 (p - 1)))``.
So ``E_inf = sqrt(2) / c_p = 2 sqrt((p - 1) / p)`` is the energy at which the bulk of the Hessian touches 0.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from lib.rmt import checks
from lib.rmt.freeprob import wigner_wishart_atom, wigner_wishart_density

SQRT2 = float(np.sqrt(2.0))


# --- checks ---------------------------------------------------------------------------------------------------


def _check_p(p: int) -> int:
    """The p of the p-spin model: an integer >= 2."""
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        raise TypeError(f"p must be an integer, got {type(p).__name__}")
    if p < 2:
        raise ValueError(f"p must be >= 2 (p-spin interaction order), got {p}")
    return int(p)


def _check_index(k: int | None, name: str = "k") -> int | None:
    """An index (number of negative Hessian eigenvalues): None or an integer >= 0."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an integer or None, got {type(k).__name__}")
    if k < 0:
        raise ValueError(f"{name} must be >= 0, got {k}")
    return int(k)


def _energies(u: float | np.ndarray) -> np.ndarray:
    """Energies per spin as a finite real array."""
    arr = checks.points(u)
    if not np.all(np.isfinite(arr)):
        raise ValueError("u must be finite (found NaN or inf)")
    return arr


def hessian_scale(p: int) -> float:
    """``c_p = sqrt(p / (2 (p - 1)))``: a critical point at energy ``u`` has Hessian ``~ M - c_p u I`` (ABC 2013)."""
    p = _check_p(p)
    return float(np.sqrt(p / (2.0 * (p - 1))))


# --- the semicircle in GOE units: closed forms ------------------------------------------------------------------


def semicircle_edge_rate(t: float | np.ndarray, radius: float = SQRT2) -> float | np.ndarray:
    """Large-deviation rate of the smallest eigenvalue of a GOE whose semicircle fills ``[-R, R]``.

    ``I_R(t) = (|t| / R^2) sqrt(t^2 - R^2) - log((|t| + sqrt(t^2 - R^2)) / R)`` for ``t <= -R``, 0 above:
    the Ben Arous-Dembo-Guionnet rate ``(1/2) int_2^x sqrt(s^2 - 4) ds`` (PTRF 120, 1 (2001)) rescaled from
    radius 2 to R. The k-th smallest eigenvalue has rate ``k I`` (ABC 2013, their LDP for the k-th eigenvalue).
    """
    radius = checks.positive(radius, "radius")
    s = np.maximum(-_energies(t), radius)  # the rate vanishes at and above the lower edge
    root = np.sqrt(s * s - radius * radius)
    return checks.shaped(s * root / radius**2 - np.log((s + root) / radius))


def semicircle_log_potential(t: float | np.ndarray, radius: float = SQRT2) -> float | np.ndarray:
    """Log-potential ``Omega(t) = int log|l - t| rho(l) dl`` of the semicircle on ``[-R, R]``.

    ``Omega(t) = t^2 / R^2 - 1/2 + log(R / 2) - I_R(t)``: the quadratic inside the support (the semicircle is the
    equilibrium measure of the potential ``t^2 / R^2``), minus the edge rate :func:`semicircle_edge_rate` outside
    (on the right by symmetry).
    """
    t = _energies(t)
    rate = semicircle_edge_rate(-np.abs(t), radius)
    return checks.shaped(t * t / radius**2 - 0.5 + np.log(radius / 2.0) - rate)


# --- Auffinger-Ben Arous-Cerny ------------------------------------------------------------------------------------


def e_infinity(p: int) -> float:
    """``E_inf = 2 sqrt((p - 1) / p)``: the energy at which the Hessian bulk reaches 0 (ABC 2013)."""
    p = _check_p(p)
    return float(2.0 * np.sqrt((p - 1) / p))


def complexity(u: float | np.ndarray, p: int, k: int | None = None) -> float | np.ndarray:
    """ABC complexity ``lim (1/N) log E Crt_{N,k}((-inf, u])`` of the spherical p-spin glass.

    With ``E = E_inf`` and ``I_1(u) = -(u / E^2) sqrt(u^2 - E^2) - log(-u + sqrt(u^2 - E^2)) + log E``
    (rmt_reference 9),

    * index k: ``Theta_k(u) = log(p-1)/2 - (p-2)/(4(p-1)) u^2 - (k+1) I_1(u)`` for ``u <= -E``,
      and the constant ``log(p-1)/2 - (p-2)/p`` above;
    * all indices, ``k = None``: ``log(p-1)/2 - (p-2)/(4(p-1)) u^2 - I_1(u)`` for ``u <= -E``,
      ``log(p-1)/2 - (p-2)/(4(p-1)) u^2`` for ``-E <= u <= 0`` and ``log(p-1)/2`` for ``u >= 0``.
    """
    p = _check_p(p)
    k = _check_index(k)
    u = _energies(u)
    c = hessian_scale(p)
    # I_1(u) is the GOE edge rate at t = c_p u (rmt_reference 9, "rate function link")
    i1 = np.asarray(semicircle_edge_rate(c * u))
    base = 0.5 * np.log(p - 1) - (p - 2) / (4.0 * (p - 1)) * u * u
    if k is None:
        return checks.shaped(np.where(u >= 0, 0.5 * np.log(p - 1), base - i1))
    e_inf = e_infinity(p)
    return checks.shaped(np.where(u <= -e_inf, base - (k + 1) * i1, 0.5 * np.log(p - 1) - (p - 2) / p))


def _first_zero(f: Callable[[np.ndarray], np.ndarray], grid: np.ndarray, values: np.ndarray) -> float:
    """Smallest zero of ``f``: the first grid point where ``values = f(grid)`` turns >= 0, refined by Brent.

    NaN when ``f < 0`` on the whole grid.
    """
    up = np.nonzero(values >= 0)[0]
    if up.size == 0:
        return float("nan")
    i = int(up[0])
    if i == 0:
        raise ValueError(f"complexity is already >= 0 at the lower end {grid[0]} of the search")
    return float(brentq(lambda v: float(f(np.asarray(v))), grid[i - 1], grid[i], xtol=1e-13, rtol=1e-13))


def thresholds(p: int, kmax: int) -> tuple[np.ndarray, float]:
    """ABC thresholds ``(E_0, ..., E_kmax)`` and ``E_inf``: ``-E_k`` is the zero of ``Theta_k`` below ``-E_inf``.

    Below ``-E_k`` there are (exponentially) no critical points of index >= k, so the low critical values are
    layered by index in the band ``[-E_0, -E_inf]`` (ABC 2013; ``E_0(3) = 1.657``, paper2.md 4.1).
    For ``p = 2`` every ``Theta_k`` vanishes at ``-E_inf`` and all thresholds equal ``E_inf = sqrt 2``.
    """
    p = _check_p(p)
    kmax = _check_index(kmax, "kmax")
    if kmax is None:
        raise TypeError("kmax must be an integer >= 0, got None")
    e_inf = e_infinity(p)
    out = np.empty(kmax + 1)
    for k in range(kmax + 1):
        if complexity(-e_inf, p, k) <= 0:  # p = 2: the constant branch is exactly 0
            out[k] = e_inf
            continue
        lo = -e_inf
        while complexity(lo, p, k) >= 0:  # Theta_k -> -inf as u -> -inf, so this ends
            lo = 2.0 * lo
        out[k] = -brentq(lambda v, k=k: complexity(v, p, k), lo, -e_inf, xtol=1e-13, rtol=1e-13)
    return out, e_inf


# --- the same formula with another Hessian law (paper2.md 4.2) -------------------------------------------------


@dataclass(frozen=True)
class HessianLaw:
    """What the Kac-Rice complexity needs from a limiting Hessian spectral law rho in GOE units.

    ``log_potential(t) = int log|l - t| rho(dl)`` (atom included), ``lower_edge`` the bottom of the support of the
    continuous part, and ``rate(t)`` (for ``t <= lower_edge``) the large-deviation rate of the smallest eigenvalue;
    ``rate`` may be None when only the total complexity is wanted.
    """

    log_potential: Callable[[np.ndarray], np.ndarray]
    lower_edge: float
    rate: Callable[[np.ndarray], np.ndarray] | None = None


def _check_weight(weight: float) -> float:
    """An atom weight in [0, 1)."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(f"atom weight must be a real number, got {type(weight).__name__}")
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"atom weight must lie in [0, 1), got {weight}")
    return float(weight)


def semicircle_atom_law(weight: float = 0.0, radius: float = SQRT2) -> HessianLaw:
    """``rho = (1 - w) semicircle[-R, R] + w delta_0`` in closed form (paper2.md 4.2).

    ``Omega = (1 - w) Omega_R + w log|t|``. For the rate, the Coulomb-gas potential with this equilibrium measure
    (``V'/2 = (1 - w) 2t/R^2 + w/t``, the Hilbert transform continued off the support) gives
    ``I = int_t^{-R} (G - V'/2) = (1 - w) I_R``. ``w = 0, R = sqrt 2`` is ABC's GOE; ``R = sqrt(2/(1-w))``
    keeps the second moment at the GOE value 1/2.
    """
    w = _check_weight(weight)
    radius = checks.positive(radius, "radius")

    def log_potential(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore"):  # log 0 = -inf: a Hessian with an atom at -t = 0 has det 0
            atom = w * np.log(np.abs(t)) if w > 0 else 0.0
        return (1.0 - w) * np.asarray(semicircle_log_potential(t, radius)) + atom

    def rate(t: np.ndarray) -> np.ndarray:
        return (1.0 - w) * np.asarray(semicircle_edge_rate(t, radius))

    return HessianLaw(log_potential=log_potential, lower_edge=-radius, rate=rate)


def log_potential(
    t: float | np.ndarray,
    density: Callable[[np.ndarray], np.ndarray],
    support: tuple[float, float],
    atom: float = 0.0,
    n_cells: int = 2000,
) -> float | np.ndarray:
    """``Omega(t) = int log|l - t| rho(l) dl + atom log|t|`` for a tabulated density by product integration.

    The density is taken constant on each of ``n_cells`` cells (cosine-spaced, so square-root edges are resolved)
    and ``log|l - t|`` is integrated exactly on each cell: ``int log|y| dy = y log|y| - y``. The cell masses are
    rescaled to ``1 - atom``; a density that does not integrate to ``1 - atom`` within 1% is refused.
    """
    masses, edges = _tabulate(density, support, atom, n_cells)
    t = _energies(t)
    return checks.shaped(_cell_log_potential(t.ravel(), masses, edges, atom).reshape(t.shape))


def _tabulate(
    density: Callable[[np.ndarray], np.ndarray], support: tuple[float, float], atom: float, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cell masses and cell edges of a density on ``support`` (midpoint rule on cosine-spaced cells).

    Cells cluster at the edges and, when 0 is inside the support, at 0 too, where product laws can have an
    integrable singularity (e.g. Wigner x Wishart with ``q >= 1``).
    """
    lo, hi = (float(s) for s in support)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"support must be a finite interval (lo, hi) with lo < hi, got {support}")
    atom = _check_weight(atom)
    if isinstance(n_cells, bool) or not isinstance(n_cells, numbers.Integral) or n_cells < 10:
        raise ValueError(f"n_cells must be an integer >= 10, got {n_cells}")
    pieces = [(lo, 0.0), (0.0, hi)] if lo < 0.0 < hi else [(lo, hi)]
    edges = np.unique(np.concatenate([_cosine_cells(a, b, n_cells * (b - a) / (hi - lo)) for a, b in pieces]))
    mid = 0.5 * (edges[1:] + edges[:-1])
    values = np.asarray(density(mid), dtype=float)
    if values.shape != mid.shape or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("density must return finite non-negative values of the input's shape")
    masses = values * np.diff(edges)
    total = masses.sum()
    if abs(total + atom - 1.0) > 1e-2:
        raise ValueError(f"density integrates to {total:.4f} on {support}; with the atom {atom} that is not 1")
    return masses * (1.0 - atom) / total, edges


def _cosine_cells(a: float, b: float, n: float) -> np.ndarray:
    """About ``n`` (at least 5) cell edges on ``[a, b]``, dense at both ends like Chebyshev points."""
    return a + (b - a) * (1.0 - np.cos(np.linspace(0.0, np.pi, max(int(n), 5) + 1))) / 2.0


def _cell_log_potential(t: np.ndarray, masses: np.ndarray, edges: np.ndarray, atom: float) -> np.ndarray:
    """``sum_j m_j <log|l - t|>_cell j + atom log|t|`` with the cell average integrated exactly."""
    y = edges[None, :] - t[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        primitive = y * np.log(np.abs(y)) - y  # int log|y| dy
    primitive[y == 0] = 0.0
    out = (np.diff(primitive, axis=1) / np.diff(edges)[None, :]) @ masses
    if atom > 0:
        with np.errstate(divide="ignore"):
            out = out + atom * np.log(np.abs(t))
    return out


def density_law(
    density: Callable[[np.ndarray], np.ndarray],
    support: tuple[float, float],
    atom: float = 0.0,
    rate: Callable[[np.ndarray], np.ndarray] | None = None,
    n_cells: int = 2000,
) -> HessianLaw:
    """A :class:`HessianLaw` from any density callable (continuous part on ``support``, plus an atom at 0).

    The log-potential is :func:`log_potential` on a table made once; ``rate`` (for index-resolved complexities) is
    passed through, since it is not determined by the density alone (it needs the potential off the support).
    """
    masses, edges = _tabulate(density, support, atom, n_cells)

    def omega(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return _cell_log_potential(t.ravel(), masses, edges, atom).reshape(t.shape)

    return HessianLaw(log_potential=omega, lower_edge=float(support[0]), rate=rate)


# --- Wigner x Wishart: the Stieltjes quartic on the real axis ---------------------------------------------------


def _wigner_wishart_params(q: float, sigma: float) -> tuple[float, float]:
    """``q > 0`` and ``sigma^2`` for the Wigner x Wishart law."""
    return checks.positive(q, "q"), checks.positive(sigma, "sigma") ** 2


def wigner_wishart_edge(q: float, sigma: float = 1.0) -> float:
    """Right edge ``a`` of the support ``[-a, a]`` of ``W^{1/2} H W^{1/2}`` (H semicircle of variance sigma^2).

    On the real axis the Stieltjes equation ``t^2 w = sigma^2 Q(w)^2``, ``Q = (1 + w)(1 + q w)``, ``w = tG - 1``
    (paper2.md 3.3 item 4) has a double root where ``Q = 2 w Q'``, i.e. ``3 q w^2 + (1 + q) w - 1 = 0``; then
    ``a = sigma Q(w*) / sqrt(w*)``. ``q -> 0`` gives the semicircle edge ``2 sigma``.
    """
    q, s2 = _wigner_wishart_params(q, sigma)
    w = (-(1.0 + q) + np.sqrt((1.0 + q) ** 2 + 12.0 * q)) / (6.0 * q)
    return float(np.sqrt(s2) * (1.0 + w) * (1.0 + q * w) / np.sqrt(w))


def wigner_wishart_sheets(t: float | np.ndarray, q: float, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The two real sheets ``(G_phys, G_other)`` of the Wigner x Wishart Stieltjes transform for ``t <= -a``.

    For ``|t| > a`` the quartic ``sigma^2 Q(w)^2 - t^2 w = 0`` has exactly two real roots, both positive
    (``Q^2 / w`` is convex-like on ``w > 0`` with its minimum at the edge root; for ``w < 0`` the left side is > 0).
    The smaller is the physical one (``w ~ sigma^2 / t^2`` as ``|t| -> inf``), the larger the sheet it meets at
    the edge; ``G = (1 + w) / t``.
    """
    q, s2 = _wigner_wishart_params(q, sigma)
    t = _energies(t)
    if np.any(t > -wigner_wishart_edge(q, sigma) + 1e-12):
        raise ValueError("the real sheets exist only below the lower edge -a of the support")
    tt = t.ravel()
    # sigma^2 (1 + w)^2 (1 + q w)^2 - t^2 w, highest power first
    poly = s2 * np.array([q * q, 2.0 * q * (1.0 + q), (1.0 + q) ** 2 + 2.0 * q, 2.0 * (1.0 + q), 1.0])
    comp = np.zeros((tt.size, 4, 4))
    comp[:, 1:, :-1] = np.eye(3)
    comp[:, :, -1] = -poly[:0:-1] / poly[0]
    comp[:, 1, -1] += tt * tt / poly[0]  # the -t^2 w term
    roots = np.linalg.eigvals(comp)
    real_pair = np.take_along_axis(roots, np.argsort(np.abs(roots.imag), axis=1)[:, :2], axis=1).real
    w_phys, w_other = np.sort(real_pair, axis=1).T
    return ((1.0 + w_phys) / tt).reshape(t.shape), ((1.0 + w_other) / tt).reshape(t.shape)


def wigner_wishart_rate(t: float | np.ndarray, q: float, sigma: float = 1.0, n_nodes: int = 48) -> float | np.ndarray:
    """Coulomb-gas rate ``I(t) = int_t^{-a} (G_phys - G_other)/2 ds`` of the smallest eigenvalue, 0 above ``-a``.

    ``(G_phys + G_other)/2`` is the Hilbert transform ``V'/2`` of the density continued off the support, so this
    is the ``beta = 1`` rate ``int (G - V'/2)`` of paper2.md 4.2 for the invariant ensemble with this equilibrium
    law. Gauss-Legendre in ``s`` with ``t = -a - s^2``, which removes the square-root edge.
    """
    a = wigner_wishart_edge(q, sigma)
    t = _energies(t)
    depth = np.sqrt(np.maximum(-a - t.ravel(), 0.0))
    x, wts = np.polynomial.legendre.leggauss(n_nodes)
    s = depth[:, None] * (x[None, :] + 1.0) / 2.0
    g_phys, g_other = wigner_wishart_sheets(-a - s * s - 1e-15, q, sigma)
    integrand = 0.5 * (g_phys - g_other) * 2.0 * s  # dt = -2 s ds
    return checks.shaped((integrand @ wts * depth / 2.0).reshape(t.shape))


def wigner_wishart_log_potential(
    t: float | np.ndarray, q: float, sigma: float = 1.0, n_nodes: int = 64
) -> float | np.ndarray:
    """Log-potential ``Omega(t)`` of the Wigner x Wishart law (atom included) outside its support, ``|t| >= a``.

    ``Omega' = G`` off the support, and ``Omega(t) - log|t| -> 0`` as ``|t| -> inf``, so
    ``Omega(-a) = log a + int_{-inf}^{-a} (G(s) - 1/s) ds`` and ``Omega(t) = Omega(-a) - int_t^{-a} G(s) ds``,
    with ``G`` the physical sheet of :func:`wigner_wishart_sheets`; the law is even, so ``Omega(t) = Omega(-|t|)``.
    Gauss-Legendre after ``s = -a / (1 - r^2)`` and ``s = -a - r^2``, which remove the square-root edge.
    """
    a = wigner_wishart_edge(q, sigma)
    t = -np.abs(_energies(t))
    if np.any(t > -a + 1e-12):
        raise ValueError("wigner_wishart_log_potential is for |t| >= a only (outside the support)")
    x, wts = np.polynomial.legendre.leggauss(n_nodes)
    r = (x + 1.0) / 2.0
    s_tail = -a / (1.0 - r * r)
    tail = ((wigner_wishart_sheets(s_tail, q, sigma)[0] - 1.0 / s_tail) * 2.0 * a * r / (1.0 - r * r) ** 2) @ wts / 2
    depth = np.sqrt(-a - t.ravel())
    rr = depth[:, None] * r[None, :]
    inner = (wigner_wishart_sheets(-a - rr * rr, q, sigma)[0] * 2.0 * rr) @ wts * depth / 2.0
    return checks.shaped((np.log(a) + tail - inner).reshape(t.shape))


def wigner_wishart_law(q: float, sigma: float = 1.0 / SQRT2, n_cells: int = 2000) -> HessianLaw:
    """The Wigner x Wishart law in GOE units: ``sigma^2 = 1/2`` keeps the GOE second moment (paper2.md 4.2).

    Outside the support the log-potential is :func:`wigner_wishart_log_potential`; inside, the product integration
    of :func:`log_potential` over :func:`lib.rmt.freeprob.wigner_wishart_density` and its atom ``(1 - 1/q)^+``,
    tabulated on first use. Rate :func:`wigner_wishart_rate`. ``q -> 0`` recovers ABC's semicircle.
    """
    a = wigner_wishart_edge(q, sigma)

    @functools.cache
    def table() -> tuple[np.ndarray, np.ndarray]:
        density = lambda x: np.asarray(wigner_wishart_density(x, q, sigma))  # noqa: E731
        return _tabulate(density, (-a, a), wigner_wishart_atom(q), n_cells)

    def omega(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        out = np.empty(t.shape)
        outside = np.abs(t) >= a
        out[outside] = wigner_wishart_log_potential(t[outside], q, sigma)
        if not np.all(outside):
            out[~outside] = _cell_log_potential(t[~outside], *table(), wigner_wishart_atom(q))
        return out

    return HessianLaw(omega, -a, lambda t: np.asarray(wigner_wishart_rate(t, q, sigma)))


def _integrand(v: np.ndarray, p: int, law: HessianLaw, k: int) -> np.ndarray:
    """``f_k(v) = log(p-1)/2 + (1 + log 2)/2 + Omega(c_p v) - v^2/2 - k I(c_p v)`` (paper2.md 4.2)."""
    c = hessian_scale(p)
    t = c * v
    out = 0.5 * np.log(p - 1) + 0.5 * (1.0 + np.log(2.0)) + np.asarray(law.log_potential(t)) - 0.5 * v * v
    if k > 0:
        if law.rate is None:
            raise ValueError("an index-resolved complexity needs the law's rate (HessianLaw.rate is None)")
        out = out - k * np.asarray(law.rate(np.minimum(t, law.lower_edge)))
    return out


def _search_floor(p: int, law: HessianLaw) -> float:
    """An energy below which ``f_0 < 0``: from ``3 min(v_edge, -1)`` down by doubling (``f_0 ~ -v^2/2``)."""
    lo = 3.0 * min(law.lower_edge / hessian_scale(p), -1.0)
    while _integrand(np.asarray(lo), p, law, 0) >= 0:
        lo = 2.0 * lo
    return lo


def general_complexity(
    u: float | np.ndarray, p: int, law: HessianLaw, k: int | None = None, n_grid: int = 2001
) -> float | np.ndarray:
    """Kac-Rice complexity with Hessian law rho: ``Theta(u) = sup_{v <= u} f_k(v)`` (paper2.md 4.2).

    ``f_k(v) = log(p-1)/2 + (1 + log 2)/2 + Omega_rho(c_p v) - v^2/2 - k I_rho(c_p v)``, where the determinant
    ``E|det(M - t)| ~ exp(N Omega_rho(t))`` and ``k`` eigenvalues pulled below ``t`` cost ``k I_rho(t)``
    (Ben Arous-Dembo-Guionnet). For index k the sup runs over ``c_p v <= lower_edge`` only (a finite index needs
    ``t`` below the bulk); ``k = None`` counts all indices. With the GOE semicircle this is ABC's
    :func:`complexity` exactly (for ``k = None`` and every k). The sup is a running maximum on ``n_grid`` points
    plus ``f(u)`` itself.
    """
    p = _check_p(p)
    k = _check_index(k)
    u = _energies(u)
    v_edge = law.lower_edge / hessian_scale(p)
    kk = 0 if k is None else k
    top = u if k is None else np.minimum(u, v_edge)
    lo = min(float(np.min(top)), _search_floor(p, law))  # below it f_k < 0 <= Theta: nothing to find further out
    grid = np.linspace(lo, float(np.max(top)), n_grid)
    running = np.maximum.accumulate(_integrand(grid, p, law, kk))
    # the running max at the grid point just below ``top``, and f at ``top`` itself
    idx = np.searchsorted(grid, top, side="right") - 1
    below = np.where(idx >= 0, running[np.clip(idx, 0, None)], -np.inf)
    return checks.shaped(np.maximum(below, _integrand(top, p, law, kk)))


def general_thresholds(p: int, law: HessianLaw, kmax: int, n_scan: int = 801) -> tuple[np.ndarray, float]:
    """Thresholds ``E_0..E_kmax`` for a Hessian law, and ``E_edge = -lower_edge / c_p`` (the law's ``E_inf``).

    ``-E_k`` is the zero of the index-k complexity below ``-E_edge`` (first sign change of ``f_k`` on an
    ``n_scan`` grid, refined by Brent). When the complexity at the bulk edge, ``f_0(-E_edge)``, is negative
    there is no such zero: no finite-index critical points are exponentially many and the layering by index is
    gone; those entries are NaN (:func:`complexity_zero` says where the total complexity vanishes then).
    """
    p = _check_p(p)
    kmax = _check_index(kmax, "kmax")
    if kmax is None:
        raise TypeError("kmax must be an integer >= 0, got None")
    if kmax > 0 and law.rate is None:
        raise ValueError("index-resolved thresholds need the law's rate (HessianLaw.rate is None)")
    c = hessian_scale(p)
    v_edge = law.lower_edge / c
    grid = np.linspace(_search_floor(p, law), v_edge, n_scan)
    f0 = _integrand(grid, p, law, 0)
    rate = np.asarray(law.rate(c * grid)) if kmax > 0 else 0.0
    out = np.array(
        [-_first_zero(lambda v, k=k: _integrand(v, p, law, k), grid, f0 - k * rate) for k in range(kmax + 1)]
    )
    return out, -v_edge


def complexity_zero(p: int, law: HessianLaw, n_scan: int = 801) -> float:
    """``E_gs`` with ``Theta_rho(-E_gs) = 0``: the energy below which there are (exponentially) no critical points.

    For the GOE it is ``E_0`` (the ground state, Subag 2017). When the layering breaks (negative
    :func:`edge_complexity`) it lies inside the bulk, where the lowest exponentially numerous critical points have
    an index proportional to N; only then is the log-potential inside the support needed.
    """
    p = _check_p(p)
    v_edge = law.lower_edge / hessian_scale(p)
    lo, hi = (_search_floor(p, law), v_edge) if edge_complexity(p, law) >= 0 else (v_edge, 0.0)
    grid = np.linspace(lo, hi, n_scan)
    return -_first_zero(lambda v: _integrand(v, p, law, 0), grid, _integrand(grid, p, law, 0))


def edge_complexity(p: int, law: HessianLaw) -> float:
    """``f_0(-E_edge)``: the complexity of critical points whose Hessian bulk just touches 0.

    Every ``Theta_k`` rises to this value at the bulk edge, so the band of layered thresholds exists iff it is > 0.
    For the GOE it is ``log(p-1)/2 - (p-2)/p`` (ABC), positive for every ``p >= 3``.
    """
    p = _check_p(p)
    return float(_integrand(np.asarray(law.lower_edge / hessian_scale(p)), p, law, 0))


def layering_breakpoint(p: int, family: Callable[[float], HessianLaw], lo: float, hi: float) -> float:
    """The parameter ``x`` in ``[lo, hi]`` where ``edge_complexity(p, family(x))`` crosses 0 (Brent).

    Beyond it the layering by index is gone (see :func:`general_thresholds`). Raises ValueError when the edge
    complexity has the same sign at both ends.
    """
    p = _check_p(p)
    f_lo, f_hi = edge_complexity(p, family(lo)), edge_complexity(p, family(hi))
    if np.sign(f_lo) == np.sign(f_hi):
        raise ValueError(f"edge complexity has the same sign at {lo} ({f_lo:.3g}) and {hi} ({f_hi:.3g})")
    return float(brentq(lambda x: edge_complexity(p, family(x)), lo, hi, xtol=1e-12, rtol=1e-10))
