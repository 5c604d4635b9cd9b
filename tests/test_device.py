"""RMT_DEVICE parsed once and strictly, RMT_THREADS applied to torch, and the batch runner refusing a bad device
before the first chapter runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_batch import make_book

from lib.book import batch
from lib.book.fingerprint import REPO_ROOT
from lib.curvature import device


@pytest.mark.parametrize("text", ["bogus", "meta", "CPU", "cuda:x", "cuda:-1", "cpu:0", "mps"])
def test_devices_other_than_cpu_and_cuda_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"RMT_DEVICE={text!r} is not a device this library runs on"):
        device.parse_device(text)


def test_cuda_only_where_torch_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert device.parse_device("cpu") == torch.device("cpu")
    assert device.parse_device(" ") == device.parse_device(None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.parse_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="RMT_DEVICE='cuda:0' asks for CUDA, but torch sees no CUDA device"):
        device.parse_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device.parse_device("cuda:1") == torch.device("cuda:1")
    assert device.parse_device(None) == torch.device("cuda")
    with pytest.raises(ValueError, match="RMT_DEVICE='cuda:2': torch sees 2 CUDA device"):
        device.parse_device("cuda:2")
    monkeypatch.setenv("RMT_DEVICE", "cuda:1")
    assert device.requested_device() == torch.device("cuda:1")


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_thread_counts_must_be_positive_integers(text: str) -> None:
    with pytest.raises(ValueError, match=f"RMT_THREADS={text!r} is not a thread count"):
        device.parse_threads(text)


def test_thread_setting_is_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.delenv("RMT_THREADS", raising=False)
    assert device.apply_thread_setting() is None and device.thread_count() == before
    monkeypatch.setenv("RMT_THREADS", "1")
    try:
        assert device.apply_thread_setting() == 1 and device.thread_count() == 1
    finally:
        torch.set_num_threads(before)
    assert device.torch_build().startswith(f"torch {torch.__version__} (")


def test_thread_setting_is_applied_on_import() -> None:
    env = {**os.environ, "RMT_THREADS": "1", "OMP_NUM_THREADS": "2", "PYTHONPATH": str(REPO_ROOT)}
    code = "import lib.curvature.device as d; print(d.thread_count())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "1", proc.stderr


@pytest.mark.parametrize("value", ["bogus", "meta"])
def test_runner_refuses_a_bad_device_before_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str], value: str) -> None:
    book = make_book(tmp_path / "book")
    out = tmp_path / "out"
    monkeypatch.setenv("RMT_DEVICE", value)
    assert batch.main(["--profile", "smoke", "--no-progress", "--root", str(book), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: RMT_DEVICE={value!r} is not a device this library runs on: use cpu, cuda or cuda:N\n"
    assert not out.exists()
