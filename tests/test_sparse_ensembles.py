"""Tests of lib.rmt.sparse_ensembles: Bauer-Golinelli atom, cavity densities, dense vs sparse percolation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import lambertw

from lib.rmt import freeprob
from lib.rmt import sparse_ensembles as se
from lib.rmt.laws import marchenko_pastur_pdf, semicircle_cdf, semicircle_pdf


@pytest.mark.parametrize(
    ("c", "expected"),
    # formula values of rmt_reference 7.1 / paper2.md 3.4 (Bauer & Golinelli 2001; Bordenave-Lelarge-Salez 2011)
    [(0.5, 0.65437), (1.0, 0.45594), (2.0, 0.21607), (np.e, 0.10364), (3.0, 0.07231), (4.0, 0.02216),
     (5.0, 0.0074)],
)
def test_zero_atom_check_values(c: float, expected: float) -> None:
    assert se.sparse_wigner_zero_atom(c) == pytest.approx(expected, abs=6e-5)


def test_zero_atom_limits_and_the_transition_at_e() -> None:
    # small c: every edge is isolated and has rank 2, so m_0 = 1 - c + O(c^2)
    assert se.sparse_wigner_zero_atom(1e-3) == pytest.approx(1.0 - 1e-3, abs=2e-6)
    # isolated vertices alone give e^{-c}, a lower bound that becomes sharp as c grows
    for c in (0.5, 2.0, 4.0, 8.0):
        assert se.sparse_wigner_zero_atom(c) > np.exp(-c)
    assert se.sparse_wigner_zero_atom(10.0) / np.exp(-10.0) == pytest.approx(1.0, abs=5e-3)
    # at c = e the 2-cycle of x -> c e^{-x} is born from the fixed point W(c): m_0 is continuous there
    assert se.sparse_wigner_zero_atom(np.e * (1 + 1e-7)) == pytest.approx(se.sparse_wigner_zero_atom(np.e), abs=1e-6)
    assert freeprob.sparse_wigner_zero_atom is se.sparse_wigner_zero_atom  # re-exported


@pytest.mark.parametrize("c", [1.0, 4.0])
def test_zero_atom_against_exact_diagonalisation(c: float) -> None:
    n, samples = 1000, 2
    fraction = np.mean([se.zero_mode_fraction(se.sample_sparse_wigner(n, c, 100 + s)) for s in range(samples)])
    atom = se.sparse_wigner_zero_atom(c)
    # zero modes come from O(n) independent local structures: binomial-like spread sqrt(m0 / (n samples))
    # times a few, plus an O(1/n) finite-size offset
    tol = 4.0 * np.sqrt(atom / (n * samples)) + 5.0 / n
    assert fraction == pytest.approx(atom, abs=tol)


def test_bauer_golinelli_transitions_reproduce_the_published_constants() -> None:
    c1, c_core, c2 = se.bauer_golinelli_transitions()
    # Bauer & Golinelli, PRL 86, 2621 (2001), abstract: 1.421529..., e = 2.718281..., 3.154985...
    assert np.floor(c1 * 1e6) / 1e6 == pytest.approx(1.421529, abs=1e-12)
    assert np.floor(c2 * 1e6) / 1e6 == pytest.approx(3.154985, abs=1e-12)
    assert c_core == pytest.approx(2.718281828459045, abs=1e-15)
    # independent closed forms: with x_* = 1/c the root equation reads c^2 = exp(c e^{-1/c}), and below e,
    # where x_* = W(c), c W(c) = 1 gives c_1 = 1 / (2 W(1/2))
    assert c1 == pytest.approx(1.0 / (2.0 * lambertw(0.5).real), rel=1e-12)
    for c in (c1, c2):
        assert c**2 == pytest.approx(np.exp(c * np.exp(-1.0 / c)), rel=1e-10)
    # conducting window in between, insulating outside; the roots split exactly at e (the core appears)
    assert se.zero_mode_branching(2.0) > 1.0 > max(se.zero_mode_branching(1.2), se.zero_mode_branching(4.0))
    low, high = se.bauer_golinelli_roots(np.e * (1 - 1e-6))
    assert low == high == pytest.approx(1.0, abs=1e-6)  # W(e) = 1
    low, high = se.bauer_golinelli_roots(np.e * 1.01)
    assert low < 1.0 < high and high == pytest.approx(np.e * 1.01 * np.exp(-low), rel=1e-12)
    assert se.zero_mode_giant_fraction(1.2) == se.zero_mode_giant_fraction(4.0) == 0.0


def _zero_mode_carrier_clusters(n: int, c: float, seed: int) -> tuple[float, float]:
    """Exact diagonalisation of the 0/1 Erdos-Renyi adjacency: (carrier fraction, largest carrier cluster / n).

    Carriers are the vertices with weight in the eigenspace of 0; two carriers are linked when they share a
    neighbour.
    """
    gen = np.random.default_rng(seed)
    upper = np.triu(gen.random((n, n)) < c / n, k=1)
    adjacency = (upper | upper.T).astype(float)
    values, vectors = np.linalg.eigh(adjacency)
    kernel = np.abs(values) < 1e-8 * np.abs(values).max()
    carriers = np.sum(vectors[:, kernel] ** 2, axis=1) > 1e-6
    rows = csr_matrix(adjacency[carriers])
    labels = connected_components(rows @ rows.T, directed=False)[1]
    return float(carriers.mean()), float(np.bincount(labels).max() / n)


def test_zero_mode_carriers_percolate_only_between_the_transitions() -> None:
    # subcritical clusters hold O(log n) vertices; the giant cluster has finite-size spread ~0.03 at n = 1500
    for c, n in ((1.2, 1000), (4.0, 1000), (2.0, 1500)):
        carriers, largest = _zero_mode_carrier_clusters(n, c, 7)
        giant = se.zero_mode_giant_fraction(c)
        if giant == 0.0:
            assert largest < 0.03
        else:
            assert largest == pytest.approx(giant, abs=0.08) and largest > 0.1
        # carriers: probability x_* / c, with cluster-correlated spread ~0.03 at these sizes
        assert carriers == pytest.approx(se.bauer_golinelli_roots(c)[0] / c, abs=0.06)


def test_dense_percolation_is_still_a_semicircle_sparse_is_not() -> None:
    n = 1000
    dense = np.sort(se.sample_percolated_wigner(n, 0.2, 1))
    sparse = np.sort(se.sample_sparse_wigner(n, 2.0, 2))
    ks = lambda e: np.max(np.abs(np.arange(1, n + 1) / n - semicircle_cdf(e)))  # noqa: E731
    assert ks(dense) < 1.63 / np.sqrt(n)  # 99% i.i.d. KS bound, conservative for eigenvalues
    assert ks(sparse) > 2 * 1.63 / np.sqrt(n)


def test_cavity_density_against_diagonalisation() -> None:
    c, n, samples = 4.0, 1000, 4
    eigs = np.concatenate([se.sample_sparse_wigner(n, c, 10 + s) for s in range(samples)])
    edges = np.array([0.1, 0.3, 0.9, 1.1, 1.9, 2.1, 2.3, 2.5])
    centres = np.array([0.2, 1.0, 2.0, 2.4])
    counts = np.histogram(eigs, edges)[0][::2]
    hist = counts / (eigs.size * 0.2)
    theory = se.sparse_wigner_density(centres, c, eps=0.02)
    # Poisson counting error (an overestimate for rigid spectra) plus 3% for the population noise and eps
    tol = 4.0 * np.sqrt(np.maximum(counts, 1)) / (eigs.size * 0.2) + 0.03 * theory + 0.005
    np.testing.assert_array_less(np.abs(hist - theory), tol)
    assert theory[2] > 0.05 > semicircle_pdf(2.0)  # mass beyond the semicircle edge


def test_cavity_density_tends_to_the_laws_of_dense_matrices() -> None:
    x = np.array([-1.5, -0.5, 0.3, 1.2])
    # at c = 50 the sparse corrections are O(1/c) ~ 0.02
    small = {"eps": 0.01, "population": 2000, "sweeps": 60}
    np.testing.assert_allclose(se.sparse_wigner_density(x, 50.0, **small), semicircle_pdf(x), atol=0.02)
    y = np.array([0.3, 1.0, 2.0])
    np.testing.assert_allclose(se.sparse_wishart_density(y, 50.0, 0.5, **small), marchenko_pastur_pdf(y, 0.5),
                               atol=0.03)


def test_cavity_mass_plus_atom_is_one() -> None:
    c, eps = 2.0, 0.01
    x = np.linspace(-5.0, 5.0, 401)
    rho = se.sparse_wigner_density(x, c, eps=eps, population=2000, sweeps=60)
    mass = float(cumulative_trapezoid(rho, x)[-1])
    # the Lorentzian tails of width eps beyond |x| = 5 hold about 2 eps / (5 pi) of the mass
    assert mass + se.sparse_wigner_zero_atom(c) == pytest.approx(1.0, abs=0.02)


def test_sparse_wishart_against_diagonalisation() -> None:
    c, q, n = 3.0, 0.5, 1000
    eigs = np.concatenate([se.sample_sparse_wishart(n, c, q, s) for s in range(3)])
    centres = np.array([0.4, 1.15, 3.05])
    counts = np.array([np.sum(np.abs(eigs - x0) < 0.1) for x0 in centres])
    hist = counts / (eigs.size * 0.2)
    theory = se.sparse_wishart_density(centres, c, q, eps=0.02)
    tol = 4.0 * np.sqrt(counts) / (eigs.size * 0.2) + 0.1 * theory
    np.testing.assert_array_less(np.abs(hist - theory), tol)
    assert theory[2] > 0.03 and marchenko_pastur_pdf(3.05, q) == 0.0  # tail beyond the MP edge


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="c must be"):
        se.sparse_wigner_zero_atom(0.0)
    with pytest.raises(ValueError, match="c must be"):
        se.zero_mode_branching(-1.0)
    with pytest.raises(ValueError, match="c must be"):
        se.sparse_wigner_density(0.5, -1.0)
    with pytest.raises(ValueError, match="eps"):
        se.sparse_wigner_density(0.5, 2.0, eps=0.0)
    with pytest.raises(ValueError, match="p is a probability"):
        se.sample_percolated_wigner(10, 1.5, 0)
    with pytest.raises(ValueError, match="mean degree"):
        se.sample_sparse_wigner(10, 10.0, 0)
    with pytest.raises(ValueError, match="q must be"):
        se.sparse_wishart_density(0.5, 2.0, 0.0)
