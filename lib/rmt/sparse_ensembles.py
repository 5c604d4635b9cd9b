"""Percolated (diluted) Wigner and Wishart matrices: samplers, cavity densities and the atom at zero.

* Dense percolation, ``H_ij = b_ij J_ij`` with ``b ~ Bernoulli(p)`` and ``J ~ N(0, 1/(p n))``, p fixed: the
  spectrum is still the unit semicircle (Ayadi & Khorunzhiy; paper2.md 3.4).
* Sparse percolation, mean degree c (``p = c / n``, ``J ~ N(0, 1/c)``): tails beyond +-2, a central cusp and
  an atom at zero. Densities by population dynamics of the cavity equations (Rogers, Perez Castillo, Kuehn &
  Takeda, PRE 78, 031116 (2008); rmt_reference 7.2); the atom by the formula of Bauer & Golinelli (PRL 86,
  2621 (2001)), proved by Bordenave, Lelarge & Salez (Ann. Probab. 39, 1097 (2011)), and the percolation of
  zero-mode carriers behind Bauer & Golinelli's transitions at c = 1.421529..., e and 3.154985....
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.sparse import csr_matrix
from scipy.special import lambertw

from lib.rmt import checks


def bauer_golinelli_roots(c: float) -> tuple[float, float]:
    """The roots ``(x_*, x^*)`` behind the zero modes of the Erdos-Renyi graph of mean degree c.

    ``x_*`` is the smallest root of ``x = c exp(-c exp(-x))`` and ``x^* = c exp(-x_*)`` its largest (Bauer &
    Golinelli, PRL 86, 2621 (2001); Bordenave, Lelarge & Salez, Ann. Probab. 39, 1097 (2011); rmt_reference 7.1).
    On the locally tree-like graph a vertex seen from a neighbour (its branch) has a pole of the resolvent at 0,
    so carries zero-mode weight, with probability ``x_* / c`` (no child has one), and a resolvent vanishing at
    0 with probability ``1 - e^{-x_*}`` (some child has a pole); for ``c > e`` the rest is the core. For
    ``c <= e`` the two coincide, ``x_* = x^* = W(c)``; for ``c > e`` they are the 2-cycle of ``x -> c e^{-x}``
    that straddles its fixed point ``W(c)``, and ``x_*`` is the unique root of the equation in ``(0, W(c))``.
    """
    c = checks.positive(c, "c")
    fixed = float(lambertw(c).real)
    if c <= np.e:
        return fixed, fixed

    # x - c exp(-c exp(-x)) vanishes at W(c) too; dividing by (W(c) - x) leaves one sign change in (0, W(c)).
    def reduced(x: float) -> float:
        return (x - c * np.exp(-c * np.exp(-x))) / (fixed - x)

    low = float(brentq(reduced, 0.0, fixed * (1.0 - 1e-9), xtol=1e-15))
    return low, float(c * np.exp(-low))


def sparse_wigner_zero_atom(c: float) -> float:
    """Weight of the atom at zero of the sparse Wigner matrix of mean degree c (continuous weights).

    ``m_0 = (x_* + x^* + x_* x^*) / c - 1`` with the roots of :func:`bauer_golinelli_roots` (Bauer & Golinelli
    2001; Bordenave, Lelarge & Salez 2011; rmt_reference 7.1); the same for the 0/1 adjacency matrix.
    """
    low, high = bauer_golinelli_roots(c)
    return float((low + high + low * high) / c - 1.0)


def zero_mode_branching(c: float) -> float:
    """Mean branching ``c x_*(c)`` of the zero-mode carriers of the Erdos-Renyi graph of mean degree c.

    A carrier is a vertex where some eigenvector of eigenvalue 0 is non-zero; on the tree-like graph it is a
    vertex all of whose neighbours, seen from it, carry no zero-mode weight. Linking two carriers when they share
    a neighbour, a carrier reached through a neighbour has ``k ~ Poisson(c (1 - e^{-x_*}))`` further neighbours,
    each with ``Poisson(x_*)`` carriers below it conditioned on at least one (mean ``x_* / (1 - e^{-x_*})``):
    ``c x_*`` new carriers on average. Clusters of carriers percolate where ``c x_*(c) > 1``: between Bauer &
    Golinelli's insulator-conductor (1.421529...) and conductor-insulator (3.154985...) transitions, see
    :func:`bauer_golinelli_transitions`. The branching argument is ours; the two roots reproduce the published
    constants (Bauer & Golinelli, PRL 86, 2621 (2001), abstract) to all their digits.
    """
    low, _ = bauer_golinelli_roots(c)
    return c * low


def zero_mode_giant_fraction(c: float) -> float:
    """Fraction of the n vertices in the giant cluster of zero-mode carriers (see :func:`zero_mode_branching`).

    ``(x_* / c) (1 - eta)``: a vertex is a carrier with probability ``x_* / c``, and ``eta``, the probability
    that its cluster is finite, is the smallest root in [0, 1] of ``eta = exp(-c (1 - e^{-x_*}) (1 - f(eta)))``
    with ``f(eta) = (e^{-x_* (1 - eta)} - e^{-x_*}) / (1 - e^{-x_*})``, the generating function of
    ``Poisson(x_*)`` conditioned on at least one. Zero outside the conducting window of
    :func:`bauer_golinelli_transitions`.
    """
    low, _ = bauer_golinelli_roots(c)
    if c * low <= 1.0:
        return 0.0
    tail = -np.expm1(-low)

    def excess(eta: float) -> float:
        f = (np.exp(-low * (1.0 - eta)) - np.exp(-low)) / tail
        return np.exp(-c * tail * (1.0 - f)) - eta

    # supercritical: excess > 0 at 0 and < 0 just below the trivial root eta = 1 (slope c x_* > 1 there)
    top = 1.0 - 1e-9
    eta = float(brentq(excess, 0.0, top, xtol=1e-14)) if excess(top) < 0 else top
    return float(low / c * (1.0 - eta))


def bauer_golinelli_transitions() -> tuple[float, float, float]:
    """Bauer & Golinelli's three special mean degrees of the Erdos-Renyi graph: ``(c_1, e, c_2)``.

    ``c_1 = 1.421529...`` (insulator to conductor) and ``c_2 = 3.154985...`` (conductor to insulator) are the
    roots of ``c x_*(c) = 1`` (:func:`zero_mode_branching`); with ``x_* = 1/c`` the root equation becomes
    ``c^2 = exp(c e^{-1/c})``, and below e, where ``x_* = W(c)``, ``c_1 = 1 / (2 W(1/2))``. At ``c = e`` the fixed
    point ``W(c)`` of ``x -> c e^{-x}`` loses stability (``W(e) = 1``), ``x_*`` and ``x^*`` split and the core
    of leaf removal appears: the spectral singularity linked to minimal vertex cover. Reference: Bauer &
    Golinelli, "Exactly solvable model with two conductor-insulator transitions driven by impurities",
    PRL 86, 2621 (2001), cond-mat/0006472.
    """
    def excess(c: float) -> float:
        return zero_mode_branching(c) - 1.0

    # c x_* rises from 0 to e at c = e, then falls towards 0 as x_* ~ c e^{-c}: one crossing on each side
    return float(brentq(excess, 1.0, np.e, xtol=1e-14)), float(np.e), float(brentq(excess, np.e, 10.0, xtol=1e-14))


def _poisson_coupling(gen: np.random.Generator, size: int, source: int, degree: float) -> csr_matrix:
    """Random sparse ``size x source`` matrix: Poisson(degree) entries per row at uniform columns, ``chi^2_1``.

    One sweep of population dynamics: row a sums ``J_l^2 g_l`` over its k_a ~ Poisson(degree) neighbours.
    """
    k = gen.poisson(degree, size)
    rows = np.repeat(np.arange(size), k)
    cols = gen.integers(0, source, k.sum())
    return csr_matrix((gen.standard_normal(k.sum()) ** 2, (rows, cols)), shape=(size, source))


def _check_popdyn(population: int, sweeps: int, eps: float) -> tuple[int, int, float]:
    """Check the population-dynamics settings."""
    population = checks.size(population, "population")
    sweeps = checks.size(sweeps, "sweeps")
    if sweeps < 2:
        raise ValueError(f"sweeps must be >= 2 (half are burn-in), got {sweeps}")
    return population, sweeps, checks.positive(eps, "eps")


def sparse_wigner_resolvent(
    z: np.ndarray, c: float, population: int = 4000, sweeps: int = 120, rng: np.random.Generator | int = 0
) -> np.ndarray:
    """``E G_ii(z)`` of the sparse Wigner ensemble by population dynamics, for complex z with ``Im z > 0``.

    ``g =d 1 / (z - sum_{l=1}^k J_l^2 g_l)``, ``k ~ Poisson(c)``, ``J^2 ~ chi^2_1 / c``; for Poisson degrees the
    marginal ``G_ii`` has the cavity law, so the population average over the second half of the sweeps is E G
    (rmt_reference 7.2). All z share the same random draws.
    """
    c = checks.positive(c, "c")
    zs = np.asarray(z, dtype=complex).ravel()
    gen = checks.generator(rng)
    g = np.tile(1.0 / zs, (population, 1))
    total = np.zeros(zs.shape, dtype=complex)
    for sweep in range(sweeps):
        g = 1.0 / (zs - (_poisson_coupling(gen, population, population, c) @ g) / c)
        if sweep >= sweeps // 2:
            total += g.mean(axis=0)
    return total / (sweeps - sweeps // 2)


def sparse_wigner_density(
    x: float | np.ndarray,
    c: float,
    eps: float = 1e-2,
    population: int = 4000,
    sweeps: int = 120,
    rng: np.random.Generator | int = 0,
) -> float | np.ndarray:
    """Continuous density of the sparse Wigner matrix of mean degree c, smoothed at width eps.

    ``rho(x) = -Im E G(x + i eps) / pi`` minus the Lorentzian ``m_0 eps / (pi (x^2 + eps^2))`` of the atom
    :func:`sparse_wigner_zero_atom` (cavity method, rmt_reference 7.2). Tends to the semicircle as c grows.
    """
    c = checks.positive(c, "c")
    population, sweeps, eps = _check_popdyn(population, sweeps, eps)
    xs = checks.points(x)
    flat = xs.ravel()
    g = sparse_wigner_resolvent(flat + 1j * eps, c, population, sweeps, rng)
    atom = sparse_wigner_zero_atom(c) * eps / (np.pi * (flat**2 + eps**2))
    return checks.shaped(np.clip(-g.imag / np.pi - atom, 0.0, None).reshape(xs.shape))


def sparse_wishart_density(
    x: float | np.ndarray,
    c: float,
    q: float,
    eps: float = 1e-2,
    population: int = 4000,
    sweeps: int = 120,
    rng: np.random.Generator | int = 0,
) -> float | np.ndarray:
    """Density of the sparse Wishart ``W = X X^T / c`` (``X`` n x T, entries ``b xi``, ``b ~ Bern(c/T)``, q = n/T).

    Bipartite cavity equations ``r = 1 / (-z - sum_{k_r} J^2 s)``, ``s = 1 / (-1 - sum_{k_c} J^2 r)`` with
    ``k_r ~ Poisson(c)``, ``k_c ~ Poisson(c q)``, ``J^2 ~ chi^2_1 / c``, and ``G = -E r`` (Rogers et al. 2008;
    paper2.md 3.4). Returns ``-Im G(x + i eps) / pi``: the atom at zero (at least ``max(e^{-c}, 1 - 1/q)``)
    is not subtracted, so read the curve away from ``|x| <~ eps``. Tends to MP(q) as c grows.
    """
    c = checks.positive(c, "c")
    q = checks.positive(q, "q")
    population, sweeps, eps = _check_popdyn(population, sweeps, eps)
    xs = checks.points(x)
    zs = xs.ravel() + 1j * eps
    gen = checks.generator(rng)
    r = np.tile(-1.0 / zs, (population, 1))
    s = -np.ones_like(r)
    total = np.zeros(zs.shape, dtype=complex)
    for sweep in range(sweeps):
        r = 1.0 / (-zs - (_poisson_coupling(gen, population, population, c) @ s) / c)
        s = 1.0 / (-1.0 - (_poisson_coupling(gen, population, population, c * q) @ r) / c)
        if sweep >= sweeps // 2:
            total += -r.mean(axis=0)
    g = total / (sweeps - sweeps // 2)
    return checks.shaped(np.clip(-g.imag / np.pi, 0.0, None).reshape(xs.shape))


def sample_percolated_wigner(n: int, p: float, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``H_ij = H_ji = b_ij J_ij`` (i < j), ``b ~ Bernoulli(p)``, ``J ~ N(0, 1/(p n))``, zero diagonal.

    Dense percolation (p fixed) keeps the unit semicircle; ``p = c / n`` is the sparse ensemble.
    """
    n = checks.size(n, "n")
    p = checks.positive(p, "p")
    if p > 1:
        raise ValueError(f"p is a probability and must be <= 1, got {p}")
    gen = checks.generator(rng)
    upper = np.triu(gen.standard_normal((n, n)) * (gen.random((n, n)) < p), k=1) / np.sqrt(p * n)
    return np.linalg.eigvalsh(upper + upper.T)


