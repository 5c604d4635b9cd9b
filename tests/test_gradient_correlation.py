"""Gradient-decorrelation estimators: a Gaussian process of known length-scale, pairwise/binned helpers, and
the network gradient against plain autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lib.curvature import parameter_space as ps
from lib.experiments import gradient_decorrelation as gc
from lib.nets.models import mlp
from lib.rmt import correlation_fits as cf
from lib.rmt.true_loss import se_gradient_correlation


@pytest.fixture(autouse=True)
def _one_thread():
    """These are many tiny tensor operations: one thread avoids oversubscription on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_feature_gp(dim: int, features: int, lengthscale: float, seed: int):
    """Gradient of L(w) = sqrt(2/M) sum_m cos(omega_m . w + b_m), omega ~ N(0, I / l^2): for large M a GP with
    kernel exp(-|w - w'|^2 / (2 l^2)) (Rahimi & Recht 2007, random Fourier features)."""
    g = torch.Generator().manual_seed(seed)
    omega = torch.randn(features, dim, generator=g, dtype=torch.float64) / lengthscale
    b = torch.rand(features, generator=g, dtype=torch.float64) * 2 * np.pi
    return lambda w: -np.sqrt(2 / features) * (torch.sin(omega @ w + b) @ omega)


def test_estimator_recovers_the_length_scale_of_a_known_gaussian_process():
    dim, ell = 100, 1.5
    gradient = _random_feature_gp(dim, 20_000, ell, 0)
    gen = torch.Generator().manual_seed(1)
    distances = ell * np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])
    rows = np.concatenate([
        gc.perturbation_correlations(gradient, 3 * torch.randn(dim, generator=gen, dtype=torch.float64),
                                     distances, 20, gen)
        for _ in range(6)
    ])
    assert rows.shape == (120, 7)
    # cosines concentrate on rho(d) up to O(1/P) and O(M^-1/2) corrections: 0.03 absolute
    np.testing.assert_allclose(rows.mean(axis=0), se_gradient_correlation(distances, ell, dim), atol=0.03)
    sem = rows.std(axis=0, ddof=1) / np.sqrt(rows.shape[0])
    fit = cf.fit_lengthscale(distances, rows.mean(axis=0), sem, dim=dim)
    assert fit.lengthscale == pytest.approx(ell, rel=0.05)
    # pooled, unweighted fit agrees
    assert cf.fit_lengthscale(np.tile(distances, rows.shape[0]), rows.ravel(), dim=dim).lengthscale == pytest.approx(
        ell, rel=0.05)


def test_quadratic_control_is_exact_on_a_quadratic_loss():
    # L(w) = b . w + w^T A w / 2 is its own quadratic model: the control equals the measured cosines on the same rays
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(30, 30, generator=gen, dtype=torch.float64)
    a, b = m @ m.T / 30, torch.randn(30, generator=gen, dtype=torch.float64)
    w = torch.randn(30, generator=gen, dtype=torch.float64)
    distances = [0.0, 0.3, 3.0, 30.0]
    state = gen.get_state()
    measured = gc.perturbation_correlations(lambda x: b + a @ x, w, distances, 5, gen)
    gen.set_state(state)
    control = gc.quadratic_control_correlations(lambda x: b + a @ x, w, distances, 5, gen)
    np.testing.assert_allclose(control, measured, atol=1e-9)


def test_zero_mean_test_is_calibrated_on_fresh_zero_mean_samples():
    rng = np.random.default_rng(0)
    sim = gc.zero_mean_null(rng.standard_normal(48), 2000, 0.5, seed=1)
    threshold = np.quantile(sim["null"], 0.95)
    fresh = rng.standard_normal((2000, 48))
    t = np.abs(fresh.mean(axis=1)) / (fresh.std(axis=1, ddof=1) / np.sqrt(48))
    assert abs(np.mean(t > threshold) - 0.05) < 0.02  # near the t(47) 95 % point, 2.01
    assert np.mean(sim["alternative"] > threshold) > 0.9  # a mean of half a standard deviation, 48 samples


def test_se_shape_null_has_unit_reduced_chi2_and_tells_an_exponential_apart():
    d = np.array([0.1, 0.3, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0])
    sim = cf.shape_chi2_null(d, np.full(d.size, 0.01), 3.0, 1000, 300, seed=0)
    assert sim["null"].mean() == pytest.approx(1.0, abs=0.15)  # n - 1 degrees of freedom after fitting l
    assert np.mean(sim["alternative"] > np.quantile(sim["null"], 0.95)) > 0.99


def test_pairwise_and_binned():
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    grads = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    dist, corr = gc.pairwise_correlations(points, grads)
    np.testing.assert_allclose(dist, [5.0, 1.0, np.sqrt(18)])
    np.testing.assert_allclose(corr, [0.0, 1 / np.sqrt(2), 1 / np.sqrt(2)])
    binned = cf.binned_correlation([0.5, 0.7, 2.0, 2.5, 2.7], [1.0, 0.8, 0.1, 0.2, 0.3], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(binned.mean[[0, 2]], [0.9, 0.2])
    np.testing.assert_allclose(binned.sem[0], np.std([1.0, 0.8], ddof=1) / np.sqrt(2))
    assert binned.counts.tolist() == [2, 0, 3, 0]
    assert np.isnan(binned.mean[1])


def test_network_gradient_matches_autograd():
    torch.manual_seed(0)
    model = mlp([5, 4, 3]).double()
    x, y = torch.randn(37, 5, dtype=torch.float64), torch.randint(0, 3, (37,))
    gradient = gc.network_gradient(model, F.cross_entropy, x, y, batch_size=10)  # uneven chunks are weighted
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    w = ps.flat_parameters(model)
    torch.testing.assert_close(gradient(w).cpu(), expected)
    assert gc.cosine(gradient(w), gradient(w)) == pytest.approx(1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="zero"):
        gc.cosine(torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="distances"):
        gc.perturbation_correlations(lambda w: w, torch.ones(2), [-1.0], 1, torch.Generator())
    with pytest.raises(ValueError, match="m x P"):
        gc.pairwise_correlations(torch.ones(1, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match="increasing"):
        cf.binned_correlation([1.0], [1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="at least 2"):
        cf.fit_lengthscale([1.0], [0.5])
