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
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.fx.experimental import const_fold
from torch.fx.experimental.proxy_tensor import make_fx


@dataclass(frozen=True)
class TracedLinearMap:
    """A traced linear map v -> A v (``graph``) and the bytes of the constant tensors it holds (``nbytes``)."""

    graph: nn.Module
    nbytes: int

    def __call__(self, v: Tensor) -> Tensor:
        return self.graph(v)


def held_bytes(module: nn.Module) -> int:
    """Bytes of the distinct tensor storages held by ``module`` and its submodules (attributes, parameters,
    buffers): the memory a traced graph keeps alive."""
    seen: set[int] = set()
    total = 0
    for m in module.modules():
        for value in (*vars(m).values(), *m._parameters.values(), *m._buffers.values()):
            if isinstance(value, Tensor):
                storage = value.untyped_storage()
                if storage.data_ptr() not in seen:
                    seen.add(storage.data_ptr())
                    total += storage.nbytes()
    return total


def trace_linear_map(fn: Callable[[Tensor], Tensor], example: Tensor) -> TracedLinearMap:
    """Trace ``fn`` (linear in its one tensor argument, shaped like ``example``) and fold its constant parts.

    The folding runs here, once, so that ``nbytes`` counts the folded constants and the first replay costs no more
    than the others. ``fn`` must be traceable by ``make_fx`` (no data-dependent Python control flow).
    """
    with warnings.catch_warnings():
        # const_fold registers the folded tensors itself after warning that it has not yet done so
        warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node", category=UserWarning)
        graph = const_fold.split_const_subgraphs(make_fx(fn)(torch.zeros_like(example)))
        graph.run_folding()
    return TracedLinearMap(graph, held_bytes(graph))
