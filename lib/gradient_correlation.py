"""Do full-data loss gradients decorrelate with distance in weight space? Estimators and the kernel fit.

Paper 1's true-loss model (Baskerville, Granziol & Keating, arXiv:2102.06740 v3 abstract: it "predicts a
growing independence of loss gradients as a function of distance in weight-space") takes the loss to be a
Gaussian process with stationary kernel k(-|w - w'|^2 / 2). Then (``lib.true_loss``)

    rho(d) = E[g(w) . g(w')] / E|g(w)|^2 = exp(-d^2 / (2 l^2)) (1 - d^2 / (P l^2)),   d = |w - w'|,

for the squared-exponential kernel of length-scale l in P dimensions, and the cosine of two gradients
concentrates on rho(d) when P is large. The estimators here measure that cosine on a network (or any gradient
function): at w and w + d u for random unit directions u, and between all pairs of a set of points (the
checkpoints of one trajectory, or independently trained solutions). The normalised correlation is the cosine,
not a centred (Pearson) correlation, because the model's gradients have mean zero.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import optimize
from torch import Tensor, nn
from torch.func import functional_call, grad

from lib.device import default_device
from lib.true_loss import se_gradient_correlation

__all__ = [
    "BinnedCorrelation",
    "GradientFn",
    "LengthscaleFit",
    "binned_correlation",
    "cosine",
    "fit_lengthscale",
    "flat_parameters",
    "network_gradient",
    "pairwise_correlations",
    "perturbation_correlations",
]

GradientFn = Callable[[Tensor], Tensor]


def flat_parameters(model: nn.Module, dtype: torch.dtype = torch.float64) -> Tensor:
    """All parameters of ``model`` as one vector (``named_parameters`` order), detached, on the default device."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).to(default_device(), dtype)


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

    The model is evaluated in eval mode through ``torch.func.functional_call`` in ``dtype`` on the default
    device; the data are processed in chunks of ``batch_size`` and the chunk gradients weighted by their sizes.
    Regularisers (weight decay) are not part of the loss: this is the gradient of the data loss the model is about.
    """
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] == 0:
        raise ValueError(f"need as many targets as inputs (> 0), got {inputs.shape[0]} and {targets.shape[0]}")
    device = default_device()
    model = copy.deepcopy(model).to(device, dtype).eval()  # a private copy: the caller's model is untouched
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    buffers = {n: b.to(device) for n, b in model.named_buffers()}
    x = inputs.to(device, dtype)
    y = targets.to(device, dtype if targets.is_floating_point() else targets.dtype)
    chunks = list(zip(x.split(batch_size), y.split(batch_size), strict=True))

    def loss(flat: Tensor, xb: Tensor, yb: Tensor) -> Tensor:
        params = {n: c.view(s) for n, c, s in zip(names, flat.split(sizes), shapes, strict=True)}
        return loss_fn(functional_call(model, {**buffers, **params}, (xb,)), yb)

    grad_loss = grad(loss)

    def gradient(flat: Tensor) -> Tensor:
        flat = torch.as_tensor(flat).to(device, dtype)
        if flat.shape != (sum(sizes),):
            raise ValueError(f"expected a parameter vector of length {sum(sizes)}, got shape {tuple(flat.shape)}")
        total = torch.zeros_like(flat)
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


def perturbation_correlations(
    gradient: GradientFn, w: Tensor, distances: ArrayLike, n_directions: int, generator: torch.Generator
) -> np.ndarray:
    """cos(g(w), g(w + d u)) for ``n_directions`` random unit directions u (uniform on the sphere) and each d.

    Returns an array of shape (n_directions, len(distances)); the same directions serve every distance, so
    each row is one ray out of w.
    """
    d = np.asarray(distances, dtype=float)
    if d.ndim != 1 or d.size == 0 or np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("distances must be a non-empty 1-D array of finite values >= 0")
    if isinstance(n_directions, bool) or int(n_directions) != n_directions or n_directions < 1:
        raise ValueError(f"n_directions must be a positive integer, got {n_directions!r}")
    g0 = gradient(w)
    out = np.empty((int(n_directions), d.size))
    for i in range(int(n_directions)):
        u = torch.randn(w.shape, generator=generator, dtype=torch.float64).to(w.device, w.dtype)
        u /= torch.linalg.vector_norm(u)
        for j, dist in enumerate(d):
            out[i, j] = cosine(g0, gradient(w + dist * u))
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


@dataclass(frozen=True)
class BinnedCorrelation:
    """Mean correlation per distance bin with its standard error of the mean (NaN for bins with < 2 values)."""

    centers: np.ndarray
    mean: np.ndarray
    sem: np.ndarray
    counts: np.ndarray


def binned_correlation(distances: ArrayLike, correlations: ArrayLike, bins: ArrayLike) -> BinnedCorrelation:
    """Average ``correlations`` in distance ``bins`` (edges); centre = mean distance in the bin."""
    d, c, edges = (np.asarray(a, dtype=float).ravel() for a in (distances, correlations, bins))
    if d.shape != c.shape:
        raise ValueError(f"distances and correlations differ in size: {d.size} and {c.size}")
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two increasing edges")
    which = np.digitize(d, edges) - 1
    k = edges.size - 1
    centers, mean, sem, counts = (np.full(k, np.nan) for _ in range(4))
    for b in range(k):
        sel = which == b
        counts[b] = sel.sum()
        if counts[b]:
            centers[b], mean[b] = d[sel].mean(), c[sel].mean()
        if counts[b] > 1:
            sem[b] = c[sel].std(ddof=1) / np.sqrt(counts[b])
    return BinnedCorrelation(centers, mean, sem, counts.astype(int))


@dataclass(frozen=True)
class LengthscaleFit:
    """Least-squares length-scale l of rho(d) = exp(-d^2 / 2 l^2) (1 - d^2 / (P l^2)), with its standard error."""

    lengthscale: float
    stderr: float
    rss: float
    n: int


def fit_lengthscale(
    distances: ArrayLike, correlations: ArrayLike, sem: ArrayLike | None = None, dim: int | None = None
) -> LengthscaleFit:
    """Fit the squared-exponential length-scale to measured correlations (``lib.true_loss.se_gradient_correlation``).

    ``sem`` (per point) weights the least squares and makes the standard error absolute; ``dim`` is P for the
    finite-dimension factor (None: the large-P limit).
    """
    d, c = np.asarray(distances, dtype=float).ravel(), np.asarray(correlations, dtype=float).ravel()
    keep = np.isfinite(d) & np.isfinite(c)
    sigma = None
    if sem is not None:
        sigma = np.asarray(sem, dtype=float).ravel()
        keep &= np.isfinite(sigma) & (sigma > 0)
        sigma = sigma[keep]
    d, c = d[keep], c[keep]
    if d.size < 2:
        raise ValueError(f"a length-scale fit needs at least 2 finite points, got {d.size}")
    below = d[c < np.exp(-0.5)]
    start = float(below.min()) if below.size else float(d.max())

    def model(x: np.ndarray, ell: float) -> np.ndarray:
        return se_gradient_correlation(x, abs(ell), dim)

    (ell,), cov = optimize.curve_fit(model, d, c, p0=(start,), sigma=sigma, absolute_sigma=sem is not None)
    rss = float(np.sum((c - model(d, ell)) ** 2))
    return LengthscaleFit(abs(float(ell)), float(np.sqrt(cov[0, 0])), rss, int(d.size))
