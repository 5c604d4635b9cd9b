"""Tests of lib.rmt.law_fits: distances on hand-computed cases, outlier rules, and fits that recover the
parameters of samples drawn from the law being fitted (tolerances from the sampling error at these sizes)."""

from __future__ import annotations

import numpy as np
import pytest

from lib.rmt import ensembles, freeprob
from lib.rmt import law_fits as sf
from lib.rmt import measures as ms


def _point_masses(nodes, weights) -> ms.Measure:
    return ms.spectral_measure(np.asarray(nodes, float), np.asarray(weights, float))


def test_distances_vanish_for_identical_measures():
    m = ms.spectral_measure(np.random.default_rng(0).normal(size=50))
    assert ms.ks_between(m, m) == 0.0
    assert ms.wasserstein1(m, m) == 0.0


def test_distances_hand_computed_point_masses():
    # delta_0 against (delta_0 + delta_1)/2: F differs by 1/2 on [0, 1): KS = 1/2, W1 = 1/2
    a, b = _point_masses([0.0], [1.0]), _point_masses([0.0, 1.0], [0.5, 0.5])
    assert ms.ks_between(a, b) == pytest.approx(0.5)
    assert ms.wasserstein1(a, b) == pytest.approx(0.5)
    # shifting a measure by d moves it W1 = d
    c = _point_masses([0.3, 1.3], [0.5, 0.5])
    assert ms.wasserstein1(b, c) == pytest.approx(0.3)


def test_distances_to_a_law_with_an_atom():
    # law = delta_0 / 2 + U[0, 1] / 2, data = delta_0: F_law(x) = 1/2 + x/2 on [0, 1], F_data = 1:
    # KS = 1/2 (just above 0), W1 = int_0^1 (1 - x)/2 dx = 1/4; the discretised law errs by <= 1 cell
    cells = 1000
    law = sf.law_from_cdf(lambda t: 0.5 * np.clip(t, 0.0, 1.0), 0.0, 1.0, [(0.0, 0.5)], cells)
    data = _point_masses([0.0], [1.0])
    assert ms.ks_between(data, law) == pytest.approx(0.5, abs=1.0 / cells)
    assert ms.wasserstein1(data, law) == pytest.approx(0.25, abs=1.0 / cells)
    assert ms.weight_near_zero(law, 1e-9) == pytest.approx(0.5)


def test_marchenko_pastur_law_moments_and_atom():
    # MP(q, sigma): mean sigma^2, second moment sigma^4 (1 + q), atom 1 - 1/q (rmt_reference 2)
    law = sf.marchenko_pastur_law(2.0, 1.5)
    assert law.weights.sum() == pytest.approx(1.0)
    assert law.weights @ law.nodes == pytest.approx(1.5**2, rel=1e-3)
    assert law.weights @ law.nodes**2 == pytest.approx(1.5**4 * 3.0, rel=2e-3)
    assert ms.weight_near_zero(law, 1e-12) == pytest.approx(0.5)


def test_product_laws_published_moments():
    # paper2.md 3.3: chain (1500, 1000, 3000) has atom 1/3 and m2 = 3; Wigner x Wishart (q = 2) atom 1/2, m2 = 1
    # (the continuous part diverges at 0; the midpoint rule needs fine cells there)
    chain = sf.chain_product_law([1500, 1000, 3000], cells=2000)
    assert ms.weight_near_zero(chain, 1e-12) == pytest.approx(1.0 / 3.0)
    assert chain.weights @ chain.nodes**2 == pytest.approx(3.0, rel=2e-3)
    ww = sf.wigner_wishart_law(1.0, 2.0)
    assert ms.weight_near_zero(ww, 1e-12) == pytest.approx(0.5)
    assert ww.weights @ ww.nodes**2 == pytest.approx(1.0, rel=5e-3)


