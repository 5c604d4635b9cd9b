"""Recorded runs: a chapter executed at a large scale once, kept as a small committed record, shown beside the
default build's live verdicts.

The default build is CPU-sized; the papers' scale takes hours or a GPU. ``python -m lib.batch --profile paper
--chapters ... --record`` therefore writes, per chapter that succeeded, ``results/<profile>/<chapter>.json``: the
chapter's verdicts with their numbers, the small numeric tables it printed, and the run's provenance (commit,
command, parameters, machine, torch build, start, duration, peak memory). No notebook and no image goes into git.

A record keeps the chapter's fingerprint (:func:`lib.book.fingerprint.notebook_fingerprint`: the notebook, the
parameters, every ``lib`` module it imports, the pinned requirements) at the time it ran; when the code has moved
on, the record is *stale* and the book says so next to it, naming the files that changed since the record's commit
(when git and that commit are at hand).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lib.book.fingerprint import REPO_ROOT, fingerprint_files, notebook_fingerprint
from lib.book.verdicts import MIME, Verdict, collect, status_counts

RESULTS_DIR = "results"
#: a printed table is kept in a record when its plain text is at most this long (a record stays small)
MAX_TABLE_CHARS = 20_000


@dataclass(frozen=True)
class RunRecord:
    """One recorded execution of a chapter (see module doc); ``verdicts`` as :class:`Verdict` dicts."""

    chapter: str
    profile: str
    parameters: dict[str, Any]
    command: str
    commit: str
    key: str
    machine: dict[str, Any]
    torch: str
    threads: int
    started: str
    seconds: float
    peak_memory_mb: float
    verdicts: list[dict[str, Any]]
    tables: list[str] = field(default_factory=list)
    note: str = ""

    def verdict_objects(self) -> list[Verdict]:
        """The recorded verdicts."""
        return [Verdict(**v) for v in self.verdicts]

    def label(self) -> str:
        """"paper profile, recorded 2026-12-07 on cpu (2 cores, ...)" for a table header."""
        return f"{self.profile} profile, recorded {self.started[:10]} on {machine_label(self.machine)}"

    def is_stale(self, root: Path = REPO_ROOT) -> bool:
        """Whether the chapter's code or notebook has changed since the record was made (or the chapter is gone)."""
        notebook = root / "chapters" / f"{self.chapter}.ipynb"
        return not notebook.is_file() or notebook_fingerprint(notebook, self.parameters) != self.key

    def changed_files(self, root: Path = REPO_ROOT) -> list[str]:
        """The notebook and the files of its fingerprint that differ from the record's commit (:func:`changed_since`);
        [] when that cannot be told (no git, the commit unknown, the notebook gone). A change of parameters alone
        names no file."""
        notebook = root / "chapters" / f"{self.chapter}.ipynb"
        if not notebook.is_file():
            return []
        import nbformat

        files = [notebook, *fingerprint_files(nbformat.read(notebook, as_version=4))]
        return changed_since(self.commit, files, root) or []


def changed_since(commit: str, files: Sequence[Path], root: Path) -> list[str] | None:
    """Which of ``files`` differ between ``commit`` and the working tree of the git repository at ``root`` (added,
    changed or deleted; uncommitted edits included), as paths relative to ``root``; None when git, the repository
    or the commit is not available (a copy of the book without its history)."""
    inside = [str(f.relative_to(root)) for f in files if f.is_relative_to(root)]
    try:
        found = subprocess.run(["git", "-C", str(root), "diff", "--name-only", "--no-renames", "--relative", commit,
                                "--", *inside], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.split() if found.returncode == 0 else None


def _changed_list(record: RunRecord, root: Path, at_most: int = 3) -> str:
    """The first ``at_most`` files changed since the record (:meth:`RunRecord.changed_files`) and how many more, as
    "a, b, c and 2 more"; "" when none can be named."""
    changed = record.changed_files(root)
    more = f" and {len(changed) - at_most} more" if len(changed) > at_most else ""
    return f"{', '.join(changed[:at_most])}{more}"


def stale_note(record: RunRecord, root: Path = REPO_ROOT) -> str:
    """"" for a current record; else "stale", with the files changed since when they can be named: "stale (changed
    since: a, b and 2 more)"."""
    if not record.is_stale(root):
        return ""
    files = _changed_list(record, root)
    return f"stale (changed since: {files})" if files else "stale"


def machine_label(machine: dict[str, Any]) -> str:
    """A short description of the machine of a record: the GPU when there was one, else the CPU and its cores."""
    cpu = f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
    return f"{machine['gpu']} ({cpu})" if machine.get("gpu") else cpu


def machine_description() -> dict[str, Any]:
    """CPU model, core count, memory and GPU (when torch sees one) of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        import psutil

        memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb, "gpu": gpu, "host": platform.node()}


def git_commit(root: Path = REPO_ROOT) -> str:
    """The checkout's commit, with ``+dirty`` when tracked files differ from it ("unknown" outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        # the results a run has just written are not the code: results/ (the records) and benchmarks/results/ (the
        # benchmarks, which save section by section) do not make the checkout dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results",
                                ":!benchmarks/results"],
                               cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


