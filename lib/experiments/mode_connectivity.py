"""Loss along paths between two trained solutions: the straight line and a trained quadratic Bezier curve.

Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (NeurIPS 2018, "Loss surfaces, mode connectivity, and fast
ensembling of DNNs", eq. 2-4): the curve ``phi(t) = (1 - t)^2 theta_a + 2 t (1 - t) theta_bend + t^2 theta_b``,
``t in [0, 1]``, joins the two solutions; its bend is trained by minimising ``E_{t ~ U(0, 1)} L(phi(t))`` with
stochastic gradients, one ``t`` per mini-batch. The barrier of a path is
``max_t [L(phi(t)) - ((1 - t) L(phi(0)) + t L(phi(1)))]``, the loss rise above the chord between the endpoints
(Frankle, Dziugaite, Roy & Carbin, ICML 2020, "Linear mode connectivity", section 2).

:func:`connectivity_paths` is the experiment: the loss along both paths between two trained solutions, cached.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lib.curvature.parameter_space import LossFn, ParameterSpace, training_flags
from lib.nets.cache import load_or_compute

_CHUNK = 2048  # samples per forward pass when a full-data loss is evaluated


def _check_endpoints(theta_a: Tensor, theta_b: Tensor) -> None:
    if theta_a.shape != theta_b.shape or theta_a.ndim != 1:
        raise ValueError(f"endpoints must be vectors of one length, got {tuple(theta_a.shape)}, {tuple(theta_b.shape)}")


def _times(ts: np.ndarray | Tensor) -> Tensor:
    t = torch.as_tensor(np.asarray(ts, dtype=float), dtype=torch.float64)
    if t.ndim != 1 or t.numel() == 0 or bool(torch.any((t < 0) | (t > 1))):
        raise ValueError("ts must be a non-empty 1-d array of times in [0, 1]")
    return t


def line_points(theta_a: Tensor, theta_b: Tensor, ts: np.ndarray | Tensor) -> Tensor:
    """``(1 - t) theta_a + t theta_b`` for each t: a ``len(ts) x P`` tensor."""
    _check_endpoints(theta_a, theta_b)
    t = _times(ts).to(theta_a.device, theta_a.dtype)[:, None]
    return (1 - t) * theta_a + t * theta_b


def bezier_points(theta_a: Tensor, bend: Tensor, theta_b: Tensor, ts: np.ndarray | Tensor) -> Tensor:
    """Quadratic Bezier curve ``(1 - t)^2 theta_a + 2 t (1 - t) bend + t^2 theta_b`` (Garipov et al. 2018, eq. 2)."""
    _check_endpoints(theta_a, theta_b)
    _check_endpoints(theta_a, bend)
    t = _times(ts).to(theta_a.device, theta_a.dtype)[:, None]
    return (1 - t) ** 2 * theta_a + 2 * t * (1 - t) * bend + t**2 * theta_b


def path_losses(model: nn.Module, loss_fn: LossFn, data: tuple[Tensor, Tensor], points: Tensor) -> np.ndarray:
    """Full-data mean loss ``loss_fn(model(x; theta), y)`` at each row ``theta`` of ``points``, model in eval mode."""
    space = ParameterSpace(model)
    x, y = data
    losses = []
    with torch.no_grad(), training_flags(model, False):
        for theta in points:
            flat = space.cast(theta)
            total = 0.0
            for xb, yb in zip(x.split(_CHUNK), y.split(_CHUNK), strict=True):
                total += float(space.loss(loss_fn, flat, xb.to(space.device), yb.to(space.device))) * len(yb)
            losses.append(total / len(y))
    return np.asarray(losses)


def train_bezier(model: nn.Module, loss_fn: LossFn, data: tuple[Tensor, Tensor], theta_a: Tensor, theta_b: Tensor,
                 *, steps: int = 500, lr: float = 1e-2, batch_size: int = 128, seed: int = 0) -> Tensor:
    """Train the bend of the Bezier curve between fixed endpoints (Garipov et al. 2018, eq. 4).

    Minimises ``E_{t ~ U(0,1)} L_batch(phi(t))`` by Adam from the midpoint ``(theta_a + theta_b) / 2`` (the
    straight line), one seeded uniform ``t`` and one seeded mini-batch per step, the model in eval mode (dropout
    off: the curve is trained on the same deterministic loss it is evaluated on). Returns the bend (float64).
    """
    _check_endpoints(theta_a, theta_b)
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need steps >= 1, batch_size >= 1 and lr > 0, got {steps}, {batch_size}, {lr}")
    space = ParameterSpace(model)
    x, y = data
    a, b = theta_a.to(space.device), theta_b.to(space.device)
    bend = (0.5 * (a + b)).to(space.dtype).requires_grad_(True)
    opt = torch.optim.Adam([bend], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    with training_flags(model, False):
        for _ in range(steps):
            t = float(torch.rand((), generator=gen))
            idx = torch.randint(0, len(y), (batch_size,), generator=gen)
            theta = (1 - t) ** 2 * a.to(space.dtype) + 2 * t * (1 - t) * bend + t**2 * b.to(space.dtype)
            loss = space.loss(loss_fn, theta, x[idx].to(space.device), y[idx].to(space.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return bend.detach().to(torch.float64)


def barrier(ts: np.ndarray, losses: np.ndarray) -> float:
    """``max_t [L(t) - ((1 - t) L(0) + t L(1))]`` over the sampled times (Frankle et al. 2020, section 2).

    ``ts`` must start at 0 and end at 1, where the difference vanishes, so the barrier is >= 0, and 0 for a path
    that never rises above the chord between its endpoints.
    """
    ts, losses = np.asarray(ts, dtype=float), np.asarray(losses, dtype=float)
    if ts.shape != losses.shape or ts.ndim != 1 or ts.size < 2:
        raise ValueError(f"ts and losses must be 1-d of one length >= 2, got {ts.shape}, {losses.shape}")
    if ts[0] != 0 or ts[-1] != 1:
        raise ValueError("ts must start at 0 and end at 1 (the two solutions)")
    chord = (1 - ts) * losses[0] + ts * losses[-1]
    return float(np.max(losses - chord))


def connectivity_paths(model: nn.Module, loss_fn: LossFn, data: tuple[Tensor, Tensor], theta_a: Tensor,
                       theta_b: Tensor, ts: np.ndarray, *, steps: int, lr: float = 1e-2,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """Full-data loss at the times ``ts`` along the straight line and along the trained quadratic Bezier curve
    between the solutions ``theta_a`` and ``theta_b`` of ``model`` (Garipov et al. 2018, eq. 2-4).

    The bend is trained by :func:`train_bezier` (``steps`` Adam steps with ``lr``, ``seed``) on ``data``; the
    losses are :func:`path_losses` on ``data``. Returns ``{"line": ..., "bezier": ...}``, cached under
    ``mode_connectivity_paths`` keyed by everything that enters: the endpoints, the architecture and its buffers,
    what the loss computes, the data, ``ts``, ``steps``, ``lr``, ``seed`` and the source of the code.
    """

    def compute() -> dict[str, np.ndarray]:
        bend = train_bezier(model, loss_fn, data, theta_a, theta_b, steps=steps, lr=lr, seed=seed)
        return {"line": path_losses(model, loss_fn, data, line_points(theta_a, theta_b, ts)),
                "bezier": path_losses(model, loss_fn, data, bezier_points(theta_a, bend, theta_b, ts))}

    inputs = {"a": theta_a.numpy(), "b": theta_b.numpy(), "steps": steps, "ts": ts, "architecture": repr(model),
              "buffers": dict(model.named_buffers()), "loss": loss_fn, "x": data[0], "y": data[1], "lr": lr,
              "seed": seed}
    return load_or_compute("mode_connectivity_paths", inputs, compute)
