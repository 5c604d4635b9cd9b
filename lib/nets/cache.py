"""On-disk cache of computed results, keyed by their inputs and the library version.

Two kinds of entries:

* arrays (spectra, tables): :func:`load_or_compute` stores a ``dict[str, ndarray]`` as ``.npz`` under
  ``<root>/<namespace>/<key>.npz``; a zip member's CRC-32 is checked on reading, so a truncated or damaged file
  is detected, reported with :func:`warnings.warn` and recomputed, never silently used;
* torch checkpoints: :func:`atomic_torch_save` writes a header with the SHA-256 of the payload, and
  :func:`safe_torch_load` refuses (``CorruptCacheError``) a file whose payload does not match it.

Every write goes to a temporary file in the destination's directory followed by :func:`os.replace`, which is
atomic on POSIX and Windows, so a reader sees either the old entry or the complete new one, and a run killed
mid-write leaves no half-written entry behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lib import __version__

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
    """JSON-ready form of ``value``: mappings with sorted string keys, arrays by content digest."""
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
    raise TypeError(f"cache inputs must be JSON-like values, arrays or dataclasses; got {type(value).__name__}")


def cache_key(namespace: str, inputs: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``namespace``, ``inputs``, ``lib.__version__`` and torch's version.

    Canonical JSON: sorted keys, no whitespace, tuples as lists, NumPy scalars as Python numbers, arrays and
    tensors by the SHA-256 of their bytes together with dtype and shape, dataclasses as their fields.
    """
    _check_namespace(namespace)
    payload = {"namespace": namespace, "inputs": _canonical(inputs), "lib": __version__,
               "torch": torch.__version__}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_namespace(namespace: str) -> None:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise ValueError(f"cache namespace must be letters, digits, '_', '-' or '.', got {namespace!r}")


def _atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` through a temporary file in its directory, fsync, then :func:`os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    ``<cache_dir or cache_root()>/<namespace>/<cache_key(namespace, inputs)>.npz``, with the inputs beside it
    as ``<key>.json`` for the curious reader. A damaged entry is reported with ``warnings.warn`` and recomputed.
    """
    key = cache_key(namespace, inputs)
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
    description = json.dumps({"namespace": namespace, "inputs": _canonical(inputs), "lib": __version__},
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
