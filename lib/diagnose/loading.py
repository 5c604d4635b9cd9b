"""Loading a user's model, weights, data and loss for :func:`lib.diagnose.diagnose`, with clear errors before any
heavy work.

Every check here is cheap (one forward pass on two samples, one on the whole data without gradients) and raises
:class:`DiagnoseError` with a message saying what was expected and what was found:

* :func:`load_factory`: ``"pkg.module:factory"`` imports and names a callable;
* :func:`load_model`: a file written by ``torch.save`` holds a ``state_dict`` (loaded into ``factory()``, missing and
  unexpected keys listed) or a whole pickled module (only with ``trust_pickle``: unpickling runs code);
* :func:`load_data`: an ``.npz`` with arrays ``x`` and ``y`` (names overridable), or a ``DataLoader`` / tensor pair;
* :func:`resolve_loss`: ``"cross_entropy"``, ``"mse"`` or a callable ``loss(outputs, targets) -> scalar``;
* :func:`check_inputs`: the data fit the model (shapes, labels within the outputs' classes), the loss is a mean or a
  sum over samples (the loss of the whole batch against the size-weighted mean, or the sum, of the losses of its two
  halves), and the model is evaluated in eval mode (training-mode BatchNorm and dropout refused).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lib.curvature.operators import check_model_mode

__all__ = [
    "DiagnoseError",
    "LOSSES",
    "Inputs",
    "as_tensors",
    "check_inputs",
    "load_data",
    "load_factory",
    "load_model",
    "resolve_loss",
]

#: the losses named on the command line, each the MEAN over samples of a per-sample loss
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"cross_entropy": F.cross_entropy, "mse": F.mse_loss}
# relative tolerance of the additivity check (the losses are evaluated in float64 on the same outputs)
_ADDITIVE_RTOL = 1e-8


class DiagnoseError(ValueError):
    """A model, weights file, data set or loss that cannot be diagnosed, with what was expected and found."""


def load_factory(spec: str, option: str = "--model") -> Callable[..., Any]:
    """The callable named by ``spec`` = ``"pkg.module:name"``: the factory of ``--model`` (``factory()`` builds the
    model) or a loss function of ``--loss`` (``option`` names which, in the errors)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise DiagnoseError(f"{option} must read 'pkg.module:name' (a module path, a colon, a callable), got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ModuleNotFoundError, or any error the module raises on import
        raise DiagnoseError(f"cannot import module {module_name!r} of {option} {spec!r}: {type(exc).__name__}: {exc} "
                            "(is its folder on PYTHONPATH or the current directory?)") from exc
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise DiagnoseError(f"module {module_name!r} has no attribute {attr!r} (from {option} {spec!r})")
        factory = getattr(factory, part)
    if not callable(factory):
        raise DiagnoseError(f"{spec!r} ({option}) is not callable")
    return factory


def load_model(weights: str | Path, factory: str | Callable[[], nn.Module] | None = None, *,
               trust_pickle: bool = False) -> nn.Module:
    """The model saved by ``torch.save`` in ``weights``: a ``state_dict`` loaded strictly into ``factory()``, or,
    with ``trust_pickle``, a whole pickled ``nn.Module`` (``torch.load(weights_only=False)`` executes code from the
    file: only for files you trust)."""
    path = Path(weights)
    if not path.is_file():
        raise DiagnoseError(f"weights file {str(path)!r} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if not trust_pickle:
            raise DiagnoseError(
                f"{str(path)!r} is not a plain state_dict: if it is a whole module saved with torch.save(model, ...), "
                "pass --trust-pickle (unpickling runs code from the file: only for files you trust; --model is then "
                "ignored), or save model.state_dict() and pass --model\n"
                f"torch.load(weights_only=True) failed: {exc}") from exc
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not (isinstance(obj, dict) and all(isinstance(v, Tensor) for v in obj.values())):
        raise DiagnoseError(f"{str(path)!r} holds a {type(obj).__name__}, neither a state_dict nor an nn.Module")
    if factory is None:
        raise DiagnoseError(f"{str(path)!r} holds a state_dict: pass --model pkg.module:factory to build the model")
    build = load_factory(factory) if isinstance(factory, str) else factory
    model = build()
    if not isinstance(model, nn.Module):
        raise DiagnoseError(f"the factory returned a {type(model).__name__}, not a torch.nn.Module")
    expected, found = set(model.state_dict()), set(obj)
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        raise DiagnoseError(f"the weights in {str(path)!r} do not match the model: missing keys {missing}, "
                            f"unexpected keys {unexpected}")
    try:
        model.load_state_dict(obj, strict=True)
    except RuntimeError as exc:  # same keys, other shapes
        raise DiagnoseError(f"the weights in {str(path)!r} do not fit the model: {exc}") from exc
    return model


def load_data(path: str | Path, x_key: str = "x", y_key: str = "y") -> tuple[Tensor, Tensor]:
    """Inputs and targets from an ``.npz`` file with arrays ``x_key`` (N x ...) and ``y_key`` (N or N x ...)."""
    path = Path(path)
    if not path.is_file():
        raise DiagnoseError(f"data file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            keys = list(arrays.keys())
            if x_key not in keys or y_key not in keys:
                raise DiagnoseError(f"{str(path)!r} must hold arrays {x_key!r} and {y_key!r}; it holds {keys}")
            x, y = arrays[x_key], arrays[y_key]
    except DiagnoseError:
        raise
    except Exception as exc:
        raise DiagnoseError(f"cannot read {str(path)!r} as an .npz file: {exc}") from exc
    return as_tensors((torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))))


def as_tensors(data: Any, max_samples: int | None = None, seed: int | None = None) -> tuple[Tensor, Tensor]:
    """``(inputs, targets)`` from a pair of tensors or arrays, or from an iterable of such batches (a
    ``DataLoader``, concatenated until it has ``max_samples`` samples). With ``seed``, the samples are a random
    permutation (``torch.randperm`` seeded with ``seed``) of what was read, cut to ``max_samples``: a random
    subset whose consecutive batches do not follow the file's order (which may be sorted by class); without it,
    the first ``max_samples``. Inputs keep their dtype (the curvature operators cast them to the dtype of the
    computation), integer targets become int64."""
    if isinstance(data, tuple | list) and len(data) == 2 and not isinstance(data[0], tuple | list):
        x, y = (torch.as_tensor(v) for v in data)
    else:
        xs, ys, count = [], [], 0
        try:
            for batch in data:
                bx, by = (torch.as_tensor(v) for v in batch)
                xs.append(bx)
                ys.append(by)
                count += len(bx)
                if max_samples is not None and count >= max_samples:
                    break
        except (TypeError, ValueError) as exc:
            raise DiagnoseError(f"data must be (inputs, targets) tensors or an iterable of such batches: "
                                f"{exc}") from exc
        if not xs:
            raise DiagnoseError("the data loader gave no batch")
        x, y = torch.cat(xs), torch.cat(ys)
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise DiagnoseError(f"inputs {tuple(x.shape)} and targets {tuple(y.shape)} must have the same first dimension")
    if seed is not None:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        x, y = x[order], y[order]
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    if len(x) < 4:
        raise DiagnoseError(f"need at least 4 samples, got {len(x)}")
    return x, (y if y.is_floating_point() else y.long())


def resolve_loss(loss: str | Callable[[Tensor, Tensor], Tensor]) -> tuple[str, Callable[[Tensor, Tensor], Tensor]]:
    """``(name, loss_fn)`` for a loss named in :data:`LOSSES`, a ``"pkg.module:function"`` or a callable
    ``loss_fn(outputs, targets)``."""
    if isinstance(loss, str) and ":" in loss:
        return loss, load_factory(loss, "--loss")
    if isinstance(loss, str):
        if loss not in LOSSES:
            close = difflib.get_close_matches(loss.replace("-", "_"), LOSSES, n=1, cutoff=0.6)
            raise DiagnoseError(f"unknown loss {loss!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                                + f"; choose from {sorted(LOSSES)}, a 'pkg.module:function' or, in Python, a "
                                "callable")
        return loss, LOSSES[loss]
    if not callable(loss):
        raise DiagnoseError(f"the loss must be a name or a callable loss(outputs, targets), got {type(loss).__name__}")
    return getattr(loss, "__name__", type(loss).__name__), loss


def _first_layer_hint(model: nn.Module) -> str:
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            return f"; its first linear layer {name!r} expects {module.in_features} features per sample"
        if isinstance(module, nn.modules.conv._ConvNd):
            return f"; its first convolution {name!r} expects {module.in_channels} input channels"
    return ""


@dataclass(frozen=True)
class Inputs:
    """What :func:`check_inputs` established: the loss as a MEAN over samples (a sum is divided by the batch size),
    the reduction found, the number of outputs C, whether the model had modules in training mode (now evaluated in
    eval mode) and their names."""

    loss_fn: Callable[[Tensor, Tensor], Tensor]
    reduction: str
    num_outputs: int
    switched_to_eval: tuple[str, ...]


class _MeanOfSum:
    """A loss that sums over samples, divided by the batch size: the mean the curvature operators expect."""

    def __init__(self, loss_fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.loss_fn = loss_fn
        self.__name__ = f"mean of {getattr(loss_fn, '__name__', 'loss')}"

    def __call__(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.loss_fn(outputs, targets) / outputs.shape[0]


def check_inputs(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor, *,
                 train_mode: bool = False) -> Inputs:
    """Check, before any heavy work, that ``model`` takes ``x``, that ``loss_fn`` takes its outputs and ``y`` and is
    a mean or a sum over samples, and that the model's mode gives a fixed function of its parameters.

    The model is diagnosed in eval mode (``train_mode=False``, what the curvature operators do); ``train_mode=True``
    is refused for BatchNorm and dropout (:func:`lib.curvature.operators.check_model_mode`). Additivity: with the
    halves A, B of the data, a mean loss has L = (n_A L_A + n_B L_B) / n and a sum L = L_A + L_B (relative tolerance
    1e-8, in float64 on the same outputs); anything else (a loss of the batch as a whole) is refused.
    """
    try:
        check_model_mode(model, train_mode)
    except ValueError as exc:
        raise DiagnoseError(f"{exc}. Eval mode is the default of the diagnosis") from exc
    trained = tuple(name or "(the model)" for name, m in model.named_modules()
                    if m.training and (isinstance(m, nn.modules.batchnorm._BatchNorm)
                                       or (isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0)))
    dtype = next(model.parameters()).dtype
    xs = x.to(dtype) if x.is_floating_point() else x
    was_training = model.training
    model.train(train_mode)
    try:
        with torch.no_grad():
            try:
                out2 = model(xs[:2])
            except Exception as exc:
                raise DiagnoseError(f"the model does not accept the data: inputs of shape {tuple(x.shape[1:])} per "
                                    f"sample{_first_layer_hint(model)} ({type(exc).__name__}: {exc})") from exc
            if not isinstance(out2, Tensor) or out2.ndim < 1 or out2.shape[0] != 2:
                raise DiagnoseError("the model must return one output tensor with the samples along its first "
                                    f"dimension; on 2 samples it returned {getattr(out2, 'shape', type(out2))}")
            outputs = model(xs).double()
    finally:
        model.train(was_training)
    num_outputs = int(np.prod(outputs.shape[1:])) if outputs.ndim > 1 else 1
    if not y.is_floating_point():
        if outputs.ndim != 2:
            raise DiagnoseError(f"integer targets are class labels, but the model's outputs have shape "
                                f"{tuple(outputs.shape[1:])} per sample, not (C,) logits")
        if y.ndim != 1:
            raise DiagnoseError(f"class labels must be one integer per sample, got targets of shape {tuple(y.shape)}")
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= outputs.shape[1]:
            raise DiagnoseError(f"labels range over [{lo}, {hi}] but the model has {outputs.shape[1]} outputs "
                                f"(classes 0..{outputs.shape[1] - 1})")
    elif tuple(y.shape[1:]) != tuple(outputs.shape[1:]):
        raise DiagnoseError(f"real targets of shape {tuple(y.shape[1:])} per sample do not match the model's "
                            f"outputs {tuple(outputs.shape[1:])}")
    yd = y.double() if y.is_floating_point() else y
    try:
        whole = float(loss_fn(outputs, yd))
        n, half = len(outputs), len(outputs) // 2
        first, second = float(loss_fn(outputs[:half], yd[:half])), float(loss_fn(outputs[half:], yd[half:]))
    except Exception as exc:
        raise DiagnoseError(f"the loss cannot be evaluated on the model's outputs {tuple(outputs.shape)} and the "
                            f"targets {tuple(y.shape)}: {type(exc).__name__}: {exc}") from exc
    scale = max(abs(whole), abs(first), abs(second), 1e-300)
    as_mean = (half * first + (n - half) * second) / n
    if abs(whole - as_mean) <= _ADDITIVE_RTOL * scale:
        reduction, mean_loss = "mean", loss_fn
    elif abs(whole - (first + second)) <= _ADDITIVE_RTOL * scale:
        reduction, mean_loss = "sum", _MeanOfSum(loss_fn)
    else:
        raise DiagnoseError(
            f"the loss is neither a mean nor a sum over samples: on all {n} samples it is {whole:.10g}, while the "
            f"size-weighted mean of its two halves is {as_mean:.10g} and their sum {first + second:.10g}. The "
            "Hessian diagnosed is that of a loss averaged over samples")
    return Inputs(mean_loss, reduction, num_outputs, trained)
