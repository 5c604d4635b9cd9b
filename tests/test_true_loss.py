"""The random-function Hessian model: GOE part, shift, degeneracy, outliers, kernel calculus, and the fit."""

import numpy as np
import pytest

from lib.rmt import true_loss as tl
from lib.rmt.laws import fit_semicircle, semicircle_cdf
from lib.rmt.measures import ks_to_cdf
from lib.rmt.spacings import MEAN_MIN_RATIO_PUBLISHED, mean_min_ratio_ci, min_ratios

# A valid stationary kernel with k(0) k''(0) > k'(0)^2: k(u) = (exp(u / l1^2) + exp(u / l2^2)) / 2, the
# covariance of the single random feature L(w) = sqrt(2) cos(omega . w + b), omega ~ N(0, I / l^2) with l drawn
# from {l1, l2}, b ~ U(0, 2 pi). Its second moments are exact, so it is an independent oracle for the kernel
# calculus (module docstring of lib.rmt.true_loss).
L1, L2 = 0.7, 1.5
K0 = 1.0
KP = (L1**-2 + L2**-2) / 2
KPP = (L1**-4 + L2**-4) / 2


def _random_features(dim: int, draws: int, seed: int):
    rng = np.random.default_rng(seed)
    scale = np.where(rng.random(draws) < 0.5, L1, L2)
    omega = rng.standard_normal((draws, dim)) / scale[:, None]
    b = rng.uniform(0, 2 * np.pi, draws)
    return omega, b


def _agrees(samples: np.ndarray, expected: float) -> None:
    """Sample mean within 5 standard errors of ``expected``."""
    sem = samples.std(ddof=1) / np.sqrt(samples.size)
    assert abs(samples.mean() - expected) < 5 * sem + 1e-12, (samples.mean(), expected, sem)


def test_goe_part_has_semicircle_variance_and_law():
    n, kpp = 400, 0.3
    h = tl.sample_hessian(n, kpp, 0.0, np.random.default_rng(0))
    off = h[np.triu_indices(n, 1)]
    # entry variances kpp and 2 kpp: relative standard errors sqrt(2 / count)
    assert off.var() == pytest.approx(kpp, rel=5 * np.sqrt(2 / off.size))
    assert np.diag(h).var() == pytest.approx(2 * kpp, rel=5 * np.sqrt(2 / n))
    eigs = np.linalg.eigvalsh(h)
    sigma, center = fit_semicircle(eigs)
    # semicircle variance sigma^2 = kpp n (radius 2 sqrt(kpp n)); (1/n) tr H^2 has relative sd ~ 1/n
    assert sigma**2 == pytest.approx(kpp * n, rel=0.02)
    assert ks_to_cdf(eigs, lambda x: semicircle_cdf(x, np.sqrt(kpp * n))) < 1.36 / np.sqrt(n) + 0.01


def test_common_shift_adds_its_variance_to_the_spectrum_centre():
    n, m, kpp, v = 30, 4000, 0.5, 2.0
    centres = tl.sample_spectra(n, m, kpp, v, np.random.default_rng(1)).mean(axis=1)
    # mean eigenvalue = tr H / n: GOE part variance 2 kpp / n, shift variance v
    expected = v + 2 * kpp / n
    assert centres.var(ddof=1) == pytest.approx(expected, rel=5 * np.sqrt(2 / m))


def test_sampler_matches_gaussian_process_hessian_covariance():
    # random-feature oracle at w = 0: H = -sqrt2 cos(b) omega omega^T, L = sqrt2 cos(b)
    omega, b = _random_features(3, 400_000, 2)
    h_gp = -np.sqrt(2) * np.cos(b)[:, None, None] * omega[:, :, None] * omega[:, None, :]
    loss = np.sqrt(2) * np.cos(b)
    _agrees(h_gp[:, 0, 0] ** 2, 3 * KPP)  # Cov(H_ij, H_kl) = k''(0)(d_ij d_kl + d_ik d_jl + d_il d_jk)
    _agrees(h_gp[:, 0, 0] * h_gp[:, 1, 1], KPP)
    _agrees(h_gp[:, 0, 1] ** 2, KPP)
    _agrees(h_gp[:, 0, 0] * loss, -KP)  # Cov(H_ii, L) = -k'(0)
    _agrees(h_gp[:, 0, 1] * loss, 0.0)
    # the sampler with the derived shift variance has the same covariances
    rng = np.random.default_rng(3)
    v = tl.shift_variance(KP, KPP)
    h = np.stack([tl.sample_hessian(3, KPP, v, rng) for _ in range(20_000)])
    _agrees(h[:, 0, 0] ** 2, 3 * KPP)
    _agrees(h[:, 0, 0] * h[:, 1, 1], KPP)
    _agrees(h[:, 0, 1] ** 2, KPP)


