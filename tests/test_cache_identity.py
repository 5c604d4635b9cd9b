"""What a cache key must tell apart: the code that computed a result (followed through its imports) and the
losses or models it was computed with."""

from __future__ import annotations

import functools
import importlib.util
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import lib
from lib.nets import cache
from lib.nets.code_digest import lib_dependencies


def _key(loss) -> str:
    return cache.cache_key("ns", {"loss": loss})


def test_losses_that_compute_different_things_get_different_keys() -> None:
    plain = lambda o, t: F.cross_entropy(o, t)  # noqa: E731
    scaled = lambda o, t: 10 * F.cross_entropy(o, t)  # noqa: E731
    assert _key(plain) != _key(scaled)  # both are called "<lambda>"
    assert _key(plain) == _key(lambda o, t: F.cross_entropy(o, t))  # the same computation, written again
    assert _key(F.cross_entropy) != _key(F.mse_loss)
    assert _key(functools.partial(F.cross_entropy, label_smoothing=0.1)) != _key(
        functools.partial(F.cross_entropy, label_smoothing=0.2))
    assert _key(nn.CrossEntropyLoss()) != _key(nn.CrossEntropyLoss(reduction="sum"))
    assert _key(nn.CrossEntropyLoss(weight=torch.ones(3))) != _key(nn.CrossEntropyLoss(weight=torch.arange(3.0)))

    def scaled_by(c: float):
        return lambda o, t: c * F.cross_entropy(o, t)

    assert _key(scaled_by(1.0)) != _key(scaled_by(10.0))  # the closure's value counts


def test_models_are_keyed_with_their_buffers() -> None:
    a = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).eval()
    b = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).eval()
    b.load_state_dict(a.state_dict())
    assert cache.cache_key("ns", {"state": a.state_dict()}) == cache.cache_key("ns", {"state": b.state_dict()})
    b[1].running_mean += 1.0  # same parameters, other BatchNorm statistics: another model
    assert cache.cache_key("ns", {"state": a.state_dict()}) != cache.cache_key("ns", {"state": b.state_dict()})


def _digest_module(root: Path):
    """lib.nets.code_digest loaded from the copy of lib under ``root`` (its LIB_DIR is that copy)."""
    spec = importlib.util.spec_from_file_location("copied_code_digest", root / "lib" / "nets" / "code_digest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_an_edit_recomputes_exactly_the_results_that_depend_on_it(tmp_path: Path) -> None:
    shutil.copytree(Path(lib.__file__).parent, tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    digest = _digest_module(tmp_path)
    spectra, training = "lib.experiments.network_spectra", "lib.nets.train"
    before = {m: digest.module_digest(m) for m in (spectra, training)}
    with (tmp_path / "lib" / "curvature" / "lanczos.py").open("a") as fh:
        fh.write("\n# an edit of the Lanczos code\n")
    digest.module_digest.cache_clear()
    after = {m: digest.module_digest(m) for m in (spectra, training)}
    assert after[spectra] != before[spectra]  # the spectra are computed through Lanczos: recomputed
    assert after[training] == before[training]  # trained networks do not depend on it: kept
    with (tmp_path / "lib" / "rmt" / "spinglass.py").open("a") as fh:
        fh.write("\n# an edit of a module neither imports\n")
    digest.module_digest.cache_clear()
    assert {m: digest.module_digest(m) for m in (spectra, training)} == after


def test_lazy_imports_count_as_dependencies() -> None:
    files = {p.name for p in lib_dependencies(["def f():\n    from lib.rmt import spinglass\n"])}
    assert "spinglass.py" in files and "__init__.py" in files


def test_load_or_compute_keys_on_the_computing_code(tmp_path: Path) -> None:
    calls = []

    def compute_a():
        calls.append("a")
        return {"x": torch.zeros(2).numpy()}

    def compute_b():
        calls.append("b")
        return {"x": torch.ones(2).numpy()}

    first = cache.load_or_compute("ns", {"n": 1}, compute_a, cache_dir=tmp_path)
    again = cache.load_or_compute("ns", {"n": 1}, compute_a, cache_dir=tmp_path)
    other = cache.load_or_compute("ns", {"n": 1}, compute_b, cache_dir=tmp_path)  # same inputs, other code
    assert calls == ["a", "b"] and first["x"].sum() == again["x"].sum() == 0 and other["x"].sum() == 2
