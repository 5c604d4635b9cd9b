"""On-disk cache: keys from canonical JSON, atomic writes, corrupt entries detected and recomputed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import lib
from lib.nets import cache


def test_cache_root_from_env_else_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RMT_CACHE", str(tmp_path / "c"))
    assert cache.cache_root() == tmp_path / "c"
    monkeypatch.delenv("RMT_CACHE")
    repo = Path(lib.__file__).resolve().parent.parent
    assert cache.cache_root() == repo / ".cache"  # the tests run inside the checkout


def test_cache_key_is_sha256_of_canonical_json() -> None:
    inputs = {"b": (1, 2.5), "a": np.int64(3), "c": None}
    expected = json.dumps(
        {"namespace": "ns", "inputs": {"a": 3, "b": [1, 2.5], "c": None}, "code": "", "lib": lib.__version__,
         "torch": torch.__version__},
        sort_keys=True, separators=(",", ":"),
    )
    assert cache.cache_key("ns", inputs) == hashlib.sha256(expected.encode()).hexdigest()


def test_cache_key_sensitivity(monkeypatch: pytest.MonkeyPatch) -> None:
    base = cache.cache_key("ns", {"x": np.arange(4.0), "k": 1})
    assert base == cache.cache_key("ns", {"k": 1, "x": np.arange(4.0)})  # key order is irrelevant
    assert base != cache.cache_key("ns", {"x": np.arange(4.0) + 1e-12, "k": 1})  # array content counts
    assert base != cache.cache_key("ns", {"x": np.arange(4.0, dtype=np.float32), "k": 1})  # and its dtype
    assert base != cache.cache_key("other", {"x": np.arange(4.0), "k": 1})
    monkeypatch.setattr(cache, "__version__", "999")
    assert base != cache.cache_key("ns", {"x": np.arange(4.0), "k": 1})  # library version counts


def test_cache_key_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="namespace"):
        cache.cache_key("a/b", {})
    with pytest.raises(TypeError, match="object"):
        cache.cache_key("ns", {"f": object()})
    with pytest.raises(TypeError, match="string keys"):
        cache.cache_key("ns", {"f": {1: 2}})


def test_load_or_compute_computes_once(tmp_path: Path) -> None:
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"evals": np.linspace(0, 1, 5), "n": 3}

    first = cache.load_or_compute("spectra", {"m": 1}, compute, cache_dir=tmp_path)
    second = cache.load_or_compute("spectra", {"m": 1}, compute, cache_dir=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(second["evals"], np.linspace(0, 1, 5))
    assert second["n"] == 3 and first.keys() == second.keys()
    key = cache.cache_key("spectra", {"m": 1}, cache.code_digest(compute))
    assert (tmp_path / "spectra" / f"{key}.npz").is_file()
    assert json.loads((tmp_path / "spectra" / f"{key}.json").read_text())["inputs"] == {"m": 1}
    assert not list((tmp_path / "spectra").glob("*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_entry_is_reported_and_recomputed(tmp_path: Path, damage: str) -> None:
    values = np.arange(1000.0)
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"v": values}

    cache.load_or_compute("t", {}, compute, cache_dir=tmp_path)
    path = tmp_path / "t" / f"{cache.cache_key('t', {}, cache.code_digest(compute))}.npz"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 3] ^= 0xFF  # inside the stored array: the member's CRC-32 no longer matches
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="recomputing"):
        again = cache.load_or_compute("t", {}, compute, cache_dir=tmp_path)
    np.testing.assert_array_equal(again["v"], values)
    np.testing.assert_array_equal(cache.load_or_compute("t", {}, compute, cache_dir=tmp_path)["v"], values)
    assert len(calls) == 2  # computed, recomputed after the damage, then served


def test_failed_write_keeps_the_old_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.bin"
    cache._atomic_write(target, lambda fh: fh.write(b"old"))

    def broken(fh) -> None:
        fh.write(b"partial")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        cache._atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_compute_must_return_arrays(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="mapping"):
        cache.load_or_compute("t", {}, lambda: [1, 2], cache_dir=tmp_path)
    with pytest.raises(TypeError, match="object"):
        cache.load_or_compute("t", {}, lambda: {"a": np.array([{}, 1], dtype=object)}, cache_dir=tmp_path)


def test_torch_checkpoint_roundtrip_and_damage(tmp_path: Path) -> None:
    obj = {"w": torch.arange(300.0), "epoch": 3, "hist": [0.5, float("nan")]}
    path = tmp_path / "ck.pt"
    cache.atomic_torch_save(obj, path)
    back = cache.safe_torch_load(path)
    assert torch.equal(back["w"], obj["w"]) and back["epoch"] == 3
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(cache.CorruptCacheError, match="SHA-256"):
        cache.safe_torch_load(path)
    path.write_bytes(bytes(raw[:20]))
    with pytest.raises(cache.CorruptCacheError, match="header"):
        cache.safe_torch_load(path)
    torch.save(obj, path)  # a plain torch file has no checksum: refused
    with pytest.raises(cache.CorruptCacheError):
        cache.safe_torch_load(path)
    with pytest.raises(FileNotFoundError):
        cache.safe_torch_load(tmp_path / "absent.pt")
