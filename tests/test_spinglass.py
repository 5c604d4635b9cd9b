"""Tests for lib.rmt.spinglass: ABC complexity of the spherical p-spin glass and its general-density version.

Oracles: the published ground state E_0(3) = 1.657 and E_inf(3) = 1.633 (ABC 2013; Crisanti-Sommers), the closed
form E_inf = 2 sqrt((p-1)/p), ABC's closed-form complexity solved here by an independent root-finder (which also
checks the derived 4-decimal tables of lib.book.published), the 2-spin case (ground state = top GOE eigenvalue,
sqrt 2), direct quadrature of the integrals the closed forms stand for, and lib.rmt.laws / lib.rmt.freeprob
densities run through the generic product integration.
"""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from lib.book.published import DERIVED_PSPIN_ATOM_ZEROS_P3, DERIVED_PSPIN_THRESHOLDS, PUBLISHED_PSPIN_P3
from lib.rmt import freeprob, laws, spinglass

SQRT2 = np.sqrt(2.0)
GOE_SIGMA = 1.0 / SQRT2  # GOE units: semicircle on [-sqrt 2, sqrt 2], variance 1/2
ROUNDING = 5e-5 + 1e-12  # a value printed to 4 decimals is within half a unit of the 4th decimal


def _abc_threshold(p: int, k: int) -> float:
    """E_k: minus the zero below -E_inf of ABC's closed form (Theorem 2.5)
    Theta_{k,p}(u) = log(p-1)/2 - (p-2)/(4(p-1)) u^2 - (k+1) I_1(u),
    I_1(u) = 2/E_inf^2 int_{E_inf}^{-u} sqrt(s^2 - E_inf^2) ds,
    by brentq with I_1 by quadrature: independent of lib.rmt.spinglass."""
    e_inf = 2 * np.sqrt((p - 1) / p)

    def theta(u: float) -> float:
        i1 = 2 / e_inf**2 * quad(lambda s: np.sqrt(s * s - e_inf**2), e_inf, -u)[0]
        return 0.5 * np.log(p - 1) - (p - 2) / (4 * (p - 1)) * u**2 - (k + 1) * i1

    return -brentq(theta, -4.0, -e_inf, xtol=1e-13)


def _atom_total_complexity_zero(w: float, p: int = 3) -> float:
    """Minus the zero of the total complexity for rho = (1 - w) semicircle (GOE units) + w delta_0, below the bulk:
    f_0(v) = log(p-1)/2 + (1 + log 2)/2 + (1 - w) Omega_sc(c_p v) + w log|c_p v| - v^2/2 with c_p = sqrt(p/(2(p-1)))
    and Omega_sc(t) = int log|x - t| rho_sc(x) dx by quadrature. f_0 increases below the edge (its derivative
    c_p Omega'(t) - v > 0 there), so the supremum over v <= u is f_0(u) and the zero is f_0's root: brentq."""
    c_p = np.sqrt(p / (2 * (p - 1)))

    def f0(v: float) -> float:
        t = c_p * v
        omega = quad(lambda x: np.log(abs(x - t)) * laws.semicircle_pdf(x, GOE_SIGMA), -SQRT2, SQRT2)[0]
        return 0.5 * np.log(p - 1) + 0.5 * (1 + np.log(2)) + (1 - w) * omega + w * np.log(abs(t)) - v * v / 2

    return -brentq(f0, -4.0, -spinglass.e_infinity(p) - 1e-3, xtol=1e-13)


@pytest.mark.parametrize("p", sorted(DERIVED_PSPIN_THRESHOLDS))
def test_thresholds_against_an_independent_root_finder_and_the_derived_table(p):
    e, e_inf = spinglass.thresholds(p, 5)
    assert e_inf == pytest.approx(2 * np.sqrt((p - 1) / p), abs=1e-14)
    independent = np.array([_abc_threshold(p, k) for k in range(6)])
    np.testing.assert_allclose(e, independent, atol=1e-9)
    # the 4-decimal table of lib.book.published is the rounding of these values (not taken on trust)
    table = DERIVED_PSPIN_THRESHOLDS[p]
    np.testing.assert_allclose(table, [2 * np.sqrt((p - 1) / p), *independent], rtol=0, atol=ROUNDING)


