"""Tests of lib.rmt.freeprob against published values, closed forms, special cases and sampled matrices."""

from __future__ import annotations

from collections.abc import Callable
from math import comb

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import brentq

from lib.rmt import freeprob as fp
from lib.rmt import measures as ms
from lib.rmt.laws import marchenko_pastur_atom, marchenko_pastur_cdf, marchenko_pastur_pdf, semicircle_pdf

# 99% critical value of the one-sample Kolmogorov-Smirnov statistic for n i.i.d. points: 1.63 / sqrt(n).
# Eigenvalues are more rigid than i.i.d. draws, so this is a conservative bound for a correct law.
KS_99 = 1.63


def _grid(lo: float, hi: float, n: int = 8001) -> np.ndarray:
    """Grid on [lo, hi] refined cubically around 0, where several densities are singular."""
    u = np.linspace(-1.0, 1.0, n)
    if lo < 0 < hi:
        return np.unique(np.concatenate([lo * np.abs(u[u < 0]) ** 3, hi * u[u >= 0] ** 3]))
    return lo + (hi - lo) * 0.5 * (1.0 - np.cos(0.5 * np.pi * (u + 1.0)))


def _ks_distance(eigs: np.ndarray, density: Callable, atom: float, lo: float, hi: float) -> float:
    return ms.ks_to_density(eigs, density, (lo, hi), atom)


def test_ks_distance_matches_scipy_for_iid_draws() -> None:
    rng = np.random.default_rng(3)
    draws = rng.beta(2.0, 5.0, 500)
    density = lambda x: np.where((x > 0) & (x < 1), 30.0 * x * (1 - x) ** 4, 0.0)  # noqa: E731
    assert ms.ks_to_density(draws, density, (0.0, 1.0)) == pytest.approx(stats.kstest(draws, "beta", (2, 5)).statistic,
                                                                      abs=1e-6)
    # half the mass at 0: the same draws with as many exact zeros appended
    mixed = np.concatenate([draws, np.zeros(500)])
    expected = max(np.max(np.abs(np.arange(501, 1001) / 1000 - 0.5 - 0.5 * stats.beta.cdf(np.sort(draws), 2, 5))),
                   np.max(np.abs(np.arange(500, 1000) / 1000 - 0.5 - 0.5 * stats.beta.cdf(np.sort(draws), 2, 5))))
    assert ms.ks_to_density(mixed, lambda x: 0.5 * density(x), (-0.5, 1.0), atom=0.5) == pytest.approx(expected,
                                                                                                    abs=1e-5)


def _integral(density: Callable, lo: float, hi: float, power: int = 0) -> float:
    """int x^power rho(x) dx on the refined grid."""
    x = _grid(lo, hi)
    return float(np.trapezoid(x**power * density(x), x))


# --- products of Wisharts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [2, 3])
def test_fuss_catalan_moments_are_fuss_catalan_numbers(m: int) -> None:
    # x = L u^(m+1) turns the x^(-m/(m+1)) singularity at 0 into a bounded integrand.
    edge = (m + 1) ** (m + 1) / m**m
    u, w = np.polynomial.legendre.leggauss(400)
    u, w = 0.5 * (u + 1.0), 0.5 * w
    x = edge * u ** (m + 1)
    jac = edge * (m + 1) * u**m
    rho = fp.fuss_catalan_density(x, m)
    # k = 0 is the most sensitive to the integrable singularity at 0, hence the looser tolerance
    for k, rel in zip(range(5), [2e-3, 2e-4, 2e-4, 2e-4, 2e-4], strict=True):
        expected = comb((m + 1) * k, k) / (m * k + 1)  # Penson & Zyczkowski 2011
        assert np.sum(w * jac * rho * x**k) == pytest.approx(expected, rel=rel)


