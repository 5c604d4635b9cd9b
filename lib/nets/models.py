"""The papers' model zoo and generic builders, every model an ``nn.Sequential`` ending in its output layer.

Paper 1 (Baskerville, Granziol & Keating 2022, arXiv:2102.06740; the authors' ``GadamX/curvature/models``):
softmax regression, ``MLP`` 784-10-100-10, ``MLP_deep`` 784-10-100-100-10, ``LeNet-small`` (conv 6 and 16
channels 5x5, max-pool, then 35-50-C) and the Bike regression MLP 13-100-100-50-1, all ReLU.
Paper 2 (Granziol 2020, arXiv:2006.07721; ``GadamX/curvature/models/vgg.py``): VGG-16 without BatchNorm and
with a dropout classifier. Plus a small ResNet.

Because every model is an ``nn.Sequential`` whose last module is the output ``nn.Linear``, ``model[:-1]`` is
the penultimate-layer feature map (used by ``lib.nets.data``'s ``deep_features``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
_VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                     512, 512, 512, "M", 512, 512, 512, "M")


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def _positive_ints(values: Sequence[int], what: str) -> list[int]:
    out = [int(v) for v in values]
    if any(v < 1 or v != w for v, w in zip(out, values, strict=True)):
        raise ValueError(f"{what} must be positive integers, got {list(values)!r}")
    return out


def _scaled(width: float, base: int) -> int:
    """``base`` hidden units times the width multiplier, at least 1."""
    if not width > 0:
        raise ValueError(f"width multiplier must be positive, got {width!r}")
    return max(1, round(base * width))


def mlp(widths: Sequence[int], activation: str = "relu", *, bias: bool = True) -> nn.Sequential:
    """Fully connected net ``widths[0] -> widths[1] -> ... -> widths[-1]``, inputs flattened first.

    ``activation`` follows every layer but the last; ``mlp([784, 10])`` is softmax (logistic) regression.
    """
    widths = _positive_ints(widths, "widths")
    _activation(activation)  # reject an unknown name even when no hidden layer uses it
    if len(widths) < 2:
        raise ValueError(f"an MLP needs at least input and output widths, got {widths!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out, bias=bias))
        if i < len(widths) - 2:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def _conv_out(size: int, kernel: int, padding: int) -> int:
    return size + 2 * padding - kernel + 1


def cnn(
    input_shape: Sequence[int],
    channels: Sequence[int],
    hidden: Sequence[int],
    num_classes: int,
    *,
    kernel_size: int = 5,
    padding: int = 0,
    pool: int = 2,
    activation: str = "relu",
) -> nn.Sequential:
    """Conv blocks (conv ``kernel_size``, activation, max-pool ``pool``) then an MLP head ``hidden -> num_classes``.

    ``input_shape`` is ``(C, H, W)``; the flattened size entering the head follows from the conv arithmetic
    ``H -> (H + 2 padding - kernel + 1) // pool``. LeNet-small is ``cnn((3, 32, 32), (6, 16), (35, 50), 10)``.
    """
    if len(input_shape) != 3:
        raise ValueError(f"cnn needs input_shape (C, H, W), got {tuple(input_shape)!r}")
    c, h, w = _positive_ints(input_shape, "input_shape")
    channels = _positive_ints(channels, "channels")
    layers: list[nn.Module] = []
    for out in channels:
        layers += [nn.Conv2d(c, out, kernel_size, padding=padding), _activation(activation), nn.MaxPool2d(pool)]
        c = out
        h, w = _conv_out(h, kernel_size, padding) // pool, _conv_out(w, kernel_size, padding) // pool
        if h < 1 or w < 1:
            raise ValueError(f"input {tuple(input_shape)} is too small for {len(channels)} conv blocks "
                             f"of kernel {kernel_size} and pool {pool}")
    head = mlp([c * h * w, *hidden, num_classes], activation)
    return nn.Sequential(*layers, *head)


def vgg16(
    num_classes: int = 10,
    *,
    input_shape: Sequence[int] = (3, 32, 32),
    width: float = 1.0,
    dropout: float = 0.5,
) -> nn.Sequential:
    """VGG-16 in the layout of paper 2's code: 13 conv 3x3 (pad 1) + ReLU, 5 max-pools, no BatchNorm,
    classifier Dropout-Linear(512,512)-ReLU-Dropout-Linear(512,512)-ReLU-Linear(512,C).

    Channel counts and the 512-wide classifier scale with ``width``. Conv weights ~ N(0, 2 / (k^2 out_channels)),
    biases 0, as in ``GadamX/curvature/models/vgg.py``. P = 15,245,130 for CIFAR-10 at width 1.
    """
    if len(input_shape) != 3:
        raise ValueError(f"vgg16 needs input_shape (C, H, W), got {tuple(input_shape)!r}")
    c, h, w = _positive_ints(input_shape, "input_shape")
    if h % 32 or w % 32:
        raise ValueError(f"vgg16 halves the image 5 times: H and W must be multiples of 32, got {(h, w)}")
    layers: list[nn.Module] = []
    for item in _VGG16_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        conv = nn.Conv2d(c, _scaled(width, int(item)), 3, padding=1)
        nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / (9 * conv.out_channels)))
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.ReLU()]
        c = conv.out_channels
    hid = _scaled(width, 512)
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * (h // 32) * (w // 32), hid), nn.ReLU(),
               nn.Dropout(dropout), nn.Linear(hid, hid), nn.ReLU(), nn.Linear(hid, num_classes)]
    return nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    """``relu(x + conv(relu(conv(x))))`` with a 1x1 conv shortcut when the shape changes (He et al. 2016).

    Fixup initialisation for ``num_blocks`` residual branches of two layers (Zhang, Dauphin & Ma 2019,
    arXiv:1901.09321, section 3, rules 1-2): He-normal convs, the first conv of the branch scaled by
    ``num_blocks ** -1/2`` and the last one zero, so that every block starts as its shortcut and the output
    variance does not grow with depth. With PyTorch's default initialisation and no BatchNorm, the reduced-width
    net's output collapsed to a constant on MNIST and it did not learn. Fixup's scalar biases and multiplier
    are left out: the parameters are those of the plain block.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, num_blocks: int = 1) -> None:
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        first, last = self.branch[0], self.branch[2]
        _he_normal(first, gain=num_blocks ** -0.5)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        if isinstance(self.shortcut, nn.Conv2d):
            _he_normal(self.shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.branch(x))


