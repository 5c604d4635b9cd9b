"""Tests of lib.rmt.ensembles against analytic properties of the Gaussian, beta-Hermite, Wishart and Poisson laws.

Finite-n oracle used throughout: for the eigenvalue density ``|Delta|^beta exp(-beta n sum l^2 / 4)`` (our
normalisation, rmt_reference 1.1) the second moment ``m_2 = sum(l^2) / n`` has mean ``1 + (2/beta - 1)/n`` and
standard deviation ``sqrt(4 (2 + beta (n - 1)) / (beta^2 n^3))``, both exact (sums of independent chi-square
entries of the Dumitriu-Edelman matrix, whose trace of ``H^2`` equals that of the dense ensembles).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lib.rmt.ensembles import beta_hermite, goe, gse, gse_levels, gue, poisson_levels, sample_spectra, wishart
from lib.rmt.laws import marchenko_pastur_atom, marchenko_pastur_cdf, semicircle_cdf


def m2_mean_sd(n: int, beta: float) -> tuple[float, float]:
    return 1 + (2 / beta - 1) / n, np.sqrt(4 * (2 + beta * (n - 1)) / (beta**2 * n**3))


def ks_bound(n_samples: int) -> float:
    # 0.1% critical value of the i.i.d. KS statistic; eigenvalues are more rigid than i.i.d. points
    return 1.95 / np.sqrt(n_samples)


def test_goe_gue_gse_structure():
    h = goe(30, 0)
    assert h.shape == (30, 30) and h.dtype == float and np.array_equal(h, h.T)
    h = gue(30, 0)
    assert h.shape == (30, 30) and np.iscomplexobj(h) and np.allclose(h, h.conj().T)
    n = 20
    h = gse(n, 0)
    a, b = h[:n, :n], h[:n, n:]
    assert h.shape == (2 * n, 2 * n) and np.allclose(h, h.conj().T)
    np.testing.assert_allclose(h[n:, n:], a.conj(), atol=1e-14)
    np.testing.assert_allclose(h[n:, :n], -b.conj(), atol=1e-14)
    np.testing.assert_allclose(b.T, -b, atol=1e-14)


def test_integer_seed_is_reproducible_and_generator_is_accepted():
    np.testing.assert_array_equal(goe(5, 3), goe(5, 3))
    np.testing.assert_array_equal(goe(5, np.random.default_rng(3)), goe(5, 3))
    assert not np.array_equal(goe(5, 3), goe(5, 4))


def test_gse_levels_are_kramers_pairs():
    ev = np.linalg.eigvalsh(gse(60, 7))
    assert np.max(np.abs(ev[0::2] - ev[1::2])) < 1e-10
    assert np.min(np.diff(ev[0::2])) > 1e-4  # the distinct levels repel, so they are not degenerate
    levels = gse_levels(60, 7)
    assert levels.shape == (60,) and np.all(np.diff(levels) > 0)
    np.testing.assert_allclose(levels, ev[0::2], atol=1e-10)


@pytest.mark.parametrize(
    ("seed", "levels", "beta"),
    [
        (1, lambda n, rng: np.linalg.eigvalsh(goe(n, rng)), 1.0),
        (2, lambda n, rng: np.linalg.eigvalsh(gue(n, rng)), 2.0),
        (3, gse_levels, 4.0),
    ],
    ids=["goe", "gue", "gse"],
)
def test_dense_ensembles_second_moment_and_edges(seed, levels, beta):
    n, reps = 120, 8
    rng = np.random.default_rng(seed)
    spectra = [levels(n, rng) for _ in range(reps)]
    m2 = np.mean([np.mean(ev**2) for ev in spectra])
    mean, sd = m2_mean_sd(n, beta)
    assert abs(m2 - mean) < 5 * sd / np.sqrt(reps)
    # soft edges at +-2, with Tracy-Widom fluctuations of order n^{-2/3}
    window = 6 * n ** (-2 / 3)
    for ev in spectra:
        assert abs(ev.max() - 2) < window and abs(ev.min() + 2) < window


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 2.5, 4.0])
def test_beta_hermite_second_moment_edges_and_semicircle(beta):
    n, reps = 1000, 6
    rng = np.random.default_rng(int(10 * beta))
    spectra = [beta_hermite(n, beta, rng) for _ in range(reps)]
    assert all(ev.shape == (n,) and np.all(np.diff(ev) >= 0) for ev in spectra)
    mean, sd = m2_mean_sd(n, beta)
    m2 = np.mean([np.mean(ev**2) for ev in spectra])
    assert abs(m2 - mean) < 5 * sd / np.sqrt(reps)
    window = 6 * n ** (-2 / 3)
    assert all(abs(ev.max() - 2) < window and abs(ev.min() + 2) < window for ev in spectra)
    pooled = np.concatenate(spectra)
    assert stats.kstest(pooled, semicircle_cdf).statistic < ks_bound(pooled.size)


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_beta_hermite_two_by_two_spacing_law(beta):
    # n = 2: joint density |l1 - l2|^beta exp(-(l1^2 + l2^2)/2) before scaling, so the gap s obeys
    # s^2 / 4 ~ Gamma((beta + 1)/2); beta_hermite divides by sqrt(beta n / 2) = sqrt(beta)
    rng = np.random.default_rng(2)
    gaps = np.array([np.diff(beta_hermite(2, beta, rng))[0] for _ in range(4000)]) * np.sqrt(beta)
    assert stats.kstest(gaps**2 / 4, stats.gamma((beta + 1) / 2).cdf).pvalue > 1e-3


def test_beta_hermite_single_level_is_gaussian():
    x = np.array([beta_hermite(1, 2.0, s)[0] for s in range(2000)])
    assert stats.kstest(x, stats.norm(scale=1.0).cdf).pvalue > 1e-3  # N(0, 1) / sqrt(beta n / 2) = N(0, 1)


def test_wishart_against_marchenko_pastur_without_atom():
    n, t, sigma = 300, 600, 0.8
    rng = np.random.default_rng(5)
    w = wishart(n, t, rng, sigma=sigma)
    assert w.shape == (n, n) and np.allclose(w, w.T)
    ev = np.concatenate([np.linalg.eigvalsh(wishart(n, t, rng, sigma=sigma)) for _ in range(4)])
    assert stats.kstest(ev, lambda x: marchenko_pastur_cdf(x, n / t, sigma)).statistic < ks_bound(ev.size)


def test_wishart_against_marchenko_pastur_with_atom():
    n, t = 600, 200
    q = n / t
    rng = np.random.default_rng(6)
    ev = np.concatenate([np.linalg.eigvalsh(wishart(n, t, rng)) for _ in range(3)])
    zero = np.abs(ev) < 1e-9
    assert zero.sum() == 3 * (n - t)  # exactly n - t zero eigenvalues per matrix: the atom 1 - 1/q
    assert zero.mean() == pytest.approx(marchenko_pastur_atom(q))
    atom = marchenko_pastur_atom(q)
    nonzero = ev[~zero]

    def continuous_part_cdf(x: np.ndarray) -> np.ndarray:
        return (marchenko_pastur_cdf(x, q) - atom) / (1 - atom)

    assert stats.kstest(nonzero, continuous_part_cdf).statistic < ks_bound(nonzero.size)


def test_poisson_levels_have_unit_density_and_exponential_spacings():
    n = 20000
    levels = poisson_levels(n, 9)
    assert levels.shape == (n,) and levels.min() > 0 and np.all(np.diff(levels) > 0)
    s = np.diff(levels, prepend=0.0)
    assert abs(s.mean() - 1) < 5 / np.sqrt(n)  # Exp(1) spacings: mean 1, sd 1
    assert stats.kstest(s, stats.expon.cdf).pvalue > 1e-3


def test_poisson_levels_count_is_poisson():
    # the number of levels in [0, L) is Poisson(L): mean L, variance L (so Sigma^2(L) = L)
    L, reps = 5.0, 4000
    counts = np.array([np.sum(poisson_levels(40, seed) < L) for seed in range(reps)])
    assert abs(counts.mean() - L) < 5 * np.sqrt(L / reps)
    assert abs(counts.var() - L) < 5 * np.sqrt((2 * L**2 + L) / reps)  # sd of a Poisson sample variance


@pytest.mark.parametrize(("ensemble", "beta"), [("goe", 1.0), ("gue", 2.0), ("gse", 4.0)])
@pytest.mark.parametrize("tridiagonal", [False, True])
def test_sample_spectra_rows_follow_the_ensemble(ensemble, beta, tridiagonal):
    n, reps = 60, 40
    spectra = sample_spectra(ensemble, n, reps, 4, tridiagonal=tridiagonal)
    assert spectra.shape == (reps, n) and np.all(np.diff(spectra, axis=1) >= 0)
    mean, sd = m2_mean_sd(n, beta)
    assert abs(np.mean(spectra**2) - mean) < 5 * sd / np.sqrt(reps)


def test_sample_spectra_poisson():
    spectra = sample_spectra("poisson", 100, 3, 0)
    assert spectra.shape == (3, 100) and spectra.min() > 0 and np.all(np.diff(spectra, axis=1) > 0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: goe(0, 0), ValueError, "n must be >= 1"),
        (lambda: gue(-3, 0), ValueError, "n must be >= 1"),
        (lambda: gse(0, 0), ValueError, "n must be >= 1"),
        (lambda: gse_levels(0, 0), ValueError, "n must be >= 1"),
        (lambda: goe(2.5, 0), TypeError, "n must be an integer"),
        (lambda: beta_hermite(0, 1.0, 0), ValueError, "n must be >= 1"),
        (lambda: beta_hermite(10, 0.0, 0), ValueError, "beta"),
        (lambda: beta_hermite(10, -1.0, 0), ValueError, "beta"),
        (lambda: beta_hermite(10, np.nan, 0), ValueError, "beta"),
        (lambda: wishart(0, 5, 0), ValueError, "n must be >= 1"),
        (lambda: wishart(5, 0, 0), ValueError, "t must be >= 1"),
        (lambda: wishart(5, 5, 0, sigma=0.0), ValueError, "sigma"),
        (lambda: wishart(5, 5, 0, sigma=-1.0), ValueError, "sigma"),
        (lambda: poisson_levels(0, 0), ValueError, "n must be >= 1"),
        (lambda: goe(3, "seed"), TypeError, "rng"),
        (lambda: sample_spectra("goa", 3, 2, 0), ValueError, "ensemble"),
        (lambda: sample_spectra("goe", 3, 0, 0), ValueError, "n_samples"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
