"""The one place where the compute device and torch's CPU thread count are chosen.

Device: CUDA when present, CPU otherwise; ``RMT_DEVICE`` overrides the choice, so a reader can pin a run to the
CPU on a GPU machine. It takes ``cpu``, ``cuda`` or ``cuda:N``, a CUDA one only when torch sees that device; any
other value is refused with an error naming the variable (:func:`parse_device`), which the batch runner checks
before the first chapter runs.

Threads: ``RMT_THREADS=N`` (set by the batch runner's ``--threads``) makes torch use N threads. It is applied when
this module is first imported, which every chapter that uses torch does through ``lib`` (``lib.nets.train``,
``lib.curvature.parameter_space``); NumPy's BLAS follows ``OMP_NUM_THREADS`` and friends, which the runner sets too.
Results depend on the thread count (a sum is reduced in another order), so they reproduce only at a fixed one.
"""

from __future__ import annotations

import os
import re
from functools import cache

import torch

DEVICE_VARIABLE = "RMT_DEVICE"
THREADS_VARIABLE = "RMT_THREADS"
_DEVICE = re.compile(r"cpu|cuda(?::(\d+))?")


def parse_device(text: str | None) -> torch.device:
    """The device a value of ``RMT_DEVICE`` asks for; unset or empty: CUDA when present, else the CPU.

    Raises :class:`ValueError` (naming the variable) for anything but ``cpu``, ``cuda`` and ``cuda:N``, and for a
    CUDA device torch does not see.
    """
    if text is None or not text.strip():
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    value = text.strip()
    match = _DEVICE.fullmatch(value)
    if match is None:
        raise ValueError(f"{DEVICE_VARIABLE}={text!r} is not a device this library runs on: use cpu, cuda or cuda:N")
    if value != "cpu":
        if not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_VARIABLE}={text!r} asks for CUDA, but torch sees no CUDA device")
        count = torch.cuda.device_count()
        if match[1] is not None and int(match[1]) >= count:
            raise ValueError(f"{DEVICE_VARIABLE}={text!r}: torch sees {count} CUDA device(s), "
                             f"cuda:0 to cuda:{count - 1}")
    return torch.device(value)


def requested_device() -> torch.device:
    """The device ``RMT_DEVICE`` asks for now (see :func:`parse_device`), read from the environment on each call."""
    return parse_device(os.environ.get(DEVICE_VARIABLE))


@cache
def default_device() -> torch.device:
    """Return the device every network computation of the library runs on, chosen once per process."""
    return requested_device()


def free_memory_bytes(device: torch.device | str) -> int:
    """Bytes free for new tensors on ``device``: the CUDA allocator's free memory of the GPU, or the host memory
    the operating system reports as available for the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    import psutil

    return int(psutil.virtual_memory().available)


def parse_threads(text: str | None) -> int | None:
    """The thread count a value of ``RMT_THREADS`` asks for (None when unset or empty); a positive integer."""
    if text is None or not text.strip():
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{THREADS_VARIABLE}={text!r} is not a thread count: use a positive integer")
    return count


def apply_thread_setting() -> int | None:
    """Make torch use ``RMT_THREADS`` threads when the variable is set; return that count (None when unset)."""
    count = parse_threads(os.environ.get(THREADS_VARIABLE))
    if count is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def thread_count() -> int:
    """The number of threads torch's CPU operations use in this process."""
    return torch.get_num_threads()


@cache
def torch_build() -> str:
    """torch's version and CPU build in a few words, e.g. ``torch 2.13.0+cpu (OpenMP, MKL)``."""
    lines = torch.__config__.parallel_info().splitlines()
    backend = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("ATen parallel backend")), "?")
    blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    return f"torch {torch.__version__} ({backend}, {blas})"


apply_thread_setting()
