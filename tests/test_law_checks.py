"""Tests of lib.book.law_checks (the calibrated KS checks of sampled spectra against a law) and of
lib.rmt.freeprob.law_moments, on analytic cases and on calibrated nulls."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from lib.book import law_checks as lc
from lib.rmt import freeprob as fp
from lib.rmt import laws
from lib.rmt import measures as ms
from lib.rmt.ensembles import goe


def test_two_sample_ks_on_hand_made_spectra():
    a = np.array([0.0, 1.0, 2.0, 3.0])
    assert lc.two_sample_ks(a, a) == 0.0
    assert lc.two_sample_ks(a, a + 10.0) == 1.0
    # numerical zeros of two samples meet at exactly 0: an atom of 1/2 in both, no distance
    assert lc.two_sample_ks(np.array([1e-15, -1e-14, 1.0, 2.0]), np.array([0.0, 3e-16, 1.0, 2.0])) == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        lc.two_sample_ks(np.array([]), a)


def test_law_moments_of_closed_forms():
    sc = fp.law_moments(laws.semicircle_pdf, (-2.5, 2.5))
    assert sc["mass"] == pytest.approx(1.0, abs=1e-4)
    assert sc["mean"] == pytest.approx(0.0, abs=1e-8)
    assert sc["m2"] == pytest.approx(1.0, abs=1e-4)
    # Marchenko-Pastur q = 2: atom 1/2, mean sigma^2 = 1, second moment sigma^4 (1 + q) = 3
    mp = fp.law_moments(lambda x: laws.marchenko_pastur_pdf(x, 2.0), (-0.05, 6.0), laws.marchenko_pastur_atom(2.0))
    assert mp["mass"] == pytest.approx(1.0, abs=1e-3)
    assert mp["mean"] == pytest.approx(1.0, abs=1e-3)
    assert mp["m2"] == pytest.approx(3.0, abs=1e-3)
    # Fuss-Catalan M = 2 diverges like x^(-2/3) at 0; its moments are the Fuss-Catalan numbers 1, 3
    fc = fp.law_moments(lambda x: fp.fuss_catalan_density(x, 2), (-0.05, 6.75))
    assert fc["mass"] == pytest.approx(1.0, abs=2e-3)
    assert fc["mean"] == pytest.approx(comb(6, 2) / 5 / 3, abs=2e-3)  # binom(3k, k) / (2k + 1) at k = 1: 1
    assert fc["m2"] == pytest.approx(comb(6, 2) / 5, abs=5e-3)  # at k = 2: 3


def _goe_check(n: int, pairs: int, seed: int, law_sigma: float = 1.0) -> lc.LawCheck:
    def sample(gen: np.random.Generator) -> np.ndarray:
        return np.linalg.eigvalsh(goe(n, gen))

    return lc.calibrated_ks_check("GOE", sample, lambda e: ms.ks_to_cdf(e, lambda x: laws.semicircle_cdf(x, law_sigma)),
                                  lambda e: ms.ks_to_cdf(e, lambda x: laws.semicircle_cdf(x, 1.3)),
                                  law="semicircle", wrong_law="semicircle 30% wider", pairs=pairs, rng=seed)


def test_calibrated_check_accepts_the_right_law_and_rejects_a_wrong_one():
    check = _goe_check(60, 80, seed=1)
    c = check.calibration
    assert c.replicas == 80 and c.level == 0.05
    # the false-rejection rate on fresh null pairs is near its stated 5 % (40 pairs: within 3 binomial se)
    assert c.false_rejection <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 40)
    assert c.power == 1.0 and check.wrong_rejected
    assert check.consistent
    assert "false rejection" in lc.checks_rule([check]) and "power 100%" in lc.checks_rule([check])
    row = check.row()
    assert row["eigenvalues per sample"] == 60 and row["consistent"]
    # a law 30% too wide is rejected for the measured sample too
    assert not _goe_check(60, 40, seed=2, law_sigma=1.3).consistent


def test_the_rule_holds_its_level_on_the_null():
    # the measured statistic drawn from the null itself: over many calibrations the rule rejects about 5 %
    rejected = []
    for seed in range(40):
        gen = np.random.default_rng(seed)
        a, b = (np.linalg.eigvalsh(goe(30, gen)) for _ in range(2))
        check = _goe_check(30, 40, seed=100 + seed)
        rejected.append(not check.calibration.accepts(lc.two_sample_ks(a, b)))
    assert np.mean(rejected) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 40)


def test_moment_matched_classical_laws():
    fuss = lc.SampledLaw("FC", "Fuss-Catalan", lambda g: fp.sample_fuss_catalan(50, 2, g),
                         lambda x: fp.fuss_catalan_density(x, 2), (-0.05, 7.0), positive=True)
    name, ks = lc.moment_matched_classical(fuss)
    assert name.startswith("moment-matched MP (q = 2,")  # mean 1, m2 3: sigma^2 = 1, q = 3 - 1
    mp_sample = np.concatenate([np.zeros(100), np.linspace(0.1, 5.0, 100)])
    assert ks(mp_sample) == pytest.approx(ms.ks_to_cdf(mp_sample, lambda x: laws.marchenko_pastur_cdf(x, 2.0)),
                                          abs=1e-3)
    sym = lc.SampledLaw("SC", "semicircle", lambda g: np.linalg.eigvalsh(goe(50, g)), laws.semicircle_pdf, (-3.0, 3.0))
    assert lc.moment_matched_classical(sym)[0] == "moment-matched semicircle (mean 0.00, sd 1)"
    check = lc.check_law(sym, pairs=40, rng=3)
    assert check.law == "semicircle" and check.wrong_law.startswith("moment-matched semicircle")


def test_a_lattice_statistic_gets_a_threshold_the_null_attains():
    from lib.book.verdict_rules import calibrate

    rng = np.random.default_rng(0)
    frr_higher, frr_linear = [], []
    for _ in range(200):
        null = rng.binomial(8, 0.5, 60) / 8  # a statistic on the lattice k / 8, like a two-sample KS distance
        kw = {"statistic": "s", "null": "n", "alternative": "a"}
        higher = calibrate(null, np.array([1.0]), method="higher", **kw)
        assert higher.threshold in set(null[:30])
        frr_higher.append(higher.false_rejection)
        frr_linear.append(calibrate(null, np.array([1.0]), **kw).false_rejection)
    # never more false rejections than the interpolated threshold, and the level is kept:
    # P(X >= 7) = 9 / 256 is the rate at the attained 95 % point 6/8 of Binomial(8, 1/2)
    assert np.all(np.array(frr_higher) <= np.array(frr_linear))
    assert np.mean(frr_higher) <= 0.05
