"""Run the book's chapters through papermill, in batches, and optionally render the result as a book.

Usage (``python -m lib.batch --help`` for all options)::

    python -m lib.batch --profile quick --build          # the default book, into _build/html
    python -m lib.batch --profile smoke --build          # CI: tiny parameters, into _build/smoke/html
    python -m lib.batch --profile paper --chapters 02_hessians_of_networks --set 02_hessians_of_networks.seed=3
    python -m lib.batch --grid sweep.yaml --jobs 2       # cartesian product of the listed values
    python -m lib.batch --profile paper --cluster local  # or --scheduler tcp://host:8786 (Dask)
    python -m lib.batch --profile paper --estimate --gpu h100  # predicted time and memory; runs nothing

Each run is keyed by :func:`lib.book.fingerprint.notebook_fingerprint` (notebook, parameters, the ``lib`` modules it
imports, the pinned requirements). A run whose key matches a previous successful run, and whose notebook is still
there and readable, is skipped (``--force`` redoes it), so an interrupted batch resumes where it stopped. Papermill
writes to ``*.partial.ipynb`` and the file is renamed only after the last cell succeeded, so a killed run never
passes for a finished one; a failed run keeps its notebook as ``*.failed.ipynb`` for inspection.

The kernels import the ``lib`` of this checkout (its root first on ``PYTHONPATH``, and ``RMT_LIB_ROOT`` makes
``lib`` refuse to be imported from anywhere else) and run with ``--threads`` threads (default 1) for torch, OpenMP
and the BLAS. Everything is checked before the first run: the profile, overrides and grid, ``RMT_DEVICE``, the
options, and that the output folder is writable. Every run's status, duration, parameters, device, thread count,
torch build, library version and path go to ``<out>/summary.json``, rewritten after every run and on an interruption
(Ctrl-C or SIGTERM); a run that fails, even with an OSError such as a full disk, is recorded and the batch goes on.
The exit status is non-zero when any run failed, and the failures are named.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lib import LIB_ROOT_VARIABLE, __version__
from lib.book.estimates import GPU_CLASSES
from lib.book.fingerprint import REPO_ROOT, notebook_fingerprint
from lib.book.profiles import Chapter, ProfileError, chapters, expand_grid, load_profile, parse_override
from lib.book.records import PeakMemory, make_record, write_json, write_record
from lib.nets.code_digest import LIB_DIR

BUILD_ROOT = REPO_ROOT / "_build"
# what the kernels' thread pools follow: OpenMP (torch, MKL), MKL, OpenBLAS (NumPy), and lib.curvature.device
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RMT_THREADS")
ORPHAN_AGE_S = 3600.0


def default_out(profile: str) -> Path:
    """Where a profile's batch goes: ``_build`` for the default ``quick`` book, ``_build/<profile>`` otherwise."""
    return BUILD_ROOT if profile == "quick" else BUILD_ROOT / profile


@dataclass(frozen=True)
class Run:
    """One execution of one chapter with one set of parameters."""

    chapter: str
    notebook: str
    parameters: dict[str, Any]
    output: str
    key: str

    @property
    def run_id(self) -> str:
        """File-system-safe identity of the run inside its batch (chapter plus a hash of the parameters)."""
        digest = hashlib.sha256(json.dumps(self.parameters, sort_keys=True, default=str).encode())
        return f"{self.chapter}-{digest.hexdigest()[:10]}"


