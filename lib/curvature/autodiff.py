"""Forward-mode derivatives shared by the curvature products and the structured exact Hessian."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import jvp


def jvp_in_first(fn: Callable[[Any, Tensor], Any], primal: Any, tangent: Any, y: Tensor) -> Any:
    """Directional derivative of ``fn(primal, y)`` in its first argument, along ``tangent`` (tensors or matching
    pytrees of tensors, as ``torch.func.jvp`` takes them).

    Floating targets get an explicit zero tangent: without it, forward-mode AD through ``mse_loss``'s backward
    writes into an immutable ZeroTensor ("ZeroTensors are immutable", torch 2.x). Class labels are closed over.
    """
    if y.is_floating_point():
        return jvp(fn, (primal, y), (tangent, torch.zeros_like(y)))[1]
    return jvp(lambda p: fn(p, y), (primal,), (tangent,))[1]
