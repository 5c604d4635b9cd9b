"""Do full-data loss gradients decorrelate with distance in weight space? Estimators and the kernel fit.

Paper 1's true-loss model (Baskerville, Granziol & Keating, arXiv:2102.06740 v3 abstract: it "predicts a
growing independence of loss gradients as a function of distance in weight-space") takes the loss to be a
Gaussian process with stationary kernel k(-|w - w'|^2 / 2). Then (``lib.rmt.true_loss``)

    rho(d) = E[g(w) . g(w')] / E|g(w)|^2 = exp(-d^2 / (2 l^2)) (1 - d^2 / (P l^2)),   d = |w - w'|,

for the squared-exponential kernel of length-scale l in P dimensions, and the cosine of two gradients
concentrates on rho(d) when P is large. The estimators here measure that cosine on a network (or any gradient
function): at w and w + d u for random unit directions u, and between all pairs of a set of points (the
checkpoints of one trajectory, or independently trained solutions). The normalised correlation is the cosine,
not a centred (Pearson) correlation, because the model's gradients have mean zero.

Any smooth non-quadratic loss shows such a decay under random displacements, and so does a quadratic one: for
L_q(w + x) = L(w) + g . x + x^T H x / 2 the gradient at w + d u is g + d H u, whose cosine with g falls from 1 to
about cos(g, H u), which averages 0 over random u. ``quadratic_control_correlations`` measures that control with the
network's own Hessian at the point, so the chapter can show whether the decay tells the model apart from a convex
quadratic bowl. ``measure_decorrelation`` runs the experiment on independently trained networks (cached),
``decay_summary`` fits the length-scale l to the mean cosine and measures how well the squared-exponential shape
fits, and ``zero_mean_null`` calibrates the test that the cosine at the largest distance is consistent with 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import grad

from lib.curvature.parameter_space import ParameterSpace, flat_parameters, training_flags
from lib.nets.cache import load_or_compute
from lib.nets.data import load
from lib.nets.train import TrainConfig, loss_function, train
from lib.rmt import correlation_fits as cf

__all__ = [
    "GradientFn",
    "cosine",
    "decay_summary",
    "measure_decorrelation",
    "network_gradient",
    "pairwise_correlations",
    "perturbation_correlations",
    "quadratic_control_correlations",
    "trajectory_configs",
    "zero_mean_null",
]

GradientFn = Callable[[Tensor], Tensor]


def network_gradient(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    inputs: Tensor,
    targets: Tensor,
    *,
    dtype: torch.dtype = torch.float64,
    batch_size: int = 4096,
) -> GradientFn:
    """w -> grad_w of the full-data mean loss (1/N) sum_n l(f(x_n; w), y_n), for flat parameter vectors w.

    The model is evaluated in eval mode through its :class:`lib.curvature.parameter_space.ParameterSpace` in
    ``dtype`` on the default device; the data are processed in chunks of ``batch_size`` and the chunk gradients
    weighted by their sizes. Regularisers (weight decay) are not part of the loss: this is the gradient of the
    data loss the model is about.
    """
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] == 0:
        raise ValueError(f"need as many targets as inputs (> 0), got {inputs.shape[0]} and {targets.shape[0]}")
    space = ParameterSpace(model, dtype=dtype)
    x, y = space.cast(inputs), space.cast(targets)
    chunks = list(zip(x.split(batch_size), y.split(batch_size), strict=True))
    grad_loss = grad(lambda flat, xb, yb: space.loss(loss_fn, flat, xb, yb))

    def gradient(flat: Tensor) -> Tensor:
        flat = space.cast(torch.as_tensor(flat))
        if flat.shape != (space.dim,):
            raise ValueError(f"expected a parameter vector of length {space.dim}, got shape {tuple(flat.shape)}")
        total = torch.zeros_like(flat)
        with training_flags(model, False):
            for xb, yb in chunks:
                total += grad_loss(flat, xb, yb) * (xb.shape[0] / x.shape[0])
        return total

    return gradient


def cosine(a: Tensor, b: Tensor) -> float:
    """a . b / (|a| |b|); raises ``ValueError`` for a zero vector."""
    na, nb = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    if na == 0 or nb == 0:
        raise ValueError("the cosine of a zero gradient is undefined")
    return float(torch.dot(a.flatten(), b.flatten()) / (na * nb))


def _check_rays(distances: ArrayLike, n_directions: int) -> np.ndarray:
    d = np.asarray(distances, dtype=float)
    if d.ndim != 1 or d.size == 0 or np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("distances must be a non-empty 1-D array of finite values >= 0")
    if isinstance(n_directions, bool) or int(n_directions) != n_directions or n_directions < 1:
        raise ValueError(f"n_directions must be a positive integer, got {n_directions!r}")
    return d


def _unit_direction(w: Tensor, generator: torch.Generator) -> Tensor:
    """A direction uniform on the unit sphere of w's space (a normalised float64 Gaussian draw from ``generator``)."""
    u = torch.randn(w.shape, generator=generator, dtype=torch.float64).to(w.device, w.dtype)
    return u / torch.linalg.vector_norm(u)


