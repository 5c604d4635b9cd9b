"""Shared pieces of the benchmarks: timing, the machine's description, models and data, the results file.

Timings are medians of repeated runs after one warm-up (the CPU of a shared machine is noisy); on CUDA every
timed call is bracketed by ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import torch
from torch import nn

# the benchmarks measure the lib of the checkout they sit in, not whichever copy the environment has installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.book.records import PeriodicSampler, git_commit, write_json  # noqa: E402
from lib.curvature.device import default_device  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def sync() -> None:
    if default_device().type == "cuda":
        torch.cuda.synchronize()


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int,
                      warmups: dict[str, Callable[[], object]] | None = None) -> dict[str, list[float] | str]:
    """Wall times of every ``fns[name]()`` over ``repeats`` rounds, each round timing every function once in turn
    (after one untimed warm-up call each: ``warmups[name]()``, a smaller call of the same code where a whole one takes
    minutes, else ``fns[name]()``), so that a slow spell of a shared machine hits all of them alike; a function that
    raises gets its error's repr instead."""
    times: dict[str, list[float] | str] = {}
    for name in fns:
        try:
            (warmups or fns)[name]()
            times[name] = []
        except Exception as error:  # a peer failing is a result, reported
            times[name] = repr(error)[:200]
    for _ in range(repeats):
        for name, fn in fns.items():
            if isinstance(times[name], list):
                sync()
                start = time.perf_counter()
                fn()
                sync()
                times[name].append(time.perf_counter() - start)
    return times


#: a run is flagged busy when other processes used more than this many cores on average while it was timed
BUSY_CORES = 0.25


def spread(times: list[float]) -> dict:
    """Median, quartiles, extremes and count of repeated timings (what a row reports besides its median)."""
    q1, q3 = np.percentile(times, [25, 75])
    return {"median": statistics.median(times), "q1": float(q1), "q3": float(q3), "min": min(times),
            "max": max(times), "n": len(times)}


class LoadMonitor(PeriodicSampler):
    """Samples, every ``interval`` seconds while a block runs, the CPU time other processes take (the machine's
    busy cores minus this process's): a benchmark of a shared machine says whether it was measured alone."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(interval)
        self.samples: list[float] = []
        self.load: list[float] = []
        self._first = True
        self._me = psutil.Process()  # cpu_percent measures since the previous call on the same object

    def sample(self) -> None:
        total = psutil.cpu_percent(None) / 100 * psutil.cpu_count()  # since the previous call
        own = self._me.cpu_percent(None) / 100
        if self._first:  # the first call of cpu_percent only starts the interval
            self._first = False
            return
        self.samples.append(max(0.0, total - own))
        self.load.append(os.getloadavg()[0])

    def summary(self) -> dict:
        """Mean and largest core use of other processes during the block, the load averages, and ``busy``."""
        other = self.samples or [0.0]
        return {"other_cores_mean": float(np.mean(other)), "other_cores_max": float(np.max(other)),
                "load_average_1min": [float(min(self.load, default=0)), float(max(self.load, default=0))],
                "samples": len(self.samples), "busy": bool(np.mean(other) > BUSY_CORES)}


def use_threads(threads: int) -> None:
    """Fix torch's intra-op thread count for the whole benchmark run (recorded by :func:`machine`)."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