def test_published_ground_state_p3():
    e, e_inf = spinglass.thresholds(3, 0)
    assert round(e[0], 3) == PUBLISHED_PSPIN_P3["E_0"]  # ABC / Crisanti-Sommers 3-spin ground state
    assert round(e_inf, 3) == PUBLISHED_PSPIN_P3["E_inf"]
    assert round(_abc_threshold(3, 0), 3) == PUBLISHED_PSPIN_P3["E_0"]


def test_the_two_oracles_agree_without_an_atom():
    # the Kac-Rice form with Omega by quadrature and ABC's closed form give the same ground state
    assert _atom_total_complexity_zero(0.0) == pytest.approx(_abc_threshold(3, 0), abs=1e-8)


def test_two_spin_thresholds_collapse_to_top_goe_eigenvalue():
    # p = 2: H is a quadratic form, the critical points are the 2N eigenvectors; ground state = -sqrt 2
    e, e_inf = spinglass.thresholds(2, 3)
    np.testing.assert_allclose(e, SQRT2, atol=1e-12)
    assert e_inf == pytest.approx(SQRT2)


@pytest.mark.parametrize("p", [3, 4, 7, 10, 20])
def test_thresholds_are_layered(p):
    e, e_inf = spinglass.thresholds(p, 8)
    assert np.all(np.diff(e) < 0)
    assert e[-1] > e_inf


@pytest.mark.parametrize("p", [3, 5, 10])
def test_complexity_signs_around_thresholds(p):
    e, e_inf = spinglass.thresholds(p, 3)
    for k, ek in enumerate(e):
        assert spinglass.complexity(-ek - 1e-3, p, k) < 0  # exponentially few index-k points below -E_k
        assert spinglass.complexity(-ek + 1e-3, p, k) > 0
        assert spinglass.complexity(-ek, p, k) == pytest.approx(0.0, abs=1e-10)
    # above -E_inf every Theta_k is the constant of ABC Theorem 2.5, and the branches meet at -E_inf
    const = 0.5 * np.log(p - 1) - (p - 2) / p
    assert spinglass.complexity(-e_inf, p, 2) == pytest.approx(const)
    assert spinglass.complexity(-e_inf - 1e-9, p, 2) == pytest.approx(const, abs=1e-6)
    assert spinglass.complexity(0.5, p, 4) == pytest.approx(const)


@pytest.mark.parametrize("p", [3, 4, 10])
def test_total_complexity(p):
    e_inf = spinglass.e_infinity(p)
    # all critical points: E Crt_N ~ (p-1)^{N/2} (ABC Theorem 2.8)
    np.testing.assert_allclose(spinglass.complexity(np.array([0.0, 0.3, 5.0]), p), 0.5 * np.log(p - 1))
    u = np.array([-0.5 * e_inf, -0.9 * e_inf])
    np.testing.assert_allclose(spinglass.complexity(u, p), 0.5 * np.log(p - 1) - (p - 2) / (4 * (p - 1)) * u**2)
    # below the bulk edge minima dominate: Theta = Theta_0
    u = np.linspace(-2.5, -e_inf, 7)
    np.testing.assert_allclose(spinglass.complexity(u, p), spinglass.complexity(u, p, 0))
    assert spinglass.complexity(-e_inf, p) == pytest.approx(spinglass.complexity(-e_inf + 1e-12, p))


@pytest.mark.parametrize("u", [-1.7, -2.0, -3.0])
def test_i1_is_the_goe_edge_rate_integral(u):
    p = 3
    e_inf = spinglass.e_infinity(p)
    i1 = spinglass.complexity(u, p, 0) - spinglass.complexity(u, p, 1)  # Theta_k is linear in (k + 1) I_1
    integral = 2 / e_inf**2 * quad(lambda t: np.sqrt(t * t - e_inf**2), e_inf, -u)[0]
    assert i1 == pytest.approx(integral, rel=1e-9)


