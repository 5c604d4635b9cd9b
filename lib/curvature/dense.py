"""Dense curvature matrices of networks: exact Hessians and GGNs assembled from the operators of
``lib.curvature.operators``, and the "batch Hessian" ensemble of paper 1 (Baskerville et al. 2022, section 3: one
exact spectrum per consecutive
batch of a dataset).

Dense Hessians of sequential Linear + elementwise-activation networks come from their second-order structure
(``lib.curvature.exact_structured``); other dense matrices are assembled column block by column block from the
operators' matrix products, H[:, S] = H E_S. For the whole model in eval mode only the lower block triangle is
computed: the columns of parameter tensor t are products of the operator restricted to tensors t, t+1, ...
(every earlier tensor held fixed), so in a network whose parameters are registered in forward order the tangents
start at layer t and the backward pass stops there; the upper triangle is its mirror image. Every matrix is made
exactly symmetric before ``torch.linalg.eigvalsh``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from lib.curvature.operators import (
    Backend,
    GGNOperator,
    HessianOperator,
    LossFn,
    ResidualOperator,
)

__all__ = [
    "BatchSpectra",
    "batch_hessian_spectra",
    "dense_matrix",
    "exact_ggn",
    "exact_hessian",
    "paper_batch_spectra",
]

Curvature = Literal["hessian", "ggn", "residual"]
_OPERATORS = {"hessian": HessianOperator, "ggn": GGNOperator, "residual": ResidualOperator}
# memory for the probe columns of one block when a dense matrix is assembled: blocks large enough to turn the
# products into matrix-matrix work, small enough to bound the tangent activations (block x samples x width)
_BLOCK_BYTES = 2**30


def _auto_block(op: HessianOperator | GGNOperator | ResidualOperator) -> int:
    """Columns per block: ``_BLOCK_BYTES`` over a column's memory (tangent activations, forward and backward,
    and a few P-vectors)."""
    itemsize = torch.finfo(op.dtype).bits // 8
    per_column = itemsize * (4 * op.activation_numel() + 3 * op.shape[0])
    return int(max(16, min(op.shape[0], _BLOCK_BYTES // per_column)))


def dense_matrix(op: HessianOperator | GGNOperator | ResidualOperator, block: int | None = None) -> Tensor:
    """Assemble the P x P matrix of a curvature operator.

    Returns an exactly symmetric matrix in the operator's dtype and on its device. The Hessian of a
    sequential Linear + elementwise-activation network under a per-sample loss comes from its second-order
    structure in a few GEMMs (``lib.curvature.exact_structured``: several times faster than
    ``torch.func.hessian``); every
    other case from products with blocks of identity columns, H[:, S] = H E_S, ``block`` columns per pass
    (default: as many as fit in about 1 GiB of tangents): with the ``"func"`` back-end, every parameter selected,
    eval mode and local data, only the lower block triangle, each tensor's columns from the operator restricted
    to the tensors from it on (see :func:`_lower_triangle`), then mirrored; otherwise the full columns, then
    (M + M^T)/2.
    """
    if block is not None and int(block) < 1:
        raise ValueError(f"block must be a positive integer, got {block}")
    structured = op.structured_matrix()
    if structured is not None:
        return structured
    if op.backend == "func" and op.whole_model_local():
        return _lower_triangle(op, block)
    size = op.shape[0]
    block = _auto_block(op) if block is None else int(block)
    matrix = torch.empty(size, size, dtype=op.dtype, device=op.device)
    for start in range(0, size, block):
        stop = min(size, start + block)
        matrix[:, start:stop] = op.matmat(_identity_columns(size, start, stop, op))
    matrix.add_(matrix.T.clone()).mul_(0.5)
    return matrix


def _identity_columns(size: int, start: int, stop: int, op: HessianOperator | GGNOperator | ResidualOperator) -> Tensor:
    """Columns ``start:stop`` of the size x size identity, in the operator's dtype and on its device."""
    basis = torch.zeros(size, stop - start, dtype=op.dtype, device=op.device)
    basis[start:stop].fill_diagonal_(1.0)
    return basis