def test_fuss_catalan_m2_closed_form() -> None:
    x = np.linspace(0.05, 6.7, 60)
    a = 27.0 + 3.0 * np.sqrt(81.0 - 12.0 * x)
    closed = (
        2 ** (1 / 3) * np.sqrt(3) / (12 * np.pi) * (2 ** (1 / 3) * a ** (2 / 3) - 6 * x ** (1 / 3))
        / (x ** (2 / 3) * a ** (1 / 3))
    )  # Penson & Zyczkowski, PRE 83, 061118 (2011)
    np.testing.assert_allclose(fp.fuss_catalan_density(x, 2), closed, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fp.fuss_catalan_density([0.5, 1.0, 2.0], 2), [0.31831, 0.17898, 0.09386], atol=1e-5)
    assert fp.fuss_catalan_density(6.8, 2) < 1e-6  # beyond 27/4


def test_fuss_catalan_m3_parametric_form() -> None:
    # Haagerup-Moller / Neuschel parametrisation (rmt_reference 6.1), an independent representation.
    s = 3
    t = np.linspace(0.05, np.pi / (s + 1) - 0.05, 40)
    x = np.sin((s + 1) * t) ** (s + 1) / (np.sin(t) * np.sin(s * t) ** s)
    rho = np.sin(t) ** 2 * np.sin(s * t) ** (s - 1) / (np.pi * np.sin((s + 1) * t) ** s)
    np.testing.assert_allclose(fp.fuss_catalan_density(x, s), rho, rtol=1e-6)


@pytest.mark.parametrize("q", [0.3, 1.0, 2.5])
def test_single_factor_is_marchenko_pastur(q: float) -> None:
    x = np.linspace(0.01, 7.0, 200)
    np.testing.assert_allclose(fp.wishart_product_density(x, [q]), marchenko_pastur_pdf(x, q), atol=1e-6)
    assert fp.wishart_product_atom([q]) == pytest.approx(marchenko_pastur_atom(q))


def test_product_atoms() -> None:
    assert fp.wishart_product_atom([2.0, 0.5]) == pytest.approx(0.5)  # max of the atoms (Belinschi 2003)
    assert fp.wishart_product_atom([3.0, 1.5]) == pytest.approx(2.0 / 3.0)
    assert fp.wishart_product_atom([0.5, 0.9]) == 0.0
    assert fp.chain_product_atom([1500, 1000, 3000]) == pytest.approx(1.0 / 3.0)  # 1 - min N_i / N_0
    assert fp.chain_product_atom([100, 200, 300]) == 0.0


def test_chain_mass_and_second_moment() -> None:
    widths = [1500, 1000, 3000]
    dens = lambda x: fp.chain_product_density(x, widths)  # noqa: E731
    atom = fp.chain_product_atom(widths)
    assert _integral(dens, 0.0, 12.0) + atom == pytest.approx(1.0, abs=2e-4)
    assert _integral(dens, 0.0, 12.0, 1) == pytest.approx(1.0, abs=2e-4)  # m_1 = 1
    assert _integral(dens, 0.0, 12.0, 2) == pytest.approx(1 + 1500 / 1000 + 1500 / 3000, abs=1e-3)  # m_2 = 3


def test_sampled_wishart_product_and_chain() -> None:
    n = 1000
    eigs = fp.sample_wishart_product(n, [2.0, 0.5], 11)
    assert np.mean(np.abs(eigs) < 1e-9 * eigs.max()) == pytest.approx(0.5, abs=2.0 / n)
    dens = lambda x: fp.wishart_product_density(x, [2.0, 0.5])  # noqa: E731
    assert _ks_distance(eigs, dens, 0.5, -0.1, 14.0) < KS_99 / np.sqrt(n)

    widths = [900, 600, 1800]
    eigs = fp.sample_chain_product(widths, 12)
    assert fp.zero_mode_fraction(eigs) == pytest.approx(fp.chain_product_atom(widths), abs=1e-12)
    dens = lambda x: fp.chain_product_density(x, widths)  # noqa: E731
    assert _ks_distance(eigs, dens, 1.0 / 3.0, -0.1, 14.0) < KS_99 / np.sqrt(widths[0])


def test_sampled_fuss_catalan() -> None:
    n = 1000
    eigs = fp.sample_fuss_catalan(n, 2, 13)
    assert _ks_distance(eigs, lambda x: fp.fuss_catalan_density(x, 2), 0.0, -0.01, 7.0) < KS_99 / np.sqrt(n)


