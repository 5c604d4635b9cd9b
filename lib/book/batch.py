"""Run the book's chapters through papermill, in batches, and optionally render the result as a book.

Usage (``python -m lib.batch --help`` for all options)::

    python -m lib.batch --profile quick --build          # the default book, into _build/html
    python -m lib.batch --profile smoke --build          # CI: tiny parameters, into _build/smoke/html
    python -m lib.batch --profile paper --chapters 02_hessians_of_networks --set 02_hessians_of_networks.seed=3
    python -m lib.batch --grid sweep.yaml --jobs 2       # cartesian product of the listed values
    python -m lib.batch --profile paper --cluster local  # or --scheduler tcp://host:8786 (Dask)

Each run is keyed by :func:`lib.book.fingerprint.notebook_fingerprint` (notebook, parameters, the ``lib`` modules it
imports, the pinned requirements). A run whose key matches a previous successful run is skipped (``--force``
redoes it), so an interrupted batch resumes where it stopped. Papermill writes to ``*.partial.ipynb`` and the file
is renamed only after the last cell succeeded, so a killed run never passes for a finished one; a failed run keeps
its notebook as ``*.failed.ipynb`` for inspection. Every run's status, duration, parameters, device and library
version go to ``<out>/summary.json``; the exit status is non-zero when any run failed, and the failures are named.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lib import __version__
from lib.book.fingerprint import REPO_ROOT, notebook_fingerprint
from lib.book.profiles import Chapter, ProfileError, chapters, expand_grid, load_profile, parse_override

BUILD_ROOT = REPO_ROOT / "_build"


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


def plan(
    profile: str,
    selected: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    grid: Path | None = None,
    out: Path | None = None,
    root: Path = REPO_ROOT,
) -> list[Run]:
    """Validate the request and list the runs it asks for; raises :class:`ProfileError` before anything runs.

    ``root`` is the book's folder (``_toc.yml``, ``chapters/params``); the default is this repository.
    """
    known = chapters(root)
    if not known:
        raise ProfileError("_toc.yml lists no chapter notebooks")
    chosen = list(selected) if selected else list(known)
    for name in chosen:
        if name not in known:
            raise ProfileError(f"unknown chapter {name!r} (chapters: {', '.join(known)})")
    params = load_profile(profile, known, root)
    for text in overrides:
        chapter, name, value = parse_override(text, known)
        params[chapter][name] = value
    out = out or default_out(profile)
    sweeps = expand_grid(grid, known) if grid else {}
    runs: list[Run] = []
    for name in chosen:
        chapter: Chapter = known[name]
        for point in sweeps.get(name, [None]):
            values = {**params[name], **(point or {})}
            key = notebook_fingerprint(chapter.path, values)
            if point is None:
                output = out / "chapters" / f"{name}.ipynb"
            else:
                slug = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]
                output = out / "runs" / name / f"{name}-{slug}.ipynb"
            runs.append(Run(name, str(chapter.path), values, str(output), key))
    if sweeps and not set(sweeps) & set(chosen):
        raise ProfileError("the grid names none of the selected chapters")
    return runs


def _state_path(run: Run) -> Path:
    return Path(run.output).parent / ".state" / f"{Path(run.output).stem}.json"


def is_done(run: Run) -> bool:
    """True when an identical run (same key) finished successfully and its notebook is still there."""
    state = _state_path(run)
    if not state.is_file() or not Path(run.output).is_file():
        return False
    try:
        record = json.loads(state.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return record.get("status") == "ok" and record.get("key") == run.key


def _device_description() -> str:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is pinned in requirements
        return "cpu"
    if torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        return f"cuda ({torch.cuda.get_device_name(0)}{', visible ' + visible if visible else ''})"
    return f"cpu ({os.cpu_count()} cores)"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    tmp.replace(path)


def execute(run: Run, timeout: int = 3600) -> Record:
    """Execute one run with papermill (atomically, see module doc) and record the outcome."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output = Path(run.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.stem + ".partial.ipynb")
    failed = output.with_name(output.stem + ".failed.ipynb")
    # Figures must come back as inline images even where the caller's environment picks a file backend.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    start = time.perf_counter()
    error = ""
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
    except PapermillExecutionError as exc:
        error = f"cell {exc.cell_index} (In [{exc.exec_count}]): {exc.ename}: {exc.evalue}"
    except Exception as exc:  # a kernel death or timeout is a failed run, not a crash of the batch
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if error:
        if partial.exists():
            partial.replace(failed)
        status = "failed"
    else:
        partial.replace(output)
        failed.unlink(missing_ok=True)
        status = "ok"
    record = Record(
        run.chapter, run.parameters, status, round(seconds, 2), _device_description(), __version__,
        run.key, run.output, error,
    )
    _write_json(_state_path(run), asdict(record))
    return record


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