def _lower_triangle(op: HessianOperator | GGNOperator | ResidualOperator, block: int | None) -> Tensor:
    """The matrix of ``op`` (every parameter, eval mode, local data) from its lower block triangle.

    A second derivative d^2 L / dtheta_r dtheta_c does not change when the parameters outside {r, c} are held
    fixed, so the rows r >= first(c) of column c, first(c) the first entry of c's parameter tensor, are column
    c - first(c) of the same curvature taken over the tensors from c's on (an operator of ``op``'s type with
    ``params`` those tensors, per batch, weighted as ``op`` weights it). Those products carry no tangent through
    the layers before c's tensor and stop their backward pass at it. Entries r >= c are kept and mirrored.
    """
    size, names = op.shape[0], op.param_names
    first = np.concatenate([[0], np.cumsum(op.space.sizes)])  # first[t]: where tensor t starts
    matrix = torch.zeros(size, size, dtype=op.dtype, device=op.device)
    for weight, x, y in op.weighted_batches():
        tails: dict[int, HessianOperator | GGNOperator | ResidualOperator] = {}
        start = 0
        while start < size:
            t = int(np.searchsorted(first, start, side="right")) - 1  # the tensor that column ``start`` lies in
            if t not in tails:  # a single batch of the loss as returned, linear products (no tracing for a few)
                tails[t] = type(op)(op.model, op.loss_fn, (x, y), params=names[t:], dtype=op.dtype,
                                    device=op.device, distributed=False, linearize=False)
            offset = int(first[t])
            stop = min(size, start + (_auto_block(tails[t]) if block is None else int(block)))
            columns = _identity_columns(size - offset, start - offset, stop - offset, op)
            matrix[offset:, start:stop].add_(tails[t].matmat(columns), alpha=weight)
            start = stop
    lower = matrix.tril_()
    return lower.add_(lower.tril(-1).T)


def _exact(
    kind: Curvature,
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Tensor,
    targets: Tensor,
    dtype: torch.dtype,
    params: Sequence[str] | None,
    backend: Backend,
    block: int | None,
    device: torch.device | str | None,
) -> Tensor:
    op = _OPERATORS[kind](
        model, loss_fn, (inputs, targets), params=params, backend=backend, dtype=dtype, device=device, distributed=False
    )
    return dense_matrix(op, block)


def exact_hessian(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Tensor,
    targets: Tensor,
    dtype: torch.dtype = torch.float64,
    *,
    params: Sequence[str] | None = None,
    backend: Backend = "func",
    block: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The exact P x P Hessian of the mean loss ``loss_fn(model(inputs), targets)`` w.r.t. the selected parameters.

    Computed in ``dtype`` (float64 by default: paper 1 used float32, whose round-off fills the null space, see
    Baskerville et al. 2022 and chapter 02), with the model in eval mode, on ``device`` (default
    ``lib.curvature.device.default_device()``). Memory is P^2 entries: keep P to a few times 10^4. With the default
    ``backend="func"`` and every parameter selected, a Linear + elementwise-activation ``nn.Sequential`` under a
    per-sample loss takes the structured path of ``lib.curvature.exact_structured`` (GEMMs over the samples); any other
    model, loss or option is assembled from Hessian-vector products (``dense_matrix``).
    """
    return _exact("hessian", model, loss_fn, inputs, targets, dtype, params, backend, block, device)


def exact_ggn(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Tensor,
    targets: Tensor,
    dtype: torch.dtype = torch.float64,
    *,
    params: Sequence[str] | None = None,
    backend: Backend = "func",
    block: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The exact P x P generalised Gauss-Newton matrix G = (1/N) sum_n J_n^T H_out,n J_n (same options)."""
    return _exact("ggn", model, loss_fn, inputs, targets, dtype, params, backend, block, device)


@dataclass(frozen=True)
class BatchSpectra:
    """Exact spectra of the curvature of consecutive batches, with the GGN rank bound of each batch.

    ``eigenvalues[i]`` holds the P ascending eigenvalues of batch i, ``batch_sizes[i]`` its sample count, and
    ``rank_bounds[i]`` = min(P, sum_n rank H_out,n) over its samples: rank(J^T H_out J) <= rank(H_out). It bounds
    the rank of the GGN always, and of the Hessian when the model is linear in the parameters (R = 0, e.g.
    softmax regression: b (C - 1)); eigenvalues beyond it are round-off in the null space.
    """

    eigenvalues: np.ndarray
    batch_sizes: np.ndarray
    rank_bounds: np.ndarray
    curvature: str
    dtype: str

    def __len__(self) -> int:
        return len(self.eigenvalues)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.eigenvalues[index]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.eigenvalues)


def _batch_spectra(spectra: list[np.ndarray], sizes: list[int], bounds: list[int], curvature: str,
                   dtype: torch.dtype) -> BatchSpectra:
    """The per-batch spectra, batch sizes and rank bounds collected by a loop over batches, as one record."""
    return BatchSpectra(eigenvalues=np.stack(spectra), batch_sizes=np.asarray(sizes), rank_bounds=np.asarray(bounds),
                        curvature=curvature, dtype=str(dtype).removeprefix("torch."))


