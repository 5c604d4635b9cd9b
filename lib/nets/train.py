"""Seeded, cached, resumable training of the model zoo on the book's data sets.

Defaults are paper 1's (Baskerville, Granziol & Keating 2022, arXiv:2102.06740, authors' ``GadamX/run_sgd.py``):
SGD, lr 0.003, momentum 0.9, coupled weight decay 5e-4, batch 128, 300 epochs, seed 1, and the linearly
decaying schedule, with ``t = epoch / epochs`` and ``r = 0.01``::

    lr(t) = lr0                                   for t <= 0.5
    lr(t) = lr0 (1 - (1 - r) (t - 0.5) / 0.4)     for 0.5 < t <= 0.9
    lr(t) = r lr0                                 for t > 0.9

A run is stored under ``<cache>/train/<key>/`` where ``key`` hashes the whole configuration, the content of
the training and test tensors, the source of this module and of what it imports, ``lib.__version__`` and torch's
version (``lib.nets.cache.cache_key``). Each
checkpoint epoch (0 = the initialisation) is a file holding weights, optimiser state, RNG state and history,
written atomically with a checksum, so an interrupted run resumes from its last checkpoint (or from the
rolling ``latest.pt``, written at most every ``RESUME_EVERY_S`` seconds), and a damaged checkpoint is
reported and recomputed. The device is not part of the key: a run trained on a GPU is reused on a CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from lib.curvature.device import default_device
from lib.nets import data as datasets
from lib.nets import models
from lib.nets.cache import CorruptCacheError, atomic_torch_save, cache_key, cache_root, safe_torch_load
from lib.nets.code_digest import module_digest

RESUME_EVERY_S = 60.0
_EVAL_CHUNK = 1024
_SCHEDULES = ("linear_decay", "step", "constant")
_OPTIMIZERS = ("sgd", "adam")
_LOSSES = ("cross_entropy", "mse")
_HISTORY_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (and nothing else: no paths, no device).

    ``dataset_kwargs``: ``n`` / ``n_test`` (samples of each split), ``seed`` (the split seed of
    :func:`lib.nets.data.load`), ``pad_to`` (images padded to ``pad_to x pad_to``) and data-set options.
    ``model_kwargs`` go to :func:`lib.nets.models.build` (``width``, ``widths`` of ``mlp_widths``, ...).
    ``loss=None`` picks cross-entropy for classification and MSE for regression. ``checkpoints`` are the
    epochs to keep besides 0 and ``epochs``, which are always kept.
    """

    model: str = "mlp"
    dataset: str = "mnist5k"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 300
    optimizer: str = "sgd"
    lr: float = 0.003
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    schedule: str = "linear_decay"
    loss: str | None = None
    seed: int = 1
    checkpoints: tuple[int, ...] = ()
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.model not in models.BUILDERS:
            raise ValueError(f"unknown model {self.model!r}; choose from {sorted(models.BUILDERS)}")
        task = datasets.info(self.dataset).task  # raises on an unknown data set
        for name, allowed in (("optimizer", _OPTIMIZERS), ("schedule", _SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from {list(allowed)}")
        if self.loss is not None and self.loss not in _LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {list(_LOSSES)} or None")
        if self.loss == "cross_entropy" and task == "regression":
            raise ValueError(f"cross_entropy needs class labels but {self.dataset!r} is a regression set")
        if self.loss == "mse" and task == "classification":
            raise ValueError(f"mse needs real targets but {self.dataset!r} is a classification set")
        for name in ("epochs", "batch_size", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "batch_size" else 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'batch_size' else 'non-negative'} "
                                 f"integer, got {value!r}")
        if not (self.lr > 0 and self.momentum >= 0 and self.weight_decay >= 0):
            raise ValueError(f"need lr > 0, momentum >= 0, weight_decay >= 0; got {self.lr}, {self.momentum}, "
                             f"{self.weight_decay}")
        object.__setattr__(self, "checkpoints", tuple(int(e) for e in self.checkpoints))
        bad = [e for e in self.checkpoints if not 0 <= e <= self.epochs]
        if bad:
            raise ValueError(f"checkpoint epochs {bad} are outside [0, {self.epochs}]")
        reserved = {"input_shape", "num_classes"} & set(self.model_kwargs)
        if reserved:
            raise ValueError(f"model_kwargs may not set {sorted(reserved)}: they follow from the data set")
        unknown = set(self.dataset_kwargs) - {"n", "n_test", "seed", "pad_to", "source", "epochs"}
        if unknown:
            raise ValueError(f"unknown dataset_kwargs {sorted(unknown)}; use n, n_test, seed, pad_to and data-set "
                             "options")

    @property
    def checkpoint_epochs(self) -> tuple[int, ...]:
        """Sorted epochs stored on disk: 0, the requested ones and the last."""
        return tuple(sorted({0, self.epochs, *self.checkpoints}))

    @property
    def loss_name(self) -> str:
        """The loss actually used (``loss`` or the data set's natural one)."""
        if self.loss is not None:
            return self.loss
        return "mse" if datasets.info(self.dataset).task == "regression" else "cross_entropy"


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """Multiplier of the initial learning rate during ``epoch`` (0-based) of ``epochs``.

    ``linear_decay``: paper 1's schedule (module docstring); ``step``: divided by 10 at ``epochs/3`` and
    again at ``2 epochs/3`` (paper 1's epoch-budget experiment); ``constant``: 1.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return 0.1 ** ((epoch >= epochs / 3) + (epoch >= 2 * epochs / 3))
    if schedule == "linear_decay":
        t, r = epoch / epochs, 0.01
        if t <= 0.5:
            return 1.0
        return 1.0 - (1.0 - r) * (t - 0.5) / 0.4 if t <= 0.9 else r
    raise ValueError(f"unknown schedule {schedule!r}; choose from {list(_SCHEDULES)}")


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Mean loss over a batch: ``cross_entropy`` (logits, int labels) or ``mse`` (outputs, targets of equal shape)."""
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "mse":
        def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            if out.shape != target.shape:
                raise ValueError(f"mse: output shape {tuple(out.shape)} differs from target {tuple(target.shape)}")
            return F.mse_loss(out, target)
        return mse
    raise ValueError(f"unknown loss {name!r}; choose from {list(_LOSSES)}")


@dataclass
class TrainResult:
    """A finished run: final model (eval mode), per-epoch history, and access to every stored checkpoint."""

    config: TrainConfig
    model: nn.Module
    history: dict[str, np.ndarray]
    directory: Path
    _root: str | Path | None = field(repr=False, default=None)
    _cache_dir: str | Path | None = field(repr=False, default=None)

    def checkpoint(self, epoch: int) -> nn.Module:
        """The model after ``epoch`` epochs (0: initialisation), in eval mode on the default device.

        A damaged checkpoint file is reported and the run recomputed to replace it.
        """
        if epoch not in self.config.checkpoint_epochs:
            raise ValueError(f"epoch {epoch} was not checkpointed; stored: {list(self.config.checkpoint_epochs)}")
        path = self.directory / _ckpt_name(epoch)
        try:
            state = safe_torch_load(path)
        except (CorruptCacheError, FileNotFoundError) as exc:
            warnings.warn(f"{exc}; retraining to recompute it", RuntimeWarning, stacklevel=2)
            path.unlink(missing_ok=True)
            train(self.config, root=self._root, cache_dir=self._cache_dir, progress=False)
            state = safe_torch_load(path)
        return _model_from_state(self.model, state)


def _ckpt_name(epoch: int) -> str:
    return f"epoch-{epoch:05d}.pt"


def _model_from_state(template: nn.Module, state: dict) -> nn.Module:
    model = copy.deepcopy(template)  # same architecture and device as the final model
    model.load_state_dict(state["model"])
    return model.eval()


@dataclass
class _Data:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_outputs: int


def load_split(config: TrainConfig, split: str, root: str | Path | None = None, *,
               n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of ``split`` of ``config``'s data set, loaded as its training run loads them (the same
    split seed, padding and data-set options). ``n`` samples (default: the run's ``n`` for the training split,
    ``n_test`` for the test split, all when unset) are a prefix of the same seeded class-interleaved order
    (:func:`lib.nets.data.load`), so fewer samples are always samples of the run."""
    kw = dict(config.dataset_kwargs)
    n_train, n_test, seed = kw.pop("n", None), kw.pop("n_test", None), kw.pop("seed", 0)
    if n is None:
        n = n_train if split == "train" else n_test
    return datasets.load(config.dataset, split, root, n=n, seed=seed, **kw)


def _load_data(config: TrainConfig, root: str | Path | None) -> _Data:
    x_tr, y_tr = load_split(config, "train", root)
    x_te, y_te = load_split(config, "test", root)
    meta = datasets.info(config.dataset)
    num_outputs = meta.num_outputs
    if num_outputs is None:  # user features: classes from the labels
        num_outputs = int(max(y_tr.max(), y_te.max())) + 1
    return _Data(x_tr, y_tr, x_te, y_te, num_outputs)


def _build_model(config: TrainConfig, data: _Data) -> nn.Module:
    """The zoo model, initialised from ``config.seed`` on the CPU (same initial weights on every device)."""
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = models.build(config.model, input_shape=tuple(data.x_train.shape[1:]),
                                 num_classes=data.num_outputs, **config.model_kwargs)
        with torch.no_grad():
            out = model.eval()(data.x_train[:2])
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"model {config.model!r} does not accept {config.dataset!r} inputs of shape "
                         f"{tuple(data.x_train.shape[1:])}: {exc}") from exc
    if tuple(out.shape[1:]) != (data.num_outputs,):
        raise ValueError(f"model {config.model!r} outputs {tuple(out.shape[1:])}, expected ({data.num_outputs},)")
    return model


def _optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_name: str) -> tuple[float, float]:
    """Mean loss and accuracy (nan for regression) of ``model`` in eval mode over all of ``(x, y)``."""
    loss_fn = loss_function(loss_name)
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in zip(x.split(_EVAL_CHUNK), y.split(_EVAL_CHUNK), strict=True):
            out = model(xb)
            total += float(loss_fn(out, yb)) * len(yb)
            if loss_name == "cross_entropy":
                correct += int((out.argmax(1) == yb).sum())
    acc = correct / len(y) if loss_name == "cross_entropy" else float("nan")
    return total / len(y), acc


def _run_epoch(model: nn.Module, opt: torch.optim.Optimizer, data: _Data, config: TrainConfig, epoch: int) -> None:
    """One pass of mini-batch training; the batch order is drawn from ``(seed, epoch)`` so that it is the same
    whether or not the run was resumed."""
    loss_fn = loss_function(config.loss_name)
    n = len(data.y_train)
    if config.shuffle:
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=gen).to(data.x_train.device)
    else:
        order = torch.arange(n, device=data.x_train.device)
    model.train()
    for idx in order.split(config.batch_size):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
        loss.backward()
        opt.step()


def _data_digest(data: _Data) -> dict[str, Any]:
    return {"x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test, "y_test": data.y_test}


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _valid_state(path: Path) -> dict | None:
    """The checkpoint at ``path``, or None if absent; a damaged one is reported, deleted and treated as absent."""
    if not path.exists():
        return None
    try:
        return safe_torch_load(path)
    except CorruptCacheError as exc:
        warnings.warn(f"{exc}; it will be recomputed", RuntimeWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def _resume_point(directory: Path, config: TrainConfig) -> tuple[dict | None, int | None]:
    """(latest usable state, first checkpoint epoch still to write); the latter is None when the run is done."""
    best: dict | None = None
    first_missing: int | None = None
    for epoch in config.checkpoint_epochs:
        state = _valid_state(directory / _ckpt_name(epoch))
        if state is None:
            first_missing = epoch
            break
        best = state
    if first_missing is None:
        return best, None
    latest = _valid_state(directory / "latest.pt")
    if latest is not None and latest["epoch"] < first_missing and (best is None or latest["epoch"] > best["epoch"]):
        best = latest
    return best, first_missing


def train(
    config: TrainConfig,
    *,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``config`` (or load it from the cache), resuming an interrupted run; return the final model.

    ``root`` is where file-based data sets live (else ``$RMT_DATA``); ``cache_dir`` defaults to
    ``lib.nets.cache.cache_root()``. Raises ``ValueError`` for a model that does not fit the data and
    ``FloatingPointError`` when the training loss becomes non-finite.
    """
    device = default_device()
    data = _load_data(config, root)
    model = _build_model(config, data)
    key = cache_key("train", {"config": dataclasses.asdict(config), "data": _data_digest(data)},
                    module_digest(__name__))
    directory = (Path(cache_dir) if cache_dir is not None else cache_root()) / "train" / key
    state, first_missing = _resume_point(directory, config)
    if first_missing is None:  # every checkpoint is on disk
        _warn_other_threads(state, directory)
        model.load_state_dict(state["model"])
        return TrainResult(config, model.to(device).eval(), _history_arrays(state["history"]), directory,
                           root, cache_dir)

    model.to(device)
    data = _Data(*(t.to(device) for t in (data.x_train, data.y_train, data.x_test, data.y_test)), data.num_outputs)
    opt = _optimizer(config, model)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            _set_rng_state(state["rng"], device)
            history, start = state["history"], state["epoch"]
        else:
            history, start = {k: [] for k in ("epoch", *_HISTORY_KEYS)}, 0
            _record(history, 0, model, data, config)
            _save(directory / _ckpt_name(0), model, opt, history, 0, device, config)
        _train_epochs(model, opt, data, config, history, start, directory, device, progress)
    (directory / "latest.pt").unlink(missing_ok=True)
    return TrainResult(config, model.eval(), _history_arrays(history), directory, root, cache_dir)


def _train_epochs(model: nn.Module, opt: torch.optim.Optimizer, data: _Data, config: TrainConfig,
                  history: dict[str, list], start: int, directory: Path, device: torch.device,
                  progress: bool) -> None:
    last_save = time.monotonic()
    bar = tqdm(range(start, config.epochs), desc=f"{config.model}/{config.dataset}", disable=not progress,
               initial=start, total=config.epochs)
    for epoch in bar:
        for group in opt.param_groups:
            group["lr"] = config.lr * lr_factor(config.schedule, epoch, config.epochs)
        _run_epoch(model, opt, data, config, epoch)
        _record(history, epoch + 1, model, data, config)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.4g}", acc=f"{history['train_acc'][-1]:.3f}",
                        test_acc=f"{history['test_acc'][-1]:.3f}")
        if epoch + 1 in config.checkpoint_epochs:
            _save(directory / _ckpt_name(epoch + 1), model, opt, history, epoch + 1, device, config)
            last_save = time.monotonic()
        elif time.monotonic() - last_save >= RESUME_EVERY_S:
            _save(directory / "latest.pt", model, opt, history, epoch + 1, device, config)
            last_save = time.monotonic()
    bar.close()


