"""Exact dense Hessians of sequential Linear + elementwise-activation networks by second-order structure.

Perturb every Linear layer's pre-activation, z_l = W_l a_{l-1} + b_l + eps_l (eps_l of shape N x o_l), and let
psi(eps) be the batch loss. A parameter change (U_l, c_l) acts as eps_l = U_l a_{l-1}(U) + c_l, so with the
augmented inputs a~ = (a, 1) (Bakker et al. 2018, "The outer product structure of neural network derivatives";
Dangel et al. 2020, "Modular block-diagonal curvature approximations for feedforward architectures") the Hessian is

    H[(l,j,i), (m,p,k)] = sum_n a~_{l-1,n,i} D_n[(l,j), (m,p)] a~_{m-1,n,k}
                          + [m < l] sum_n delta_{l,n,j} T_n[(l-1,i), (m,p)] a~_{m-1,n,k}   (and its transpose),

with D_n = d^2 psi / d eps_n^2 (S x S, S = sum_l o_l: the pre-activation Hessian of sample n), delta_l = dpsi/deps_l
and T_n = d a_{l-1,n} / d eps_{m,n} (m < l). D, delta and T come from S forward-over-reverse products on the
batch (S is tiny next to P); H then costs about 4 N P^2 flops in a few large GEMMs instead of P Hessian-vector
products. The identity needs psi's eps-Hessian to be block diagonal over samples (the loss is a sum of per-sample
terms and the model acts on each sample alone): it is checked with one random product, and ``None`` is returned
(the caller falls back to HVPs) whenever the model or the loss does not have this structure, or when the N S^2
pre-activation Hessians would not fit in ``_MAX_D_FLOATS``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import grad, vmap
from torch.nn import functional as F

from lib.curvature.autodiff import jvp_in_first
from lib.curvature.parameter_space import LossFn

_ELEMENTWISE = (
    nn.Tanh, nn.ReLU, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.CELU, nn.SELU, nn.Softplus, nn.LeakyReLU, nn.Mish,
    nn.Softsign, nn.Tanhshrink, nn.Hardtanh, nn.LogSigmoid, nn.Identity,
)
# floats held by one chunk of the per-sample products that feed the GEMMs, and by one GEMM's output
_CHUNK_FLOATS = 2**24
_BLOCK_FLOATS = 2**25
# the per-sample pre-activation Hessians D (N S^2 floats; their forward-over-reverse pass needs a few times more)
_MAX_D_FLOATS = 2**26


def _chunks(count: int, floats_per_sample: int) -> list[slice]:
    """Consecutive sample ranges holding about ``_CHUNK_FLOATS`` floats each."""
    step = max(1, _CHUNK_FLOATS // floats_per_sample)
    return [slice(start, start + step) for start in range(0, count, step)]


def _structure(model: nn.Module) -> list[nn.Module] | None:
    """The modules of ``model`` if it is a Linear layer or an nn.Sequential of Linear layers and parameter-free
    elementwise maps, optionally after one leading Flatten, whose parameters are all trainable."""
    if not isinstance(model, nn.Sequential | nn.Linear):
        return None
    modules, linear_seen = ([model] if isinstance(model, nn.Linear) else list(model)), False
    for index, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            linear_seen = True
        elif isinstance(module, nn.Flatten):
            if index != 0 or module.start_dim != 1 or module.end_dim != -1:
                return None
        elif not isinstance(module, _ELEMENTWISE + (nn.Dropout,)) or list(module.parameters()):
            return None
    if not linear_seen or not all(p.requires_grad for p in model.parameters()):
        return None
    return modules


def _run(modules: list[nn.Module], weights: list[tuple[Tensor, Tensor | None]], x: Tensor, eps: list[Tensor]):
    """Network output with pre-activation perturbations ``eps``, and the input of every Linear layer."""
    a, inputs, k = x, [], 0
    for module in modules:
        if isinstance(module, nn.Linear):
            inputs.append(a)
            a = F.linear(a, *weights[k]) + eps[k]
            k += 1
        elif not isinstance(module, nn.Dropout):  # dropout is the identity in eval mode, the mode used here
            a = module(a)
    return a, inputs


def _columns(weighted: Tensor, a: Tensor, bias: bool) -> Tensor:
    """Per-sample products with layer m's parameter Jacobian: ``weighted[..., p] a[..., k]`` for the weight (p, k)
    followed by ``weighted[..., p]`` for the bias, along the last axis in parameter order. ``weighted`` is
    (A, B, o_m); ``a`` holds the layer's inputs shaped to broadcast against (A, B, 1, k)."""
    A, B, o = weighted.shape
    k = a.shape[-1]
    out = weighted.new_empty(A, B, o * k + (o if bias else 0))
    torch.mul(weighted[..., None], a, out=out[..., : o * k].view(A, B, o, k))
    if bias:
        out[..., o * k :] = weighted
    return out


def _mirror_lower(H: Tensor, tile: int = 128) -> Tensor:
    """Copy the strict lower triangle of H onto the upper one, tile by tile (cache-friendly transposes)."""
    size = H.shape[0]
    lower = torch.ones(tile, tile, dtype=torch.bool, device=H.device).tril()
    for i in range(0, size, tile):
        rows = slice(i, i + tile)
        diagonal = H[rows, rows]
        k = diagonal.shape[0]
        diagonal.copy_(torch.where(lower[:k, :k], diagonal, diagonal.T))
        for j in range(0, i, tile):
            cols = slice(j, j + tile)
            H[cols, rows] = H[rows, cols].T
    return H