@dataclass
class Record:
    """What happened to a run; one entry of ``summary.json``."""

    chapter: str
    parameters: dict[str, Any]
    status: str  # "ok", "cached" (skipped: an identical run succeeded before) or "failed"
    seconds: float
    device: str
    lib_version: str
    key: str
    output: str
    error: str = ""
    finished: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    threads: int = 0  # threads the kernel ran with (0: not recorded, a run from before the option)
    torch: str = ""  # torch's version and CPU build
    lib_path: str = ""  # the lib package the kernel imported

    @classmethod
    def from_dict(cls, data: Any) -> Record:
        """The record saved as ``data`` (unknown keys ignored); raises ValueError when it is not one."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict):
            raise ValueError(f"expected a record, got {type(data).__name__}")
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise ValueError(str(exc)) from None


def plan(
    profile: str,
    selected: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    grid: Path | None = None,
    out: Path | None = None,
    root: Path = REPO_ROOT,
) -> list[Run]:
    """Validate the request and list the runs it asks for, each once; raises :class:`ProfileError` before anything
    runs.

    ``root`` is the book's folder (``_toc.yml``, ``chapters/params``); the default is this repository.
    """
    known = chapters(root)
    if not known:
        raise ProfileError("_toc.yml lists no chapter notebooks")
    chosen = list(dict.fromkeys(selected)) if selected else list(known)
    for name in chosen:
        if name not in known:
            raise ProfileError(f"unknown chapter {name!r} (chapters: {', '.join(known)})")
    params = load_profile(profile, known, root)
    for text in overrides:
        chapter, name, value = parse_override(text, known)
        params[chapter][name] = value
    out = out or default_out(profile)
    sweeps = expand_grid(grid, known) if grid else {}
    for name in sweeps:
        if name not in chosen:
            raise ProfileError(f"{grid}: chapter {name!r} is not among the selected chapters ({', '.join(chosen)})")
    runs: dict[str, Run] = {}
    for name in chosen:
        chapter: Chapter = known[name]
        for point in sweeps.get(name, [None]):
            values = {**params[name], **(point or {})}
            if point is None:
                output = out / "chapters" / f"{name}.ipynb"
            else:
                slug = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]
                output = out / "runs" / name / f"{name}-{slug}.ipynb"
            if str(output) not in runs:  # grid points equal after the profile's values are one run
                runs[str(output)] = Run(name, str(chapter.path), values, str(output),
                                        notebook_fingerprint(chapter.path, values))
    return list(runs.values())


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _move_aside(path: Path, problem: str) -> None:
    """Rename an unreadable ``path`` to ``<name>.corrupt-<time>`` and warn about it."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        path.replace(target)
        _warn(f"{path} is unreadable ({problem}); moved aside to {target.name}")
    except OSError as exc:
        _warn(f"{path} is unreadable ({problem}) and could not be moved aside: {exc}")


def _state_path(run: Run) -> Path:
    return Path(run.output).parent / ".state" / f"{Path(run.output).stem}.json"


def _read_state(run: Run) -> Record | None:
    """The record of the run's last execution, None when there is none; an unreadable one is moved aside."""
    state = _state_path(run)
    if not state.is_file():
        return None
    try:
        return Record.from_dict(json.loads(state.read_text()))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        _move_aside(state, str(exc))
        return None


