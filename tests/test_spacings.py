"""Tests of lib.rmt.spacings (and the modules it gathers: gap_probability, unfolding, rigidity).

Oracles are published values and formulas (Atas et al. 2013; Mehta 2004; Bornemann 2010), analytic cases
(picket-fence and Poisson levels) and independent numerics (scipy quadrature, brute-force least squares).
Values tagged [N] in the reference sheet are our own earlier numerics: secondary checks only.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import sici

from lib.rmt import measures as ms
from lib.rmt import spacings as sp
from lib.rmt.ensembles import beta_hermite, poisson_levels
from lib.rmt.rigidity import _pandey_rigidity, _rigidity_windows

ZETA_PRIME_MINUS_ONE = -0.1654211437004509  # zeta'(-1), for the Widom-Dyson constant


def semicircle_cdf(x: np.ndarray) -> np.ndarray:
    """CDF of the semicircle on [-2, 2], written out here as an independent oracle."""
    x = np.clip(x, -2, 2)
    return 0.5 + x * np.sqrt(4 - x**2) / (4 * np.pi) + np.arcsin(x / 2) / np.pi


def bulk_levels(beta: float, n: int, n_spectra: int, seed: int) -> list[np.ndarray]:
    """Central half of beta-Hermite spectra (edges removed: reference sheet section 4, rule 4)."""
    rng = np.random.default_rng(seed)
    return [beta_hermite(n, beta, rng)[n // 4 : 3 * n // 4] for _ in range(n_spectra)]


# ---------------------------------------------------------------------------------------------- surmises


@pytest.mark.parametrize(
    ("beta", "published"),
    [
        (1, lambda s: np.pi / 2 * s * np.exp(-np.pi * s**2 / 4)),
        (2, lambda s: 32 / np.pi**2 * s**2 * np.exp(-4 * s**2 / np.pi)),
        (4, lambda s: 2**18 / (3**6 * np.pi**3) * s**4 * np.exp(-64 * s**2 / (9 * np.pi))),
    ],
)
def test_wigner_surmise_matches_published_formulas(beta, published):
    s = np.linspace(0, 4, 81)
    np.testing.assert_allclose(sp.wigner_surmise_pdf(s, beta), published(s), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("beta", "variance"), [(1, 4 / np.pi - 1), (2, 3 * np.pi / 8 - 1), (4, 45 * np.pi / 128 - 1)])
def test_wigner_surmise_norm_mean_variance(beta, variance):
    moments = [integrate.quad(lambda s, k=k: s**k * sp.wigner_surmise_pdf(s, beta), 0, np.inf)[0] for k in range(3)]
    assert moments[0] == pytest.approx(1, abs=1e-10)
    assert moments[1] == pytest.approx(1, abs=1e-10)
    assert moments[2] - 1 == pytest.approx(variance, abs=1e-10)


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_wigner_surmise_cdf_integrates_pdf(beta):
    for s in (0.3, 1.0, 2.5):
        expected = integrate.quad(lambda t: sp.wigner_surmise_pdf(t, beta), 0, s)[0]
        assert sp.wigner_surmise_cdf(s, beta) == pytest.approx(expected, abs=1e-12)
    assert sp.wigner_surmise_cdf(-1.0, beta) == 0.0
    assert sp.wigner_surmise_cdf(50.0, beta) == pytest.approx(1.0, abs=1e-15)


def test_poisson_spacing_law():
    assert integrate.quad(sp.poisson_spacing_pdf, 0, np.inf)[0] == pytest.approx(1, abs=1e-12)
    assert sp.poisson_spacing_cdf(1.0) == pytest.approx(1 - np.exp(-1))
    assert sp.poisson_spacing_pdf(-0.5) == 0.0


# ---------------------------------------------------------------------------------------------- ratios


@pytest.mark.parametrize(
    ("beta", "z_published"), [(1, 8 / 27), (2, 4 * np.pi / (81 * np.sqrt(3))), (4, 4 * np.pi / (729 * np.sqrt(3)))]
)
def test_ratio_surmise_normalisation_z_beta(beta, z_published):
    # Z_beta by quadrature of the unnormalised Atas et al. (2013) eq. (5) against their closed forms
    z = integrate.quad(lambda r: (r + r**2) ** beta / (1 + r + r**2) ** (1 + 1.5 * beta), 0, np.inf)[0]
    assert z == pytest.approx(z_published, rel=1e-10)
    assert integrate.quad(lambda r: sp.ratio_pdf(r, beta), 0, np.inf)[0] == pytest.approx(1, abs=1e-10)


@pytest.mark.parametrize("beta", [0, 1, 2, 4])
def test_ratio_law_symmetry_and_cdf(beta):
    r = np.array([0.05, 0.3, 0.7, 1.0, 2.0, 9.0])
    np.testing.assert_allclose(sp.ratio_pdf(r, beta), sp.ratio_pdf(1 / r, beta) / r**2, rtol=1e-12)
    assert sp.ratio_cdf(1.0, beta) == pytest.approx(0.5, abs=1e-14)  # from P(r) dr = P(1/r) d(1/r)
    for x in r:
        assert sp.ratio_cdf(x, beta) == pytest.approx(
            integrate.quad(lambda t: sp.ratio_pdf(t, beta), 0, x)[0], abs=1e-12
        )
    assert sp.ratio_cdf(np.inf, beta) == 1.0
    assert sp.min_ratio_cdf(1.0, beta) == pytest.approx(1.0, abs=1e-14)


def test_poisson_ratio_law_is_exact_formula():
    r = np.linspace(0, 5, 11)
    np.testing.assert_allclose(sp.ratio_pdf(r, 0), 1 / (1 + r) ** 2)
    np.testing.assert_allclose(sp.ratio_cdf(r, 0), r / (1 + r))


@pytest.mark.parametrize(
    ("beta", "closed_form", "published"),
    [
        (0, 2 * np.log(2) - 1, 0.38629),
        (1, 4 - 2 * np.sqrt(3), 0.53590),
        (2, 2 * np.sqrt(3) / np.pi - 0.5, 0.60266),
        (4, 32 * np.sqrt(3) / (15 * np.pi) - 0.5, 0.67617),
    ],
)
def test_mean_min_ratio_surmise(beta, closed_form, published):
    quadrature = integrate.quad(lambda r: r * sp.min_ratio_pdf(r, beta), 0, 1)[0]
    assert sp.mean_min_ratio(beta) == pytest.approx(closed_form, abs=1e-14)
    assert quadrature == pytest.approx(closed_form, abs=1e-10)
    assert closed_form == pytest.approx(published, abs=5e-6)


def test_goe_ratio_surmise_mean_is_seven_quarters():
    # <r> = 7/4 for the GOE surmise ([N] in the reference sheet: a secondary check)
    mean_r = integrate.quad(lambda r: r * sp.ratio_pdf(r, 1), 0, np.inf)[0]
    assert mean_r == pytest.approx(7 / 4, abs=1e-8)


def test_ratio_definitions_on_a_hand_made_spectrum():
    levels = np.array([0.0, 1.0, 3.0, 3.5, 7.5])  # spacings 1, 2, 0.5, 4
    np.testing.assert_allclose(sp.spacings(levels[::-1]), [1, 2, 0.5, 4])
    np.testing.assert_allclose(sp.spacing_ratios(levels), [2, 0.25, 8])
    np.testing.assert_allclose(sp.min_ratios(levels), [0.5, 0.25, 0.125])
    np.testing.assert_allclose(sp.min_ratios(np.stack([levels, 2 * levels + 1])), [[0.5, 0.25, 0.125]] * 2)


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_mean_min_ratio_of_large_gaussian_spectra_matches_atas_table(beta):
    # 1500 spectra of n = 200 (central half): 150,000 ratios, SE about 7e-4 from per-spectrum means
    per_spectrum = np.array([sp.min_ratios(x).mean() for x in bulk_levels(beta, 200, 1500, seed=10 + beta)])
    mean, se = per_spectrum.mean(), per_spectrum.std(ddof=1) / np.sqrt(per_spectrum.size)
    tolerance = 3.5 * se + sp.MEAN_MIN_RATIO_UNCERTAINTY + 1e-4
    assert abs(mean - sp.MEAN_MIN_RATIO_PUBLISHED[beta]) < tolerance
    if beta == 1:  # the numerics resolve the 1% surmise excess (reference sheet section 4, rule 1)
        assert sp.mean_min_ratio(1) - mean > tolerance


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_large_n_ratio_law_mean_is_atas_table_and_it_is_normalised(beta):
    """The surmise plus Atas et al.'s fitted large-N correction: unit norm, the symmetry F(r) = 1 - F(1/r), and
    <r~> equal to their Table I large-N value to its quoted precision (the surmise is 0.0017-0.005 above it)."""
    mean = integrate.quad(lambda r: r * sp.min_ratio_pdf(r, beta, "large_n"), 0, 1)[0]
    assert mean == pytest.approx(sp.MEAN_MIN_RATIO_PUBLISHED[beta], abs=sp.MEAN_MIN_RATIO_UNCERTAINTY)
    assert sp.mean_min_ratio(beta) - mean > 0.0015
    assert integrate.quad(lambda r: sp.ratio_pdf(r, beta, "large_n"), 0, np.inf)[0] == pytest.approx(1, abs=1e-8)
    assert sp.min_ratio_cdf(1.0, beta, "large_n") == pytest.approx(1, abs=1e-12)
    r = np.array([0.1, 0.5, 2.0, 7.0])
    np.testing.assert_allclose(sp.ratio_cdf(r, beta, "large_n"), 1 - sp.ratio_cdf(1 / r, beta, "large_n"), atol=1e-12)


def test_large_n_ratio_law_fits_large_goe_spectra_and_the_surmise_does_not():
    """Oracle: r~ of the central half of 200 GOE spectra of N = 800 (80,000 ratios). The KS distance to the large-N
    law is at the sampling level, that to the 3 x 3 surmise several times larger."""
    ratios = np.concatenate([sp.min_ratios(x) for x in bulk_levels(1, 800, 200, seed=21)])
    ks_large = ms.ks_to_cdf(ratios, lambda x: sp.min_ratio_cdf(x, 1, "large_n"))
    ks_surmise = ms.ks_to_cdf(ratios, lambda x: sp.min_ratio_cdf(x, 1))
    assert ks_large < 1.36 / np.sqrt(ratios.size / 2)
    assert ks_surmise > 2 * ks_large


def test_mean_min_ratio_of_poisson_levels():
    rng = np.random.default_rng(3)
    per_spectrum = np.array([sp.min_ratios(poisson_levels(1000, rng)).mean() for _ in range(200)])
    se = per_spectrum.std(ddof=1) / np.sqrt(per_spectrum.size)
    assert abs(per_spectrum.mean() - (2 * np.log(2) - 1)) < 3.5 * se + 2e-4


def test_bootstrap_interval_covers_the_poisson_value():
    # coverage of the nominal 90% block-bootstrap interval over independent replicates
    rng = np.random.default_rng(4)
    truth = 2 * np.log(2) - 1
    results = np.array([sp.mean_min_ratio_ci(poisson_levels(1500, rng), 200, rng, level=0.9) for _ in range(200)])
    means, lo, hi = results.T
    assert np.all((lo < means) & (means < hi))
    # 200 replicates: binomial sd of the coverage is 2.1%
    assert 0.83 <= np.mean((lo <= truth) & (truth <= hi)) <= 0.97
    # the interval's implied standard error must match the spread of the independent replicate means
    assert np.mean(hi - lo) / (2 * 1.645) == pytest.approx(means.std(ddof=1), rel=0.15)


def test_bootstrap_accepts_ratios_and_levels_alike():
    levels = beta_hermite(400, 1, 5)[100:300]
    ratios = sp.min_ratios(levels)
    from_levels = sp.mean_min_ratio_ci(levels, 100, 0)
    from_ratios = sp.mean_min_ratio_ci(ratios, 100, 0)
    assert from_levels == pytest.approx(from_ratios)
    assert sp.mean_min_ratio_ci(ratios, 100, 0, kind="ratios") == pytest.approx(from_ratios)


# ---------------------------------------------------------------------------------------------- exact law


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_exact_spacing_law_norm_mean_and_published_variance(beta):
    moments = [
        integrate.quad(lambda s, k=k: s**k * sp.exact_spacing_pdf(s, beta), 0, 8, limit=200)[0] for k in range(3)
    ]
    assert moments[0] == pytest.approx(1, abs=1e-8)
    assert moments[1] == pytest.approx(1, abs=1e-8)
    # Mehta 2004 / Brody et al. 1981 quote 3 digits: 0.286, 0.180, 0.104
    assert moments[2] - 1 == pytest.approx(sp.SPACING_VARIANCE_PUBLISHED[beta], abs=5.1e-4)
    # [N] Fredholm values of the reference sheet (secondary)
    assert moments[2] - 1 == pytest.approx({1: 0.285531, 2: 0.179994, 4: 0.104098}[beta], abs=2e-6)


def test_exact_spacing_small_s_expansions():
    # Mehta 2004: p_1 = (pi^2/6) s - (pi^4/60) s^3 + (pi^4/270) s^4 + O(s^5); p_2 = (pi^2/3) s^2 - (2 pi^4/45) s^4
    s = 0.05
    p1 = np.pi**2 / 6 * s - np.pi**4 / 60 * s**3 + np.pi**4 / 270 * s**4
    p2 = np.pi**2 / 3 * s**2 - 2 * np.pi**4 / 45 * s**4
    assert sp.exact_spacing_pdf(s, 1) == pytest.approx(p1, abs=2e-6)
    assert sp.exact_spacing_pdf(s, 2) == pytest.approx(p2, abs=1e-7)
    assert sp.exact_spacing_pdf(1e-3, 1) / 1e-3 == pytest.approx(np.pi**2 / 6, rel=1e-4)
    assert sp.exact_spacing_pdf(1e-2, 2) / 1e-4 == pytest.approx(np.pi**2 / 3, rel=2e-3)
    assert sp.exact_spacing_pdf(0.05, 4) / 0.05**4 == pytest.approx(16 * np.pi**4 / 135, rel=0.02)
    # the surmise slopes are different (pi/2 and 32/pi^2): an easy discriminating check
    assert sp.wigner_surmise_pdf(1e-3, 1) / 1e-3 == pytest.approx(np.pi / 2, rel=1e-5)


def test_gue_gap_probability_large_s_widom_dyson_constant():
    # log E_2(0; s) = -(pi s)^2/8 - (1/4) log(pi s / 2) + (1/12) log 2 + 3 zeta'(-1) + o(1)
    # (Krasovsky 2004; Ehrhardt 2006; Deift, Its, Krasovsky & Zhou 2007)
    s = 4.0
    remainder = np.log(sp.gap_probability(s, 2)) + (np.pi * s) ** 2 / 8 + 0.25 * np.log(np.pi * s / 2)
    assert remainder == pytest.approx(np.log(2) / 12 + 3 * ZETA_PRIME_MINUS_ONE, abs=2e-3)


def test_exact_spacing_cdf_and_finite_difference_of_gap_probability():
    s = np.array([0.5, 1.0, 2.0])
    h = 1e-3
    second_difference = (
        sp.gap_probability(s + h, 1) - 2 * sp.gap_probability(s, 1) + sp.gap_probability(s - h, 1)
    ) / h**2
    np.testing.assert_allclose(sp.exact_spacing_pdf(s, 1), second_difference, atol=1e-6)
    for x in s:
        expected = integrate.quad(lambda t: sp.exact_spacing_pdf(t, 2), 0, x)[0]
        assert sp.exact_spacing_cdf(x, 2) == pytest.approx(expected, abs=1e-9)


def test_exact_spacing_table_secondary():
    # [N] table of the reference sheet, section 3.2 item 4 (NOT a published oracle)
    s = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])
    goe = [0.387779, 0.656184, 0.754176, 0.701823, 0.393062, 0.139212, 0.005500]
    gue = [0.189417, 0.593230, 0.890742, 0.902903, 0.414602, 0.081298, 0.000354]
    np.testing.assert_allclose(sp.exact_spacing_pdf(s, 1), goe, atol=2e-6)
    np.testing.assert_allclose(sp.exact_spacing_pdf(s, 2), gue, atol=2e-6)


# ---------------------------------------------------------------------------------------------- KS


def test_ks_distance_equals_scipy_statistic():
    x = np.random.default_rng(6).exponential(size=500)
    assert ms.ks_to_cdf(x, sp.poisson_spacing_cdf) == pytest.approx(
        stats.kstest(x, lambda t: 1 - np.exp(-t)).statistic, abs=1e-14
    )


# ---------------------------------------------------------------------------------------------- unfolding


def test_unfold_pool_counts_strictly_below():
    pool = [np.arange(10.0), np.arange(10.0) + 0.5]  # p = 2 spectra
    unfolded = sp.unfold_pool(np.array([0.0, 0.5, 4.25, 9.75]), pool)
    np.testing.assert_allclose(unfolded, [0.0, 0.5, 4.5, 10.0])  # #{pool < lambda} / 2
    ragged = sp.unfold_pool([np.array([1.0, 2.0]), np.array([3.0])], pool)
    assert isinstance(ragged, list) and len(ragged) == 2


def test_unfold_pool_on_goe_gives_unit_spacing_and_the_exact_law():
    rng = np.random.default_rng(7)
    spectra = np.array([beta_hermite(300, 1, rng) for _ in range(240)])
    unfolded = sp.unfold_pool(spectra[:80], spectra[80:])  # paper 1: unfold a third, pool the rest
    s = sp.spacings(unfolded[:, 60:240]).ravel()  # bulk
    assert s.mean() == pytest.approx(1, abs=0.02)
    # 14,000 spacings: KS null scale 1.36 / sqrt(n) = 0.011; correlations and pool noise widen it slightly
    assert ms.ks_to_cdf(s, lambda t: sp.exact_spacing_cdf(t, 1)) < 0.02
    assert ms.ks_to_cdf(s, sp.poisson_spacing_cdf) > 0.2


def test_unfold_leave_one_out_has_no_comb_and_goe_spacings_at_sampling_level():
    # p = 4 other spectra: paper 1's pool puts every spacing on the 1/p lattice (KS 0.13-0.17 at these sizes); the
    # leave-one-out smoothed pool must not, and its spacings must fit the exact GOE law like i.i.d. draws would
    rng = np.random.default_rng(11)
    ks_loo, ks_old, ks_oracle = [], [], []
    for _ in range(20):
        rows = [beta_hermite(144, 1, rng) for _ in range(5)]
        s = np.concatenate([np.diff(u) for u in sp.unfold_leave_one_out(rows)])
        assert s.mean() == pytest.approx(1, abs=0.05)
        lattice = s * 4
        assert np.mean(np.abs(lattice - np.round(lattice)) < 1e-9) < 0.01
        ks_loo.append(ms.ks_to_cdf(s, lambda t: sp.exact_spacing_cdf(t, 1)))
        old = np.concatenate([np.diff(u) for u in sp.unfold_pool(rows[:1], rows[1:])])
        ks_old.append(ms.ks_to_cdf(old, lambda t: sp.exact_spacing_cdf(t, 1)))
        # oracle: the same levels unfolded by their exact mean counting function n F_sc (semicircle on [-2, 2])
        exact = np.concatenate([np.diff(144 * semicircle_cdf(r)) for r in rows])
        ks_oracle.append(ms.ks_to_cdf(exact, lambda t: sp.exact_spacing_cdf(t, 1)))
    n = 5 * 143
    assert np.mean(ks_loo) < 1.36 / np.sqrt(n)  # below the i.i.d. 95 % critical value on average
    assert np.mean(ks_loo) < np.mean(ks_oracle) + 0.01  # as close to the law as the exact unfolding
    assert np.mean(ks_old) > 2 * np.mean(ks_loo)  # the comb the leave-one-out pool removes


def test_unfold_leave_one_out_uses_only_the_other_spectra():
    rows = [np.arange(10.0), np.arange(10.0) + 0.25, np.arange(10.0) + 0.5]
    unfolded = sp.unfold_leave_one_out(rows, knot_spacings=1)
    # spectrum 0 against the pool {0.25, 0.5, 1.25, 1.5, ...} of p = 2 spectra, knots every p pool levels
    # (0.25, 1.25, 2.25, ... with staircase 0.5 / 2, 2.5 / 2, ...): 0.0 lies below the pool and is dropped, 1.0 is
    # interpolated at (0.5 + 2 * 0.75) / 2 = 1.0, and so on; spectrum 1 against knots 0, 1, 2, ... with staircase
    # 0.25, 1.25, ... is shifted by 0.25
    np.testing.assert_allclose(unfolded[0], np.arange(1.0, 10.0))
    np.testing.assert_allclose(unfolded[1], rows[1] + 0.25)
    assert [u.size for u in unfolded] == [9, 10, 9]


def test_unfold_polynomial_on_semicircle_levels():
    n = 2000
    rng = np.random.default_rng(8)
    levels = beta_hermite(n, 1, rng)
    unfolded = sp.unfold_polynomial(levels, 9)
    bulk = slice(n // 10, 9 * n // 10)
    # the fit should follow n F_sc(E) (the law the levels are drawn from) in the bulk, up to a constant
    deviation = unfolded[bulk] - n * semicircle_cdf(levels[bulk])
    assert np.ptp(deviation) < 3.0
    assert np.diff(unfolded[bulk]).mean() == pytest.approx(1, abs=0.01)


def test_unfold_spline_on_semicircle_levels():
    n = 2000
    levels = beta_hermite(n, 2, 9)
    unfolded = sp.unfold_spline(levels, n_knots=12)
    bulk = slice(n // 10, 9 * n // 10)
    deviation = unfolded[bulk] - n * semicircle_cdf(levels[bulk])
    assert np.ptp(deviation) < 3.0


def test_unfold_polynomial_rejects_a_non_monotone_fit():
    # levels E = t^4 pile up at 0 (staircase N ~ E^(1/4)): a cubic cannot follow it and turns down
    levels = np.linspace(0, 1, 100) ** 4
    with pytest.raises(ValueError, match="not increasing"):
        sp.unfold_polynomial(levels, 3)
    with pytest.raises(ValueError, match="not increasing"):
        sp.unfold_spline(levels, n_knots=0)


# ---------------------------------------------------------------------------------------------- Sigma^2, Delta_3


def test_number_variance_of_picket_fence():
    # equally spaced levels: n(E, L) takes floor(L) or floor(L) + 1, so Sigma^2 = f (1 - f), f = frac(L)
    lattice = np.arange(500.0)
    L = np.array([0.25, 0.5, 1.0, 2.3, 7.0])
    f = L - np.floor(L)
    # window starts run over [0, 499 - L]: the last partial period weighs at most 1/(499 - L)
    np.testing.assert_allclose(sp.number_variance(lattice, L), f * (1 - f), atol=1 / 490)


def test_number_variance_against_a_dense_grid_of_windows():
    x = np.sort(np.random.default_rng(14).uniform(0, 60, 60))
    for ell in (0.7, 4.0):
        starts = np.linspace(x[0], x[-1] - ell, 2_000_001)
        counts = np.searchsorted(x, starts + ell, side="right") - np.searchsorted(x, starts, side="right")
        assert sp.number_variance(x, ell) == pytest.approx(np.mean((counts - ell) ** 2), abs=1e-4)


def test_spectral_rigidity_of_picket_fence():
    # with the line of slope 1 the residual is a unit sawtooth over whole periods (mean square 1/12); the
    # best line tilts by at most 1/L^2, which lowers that by at most 1/(12 L^2)
    L = np.array([2.0, 5.0, 20.0])
    gap = 1 / 12 - sp.spectral_rigidity(np.arange(400.0), L)
    assert np.all(gap >= -1e-12)
    assert np.all(gap <= 1 / (12 * L**2))


def test_rigidity_window_formula_against_brute_force_least_squares():
    x = np.sort(np.random.default_rng(11).uniform(0, 40, 40))
    starts = np.array([1.3, 7.9, 15.2])
    ell = 12.0
    closed = _rigidity_windows(x, starts, ell)
    for a, value in zip(starts, closed, strict=True):
        e = np.linspace(a, a + ell, 400_001)
        staircase = np.searchsorted(x, e, side="right").astype(float)
        design = np.stack([e, np.ones_like(e)], axis=1)
        resid = staircase - design @ np.linalg.lstsq(design, staircase, rcond=None)[0]
        assert value == pytest.approx(np.mean(resid**2), rel=1e-3)


def test_poisson_number_variance_and_rigidity_from_samples():
    rng = np.random.default_rng(12)
    levels = [poisson_levels(20_000, rng) for _ in range(2)]
    L = np.array([1.0, 5.0, 10.0])
    sigma2 = sp.number_variance(levels, L)
    # sampling sd of the window average: sqrt((2 L^2 + L) L / N_levels)
    sd = np.sqrt((2 * L**2 + L) * L / 40_000)
    np.testing.assert_array_less(np.abs(sigma2 - sp.poisson_number_variance(L)), 4 * sd)
    delta3 = sp.spectral_rigidity(levels, L)
    np.testing.assert_allclose(delta3, L / 15, rtol=0.1)


def test_goe_sigma2_and_delta3_of_sampled_spectra():
    n = 400
    rng = np.random.default_rng(13)
    unfolded = [n * semicircle_cdf(beta_hermite(n, 1, rng))[n // 4 : 3 * n // 4] for _ in range(150)]
    L = np.array([1.0, 3.0])
    np.testing.assert_allclose(sp.number_variance(unfolded, L), sp.goe_number_variance(L), rtol=0.06)
    np.testing.assert_allclose(sp.spectral_rigidity(unfolded, L), sp.goe_spectral_rigidity(L), rtol=0.06)


def _sigma2_from_cluster(L: float, y2) -> float:
    """Sigma^2(L) = L - 2 int_0^L (L - r) Y_2(r) dr (Mehta 2004), by adaptive quadrature."""
    return L - 2 * integrate.quad(lambda r: (L - r) * y2(r), 0, L, limit=400)[0]


def _y2_gue(r):
    return np.sinc(r) ** 2


def _y2_goe(r):
    si = sici(np.pi * r)[0]
    ds = (np.pi * r * np.cos(np.pi * r) - np.sin(np.pi * r)) / (np.pi * r**2)
    return np.sinc(r) ** 2 + ds * (0.5 - si / np.pi)  # int_r^inf sin(pi t)/(pi t) dt = 1/2 - Si(pi r)/pi


def _y2_gse(r):
    x = 2 * np.pi * r
    ds = (x * np.cos(x) - np.sin(x)) / (x * r)  # d/dr sin(2 pi r)/(2 pi r)
    return np.sinc(2 * r) ** 2 - ds * sici(x)[0] / (2 * np.pi)


@pytest.mark.parametrize(
    ("theory", "y2"),
    [(sp.gue_number_variance, _y2_gue), (sp.goe_number_variance, _y2_goe), (sp.gse_number_variance, _y2_gse)],
)
def test_number_variance_closed_forms_equal_cluster_function_integrals(theory, y2):
    for L in (0.3, 1.0, 2.7, 6.0):
        assert theory(L) == pytest.approx(_sigma2_from_cluster(L, y2), abs=1e-9)


def test_long_range_theory_values():
    # [N] secondary values of the reference sheet, section 5.3
    assert sp.goe_number_variance(1.0) == pytest.approx(0.446334, abs=1e-6)
    assert sp.goe_number_variance(5.0) == pytest.approx(0.768385, abs=1e-6)
    np.testing.assert_allclose(
        sp.goe_spectral_rigidity(np.array([10.0, 20, 50])), [0.23570, 0.30142, 0.39140], atol=1e-5
    )
    # published large-L asymptotes (Mehta 2004, ch. 16); GUE converges to 1e-4 by L = 10
    L = np.array([10.0, 20.0])
    asymptote = (np.log(2 * np.pi * L) + np.euler_gamma - 1.25) / (2 * np.pi**2)
    np.testing.assert_allclose(sp.gue_spectral_rigidity(L), asymptote, atol=1e-4)
    big = 400.0
    sigma2_asymptote = 2 / np.pi**2 * (np.log(2 * np.pi * big) + np.euler_gamma + 1 - np.pi**2 / 8)
    assert sp.goe_number_variance(big) == pytest.approx(sigma2_asymptote, abs=2e-3)
    assert sp.poisson_spectral_rigidity(30.0) == pytest.approx(2.0)


def test_pandey_integral_of_poisson_is_l_over_15():
    L = np.array([0.5, 3.0, 40.0])
    np.testing.assert_allclose(_pandey_rigidity(lambda r: r, L), L / 15, rtol=1e-13)


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sp.spacings(np.array([1.0, 2.0 + 1j, 3.0])), "complex"),
        (lambda: sp.min_ratios(np.array([0.0, 1.0, np.nan, 3.0])), "NaN or infinite"),
        (lambda: sp.spacing_ratios(np.array([0.0, 1.0])), "at least 3 levels"),
        (lambda: sp.spacings(np.array([1.0])), "at least 2 levels"),
        (lambda: sp.spacings(3.0), "scalar"),
        (lambda: sp.min_ratios(np.array([0.0, 1.0, 1.0, 2.0])), "degeneracies"),
        (lambda: sp.wigner_surmise_pdf(1.0, 3), "beta=3"),
        (lambda: sp.wigner_surmise_cdf(1.0, 0), "beta=0"),
        (lambda: sp.ratio_pdf(1.0, 1.5), "beta=1.5"),
        (lambda: sp.exact_spacing_pdf(1.0, 0), "beta=0"),
        (lambda: sp.mean_min_ratio(-1), "beta=-1"),
        (lambda: sp.unfold_polynomial(np.arange(4.0), 5), "at least 7 levels"),
        (lambda: sp.unfold_polynomial(np.arange(10.0), 0), "degree"),
        (lambda: sp.unfold_spline(np.arange(100.0), n_knots=-1), "n_knots"),
        (lambda: sp.number_variance(np.arange(10.0), 20.0), "does not fit"),
        (lambda: sp.spectral_rigidity(np.arange(10.0), 0.0), "> 0"),
        (lambda: sp.mean_min_ratio_ci(np.arange(50.0), 100, 0, level=1.5), "level"),
        (lambda: sp.mean_min_ratio_ci(np.arange(50.0), 100, 0, kind="spacings"), "kind"),
        (lambda: sp.mean_min_ratio_ci(np.arange(50.0) / 100, 100, 0, kind="ratios", block=0), "block"),
        (lambda: ms.ks_to_cdf(np.ones((3, 3)), sp.poisson_spacing_cdf), "1-D"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_numeric_levels_raise_type_error():
    with pytest.raises(TypeError, match="numeric"):
        sp.spacings(np.array(["a", "b", "c"]))