@contextmanager
def pyhessian_shim() -> Iterator[None]:
    """PyHessian 0.1's density calls ``torch.eig``, removed from torch; give it the old function for the block:
    (eigenvalues as an n x 2 [real, imaginary] tensor, eigenvectors), computed by ``torch.linalg.eigh`` on its
    symmetric tridiagonal matrix. Nothing else of PyHessian is changed."""

    def eig(matrix: torch.Tensor, eigenvectors: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        values, vectors = torch.linalg.eigh(matrix)
        return torch.stack([values, torch.zeros_like(values)], dim=1), vectors

    had = hasattr(torch, "eig")
    previous = getattr(torch, "eig", None)
    torch.eig = eig
    try:
        yield
    finally:
        if had:
            torch.eig = previous
        else:
            del torch.eig


def cpu_model() -> str:
    """The CPU's model name as Linux reports it (``/proc/cpuinfo``), else the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the numbers were measured on."""
    dev = default_device()
    info = {
        "device": str(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "os_cpus": os.cpu_count(),
        "load_average_1min_at_save": os.getloadavg()[0],
        "commit": git_commit(Path(__file__).resolve().parents[1]),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def mlp_digits() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The 64-32-32-10 tanh MLP (3,466 parameters) and the 1,797 scikit-learn digits (pixels / 16)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10))
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    return model, x, torch.tensor(digits.target)


def images(n: int, seed: int = 0, shape: tuple[int, ...] = (1, 28, 28)) -> tuple[torch.Tensor, torch.Tensor]:
    """n MNIST-shaped images with labels from a fixed random linear teacher (speed does not depend on the
    pixels; the benchmarks stay offline and run where no data set is installed)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    teacher = torch.randn(int(np.prod(shape)), 10, generator=g)
    return x, (x.flatten(1) @ teacher).argmax(1)


def conv_net(width: int = 8, hidden: int = 32) -> nn.Module:
    """Conv(1->w,5)-ReLU-Pool-Conv(w->2w,5)-ReLU-Pool-FC(32 w->hidden)-ReLU-FC(hidden->10) on 28x28 inputs.

    width 8, hidden 32 gives 11,978 parameters; width 4, hidden 16 gives 3,146."""
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, width, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * width * 16, hidden), nn.ReLU(), nn.Linear(hidden, 10),
    )


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def results_path(tag: str | None = None) -> Path:
    """``results/<tag>.json``, the tag being the device type ('cpu', 'cuda') unless given."""
    return RESULTS / f"{tag or default_device().type}.json"


def save(section: str, payload: dict, tag: str | None = None, *, own_machine: bool = False) -> Path:
    """Merge ``payload`` under ``section`` into ``results/<tag>.json`` (tag: 'cpu' or 'cuda' by default), written
    atomically.

    The file's ``machine`` entry describes the run of its timing sections; a section measured on its own
    (``own_machine``, e.g. the memory plan) keeps its machine inside the section and leaves the file's entry alone."""
    path = results_path(tag)
    data = json.loads(path.read_text()) if path.exists() else {}
    if own_machine:
        payload = {**payload, "machine": machine()}
    else:
        data["machine"] = machine()
    data[section] = payload
    return write_json(path, data, sort_keys=False, default=float)


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table of ``rows`` (dicts) with ``columns``; floats printed with 4 significant digits."""
    cells = [[f"{r.get(c):.4g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(row) for row in cells])


def peak_allocated_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes the tensors allocated while ``fn()`` runs hold at once, beyond what was held before it.

    Counted, not sampled: the profiler records every tensor allocation and free on the device (``torch.profiler``
    with ``profile_memory``; its memory timeline, a private API of torch 2.x), and the peak is the largest running
    sum of the bytes created minus the bytes destroyed. Resident-set sampling, used before, also saw the C
    allocator's retained pages: it read 47 and 146 MB for the same product at two data sizes, and 0 bytes for a
    VGG-16 product whose forward pass alone had set the process's high-water mark."""
    from torch.profiler import profile
    from torch.profiler._memory_profiler import Action

    with profile(profile_memory=True, record_shapes=True, with_stack=True) as prof:
        fn()
    held = peak = 0
    for _, action, _, nbytes in prof._memory_profile().timeline:
        held += nbytes if action == Action.CREATE else -nbytes if action == Action.DESTROY else 0
        peak = max(peak, held)
    return peak


def peak_memory_added(n_images: int, batch_size: int, vectors: int) -> float:
    """Peak memory (MB) that one product with ``vectors`` vectors allocates on the conv net over ``n_images`` images
    with the primal passes recomputed (budget 0), beyond what was held before it (data, model, operator and its
    traced map after a first product); :func:`peak_allocated_bytes`."""
    from lib.curvature.operators import HessianOperator

    model = conv_net().to(default_device()).eval()
    x, y = (t.to(default_device()) for t in images(n_images))
    op = HessianOperator(model, nn.CrossEntropyLoss(), (x, y), batch_size=batch_size, linearize_max_bytes=0)
    V = torch.randn(op.shape[0], vectors, generator=torch.Generator().manual_seed(0)).to(x.device)
    op.matvec(V[:, 0])  # the trace, once
    return peak_allocated_bytes(lambda: op.matmat(V)) / 1e6