def _readable_notebook(path: Path) -> bool:
    """Whether ``path`` holds a notebook (JSON with a list of cells); an empty or truncated file does not."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("cells"), list)


def _cached(run: Run) -> Record | None:
    """The record of an identical run (same key) that succeeded and whose notebook is still there and readable."""
    record = _read_state(run)
    if record is None or record.status != "ok" or record.key != run.key:
        return None
    return record if _readable_notebook(Path(run.output)) else None


def is_done(run: Run) -> bool:
    """True when an identical run (same key) finished successfully and its notebook is still there and readable.

    An unreadable state file is moved aside (see :func:`_read_state`).
    """
    return _cached(run) is not None


def _device_description() -> str:
    """The device ``RMT_DEVICE`` selects (validated), with the GPU's name or the CPU's core count."""
    import torch

    from lib.curvature.device import requested_device

    device = requested_device()
    if device.type == "cuda":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        return f"{device} ({torch.cuda.get_device_name(device)}{', visible ' + visible if visible else ''})"
    return f"cpu ({os.cpu_count()} cores)"


def kernel_environment(threads: int) -> dict[str, str]:
    """The variables a run's kernel gets: this checkout first on ``PYTHONPATH`` and named by ``RMT_LIB_ROOT``, the
    thread count for every thread pool, and inline figures (even where the caller's environment picks a file
    backend)."""
    path = os.environ.get("PYTHONPATH")
    return {
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), path] if path else [str(REPO_ROOT)]),
        LIB_ROOT_VARIABLE: str(REPO_ROOT),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        **dict.fromkeys(THREAD_VARIABLES, str(threads)),
    }


@contextmanager
def environment_set(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block (a kernel started inside inherits them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(run: Run, timeout: int = 3600, threads: int = 1) -> Record:
    """Execute one run with papermill (atomically, see module doc) and record the outcome.

    Any exception of the run (a failing cell, a dead kernel, a timeout, an OSError such as a full disk) makes a
    failed record; a run whose record cannot be saved counts as failed too.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from lib.curvature.device import torch_build

    output = Path(run.output)
    partial = output.with_name(output.stem + ".partial.ipynb")
    failed = output.with_name(output.stem + ".failed.ipynb")
    start = time.perf_counter()
    error = device = ""
    try:
        device = _device_description()
        output.parent.mkdir(parents=True, exist_ok=True)
        with environment_set(kernel_environment(threads)):
            try:
                papermill.execute_notebook(
                    run.notebook,
                    str(partial),
                    parameters=run.parameters,
                    kernel_name="python3",
                    cwd=str(Path(run.notebook).parent),
                    progress_bar=False,
                    execution_timeout=timeout,
                )
            except KeyboardInterrupt:
                _stop_interrupted_kernel()
                raise
        partial.replace(output)
        failed.unlink(missing_ok=True)
    except PapermillExecutionError as exc:
        error = f"cell {exc.cell_index} (In [{exc.exec_count}]): {exc.ename}: {exc.evalue}"
    except Exception as exc:  # a kernel death, timeout or OSError is a failed run, not a crash of the batch
        error = f"{type(exc).__name__}: {exc}"
    if error and partial.exists():
        try:
            partial.replace(failed)
        except OSError as exc:
            error += f" (and the notebook was not kept: {exc})"
    record = Record(
        chapter=run.chapter, parameters=run.parameters, status="failed" if error else "ok",
        seconds=round(time.perf_counter() - start, 2), device=device, lib_version=__version__, key=run.key,
        output=run.output, error=error, threads=threads, torch=torch_build(), lib_path=str(LIB_DIR),
    )
    try:
        write_json(_state_path(run), asdict(record), indent=2)
    except OSError as exc:
        record.status = "failed"
        record.error = record.error or f"the run's record could not be saved: {type(exc).__name__}: {exc}"
    return record


def _stop_interrupted_kernel() -> None:
    """Stop the kernel of a run interrupted inside papermill, and its event-loop tasks, before the runner's last word.

    Depending on where the interruption lands, papermill's cleanup has stopped the kernel or has not (the kernel
    then outlives the runner and says so). nbclient's watchers of the cell either stay suspended, to end in
    nbclient's exit handler, or have already ended with a DeadKernelError that only the interruption's traceback
    still references. Either way, the kernel's complaints and "Task exception was never retrieved ...
    DeadKernelError" reached stderr after the runner's last message on a busy machine. So the kernel (any process
    of ours running ``ipykernel``, with its children) is killed and reaped here, the pending tasks are cancelled and
    awaited, and the loop stops reporting the DeadKernelErrors of tasks nobody awaits any more.
    """
    import asyncio

    import psutil
    from jupyter_core.utils import ensure_event_loop
    from nbclient.exceptions import DeadKernelError

    kernels = [p for p in psutil.Process().children() if "ipykernel" in " ".join(_command_line(p))]
    for process in [*(c for k in kernels for c in _descendants(k)), *kernels]:
        try:
            process.kill()
        except psutil.Error:  # gone already
            pass
    psutil.wait_procs(kernels, timeout=10)

    loop = ensure_event_loop()

    def report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not isinstance(context.get("exception"), DeadKernelError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(report)
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=30))


def _command_line(process: Any) -> list[str]:
    try:
        return process.cmdline()
    except Exception:  # psutil.Error: gone, or not ours to read
        return []


