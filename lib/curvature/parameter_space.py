"""The parameter space of a network: the selected parameters as one flat vector theta, and the model as a
function of theta.

Every curvature product, gradient and path in weight space needs the same plumbing: which parameters are
differentiated (names or module prefixes), their shapes, flattening and unflattening, the model evaluated at a
flat vector through ``torch.func.functional_call`` with every other parameter and buffer held fixed, and the
model's training flags set for the evaluation and restored after it. :class:`ParameterSpace` holds that plumbing
once; :func:`flat_parameters` and :func:`training_flags` are its two stateless companions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from lib.curvature.device import default_device

LossFn = Callable[[Tensor, Tensor], Tensor]


def select_parameters(model: nn.Module, params: Sequence[str] | None = None) -> list[str]:
    """Names of the parameters a curvature operator differentiates, in ``model.named_parameters()`` order.

    ``params=None`` selects every parameter with ``requires_grad``; otherwise each entry is a parameter name
    (``"0.weight"``) or a module prefix (``"0"`` selects ``"0.weight"`` and ``"0.bias"``).
    """
    named = dict(model.named_parameters())
    if params is None:
        names = [name for name, p in named.items() if p.requires_grad]
        if not names:
            raise ValueError("the model has no parameter with requires_grad=True to differentiate")
        return names
    if isinstance(params, str):
        raise TypeError("params must be a sequence of parameter names or module prefixes, not a single string")
    chosen: set[str] = set()
    for entry in params:
        hits = [name for name in named if name == entry or name.startswith(entry + ".")]
        if not hits:
            raise ValueError(f"params entry {entry!r} matches no parameter of the model")
        chosen.update(hits)
    frozen = [name for name in chosen if not named[name].requires_grad]
    if frozen:
        raise ValueError(f"selected parameters do not require gradients: {sorted(frozen)}")
    return [name for name in named if name in chosen]


def flat_parameters(model: nn.Module, dtype: torch.dtype = torch.float64) -> Tensor:
    """All parameters of ``model`` concatenated into one detached vector (``model.parameters()`` order), in
    ``dtype``, on the parameters' device."""
    return torch.cat([p.detach().reshape(-1).to(dtype) for p in model.parameters()])


@contextlib.contextmanager
def training_flags(model: nn.Module, training: bool) -> Iterator[None]:
    """Set every submodule's training flag for the duration of the block, then restore each one (a model that
    mixes train- and eval-mode submodules gets its own mixture back)."""
    previous = [(m, m.training) for m in model.modules()]
    for m, _ in previous:
        m.training = training
    try:
        yield
    finally:
        for m, flag in previous:
            m.training = flag


class ParameterSpace:
    """The selected parameters of ``model`` as a flat vector, and the model and a loss as functions of it.

    ``params`` selects parameters by name or module prefix (:func:`select_parameters`; default every trainable
    parameter). The point ``theta`` (``self.point``) and every other parameter and buffer (held fixed) are
    copied to ``device`` (default :func:`lib.curvature.device.default_device`) in ``dtype`` (default: the
    dtype of the first selected parameter; integer buffers keep theirs). The model itself is not modified.
    """

    def __init__(self, model: nn.Module, params: Sequence[str] | None = None, *, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.names = select_parameters(model, params)
        named = dict(model.named_parameters())
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype if dtype is not None else named[self.names[0]].dtype
        if not self.dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point dtype, got {self.dtype}")
        selected = [named[n].detach().to(self.device, self.dtype) for n in self.names]
        self.shapes = [p.shape for p in selected]
        self.sizes = [p.numel() for p in selected]
        self.point = torch.cat([p.reshape(-1) for p in selected])
        chosen = set(self.names)
        fixed = {n: p for n, p in named.items() if n not in chosen}
        fixed.update(dict(model.named_buffers()))
        self.fixed = {n: self.cast(t.detach()) for n, t in fixed.items()}

    @property
    def dim(self) -> int:
        """P, the number of selected parameters."""
        return self.point.numel()

    def covers_model(self) -> bool:
        """True when every parameter of the model is selected."""
        return self.names == [n for n, _ in self.model.named_parameters()]

    def cast(self, t: Tensor) -> Tensor:
        """``t`` on this space's device, in its dtype when floating (integer tensors keep their dtype)."""
        return t.to(self.device, self.dtype if t.is_floating_point() else t.dtype)

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """The flat vector as ``{name: tensor}`` views of the selected parameters' shapes."""
        if flat.ndim != 1 or flat.shape[0] != self.dim:
            raise ValueError(f"expected a parameter vector of length {self.dim}, got shape {tuple(flat.shape)}")
        chunks = flat.split(self.sizes)
        return {n: c.view(s) for n, c, s in zip(self.names, chunks, self.shapes, strict=True)}

    def outputs(self, flat: Tensor, x: Tensor) -> Tensor:
        """The model's outputs on ``x`` with the selected parameters set to ``flat`` (training flags as they are)."""
        return functional_call(self.model, {**self.fixed, **self.unflatten(flat)}, (x,))

    def loss(self, loss_fn: LossFn, flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """``loss_fn(outputs(flat, x), y)``."""
        return loss_fn(self.outputs(flat, x), y)
