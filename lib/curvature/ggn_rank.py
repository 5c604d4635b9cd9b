"""Exact ranks of the generalised Gauss-Newton matrix (GGN) of small networks, and bounds on them.

Paper 2 (Granziol 2020, arXiv:2006.07721) ties the atom at zero of the curvature spectrum to the layer widths.
The atom of the P x P GGN is exactly ``1 - rank G / P``; this module computes that rank through a factor
``G = A^T A`` (:func:`ggn_factor`) and counts null directions that force it: the Gauss-Newton bound
``rank G <= N (C - 1)``, the exact symmetries of ReLU MLPs with a softmax output (:func:`symmetry_nullity`), the
null directions read off the activation pattern (:func:`pattern_nullity`) and a bottleneck bound
(:func:`bottleneck_rank_bound`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import hessian, jacrev, vmap

from lib.curvature.parameter_space import LossFn, ParameterSpace, training_flags


def ggn_factor(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy,
               dtype: torch.dtype = torch.float64) -> Tensor:
    """A matrix ``A`` of shape ``(N C) x P`` with ``G = A^T A`` the GGN of the mean loss over ``(x, y)``.

    ``G = (1/N) sum_n J_n^T H_n J_n`` with ``J_n`` the C x P Jacobian of the outputs of sample n and ``H_n`` the
    Hessian of its loss in the outputs. For softmax cross-entropy ``H_n = diag p - p p^T = B^T B`` with
    ``B = (I - u u^T) diag(u)``, ``u = sqrt(p)`` (rank C - 1, ``B 1 = 0``), and the rows of sample n are
    ``B J_n / sqrt(N)``; for another loss, ``H_n = V diag(l) V^T`` gives rows ``sqrt(l / N) V^T J_n``
    (eigenvalues below ``1e-12`` of the largest set to zero: round-off of exact null directions). So
    ``rank G = rank A`` and the eigenvalues of G are the squared singular values of A. Model in eval mode;
    every parameter, in ``model.parameters()`` order.
    """
    space = ParameterSpace(model, dtype=dtype, device=next(model.parameters()).device)
    theta = space.point
    x = x.to(theta.device, dtype)

    def outputs(flat: Tensor, xi: Tensor) -> Tensor:
        return space.outputs(flat, xi[None])[0]

    with training_flags(model, False):
        with torch.no_grad():
            out = vmap(outputs, in_dims=(None, 0))(theta, x)
        jac = vmap(jacrev(outputs), in_dims=(None, 0))(theta, x)  # N x C x P
        if loss_fn is F.cross_entropy or isinstance(loss_fn, nn.CrossEntropyLoss):
            # diag p - p p^T = B^T B with B = (I - u u^T) diag(u), u = sqrt(p): B 1 = 0 to round-off, whereas an
            # eigendecomposition leaks the null vector 1 into the other rows by eps / (eigenvalue gap)
            u = torch.softmax(out, dim=1).sqrt()
            eye = torch.eye(u.shape[1], dtype=dtype, device=u.device)
            factor = (eye - u[:, :, None] * u[:, None, :]) * u[:, None, :]
        else:
            h_out = vmap(hessian(lambda o, t: loss_fn(o[None], t[None])))(out, y)  # N x C x C
            lam, vec = torch.linalg.eigh(h_out)
            # round-off of exact null directions: as in the operators' ggn_rank_bound, below 1e-12 of the largest
            lam = torch.where(lam > 1e-12 * lam.abs().max(), lam, torch.zeros_like(lam))
            factor = lam.sqrt()[:, :, None] * vec.transpose(1, 2)
    return (factor @ jac).reshape(-1, theta.numel()) / np.sqrt(x.shape[0])


def ggn_eigenvalues(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy) -> np.ndarray:
    """All P eigenvalues (ascending, float64) of the GGN: the squared singular values of :func:`ggn_factor`,
    padded with zeros to P (exact zeros where A has fewer rows than columns)."""
    a = ggn_factor(model, x, y, loss_fn)
    sv = torch.linalg.svdvals(a).cpu().numpy()
    return np.sort(np.concatenate([np.zeros(a.shape[1] - len(sv)), sv**2]))


def ggn_rank(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy) -> int:
    """The rank of the GGN, as the numerical rank of :func:`ggn_factor` (singular values above
    ``max(N C, P) eps sigma_max``, float64; ``torch.linalg.matrix_rank``). Working with A rather than
    ``G = A^T A`` keeps small but genuine eigenvalues of G (down to ``1e-26`` of the largest) apart from the
    round-off of exact zeros, which eigenvalues of G itself cannot below about ``1e-16``."""
    return int(torch.linalg.matrix_rank(ggn_factor(model, x, y, loss_fn)))


def relu_mlp_layers(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers of a ``lib.nets.models.mlp`` ReLU network (Flatten, Linear, ReLU, ..., Linear), checked."""
    mods = [m for m in model.children() if not isinstance(m, nn.Flatten)]
    linears = [m for m in mods if isinstance(m, nn.Linear)]
    pattern = [type(m) for m in mods]
    expected = [nn.Linear, nn.ReLU] * (len(linears) - 1) + [nn.Linear]
    if pattern != expected or any(m.bias is None for m in linears):
        raise ValueError("the counting bounds are for ReLU MLPs with biases built by lib.nets.models.mlp")
    return linears