# --- Wigner x Wishart and Wigner products -----------------------------------------------------------------------


@pytest.mark.parametrize(("q", "sigma"), [(0.5, 1.0), (2.0, 0.7)])
def test_wigner_wishart_mass_symmetry_and_variance(q: float, sigma: float) -> None:
    dens = lambda x: fp.wigner_wishart_density(x, q, sigma)  # noqa: E731
    atom = fp.wigner_wishart_atom(q)
    assert atom == pytest.approx(max(0.0, 1.0 - 1.0 / q))
    x = np.linspace(0.05, 3.0, 30)
    np.testing.assert_allclose(dens(x), dens(-x), atol=1e-9)
    assert _integral(dens, -8.0, 8.0) + atom == pytest.approx(1.0, abs=2e-3)
    assert _integral(dens, -8.0, 8.0, 2) == pytest.approx(sigma**2, rel=2e-3)  # m_2 = sigma^2 (unit-mean W)


@pytest.mark.parametrize("q", [0.5, 2.0])
def test_sampled_wigner_wishart(q: float) -> None:
    n = 1200
    eigs = fp.sample_wigner_wishart(n, q, 14)
    dens = lambda x: fp.wigner_wishart_density(x, q)  # noqa: E731
    assert _ks_distance(eigs, dens, fp.wigner_wishart_atom(q), -8.0, 8.0) < KS_99 / np.sqrt(n)


def test_symmetrised_wigner_product_is_wigner_wishart_q1() -> None:
    n = 1000
    eigs = fp.sample_wigner_product(n, 15)
    assert _ks_distance(eigs, lambda x: fp.wigner_wishart_density(x, 1.0), 0.0, -8.0, 8.0) < KS_99 / np.sqrt(n)


def test_anticommutator_variance_and_samples() -> None:
    dens = lambda x: fp.wigner_anticommutator_density(x)  # noqa: E731
    assert _integral(dens, -7.0, 7.0) == pytest.approx(1.0, abs=1e-3)
    # m_2 = 2 phi(a^2) phi(b^2) for free centred a, b (phi(abab) = 0)
    assert _integral(dens, -7.0, 7.0, 2) == pytest.approx(2.0, rel=2e-3)
    scaled = fp.wigner_anticommutator_density(np.array([0.0, 0.9]), 0.5, 2.0)
    np.testing.assert_allclose(scaled, fp.wigner_anticommutator_density(np.array([0.0, 0.9])), rtol=1e-8)
    n = 1000
    eigs = fp.sample_wigner_anticommutator(n, 16)
    assert _ks_distance(eigs, dens, 0.0, -7.0, 7.0) < KS_99 / np.sqrt(n)


# --- free sums ----------------------------------------------------------------------------------------------


def test_free_sum_mass_and_samples() -> None:
    phi, s2 = 0.5, 0.1
    dens = lambda x: fp.free_sum_mp_semicircle_density(x, phi, s2)  # noqa: E731
    assert _integral(dens, -2.0, 6.0) == pytest.approx(1.0, abs=1e-4)
    assert _integral(dens, -2.0, 6.0, 2) == pytest.approx(1.0 + phi + s2, abs=1e-3)  # free cumulants add
    n = 1200
    eigs = fp.sample_free_sum_mp_semicircle(n, phi, s2, 17)
    assert _ks_distance(eigs, dens, 0.0, -2.0, 6.0) < KS_99 / np.sqrt(n)


def test_pastur_fixed_point_agrees_with_cubic_and_semicircle() -> None:
    x = np.linspace(-1.5, 4.0, 23)
    # one atom at 0 plus SC(s2) is SC(s2) itself
    np.testing.assert_allclose(fp.semicircle_convolution_density(x, [0.0], 0.4), semicircle_pdf(x, np.sqrt(0.4)),
                               atol=2e-4)
    # MP(0.5) represented by 4000 quantiles, then plus SC(0.2): the cubic of Pennington & Bahri
    grid = np.linspace(0.0, 3.0, 30001)
    quantiles = np.interp((np.arange(4000) + 0.5) / 4000, marchenko_pastur_cdf(grid, 0.5), grid)
    np.testing.assert_allclose(fp.semicircle_convolution_density(x, quantiles, 0.2),
                               fp.free_sum_mp_semicircle_density(x, 0.5, 0.2), atol=5e-3)


