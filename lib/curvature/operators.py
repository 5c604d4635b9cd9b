"""Curvature-matrix products of a network's loss: the Hessian H, the Gauss-Newton matrix G and the residual R.

For a model f(x; theta) with P selected parameters and a loss l(f, y) averaged over a dataset of N samples,

    L(theta) = (1/N) sum_b n_b L_b(theta),    L_b = mean loss of batch b (n_b samples),

the operators below multiply a vector (or a P x k matrix of probes, in one pass) by

    H = d^2 L / d theta^2 = G + R,    G = (1/N) sum_n J_n^T H_out,n J_n,    R = (1/N) sum_n sum_c dl/df_c d^2 f_c,

with J_n = df(x_n)/d theta and H_out,n = d^2 l / df^2 (Schraudolph 2002, eq. 6; Papyan 2020, eq. 3). Batches are
weighted by their sample counts, so a short last batch is not over-weighted.

Two back-ends give the same numbers: ``"func"`` (default) is forward-over-reverse through ``torch.func``
(``jvp(grad(L))``, vmapped over the probe columns), ``"autograd"`` is double backward, for layers without
forward-mode AD. With ``"func"`` the operator is linearised (``linearize=True``): on first use the product map
v -> H_b v is traced once for each batch shape, with the batch and v as inputs, and split into a primal pass (what
does not depend on v: activations, ReLU masks, pooling indices, softmax, cotangents) and a tangent pass
(``lib.curvature.traced_maps``, as ``torch.func.linearize`` does). A product runs each batch's primal pass once for
all its columns and the tangent pass once per column; the primal passes (compacted: boolean masks, narrow indices)
are kept between products up to ``linearize_max_bytes`` in all (default: :data:`TRACE_MEMORY_SHARE` of the device's
free memory when the first is kept, so operators made one after the other share what is left), so repeated
products run only the tangent work. Only storage the operator owns counts (not the data or the parameters), and a
batch whose primal pass is predicted not to fit (the kept ones so far, per sample, times its size) recomputes it
for every product instead: memory then does not grow with the data. The operator states its plan once, after its
first pass over the data, when some batch's primal pass is not kept. The first product of an operator pays for one
trace per batch shape.

When ``torch.distributed`` is initialised, batches are shared round-robin across ranks and the products are
all-reduced, so every rank holds the full-data product and algorithms on top run unchanged.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.func import grad, hessian, jvp, vjp, vmap

from lib.curvature.autodiff import jvp_in_first
from lib.curvature.device import free_memory_bytes
from lib.curvature.exact_structured import sequential_hessian
from lib.curvature.parameter_space import LossFn, ParameterSpace, training_flags
from lib.curvature.traced_maps import SplitLinearMap, tensor_storages, trace_split_map

Batch = tuple[Tensor, Tensor]
Data = Batch | Iterable[Batch]
Backend = Literal["func", "autograd"]
# below this many probe columns a batch's product is replayed from its traced map, one column at a time; from it on,
# vmapping the columns through the direct product batches them into matrix-matrix work that pays better (measured on
# the conv-net benchmark, 2-core CPU: equal per column at 10 columns, vmap ahead at 64)
_TRACE_MAX_COLUMNS = 16
#: share of the device's free memory the traced maps of an operator may hold when no budget is given
TRACE_MEMORY_SHARE = 0.25
_RANDOM = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def check_model_mode(model: nn.Module, train_mode: bool) -> None:
    """Refuse models whose loss is not a deterministic function of the parameters in the mode used.

    In training mode BatchNorm mixes the samples of a batch (and updates running statistics) and dropout is random,
    so the "Hessian" is ill-defined; the operators therefore evaluate models in eval mode unless ``train_mode``.
    """
    if not train_mode:
        return
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            raise ValueError(
                f"module {name!r} is a BatchNorm layer: its training-mode Hessian is ill-defined (it couples the "
                "samples of a batch and mutates running statistics); use train_mode=False (eval mode)"
            )
        if isinstance(module, _RANDOM) and module.p > 0:
            raise ValueError(f"module {name!r} is dropout: in training mode the loss is random; use train_mode=False")


def _is_distributed(requested: bool | None) -> bool:
    available = dist.is_available() and dist.is_initialized()
    if requested and not available:
        raise ValueError("distributed=True but torch.distributed is not initialised")
    return available if requested is None else bool(requested)


def _check_batch(batch: object, index: int) -> Batch:
    if not (isinstance(batch, tuple | list) and len(batch) == 2):
        raise TypeError(f"batch {index} is not an (inputs, targets) pair")
    x, y = batch
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        kinds = f"{type(x).__name__}, {type(y).__name__}"
        raise TypeError(f"batch {index}: inputs and targets must be tensors, got {kinds}")
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"batch {index}: inputs {tuple(x.shape)} and targets {tuple(y.shape)} differ in length")
    return x, y


def _batch_signature(x: Tensor, y: Tensor) -> tuple:
    """Shapes and sums of a batch's inputs and targets: equal for the same samples in any order (as is the batch's
    curvature), different for other samples except by coincidence. One pass over the batch, no copy."""
    return (tuple(x.shape), tuple(y.shape), float(x.sum()), float(torch.linalg.vector_norm(x)),
            float(y.sum()), float(torch.linalg.vector_norm(y.double())))


class _CurvatureOperator:
    """Shared machinery: parameter flattening, data iteration, sample weighting, devices and distribution."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Data,
        *,
        params: Sequence[str] | None = None,
        batch_size: int | None = None,
        backend: Backend = "func",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        train_mode: bool = False,
        chunk_size: int | None = None,
        distributed: bool | None = None,
        linearize: bool = True,
        linearize_max_bytes: int | None = None,
    ) -> None:
        self.space = ParameterSpace(model, params, dtype=dtype, device=device)
        if not callable(loss_fn):
            raise TypeError("loss_fn must be callable as loss_fn(outputs, targets) -> scalar")
        if backend not in ("func", "autograd"):
            raise ValueError(f"backend must be 'func' or 'autograd', got {backend!r}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
        check_model_mode(model, train_mode)
        self._model, self._loss_fn, self._backend = model, loss_fn, backend
        self._reduction, self._train_mode, self._chunk_size = reduction, train_mode, chunk_size
        if linearize_max_bytes is not None and linearize_max_bytes < 0:
            raise ValueError(f"linearize_max_bytes must be >= 0, got {linearize_max_bytes}")
        self._linearize = bool(linearize)
        self._linearize_max_bytes = None if linearize_max_bytes is None else int(linearize_max_bytes)
        # batch shapes and dtypes -> the product map traced for them (one trace serves every batch of a shape)
        self._split_maps: dict[tuple, SplitLinearMap] = {}
        # batch index -> (its packed primal pass, signature of the batch it was computed on, the storages it owns)
        self._kept: dict[int, tuple[tuple, tuple, dict[int, int]]] = {}
        self._keep = True  # False once a loader changed its batches: primal passes are recomputed every product
        self._bytes_per_sample = 0.0  # largest kept primal pass so far, per sample: predicts the next one's size
        self._untraced: set[int] = set()  # batches predicted (or found) not to fit the budget
        self._plan_stated = False
        self.param_names = self.space.names
        self._device, self._dtype, self._flat = self.space.device, self.space.dtype, self.space.point
        self._distributed = _is_distributed(distributed)
        self._data = self._prepare_data(data, batch_size)
        self.num_samples, self.loss = self._count_and_check()

    # ---- public interface -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(P, P), P the number of selected parameters."""
        return (self._flat.numel(), self._flat.numel())

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the products (and of the parameter copy they are taken at)."""
        return self._dtype

    @property
    def device(self) -> torch.device:
        """Device the products are computed on."""
        return self._device

    @property
    def parameters(self) -> Tensor:
        """The flattened selected parameters theta at which the curvature is taken (a copy)."""
        return self._flat.clone()

    def matvec(self, v: Tensor) -> Tensor:
        """Product with one vector of length P; returns a length-P tensor of the operator's dtype and device."""
        v = torch.as_tensor(v)
        if v.shape != (self.shape[0],):
            raise ValueError(f"matvec expects a vector of shape ({self.shape[0]},), got {tuple(v.shape)}")
        return self.matmat(v[:, None])[:, 0]

    def matmat(self, V: Tensor) -> Tensor:
        """Product with a P x k matrix of probes in one pass over the data; returns P x k."""
        V = torch.as_tensor(V)
        if V.ndim != 2 or V.shape[0] != self.shape[0]:
            raise ValueError(f"matmat expects a matrix of shape ({self.shape[0]}, k), got {tuple(V.shape)}")
        V = V.to(self._device, self._dtype)
        out = torch.zeros_like(V)
        with training_flags(self._model, self._train_mode):
            for index, (weight, x, y) in enumerate(self.weighted_batches()):
                out.add_(self._batch_product(index, x, y, V), alpha=weight)
        if self._distributed:
            dist.all_reduce(out)
        if not self._plan_stated and self._linearize and V.shape[1] < _TRACE_MAX_COLUMNS:
            self._plan_stated = True
            if self._untraced:
                print(f"{type(self).__name__}: {self.product_plan}", file=sys.stderr)
        return out

    @property
    def product_plan(self) -> str:
        """How the products run: the traced maps, whose primal passes are kept within which budget, and that the
        others are recomputed once per product (shared by its columns)."""
        if not self._linearize:
            return "direct products (not traced)"
        total = len(self._kept) + len(self._untraced)
        budget = "no budget set yet" if self._linearize_max_bytes is None else \
            f"a budget of {self._linearize_max_bytes / 2**20:,.0f} MiB"
        maps = len(self._split_maps)
        held = f"{self.traced_bytes / 2**20:,.1f} MiB of {budget}"
        plan = f"{maps} traced map{'s' if maps != 1 else ''} (one per batch shape); primal passes kept for "
        if not self._untraced:
            return plan + ("the one batch" if total == 1 else f"all {total} batches") + f" ({held})"
        return plan + (f"{len(self._kept)} of {total} batches ({held}), recomputed once per product, for all its "
                       f"vectors, for the other {len(self._untraced)}")

    @property
    def model(self) -> nn.Module:
        """The network the curvature is taken of."""
        return self._model

    @property
    def loss_fn(self) -> LossFn:
        """The loss, called as ``loss_fn(outputs, targets)`` on each batch."""
        return self._loss_fn

    @property
    def backend(self) -> Backend:
        """``"func"`` (forward-over-reverse) or ``"autograd"`` (double backward)."""
        return self._backend

    def whole_model_local(self) -> bool:
        """True when every parameter is selected, the model runs in eval mode and no data is sharded across ranks:
        the conditions under which a dense matrix may be assembled from the model's structure instead of products."""
        return self.space.covers_model() and not self._train_mode and not self._distributed

    def weighted_batches(self) -> Iterator[tuple[float, Tensor, Tensor]]:
        """(weight, inputs, targets) per local batch, cast to the operator's dtype and device, with the weights
        that turn batch losses into the full-data loss: n_b / N for ``reduction="mean"``, 1 / N for ``"sum"``."""
        for x, y in self._local_batches():
            yield (x.shape[0] if self._reduction == "mean" else 1) / self.num_samples, x, y

    def ggn_rank_bound(self) -> int:
        """min(P, sum_n rank H_out,n): rank(J^T H_out J) <= rank(H_out), summed over the samples.

        H_out,n = d^2 l(f_n, y_n) / df_n^2 is taken per sample (``loss_fn`` on a batch of one), in float64, and its
        rank counts eigenvalues above 1e-12 times the batch's largest: C - 1 for softmax cross-entropy with C
        classes, C for squared error. (A per-sample relative tolerance would count the round-off of the exact null
        vector of a confident sample, whose H_out is tiny.) It bounds rank(G); rank(H) only when R = 0.
        """
        total = torch.zeros((), dtype=torch.float64, device=self._device)
        with torch.no_grad(), training_flags(self._model, self._train_mode):
            for x, y in self._local_batches():
                out = self._outputs(self._flat, x).double()
                per_sample = hessian(lambda o, t: self._loss_fn(o[None], t[None]))
                blocks = vmap(per_sample)(out, y).reshape(out.shape[0], out[0].numel(), out[0].numel())
                eigenvalues = torch.linalg.eigvalsh(blocks).abs()
                total += (eigenvalues > 1e-12 * eigenvalues.max()).sum()
        if self._distributed:
            dist.all_reduce(total)
        return min(self.shape[0], int(total.item()))

    def activation_numel(self) -> int:
        """Floats output by the model's leaf modules on its largest batch: the memory one probe column needs."""
        counts: list[int] = []
        hooks = [m.register_forward_hook(lambda _m, _i, o: counts.append(o.numel()) if isinstance(o, Tensor) else None)
                 for m in self._model.modules() if not list(m.children())]
        largest = 0
        try:
            with torch.no_grad(), training_flags(self._model, self._train_mode):
                for x, _ in self._local_batches():
                    counts.clear()
                    self._outputs(self._flat, x)
                    largest = max(largest, sum(counts))
        finally:
            for hook in hooks:
                hook.remove()
        return largest

    def __matmul__(self, other: Tensor) -> Tensor:
        return self.matvec(other) if torch.as_tensor(other).ndim == 1 else self.matmat(other)

    # ---- pieces used by the products ---------------------------------------------------------------------------
    def _cast(self, t: Tensor) -> Tensor:
        return self.space.cast(t)

    def _outputs(self, flat: Tensor, x: Tensor) -> Tensor:
        return self.space.outputs(flat, x)

    def _loss(self, flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return self.space.loss(self._loss_fn, flat, x, y)

    def _prepare_data(self, data: Data, batch_size: int | None) -> Sequence[Batch] | Iterable[Batch]:
        if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, Tensor) for t in data):
            x, y = _check_batch(data, 0)
            if x.shape[0] == 0:
                raise ValueError("the dataset is empty")
            size = x.shape[0] if batch_size is None else batch_size
            if size < 1:
                raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
            # tensors are moved once; iterables are moved batch by batch when used
            x, y = self._cast(x), y.to(self._device)
            return list(zip(x.split(size), y.split(size), strict=True))
        if batch_size is not None:
            raise ValueError("batch_size applies to an (inputs, targets) pair; an iterable brings its own batches")
        if not isinstance(data, Iterable):
            raise TypeError(f"data must be an (inputs, targets) pair of tensors or an iterable of them, not {data!r}")
        # a one-shot iterator would be exhausted after the first product: keep its batches
        return list(data) if iter(data) is data else data

    def _local_batches(self) -> Iterator[Batch]:
        rank, world = (dist.get_rank(), dist.get_world_size()) if self._distributed else (0, 1)
        for index, batch in enumerate(self._data):
            if index % world == rank:
                x, y = _check_batch(batch, index)
                yield self._cast(x), y.to(self._device)

    def _count_and_check(self) -> tuple[int, float]:
        """Count the samples and evaluate the full-data loss once, refusing empty data and non-finite losses."""
        count, total = 0, 0.0
        with torch.no_grad(), training_flags(self._model, self._train_mode):
            for x, y in self._local_batches():
                loss = self._loss(self._flat, x, y)
                if loss.ndim != 0:
                    raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
                count += x.shape[0]
                total += (x.shape[0] if self._reduction == "mean" else 1) * float(loss)
        if self._distributed:
            both = torch.tensor([count, total], dtype=torch.float64, device=self._device)
            dist.all_reduce(both)
            count, total = int(both[0].item()), float(both[1].item())
        if count == 0:
            raise ValueError("the dataset is empty")
        if not torch.isfinite(torch.tensor(total)):
            raise ValueError(f"the loss at the given parameters is not finite ({total / count}); no curvature exists")
        return count, total / count

    def _vmapped(self, fn: Callable[[Tensor], Tensor], V: Tensor) -> Tensor:
        if V.shape[1] == 1:
            return fn(V[:, 0])[:, None]
        return vmap(fn, in_dims=1, out_dims=1, chunk_size=self._chunk_size)(V)

    def _batch_product(self, index: int, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        """This batch's matrix times V: the traced tangent pass a column, after the batch's primal pass (kept from
        an earlier product or run once for all the columns), for a few columns; vmapped through the direct
        product for many (where batching the columns pays better than skipping the primal pass)."""
        if self._backend == "autograd":
            return self._autograd_product(x, y, V)
        split = self._split_map(x, y) if V.shape[1] < _TRACE_MAX_COLUMNS else None
        if split is not None:
            return split.apply(self._primal(index, split, x, y), V)
        return self._vmapped(self._vector_product(x, y), V)

    def _split_map(self, x: Tensor, y: Tensor) -> SplitLinearMap | None:
        """The product map traced for batches shaped like (x, y): traced once (per batch shape) on first use."""
        if not self._linearize:
            return None
        key = (tuple(x.shape), x.dtype, tuple(y.shape), y.dtype)
        if key not in self._split_maps:
            try:
                self._split_maps[key] = trace_split_map(
                    lambda xb, yb, v: self._vector_product(xb, yb)(v), (x, y), self._flat,
                    external=[self._flat, *self._model.parameters(), *self._model.buffers()])
            except Exception as error:  # tracing is an optimisation: a model it cannot trace keeps direct products
                warnings.warn(f"products are not traced ({error!r}); using direct products", stacklevel=5)
                self._linearize = False
                self._split_maps.clear()
                self._kept.clear()
                return None
        return self._split_maps[key]

    def _primal(self, index: int, split: SplitLinearMap, x: Tensor, y: Tensor) -> tuple:
        """The packed boundary tensors of local batch ``index``: kept from an earlier product while the memory
        budget lasts, else computed here (once for all the columns of this product) and dropped after it.

        A kept primal pass is reused only for the batch it was computed on: each batch's signature (shapes and
        sums, which a reordering of its samples keeps, as it keeps the batch's curvature) is compared with the kept
        one. A loader whose batches change between passes (shuffling, sampling with replacement, ``drop_last``
        with shuffling) gets a warning, and its primal passes are recomputed for every product from then on."""
        if index in self._kept:
            packed, kept_on, _ = self._kept[index]
            if kept_on == _batch_signature(x, y):
                return packed
            warnings.warn(f"batch {index} differs from the batch its primal pass was kept for (a shuffled or "
                          "sampling loader?); kept primal passes are dropped and recomputed for every product from "
                          "now on: pass the same batches in the same order to reuse them", stacklevel=5)
            self._keep = False
            self._kept.clear()
        if not self._keep or index in self._untraced:
            return split.boundary(x, y)
        if self._linearize_max_bytes is None:  # sized when the first batch is kept, from what is free then
            self._linearize_max_bytes = int(TRACE_MEMORY_SHARE * free_memory_bytes(self._device))
        if self.traced_bytes + self._bytes_per_sample * x.shape[0] > self._linearize_max_bytes:
            self._untraced.add(index)  # predicted not to fit: not kept
            return split.boundary(x, y)
        packed = split.boundary(x, y)
        owned = tensor_storages(packed, [x, y, self._flat, *self._model.parameters(), *self._model.buffers()])
        self._kept[index] = (packed, _batch_signature(x, y), owned)
        self._bytes_per_sample = max(self._bytes_per_sample, sum(owned.values()) / x.shape[0])
        if self.traced_bytes > self._linearize_max_bytes:  # the first batch, or a prediction that fell short
            del self._kept[index]
            self._untraced.add(index)
        return packed

    @property
    def traced_batches(self) -> int:
        """Number of local batches whose primal pass is kept between products (the others recompute it, once per
        product for all its columns)."""
        return len(self._kept)

    @property
    def traced_bytes(self) -> int:
        """Memory held between products, in bytes: the distinct storages of the kept primal passes and of the
        traced maps' constants (storages shared by several counted once; the data and the parameters not at all)."""
        held: dict[int, int] = {}
        for split in self._split_maps.values():
            held.update(split.storages)
        for _, _, owned in self._kept.values():
            held.update(owned)
        return sum(held.values())

    def structured_matrix(self) -> Tensor | None:
        """The dense matrix from the model's structure, batch-weighted like the products, or ``None`` where this
        curvature has no structured path (the default; :class:`HessianOperator` has one)."""
        return None


    def _vector_product(self, x: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
        """v -> (this batch's matrix) v through torch.func, for one vector; the primal work done once here is
        shared by every column a vmap sends through it."""
        raise NotImplementedError

    def _autograd_product(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        raise NotImplementedError


class HessianOperator(_CurvatureOperator):
    """The loss Hessian H as a matrix-free operator (see the module docstring for the definition and options).

    Arguments: ``model``; ``loss_fn(outputs, targets)`` returning the batch MEAN (``reduction="mean"``, the
    default of ``torch.nn`` losses) or SUM (``reduction="sum"``); ``data``: an ``(inputs, targets)`` pair (split
    into consecutive batches of ``batch_size``, default one batch) or a re-iterable of such pairs (a DataLoader
    without shuffling: a batch's traced map is reused on every later pass).
    Keywords: ``params`` (names or module prefixes, for layer-wise or block spectra), ``backend`` ("func" or
    "autograd"), ``dtype`` (default the model's; float64 copies the parameters), ``device`` (default
    ``lib.curvature.device.default_device()``), ``train_mode`` (default False: the model is evaluated in eval mode),
    ``chunk_size`` (probe columns vmapped at once), ``distributed`` (default: on when torch.distributed is up),
    ``linearize`` (default True: trace each batch's product map once and replay it, see the module docstring) and
    ``linearize_max_bytes`` (memory the traced maps may hold; ``traced_bytes`` reports what they hold).
    """

    def structured_matrix(self) -> Tensor | None:
        """H from the second-order structure of a Linear + elementwise-activation network
        (``lib.curvature.exact_structured``), or ``None`` where that path does not apply: parameter subsets,
        train mode, sharded data, the "autograd" back-end, models or losses without the structure."""
        if self.backend != "func" or not self.whole_model_local():
            return None
        total = None
        for weight, x, y in self.weighted_batches():
            H = sequential_hessian(self.model, self.loss_fn, x, y)
            if H is None:
                return None
            if weight != 1.0:
                H.mul_(weight)
            total = H if total is None else total.add_(H)
        return total

    def _vector_product(self, x: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
        gradient = grad(lambda p, t: self._loss(p, x, t))
        return lambda v: jvp_in_first(gradient, self._flat, v, y)

    def _autograd_product(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        p = self._flat.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self._loss(p, x, y), p, create_graph=True)
            cols = [torch.autograd.grad(g, p, v, retain_graph=True)[0] for v in V.T]
        return torch.stack(cols, dim=1)


class GGNOperator(_CurvatureOperator):
    """The generalised Gauss-Newton matrix G = (1/N) sum_n J_n^T H_out,n J_n; same arguments as HessianOperator."""

    def _vector_product(self, x: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
        forward = lambda p: self._outputs(p, x)  # noqa: E731
        out, pullback = vjp(forward, self._flat)
        loss_gradient = grad(self._loss_fn)

        def column(v: Tensor) -> Tensor:
            jv = jvp(forward, (self._flat,), (v,))[1]
            return pullback(jvp_in_first(loss_gradient, out, jv, y))[0]

        return column

    def _autograd_product(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        p = self._flat.detach().requires_grad_(True)
        with torch.enable_grad():
            out = self._outputs(p, x)
            dummy = torch.zeros_like(out, requires_grad=True)
            (jt_dummy,) = torch.autograd.grad(out, p, dummy, create_graph=True)  # J^T u, linear in u
            o = out.detach().requires_grad_(True)
            (dl,) = torch.autograd.grad(self._loss_fn(o, y), o, create_graph=True)
            cols = []
            for v in V.T:
                (jv,) = torch.autograd.grad(jt_dummy, dummy, v, retain_graph=True)  # the double-vjp trick: J v
                (hjv,) = torch.autograd.grad(dl, o, jv, retain_graph=True)
                cols.append(torch.autograd.grad(out, p, hjv, retain_graph=True)[0])
        return torch.stack(cols, dim=1)


class ResidualOperator(_CurvatureOperator):
    """The residual R = H - G = (1/N) sum_n sum_c dl/df_c d^2 f_c (zero for models linear in the parameters)."""

    # composed from the two curvatures' own products, on this operator's parameters and data
    def _vector_product(self, x: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
        hessian_vector = HessianOperator._vector_product(self, x, y)
        ggn_vector = GGNOperator._vector_product(self, x, y)
        return lambda v: hessian_vector(v) - ggn_vector(v)

    def _autograd_product(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        return HessianOperator._autograd_product(self, x, y, V) - GGNOperator._autograd_product(self, x, y, V)
