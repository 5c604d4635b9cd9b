"""Tests of lib.experiments.mode_connectivity: path geometry, losses at the endpoints, barriers on hand-computed cases,
a trained Bezier bend that lowers the barrier between two permutation-equivalent solutions, and the cached
experiment :func:`connectivity_paths`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lib.curvature import parameter_space as ps
from lib.experiments import mode_connectivity as mc
from lib.nets import models


def test_paths_start_and_end_at_the_solutions():
    a, b, bend = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64), torch.full((5,), 3.0)
    bend = bend.double()
    line = mc.line_points(a, b, [0.0, 0.25, 1.0])
    torch.testing.assert_close(line[0], a)
    torch.testing.assert_close(line[1], torch.full((5,), 0.25, dtype=torch.float64))
    torch.testing.assert_close(line[2], b)
    curve = mc.bezier_points(a, bend, b, [0.0, 0.5, 1.0])
    torch.testing.assert_close(curve[0], a)
    torch.testing.assert_close(curve[2], b)
    # phi(1/2) = a/4 + bend/2 + b/4
    torch.testing.assert_close(curve[1], torch.full((5,), 0.25 + 1.5, dtype=torch.float64))


def test_barrier_hand_computed():
    ts = np.array([0.0, 0.5, 1.0])
    assert mc.barrier(ts, np.array([1.0, 3.0, 1.0])) == pytest.approx(2.0)
    assert mc.barrier(ts, np.array([1.0, 2.0, 3.0])) == pytest.approx(0.0)  # on the chord
    assert mc.barrier(ts, np.array([2.0, 0.5, 1.0])) == pytest.approx(0.0)  # below the chord: the endpoints
    with pytest.raises(ValueError, match="start at 0"):
        mc.barrier(np.array([0.1, 1.0]), np.array([1.0, 1.0]))


def _toy_problem() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=gen)
    y = ((x[:, 0] * x[:, 1]) > 0).long()  # XOR-like quadrants: needs the hidden layer
    torch.manual_seed(0)
    model = models.mlp([2, 8, 2])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, (x, y)


def test_losses_and_bezier_on_permuted_solutions():
    model, data = _toy_problem()
    theta_a = ps.flat_parameters(model)
    # the same function with hidden units permuted: another solution of identical loss
    w1, b1, w2, b2 = (p.detach().clone() for p in model.parameters())
    perm = torch.roll(torch.arange(8), 3)
    theta_b = torch.cat([w1[perm].reshape(-1), b1[perm], w2[:, perm].reshape(-1), b2]).double()
    ts = np.linspace(0.0, 1.0, 11)
    line = mc.path_losses(model, F.cross_entropy, data, mc.line_points(theta_a, theta_b, ts))
    with torch.no_grad():
        expected = float(F.cross_entropy(model.eval()(data[0]), data[1]))
    assert line[0] == pytest.approx(expected, rel=1e-5)
    assert line[-1] == pytest.approx(expected, rel=1e-5)
    line_barrier = mc.barrier(ts, line)
    assert line_barrier > 0.05  # averaging permuted hidden units destroys the XOR features

    bend = mc.train_bezier(model, F.cross_entropy, data, theta_a, theta_b, steps=300, lr=0.02, seed=1)
    curve = mc.path_losses(model, F.cross_entropy, data, mc.bezier_points(theta_a, bend, theta_b, ts))
    assert curve[0] == pytest.approx(line[0]) and curve[-1] == pytest.approx(line[-1])
    assert mc.barrier(ts, curve) < 0.5 * line_barrier


def test_connectivity_paths_are_the_path_losses_and_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RMT_CACHE", str(tmp_path))
    model, data = _toy_problem()
    theta_a = ps.flat_parameters(model)
    noise = torch.randn(theta_a.shape, generator=torch.Generator().manual_seed(1), dtype=theta_a.dtype)
    theta_b = theta_a + 0.5 * noise
    ts = np.linspace(0.0, 1.0, 5)
    paths = mc.connectivity_paths(model, F.cross_entropy, data, theta_a, theta_b, ts, steps=20, lr=0.02, seed=3)
    assert set(paths) == {"line", "bezier"} and paths["line"].shape == paths["bezier"].shape == (5,)
    with torch.no_grad():  # both paths start at the trained model's own loss
        expected = float(F.cross_entropy(model.eval()(data[0]), data[1]))
    assert paths["line"][0] == pytest.approx(expected, rel=1e-5)
    assert paths["bezier"][0] == pytest.approx(expected, rel=1e-5)
    assert paths["line"][-1] == pytest.approx(paths["bezier"][-1], rel=1e-9)  # both end at theta_b
    np.testing.assert_allclose(paths["line"], mc.path_losses(model, F.cross_entropy, data,
                                                             mc.line_points(theta_a, theta_b, ts)), rtol=1e-12)
    assert len(list((tmp_path / "mode_connectivity_paths").glob("*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the second call must be served from the cache")

    monkeypatch.setattr(mc, "train_bezier", no_training)
    again = mc.connectivity_paths(model, F.cross_entropy, data, theta_a, theta_b, ts, steps=20, lr=0.02, seed=3)
    np.testing.assert_array_equal(again["bezier"], paths["bezier"])


def test_bad_inputs_are_refused():
    a = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="one length"):
        mc.line_points(a, torch.zeros(4, dtype=torch.float64), [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mc.line_points(a, a, [1.5])
    model = models.mlp([2, 2])
    with pytest.raises(ValueError, match="length"):
        mc.path_losses(model, F.cross_entropy, (torch.zeros(1, 2), torch.zeros(1).long()), torch.zeros(1, 5))