def test_slq_measure_averages_probes_and_drops_top_nodes():
    nodes = np.array([[0.0, 1.0, 9.0], [0.5, 2.0, 8.0]])
    weights = np.array([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
    m = ms.spectral_measure(nodes, weights)
    assert m.weights.sum() == pytest.approx(1.0)
    assert m.weights @ m.nodes == pytest.approx(0.5 * (0.25 + 2.25) + 0.5 * (0.1 + 0.6 + 4.0))
    trimmed = ms.spectral_measure(nodes, weights, drop_top=1)
    assert trimmed.nodes.max() == 2.0
    np.testing.assert_allclose(trimmed.weights, [0.5 * 2 / 3, 0.5 * 0.4, 0.5 * 1 / 3, 0.5 * 0.6])


def test_gap_rule_finds_injected_outliers_and_nothing_in_a_bulk():
    eigs = np.linalg.eigvalsh(ensembles.goe(400, 1))  # semicircle on [-2, 2]
    assert ms.gap_cut(ms.spectral_measure(eigs)) == np.inf
    spiked = ms.spectral_measure(np.concatenate([eigs, [5.0, 6.0, 8.0]]))
    assert ms.gap_cut(spiked) == pytest.approx(5.0)
    assert ms.remove_above(spiked, 5.0).nodes.max() == eigs.max()


def test_semicircle_fit_recovers_parameters():
    # GOE n = 1000: the spectral moments fluctuate by O(1/n), the fitted sigma by well under 1 %
    eigs = 0.7 * np.linalg.eigvalsh(ensembles.goe(1000, 2)) + 0.3
    data = ms.spectral_measure(eigs)
    for method in ("moments", "lsq"):
        fit = sf.fit_law(sf.semicircle_family(), data, method)
        assert fit.params["sigma"] == pytest.approx(0.7, rel=0.01)
        assert fit.params["center"] == pytest.approx(0.3, abs=0.01)
        assert fit.ks < 0.02  # a few cells plus the O(n^{-1}) edge fluctuations


def test_marchenko_pastur_fit_recovers_ratio_scale_and_atom():
    # 800 x 400 Wishart: q = 2, sigma = 1.2; half the eigenvalues are exact zeros
    eigs = np.linalg.eigvalsh(ensembles.wishart(800, 400, 3, sigma=1.2))
    data = ms.spectral_measure(eigs)
    for method in ("moments", "lsq"):
        fit = sf.fit_law(sf.marchenko_pastur_family(), data, method)
        assert fit.params["q"] == pytest.approx(2.0, rel=0.03)
        assert fit.params["sigma"] == pytest.approx(1.2, rel=0.01)
        assert fit.zero_observed == pytest.approx(0.5, abs=1e-3)
        assert fit.zero_predicted == pytest.approx(0.5, abs=0.01)
        assert fit.ks_bulk < 0.03  # the non-zero half follows the continuous MP part


def test_free_sum_keeps_the_smeared_atom():
    # MP(phi = 5) has an atom 1 - 1/5 at 0; a free semicircle of variance 1e-4 smears it over |x| <~ 0.02
    law = sf.free_sum_law(1.0, 5.0, 1e-4)
    assert ms.weight_near_zero(law, 0.05) == pytest.approx(0.8, abs=0.01)
    assert law.weights @ law.nodes == pytest.approx(1.0, rel=0.01)  # the mean of unit-mean MP


def test_product_ensembles_fits_recover_parameters():
    rng = np.random.default_rng(4)
    ww = ms.spectral_measure(freeprob.sample_wigner_wishart(1200, 2.0, rng, sigma=0.5))
    fit = sf.fit_law(sf.wigner_wishart_family(), ww)
    # the 4th moment of a 1200 x 1200 sample carries a few % of error
    assert fit.params["sigma"] == pytest.approx(0.5, rel=0.02)
    assert fit.params["q"] == pytest.approx(2.0, rel=0.1)
    assert fit.zero_predicted == pytest.approx(0.5, abs=0.01)

    chain = ms.spectral_measure(3.0 * freeprob.sample_chain_product([600, 400, 1200], rng))
    fit = sf.fit_law(sf.chain_product_family([600, 400, 1200]), chain, "lsq")
    assert fit.params["scale"] == pytest.approx(3.0, rel=0.03)
    assert fit.ks < 0.03


def test_free_sum_fit_recovers_parameters():
    eigs = 2.0 * freeprob.sample_free_sum_mp_semicircle(1500, 0.5, 0.3, 5)
    fit = sf.fit_law(sf.free_sum_family(), ms.spectral_measure(eigs))
    assert fit.params["scale"] == pytest.approx(2.0, rel=0.02)
    assert fit.params["phi"] == pytest.approx(0.5, rel=0.15)  # from the third cumulant, the noisiest moment
    assert fit.params["s2"] == pytest.approx(0.3, rel=0.25)
    assert fit.ks < 0.05


def test_sparse_wigner_fit_recovers_mean_degree_and_atom():
    eigs = freeprob.sample_sparse_wigner(1000, 2.0, 6)
    fit = sf.fit_law(sf.sparse_wigner_family(), ms.spectral_measure(eigs))
    assert fit.params["c"] == 2.0  # the nearest rung of the ladder
    # Bauer-Golinelli atom at c = 2 is 0.2161 (paper2.md 3.4); sampled within ~0.015 at n = 1000
    assert fit.zero_predicted == pytest.approx(0.2161, abs=2e-3)
    assert fit.zero_observed == pytest.approx(0.2161, abs=0.03)
    assert fit.ks < 0.05


@pytest.mark.parametrize("c", [0.05, 0.2])
def test_sparse_wigner_table_holds_the_continuous_mass_at_small_degree(c):
    # the cavity density integrates to 1 - m_0 (Bauer-Golinelli atom) without the rescaling of the law, down to the
    # smallest tabulated degree: the grid reaches far enough for the isolated edges' weights J ~ N(0, 1/c)
    assert min(sf.SPARSE_DEGREES) == 0.05
    u, rho, atom = sf._sparse_wigner_table(c)
    assert atom == pytest.approx(freeprob.sparse_wigner_zero_atom(c))
    assert np.trapezoid(rho, u) == pytest.approx(1 - atom, rel=0.05)


def test_sparse_wigner_moments_reach_small_degrees():
    # a sparse sample at c = 0.1 (kurtosis 2 + 3/c = 32): the moment fit is no longer pinned at c = 0.5
    eigs = freeprob.sample_sparse_wigner(2000, 0.1, 3)
    fit = sf.fit_law(sf.sparse_wigner_family(), ms.spectral_measure(eigs))
    assert fit.params["c"] in (0.05, 0.1, 0.2)
    assert fit.zero_predicted > 0.8


def test_bulk_ks_sets_the_atom_aside():
    # a semicircle against the same semicircle plus an atom of weight 0.6 at zero: far as a whole, equal in the bulk
    law = sf.semicircle_law(1.0)
    with_atom = ms.sorted_measure(np.concatenate([law.nodes, [0.0]]), np.concatenate([0.4 * law.weights, [0.6]]))
    assert ms.ks_between(law, with_atom) == pytest.approx(0.3, abs=0.01)
    assert ms.ks_away_from_zero(law, with_atom, 1e-3) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(ms.ks_away_from_zero(law, ms.sorted_measure(np.array([0.0]), np.array([1.0])), 1e-3))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="finite"):
        ms.spectral_measure(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="differ in shape"):
        ms.spectral_measure(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="drop_top"):
        ms.spectral_measure(np.ones(3), drop_top=3)
    with pytest.raises(ValueError, match="method"):
        sf.fit_law(sf.semicircle_family(), ms.spectral_measure(np.arange(3.0)), "mle")
    with pytest.raises(ValueError, match="positive mean"):
        sf.fit_law(sf.marchenko_pastur_family(), ms.spectral_measure(-np.arange(1.0, 4.0)))