@pytest.mark.parametrize("phi", [0.1, 0.25, 0.5, 0.75])
def test_pennington_bahri_critical_energy(phi: float) -> None:
    # The left edge of MP(phi) + SC(2 eps) reaches 0 exactly at eps_c (Pennington & Bahri 2017)
    s2 = brentq(lambda s: fp.mp_semicircle_left_edge(phi, s), 1e-8, 1.0, xtol=1e-14)
    assert s2 / 2 == pytest.approx(fp.pennington_bahri_critical_energy(phi), rel=1e-8)
    assert fp.critical_energy_from_edge(phi) == pytest.approx(s2 / 2, rel=1e-8)
    # and the edge read off the density agrees with the critical-point formula
    edge = fp.mp_semicircle_left_edge(phi, 0.3)
    assert fp.free_sum_mp_semicircle_density(edge - 1e-3, phi, 0.3) < 1e-6
    assert fp.free_sum_mp_semicircle_density(edge + 1e-3, phi, 0.3) > 1e-2


def test_pennington_bahri_limits() -> None:
    assert fp.pennington_bahri_critical_energy(1e-12) == pytest.approx(1.0 / 8.0)
    assert fp.pennington_bahri_critical_energy(1.0) == pytest.approx(0.0, abs=1e-15)


def test_pennington_bahri_index_three_halves() -> None:
    phi = 0.5
    eps_c = fp.pennington_bahri_critical_energy(phi)
    assert fp.pennington_bahri_index(0.9 * eps_c, phi) == 0.0
    rel = np.geomspace(1e-3, 1e-2, 5)
    alpha = np.array([fp.pennington_bahri_index(eps_c * (1 + r), phi) for r in rel])
    slope = np.polyfit(np.log(rel), np.log(alpha), 1)[0]
    assert slope == pytest.approx(1.5, abs=0.03)  # alpha ~ |eps - eps_c|^{3/2}


# --- Pennington-Worah ---------------------------------------------------------------------------------------


def test_activation_constants_analytic() -> None:
    assert fp.activation_constants(lambda x: x) == pytest.approx((1.0, 1.0))
    eta, zeta = fp.activation_constants(lambda x: np.maximum(x, 0.0), sigma_w=2.0)
    assert eta == pytest.approx(4.0 * (0.5 - 0.5 / np.pi), rel=1e-3)  # Var relu(2Z)
    assert zeta == pytest.approx(1.0, rel=1e-3)  # (E[Z relu(2Z)])^2 = 1
    eta, zeta = fp.activation_constants(np.tanh)
    assert (eta, zeta) == pytest.approx((0.39429, 0.36688), abs=1e-5)  # rmt_reference 8.1


def test_pennington_worah_special_cases() -> None:
    phi, psi = 0.5, 2.0 / 3.0
    x = np.linspace(0.05, 5.0, 50)  # clear of the square-root edges, where Im z = 1e-9 smooths at ~1e-6
    # linear activation: the chain W X with widths (n_1, n_0, m), scaled by zeta
    np.testing.assert_allclose(fp.pennington_worah_density(x, phi, psi, 1.0, 1.0),
                               fp.chain_product_density(x, [900, 600, 1200]), atol=1e-6)
    np.testing.assert_allclose(fp.pennington_worah_density(x, phi, psi, 2.0, 2.0),
                               fp.chain_product_density(x / 2.0, [900, 600, 1200]) / 2.0, atol=1e-6)
    # zeta = 0: Marchenko-Pastur of ratio n_1 / m = phi / psi and variance eta
    np.testing.assert_allclose(fp.pennington_worah_density(x, phi, psi, 1.3, 0.0),
                               marchenko_pastur_pdf(x, phi / psi, np.sqrt(1.3)), atol=1e-5)
    assert fp.pennington_worah_atom(1.0, 0.5, 1.0, 0.5) == pytest.approx(0.5)  # n_1 = 2 m
    assert fp.pennington_worah_atom(0.5, 0.5, 1.0, 1.0) == pytest.approx(0.5)  # linear: rank n_0 = n_1 / 2
    assert fp.pennington_worah_atom(0.5, 0.5, 1.0, 0.9) == 0.0