def data_rank(x: Tensor) -> int:
    """``rank [X, 1]``: the rank of the flattened inputs with a column of ones (the first layer's bias)."""
    flat = x.reshape(len(x), -1).double()
    ones = torch.ones(len(x), 1, dtype=flat.dtype, device=flat.device)
    return int(torch.linalg.matrix_rank(torch.cat([flat, ones], 1)))


def symmetry_nullity(widths: Sequence[int], x: Tensor) -> int:
    """Exact null directions of the GGN of a ReLU MLP with widths ``N_0, ..., N_L`` (biases, softmax output) at
    any parameters, on the inputs ``x``:

    * first-layer weights that only see the null space of ``[X, 1]``: ``N_1 (N_0 + 1 - rank [X, 1])``;
    * the positive rescaling of each hidden unit (incoming weights times a, outgoing over a): ``sum N_l``;
    * the softmax's invariance to a common shift of all logits (the same row added to every row of the last
      layer and the same number to every bias): ``N_{L-1} + 1``.

    They are linearly independent for generic parameters, so ``rank G <= P - symmetry_nullity``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"need input, at least one hidden and output width, got {widths}")
    return widths[1] * (widths[0] + 1 - data_rank(x)) + sum(widths[1:-1]) + widths[-2] + 1


def _rank(m: Tensor) -> int:
    return int(torch.linalg.matrix_rank(m)) if m.numel() else 0


def pattern_nullity(model: nn.Module, x: Tensor) -> dict[str, int]:
    """Null directions of the GGN of a ReLU MLP (biases, softmax output) counted from its activation pattern on
    ``x``; with :func:`symmetry_nullity` this refines the data-independent count.

    Let ``A_l`` be the activations of layer l on the N samples (``A_0 = X``) and ``S_j`` the samples on which
    hidden unit j is active. Then:

    * incoming weights: the Jacobian columns of unit j's incoming weights and bias are a fixed linear map of the
      columns of ``[A_{l-1}, 1]`` restricted to the rows ``S_j``, so at least ``fan_in + 1 - rank [A_{l-1}, 1]_{S_j}``
      of these directions are null (all of them for a dead unit; for the first layer this contains the data-null
      directions). The output layer likewise has ``C (N_{L} + 1 - rank [A_L, 1])``;
    * the softmax shift (the same ``(u, s)`` added to every row of the last layer and its bias) adds
      ``rank [A_L, 1]`` directions beyond those;
    * the positive rescaling of each live hidden unit: one each;
    * a unit active on every sample passes a shift of its bias on linearly, which the next layer's biases take
      back (``b_j -> b_j + e``, ``b' -> b' - W'[:, j] e``): one each.

    These directions are linearly independent when the biases are non-zero (each rescaling has a component
    outside the null sets, its own incoming weights ``w_j`` with ``[A, 1] w_j = z_j != 0`` on ``S_j``), so
    ``rank G <= P - pattern_nullity``. It is a lower bound on the nullity, not the count: a 64-32-10 MLP
    trained on 512 digits has about 940 null directions (the largest gap of its float64 spectrum) against 492
    counted here, and deeper nets have more (units with the same activation set act as one linear map on the
    data, and a narrow layer caps the rank of the Jacobian of everything before it). Returns the total and the
    numbers of dead and always-active units.
    """
    linears = relu_mlp_layers(model)
    # in float64 and on the model's device, as ggn_factor evaluates the activation pattern
    h = x.reshape(len(x), -1).to(linears[0].weight.device, torch.float64)
    incoming = rescalings = dead = always = 0
    with torch.no_grad():
        for layer in linears[:-1]:
            a = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype, device=h.device)], 1)
            z = F.linear(h, layer.weight.double(), layer.bias.double())
            active = z > 0
            for j in range(layer.out_features):
                incoming += layer.in_features + 1 - _rank(a[active[:, j]])
            live = active.any(dim=0)
            n_live = int(live.sum())
            dead += layer.out_features - n_live
            always += int(active.all(dim=0).sum())
            rescalings += n_live
            h = torch.relu(z)
        a = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype, device=h.device)], 1)
        rank_last = _rank(a)
        out = linears[-1].out_features
        output_layer = out * (a.shape[1] - rank_last)
    total = incoming + output_layer + rank_last + rescalings + always
    return {"null directions": total, "dead units": dead, "always-active units": always}


def active_units(model: nn.Module, x: Tensor) -> list[np.ndarray]:
    """For each hidden layer of a ReLU MLP, the number of units active (pre-activation > 0) on each sample."""
    linears = relu_mlp_layers(model)
    h = x.reshape(len(x), -1).to(linears[0].weight.device, torch.float64)
    out = []
    with torch.no_grad():
        for layer in linears[:-1]:
            z = F.linear(h, layer.weight.double(), layer.bias.double())
            out.append((z > 0).sum(dim=1).cpu().numpy())
            h = torch.relu(z)
    return out


def bottleneck_rank_bound(widths: Sequence[int], n_samples: int,
                          active: Sequence[np.ndarray] | None = None) -> int:
    """``min_l [sum_n min(C - 1, a_l(n)) + P_{>l}]`` over the hidden layers l: a bound on the rank of the GGN.

    The Jacobian of the outputs in the parameters up to layer l factors through that layer's activations,
    ``J_n = (df/da_l) (da_l/dtheta_{<=l})``, and only the ``a_l(n)`` units active on sample n pass anything on; after
    the output Hessian's ``C - 1`` directions each sample adds at most ``min(C - 1, a_l(n))`` to the rank of that
    block, and the ``P_{>l}`` later parameters add at most their number. ``active`` holds ``a_l(n)`` per hidden
    layer (:func:`active_units`); without it ``a_l(n) = N_l``, the width, which gives
    ``N min(C - 1, N_l) + P_{>l}``: this is where a narrow layer (the chain formula's ``min N_i``) caps the rank.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"need input, at least one hidden and output width, got {widths}")
    if active is not None and len(active) != len(widths) - 2:
        raise ValueError(f"active needs one array per hidden layer ({len(widths) - 2}), got {len(active)}")
    c = widths[-1]
    bounds = []
    for layer in range(1, len(widths) - 1):
        later = sum((widths[i] + 1) * widths[i + 1] for i in range(layer, len(widths) - 1))
        counts = np.full(n_samples, widths[layer]) if active is None else np.asarray(active[layer - 1])
        bounds.append(int(np.minimum(c - 1, counts).sum()) + later)
    return min(bounds)