def sample_sparse_wigner(n: int, c: float, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of the sparse Wigner matrix of mean degree c: :func:`sample_percolated_wigner` with p = c/n."""
    n = checks.size(n, "n")
    c = checks.positive(c, "c")
    if c >= n:
        raise ValueError(f"mean degree c must be < n, got c={c}, n={n}")
    return sample_percolated_wigner(n, c / n, rng)


def sample_sparse_wishart(n: int, c: float, q: float, rng: np.random.Generator | int) -> np.ndarray:
    """Eigenvalues of ``W = X X^T / c``, ``X`` n x T (T = n/q) with entries ``b xi``, ``b ~ Bernoulli(c/T)``."""
    n = checks.size(n, "n")
    c = checks.positive(c, "c")
    t = max(1, round(n / checks.positive(q, "q")))
    if c >= t:
        raise ValueError(f"mean degree c must be < T = n/q, got c={c}, T={t}")
    gen = checks.generator(rng)
    rows, cols = np.nonzero(gen.random((n, t)) < c / t)
    x = csr_matrix((gen.standard_normal(rows.size), (rows, cols)), shape=(n, t))
    return np.linalg.eigvalsh((x @ x.T).toarray() / c)


def zero_mode_fraction(eigenvalues: np.ndarray, rtol: float = 1e-8) -> float:
    """Fraction of eigenvalues with ``|lambda| <= rtol * max |lambda|``: the sampled atom at zero."""
    eigs = np.asarray(eigenvalues, dtype=float).ravel()
    if eigs.size == 0:
        raise ValueError("eigenvalues must be non-empty")
    return float(np.mean(np.abs(eigs) <= checks.positive(rtol, "rtol") * np.max(np.abs(eigs))))