def test_conditional_shift_variance_is_the_partial_covariance():
    omega, b = _random_features(2, 400_000, 4)
    h00 = -np.sqrt(2) * np.cos(b) * omega[:, 0] ** 2
    h11 = -np.sqrt(2) * np.cos(b) * omega[:, 1] ** 2
    loss = np.sqrt(2) * np.cos(b)
    # residuals of H_ii after linear regression on L: their covariance is the conditional Cov(H_00, H_11 | L)
    r0 = h00 - (np.mean(h00 * loss) / np.mean(loss**2)) * loss
    r1 = h11 - (np.mean(h11 * loss) / np.mean(loss**2)) * loss
    _agrees(r0 * r1, tl.shift_variance(KP, KPP, k0=K0))
    # the conditional mean of H_00 given L = l is the regression of H_00 on L evaluated at l: the per-draw
    # products h00 * loss / E[L^2] average to its slope (E[L^2] = k(0) = 1 exactly for this oracle)
    _agrees(0.5 * h00 * loss / K0, tl.shift_mean(KP, K0, 0.5))


def test_gradient_covariance_matches_gaussian_process():
    omega, b = _random_features(2, 400_000, 5)
    delta = np.array([0.8, -0.3])
    g0 = -np.sqrt(2) * np.sin(b)[:, None] * omega
    g1 = -np.sqrt(2) * np.sin(omega @ delta + b)[:, None] * omega
    u = -0.5 * delta @ delta
    kp_u = (np.exp(u / L1**2) / L1**2 + np.exp(u / L2**2) / L2**2) / 2
    kpp_u = (np.exp(u / L1**2) / L1**4 + np.exp(u / L2**2) / L2**4) / 2
    cov = tl.gradient_covariance(delta, kp_u, kpp_u)
    for i in range(2):
        for j in range(2):
            _agrees(g0[:, i] * g1[:, j], cov[i, j])


def test_se_kernel_identities():
    k, kp, kpp = tl.se_kernel_derivatives(0.0, variance=2.0, lengthscale=0.5)
    assert (k, kp, kpp) == pytest.approx((2.0, 8.0, 32.0))
    # derivation and notebook agree for the unit-variance SE kernel; conditioning removes the SE shift entirely
    k, kp, kpp = tl.se_kernel_derivatives(0.0, 1.0, 1.3)
    assert tl.shift_variance(kp, kpp) == pytest.approx(tl.shift_variance(kp, kpp, convention="notebook"))
    assert tl.shift_variance(kp, kpp, k0=k) == pytest.approx(0.0, abs=1e-12)
    # normalised correlation: tr of the gradient covariance over its value at 0
    d, ell, n = np.array([0.3, 0.4, 1.2]), 0.9, 3
    _, kp_u, kpp_u = tl.se_kernel_derivatives(-0.5 * d @ d, 1.0, ell)
    rho = np.trace(tl.gradient_covariance(d, kp_u, kpp_u)) / (n / ell**2)
    assert tl.se_gradient_correlation(np.linalg.norm(d), ell, dim=n) == pytest.approx(rho)


def test_degeneracy_adds_exactly_the_requested_zero_block():
    h = tl.sample_hessian(50, 0.1, 1.0, np.random.default_rng(6), degeneracy=20)
    assert h.shape == (70, 70)
    assert np.all(h[50:] == 0) and np.all(h[:, 50:] == 0)
    assert np.count_nonzero(np.all(h == 0, axis=1)) == 20
    eigs = tl.sample_spectra(100, 2, 1e-2, 0.0, np.random.default_rng(7), degeneracy=50)
    assert eigs.shape == (2, 150)
    assert np.all(np.sum(np.abs(eigs) < 1e-10, axis=1) == 50)


