"""Budget-law fits: recovery of known curves, the published ResNet-50 refit, AIC bookkeeping."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.rmt import budget

TABLE = Path(__file__).resolve().parents[1] / "data" / "resnet50_imagenet_budget.csv"
# research/paper1.md 5.3: the authors' notebook output
PUBLISHED_LOSS = (0.94325, 0.76132, -0.045849)
PUBLISHED_ERROR = (0.23295, 0.16744, -0.040667)
PUBLISHED_ERROR_COV_DIAG = (2.04e-6, 9.50e-5, 9.57e-6)


def _sig3(x: float) -> float:
    return float(f"{x:.3g}")


def test_published_table_refit_reproduces_published_parameters():
    d = pd.read_csv(TABLE, comment="#")
    assert len(d) == 11
    loss = budget.fit_exponential(d["loss_epoch_idx"], d["min_val_loss"], p0=(0.9, 0.1, -0.1))
    err = budget.fit_exponential(d["error_epoch_idx"], d["min_val_error"], p0=(0.2, 0.1, -0.1))
    for fit, published in ((loss, PUBLISHED_LOSS), (err, PUBLISHED_ERROR)):
        assert [_sig3(p) for p in fit.params] == [_sig3(p) for p in published]
    np.testing.assert_allclose(np.diag(err.covariance), PUBLISHED_ERROR_COV_DIAG, rtol=5e-3)


def test_exponential_fit_recovers_known_parameters_within_its_intervals():
    rng = np.random.default_rng(0)
    truth, noise = (0.5, 1.2, -0.08), 0.01
    t = np.repeat(np.arange(2.0, 60.0, 4.0), 3)
    y = budget.exponential_saturation(t, *truth) + noise * rng.standard_normal(t.size)
    fit = budget.fit_exponential(t, y, level=0.999)  # three intervals at once: wide enough not to flake
    assert np.all(fit.ci_low < truth) and np.all(truth < fit.ci_high)
    # parameters within 4 standard errors and the residual scale consistent with the noise (chi^2, 39 dof)
    assert np.all(np.abs(fit.params - truth) < 4 * fit.stderr)
    assert 0.6 < np.sqrt(fit.rss / (t.size - 3)) / noise < 1.4
    assert fit.stderr[0] < 0.02


def test_power_law_fit_recovers_known_parameters_and_wins_on_its_own_data():
    rng = np.random.default_rng(1)
    truth = (0.3, 2.0, -0.7)
    t = np.geomspace(1, 200, 30)
    y = budget.power_law(t, *truth) + 0.003 * rng.standard_normal(t.size)
    power = budget.fit_power_law(t, y)
    assert np.all(np.abs(power.params - truth) < 4 * power.stderr)
    exp = budget.fit_exponential(t, y)
    assert power.aicc < exp.aicc - 2


def test_aic_formula():
    # n log(RSS/n) + 2K, K = k + 1; AICc adds 2K(K+1)/(n-K-1)
    value, corrected = budget.aic(rss=2.0, n=10, k=3)
    assert value == pytest.approx(10 * np.log(0.2) + 8)
    assert corrected == pytest.approx(value + 40 / 5)


def test_best_per_run():
    idx, best = budget.best_per_run([[3.0, 1.0, 2.0], [0.5, 0.4, 0.3]])
    assert idx.tolist() == [1, 2] and best.tolist() == [1.0, 0.3]
    idx, best = budget.best_per_run([[0.1, 0.9, 0.2]], mode="max")
    assert idx.tolist() == [1]


def test_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        budget.fit_exponential([1, 2, 3, 4, 5, 6], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 6"):
        budget.fit_exponential([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="t > 0"):
        budget.fit_power_law([0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="mode"):
        budget.best_per_run([[1.0]], mode="median")


def test_aicc_difference_null_is_calibrated_on_fresh_exponential_data():
    # with enough points the fitted law and its noise are close to the true ones, and the parametric bootstrap's
    # threshold rejects about 5 % of independent data sets from the true law (with few points the threshold itself
    # varies with the noise estimated from them)
    t = np.geomspace(2, 96, 100)
    rng = np.random.default_rng(0)
    truth = budget.exponential_saturation(t, 1.2, 0.5, -0.08)
    y = truth + 0.01 * rng.standard_normal(t.size)
    exp_fit, pow_fit = budget.fit_exponential(t, y), budget.fit_power_law(t, y)
    sim = budget.aicc_difference_null(t, exp_fit, pow_fit, 150, seed=1)
    assert sim["failed"].shape == (2,) and sim["null"].size == 150 - sim["failed"][0]
    threshold = np.quantile(sim["null"], 0.95)
    fresh = []
    for _ in range(150):
        y = truth + 0.01 * rng.standard_normal(t.size)
        fresh.append(budget.fit_exponential(t, y, p0=exp_fit.params).aicc
                     - budget.fit_power_law(t, y, p0=pow_fit.params).aicc)
    assert abs(np.mean(np.array(fresh) > threshold) - 0.05) < 0.05
    assert np.mean(sim["alternative"] > threshold) > 0.9  # the power law, same noise, is told apart