def _he_normal(conv: nn.Conv2d, gain: float = 1.0) -> None:
    """Weights ~ N(0, gain^2 * 2 / fan_in) (He et al. 2015, eq. 10), biases 0."""
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    with torch.no_grad():
        conv.weight.mul_(gain)
    nn.init.zeros_(conv.bias)


def resnet_small(
    num_classes: int = 10,
    *,
    input_shape: Sequence[int] = (3, 32, 32),
    width: float = 1.0,
    blocks_per_stage: int = 1,
) -> nn.Sequential:
    """CIFAR-style ResNet without normalisation: conv 3x3 stem (16 channels), three stages of basic blocks
    with 16, 32, 64 channels (x ``width``; stride 2 between stages), global average pool, linear.

    ``blocks_per_stage = n`` gives depth 6n + 2 (He et al. 2016, section 4.2); n = 1 is ResNet-8.
    BatchNorm is left out so that the Hessian does not depend on the batch through normalisation statistics;
    the blocks use Fixup initialisation instead (see ``_BasicBlock``), which makes the net trainable without it.
    """
    if len(input_shape) != 3:
        raise ValueError(f"resnet_small needs input_shape (C, H, W), got {tuple(input_shape)!r}")
    if blocks_per_stage < 1:
        raise ValueError(f"blocks_per_stage must be >= 1, got {blocks_per_stage}")
    c = _positive_ints(input_shape, "input_shape")[0]
    widths = [_scaled(width, base) for base in (16, 32, 64)]
    stem = nn.Conv2d(c, widths[0], 3, 1, 1)
    _he_normal(stem)
    layers: list[nn.Module] = [stem, nn.ReLU()]
    c = widths[0]
    for stage, out in enumerate(widths):
        for b in range(blocks_per_stage):
            layers.append(_BasicBlock(c, out, 2 if stage > 0 and b == 0 else 1, 3 * blocks_per_stage))
            c = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


