"""On-disk cache of computed results, keyed by their inputs and the source of the code that computed them.

Two kinds of entries:

* arrays (spectra, tables): :func:`load_or_compute` stores a ``dict[str, ndarray]`` as ``.npz`` under
  ``<root>/<namespace>/<key>.npz``; a zip member's CRC-32 is checked on reading, so a truncated or damaged file
  is detected, reported with :func:`warnings.warn` and recomputed, never silently used;
* torch checkpoints: :func:`atomic_torch_save` writes a header with the SHA-256 of the payload, and
  :func:`safe_torch_load` refuses (``CorruptCacheError``) a file whose payload does not match it.

The key covers the inputs, torch's version and the digest of the code (:mod:`lib.nets.code_digest`): the
computing module and every ``lib`` module it imports, transitively, so an edit of the Lanczos code recomputes the
spectra but not the trained networks. Callables among the inputs (a loss) are keyed by what they compute: their
qualified name, bytecode, constants, defaults, closure and partial arguments, so ``10 * cross_entropy`` and
``cross_entropy`` written as two lambdas do not collide.

Every write goes to a temporary file in the destination's directory followed by :func:`os.replace`, which is
atomic on POSIX and Windows, so a reader sees either the old entry or the complete new one, and a run killed
mid-write leaves no half-written entry behind (its temporary file is deleted by :func:`sweep_orphans`, which the
batch runner calls, once it is an hour old). Files get the mode of an ordinary new file (``0o666 & ~umask``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import re
import tempfile
import time
import types
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lib import __version__
from lib.nets.code_digest import module_digest, module_file

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]+$")
_CKPT_MAGIC = b"RMTCKPT1"


class CorruptCacheError(ValueError):
    """A cache file exists but its content is damaged (bad checksum, truncated, unreadable)."""


def cache_root() -> Path:
    """Directory of the cache: ``$RMT_CACHE``, else ``<repo>/.cache`` in a checkout, else ``~/.cache/rmt-hessians``."""
    env = os.environ.get("RMT_CACHE")
    if env:
        return Path(env).expanduser()
    repo = _PACKAGE_DIR.parent
    if (repo / "pyproject.toml").is_file() or (repo / ".git").exists():
        return repo / ".cache"
    return Path.home() / ".cache" / "rmt-hessians"


def _canonical(value: Any) -> Any:
    """JSON-ready form of ``value``: mappings with sorted string keys, arrays by content digest, callables by
    what they compute (:func:`callable_identity`)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _canonical(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"cache inputs need string keys, got keys {list(value)!r}")
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        return {"__array__": hashlib.sha256(arr.tobytes()).hexdigest(), "dtype": str(arr.dtype),
                "shape": list(arr.shape)}
    if callable(value):
        return {"__callable__": callable_identity(value)}
    raise TypeError(f"cache inputs must be JSON-like values, arrays, dataclasses or callables; got "
                    f"{type(value).__name__}")