def _descendants(process: Any) -> list[Any]:
    try:
        return process.children(recursive=True)
    except Exception:  # psutil.Error: gone
        return []


def _lost(run: Run, exc: BaseException, threads: int) -> Record:
    """The record of a run whose worker crashed or could not be reached (its own record is lost)."""
    return Record(chapter=run.chapter, parameters=run.parameters, status="failed", seconds=0.0, device="",
                  lib_version=__version__, key=run.key, output=run.output, error=f"{type(exc).__name__}: {exc}",
                  threads=threads, lib_path=str(LIB_DIR))


def _assign_gpu(slots: Any) -> None:
    """Process-pool initializer: pin each worker process to one GPU (round-robin) when GPUs are present."""
    slot = slots.get()
    try:
        import torch

        count = torch.cuda.device_count()
    except ImportError:  # pragma: no cover
        count = 0
    if count:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot % count)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


class ProgressLog:
    """One line per run as it starts and as it ends: the chapter, its status and time, the time spent so far and
    an estimate of what is left, from the times the same runs took before (their records in ``summary.json``).

    Written to ``stream`` (standard error) whatever ``--no-progress`` says: a build log reads as a list of lines.
    """

    def __init__(self, runs: list[Run], previous: dict[str, dict[str, Any]], stream: Any = None) -> None:
        self.total = len(runs)
        self.stream = stream if stream is not None else sys.stderr
        self.expected = {}
        for run in runs:
            seconds = previous.get(run.output, {}).get("seconds")
            if previous.get(run.output, {}).get("status") in ("ok", "cached") and isinstance(seconds, int | float):
                self.expected[run.output] = float(seconds)
        self.left = {run.output for run in runs}
        self.finished = 0
        self.start_time = time.perf_counter()

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def _estimate(self) -> str:
        known = [self.expected[o] for o in self.left if o in self.expected]
        unknown = len(self.left) - len(known)
        if not self.left:
            return "nothing left"
        text = f"about {_minutes(sum(known))} left" if known else "no recorded time for what is left"
        return text + (f" (+ {unknown} run(s) never timed)" if unknown and known else "")

    def started(self, run: Run) -> None:
        """Report that ``run`` starts."""
        last = f", {_minutes(self.expected[run.output])} last time" if run.output in self.expected else ""
        self._write(f"[{self.finished + 1}/{self.total}] {run.chapter}: running{last}; {self._estimate()}")

    def ended(self, record: Record) -> None:
        """Report how ``record``'s run ended, the time so far and the estimate of what is left."""
        self.finished += 1
        self.left.discard(record.output)
        if record.status == "cached":  # reported before anything runs: no time spent, and no estimate yet
            self._write(f"[{self.finished}/{self.total}] {record.chapter}: cached (unchanged since its last run)")
            return
        elapsed = _minutes(time.perf_counter() - self.start_time)
        self._write(f"[{self.finished}/{self.total}] {record.chapter}: {record.status} in {_minutes(record.seconds)}; "
                    f"{elapsed} so far, {self._estimate()}")