class PeriodicSampler:
    """Calls :meth:`sample` every ``interval`` seconds in a background thread while a ``watching()`` block runs
    (the base of :class:`PeakMemory` and of the benchmarks' load monitor)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._stop = threading.Event()

    def sample(self) -> None:
        """One measurement (subclasses)."""
        raise NotImplementedError

    def _run(self) -> None:
        self.sample()
        while not self._stop.wait(self.interval):
            self.sample()

    @contextmanager
    def watching(self) -> Iterator[PeriodicSampler]:
        """Sample while the block runs."""
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


class PeakMemory(PeriodicSampler):
    """The largest resident memory (MB) of this process's children (the kernels) while the block runs, sampled
    every ``interval`` seconds: a kernel's peak, without instrumenting the notebook."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(interval)
        self.peak_mb = 0.0

    def sample(self) -> None:
        import psutil

        total = 0
        for child in psutil.Process().children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        self.peak_mb = max(self.peak_mb, total / 2**20)


def printed_tables(notebook: dict[str, Any]) -> list[str]:
    """The plain text of the tables a chapter displayed (outputs with an HTML table, other than its verdicts),
    each at most :data:`MAX_TABLE_CHARS` long."""
    tables = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if MIME in data or "<table" not in "".join(data.get("text/html", "")):
                continue
            text = "".join(data.get("text/plain", ""))
            if text and len(text) <= MAX_TABLE_CHARS:
                tables.append(text)
    return tables


def record_path(profile: str, chapter: str, root: Path = REPO_ROOT) -> Path:
    """Where the record of ``chapter`` run with ``profile`` is kept."""
    return root / RESULTS_DIR / profile / f"{chapter}.json"


def write_json(path: Path, data: Any, *, indent: int = 1, sort_keys: bool = True,
               default: Any = str) -> Path:
    """Write ``data`` as JSON to ``path`` atomically: into a temporary file beside it, then renamed over it, so that
    a reader (or a run interrupted while writing) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n")
    tmp.replace(path)
    return path


def write_record(record: RunRecord, root: Path = REPO_ROOT) -> Path:
    """Write ``record`` (atomically) to :func:`record_path` and return the path."""
    return write_json(record_path(record.profile, record.chapter, root), asdict(record))


def make_record(*, chapter: str, profile: str, parameters: dict[str, Any], command: str, key: str, threads: int,
                torch: str, started: float, seconds: float, peak_memory_mb: float, executed: Path,
                root: Path = REPO_ROOT, note: str = "") -> RunRecord:
    """The record of a finished run whose executed notebook is ``executed``; ``started`` is a Unix time."""
    notebook = json.loads(executed.read_text())
    return RunRecord(
        chapter=chapter, profile=profile, parameters=parameters, command=command, commit=git_commit(root), key=key,
        machine=machine_description(), torch=torch, threads=threads,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)), seconds=round(seconds, 1),
        peak_memory_mb=round(peak_memory_mb, 1), verdicts=[asdict(v) for v in collect(notebook)],
        tables=printed_tables(notebook), note=note,
    )


def load_records(root: Path = REPO_ROOT, exclude_profile: str | None = None) -> dict[str, list[RunRecord]]:
    """Every record under ``results/``, by chapter (profiles in name order), leaving out ``exclude_profile`` (the
    profile of the build being rendered: its own verdicts are the live ones). An unreadable record is an error
    naming the file."""
    found: dict[str, list[RunRecord]] = {}
    folder = root / RESULTS_DIR
    for path in sorted(folder.glob("*/*.json")) if folder.is_dir() else []:
        if path.parent.name == exclude_profile:
            continue
        try:
            data = json.loads(path.read_text())
            record = RunRecord(**data)
            record.verdict_objects()
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a run record: {exc}") from None
        found.setdefault(record.chapter, []).append(record)
    return found


def match_verdicts(live: Sequence[Verdict], recorded: Sequence[Verdict]) -> list[Verdict | None]:
    """For each live verdict, the recorded verdict of the same claim, or None when the record has none.

    A claim is matched by identifier and text, in order of appearance. A claim whose text names a parameter that
    the profiles set differently ("SLQ with 80 steps" against "with 160 steps") is then matched by identifier alone,
    when that identifier is left unmatched exactly once on each side; its recorded cell starts with the recorded
    claim, so the reader sees what was tested at that scale."""
    pool: dict[tuple[str, str], list[Verdict]] = {}
    for v in recorded:
        pool.setdefault((v.claim_id, v.claim), []).append(v)
    out = [pool[(v.claim_id, v.claim)].pop(0) if pool.get((v.claim_id, v.claim)) else None for v in live]
    left = [r for rs in pool.values() for r in rs]
    unmatched = Counter(v.claim_id for v, m in zip(live, out, strict=True) if m is None)
    by_id = Counter(r.claim_id for r in left)
    for i, v in enumerate(live):
        if out[i] is None and unmatched[v.claim_id] == 1 and by_id[v.claim_id] == 1:
            r = next(r for r in left if r.claim_id == v.claim_id)
            out[i] = replace(r, evidence=f"(recorded claim: {r.claim}) {r.evidence}")
    return out


def column_label(record: RunRecord, root: Path = REPO_ROOT) -> str:
    """The header of a record's column: its profile, date and machine, and "stale" when the code moved on."""
    if not record.is_stale(root):
        return record.label()
    files = _changed_list(record, root)
    return f"{record.label()} - stale: the chapter's code has changed since{': ' + files if files else ''}"