def perturbation_correlations(
    gradient: GradientFn, w: Tensor, distances: ArrayLike, n_directions: int, generator: torch.Generator
) -> np.ndarray:
    """cos(g(w), g(w + d u)) for ``n_directions`` random unit directions u (uniform on the sphere) and each d.

    Returns an array of shape (n_directions, len(distances)); the same directions serve every distance, so
    each row is one ray out of w.
    """
    d = _check_rays(distances, n_directions)
    g0 = gradient(w)
    out = np.empty((int(n_directions), d.size))
    for i in range(int(n_directions)):
        u = _unit_direction(w, generator)
        for j, dist in enumerate(d):
            out[i, j] = cosine(g0, gradient(w + dist * u))
    return out


def quadratic_control_correlations(
    gradient: GradientFn, w: Tensor, distances: ArrayLike, n_directions: int, generator: torch.Generator,
    eps: float = 1e-5,
) -> np.ndarray:
    """The same rays for the quadratic control: cos(g, g + d H u) with g = g(w) and H the Hessian at w.

    L_q(w + x) = L(w) + g . x + x^T H x / 2 is the loss's second-order Taylor model at w (convex where H is
    positive semi-definite), whose gradient at w + d u is g + d H u. H u is the central difference
    (g(w + eps u) - g(w - eps u)) / (2 eps) (error O(eps^2) in float64). Directions are drawn from ``generator``
    exactly as :func:`perturbation_correlations` draws them, so a generator in the same state gives the same rays.
    """
    d = _check_rays(distances, n_directions)
    g0 = gradient(w)
    out = np.empty((int(n_directions), d.size))
    for i in range(int(n_directions)):
        u = _unit_direction(w, generator)
        hu = (gradient(w + eps * u) - gradient(w - eps * u)) / (2 * eps)
        for j, dist in enumerate(d):
            out[i, j] = cosine(g0, g0 + dist * hu)
    return out