def _code_identity(code: types.CodeType) -> Any:
    """Bytecode, names and constants of a code object (nested code objects, e.g. of inner lambdas, recursively)."""
    consts = [_code_identity(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return [hashlib.sha256(code.co_code).hexdigest(), list(code.co_names), consts]


def callable_identity(fn: Callable[..., Any]) -> Any:
    """A description of a callable that two different computations cannot share.

    ``functools.partial``: the function with its arguments; a Python function or lambda: its qualified name,
    bytecode, constants, defaults and the values its closure holds; an ``nn.Module`` (``nn.CrossEntropyLoss()``):
    its class and state (``repr`` and ``state_dict``); a builtin or C function (``F.cross_entropy`` is Python,
    ``torch.sum`` is not): its module and qualified name. Raises ``TypeError`` for a closure value that is none of
    the input types above (then name the loss yourself, e.g. pass its name as an input).
    """
    if isinstance(fn, functools.partial):
        return {"partial": callable_identity(fn.func), "args": _canonical(list(fn.args)),
                "keywords": _canonical(dict(fn.keywords))}
    if isinstance(fn, torch.nn.Module):
        # the options of a loss module (reduction, label_smoothing, ...) are its public attributes
        options = {k: v for k, v in vars(fn).items() if not k.startswith("_") and k != "training"}
        return {"module": f"{type(fn).__module__}.{type(fn).__qualname__}", "options": _canonical(options),
                "state": _canonical(dict(fn.state_dict()))}
    if isinstance(fn, types.MethodType):
        return {"method": callable_identity(fn.__func__), "self": _canonical(fn.__self__)}
    if isinstance(fn, types.FunctionType):
        closure = [cell.cell_contents for cell in fn.__closure__ or ()]
        return {"function": f"{fn.__module__}.{fn.__qualname__}", "code": _code_identity(fn.__code__),
                "defaults": _canonical(list(fn.__defaults__ or ())),
                "kwdefaults": _canonical(dict(fn.__kwdefaults__ or {})), "closure": _canonical(closure)}
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        raise TypeError(f"cannot identify the callable {fn!r} for a cache key; pass a named function")
    return {"builtin": f"{getattr(fn, '__module__', '')}.{name}"}


def code_digest(compute: Callable[..., Any]) -> str:
    """Digest of the code behind ``compute``: the source of its ``lib`` module and everything that module imports
    (:func:`lib.nets.code_digest.module_digest`); for a function outside ``lib`` (a test, a notebook), its own
    bytecode and constants."""
    module = getattr(compute, "__module__", "") or ""
    if module_file(module) is not None:
        return module_digest(module)
    code = getattr(compute, "__code__", None)
    # the code only: a closure's values (a counter, a list of calls) are state, not what is computed
    identity = [getattr(compute, "__qualname__", repr(compute)), _code_identity(code) if code else None]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def cache_key(namespace: str, inputs: dict, code: str = "") -> str:
    """SHA-256 (hex) of the canonical JSON of ``namespace``, ``inputs``, ``code`` (a digest of the computing code,
    :func:`code_digest`), ``lib.__version__`` and torch's version.

    Canonical JSON: sorted keys, no whitespace, tuples as lists, NumPy scalars as Python numbers, arrays and
    tensors by the SHA-256 of their bytes together with dtype and shape, dataclasses as their fields, callables
    by :func:`callable_identity`.
    """
    _check_namespace(namespace)
    payload = {"namespace": namespace, "inputs": _canonical(inputs), "code": code, "lib": __version__,
               "torch": torch.__version__}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_namespace(namespace: str) -> None:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise ValueError(f"cache namespace must be letters, digits, '_', '-' or '.', got {namespace!r}")


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` through a temporary file in its directory, fsync, then :func:`os.replace`.

    The file gets the mode of an ordinary new file (``0o666 & ~umask``), not :func:`tempfile.mkstemp`'s 0600, so a
    cache directory shared by a group stays readable to it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_orphans(directory: str | Path | None = None, older_than: float = 3600.0) -> list[Path]:
    """Delete the ``*.tmp`` files under ``directory`` (default :func:`cache_root`) last written over ``older_than``
    seconds ago: temporary files of writes that were killed before their rename. Return the deleted paths.

    A write in progress keeps its file's modification time fresh, so it is left alone.
    """
    directory = Path(directory) if directory is not None else cache_root()
    if not directory.is_dir():
        return []
    cutoff = time.time() - older_than
    removed = []
    for path in directory.rglob("*.tmp"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # removed meanwhile by another sweep
            continue
    return removed


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            # reading every member in full makes zipfile check each CRC-32
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise CorruptCacheError(f"cache file {path} is unreadable: {exc}") from exc


def load_or_compute(
    namespace: str,
    inputs: dict,
    compute: Callable[[], Mapping[str, Any]],
    *,
    cache_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Return the arrays stored for ``(namespace, inputs)``, computing and storing them on a miss.

    ``compute()`` returns a mapping of names to array-likes (numeric, no objects). The entry lives in
    ``<cache_dir or cache_root()>/<namespace>/<key>.npz``, keyed by the inputs and by :func:`code_digest` of
    ``compute`` (so results of older code are never served), with the inputs beside it
    as ``<key>.json`` for the curious reader. A damaged entry is reported with ``warnings.warn`` and recomputed.
    """
    code = code_digest(compute)
    key = cache_key(namespace, inputs, code)
    directory = Path(cache_dir) if cache_dir is not None else cache_root()
    path = directory / namespace / f"{key}.npz"
    if path.exists():
        try:
            return _read_npz(path)
        except CorruptCacheError as exc:
            warnings.warn(f"{exc}; recomputing", RuntimeWarning, stacklevel=2)
            path.unlink(missing_ok=True)
    result = compute()
    if not isinstance(result, Mapping) or not all(isinstance(k, str) for k in result):
        raise TypeError(f"compute() must return a mapping of str to arrays, got {type(result).__name__}")
    arrays = {k: np.asarray(v) for k, v in result.items()}
    for name, arr in arrays.items():
        if arr.dtype == object:
            raise TypeError(f"compute() result {name!r} is an object array; only numeric/str arrays are cached")
    _atomic_write(path, lambda fh: np.savez(fh, **arrays))
    description = json.dumps({"namespace": namespace, "inputs": _canonical(inputs), "code": code, "lib": __version__},
                             indent=1, sort_keys=True)
    _atomic_write(path.with_suffix(".json"), lambda fh: fh.write(description.encode()))
    return arrays


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """Save ``obj`` with :func:`torch.save` behind a header holding the payload's SHA-256, atomically.

    File layout: 8 magic bytes ``RMTCKPT1``, 32 bytes SHA-256 of the payload, the payload.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = buffer.getvalue()

    def write(fh: io.BufferedWriter) -> None:
        fh.write(_CKPT_MAGIC)
        fh.write(hashlib.sha256(payload).digest())
        fh.write(payload)

    _atomic_write(Path(path), write)


def safe_torch_load(path: str | Path) -> Any:
    """Load a file written by :func:`atomic_torch_save` onto the CPU, checking its checksum first.

    Raises ``FileNotFoundError`` when absent and :class:`CorruptCacheError` when the header or checksum is wrong
    or the payload does not unpickle. Only tensors and plain containers are unpickled (``weights_only=True``).
    """
    path = Path(path)
    data = path.read_bytes()
    head = len(_CKPT_MAGIC) + 32
    if len(data) < head or data[: len(_CKPT_MAGIC)] != _CKPT_MAGIC:
        raise CorruptCacheError(f"checkpoint {path} has no valid header (truncated or not written by this library)")
    digest, payload = data[len(_CKPT_MAGIC) : head], data[head:]
    if hashlib.sha256(payload).digest() != digest:
        raise CorruptCacheError(f"checkpoint {path} fails its SHA-256 check (damaged or truncated)")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # the checksum matched, so this is a foreign or incompatible pickle
        raise CorruptCacheError(f"checkpoint {path} does not load: {exc}") from exc
