"""Rerun a chapter in JupyterLab, through its UI, in headless Chromium: what a reader does after ``make lab``.

A copy of ``chapters/01_rmt_baselines.ipynb`` with the ``smoke`` profile's parameters injected after its
``parameters`` cell (as papermill and ``python -m lib.batch --profile smoke`` inject them) and one probe cell at the
end is served by a JupyterLab started headless on a free localhost port with a random token, the environment of
``make lab`` (``PYTHONPATH`` = this checkout, one thread) and throw-away Jupyter config, data and settings folders.
The test opens the notebook from the file browser, runs Run > Run All Cells from the menu bar and waits for every
cell to finish; then no output may hold a traceback, figures and tables must have appeared, the probe must report
this environment, this checkout's ``lib``, the book build's cache and one thread, and the kernel must be idle.

Every wait is bounded; the server (and its kernel) is shut down and the copy deleted whatever happens. Screenshots
go to ``_build/screenshots/lab/`` (CI keeps them). Needs Debian's ``chromium``: see the ``browser`` fixture.
Run it with ``make lab-test``; ``make test`` leaves it out.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lib.book.fingerprint import REPO_ROOT

CHAPTER = "01_rmt_baselines"
PROFILE = "smoke"
SHOTS = REPO_ROOT / "_build" / "screenshots" / "lab"
START_TIMEOUT_S = 90  # JupyterLab up and answering
OPEN_TIMEOUT_S = 60  # the notebook open and its kernel idle
RUN_TIMEOUT_S = 150  # Run All Cells to the last cell (the smoke chapter takes well under a minute on 2 cores)
STOP_TIMEOUT_S = 15  # graceful shutdown before the kill
PROBE = """\
# probe added by tests/test_lab_in_browser.py: which environment, which lib, which cache, how many threads
import json, os, sys
import lib
from lib.nets.cache import cache_root
print("PROBE", json.dumps({"prefix": sys.prefix, "lib": lib.__file__, "cache": str(cache_root()),
                          "threads": [os.environ.get(v) for v in ("RMT_THREADS", "OMP_NUM_THREADS")]}))
"""
# Lab settings for a clean headless run: no news or update pop-ups, every cell in the DOM (no windowing).
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass(frozen=True)
class Lab:
    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the server's root_dir, holding chapters/<CHAPTER>.ipynb
    n_code_cells: int

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=10) as response:
            return json.loads(response.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smoke_copy(root: Path) -> int:
    """Write chapters/<CHAPTER>.ipynb under ``root`` with the smoke parameters and the probe; its code cell count."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from lib.book.profiles import chapters, load_profile

    known = chapters()
    parameters = load_profile(PROFILE, known)[CHAPTER]
    assert parameters, f"the {PROFILE} profile has no parameters for {CHAPTER}"
    nb = load_notebook_node(str(known[CHAPTER].path))
    nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    (root / "chapters").mkdir(parents=True)
    nbformat.write(nb, root / "chapters" / f"{CHAPTER}.ipynb")
    return sum(c.cell_type == "code" for c in nb.cells)