@pytest.mark.parametrize("t", [-3.0, -1.5, -1.0, 0.2, 1.3, 2.5])
def test_semicircle_log_potential_by_quadrature(t):
    integrand = lambda x: np.log(abs(x - t)) * laws.semicircle_pdf(x, GOE_SIGMA)  # noqa: E731
    pts = [t] if abs(t) < SQRT2 else None
    direct = quad(integrand, -SQRT2, SQRT2, points=pts, limit=200)[0]
    assert spinglass.semicircle_log_potential(t) == pytest.approx(direct, abs=1e-8)


def _goe_density_law():
    return spinglass.density_law(
        lambda x: np.asarray(laws.semicircle_pdf(x, GOE_SIGMA)),
        (-SQRT2, SQRT2),
        rate=lambda t: np.asarray(spinglass.semicircle_edge_rate(t)),
    )


def test_general_formula_with_semicircle_is_abc():
    law = _goe_density_law()  # tabulated semicircle: an independent path to Omega
    for p in (3, 10):
        u = np.linspace(-2.4, 1.0, 23)
        np.testing.assert_allclose(spinglass.general_complexity(u, p, law), spinglass.complexity(u, p), atol=2e-6)
        np.testing.assert_allclose(spinglass.general_complexity(u, p, law, 2), spinglass.complexity(u, p, 2), atol=2e-6)
        e, e_edge = spinglass.general_thresholds(p, law, 4)
        np.testing.assert_allclose(e, spinglass.thresholds(p, 4)[0], atol=1e-5)
        assert e_edge == pytest.approx(spinglass.e_infinity(p))
        assert spinglass.complexity_zero(p, law) == pytest.approx(e[0], abs=1e-5)


@pytest.mark.parametrize("w", sorted(DERIVED_PSPIN_ATOM_ZEROS_P3))
def test_semicircle_plus_atom_ground_state(w):
    # zero of the total complexity for p = 3, rho = (1 - w) semicircle + w delta_0, against the independent
    # quadrature + root-finder; the derived 4-decimal values of lib.book.published are its rounding
    independent = _atom_total_complexity_zero(w)
    assert DERIVED_PSPIN_ATOM_ZEROS_P3[w] == pytest.approx(independent, abs=ROUNDING)
    law = spinglass.semicircle_atom_law(w)
    assert spinglass.complexity_zero(3, law) == pytest.approx(independent, abs=1e-7)
    e, _ = spinglass.general_thresholds(3, law, 4)
    assert e[0] == pytest.approx(independent, abs=1e-7)
    assert np.all(np.diff(e) < 0)
    # same law through the generic product integration
    generic = spinglass.density_law(
        lambda x: np.asarray((1 - w) * laws.semicircle_pdf(x, GOE_SIGMA)), (-SQRT2, SQRT2), atom=w
    )
    t = np.array([-2.5, -1.5, -0.7, 0.4])
    np.testing.assert_allclose(generic.log_potential(t), law.log_potential(t), atol=2e-6)


@pytest.mark.parametrize("p", [3, 10])
def test_variance_matched_atom_breaks_layering_where_the_edge_complexity_vanishes(p):
    def edge_value(w):  # hand formula: Omega_R(-R) = log(R/2) + 1/2 (semicircle), R^2 = 2 / (1 - w)
        r = np.sqrt(2 / (1 - w))
        omega = (1 - w) * (np.log(r / 2) + 0.5) + w * np.log(r)
        return 0.5 * np.log(p - 1) + 0.5 * (1 + np.log(2)) + omega - r * r * (p - 1) / p

    expected = brentq(edge_value, 0.0, 0.9)
    family = lambda w: spinglass.semicircle_atom_law(w, np.sqrt(2 / (1 - w)))  # noqa: E731
    assert spinglass.layering_breakpoint(p, family, 0.0, 0.9) == pytest.approx(expected, abs=1e-9)
    assert np.all(np.isfinite(spinglass.general_thresholds(p, family(0.9 * expected), 3)[0]))
    assert np.all(np.isnan(spinglass.general_thresholds(p, family(1.1 * expected), 3)[0]))


