"""Lanczos, SLQ and Hutchinson against exact answers: dense eigendecompositions, the Gauss-quadrature moment
identity, the semicircle and Marchenko-Pastur laws (lib.rmt.laws), and reproducibility."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from lib.curvature.dense import exact_hessian
from lib.curvature.lanczos import (
    DenseOperator,
    gaussian_density,
    hutchinson_trace,
    lanczos,
    log_abs_density,
    rademacher,
    slq,
)
from lib.curvature.operators import HessianOperator
from lib.rmt import laws
from lib.rmt.ensembles import goe, wishart


def _quadrature_cdf(result, x):
    """Probe-averaged CDF of the quadrature measures sum_i w_i delta(theta_i)."""
    return np.mean([np.sum(w[None, :] * (t[None, :] <= x[:, None]), axis=1) for t, w in
                    zip(result.nodes, result.weights, strict=True)], axis=0)


def _ks_tolerance(result, n):
    # Chebyshev-Markov-Stieltjes: each probe's quadrature CDF is within its largest weight of the probe's spectral
    # CDF; that CDF differs from the eigenvalue CDF by O(1/sqrt(n)) per probe (averaged over probes), and the
    # finite-n eigenvalue CDF from the limit law by O(1/n) in the bulk and n^(-2/3) at the edges.
    return result.weights.max(axis=1).mean() + 3 / np.sqrt(n * result.nodes.shape[0]) + 2 * n ** (-2 / 3)


def test_slq_on_goe_reproduces_the_semicircle():
    n = 1500
    result = slq(DenseOperator(goe(n, 0)), num_steps=60, num_probes=8, seed=1)
    x = np.linspace(-2.5, 2.5, 501)
    gap = np.abs(_quadrature_cdf(result, x) - laws.semicircle_cdf(x)).max()
    assert gap < _ks_tolerance(result, n), gap
    np.testing.assert_allclose(result.weights.sum(axis=1), 1.0, atol=1e-12)


def test_slq_on_wishart_reproduces_marchenko_pastur():
    n, t = 1200, 2400
    result = slq(DenseOperator(wishart(n, t, 2)), num_steps=60, num_probes=8, seed=3)
    x = np.linspace(-0.1, 3.5, 501)
    gap = np.abs(_quadrature_cdf(result, x) - laws.marchenko_pastur_cdf(x, n / t)).max()
    assert gap < _ks_tolerance(result, n), gap


def test_quadrature_moments_are_exact_for_each_probe_and_unbiased_for_the_trace():
    n, m, probes = 300, 8, 30
    A = goe(n, 4)
    result = slq(DenseOperator(A), num_steps=m, num_probes=probes, seed=5)
    Z = rademacher(n, probes, 5).numpy()
    power = np.eye(n)
    for k in range(1, 2 * m):
        power = power @ A
        per_probe = np.einsum("iv,ij,jv->v", Z, power, Z) / n  # z^T A^k z / z^T z, ||z||^2 = n
        quadrature = np.sum(result.weights * result.nodes**k, axis=1)
        np.testing.assert_allclose(quadrature, per_probe, rtol=1e-8, atol=1e-10)
        error = per_probe.std(ddof=1) / np.sqrt(probes)
        assert abs(result.moments(k) - np.trace(power) / n) < 5 * error + 1e-12


def test_extreme_eigenpairs_and_residual_bounds():
    rng = np.random.default_rng(6)
    n = 400
    eigenvalues = np.concatenate([rng.uniform(-1, 1, n - 3), [5.0, 4.0, 3.0]])
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * eigenvalues) @ Q.T
    result = lanczos(DenseOperator(A), 40, seed=7, compute_vectors=True)
    values, vectors, residuals = result.extreme(3)
    np.testing.assert_allclose(values, [5.0, 4.0, 3.0], atol=1e-10)
    true_residuals = np.linalg.norm(A @ vectors.numpy() - vectors.numpy() * values, axis=0)
    np.testing.assert_allclose(residuals, true_residuals, rtol=1e-6, atol=1e-12)
    # for a symmetric matrix the nearest eigenvalue lies within the residual of every Ritz value
    for theta, r in zip(result.ritz_values, result.residuals, strict=True):
        assert np.abs(eigenvalues - theta).min() <= r + 1e-10
    smallest, _, _ = result.extreme(1, "smallest")
    assert smallest[0] == pytest.approx(eigenvalues.min(), abs=1e-2)


def test_breakdown_restarts_and_keeps_the_quadrature_exact():
    A = np.diag(np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 10))
    result = lanczos(DenseOperator(A), 12, seed=0)
    assert result.restarts >= 1
    # the first block spans one direction of each eigenspace; the restarted block finds the degenerate copies
    converged = result.ritz_values[result.residuals < 1e-8]
    assert set(np.round(converged, 8)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.all((result.ritz_values > 1 - 1e-10) & (result.ritz_values < 5 + 1e-10))
    quad = slq(DenseOperator(A), 12, 4, seed=0)
    np.testing.assert_allclose(quad.moments(1), 3.0, atol=1e-10)  # z^T A z / n = tr(A)/n for a diagonal A
    np.testing.assert_allclose(quad.moments(2), 11.0, atol=1e-10)


def test_same_seed_same_bits_and_hutchinson_trace():
    A = goe(200, 8)
    op = DenseOperator(A)
    first, second, other = slq(op, 20, 3, seed=9), slq(op, 20, 3, seed=9), slq(op, 20, 3, seed=10)
    assert np.array_equal(first.nodes, second.nodes) and np.array_equal(first.weights, second.weights)
    assert not np.array_equal(first.nodes, other.nodes)
    estimate, error = hutchinson_trace(op, 200, seed=11)
    # Rademacher variance: 2 sum_{i != j} A_ij^2 per probe
    sd = np.sqrt(2 * (np.sum(A**2) - np.sum(np.diag(A) ** 2)) / 200)
    assert abs(estimate - np.trace(A)) < 4 * sd and error == pytest.approx(sd, rel=0.3)


def test_lanczos_on_a_float32_network_hessian():
    torch.manual_seed(12)
    model = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 3))
    x, y = torch.randn(50, 5), torch.randint(0, 3, (50,))
    exact = torch.linalg.eigvalsh(exact_hessian(model, nn.CrossEntropyLoss(), x, y)).numpy()
    op = HessianOperator(model, nn.CrossEntropyLoss(), (x, y), batch_size=16)
    assert op.dtype == torch.float32
    result = lanczos(op, 30, seed=13)
    values, _, residuals = result.extreme(2)
    np.testing.assert_allclose(values, exact[::-1][:2], rtol=1e-5, atol=1e-6 + residuals.max())


def test_smoothing_integrates_to_one_and_errors():
    nodes = np.array([[-1.0, 0.5, 2.0], [0.0, 1e-8, 3.0]])
    weights = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    grid = np.linspace(-10, 12, 20001)
    assert np.trapezoid(gaussian_density(nodes, weights, grid, 0.3), grid) == pytest.approx(1.0, abs=1e-9)
    t = np.linspace(-40, 10, 20001)
    assert np.trapezoid(log_abs_density(nodes, weights, t, 0.2), t) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_density(nodes, weights, grid, 0.0)
    with pytest.raises(ValueError, match="shape"):
        gaussian_density(nodes, weights[:, :2], grid, 0.1)
    op = DenseOperator(np.eye(4))
    with pytest.raises(ValueError, match="num_steps"):
        lanczos(op, 5)
    with pytest.raises(ValueError, match="num_probes"):
        slq(op, 2, 0)
    with pytest.raises(ValueError, match="square"):
        DenseOperator(np.ones((2, 3)))
    with pytest.raises(TypeError, match="matvec"):
        lanczos(np.eye(3), 2)


def test_lanczos_refuses_a_non_symmetric_matrix():
    a = torch.randn(20, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match="not symmetric"):
        DenseOperator(a)
    sym = (a + a.T) / 2
    DenseOperator(sym + 1e-15 * torch.eye(20, dtype=torch.float64).roll(1, 0))  # round-off is accepted


def _w1_to_exact(result, eigenvalues) -> float:
    from lib.rmt.measures import spectral_measure, wasserstein1

    return wasserstein1(result.measure(), spectral_measure(eigenvalues))


def test_memory_plans_give_the_lockstep_numbers_or_the_same_accuracy():
    """Chunks of probes and a basis in host memory change nothing but where the numbers live (to round-off); a
    float32 basis costs accuracy only at the level of float32 orthogonality, far below SLQ's own error."""
    from lib.curvature.lanczos import slq_plan

    n, steps, probes = 800, 50, 6
    A = wishart(n, 2 * n, 7)
    exact = np.linalg.eigvalsh(A)
    op = DenseOperator(A)
    lockstep = slq(op, steps, probes, seed=2)
    big = 2**40
    plan = slq_plan(n, steps, probes, device_bytes=big)
    chunked = slq(op, steps, probes, seed=2, plan=replace(plan, probes_per_chunk=4))
    on_host = slq(op, steps, probes, seed=2, plan=replace(plan, basis_on_host=True, probes_per_chunk=1))
    for other in (chunked, on_host):
        np.testing.assert_allclose(other.nodes, lockstep.nodes, rtol=0, atol=1e-10)
        np.testing.assert_allclose(other.weights, lockstep.weights, rtol=0, atol=1e-10)
    single = slq(op, steps, probes, seed=2, plan=replace(plan, basis_dtype="float32"))
    w1_64, w1_32 = _w1_to_exact(lockstep, exact), _w1_to_exact(single, exact)
    # SLQ's error here is that of 6 probes of 50 nodes (about 1e-2 of the spectrum's width of ~3); float32 storage
    # moves the nodes by ~1e-6 relative
    assert abs(w1_32 - w1_64) < 1e-4 * w1_64 + 1e-6, (w1_64, w1_32)
    np.testing.assert_allclose(single.nodes, lockstep.nodes, atol=1e-4 * np.abs(exact).max())