def _stop(proc: subprocess.Popen, lab: Lab | None) -> None:
    """Shut the kernels down through the API, then the server: SIGTERM, and SIGKILL to its group if it lingers."""
    if lab is not None and proc.poll() is None:
        try:
            for kernel in lab.api("/api/kernels"):
                request = urllib.request.Request(
                    f"{lab.url}/api/kernels/{kernel['id']}?token={lab.token}", method="DELETE"
                )
                urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass  # the server is going anyway
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (requirements.txt pins it)")
    tmp = tmp_path_factory.mktemp("lab")
    try:
        root = tmp / "book"
        n_code = _smoke_copy(root)
        settings = tmp / "settings"
        for name, value in SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(value))
        port, token = _free_port(), secrets.token_hex(24)
        env = {
            **os.environ,
            "JUPYTER_TOKEN": token,  # as `make lab` passes it
            # what `make lab` sets: this checkout's lib first, one thread
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "RMT_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            # inline figures (conftest sets Agg for the test process), no user-level Jupyter state
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_DATA_DIR": str(tmp / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        }
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            "--FileContentsManager.preferred_dir=chapters",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        log_path = tmp / "jupyterlab.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        ready = None
        try:
            candidate = Lab(f"http://127.0.0.1:{port}", token, root, n_code)
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    candidate.api("/api/status")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"JupyterLab not up after {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
                    time.sleep(0.5)
            ready = candidate
            yield ready
        finally:
            _stop(proc, ready)
            if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                print(f"JupyterLab log:\n{log_path.read_text()[-3000:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# The notebook is open: its code cells are all in the active panel.
CELLS_JS = """(n) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return panel !== null && panel.querySelectorAll('.jp-CodeCell').length === n;
}"""
# The status bar names the kernel and says it is idle.
KERNEL_IDLE_JS = """() => {
  const bar = document.querySelector('#jp-main-statusbar');
  return bar !== null && bar.innerText.includes('Python 3') && bar.innerText.includes('Idle');
}"""


def _wait_for_kernel(page: Any, lab: Lab) -> None:
    """Until the server has an idle kernel for the chapter and the status bar shows it idle. Should the lab ask which
    kernel to start (it does when it has not read the kernel specs yet), accept its choice, as a reader would."""
    path = f"chapters/{CHAPTER}.ipynb"
    deadline = time.monotonic() + OPEN_TIMEOUT_S
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count() and dialog.first.is_visible():
            dialog.first.click()
        sessions = [s for s in lab.api("/api/sessions") if s.get("path") == path and s.get("kernel")]
        if sessions and sessions[0]["kernel"]["execution_state"] == "idle" and page.evaluate(KERNEL_IDLE_JS):
            return
        time.sleep(0.5)
    raise TimeoutError(f"no idle kernel for {path} after {OPEN_TIMEOUT_S} s: sessions {lab.api('/api/sessions')}")


# Done when every code cell carries an execution count, or as soon as an error output appears (Run All stops there).
PROGRESS_JS = """(n) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  const done = prompts.filter(t => /^\\[\\d+\\]:$/.test(t)).length;
  const tracebacks = [...panel.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .filter(e => e.textContent.includes('Traceback')).length;
  const busy = prompts.filter(t => t === '[*]:').length;
  return (prompts.length === n && done === n && busy === 0) || tracebacks > 0;
}"""

OUTPUTS_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
  return {
    prompts: [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim()),
    n_outputs: outputs.length,
    images: panel.querySelectorAll('.jp-OutputArea-output img').length,
    tables: panel.querySelectorAll('.jp-OutputArea-output table').length,
    stderr: outputs.filter(e => e.dataset.mimeType === 'application/vnd.jupyter.stderr').map(e => e.textContent),
    text: outputs.map(e => e.textContent).join('\\n'),
  };
}"""


def test_chapter_reruns_in_jupyterlab(browser: Any, lab: Lab) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    step = "open JupyterLab"
    try:
        page.goto(f"{lab.url}/lab?token={lab.token}", wait_until="domcontentloaded", timeout=START_TIMEOUT_S * 1000)
        step = "find the chapter in the file browser (opened on chapters/)"
        item = page.locator(".jp-DirListing-item", has_text=f"{CHAPTER}.ipynb")
        item.wait_for(state="visible", timeout=OPEN_TIMEOUT_S * 1000)
        page.screenshot(path=str(SHOTS / "01_file_browser.png"))
        step = "open the chapter"
        item.dblclick()
        page.wait_for_function(CELLS_JS, arg=lab.n_code_cells, timeout=OPEN_TIMEOUT_S * 1000)
        step = "wait for the kernel"
        _wait_for_kernel(page, lab)
        page.screenshot(path=str(SHOTS / "02_opened.png"))
        step = "Run > Run All Cells"
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        step = "wait for every cell"
        start = time.monotonic()
        page.wait_for_function(PROGRESS_JS, arg=lab.n_code_cells, timeout=RUN_TIMEOUT_S * 1000, polling=500)
        seconds = time.monotonic() - start
        found = page.evaluate(OUTPUTS_JS)
        page.screenshot(path=str(SHOTS / "03_ran.png"))
    except Exception as exc:
        page.screenshot(path=str(SHOTS / "failed.png"))
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssertionError(f"JupyterLab UI: could not {step} ({message}); see {SHOTS / 'failed.png'}") from None
    finally:
        page.close()

    tracebacks = [t[-1500:] for t in found["stderr"] if "Traceback" in t]
    assert not tracebacks, f"a cell failed in JupyterLab:\n{tracebacks[0]}"
    unfinished = [i for i, p in enumerate(found["prompts"]) if not p[1:-2].isdigit()]
    assert not unfinished, f"code cells {unfinished} did not run (prompts {found['prompts']})"
    counts = {k: found[k] for k in ("n_outputs", "images", "tables")}
    assert found["images"] >= 3 and found["tables"] >= 1, f"figures or tables missing: {counts}"
    probe_line = next((line for line in found["text"].splitlines() if line.startswith("PROBE ")), None)
    assert probe_line, "the probe cell printed nothing"
    probe = json.loads(probe_line.removeprefix("PROBE "))
    assert Path(probe["lib"]).resolve().is_relative_to(REPO_ROOT), f"the kernel imported another lib: {probe}"
    expected_cache = Path(os.environ["RMT_CACHE"]).expanduser() if os.environ.get("RMT_CACHE") else REPO_ROOT / ".cache"
    assert Path(probe["cache"]) == expected_cache, f"the kernel uses another cache: {probe}"
    assert probe["prefix"] == sys.prefix, f"the kernel runs in another environment: {probe}"
    assert probe["threads"] == ["1", "1"], f"the kernel's thread settings: {probe}"
    kernels = lab.api("/api/kernels")
    assert [k["execution_state"] for k in kernels] == ["idle"], f"kernel not idle after the run: {kernels}"
    assert not page_errors, f"uncaught exceptions in JupyterLab: {page_errors}"
    print(f"{CHAPTER} ({PROFILE}) ran in JupyterLab in {seconds:.1f} s")