@pytest.mark.parametrize("q", [0.3, 1.0, 3.0])
def test_wigner_wishart_edge_against_freeprob_density(q):
    a = spinglass.wigner_wishart_edge(q, GOE_SIGMA)
    inside, outside = freeprob.wigner_wishart_density(np.array([0.995 * a, 1.005 * a]), q, GOE_SIGMA)
    assert inside > 1e-3
    assert outside < 1e-6


@pytest.mark.parametrize("q", [0.3, 3.0])
def test_wigner_wishart_log_potential_two_ways(q):
    # sheets of the quartic (ours) against product integration of lib.rmt.freeprob's density
    a = spinglass.wigner_wishart_edge(q, GOE_SIGMA)
    generic = spinglass.density_law(
        lambda x: np.asarray(freeprob.wigner_wishart_density(x, q, GOE_SIGMA)),
        (-a, a),
        atom=freeprob.wigner_wishart_atom(q),
    )
    t = np.array([-3 * a, -1.2 * a, -a, 1.1 * a])
    np.testing.assert_allclose(
        spinglass.wigner_wishart_log_potential(t, q, GOE_SIGMA), generic.log_potential(t), atol=2e-6
    )


def test_wigner_wishart_small_q_is_the_semicircle():
    q = 1e-7
    t = np.array([-1.5, -2.0, -3.0])
    np.testing.assert_allclose(
        spinglass.wigner_wishart_rate(t, q, GOE_SIGMA), spinglass.semicircle_edge_rate(t), atol=1e-5
    )
    np.testing.assert_allclose(
        spinglass.wigner_wishart_log_potential(t, q, GOE_SIGMA), spinglass.semicircle_log_potential(t), atol=1e-6
    )
    e, _ = spinglass.general_thresholds(3, spinglass.wigner_wishart_law(q), 3)
    np.testing.assert_allclose(e, spinglass.thresholds(3, 3)[0], atol=1e-4)


def test_wigner_wishart_rate_is_a_rate():
    q = 2.0
    a = spinglass.wigner_wishart_edge(q, GOE_SIGMA)
    t = -a - np.array([0.0, 0.01, 0.1, 1.0])
    rate = spinglass.wigner_wishart_rate(t, q, GOE_SIGMA)
    assert rate[0] == 0.0
    assert np.all(np.diff(rate) > 0)
    # square-root edge: I ~ (2c/3) d^{3/2}, so I(4d) / I(d) -> 8 as d -> 0
    d = 1e-4
    ratio = spinglass.wigner_wishart_rate(-a - 4 * d, q, GOE_SIGMA) / spinglass.wigner_wishart_rate(
        -a - d, q, GOE_SIGMA
    )
    assert ratio == pytest.approx(8.0, rel=1e-2)


def test_bad_input():
    with pytest.raises(ValueError, match="p must be >= 2"):
        spinglass.complexity(-1.7, 1)
    with pytest.raises(TypeError, match="p must be an integer"):
        spinglass.thresholds(3.0, 2)
    with pytest.raises(ValueError, match="k must be >= 0"):
        spinglass.complexity(-1.7, 3, -1)
    with pytest.raises(TypeError, match="k must be an integer"):
        spinglass.complexity(-1.7, 3, 1.5)
    with pytest.raises(ValueError, match="kmax must be >= 0"):
        spinglass.thresholds(3, -1)
    with pytest.raises(ValueError, match="u must be finite"):
        spinglass.complexity(np.nan, 3)
    with pytest.raises(ValueError, match="atom weight"):
        spinglass.semicircle_atom_law(1.0)
    with pytest.raises(ValueError, match="integrates to"):
        spinglass.density_law(lambda x: np.full_like(x, 2.0), (-1.0, 1.0))
    with pytest.raises(ValueError, match="support"):
        spinglass.density_law(lambda x: np.ones_like(x), (1.0, -1.0))
    no_rate = spinglass.density_law(lambda x: np.full_like(x, 0.5), (-1.0, 1.0))
    with pytest.raises(ValueError, match="rate"):
        spinglass.general_thresholds(3, no_rate, 2)
    with pytest.raises(ValueError, match="q must be"):
        spinglass.wigner_wishart_edge(0.0)
    with pytest.raises(ValueError, match="only"):
        spinglass.wigner_wishart_log_potential(0.0, 1.0)