def test_slq_plan_picks_the_fastest_storage_that_fits_and_refuses_what_cannot():
    from lib.curvature.lanczos import WORK_VECTORS, slq_plan

    dim, steps = 1_000_000, 100
    basis64 = 3 * steps * dim * 8
    work = 3 * dim * 8 * WORK_VECTORS
    plan = slq_plan(dim, steps, 3, device_bytes=basis64 + work)
    assert (plan.probes_per_chunk, plan.basis_dtype, plan.basis_on_host) == (3, "float64", False)
    assert plan.device_bytes == basis64 + work and plan.host_bytes == 0
    plan = slq_plan(dim, steps, 3, device_bytes=basis64 + work - 1)  # float32 halves the basis
    assert (plan.probes_per_chunk, plan.basis_dtype, plan.basis_on_host) == (3, "float32", False)
    plan = slq_plan(dim, steps, 3, device_bytes=basis64 // 2)  # neither 3 probes in float32 nor 2 in float64
    assert (plan.probes_per_chunk, plan.basis_dtype) == (2, "float32") and plan.device_bytes <= basis64 // 2
    plan = slq_plan(dim, steps, 3, device_bytes=work)  # only the working vectors fit: the basis goes to the host
    assert plan.basis_on_host and plan.host_bytes >= 3 * steps * dim * 4 and plan.device_bytes <= work
    assert "MiB on the device, 2.5 GiB on the host" in plan.describe() == plan.describe("cuda")
    # on the CPU the device is the host: one peak, their sum, and a small plan reads in MiB, not as 0.0 GiB
    small = slq_plan(1000, 10, 2, device_bytes=10**9)
    cpu = small.describe("cpu")
    assert "on the device" not in cpu and "host" not in cpu and "0.0 GiB" not in cpu
    assert f"{small.device_bytes / 2**20:.3g} MiB in memory" in cpu
    with pytest.raises(ValueError, match="does not fit"):
        slq_plan(dim, steps, 3, device_bytes=dim * 8)
    with pytest.raises(ValueError, match="does not fit"):
        slq_plan(dim, steps, 3, device_bytes=work, host_bytes=dim * 8)
    with pytest.raises(ValueError, match="num_steps"):
        slq_plan(10, 11, 1, device_bytes=2**30)


def test_slq_without_a_plan_fits_the_free_memory_and_says_so(monkeypatch, capsys):
    import lib.curvature.lanczos as lz

    op = DenseOperator(goe(400, 3))
    quiet = slq(op, 30, 4, seed=1)
    assert capsys.readouterr().err == ""  # plenty of memory: all probes in lockstep, float64, as always
    # a device with room for one float32 probe's basis and working vectors only
    monkeypatch.setattr(lz, "free_memory_bytes", lambda device: int(2 * (30 * 400 * 4 + 400 * 8 * lz.WORK_VECTORS)))
    tight = slq(op, 30, 4, seed=1)
    assert "4 chunk(s) of 1 probe(s), basis in float32" in capsys.readouterr().err
    np.testing.assert_allclose(tight.nodes, quiet.nodes, atol=1e-5)