def _flat_dim(input_shape: Sequence[int]) -> int:
    return math.prod(_positive_ints(input_shape, "input_shape"))


def build(
    name: str,
    input_shape: Sequence[int] = (1, 28, 28),
    num_classes: int = 10,
    width: float = 1.0,
    **kwargs: object,
) -> nn.Sequential:
    """Model ``name`` of the zoo for inputs of ``input_shape`` (without batch) and ``num_classes`` outputs.

    Names: ``logistic``; ``mlp`` (D-10-100-C, 9,960 parameters on MNIST); ``mlp_deep`` (D-10-100-100-C,
    20,060); ``mlp_widths`` (D-h_1-...-h_L-C for ``widths=[h_1, ..., h_L]``); ``lenet_small`` (19,217 on
    CIFAR-10); ``bike_mlp`` (D-100-100-50-C, 16,601 for 13 features and
    C = 1); ``vgg16`` (15,245,130 on CIFAR-10); ``resnet_small``. ``width`` multiplies every hidden width
    (conv channels included). Extra ``kwargs`` go to the builder (``activation``, ``dropout``, ...).
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(BUILDERS)}")
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    return BUILDERS[name](tuple(input_shape), int(num_classes), width, **kwargs)


def _logistic(shape: tuple, c: int, width: float, **kw: object) -> nn.Sequential:
    return mlp([_flat_dim(shape), c], **kw)


def _mlp(shape: tuple, c: int, width: float, **kw: object) -> nn.Sequential:
    return mlp([_flat_dim(shape), _scaled(width, 10), _scaled(width, 100), c], **kw)


def _mlp_deep(shape: tuple, c: int, width: float, **kw: object) -> nn.Sequential:
    return mlp([_flat_dim(shape), _scaled(width, 10), _scaled(width, 100), _scaled(width, 100), c], **kw)


def _bike_mlp(shape: tuple, c: int, width: float, **kw: object) -> nn.Sequential:
    return mlp([_flat_dim(shape), *(_scaled(width, b) for b in (100, 100, 50)), c], **kw)


def _mlp_widths(shape: tuple, c: int, width: float, *, widths: Sequence[int] = (), **kw: object) -> nn.Sequential:
    if isinstance(widths, str | bytes) or not isinstance(widths, Sequence) or not widths:
        raise ValueError(f"mlp_widths needs widths=[h_1, ..., h_L], a non-empty list of hidden widths; got {widths!r}")
    return mlp([_flat_dim(shape), *(_scaled(width, h) for h in _positive_ints(widths, "widths")), c], **kw)


def _lenet_small(shape: tuple, c: int, width: float, **kw: object) -> nn.Sequential:
    channels = [_scaled(width, 6), _scaled(width, 16)]
    return cnn(shape, channels, [_scaled(width, 35), _scaled(width, 50)], c, **kw)


BUILDERS = {
    "logistic": _logistic,
    "mlp": _mlp,
    "mlp_deep": _mlp_deep,
    "mlp_widths": _mlp_widths,
    "lenet_small": _lenet_small,
    "bike_mlp": _bike_mlp,
    "vgg16": lambda shape, c, width, **kw: vgg16(c, input_shape=shape, width=width, **kw),
    "resnet_small": lambda shape, c, width, **kw: resnet_small(c, input_shape=shape, width=width, **kw),
}


def num_params(model: nn.Module) -> int:
    """Number of trainable scalar parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
