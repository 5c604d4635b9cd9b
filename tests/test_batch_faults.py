"""Faults during a batch: an output folder that cannot be written, an OSError of one run, an interruption, damaged
summary and state files, an empty notebook, bad options, orphaned temporary files, and the mode of cache files."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_batch import make_book

from lib.book import batch
from lib.book.fingerprint import REPO_ROOT
from lib.nets import cache


def _args(book: Path, out: Path, *extra: str) -> list[str]:
    return ["--profile", "smoke", "--no-progress", "--root", str(book), "--out", str(out), *extra]


@pytest.mark.parametrize(("extra", "message"), [
    (["--timeout", "0"], "error: --timeout must be at least 1 second, got 0"),
    (["--timeout", "-5"], "error: --timeout must be at least 1 second, got -5"),
    (["--jobs", "0"], "error: --jobs must be at least 1, got 0"),
])
def test_bad_options_are_refused_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                extra: list[str], message: str) -> None:
    book, out = make_book(tmp_path / "book"), tmp_path / "out"
    assert batch.main(_args(book, out, *extra)) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not out.exists()


def test_an_output_folder_that_cannot_be_written_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(tmp_path / "book")
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "out"  # under a file: not creatable, even for root
    assert batch.main(_args(book, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out} is not writable: ") and err.count("\n") == 1


@pytest.mark.slow
def test_an_oserror_of_one_run_fails_that_run_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book, out = make_book(tmp_path / "book"), tmp_path / "out"
    (out / "chapters" / "good.ipynb").mkdir(parents=True)  # the finished notebook cannot be put in place
    assert batch.main(_args(book, out)) == 1
    summary = {r["chapter"]: r for r in json.loads((out / "summary.json").read_text())}
    assert summary["good"]["status"] == "failed" and "IsADirectoryError" in summary["good"]["error"]
    assert summary["bad"]["status"] == "ok"  # the batch went on
    assert "good: IsADirectoryError" in capsys.readouterr().err


@pytest.mark.slow
def test_damaged_leftovers_are_set_aside_and_orphans_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    book, out = make_book(tmp_path / "book"), tmp_path / "out"
    state = out / "chapters" / ".state"
    state.mkdir(parents=True)
    (out / "summary.json").write_text('[{"output": "x", ')  # a write cut short
    (state / "good.json").write_text("[]")  # valid JSON, not a record
    monkeypatch.setenv("RMT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "train").mkdir(parents=True)
    old, fresh = state / "good.json.tmp", tmp_path / "cache" / "train" / ".ckpt.pt.abc.tmp"
    stale = tmp_path / "cache" / "train" / ".old.pt.def.tmp"
    for path in (old, fresh, stale):
        path.write_text("partial")
    hours_ago = time.time() - 2 * 3600
    for path in (old, stale):
        os.utime(path, (hours_ago, hours_ago))

    assert batch.main(_args(book, out, "--chapters", "good")) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "summary.json is unreadable" in err and "good.json is unreadable" in err
    assert [r["chapter"] for r in json.loads((out / "summary.json").read_text())] == ["good"]
    assert len(list(out.glob("summary.json.corrupt-*"))) == 1
    assert len(list(state.glob("good.json.corrupt-*"))) == 1
    assert not old.exists() and not stale.exists() and fresh.exists()


def test_an_empty_notebook_is_not_a_finished_run(tmp_path: Path) -> None:
    book, out = make_book(tmp_path / "book"), tmp_path / "out"
    run = batch.plan("smoke", ["good"], root=book, out=out)[0]
    output = Path(run.output)
    output.parent.mkdir(parents=True)
    output.write_text("")  # the disk was full when the notebook was written
    record = batch.Record(chapter="good", parameters=run.parameters, status="ok", seconds=1.0, device="cpu",
                          lib_version="0", key=run.key, output=run.output)
    (output.parent / ".state").mkdir()
    (output.parent / ".state" / "good.json").write_text(json.dumps(record.__dict__))
    assert not batch.is_done(run)
    output.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    assert batch.is_done(run)


SLOW_NOTEBOOK = [("seconds = 300", True), ("import time\n\ntime.sleep(seconds)", False)]


@pytest.mark.slow
def test_sigterm_leaves_a_summary(tmp_path: Path) -> None:
    book, out = make_book(tmp_path / "book", {"slow": SLOW_NOTEBOOK}), tmp_path / "out"
    command = [sys.executable, "-m", "lib.batch", *_args(book, out, "--chapters", "good", "slow")]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / "chapters" / "slow.partial.ipynb").exists():  # good finished, slow's cells are running
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.5)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.rstrip().splitlines()[-1].startswith("interrupted after 1 of 2 run(s); they are recorded in"), err
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["chapter"], r["status"]) for r in summary] == [("good", "ok")]
    assert not (out / "chapters" / "slow.ipynb").exists()


@pytest.mark.slow
def test_an_interrupted_run_leaves_no_kernel_or_task_to_speak_after_the_runner(tmp_path: Path) -> None:
    """A kernel left running, or nbclient's watchers of the interrupted cell left to end at exit, wrote to stderr
    after the runner's last message ("Task exception was never retrieved ... DeadKernelError", seen on a busy CI
    machine); neither may be left when the interruption leaves ``execute``."""
    import asyncio
    import threading

    import psutil
    from jupyter_core.utils import ensure_event_loop

    book, out = make_book(tmp_path / "book", {"slow": SLOW_NOTEBOOK}), tmp_path / "out"
    run = batch.plan("smoke", ["slow"], root=book, out=out)[0]
    partial = Path(run.output).with_name("slow.partial.ipynb")

    def terminate_when_running() -> None:
        deadline = time.monotonic() + 300
        while not partial.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=terminate_when_running, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt), batch._sigterm_as_interrupt():
        batch.execute(run, timeout=600)
    watcher.join()
    assert [task for task in asyncio.all_tasks(ensure_event_loop()) if not task.done()] == []
    assert [p for p in psutil.Process().children() if "ipykernel" in " ".join(p.cmdline())] == []


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_cache_files_get_the_mode_of_ordinary_files(tmp_path: Path, mask: int) -> None:
    previous = os.umask(mask)
    try:
        cache.load_or_compute("modes", {"mask": mask}, lambda: {"x": np.arange(3)}, cache_dir=tmp_path)
        cache.atomic_torch_save({"w": 1}, tmp_path / "ckpt.pt")
    finally:
        os.umask(previous)
    written = [*tmp_path.rglob("*.npz"), *tmp_path.rglob("*.json"), tmp_path / "ckpt.pt"]
    assert len(written) == 3
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
