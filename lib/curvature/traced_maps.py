"""Linear maps traced once and replayed: v -> A v with everything that does not depend on v computed once.

A curvature product at fixed parameters and data, v -> H_b v, is linear in v, but evaluating it the direct way
(``jvp(grad(L_b))``) recomputes the whole primal pass every time: the forward activations, ReLU masks, pooling
indices, the softmax and the cotangents of the backward pass. Lanczos asks for a hundred products at the same point,
so those are worth computing once. ``trace_linear_map`` records the map as a graph of ATen operations
(``torch.fx.experimental.proxy_tensor.make_fx``), in which every tensor that does not depend on v is a constant,
and folds the constant subgraphs (``torch.fx.experimental.const_fold``); replaying the graph then runs only the
tangent work. This is the construction behind ``torch.func.linearize`` (and ``jax.linearize``), kept explicit here so
that the memory the constants hold can be measured and bounded.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.fx.experimental import const_fold
from torch.fx.experimental.proxy_tensor import make_fx


@dataclass(frozen=True)
class TracedLinearMap:
    """A traced linear map v -> A v (``graph``) and the storages of the constants it owns (``storages``: data
    pointer -> bytes; tensors that live anyway, such as the data and the parameters, are not counted)."""

    graph: nn.Module
    storages: dict[int, int] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes of the storages the map owns."""
        return sum(self.storages.values())

    def __call__(self, v: Tensor) -> Tensor:
        return self.graph(v)


def held_storages(module: nn.Module, external: Iterable[Tensor] = ()) -> dict[int, int]:
    """The distinct tensor storages held by ``module`` and its submodules (attributes, parameters, buffers), as
    data pointer -> bytes, leaving out the storages of ``external`` tensors (which live whether or not the module
    does: the data a map was traced on, the parameters): the memory a traced graph alone keeps alive."""
    skip = {t.untyped_storage().data_ptr() for t in external}
    held: dict[int, int] = {}
    for m in module.modules():
        for value in (*vars(m).values(), *m._parameters.values(), *m._buffers.values()):
            if isinstance(value, Tensor):
                storage = value.untyped_storage()
                if storage.data_ptr() not in skip:
                    held[storage.data_ptr()] = storage.nbytes()
    return held


def trace_linear_map(fn: Callable[[Tensor], Tensor], example: Tensor,
                     external: Iterable[Tensor] = ()) -> TracedLinearMap:
    """Trace ``fn`` (linear in its one tensor argument, shaped like ``example``) and fold its constant parts.

    The folding runs here, once, so that the map's storages are the folded constants and the first replay costs no
    more than the others; storages of the ``external`` tensors are not the map's (see :func:`held_storages`).
    ``fn`` must be traceable by ``make_fx`` (no data-dependent Python control flow).
    """
    with warnings.catch_warnings():
        # const_fold registers the folded tensors itself after warning that it has not yet done so
        warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node", category=UserWarning)
        graph = const_fold.split_const_subgraphs(make_fx(fn)(torch.zeros_like(example)))
        graph.run_folding()
    return TracedLinearMap(graph, held_storages(graph, external))