def test_pennington_worah_mass_and_samples() -> None:
    eta, zeta = fp.activation_constants(np.tanh)
    n0, n1, m = 600, 900, 1200
    phi, psi = n0 / m, n0 / n1
    dens = lambda x: fp.pennington_worah_density(x, phi, psi, eta, zeta)  # noqa: E731
    assert _integral(dens, 0.0, 6.0) == pytest.approx(1.0, abs=1e-3)
    eigs = fp.sample_random_feature_gram(n0, n1, m, np.tanh, 18)
    assert _ks_distance(eigs, dens, 0.0, -0.01, 6.0) < KS_99 / np.sqrt(n1)
    # more features than samples: atom 1 - m / n_1
    eigs = fp.sample_random_feature_gram(300, 800, 400, np.tanh, 19)
    assert fp.zero_mode_fraction(eigs) == pytest.approx(fp.pennington_worah_atom(0.75, 0.375, eta, zeta))


# --- bad input ----------------------------------------------------------------------------------------------


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="ratios"):
        fp.wishart_product_density(1.0, [2.0, -0.5])
    with pytest.raises(ValueError, match="ratios"):
        fp.wishart_product_atom([])
    with pytest.raises(ValueError, match="widths"):
        fp.chain_product_density(1.0, [100])
    with pytest.raises(ValueError, match="widths"):
        fp.chain_product_atom([100, 0])
    with pytest.raises(ValueError, match="m must be"):
        fp.fuss_catalan_density(1.0, 0)
    with pytest.raises(ValueError, match="q"):
        fp.wigner_wishart_density(1.0, -1.0)
    with pytest.raises(ValueError, match="s2"):
        fp.free_sum_mp_semicircle_density(1.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="phi <= 1"):
        fp.pennington_bahri_critical_energy(1.5)
    with pytest.raises(ValueError, match="zeta must not exceed eta"):
        fp.pennington_worah_density(1.0, 0.5, 0.5, 0.3, 0.4)
    with pytest.raises(ValueError, match="eta"):
        fp.pennington_worah_density(1.0, 0.5, 0.5, 0.0, 0.0)
    with pytest.raises(ValueError, match="undefined"):
        fp.activation_constants(lambda x: np.exp(x**4))
    with pytest.raises(ValueError, match="degenerate"):
        fp.activation_constants(lambda x: np.ones_like(x))
    with pytest.raises(ValueError, match="phi >= 1"):
        fp.critical_energy_from_edge(1.0)
    with pytest.raises(ValueError, match="support"):
        ms.ks_to_density(np.ones(3), lambda x: x, (1.0, 0.0))
    with pytest.raises(ValueError, match="weights"):
        fp.semicircle_convolution_density(0.0, [0.0, 1.0], 0.5, weights=[0.2, 0.2])
    with pytest.raises(ValueError, match="complex"):
        fp.fuss_catalan_density(1.0 + 1j, 2)


@pytest.mark.parametrize("q", [0.1, 0.5])
def test_wigner_wishart_density_is_continuous_through_zero(q: float) -> None:
    """For q < 1 the density at exactly 0 is the limit from either side (root tracking meets a double root there)."""
    at_zero = fp.wigner_wishart_density(np.array([0.0, 1e-9, -1e-9]), q)
    beside = fp.wigner_wishart_density(np.array([1e-4, -1e-4]), q)
    assert np.all(np.isfinite(at_zero))
    np.testing.assert_allclose(at_zero, beside.mean(), rtol=1e-3)