def recorded_columns(live: Sequence[Verdict], records: Sequence[RunRecord],
                     root: Path = REPO_ROOT) -> list[tuple[str, list[Verdict | None]]]:
    """One column per record for a chapter's verdict table (:func:`lib.book.verdicts.verdict_html`)."""
    return [(column_label(r, root), match_verdicts(live, r.verdict_objects())) for r in records]


def shown_command(command: str) -> str:
    """A record's command as the book shows it: without ``--out`` (a folder of the machine it ran on) and ``--note``
    (shown apart, as prose)."""
    words, kept = shlex.split(command), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--out", "--note"):
            skip = True
        elif not word.startswith(("--out=", "--note=")):
            kept.append(word)
    return shlex.join(kept)


def records_section(records: dict[str, list[RunRecord]], titles: dict[str, str], root: Path = REPO_ROOT) -> str:
    """Markdown list of the recorded runs with their provenance, for the summary page (``titles``: chapter name ->
    page title and docname, as ``(title, docname)``)."""
    if not records:
        return ""
    lines = ["## Recorded runs", "",
             "Runs of a chapter at a larger scale than this build's, recorded once with the command below and kept",
             "as plain-text records in the repository (`results/<profile>/<chapter>.json`). A record is *stale*",
             "when the chapter's notebook or any library module it imports has changed since it ran; its state",
             "then names the files that differ from the commit it ran at.", "",
             "Unless its note says otherwise, a run may have shared the machine with one other recorded run (one",
             "per core), which lengthened the times here by up to a third.", "",
             "| chapter (profile) | recorded (start, UTC) | machine (torch threads) | time, peak memory | verdicts "
             "| commit | state |",
             "|---|---|---|---|---|---|---|"]
    for chapter, chapter_records in records.items():
        title, docname = titles.get(chapter, (chapter, None))
        link = f"{{doc}}`{title} </{docname}>`" if docname else chapter
        for r in chapter_records:
            counts = status_counts(r.verdict_objects())
            lines.append(f"| {link} ({r.profile}) | {r.started[:16].replace('T', ' ')} | {machine_label(r.machine)} "
                         f"({r.threads}) | {r.seconds / 60:.1f} min, {r.peak_memory_mb / 1024:.1f} GiB | {counts} "
                         f"| `{r.commit[:10]}` | {stale_note(r, root) or 'current'} |")
    lines += ["", "The commands that made them (each run's output folder left out), with each record's note:", ""]
    lines += [f"- {r.chapter} ({r.profile}): `{shown_command(r.command)}`" + (f". Note: {r.note}" if r.note else "")
              for rs in records.values() for r in rs]
    return "\n".join(lines) + "\n"