def test_outliers_land_at_the_bbp_locations():
    n = 600
    kpp = 1 / n  # sigma = sqrt(kpp n) = 1: bulk on [-2, 2]
    theta = np.array([3.0, 5.0])
    eigs = np.linalg.eigvalsh(tl.sample_hessian(n, kpp, 0.0, np.random.default_rng(8), outliers=theta))
    # lambda = theta + sigma^2 / theta (Feral & Peche 2007); fluctuations O(n^-1/2) = 0.04
    np.testing.assert_allclose(eigs[-2:], theta + 1 / theta, atol=0.15)
    assert eigs[-3] < 2.1
    assert tl.bbp_outlier_location(0.5, 1.0) == pytest.approx(2.0)  # subcritical: stuck at the edge
    assert tl.bbp_outlier_strength(tl.bbp_outlier_location(3.0, 1.0), 1.0) == pytest.approx(3.0)


def test_fit_model_recovers_scale_degeneracy_and_outliers():
    n, kpp = 400, 2.5e-3  # sigma = 1
    theta = np.array([4.0, 6.0, 9.0])
    rng = np.random.default_rng(9)
    eigs = np.stack([np.linalg.eigvalsh(tl.sample_hessian(n, kpp, 0.1, rng, degeneracy=60, outliers=theta))
                     for _ in range(4)])
    fit = tl.fit_model(eigs)
    assert fit.n == n and fit.degeneracy == 60 and fit.n_outliers == 3
    # (1/n) tr of the bulk has relative sd ~ sqrt(2) / n per spectrum
    assert fit.kpp == pytest.approx(kpp, rel=0.03)
    # BBP inversion of the outlying levels: O(n^-1/2) fluctuations, amplified by 1 / (1 - sigma^2 / theta^2)
    np.testing.assert_allclose(np.sort(fit.outliers.reshape(4, 3), axis=1).mean(axis=0), theta, rtol=0.04)


def test_fit_model_recovers_shift_variance():
    n, m, kpp, v = 20, 1000, 0.05, 0.3
    fit = tl.fit_model(tl.sample_spectra(n, m, kpp, v, np.random.default_rng(12)))
    # variance of m centres: relative standard error sqrt(2 / (m - 1)); the GOE part 2 kpp / n is subtracted
    assert fit.shift_var == pytest.approx(v, rel=5 * np.sqrt(2 / (m - 1)))


def test_fit_model_does_not_peel_a_non_semicircular_bulk_away():
    # a peaked, heavy-tailed bulk (Laplace levels, like a network's): peeling would never stop on its own
    levels = np.random.default_rng(13).laplace(size=2000)
    fit = tl.fit_model(levels, max_outlier_fraction=0.05)
    assert 0 < fit.n_outliers <= 0.05 * 2000


def test_model_local_statistics_are_goe_with_shift_and_outliers():
    eigs = tl.sample_spectra(200, 10, 0.01, 1.0, np.random.default_rng(10), n_outliers=3, outlier_scale=10.0)
    eigs = eigs[:, :-3]  # the outliers' own, nearly independent spacings are not part of the GOE bulk
    mean, lo, hi = mean_min_ratio_ci(min_ratios(eigs).ravel(), 200, 11, level=0.999, kind="ratios")
    assert lo < MEAN_MIN_RATIO_PUBLISHED[1] < hi


def test_bad_input():
    with pytest.raises(ValueError, match="convention"):
        tl.shift_variance(1.0, 1.0, convention="paper")
    with pytest.raises(ValueError, match="valid kernel"):
        tl.shift_variance(2.0, 1.0, k0=1.0)
    with pytest.raises(ValueError, match="degeneracy"):
        tl.sample_hessian(10, 1.0, 0.0, 0, degeneracy=-1)
    with pytest.raises(ValueError, match="outliers"):
        tl.sample_hessian(2, 1.0, 0.0, 0, outliers=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="shape"):
        tl.fit_model(np.ones((2, 2, 2)))