def batch_hessian_spectra(
    model: nn.Module,
    loss_fn: LossFn,
    dataset: tuple[Tensor, Tensor],
    batch_size: int,
    *,
    curvature: Curvature = "hessian",
    dtype: torch.dtype = torch.float64,
    params: Sequence[str] | None = None,
    max_batches: int | None = None,
    drop_last: bool = False,
    backend: Backend = "func",
    block: int | None = None,
    device: torch.device | str | None = None,
) -> BatchSpectra:
    """One exact eigenvalue array per consecutive batch of ``dataset`` (paper 1's "batch Hessians", unshuffled).

    ``curvature`` picks the Hessian, the GGN or the residual; ``max_batches`` keeps the first batches only;
    ``drop_last`` drops a short last batch. Each batch's matrix is the Hessian of its MEAN loss.
    """
    if not (isinstance(dataset, tuple | list) and len(dataset) == 2):
        raise TypeError("dataset must be an (inputs, targets) pair of tensors")
    inputs, targets = dataset
    if curvature not in _OPERATORS:
        raise ValueError(f"curvature must be one of {sorted(_OPERATORS)}, got {curvature!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs ({inputs.shape[0]}) and targets ({targets.shape[0]}) differ in length")
    starts = list(range(0, inputs.shape[0], batch_size))
    if drop_last and starts and inputs.shape[0] - starts[-1] < batch_size:
        starts.pop()
    if max_batches is not None:
        starts = starts[:max_batches]
    if not starts:
        raise ValueError("the dataset holds no batch of the requested size")
    spectra, sizes, bounds = [], [], []
    for start in starts:
        x, y = inputs[start : start + batch_size], targets[start : start + batch_size]
        op = _OPERATORS[curvature](
            model, loss_fn, (x, y), params=params, backend=backend, dtype=dtype, device=device, distributed=False
        )
        spectra.append(torch.linalg.eigvalsh(dense_matrix(op, block)).cpu().numpy())
        sizes.append(x.shape[0])
        bounds.append(op.ggn_rank_bound())
    return _batch_spectra(spectra, sizes, bounds, curvature, dtype)


def _flat_grad(output: Tensor, params: Sequence[Tensor], **kwargs: bool) -> Tensor:
    """d output / d params, flattened (zeros where ``output`` does not depend on a parameter)."""
    if not output.requires_grad:
        return torch.zeros(sum(p.numel() for p in params), dtype=output.dtype, device=output.device)
    grads = torch.autograd.grad(output, params, allow_unused=True, **kwargs)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for g, p in zip(grads, params, strict=True)])


def paper_batch_spectra(
    model: nn.Module,
    loss_fn: LossFn,
    dataset: tuple[Tensor, Tensor],
    batch_size: int,
    *,
    curvature: Literal["hessian", "ggn"] = "hessian",
    max_batches: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> BatchSpectra:
    """Batch spectra computed the way paper 1's released scripts computed them (Baskerville et al. 2022; GadamX
    ``rmt/get_exact_hessian_spectra.py`` and ``get_exact_ggn_spectra.py``), for comparison with
    ``batch_hessian_spectra``.

    * Hessian: of the SUMMED batch loss b * mean loss (not the mean), in ``dtype`` (float32 by default, the paper's
      precision): one ``torch.autograd.grad(create_graph=True)`` for the gradient g, then row i of the dense matrix
      is ``torch.autograd.grad(g_i, theta)`` (double backprop, one pass per parameter); the rows are NOT
      symmetrised.
    * GGN (single-output models): G = (1/b) sum_n J_n J_n^T with J_n = d f(x_n) / d theta, no factor b.
    * Eigenvalues: ``numpy.linalg.eigvalsh`` of the matrix in ``dtype`` (LAPACK ``syevd``), which reads the lower
      triangle only (``UPLO="L"``), so an unsymmetrised matrix is diagonalised as its lower triangle mirrored.

    ``rank_bounds`` are those of ``batch_hessian_spectra`` (the GGN rank bound of each batch). Cost: P backward
    passes per batch; keep P to a few thousand on a CPU.
    """
    inputs, targets = dataset
    if curvature not in ("hessian", "ggn"):
        raise ValueError(f"curvature must be 'hessian' or 'ggn', got {curvature!r}")
    model = copy.deepcopy(model).to(dtype).eval()
    params = [p for p in model.parameters() if p.requires_grad]
    starts = list(range(0, inputs.shape[0], batch_size))[:max_batches]
    spectra, sizes, bounds = [], [], []
    for start in starts:
        x = inputs[start : start + batch_size].to(params[0].device, dtype)
        y = targets[start : start + batch_size].to(params[0].device)
        y = y.to(dtype) if y.is_floating_point() else y
        if curvature == "hessian":
            loss = loss_fn(model(x), y) * x.shape[0]
            g = _flat_grad(loss, params, create_graph=True)
            matrix = torch.stack([_flat_grad(g[i], params, retain_graph=True) for i in range(g.numel())])
        else:
            out = model(x).reshape(x.shape[0], -1)
            if out.shape[1] != 1:
                raise ValueError("paper 1's GGN script handles single-output models only")
            jac = torch.stack([_flat_grad(out[n, 0], params, retain_graph=True) for n in range(x.shape[0])])
            matrix = jac.T @ jac / x.shape[0]
        spectra.append(np.linalg.eigvalsh(matrix.detach().cpu().numpy()))
        op = HessianOperator(model, loss_fn, (x.double(), y.double() if y.is_floating_point() else y),
                             dtype=torch.float64, distributed=False)
        sizes.append(x.shape[0])
        bounds.append(op.ggn_rank_bound())
    return _batch_spectra(spectra, sizes, bounds, curvature, dtype)
