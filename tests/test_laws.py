"""Tests of lib.rmt.laws against analytic values: Catalan moments, published MP edges, atoms and moments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import comb

from lib.rmt.ensembles import beta_hermite, wishart
from lib.rmt.laws import (
    fit_marchenko_pastur,
    fit_semicircle,
    marchenko_pastur_atom,
    marchenko_pastur_cdf,
    marchenko_pastur_edges,
    marchenko_pastur_pdf,
    semicircle_cdf,
    semicircle_pdf,
)


def catalan(k: int) -> int:
    return comb(2 * k, k, exact=True) // (k + 1)


@pytest.mark.parametrize(("sigma", "center"), [(1.0, 0.0), (0.7, 0.3)])
def test_semicircle_moments_are_catalan(sigma, center):
    lo, hi = center - 2 * sigma, center + 2 * sigma
    for k in range(6):
        even, _ = quad(lambda x, k=k: (x - center) ** (2 * k) * semicircle_pdf(x, sigma, center), lo, hi)
        odd, _ = quad(lambda x, k=k: (x - center) ** (2 * k + 1) * semicircle_pdf(x, sigma, center), lo, hi)
        assert even == pytest.approx(catalan(k) * sigma ** (2 * k), rel=1e-8)
        assert abs(odd) < 1e-10
    assert [catalan(k) for k in range(6)] == [1, 1, 2, 5, 14, 42]


@pytest.mark.parametrize(("sigma", "center"), [(1.0, 0.0), (1.5, -0.4)])
def test_semicircle_cdf_is_integral_of_pdf(sigma, center):
    lo = center - 2 * sigma
    xs = np.linspace(lo - 0.5, center + 2 * sigma + 0.5, 23)
    expected = [quad(semicircle_pdf, lo, max(x, lo), args=(sigma, center))[0] for x in xs]
    np.testing.assert_allclose(semicircle_cdf(xs, sigma, center), expected, atol=1e-10)
    assert semicircle_cdf(center, sigma, center) == pytest.approx(0.5, abs=1e-15)


def test_semicircle_vectorised_finite_and_zero_outside():
    x = np.array([[-np.inf, -3.0, -2.0], [0.0, 2.0, np.inf]])
    pdf = semicircle_pdf(x)
    assert pdf.shape == x.shape and np.all(np.isfinite(pdf))
    np.testing.assert_array_equal(pdf[[0, 0, 0, 1, 1], [0, 1, 2, 1, 2]], 0.0)
    assert semicircle_pdf(0.0) == pytest.approx(1 / np.pi)
    assert isinstance(semicircle_pdf(0.0), float) and isinstance(semicircle_cdf(0.0), float)
    np.testing.assert_array_equal(semicircle_cdf(np.array([-np.inf, -2.0, 2.0, np.inf])), [0, 0, 1, 1])


def test_marchenko_pastur_edges_published():
    # rmt_reference 2: lambda = 1/2, sigma = 1 gives (1 -+ sqrt(1/2))^2 = 0.085786, 2.914214
    lo, hi = marchenko_pastur_edges(0.5)
    assert lo == pytest.approx(0.085786, abs=1e-6) and hi == pytest.approx(2.914214, abs=1e-6)
    lo2, hi2 = marchenko_pastur_edges(0.5, sigma=2.0)
    assert (lo2, hi2) == pytest.approx((4 * lo, 4 * hi))


@pytest.mark.parametrize(("q", "atom"), [(0.3, 0.0), (1.0, 0.0), (2.0, 0.5), (4.0, 0.75)])
def test_marchenko_pastur_atom(q, atom):
    assert marchenko_pastur_atom(q) == pytest.approx(atom, abs=1e-15)


@pytest.mark.parametrize("q", [0.25, 0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize("sigma", [1.0, 0.6])
def test_marchenko_pastur_mass_mean_and_second_moment(q, sigma):
    lo, hi = marchenko_pastur_edges(q, sigma)
    pts = [0.0] if q == 1.0 else None  # x^{-1/2} singularity at the lower edge when q = 1
    kw = {"limit": 200, "points": pts} if pts else {"limit": 200}
    mass = quad(marchenko_pastur_pdf, lo, hi, args=(q, sigma), **kw)[0]
    mean = quad(lambda x: x * marchenko_pastur_pdf(x, q, sigma), lo, hi, limit=200)[0]
    m2 = quad(lambda x: x**2 * marchenko_pastur_pdf(x, q, sigma), lo, hi, limit=200)[0]
    # the atom sits at 0: it adds mass but no moment
    assert mass + marchenko_pastur_atom(q) == pytest.approx(1.0, abs=1e-7)
    assert mean == pytest.approx(sigma**2, rel=1e-8)
    assert m2 == pytest.approx(sigma**4 * (1 + q), rel=1e-8)


@pytest.mark.parametrize("q", [0.5, 1.0, 3.0])
def test_marchenko_pastur_cdf_is_atom_plus_integral(q):
    sigma = 1.3
    lo, hi = marchenko_pastur_edges(q, sigma)
    xs = np.linspace(-0.5, hi + 0.5, 31)
    atom = marchenko_pastur_atom(q)
    expected = [
        0.0 if x < 0 else atom + quad(marchenko_pastur_pdf, lo, min(max(x, lo), hi), args=(q, sigma), limit=200)[0]
        for x in xs
    ]
    cdf = marchenko_pastur_cdf(xs, q, sigma)
    np.testing.assert_allclose(cdf, expected, atol=1e-7)
    assert np.all(np.diff(cdf) >= 0)
    assert marchenko_pastur_cdf(0.0, q, sigma) == pytest.approx(atom, abs=1e-12)
    assert marchenko_pastur_cdf(-1e-12, q, sigma) == 0.0
    assert marchenko_pastur_cdf(hi, q, sigma) == pytest.approx(1.0, abs=1e-12)


def test_marchenko_pastur_pdf_finite_and_zero_outside():
    x = np.array([-np.inf, -1.0, 0.0, 0.05, 7.0, np.inf])
    for q in (0.5, 1.0, 2.0):
        pdf = marchenko_pastur_pdf(x, q)
        assert pdf.shape == x.shape and np.all(np.isfinite(pdf))
        np.testing.assert_array_equal(pdf[[0, 1, 2, 4, 5]], 0.0)
    assert marchenko_pastur_pdf(0.05, 0.5) == 0.0  # below the lower edge 0.0858
    assert marchenko_pastur_pdf(1.0, 0.5) > 0 and isinstance(marchenko_pastur_pdf(1.0, 0.5), float)


def test_fit_semicircle_recovers_scale_and_center():
    # beta = 2 tridiagonal spectra have E[m_2] = 1 exactly; linear statistics fluctuate at O(1/n)
    levels = np.concatenate([beta_hermite(2000, 2.0, seed) for seed in range(5)])
    sigma, center = fit_semicircle(0.8 * levels + 1.7)
    assert sigma == pytest.approx(0.8, rel=2e-3)
    assert center == pytest.approx(1.7, abs=2e-3)


def test_fit_marchenko_pastur_recovers_ratio_and_scale():
    # E tr(W)/n = sigma^2 exactly; E tr(W^2)/n = sigma^4 (1 + q + 1/t) for Gaussian X
    rng = np.random.default_rng(11)
    ev = np.concatenate([np.linalg.eigvalsh(wishart(400, 800, rng, sigma=1.5)) for _ in range(3)])
    q, sigma = fit_marchenko_pastur(ev)
    assert q == pytest.approx(0.5, rel=0.02)
    assert sigma == pytest.approx(1.5, rel=5e-3)


def test_fit_marchenko_pastur_with_and_without_the_atom():
    rng = np.random.default_rng(12)
    ev = np.concatenate([np.linalg.eigvalsh(wishart(600, 300, rng)) for _ in range(3)])
    q, sigma = fit_marchenko_pastur(ev)  # zeros included: the atom's mass is in the moments
    assert q == pytest.approx(2.0, rel=0.02) and sigma == pytest.approx(1.0, rel=5e-3)
    q_nz, sigma_nz = fit_marchenko_pastur(ev[ev > 1e-8])  # zeros dropped: X^T X / n, ratio 1/q, scale sigma^2 q
    assert q_nz == pytest.approx(0.5, rel=0.02) and sigma_nz == pytest.approx(np.sqrt(2.0), rel=5e-3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: semicircle_pdf(0.0, sigma=0.0), "sigma"),
        (lambda: semicircle_cdf(0.0, sigma=-1.0), "sigma"),
        (lambda: semicircle_pdf(0.0, center=np.nan), "center"),
        (lambda: semicircle_pdf(1j), "real"),
        (lambda: marchenko_pastur_pdf(1.0, q=0.0), "q"),
        (lambda: marchenko_pastur_cdf(1.0, q=-2.0), "q"),
        (lambda: marchenko_pastur_cdf(1.0, q=1.0, sigma=np.inf), "sigma"),
        (lambda: marchenko_pastur_atom(0.0), "q"),
        (lambda: marchenko_pastur_edges(1.0, sigma=0.0), "sigma"),
        (lambda: fit_semicircle([1.0]), "at least 2"),
        (lambda: fit_semicircle([1.0, np.nan, 2.0]), "finite"),
        (lambda: fit_semicircle([1.0, 1.0, 1.0]), "all equal"),
        (lambda: fit_semicircle(np.array([1.0, 2.0]) + 1j), "real"),
        (lambda: fit_marchenko_pastur([]), "at least 2"),
        (lambda: fit_marchenko_pastur([1.0, np.inf]), "finite"),
        (lambda: fit_marchenko_pastur([-1.0, -2.0]), "mean"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_numeric_parameter_raises_type_error():
    with pytest.raises(TypeError, match="sigma"):
        semicircle_pdf(0.0, sigma="1")