def sequential_hessian(model: nn.Module, loss_fn: LossFn, inputs: Tensor, targets: Tensor) -> Tensor | None:
    """The exact P x P Hessian of ``loss_fn(model(inputs), targets)`` by the structured formula of the module
    docstring, in the dtype and on the device of ``inputs`` (the model's parameters are cast to them), symmetrised;
    ``None`` when the model or loss lacks the structure (the caller then uses Hessian-vector products)."""
    modules = _structure(model)
    if modules is None:
        return None
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    dtype, device = inputs.dtype, inputs.device
    weights = [(m.weight.detach().to(device, dtype), None if m.bias is None else m.bias.detach().to(device, dtype))
               for m in linears]
    x = inputs.flatten(1) if isinstance(modules[0], nn.Flatten) else inputs
    modules = modules[1:] if isinstance(modules[0], nn.Flatten) else modules
    if x.ndim != 2:
        return None  # a Linear on (N, ..., features) mixes positions within a sample: not this structure
    N = x.shape[0]
    widths = [m.out_features for m in linears]
    S = sum(widths)
    if N * S * S > _MAX_D_FLOATS:
        return None  # wide layers: the products are the cheaper path in memory
    eps = [x.new_zeros(N, o) for o in widths]

    def loss_of(e: list[Tensor], t: Tensor) -> Tensor:
        return loss_fn(_run(modules, weights, x, e)[0], t)

    gradient = grad(loss_of)
    with torch.no_grad():
        _, layer_inputs = _run(modules, weights, x, eps)
    delta = gradient(eps, targets)

    def split(flat: Tensor) -> list[Tensor]:
        return list(flat.split(widths, dim=-1))

    # T[l] = d(input of Linear l) / d eps: forward mode through the same pass
    def pieces(e: list[Tensor], t: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        return gradient(e, t), _run(modules, weights, x, e)[1][1:]

    # one product per pre-activation unit s, broadcast over the samples: column s holds D_n[:, s] for every n
    basis = torch.eye(S, dtype=dtype, device=device)
    columns, T = vmap(lambda v: jvp_in_first(pieces, eps, split(v.expand(N, S)), targets))(basis)
    D = torch.cat(columns, dim=2).permute(1, 2, 0)  # (N, S, S)
    probe = torch.randn(N, S, dtype=dtype, device=device, generator=torch.Generator(device).manual_seed(0))
    product = torch.cat(jvp_in_first(gradient, eps, split(probe), targets), dim=1)
    expected = torch.einsum("nrs,ns->nr", D, probe)
    scale = float(expected.abs().max()) + float(D.abs().max()) + torch.finfo(dtype).tiny
    if not torch.allclose(product, expected, rtol=0, atol=1e3 * torch.finfo(dtype).eps * scale):
        return None  # the loss couples samples: D is not block diagonal over n

    offsets, start = [], 0
    for m in linears:
        offsets.append(start)
        start += m.weight.numel() + (0 if m.bias is None else m.bias.numel())
    offsets.append(start)
    unit = [0]
    for o in widths:
        unit.append(unit[-1] + o)
    H = torch.zeros(start, start, dtype=dtype, device=device)
    # the lower block triangle (l >= m), rows of layer l: weight (j, i) row-major then bias j, as named_parameters
    for l, (layer, a_l) in enumerate(zip(linears, layer_inputs, strict=True)):
        o_l, i_l, bias = layer.out_features, layer.in_features, layer.bias is not None
        rows = H[offsets[l] : offsets[l + 1]]
        for m in range(l + 1):
            cols, bias_m = slice(offsets[m], offsets[m + 1]), linears[m].bias is not None
            width = offsets[m + 1] - offsets[m]
            weight_rows = rows[: o_l * i_l, cols].view(o_l, i_l, -1)
            # sum_n a~_{l-1,n,i} D_n[j, p] a~_{m-1,n,k}: GEMMs contracting the samples, a group of units j at a time;
            # on a diagonal block the weight rows of units j need only the weight columns p <= j (the rest is mirrored)
            j_step = max(1, _BLOCK_FLOATS // (i_l * width))
            j_step = max(1, min(j_step, o_l // 8)) if m == l else j_step
            for j in range(0, o_l, j_step):
                units = slice(unit[l] + j, unit[l] + min(o_l, j + j_step))
                prefix = (units.stop - unit[l]) * layer.in_features if m == l else width
                for n in _chunks(N, (units.stop - units.start) * width):
                    Y = _columns(D[n, units, unit[m] : unit[m + 1]].transpose(0, 1),
                                 layer_inputs[m][n][None, :, None, :], bias_m)  # (j, n, q)
                    # (j, i, q): the layout of H's rows
                    weight_rows[j : j + j_step, :, :prefix] += torch.bmm(a_l[n].T.expand(Y.shape[0], -1, -1),
                                                                        Y[..., :prefix])
                    if bias:
                        rows[o_l * i_l + j : o_l * i_l + j + Y.shape[0], cols] += Y.sum(dim=1)
            if m == l:
                continue
            # sum_n delta_{l,n,j} d a_{l-1,n,i} / d eps_{m,n,p} a~_{m-1,n,k}: the curvature of layer l's input
            i_step = max(1, _BLOCK_FLOATS // (o_l * width))
            for i in range(0, i_l, i_step):
                inputs_i = slice(i, min(i_l, i + i_step))
                for n in _chunks(N, (inputs_i.stop - inputs_i.start) * width):
                    T_lm = T[l - 1][unit[m] : unit[m + 1], n, inputs_i].permute(1, 2, 0)  # (n, i, p)
                    Z = _columns(T_lm, layer_inputs[m][n][:, None, None, :], bias_m)  # (n, i, q)
                    weight_rows[:, inputs_i] += (delta[l][n].T @ Z.flatten(1)).view(o_l, Z.shape[1], -1)
    return _mirror_lower(H)