def run_all(
    runs: list[Run],
    *,
    jobs: int = 1,
    force: bool = False,
    scheduler: str | None = None,
    gpu_per_run: bool = False,
    timeout: int = 3600,
    threads: int = 1,
    progress: bool = True,
    on_record: Callable[[Record], None] | None = None,
    on_start: Callable[[Run], None] | None = None,
) -> list[Record]:
    """Execute the runs that are not done yet, ``jobs`` at a time (or on a Dask cluster), and return every record.

    ``scheduler`` is a Dask scheduler address, or ``"local"`` for a local cluster of ``jobs`` worker processes;
    with ``gpu_per_run`` each run asks the cluster for the worker resource ``GPU=1`` (start GPU workers with
    ``--resources GPU=1``). ``on_record`` is called with each record as soon as it is known (cached ones first),
    ``on_start`` with each run as it is started (or submitted, when runs go to workers).
    """
    started = on_start or (lambda run: None)
    from tqdm.auto import tqdm

    records: list[Record] = []
    todo: list[Run] = []
    bar = tqdm(total=len(runs), desc="runs", unit="run", disable=not progress)
    failed = 0

    def done(record: Record) -> None:
        nonlocal failed
        records.append(record)
        failed += record.status == "failed"
        bar.update(1)
        bar.set_postfix(left=len(runs) - len(records), failed=failed)
        if on_record:
            on_record(record)

    for run in runs:
        saved = None if force else _cached(run)
        if saved is None:
            todo.append(run)
        else:
            saved.status = "cached"
            done(saved)

    try:
        if todo and scheduler:
            from dask.distributed import Client, LocalCluster, as_completed

            local = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True) if scheduler == "local" else None
            with local or nullcontext(), Client(local or scheduler) as client:
                resources = {"GPU": 1} if gpu_per_run else None
                futures = {client.submit(execute, run, timeout, threads, pure=False, resources=resources): run
                           for run in todo}
                for run in todo:
                    started(run)
                for future in as_completed(futures):
                    try:
                        done(future.result())
                    except Exception as exc:  # the worker died or the task could not be sent
                        done(_lost(futures[future], exc, threads))
        elif todo and jobs > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = mp.get_context("spawn")
            slots = ctx.Manager().Queue()
            for i in range(jobs):
                slots.put(i)
            pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_assign_gpu, initargs=(slots,))
            try:
                futures = {pool.submit(execute, run, timeout, threads): run for run in todo}
                for run in todo:
                    started(run)
                for future in as_completed(futures):
                    try:
                        done(future.result())
                    except Exception as exc:  # a worker killed (e.g. out of memory) breaks the pool
                        done(_lost(futures[future], exc, threads))
            finally:  # on an interruption: no new runs, and no waiting for the ones in progress
                pool.shutdown(wait=False, cancel_futures=True)
        else:
            for run in todo:
                bar.set_postfix_str(f"running {run.chapter}")
                started(run)
                done(execute(run, timeout, threads))
    finally:
        bar.close()
    order = {run.output: i for i, run in enumerate(runs)}
    return sorted(records, key=lambda r: order[r.output])