def run_all(
    runs: list[Run],
    *,
    jobs: int = 1,
    force: bool = False,
    scheduler: str | None = None,
    gpu_per_run: bool = False,
    timeout: int = 3600,
    progress: bool = True,
) -> list[Record]:
    """Execute the runs that are not done yet, ``jobs`` at a time (or on a Dask cluster), and return every record.

    ``scheduler`` is a Dask scheduler address, or ``"local"`` for a local cluster of ``jobs`` worker processes;
    with ``gpu_per_run`` each run asks the cluster for the worker resource ``GPU=1`` (start GPU workers with
    ``--resources GPU=1``).
    """
    from tqdm.auto import tqdm

    records: list[Record] = []
    todo: list[Run] = []
    for run in runs:
        if not force and is_done(run):
            saved = json.loads(_state_path(run).read_text())
            saved["status"] = "cached"
            records.append(Record(**saved))
        else:
            todo.append(run)
    bar = tqdm(total=len(runs), initial=len(records), desc="runs", unit="run", disable=not progress)
    failed = 0

    def done(record: Record) -> None:
        nonlocal failed
        records.append(record)
        failed += record.status == "failed"
        bar.update(1)
        bar.set_postfix(left=len(runs) - len(records), failed=failed)

    if todo and scheduler:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True) if scheduler == "local" else None
        with Client(cluster if cluster else scheduler) as client:
            resources = {"GPU": 1} if gpu_per_run else None
            futures = [client.submit(execute, run, timeout, pure=False, resources=resources) for run in todo]
            for future in as_completed(futures):
                done(future.result())
        if cluster:
            cluster.close()
    elif todo and jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")
        slots = ctx.Manager().Queue()
        for i in range(jobs):
            slots.put(i)
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_assign_gpu, initargs=(slots,)) as pool:
            for future in as_completed([pool.submit(execute, run, timeout) for run in todo]):
                done(future.result())
    else:
        for run in todo:
            bar.set_postfix_str(f"running {run.chapter}")
            done(execute(run, timeout))
    bar.close()
    order = {run.output: i for i, run in enumerate(runs)}
    return sorted(records, key=lambda r: order[r.output])


def format_table(records: list[Record]) -> str:
    """A plain-text table of the records (chapter, status, seconds, parameters, device)."""
    rows = [("chapter", "status", "seconds", "parameters", "device")]
    for r in records:
        params = ", ".join(f"{k}={v}" for k, v in r.parameters.items()) or "(defaults)"
        rows.append((r.chapter, r.status, f"{r.seconds:.1f}", params[:60], r.device))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


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
    parser.add_argument("--cluster", choices=["local"], help="run on a local Dask cluster of --jobs workers")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at this address")
    parser.add_argument("--gpu-per-run", action="store_true", help="ask Dask for resource GPU=1 per run")
    parser.add_argument("--force", action="store_true", help="re-execute runs that already succeeded")
    parser.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds (default 3600)")
    parser.add_argument("--build", action="store_true", help="render the executed chapters as a book")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)  # a book folder, for tests
    args = parser.parse_args(argv)

    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.build and args.grid:
        parser.error("--build renders one run per chapter; it cannot be combined with --grid")
    out = args.out or default_out(args.profile)
    try:
        runs = plan(args.profile, args.chapters, args.overrides, args.grid, out, args.root)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    scheduler = args.scheduler or args.cluster
    records = run_all(runs, jobs=args.jobs, force=args.force, scheduler=scheduler, gpu_per_run=args.gpu_per_run,
                      timeout=args.timeout, progress=not args.no_progress)
    previous = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else []
    latest = {r["output"]: r for r in previous if isinstance(r, dict) and "output" in r}
    latest.update({r.output: asdict(r) for r in records})
    _write_json(out / "summary.json", list(latest.values()))
    print(format_table(records))
    failures = [r for r in records if r.status == "failed"]
    if failures:
        print(f"\n{len(failures)} run(s) failed:", file=sys.stderr)
        for r in failures:
            print(f"  {r.chapter}: {r.error}\n    notebook kept at {Path(r.output).with_suffix('')}.failed.ipynb",
                  file=sys.stderr)
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