def _record(history: dict[str, list], epoch: int, model: nn.Module, data: _Data, config: TrainConfig) -> None:
    train_loss, train_acc = _evaluate(model, data.x_train, data.y_train, config.loss_name)
    if not np.isfinite(train_loss):
        raise FloatingPointError(f"training loss is {train_loss} after epoch {epoch} of {config.model} on "
                                 f"{config.dataset} (lr {config.lr}); lower the learning rate")
    test_loss, test_acc = _evaluate(model, data.x_test, data.y_test, config.loss_name)
    for k, v in zip(("epoch", *_HISTORY_KEYS), (epoch, train_loss, train_acc, test_loss, test_acc), strict=True):
        history[k].append(v)


def _save(path: Path, model: nn.Module, opt: torch.optim.Optimizer, history: dict[str, list], epoch: int,
          device: torch.device, config: TrainConfig) -> None:
    atomic_torch_save({"epoch": epoch, "model": {k: v.cpu() for k, v in model.state_dict().items()},
                       "optimizer": opt.state_dict(), "rng": _rng_state(device), "history": history,
                       "config": repr(config), "threads": torch.get_num_threads()}, path)


def _warn_other_threads(state: dict, directory: Path) -> None:
    """Warn when a cached run was trained with another thread count than this process uses: the same seed gives
    weights that differ by a few per cent between thread counts (the order of floating-point sums changes)."""
    saved, now = state.get("threads"), torch.get_num_threads()
    if saved != now:
        warnings.warn(f"the cached run {directory.name[:12]} was trained with {saved or 'an unrecorded number of'} "
                      f"thread(s), this process uses {now}: rerunning it here would not reproduce it exactly",
                      RuntimeWarning, stacklevel=3)


def _history_arrays(history: dict[str, list]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.int64 if k == "epoch" else np.float64) for k, v in history.items()}