class Summary:
    """``<out>/summary.json``: the latest record of every run ever made into the folder, saved on every change.

    An unreadable file (not JSON, not a list of records) is moved aside as ``summary.json.corrupt-<time>``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text())
                if not isinstance(data, list) or not all(isinstance(r, dict) and "output" in r for r in data):
                    raise ValueError("not a list of run records")
            except (OSError, ValueError) as exc:
                _move_aside(path, str(exc))
            else:
                self.records = {r["output"]: r for r in data}

    def add(self, record: Record) -> None:
        """Store ``record`` (replacing the previous one of its output) and save."""
        self.records[record.output] = asdict(record)
        self.save()

    def save(self) -> bool:
        """Write the file atomically; on an OSError warn and return False."""
        try:
            write_json(self.path, list(self.records.values()), indent=2)
        except OSError as exc:
            _warn(f"could not write {self.path}: {exc}")
            return False
        return True


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the block (in the main thread), so it ends a batch like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, previous)  # a second SIGTERM acts as it would have
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write and delete a file in it; raises OSError when that fails."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def format_table(records: list[Record]) -> str:
    """A plain-text table of the records (chapter, status, seconds, parameters, device, threads)."""
    rows = [("chapter", "status", "seconds", "parameters", "device", "threads")]
    for r in records:
        params = ", ".join(f"{k}={v}" for k, v in r.parameters.items()) or "(defaults)"
        rows.append((r.chapter, r.status, f"{r.seconds:.1f}", params[:60], r.device, str(r.threads or "?")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def _check_options(args: argparse.Namespace) -> str | None:
    """The first problem with the numeric options and their combinations, or None."""
    if args.jobs < 1:
        return f"--jobs must be at least 1, got {args.jobs}"
    if args.threads < 1:
        return f"--threads must be at least 1, got {args.threads}"
    if args.timeout < 1:
        return f"--timeout must be at least 1 second, got {args.timeout} (there is no way to switch the limit off)"
    if args.build and args.grid:
        return "--build renders one run per chapter; it cannot be combined with --grid"
    if args.record and (args.grid or args.jobs > 1 or args.scheduler or args.cluster):
        return ("--record runs one chapter at a time on this machine (so the peak memory is the chapter's own); "
                "it cannot be combined with --grid, --jobs > 1, --cluster or --scheduler")
    if args.note and not args.record:
        return "--note is kept in a record: it needs --record"
    if args.estimate and (args.record or args.build or args.force):
        return "--estimate runs nothing; it cannot be combined with --record, --build or --force"
    if args.record and args.profile == "quick":
        return "--record keeps runs at another scale than the default build's; the quick profile is the book itself"
    return None


def estimate_report(runs: list[Run], profile: str, gpu: str, root: Path = REPO_ROOT) -> str:
    """``--estimate``: the predicted time and peak memory of each run (:mod:`lib.book.estimates`), and, for the
    chapters recorded at ``profile`` under ``results/``, the recorded time beside the estimate."""
    from lib.book.estimates import estimate, format_estimates, measure_primitives
    from lib.book.records import load_records

    known = chapters(root)
    coefficients = measure_primitives()
    estimates = []
    for run in runs:
        chapter = known[run.chapter]
        figures = sum("figure" in c.get("metadata", {}).get("mystnb", {})
                      for c in json.loads(chapter.path.read_text())["cells"])
        estimates.append(estimate(run.chapter, {**chapter.defaults, **run.parameters}, figures, coefficients, gpu))
    text = f"profile {profile}: predicted per chapter\n\n" + format_estimates(estimates, gpu, coefficients)
    recorded = {r.chapter: r for rs in load_records(root).values() for r in rs if r.profile == profile}
    rows = [(e, recorded[e.chapter]) for e in estimates if e.chapter in recorded]
    if rows:
        text += "\n\nagainst the recorded runs (results/" + profile + "/):\n"
        text += "\n".join(f"  {e.chapter}: time {e.cpu_seconds / 60:.1f} min estimated, {r.seconds / 60:.1f} min "
                           f"recorded on {r.threads} thread(s), ratio {e.cpu_seconds / r.seconds:.2f}; peak memory "
                           f"{e.peak_memory_mb / 1024:.1f} GiB estimated, {r.peak_memory_mb / 1024:.1f} GiB recorded"
                           for e, r in rows)
    return text


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m lib.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick", help="chapters/params/<profile>.yaml (default: quick)")
    parser.add_argument("--chapters", nargs="+", metavar="NAME", help="run only these chapters (notebook stems)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="CHAPTER.PARAM=VALUE",
                        help="override one parameter (value read as YAML); repeatable")
    parser.add_argument("--grid", type=Path, help="YAML sweep file {chapter: {param: [values]}}")
    parser.add_argument("--out", type=Path, help="output folder (default: _build for quick, _build/<profile>)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time on this machine (default 1)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="threads of each run for torch, OpenMP and the BLAS (default 1, which survives a busy "
                             "machine; results are reproducible only at a fixed count)")
    parser.add_argument("--cluster", choices=["local"], help="run on a local Dask cluster of --jobs workers")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at this address")
    parser.add_argument("--gpu-per-run", action="store_true", help="ask Dask for resource GPU=1 per run")
    parser.add_argument("--force", action="store_true", help="re-execute runs that already succeeded")
    parser.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds (default 3600)")
    parser.add_argument("--build", action="store_true", help="render the executed chapters as a book")
    parser.add_argument("--record", action="store_true",
                        help="write each chapter that runs successfully to results/<profile>/<chapter>.json (its "
                             "verdicts, tables and provenance), shown in the book beside the live verdicts")
    parser.add_argument("--note", default="",
                        help="with --record: a sentence kept in the record (e.g. what a partial profile left out)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--estimate", action="store_true",
                        help="print each chapter's predicted time and peak memory at this profile, on this machine "
                             "and on --gpu, from the chapters' cost models and timed micro-runs (about a minute, "
                             "cached), beside the recorded runs' times where results/<profile>/ has them; runs no "
                             "chapter")
    parser.add_argument("--gpu", default="h100", choices=sorted(GPU_CLASSES),
                        help="GPU class of --estimate (default h100)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)  # a book folder, for tests
    args = parser.parse_args(argv)

    out = (args.out or default_out(args.profile)).resolve()  # Sphinx doubles a relative path in the stage
    try:
        problem = _check_options(args)
        if problem:
            raise ProfileError(problem)
        runs = plan(args.profile, args.chapters, args.overrides, args.grid, out, args.root)
        from lib.curvature.device import requested_device

        requested_device()
    except ValueError as exc:  # a ProfileError, or a bad RMT_DEVICE or RMT_THREADS
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.estimate:
        print(estimate_report(runs, args.profile, args.gpu, args.root))
        return 0
    try:
        check_writable(out)
    except OSError as exc:
        print(f"error: --out {out} is not writable: {exc.strerror or exc}", file=sys.stderr)
        return 2
    from lib.nets.cache import sweep_orphans

    for folder in (out / "chapters", out / "runs", None):  # the runner's own folders, and the cache
        removed = sweep_orphans(folder, ORPHAN_AGE_S)
        if removed:
            _warn(f"deleted {len(removed)} temporary file(s) of interrupted writes, e.g. {removed[0]}")

    summary = Summary(out / "summary.json")
    log = ProgressLog(runs, dict(summary.records))
    scheduler = args.scheduler or args.cluster
    recorded: list[Record] = []
    memory = PeakMemory()
    starts: dict[str, float] = {}
    command = shlex.join(["python", "-m", "lib.batch", *(sys.argv[1:] if argv is None else argv)])

    def started(run: Run) -> None:
        memory.peak_mb = 0.0
        starts[run.output] = time.time()
        log.started(run)

    def record(r: Record) -> None:
        recorded.append(r)
        summary.add(r)
        log.ended(r)
        if args.record and r.status == "ok":
            path = write_record(make_record(
                chapter=r.chapter, profile=args.profile, parameters=r.parameters, command=command, key=r.key,
                threads=r.threads, torch=r.torch, started=starts.get(r.output, time.time() - r.seconds),
                seconds=r.seconds, peak_memory_mb=memory.peak_mb, executed=Path(r.output), root=args.root,
                note=args.note), args.root)
            print(f"recorded {r.chapter}: {path}", file=sys.stderr)
        elif args.record and r.status == "cached":
            _warn(f"{r.chapter} was not executed (an identical run succeeded before), so it is not recorded; "
                  "--force reruns it")

    try:
        with _sigterm_as_interrupt(), memory.watching() if args.record else nullcontext():  # only --record keeps it
            records = run_all(runs, jobs=args.jobs, force=args.force, scheduler=scheduler,
                              gpu_per_run=args.gpu_per_run, timeout=args.timeout, threads=args.threads,
                              progress=not args.no_progress, on_record=record, on_start=started)
    except KeyboardInterrupt:
        summary.save()
        print(f"\ninterrupted after {len(recorded)} of {len(runs)} run(s); they are recorded in {summary.path}",
              file=sys.stderr)
        return 130
    saved = summary.save()
    print(format_table(records))
    failures = [r for r in records if r.status == "failed"]
    if failures:
        print(f"\n{len(failures)} run(s) failed:", file=sys.stderr)
        for r in failures:
            print(f"  {r.chapter}: {r.error}\n    notebook kept at {Path(r.output).with_suffix('')}.failed.ipynb",
                  file=sys.stderr)
        return 1
    if not saved:
        print(f"error: the summary {summary.path} could not be written", file=sys.stderr)
        return 1
    if args.build:
        from lib.book.render import BookBuildError, build

        try:
            index = build(out, out / "html", out, args.root, args.profile)
        except BookBuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"\nbook: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