def pairwise_correlations(points: Tensor, gradients: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(|w_i - w_j|, cos(g_i, g_j)) over all pairs i < j of m points (rows) and their gradients (rows)."""
    if points.ndim != 2 or points.shape != gradients.shape or points.shape[0] < 2:
        raise ValueError(f"points and gradients must both be m x P with m >= 2, got {tuple(points.shape)} and "
                         f"{tuple(gradients.shape)}")
    i, j = np.triu_indices(points.shape[0], 1)
    p, g = points.double().cpu(), gradients.double().cpu()
    dist = torch.linalg.vector_norm(p[i] - p[j], dim=1).numpy()
    unit = g / torch.linalg.vector_norm(g, dim=1, keepdim=True)
    return dist, (unit[i] * unit[j]).sum(dim=1).numpy()


def trajectory_configs(
    dataset: str, model: str, width: float, epochs: int, lr: float, seeds: Sequence[int], checkpoints: Sequence[int]
) -> list[TrainConfig]:
    """One training run per seed: ``model`` of hidden-width multiplier ``width`` on ``dataset``, ``epochs`` of SGD at
    ``lr`` (paper 1's schedule), with weights kept at the epochs ``checkpoints`` (besides 0 and the last)."""
    return [TrainConfig(model=model, dataset=dataset, model_kwargs={"width": width}, epochs=epochs, lr=lr, seed=s,
                        checkpoints=tuple(checkpoints)) for s in seeds]


def measure_decorrelation(
    dataset: str,
    model: str,
    width: float,
    epochs: int,
    lr: float,
    seeds: Sequence[int],
    checkpoints: Sequence[int],
    distances: Sequence[float],
    n_directions: int,
    seed: int,
) -> dict[str, Any]:
    """Gradient cosines of the networks of :func:`trajectory_configs` around their points and between them.

    For each network, with g the full-data gradient of the mean cross-entropy over the training split
    (:func:`network_gradient`): ``pert_init`` / ``pert_trained`` hold cos(g(w), g(w + d u)) at the initial and
    the trained point w for ``n_directions`` random unit directions u (a ``torch.Generator`` seeded with ``seed``,
    shared by all networks in turn) and every d of ``distances`` (rows: networks x directions); ``quad_init`` /
    ``quad_trained`` the quadratic control on the same rays (:func:`quadratic_control_correlations`); ``traj_d`` /
    ``traj_c`` the distances and cosines of all pairs of checkpoints of one trajectory; ``sol_d`` / ``sol_c`` and
    ``ini_d`` / ``ini_c`` those of all pairs of trained solutions and of initial points; ``norm_w`` the mean norm
    of the trained weights. Cached under the namespace "gradient_decorrelation"; ``n_parameters`` (P) is added.
    """
    configs = trajectory_configs(dataset, model, width, epochs, lr, seeds, checkpoints)

    def compute() -> dict[str, Any]:
        x_train, y_train = load(dataset, "train")
        ce = loss_function("cross_entropy")
        gen = torch.Generator().manual_seed(seed)
        out: dict[str, list] = {"pert_init": [], "pert_trained": [], "quad_init": [], "quad_trained": [],
                                "traj_d": [], "traj_c": [], "w_trained": [], "g_trained": [], "w_init": [],
                                "g_init": []}
        for config in configs:
            result = train(config, progress=False)
            gradient = network_gradient(result.model, ce, x_train, y_train)
            for tag, epoch in (("init", 0), ("trained", config.epochs)):
                w = flat_parameters(result.checkpoint(epoch))
                state = gen.get_state()  # the control walks the same rays
                out[f"pert_{tag}"].append(perturbation_correlations(gradient, w, distances, n_directions, gen))
                gen.set_state(state)
                out[f"quad_{tag}"].append(quadratic_control_correlations(gradient, w, distances, n_directions, gen))
                out[f"w_{tag}"].append(w.cpu())
                out[f"g_{tag}"].append(gradient(w).cpu())
            points = torch.stack([flat_parameters(result.checkpoint(e)) for e in config.checkpoint_epochs])
            d, c = pairwise_correlations(points, torch.stack([gradient(p) for p in points]))
            out["traj_d"].append(d)
            out["traj_c"].append(c)
        sol_d, sol_c = pairwise_correlations(torch.stack(out.pop("w_trained")), torch.stack(out.pop("g_trained")))
        ini_d, ini_c = pairwise_correlations(torch.stack(out.pop("w_init")), torch.stack(out.pop("g_init")))
        return {"pert_init": np.concatenate(out["pert_init"]), "pert_trained": np.concatenate(out["pert_trained"]),
                "quad_init": np.concatenate(out["quad_init"]), "quad_trained": np.concatenate(out["quad_trained"]),
                "traj_d": np.concatenate(out["traj_d"]), "traj_c": np.concatenate(out["traj_c"]),
                "sol_d": sol_d, "sol_c": sol_c, "ini_d": ini_d, "ini_c": ini_c,
                "norm_w": float(np.mean([torch.linalg.vector_norm(flat_parameters(train(c, progress=False).model)
                                                                  ).item() for c in configs]))}

    data = load_or_compute("gradient_decorrelation", dict(configs=[repr(c) for c in configs], distances=distances,
                                                          n_directions=n_directions, seed=seed), compute)
    n_parameters = sum(p.numel() for p in train(configs[0], progress=False).model.parameters())
    return data | {"n_parameters": n_parameters}


def decay_summary(distances: ArrayLike, correlations: ArrayLike, dim: int) -> dict[str, Any]:
    """Mean and standard error over rows of cos(g(w), g(w + d u)) (rows x distances), the fitted squared-exponential
    length-scale (``lib.rmt.correlation_fits.fit_lengthscale``, weighted by the standard errors) and the reduced
    chi^2 = sum((mean - rho(d; l, P)) / sem)^2 / (n_d - 1) of that fit (``correlation_fits.shape_chi2``); and
    |t| = |mean| / sem at the largest distance: keys ``mean``, ``sem``, ``fit``, ``chi2/dof``, ``|t| far``."""
    d, rows = np.asarray(distances, dtype=float), np.asarray(correlations, dtype=float)
    mean, sem = rows.mean(axis=0), rows.std(axis=0, ddof=1) / np.sqrt(rows.shape[0])
    fit = cf.fit_lengthscale(d, mean, sem, dim=dim)
    chi2 = cf.shape_chi2(d, mean, sem, dim)
    return {"mean": mean, "sem": sem, "fit": fit, "chi2/dof": chi2, "|t| far": float(abs(mean[-1]) / sem[-1])}


def zero_mean_null(values: ArrayLike, replicas: int, alternative_mean: float, seed: int) -> dict[str, np.ndarray]:
    """Simulated |t| = |mean| / sem of samples like ``values`` (the cosines of the rays at one distance) whose true
    mean is 0 (null) or ``alternative_mean`` (alternative).

    Each replica resamples, with replacement, as many values as given from the centred values (values - their
    mean), so the spread and shape are the measured ones, and divides the |mean| of the resample by the measured
    sem (as the measured |t| is), which keeps |t| finite for the few values of a small run; the alternative adds
    ``alternative_mean``. Returns ``null`` and ``alternative`` (``replicas`` values each).
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size < 3 or not np.all(np.isfinite(v)):
        raise ValueError(f"need at least 3 finite values, got {v.size}")
    sem = v.std(ddof=1) / np.sqrt(v.size)
    if not sem > 0:
        raise ValueError("the values have no spread: |t| is undefined")
    draws = np.random.default_rng(seed).choice(v - v.mean(), size=(int(replicas), v.size))
    means = draws.mean(axis=1)
    return {"null": np.abs(means) / sem, "alternative": np.abs(means + alternative_mean) / sem}
